"""Argument checks shared by the closed forms (each raises ``ValueError`` with the argument's name).

The validators live in :mod:`theorylib._validate` (used by :mod:`theorylib.sim` too); this
module re-exports them for the theory modules.
"""
from __future__ import annotations

from .._validate import (  # noqa: F401
    broadcastable, finite, finite_result, fitted_part_below, in_range, integer, integers, nonempty, nonnegative,
    orthogonal, positive, positive_scalar, shape, square, symmetric_psd, times,
)
