"""Tests of theorylib.sim.rich_lazy (Chapter 2): gradients against finite differences,
conservation under the flow and O(lr) drift under GD, initialisations, error paths."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from theorylib.sim import rich_lazy as rs
from theorylib.sim.engine import integrate_flow, train_gd
from theorylib.sim.linear import DeepLinear
from theorylib.sim.data import Moments


def _fd_grad(model, params, data, h=1e-6):
    out = {}
    for name, p in params.items():
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape[1:]):
            for sgn in (1, -1):
                q = {k: v.copy() for k, v in params.items()}
                q[name][(slice(None),) + idx] += sgn * h
                g[(slice(None),) + idx] += sgn * model.loss(q, data) / (2 * h)
        out[name] = g
    return out


def test_single_neuron_grad_matches_finite_differences():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 3)), rng.standard_normal(5)
    data = rs.SampleSums.from_samples(X, y)
    params = {"a": rng.standard_normal(4), "w": rng.standard_normal((4, 3))}
    model = rs.SingleNeuron()
    g, fd = model.grad(params, data), _fd_grad(model, params, data)
    for k in g:
        np.testing.assert_allclose(g[k], fd[k], atol=1e-6)
    # the loss is the sum convention ½‖Xβ − y‖²
    beta = params["a"][:, None] * params["w"]
    np.testing.assert_allclose(model.loss(params, data), 0.5 * np.sum((beta @ X.T - y) ** 2, axis=1))


def test_relu_grad_matches_finite_differences():
    X, y, _ = rs.teacher_student_data(12, 3, 2, seed=1)
    params = rs.relu_init(6, 3, 0.7, 0.2, n_ensemble=2, seed=2, symmetric=False)
    model = rs.TwoLayerReLU()
    g, fd = model.grad(params, (X, y)), _fd_grad(model, params, (X, y))
    for k in g:
        np.testing.assert_allclose(g[k], fd[k], atol=1e-6)
    f = model.predict(params, X)
    manual = np.einsum("em,emn->en", params["a"], np.maximum(np.einsum("emd,nd->emn", params["W"], X), 0))
    np.testing.assert_allclose(f, manual)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), ea=st.floats(0.3, 3.0), ew=st.floats(0.3, 3.0))
def test_single_neuron_flow_conserves_delta(seed, ea, ew):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((4, 3)), rng.standard_normal(4)
    data = rs.SampleSums.from_samples(X, y)
    p0 = {"a": rng.standard_normal(3), "w": rng.standard_normal((3, 3))}
    rec = lambda p: {"d": ew * p["a"] ** 2 - ea * np.sum(p["w"] ** 2, axis=1)}
    tr = integrate_flow(rs.SingleNeuron(), p0, data, [0.0, 0.5, 1.0], rates={"a": ea, "w": ew}, record=rec)
    np.testing.assert_allclose(tr["d"], np.broadcast_to(tr["d"][0], tr["d"].shape), atol=1e-7)


def test_gd_drift_is_first_order_in_lr():
    data = rs.SampleSums.whitened(np.array([0.5, 0.5]))
    p0 = {"a": np.array([0.4, 1.2]), "w": np.array([[0.0, -1.0], [0.3, 0.2]])}
    rec = lambda p: {"d": p["a"] ** 2 - np.sum(p["w"] ** 2, axis=1)}
    drifts = []
    for lr in (4e-3, 2e-3):
        tr = train_gd(rs.SingleNeuron(), p0, data, lr, times=np.linspace(0, 4, 5), record=rec)
        drifts.append(np.abs(tr["d"] - tr["d"][0]).max())
    assert drifts[0] / drifts[1] == pytest.approx(2.0, rel=0.05)


def test_relu_flow_conserves_per_neuron_delta():
    X, y, _ = rs.teacher_student_data(10, 2, 2, seed=0)
    p0 = rs.relu_init(8, 2, 0.5, 0.3, n_ensemble=1, seed=0)
    rec = lambda p: {"d": p["a"] ** 2 - np.sum(p["W"] ** 2, axis=2)}
    tr = integrate_flow(rs.TwoLayerReLU(), p0, (X, y), [0.0, 1.0, 2.0], record=rec, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tr["d"], np.broadcast_to(tr["d"][0], tr["d"].shape), atol=1e-6)


def test_two_layer_linear_matrix_conserved_under_flow():
    p0 = rs.two_layer_init((3, 4, 2), (0.5, 1.0), n_ensemble=2, seed=0)
    rng = np.random.default_rng(1)
    data = Moments(np.eye(3), rng.standard_normal((2, 3)), 30.0)  # tr Σ_yy ≥ the fitted part (3.6)
    ea, ew = 0.5, 2.0
    Q = lambda p: {"Q": ew * np.swapaxes(p["W2"], 1, 2) @ p["W2"] - ea * p["W1"] @ np.swapaxes(p["W1"], 1, 2)}
    tr = integrate_flow(DeepLinear((3, 4, 2)), p0, data, [0.0, 2.0], rates={"W1": ew, "W2": ea}, record=Q)
    np.testing.assert_allclose(tr["Q"][-1], tr["Q"][0], atol=1e-8)


def test_relu_init_scale_and_delta():
    tau, delta = np.array([0.1, 2.0, 0.5]), np.array([0.9, -1.0, 0.0])
    p = rs.relu_init(10, 3, tau, delta, n_ensemble=3, seed=0)
    d = p["a"] ** 2 - np.sum(p["W"] ** 2, axis=2)
    np.testing.assert_allclose(d, np.broadcast_to(delta[:, None], d.shape), atol=1e-12)
    np.testing.assert_allclose(np.abs(p["a"]) * np.linalg.norm(p["W"], axis=2), np.broadcast_to(tau[:, None] ** 2, d.shape))
    X, _, _ = rs.teacher_student_data(7, 3, 1)
    np.testing.assert_allclose(rs.TwoLayerReLU().predict(p, X), 0.0, atol=1e-14)  # symmetrised: f ≡ 0


def test_activation_change():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    W0 = np.array([[[1.0, 1.0]]])
    W1 = np.array([[[1.0, -1.0]]])
    np.testing.assert_allclose(rs.activation_change(W0, W1, X), [0.5])


@pytest.mark.parametrize("call", [
    lambda: rs.SampleSums(np.ones((2, 3)), np.ones(2), 1.0),
    lambda: rs.SampleSums(np.array([[1.0, 2.0], [0.0, 1.0]]), np.ones(2), 1.0),
    lambda: rs.SampleSums.from_samples(np.ones((3, 2)), np.ones(2)),
    lambda: rs.SingleNeuron().grad({"a": np.ones(2), "w": np.ones((2, 3))}, rs.SampleSums.whitened(np.ones(2))),
    lambda: rs.relu_init(5, 2, 0.1, 0.0),  # odd width with symmetric init
    lambda: rs.relu_init(4, 2, -0.1, 0.0),
    lambda: rs.two_layer_init((3, 4), (1.0, 1.0)),
    lambda: rs.two_layer_init((3, 4, 2), (1.0, 0.0)),
    lambda: rs.TwoLayerReLU().grad({"W": np.ones((1, 2, 3)), "a": np.ones((1, 2))}, (np.ones((4, 2)), np.ones(4))),
])
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------- initial conditions built in sim
@settings(max_examples=40, deadline=None)
@given(b=st.lists(st.floats(-3, 3), min_size=2, max_size=4), delta=st.floats(-5, 5),
       ea=st.floats(0.2, 4.0), ew=st.floats(0.2, 4.0), sign=st.sampled_from([1.0, -1.0]))
def test_split_function_meets_constraints(b, delta, ea, ew, sign):
    b0 = np.array(b)
    if b0 @ b0 < 1e-6:
        b0 = b0 + 0.5
    p = rs.split_function(b0, delta, ea, ew, sign=sign)
    a, w = p["a"][0], p["w"][0]
    np.testing.assert_allclose(a * w, b0, rtol=1e-13, atol=1e-15)          # same function
    assert ew * a**2 - ea * w @ w == pytest.approx(delta, rel=1e-12, abs=1e-12)  # requested δ
    assert np.sign(a) == sign


def test_split_function_agrees_with_theory_split_init():
    """The simulator's numerical split and the theory's closed form are independent; they must agree."""
    from theorylib.theory import rich_lazy as rl
    rng = np.random.default_rng(4)
    for _ in range(200):
        b0 = rng.standard_normal(rng.integers(1, 5))
        delta = float(rng.uniform(-4, 4))
        ea, ew = np.exp(rng.uniform(-1, 1, 2))
        p = rs.split_function(b0, delta, ea, ew)
        a, w = rl.split_init(b0, delta, ea, ew)
        assert p["a"][0] == pytest.approx(a, rel=1e-13)
        np.testing.assert_allclose(p["w"][0], w, rtol=1e-12, atol=1e-15)
    # a regime where the naive closed form (δ + √(δ² + 4κ‖β₀‖²))/2 cancels: δ ≪ 0, tiny β₀
    p = rs.split_function(np.array([1e-6, 0.0]), -3.0)
    a, w = rl.split_init(np.array([1e-6, 0.0]), -3.0)
    assert p["a"][0] == pytest.approx(a, rel=1e-13)


def test_split_function_batch_and_errors():
    p = rs.split_function(np.array([[1.0, 2.0], [0.5, 0.1]]), [1.0, -1.0], sign=[1, -1])
    assert p["a"].shape == (2,) and p["w"].shape == (2, 2) and p["a"][1] < 0
    p0 = rs.split_function(np.zeros(3), 2.0)  # β₀ = 0 needs δ > 0: a = √δ, w = 0
    assert p0["a"][0] == pytest.approx(np.sqrt(2.0)) and not np.any(p0["w"])
    for bad in (dict(beta0=np.zeros(2), delta=0.0), dict(beta0=np.ones(2), delta=np.nan),
                dict(beta0=np.ones(2), delta=1.0, eta_a=0.0), dict(beta0=np.ones(2), delta=1.0, sign=0.5)):
        with pytest.raises(ValueError):
            rs.split_function(**bad)


def test_tangent_kernel_matches_finite_differences():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((4, 3))
    a, w = np.array([0.8, -1.3]), rng.standard_normal((2, 3))
    ea, ew = 0.6, 1.7
    K = rs.tangent_kernel(rs.SingleNeuron(), {"a": a, "w": w}, X, rates={"a": ea, "w": ew})
    h = 1e-6
    for e in range(2):
        th = np.r_[a[e], w[e]]
        f = lambda t: X @ (t[0] * t[1:])
        J = np.stack([(f(th + h * v) - f(th - h * v)) / (2 * h) for v in np.eye(4)], axis=1)
        np.testing.assert_allclose(K[e], J @ np.diag([ea, ew, ew, ew]) @ J.T, atol=1e-8)
