"""Tests of theorylib.theory.fusion (Chapter 4) against independent computations.

References used here never call the function under test: least squares and loss gradients
for the fixed points, ``solve_ivp`` of the two-variable flows for the logistic, the late-fusion
ratio and the aligned manifold, and a separate ODE/quadrature route for the deep-fusion ratio.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from theorylib.checks.ch04_fusion_depth import deep_ratio_independent
from theorylib.theory import fusion as fu


def random_stats(seed, d_a, d_b):
    rng = np.random.default_rng(seed)
    D = d_a + d_b
    A = rng.standard_normal((D, D))
    return A @ A.T / D + 0.3 * np.eye(D), rng.standard_normal(D)


def test_toy_statistics_known_values():
    S, s = fu.toy_statistics(2.0, 0.5)
    assert np.allclose(S, [[4.0, 1.0], [1.0, 1.0]])
    assert np.allclose(s, [5.0, 2.0])


@pytest.mark.parametrize("r, rho", [(0.0, 0.1), (-1.0, 0.0), (2.0, 1.0), (2.0, -1.2), (np.nan, 0.0)])
def test_toy_statistics_rejects_bad_input(r, rho):
    with pytest.raises(ValueError):
        fu.toy_statistics(r, rho)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), d_a=st.integers(1, 4), d_b=st.integers(1, 4))
def test_unimodal_solution_is_stationary_and_cB_is_the_B_gradient(seed, d_a, d_b):
    S, s = random_stats(seed, d_a, d_b)
    wa = fu.unimodal_solution(S, s, d_a)
    W = np.concatenate([wa, np.zeros(d_b)])
    g = s - W @ S  # −∂L/∂W at (W_A^uni, 0)
    assert np.abs(g[:d_a]).max() < 1e-10
    assert np.allclose(g[d_a:], fu.residual_drive(S, s, d_a), atol=1e-10)
    w_full = np.linalg.lstsq(S, s, rcond=None)[0]
    assert np.allclose(fu.misattribution(S, s, d_a), wa - w_full[:d_a], atol=1e-10)


def test_fixed_point_losses_match_direct_evaluation():
    S, s = random_stats(3, 2, 2)
    eyy = 10.0
    loss = lambda W: 0.5 * eyy - W @ s + 0.5 * W @ S @ W
    out = fu.fixed_point_losses(S, s, 2, eyy)
    wa = fu.unimodal_solution(S, s, 2)
    wb = np.linalg.solve(S[2:, 2:], s[2:])
    assert np.isclose(out["MA"], loss(np.r_[wa, 0, 0]))
    assert np.isclose(out["MB"], loss(np.r_[0, 0, wb]))
    assert np.isclose(out["Mstar"], loss(np.linalg.solve(S, s)))
    assert np.isclose(out["M0"], 5.0)
    with pytest.raises(ValueError):
        fu.fixed_point_losses(S, s, 2, 0.0)


@settings(max_examples=60, deadline=None)
@given(r=st.floats(1.0, 3.0), rho=st.floats(-0.95, 0.95))
def test_late_ratio_toy_form_every_sign_of_rho(r, rho):
    S, s = fu.toy_statistics(r, rho)
    assert abs(fu.late_fusion_time_ratio(S, s, 1) - (1 + (r * r - 1) / (1 - rho * rho))) < 1e-9 * fu.toy_time_ratio(r, rho)


def test_late_ratio_boxed_form_for_multidimensional_B():
    S = np.eye(3)
    S[0, 1] = S[1, 0] = 0.2
    s = np.array([3.0, 1.0, 1.0])
    c = fu.residual_drive(S, s, 1)
    assert np.allclose(c, [0.4, 1.0]) and s[1:] @ c > 0
    boxed = 1 + (3.0 - np.linalg.norm(s[1:])) / np.linalg.norm(c)
    assert np.isclose(fu.late_fusion_time_ratio(S, s, 1), boxed)
    # a one-dimensional B has Σ_yxB·ĉ_B = ±|Σ_yxB|: signed = boxed exactly when the signs agree
    S1, s1 = fu.toy_statistics(2.0, 0.5)
    assert np.isclose(fu.late_fusion_time_ratio(S1, s1, 1), 1 + (s1[0] - s1[1]) / fu.residual_drive(S1, s1, 1)[0])
    S2, s2 = fu.toy_statistics(3.0, -0.6)  # Σ_yxB = −0.8 < 0 < c_B = 0.64: signed 13.5, boxed 11
    assert np.isclose(fu.late_fusion_time_ratio(S2, s2, 1), 13.5)


def test_late_ratio_errors():
    S, s = fu.toy_statistics(0.5, 0.0)  # B has the larger drive
    with pytest.raises(ValueError, match="not learned first"):
        fu.late_fusion_time_ratio(S, s, 1)
    S = np.diag([4.0, 1.0])
    with pytest.raises(ValueError, match="c_B = 0"):
        fu.late_fusion_time_ratio(S, np.array([4.0, 0.0]), 1)
    with pytest.raises(ValueError, match="positive definite"):
        fu.late_fusion_time_ratio(np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([3.0, 1.0]), 1)
    # multi-dimensional B whose early drive opposes c_B
    S = np.eye(3)
    S[0, 1] = S[1, 0] = 0.9
    s = np.array([3.0, 0.5, 0.2])
    assert fu.residual_drive(S, s, 1) @ s[1:] < 0
    with pytest.raises(ValueError, match="neither"):
        fu.late_fusion_time_ratio(S, s, 1)
    with pytest.raises(ValueError):
        fu.unimodal_solution(np.eye(2), np.ones(2), 2)  # B would be empty
    with pytest.raises(ValueError):
        fu.unimodal_solution(np.eye(2), np.ones(3), 1)


@settings(max_examples=25, deadline=None)
@given(w_star=st.floats(0.2, 3), w0=st.floats(1e-6, 1e-2), drive=st.floats(0.2, 5))
def test_logistic_solves_its_ode(w_star, w0, drive):
    s2 = drive / w_star
    t = np.linspace(0, 3 / drive * np.log(w_star / w0 + 2), 50)
    sol = solve_ivp(lambda _t, W: 2 * W * (drive - s2 * W), (0, t[-1]), [w0], t_eval=t, rtol=1e-11, atol=1e-14)
    assert np.allclose(sol.y[0], fu.logistic_weight(t, w_star, w0, drive), rtol=1e-6, atol=1e-9)
    th = fu.logistic_half_time(w_star, w0, drive)
    assert np.isclose(fu.logistic_weight(th, w_star, w0, drive), w_star / 2)


def test_late_ratio_against_the_flow_at_rho_zero():
    """At ρ = 0 the half-time ratio of the exact flow is exactly r² for any W(0)."""
    r = 2.0
    S, s = fu.toy_statistics(r, 0.0)
    t = np.linspace(0, 30, 30001)
    W = fu.aligned_flow(t, 2, 2, S, s, 1e-5)
    ta = t[np.argmax(W[:, 0] >= 0.5)]
    tb = t[np.argmax(W[:, 1] >= 0.5)]
    assert abs(tb / ta - fu.late_fusion_time_ratio(S, s, 1)) < 2e-3 * 4
    # and aligned_flow equals the logistic
    assert np.allclose(W[:, 0], fu.logistic_weight(t, 1.0, 1e-10, s[0]), atol=1e-7)


def test_aligned_flow_matches_an_independent_chain_integration():
    S, s = fu.toy_statistics(2.0, 0.3)
    L, Lf, u0 = 4, 3, 0.2
    t = np.linspace(0, 15, 31)

    def rhs(_t, y):  # all L_f + L_f + (L − L_f) factors separately
        a, b, v = y[:Lf], y[Lf:2 * Lf], y[2 * Lf:]
        WA, WB = np.prod(a) * np.prod(v), np.prod(b) * np.prod(v)
        g = s - S @ np.array([WA, WB])
        return np.concatenate([g[0] * WA / a, g[1] * WB / b, (g[0] * WA + g[1] * WB) / v])

    y0 = np.r_[np.full(2 * Lf, u0), np.full(L - Lf, np.sqrt(2) * u0)]
    sol = solve_ivp(rhs, (0, t[-1]), y0, t_eval=t, rtol=1e-11, atol=1e-14)
    a, b, v = sol.y[:Lf], sol.y[Lf:2 * Lf], sol.y[2 * Lf:]
    ref = np.c_[np.prod(a, 0) * np.prod(v, 0), np.prod(b, 0) * np.prod(v, 0)]
    assert np.allclose(fu.aligned_flow(t, L, Lf, S, s, u0), ref, atol=1e-7)


@pytest.mark.parametrize("L", [3, 4, 5])
@pytest.mark.parametrize("r, rho, u0", [(2.0, 0.0, 0.1), (1.5, -0.8, 0.05), (3.0, 0.6, 0.2)])
def test_deep_ratio_against_independent_route(L, r, rho, u0):
    S, s = fu.toy_statistics(r, rho)
    for Lf in range(1, L + 1):
        a = fu.fusion_time_ratio(L, Lf, S, s, 1, u0)
        b = deep_ratio_independent(L, Lf, S, s, u0)
        assert abs(a - b) / b < 2e-3


def test_deep_ratio_special_cases_and_monotonicity():
    S, s = fu.toy_statistics(2.0, 0.3)
    assert fu.fusion_time_ratio(4, 1, S, s, 1, 0.1) == 1.0
    # L_f = L = 2 is two-layer late fusion: the ratio is u0-independent and equals the toy form
    for u0 in (1e-1, 1e-4):
        assert np.isclose(fu.fusion_time_ratio(2, 2, S, s, 1, u0), fu.toy_time_ratio(2.0, 0.3))
    ratios = [fu.fusion_time_ratio(4, lf, S, s, 1, 0.1) for lf in (1, 2, 3, 4)]
    assert np.all(np.diff(ratios) > 0)
    # late fusion tends to the two-layer ratio as u0 → 0; intermediate fusion tends to 1
    assert abs(fu.fusion_time_ratio(4, 4, S, s, 1, 1e-4) - fu.toy_time_ratio(2.0, 0.3)) < 1e-6
    assert fu.fusion_time_ratio(4, 2, S, s, 1, 1e-4) < 1.01


@pytest.mark.parametrize("args", [
    (1, 1, 0.1), (4, 0, 0.1), (4, 5, 0.1), (4, 2, 0.0), (4, 2, 1.0), (4, 2.5, 0.1),
])
def test_deep_ratio_errors(args):
    L, Lf, u0 = args
    S, s = fu.toy_statistics(2.0, 0.0)
    with pytest.raises(ValueError):
        fu.fusion_time_ratio(L, Lf, S, s, 1, u0)


def test_deep_ratio_needs_scalar_modalities_and_A_first():
    with pytest.raises(ValueError, match="scalar"):
        fu.fusion_time_ratio(4, 2, np.eye(3), np.ones(3), 1, 0.1)
    S, s = fu.toy_statistics(0.5, 0.0)
    with pytest.raises(ValueError, match="not learned first"):
        fu.fusion_time_ratio(4, 2, S, s, 1, 0.1)


def test_preference_lines():
    assert fu.preference_lines(2.0, 1.0) == (0.25, 0.5)
    with pytest.raises(ValueError):
        fu.preference_lines(0.0, 1.0)


@settings(max_examples=20, deadline=None)
@given(tau=st.floats(0.2, 5.0), L=st.integers(2, 5), rho=st.floats(-0.6, 0.6))
def test_fusion_times_scale_linearly_with_tau_and_the_ratio_does_not(tau, L, rho):
    S, s = fu.toy_statistics(2.0, rho)
    for lf in range(1, L + 1):
        t1 = np.array(fu.fusion_times(L, lf, S, s, 1, 0.1))
        t2 = np.array(fu.fusion_times(L, lf, S, s, 1, 0.1, tau=tau))
        assert np.allclose(t2, tau * t1, rtol=1e-10)


def test_logistic_with_tau_against_solve_ivp():
    # τẆ = 2W(Σ_yx − σ²W) integrated numerically at τ = 3, non-whitened (σ² = 4)
    tau, drive, var, w0 = 3.0, 4.0, 4.0, 1e-4
    t = np.linspace(0.0, 10.0, 21)
    sol = solve_ivp(lambda _t, w: 2 * w * (drive - var * w) / tau, (0, 10), [w0], t_eval=t,
                    rtol=1e-11, atol=1e-14)
    assert np.allclose(fu.logistic_weight(t, drive / var, w0, drive, tau=tau), sol.y[0], atol=1e-8)
    th = fu.logistic_half_time(drive / var, w0, drive, tau=tau)
    assert np.isclose(fu.logistic_weight(th, drive / var, w0, drive, tau=tau), drive / var / 2)
