"""Mutation-driven tests for ``theorylib.theory.deep_linear.learning_time`` (rerun 2).

``learning_time`` evaluates Saxe et al.'s eq. 11, ``t = (tau/2s) ln[u(s - u0) / (u0(s - u))]``,
and switches to a sum of logs where the products ``u(s - u0)`` or ``u0(s - u)`` leave the normal
float range. These tests pin down

* the domain messages (``u = s`` approached from above),
* that no floating-point warning or error escapes, whatever the caller's ``np.errstate``,
* the accuracy of the time (40-digit mpmath reference, 1e-14 relative, the project's standard in
  ``test_extreme_precision.py``) at inputs where a product sits at, just inside or just outside
  the normal range, all of them well conditioned or with an exactly representable ``s - u``,
* the message when the time itself is beyond the float range.

See ``tools/mutation/rerun2_deep_linear_learning_time.md``.
"""
from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest

from theorylib.theory import deep_linear as dl

TINY = np.finfo(float).tiny  # smallest normal float, 2**-1022


def _reference(s, u0, u, tau=1.0):
    """Eq. 11 at 40 digits from the exact binary values of the float arguments.

    ``ln ratio`` is written as ``log1p(ratio - 1)`` with ``ratio - 1 = s(u - u0) / (u0(s - u))``
    (exact algebra), so no digits are lost when the ratio is close to 1."""
    with mp.workdps(40):
        s, u0, u, tau = (mp.mpf(float(v)) for v in (s, u0, u, tau))
        return tau / (2 * s) * mp.log1p(s * (u - u0) / (u0 * (s - u)))


def _assert_close(t, ref, rtol=1e-14):
    t = float(t)
    ref = float(ref)
    assert np.isfinite(t)
    assert abs(t - ref) <= rtol * abs(ref), (t, ref, (t - ref) / ref)


# --------------------------------------------------------------------------- domain messages


def test_u_equal_to_s_from_above_is_rejected_with_the_same_side_message():
    # u0 > s and u = s: the mode decays towards s but never reaches it
    msg = r"^u0 and u must lie strictly on the same side of s: the mode approaches s but never reaches it$"
    with pytest.raises(ValueError, match=msg):
        dl.learning_time(1.0, 2.0, 1.0)
    with pytest.raises(ValueError, match=msg):
        dl.learning_time([1.0, 1.0], [2.0, 3.0], [1.5, 1.0])  # one bad entry is enough
    with pytest.raises(ValueError, match=msg):
        dl.learning_time(1.0, 0.5, 1.0)  # and from below


def test_time_beyond_the_float_range_is_reported_with_its_name_and_reason():
    # t = (1e300 / 2e-10) ln 9 ~ 1.1e310 > max float: a genuine overflow, not a false error
    assert _reference(1e-10, 1e-11, 5e-11, 1e300) > mp.mpf(np.finfo(float).max)
    msg = r"^the learning time is not representable as a finite float: s, u0, u or \u03c4 too extreme$"
    with pytest.raises(ValueError, match=msg):
        dl.learning_time(1e-10, 1e-11, 5e-11, tau=1e300)


# ------------------------------------------------ no warnings, independent of the caller's errstate

EDGE_CASES = {
    # u(s - u0) and u0(s - u) overflow to inf: inf/inf inside the ratio
    "products-overflow": (1e300, 1e299, 5e299),
    # u0(s - u) = 5e-324 * 0.25 underflows to 0 while u(s - u0) = 0.75: division by zero
    "denominator-underflows-to-zero": (1.0, 5e-324, 0.75),
    # both products underflow to 0: 0/0
    "both-products-underflow-to-zero": (1e-10, 5e-321, 1e-320),
    # both products subnormal but non-zero
    "products-subnormal": (1e-160, 1e-170, 5e-161),
    # an ordinary time, from above
    "ordinary-from-above": (1.0, 3.0, 2.0),
}


