"""The shared argument checks (theorylib/_validate.py), one validator at a time.

Every public function of theorylib routes its input checks through these validators, so their
boundaries (open vs closed ends, ≥ vs >), the dtype of what they return and the wording of
their errors (the argument's name and the broken condition) are pinned here directly, at the
edge cases, instead of only through the functions that call them.
"""
import re

import numpy as np
import pytest

from theorylib import _validate as v


def _raises(fn, *args, match, **kw):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kw)


# ---------------------------------------------------------------- numbers and arrays
@pytest.mark.parametrize("fn", [v.finite, v.positive, v.nonnegative, v.nonempty])
def test_numeric_validators_return_float_arrays(fn):
    out = fn("a", [1, 2])
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("fn", [v.finite, v.positive, v.nonnegative, v.nonempty, v.in_range])
def test_non_numeric_input_names_the_argument(fn):
    _raises(fn, "alpha", "abc", match=r"^alpha must be numeric; got 'abc'$")


def test_shape_names_a_non_numeric_argument():
    _raises(v.shape, "X", "abc", (1,), match=r"^X must be numeric; got 'abc'$")


def test_finite():
    _raises(v.finite, "w", [1.0, np.nan], match=r"^w must be finite \(no NaN or inf\)$")
    _raises(v.finite, "w", np.inf, match="^w must be finite")
    assert v.finite("w", -3).item() == -3.0


def test_positive_boundaries():
    assert v.positive("lr", 1e-300).item() == 1e-300
    for bad in (0.0, -1.0, np.inf, np.nan):
        _raises(v.positive, "lr", bad, match=r"^lr must be positive and finite$")


def test_positive_scalar():
    out = v.positive_scalar("tau", np.array(2))
    assert type(out) is float and out == 2.0
    _raises(v.positive_scalar, "tau", [1.0, 2.0], match=r"^tau must be a scalar; got shape \(2,\)$")
    _raises(v.positive_scalar, "tau", 0, match="^tau must be positive")


def test_nonnegative_boundaries():
    assert v.nonnegative("t", [0.0, 5.0]).tolist() == [0.0, 5.0]
    for bad in ([-1e-300], [np.inf], [np.nan]):
        _raises(v.nonnegative, "t", bad, match=r"^t must be non-negative and finite$")


def test_in_range_closed_and_open_ends():
    assert v.in_range("p", [0.0, 1.0], 0.0, 1.0).tolist() == [0.0, 1.0]
    assert v.in_range("p", 0.5, 0.0, 1.0, lo_open=True, hi_open=True).item() == 0.5
    assert v.in_range("p", 3.0).item() == 3.0  # unbounded by default
    assert v.in_range("p", -1e300).dtype == np.float64
    _raises(v.in_range, "p", 0.0, 0.0, 1.0, lo_open=True,
            match=re.escape("p must lie in (0, 1]; got 0.0"))
    _raises(v.in_range, "p", 1.0, 0.0, 1.0, hi_open=True,
            match=re.escape("p must lie in [0, 1); got 1.0"))
    _raises(v.in_range, "p", [0.5, 2.0], 0.0, 1.0, match=re.escape("p must lie in [0, 1]; got [0.5 2. ]"))
    _raises(v.in_range, "p", [-0.5], 0.0, 1.0, match=re.escape("p must lie in [0, 1]; got [-0.5]"))
    # only the first six offending values are printed
    _raises(v.in_range, "p", np.arange(2.0, 12.0), 0.0, 1.0, match=re.escape("got [2. 3. 4. 5. 6. 7.]") + "$")
    _raises(v.in_range, "p", np.nan, 0.0, 1.0, match="^p must be finite")


