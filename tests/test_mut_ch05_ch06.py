"""Chapters 5 and 6 (theory.linear_attention, sim.attention, theory.optimal_constant, sim.biased):
values against independent references (Gauss-Hermite quadrature of the token moments, the
simulator's Isserlis moments, sympy differentiation, solve_ivp, hand-computed small cases),
boundary cases of every domain check, τ ≠ 1, and the full text of the error messages (the
library promises messages that name the argument and the condition it breaks).

Written against the mutants that survived tools/mutate.sh (issue 14); the equivalent ones are
listed in tools/mutation/ch05_ch06.md.
"""
import itertools
import re
import warnings

import numpy as np
import pytest
import sympy as sp
from numpy.polynomial.hermite_e import hermegauss
from scipy.integrate import solve_ivp

from _asserts import raises
from theorylib.sim import attention as at
from theorylib.sim import biased as sb
from theorylib.theory import linear_attention as la
from theorylib.theory import optimal_constant as oc


def raises_start(msg):
    """Messages that go on with the offending value: fix their fixed beginning."""
    return pytest.raises(ValueError, match="^" + re.escape(msg))


def gauss_hermite_Lhat2(Lam, N, n=3):
    """E[Λ̂²] for Λ̂ = (1/N) Σ x_n x_nᵀ, x_n ~ N(0, Λ): tensor Gauss-Hermite quadrature over the
    N·D standard normals (n = 3 nodes is exact for the degree-4 integrand)."""
    D = Lam.shape[0]
    z, w = hermegauss(n)
    w = w / np.sqrt(2 * np.pi)
    C = np.linalg.cholesky(Lam)
    acc = np.zeros((D, D))
    for idx in itertools.product(range(n), repeat=N * D):
        X = z[list(idx)].reshape(N, D) @ C.T
        Lh = X.T @ X / N
        acc += np.prod(w[list(idx)]) * Lh @ Lh
    return acc


LAM2 = np.array([[1.0, 0.3], [0.3, 0.5]])


# ============================================================== theory.linear_attention
# -------------------------------------------------------------- Γ, c and the population loss

@pytest.mark.parametrize("N", [1, 2, 3])
def test_gamma_is_the_fourth_moment_of_the_tokens(N):
    ref = np.linalg.solve(LAM2, gauss_hermite_Lhat2(LAM2, N))  # E[Λ̂²] = ΛΓ
    np.testing.assert_allclose(la.gamma(LAM2, N), ref, atol=1e-13)
    G = la.gamma_expr(sp.Matrix([[1, sp.Rational(3, 10)], [sp.Rational(3, 10), sp.Rational(1, 2)]]),
                      sp.Integer(N))
    np.testing.assert_allclose(np.array(G, dtype=float), ref, atol=1e-13)


def test_gamma_expr_is_symbolic_in_N():
    N = sp.symbols("N", positive=True)
    G = la.gamma_expr(sp.diag(2, 1), N)
    # Γ = (1 + 1/N)Λ + (trΛ/N) I, written out for Λ = diag(2, 1)
    assert sp.simplify(G - sp.diag(2 + 5 / N, 1 + 4 / N)) == sp.zeros(2, 2)


def test_c_factor_values_and_domain():
    assert la.c_factor(0.5, 2.0, 4) == pytest.approx(1 + 5 / 4, rel=1e-15)
    lam = np.array([0.4, 0.3, 0.2, 0.1])
    Gd = np.diag(la.gamma(np.diag(lam), 7))
    np.testing.assert_allclose(la.c_factor(lam, lam.sum(), 7), Gd / lam, rtol=1e-14)  # Γe = λce
    assert la.c_factor(1.0, 1.0, 1) == pytest.approx(3.0)  # D = 1: tr Λ = λ is allowed, N = 1 too
    assert la.c_factor(2.0, 2.0 * (1 - 1e-13), 3) == pytest.approx(1 + 2 / 3)  # round-off slack
    with raises("trace must be at least the eigenvalue"):
        la.c_factor(2.0, 1.9, 3)
    with raises("trace must be at least the eigenvalue"):
        la.c_factor(2.0, 2.0 * (1 - 1e-11), 3)
    with raises("eigenvalue must be positive and finite"):
        la.c_factor(0.0, 1.0, 3)
    with raises("trace must be positive and finite"):
        la.c_factor(1.0, np.inf, 3)
    with raises("shapes do not broadcast together: eigenvalue (2,), trace (3,), N ()"):
        la.c_factor([1.0, 2.0], [3.0, 4.0, 5.0], 10)


@pytest.mark.parametrize("N", [np.nan, np.inf, 0.5, 0.0, -3.0])
def test_context_length_domain(N):
    with raises("the context length N must be ≥ 1"):
        la.gamma(LAM2, N)
    with raises("the context length N must be ≥ 1"):
        la.fixed_point_losses([1.0, 0.5], N)


