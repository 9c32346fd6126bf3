"""Tests of theorylib.theory.bias_free_relu against independent computations (Chapter 3).

The reference computations here do not use the module under test: a network written out in
numpy for the odd part, and ``solve_ivp`` on the gradient flow of a tiny paired net (gradient
by central finite differences of the loss) for the time course and the half-learning time.
"""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from theorylib.theory import bias_free_relu as bfr
from theorylib.theory import deep_linear as dl

TOL = 2e-4  # the acceptance tolerance; most agreements below are far tighter


def net_np(W1, W2, alpha, X):
    Z = X @ W1.T
    return np.maximum(Z, alpha * Z) @ W2.T


# ------------------------------------------------------------------ odd part


@settings(max_examples=40, deadline=None)
@given(alpha=st.floats(0, 1), seed=st.integers(0, 10_000), H=st.integers(1, 6))
def test_odd_part_matrix_matches_network(alpha, seed, H):
    rng = np.random.default_rng(seed)
    W1, W2 = rng.standard_normal((H, 3)), rng.standard_normal((2, H))
    X = rng.standard_normal((20, 3))
    A = bfr.odd_part_matrix(W1, W2, alpha)
    odd = net_np(W1, W2, alpha, X) - net_np(W1, W2, alpha, -X)
    assert np.max(np.abs(odd - 2 * X @ A.T)) < 1e-10


def test_odd_part_exact_at_zero_preactivation():
    W1 = np.array([[0.0, 1.0], [2.0, -1.0]])
    W2 = np.array([[1.5, -0.5]])
    X = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 2.0]])  # unit 0 sees 0 on the first, unit 1 on the last two
    for alpha in (0.0, 0.3, 1.0):
        odd = net_np(W1, W2, alpha, X) - net_np(W1, W2, alpha, -X)
        assert np.allclose(odd, 2 * X @ bfr.odd_part_matrix(W1, W2, alpha).T, atol=1e-14)


def test_odd_part_matrix_broadcasts_over_ensemble_and_alpha():
    rng = np.random.default_rng(1)
    W1, W2 = rng.standard_normal((4, 5, 3)), rng.standard_normal((4, 2, 5))
    alphas = np.array([0.0, 0.2, 0.7, 1.0])
    A = bfr.odd_part_matrix(W1, W2, alphas)
    for e in range(4):
        assert np.allclose(A[e], (1 + alphas[e]) / 2 * W2[e] @ W1[e])


def test_odd_part_matrix_expr_agrees_with_numeric():
    rng = np.random.default_rng(2)
    W1, W2 = rng.standard_normal((3, 2)), rng.standard_normal((2, 3))
    A = np.array(bfr.odd_part_matrix_expr(sp.Matrix(W1), sp.Matrix(W2), sp.Rational(1, 4)), dtype=float)
    assert np.allclose(A, bfr.odd_part_matrix(W1, W2, 0.25))


@pytest.mark.parametrize("bad", [
    dict(W1=np.ones((3, 2)), W2=np.ones((1, 4)), alpha=0.0),  # hidden sizes disagree
    dict(W1=np.ones(3), W2=np.ones((1, 3)), alpha=0.0),  # not 2-D
    dict(W1=np.ones((3, 2)), W2=np.ones((1, 3)), alpha=1.5),  # alpha outside [0, 1]
    dict(W1=np.ones((3, 2)), W2=np.ones((1, 3)), alpha=-0.1),
    dict(W1=np.ones((3, 2)), W2=np.ones((1, 3)), alpha=np.nan),
])
def test_odd_part_matrix_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        bfr.odd_part_matrix(**bad)


def test_sigma_decomposition_numeric():
    sig, (z, a) = bfr.sigma_expr()
    dec = bfr.sigma_decomposition_expr()
    f1 = sp.lambdify((z, a), sig, "numpy")
    f2 = sp.lambdify((z, a), dec, "numpy")
    zs = np.linspace(-3, 3, 61)
    for alpha in (0.0, 0.1, 0.5, 1.0):
        assert np.allclose(f1(zs, alpha), np.maximum(zs, alpha * zs))
        assert np.allclose(f2(zs, alpha), np.maximum(zs, alpha * zs))


# ------------------------------------------------------------------ dynamics: an independent flow


