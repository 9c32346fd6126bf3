"""Deep linear networks ``f(x) = W_L ⋯ W_1 x`` trained on population statistics.

Loss (book convention) ``L = ½E‖y − Wx‖² = ½ tr Σ_yy − tr(Σ_yx Wᵀ) + ½ tr(W Σ_xx Wᵀ)`` with
``W = W_L ⋯ W_1``, so ``∂L/∂W_l = −(W_L⋯W_{l+1})ᵀ (Σ_yx − W Σ_xx) (W_{l−1}⋯W_1)ᵀ``.

Introduced in Chapter 1 (deep linear networks).
"""
from __future__ import annotations

import numpy as np

from .. import _validate as _v
from .data import Moments, random_orthogonal

__all__ = ["DeepLinear", "ScalarChains", "decoupled_init", "random_init", "mode_strengths"]


def _bmm(a, b):
    return np.matmul(a, b)


class DeepLinear:
    """An ensemble of depth-``n_layers`` linear networks; parameters ``W1 … WL``.

    ``Wl`` has shape ``(E, widths[l], widths[l-1])``.

    Parameters
    ----------
    widths : sequence of int
        ``(n_in, n_hidden_1, …, n_out)``; ``len(widths) - 1`` weight matrices.
    """

    def __init__(self, widths):
        widths = _widths(widths)
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"widths must list at least input and output sizes ≥ 1; got {widths}")
        self.widths = widths
        self.n_layers = len(widths) - 1
        self.names = tuple(f"W{l + 1}" for l in range(self.n_layers))

    def _check(self, params, data: Moments):
        if data.n_in != self.widths[0] or data.n_out != self.widths[-1]:
            raise ValueError(
                f"data has n_in={data.n_in}, n_out={data.n_out}; network expects {self.widths[0]} and {self.widths[-1]}"
            )
        for l, name in enumerate(self.names):
            shape = params[name].shape[1:]
            if shape != (self.widths[l + 1], self.widths[l]):
                raise ValueError(f"{name} has shape {shape}; expected {(self.widths[l + 1], self.widths[l])}")

    def product(self, params):
        """End-to-end map ``W = W_L ⋯ W_1`` of shape (E, n_out, n_in)."""
        W = params[self.names[0]]
        for name in self.names[1:]:
            W = _bmm(params[name], W)
        return W

    def loss(self, params, data: Moments):
        self._check(params, data)
        W = self.product(params)
        # matmul-based traces: einsum without a contraction plan was the bottleneck of small runs
        return (
            0.5 * data.trace_yy
            - np.sum(W * data.sigma_yx, axis=(1, 2))
            + 0.5 * np.sum(_bmm(W, data.sigma_xx) * W, axis=(1, 2))
        )

    def grad(self, params, data: Moments):
        self._check(params, data)
        Ws = [params[n] for n in self.names]
        L = self.n_layers
        # before[l] = W_{l-1}⋯W_1 (identity for l = 0); after[l] = W_L⋯W_{l+1}
        before = [None] * L
        acc = None
        for l in range(L):
            before[l] = acc
            acc = Ws[l] if acc is None else _bmm(Ws[l], acc)
        W = acc
        after = [None] * L
        acc = None
        for l in range(L - 1, -1, -1):
            after[l] = acc
            acc = Ws[l] if acc is None else _bmm(acc, Ws[l])
        resid = data.sigma_yx - _bmm(W, data.sigma_xx)  # (E, n_out, n_in)
        g = {}
        for l, name in enumerate(self.names):
            m = resid if after[l] is None else _bmm(np.swapaxes(after[l], 1, 2), resid)
            if before[l] is not None:
                m = _bmm(m, np.swapaxes(before[l], 1, 2))
            g[name] = -m
        return g

    def _compiled_stepper(self, params, data, factor):
        """The fused GD kernel of the compiled backend (engine.train_gd), None without one."""
        if not isinstance(data, Moments):
            return None
        self._check(params, data)
        from . import _compiled  # imports numba: only when the engine asks for it

        return _compiled.deep_linear(self, params, data, factor)

    def stability_bound(self, data: Moments):
        """``2/λ_max`` of the Hessian at the balanced global minimum.

        For the top mode with strength ``s`` the balanced minimum has every factor ``s^{1/L}``;
        the Hessian there is ``λ_x g gᵀ`` with ``g_l = s^{(L−1)/L}``, so
        ``λ_max = L s^{2(L−1)/L} λ_max(Σ_xx)``.
        """
        w_star = data.sigma_yx @ np.linalg.pinv(data.sigma_xx)
        s = np.linalg.norm(w_star, 2)
        lam_x = np.linalg.eigvalsh(data.sigma_xx).max()
        L = self.n_layers
        lam = L * s ** (2 * (L - 1) / L) * lam_x
        return 2.0 / lam if lam > 0 else np.inf


