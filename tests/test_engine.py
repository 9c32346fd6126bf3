"""sim.engine and sim.linear: gradients, conservation, recording, determinism, error paths."""
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorylib import sim


def _finite_difference_grad(net, params, data, eps=1e-6):
    g = {}
    for name, p in params.items():
        gn = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            gn[idx] = (net.loss(plus, data)[idx[0]] - net.loss(minus, data)[idx[0]]) / (2 * eps)
        g[name] = gn
    return g


@pytest.mark.parametrize("widths", [(3, 2, 4), (2, 3, 3, 2), (2, 2, 2, 2, 1)])
def test_gradient_matches_finite_differences(widths):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, widths[0])), rng.standard_normal((20, widths[-1]))
    data = sim.moments_from_samples(X, Y)
    net = sim.DeepLinear(widths)
    p = sim.random_init(widths, 0.7, n_ensemble=2, seed=1)
    g = net.grad(p, data)
    fd = _finite_difference_grad(net, p, data)
    for name in p:
        np.testing.assert_allclose(g[name], fd[name], atol=1e-6)


def test_loss_from_moments_equals_sample_loss():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((50, 3)), rng.standard_normal((50, 2))
    net = sim.DeepLinear((3, 4, 2))
    p = sim.random_init(net.widths, 0.5, n_ensemble=3, seed=2)
    W = net.product(p)
    direct = 0.5 * np.mean(np.sum((Y[None] - np.einsum("eoi,pi->epo", W, X)) ** 2, axis=2), axis=1)
    np.testing.assert_allclose(net.loss(p, sim.moments_from_samples(X, Y)), direct, rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.05, 1.0))
def test_flow_conserves_balance_matrix(seed, scale):
    """W1W1ᵀ − W2ᵀW2 is conserved by the exact flow from random inits and random data."""
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    data = sim.moments_from_samples(X, Y)
    net = sim.DeepLinear((3, 4, 2))
    p = sim.random_init(net.widths, scale, n_ensemble=2, seed=seed)
    Q = lambda q: q["W1"] @ np.swapaxes(q["W1"], 1, 2) - np.swapaxes(q["W2"], 1, 2) @ q["W2"]
    tr = sim.integrate_flow(net, p, data, [0.0, 2.0], record=lambda q: {"Q": Q(q)})
    np.testing.assert_allclose(tr["Q"][1], tr["Q"][0], atol=1e-7 * max(1.0, np.abs(tr["Q"][0]).max()))


def test_gd_converges_to_flow_as_lr_shrinks():
    data, U, V = sim.aligned_moments([2.0, 1.0], 3, 3, seed=0)
    net = sim.DeepLinear((3, 3, 3))
    p = sim.decoupled_init(U, V, net.widths, 1e-2, seed=0)
    t = [0.0, 2.0]
    flow = sim.integrate_flow(net, p, data, t).params["W1"]
    errs = [np.abs(sim.train_gd(net, p, data, lr, times=t).params["W1"] - flow).max() for lr in (4e-3, 2e-3)]
    assert errs[1] / errs[0] == pytest.approx(0.5, abs=0.05)  # first-order method


def test_gd_is_deterministic_and_does_not_mutate_input():
    data, U, V = sim.aligned_moments([1.0], 2, 2, seed=0)
    net = sim.DeepLinear((2, 2, 2))
    p = sim.random_init(net.widths, 0.1, n_ensemble=2, seed=5)
    p_copy = {k: v.copy() for k, v in p.items()}
    a = sim.train_gd(net, p, data, 0.01, steps=[0, 10, 100])
    b = sim.train_gd(net, p, data, 0.01, steps=[0, 10, 100])
    np.testing.assert_array_equal(a.loss, b.loss)
    for k in p:
        np.testing.assert_array_equal(p[k], p_copy[k])
    assert a.loss.shape == (3, 2) and np.all(np.diff(a.loss, axis=0) < 0)


