"""Tests that kill survivors of the second mutmut 3.8.1 run in theory/deep_linear.py
(``deep_learning_time``, ``mode_strength``, ``unbalanced_limit``); see
tools/mutation/rerun2_deep_linear_other.md.

Every expectation is independent of the implementation: a hand-derived closed form evaluated
with mpmath at the exact double inputs (L = 1: ``t = tau ln((s - u0)/(s - u))``; L = 2: Saxe et
al.'s eq. 11; Saxe et al.'s eq. 12 for ``mode_strength``; ``a_inf^2 = (d + sqrt(d^2 + 4 s^2))/2``
for ``unbalanced_limit``), an mpmath quadrature of ``dt = tau du / (L u^(2 - 2/L) (s - u))``, or a
whole documented error message. The closed forms are documented to be quiet (they silence their
own floating-point warnings), so several tests turn warnings into errors.
"""

import mpmath
import numpy as np
import pytest

from _asserts import no_warnings, raises
from theorylib.theory import deep_linear as dl

TAU = "\u03c4"  # the message's Greek letter, kept out of this file's source
TIME_MSG = ("the learning time is not representable as a finite float: "
            "s, u0, u, n_weights or " + TAU + " too extreme")
END_MSG = "the end point is not representable as a finite float: a0, b0 or s too large"
FMAX = np.finfo(float).max


def mp_time(s, u0, u, L, tau=1.0):
    """tau s^(2/L - 2) * integral_{u0/s}^{u/s} dw / (L w^(2 - 2/L) (1 - w)), at 40 digits."""
    with mpmath.workdps(40):
        s, u0, u, tau = (mpmath.mpf(float(v)) for v in (s, u0, u, tau))
        L = mpmath.mpf(L)
        integral = mpmath.quad(lambda w: 1 / (L * w ** (2 - 2 / L) * (1 - w)), [u0 / s, u / s])
        return tau * s ** (2 / L - 2) * integral


def rel_err(x, ref):
    return float(abs((mpmath.mpf(float(x)) - ref) / ref))


# --------------------------------------------------------------------------- deep_learning_time
def test_deep_learning_time_at_huge_scale_keeps_its_digits():
    # s = 2^996 and u0/s, u/s exact binary fractions: the roots (u/s)^(1/L) need no logarithms,
    # and the times are the closed forms for L = 1 and L = 2 (eq. 11)
    s = 2.0 ** 996
    u0, u = s / 4, s * (1 - 2.0 ** -20)
    with mpmath.workdps(40):
        ref1 = mpmath.log(mpmath.mpf(0.75) * 2 ** 20)  # ln((s - u0)/(s - u))
        ref2 = mpmath.log(9) / (2 * mpmath.mpf(s))     # (1/2s) ln(u(s - u0)/(u0(s - u))) at u = 3s/4
    assert rel_err(dl.deep_learning_time(s, u0, u, 1), ref1) < 1e-14
    assert rel_err(dl.deep_learning_time(s, u0, 0.75 * s, 2), ref2) < 1e-14


def test_deep_learning_time_from_a_vanishing_ratio_with_one_layer_is_quiet():
    # L = 1: u0/s = 1e-400 underflows, so the root goes through logs and ends at 0; the time is
    # tau ln((s - u0)/(s - u)) (about ln 2) and nothing may warn on the way
    s, u0, u = 1e100, 1e-300, 0.5e100
    with mpmath.workdps(40):
        S, U0, U = (mpmath.mpf(v) for v in (s, u0, u))
        ref = mpmath.log((S - U0) / (S - U))
    with no_warnings():
        t = dl.deep_learning_time(s, u0, u, 1)
    assert rel_err(t, ref) < 1e-15


@pytest.mark.parametrize("s, u0, u, L", [
    (1e-300, 0.25e-300, 0.5e-300, 3),                   # s^(2/L - 2) = s^(-4/3) ~ 1e400
    (1e-300, 0.5e-300, np.nextafter(0.5e-300, 1), 10),  # adjacent doubles, s^(-1.8) ~ 1e540
], ids=["s_tiny_L3", "adjacent_u_L10"])
def test_deep_learning_time_beyond_the_float_range_says_so_quietly(s, u0, u, L):
    assert mp_time(s, u0, u, L) > FMAX  # the exact time is not representable
    with no_warnings(), raises(TIME_MSG):
        dl.deep_learning_time(s, u0, u, L)


