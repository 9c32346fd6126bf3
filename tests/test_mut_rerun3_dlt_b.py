"""Rerun-3 mutation tests for ``deep_learning_time`` (near-``u0`` Gauss-Legendre branch and
its log-space fallback; see tools/mutation/rerun3_dlt_b.md).

References: the defining integral t = tau * int_{u0}^{u} dv / (L v^{2-2/L} (s - v)) evaluated
by mpmath.quad at 20 digits (cheap: the intervals are short and the integrand is smooth).
"""
import warnings

import mpmath
import numpy as np
import pytest

from theorylib.theory.deep_linear import deep_learning_time


def _ref(s, u0, u, L, tau=1.0):
    with mpmath.workdps(20):
        s, u0, u = mpmath.mpf(s), mpmath.mpf(u0), mpmath.mpf(u)
        a = 2 - mpmath.mpf(2) / L
        return float(mpmath.mpf(tau) * mpmath.quad(lambda v: 1 / (L * v**a * (s - v)), [u0, u]))


# u within 5% of u0 (relative to min(u0, s - u)): the near-u0 quadrature branch
NEAR = [
    (2.0, 1.0, 1.001, 3, 2.0),  # ordinary scale, tau != 1
    (5.0, 0.5, 0.5004, 1, 0.25),
    (3.0, 1.0, 1.01, 2, 3.0),
]


@pytest.mark.parametrize("s,u0,u,L,tau", NEAR)
def test_near_branch_matches_integral_with_tau(s, u0, u, L, tau):
    t = deep_learning_time(s, u0, u, L, tau=tau)
    assert float(t) == pytest.approx(_ref(s, u0, u, L, tau), rel=1e-13, abs=0)


# there v^{2-2/L} (or L v^{2-2/L} (s - v)) under- or overflows: the log-space sum is used
EXTREME_NEAR = [
    (1.0, 1e-200, 1.01e-200, 10),  # v^1.8 underflows to 0
    (2e180, 1e180, 1.01e180, 3),  # L v^{4/3} (s - v) overflows, s - v comparable to s + v
    (1.0, 1e-250, 1.002e-250, 5),
]


@pytest.mark.parametrize("s,u0,u,L", EXTREME_NEAR)
def test_near_branch_log_space_matches_integral(s, u0, u, L):
    t = deep_learning_time(s, u0, u, L)
    assert np.isfinite(t) and t > 0
    assert float(t) == pytest.approx(_ref(s, u0, u, L), rel=1e-12, abs=0)


def test_near_branch_log_space_with_tau():
    s, u0, u, L = 2e180, 1e180, 1.01e180, 3
    assert float(deep_learning_time(s, u0, u, L, tau=4.0)) == pytest.approx(4.0 * _ref(s, u0, u, L), rel=1e-12, abs=0)


def test_near_branch_ordinary_scale_keeps_every_digit():
    # the docstring promises the near-u0 quadrature is exact to rounding; these points have
    # |ln| of the pieces ~ 200, where a detour through logs would cost ~1e-14
    pts = [(2e100, 1e100, 1.0001e100, 1), (3e120, 1e120, 1.0003e120, 1), (2e90, 1e90, 1.0002e90, 1),
           (4e110, 1e110, 1.0004e110, 1)]
    for s, u0, u, L in pts:
        t = float(deep_learning_time(s, u0, u, L))
        # L = 1: closed form t = ln((s - u0)/(s - u)) = log1p((u - u0)/(s - u))
        with mpmath.workdps(30):
            r = float(mpmath.log((mpmath.mpf(s) - u0) / (mpmath.mpf(s) - u)))
        assert t == pytest.approx(r, rel=5e-16, abs=0), (s, u0, u, t, r)


def test_near_branch_array_inputs_elementwise():
    s = np.array([2.0, 5.0, 3.0])
    u0 = np.array([1.0, 0.5, 1.0])
    u = np.array([1.001, 0.5004, 1.01])
    L = np.array([3, 1, 2])
    tau = np.array([2.0, 0.25, 3.0])
    t = deep_learning_time(s, u0, u, L, tau=tau)
    assert t.shape == (3,)
    for i in range(3):
        assert t[i] == pytest.approx(_ref(s[i], u0[i], u[i], int(L[i]), tau[i]), rel=1e-13, abs=0)
        assert t[i] == pytest.approx(float(deep_learning_time(s[i], u0[i], u[i], int(L[i]), tau=tau[i])), rel=1e-15, abs=0)


def test_near_branch_log_space_array_inputs_elementwise():
    s = np.array([1.0, 2e180])
    u0 = np.array([1e-200, 1e180])
    u = np.array([1.01e-200, 1.01e180])
    L = np.array([10, 3])
    t = deep_learning_time(s, u0, u, L)
    assert t.shape == (2,)
    for i in range(2):
        assert t[i] == pytest.approx(_ref(s[i], u0[i], u[i], int(L[i])), rel=1e-12, abs=0)


def test_mixed_near_and_far_array():
    s = np.array([1.0, 1.0, 1.0])
    u0 = np.array([0.1, 0.1, 0.1])
    u = np.array([0.1001, 0.5, 0.9])  # near, far (closed form), far (split-off log)
    t = deep_learning_time(s, u0, u, 3)
    assert t.dtype == np.float64 and t.shape == (3,)
    for i in range(3):
        assert t[i] == pytest.approx(_ref(1.0, 0.1, u[i], 3), rel=1e-12, abs=0)


def test_u_equal_u0_gives_zero_in_arrays():
    t = deep_learning_time(np.array([1.0, 1.0]), np.array([0.2, 0.2]), np.array([0.2, 0.2002]), 4)
    assert t[0] == 0.0
    assert t[1] == pytest.approx(_ref(1.0, 0.2, 0.2002, 4), rel=1e-13, abs=0)


def test_no_floating_point_warnings_or_errors_in_near_branch():
    # the near-u0 branch guards its under/overflows itself: under a strict caller-side numpy
    # error state (and with warnings as errors) it still returns the right value
    cases = [(1.0, 1e-300, 1e-300, 3), (1.0, 1e-200, 1.01e-200, 10), (1.0, 1e-250, 1.002e-250, 5),
             (2e180, 1e180, 1.01e180, 3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            out = [float(deep_learning_time(*c)) for c in cases]
    assert out[0] == 0.0
    for c, t in zip(cases[1:], out[1:]):
        assert t == pytest.approx(_ref(*c), rel=1e-12, abs=0)


def test_no_warnings_default_error_state():
    cases = [(1.0, 1e-300, 1e-300, 3), (1.0, 1e-300, 1e-300, 2), (1.0, 0.3, 1 - 2**-53, 3),
             (1.0, 1e-300, 0.9, 7), (1.0, 0.25, 0.75, 2), (1.0, 1e-100, 0.4, 2)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for c in cases:
            assert np.isfinite(deep_learning_time(*c))
