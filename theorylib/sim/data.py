"""Data sets as population statistics (moments) and as samples.

For linear networks under the squared loss, ``L = ½E‖y − Wx‖²`` depends on the data only
through ``Σ_xx = E[xxᵀ]``, ``Σ_yx = E[yxᵀ]`` and ``tr Σ_yy``, so a run on :class:`Moments`
costs the same for any number of samples.

Introduced in Chapter 1 (deep linear networks).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as _v

__all__ = [
    "Moments",
    "moments_from_samples",
    "aligned_moments",
    "random_orthogonal",
    "hierarchical_data",
]


@dataclass(frozen=True)
class Moments:
    """Second-order statistics of a data set (book convention: expectations).

    Attributes
    ----------
    sigma_xx : ndarray (n_in, n_in)
        ``E[x xᵀ]``, symmetric positive semi-definite.
    sigma_yx : ndarray (n_out, n_in)
        ``E[y xᵀ]``.
    trace_yy : float
        ``E[‖y‖²]``; only the loss value (not the gradient) needs it. It must be at least the
        part the best linear map explains, ``tr Σ_yx Σ_xx⁺ Σ_xy`` (a non-negative minimum loss).

    Raises
    ------
    ValueError
        On non-finite entries, bad shapes, a non-symmetric or non-PSD ``Σ_xx``, or inconsistent
        statistics (``trace_yy`` below the fitted part).
    """

    sigma_xx: np.ndarray
    sigma_yx: np.ndarray
    trace_yy: float

    def __post_init__(self):
        sxx = _v.finite("sigma_xx", self.sigma_xx)
        syx = _v.finite("sigma_yx", self.sigma_yx)
        if sxx.size == 0 or syx.size == 0:
            raise ValueError("sigma_xx and sigma_yx must not be empty")
        if sxx.ndim != 2 or sxx.shape[0] != sxx.shape[1]:
            raise ValueError(f"sigma_xx must be square; got shape {sxx.shape}")
        if syx.ndim != 2 or syx.shape[1] != sxx.shape[0]:
            raise ValueError(f"sigma_yx must have shape (n_out, {sxx.shape[0]}); got {syx.shape}")
        if not np.allclose(sxx, sxx.T, atol=1e-12 * max(1.0, np.abs(sxx).max())):
            raise ValueError("sigma_xx must be symmetric")
        if np.linalg.eigvalsh(sxx).min() < -1e-10 * max(1.0, np.abs(sxx).max()):
            raise ValueError("sigma_xx must be positive semi-definite")
        if not np.isfinite(self.trace_yy) or self.trace_yy < 0:
            raise ValueError("trace_yy must be a non-negative number")
        _v.fitted_part_below("trace_yy", self.trace_yy, _v.explained(sxx, syx),
                             "tr Σ_yx Σ_xx⁺ Σ_xy (the part the best linear map explains)")
        object.__setattr__(self, "sigma_xx", sxx)
        object.__setattr__(self, "sigma_yx", syx)
        object.__setattr__(self, "trace_yy", float(self.trace_yy))

    @property
    def n_in(self) -> int:
        return self.sigma_xx.shape[0]

    @property
    def n_out(self) -> int:
        return self.sigma_yx.shape[0]

    def min_loss(self) -> float:
        """Loss of the best linear map, ``½(tr Σ_yy − tr Σ_yx Σ_xx⁺ Σ_xy)``."""
        w = self.sigma_yx @ np.linalg.pinv(self.sigma_xx)
        return 0.5 * (self.trace_yy - np.trace(w @ self.sigma_yx.T))


def moments_from_samples(X, Y) -> Moments:
    """Moments of samples ``X`` (P, n_in) and ``Y`` (P, n_out), averaged over the P rows."""
    X = _v.finite("X", X)
    Y = _v.finite("Y", Y)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must be 2-D with the same number of rows; got {X.shape} and {Y.shape}")
    if X.shape[0] == 0:
        raise ValueError("no samples")
    P = X.shape[0]
    return Moments(X.T @ X / P, Y.T @ X / P, float(np.sum(Y * Y) / P))


def random_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random orthogonal matrix (QR of a Gaussian matrix with the sign fix)."""
    n = _v.integer("n", n, minimum=1)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def aligned_moments(s, n_in: int, n_out: int, seed: int = 0):
    """Whitened statistics with prescribed singular values: ``Σ_xx = I``, ``Σ_yx = U diag(s) Vᵀ``.

    ``tr Σ_yy = Σ s²`` (noise-free targets, so the minimum loss is 0).

    Returns
    -------
    moments : Moments
    U : ndarray (n_out, n_out)
    V : ndarray (n_in, n_in)
        Random orthogonal singular vectors (columns), drawn from ``seed``.
    """
    n_in = _v.integer("n_in", n_in, minimum=1)
    n_out = _v.integer("n_out", n_out, minimum=1)
    s = _v.finite("s", s)
    if s.ndim != 1 or len(s) > min(n_in, n_out):
        raise ValueError(f"need at most min(n_in, n_out) = {min(n_in, n_out)} singular values")
    if np.any(s < 0):
        raise ValueError("singular values must be non-negative")
    rng = np.random.default_rng(seed)
    U = random_orthogonal(n_out, rng)
    V = random_orthogonal(n_in, rng)
    S = np.zeros((n_out, n_in))
    S[np.arange(len(s)), np.arange(len(s))] = s
    return Moments(np.eye(n_in), U @ S @ V.T, float(np.sum(s**2))), U, V


def hierarchical_data(n_levels: int, n_features: int, flip: float = 0.1, seed: int = 0):
    """Items at the leaves of a binary tree with features generated by a branching diffusion.

    Each feature starts as ±1 at the root and is copied down the tree, flipping sign
    with probability ``flip`` on every edge (Saxe et al. 2014, Fig. 3). Inputs are one-hot
    scaled by √P, so ``Σ_xx = I``.

    Returns
    -------
    X : ndarray (P, P)
        Inputs, ``P = 2**(n_levels-1)`` items.
    Y : ndarray (P, n_features)
        Feature vectors.
    """
    n_levels = _v.integer("n_levels", n_levels)
    n_features = _v.integer("n_features", n_features)
    if n_levels < 2 or n_features < 1 or not 0 <= flip <= 0.5:
        raise ValueError("need n_levels ≥ 2, n_features ≥ 1 and 0 ≤ flip ≤ 0.5")
    rng = np.random.default_rng(seed)
    nodes = rng.choice([-1.0, 1.0], size=(1, n_features))
    for _ in range(n_levels - 1):
        children = np.repeat(nodes, 2, axis=0)
        flips = rng.random(children.shape) < flip
        nodes = np.where(flips, -children, children)
    P = nodes.shape[0]
    X = np.sqrt(P) * np.eye(P)
    return X, nodes