def test_covariance_checks():
    with raises("Lambda must be a square matrix; got shape (2, 3)"):
        la.gamma(np.ones((2, 3)), 3)
    with raises("Lambda must be a square matrix; got shape (3,)"):
        la.gamma(np.ones(3), 3)
    with raises("Lambda has non-finite entries"):
        la.gamma(np.array([[1.0, np.nan], [np.nan, 1.0]]), 3)
    with raises("Lambda must be symmetric"):
        la.gamma(np.array([[1.0, 1e-3], [0.0, 1.0]]), 3)
    # symmetry is checked to 1e-12 relative to the largest entry
    with raises("Lambda must be symmetric"):
        la.gamma(np.array([[1.0, 1.5e-12], [0.0, 1.0]]), 3)
    la.gamma(np.array([[10.0, 5e-12], [0.0, 10.0]]), 3)
    with raises("Lambda must be positive definite"):
        la.gamma(np.diag([1.0, 0.0]), 3)  # semi-definite is not enough


def test_population_loss_against_the_simulator_moments():
    """L(M) = E y_q² − 2⟨M, C⟩ + vec(M)ᵀ S vec(M) with S, C from sim's Isserlis 4-tensor."""
    rng = np.random.default_rng(5)
    Lam, _ = at.covariance_with_spectrum([1.2, 0.5, 0.2], seed=3)
    N = 4
    pm = at.population_moments(Lam, N)
    M = rng.standard_normal((2, 3, 3, 3))  # two leading axes
    ref = np.array([[pm.yy - 2 * np.sum(m * pm.C) + m.ravel() @ pm.S @ m.ravel() for m in row] for row in M])
    got = la.population_loss(M, Lam, N)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    with raises_start("M must end in shape (3, 3); got (3,)"):
        la.population_loss(np.ones(3), Lam, N)
    with raises("M must be finite (no NaN or inf)"):
        la.population_loss(np.full((3, 3), np.nan), Lam, N)


def test_population_loss_expr_is_stationary_at_the_global_minimum():
    Lam = sp.Matrix([[2, sp.Rational(1, 2)], [sp.Rational(1, 2), 1]])
    N = sp.Integer(3)
    m = sp.symbols("m0:4")
    M = sp.Matrix(2, 2, m)
    L = la.population_loss_expr(M, Lam, N)
    Ms = la.global_minimum(np.array(Lam, dtype=float), 3)
    at_min = {s: float(v) for s, v in zip(m, Ms.ravel())}
    for s in m:
        assert abs(float(sp.diff(L, s).subs(at_min))) < 1e-12
    # and it is the numeric loss at any M
    M0 = np.array([[0.3, -0.2], [0.7, 0.1]])
    val = float(L.subs(dict(zip(m, M0.ravel()))))
    assert val == pytest.approx(float(la.population_loss(M0, np.array(Lam, dtype=float), 3)), rel=1e-13)
    assert float(L.subs(at_min)) == pytest.approx(la.minimum_loss(np.array(Lam, dtype=float), 3), rel=1e-12)


def test_minimum_loss_white_case():
    # Λ = I_D: Γ = (1 + (1 + D)/N) I, L* = D (1 − 1/c)
    D, N = 3, 5
    c = 1 + (1 + D) / N
    assert la.minimum_loss(np.eye(D), N) == pytest.approx(D * (1 - 1 / c), rel=1e-14)


# -------------------------------------------------------------- subsets and spectra

def test_subset_handling():
    lam = [0.1, 0.4, 0.3]  # unsorted on purpose
    N = 5
    c = lambda x: 1 + (1 + 0.8 / x) / N
    tr = 0.8
    assert la.fixed_point_loss(lam, N, []) == pytest.approx(tr)
    assert la.fixed_point_loss(lam, N, [0]) == pytest.approx(tr - 0.4 / c(0.4))  # the largest
    assert la.fixed_point_loss(lam, N, [2]) == pytest.approx(tr - 0.1 / c(0.1))  # the smallest
    assert la.fixed_point_loss(lam, N, [2, 0, 2]) == pytest.approx(tr - 0.4 / c(0.4) - 0.1 / c(0.1))
    with raises("subset indices must lie in 0 … 2"):
        la.fixed_point_loss(lam, N, [3])
    with raises("subset indices must lie in 0 … 2"):
        la.fixed_point_loss(lam, N, [-1, 1])
    with raises("subset must be a flat iterable of indices"):
        la.fixed_point_loss(lam, N, [[0, 1]])
    with raises_start("subset must hold whole numbers"):
        la.fixed_point_loss(lam, N, [0.5])
    with raises("eigenvalues must be a non-empty 1-D array"):
        la.fixed_point_losses(np.ones((2, 2)), N)
    with raises("eigenvalues must be a non-empty 1-D array"):
        la.fixed_point_losses([], N)
    with raises("eigenvalues must be positive and finite"):
        la.fixed_point_losses([0.5, 0.0], N)


def test_fixed_point_is_the_projector_sum():
    Lam, O = at.covariance_with_spectrum([0.9, 0.5, 0.2], seed=1)
    N = 6
    c = 1 + (1 + 1.6 / np.array([0.9, 0.5, 0.2])) / N
    M = la.fixed_point(Lam, N, [0, 2])
    ref = np.outer(O[:, 0], O[:, 0]) / (0.9 * c[0]) + np.outer(O[:, 2], O[:, 2]) / (0.2 * c[2])
    np.testing.assert_allclose(M, ref, atol=1e-13)
    np.testing.assert_allclose(la.fixed_point(Lam, N, range(3)), la.global_minimum(Lam, N), atol=1e-12)