# ---------------------------------------------------------------- integers
def test_integer():
    assert v.integer("n", 3) == 3 and type(v.integer("n", np.int64(3))) is int
    assert v.integer("n", 4.0) == 4 and type(v.integer("n", np.float64(4.0))) is int
    assert v.integer("n", 5, minimum=5, maximum=5) == 5
    _raises(v.integer, "n", True, match=r"^n must be an integer; got the boolean True$")
    _raises(v.integer, "n", np.bool_(False), match="got the boolean False$")
    _raises(v.integer, "n", 2.7, match=r"^n must be an integer; got 2.7$")
    _raises(v.integer, "n", np.inf, match=r"^n must be an integer; got inf$")
    _raises(v.integer, "n", [1, 2], match=r"^n must be an integer scalar; got \[1, 2\]$")
    _raises(v.integer, "n", "3", match=r"^n must be an integer scalar; got '3'$")
    _raises(v.integer, "n", 4, minimum=5, match=r"^n must be ≥ 5; got 4$")
    _raises(v.integer, "n", 6, maximum=5, match=r"^n must be ≤ 5; got 6$")


def test_integers():
    out = v.integers("w", [1, 2.0, 3])
    assert out.dtype == np.int64 and out.tolist() == [1, 2, 3]
    assert v.integers("w", np.array([2**40])).tolist() == [2**40]
    assert v.integers("w", [5, 5], minimum=5, maximum=5).tolist() == [5, 5]
    assert v.integers("w", []).size == 0  # an empty list (float dtype) is not "non-integer"
    _raises(v.integers, "w", [True, False], match=r"^w must hold integers; got \[True, False\]$")
    # booleans are refused even when there are none (an empty boolean mask is not a list of ints)
    _raises(v.integers, "w", np.array([], dtype=bool), match="^w must hold integers")
    _raises(v.integers, "w", ["a"], match=r"^w must hold integers; got \['a'\]$")
    _raises(v.integers, "w", [1, 2.5], match=r"^w must hold whole numbers; got \[1, 2.5\]$")
    _raises(v.integers, "w", [1, np.nan], match="^w must hold whole numbers")
    _raises(v.integers, "w", [4, 5], minimum=5, match=r"^w entries must be ≥ 5; got \[4, 5\]$")
    _raises(v.integers, "w", [5, 6], maximum=5, match=r"^w entries must be ≤ 5; got \[5, 6\]$")


# ---------------------------------------------------------------- shapes and matrices
def test_shape():
    out = v.shape("X", [[1, 2, 3]], (1, None))
    assert out.dtype == np.float64 and out.shape == (1, 3)
    _raises(v.shape, "X", np.zeros((2, 3)), (2, 4), match=re.escape("X must have shape (2, 4); got (2, 3)"))
    _raises(v.shape, "X", np.zeros((2, 3)), (None, 4), match=re.escape("X must have shape (·, 4); got (2, 3)"))
    _raises(v.shape, "X", np.zeros(3), (4,), match=re.escape("X must have shape (4,); got (3,)"))
    _raises(v.shape, "X", np.zeros((3, 1)), (3,), match=re.escape("X must have shape (3,); got (3, 1)"))


def test_nonempty():
    _raises(v.nonempty, "t", [], match=r"^t must not be empty$")


def test_square():
    out = v.square("S", [[1, 2], [3, 4]])
    assert out.dtype == np.float64 and out.shape == (2, 2)
    assert v.square("S", [[7]]).shape == (1, 1)
    for bad in (np.zeros((2, 3)), np.zeros(4), np.zeros((0, 0)), np.zeros((2, 2, 2))):
        _raises(v.square, "S", bad,
                match=re.escape(f"S must be a non-empty square matrix (n, n); got shape {bad.shape}"))
    _raises(v.square, "S", [[np.nan]], match="^S must be finite")


