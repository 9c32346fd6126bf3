"""Mutation re-run 3 (part b) for :func:`theorylib.theory.linear_attention.unbalanced_drop_time`.

Documented properties at the edges of the float range: the drop time is the docstring's
quadrature ``t = tau * int dv / ((v^2 - delta)(lam^2 - lam^3 c v (v^2 - delta)))`` (checked against
an mpmath reference written in the variable ``s = kappa^2``), it is returned accurately when a
factor of ``tau / (lam^2 v0)`` over- or underflows, a valid start is accepted and a start past the
midpoint is rejected even when ``v0 kappa0^2`` or ``(1 - 1/sqrt 2)/(lam c)`` is not representable,
and none of this emits a floating-point RuntimeWarning (the function handles the extremes itself).
See tools/mutation/rerun3_udt_b.md.
"""
from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest

from theorylib.theory import linear_attention as la

PAST_MSG = (r"^the head starts at or past the midpoint of its drop: "
            r"need v0·κ0² < \(1 − 1/√2\)/\(λc\)$")
EXTREME_MSG = (r"^the drop time is not representable as a finite float: "
               r"λ, v0, κ0 or τ too extreme$")


def _ref_drop_time(lam, tr, N, v0, kappa0, tau=1.0, dps=20, npts=9):
    """mpmath quadrature of the docstring's integral ``t = tau * int dv / (k2 (lam^2 - lam^3 c v k2))``
    with ``k2 = v^2 - delta = kappa0^2 + v^2 - v0^2``, from ``v0`` to the midpoint ``lam c v k2 = 1 - 1/sqrt 2``
    (mpmath has no exponent range limits). For ``kappa0 <= v0`` the variable is ``u = ln(k2 / kappa0^2)``
    (``dv = kappa0^2 e^u du / (2 v)``: v hardly moves while k2 grows), else ``w = ln v``."""
    with mp.workdps(dps):
        lam, tr, N, v0, k0, tau = (mp.mpf(x) for x in (lam, tr, N, v0, kappa0, tau))
        c = 1 + (1 + tr / lam) / N
        mid = 1 - 1 / mp.sqrt(2)
        s0 = k0**2
        if k0 <= v0:
            v = lambda u: mp.sqrt(v0**2 + s0 * mp.expm1(u))
            q = lambda u: lam * c * v(u) * s0 * mp.exp(u)
            f = lambda u: 1 / (2 * v(u) * (1 - q(u)))  # k2 cancels against ds = k2 du
        else:
            k2 = lambda w: s0 + (mp.exp(2 * w) - v0**2)
            q = lambda w: lam * c * mp.exp(w) * k2(w)
            f = lambda w: mp.exp(w) / (k2(w) * (1 - q(w)))
        g = lambda y: mp.log(q(y)) - mp.log(mid)
        lo = mp.mpf(0) if k0 <= v0 else mp.log(v0)
        hi = lo + 1
        while g(hi) < 0:
            hi = lo + 2 * (hi - lo)
        a, b = lo, hi
        for _ in range(90):  # bisection: g increases
            m = (a + b) / 2
            if g(m) < 0:
                a = m
            else:
                b = m
        pts = mp.linspace(lo, (a + b) / 2, npts)
        return float(tau / lam**2 * mp.quad(f, pts))