def test_visible_plateaus_domain():
    assert la.visible_plateaus(1, 1) == [0]
    assert la.visible_plateaus(5, 2) == [0, 2, 4]
    assert la.visible_plateaus(3.0, 5) == [0]
    for D, R in [(2.5, 1), (3, 1.5), (np.nan, 1), (4, np.inf), (0, 1), (3, 0), (-2, 1)]:
        with raises("D and R must be positive integers"):
            la.visible_plateaus(D, R)


# -------------------------------------------------------------- merged model

def test_merged_sigma_expr_solves_the_balanced_flow():
    """τσ̇ = 2λ²√D σ(1 − λsσ) from σ(0) = w0²/√D: the flow of M = σI from a balanced start
    (its drive ‖Λ²‖_F = λ²√D and its curvature λ³s computed from Γ for Λ = λI)."""
    sig, (t, D, N, w0, lam, tau) = la.merged_sigma_expr()
    assert [s.name for s in (t, D, N, w0, lam, tau)] == ["t", "D", "N", "w_0", "lambda", "tau"]
    s = 1 + (1 + D) / N
    assert sp.simplify(tau * sp.diff(sig, t) - 2 * lam**2 * sp.sqrt(D) * sig * (1 - lam * s * sig)) == 0
    assert sp.simplify(sig.subs(t, 0) - w0**2 / sp.sqrt(D)) == 0
    vals = {D: 3, N: 7, w0: sp.Rational(1, 10), lam: sp.Rational(7, 10), tau: 2}
    for tt in (0.5, 4.0):
        num, _ = la.merged_time_course(tt, 3, 7, 0.1, lam=0.7, tau=2.0)
        assert float(sig.subs(vals).subs(t, tt)) == pytest.approx(float(num), rel=1e-13)


def test_merged_time_course_with_tau_against_solve_ivp():
    D, N, w0, lam, tau = 2, 5, 0.05, 0.8, 2.5
    s = 1 + (1 + D) / N
    t = np.linspace(0, 40, 9)
    sol = solve_ivp(lambda _t, x: 2 * lam**2 * np.sqrt(D) * x * (1 - lam * s * x) / tau, (0, 40),
                    [w0**2 / np.sqrt(D)], t_eval=t, rtol=1e-12, atol=1e-15)
    sig, L = la.merged_time_course(t, D, N, w0, lam=lam, tau=tau)
    np.testing.assert_allclose(sig, sol.y[0], rtol=1e-8)
    # the loss of M = σI straight from the population loss
    Ms = sig[:, None, None] * np.eye(D)
    np.testing.assert_allclose(L, la.population_loss(Ms, lam * np.eye(D), N), rtol=1e-12)
    # deep negative times underflow σ to 0 silently (no overflow warning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sig_neg, _ = la.merged_time_course(-50.0, 1, 5, 0.5)
    assert 0 < sig_neg < 1e-20


def test_merged_midpoint_time_with_tau_and_boundary():
    D, N, w0, lam, tau = 2, 5, 0.05, 0.8, 2.5
    tm = la.merged_midpoint_time(D, N, w0, lam=lam, tau=tau)
    s = 1 + (1 + D) / N
    sig, _ = la.merged_time_course(tm, D, N, w0, lam=lam, tau=tau)
    assert lam * s * sig == pytest.approx(1 - 1 / np.sqrt(2), rel=1e-12)
    assert la.merged_midpoint_time(D, N, w0, lam=lam, tau=1.0) == pytest.approx(tm / tau, rel=1e-13)
    assert la.merged_midpoint_time(1, N, w0) > 0  # D = 1 is allowed
    # D = 1, N = 2: s = 2; w0² λ s = μ exactly: a start at the midpoint is rejected
    mu = 1 - 1 / np.sqrt(2)
    msg = "w_init is too large: the loss starts past the midpoint of its drop"
    with raises(msg):
        la.merged_midpoint_time(1, 2, 0.5, lam=2 * mu)
    with raises(msg):
        la.merged_midpoint_time(1, 2, 0.6, lam=2 * mu)
    with raises("the midpoint time is not representable as a finite float: λ, w_init or τ too extreme"):
        la.merged_midpoint_time(1, 2, 1e-3, lam=1e-3, tau=1e308)


@pytest.mark.parametrize("args, msg", [
    ((0, 5, 0.1), "D must be a positive integer; got 0"),
    ((2.5, 5, 0.1), "D must be a positive integer; got 2.5"),
    ((2, 0.5, 0.1), "the context length N must be ≥ 1"),
    ((2, 5, -0.1), "w_init must be positive and finite"),
    ((2, 5, 0.1, 0.0), "lam must be positive and finite"),
    ((2, 5, 0.1, 1.0, np.inf), "tau must be positive and finite"),
])
def test_merged_argument_messages(args, msg):
    with raises(msg):
        la.merged_time_course(1.0, *args)
    with raises(msg):
        la.merged_midpoint_time(*args)