def test_symmetric_psd():
    I2 = np.eye(2)
    assert v.symmetric_psd("S", I2).dtype == np.float64
    assert v.symmetric_psd("S", [[1]]).dtype == np.float64
    assert v.symmetric_psd("S", np.stack([I2, 2 * I2])).shape == (2, 2, 2)  # a stack of matrices
    assert v.symmetric_psd("S", np.zeros((1, 1))).shape == (1, 1)  # PSD, not definite
    assert v.symmetric_psd("S", np.ones((2, 1, 3, 3))).shape == (2, 1, 3, 3)  # a 2-D stack
    for bad in (np.zeros((2, 3)), np.zeros((3, 2)), np.zeros(3), np.zeros((0, 0)), np.zeros((2, 0, 0)),
                np.zeros((0, 2, 2)), np.zeros((2, 0, 3, 3))):
        _raises(v.symmetric_psd, "S", bad, match=re.escape(
            f"S must be a non-empty square matrix (n, n); got shape {bad.shape}"))
    _raises(v.symmetric_psd, "S", [[np.inf]], match="^S must be finite")
    # symmetry to 1e-12 relative to max(1, max|S|): 1e-13 passes, 1e-11 fails at unit scale
    assert v.symmetric_psd("S", [[1.0, 1e-13], [0.0, 1.0]]) is not None
    _raises(v.symmetric_psd, "S", [[1.0, 1e-11], [0.0, 1.0]], match=r"^S must be symmetric$")
    # at scale 1e6 the allowed asymmetry grows to 1e-6; below scale 1 it stays 1e-12
    assert v.symmetric_psd("S", [[1e6, 1e-7], [0.0, 1e6]]) is not None
    _raises(v.symmetric_psd, "S", [[1e6, 1e-5], [0.0, 1e6]], match="^S must be symmetric$")
    _raises(v.symmetric_psd, "S", [[0.1, 1e-11], [0.0, 0.1]], match="^S must be symmetric$")
    _raises(v.symmetric_psd, "S", [[1.0, 1.5e-12], [0.0, 1.0]], match="^S must be symmetric$")
    # a stack of a symmetric and a non-symmetric matrix: the transpose is over the last two axes
    _raises(v.symmetric_psd, "S", np.array([I2, [[1.0, 1.0], [0.0, 1.0]]]), match="symmetric$")
    # semi-definiteness: eigenvalues ≥ −rtol·max(1, max|S|)
    assert v.symmetric_psd("S", np.diag([1.0, -1e-11])) is not None
    _raises(v.symmetric_psd, "S", np.diag([1.0, -1e-9]), match=re.escape(
        "S must be positive semi-definite; its smallest eigenvalue is -1e-09"))
    assert v.symmetric_psd("S", np.diag([1.0, -1e-9]), rtol=1e-8) is not None
    _raises(v.symmetric_psd, "S", np.diag([0.5, -1e-9]), match="semi-definite")
    _raises(v.symmetric_psd, "S", np.diag([1.0, -1.5e-10]), match="semi-definite")  # scale is 1
    assert v.symmetric_psd("S", np.diag([1.0, -1e-10])) is not None  # the bound itself passes
    assert v.symmetric_psd("S", np.diag([1e4, -1e-7])) is not None  # −1e-7 ≥ −1e-10·1e4
    # definiteness: smallest eigenvalue > 1e-12·max(1, max|S|)
    assert v.symmetric_psd("S", np.diag([1.0, 1e-11]), definite=True) is not None
    _raises(v.symmetric_psd, "S", np.diag([1.0, 0.0]), definite=True, match=re.escape(
        "S must be positive definite; its smallest eigenvalue is 0"))
    _raises(v.symmetric_psd, "S", np.diag([1.0, 1e-12]), definite=True, match="positive definite")
    _raises(v.symmetric_psd, "S", np.diag([1e6, 1e-7]), definite=True, match="positive definite")
    assert v.symmetric_psd("S", np.diag([0.5, 0.5]), definite=True) is not None


