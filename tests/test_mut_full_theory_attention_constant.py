"""Tests that kill survivors of theorylib/theory/linear_attention.py and
theorylib/theory/optimal_constant.py from the full mutation run (mutmut 3.8.1).

Every expectation is an independent computation (exact rational arithmetic by hand, the
(v, kappa) ODE integrated by ``solve_ivp``, the scaling law of the unbalanced head equation,
the analytic drop time of a balanced head, a hand count of rates), a documented default or
limit, or a whole error message anchored at both ends. numpy, scipy, pytest, sympy (the
linear-attention module itself imports it) and the standard library only; no numba.

The last section holds regression tests for four accuracy bugs of linear_attention that the
survivors revealed (negative drop times of unbalanced_drop_time for a small v0, its absolute
root tolerance at large eigenvalues, the absolute bisection width of head_strength, and NaN
from merged_time_course at very negative times): they fail against the code before the fix, so
mutation checks against that code run the file without this section.
"""
import warnings
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

from _asserts import raises
from theorylib.theory import linear_attention as la
from theorylib.theory import optimal_constant as oc

MU = 1.0 - 1.0 / np.sqrt(2.0)  # the loss drop is half complete at lambda s sigma = MU


def midpoint_value(lam, tr, N):
    """v kappa^2 at the midpoint of a head's drop, (1 - 1/sqrt 2) / (lambda c)."""
    return MU / (lam * (1.0 + (1.0 + tr / lam) / N))


# --------------------------------------------------------------------------- linear attention
def test_fixed_point_losses_of_exact_rational_eigenvalues():
    """Eigenvalues given as Fractions (array_like of reals) give the float losses, in a float array.

    Hand computation for lambda = (3/2, 1/2, 2), N = 4, tr = 4: c = 1 + (1 + 4/lambda)/4, so the
    drops lambda/c, in descending order of lambda, are 8/7, 18/23, 2/13."""
    lam = [Fraction(3, 2), Fraction(1, 2), Fraction(2)]
    got = la.fixed_point_losses(lam, 4)
    drops = [Fraction(8, 7), Fraction(18, 23), Fraction(2, 13)]
    want = [4 - sum(drops[:m], Fraction(0)) for m in range(4)]
    assert got.dtype == np.float64 and got.shape == (4,)
    np.testing.assert_allclose(got, [float(w) for w in want], rtol=1e-15)
    assert la.fixed_point_loss(lam, 4, [0, 2]) == pytest.approx(float(4 - drops[0] - drops[2]), rel=1e-15, abs=0)


def test_c_factor_names_every_shape_that_does_not_broadcast():
    with raises("shapes do not broadcast together: eigenvalue (2,), trace (), N (3,)"):
        la.c_factor([1.0, 2.0], 3.0, [1.0, 2.0, 3.0])


def test_population_loss_rejects_a_matrix_of_the_wrong_size():
    with raises("M must end in shape (2, 2); got (3, 3)"):
        la.population_loss(np.eye(3), np.eye(2), 5)
    with raises("M must end in shape (2, 2); got (4, 2, 3)"):
        la.population_loss(np.zeros((4, 2, 3)), np.eye(2), 5)


def test_implicit_F_of_exact_fractions():
    """F(1/2) = -2 + ln(7)/6 - arctan(2/sqrt 3)/sqrt 3, for u given as a Fraction too."""
    want = -2.0 + np.log(7.0) / 6.0 - np.arctan(2.0 / np.sqrt(3.0)) / np.sqrt(3.0)
    assert float(la.implicit_F(Fraction(1, 2))) == pytest.approx(want, rel=1e-15, abs=0)
    np.testing.assert_allclose(la.implicit_F([Fraction(1, 2), Fraction(1, 4)]),
                               la.implicit_F([0.5, 0.25]), rtol=1e-15)


def test_head_strength_at_exact_fraction_times():
    """Times are array_like: Fractions give the values of the same float times."""
    lam, tr, N, v0 = 0.3, 1.0, 31, 0.02
    got = la.head_strength([Fraction(0), Fraction(300), Fraction(1001, 2)], v0, lam, tr, N)
    np.testing.assert_allclose(got, la.head_strength([0.0, 300.0, 500.5], v0, lam, tr, N), rtol=1e-15)
    assert got[0] == pytest.approx(v0, rel=1e-12, abs=0)


