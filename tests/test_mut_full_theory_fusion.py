"""Tests that kill survivors of theorylib/theory/fusion.py from the full mutation run (mutmut 3.8.1).

Each test checks a documented property against an independent computation: a closed form of the
proposition's integral (``t_A`` has one whenever ``u_B = u_A`` or ``L_f = L``), a hand-computed
small case (``Σ = I``, the toy statistics), ``solve_ivp`` of the documented ODE, the same numbers
given in double precision (single-precision input must not lower the accuracy), a tolerance
boundary stated in the code's contract, a whole anchored error message, or the absence of a
spurious floating-point ``RuntimeWarning``. Only numpy, scipy, pytest, the standard library and
theorylib are imported; nothing needs numba.
"""
import math
import re
import warnings

import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

from _asserts import raises
from theorylib.theory import fusion as fu

SQRT2 = math.sqrt(2.0)
DEEP_SCALAR = "the deep-fusion formulas are derived for scalar modalities (d_a = d_b = 1)"
NEVER = "c_B = 0: B is uncorrelated with the residual of the unimodal phase and is never learned"
MULTI = ("multi-dimensional modality B with \u03a3_yxB\u00b7c_B \u2264 0: neither the boxed nor the signed "
         "formula holds at practical u0 (B's hidden direction must rotate from \u03a3_yxB to c_B; the boxed "
         "form is only the u0 \u2192 0 limit, approached like 1/ln(1/u0); see Chapter 4)")
POLE = ("t is before the pole: from w0 > w_star the solution exists only for t > "
        "(\u03c4/2\u03a3_yx) ln(1 \u2212 w_star/w0)")


def t_a_equal_branches(L, Lf, sa, u0, tau=1.0):
    """``t_A = τ∫_{u0}^1 du/(Σ_yxA u^{L_f−1}(2u²)^{(L−L_f)/2})`` when ``u_B = u_A`` (tied drives, k = 1)."""
    return tau * 2.0 ** (-(L - Lf) / 2) * (u0 ** (2 - L) - 1.0) / ((L - 2) * sa)


# --------------------------------------------------------------------------- statistics (_stats)
def test_statistics_error_messages_are_whole():
    with raises("sigma must be symmetric"):
        fu.unimodal_solution([[1.0, 0.1], [0.0, 1.0]], [1.0, 0.5], 1)


def test_smallest_eigenvalue_exactly_at_the_tolerance_is_not_positive_definite():
    # Σ must have λ_min > 1e-12·max(1, max|Σ|); diag(1, 1e-12) sits exactly on the bound
    assert np.linalg.eigvalsh(np.diag([1.0, 1e-12])).min() == 1e-12
    with raises("sigma must be positive definite"):
        fu.unimodal_solution(np.diag([1.0, 1e-12]), [1.0, 0.5], 1)
    np.testing.assert_allclose(fu.unimodal_solution(np.diag([1.0, 2e-12]), [1.0, 0.5], 1), [1.0])


def test_single_precision_sigma_is_checked_in_double_precision():
    # Σ = diag(8.5, d) in float32, d the float32 nearest 8.5e-12 (it lies above 8.5e-12): λ_min = d
    # exceeds the bound 1e-12·8.5 in double precision, so Σ is positive definite and W_A^uni = 2/8.5
    d = np.float32(8.5e-12)
    assert float(d) > 8.5e-12
    S = np.diag([np.float32(8.5), d]).astype(np.float32)
    np.testing.assert_allclose(fu.unimodal_solution(S, [2.0, 1.0], 1), [2.0 / 8.5], rtol=1e-15)


def test_sigma_yx_as_a_row_is_accepted():
    # Σ_yx = E[y xᵀ] is naturally a (1, D) row; it is flattened. Σ = I: W_A^uni = Σ_yxA, c_B = Σ_yxB
    np.testing.assert_allclose(fu.unimodal_solution(np.eye(2), [[3.0, 1.0]], 1), [3.0])
    np.testing.assert_allclose(fu.residual_drive(np.eye(2), [[3.0, 1.0]], 1), [1.0])
    assert fu.late_fusion_time_ratio(np.eye(2), [[3.0, 1.0]], 1) == pytest.approx(3.0, rel=1e-15)


