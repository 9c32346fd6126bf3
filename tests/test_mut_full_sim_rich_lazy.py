"""Tests that kill survivors of sim/rich_lazy.py from the full mutation run (mutmut 3.8.1).

Every expectation is an independent computation: a split ``(a0, w0)`` is checked by its two
defining constraints ``a0 w0 = beta0`` and ``eta_w a0^2 - eta_a |w0|^2 = delta`` (or by the
hand-solved root when ``beta0 = 0``), sums of samples against exact Python-integer arithmetic,
the tangent kernel against its Jacobian written out by hand, initialisations by their documented
norms and balance, and errors by the full anchored message. Inputs that a broken bracket search
would loop on forever run under a SIGALRM deadline, so such a failure is a quick error, not a
hang. Small sizes throughout: mutmut re-runs this file for every mutant.
"""
import contextlib
import math
import re
import warnings
from fractions import Fraction

import numpy as np
import pytest

from _wallclock import time_limit
from theorylib.sim import rich_lazy as rs

T = "\u1d40"  # superscript T of the messages, kept out of this file's source as an escape


@contextlib.contextmanager
def _quiet_and_quick(seconds=5.0):
    """Turn warnings into errors and fail (instead of hanging) after ``seconds`` of wall time."""
    with time_limit(seconds), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _split(*args, **kw):
    with _quiet_and_quick():
        return rs.split_function(*args, **kw)


def _assert_split(p, beta0, delta, eta_a=1.0, eta_w=1.0, rtol=1e-13):
    """The split's two defining constraints, from the returned a and w only."""
    beta0 = np.atleast_2d(np.asarray(beta0, float))
    a, w = p["a"], p["w"]
    assert a.dtype == np.float64 and w.dtype == np.float64
    np.testing.assert_allclose(a[:, None] * w, beta0, rtol=rtol, atol=0)
    scale = eta_w * a**2 + eta_a * np.sum(w**2, axis=1)
    np.testing.assert_allclose(eta_w * a**2 - eta_a * np.sum(w**2, axis=1) - delta, 0.0,
                               atol=1e-13 * np.max(scale))


# =============================================================== SampleSums
def test_sample_sums_reject_an_asymmetric_xtx_with_their_own_message():
    # off by 1.5e-12 where the transpose has 0: above the 1e-12 tolerance of entries <= 1
    with pytest.raises(ValueError, match="^" + re.escape(f"X{T}X must be symmetric") + "$"):
        rs.SampleSums(np.array([[1.0, 1.5e-12], [0.0, 1.0]]), np.zeros(2), 0.0)


def test_sample_sums_reject_yty_below_the_explained_part_with_the_full_message():
    # X^T X = I, X^T y = (1, 1): the best beta explains 2, so y^T y = 1 would give a negative loss
    msg = (f"yty (y{T}y) = 1 is below X{T}y\u00b7(X{T}X)\u207aX{T}y (the part the best \u03b2 explains)"
           " (2): the statistics are inconsistent (they would give a negative minimum loss)")
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        rs.SampleSums(np.eye(2), np.array([1.0, 1.0]), 1.0)


def test_sample_sums_from_large_integer_samples_are_computed_in_float():
    """Integer data of size ~4e9 (squares beyond int64) give the exact sums, rounded once."""
    X = [[4_000_000_000, 1], [1, 3_000_000_000], [2, 5]]
    y = [3_000_000_000, -4_000_000_000, 7]
    s = rs.SampleSums.from_samples(np.array(X), np.array(y))
    xtx = [[float(sum(r[i] * r[j] for r in X)) for j in range(2)] for i in range(2)]
    xty = [float(sum(r[i] * t for r, t in zip(X, y))) for i in range(2)]
    np.testing.assert_allclose(s.xtx, xtx, rtol=1e-15)
    np.testing.assert_allclose(s.xty, xty, rtol=1e-15)
    assert s.yty == pytest.approx(float(sum(t * t for t in y)), rel=1e-15)


