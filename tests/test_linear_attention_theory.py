"""Tests of theorylib.theory.linear_attention (Chapter 5) against independent computations."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.integrate import solve_ivp

from theorylib.theory import linear_attention as la


def rand_cov(D, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((D, D))
    return A @ A.T / D + 0.1 * np.eye(D)


def quadratic_min_over_span(Lam, N, E):
    """min over M = E A Eᵀ of population_loss, by solving the normal equations of the quadratic in A
    (the quadratic form is recovered from loss evaluations only, not from eq. 19)."""
    m = E.shape[1]
    basis = [np.outer(E[:, i], E[:, j]) for i in range(m) for j in range(m)]
    L0 = la.population_loss(np.zeros_like(Lam), Lam, N)
    n = len(basis)
    Q = np.zeros((n, n))
    g = np.zeros(n)
    for i in range(n):
        li = la.population_loss(basis[i], Lam, N)
        lmi = la.population_loss(-basis[i], Lam, N)
        Q[i, i] = (li + lmi - 2 * L0) / 2
        g[i] = (li - lmi) / 2
    for i in range(n):
        for j in range(i + 1, n):
            lij = la.population_loss(basis[i] + basis[j], Lam, N)
            Q[i, j] = Q[j, i] = (lij - L0 - g[i] - g[j] - Q[i, i] - Q[j, j]) / 2
    a = np.linalg.solve(2 * Q, -g) if n else np.zeros(0)
    return L0 + g @ a + a @ Q @ a


def test_fixed_point_losses_white_known_answer():
    D, N = 4, 31
    L = la.fixed_point_losses(np.ones(D), N)
    assert len(L) == D + 1 and L[0] == pytest.approx(D)
    assert L[-1] == pytest.approx(D * (1 + D) / (N + 1 + D), rel=1e-14)


def test_fixed_point_losses_fig3_values():
    # c_d = 1 + (1 + 1/λ_d)/31 for the spectrum (0.4, 0.3, 0.2, 0.1)
    lam = np.array([0.4, 0.3, 0.2, 0.1])
    c = 1 + (1 + 1 / lam) / 31
    expected = 1 - np.concatenate([[0], np.cumsum(lam / c)])
    assert np.allclose(la.fixed_point_losses(lam[::-1], 31), expected, rtol=0, atol=1e-15)


@settings(max_examples=10, deadline=None)
@given(D=st.integers(2, 4), N=st.integers(1, 60), seed=st.integers(0, 10_000))
def test_fixed_point_losses_equal_constrained_minima(D, N, seed):
    """L(M_m) = min of the population loss over M supported on the top-m eigenvectors (to 1e-5)."""
    Lam = rand_cov(D, seed)
    lam, E = np.linalg.eigh(Lam)
    order = np.argsort(lam)[::-1]
    lam, E = lam[order], E[:, order]
    losses = la.fixed_point_losses(lam, N)
    for m in range(D + 1):
        assert quadratic_min_over_span(Lam, N, E[:, :m]) == pytest.approx(losses[m], abs=1e-5)
        assert la.population_loss(la.fixed_point(Lam, N, range(m)), Lam, N) == pytest.approx(losses[m], abs=1e-10)
    assert la.minimum_loss(Lam, N) == pytest.approx(losses[-1], abs=1e-10)


@settings(max_examples=25, deadline=None)
@given(D=st.integers(1, 5), N=st.integers(1, 100), seed=st.integers(0, 10_000))
def test_global_minimum_is_stationary(D, N, seed):
    Lam = rand_cov(D, seed)
    Ms = la.global_minimum(Lam, N)
    L0 = la.population_loss(Ms, Lam, N)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        dM = 1e-4 * rng.standard_normal((D, D))
        # quadratic with PD Hessian: any perturbation increases the loss, linearly only at second order
        assert la.population_loss(Ms + dM, Lam, N) > L0
        assert la.population_loss(Ms + dM, Lam, N) + la.population_loss(Ms - dM, Lam, N) - 2 * L0 > 0
        assert abs(la.population_loss(Ms + dM, Lam, N) - la.population_loss(Ms - dM, Lam, N)) < 1e-10


def test_global_minimum_large_N_is_least_squares():
    Lam = rand_cov(3, 1)
    assert np.allclose(la.global_minimum(Lam, 1e9), np.linalg.inv(Lam), atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(D=st.integers(1, 8), N=st.integers(1, 100), logw=st.floats(-4, -1), lam=st.floats(0.1, 3.0))
def test_merged_time_course_against_solve_ivp(D, N, logw, lam):
    """Integrate the balanced scalar ODE τu̇ = 2u(‖Σ_yz‖ − σ_zz u) with moments computed directly."""
    w0 = 10**logw
    a = lam**2 * np.sqrt(D)  # ‖vec(Λ²)‖ for Λ = λI
    b = lam * lam * ((1 + 1 / N) * lam + D * lam / N)  # E[Λ̂²]·λ for Λ = λI
    if w0**2 / np.sqrt(D) * lam * (1 + (1 + D) / N) >= 0.25:
        return
    tmid = la.merged_midpoint_time(D, N, w0, lam=lam)
    t = np.linspace(0, 2.5 * tmid, 60)
    sol = solve_ivp(lambda _, u: 2 * u * (a - b * u), (0, t[-1]), [w0**2], t_eval=t, rtol=1e-11, atol=1e-14)
    sig, L = la.merged_time_course(t, D, N, w0, lam=lam)
    assert np.allclose(sig, sol.y[0] / np.sqrt(D), rtol=1e-6)
    s = sol.y[0] / np.sqrt(D)
    L_direct = D * lam - 2 * D * lam**2 * s + D * b * s**2  # tr Λ − 2tr(MΛ²) + tr(MΛMᵀΛΓ), M = σI
    assert np.allclose(L, L_direct, rtol=1e-6)
    # the midpoint: loss halfway between its start and its end
    _, Lm = la.merged_time_course(np.array([0.0, tmid, 1e6]), D, N, w0, lam=lam)
    start = D * lam
    assert Lm[1] == pytest.approx((start + Lm[2]) / 2, rel=1e-3)


@settings(max_examples=20, deadline=None)
@given(idx=st.integers(0, 3), N=st.integers(1, 100), logv=st.floats(-3, -0.7))
def test_separate_drop_time_against_solve_ivp(idx, N, logv):
    lamv = np.array([0.4, 0.3, 0.2, 0.1])
    lam, tr, v0 = lamv[idx], lamv.sum(), 10**logv
    c = 1 + (1 + tr / lam) / N
    vs = (lam * c) ** (-1 / 3)
    if v0 >= 0.6 * vs:
        return
    target = la.U_MID * vs
    ev = lambda _, v: v[0] - target
    ev.terminal = True
    sol = solve_ivp(lambda _, v: lam**2 * v**2 - lam**3 * c * v**5, (0, 1e9), [v0], events=ev, rtol=1e-12, atol=1e-15)
    assert la.separate_drop_time(lam, tr, N, v0) == pytest.approx(sol.t_events[0][0], rel=1e-6)


def test_head_strength_inverts_head_time():
    lam, tr, N, v0 = 0.3, 1.0, 31, 0.02
    t = np.array([0.0, 100.0, 300.0, 500.0, 5000.0])
    v = la.head_strength(t, v0, lam, tr, N)
    assert v[0] == pytest.approx(v0)
    # increasing towards v* (reached to machine precision at late times)
    assert np.all(np.diff(v[:-1]) > 0) and v[-1] == pytest.approx(la.head_fixed_point(lam, tr, N), rel=1e-12)
    assert np.allclose(la.head_time(v[1:-1], v0, lam, tr, N), t[1:-1], rtol=1e-8)


def test_implicit_F_derivative():
    u = np.linspace(0.05, 0.95, 19)
    h = 1e-6
    num = (la.implicit_F(u + h) - la.implicit_F(u - h)) / (2 * h)
    assert np.allclose(num, 1 / (u**2 * (1 - u**3)), rtol=1e-6)


def test_implicit_F_expr_is_in_xi_and_matches_numeric():
    # the chapter writes F(ξ) with ξ = v/v* (u is the book's mode strength)
    import sympy as sp

    F, xi = la.implicit_F_expr()
    assert xi.name == "xi" and xi.is_positive and F.free_symbols == {xi}
    assert sp.simplify(sp.diff(F, xi) - 1 / (xi**2 * (1 - xi**3))) == 0
    for x in (0.1, 0.5, la.U_MID, 0.9):
        assert float(F.subs(xi, x)) == pytest.approx(float(la.implicit_F(x)), rel=1e-14)
    # the ε-independent part of t_1/2 in units of τ/(λ²v*), quoted in Exercise ex-ch05-law
    assert float(la.implicit_F(la.U_MID)) + np.pi / (6 * np.sqrt(3)) == pytest.approx(-1.2534, abs=1e-4)


def test_lambda_law_and_u_mid():
    assert la.U_MID**3 == pytest.approx(1 - 1 / np.sqrt(2))
    for lam in (0.4, 0.1):
        t = la.separate_drop_time(lam, 1.0, 31, 1e-5)
        assert t * lam**2 * 1e-5 == pytest.approx(1, abs=1e-4)


def test_visible_plateaus():
    assert la.visible_plateaus(8, 1) == list(range(8))
    assert la.visible_plateaus(8, 2) == [0, 2, 4, 6]
    assert la.visible_plateaus(8, 4) == [0, 4]
    assert la.visible_plateaus(8, 8) == [0]


def test_escape_time():
    Lam = np.diag([0.4, 0.3, 0.2, 0.1])
    assert la.merged_escape_time(Lam, 1e-3) == pytest.approx(np.log(1e3) / np.sqrt(0.0354))


@pytest.mark.parametrize("call", [
    lambda: la.gamma(np.array([[1.0, 2.0], [0.0, 1.0]]), 3),  # not symmetric
    lambda: la.gamma(-np.eye(2), 3),  # not positive definite
    lambda: la.gamma(np.eye(2), 0),  # N < 1
    lambda: la.gamma(np.ones(3), 3),  # not a matrix
    lambda: la.fixed_point_losses([0.5, -0.1], 10),
    lambda: la.fixed_point_losses([], 10),
    lambda: la.fixed_point_loss([0.5, 0.1], 10, [2]),
    lambda: la.fixed_point(np.eye(2), 10, [-1]),
    lambda: la.population_loss(np.zeros((3, 3)), np.eye(2), 5),
    lambda: la.merged_time_course(1.0, 0, 31, 0.01),
    lambda: la.merged_time_course(1.0, 4, 31, -0.01),
    lambda: la.merged_midpoint_time(4, 31, 2.0),
    lambda: la.merged_escape_time(np.eye(2), 1.5),
    lambda: la.separate_drop_time(0.4, 1.0, 31, 5.0),
    lambda: la.separate_drop_time(0.4, 0.1, 31, 0.01),  # trace below the eigenvalue
    lambda: la.separate_drop_time(0.0, 1.0, 31, 0.01),
    lambda: la.implicit_F(1.0),
    lambda: la.head_strength(-1.0, 0.01, 0.4, 1.0, 31),
    lambda: la.head_time(0.01, 0.02, 0.4, 1.0, 31),
    lambda: la.visible_plateaus(8, 0),
])
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


def test_fixed_point_loss_indexes_the_sorted_spectrum():
    """fixed_point_loss(S) indexes eigenvalues in decreasing order whatever the input order, and equals
    the population loss at fixed_point(Λ, N, S) for every subset (a different computation: traces of
    Γ⁻¹-weighted projectors instead of the sum over S)."""
    from itertools import combinations

    lam = np.array([0.1, 0.4, 0.2, 0.3])  # unsorted on purpose
    rng = np.random.default_rng(3)
    O = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    Lam = (O * lam) @ O.T
    N = 9
    for m in range(5):
        for S in combinations(range(4), m):
            L_S = la.fixed_point_loss(lam, N, S)
            assert np.isclose(L_S, la.population_loss(la.fixed_point(Lam, N, S), Lam, N), rtol=1e-12)
    srt = np.sort(lam)[::-1]
    c = 1 + (1 + srt.sum() / srt) / N
    assert np.isclose(la.fixed_point_loss(lam, N, [0]), srt.sum() - srt[0] / c[0])  # S = {λ_max}
    assert np.isclose(la.fixed_point_loss(lam, N, [3]), srt.sum() - srt[3] / c[3])  # S = {λ_min}
    assert np.allclose([la.fixed_point_loss(lam, N, range(m)) for m in range(5)], la.fixed_point_losses(lam, N))


def test_head_ode_rhs_is_the_flow_of_an_aligned_head():
    """head_ode_rhs against the simulator: −½∂L/∂v of one head k = q = v e_d on population moments."""
    from theorylib.sim import attention as at

    lam = np.array([0.4, 0.3, 0.2, 0.1])
    Lam, O = at.covariance_with_spectrum(lam, seed=2)
    N = 31
    pm = at.population_moments(Lam, N)
    model = at.SeparateAttention(4, 1)
    for d in range(4):
        for v in (0.05, 0.4, 1.1):
            p = at.separate_aligned_init(np.roll(O, -d, axis=1), [v])  # head on e_d
            flow_v = -0.5 * model.grad(p, pm)["v"][0, 0]
            assert np.isclose(flow_v, la.head_ode_rhs(v, lam[d], lam.sum(), N), rtol=1e-10)


def test_head_strength_with_tau():
    """τ ≠ 1: the implicit solution at τ = 3 is the τ = 1 solution at t/3, and separate_drop_time scales with τ."""
    t = np.linspace(0, 900, 7)
    a = la.head_strength(t, 0.05, 0.3, 1.0, 31, tau=3.0)
    b = la.head_strength(t / 3.0, 0.05, 0.3, 1.0, 31)
    assert np.allclose(a, b, rtol=1e-12)
    assert np.isclose(la.separate_drop_time(0.3, 1.0, 31, 0.05, tau=3.0),
                      3.0 * la.separate_drop_time(0.3, 1.0, 31, 0.05), rtol=1e-12)


def test_unbalanced_drop_time_balanced_equals_separate_drop_time():
    for lam in (0.4, 0.1):
        for v0 in (1e-3, 0.05):
            t_unb = la.unbalanced_drop_time(lam, 1.0, 31, v0, v0, tau=2.5)
            assert t_unb == pytest.approx(la.separate_drop_time(lam, 1.0, 31, v0, tau=2.5), rel=1e-9)


def test_unbalanced_drop_time_against_ode_integration():
    # independent: integrate (v, κ) with solve_ivp until vκ² reaches the midpoint
    lam, tr, N = 0.3, 1.0, 31
    c = float(la.c_factor(lam, tr, N))
    target = (1 - 1 / np.sqrt(2)) / (lam * c)
    for v0, k0 in ((0.02, 0.08), (0.08, 0.02)):
        def f(t, y):
            v, k = y
            g = lam**2 - lam**3 * c * v * k**2
            return [k**2 * g, v * k * g]
        ev = lambda t, y: y[0] * y[1] ** 2 - target
        ev.terminal = True
        sol = solve_ivp(f, (0, 1e6), [v0, k0], events=ev, rtol=1e-11, atol=1e-14)
        assert la.unbalanced_drop_time(lam, tr, N, v0, k0) == pytest.approx(sol.t_events[0][0], rel=1e-7)


def test_unbalanced_rhs_expr_reduces_to_head_equation():
    import sympy as sp

    v, d = sp.symbols("v delta", positive=True)
    expr = la.unbalanced_rhs_expr(v, d, sp.Rational(3, 10), 1, 31)
    assert float(expr.subs({v: 0.7, d: 0})) == pytest.approx(float(la.head_ode_rhs(0.7, 0.3, 1.0, 31)), rel=1e-14)


@pytest.mark.parametrize("args", [
    (0.3, 1.0, 31, 0.0, 0.05), (0.3, 1.0, 31, 0.05, -1.0), (-0.3, 1.0, 31, 0.05, 0.05),
    (0.3, 0.1, 31, 0.05, 0.05), (0.3, 1.0, 31, 2.0, 2.0), (0.3, 1.0, 31, np.nan, 0.05),
])
def test_unbalanced_drop_time_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        la.unbalanced_drop_time(*args)