def paired_flow_reference(s, u0, alpha, t_eval, event_half=False, tau=1.0, lam=1.0):
    """Gradient flow ``τθ̇ = −∇L`` of a 1-D paired net (units (w, v), (w', v')) on two mirrored points.

    ``x = ±√λ`` and ``y = ±s/√λ``, so ``Σxx = λ`` and ``Σyx = s``. Loss written from scratch;
    gradient by central finite differences; returns the function-space strength ``f(1)`` over
    time or, with ``event_half``, the time at which it reaches half its final value ``s/(2λ)``.
    """
    X = np.sqrt(lam) * np.array([1.0, -1.0])
    Y = s / lam * X

    def loss(p):
        w, v = p[:2], p[2:]
        Z = np.outer(X, w)
        return 0.5 * np.mean((Y - np.maximum(Z, alpha * Z) @ v) ** 2)

    def rhs(_t, p):
        g = np.empty(4)
        h = 1e-6
        for i in range(4):
            e = np.zeros(4)
            e[i] = h
            g[i] = (loss(p + e) - loss(p - e)) / (2 * h)
        return -g / tau

    a = np.sqrt(u0 / 2)  # balanced: raw product Σ v_h w_h = 2 a² = u0
    p0 = np.array([a, -a, a, -a])
    f1 = lambda p: float(np.maximum(p[:2], alpha * p[:2]) @ p[2:])
    if event_half:
        ev = lambda t, p: f1(p) - s / (2 * lam)
        ev.terminal = True
        sol = solve_ivp(rhs, (0, 1e3), p0, events=ev, rtol=1e-10, atol=1e-13, method="DOP853")
        return sol.t_events[0][0]
    sol = solve_ivp(rhs, (0, t_eval[-1]), p0, t_eval=t_eval, rtol=1e-10, atol=1e-13, method="DOP853")
    return np.array([f1(sol.y[:, i]) for i in range(sol.y.shape[1])])


@pytest.mark.parametrize("alpha", [0.0, 0.4, 1.0])
def test_half_time_matches_independent_flow(alpha):
    s, u0 = 2.0, 1e-3
    t_ref = paired_flow_reference(s, u0, alpha, None, event_half=True)
    assert abs(bfr.half_time(s, u0, alpha) - t_ref) / t_ref < TOL


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_function_strength_matches_independent_flow(alpha):
    s, u0 = 1.5, 1e-2
    t = np.linspace(0, 8, 17)
    ref = paired_flow_reference(s, u0, alpha, t)
    assert np.max(np.abs(bfr.function_strength(t, s, u0, alpha) - ref)) < TOL


@pytest.mark.parametrize("alpha,tau", [(0.0, 2.5), (0.5, 0.4)])
def test_half_time_with_tau_matches_independent_flow(alpha, tau):
    """τ ≠ 1: a τ-for-1/τ mix-up in half_time would be off by τ² here."""
    s, u0 = 2.0, 1e-3
    t_ref = paired_flow_reference(s, u0, alpha, None, event_half=True, tau=tau)
    assert abs(bfr.half_time(s, u0, alpha, tau) - t_ref) / t_ref < TOL


@pytest.mark.parametrize("alpha,tau,lam", [(0.0, 2.5, 2.0), (0.6, 1.0, 0.5)])
def test_function_strength_non_whitened_matches_independent_flow(alpha, tau, lam):
    """Σxx = λ ≠ 1 (Chapter 3, aligned time course): ũ(t) = function_strength(t, s, λu0, α, τ)/λ."""
    s, u0 = 1.5, 1e-2
    t = np.linspace(0, 40, 21)
    ref = paired_flow_reference(s, u0, alpha, t, tau=tau, lam=lam)
    th = bfr.function_strength(t, s, lam * u0, alpha, tau) / lam
    assert np.max(np.abs(th - ref)) < TOL
    assert abs(ref[-1] - s / lam) < 1e-2 * s / lam  # settled at the non-whitened fit s/λ
    t_half = paired_flow_reference(s, u0, alpha, None, event_half=True, tau=tau, lam=lam)
    assert abs(bfr.half_time(s, lam * u0, alpha, tau) - t_half) / t_half < TOL


@settings(max_examples=30, deadline=None)
@given(s=st.floats(0.1, 5), frac=st.floats(1e-4, 0.4), alpha=st.floats(0, 1))
def test_half_time_is_where_function_strength_is_half(s, frac, alpha):
    u0 = frac * s  # k u0 < s/2 for all alpha because k ≤ 1
    t = bfr.half_time(s, u0, alpha)
    assert abs(bfr.function_strength(t, s, u0, alpha) - s / 2) < 1e-9 * s


@settings(max_examples=30, deadline=None)
@given(s=st.floats(0.1, 5), frac=st.floats(1e-4, 0.4))
def test_alpha_one_is_the_linear_network(s, frac):
    u0 = frac * s
    assert np.isclose(bfr.half_time(s, u0, 1.0), dl.learning_time(s, u0, s / 2), rtol=1e-12)
    t = np.linspace(0, 5, 11)
    assert np.allclose(bfr.function_strength(t, s, u0, 1.0), dl.mode_strength(t, s, u0), rtol=1e-12)