def test_whitened_sums_of_a_large_integer_target():
    s = rs.SampleSums.whitened(np.array([3_000_000_000, 4_000_000_000]))
    np.testing.assert_array_equal(s.xtx, np.eye(2))
    np.testing.assert_array_equal(s.xty, [3e9, 4e9])
    assert s.yty == pytest.approx(2.5e19, rel=1e-15)  # 3e9^2 + 4e9^2, beyond int64


# =============================================================== SingleNeuron
@pytest.mark.parametrize("xtx, xty", [(np.eye(2), np.zeros(2)), (np.zeros((2, 2)), np.zeros(2))],
                         ids=["no-signal", "no-data"])
def test_stability_bound_without_curvature_is_infinite_without_a_warning(xtx, xty):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "divide by zero": the infinite case is explicit
        assert rs.SingleNeuron().stability_bound(rs.SampleSums(xtx, xty, 0.0)) == np.inf


def test_tangent_kernel_of_large_integer_inputs():
    """K = eta_a (w.x_i)(w.x_j) + eta_w a^2 x_i.x_j for f = a w.x; integer X is read as float
    (x x^T of entries ~4e9 exceeds int64)."""
    X = np.array([[4_000_000_000, 0], [1_000_000_000, 3_000_000_000]])
    a, w = np.array([0.5]), np.array([[2.5e-10, -1e-10]])
    K = rs.tangent_kernel(rs.SingleNeuron(), {"a": a, "w": w}, X, rates={"a": 2.0, "w": 3.0})
    Xf = X.astype(float)
    J_a = Xf @ w[0]
    ref = 2.0 * np.outer(J_a, J_a) + 3.0 * a[0] ** 2 * Xf @ Xf.T
    assert K.shape == (1, 2, 2)
    np.testing.assert_allclose(K[0], ref, rtol=1e-9)


# =============================================================== split_function
def test_split_function_rejects_a_zero_readout_rate():
    msg = "rates must be positive and finite; got eta_a=1.0, eta_w=0.0"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        rs.split_function([1.0, 0.0], -1.0, eta_a=1.0, eta_w=0.0)


@pytest.mark.parametrize("delta, eta_w, a0", [(0.5, 2.0, 0.5), (1.0, 4.0, 0.5), (0.75, 3.0, 0.5),
                                           (2.0**-1030, 1.0, 2.0**-515)])
def test_split_function_of_the_zero_function_with_positive_delta(delta, eta_w, a0):
    """beta0 = 0, delta > 0: w0 = 0 and eta_w a0^2 = delta (any delta > 0, also delta <= 1, down
    to a subnormal delta, where the halving search meets the root 2^-515 exactly)."""
    p = _split([0.0, 0.0], delta, eta_w=eta_w)
    assert p["a"][0] == pytest.approx(a0, rel=1e-15, abs=0)
    np.testing.assert_array_equal(p["w"], [[0.0, 0.0]])


def test_split_function_accepts_integer_and_rational_inputs():
    """beta0 of integers ~4e9 (|beta0|^2 beyond int64), delta and sign as Fractions: all read as
    float, and the split is returned as float arrays."""
    beta0 = [[3_000_000_000, 4_000_000_000], [1, 2]]
    delta = [Fraction(1, 7), Fraction(-1, 3)]
    p = _split(np.array(beta0), delta, eta_a=0.5, eta_w=2.0, sign=[Fraction(1), Fraction(-1)])
    _assert_split(p, beta0, np.array([1 / 7, -1 / 3]), eta_a=0.5, eta_w=2.0)
    # delta << |beta0|: nearly balanced, eta_w a0^4 = eta_a |beta0|^2 up to O(delta / |a0|^2)
    assert p["a"][0] ** 2 == pytest.approx(5e9 * math.sqrt(0.25), rel=1e-9)
    assert p["a"][0] > 0 > p["a"][1]


