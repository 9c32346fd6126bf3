"""Tests that kill survivors of sim/bias_free.py and theory/bias_free_relu.py from the full mutation
run (mutmut 3.8.1); the verdict for every survivor is in tools/mutation/full_bias_free.md.

Each test checks a documented property against an independent computation: a network written out
in numpy (``max(z, a z)``), a hand-computed small case, moments summed directly over the samples,
``np.linalg.lstsq``, Saxe's sigmoid written out by hand, ``itertools.product`` for the corners of
the cube, ``scipy.linalg.fractional_matrix_power`` for ``S^{-1/2}``, or a whole (anchored) error
message. The inputs are what a user may pass: integer/boolean/uint8 arrays, exact rationals
(``Fraction``), missing values (``None``, read as NaN by numpy's float conversion), variances at and
around the singularity threshold of :func:`whiten`. Only numpy, scipy, pytest, the standard library
and theorylib are imported (no sympy import: the sympy objects come from theorylib), so the file
also runs in the benchmark environment (.venv-bench).
"""
import itertools
from fractions import Fraction

import numpy as np
import pytest
from scipy.linalg import fractional_matrix_power

from _asserts import raises
from theorylib.sim import bias_free as bf
from theorylib.sim.data import random_orthogonal
from theorylib.theory import bias_free_relu as bfr

GE = "\u2265"  # the messages' "greater or equal" sign, kept out of this file's source as an escape


def leaky_net(W1, W2, alpha, X):
    """``W2 max(W1 x, a W1 x)`` for one member, written out (no theorylib)."""
    Z = X @ W1.T
    return np.maximum(Z, alpha * Z) @ W2.T


# ====================================================================== sim.bias_free: data
def test_samples_convert_integer_data_to_float_before_mirroring():
    """uint8 inputs/targets (e.g. pixel values) are numbers: the mirror of 3 is -3, not 253."""
    X = np.array([[1, 2], [3, 0]], dtype=np.uint8)
    Y = np.array([5, 7], dtype=np.uint8)
    data = bf.symmetric_dataset(X, Y)
    np.testing.assert_array_equal(data.X, [[1.0, 2.0], [3.0, 0.0], [-1.0, -2.0], [-3.0, 0.0]])
    np.testing.assert_array_equal(data.Y, [[5.0], [7.0], [-5.0], [-7.0]])
    assert data.X.dtype == np.float64 and data.Y.dtype == np.float64
    assert data.is_symmetric()
    one = bf.Samples(np.array([[1], [2]], dtype=np.int8), np.array([True, False]))
    assert one.X.dtype == np.float64 and one.Y.dtype == np.float64
    np.testing.assert_array_equal(one.Y, [[1.0], [0.0]])


@pytest.mark.parametrize("which", ["X", "Y"])
def test_samples_reject_missing_values_as_not_finite(which):
    """A None entry is read as NaN by the float conversion and rejected like one (a ValueError)."""
    X = [[1.0], [2.0]]
    Y = [[1.0], [2.0]]
    if which == "X":
        X = [[1.0], [None]]
    else:
        Y = [[None], [2.0]]
    with raises("X and Y must be finite"):
        bf.Samples(X, Y)


def test_whiten_treats_booleans_as_zero_one_features():
    Xb = np.array([[1, 0], [0, 1], [1, 1], [1, 0]], dtype=bool)
    Xf = Xb.astype(float)
    S = Xf.T @ Xf / 4  # [[3, 1], [1, 2]] / 4: not singular
    Xw = bf.whiten(Xb)
    np.testing.assert_allclose(Xw, Xf @ fractional_matrix_power(S, -0.5), atol=1e-12)
    np.testing.assert_allclose(Xw.T @ Xw / 4, np.eye(2), atol=1e-12)


def test_whiten_singularity_threshold_is_inclusive():
    """Variance exactly 1e-12 (with the largest one below 1) is singular: the test is ``<=``."""
    X = np.array([[1e-6], [-1e-6]])
    assert (X.T @ X / 2)[0, 0] == 1e-12
    with raises("\u03a3_xx is singular; cannot whiten"):
        bf.whiten(X)


def test_whiten_singularity_is_relative_to_the_largest_variance():
    """Variances 2e4 and 5e-9 (condition 4e12): singular, although 5e-9 is far above 1e-12."""
    X = np.array([[200.0, 0.0], [-200.0, 0.0], [0.0, 1e-4], [0.0, -1e-4]])
    with raises("\u03a3_xx is singular; cannot whiten"):
        bf.whiten(X)