def _call_no_fp_warning(*args, **kw):
    """Call unbalanced_drop_time with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return la.unbalanced_drop_time(*args, **kw)


def test_reference_matches_moderate_case():
    # sanity of the reference itself at ordinary scales
    args = (0.7, 2.0, 5.0, 0.01, 0.03, 1.5)
    assert la.unbalanced_drop_time(*args) == pytest.approx(_ref_drop_time(*args), rel=1e-9, abs=0)


def _scaled(mu, tr, N, w0, k0, m):
    """Scaling law of the docstring's ODE ``tau v' = k2 (lam^2 - lam^3 c v k2)``: with ``v = 2^-m w``,
    ``kappa = 2^-m k`` and ``lam, tr -> 2^(3m) (lam, tr)`` (c unchanged) it becomes
    ``(2^(5m) tau) w' = k2 (mu^2 - mu^3 c w k2)`` with the same midpoint ``lam c v kappa^2``.
    So t(2^(3m) mu, 2^(3m) tr, N, 2^-m w0, 2^-m k0, tau) = 2^(-5m) tau t(mu, tr, N, w0, k0, 1).
    Returns the extreme arguments (without tau) and the moderate-scale time t(mu, tr, N, w0, k0, 1)
    as an mpmath number (powers of two: every scaled argument is exact)."""
    args = (math.ldexp(mu, 3 * m), math.ldexp(tr, 3 * m), N, math.ldexp(w0, -m), math.ldexp(k0, -m))
    return args, mp.mpf(la.unbalanced_drop_time(mu, tr, N, w0, k0, 1.0))


def _times_pow2(t1, tau, m):
    return float(t1 * mp.mpf(tau) * mp.mpf(2) ** (-5 * m))


def test_drop_time_when_tau_over_lam_squared_overflows():
    # lam = 2^-531 ~ 9e-161, v0 = kappa0 ~ 1e20, tau = 1: (tau/lam)/lam = 2^1062 overflows,
    # while the drop time (~5e299) does not
    args, t1 = _scaled(1.0, 1.0, 1.0, 5e-34, 5e-34, -177)
    got = _call_no_fp_warning(*args, 1.0)
    assert got == pytest.approx(_times_pow2(t1, 1.0, -177), rel=1e-12, abs=0)
    assert 1e299 < got < 1e300


def test_drop_time_when_tau_over_lam_squared_underflows():
    # lam ~ 9e19, v0 = kappa0 ~ 1e-100, tau = 1e-300: (tau/lam)/lam ~ 1e-340 underflows to 0;
    # the drop time itself is ~1e-240
    args, t1 = _scaled(1.25, 1.25, 1.0, 4.2e-94, 4.2e-94, 22)
    got = _call_no_fp_warning(*args, 1e-300)
    assert got == pytest.approx(_times_pow2(t1, 1e-300, 22), rel=1e-12, abs=0)
    assert 1e-241 < got < 1e-239


def test_drop_time_beyond_float_range_raises_without_warning():
    # tau/(lam^2 v0) ~ 1e400: not representable -> the documented ValueError, no RuntimeWarning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=EXTREME_MSG):
            la.unbalanced_drop_time(1e-200, 1e-200, 1.0, 1.0, 1.0)


def test_valid_start_when_midpoint_target_and_product_overflow():
    # lam c = 3e-310: (1 - 1/sqrt2)/(lam c) ~ 9.8e308 and v0 kappa0^2 = 5e308 both overflow,
    # yet lam c v0 kappa0^2 = 0.15 < 1 - 1/sqrt2: a valid start, accepted without a warning
    args = (1e-310, 1e-310, 1.0, 5e300, 1e4, 1e-30)
    got = _call_no_fp_warning(*args)
    assert got == pytest.approx(_ref_drop_time(*args), rel=1e-8, abs=0)


def test_valid_start_when_midpoint_target_underflows_to_zero():
    # lam = 12 * 2^1020 ~ 1.3e308 and c = 3: lam c overflows, so the target (1 - 1/sqrt2)/(lam c)
    # is 0 and v0 kappa0^2 (~1e-470) underflows to 0; lam c v0 kappa0^2 ~ 1e-162 is far below
    # the midpoint: a valid start. (tau/lam)/lam (~6e-327) underflows to 0 as well.
    args, t1 = _scaled(12.0, 12.0, 1.0, 2.2e-48, 2.2e-58, 340)
    assert args[0] * 3.0 == math.inf and args[3] * args[4] ** 2 == 0.0
    got = _call_no_fp_warning(*args, 1e290)
    assert got == pytest.approx(_times_pow2(t1, 1e290, 340), rel=1e-12, abs=0)


@pytest.mark.parametrize("args", [
    (1.0, 1.0, 1.0, 1e300, 1e10),        # v0 kappa0^2 overflows, lam c v0 kappa0^2 = 3e320
    (1e-310, 1e-310, 1.0, 1e301, 1e4),   # both overflow, lam c v0 kappa0^2 = 0.3 > 1 - 1/sqrt2
], ids=["product-overflows", "product-and-target-overflow"])
def test_start_past_midpoint_rejected_outside_float_range(args):
    with pytest.raises(ValueError, match=PAST_MSG):
        la.unbalanced_drop_time(*args)


def test_start_within_rounding_of_midpoint_gives_zero_without_warning():
    # v0 kappa0^2 is the largest double below the midpoint target for these values (the head
    # starts at its midpoint up to rounding): the drop time is 0, with no divide-by-zero warning
    got = _call_no_fp_warning(1.0, 1.0, 1.0, 0.5, 0.4418847653807891)
    assert got == 0.0


@pytest.mark.parametrize("args", [
    (1e307, 1e307, 1.0, 1e-150, 1e-160, 1e290),  # (1 - 1/sqrt2)/(lam c) ~ 1e-308 is subnormal
    (1.0, 1.0, 1.0, 0.01, 0.01, 1e-320),         # the drop time itself is subnormal
    (1.0, 1.0, 1.0, 0.01, 0.01, 1e-310),
], ids=["subnormal-target", "subnormal-time-1e-320", "subnormal-time-1e-310"])
def test_result_independent_of_callers_numpy_error_state(args):
    # the function handles under- and overflow of its intermediate products itself: a caller
    # that has numpy raise on every floating-point event gets the same value
    want = la.unbalanced_drop_time(*args)
    with np.errstate(all="raise"):
        got = la.unbalanced_drop_time(*args)
    assert got == want
    assert 0 < got < 1e-170


def test_start_just_below_midpoint_with_product_at_smallest_normal_is_accepted():
    # v0 kappa0^2 = 2^-1022 (the smallest normal double, representable) lies below the target
    # (1 - 1/sqrt2)/(lam c) in exact arithmetic (checked with mpmath), by about 1e-13 relative:
    # a valid start, at its midpoint up to rounding, so the drop time is ~0 and no error is raised
    lam, v0 = 4.3877677392384444e306, 2.0 ** -1022
    with mp.workdps(40):
        assert mp.mpf(lam) * 3 * mp.mpf(v0) < 1 - 1 / mp.sqrt(2)  # c = 1 + (1 + 1)/1 = 3
    got = _call_no_fp_warning(lam, lam, 1.0, v0, 1.0)
    assert 0.0 <= got < 1e-300