def test_merged_escape_time_tau_and_domain():
    Lam = np.diag([0.4, 0.3, 0.2, 0.1])
    ref = np.log(1e3) / np.sqrt(0.4**4 + 0.3**4 + 0.2**4 + 0.1**4)
    assert la.merged_escape_time(Lam, 1e-3, tau=2.0) == pytest.approx(2.0 * ref, rel=1e-13)
    msg = "the escape-time estimate needs a small initialisation, w_init < 1"
    with raises(msg):
        la.merged_escape_time(Lam, 1.0)
    with raises("w_init must be positive and finite"):
        la.merged_escape_time(Lam, 0.0)
    with raises("tau must be positive and finite"):
        la.merged_escape_time(Lam, 0.5, tau=-1.0)


# -------------------------------------------------------------- one separate head

def test_head_fixed_point_is_the_zero_of_the_flow():
    lam, tr, N = 0.3, 1.0, 31
    c = 1 + (1 + tr / lam) / N
    vs = la.head_fixed_point(lam, tr, N)
    assert vs == pytest.approx((lam * c) ** (-1 / 3), rel=1e-14)
    assert la.head_ode_rhs(0.5 * vs, lam, tr, N) > 0 > la.head_ode_rhs(1.5 * vs, lam, tr, N)
    # hand values: λ = 1, tr = 1, N = 2 gives c = 2 and τv̇ = v² − 2v⁵
    assert la.head_ode_rhs(0.5, 1.0, 1.0, 2) == pytest.approx(0.25 - 2 / 32, rel=1e-15)
    assert la.head_fixed_point(1.0, 1.0, 2) == pytest.approx(0.5 ** (1 / 3), rel=1e-15)
    with raises("eigenvalue must be positive and finite"):
        la.head_ode_rhs(0.5, -1.0, 1.0, 2)
    with raises("v must be finite (no NaN or inf)"):
        la.head_ode_rhs(np.inf, 1.0, 1.0, 2)


def test_implicit_F_domain():
    msg = "F(u) is defined for 0 < u < 1 (u = v/v* below the fixed point)"
    for u in (0.0, 1.0, -0.2, 1.5, np.nan, [0.5, 1.0]):
        with raises(msg):
            la.implicit_F(u)
    F, xi = la.implicit_F_expr()
    assert float(F.subs(xi, sp.Rational(1, 3))) == pytest.approx(float(la.implicit_F(1 / 3)), rel=1e-14)


def test_head_time_edges_and_tau():
    lam, tr, N = 0.3, 1.0, 31
    vs = float(la.head_fixed_point(lam, tr, N))
    assert la.head_time(0.2 * vs, 0.2 * vs, lam, tr, N) == 0.0  # v = v0 takes no time
    t1 = la.head_time(0.6 * vs, 0.1 * vs, lam, tr, N)
    assert la.head_time(0.6 * vs, 0.1 * vs, lam, tr, N, tau=3.0) == pytest.approx(3 * t1, rel=1e-13)
    # against the flow itself
    ev = lambda _t, v: v[0] - 0.6 * vs
    ev.terminal = True
    sol = solve_ivp(lambda _t, v: la.head_ode_rhs(v, lam, tr, N), (0, 1e6), [0.1 * vs], events=ev,
                    rtol=1e-12, atol=1e-15)
    assert t1 == pytest.approx(sol.t_events[0][0], rel=1e-8)
    msg = "need v0 ≤ v < v* = (λc)^(-1/3)"
    with raises(msg):
        la.head_time(vs, 0.1 * vs, lam, tr, N)
    with raises(msg):
        la.head_time(0.1 * vs, 0.2 * vs, lam, tr, N)
    with raises("v must be positive and finite"):
        la.head_time(-0.1, 0.01, lam, tr, N)
    with raises("v0 must be positive and finite"):
        la.head_time(0.1, 0.0, lam, tr, N)
    with raises("tau must be positive and finite"):
        la.head_time(0.1, 0.01, lam, tr, N, tau=0.0)
    with raises("the head time is not representable as a finite float: the eigenvalue, v0 or τ too extreme"):
        la.head_time(0.5 * vs, 1e-300, lam, tr, N, tau=1e300)


def test_head_strength_against_solve_ivp():
    lam, tr, N, v0, tau = 0.4, 1.0, 9, 0.05, 1.7
    t = np.array([0.0, 20.0, 60.0, 90.0, 150.0])
    sol = solve_ivp(lambda _t, v: la.head_ode_rhs(v, lam, tr, N) / tau, (0, 150), [v0], t_eval=t,
                    rtol=1e-12, atol=1e-15)
    got = la.head_strength(t, v0, lam, tr, N, tau=tau)
    np.testing.assert_allclose(got, sol.y[0], rtol=1e-8)
    assert la.head_strength(3, v0, lam, tr, N).shape == ()
    two_d = la.head_strength(t.reshape(1, 5), v0, lam, tr, N, tau=tau)
    assert two_d.shape == (1, 5)
    np.testing.assert_allclose(two_d[0], got, rtol=1e-14)


def test_head_strength_domain():
    lam, tr, N = 0.4, 1.0, 9
    vs = float(la.head_fixed_point(lam, tr, N))
    for t in (-1.0, np.nan, [0.0, np.inf]):
        with raises("times must be finite and non-negative"):
            la.head_strength(t, 0.05, lam, tr, N)
    with raises("need v0 < v* = (λc)^(-1/3)"):
        la.head_strength(1.0, vs, lam, tr, N)
    with raises("v0 must be positive and finite"):
        la.head_strength(1.0, -0.05, lam, tr, N)
    with raises("tau must be positive and finite"):
        la.head_strength(1.0, 0.05, lam, tr, N, tau=np.nan)
    with raises("eigenvalue must be positive and finite"):
        la.head_strength(1.0, 0.05, 0.0, tr, N)