def test_whiten_accepts_a_small_variance_above_the_threshold():
    """Variances 0.5 and 1.445e-12: the threshold is 1e-12 (max(1, 0.5) = 1), so this whitens."""
    b = 1.7e-6
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, b], [0.0, -b]])
    Xw = bf.whiten(X)
    expected = np.array([[np.sqrt(2), 0.0], [-np.sqrt(2), 0.0], [0.0, np.sqrt(2)], [0.0, -np.sqrt(2)]])
    np.testing.assert_allclose(Xw, expected, rtol=1e-9, atol=1e-9)


def test_symmetric_teacher_data_default_seed_is_zero():
    """Default draw: G (n_half, n_in), then U, then V, all from ``default_rng(0)``."""
    data, U, V = bf.symmetric_teacher_data([2.0, 1.0], 3, 2, 5)
    rng = np.random.default_rng(0)
    G = rng.standard_normal((5, 3))
    np.testing.assert_allclose(U, random_orthogonal(2, rng), atol=1e-15)
    np.testing.assert_allclose(V, random_orthogonal(3, rng), atol=1e-15)
    # X = [G; -G] M for the whitening map M: the first half is a linear image of G
    M, *_ = np.linalg.lstsq(G, data.X[:5], rcond=None)
    np.testing.assert_allclose(G @ M, data.X[:5], atol=1e-12)


def test_symmetric_teacher_data_accepts_a_zero_singular_value():
    """Singular values need only be non-negative: s = (2, 0) gives Sigma_yx = U diag(2, 0) V^T."""
    data, U, V = bf.symmetric_teacher_data([2.0, 0.0], 3, 2, 6, seed=3)
    P = data.n_samples
    Syx = data.Y.T @ data.X / P  # a direct sum over the samples
    S = np.zeros((2, 3))
    S[0, 0] = 2.0
    np.testing.assert_allclose(Syx, U @ S @ V.T, atol=1e-12)
    np.testing.assert_allclose(data.X.T @ data.X / P, np.eye(3), atol=1e-12)


def test_symmetric_teacher_data_size_messages_name_the_argument():
    with raises(f"n_out must be {GE} 1; got 0"):
        bf.symmetric_teacher_data([], 2, 0, 4)


def test_odd_extra_with_a_missing_value_is_rejected_as_not_finite():
    """odd_extra's output goes through a float conversion: None becomes NaN, a ValueError."""
    def extra(X):
        out = np.empty((len(X), 1), dtype=object)
        out[:] = 0.0
        out[0, 0] = None
        return out

    with raises("X and Y must be finite"):
        bf.symmetric_teacher_data([1.0], 1, 1, 2, odd_extra=extra)


@pytest.mark.parametrize("size", [1e-10, 0.1])
def test_odd_extra_with_an_even_part_is_rejected_at_any_size(size):
    """A zero teacher plus a constant (even) extra: y(x) = y(-x) = size, not odd, at 1e-10 and 0.1."""
    with raises("odd_extra must be an odd function of x"):
        bf.symmetric_teacher_data([0.0], 1, 1, 3, odd_extra=lambda X: np.full((len(X), 1), size))
    # an odd extra of the same size is fine: y = size * sign(x)
    data, _, _ = bf.symmetric_teacher_data([0.0], 1, 1, 3, odd_extra=lambda X: size * np.sign(X))
    np.testing.assert_allclose(data.Y[:, 0], size * np.sign(data.X[:, 0]), rtol=1e-15)


def test_parity_data_lists_the_corners_in_lexicographic_order():
    """Rows in ``itertools.product([-1, 1], repeat=n)`` order (first bit slowest), y = product of bits.

    The order is what the book's parity runs sum over; it is fixed so that they are reproducible.
    """
    for n in (2, 3):
        d = bf.parity_data(n)
        corners = np.array(list(itertools.product([-1.0, 1.0], repeat=n)))
        np.testing.assert_array_equal(d.X, corners)
        np.testing.assert_array_equal(d.Y[:, 0], [np.prod(c) for c in corners])


# ====================================================================== sim.bias_free: the network
def test_default_leak_is_relu():
    rng = np.random.default_rng(0)
    W1, W2 = rng.standard_normal((1, 4, 2)), rng.standard_normal((1, 1, 4))
    X = rng.standard_normal((6, 2))
    out = bf.BiasFreeNet((2, 4, 1)).predict({"W1": W1, "W2": W2}, X)
    np.testing.assert_allclose(out[0], np.maximum(X @ W1[0].T, 0.0) @ W2[0].T, atol=1e-14)
    assert not np.allclose(out[0], X @ W1[0].T @ W2[0].T)  # not the linear net