def test_merged_time_course_default_is_the_unit_covariance():
    """With lam left at its default (Lambda = I) sigma(0) = w^2/sqrt D, sigma(inf) = 1/s and the
    loss falls from D to the global minimum of Lambda = I."""
    D, N, w0 = 4, 10.0, 0.1
    s = 1.0 + (1.0 + D) / N
    sig, L = la.merged_time_course(np.array([0.0, 1e3]), D, N, w0)
    np.testing.assert_allclose(sig, [w0**2 / np.sqrt(D), 1.0 / s], rtol=1e-13)
    assert L[1] == pytest.approx(la.minimum_loss(np.eye(D), N), rel=1e-12, abs=0)
    assert L[0] == pytest.approx(D * (1 - 2 * sig[0] + s * sig[0] ** 2), rel=1e-14, abs=0)


def test_merged_midpoint_time_default_is_halfway_for_unit_covariance():
    """At the midpoint time the loss is halfway between D lambda and the final loss."""
    D, N, w0 = 4, 10.0, 0.01
    tm = la.merged_midpoint_time(D, N, w0)
    _, L = la.merged_time_course(tm, D, N, w0, lam=1.0, tau=1.0)
    assert float(L) == pytest.approx(0.5 * (D + la.minimum_loss(np.eye(D), N)), rel=1e-12, abs=0)


def test_merged_midpoint_time_close_to_its_limit_on_w_init():
    """lam = 1/2, D = 4, N = 5 (s = 2): the start is past the midpoint iff w^2 lam s/sqrt D =
    w^2/2 >= MU. Just below the limit the time exists and the loss is halfway there; just above,
    the function refuses."""
    D, N, lam = 4, 5.0, 0.5
    w_ok = np.sqrt(0.9 * MU / 0.5)
    tm = la.merged_midpoint_time(D, N, w_ok, lam=lam)
    sig, L = la.merged_time_course(tm, D, N, w_ok, lam=lam)
    assert float(lam * 2.0 * sig) == pytest.approx(MU, rel=1e-12, abs=0)
    assert float(L) == pytest.approx(D * lam * (1 - 1 / (2 * 2.0)), rel=1e-12, abs=0)
    with raises("w_init is too large: the loss starts past the midpoint of its drop"):
        la.merged_midpoint_time(D, N, np.sqrt(1.01 * MU / 0.5), lam=lam)