def test_relu_is_slower_by_two_over_one_plus_alpha():
    """Same initial *function* (raw u0 = 2ũ0/(1+α)): the half time scales exactly by 2/(1+α)."""
    s, ut0 = 3.0, 1e-3
    t_lin = bfr.half_time(s, ut0, 1.0)
    for alpha in (0.0, 0.25, 0.5):
        assert np.isclose(bfr.half_time(s, 2 * ut0 / (1 + alpha), alpha), 2 / (1 + alpha) * t_lin, rtol=1e-12)
    assert bfr.time_rescaling(0.0) == 0.5 and bfr.time_rescaling(1.0) == 1.0
    assert np.isclose(bfr.weight_rescaling(0.0) ** 2, 0.5)


def test_exprs_agree_with_numeric():
    ht, (s, u0, a, tau) = bfr.half_time_expr()
    fs, (t, s2, u02, a2, tau2) = bfr.function_strength_expr()
    f_ht = sp.lambdify((s, u0, a, tau), ht, "numpy")
    f_fs = sp.lambdify((t, s2, u02, a2, tau2), fs, "numpy")
    assert np.isclose(f_ht(2.0, 1e-3, 0.3, 1.5), bfr.half_time(2.0, 1e-3, 0.3, 1.5), rtol=1e-12)
    assert np.isclose(f_fs(1.2, 2.0, 1e-2, 0.3, 1.5), bfr.function_strength(1.2, 2.0, 1e-2, 0.3, 1.5), rtol=1e-12)


def test_loss_curve_limits():
    s, u0 = np.array([3.0, 1.0]), np.array([1e-3, 2e-3])
    L = bfr.loss_curve(np.array([0.0, 200.0]), s, u0, 0.5, floor=0.25)
    k = 0.75
    assert np.isclose(L[0], 0.25 + 0.5 * np.sum((s - k * u0) ** 2))
    assert np.isclose(L[1], 0.25)


@pytest.mark.parametrize("args", [
    (1.0, 0.6, 1.0),  # k u0 = s/2·1.2 ≥ s/2
    (1.0, 0.9, 0.0 + 1.0),
    (-1.0, 1e-3, 0.0),  # s ≤ 0
    (1.0, 0.0, 0.0),  # u0 = 0 (the saddle)
    (1.0, 1e-3, 2.0),  # alpha > 1
])
def test_half_time_rejects_bad_input(args):
    with pytest.raises(ValueError):
        bfr.half_time(*args)


def test_half_time_uses_function_space_strength():
    # raw u0 = 0.9 s is fine for ReLU (k u0 = 0.45 s < s/2) but not for a linear net
    assert np.isfinite(bfr.half_time(1.0, 0.9, 0.0))
    with pytest.raises(ValueError):
        bfr.half_time(1.0, 0.9, 1.0)


def test_function_strength_rejects_bad_input():
    with pytest.raises(ValueError):
        bfr.function_strength(1.0, 1.0, -1e-3, 0.0)
    with pytest.raises(ValueError):
        bfr.function_strength(1.0, 1.0, 1e-3, -0.5)
    with pytest.raises(ValueError):
        bfr.loss_curve([0.0], [1.0], [1e-3], 0.0, floor=-1.0)


# ------------------------------------------------------------------ linear fit and floor


def test_linear_fit_cubic_example():
    x = np.array([1.0, 2.0, -1.0, -2.0])[:, None]
    y = x**3
    B, floor = bfr.linear_fit(x.T @ x / 4, y.T @ x / 4, float(np.mean(y**2)))
    assert np.isclose(B[0, 0], 17 / 5) and np.isclose(floor, 9 / 5)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_linear_fit_matches_lstsq(seed):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((40, 3)), rng.standard_normal((40, 2))
    B, floor = bfr.linear_fit(X.T @ X / 40, Y.T @ X / 40, float(np.sum(Y**2) / 40))
    ref, *_ = np.linalg.lstsq(X, Y, rcond=None)
    assert np.allclose(B, ref.T, atol=1e-10)
    assert np.isclose(floor, 0.5 * np.sum((Y - X @ ref) ** 2) / 40, atol=1e-10)


def test_linear_fit_rejects_bad_input():
    with pytest.raises(ValueError):
        bfr.linear_fit(np.eye(2), np.ones((1, 3)), 1.0)
    with pytest.raises(ValueError):
        bfr.linear_fit(np.array([[1.0, 2.0], [0.0, 1.0]]), np.ones((1, 2)), 1.0)
    with pytest.raises(ValueError):
        bfr.linear_fit(np.eye(2), np.ones((1, 2)), -1.0)
