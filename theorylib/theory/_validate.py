"""Argument checks shared by the closed forms (each raises ``ValueError`` with the argument's name)."""
from __future__ import annotations

import numpy as np


def positive(name: str, x) -> np.ndarray:
    """``x`` as a float array; raises ``ValueError`` unless every entry is finite and > 0."""
    x = np.asarray(x, dtype=float)
    if np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"{name} must be positive and finite")
    return x
