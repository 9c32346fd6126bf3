"""Bias-free leaky-ReLU networks of any depth, the paired initialisation, symmetric data sets.

``f(x) = W_L σ_α(W_{L−1} ⋯ σ_α(W_1 x))`` with ``σ_α(z) = max(z, αz)`` and no biases, trained on
samples with the book's loss ``L = ½ (1/P) Σ_μ ‖y_μ − f(x_μ)‖²``. The loss of a ReLU net does
not depend on the data through moments only, so the model reads a :class:`Samples` object.

**The derivative at exactly zero.** ``σ_α`` has a kink at 0; any value in ``[α, 1]`` is a valid
subgradient. PyTorch uses ``α`` (0 for ReLU), which breaks the pair identity
``σ'(z) + σ'(−z) = 1 + α`` exactly where a pre-activation vanishes (it gives ``2α``). The
default here is the midpoint ``(1+α)/2``, for which the identity holds for every ``z``,
including ``z = 0``; ``grad_at_zero`` selects another convention.

This module never uses a closed form (it is the independent side of Chapter 3's checks).

Introduced in Chapter 3 (bias-free ReLU networks).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as _v
from .data import Moments, moments_from_samples
from .linear import decoupled_init

__all__ = [
    "Samples",
    "symmetric_dataset",
    "whiten",
    "symmetric_teacher_data",
    "parity_data",
    "BiasFreeNet",
    "paired_init",
    "paired_random_init",
    "paired_decoupled_init",
    "gaussian_init",
    "neuron_balance",
    "layer_spectra",
]


@dataclass(frozen=True)
class Samples:
    """A finite data set: inputs ``X`` (P, d) and targets ``Y`` (P, n_out)."""

    X: np.ndarray
    Y: np.ndarray

    def __post_init__(self):
        X = np.asarray(self.X, dtype=float)
        Y = np.asarray(self.Y, dtype=float)
        if Y.ndim == 1:
            Y = Y[:, None]
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
            raise ValueError(f"X and Y must be 2-D with the same number of rows; got {X.shape} and {Y.shape}")
        if X.shape[0] == 0:
            raise ValueError("no samples")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
            raise ValueError("X and Y must be finite")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "Y", Y)

    @property
    def n_in(self) -> int:
        return self.X.shape[1]

    @property
    def n_out(self) -> int:
        return self.Y.shape[1]

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    def moments(self) -> Moments:
        """``Σ_xx``, ``Σ_yx`` and ``E‖y‖²`` (sample averages) for a linear twin."""
        return moments_from_samples(self.X, self.Y)

    def is_symmetric(self, atol: float = 0.0) -> bool:
        """True if the set of pairs ``(x, y)`` is closed under ``(x, y) → (−x, −y)``.

        Checked as a multiset: every sample's mirror image is present (to ``atol``).
        """
        Z = np.hstack([self.X, self.Y])
        A = Z[np.lexsort(Z.T[::-1])]
        B = -Z
        B = B[np.lexsort(B.T[::-1])]
        return bool(np.all(np.abs(A - B) <= atol))


def symmetric_dataset(X, Y) -> Samples:
    """Mirror a data set: ``[X; −X]`` with targets ``[Y; −Y]`` (the odd extension of any labels).

    Every sample's mirror sits ``P`` rows later, so the pairing survives any later linear
    map of the inputs (e.g. :func:`whiten`).
    """
    base = Samples(X, Y)
    return Samples(np.vstack([base.X, -base.X]), np.vstack([base.Y, -base.Y]))


def whiten(X):
    """Linear whitening ``x → Σ_xx^{−1/2} x`` so that ``(1/P) Σ x xᵀ = I`` exactly.

    A linear map keeps a mirrored data set mirrored (and its mean at zero).

    Raises
    ------
    ValueError
        If ``Σ_xx`` is singular (fewer than ``d`` independent samples).
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError("X must be 2-D (P, d)")
    S = X.T @ X / X.shape[0]
    lam, Q = np.linalg.eigh(S)
    if lam.min() <= 1e-12 * max(1.0, lam.max()):
        raise ValueError("Σ_xx is singular; cannot whiten")
    return X @ (Q / np.sqrt(lam)) @ Q.T


