"""Small sympy helpers shared by the chapters.

Conventions: gradient flow ``τ dθ/dt = −rate·∂L/∂θ`` on parameters given as sympy matrices of
scalar symbols (so losses are written in matrix entries and every step stays explicit).

Introduced in Chapter 1.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import sympy as sp

__all__ = [
    "matrix_symbols",
    "symmetric_matrix_symbols",
    "gradient",
    "gradient_flow",
    "time_derivative",
    "hessian",
    "is_zero",
]


def matrix_symbols(name: str, rows: int, cols: int, **assumptions) -> sp.Matrix:
    """A ``rows × cols`` matrix of scalar symbols ``name_ij`` (1-based indices)."""
    if rows < 1 or cols < 1:
        raise ValueError("a matrix needs at least one row and one column")
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", **assumptions))


def symmetric_matrix_symbols(name: str, n: int, **assumptions) -> sp.Matrix:
    """A symmetric ``n × n`` matrix of symbols ``name_ij`` with ``i ≤ j`` (e.g. a generic Σ_xx)."""
    if n < 1:
        raise ValueError("a matrix needs at least one row")
    return sp.Matrix(n, n, lambda i, j: sp.Symbol(f"{name}_{min(i, j) + 1}{max(i, j) + 1}", **assumptions))


def _as_matrix(p):
    return p if isinstance(p, sp.MatrixBase) else sp.Matrix([p])


def gradient(loss: sp.Expr, param) -> sp.Matrix:
    """``∂loss/∂param`` with the shape of ``param`` (a symbol or a matrix of symbols)."""
    P = _as_matrix(param)
    return P.applyfunc(lambda x: sp.diff(loss, x))


def gradient_flow(loss: sp.Expr, params: Sequence, tau=1, rates: Sequence | None = None) -> list:
    """Right-hand sides ``dθ/dt = −rate·∂L/∂θ / τ`` for each parameter (matrices keep their shape)."""
    rates = [1] * len(params) if rates is None else list(rates)
    if len(rates) != len(params):
        raise ValueError("one rate per parameter")
    tau = sp.sympify(tau)  # keep exact rationals: plain ints would give floats (-1/2 = -0.5)
    return [(-sp.sympify(r) / tau) * gradient(loss, p) for p, r in zip(params, rates)]


def time_derivative(expr, params: Sequence, flows: Sequence):
    """``d expr/dt = Σ_θ ∂expr/∂θ · θ̇`` along a flow; ``expr`` may be a scalar or a matrix."""
    if len(params) != len(flows):
        raise ValueError("one flow per parameter")
    pairs = []
    for p, f in zip(params, flows):
        P, F = _as_matrix(p), _as_matrix(f)
        if P.shape != F.shape:
            raise ValueError(f"flow shape {F.shape} differs from parameter shape {P.shape}")
        pairs.extend(zip(list(P), list(F)))

    def d(e):
        return sum((sp.diff(e, x) * v for x, v in pairs), sp.Integer(0))

    return expr.applyfunc(d) if isinstance(expr, sp.MatrixBase) else d(expr)


def hessian(loss: sp.Expr, params: Sequence, at: Mapping | None = None) -> sp.Matrix:
    """Hessian of ``loss`` in the flattened entries of ``params``, optionally at a point."""
    flat = [x for p in params for x in list(_as_matrix(p))]
    H = sp.hessian(loss, flat)
    return H.subs(at) if at else H


def is_zero(expr) -> bool:
    """True iff sympy simplifies ``expr`` (scalar or matrix) to exactly zero."""
    if isinstance(expr, sp.MatrixBase):
        return all(sp.simplify(e) == 0 for e in expr)
    return sp.simplify(expr) == 0
