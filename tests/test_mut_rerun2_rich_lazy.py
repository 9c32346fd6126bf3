"""Tests for the survivors of the rerun of sim/rich_lazy.split_function and theory/rich_lazy
(_scaled_GNP, _whitened_setup) after their rewrite; notes in tools/mutation/rerun2_rich_lazy.md.

Every reference value is independent of the code under test: 40-digit mpmath roots of the
split's quadratic, and the closed-form limit a_inf^2 = (delta + Omega)/(2 eta_w), w -> beta*/a_inf.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from _wallclock import time_limit
from theorylib.sim import rich_lazy as rs
from theorylib.theory import rich_lazy as th

TINY = 2.0**-1074  # the smallest positive (subnormal) float


def _root(bn, delta, eta_a=1.0, eta_w=1.0):
    """40-digit |a0|: eta_w a0^2 is the positive root of x^2 - delta x - eta_a eta_w bn^2 = 0."""
    with mpmath.workdps(40):
        bn, d, ea, ew = (mpmath.mpf(v) for v in (bn, delta, eta_a, eta_w))
        q = mpmath.sqrt(d * d + 4 * ea * ew * bn * bn)
        x = (d + q) / 2 if d >= 0 else 2 * ea * ew * bn * bn / (q - d)
        return mpmath.sqrt(x / ew)


def _split(*args, **kw):
    with time_limit(3.0):
        return rs.split_function(*args, **kw)


# ======================================================================= split_function
def test_split_function_reads_fractions_and_big_integers_as_floats():
    """array_like beta0 of Fractions and of Python ints beyond int64 (numpy makes object arrays
    of both) is read as float: the split equals the split of the float values."""
    cases = [
        ([Fraction(3, 4), Fraction(-1, 2)], 0.5),
        ([[3 * 10**19, 4 * 10**19], [10**20, 0]], [0.5, -2.0]),
    ]
    for beta0, delta in cases:
        p = _split(beta0, delta)
        ref = _split(np.array(beta0, dtype=float), delta)
        assert p["a"].dtype == np.float64 and p["w"].dtype == np.float64
        np.testing.assert_array_equal(p["a"], ref["a"])
        np.testing.assert_array_equal(p["w"], ref["w"])
        b = np.atleast_2d(np.array(beta0, dtype=float))
        dl = np.broadcast_to(np.asarray(delta, float), (b.shape[0],))
        for e in range(b.shape[0]):
            bn = math.hypot(*b[e])
            assert p["a"][e] == pytest.approx(float(_root(bn, dl[e])), rel=1e-15, abs=0)
        np.testing.assert_allclose(p["a"][:, None] * p["w"], b, rtol=1e-15, atol=0)


def test_split_function_of_functions_with_no_entries():
    """d = 0: beta0 = 0 has the split a0 = sqrt(delta/eta_w), w0 of shape (E, 0) for delta > 0,
    and none for delta <= 0 (the documented ValueError)."""
    p = _split(np.zeros((2, 0)), [1.0, 9.0])
    assert p["a"].tolist() == [1.0, 3.0]
    assert p["w"].shape == (2, 0) and p["w"].dtype == np.float64
    p = _split(np.zeros(0), 8.0, eta_w=2.0)
    assert p["a"].tolist() == [2.0] and p["w"].shape == (1, 0)
    msg = "beta0 = 0 with delta <= 0 forces a0 = 0: no split exists"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        _split(np.zeros(0), 0.0)


@pytest.mark.parametrize("delta, eta_a, eta_w", [(-1e300, 1.0, 1.0), (-4e200, 0.25, 3.0)])
def test_split_function_rounds_a_readout_just_below_the_smallest_subnormal(delta, eta_a, eta_w):
    """The root |a0| = (1 - 1e-9) * 2^-1074 rounds to the smallest subnormal: the split returns
    that float (then w0 = beta0/a0 and delta are met to ~1e-9), with no error and no hang."""
    with mpmath.workdps(40):
        a_true = (1 - mpmath.mpf("1e-9")) * mpmath.mpf(TINY)
        # beta0 from the constraint eta_w a^2 - eta_a (bn/a)^2 = delta
        bn = float(a_true * mpmath.sqrt((eta_w * a_true**2 - mpmath.mpf(delta)) / eta_a))
        root = _root(bn, delta, eta_a, eta_w)
        assert TINY / 2 < root < TINY and float(root) == TINY
    p = _split([bn], delta, eta_a=eta_a, eta_w=eta_w)
    assert p["a"].tolist() == [TINY]
    assert p["w"][0, 0] == pytest.approx(bn / TINY, rel=1e-15, abs=0)
    d_back = eta_w * p["a"][0] ** 2 - eta_a * p["w"][0, 0] ** 2
    assert d_back == pytest.approx(delta, rel=1e-8, abs=0)


@pytest.mark.parametrize("delta", [-0.5, -1.0])
def test_split_function_of_a_readout_at_the_top_of_the_float_range(delta):
    """eta_w = 2^-1074, eta_a = 2^972, beta0 = 2^1023: both terms of the constraint are 2^972 at
    |a0| = 2^1023, so for delta in [-1, 0) the root is 2^1023 (1 - ~2^-975), whose nearest float
    2^1023 is finite; the split returns it (w0 = 1) instead of an out-of-range error."""
    eta_a, eta_w, bn = 2.0**972, 2.0**-1074, 2.0**1023
    assert float(_root(bn, delta, eta_a, eta_w)) == 2.0**1023
    p = _split([bn], delta, eta_a=eta_a, eta_w=eta_w)
    assert p["a"].tolist() == [2.0**1023]
    assert p["w"].tolist() == [[1.0]]


@pytest.mark.parametrize("bn", [1e-246, 1e-250, 1e-280])
def test_split_function_converges_for_readouts_near_1e_161(bn):
    """beta0 = bn, delta = -1e-170: |a0| ~ bn * 1e85 (from 1e-161 to 1e-195). The root is found
    to double precision (brentq needs 114 to 147 steps from the search's bracket)."""
    p = _split([bn], -1e-170)
    root = float(_root(bn, -1e-170))
    assert p["a"][0] == pytest.approx(root, rel=1e-15, abs=0)
    assert p["a"][0] * p["w"][0, 0] == pytest.approx(bn, rel=1e-15, abs=0)


# ======================================================================= single_neuron
@pytest.mark.parametrize("u", [1.2, 1.8, 1.95])
def test_single_neuron_reaches_its_limit_at_huge_times_with_a_tiny_negative_delta(u):
    """a0 = 2^-511, w0 = (2^-511, 2^-511), beta* = e1: delta = -2^-1022 (the smallest normal),
    Omega = 2, r = 1. At t = u/|delta| (5.4e307 to 8.8e307, |delta| t = u in (1, 2)) the flow has long
    converged: a = a_inf = sqrt((delta + Omega)/2) = 1 and w = beta*/a_inf = e1 (the docstring:
    "cannot overflow, for any t >= 0")."""
    a0, w0, bs = 2.0**-511, np.array([2.0**-511, 2.0**-511]), np.array([1.0, 0.0])
    delta = float(th.conserved_quantity(a0, w0))
    assert delta == -(2.0**-1022)
    t = u / abs(delta)
    a, w = th.single_neuron(t, a0, w0, bs)
    a_inf = math.sqrt((delta + math.hypot(delta, 2.0)) / 2)
    assert a_inf == 1.0
    assert np.isfinite(a) and a == pytest.approx(a_inf, rel=1e-15, abs=0)
    np.testing.assert_allclose(w, bs / a_inf, rtol=0, atol=1e-15)
    # and the same from an array of times, the first one moderate (from a0 ~ 1.5e-154 the
    # readout grows like a0 e^t, so it is at a_inf long before t = 1000)
    a2, w2 = th.single_neuron(np.array([1000.0, t]), a0, w0, bs)
    assert a2[1] == a and np.array_equal(w2[1], w)
    assert a2[0] == pytest.approx(1.0, rel=1e-15, abs=0)