def test_single_precision_sigma_yx_gives_the_double_precision_ratios():
    # Σ = I, Σ_yx = (1, 1 | 1) given in float32 (all exact): ‖Σ_yxA‖ = √2, c_B = 1, ratio √2
    s32 = np.array([1.0, 1.0, 1.0], dtype=np.float32)
    assert fu.late_fusion_time_ratio(np.eye(3), s32, 2) == pytest.approx(SQRT2, rel=1e-15)
    # deep late fusion, L_f = L = 3: 1 + (1 − k)Σ_yxA/(c_B(1 − u0)) with k = 1/3, Σ_yxA = 3, c_B = 1
    s32 = np.array([3.0, 1.0], dtype=np.float32)
    want = 1.0 + (2.0 / 3.0) * 3.0 / (1.0 - 0.1)
    assert fu.fusion_time_ratio(3, 3, np.eye(2), s32, 1, 0.1) == pytest.approx(want, rel=1e-13)


# --------------------------------------------------------------------------- fixed_point_losses
def test_fixed_point_losses_accept_e_yy_exactly_at_the_rounding_tolerance():
    # Σ = diag(2, 1), Σ_yx = (2, 1): Σ_yx Σ⁻¹ Σ_yxᵀ = 3; E[y²] may fall short of it by a relative 1e-12
    S, s = np.diag([2.0, 1.0]), np.array([2.0, 1.0])
    e_yy = 3.0 * (1 - 1e-12)
    out = fu.fixed_point_losses(S, s, 1, e_yy)
    assert out["Mstar"] == pytest.approx(0.5 * (e_yy - 3.0), rel=1e-9, abs=0)
    assert out["MA"] == pytest.approx(0.5 * (e_yy - 2.0), rel=1e-15)
    with raises("E[y\u00b2] must be at least \u03a3_yx \u03a3\u207b\u00b9 \u03a3_yx\u1d40 "
                "(the variance the best linear predictor explains)"):
        fu.fixed_point_losses(S, s, 1, 2.9)


# --------------------------------------------------------------------------- late_fusion_time_ratio
def test_late_fusion_c_b_zero_tolerance_is_relative_to_sigma_yx_a():
    # c_B counts as 0 when ‖c_B‖ ≤ 1e-12·max(1, ‖Σ_yxA‖); Σ = I so c_B = Σ_yxB
    with raises(NEVER):
        fu.late_fusion_time_ratio(np.eye(2), [1.0, 1e-12], 1)  # exactly on the bound
    with raises(NEVER):
        fu.late_fusion_time_ratio(np.eye(2), [10.0, 5e-12], 1)  # 5e-12 ≤ 1e-12·10
    # just above the bound B is learned: ratio Σ_yxA/Σ_yxB for independent modalities
    assert fu.late_fusion_time_ratio(np.eye(2), [10.0, 2e-11], 1) == pytest.approx(10.0 / 2e-11, rel=1e-12)


def test_multidimensional_b_orthogonal_to_its_drive_raises():
    # Σ_AB = (0.5, 0), Σ_yx = (4 | 1, 1): W_A^uni = 4, c_B = (1 − 2, 1) = (−1, 1), Σ_yxB·c_B = 0 exactly
    S = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    s = np.array([4.0, 1.0, 1.0])
    np.testing.assert_array_equal(fu.residual_drive(S, s, 1), [-1.0, 1.0])
    with raises(MULTI):
        fu.late_fusion_time_ratio(S, s, 1)


def test_multidimensional_b_with_a_small_positive_projection_uses_the_boxed_form():
    # Σ = I: c_B = Σ_yxB = (0.3, 0.4), Σ_yxB·ĉ_B = 0.5; independent modalities: t_B/t_A = 1/0.5
    assert fu.late_fusion_time_ratio(np.eye(3), [1.0, 0.3, 0.4], 1) == pytest.approx(2.0, rel=1e-14)


# --------------------------------------------------------------------------- toy_time_ratio
def test_toy_time_ratio_messages():
    with raises("need r \u2265 1 so that A is learned first"):
        fu.toy_time_ratio(0.5, 0.0)
    with raises("need |rho| < 1"):
        fu.toy_time_ratio(2.0, 1.0)


def test_toy_time_ratio_single_precision_arguments_are_used_in_double():
    # r and ρ are the float32 numbers given; 1 + (r² − 1)/(1 − ρ²) is evaluated in double precision
    r, rho = np.float32(1.001), np.float32(0.999)
    rd, rhod = float(r), float(rho)
    want = 1.0 + (rd * rd - 1.0) / (1.0 - rhod * rhod)
    assert float(fu.toy_time_ratio(r, rho)) == pytest.approx(want, rel=1e-12)
    assert float(fu.toy_time_ratio(r, 0.5)) == pytest.approx(1.0 + (rd * rd - 1.0) / 0.75, rel=1e-12)
    assert float(fu.toy_time_ratio(2.0, rho)) == pytest.approx(1.0 + 3.0 / (1.0 - rhod * rhod), rel=1e-12)


