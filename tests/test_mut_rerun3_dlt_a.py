"""Mutation-rerun tests for ``deep_learning_time`` (see tools/mutation/rerun3_dlt_a.md).

References: for ``L = 1`` the flow ``tau du/dt = s - u`` gives ``t = tau ln((s - u0)/(s - u))``
exactly; otherwise a cheap mpmath quadrature of ``tau / (L v^(2-2/L) (s - v))`` (the docstring's
ODE ``tau du/dt = L u^(2-2/L) (s - u)``).
"""
import math

import mpmath as mp
import numpy as np
import pytest

from theorylib.theory.deep_linear import deep_learning_time

ULP = 5e-324  # the smallest positive subnormal float
RAISE = dict(divide="raise", over="raise", invalid="raise")


def _ref(s, u0, u, L, tau=1.0):
    with mp.workdps(20):
        s, u0, u = mp.mpf(s), mp.mpf(u0), mp.mpf(u)
        f = lambda v: tau / (L * v ** (2 - mp.mpf(2) / L) * (s - v))
        return float(mp.quad(f, [u0, u]))


def test_subnormal_s_u0_at_rounded_half():
    # s = 5 ulp, so s/2 rounds to 2 ulp = u0, yet u0/s = 0.4 lies below one half
    t = deep_learning_time(5 * ULP, 2 * ULP, 4 * ULP, 1)
    assert t == pytest.approx(math.log(3.0), rel=1e-12, abs=0)


def test_subnormal_u_at_rounded_half():
    # u = 2 ulp equals the rounded s/2 although u/s = 0.4
    t = deep_learning_time(5 * ULP, 1 * ULP, 2 * ULP, 1)
    assert t == pytest.approx(math.log(4.0 / 3.0), rel=1e-12, abs=0)


def test_underflowing_time_is_zero():
    # exact t = ln((s - u0)/(s - u)) ~ 1e-600 underflows: the nearest float is 0
    t = deep_learning_time(1e300, 1e-300, 2e-300, 1)
    assert np.asarray(t).dtype == np.float64
    assert 0.0 <= float(t) < np.finfo(float).tiny


@pytest.mark.parametrize("L", [1, 3])
def test_close_pair_near_s(L):
    # u - u0 is small against u0 but not against s - u: the pole at v = s is close
    t = deep_learning_time(1.0, 0.99, 0.9999, L)
    ref = math.log(100.0) if L == 1 else _ref(1.0, 0.99, 0.9999, L)
    assert t == pytest.approx(ref, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(s=np.array([1.0, 2.0, 4.0]), u0=0.3, u=0.9),
        dict(s=1.0, u0=np.array([0.1, 0.2, 0.3]), u=0.9),
        dict(s=1.0, u0=0.3, u=np.array([0.6, 0.8, 0.95])),
        dict(s=1.0, u0=np.array([0.3, 0.31, 0.2]), u=0.31),
    ],
    ids=["s-array", "u0-array", "u-array", "u0-array-near"],
)
def test_broadcast_one_array_argument(kwargs):
    t = deep_learning_time(kwargs["s"], kwargs["u0"], kwargs["u"], 3)
    b = np.broadcast(kwargs["s"], kwargs["u0"], kwargs["u"])
    assert np.shape(t) == b.shape
    for i, (s, u0, u) in enumerate(b):
        assert t[i] == pytest.approx(_ref(s, u0, u, 3), rel=1e-12, abs=1e-300)


def test_equal_endpoints_under_raising_errstate():
    # u = u0: the time is 0; the function must not depend on the caller's numpy error state
    with np.errstate(**RAISE):
        assert deep_learning_time(1.0, 0.3, 0.3, 3) == 0.0
        assert deep_learning_time(1e-300, 1e-301, 1e-301, 3) == 0.0


def test_close_tiny_pair_under_raising_errstate():
    ref = _ref(1e300, 1e-300, 1.01e-300, 5)
    with np.errstate(**RAISE):
        t = deep_learning_time(1e300, 1e-300, 1.01e-300, 5)
    assert t == pytest.approx(ref, rel=1e-11, abs=0)


def test_other_paths_under_raising_errstate():
    with np.errstate(**RAISE):
        t1 = deep_learning_time(1.0, 0.99, 0.9999, 3)
        t2 = deep_learning_time(1e300, 1e-300, 2e-300, 1)
        t3 = deep_learning_time(1.0, 0.1, 0.9, 4)
    assert t1 == pytest.approx(_ref(1.0, 0.99, 0.9999, 3), rel=1e-12, abs=0)
    assert t2 == 0.0
    assert t3 == pytest.approx(_ref(1.0, 0.1, 0.9, 4), rel=1e-12, abs=0)