def test_merged_time_course_does_not_overflow():
    """"Evaluated without overflow", and t < 0 is allowed: exp(2 lam^2 sqrt D |t|) is out of range."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*overflow", category=RuntimeWarning)
        la.merged_time_course(np.array([-1000.0, 0.0, 1000.0]), 4, 10.0, 0.1)


def test_merged_sigma_expr_limits():
    """sympy can take the limits because the symbols are positive: sigma(0) = w0^2/sqrt D and
    sigma(t -> oo) = 1/(lam s), s = 1 + (1 + D)/N."""
    expr, (t, D, N, w0, lam, tau) = la.merged_sigma_expr()
    assert all(x.is_positive for x in (t, D, N, w0, lam, tau))
    assert sp.simplify(expr.subs(t, 0) - w0**2 / sp.sqrt(D)) == 0
    s = 1 + (1 + D) / N
    assert sp.simplify(sp.limit(expr, t, sp.oo) - 1 / (lam * s)) == 0


def _ode_drop_time(lam, tr, N, v0, k0):
    """Integrate tau v' = k^2 g, tau k' = v k g, g = lam^2 - lam^3 c v k^2 until v k^2 is halfway."""
    c = 1.0 + (1.0 + tr / lam) / N
    target = midpoint_value(lam, tr, N)

    def f(_, y):
        v, k = y
        g = lam**2 - lam**3 * c * v * k**2
        return [k**2 * g, v * k * g]

    ev = lambda _, y: y[0] * y[1] ** 2 - target
    ev.terminal = True
    sol = solve_ivp(f, (0, 1e6), [v0, k0], events=ev, method="DOP853", rtol=1e-12, atol=1e-14)
    return sol.t_events[0][0]


@pytest.mark.parametrize("v0, k0", [(0.5, 0.3), (0.03, 2.0)], ids=["v-above-kappa", "kappa-above-one"])
def test_unbalanced_drop_time_against_the_ode(v0, k0):
    """lam = 1, tr = 2, N = 4: midpoint value 0.1674; both starts are below it (0.045 and 0.12)."""
    assert v0 * k0**2 < midpoint_value(1.0, 2.0, 4.0)
    assert la.unbalanced_drop_time(1.0, 2.0, 4.0, v0, k0) == pytest.approx(_ode_drop_time(1.0, 2.0, 4.0, v0, k0),
                                                                           rel=1e-8, abs=0)


def test_unbalanced_drop_time_emits_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = la.unbalanced_drop_time(1.0, 2.0, 4.0, 0.2, 0.3)
    assert t == pytest.approx(_ode_drop_time(1.0, 2.0, 4.0, 0.2, 0.3), rel=1e-8, abs=0)


# The integrand's peak at v0 still draws an IntegrationWarning here (a known loss of accuracy for
# kappa0 << v0, see tools/mutation/full_theory_attention_constant.md); the value is good to ~1e-8.
@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
def test_unbalanced_drop_time_of_a_strongly_unbalanced_head():
    """kappa0 = 1e-6 v0: near v0 the integrand 1/(kappa^2 (...)) has a peak of width ~kappa0^2/v0.
    Reference: the same flow in x = ln kappa^2, smooth there: dt/dx = tau/(2 v g) with
    v = sqrt(kappa^2 + delta), g = lam^2 - lam^3 c v kappa^2, by solve_ivp up to v kappa^2 = midpoint."""
    from scipy.optimize import brentq

    lam, tr, N = 1.0, 2.0, 4.0
    c = 1.0 + (1.0 + tr / lam) / N
    target = midpoint_value(lam, tr, N)
    v0 = _balanced_v0(lam, tr, N, 0.5)
    k0 = 1e-6 * v0
    delta = v0**2 - k0**2
    u_mid = brentq(lambda u: np.sqrt(u + delta) * u - target, k0**2, 10.0, xtol=1e-300, rtol=1e-15)

    def dt_dx(x, _):
        u = np.exp(x)
        v = np.sqrt(u + delta)
        return [1.0 / (2.0 * v * (lam**2 - lam**3 * c * v * u))]

    sol = solve_ivp(dt_dx, (np.log(k0**2), np.log(u_mid)), [0.0], method="DOP853", rtol=1e-12, atol=1e-14)
    assert la.unbalanced_drop_time(lam, tr, N, v0, k0) == pytest.approx(sol.y[0, -1], rel=1e-7, abs=0)


def _balanced_v0(lam, tr, N, r):
    """v0 = r times the balanced midpoint value (v0 = kappa0 = v with v^3 at the midpoint)."""
    return r * midpoint_value(lam, tr, N) ** (1.0 / 3.0)


@pytest.mark.parametrize("lam, r", [(1e8, 0.9), (1e8, 1e-3), (1e20, 0.7), (1e20, 0.3), (1e-3, 0.3), (1e-3, 0.02)],
                         ids=["large-lam-near", "large-lam-far", "huge-lam-near", "huge-lam-mid", "small-lam-near",
                              "small-lam-far"])
def test_balanced_unbalanced_drop_time_is_separate_drop_time(lam, r):
    """For v0 = kappa0 it equals separate_drop_time (the closed form through F). A large lam gives
    drop times ~1e-14 (lam = 1e20: ~1e-33, with the midpoint v ~ 1e-7); a small lam a midpoint v > 2."""
    tr, N = 2 * lam, 4.0
    v0 = _balanced_v0(lam, tr, N, r)
    assert la.unbalanced_drop_time(lam, tr, N, v0, v0) == pytest.approx(la.separate_drop_time(lam, tr, N, v0),
                                                                         rel=1e-10, abs=0)


@pytest.mark.parametrize("r, ratio", [(0.9, 1.0), (0.5, 0.3)], ids=["balanced", "unbalanced"])
def test_unbalanced_drop_time_scaling_law(r, ratio):
    """tau v' = (v^2 - delta)(lam^2 - lam^3 c v (v^2 - delta)) is invariant under v -> a v,
    kappa -> a kappa, lam -> lam/a^3, tr -> tr/a^3, t -> a^5 t (c is unchanged). a = 2^-20 makes
    lam ~ 1e18, where the midpoint v is ~1e-6."""
    a = 2.0**-20
    v0 = _balanced_v0(1.0, 2.0, 4.0, r)
    k0 = ratio * v0
    ref = la.unbalanced_drop_time(1.0, 2.0, 4.0, v0, k0)
    assert la.unbalanced_drop_time(1 / a**3, 2 / a**3, 4.0, a * v0, a * k0) == pytest.approx(a**5 * ref, rel=1e-10, abs=0)


# --------------------------------------------------------------------------- optimal constant
@pytest.mark.parametrize("kwargs, msg", [
    ({"t": [0.0, np.nan]}, "t has non-finite entries"),
    ({"ybar_norm": 0.0}, "ybar_norm must be positive and finite"),
    ({"xbar_norm": -1.0}, "xbar_norm must be positive and finite"),
    ({"u0": np.nan}, "u0 must be positive and finite"),
], ids=["t", "ybar_norm", "xbar_norm", "u0"])
def test_mean_output_trajectory_names_the_bad_argument(kwargs, msg):
    args = {"t": [0.0, 1.0], "ybar_norm": 1.0, "xbar_norm": 0.5, "u0": 0.01} | kwargs
    with raises(msg):
        oc.mean_output_trajectory(**args)


Y_RATES = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float)  # ybar = (3/4, 1/4, 1/2)


def test_ocs_rates_default_threshold_is_one_half():
    """theta = 1/2: only unit 0 (ybar = 3/4) is positive; unit 2 (ybar = 1/2) sits at theta and is
    negative. By hand: sum_j (1 - ybar_j) = 3/2, of which the negative units 1, 2 carry
    3/4 + 1/2 = 5/4, so TNR = 5/6; sum_j ybar_j = 3/2, of which unit 0 carries 3/4: TPR = 1/2."""
    tnr, tpr = oc.ocs_rates(Y_RATES)
    assert (tnr, tpr) == pytest.approx((5 / 6, 1 / 2), rel=1e-15, abs=0)
    # the same as counting with rates() on the constant output ybar
    ctnr, ctpr = oc.rates(np.broadcast_to(Y_RATES.mean(axis=0), Y_RATES.shape), Y_RATES)
    assert (tnr, tpr) == pytest.approx((ctnr, ctpr), rel=1e-15, abs=0)


def test_ocs_rates_rejects_a_nan_threshold():
    with raises("theta has non-finite entries"):
        oc.ocs_rates(Y_RATES, theta=np.nan)


def test_rates_message_names_the_trailing_shape():
    with raises("Y_hat ends in shape (3, 3); Y has shape (2, 2)"):
        oc.rates(np.zeros((2, 3, 3)), np.array([[0.0, 1.0], [1.0, 0.0]]))


def _rotation(n, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def test_ocs_mode_of_large_rotated_labels():
    """Y0 = [[1, 0, 1], [0, 1, 1]] has overlaps y.ybar = 3/2 = |ybar|^2 for both items, and so has
    1e5 Y0 Q for any rotation Q: kappa0 = sqrt(P) |ybar| = 1e5 sqrt(3). The rounding of the
    overlaps (~1e-6 here) must be judged relative to the size of Y."""
    Y = 1e5 * np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]) @ _rotation(3, 1)
    assert oc.ocs_mode_strength(Y) == pytest.approx(1e5 * np.sqrt(3.0), rel=1e-13, abs=0)
    # the centred part is 1e5 [[1, -1, 0], [-1, 1, 0]] / 2 Q: kappa1 = 1e5, below kappa0
    assert oc.ocs_learned_first(Y) is True


def test_decoupled_outputs_ignore_a_round_off_mode():
    """Y = Y0 + 1e-11 E with E centred and orthogonal to Y0's centred mode: the extra singular
    value (~1e-11 of the largest, ~10) is round-off, not a mode, so the outputs at t = 0 are those
    of Y0: 1 b0 + u0 sqrt(P) p q^T for Y0's one centred mode (p, q) (every mode starts at u0)."""
    Y0 = np.array([[3.0, 1.0], [-2.0, 1.0], [3.0, 1.0], [-2.0, 1.0]]) * 2.0
    E = np.array([[0.0, 1.0], [0.0, -1.0], [0.0, -1.0], [0.0, 1.0]])
    Y = Y0 + 1e-11 * E
    b0, u0 = np.array([0.3, -0.2]), 0.1
    p, sig, qt = np.linalg.svd(Y0 - Y0.mean(axis=0))
    want = b0 + u0 * 2.0 * np.outer(p[:, 0], qt[0])
    np.testing.assert_allclose(oc.decoupled_outputs(0.0, Y, b0, u0)[0], want, atol=1e-9)


