"""Tests that kill survivors of theory/rich_lazy.py from the full mutation run (mutmut 3.8.1).

Every expectation is an independent computation: a hand-solved case (with beta* = 0 the squared
readout u = a^2 obeys the logistic u' = -2u(u - delta); the row-space quartic of
``implicit_bias_limit`` at round numbers; ``artanh(1/2) = ln(3)/2``), a direct integration of the
gradient flow (scipy DOP853), the exact scaling symmetry ``(a, w, beta*, t) -> (c a, c w, c^2 beta*,
t / c^2)`` of that flow, an mpmath evaluation of the balanced closed form, a documented behaviour
(``+-inf`` at the Riccati pole; the rescaled evaluations raise no floating-point exception even
under ``np.errstate(..., "raise")``) or a full anchored error message. The Greek letters of the
messages are written as escapes. Notes: tools/mutation/full_theory_rich_lazy.md.
"""
import math
import re

import mpmath
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from theorylib.theory import rich_lazy as rl

RAISE = dict(over="raise", invalid="raise", divide="raise")
OMEGA0_SETUP = ("\u03b2* = 0 together with \u03b4 = 0 is degenerate (\u03a9 = 0); "
                "not covered by the closed form")
RICCATI_OMEGA0 = "\u03a9 = 0 (\u03b4 = 0 and s = 0): degenerate Riccati equation"
R_OVERFLOW = "a0 is too close to 0: r = (2\u03bd\u2080 + \u03b4)/\u03a9 overflows"
NO_CLOSED_SIGN = ("\u03b4 + \u03b7_a\u2016w_\u22a5\u2016\xb2 \u2264 0 and XX\u1d40 is not a multiple of I: "
                  "the sign of a\u221e has no closed form")
RANK = "X must have full row rank (independent samples)"


def _anchored(msg):
    return "^" + re.escape(msg) + "$"


def _flow(X, y, a0, w0, t_eval, eta_a=1.0, eta_w=1.0):
    """Gradient flow of 1/2 |X a w - y|^2 with rates eta_a, eta_w (plain DOP853): a(t), w(t)."""
    X, y, w0 = (np.asarray(v, float) for v in (X, y, w0))

    def rhs(_t, z):
        a, w = z[0], z[1:]
        g = X.T @ (X @ (a * w) - y)
        return np.r_[-eta_a * (w @ g), -eta_w * a * g]

    t_eval = np.asarray(t_eval, float)
    sol = solve_ivp(rhs, (0.0, t_eval[-1]), np.r_[a0, w0], t_eval=t_eval, method="DOP853",
                    rtol=1e-13, atol=1e-15)
    return sol.y[0], sol.y[1:].T


# --------------------------------------------------------------------------- input conversion
def test_integer_arguments_are_converted_to_float_before_squaring():
    # 2**32 as an int64 would wrap to 0 when squared; as a float it is exactly 2**64
    assert rl.conserved_quantity(2**32, [0]) == 2.0**64