def test_separate_drop_time_boundary():
    lam, tr, N = 0.3, 1.0, 31
    vs = la.head_fixed_point(lam, tr, N)
    msg = "v0 must be below the midpoint strength U_MID·v*"
    with raises(msg):
        la.separate_drop_time(lam, tr, N, la.U_MID * vs)  # exactly at the midpoint
    with raises("v0 must be positive and finite"):
        la.separate_drop_time(lam, tr, N, 0.0)
    assert la.separate_drop_time(lam, tr, N, 0.99 * la.U_MID * vs) > 0


# -------------------------------------------------------------- the unbalanced head

def test_unbalanced_rhs_expr_is_the_flow_of_the_simulator():
    """−½∂L/∂v of one head k = q = κe_d, value v, on the simulator's population moments."""
    lam = np.array([0.5, 0.3, 0.2])
    Lam, O = at.covariance_with_spectrum(lam, seed=4)
    N = 6
    pm = at.population_moments(Lam, N)
    model = at.SeparateAttention(3, 1)
    v_, d_ = sp.symbols("v delta")
    for d in range(3):
        expr = la.unbalanced_rhs_expr(v_, d_, sp.Float(lam[d], 30), sp.Float(lam.sum(), 30), N)
        for v, kap in ((0.3, 0.7), (0.9, 0.2)):
            p = {"v": np.array([[v]]), "k": kap * O[:, d].reshape(1, 1, 1, 3)}
            p["q"] = p["k"].copy()
            flow = -0.5 * model.grad(p, pm)["v"][0, 0]
            assert float(expr.subs({v_: v, d_: v * v - kap * kap})) == pytest.approx(flow, rel=1e-10)


def test_unbalanced_drop_time_tau_and_boundary():
    lam, tr, N = 0.3, 1.0, 31
    t1 = la.unbalanced_drop_time(lam, tr, N, 0.03, 0.09)
    assert la.unbalanced_drop_time(lam, tr, N, 0.03, 0.09, tau=4.0) == pytest.approx(4 * t1, rel=1e-12)
    c = float(la.c_factor(lam, tr, N))
    target = (1 - 1 / np.sqrt(2)) / (lam * c)
    msg = "the head starts at or past the midpoint of its drop: need v0·κ0² < (1 − 1/√2)/(λc)"
    with raises(msg):
        la.unbalanced_drop_time(lam, tr, N, target, 1.0)  # v0 κ0² equals the midpoint value
    with raises(msg):
        la.unbalanced_drop_time(lam, tr, N, 2.0, 2.0)
    with raises("lam must be positive and finite"):
        la.unbalanced_drop_time(-lam, tr, N, 0.03, 0.09)
    with raises("v0 must be positive and finite"):
        la.unbalanced_drop_time(lam, tr, N, np.nan, 0.09)
    with raises("kappa0 must be positive and finite"):
        la.unbalanced_drop_time(lam, tr, N, 0.03, 0.0)
    with raises("tau must be positive and finite"):
        la.unbalanced_drop_time(lam, tr, N, 0.03, 0.09, tau=-2.0)
    with raises("trace must be at least the eigenvalue"):
        la.unbalanced_drop_time(lam, 0.1, N, 0.03, 0.09)


def test_unbalanced_drop_time_far_from_the_midpoint():
    """A tiny start needs many doublings of the bracket; a large κ0, v0 ≪ κ0, a negative δ."""
    lam, tr, N = 0.3, 1.0, 31
    c = float(la.c_factor(lam, tr, N))
    target = (1 - 1 / np.sqrt(2)) / (lam * c)
    for v0, k0 in ((1e-4, 1e-4), (1e-3, 0.5), (0.5, 1e-3)):
        def f(_t, y):
            v, k = y
            g = lam**2 - lam**3 * c * v * k**2
            return [k**2 * g, v * k * g]
        ev = lambda _t, y: y[0] * y[1] ** 2 - target
        ev.terminal = True
        sol = solve_ivp(f, (0, 1e9), [v0, k0], events=ev, method="DOP853", rtol=1e-12, atol=1e-16)
        assert la.unbalanced_drop_time(lam, tr, N, v0, k0) == pytest.approx(sol.t_events[0][0], rel=1e-7)


def test_unbalanced_drop_time_without_a_representable_midpoint():
    # a subnormal λ: the midpoint value (1 − 1/√2)/(λc) overflows to inf, and the time (~1/λ²)
    # with it; the midpoint is found in logs, so the error names the time
    with raises("the drop time is not representable as a finite float: λ, v0, κ0 or τ too extreme"):
        la.unbalanced_drop_time(5e-324, 5e-324, 1, 0.5, 0.5)


def test_unbalanced_drop_time_too_long_for_a_float():
    # λ² underflows to 0 in the integrand: a ValueError naming the cause, not a ZeroDivisionError
    msg = "the drop time is not representable as a finite float: λ, v0, κ0 or τ too extreme"
    with raises(msg):
        la.unbalanced_drop_time(1e-300, 1e-300, 1e300, 0.5, 0.5)
    with raises(msg):
        la.unbalanced_drop_time(0.3, 1.0, 31, 0.03, 0.09, tau=1e308)