def _widths(widths):
    """Layer sizes as a tuple of ints ≥ 1 (2.7 is an error, not 2)."""
    w = _v.integers("widths", widths, minimum=1)
    if w.ndim != 1 or len(w) < 2:
        raise ValueError(f"widths must list at least input and output sizes ≥ 1; got {widths}")
    return tuple(int(x) for x in w)


def decoupled_init(U, V, widths, u0, n_ensemble: int = 1, seed: int = 0):
    """Balanced, decoupled initialisation on the SVD modes of ``Σ_yx = U S Vᵀ``.

    ``W_1 = R_1 D Vᵀ``, ``W_l = R_l D R_{l−1}ᵀ``, ``W_L = U D R_{L−1}ᵀ``, with random orthogonal
    ``R_l`` (one draw per ensemble member) and ``D`` holding ``u0_α^{1/L}`` on the diagonal, so
    the product is ``U diag(u0) Vᵀ``: mode α starts at strength ``u0_α`` and every layer carries
    the same share (balanced, ``W_{l+1}ᵀW_{l+1} = W_l W_lᵀ``).

    Parameters
    ----------
    U, V : ndarray
        Output and input singular vectors (columns), square orthogonal.
    widths : sequence of int
        ``(n_in, hidden…, n_out)``.
    u0 : float or ndarray (k,)
        Initial mode strengths (> 0) for the first ``1 ≤ k ≤ min(widths)`` modes; a scalar fills all.

    Raises
    ------
    ValueError
        If ``U`` or ``V`` is not orthogonal of the right size, a width or ``n_ensemble`` is
        not a positive integer, or ``u0`` is empty, not finite or not positive.
    """
    widths = _widths(widths)
    n_ensemble = _v.integer("n_ensemble", n_ensemble, minimum=1)
    U = _v.orthogonal("U", U, n=widths[-1])
    V = _v.orthogonal("V", V, n=widths[0])
    k_max = min(widths)
    u0 = _v.nonempty("u0", u0)
    if not np.all(np.isfinite(u0)):
        raise ValueError("u0 must be finite")
    u0 = np.full(k_max, float(u0)) if u0.ndim == 0 else u0
    if u0.ndim != 1 or len(u0) > k_max:
        raise ValueError(f"u0 must be a scalar or have at most min(widths) = {k_max} entries")
    if np.any(u0 <= 0):
        raise ValueError("initial mode strengths u0 must be positive (zero is a saddle of the flow)")
    L = len(widths) - 1
    d = u0 ** (1.0 / L)
    rng = np.random.default_rng(seed)
    params = {f"W{l + 1}": np.zeros((n_ensemble, widths[l + 1], widths[l])) for l in range(L)}
    for e in range(n_ensemble):
        # Rs[0] = V (input side), Rs[l] a random rotation of hidden layer l, Rs[L] = U (output side)
        Rs = [V] + [random_orthogonal(w, rng) for w in widths[1:-1]] + [U]
        for l in range(L):
            D = np.zeros((widths[l + 1], widths[l]))
            D[np.arange(len(d)), np.arange(len(d))] = d
            params[f"W{l + 1}"][e] = Rs[l + 1] @ D @ Rs[l].T
    return params


