"""Argument checks shared by :mod:`theorylib.theory` and :mod:`theorylib.sim`.

Each validator takes the argument's *name* first, returns the cleaned value and raises
``ValueError`` naming the argument and the condition it breaks. They hold no mathematics
of the book (no closed form), so both halves of the library use them without the
simulations depending on the theory.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "finite", "positive", "positive_scalar", "nonnegative", "in_range", "integer", "integers", "shape",
    "nonempty", "square", "symmetric_psd", "orthogonal", "times", "broadcastable",
    "fitted_part_below",
]


def _arr(name, x):
    # numpy would drop the imaginary part with only a ComplexWarning
    if np.iscomplexobj(x):
        raise ValueError(f"{name} must be real; got a complex value {x!r}")
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric; got {x!r}") from exc


def finite(name: str, x) -> np.ndarray:
    """``x`` as a float array; raises unless every entry is finite (no NaN, no ±inf)."""
    x = _arr(name, x)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x


def positive(name: str, x) -> np.ndarray:
    """``x`` as a float array; raises ``ValueError`` unless every entry is finite and > 0."""
    x = _arr(name, x)
    if np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"{name} must be positive and finite")
    return x


def positive_scalar(name: str, x) -> float:
    """A single finite number > 0 (a ``float``); arrays are rejected with the argument's name."""
    x = positive(name, x)
    if x.ndim != 0:
        raise ValueError(f"{name} must be a scalar; got shape {x.shape}")
    return float(x)


def nonnegative(name: str, x) -> np.ndarray:
    """``x`` as a float array; raises unless every entry is finite and ≥ 0."""
    x = _arr(name, x)
    if np.any(~np.isfinite(x)) or np.any(x < 0):
        raise ValueError(f"{name} must be non-negative and finite")
    return x


def in_range(name: str, x, lo=-np.inf, hi=np.inf, *, lo_open=False, hi_open=False) -> np.ndarray:
    """``x`` finite with every entry in the interval from ``lo`` to ``hi`` (open ends on request)."""
    x = finite(name, x)
    bad = (x <= lo if lo_open else x < lo) | (x >= hi if hi_open else x > hi)
    if np.any(bad):
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        raise ValueError(f"{name} must lie in {left}{lo:g}, {hi:g}{right}; got {x if x.ndim == 0 else x.ravel()[:6]}")
    return x


def integer(name: str, x, minimum=None, maximum=None) -> int:
    """``x`` as a Python ``int``; rejects non-integers (2.7 is an error, never truncated to 2),
    non-finite values and booleans, and values outside ``[minimum, maximum]``."""
    if isinstance(x, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer; got the boolean {x}")
    if isinstance(x, numbers.Integral):
        v = int(x)
    else:
        a = np.asarray(x)
        if a.ndim != 0 or a.dtype.kind not in "iuf":
            raise ValueError(f"{name} must be an integer scalar; got {x!r}")
        f = float(a)
        if not np.isfinite(f) or f != np.round(f):
            raise ValueError(f"{name} must be an integer; got {x!r}")
        v = int(f)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}; got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be ≤ {maximum}; got {v}")
    return v


def integers(name: str, x, minimum=None, maximum=None) -> np.ndarray:
    """Array version of :func:`integer` (an ``int64`` array; every entry a whole number)."""
    a = np.asarray(x)
    if a.dtype.kind == "b" or a.dtype.kind not in "iuf" and a.size:
        raise ValueError(f"{name} must hold integers; got {x!r}")
    f = a.astype(float)
    if not np.all(np.isfinite(f)) or np.any(f != np.round(f)):
        raise ValueError(f"{name} must hold whole numbers; got {x!r}")
    v = f.astype(np.int64)
    if minimum is not None and np.any(v < minimum):
        raise ValueError(f"{name} entries must be ≥ {minimum}; got {x!r}")
    if maximum is not None and np.any(v > maximum):
        raise ValueError(f"{name} entries must be ≤ {maximum}; got {x!r}")
    return v


