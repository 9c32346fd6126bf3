"""Tests of theorylib.sim.bias_free: gradients, the linear limit, mirrored data, the paired
initialisation and the ReLU derivative at exactly zero (Chapter 3)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorylib import sim
from theorylib.sim import bias_free as bf


def random_data(seed, P=12, d=3, n_out=2):
    rng = np.random.default_rng(seed)
    return bf.symmetric_dataset(rng.standard_normal((P, d)), rng.standard_normal((P, n_out)))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), depth=st.integers(2, 4), alpha=st.floats(0, 1))
def test_gradient_matches_finite_differences(seed, depth, alpha):
    data = random_data(seed)
    widths = (3,) + (4,) * (depth - 1) + (2,)
    net = bf.BiasFreeNet(widths, alpha=alpha)
    p = bf.gaussian_init(widths, 0.8, n_ensemble=2, seed=seed)
    g = net.grad(p, data)
    rng = np.random.default_rng(seed + 1)
    h = 1e-6
    for name in p:
        idx = tuple(rng.integers(0, s) for s in p[name].shape)
        q = {k: v.copy() for k, v in p.items()}
        q[name][idx] += h
        lp = net.loss(q, data)[idx[0]]
        q[name][idx] -= 2 * h
        lm = net.loss(q, data)[idx[0]]
        assert abs((lp - lm) / (2 * h) - g[name][idx]) < 1e-6


def test_alpha_one_is_the_deep_linear_network():
    data = random_data(3)
    widths = (3, 5, 4, 2)
    p = bf.gaussian_init(widths, 0.7, n_ensemble=3, seed=4)
    relu = bf.BiasFreeNet(widths, alpha=1.0)
    lin = sim.DeepLinear(widths)
    mom = data.moments()
    assert np.allclose(relu.loss(p, data), lin.loss(p, mom), atol=1e-12)
    g1, g2 = relu.grad(p, data), lin.grad(p, mom)
    for k in p:
        assert np.allclose(g1[k], g2[k], atol=1e-12)


def test_per_member_alpha_equals_separate_nets():
    data = random_data(5)
    alphas = np.array([0.0, 0.5, 1.0])
    p = bf.gaussian_init((3, 6, 2), 0.5, n_ensemble=3, seed=6)
    g = bf.BiasFreeNet((3, 6, 2), alpha=alphas).grad(p, data)
    for e, a in enumerate(alphas):
        q = {k: v[e:e + 1] for k, v in p.items()}
        ge = bf.BiasFreeNet((3, 6, 2), alpha=a).grad(q, data)
        for k in p:
            assert np.allclose(g[k][e], ge[k][0])


def test_symmetric_dataset_and_whitening():
    rng = np.random.default_rng(0)
    data = bf.symmetric_dataset(rng.standard_normal((30, 4)), rng.standard_normal((30, 2)))
    assert data.is_symmetric()
    Xw = bf.whiten(data.X)
    assert np.allclose(Xw.T @ Xw / len(Xw), np.eye(4), atol=1e-12)
    assert bf.Samples(Xw, data.Y).is_symmetric(atol=1e-12)
    assert not bf.Samples(rng.standard_normal((6, 2)), rng.standard_normal((6, 1))).is_symmetric()


def test_symmetric_teacher_data_moments():
    s = np.array([3.0, 1.0])
    data, U, V = bf.symmetric_teacher_data(s, 4, 3, 50, seed=1)
    mom = data.moments()
    assert data.is_symmetric(atol=1e-12)
    assert np.allclose(mom.sigma_xx, np.eye(4), atol=1e-12)
    assert np.allclose(U.T @ mom.sigma_yx @ V, np.pad(np.diag(s), ((0, 1), (0, 2))), atol=1e-12)


def test_parity_data():
    data = bf.parity_data(3)
    assert data.n_samples == 8 and data.is_symmetric()
    mom = data.moments()
    assert np.allclose(mom.sigma_xx, np.eye(3)) and np.allclose(mom.sigma_yx, 0)


def test_paired_net_is_odd_and_stays_paired():
    data = random_data(7, d=3, n_out=2)
    net = bf.BiasFreeNet((3, 8, 2), alpha=0.2)
    p = bf.paired_random_init(net.widths, 0.5, n_ensemble=2, seed=8)
    X = np.random.default_rng(9).standard_normal((10, 3))
    assert np.allclose(net.predict(p, X), -net.predict(p, -X), atol=1e-14)
    tr = sim.train_gd(net, p, data, 0.05, steps=[200])
    W1, W2 = tr.params["W1"], tr.params["W2"]
    assert np.allclose(W1[:, :4], -W1[:, 4:], atol=1e-12) and np.allclose(W2[:, :, :4], -W2[:, :, 4:], atol=1e-12)


def test_paired_decoupled_init_strength_and_balance():
    data, U, V = bf.symmetric_teacher_data(np.array([2.0, 1.0]), 4, 3, 20)
    p = bf.paired_decoupled_init(U, V, 6, 1e-2, n_ensemble=2, seed=1)
    u = sim.mode_strengths(p["W2"] @ p["W1"], U, V, 2)
    assert np.allclose(u, 1e-2)
    W1, W2 = p["W1"], p["W2"]
    assert np.allclose(W1 @ np.swapaxes(W1, 1, 2), np.swapaxes(W2, 1, 2) @ W2, atol=1e-14)


def one_step_vs_twin(grad_at_zero):
    """One GD step of a paired ReLU net whose units see exactly zero pre-activation."""
    data = bf.symmetric_dataset(np.array([[1.0, 0.0]]), np.array([[2.0]]))
    W = np.array([[[0.0, 1.0]]])  # w·x = 0 on both data points
    Vh = np.array([[[0.5]]])
    p = bf.paired_init(W, Vh)
    net = bf.BiasFreeNet((2, 2, 1), alpha=0.0, grad_at_zero=grad_at_zero)
    g = net.grad(p, data)
    lin = sim.DeepLinear((2, 2, 1))
    c = np.sqrt(0.5)
    gl = lin.grad({k: c * v for k, v in p.items()}, data.moments())
    # the twin moves c·W by lr·(1+α)/2·∇ while the net moves W by lr·∇: compare c·∇_net with (1/2)·∇_twin
    return max(np.abs(c * g[k] - 0.5 * gl[k]).max() for k in p)


def test_midpoint_derivative_keeps_the_pair_identity_at_zero():
    assert one_step_vs_twin(None) < 1e-14


def test_pytorch_derivative_breaks_the_pair_identity_at_zero():
    assert one_step_vs_twin(0.0) > 0.1


def test_neuron_balance_drift_is_first_order_in_lr():
    data, U, V = bf.symmetric_teacher_data(np.array([2.0, 1.0]), 4, 2, 20, seed=2)
    net = bf.BiasFreeNet((4, 8, 8, 2), alpha=0.0)
    p0 = bf.gaussian_init(net.widths, 0.7, n_ensemble=1, seed=3, fan_in=True)

    def drift(lr):
        tr = sim.train_gd(net, p0, data, lr, times=[0.0, 1.0], record=lambda p: {"b": np.concatenate(bf.neuron_balance(p), 1)})
        return np.abs(tr["b"][1] - tr["b"][0]).max()

    d1, d2 = drift(1e-3), drift(2e-3)
    assert d1 < 1e-2 and abs(d2 / d1 - 2) < 0.1


def test_gd_step_changes_balance_by_eta_squared_times_gradient_balance():
    """One GD step changes ‖out‖² − ‖in‖² of every hidden neuron by exactly η²·(same form of ∇L).

    Non-whitened symmetric data (a fixed linear map of the inputs), leaky slope 0.3, depth 3.
    """
    base = random_data(4, P=16, d=3, n_out=2)
    M = np.array([[2.0, 0.3, 0.0], [0.0, 0.5, 0.1], [0.2, 0.0, 1.5]])
    data = bf.Samples(base.X @ M.T, base.Y)
    assert data.is_symmetric(atol=1e-12) and not np.allclose(data.moments().sigma_xx, np.eye(3))
    net = bf.BiasFreeNet((3, 5, 4, 2), alpha=0.3)
    p = bf.gaussian_init(net.widths, 0.8, n_ensemble=2, seed=5)
    bal = lambda q: -np.concatenate(bf.neuron_balance(q), axis=1)
    g = net.grad(p, data)
    lr = 0.05
    q = {k: p[k] - lr * g[k] for k in p}
    assert np.max(np.abs(bal(q) - bal(p) - lr**2 * bal(g))) < 1e-13


@pytest.mark.parametrize("tau", [0.5, 2.5])
def test_flow_with_tau_is_the_unit_flow_at_t_over_tau(tau):
    data = random_data(6)
    net = bf.BiasFreeNet((3, 4, 2), alpha=0.2)
    p = bf.gaussian_init(net.widths, 0.5, n_ensemble=1, seed=7)
    # unit times up to 2: beyond t ≈ 2 this flow slides along a kink (see the next test)
    t = np.array([0.0, 0.25, 0.5, 1.0]) * min(1.0, 2 * tau)
    slow = sim.integrate_flow(net, p, data, t, tau=tau)
    unit = sim.integrate_flow(net, p, data, t / tau)
    assert np.allclose(slow.loss, unit.loss, rtol=1e-8, atol=1e-12)
    assert not np.allclose(slow.loss[-1], sim.integrate_flow(net, p, data, t).loss[-1])


def test_flow_sliding_along_a_kink_is_an_error_not_a_hang():
    # The same net and data as above: between t = 2 and 4 a pre-activation is pinned at 0 and
    # the adaptive step shrinks without end; the evaluation budget turns that into an error.
    data = random_data(6)
    net = bf.BiasFreeNet((3, 4, 2), alpha=0.2)
    p = bf.gaussian_init(net.widths, 0.5, n_ensemble=1, seed=7)
    with pytest.raises(ValueError, match=r"max_evals=20000 .*reached only t = 2\.\d+ of 4"):
        sim.integrate_flow(net, p, data, [0.0, 4.0], max_evals=20_000)


def test_layer_spectra_shapes():
    p = bf.gaussian_init((3, 5, 2), 1.0, n_ensemble=2)
    sv = bf.layer_spectra(p)
    assert [s.shape for s in sv] == [(2, 3), (2, 2)]
    assert np.all(np.diff(sv[0], axis=1) <= 0)


@pytest.mark.parametrize("call", [
    lambda: bf.BiasFreeNet((3, 2)),  # no hidden layer
    lambda: bf.BiasFreeNet((3, 4, 1), alpha=1.5),
    lambda: bf.BiasFreeNet((3, 4, 1), grad_at_zero=2.0),
    lambda: bf.Samples(np.ones((3, 2)), np.ones((4, 1))),
    lambda: bf.Samples(np.full((3, 2), np.nan), np.ones((3, 1))),
    lambda: bf.whiten(np.ones((5, 2))),
    lambda: bf.paired_random_init((3, 5, 1), 0.1),  # odd width
    lambda: bf.paired_random_init((3, 4, 4, 1), 0.1),  # deep
    lambda: bf.paired_init(np.ones((1, 2, 3)), np.ones((1, 1, 3))),
    lambda: bf.gaussian_init((3, 4, 1), -1.0),
    lambda: bf.symmetric_teacher_data([1.0], 3, 2, 2),  # n_half < n_in
    lambda: bf.symmetric_teacher_data([1.0], 3, 2, 10, odd_extra=lambda X: X[:, :2] ** 2),  # even extra
    lambda: bf.parity_data(0),
])
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


def test_shape_and_alpha_mismatch_raise():
    data = random_data(0)
    net = bf.BiasFreeNet((3, 4, 2), alpha=np.array([0.0, 0.5]))
    with pytest.raises(ValueError):
        net.loss(bf.gaussian_init((3, 4, 2), 0.1, n_ensemble=3), data)  # 3 members, 2 leaks
    with pytest.raises(ValueError):
        bf.BiasFreeNet((3, 5, 2)).grad(bf.gaussian_init((3, 4, 2), 0.1), data)
    with pytest.raises(ValueError):
        bf.BiasFreeNet((4, 4, 2)).loss(bf.gaussian_init((4, 4, 2), 0.1), data)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_sign_doubled_deep_net_is_linear(alpha):
    # W1 = [M1; −M1], W2 = [[M, −M], [−M, M]], W3 = [N, −N] computes 4κ² N M M1 x (Chapter 3, deep nets)
    rng = np.random.default_rng(4)
    M1, M, N = rng.standard_normal((1, 3, 2)), rng.standard_normal((1, 4, 3)), rng.standard_normal((1, 2, 4))
    p = {"W1": np.concatenate([M1, -M1], 1), "W2": np.block([[M, -M], [-M, M]]),
         "W3": np.concatenate([N, -N], 2)}
    X = rng.standard_normal((20, 2))
    f = bf.BiasFreeNet((2, 6, 8, 2), alpha=alpha).predict(p, X)[0]
    k = (1 + alpha) / 2
    np.testing.assert_allclose(f, 4 * k**2 * X @ (N[0] @ M[0] @ M1[0]).T, atol=1e-12)


def test_gd_breaks_the_deep_pairing_unless_linear():
    from theorylib.checks import ch03_bias_free_relu as ch3
    for alpha in (0.0, 0.5):
        block_sum, pred = ch3.deep_pairing_blocks(alpha)
        assert np.abs(block_sum).max() > 0.05
        np.testing.assert_allclose(block_sum, pred, atol=1e-13)
    block_sum, pred = ch3.deep_pairing_blocks(1.0)
    assert np.abs(block_sum).max() < 1e-14 and not pred.any()