# --------------------------------------------------------------------------- regression tests of the fixes
def test_head_strength_is_accurate_for_a_small_start():
    """v(0) = v0 and, early on, v(t) = 1/(1/v0 - lam^2 t) (the v^5 term is negligible) to 1e-13
    relative, for v0 far below v* (the bisection used to stop at an absolute width of 1e-15)."""
    lam, tr, N = 1.0, 2.0, 4.0
    vs = float(la.head_fixed_point(lam, tr, N))
    for v0 in (1e-6 * vs, 1e-9 * vs):
        t = np.array([0.0, 0.1 / v0])
        v = la.head_strength(t, v0, lam, tr, N)
        assert v[0] == pytest.approx(v0, rel=1e-13, abs=0)
        # tau v' = lam^2 v^2 (1 - lam c v^3): the correction is ~lam c v^3 ~ 1e-15 here
        assert v[1] == pytest.approx(1 / (1 / v0 - lam**2 * t[1]), rel=1e-12, abs=0)


def _ode_drop_time_far(lam, tr, N, v0):
    """Drop time for kappa0 = 3 v0 from a tiny start: integrate the ODE in s = ln v."""
    c = 1.0 + (1.0 + tr / lam) / N
    target = midpoint_value(lam, tr, N)
    delta = v0**2 - 9 * v0**2

    # dt/ds = v / ((v^2 - delta)(lam^2 - lam^3 c v (v^2 - delta))), v = e^s; the time is ~1/v0,
    # so integrate v0 t, which is of order one
    def dt_ds(s, y):
        v = np.exp(s)
        k2 = v * v - delta
        return [v0 * v / (k2 * (lam**2 - lam**3 * c * v * k2))]

    from scipy.optimize import brentq
    vmid = brentq(lambda v: v * (v * v - delta) - target, v0, 10.0, xtol=1e-300, rtol=1e-15)
    sol = solve_ivp(dt_ds, (np.log(v0), np.log(vmid)), [0.0], method="DOP853", rtol=1e-12, atol=1e-14)
    return sol.y[0, -1] / v0