# --------------------------------------------------------------------------- logistic_weight
def test_logistic_weight_starts_exactly_at_w0_far_above_w_star():
    # W(0) = w0: from w0 = 1e10 w* the formula must not lose the initial condition to cancellation
    assert float(fu.logistic_weight(0.0, 1.0, 1e10, 1.0)) == pytest.approx(1e10, rel=1e-14)
    assert float(fu.logistic_weight(0.0, 2.0, 3e9, 0.5)) == pytest.approx(3e9, rel=1e-14)


def test_logistic_weight_single_precision_arguments_are_used_in_double():
    # w* = 1, w0 = 3 (both exact in float32), drive 0.5: W(t) = 1/(1 + (1/3 − 1)e^{−t}) in double
    t = np.array([0.5, 1.0, 2.0])
    want = 1.0 / (1.0 + (1.0 / 3.0 - 1.0) * np.exp(-t))
    got = fu.logistic_weight(t, np.float32(1.0), np.float32(3.0), np.float32(0.5), np.float32(1.0))
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_logistic_weight_returns_float_values_at_the_fixed_point():
    # w0 = w* is a fixed point: W(t) = w*, a float array like every other value of the function
    out = np.asarray(fu.logistic_weight([0.0, 1.0, 5.0], 0.7, 0.7, 2.0))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.7, 0.7, 0.7])
    out = np.asarray(fu.logistic_weight([1.0, 2.0], [0.7, 0.8], [0.7, 0.8], 2.0))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.7, 0.8])
    out = np.asarray(fu.logistic_weight(0.5, [0.7, 0.8], 0.7, 2.0))  # one member at its fixed point
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [0.7, 0.8 / (1.0 + (0.8 / 0.7 - 1.0) * math.exp(-2.0))], rtol=1e-15)


@pytest.mark.parametrize("kw, desc", [
    (dict(w0=np.ones(3)), "t (2,), w_star (), w0 (3,), drive (), tau ()"),
    (dict(drive=np.ones(3)), "t (2,), w_star (), w0 (), drive (3,), tau ()"),
    (dict(tau=np.ones(3)), "t (2,), w_star (), w0 (), drive (), tau (3,)"),
], ids=["w0", "drive", "tau"])
def test_logistic_weight_broadcast_error_lists_every_argument(kw, desc):
    args = dict(t=np.array([0.0, 1.0]), w_star=1.0, w0=0.1, drive=1.0, tau=1.0)
    args.update(kw)
    with raises("shapes do not broadcast together: " + desc):
        fu.logistic_weight(**args)


def test_logistic_weight_pole_message():
    # w0 = 2w*, Σ_yx = 1.5, τ = 2: the pole is at t* = (τ/2Σ_yx) ln(1 − w*/w0) = (2/3) ln ½
    t_star = 2.0 / 3.0 * math.log(0.5)
    with raises(POLE):
        fu.logistic_weight(1.5 * t_star, 1.0, 2.0, 1.5, 2.0)


def test_logistic_weight_at_minus_infinite_time():
    # x = 2Σ_yx t/τ overflows to −∞: from w0 = w* the weight stays at w* (no pole); from
    # w0 < w* it tends to 0 as t → −∞ (there is no pole either: the pole needs w0 > w*)
    with np.errstate(over="ignore"):
        assert float(fu.logistic_weight(-1e10, 1.0, 1.0, 1.0, 1e-300)) == 1.0
        assert float(fu.logistic_weight(-1e10, 1.5, 1.0, 1.0, 1e-300)) == 0.0


def test_logistic_weight_raises_no_floating_point_warnings():
    # ordinary growth from below (t ≥ 0) and a long way back in time (e^{−x} overflows): the
    # documented values, and no RuntimeWarning from the intermediate inf/nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = np.array([0.0, 1.0, 3.0])
        np.testing.assert_allclose(fu.logistic_weight(t, 1.0, 0.01, 1.0),
                                   1.0 / (1.0 + 99.0 * np.exp(-2.0 * t)), rtol=1e-14)
        np.testing.assert_array_equal(fu.logistic_weight([-1e4, 0.0], 0.7, 0.7, 2.0), [0.7, 0.7])
        np.testing.assert_array_equal(fu.logistic_weight([-1e4], 1.0, 0.01, 1.0), [0.0])
        np.testing.assert_array_equal(fu.logistic_weight([-1e4], 1.0, 0.9, 1.0), [0.0])