@pytest.mark.parametrize("beta0, delta, eta_a, eta_w", [
    ([3.0, 4.0], 1e6, 1.0, 1.0),          # |a0| ~ 1e3: the bracket is doubled from 1
    ([30.0, 0.0], 5.0, 2.0, 0.5),         # |a0| ~ 6.6
    ([1e-3, 0.0], -4.0, 1.0, 1.0),        # |a0| ~ 5e-4: the bracket is halved from 1
    ([0.1, -0.2], -0.5, 0.3, 2.0),        # |a0| ~ 0.25
    # tiny readouts, far below the search's start at 1 (a bracket [a0 / 2, 1] took brentq
    # 175 steps for the first, hundreds for the last two)
    ([1e-50, 0.0], -1.0, 1.0, 1.0),       # |a0| ~ 1e-50
    ([0.0, 1e-45], -1.0, 2.0, 0.5),
    ([1e-149], -1.0, 1.0, 1.0),           # |a0| ~ 1e-149
    ([1e-147], -1e3, 1.0, 1.0),           # |a0| ~ 3e-149
])
def test_split_function_meets_its_constraints_for_large_and_small_readouts(beta0, delta, eta_a, eta_w):
    p = _split(beta0, delta, eta_a=eta_a, eta_w=eta_w)
    _assert_split(p, beta0, delta, eta_a, eta_w)


def test_split_function_near_the_largest_float():
    """beta0 = 0, eta_w = 2^-1074, delta = 2^971: a0 = sqrt(delta / eta_w) = 2^1022.5, found
    between 2^1022 and 2^1023 (the doubling stops one step before overflow)."""
    p = _split([0.0], 2.0**971, eta_w=2.0**-1074)
    assert p["a"][0] == pytest.approx(2.0**1022 * math.sqrt(2.0), rel=1e-15)
    np.testing.assert_array_equal(p["w"], [[0.0]])


def test_split_function_converges_for_tiny_functions_with_negative_delta():
    """|beta0| = 1e-150, delta = -1: a0 ~ 1e-150. Before the fix the bracket stayed [a0/2, 1]
    and brentq gave up after 500 steps (RuntimeError)."""
    p = _split([1e-150, 0.0], -1.0)
    _assert_split(p, [1e-150, 0.0], -1.0)
    assert p["a"][0] == pytest.approx(1e-150, rel=1e-13, abs=0)  # a0^2 = (-1 + sqrt(1 + 4e-300)) / 2


# =============================================================== TwoLayerReLU and its inits
def test_relu_gradient_treats_zero_preactivation_as_inactive():
    """relu'(0) = 0 (the unit is on only for w.x > 0, as in activation_change): a neuron with
    w = 0 gets no gradient, and a sample with w.x = 0 does not reach w."""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([1.0, -2.0, 0.5])
    W = np.array([[[1.0, 0.0], [0.0, 0.0]]])   # unit 0: z = (1, 0, 1); unit 1: z = 0 everywhere
    a = np.array([[2.0, 3.0]])
    g = rs.TwoLayerReLU().grad({"W": W, "a": a}, (X, y))
    f = np.array([2.0, 0.0, 2.0])
    r = (f - y) / 3
    # dL/dw_0 = a_0 sum over samples with z > 0 of r_n x_n (samples 0 and 2)
    np.testing.assert_allclose(g["W"][0, 0], 2.0 * (r[0] * X[0] + r[2] * X[2]), rtol=1e-15)
    np.testing.assert_array_equal(g["W"][0, 1], [0.0, 0.0])
    np.testing.assert_allclose(g["a"][0], [r[0] + r[2], 0.0], rtol=1e-15)


@pytest.mark.parametrize("m, d, symmetric", [(1, 3, False), (2, 1, True), (1, 1, False)])
def test_relu_init_single_neuron_or_single_input(m, d, symmetric):
    tau, delta = 0.7, -0.2
    p = rs.relu_init(m, d, tau, delta, symmetric=symmetric)
    assert p["W"].shape == (1, m, d) and p["a"].shape == (1, m)
    nw = np.linalg.norm(p["W"], axis=2)
    np.testing.assert_allclose(np.abs(p["a"]) * nw, tau**2, rtol=1e-14)
    np.testing.assert_allclose(p["a"] ** 2 - nw**2, delta, rtol=1e-13)