def test_orthogonal():
    c, s = np.cos(0.3), np.sin(0.3)
    R = np.array([[c, -s], [s, c]])
    assert v.orthogonal("U", R, n=2) is not None and v.orthogonal("U", [[1]]).dtype == np.float64
    _raises(v.orthogonal, "U", np.eye(2), n=3, match=re.escape(
        "U must be a square orthogonal matrix of shape (3, 3); got shape (2, 2)"))
    for bad in (np.eye(3)[:, :2], np.eye(3)[:2], np.zeros(3)):
        _raises(v.orthogonal, "U", bad, match=re.escape(
            f"U must be a square orthogonal matrix of shape (n, n); got shape {bad.shape}"))
    _raises(v.orthogonal, "U", np.eye(3)[:2], n=2, match=re.escape("of shape (2, 2); got shape (2, 3)"))
    _raises(v.orthogonal, "U", [[np.nan]], match="^U must be finite")
    _raises(v.orthogonal, "U", 2 * R, match=re.escape("U must be orthogonal (columns orthonormal); "
                                                      "max |UᵀU − I| = 3"))
    # the tolerance is inclusive: an error of exactly atol passes
    assert v.orthogonal("U", [[np.sqrt(1.5)]], atol=0.5) is not None
    _raises(v.orthogonal, "U", [[np.sqrt(1.5)]], atol=0.49, match="orthogonal")
    assert v.orthogonal("U", [[0.5]], atol=0.75) is not None  # |0.25 − 1| = 0.75 exactly
    assert v.orthogonal("U", np.zeros((0, 0))).size == 0  # the empty matrix is trivially orthogonal


def test_times():
    assert v.times("t", [2.0, 1.0]).tolist() == [2.0, 1.0]  # order not required by default
    assert v.times("t", [], allow_empty=True).size == 0
    assert v.times("t", [-1.0], nonnegative=False).tolist() == [-1.0]
    assert v.times("t", [0.0, 1.0, 1.0], nondecreasing=True).tolist() == [0.0, 1.0, 1.0]
    _raises(v.times, "t", [], match=r"^t must not be empty$")
    _raises(v.times, "t", [0.0, -1e-300], match=r"^t must be non-negative$")
    _raises(v.times, "t", [1.0, 0.5], nondecreasing=True, match=r"^t must be non-decreasing$")
    _raises(v.times, "t", [[0.0, 2.0], [1.0, 3.0]], nondecreasing=True, match="non-decreasing")
    _raises(v.times, "t", [0.0, np.inf], match="^t must be finite")


def test_broadcastable():
    a, b = v.broadcastable(x=[1, 2, 3], y=2)
    assert a.dtype == np.float64 and b.dtype == np.float64 and b.tolist() == [2.0, 2.0, 2.0]
    _raises(v.broadcastable, x=np.zeros(2), y=np.zeros(3), z=1.0,
            match=re.escape("shapes do not broadcast together: x (2,), y (3,), z ()"))


def test_finite_result():
    assert v.finite_result("t", 3) == 3
    assert v.finite_result("t", [1.0, 2.0]) == [1.0, 2.0]  # the value itself is returned
    _raises(v.finite_result, "t", np.inf, match=re.escape(
        "t is not representable as a finite float: the arguments are too extreme"))
    _raises(v.finite_result, "t", [1.0, np.nan], why="u0 underflows", match="finite float: u0 underflows$")
    _raises(v.finite_result, "t", -np.inf, match="^t is not representable")


def test_explained_is_the_least_squares_fit():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 4))
    sxx = A @ A.T + np.diag([1.0, 2.0, 3.0, 4.0])
    syx = rng.standard_normal((2, 4))
    # tr(Σ_yx Σ_xx⁻¹ Σ_xy) by a linear solve instead of a pseudo-inverse
    want = np.trace(syx @ np.linalg.solve(sxx, syx.T))
    assert v.explained(sxx, syx) == pytest.approx(want, rel=1e-12)
    # integer statistics and a 1-D Σ_yx (one output)
    assert v.explained(np.array([[2, 0], [0, 4]]), np.array([2, 4])) == pytest.approx(2.0 + 4.0)
    # a near-null direction below 1e-10 of the top eigenvalue is cut, not inverted
    assert v.explained(np.diag([1.0, 1e-14]), [[0.0, 1e-7]]) == pytest.approx(0.0, abs=1e-20)
    # ... while a direction at 1e-9 of the top one is kept
    assert v.explained(np.diag([1.0, 1e-9]), [[0.0, 1e-7]]) == pytest.approx(1e-5, rel=1e-9)
    # a non-symmetric input shows whether the symmetric (Hermitian) pseudo-inverse is used
    nonsym = np.array([[2.0, 0.0], [1.0, 2.0]])
    herm = np.linalg.pinv(nonsym, hermitian=True)
    assert v.explained(nonsym, [[1.0, 0.0]]) == pytest.approx(herm[0, 0], rel=1e-12)