def shape(name: str, x, expected) -> np.ndarray:
    """``x`` as a float array of shape ``expected`` (``None`` entries match any length)."""
    x = _arr(name, x)
    expected = tuple(expected)
    if x.ndim != len(expected) or any(e is not None and e != n for e, n in zip(expected, x.shape)):
        want = "(" + ", ".join("·" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
        raise ValueError(f"{name} must have shape {want}; got {x.shape}")
    return x


def nonempty(name: str, x) -> np.ndarray:
    """``x`` as a float array with at least one entry."""
    x = _arr(name, x)
    if x.size == 0:
        raise ValueError(f"{name} must not be empty")
    return x


def square(name: str, x) -> np.ndarray:
    """A finite, non-empty square matrix."""
    x = finite(name, x)
    if x.ndim != 2 or x.shape[0] != x.shape[1] or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix (n, n); got shape {x.shape}")
    return x


def symmetric_psd(name: str, x, *, definite=False, rtol=1e-10) -> np.ndarray:
    """A finite symmetric positive semi-definite matrix (or a stack ``(..., n, n)`` of them).

    ``definite=True`` asks for positive definiteness. Tolerances are relative to the largest
    entry: symmetry to 1e-12 (as everywhere in the library), eigenvalues ``≥ −rtol·max|x|``.
    """
    x = finite(name, x)
    # x.size, not x.shape[-1]: an empty stack (0, n, n) would otherwise reach max() below
    if x.ndim < 2 or x.shape[-1] != x.shape[-2] or x.size == 0:
        raise ValueError(f"{name} must be a non-empty square matrix (n, n); got shape {x.shape}")
    scale = max(1.0, float(np.abs(x).max()))
    if not np.allclose(x, np.swapaxes(x, -1, -2), atol=1e-12 * scale):
        raise ValueError(f"{name} must be symmetric")
    lam_min = float(np.linalg.eigvalsh(x).min())
    if definite and lam_min <= 1e-12 * scale:
        raise ValueError(f"{name} must be positive definite; its smallest eigenvalue is {lam_min:.3g}")
    if lam_min < -rtol * scale:
        raise ValueError(f"{name} must be positive semi-definite; its smallest eigenvalue is {lam_min:.3g}")
    return x


def orthogonal(name: str, x, n=None, atol=1e-8) -> np.ndarray:
    """A finite square matrix with orthonormal columns (``xᵀx = I`` to ``atol``), size ``n`` if given."""
    x = finite(name, x)
    if x.ndim != 2 or x.shape[0] != x.shape[1] or (n is not None and x.shape[0] != n):
        want = "(n, n)" if n is None else f"({n}, {n})"
        raise ValueError(f"{name} must be a square orthogonal matrix of shape {want}; got shape {x.shape}")
    err = float(np.abs(x.T @ x - np.eye(x.shape[0])).max()) if x.size else 0.0
    if err > atol:
        raise ValueError(f"{name} must be orthogonal (columns orthonormal); max |{name}ᵀ{name} − I| = {err:.3g}")
    return x


def times(name: str, t, *, nonnegative=True, nondecreasing=False, allow_empty=False) -> np.ndarray:
    """Finite times (a float array); optionally ``≥ 0``, non-decreasing and non-empty."""
    t = finite(name, t)
    if not allow_empty and t.size == 0:
        raise ValueError(f"{name} must not be empty")
    if nonnegative and np.any(t < 0):
        raise ValueError(f"{name} must be non-negative")
    if nondecreasing and np.any(np.diff(t.ravel()) < 0):
        raise ValueError(f"{name} must be non-decreasing")
    return t


def broadcastable(**arrays):
    """Broadcast named arrays together; on failure the message lists every name and shape."""
    values = [_arr(n, a) for n, a in arrays.items()]
    try:
        return np.broadcast_arrays(*values)
    except ValueError:
        desc = ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())
        raise ValueError(f"shapes do not broadcast together: {desc}") from None


def finite_result(name: str, value, why="the arguments are too extreme"):
    """Return ``value`` if every entry is finite; else raise ``ValueError``: a closed form whose
    exact value lies outside the float range (over- or underflow) says so instead of returning inf."""
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} is not representable as a finite float: {why}")
    return value


def explained(sigma_xx, sigma_yx) -> float:
    """``tr(Σ_yx Σ_xx⁺ Σ_xy)`` with a pseudo-inverse cut at 1e-10 of the largest eigenvalue, so
    round-off in near-null directions of an ill-conditioned ``Σ_xx`` cannot inflate it."""
    sxx = np.asarray(sigma_xx, dtype=float)
    syx = np.atleast_2d(np.asarray(sigma_yx, dtype=float))
    return float(np.trace(syx @ np.linalg.pinv(sxx, rcond=1e-10, hermitian=True) @ syx.T))


def fitted_part_below(name: str, total, fitted, what="the part the best linear map explains", rtol=1e-9):
    """Raise unless ``total ≥ fitted`` (to ``rtol`` relative): e.g. ``tr Σ_yy ≥ tr Σ_yx Σ_xx⁺ Σ_xy``,
    i.e. a non-negative minimum loss."""
    total, fitted = float(total), float(fitted)
    if total < fitted - rtol * max(1.0, abs(fitted), abs(total)):
        raise ValueError(f"{name} = {total:.6g} is below {what} ({fitted:.6g}): the statistics are "
                         "inconsistent (they would give a negative minimum loss)")
    return total
