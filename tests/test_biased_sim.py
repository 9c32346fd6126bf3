"""sim.biased: gradients against finite differences and a direct per-sample computation, moments vs
samples, reduction to DeepLinear, the data sets, and error paths."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorylib import sim
from theorylib.sim import biased as sb


def fd_grad(model, params, data, name, idx, h=1e-6):
    p = {k: v.copy() for k, v in params.items()}
    p[name][idx] += h
    lp = model.loss(p, data)[idx[0]]
    p[name][idx] -= 2 * h
    lm = model.loss(p, data)[idx[0]]
    return (lp - lm) / (2 * h)


def direct_loss(params, X, Y, L, biases):
    """Per-sample forward pass written out layer by layer (independent of the augmented form)."""
    out = []
    for e in range(params["W1"].shape[0]):
        h = X.T
        for l in range(1, L + 1):
            h = params[f"W{l}"][e] @ h
            if l in biases:
                h = h + params[f"b{l}"][e][:, None]
        out.append(0.5 * np.mean(np.sum((Y.T - h) ** 2, axis=0)))
    return np.array(out)


@pytest.mark.parametrize("widths, biases", [((3, 4, 2), None), ((3, 4, 5, 2), (1, 3)), ((3, 2), None),
                                            ((3, 4, 2), ()), ((3, 4, 2), (1,)), ((3, 4, 2), (2,))])
def test_gradients_and_loss(widths, biases):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, widths[0])) + 0.7
    Y = rng.standard_normal((30, widths[-1])) + 0.3
    net = sb.BiasedLinear(widths, biases)
    p = sb.biased_random_init(widths, 0.5, biases=net.biases, bias_scale=0.4, n_ensemble=3, seed=1)
    mom, smp = sb.biased_moments_from_samples(X, Y), sb.Samples(X, Y)
    np.testing.assert_allclose(net.loss(p, mom), direct_loss(p, X, Y, net.n_layers, net.biases), atol=1e-12)
    np.testing.assert_allclose(net.loss(p, smp), net.loss(p, mom), atol=1e-12)
    g, gs = net.grad(p, mom), net.grad(p, smp)
    assert set(g) == set(net.names)
    for k in g:
        np.testing.assert_allclose(g[k], gs[k], atol=1e-12)
        idx = (2,) + tuple(s - 1 for s in p[k].shape[1:])
        assert abs(fd_grad(net, p, mom, k, idx) - g[k][idx]) < 1e-7


def test_no_bias_equals_deep_linear():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((20, 4)), rng.standard_normal((20, 3))
    net_b = sb.BiasedLinear((4, 5, 3), biases=())
    net_d = sim.DeepLinear((4, 5, 3))
    p = sim.random_init((4, 5, 3), 0.3, n_ensemble=2, seed=2)
    gb = net_b.grad(p, sb.biased_moments_from_samples(X, Y))
    gd = net_d.grad(p, sim.moments_from_samples(X, Y))
    for k in gd:
        np.testing.assert_allclose(gb[k], gd[k], atol=1e-13)


def test_affine_and_forward():
    net = sb.BiasedLinear((3, 4, 2))
    p = sb.biased_random_init((3, 4, 2), 0.5, bias_scale=0.5, n_ensemble=2, seed=3)
    W, m = net.affine(p)
    np.testing.assert_allclose(W, p["W2"] @ p["W1"], atol=1e-14)
    np.testing.assert_allclose(m, np.einsum("eoh,eh->eo", p["W2"], p["b1"]) + p["b2"], atol=1e-14)
    X = np.random.default_rng(4).standard_normal((5, 3))
    np.testing.assert_allclose(net.forward(p, X)[1], X @ W[1].T + m[1], atol=1e-14)


def test_output_bias_decouples_under_gd():
    """On centred inputs the output bias follows b ← b + η(ȳ − b) exactly (a regression test of the
    chapter's central fact, computed here from the update rule, not from a closed form)."""
    X = sb.centred_whitened_inputs(8)
    Y = sb.tree_labels(4)
    data = sb.biased_moments_from_samples(X, Y)
    net = sb.BiasedLinear((7, 16, 15), biases=(2,))
    p = sb.biased_random_init(net.widths, 1e-2, biases=(2,), n_ensemble=1, seed=5)
    tr = sim.train_gd(net, p, data, 0.05, steps=[0, 1, 2, 40], record=lambda q: {"b": q["b2"]})
    b, ybar = np.zeros(15), Y.mean(0)
    for k in range(40):
        b = b + 0.05 * (ybar - b)
        if k + 1 in (1, 2, 40):
            np.testing.assert_allclose(tr["b"][list(tr.steps).index(k + 1), 0], b, atol=1e-13)


def test_zero_weights_are_invariant():
    X = sb.centred_whitened_inputs(8)
    data = sb.biased_moments_from_samples(X, sb.tree_labels(4))
    net = sb.BiasedLinear((7, 16, 15))
    tr = sim.train_gd(net, sb.biased_random_init(net.widths, 0.0), data, 0.1, steps=[0, 100])
    for k in ("W1", "W2", "b1"):
        assert np.all(tr.params[k] == 0)
    assert np.abs(tr.params["b2"][0] - data.y_mean).max() < 1e-4


def test_divergence_is_reported():
    X = sb.centred_whitened_inputs(8)
    data = sb.biased_moments_from_samples(10 * X, sb.tree_labels(4))
    net = sb.BiasedLinear((7, 16, 15))
    with pytest.raises(sim.DivergenceError):
        sim.train_gd(net, sb.biased_random_init(net.widths, 0.3, seed=1), data, 1.0, steps=[0, 500])


def test_relu_gradients():
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((25, 4)), rng.standard_normal((25, 3))
    net = sb.BiasedReLU((4, 6, 3))
    p = sb.biased_random_init((4, 6, 3), 0.6, bias_scale=0.3, n_ensemble=2, seed=7)
    data = sb.Samples(X, Y)
    g = net.grad(p, data)
    for k in net.names:
        idx = (1,) + tuple(s - 1 for s in p[k].shape[1:])
        assert abs(fd_grad(net, p, data, k, idx) - g[k][idx]) < 1e-7
    # per-member forward pass written out directly
    e = 1
    h = np.maximum(X @ p["W1"][e].T + p["b1"][e], 0)
    np.testing.assert_allclose(net.forward(p, X)[e], h @ p["W2"][e].T + p["b2"][e], atol=1e-13)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 16))