def test_per_member_learning_rates_equal_separate_runs():
    data, U, V = sim.aligned_moments([1.0, 0.5], 2, 2, seed=0)
    net = sim.DeepLinear((2, 2, 2))
    p = sim.random_init(net.widths, 0.1, n_ensemble=2, seed=5)
    both = sim.train_gd(net, p, data, np.array([0.01, 0.02]), steps=[0, 50])
    for e, lr in enumerate((0.01, 0.02)):
        one = sim.train_gd(net, {k: v[e:e + 1] for k, v in p.items()}, data, lr, steps=[0, 50])
        np.testing.assert_allclose(both.loss[:, e], one.loss[:, 0], rtol=1e-12)


def test_layerwise_rates_scale_the_update():
    data, U, V = sim.aligned_moments([1.0], 1, 1, seed=0)
    net = sim.DeepLinear((1, 1, 1))
    p = {"W1": np.full((1, 1, 1), 0.3), "W2": np.full((1, 1, 1), 0.2)}
    g = net.grad(p, data)
    out = sim.train_gd(net, p, data, 0.1, steps=[1], rates={"W1": 3.0}).params
    assert out["W1"][0, 0, 0] == pytest.approx(0.3 - 0.3 * g["W1"][0, 0, 0])
    assert out["W2"][0, 0, 0] == pytest.approx(0.2 - 0.1 * g["W2"][0, 0, 0])


def test_decoupled_init_is_balanced_and_aligned():
    """Regression: the hidden rotations were applied in reverse order when hidden widths differ."""
    data, U, V = sim.aligned_moments([3.0, 2.0, 1.0], 4, 5, seed=3)
    net = sim.DeepLinear((4, 6, 5, 5))
    p = sim.decoupled_init(U, V, net.widths, [0.1, 0.2, 0.3], n_ensemble=2, seed=1)
    W = net.product(p)
    np.testing.assert_allclose(sim.mode_strengths(W, U, V, 3), [[0.1, 0.2, 0.3]] * 2, atol=1e-12)
    for l in range(2):  # W_{l+1}ᵀW_{l+1} = W_l W_lᵀ
        a, b = p[f"W{l + 2}"], p[f"W{l + 1}"]
        np.testing.assert_allclose(np.swapaxes(a, 1, 2) @ a, b @ np.swapaxes(b, 1, 2), atol=1e-12)


def test_divergence_error_names_step_size_and_bound():
    data, U, V = sim.aligned_moments([2.0], 2, 2, seed=0)
    net = sim.DeepLinear((2, 2, 2))
    p = sim.decoupled_init(U, V, net.widths, 0.5, seed=0)
    with pytest.raises(sim.DivergenceError, match=r"lr = 2.*stability bound.*0\.5"):
        sim.train_gd(net, p, data, 2.0, steps=[0, 1000])


def test_stability_bound_is_sharp_for_two_layer_scalar():
    data = sim.Moments(np.eye(1), np.array([[2.0]]), 4.0)
    net = sim.DeepLinear((1, 1, 1))
    p = {"W1": np.full((1, 1, 1), np.sqrt(2.0) * 1.01), "W2": np.full((1, 1, 1), np.sqrt(2.0) * 0.99)}
    bound = net.stability_bound(data)
    below = sim.train_gd(net, p, data, 0.95 * bound, steps=[2000]).loss[-1, 0]
    above = sim.train_gd(net, p, data, 1.05 * bound, steps=[2000]).loss[-1, 0]
    assert below < 1e-12 and above > 1e-6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=0.0, steps=[1]), "lr must be positive"),
        (dict(lr=-0.1, steps=[1]), "lr must be positive"),
        (dict(lr=np.ones(3), steps=[1]), "lr must be a scalar or have shape"),
        (dict(lr=0.1), "exactly one of"),
        (dict(lr=0.1, times=[0.05]), "multiples of lr"),
        (dict(lr=0.1, times=[-1.0]), "non-negative"),
        (dict(lr=0.1, steps=[5, 2]), "non-decreasing"),
        (dict(lr=0.1, steps=[1], tau=0.0), "tau must be positive"),
        (dict(lr=0.1, steps=[1], rates={"W3": 1.0}), "unknown parameters"),
        (dict(lr=0.1, steps=[1], rates={"W1": -1.0}), "positive"),
    ],
)
def test_train_gd_rejects_bad_input(kwargs, match):
    data, U, V = sim.aligned_moments([1.0], 2, 2, seed=0)
    net = sim.DeepLinear((2, 2, 2))
    p = sim.random_init(net.widths, 0.1, n_ensemble=2, seed=0)
    with pytest.raises(ValueError, match=match):
        sim.train_gd(net, p, data, **kwargs)


