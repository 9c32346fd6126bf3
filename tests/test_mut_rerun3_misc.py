"""Tests written for the third mutation rerun (split_function, mode_strength, unbalanced_limit,
head_strength); see tools/mutation/rerun3_misc.md for the mutant table."""
import re
import warnings

import mpmath as mp
import numpy as np
import pytest

from theorylib.theory.deep_linear import unbalanced_limit
from theorylib.theory.linear_attention import head_strength, head_time

FMAX = np.finfo(float).max
END_POINT_MSG = "the end point is not representable as a finite float: a0, b0 or s too large"


def _end_point_ref(s, a0, b0):
    """Larger end-point magnitude sqrt((|d| + sqrt(d^2 + 4 s^2)) / 2), d = b0^2 - a0^2, at 30 digits."""
    with mp.workdps(30):
        s, a0, b0 = mp.mpf(s), mp.mpf(a0), mp.mpf(b0)
        d = b0 * b0 - a0 * a0
        return mp.sqrt((abs(d) + mp.sqrt(d * d + 4 * s * s)) / 2)


def test_unbalanced_limit_at_float_limit_value_or_exact_message():
    # w0 = max float, a0 = 1e300, s = max float: the exact end point is
    # w_inf = FMAX * (1 - 1.5e-17), which rounds to FMAX, and a_inf = s / w_inf = 1.
    # The current code rounds the intermediate to inf and refuses with its overflow message;
    # either the (finite) value or that exact message is accepted.
    s, a0, b0 = FMAX, FMAX, 1e300
    ref = _end_point_ref(s, a0, b0)
    assert float(ref) == FMAX
    try:
        w, a = unbalanced_limit(s, a0, b0)
    except ValueError as err:
        assert re.fullmatch(re.escape(END_POINT_MSG), str(err)), str(err)
    else:
        assert float(w) == pytest.approx(FMAX, rel=1e-15, abs=0)
        assert float(a) == pytest.approx(1.0, rel=1e-15, abs=0)


def test_head_strength_emits_no_warning_and_inverts_head_time():
    lam, tr, N, v0 = 1.0, 2.0, 10.0, 0.1
    t = np.array([0.0, 1.0, 5.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning / DeprecationWarning fails the test
        v = head_strength(t, v0, lam, tr, N)
    assert v.shape == t.shape
    assert v[0] == pytest.approx(v0, rel=1e-13, abs=0)
    for ti, vi in zip(t[1:], v[1:]):
        assert float(head_time(vi, v0, lam, tr, N)) == pytest.approx(ti, rel=1e-11, abs=0)


@pytest.mark.parametrize("v0", [3e-318, 1e-322])
def test_head_strength_subnormal_start_stays_put_over_unit_time(v0):
    # tau v' = lam^2 v^2 - lam^3 c v^5: for tiny v, v(t) = v0 / (1 - lam^2 v0 t / tau); at t <= 1
    # and a subnormal v0 the change lam^2 v0^2 t is far below one unit in the last place, so
    # v(t) = v0 to the float (subnormal) precision.
    t = np.array([0.0, 1e-10, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # -1/u overflows inside F for such v0
        v = head_strength(t, v0, 1.0, 2.0, 10.0)
    np.testing.assert_allclose(v, v0, rtol=1e-5, atol=0)