# --------------------------------------------------------------------------- lazy_limit / ray_limit
def test_lazy_limit_without_samples_returns_beta0():
    # no constraint at all: the interpolant closest to beta0 is beta0 itself
    beta0 = np.array([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(rl.lazy_limit(np.zeros((0, 3)), np.zeros(0), beta0), beta0)


def test_row_rank_cut_is_one_part_in_1e12_of_max_1_sigma_max_inclusive():
    # one sample of norm c < 1: its singular value is c, the cut is 1e-12 * max(1, c) = 1e-12
    beta0 = np.array([5.0, 6.0, 7.0])
    with pytest.raises(ValueError, match=_anchored(RANK)):
        rl.lazy_limit([[1e-12, 0.0, 0.0]], [2e-12], beta0)
    # 1.5e-12 is above the cut: a genuine sample; the closest interpolant to beta0 is (2, 6, 7)
    beta = rl.lazy_limit([[1.5e-12, 0.0, 0.0]], [3e-12], beta0)
    np.testing.assert_allclose(beta, [2.0, 6.0, 7.0], rtol=1e-12)


@pytest.mark.parametrize("call, msg", [
    (lambda: rl.lazy_limit([[1.0, 0.0]], [np.inf], [0.0, 0.0]), "y must be finite"),
    (lambda: rl.lazy_limit([[1.0, 0.0]], [1.0], [np.nan, 0.0]), "beta0 must be finite"),
    (lambda: rl.ray_limit([[np.nan, 1.0]], [1.0], [1.0, 0.0]), "X must be finite"),
    (lambda: rl.ray_limit([[1.0, 1.0]], [np.nan], [1.0, 0.0]), "y must be finite"),
    (lambda: rl.final_readout(1.0, [1.0, np.inf]), "s must be finite"),
    (lambda: rl.implicit_bias_limit([[1.0, 0.0]], [1.0], 1.0, [np.nan, 0.0]), "w0 must be finite"),
    (lambda: rl.riccati_nu([1.0], 0.0, 0.0, 0.3), RICCATI_OMEGA0),
    (lambda: rl.riccati_blowup_time(0.0, 0.0, 0.3), RICCATI_OMEGA0),
    # a0 = |w0| = 1: delta = 0, and beta* = 0
    (lambda: rl.single_neuron(1.0, 1.0, [1.0, 0.0], [0.0, 0.0]), OMEGA0_SETUP),
], ids=["lazy-y", "lazy-beta0", "ray-X", "ray-y", "final-readout-s", "implicit-bias-w0",
        "riccati-nu-omega0", "blowup-omega0", "single-neuron-omega0"])
def test_errors_give_their_whole_message(call, msg):
    with pytest.raises(ValueError, match=_anchored(msg)):
        call()


# --------------------------------------------------------------------------- single_neuron
@pytest.mark.parametrize("a0, eta_w, r_text", [
    # delta = 2e-320 - 1 = -1, Omega = sqrt(1 + 8) = 3, r = (2e160 - 1)/3
    (1e-160, 2.0, "6.67e+159"),
    # r = (2/a0 - 1)/sqrt(5) is exactly 1e150 in floating point at this a0 (the cut is |r| < 1e150)
    (8.94427190999916e-151, 1.0, "1e+150"),
], ids=["r-6.67e159-eta-w-2", "r-exactly-1e150"])
def test_closed_form_refuses_a_readout_so_small_that_r_reaches_1e150(a0, eta_w, r_text):
    msg = (f"a0 = {a0:.3g} is too close to 0 for the closed form: "
           "r = (2\u03bd0 + \u03b4)/\u03a9 = " + r_text + " overflows")
    with pytest.raises(ValueError, match=_anchored(msg)):
        rl.single_neuron([0.0, 1.0], a0, [1.0], [1.0], 1.0, eta_w)


def test_single_neuron_when_omega_rounds_to_a_delta_below_one():
    # delta = 1 - 0.25 = 0.75 and s = 1e-10: Omega = sqrt(delta^2 + 4 s^2) is delta in floating point,
    # so Omega - delta must come from 4 s^2 / (Omega + delta), not from the difference
    a0, w0, bs = 1.0, np.array([0.5, 0.0]), np.array([1e-10, 0.0])
    t = np.array([0.5, 1.0, 2.0])
    a, w = rl.single_neuron(t, a0, w0, bs)
    a_ref, w_ref = _flow(np.eye(2), bs, a0, w0, t)
    np.testing.assert_allclose(a, a_ref, rtol=1e-11, atol=0)
    np.testing.assert_allclose(w, w_ref, rtol=1e-11, atol=1e-15)


def test_single_neuron_readout_decays_logistically_without_a_target():
    # beta* = 0: d(a^2)/dt = -2 a^2 |w|^2 = -2u(u - delta), so u = delta / (1 - (1 - delta/u0) e^{-2 delta t});
    # at t = 1000 the factor e^{-(Omega + delta) t} underflows to 0 inside the rescaled evaluation
    a0, w0 = 1.0, np.array([0.5, 0.0])
    delta, t = 0.75, np.array([1.0, 3.0, 1000.0])
    a, w = rl.single_neuron(t, a0, w0, [0.0, 0.0])
    u = delta / (1 - (1 - delta / a0**2) * np.exp(-2 * delta * t))
    np.testing.assert_allclose(a, np.sqrt(u), rtol=1e-13)
    assert np.all(np.isfinite(w))


def test_single_neuron_is_covariant_under_the_scaling_of_weights_and_time():
    # (a, w, beta*, t) -> (c a, c w, c^2 beta*, t / c^2) maps gradient flows to gradient flows.
    # c = 2^-256 is exact in floating point; at that scale 4 s^2 underflows to 0 while
    # 1 - r = -2 nu0 / Omega = -3.3e-9 does not (the s^2-underflow branch of the integral of G^2)
    c = 2.0**-256
    a0, w0, bs = 2.0, np.array([1.0, 0.0]), np.array([1e-8, 0.0])
    t = np.array([0.25, 0.5, 1.0])
    a_small, _ = rl.single_neuron(t / c**2, c * a0, c * w0, c**2 * bs)
    a_ref, _ = _flow(np.eye(2), bs, a0, w0, t)
    np.testing.assert_allclose(a_small / c, a_ref, rtol=1e-12, atol=0)


def test_single_neuron_raises_no_floating_point_exception_at_late_times():
    # delta = 0.25 - 1 < 0 and t = 1000: e^{|delta| t} overflows in a branch that is not used
    a0, w0, bs = 0.5, np.array([1.0, 0.0]), np.array([1.0, 0.0])
    with np.errstate(**RAISE):
        a, w = rl.single_neuron([0.0, 1000.0], a0, w0, bs)
    # r > -1 (nu0 = 2 > 0): the readout keeps its sign and ends at a_inf, and w a_inf = beta*
    a_inf = math.sqrt((-0.75 + math.sqrt(0.75**2 + 4)) / 2)
    np.testing.assert_allclose(a, [a0, a_inf], rtol=1e-13)
    np.testing.assert_allclose(a[1] * w[1], bs, rtol=1e-13, atol=1e-15)


# --------------------------------------------------------------------------- Riccati equation
def test_riccati_nu_is_minus_infinity_exactly_at_its_pole():
    # delta = 0, s = 1 (Omega = 2), nu0 = r = -1/tanh(t0): 1 + r tanh(Omega t0 / 2) is exactly 0 for
    # most t0 (the first such t0 of a grid is taken, so the test does not depend on the libm's tanh)
    t0 = next(t for t in np.linspace(0.5, 1.5, 101) if 1 + (-1 / np.tanh(t)) * np.tanh(t) == 0.0)
    with np.errstate(**RAISE):
        nu = rl.riccati_nu([t0], 0.0, 1.0, -1 / np.tanh(t0))
    assert nu[0] == -np.inf


def test_riccati_blowup_time_on_the_separatrix_is_infinite():
    # r = (2 nu0 + delta)/Omega = -1 exactly: nu sits at the unstable root and never blows up
    with np.errstate(**RAISE):
        assert rl.riccati_blowup_time(0.0, 1.0, -1.0) == np.inf


def test_riccati_blowup_time_default_rates_are_one():
    # delta = 0, s = 1, nu0 = -2: Omega = 2, r = -2, t* = (2/Omega) artanh(1/2) = ln(3)/2
    assert rl.riccati_blowup_time(0.0, 1.0, -2.0) == pytest.approx(math.log(3) / 2, rel=1e-14)


def test_separatrix_ratio_overflow_is_a_value_error_even_when_overflow_raises():
    with np.errstate(**RAISE):
        with pytest.raises(ValueError, match=_anchored(R_OVERFLOW)):
            rl.separatrix_ratio(1e-320, [1.0], [1.0])


# --------------------------------------------------------------------------- mu_phi
def test_mu_phi_of_a_unit_norm_w():
    mu, phi = rl.mu_phi(2.0, [0.6, 0.8], [3.0, 0.0])
    assert mu == pytest.approx(2.0, rel=1e-15)
    assert phi == pytest.approx(0.6, rel=1e-15)


# --------------------------------------------------------------------------- implicit_bias_limit
@pytest.mark.parametrize("X, y, a0, w0, eta_a", [
    # one sample, delta_row = -1 and r = -1.73 (in (-2, -1)): a crosses zero and ends negative
    ([[1.0, 0.0]], [1.0], 1.0, [-2.0, 0.3], 0.5),
    # delta_row = -0.47, eta_a = 2, r = -1.84: again a sign change
    ([[1.0, 0.0]], [1.0], 0.5, [-0.6, 0.3], 2.0),
    # XX^T = diag(1, 4) is not isotropic, but delta_row = 1 - 0.25 - 0.25 = 0.5 > 0 fixes the sign
    ([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], [1.0, 1.0], 1.0, [0.3, 0.4, 0.5], 1.0),
], ids=["one-sample-r-in-minus2-minus1", "one-sample-eta-a-2", "anisotropic-positive-delta-row"])
def test_implicit_bias_limit_matches_the_gradient_flow(X, y, a0, w0, eta_a):
    beta_inf, a_inf = rl.implicit_bias_limit(X, y, a0, w0, eta_a, 1.0)
    a, w = _flow(X, y, a0, w0, [400.0], eta_a, 1.0)
    assert a_inf == pytest.approx(a[-1], rel=1e-8)
    np.testing.assert_allclose(beta_inf, a[-1] * w[-1], rtol=1e-8, atol=1e-12)


def test_implicit_bias_limit_for_a_tiny_positive_readout():
    # a0 = 1e-200, w0 = (1, 0.5), X = (1, 0), y = 1: beta_mn = (1, 0), c = 1, w_perp = (0, 0.5),
    # delta_row = a0^2 - 1 = -1, nu0 > 0 so a grows and keeps its sign; a_inf^4 + a_inf^2 - 1 = 0
    beta_inf, a_inf = rl.implicit_bias_limit([[1.0, 0.0]], [1.0], 1e-200, [1.0, 0.5])
    a_ref = math.sqrt((math.sqrt(5) - 1) / 2)
    assert a_inf == pytest.approx(a_ref, rel=1e-14)
    np.testing.assert_allclose(beta_inf, [1.0, 0.5 * a_ref], rtol=1e-14)


@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0])
def test_isotropy_of_the_samples_is_judged_relative_to_their_scale(scale):
    # XX^T has an off-diagonal 1e-9 times its diagonal: not a multiple of I at any scale, so with
    # delta_row = 0.01 - 2 <= 0 the sign of a_inf has no closed form
    X = scale * np.array([[1.0, 0.0, 0.0], [1e-9, 1.0, 0.0]])
    with pytest.raises(ValueError, match=_anchored(NO_CLOSED_SIGN)):
        rl.implicit_bias_limit(X, [1.0, 1.0], 0.1, [1.0, 1.0, 0.0])