def random_init(widths, scale: float, n_ensemble: int = 1, seed: int = 0):
    """I.i.d. Gaussian weights with standard deviation ``scale`` (small ``scale`` = rich regime)."""
    widths = _widths(widths)
    scale = _v.positive_scalar("scale", scale)
    n_ensemble = _v.integer("n_ensemble", n_ensemble, minimum=1)
    rng = np.random.default_rng(seed)
    return {
        f"W{l + 1}": scale * rng.standard_normal((n_ensemble, widths[l + 1], widths[l]))
        for l in range(len(widths) - 1)
    }


def mode_strengths(W, U, V, k=None):
    """Diagonal of ``Uᵀ W V`` for product maps ``W`` (E, n_out, n_in): the strength of each SVD mode."""
    # diag(UᵀWV)_α = Σ_oi U_oα W_oi V_iα: one matmul instead of the full UᵀWV
    W = _v.finite("W", W)
    U = _v.finite("U", U)
    V = _v.finite("V", V)
    if W.ndim != 3:
        raise ValueError(f"W must have shape (E, n_out, n_in); got {W.shape}")
    if U.ndim != 2 or U.shape[0] != W.shape[1]:
        raise ValueError(f"U must have shape ({W.shape[1]}, ·) (n_out rows, as W); got {U.shape}")
    if V.ndim != 2 or V.shape[0] != W.shape[2]:
        raise ValueError(f"V must have shape ({W.shape[2]}, ·) (n_in rows, as W); got {V.shape}")
    k_max = min(U.shape[1], V.shape[1])
    k = k_max if k is None else _v.integer("k", k, minimum=1, maximum=k_max)
    return np.sum(U[:, :k] * _bmm(W, V[:, :k]), axis=1)




class ScalarChains:
    """An ensemble of scalar chains ``u = a_1 ⋯ a_L`` of *different* depths, trained at once.

    Member ``e`` has ``depths[e]`` factors, stored in the first ``depths[e]`` entries of the
    parameter ``"a"`` of shape ``(E, max(depths))``; the remaining entries are padding that
    the model ignores (zero gradient). With :class:`Moments` of size 1×1 (``Σ_xx = λ``,
    ``Σ_yx = s``) the loss is ``½ tr Σ_yy − s u + ½ λ u²``, the loss of a depth-``L`` linear
    network with widths ``(1, …, 1)``: the same model as :class:`DeepLinear`, batched over
    depth. Introduced in Chapter 1 (deep chains).
    """

    def __init__(self, depths):
        depths = _v.integers("depths", depths, minimum=1)
        self.depths = np.atleast_1d(depths).astype(int)
        if self.depths.ndim != 1 or self.depths.size == 0:
            raise ValueError("depths must be a non-empty 1-D list of positive integers")
        self.n_max = int(self.depths.max())
        self._mask = np.arange(self.n_max)[None, :] < self.depths[:, None]

    def _factors(self, params, data):
        a = params["a"]
        if a.shape != (len(self.depths), self.n_max):
            raise ValueError(f"a has shape {a.shape}; expected {(len(self.depths), self.n_max)}")
        if data.n_in != 1 or data.n_out != 1:
            raise ValueError("ScalarChains needs 1×1 moments (one input, one output)")
        return np.where(self._mask, a, 1.0)

    def product(self, params):
        """The product ``u = a_1 ⋯ a_L`` of each member, shape (E,)."""
        return np.prod(np.where(self._mask, params["a"], 1.0), axis=1)

    def loss(self, params, data: Moments):
        u = np.prod(self._factors(params, data), axis=1)
        s, lam = data.sigma_yx[0, 0], data.sigma_xx[0, 0]
        return 0.5 * data.trace_yy - s * u + 0.5 * lam * u**2

    def grad(self, params, data: Moments):
        f = self._factors(params, data)
        ones = np.ones((f.shape[0], 1))
        # ∏_{j≠i} a_j as (prefix product before i) × (suffix product after i): no division
        before = np.cumprod(np.concatenate([ones, f[:, :-1]], axis=1), axis=1)
        after = np.cumprod(np.concatenate([ones, f[:, :0:-1]], axis=1), axis=1)[:, ::-1]
        u = before[:, -1] * f[:, -1]
        resid = data.sigma_yx[0, 0] - data.sigma_xx[0, 0] * u
        return {"a": np.where(self._mask, -(before * after) * resid[:, None], 0.0)}