# --------------------------------------------------------------------------- logistic_half_time
def test_logistic_half_time_by_hand_and_by_the_ode():
    # W*/W(0) = 10: t½ = (τ/2Σ_yx) ln 9
    assert fu.logistic_half_time(1.0, 0.1, 1.0) == pytest.approx(0.5 * math.log(9.0), rel=1e-15)
    assert fu.logistic_half_time(2.0, 0.1, 0.5, tau=3.0) == pytest.approx(3.0 * math.log(19.0), rel=1e-15)
    # the ODE τẆ = 2W(Σ_yx − σ²W), σ² = Σ_yx/W*, crosses W*/2 at t½
    half = solve_ivp(lambda _t, w: 2 * w * (1.0 - w), (0, 10), [0.1], method="DOP853", rtol=1e-12,
                     atol=1e-14, events=lambda _t, w: w[0] - 0.5).t_events[0][0]
    assert fu.logistic_half_time(1.0, 0.1, 1.0) == pytest.approx(half, rel=1e-9)
    with raises("need positive arguments and 0 < w0 < w_star/2"):
        fu.logistic_half_time(1.0, 0.5, 1.0)


# --------------------------------------------------------------------------- deep fusion: validation
def test_deep_fusion_error_messages_are_whole():
    with raises(DEEP_SCALAR):
        fu.fusion_time_ratio(4, 2, np.eye(3), np.ones(3), 1, 0.1)
    with raises("c_B = 0: B is never learned"):
        fu.fusion_time_ratio(3, 2, np.eye(2), [1.0, 0.0], 1, 0.1)


def test_deep_fusion_c_b_zero_tolerance_is_relative_to_sigma_yx_a():
    with raises("c_B = 0: B is never learned"):
        fu.fusion_times(3, 2, np.eye(2), [1.0, 1e-12], 1, 0.1)  # |c_B| = 1e-12·max(1, |Σ_yxA|)
    with raises("c_B = 0: B is never learned"):
        fu.fusion_times(3, 2, np.eye(2), [10.0, 5e-12], 1, 0.1)  # 5e-12 ≤ 1e-12·10


def test_deep_fusion_tie_exactly_at_the_rounding_tolerance_is_accepted():
    # |Σ_yxA| = |Σ_yxB|(1 − 1e-12) exactly: a tie, not "B first". L_f = L = 3 (Notes of
    # fusion_time_ratio): 1 + (1 − k)Σ_yxA/(c_B(1 − u0)) with k = Σ_yxB/Σ_yxA, c_B = Σ_yxB = 1 (Σ = I)
    sa, u0 = 1.0 * (1 - 1e-12), 0.1
    want = 1.0 + (1.0 - 1.0 / sa) * sa / (1.0 * (1.0 - u0))
    assert fu.fusion_time_ratio(3, 3, np.eye(2), [sa, 1.0], 1, u0) == pytest.approx(want, abs=1e-15)
    assert fu.fusion_times(3, 3, np.eye(2), [sa, 1.0], 1, u0)[0] == pytest.approx((1 / u0 - 1) / sa, rel=1e-12)


# --------------------------------------------------------------------------- deep fusion: t_A
def test_t_a_of_a_very_deep_network_against_its_closed_form():
    # Σ = I, Σ_yx = (1, 1): k = 1, u_B = u_A, and t_A = 2^{−(L−L_f)/2}(u0^{2−L} − 1)/((L − 2)Σ_yxA)
    for L, Lf, u0 in ((80, 1, 0.5), (80, 2, 0.5), (40, 1, 0.1), (40, 2, 0.1), (6, 1, 0.05)):
        got = fu.fusion_times(L, Lf, np.eye(2), [1.0, 1.0], 1, u0)[0]
        assert got == pytest.approx(t_a_equal_branches(L, Lf, 1.0, u0), rel=1e-12), (L, Lf, u0)