# ============================================================== theory.optimal_constant

# the 8-item tree labels, built independently of sim.biased.tree_labels
from test_optimal_constant_theory import tree  # noqa: E402


@pytest.mark.parametrize("Y, msg", [
    (np.ones(3), "Y must be 2-dimensional; got shape (3,)"),
    (np.ones((0, 2)), "Y must have at least one item (row) and one output (column); got (0, 2)"),
    (np.ones((2, 0)), "Y must have at least one item (row) and one output (column); got (2, 0)"),
    (np.array([[np.inf, 1.0]]), "Y has non-finite entries"),
    ([["a", "b"]], "Y must be a numeric array"),
])
def test_label_messages(Y, msg):
    for f in (oc.ocs, oc.ocs_loss, oc.ocs_mode_strength, lambda y: oc.decoupled_outputs(0.0, y, 0.0, 1e-3)):
        with raises(msg):
            f(Y)


def test_ocs_of_a_single_item_and_output():
    assert oc.ocs([[2.5]]) == pytest.approx([2.5])
    assert oc.ocs_loss([[2.5]]) == 0.0
    assert oc.ocs_loss([[1.0], [3.0]]) == pytest.approx(0.5)  # ½ · mean of (±1)²


def test_cross_entropy_ocs_with_an_absent_class():
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.25, 0.75, 0.0]])
    np.testing.assert_allclose(oc.ocs_cross_entropy(Y), [0.3125, 0.6875, 0.0])
    H = -(0.3125 * np.log(0.3125) + 0.6875 * np.log(0.6875))
    assert oc.ocs_cross_entropy_loss(Y) == pytest.approx(H, rel=1e-14)
    msg = "Y must hold probability vectors (non-negative rows summing to 1)"
    with raises(msg):
        oc.ocs_cross_entropy([[1.5, -0.5]])
    with raises(msg):
        oc.ocs_cross_entropy([[0.5, 0.5 + 1e-11]])
    oc.ocs_cross_entropy([[0.5, 0.5 + 1e-13]])  # round-off is tolerated


def test_bias_trajectory_expr_solves_its_ode():
    b, (t, ybar, b0, tau) = oc.bias_trajectory_expr()
    assert [s.name for s in (t, ybar, b0, tau)] == ["t", "ybar", "b_0", "tau"]
    assert t.is_positive and tau.is_positive and ybar.is_real and b0.is_real
    assert sp.simplify(tau * sp.diff(b, t) - (ybar - b)) == 0
    assert sp.simplify(b.subs(t, 0) - b0) == 0
    f = sp.lambdify((t, ybar, b0, tau), b)
    assert f(0.8, 1.5, -0.5, 2.0) == pytest.approx(float(oc.bias_trajectory(0.8, 1.5, -0.5, 2.0)), rel=1e-14)


def test_bias_trajectory_tau_and_shapes():
    t = np.array([0.0, 1.0, 3.0])
    ybar = np.array([[1.0, -1.0], [0.5, 2.0]])  # 2-D ybar: the output keeps its shape
    out = oc.bias_trajectory(t, ybar, 0.0, tau=2.0)
    assert out.shape == (3, 2, 2)
    np.testing.assert_allclose(out[2], ybar * (1 - np.exp(-1.5)), rtol=1e-14)
    with raises("tau must be a scalar"):
        oc.bias_trajectory(t, 1.0, 0.0, tau=[1.0, 2.0])
    with raises("t must be non-negative"):
        oc.bias_trajectory([-1e-9], 1.0, 0.0)
    with raises("t has non-finite entries"):
        oc.bias_trajectory([np.nan], 1.0, 0.0)
    with raises("ybar has non-finite entries"):
        oc.bias_trajectory([1.0], np.nan, 0.0)
    with raises("b0 has non-finite entries"):
        oc.bias_trajectory([1.0], 1.0, np.inf)
    with raises("tau must be positive and finite"):
        oc.bias_trajectory([1.0], 1.0, 0.0, tau=0.0)
    with raises("b0 of shape (3,) does not broadcast to ybar of shape (2,)"):
        oc.bias_trajectory([1.0], [1.0, 2.0], [0.0, 1.0, 2.0])


def test_ocs_first_u0_bound_values_and_message():
    # s = 1: s/(1 + 4) ; s = 0.5: 0.5/(1 + 2)
    np.testing.assert_allclose(oc.ocs_first_u0_bound([1.0, 0.5]), [0.2, 0.5 / 3], rtol=1e-15)
    with raises("s must be positive and finite"):
        oc.ocs_first_u0_bound(0.0)


def _residual_args():
    rng = np.random.default_rng(0)
    return dict(r=rng.standard_normal(2), W1=rng.standard_normal((4, 3)), W2=rng.standard_normal((2, 4)),
                b1=rng.standard_normal(4), sigma_yx=rng.standard_normal((2, 3)), sigma_xx=np.eye(3))


@pytest.mark.parametrize("name, ndim", [("r", 1), ("W1", 2), ("W2", 2), ("b1", 1), ("sigma_yx", 2),
                                        ("sigma_xx", 2)])