def test_alpha_accepts_exact_rationals():
    rng = np.random.default_rng(1)
    W1, W2 = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 1, 3))
    X = rng.standard_normal((5, 2))
    p = {"W1": W1, "W2": W2}
    out = bf.BiasFreeNet((2, 3, 1), alpha=Fraction(1, 4)).predict(p, X)
    per = bf.BiasFreeNet((2, 3, 1), alpha=[Fraction(0), Fraction(1, 2)]).predict(p, X)
    for e, a in enumerate((0.0, 0.5)):
        np.testing.assert_allclose(out[e], leaky_net(W1[e], W2[e], 0.25, X), atol=1e-14)
        np.testing.assert_allclose(per[e], leaky_net(W1[e], W2[e], a, X), atol=1e-14)


def test_missing_alpha_is_rejected_with_the_alpha_message():
    with raises("alpha must be a scalar or 1-D array in [0, 1]; got None"):
        bf.BiasFreeNet((2, 3, 1), alpha=None)


def test_predict_returns_float_for_exact_rational_inputs():
    rng = np.random.default_rng(2)
    p = {"W1": rng.standard_normal((1, 3, 2)), "W2": rng.standard_normal((1, 1, 3))}
    Xq = [[Fraction(1, 2), Fraction(-1, 3)], [Fraction(2), Fraction(1, 7)]]
    Xf = np.array([[0.5, -1 / 3], [2.0, 1 / 7]])
    out = bf.BiasFreeNet((2, 3, 1), alpha=0.1).predict(p, Xq)
    assert out.dtype == np.float64 and out.shape == (1, 2, 1)
    np.testing.assert_allclose(out[0], leaky_net(p["W1"][0], p["W2"][0], 0.1, Xf), atol=1e-14)


def test_predict_per_member_leaks_follow_the_first_layer_ensemble():
    """A shared readout (ensemble axis 1) broadcasts against two first layers with two leaks."""
    rng = np.random.default_rng(3)
    W1, W2 = rng.standard_normal((2, 4, 3)), rng.standard_normal((1, 2, 4))
    X = rng.standard_normal((7, 3))
    out = bf.BiasFreeNet((3, 4, 2), alpha=[0.0, 0.6]).predict({"W1": W1, "W2": W2}, X)
    assert out.shape == (2, 7, 2)
    for e, a in enumerate((0.0, 0.6)):
        np.testing.assert_allclose(out[e], leaky_net(W1[e], W2[0], a, X), atol=1e-14)


def test_forward_pass_never_evaluates_the_derivative_at_zero():
    """grad_at_zero is sigma'(0) of the backward pass only: predict and loss, with pre-activations
    exactly 0, are the same for every accepted grad_at_zero. That includes numpy's generic
    ``timedelta64(0)`` (float() reads it as 0.0, so the constructor accepts it), which cannot be
    mixed with a float array: predict must not even compute the slopes.
    """
    W = np.array([[[0.0, 1.0], [1.0, 1.0]]])  # unit 0 sees w.x = 0 on both samples
    p = {"W1": W, "W2": np.array([[[0.5, -2.0]]])}
    data = bf.Samples([[1.0, 0.0], [-1.0, 0.0]], [[1.0], [-1.0]])
    ref = leaky_net(W[0], p["W2"][0], 0.2, data.X)  # unit 1 gives 1 and -0.2, times -2
    np.testing.assert_allclose(ref, [[-2.0], [0.4]], atol=1e-15)
    for g in (None, 0.0, 1.0, np.timedelta64(0)):
        net = bf.BiasFreeNet((2, 2, 1), alpha=0.2, grad_at_zero=g)
        np.testing.assert_allclose(net.predict(p, data.X)[0], ref, atol=1e-15)
        assert net.loss(p, data)[0] == pytest.approx(0.5 * np.mean((data.Y - ref) ** 2), rel=1e-15)