@pytest.mark.parametrize("s, u0, u", list(EDGE_CASES.values()), ids=list(EDGE_CASES))
def test_no_floating_point_warning_escapes_even_under_a_strict_errstate(s, u0, u):
    # the over/underflow is handled inside; the caller sees neither a warning nor an error,
    # even with every numpy floating-point condition set to raise and warnings turned to errors
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            t = dl.learning_time(s, u0, u)
    # the value too (loosely: where both products underflow the sum of logs ~ 736 keeps ~1e-13)
    _assert_close(t, _reference(s, u0, u), rtol=1e-12)


def test_no_warning_for_an_array_mixing_normal_and_extreme_entries():
    cases = list(EDGE_CASES.values())
    s, u0, u = (np.array(c) for c in zip(*cases))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="warn"):
            t = dl.learning_time(s, u0, u)
    assert t.shape == (len(cases),)
    for ti, c in zip(t, cases):
        _assert_close(ti, _reference(*c), rtol=1e-12)


# ----------------------------------------------------- accuracy where the products are near tiny


def test_accurate_for_a_short_decay_at_huge_scale():
    # s = 2^508, u0 = 3s, u = 2.5s: products ~ 1e307 (normal), ln ratio = ln(10/9) ~ 0.105,
    # condition number ~ 12. A sum of four logs ~ 354 would lose ~4e-13 here.
    s = 2.0**508
    u0, u = 3.0 * s, 2.5 * s
    assert np.isfinite(u * (u0 - s)) and np.isfinite(u0 * (u - s))
    _assert_close(dl.learning_time(s, u0, u), _reference(s, u0, u))


def test_accurate_when_u0_times_s_minus_u_is_exactly_the_smallest_normal():
    # u0 = 2^-514, u = 1.25 u0, s = u + 2^-508: u0(s - u) = 2^-1022 exactly (all exact in binary),
    # ratio = 1.25 (1 + 2^-8): ln ratio ~ 0.227, condition number ~ 5
    u0 = 2.0**-514
    u = 1.25 * u0
    s = u + 2.0**-508
    assert u0 * (s - u) == TINY and s - u == 2.0**-508
    assert u * (s - u0) > TINY
    _assert_close(dl.learning_time(s, u0, u), _reference(s, u0, u))


def test_accurate_when_u_over_s_minus_u0_is_below_tiny_but_the_products_are_normal():
    # s = 2^300, u0 = 2^-750, u = 1.1 u0: u/(s - u0) ~ 1e-316 (subnormal), while u(s - u0) and
    # u0(s - u) ~ 1e-136 are normal; ln ratio = ln 1.1 ~ 0.095, condition number ~ 11
    s = 2.0**300
    u0 = 2.0**-750
    u = 1.1 * u0
    assert u / (s - u0) < TINY
    assert u * (s - u0) >= TINY and u0 * (s - u) >= TINY
    _assert_close(dl.learning_time(s, u0, u), _reference(s, u0, u))


def test_accurate_when_u0_times_s_minus_u_is_deep_in_the_subnormals():
    # s = 2^-500, u = s/2 (well conditioned: u0 << u < s, ln ratio ~ 50): u0(s - u) ~ 6e-324,
    # only a few subnormal units, so the ratio itself would carry a relative error ~ 1e-2
    s = 2.0**-500
    u = s / 2
    u0 = 4.204901596430283e-173
    assert 0 < u0 * (s - u) < 1e-322
    assert u0 / (s - u) >= TINY and u * (s - u0) >= TINY
    _assert_close(dl.learning_time(s, u0, u), _reference(s, u0, u))


def test_accurate_when_u0_times_s_minus_u_is_subnormal_with_u_close_to_s():
    # s = 2^-400, u = s (1 - 2^-20) (so s - u = 2^-420 is exact), u0 just above tiny / (s + u):
    # u0(s + u) is normal but u0(s - u) ~ tiny * 2^-21 keeps only ~31 significant bits
    s = 2.0**-400
    u = s * (1.0 - 2.0**-20)
    u0 = 1.0123 * TINY / (s + u)
    assert s - u == 2.0**-420
    assert u0 * (s + u) >= TINY > u0 * (s - u)
    _assert_close(dl.learning_time(s, u0, u), _reference(s, u0, u))