# --------------------------------------------------------------------------- balanced_solution
def _balanced_mp(t, s, mu0, phi0):
    """mu(t) = s(cosh 2S + 1)/(2S + sinh 2S + C), S = st + artanh phi0, C from mu(0) = mu0 (40 digits)."""
    with mpmath.workdps(40):
        s, mu0, phi0 = mpmath.mpf(s), mpmath.mpf(mu0), mpmath.mpf(phi0)
        S0 = mpmath.atanh(phi0)
        C = s * (mpmath.cosh(2 * S0) + 1) / mu0 - 2 * S0 - mpmath.sinh(2 * S0)
        return np.array([float(s * (mpmath.cosh(2 * (s * mpmath.mpf(tv) + S0)) + 1)
                               / (2 * (s * mpmath.mpf(tv) + S0) + mpmath.sinh(2 * (s * mpmath.mpf(tv) + S0)) + C))
                         for tv in t])


@pytest.mark.parametrize("s, mu0, phi0", [(1.0, 1e6, 0.5), (2.0, 1e8, -0.3)])
def test_balanced_solution_at_short_times_from_a_large_start(s, mu0, phi0):
    # st <= 1e-3 and a large mu0: the st-dependent part of the denominator is tiny and must not
    # come from tanh 2S - sinh 2S0 sech 2S, a difference of nearly equal numbers
    t = np.array([1e-9, 1e-6, 1e-3])
    mu, _ = rl.balanced_solution(t, s, mu0, phi0)
    np.testing.assert_allclose(mu, _balanced_mp(t, s, mu0, phi0), rtol=1e-13)