def test_centred_whitened_inputs(P):
    X = sb.centred_whitened_inputs(P)
    assert X.shape == (P, P - 1)
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.T @ X / P, np.eye(P - 1), atol=1e-12)


def test_centred_inputs_with_mean():
    X = sb.centred_whitened_inputs(4, mean=[0, 0, 0, 2.0])
    np.testing.assert_allclose(X.mean(axis=0), [0, 0, 0, 2.0], atol=1e-14)
    with pytest.raises(ValueError, match="mean"):
        sb.centred_whitened_inputs(4, mean=[1.0])


def test_tree_labels():
    Y = sb.tree_labels(4)
    assert Y.shape == (8, 15) and np.all(Y.sum(axis=1) == 4)
    assert sb.tree_labels(4, root=False).shape == (8, 14)
    with pytest.raises(ValueError):
        sb.tree_labels(1)


def test_hierarchical_digits():
    d = sb.hierarchical_digits()
    assert d["X_train"].shape[1] == 64 and d["Y_train"].shape[1] == 13
    assert np.all(d["Y_train"].sum(axis=1) == 2)
    np.testing.assert_allclose(d["X_train"].mean(axis=0), 0, atol=1e-12)
    assert np.all(d["Y_train"].mean(axis=0) < 0.5)  # every label marginal below the threshold ½
    assert len(d["X_test"]) + len(d["X_train"]) == 1797
    fam = d["Y_train"][:, :3].argmax(1)
    assert np.all(fam[np.isin(d["digit_train"], [0, 6, 8, 9])] == 0)


@pytest.mark.parametrize("make, match", [
    (lambda: sb.BiasedLinear((3,)), "widths"),
    (lambda: sb.BiasedLinear((3, 2), biases=(2,)), "biases"),
    (lambda: sb.BiasedMoments(np.eye(2), np.ones((1, 2)), np.ones(3), np.ones(1), 1.0), "shapes"),
    (lambda: sb.BiasedMoments(np.eye(2), np.ones((1, 2)), np.array([2.0, 0.0]), np.ones(1), 1.0), "covariance"),
    (lambda: sb.BiasedMoments(np.eye(2) * np.nan, np.ones((1, 2)), np.zeros(2), np.ones(1), 1.0), "sigma_xx"),
    (lambda: sb.Samples(np.ones((3, 2)), np.ones((4, 1))), "rows"),
    (lambda: sb.biased_random_init((2, 3), -1.0), "scale"),
    (lambda: sb.BiasedReLU((2, 3)), "widths"),
])
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_shape_mismatch_in_grad():
    net = sb.BiasedLinear((3, 4, 2))
    data = sb.biased_moments_from_samples(np.ones((5, 3)) + np.eye(5, 3), np.ones((5, 2)))
    p = sb.biased_random_init((3, 5, 2), 0.1)
    with pytest.raises(ValueError, match="W1"):
        net.grad(p, data)
    relu = sb.BiasedReLU((3, 4, 2))
    with pytest.raises(ValueError, match="Samples"):
        relu.grad(sb.biased_random_init((3, 4, 2), 0.1), data)