def test_residual_rate_names_every_argument(name, ndim):
    args = _residual_args()
    bad = dict(args, **{name: np.ones((1,) * (ndim + 1))})
    with raises_start(f"{name} must be {ndim}-dimensional; got shape"):
        oc.residual_rate(**bad)
    nan = dict(args, **{name: np.full_like(args[name], np.nan)})
    with raises(f"{name} has non-finite entries"):
        oc.residual_rate(**nan)


@pytest.mark.parametrize("name, shape, expected", [
    ("W2", (2, 5), "(2, 4)"), ("b1", (5,), "(4,)"), ("r", (3,), "(2,)"), ("sigma_yx", (2, 2), "(2, 3)"),
    ("sigma_xx", (3, 2), "(3, 3)"),
])
def test_residual_rate_shape_messages(name, shape, expected):
    args = dict(_residual_args(), **{name: np.zeros(shape)})
    with raises(f"{name} has shape {shape}; expected {expected}"):
        oc.residual_rate(**args)


def test_residual_rate_hand_case():
    # one unit everywhere: τṙ = −(1 + b1²) r − w2² r − (s_yx − w2 w1 s_xx) w1 b1
    r, w1, w2, b1, syx, sxx = 0.5, 2.0, 3.0, 0.25, 1.0, 2.0
    ref = -(1 + b1**2) * r - w2**2 * r - (syx - w2 * w1 * sxx) * w1 * b1
    got = oc.residual_rate([r], [[w1]], [[w2]], [b1], [[syx]], [[sxx]])
    np.testing.assert_allclose(got, [ref], rtol=1e-15)


def test_hidden_bias_mode_strength_tolerance_and_messages():
    # ‖Σ_yxᵀȳ‖ ≤ rtol · max(‖Σ_yx‖, 1) · ‖ȳ‖, here with Σ_yx = (a, 0)ᵀ and ȳ = (ε, 10)
    for a, eps_ok, eps_bad in ((2.0, 0.009, 0.011), (0.5, 0.019, 0.021)):
        for eps, ok in ((eps_ok, True), (eps_bad, False)):
            Syx, ybar = np.array([[a], [0.0]]), np.array([eps, 10.0])
            if ok:
                assert oc.hidden_bias_mode_strength(Syx, ybar, rtol=1e-3) == pytest.approx(np.hypot(eps, 10))
            else:
                with raises("ybar is not orthogonal to the columns of sigma_yx: the OCS is not a separate mode"):
                    oc.hidden_bias_mode_strength(Syx, ybar, rtol=1e-3)
    # exact orthogonality passes even with rtol = 0; a unit ȳ is not "zero"
    assert oc.hidden_bias_mode_strength([[0.0], [1.0]], [1.0, 0.0], rtol=0.0) == 1.0
    with raises("ybar is zero: there is no OCS mode"):
        oc.hidden_bias_mode_strength([[0.0], [1.0]], [0.0, 0.0])
    with raises("sigma_yx has 2 rows but ybar has 3 entries"):
        oc.hidden_bias_mode_strength(np.ones((2, 1)), np.ones(3))
    with raises_start("sigma_yx must be 2-dimensional"):
        oc.hidden_bias_mode_strength(np.ones(2), np.ones(2))
    with raises_start("ybar must be 1-dimensional"):
        oc.hidden_bias_mode_strength(np.ones((2, 1)), np.ones((2, 1)))
    with raises("sigma_yx has non-finite entries"):
        oc.hidden_bias_mode_strength(np.full((2, 1), np.nan), np.ones(2))
    with raises("ybar has non-finite entries"):
        oc.hidden_bias_mode_strength(np.ones((2, 1)), [np.nan, 1.0])


def test_ocs_mode_tolerance_and_messages():
    # Y = [[a+ε, b], [a−ε, −b]]: ȳ = (a, 0), the overlaps y·ȳ differ from ‖ȳ‖² by ±aε
    a = b = 0.1
    Y = lambda eps: np.array([[a + eps, b], [a - eps, -b]])
    assert oc.ocs_mode_strength(Y(0.5e-9)) == pytest.approx(np.sqrt(2) * a)  # aε = 0.5e-10: accepted
    msg = ("ybar is not a singular direction of Y with a constant item profile: "
           "items differ in their overlap y·ȳ (an unbalanced hierarchy)")
    with raises(msg):
        oc.ocs_mode_strength(Y(1.5e-9))  # aε = 1.5e-10 > 1e-10
    # large labels: the tolerance grows with max|Y|·‖ȳ‖, so round-off does not count
    big = 1e3 * tree()[np.random.default_rng(1).permutation(8)]
    assert oc.ocs_mode_strength(big) == pytest.approx(1e3 * np.sqrt(15), rel=1e-12)
    with raises("Y has zero mean: there is no OCS mode"):
        oc.ocs_mode_strength([[1.0], [-1.0]])


def test_ocs_learned_first_near_tie():
    # Y = [[a, b], [a, −b]]: κ_OCS = √2 a, κ_1(Y_c) = √2 b
    for a, b in ((10.0, 10.0 * (1 - 5e-10)), (0.1, 0.1 * (1 - 5e-10))):
        with raises_start("tie: the OCS mode and the top centred mode share κ"):
            oc.ocs_learned_first([[a, b], [a, -b]])
    assert oc.ocs_learned_first([[10.0, 10.0 * (1 - 5e-9)], [10.0, -10.0 * (1 - 5e-9)]]) is True
    assert oc.ocs_learned_first([[1.0, 3.0], [1.0, -3.0]]) is False