def test_even_odd_of_unsigned_integer_inputs_uses_their_negatives():
    """uint8 inputs: f(-x) is at -x (negative numbers), not at the wrapped-around 256 - x."""
    rng = np.random.default_rng(4)
    W1, W2 = rng.standard_normal((1, 5, 2)), rng.standard_normal((1, 1, 5))
    Xu = np.array([[1, 2], [3, 0], [0, 5]], dtype=np.uint8)
    Xf = Xu.astype(float)
    odd, even = bf.BiasFreeNet((2, 5, 1), alpha=0.3).even_odd({"W1": W1, "W2": W2}, Xu)
    fp, fm = leaky_net(W1[0], W2[0], 0.3, Xf), leaky_net(W1[0], W2[0], 0.3, -Xf)
    np.testing.assert_allclose(odd[0], (fp - fm) / 2, atol=1e-13)
    np.testing.assert_allclose(even[0], (fp + fm) / 2, atol=1e-13)


# ====================================================================== sim.bias_free: inits
def test_paired_random_init_messages():
    with raises(f"widths entries must be {GE} 1; got (3, 0, 1)"):
        bf.paired_random_init((3, 0, 1), 0.1)
    with raises(f"widths entries must be {GE} 1; got (3, -2, 1)"):
        bf.paired_random_init((3, -2, 1), 0.1)
    with raises("the paired initialisation is defined for two-layer nets (n_in, H, n_out)"):
        bf.paired_random_init((3, 4, 4, 1), 0.1)


def test_paired_decoupled_init_size_messages_use_the_rows_of_u_and_v():
    """U is (n_out, n_out) and V (n_in, n_in): a wrong shape is reported against their row counts."""
    I2, I3 = np.eye(2), np.eye(3)
    with raises("V must be a square orthogonal matrix of shape (3, 3); got shape (3, 2)"):
        bf.paired_decoupled_init(I2, I3[:, :2], 4, 0.1)
    with raises("U must be a square orthogonal matrix of shape (2, 2); got shape (2, 3)"):
        bf.paired_decoupled_init(np.eye(2, 3), I3, 4, 0.1)


@pytest.mark.parametrize("which", ["U", "V"])
def test_paired_decoupled_init_names_a_non_numeric_u_or_v(which):
    bad = [["a", "b"], ["c", "d"]]
    U, V = (bad, np.eye(2)) if which == "U" else (np.eye(2), bad)
    with raises(f"{which} must be numeric; got [['a', 'b'], ['c', 'd']]"):
        bf.paired_decoupled_init(U, V, 4, 0.1)
    with raises(f"{which} must be finite (no NaN or inf)"):
        bf.paired_decoupled_init(*((np.full((2, 2), np.nan), np.eye(2)) if which == "U"
                                   else (np.eye(2), np.full((2, 2), np.nan))), 4, 0.1)


def test_grad_at_zero_given_as_a_fraction_gives_float_gradients():
    """sigma'(0) = 1/2 as Fraction(1, 2) must give the same float64 gradient as 0.5 (an object
    array would leak into the weights' update otherwise)."""
    W = np.array([[[0.0, 1.0], [1.0, 1.0]]])  # unit 0 has pre-activation exactly 0 on both samples
    p = {"W1": W, "W2": np.array([[[0.5, -2.0]]])}
    data = bf.Samples([[1.0, 0.0], [-1.0, 0.0]], [[1.0], [-1.0]])
    g_half = bf.BiasFreeNet((2, 2, 1), alpha=0.2, grad_at_zero=0.5).grad(p, data)
    g_frac = bf.BiasFreeNet((2, 2, 1), alpha=0.2, grad_at_zero=Fraction(1, 2)).grad(p, data)
    for n in p:
        assert g_frac[n].dtype == np.float64
        np.testing.assert_array_equal(g_frac[n], g_half[n])
    assert bf.BiasFreeNet((2, 2, 1), grad_at_zero=Fraction(1, 2)).grad_at_zero == 0.5


# ====================================================================== theory.bias_free_relu
def test_sigma_expr_takes_the_identity_branch_at_zero():
    """Documented: ``z`` for ``z >= 0`` and ``alpha z`` otherwise; z = 0 belongs to the first piece."""
    sig, (z, a) = bfr.sigma_expr()
    first, second = sig.args
    assert first.expr == z and second.expr == a * z
    assert bool(first.cond.subs(z, 0)) is True
    assert bool(first.cond.subs(z, -1)) is False and bool(first.cond.subs(z, 1)) is True


def test_leak_accepts_exact_rationals_and_rejects_a_missing_one():
    assert bfr.time_rescaling(Fraction(1, 3)) == pytest.approx(2 / 3, rel=1e-15)
    W1, W2 = np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([[3.0, 1.0]])
    np.testing.assert_allclose(bfr.odd_part_matrix(W1, W2, Fraction(1, 2)), 0.75 * np.array([[3.0, 5.0]]))
    with raises("the leak alpha must lie in [0, 1] (0 = ReLU, 1 = linear); got None"):
        bfr.time_rescaling(None)