# --------------------------------------------------------------------------- mode_strength
@pytest.mark.parametrize("t, s", [(-30.0, 1 + 2.0 ** -30), (-20.0, 1 + 2.0 ** -20)], ids=["r1p2m30", "r1p2m20"])
def test_mode_strength_backwards_in_time_just_below_the_fixed_point(t, s):
    # u0 = 1 just below s, s/u0 - 1 = 2^-30 (2^-20) exactly: eq. 12 going back in time, where
    # the denominator is 1 + (s/u0 - 1) e^{-2st} with e^{-2st} ~ e^60; only t's rounding matters
    with mpmath.workdps(40):
        S = mpmath.mpf(s)
        ref = S / (1 + (S - 1) * mpmath.exp(-2 * S * t))
    assert rel_err(dl.mode_strength(t, s, 1.0), ref) < 1e-13


# --------------------------------------------------------------------------- unbalanced_limit
def mp_end_point(s, a0, b0):
    """(w_inf, a_inf) from the conserved d = b0^2 - a0^2 (readout minus input) and a w = s."""
    with mpmath.workdps(40):
        s, a0, b0 = (mpmath.mpf(float(v)) for v in (s, a0, b0))
        d = b0 ** 2 - a0 ** 2
        root = mpmath.sqrt(d * d + 4 * s * s)
        a2 = (d + root) / 2 if d >= 0 else 2 * s * s / (root - d)
        a = mpmath.sqrt(a2)
        sign = mpmath.sign(b0) if d > 0 else mpmath.sign(a0)
        return sign * s / a, sign * a


@pytest.mark.parametrize("s, a0, b0", [
    (1.0, 1e200, 0.0),        # a0^2 overflows
    (1.0, 0.0, -1e200),       # b0^2 overflows
    (2.0, 3e200, 1e200),      # inf - inf
    (2.0, 1e200, 1e200),      # balanced, inf - inf
    (3.0, 1.0, 1.0),          # balanced: |a0| - |b0| = 0
    (3.0, -2.5, -2.5),
    (0.5, 4.0, 1.0),
], ids=["a_huge", "b_huge", "both_huge", "balanced_huge", "balanced", "balanced_negative", "plain"])
def test_unbalanced_limit_is_quiet_and_right(s, a0, b0):
    with no_warnings():
        w, a = dl.unbalanced_limit(s, a0, b0)
    w_ref, a_ref = mp_end_point(s, a0, b0)
    assert rel_err(w, w_ref) < 1e-15 and rel_err(a, a_ref) < 1e-15


def test_unbalanced_limit_nearly_balanced_starts_whose_squares_overflow():
    # a0^2 and b0^2 overflow (a0 - b0 = 1e-10 a0), but the conserved difference does not:
    # a_inf^2 = (d + sqrt(d^2 + 4 s^2))/2 with |d| ~ 2e306
    s, a0, b0 = 1.0, 1e158, 1e158 * (1 - 1e-10)
    w_ref, a_ref = mp_end_point(s, a0, b0)
    with no_warnings():
        w, a = dl.unbalanced_limit(s, a0, b0)
        w2, a2 = dl.unbalanced_limit(s, b0, a0)  # mirror: the roles of the two factors swap
    assert rel_err(w, w_ref) < 1e-14 and rel_err(a, a_ref) < 1e-14
    assert w2 == a and a2 == w


def test_unbalanced_limit_error_names_the_end_point():
    # For finite starts the end point itself is always representable (a_inf^2 <= max(a0^2, b0^2) + s),
    # so the only documented failure is the overflow of intermediates at s near the float limit.
    # Either the end point is right, or the message is the documented one, word for word.
    s = 1e308
    w_ref, a_ref = mp_end_point(s, 1.0, 0.0)
    try:
        w, a = dl.unbalanced_limit(s, 1.0, 0.0)
    except ValueError as e:
        assert str(e) == END_MSG
    else:
        assert rel_err(w, w_ref) < 1e-15 and rel_err(a, a_ref) < 1e-15