def test_t_a_for_a_tie_within_the_tolerance_at_small_u0():
    # Σ_yxB = Σ_yxA(1 + 1e-12) is a tie; for L_f = L the integrand does not involve u_B:
    # t_A = ∫_{u0}^1 du/(Σ_yxA u^{L−1}) = (u0^{2−L} − 1)/((L − 2)Σ_yxA)
    u0 = math.exp(-35.0)
    got = fu.fusion_times(3, 3, np.eye(2), [1.0, 1.0 + 1e-12], 1, u0)[0]
    assert got == pytest.approx(1.0 / u0 - 1.0, rel=1e-12)


def test_t_a_for_a_tie_within_the_tolerance_to_first_order():
    # L = 2, L_f = 1, Σ = I, Σ_yx = (1, 1 + ε): k = 1 + ε, u_B = u0 + k(u − u0), and with u = u0 e^y
    # t_A = ∫_0^Y dy/√(1 + (1 + ε(1 − e^{−y}))²) = Y/√2 − ε(Y − 1 + e^{−Y})/(2√2) + O(ε²Y)
    sb = 1.0 + 1e-12
    eps = sb - 1.0
    for Y in (20.0, 300.0):
        u0 = math.exp(-Y)
        Yf = -math.log(u0)
        want = Yf / SQRT2 - eps * (Yf - 1.0 + math.exp(-Yf)) / (2 * SQRT2)
        got = fu.fusion_times(2, 1, np.eye(2), [1.0, sb], 1, u0)[0]
        assert got == pytest.approx(want, rel=4e-14), Y


# --------------------------------------------------------------------------- deep fusion: overflow
def test_unrepresentable_lag_is_named_and_quotes_t_a():
    # L = L_f = 2, ρ = 0.5, Σ_yx = (1, 0.5 + 1e-9): c_B = 1e-9, t_A = τ ln(1/u0), lag = τ(1 − k)ln(1/u0)/c_B
    # ≈ 5e8 t_A. With τ ln(1/u0) = 1e300 the lag overflows while t_A = 1e300 does not: the message
    # names t_B − t_A and quotes t_A ≈ e^{ln 1e300} = e^{690.8}
    S = np.array([[1.0, 0.5], [0.5, 1.0]])
    tau = 1e300 / math.log(10.0)
    pattern = ("^t_B \u2212 t_A is not representable as a finite float: t_A \u2248 e\\^(\\S+) for u0 = 0\\.1 "
               "\\(fusion_time_ratio still works at any u0\\)$")
    with pytest.raises(ValueError, match=pattern) as info:
        fu.fusion_times(2, 2, S, [1.0, 0.5 + 1e-9], 1, 0.1, tau=tau)
    quoted = float(re.match(pattern, str(info.value)).group(1))
    assert quoted == pytest.approx(300 * math.log(10.0), abs=0.05)


def test_unrepresentable_t_a_raises_no_floating_point_warning():
    # u0 = 1e-300, L = 4: t_A ∝ u0^{−2} is beyond the float range; the ValueError says so, and
    # no numpy overflow warning is emitted on the way
    S, s = fu.toy_statistics(2.0, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="^t_A is not representable as a finite float: "):
            fu.fusion_times(4, 4, S, s, 1, 1e-300)


# --------------------------------------------------------------------------- aligned_flow
def test_aligned_flow_error_messages_are_whole():
    S, s = fu.toy_statistics(2.0, 0.3)
    with raises("aligned_flow is for scalar modalities (D = 2)"):
        fu.aligned_flow([0.0, 1.0], 3, 3, np.eye(3), np.ones(3), 0.1)
    with raises("need 1 \u2264 fusion_layer \u2264 depth"):
        fu.aligned_flow([0.0, 1.0], 3, 4, S, s, 0.1)
    with raises("need 1 \u2264 fusion_layer \u2264 depth"):
        fu.aligned_flow([0.0, 1.0], 3, 0, S, s, 0.1)


def test_aligned_flow_reports_a_failed_integration_with_the_solver_message():
    # from u0 = 1e100 the first right-hand side is ~1e600: the solver gives up at once
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"^integration failed: \S") as info:
            fu.aligned_flow([0.0, 1.0], 3, 3, np.eye(2), [1.0, 1.0], 1e100)
    assert "None" not in str(info.value)