@pytest.mark.parametrize("r", [1e-8, 1e-30], ids=["1e-8", "1e-30"])
def test_unbalanced_drop_time_from_a_tiny_start(r):
    """v0 = kappa0 many decades below the midpoint: the time is positive and equals the closed
    form of separate_drop_time (it used to be negative, from one quad over all the decades)."""
    lam, tr, N = 1.0, 2.0, 4.0
    v0 = _balanced_v0(lam, tr, N, r)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = la.unbalanced_drop_time(lam, tr, N, v0, v0)
    assert got == pytest.approx(la.separate_drop_time(lam, tr, N, v0), rel=1e-11, abs=0)
    assert la.unbalanced_drop_time(lam, tr, N, v0, 3 * v0) == pytest.approx(_ode_drop_time_far(lam, tr, N, v0), rel=1e-7, abs=0)


def test_unbalanced_drop_time_scaling_law_at_a_huge_eigenvalue():
    """The scaling law of test_unbalanced_drop_time_scaling_law with a = 2^-30 (lam ~ 1e27, midpoint
    v ~ 1e-9): the root tolerance used to be absolute (1e-15), an error of 1e-6 here."""
    a = 2.0**-30
    for r, ratio in ((0.9, 1.0), (0.5, 0.3), (1e-3, 3.0)):
        v0 = _balanced_v0(1.0, 2.0, 4.0, r)
        ref = la.unbalanced_drop_time(1.0, 2.0, 4.0, v0, ratio * v0)
        assert la.unbalanced_drop_time(1 / a**3, 2 / a**3, 4.0, a * v0, a * ratio * v0) == pytest.approx(a**5 * ref,
                                                                                                     rel=1e-12, abs=0)


def test_merged_time_course_at_very_negative_times():
    """sigma(t) = E/(lam s (E - 1) + sqrt D/w^2) -> 0 as t -> -oo (E -> 0), the loss -> D lam;
    it used to be inf - inf = NaN once exp(-2 lam^2 sqrt D t/tau) overflowed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sig, L = la.merged_time_course(np.array([-1000.0, -1e6]), 4, 10.0, 0.1, lam=0.5)
    np.testing.assert_array_equal(sig, [0.0, 0.0])
    np.testing.assert_allclose(L, [4 * 0.5, 4 * 0.5], rtol=1e-15)