def symmetric_teacher_data(s, n_in: int, n_out: int, n_half: int, seed: int = 0, odd_extra=None):
    """Whitened symmetric Gaussian inputs and a linear teacher with prescribed singular values.

    ``X = whiten([G; −G])`` with ``G`` (n_half, n_in) standard normal, so ``Σ_xx = I``;
    ``y = U diag(s) Vᵀ x (+ odd_extra(x))``, so ``Σ_yx = U diag(s) Vᵀ`` when the extra part is
    uncorrelated with ``x``.

    Parameters
    ----------
    s : array_like (m,)
        Teacher singular values, ``m ≤ min(n_in, n_out)``.
    n_half : int
        Number of samples before mirroring (``P = 2 n_half``; need ``n_half ≥ n_in``).
    odd_extra : callable, optional
        ``odd_extra(X) -> (P, n_out)``; must be odd in ``x`` to keep the data symmetric.

    Returns
    -------
    data : Samples
    U : ndarray (n_out, n_out)
    V : ndarray (n_in, n_in)
    """
    from .data import random_orthogonal

    n_in, n_out, n_half = (_v.integer(n, x, minimum=1) for n, x in (("n_in", n_in), ("n_out", n_out), ("n_half", n_half)))
    s = _v.finite("s", s)
    if s.ndim != 1 or len(s) > min(n_in, n_out) or np.any(s < 0):
        raise ValueError("need at most min(n_in, n_out) non-negative singular values")
    if n_half < n_in:
        raise ValueError("need n_half ≥ n_in samples to whiten")
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n_half, n_in))
    X = whiten(np.vstack([G, -G]))
    U = random_orthogonal(n_out, rng)
    V = random_orthogonal(n_in, rng)
    S = np.zeros((n_out, n_in))
    S[np.arange(len(s)), np.arange(len(s))] = s
    Y = X @ (U @ S @ V.T).T
    if odd_extra is not None:
        Y = Y + np.asarray(odd_extra(X), dtype=float).reshape(Y.shape)
    data = Samples(X, Y)
    if odd_extra is not None and not np.allclose(data.Y[:n_half], -data.Y[n_half:], atol=1e-12):
        raise ValueError("odd_extra must be an odd function of x")
    return data, U, V


def parity_data(n_bits: int = 3) -> Samples:
    """All ``2^n`` points of ``{±1}^n`` with the parity label ``y = x_1 ⋯ x_n``.

    For odd ``n`` the parity is an odd function and the set is symmetric; ``Σ_xx = I`` and
    ``Σ_yx = 0`` for ``n ≥ 2`` (parity is orthogonal to every linear function).
    """
    n_bits = _v.integer("n_bits", n_bits, minimum=1)
    grid = np.array(np.meshgrid(*[[-1.0, 1.0]] * n_bits, indexing="ij")).reshape(n_bits, -1).T
    return Samples(grid, np.prod(grid, axis=1, keepdims=True))