def test_bad_shapes_and_data_raise():
    data, U, V = sim.aligned_moments([1.0], 2, 2, seed=0)
    net = sim.DeepLinear((2, 3, 2))
    with pytest.raises(ValueError, match="W1 has shape"):
        net.grad({"W1": np.zeros((1, 2, 2)), "W2": np.zeros((1, 2, 3))}, data)
    with pytest.raises(ValueError, match="ensemble size"):
        sim.train_gd(net, {"W1": np.zeros((1, 3, 2)), "W2": np.zeros((2, 2, 3))}, data, 0.1, steps=[1])
    with pytest.raises(ValueError, match="non-finite"):
        sim.train_gd(net, {"W1": np.full((1, 3, 2), np.nan), "W2": np.zeros((1, 2, 3))}, data, 0.1, steps=[1])
    with pytest.raises(ValueError, match="symmetric"):
        sim.Moments(np.array([[1.0, 1.0], [0.0, 1.0]]), np.zeros((1, 2)), 0.0)
    with pytest.raises(ValueError, match="semi-definite"):
        sim.Moments(-np.eye(2), np.zeros((1, 2)), 0.0)
    with pytest.raises(ValueError, match="same number of rows"):
        sim.moments_from_samples(np.zeros((3, 2)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="positive"):
        sim.decoupled_init(U, V, (2, 2, 2), 0.0)
    with pytest.raises(ValueError):
        sim.DeepLinear((2,))


def test_integrate_flow_rejects_bad_times():
    data, U, V = sim.aligned_moments([1.0], 2, 2, seed=0)
    net = sim.DeepLinear((2, 2, 2))
    p = sim.random_init(net.widths, 0.1, seed=0)
    with pytest.raises(ValueError, match="non-decreasing"):
        sim.integrate_flow(net, p, data, [1.0, 0.5])


def test_hierarchical_data_is_whitened_and_deterministic():
    X, Y = sim.hierarchical_data(4, 30, flip=0.1, seed=7)
    m = sim.moments_from_samples(X, Y)
    np.testing.assert_allclose(m.sigma_xx, np.eye(8))
    X2, Y2 = sim.hierarchical_data(4, 30, flip=0.1, seed=7)
    np.testing.assert_array_equal(Y, Y2)
    assert set(np.unique(Y)) <= {-1.0, 1.0}


# ---------------------------------------------------------------- τ ≠ 1 and the step ↔ time map


def _scalar_chain():
    data = sim.Moments(np.eye(1), np.array([[2.0]]), 4.0)
    net = sim.DeepLinear((1, 1, 1))
    p = {"W1": np.array([[[0.1]]]), "W2": np.array([[[0.1]]])}
    rec = lambda q: {"u": net.product(q)[:, 0, 0]}
    return net, p, data, rec


@pytest.mark.parametrize("tau", [0.5, 2.0, 3.0])
def test_gd_with_tau_follows_the_flow_of_the_same_tau(tau):
    """GD τΔθ = −η∂L at t = ηk approximates τθ̇ = −∂L: a factor ητ or a time ηk/τ would not."""
    net, p, data, rec = _scalar_chain()
    t = [0.0, 0.5, 1.0, 2.0]
    gd = sim.train_gd(net, p, data, 1e-4, times=t, tau=tau, record=rec)
    flow = sim.integrate_flow(net, p, data, t, tau=tau, record=rec)
    np.testing.assert_allclose(gd.t, t)
    np.testing.assert_allclose(gd.steps, np.array(t) / 1e-4)
    err = np.abs(gd["u"] - flow["u"]).max()
    # Euler error O(η/τ): measured 2.2e-4 (τ = 0.5), 5.6e-5 (τ = 2), 1.0e-5 (τ = 3)
    assert err < 2e-3 / tau
    # the flows of different τ are far apart at these times, so the test sees a wrong τ
    other = sim.integrate_flow(net, p, data, t, tau=1.0 if tau != 1 else 2.0, record=rec)
    assert np.abs(other["u"] - flow["u"]).max() > 100 * err


def test_flow_time_scales_with_tau():
    net, p, data, rec = _scalar_chain()
    a = sim.integrate_flow(net, p, data, [0.0, 1.0, 3.0], tau=3.0, record=rec)
    b = sim.integrate_flow(net, p, data, [0.0, 1 / 3, 1.0], tau=1.0, record=rec)
    np.testing.assert_allclose(a["u"], b["u"], rtol=1e-8)


@pytest.mark.parametrize("tau, rates", [(1.0, None), (2.5, None), (0.5, {"W1": 3.0, "W2": 0.5})])
def test_recorded_step_k_is_k_hand_written_updates(tau, rates):
    """Step k is recorded after exactly k updates θ ← θ − (η/τ)·rate·∂L/∂θ (no off-by-one)."""
    rng = np.random.default_rng(3)
    data = sim.moments_from_samples(rng.standard_normal((10, 2)), rng.standard_normal((10, 2)))
    net = sim.DeepLinear((2, 3, 2))
    p = sim.random_init(net.widths, 0.4, n_ensemble=2, seed=4)
    lr, steps = 0.05, [0, 1, 2, 7]
    tr = sim.train_gd(net, p, data, lr, steps=steps, tau=tau, rates=rates,
                      record=lambda q: {n: q[n].copy() for n in q}, check_every=3)
    q = {n: v.copy() for n, v in p.items()}
    r = rates or {}
    for k in range(max(steps) + 1):
        if k in steps:
            i = steps.index(k)
            for n in q:
                np.testing.assert_allclose(tr[n][i], q[n], rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(tr.loss[i], net.loss(q, data), rtol=1e-12)
            assert tr.t[i] == pytest.approx(lr * k)
        g = net.grad(q, data)
        q = {n: q[n] - lr / tau * r.get(n, 1.0) * g[n] for n in q}
    for n in q:  # final parameters are those after the last recorded step
        assert np.abs(tr.params[n] - tr[n][-1]).max() < 1e-14


def test_divergence_message_mentions_tau():
    data = sim.Moments(np.eye(1), np.array([[2.0]]), 4.0)
    net = sim.DeepLinear((1, 1, 1))
    p = {"W1": np.array([[[1.0]]]), "W2": np.array([[[1.0]]])}
    with pytest.raises(sim.DivergenceError, match=r"τ = 0.5.*lr/τ = 4"):
        sim.train_gd(net, p, data, 2.0, steps=[200], tau=0.5)


class _NoBound:
    """DeepLinear without a stability bound (the message must still be worded)."""

    def __init__(self, widths):
        self._net = sim.DeepLinear(widths)

    def loss(self, p, d):
        return self._net.loss(p, d)

    def grad(self, p, d):
        return self._net.grad(p, d)


class _BrokenBound(_NoBound):
    def stability_bound(self, d):
        raise RuntimeError("no bound here")


@pytest.mark.parametrize("model", [_NoBound((1, 1, 1)), _BrokenBound((1, 1, 1))])
def test_divergence_message_without_a_usable_bound(model):
    data = sim.Moments(np.eye(1), np.array([[2.0]]), 4.0)
    p = {"W1": np.array([[[1.0]]]), "W2": np.array([[[1.0]]])}
    with pytest.raises(sim.DivergenceError) as err:
        sim.train_gd(model, p, data, 2.0, steps=[200])
    msg = str(err.value)
    assert "lr = 2" in msg and "stability bound" not in msg and "τ =" not in msg


def test_divergence_message_omits_an_infinite_bound_and_tau_one():
    data = sim.Moments(np.eye(1), np.array([[0.0]]), 0.0)  # Σ_yx = 0: bound 2/λ_max = inf
    net = sim.DeepLinear((1, 1, 1))
    assert net.stability_bound(data) == np.inf
    p = {"W1": np.array([[[3.0]]]), "W2": np.array([[[3.0]]])}
    with pytest.raises(sim.DivergenceError) as err:
        sim.train_gd(net, p, data, 1.0, steps=[200])
    assert "stability bound" not in str(err.value) and "τ =" not in str(err.value)
    with pytest.raises(sim.DivergenceError) as err:
        sim.train_gd(net, p, data, 2.0, steps=[200], tau=2.0)
    assert "τ = 2" in str(err.value)


def test_integrate_flow_returns_times_losses_and_final_params():
    net, p, data, rec = _scalar_chain()
    t = [0.0, 0.3, 0.3, 1.0, 2.0]  # repeated times are allowed
    tr = sim.integrate_flow(net, p, data, t, record=lambda q: {"W1": q["W1"].copy(), "n": np.array([7])})
    np.testing.assert_array_equal(tr.t, t)
    assert tr.steps is None
    assert tr.loss.shape == (len(t), 1)
    np.testing.assert_allclose(tr["W1"][1], tr["W1"][2])
    np.testing.assert_allclose(tr.params["W1"], tr["W1"][-1])
    assert tr["n"].dtype.kind == "i"  # records keep their dtype
    # the loss column is the model's loss at the recorded parameters
    full = sim.integrate_flow(net, p, data, t, record=lambda q: {k: v.copy() for k, v in q.items()})
    for i in range(len(t)):
        q = {k: full[k][i] for k in net.names}
        np.testing.assert_allclose(full.loss[i], net.loss(q, data), rtol=1e-12)
    assert full.loss[-1, 0] < full.loss[0, 0]


def test_integrate_flow_rates_rescale_time_and_may_differ_per_member():
    net, p, data, rec = _scalar_chain()
    fast = sim.integrate_flow(net, p, data, [0.0, 0.5], rates={"W1": 3.0, "W2": 3.0}, record=rec)
    slow = sim.integrate_flow(net, p, data, [0.0, 1.5], record=rec)
    np.testing.assert_allclose(fast["u"], slow["u"], rtol=1e-8)
    p2 = {k: np.repeat(v, 2, axis=0) for k, v in p.items()}
    both = sim.integrate_flow(net, p2, data, [0.0, 0.5], rates={"W1": [1.0, 3.0], "W2": [1.0, 3.0]}, record=rec)
    np.testing.assert_allclose(both["u"][:, 1], fast["u"][:, 0], rtol=1e-8)
    assert abs(both["u"][-1, 0] - both["u"][-1, 1]) > 1e-2


def test_half_learning_time_domain_edge():
    assert dl_half(1.0, 0.4) == pytest.approx(0.5 * np.log(1.5), rel=1e-12)
    with pytest.raises(ValueError, match="u0 < s/2"):
        dl_half(1.0, 0.5)


def dl_half(s, u0):
    from theorylib.theory import deep_linear as dl

    return float(dl.half_learning_time(s, u0))


def test_train_gd_repeated_steps_per_member_rates_and_record_dtype():
    net, p, data, rec = _scalar_chain()
    tr = sim.train_gd(net, p, data, 0.01, steps=[0, 0, 3, 3],
                      record=lambda q: {"u": net.product(q)[:, 0, 0], "n": np.array([1])})
    np.testing.assert_array_equal(tr["u"][0], tr["u"][1])
    np.testing.assert_array_equal(tr["u"][2], tr["u"][3])
    assert tr["u"][2, 0] > tr["u"][0, 0] and tr["n"].dtype.kind == "i"
    p2 = {k: np.repeat(v, 2, axis=0) for k, v in p.items()}
    both = sim.train_gd(net, p2, data, 0.01, steps=[40], rates={"W1": [1.0, 2.0], "W2": [1.0, 2.0]}, record=rec)
    fast = sim.train_gd(net, p, data, 0.02, steps=[40], record=rec)
    np.testing.assert_allclose(both["u"][0, 1], fast["u"][0, 0], rtol=1e-12)
    assert abs(both["u"][0, 0] - both["u"][0, 1]) > 1e-3


@pytest.mark.parametrize("check_every", [7, 50])
def test_divergence_is_caught_at_a_check_before_the_last_record(check_every):
    data = sim.Moments(np.eye(1), np.array([[2.0]]), 4.0)
    net = sim.DeepLinear((1, 1, 1))
    p = {"W1": np.array([[[1.0]]]), "W2": np.array([[[1.0]]])}
    with pytest.raises(sim.DivergenceError) as err:
        sim.train_gd(net, p, data, 2.0, steps=[100_000], check_every=check_every)
    step = int(str(err.value).split("at step ")[1].split(" ")[0])
    assert step % check_every == 0 and step < 100_000


def test_train_gd_leaves_the_callers_parameters_untouched():
    net, p, data, rec = _scalar_chain()
    before = {k: v.copy() for k, v in p.items()}
    for k in ([0, 5], [3], [0]):
        tr = sim.train_gd(net, p, data, 0.01, steps=k, backend="numpy", record=rec)
        for name in p:
            np.testing.assert_array_equal(p[name], before[name])
            assert not np.shares_memory(tr.params[name], p[name])
    assert tr.params["W1"].flags.c_contiguous


def _net_and_data():
    X = np.random.default_rng(3).standard_normal((20, 2))
    net = sim.DeepLinear((2, 2, 2))
    data = sim.moments_from_samples(X, X @ [[1.0, 0.5], [0.0, 2.0]])
    return net, sim.random_init(net.widths, 0.3, n_ensemble=2, seed=4), data


def _switching_record(first, later):
    """A record function that returns the names ``first`` at its first call and ``later`` after."""
    calls = []

    def record(q):
        calls.append(None)
        names = first if len(calls) == 1 else later
        return {n: np.full(2, float(len(calls))) for n in names}

    return record


@pytest.mark.parametrize("first, later", [(("a",), ("b",)), (("a",), ("a", "b")), (("a", "b"), ("a",))])
@pytest.mark.parametrize("run", ["gd", "flow"])
def test_record_must_return_the_same_names_at_every_recording(first, later, run):
    """Rows are allocated at the first recording; a name that appears or disappears later used to
    leave rows of uninitialised memory (values like 6.9e-310) in the Trajectory, with no error."""
    net, p, data = _net_and_data()
    record = _switching_record(first, later)
    msg = (rf"^record returned the names {re.escape(str(sorted(later)))} at recording 1, but "
           rf"{re.escape(str(sorted(first)))} at the first; it must return the same names every time$")
    with pytest.raises(ValueError, match=msg):
        if run == "gd":
            sim.train_gd(net, p, data, 0.01, steps=[0, 1, 2], record=record)
        else:
            sim.integrate_flow(net, p, data, [0.0, 0.5, 1.0], record=record)


@pytest.mark.parametrize("run", ["gd", "flow"])
def test_record_must_keep_its_shapes_and_return_a_dict(run):
    net, p, data = _net_and_data()
    calls = []

    def grows(q):
        calls.append(None)
        return {"a": np.zeros(len(calls))}

    go = ((lambda rec: sim.train_gd(net, p, data, 0.01, steps=[0, 1], record=rec)) if run == "gd"
          else (lambda rec: sim.integrate_flow(net, p, data, [0.0, 1.0], record=rec)))
    with pytest.raises(ValueError, match=r"^record\['a'\] has shape \(2,\) at recording 1, but \(1,\) "
                                         r"at the first; it must keep its shape$"):
        go(grows)
    with pytest.raises(ValueError, match=r"^record must return a dict of arrays; got list$"):
        go(lambda q: [1.0])
    # the same names and shapes every time: recorded as before
    tr = go(lambda q: {"W1": q["W1"].copy()})
    assert tr["W1"].shape == (2,) + p["W1"].shape