def test_relu_init_accepts_large_integer_scales():
    """tau = 10^10 (tau^2 beyond int64) and delta = 3 * 10^20 (beyond int64) as Python ints."""
    p = rs.relu_init(2, 3, 10**10, 3 * 10**20, seed=4)
    nw = np.linalg.norm(p["W"], axis=2)
    np.testing.assert_allclose(np.abs(p["a"]) * nw, 1e20, rtol=1e-14)
    np.testing.assert_allclose(p["a"] ** 2 - nw**2, 3e20, rtol=1e-13)
    p = rs.relu_init(2, 3, 10**10, 0.0, seed=4)
    np.testing.assert_allclose(np.abs(p["a"]), 1e10, rtol=1e-14)


def test_teacher_readouts_take_both_signs():
    _, _, T_ = rs.teacher_student_data(10, 3, 40, seed=0)
    assert set(T_["a"]) == {-1.0, 1.0}


@pytest.mark.parametrize("beta0, delta, eta_a, eta_w", [
    ([1e-150], -1e40, 1.0, 1.0),          # a0 = 1e-170: x*x underflowed to 0 (ZeroDivisionError)
    ([1e-160], -1.0, 1.0, 1.0),           # |beta0|^2 subnormal: a0 was 5.6e-6 off (relative)
    ([3e-200, 4e-200], -1.0, 1.0, 1.0),   # numpy's norm squares first: 0 for this vector
    ([1e200, 1e200], 1.0, 1.0, 1.0),      # (|beta0|/x)**2 raised OverflowError on the way up
    ([1e300], -1e300, 2.0, 0.5),
    ([0.3, 0.4], 0.5, 1.0, 3.0),
], ids=["tiny-readout", "subnormal-norm-squared", "norm-underflows", "huge-function", "huge-both",
        "ordinary"])
def test_split_function_meets_both_constraints_across_the_float_range(beta0, delta, eta_a, eta_w):
    """The split must satisfy a0 * w0 = beta0 and eta_w a0^2 - eta_a |w0|^2 = delta; the readout
    is checked against a0^2 = (delta + sqrt(delta^2 + 4 eta_a eta_w |beta0|^2)) / (2 eta_w)
    evaluated with Python's exact rationals for the squares (then rounded once)."""
    out = _split(beta0, delta, eta_a=eta_a, eta_w=eta_w)
    a = float(out["a"][0])
    b2 = sum(Fraction(x) ** 2 for x in beta0)
    d, ea, ew = Fraction(delta), Fraction(eta_a), Fraction(eta_w)
    disc = d * d + 4 * ea * ew * b2
    # sqrt of a rational to double precision via integer square roots at a large scale
    scale = 10 ** 700
    root = Fraction(math.isqrt(int(disc * scale * scale)), scale)
    if d >= 0:
        a2 = (d + root) / (2 * ew)
    else:  # no cancellation: (d + root) = 4 ea ew b2 / (root - d)
        a2 = 2 * ea * b2 / (root - d)
    a_ref = math.sqrt(float(a2)) if 1e-300 < a2 < 1e300 else float(
        Fraction(math.isqrt(int(a2 * scale * scale)), scale))
    assert abs(a - a_ref) <= 4e-15 * a_ref
    np.testing.assert_allclose(a * out["w"][0], beta0, rtol=4e-15, atol=0)


def test_split_function_names_a_readout_beyond_the_float_range():
    # a0^2 ~ delta / eta_w: 1e300 / 1e-310 gives a0 ~ 1e305, a float; 1e308 / 1e-310 gives
    # a0 ~ 1e309, beyond it, and the bracket search used to double to inf and loop forever
    assert float(_split([1.0], 1e300, eta_a=1.0, eta_w=1e-310)["a"][0]) == pytest.approx(1e305, rel=1e-9)
    with pytest.raises(ValueError, match=r"^the readout a0 of member 0 exceeds the float range"):
        _split([1.0], 1e308, eta_a=1.0, eta_w=1e-310)