class BiasFreeNet:
    """An ensemble of bias-free leaky-ReLU networks ``W_L σ(⋯σ(W_1 x))``; parameters ``W1 … WL``.

    ``Wl`` has shape ``(E, widths[l], widths[l-1])``; ``σ_α`` acts after every layer but the last.

    Parameters
    ----------
    widths : sequence of int
        ``(n_in, hidden…, n_out)``; at least one hidden layer.
    alpha : float or array_like (E,)
        Leak ``α ∈ [0, 1]`` (0 = ReLU, 1 = linear); an array trains one leak per ensemble member.
    grad_at_zero : float, optional
        The value used for ``σ'(0)``, in ``[0, 1]``. Default: ``(1+α)/2`` (see module docstring);
        PyTorch's convention is ``grad_at_zero = α``.
    """

    def __init__(self, widths, alpha=0.0, grad_at_zero=None):
        widths = tuple(int(w) for w in _v.integers("widths", widths))
        if len(widths) < 3 or min(widths) < 1:
            raise ValueError(f"widths must be (n_in, hidden…, n_out) with at least one hidden layer; got {widths}")
        a = np.asarray(alpha, dtype=float)
        if a.ndim > 1 or np.any(~np.isfinite(a)) or np.any(a < 0) or np.any(a > 1):
            raise ValueError(f"alpha must be a scalar or 1-D array in [0, 1]; got {alpha}")
        if grad_at_zero is not None and not 0.0 <= float(grad_at_zero) <= 1.0:
            raise ValueError("grad_at_zero must lie in [0, 1]")
        self.widths = widths
        self.n_layers = len(widths) - 1
        self.names = tuple(f"W{l + 1}" for l in range(self.n_layers))
        self.alpha = a
        # a float, so Fraction(1, 2) or "0.5" give the same float64 gradients as 0.5
        self.grad_at_zero = None if grad_at_zero is None else float(grad_at_zero)

    # ------------------------------------------------------------------ helpers
    def _leak(self, n_ens):
        a = self.alpha
        if a.ndim == 0:
            return float(a)
        if a.shape != (n_ens,):
            raise ValueError(f"alpha has {a.shape[0]} entries but the ensemble has {n_ens} members")
        return a.reshape(n_ens, 1, 1)

    def _check(self, params, data: Samples):
        if data.n_in != self.widths[0] or data.n_out != self.widths[-1]:
            raise ValueError(
                f"data has n_in={data.n_in}, n_out={data.n_out}; network expects {self.widths[0]} and {self.widths[-1]}"
            )
        sizes = set()
        for l, name in enumerate(self.names):
            if name not in params:
                raise ValueError(f"missing parameter {name!r}")
            p = params[name]
            if p.ndim != 3 or p.shape[1:] != (self.widths[l + 1], self.widths[l]):
                raise ValueError(f"{name} has shape {p.shape}; expected (E, {self.widths[l + 1]}, {self.widths[l]})")
            sizes.add(p.shape[0])
        if len(sizes) != 1:
            raise ValueError("parameters disagree on the ensemble size")
        return sizes.pop()

    def _forward(self, params, X, need_derivs=False):
        """Activations ``A_l`` (A_0 = X), slopes ``σ'(Z_l)`` of the hidden layers, and the output.

        ``σ_α(z) = σ_α'(z)·z`` (Euler's identity for a 1-homogeneous function), so one mask
        gives both the activation and, for the backward pass, the slope.
        """
        n_ens = params[self.names[0]].shape[0]
        a = self._leak(n_ens)
        acts = [np.broadcast_to(X, (n_ens,) + X.shape)]
        derivs = []
        h = X
        for l, name in enumerate(self.names):
            W = params[name]
            if l == 0:  # X (P, d) is shared: an explicit broadcast keeps matmul on its fast path
                h = acts[0]
            z = np.matmul(h, np.swapaxes(W, 1, 2))  # (E, P, n_l)
            if l == self.n_layers - 1:
                return acts, derivs, z
            d = a + (1.0 - a) * (z > 0)  # 1 for z > 0, α for z < 0 (and, for now, z = 0)
            h = z * d
            if need_derivs:
                zero = z == 0
                if zero.any():  # exact zeros are rare with dense data; fix them only when present
                    at0 = (1.0 + a) / 2.0 if self.grad_at_zero is None else self.grad_at_zero
                    d = np.where(zero, at0, d)
                derivs.append(d)
            acts.append(h)

    # ------------------------------------------------------------------ model API
    def predict(self, params, X):
        """Network outputs ``f(x)`` for inputs ``X`` (P, d): array (E, P, n_out)."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.widths[0]:
            raise ValueError(f"X must have shape (P, {self.widths[0]})")
        return self._forward(params, X)[2]

    def loss(self, params, data: Samples):
        """``½ (1/P) Σ_μ ‖y_μ − f(x_μ)‖²`` per ensemble member, shape (E,)."""
        self._check(params, data)
        F = self.predict(params, data.X)
        return 0.5 * np.mean(np.sum((data.Y - F) ** 2, axis=2), axis=1)

    def grad(self, params, data: Samples):
        """Back-propagated ``∂L/∂W_l`` (with ``σ'(0)`` as chosen in the constructor)."""
        self._check(params, data)
        acts, derivs, F = self._forward(params, data.X, need_derivs=True)
        delta = (F - data.Y) / data.n_samples  # ∂L/∂f, (E, P, n_out)
        g = {}
        for l in range(self.n_layers - 1, -1, -1):
            name = self.names[l]
            g[name] = np.matmul(np.swapaxes(delta, 1, 2), acts[l])
            if l > 0:
                delta = np.matmul(delta, params[name]) * derivs[l - 1]
        return g

    def even_odd(self, params, X):
        """Odd and even parts ``(f(x) ∓ f(−x))/2`` of the outputs on ``X``: two (E, P, n_out) arrays."""
        fp = self.predict(params, X)
        fm = self.predict(params, -np.asarray(X, dtype=float))
        return (fp - fm) / 2.0, (fp + fm) / 2.0

    def linear_readout(self, params, data: Samples):
        """Least-squares linear map of the outputs, ``E[f xᵀ] Σ_xx⁻¹``: (E, n_out, n_in).

        For a network that computes a linear function on the data this *is* that function;
        in general it is the best linear approximation of the net on the samples.
        """
        F = self.predict(params, data.X)
        Sfx = np.matmul(np.swapaxes(F, 1, 2), data.X) / data.n_samples
        return np.matmul(Sfx, np.linalg.pinv(data.X.T @ data.X / data.n_samples))


def gaussian_init(widths, scale, n_ensemble: int = 1, seed: int = 0, fan_in: bool = False):
    """I.i.d. Gaussian weights of standard deviation ``scale`` (or ``scale/√fan_in``)."""
    widths = tuple(int(w) for w in _v.integers("widths", widths, minimum=1))
    if len(widths) < 2:
        raise ValueError(f"widths must list at least input and output sizes; got {widths}")
    scale = _v.positive_scalar("scale", scale)
    n_ensemble = _v.integer("n_ensemble", n_ensemble, minimum=1)
    rng = np.random.default_rng(seed)
    out = {}
    for l in range(len(widths) - 1):
        std = scale / np.sqrt(widths[l]) if fan_in else scale
        out[f"W{l + 1}"] = std * rng.standard_normal((n_ensemble, widths[l + 1], widths[l]))
    return out


def paired_init(W1_half, W2_half):
    """Pair every hidden unit ``(w, v)`` with its mirror ``(−w, −v)``.

    ``W1 = [W; −W]`` and ``W2 = [V, −V]``, so unit ``h + H/2`` is the mirror of unit ``h``.

    Parameters
    ----------
    W1_half : array_like (E, H/2, d)
    W2_half : array_like (E, n_out, H/2)

    Returns
    -------
    dict with ``W1`` (E, H, d) and ``W2`` (E, n_out, H).
    """
    W = np.asarray(W1_half, dtype=float)
    V = np.asarray(W2_half, dtype=float)
    if W.ndim != 3 or V.ndim != 3 or W.shape[0] != V.shape[0] or W.shape[1] != V.shape[2]:
        raise ValueError(f"need W1_half (E, h, d) and W2_half (E, n_out, h); got {W.shape} and {V.shape}")
    return {"W1": np.concatenate([W, -W], axis=1), "W2": np.concatenate([V, -V], axis=2)}


def _even_hidden(n_hidden):
    if n_hidden < 2 or n_hidden % 2:
        raise ValueError(f"the paired initialisation needs an even number of hidden units; got {n_hidden}")
    return n_hidden // 2


def paired_random_init(widths, scale, n_ensemble: int = 1, seed: int = 0):
    """Paired initialisation with i.i.d. Gaussian half-network (std ``scale``); two-layer only."""
    widths = tuple(int(w) for w in _v.integers("widths", widths, minimum=1))
    if len(widths) != 3:
        raise ValueError("the paired initialisation is defined for two-layer nets (n_in, H, n_out)")
    h = _even_hidden(widths[1])
    half = gaussian_init((widths[0], h, widths[2]), scale, n_ensemble, seed)
    return paired_init(half["W1"], half["W2"])


def paired_decoupled_init(U, V, n_hidden: int, u0, n_ensemble: int = 1, seed: int = 0):
    """Paired, balanced initialisation aligned with the SVD modes ``Σ_yx = U S Vᵀ``.

    The half network is :func:`theorylib.sim.linear.decoupled_init` with strength ``u0/2``; the
    mirror units double it, so the *raw* product ``W2 W1`` (summed over all ``n_hidden`` units)
    has strength ``u0`` on each listed mode, and ``W1 W1ᵀ = W2ᵀ W2`` (balanced).
    """
    U = _v.finite("U", U)
    V = _v.finite("V", V)
    h = _even_hidden(_v.integer("n_hidden", n_hidden))
    u0 = _v.nonempty("u0", _v.finite("u0", u0))
    if np.any(u0 <= 0):
        raise ValueError("u0 must be positive")
    half = decoupled_init(U, V, (V.shape[0], h, U.shape[0]), u0 / 2.0, n_ensemble=n_ensemble, seed=seed)
    return paired_init(half["W1"], half["W2"])


def neuron_balance(params, names=None):
    """Per-neuron ``‖incoming weights‖² − ‖outgoing weights‖²`` of every hidden layer.

    **Sign:** this is input minus readout side, the *negative* of the book's balance
    ``δ_i = ‖a_i‖² − ‖w_i‖²`` (readout minus input, Chapter 3, ``thm-ch03-deep``); use
    ``-neuron_balance(params)[l]`` for ``δ``. The behaviour is kept for compatibility.

    Returns
    -------
    list of ndarray (E, n_l)
        One array per hidden layer (``len(names) − 1`` of them).
    """
    names = sorted(params, key=lambda n: int(n[1:])) if names is None else list(names)
    out = []
    for l in range(len(names) - 1):
        w_in = params[names[l]]
        w_out = params[names[l + 1]]
        out.append(np.sum(w_in**2, axis=2) - np.sum(w_out**2, axis=1))
    return out


def layer_spectra(params, names=None):
    """Singular values (descending) of every weight matrix: list of (E, min(n_l, n_{l−1}))."""
    names = sorted(params, key=lambda n: int(n[1:])) if names is None else list(names)
    return [np.linalg.svd(params[n], compute_uv=False) for n in names]