def test_balanced_solution_raises_no_floating_point_exception():
    # t = 0 (log t = -inf), and 2S = 2001 where the unused branch overflows
    t = np.array([0.0, 0.5, 1000.0])
    with np.errstate(**RAISE):
        mu, phi = rl.balanced_solution(t, 1.0, 0.1, 0.5)
    np.testing.assert_allclose(mu[:2], _balanced_mp(t[:2], 1.0, 0.1, 0.5), rtol=1e-13)
    np.testing.assert_allclose(phi, np.tanh(t + np.arctanh(0.5)), rtol=1e-15)
    assert mu[2] == pytest.approx(1.0, rel=1e-13)


def test_balanced_solution_just_past_2S_700_is_exact_to_rounding():
    # for 2S > 700 the denominator's rest is tanh 2S - sinh 2S0 sech 2S = 1.0 (to rounding) and mu
    # is s (1 + sech)/(rest + tiny terms): no factor carries the ~|2S| eps error of exp(log sech)
    s, mu0, phi0 = 1.0, 0.1, 0.5
    t = np.array([700.2, 700.5, 701.0]) / 2 - np.arctanh(phi0)
    mu, _ = rl.balanced_solution(t, s, mu0, phi0)
    np.testing.assert_allclose(mu, _balanced_mp(t, s, mu0, phi0), rtol=1e-14)


def test_riccati_nu_stays_at_the_unstable_fixed_point():
    """nu0 = -(delta + Omega)/2 is a fixed point of nu' = eta_a eta_w s^2 - delta nu - nu^2
    (r = -1): nu stays there for every t, including t where tanh(Omega t / 2) rounds to 1."""
    for delta, s, nu0 in ((0.0, 1.0, -1.0), (3.0, 2.0, -4.0)):  # Omega = 2 and 5
        Om = np.sqrt(delta**2 + 4 * s**2)
        assert nu0 == -(delta + Om) / 2
        nu = rl.riccati_nu(np.array([0.0, 1.0, 30.0, 1e3]), delta, s, nu0)
        assert np.all(np.isfinite(nu))
        np.testing.assert_array_equal(nu, np.full(4, nu0))