def test_function_strength_reports_a_missing_time_as_not_finite():
    with raises("t must be finite (no NaN or inf)"):
        bfr.function_strength([0.0, None], 1.5, 1e-2, 0.0)


def test_loss_curve_default_tau_is_one():
    """Saxe's sigmoid written out with k = (1+alpha)/2 and tau = 1, at times where it is moving."""
    s, u0, alpha = np.array([2.0, 0.7]), np.array([1e-2, 3e-2]), 0.4
    t = np.array([0.5, 1.5, 3.0])
    k = (1 + alpha) / 2
    e = np.exp(2 * s * k * t[:, None])
    u = s * e / (e - 1 + s / (k * u0))
    np.testing.assert_allclose(bfr.loss_curve(t, s, u0, alpha, floor=0.1),
                               0.1 + 0.5 * np.sum((s - u) ** 2, axis=1), rtol=1e-12)


def test_odd_part_matrix_hidden_size_message_with_an_ensemble_axis():
    with raises("hidden sizes disagree: W1 has 4 rows, W2 has 5 columns"):
        bfr.odd_part_matrix(np.ones((2, 4, 3)), np.ones((2, 1, 5)), 0.0)


@pytest.mark.parametrize("sxx, syx", [
    (np.eye(2), np.ones((1, 3))),  # sigma_yx has 3 columns, sigma_xx is 2 x 2
    (np.ones((2, 3)), np.ones((1, 2))),  # sigma_xx not square
    (np.ones((2, 3)), np.ones((1, 3))),
], ids=["syx-columns", "sxx-2x3-syx-2", "sxx-2x3-syx-3"])
def test_linear_fit_shape_message(sxx, syx):
    with raises(f"need sigma_xx (d, d) and sigma_yx (n_out, d); got {sxx.shape} and {syx.shape}"):
        bfr.linear_fit(sxx, syx, 1.0)


def test_linear_fit_shape_message_for_a_stack_of_targets():
    with raises("need sigma_xx (d, d) and sigma_yx (n_out, d); got (2, 2) and (2, 2, 2)"):
        bfr.linear_fit(np.eye(2), np.ones((2, 2, 2)), 1.0)


def test_linear_fit_symmetry_tolerance_scales_with_sigma_xx():
    """Sigma_xx = diag(5e5, 2e6): an asymmetry of 1e-7 is within 1e-12 * 2e6 = 2e-6, so it is accepted."""
    X = np.array([[1000.0, 0.0], [-1000.0, 0.0], [0.0, 2000.0], [0.0, -2000.0]])
    Y = np.array([[1.0], [-1.0], [3.0], [-3.0]])
    Sxx = X.T @ X / 4
    np.testing.assert_array_equal(Sxx, np.diag([5e5, 2e6]))
    Sxx[0, 1] = 1e-7
    B, floor = bfr.linear_fit(Sxx, Y.T @ X / 4, float(np.mean(Y[:, 0] ** 2)))
    ref, *_ = np.linalg.lstsq(X, Y, rcond=None)
    np.testing.assert_allclose(B, ref.T, rtol=1e-9)
    assert floor == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("scale", [0.0, 0.1])
def test_linear_fit_small_target_power(scale):
    """E|y|^2 = 0 (y = 0) and = 0.01 * 2.5 are valid: floor = 0 for y = scale * x (lstsq check)."""
    x = np.array([[1.0], [2.0], [-1.0], [-2.0]])
    y = scale * x
    B, floor = bfr.linear_fit(x.T @ x / 4, y.T @ x / 4, float(np.mean(y**2)))
    ref, *_ = np.linalg.lstsq(x, y, rcond=None)
    np.testing.assert_allclose(B, ref.T, atol=1e-15)
    assert floor == pytest.approx(0.0, abs=1e-15)
    if scale:  # a target with a part the line cannot fit: y = 0.1 x^3 (the docstring's cubic / 10)
        y3 = scale * x**3
        B3, floor3 = bfr.linear_fit(x.T @ x / 4, y3.T @ x / 4, float(np.mean(y3**2)))
        assert B3[0, 0] == pytest.approx(0.34, rel=1e-14) and floor3 == pytest.approx(0.018, rel=1e-12)