@pytest.mark.parametrize("L, Lf, u0, rtol", [(2, 2, 0.05, 1e-6), (3, 2, 0.1, 1e-5)])
def test_aligned_flow_is_the_documented_dop853_integration(L, Lf, u0, rtol):
    # The docstring fixes the integrator (solve_ivp, DOP853, the given rtol, atol = 1e-14). The
    # flow τu̇ = g u^{L_f−1} v^{L−L_f}, written here through W (u^{L_f−1}v^{L−L_f} = W/u) and
    # integrated that way, gives the same W(t) to ~1e-11 at this loose rtol, where another
    # integrator (RK45) is off by 1e-5 to 1e-4: the agreement checks the method, not only the ODE.
    S, s = fu.toy_statistics(2.0, 0.3)
    tau = 1.5
    t = np.linspace(0.0, 8.0, 9)

    def rhs(_t, u):
        v = math.hypot(u[0], u[1])
        W = u**Lf * v ** (L - Lf)
        return (s - S @ W) * W / (u * tau)

    sol = solve_ivp(rhs, (0.0, 8.0), [u0, u0], t_eval=t, method="DOP853", rtol=rtol, atol=1e-14)
    ref = (sol.y**Lf * np.hypot(sol.y[0], sol.y[1]) ** (L - Lf)).T
    np.testing.assert_allclose(fu.aligned_flow(t, L, Lf, S, s, u0, tau=tau, rtol=rtol), ref, rtol=1e-7, atol=0)


def test_early_fusion_branch_through_zero_at_a_quadrature_node_is_silent():
    # L_f = 1 with k < 0: u_B = u0 + k(u − u0) passes through 0, i.e. β = 1 + k(x − 1) = 0 at
    # e^{−y} = −k/(1 − k). Pick k so that this happens exactly (in floating point) at a node of the
    # quadrature on [0, ln(1/u0)]: ln|β| = −∞ there is a legitimate value (v = u_A), so t_A is the
    # quadrature in u of the proposition's integral, and no divide-by-zero warning is emitted.
    u0 = math.exp(-0.95)
    Y = -float(np.log(u0))
    nodes = []
    quad(lambda y: nodes.append(y) or 1.0, 0.0, Y, limit=200, epsabs=0.0, epsrel=1e-11)
    hit = None
    for y in sorted(set(nodes)):
        e = float(np.exp(-y))
        k = -e / (1.0 - e)
        if not (y > math.log(2.0) and k >= -1.0):
            continue
        for _ in range(80):
            if k + (1.0 - k) * float(np.exp(-y)) == 0.0:
                hit = k
                break
            k = float(np.nextafter(k, 0.0))
        if hit is not None:
            break
    assert hit is not None
    k = hit
    # Σ_yx = (1, k), Σ_AB = k − 0.5: c_B = k − Σ_AB = 0.5 > 0, so the orientation keeps k
    S = np.array([[1.0, k - 0.5], [k - 0.5, 4.0]])
    assert fu.residual_drive(S, [1.0, k], 1)[0] > 0
    ref = quad(lambda u: 1.0 / math.hypot(u, u0 + k * (u - u0)), u0, 1.0, epsabs=0.0, epsrel=1e-13, limit=200)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t_a, lag = fu.fusion_times(2, 1, S, [1.0, k], 1, u0)
    assert t_a == pytest.approx(ref, rel=1e-10)
    assert lag == 0.0


# --------------------------------------------------------------------------- regression (library fix)
@pytest.mark.parametrize("L, Lf, u0", [(4, 4, 1e-12), (3, 3, 1e-30), (5, 3, 1e-20), (5, 4, 1e-10)])
def test_tied_drives_at_small_u0_have_no_unimodal_phase(L, Lf, u0):
    # Σ = I, Σ_yx = (1, 1): k = 1, u_B = u_A, no unimodal phase (ratio 1, lag 0) and
    # t_A = 2^{−(L−L_f)/2}(u0^{2−L} − 1)/((L − 2)Σ_yxA). Before the fix, for L_f ≥ 3 and
    # e^{(2−L_f)ln(1/u0)} < 2⁻⁵⁴, ln β came out as log1p(−1)/(2 − L_f) = +∞ and both were nan.
    assert fu.fusion_time_ratio(L, Lf, np.eye(2), [1.0, 1.0], 1, u0) == 1.0
    t_a, lag = fu.fusion_times(L, Lf, np.eye(2), [1.0, 1.0], 1, u0)
    assert t_a == pytest.approx(t_a_equal_branches(L, Lf, 1.0, u0), rel=1e-12)
    assert lag == 0.0
    assert fu.fusion_time_ratio(6, 3, np.eye(2), [1.0, 1.0], 1, 5e-324) == 1.0