def test_mean_output_trajectory_hand_values():
    # ‖ȳ‖ = 2, ‖x̄‖ = 0.5, u0 = 1: o(0) = ‖x̄‖u0 = 0.5, and o → ‖ȳ‖
    o = oc.mean_output_trajectory([0.0, 1e4], 2.0, 0.5, 1.0, tau=3.0)
    np.testing.assert_allclose(o, [0.5, 2.0], rtol=1e-13)
    # the logistic in t/τ: o(τ·x) does not depend on τ
    assert oc.mean_output_trajectory(6.0, 2.0, 0.5, 1.0, tau=3.0) == pytest.approx(
        float(oc.mean_output_trajectory(2.0, 2.0, 0.5, 1.0)), rel=1e-14)
    with raises("tau must be positive and finite"):
        oc.mean_output_trajectory(1.0, 2.0, 0.5, 1.0, tau=-1.0)


def test_rates_messages_and_leading_axes():
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    with raises("theta has non-finite entries"):
        oc.rates(Y, Y, np.nan)
    with raises("Y_hat has non-finite entries"):
        oc.rates(np.full((2, 2), np.nan), Y)
    with raises("Y_hat ends in shape (2, 3); Y has shape (2, 2)"):
        oc.rates(np.zeros((2, 3)), Y)
    with raises("Y must be binary (0 or 1)"):
        oc.rates(Y, [[0.5, 0.0], [0.0, 1.0]])
    with raises("Y needs at least one positive and one negative entry"):
        oc.rates(np.zeros((1, 2)), np.zeros((1, 2)))
    Yh = np.stack([np.stack([Y, 1 - Y]), np.stack([np.full((2, 2), 0.6), np.full((2, 2), 0.4)])])
    tnr, tpr = oc.rates(Yh, Y, theta=0.5)
    assert tnr.shape == (2, 2)
    np.testing.assert_array_equal(tnr, [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(tpr, [[1.0, 0.0], [1.0, 0.0]])
    # ocs_rates: ȳ = (0.5, 0.5) is a negative at θ = ½ and a positive below
    assert oc.ocs_rates(Y) == (1.0, 0.0)
    assert oc.ocs_rates(Y, theta=0.4) == (0.0, 1.0)


def test_decoupled_outputs_against_the_mode_flows():
    """Every centred mode follows τu̇ = 2u(s − u) (solve_ivp), the bias τḃ = ȳ − b; the modes
    carry no item mean, and rank-deficient centred labels (tree items) add no spurious mode."""
    Y = 2.0 * tree()
    P = 8
    ybar = Y.mean(0)
    p, kap, qt = np.linalg.svd(Y - ybar, full_matrices=False)
    keep = kap > 1e-8
    p, kap, qt = p[:, keep], kap[keep], qt[keep]
    s = kap / np.sqrt(P)
    t = np.array([0.0, 0.5, 2.0, 6.0])
    tau, u0 = 1.5, 1e-2
    sol = solve_ivp(lambda _t, u: 2 * u * (s - u) / tau, (0, 6), np.full(s.size, u0), t_eval=t,
                    rtol=1e-12, atol=1e-15)
    b = ybar * (1 - np.exp(-t / tau))[:, None] + 0.3 * np.exp(-t / tau)[:, None]
    ref = b[:, None, :] + np.einsum("at,pa,aj->tpj", sol.y * np.sqrt(P), p, qt)
    got = oc.decoupled_outputs(t, Y, 0.3, u0, tau=tau)
    np.testing.assert_allclose(got, ref, atol=1e-9)
    np.testing.assert_allclose(got.mean(axis=1), b, atol=1e-12)
    direct = 0.5 * np.mean(np.sum((Y - got) ** 2, axis=2), axis=1)
    np.testing.assert_allclose(oc.output_bias_loss(t, Y, 0.3, u0, tau=tau), direct, atol=1e-9)
    for f in (oc.decoupled_outputs, oc.output_bias_loss):
        with raises("t has non-finite entries"):
            f([np.nan], Y, 0.0, u0)


def test_centred_mode_threshold():
    """A centred mode counts unless κ ≤ 1e-10 · max(κ_max, 1): one at κ = 1.5e-10 with κ_max = √2 is
    a mode (its strength starts at u0 and shows in the loss), constant labels have none."""
    k2 = 1.5e-10
    e = k2 / np.sqrt(2)
    Y = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, e], [0.0, -e]])
    s = np.array([np.sqrt(2), k2]) / 2  # κ/√P
    u0 = 1e-3
    assert oc.output_bias_loss([0.0], Y, 0.0, u0)[0] == pytest.approx(0.5 * np.sum((s - u0) ** 2), rel=1e-12)
    const = np.tile([0.5, -1.0], (3, 1))
    out = oc.decoupled_outputs([0.0, 2.0], const, 0.0, u0)
    np.testing.assert_allclose(out[1], np.tile([0.5, -1.0] * np.array(1 - np.exp(-2.0)), (3, 1)), rtol=1e-14)