def test_fitted_part_below():
    assert v.fitted_part_below("e_yy", 1.0, 1.0) == 1.0
    assert type(v.fitted_part_below("e_yy", np.float32(2), 1)) is float
    # relative tolerance rtol·max(1, |fitted|, |total|)
    assert v.fitted_part_below("e_yy", 1.0 - 0.5e-9, 1.0) == 1.0 - 0.5e-9
    _raises(v.fitted_part_below, "e_yy", 1.0 - 2e-9, 1.0, match=re.escape(
        "e_yy = 1 is below the part the best linear map explains (1): the statistics are "
        "inconsistent (they would give a negative minimum loss)"))
    assert v.fitted_part_below("e_yy", 100.0 - 0.5e-7, 100.0) is not None  # scale |fitted| = 100
    _raises(v.fitted_part_below, "e_yy", 100.0 - 2e-7, 100.0, match="below")
    assert v.fitted_part_below("e_yy", -100.0, -100.0 + 0.5e-7) is not None  # scale |total| = 100
    _raises(v.fitted_part_below, "e_yy", -100.0, -100.0 + 2e-7, match="below")
    # below unit scale the tolerance stays 1e-9 absolute
    assert v.fitted_part_below("e_yy", 0.1 - 0.5e-9, 0.1) is not None
    _raises(v.fitted_part_below, "e_yy", 0.1 - 1.5e-9, 0.1, match="below")
    _raises(v.fitted_part_below, "trace_yy", 0.0, 0.5, what="tr Σ_yx Σ_xx⁺ Σ_xy",
            match=re.escape("trace_yy = 0 is below tr Σ_yx Σ_xx⁺ Σ_xy (0.5)"))
    assert v.fitted_part_below("e_yy", 1.0 - 2e-9, 1.0, rtol=1e-8) is not None
    assert v.fitted_part_below("e_yy", 0.0, 1e-9) == 0.0  # exactly at the tolerance passes


@pytest.mark.parametrize("x", [1 + 1j, np.array([1.0, 2 + 0j]), [0.5, 1j], np.complex64(3)],
                         ids=["python-complex", "complex-array", "list-with-complex", "complex64"])
def test_complex_input_is_rejected_not_cast_to_its_real_part(x):
    # numpy's float cast drops the imaginary part with only a ComplexWarning
    msg = "^x must be real; got a complex value "
    for check in (v.finite, v.positive, v.nonnegative, v.nonempty):
        with pytest.raises(ValueError, match=msg):
            check("x", x)
    with pytest.raises(ValueError, match=msg):
        v.broadcastable(x=x, y=1.0)


def test_broadcastable_names_a_non_numeric_argument():
    with pytest.raises(ValueError, match=r"^y must be numeric; got 'abc'$"):
        v.broadcastable(x=1.0, y="abc")


def test_complex_input_to_closed_forms_and_toy_data_is_an_error():
    from theorylib.sim import fusion as fs
    from theorylib.theory import deep_linear as dl
    with pytest.raises(ValueError, match="^t must be real"):
        dl.mode_strength(np.array([1 + 1j]), 1.0, 0.1)
    for r, rho in ((np.array([1 + 1j]), 0.5), (1.0, 0.5 + 0j)):
        with pytest.raises(ValueError, match=r"^need real r > 0 and \|rho\| < 1$"):
            fs.toy_moments(r, rho)
        with pytest.raises(ValueError, match=r"^need real r > 0 and \|rho\| < 1$"):
            fs.toy_mixing(r if np.ndim(r) == 0 else r[0], rho)
