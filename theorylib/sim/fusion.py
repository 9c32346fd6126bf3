"""Multimodal networks with a fusion layer at any depth, their data and initialisations.

Architecture (Chapter 4; Zhang, Latham & Saxe 2024). The input is ``x = [x_A; x_B]`` (A = the
first ``d_a`` coordinates). A depth-``L`` network fused at layer ``L_f`` has modality-specific
layers ``1 … L_f−1`` (``hidden`` units per branch), a fusion layer ``L_f`` acting on
``[h_A; h_B]`` and shared layers ``L_f+1 … L``; no biases, activation ``max(z, slope·z)``
after every layer but the last (``slope = 1``: linear). ``L_f = 1`` is early fusion,
``L_f = L`` late fusion.

**One shape for every fusion layer.** Every hidden layer has ``2·hidden`` units; a branch
layer is the same matrix with its off-diagonal blocks held at zero by a *mask*. The masks
can differ between ensemble members, so networks fused at different layers (and seeds, and
data sets) train together as one ensemble with arrays ``W1 (E, H, D)``, ``Wl (E, H, H)``,
``WL (E, 1, H)``. Masked entries start at zero and receive zero gradient.

**Population statistics.** For the linear network the loss ``½E(y − W^tot x)²`` depends on the
data only through ``Σ``, ``Σ_yx`` and ``E y²`` (:class:`FusionMoments`, one set per member or
one shared); the gradient costs ``O(L·H²)`` per member whatever the number of samples. Only
the leaky-ReLU network reads samples (:class:`FusionSamples`), with matrix products over the
sample axis (no Python loop over samples).

This module never uses a closed form (it is the independent side of Chapter 4's checks).

Introduced in Chapter 4 (fusion depth and the unimodal phase).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as _v

__all__ = [
    "FusionMoments",
    "FusionSamples",
    "toy_mixing",
    "toy_moments",
    "toy_samples",
    "multi_samples",
    "FusionNet",
    "aligned_init",
    "gaussian_init",
    "first_crossing",
    "half_times",
]


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class FusionMoments:
    """Population (or sample) statistics, one set per ensemble member or one shared set.

    Attributes
    ----------
    sigma : ndarray (E or 1, D, D)
        ``E[x xᵀ]``, symmetric positive semi-definite.
    sigma_yx : ndarray (E or 1, D)
        ``E[y x]``.
    e_yy : ndarray (E or 1,)
        ``E[y²]`` (only the loss value needs it), at least the explained part ``Σ_yx Σ⁺ Σ_xy``
        of each data set (a smaller value gives a negative minimum loss and is an error).
    """

    sigma: np.ndarray
    sigma_yx: np.ndarray
    e_yy: np.ndarray

    def __post_init__(self):
        S = np.asarray(self.sigma, dtype=float)
        s = np.asarray(self.sigma_yx, dtype=float)
        e = np.atleast_1d(np.asarray(self.e_yy, dtype=float))
        if S.ndim == 2:
            S = S[None]
        if s.ndim == 1:
            s = s[None]
        if S.ndim != 3 or S.shape[1] != S.shape[2]:
            raise ValueError(f"sigma must be (D, D) or (E, D, D); got {np.shape(self.sigma)}")
        if s.ndim != 2 or s.shape[1] != S.shape[1]:
            raise ValueError(f"sigma_yx must be (D,) or (E, D) with D = {S.shape[1]}; got {np.shape(self.sigma_yx)}")
        n = {S.shape[0], s.shape[0], e.shape[0]} - {1}
        if len(n) > 1 or e.ndim != 1:
            raise ValueError("sigma, sigma_yx and e_yy disagree on the number of data sets")
        if not (np.all(np.isfinite(S)) and np.all(np.isfinite(s)) and np.all(np.isfinite(e))):
            raise ValueError("statistics must be finite")
        if not np.allclose(S, np.swapaxes(S, 1, 2), atol=1e-12 * max(1.0, np.abs(S).max())):
            raise ValueError("sigma must be symmetric")
        if np.linalg.eigvalsh(S).min() < -1e-10 * max(1.0, np.abs(S).max()):
            raise ValueError("sigma must be positive semi-definite")
        if np.any(e < 0):
            raise ValueError("e_yy must be non-negative")
        # E[y²] ≥ Σ_yx Σ⁺ Σ_xy for every data set: otherwise the minimum loss would be negative
        for i in range(max(S.shape[0], s.shape[0], e.shape[0])):
            _v.fitted_part_below(
                "e_yy" if e.shape[0] == 1 else f"e_yy[{i}]", e[i % e.shape[0]],
                _v.explained(S[i % S.shape[0]], s[i % s.shape[0]]),
                "Σ_yx Σ⁺ Σ_xy (the part the best linear predictor explains)")
        object.__setattr__(self, "sigma", S)
        object.__setattr__(self, "sigma_yx", s)
        object.__setattr__(self, "e_yy", e)

    @property
    def n_in(self) -> int:
        return self.sigma.shape[1]

    @property
    def n_sets(self) -> int:
        return max(self.sigma.shape[0], self.sigma_yx.shape[0], self.e_yy.shape[0])

    @classmethod
    def from_samples(cls, X, y):
        """Sample averages ``(1/P)XᵀX``, ``(1/P)Xᵀy``, ``(1/P)yᵀy`` of one data set."""
        d = FusionSamples(X, y)
        P = d.X.shape[0]
        return cls(d.X.T @ d.X / P, d.X.T @ d.y / P, np.array([d.y @ d.y / P]))

    def least_squares(self):
        """The best linear predictor ``Σ_yx Σ⁺`` of every data set, (n_sets, D)."""
        S = np.broadcast_to(self.sigma, (self.n_sets,) + self.sigma.shape[1:])
        s = np.broadcast_to(self.sigma_yx, (self.n_sets, self.n_in))
        return np.stack([np.linalg.pinv(S[i]) @ s[i] for i in range(self.n_sets)])


@dataclass(frozen=True)
class FusionSamples:
    """A finite data set: inputs ``X`` (P, D) and scalar targets ``y`` (P,)."""

    X: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        X = np.asarray(self.X, dtype=float)
        y = np.asarray(self.y, dtype=float).reshape(-1)
        if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ValueError(f"X must be (P, D) and y (P,) with P ≥ 1; got {np.shape(self.X)} and {np.shape(self.y)}")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
            raise ValueError("X and y must be finite")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)

    @property
    def n_in(self) -> int:
        return self.X.shape[1]

    def moments(self) -> FusionMoments:
        return FusionMoments.from_samples(self.X, self.y)


def toy_mixing(r, rho):
    """Mixing matrix ``M`` with ``x = M z``, ``z ~ N(0, I₂)``: ``x_A = r(ρ z₁ + √(1−ρ²) z₂)``, ``x_B = z₁``.

    So ``σ_A = r``, ``σ_B = 1`` and ``corr(x_A, x_B) = ρ``.
    """
    if np.iscomplexobj(r) or np.iscomplexobj(rho):
        raise ValueError("need real r > 0 and |rho| < 1")
    r, rho = float(r), float(rho)
    if not (np.isfinite(r) and np.isfinite(rho)) or r <= 0 or abs(rho) >= 1:
        raise ValueError("need r > 0 and |rho| < 1")
    return np.array([[r * rho, r * np.sqrt(1 - rho * rho)], [1.0, 0.0]])


def toy_moments(r, rho) -> FusionMoments:
    """Population statistics of the toy for every pair ``(r, ρ)`` (arrays broadcast to E sets).

    Computed from the generative model (``Σ = MMᵀ``, ``y = x_A + x_B``), not from a formula.
    """
    if np.iscomplexobj(r) or np.iscomplexobj(rho):
        raise ValueError("need real r > 0 and |rho| < 1")
    r, rho = np.broadcast_arrays(np.atleast_1d(np.asarray(r, float)), np.atleast_1d(np.asarray(rho, float)))
    Ms = np.stack([toy_mixing(a, b) for a, b in zip(r.ravel(), rho.ravel())])
    S = Ms @ np.swapaxes(Ms, 1, 2)
    w = np.ones(2)
    return FusionMoments(S, S @ w, np.einsum("i,eij,j->e", w, S, w))


def toy_samples(r, rho, n, seed=0) -> FusionSamples:
    """``n`` samples of the toy (``y = x_A + x_B``), drawn with ``np.random.default_rng(seed)``."""
    if int(n) != n or n < 2:
        raise ValueError("need n ≥ 2 samples")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((int(n), 2)) @ toy_mixing(r, rho).T
    return FusionSamples(X, X.sum(axis=1))


def multi_samples(n, d_a=50, d_b=50, var_a=3.0, var_b=1.0, weight=0.1, noise=0.5, seed=0):
    """The over-parameterisation data set: ``Σ = diag(var_a I, var_b I)``, ``w* = weight·1``.

    ``y = w*ᵀx + noise·ε``.

    Returns
    -------
    samples : FusionSamples
    sigma_true : ndarray (D, D)
    w_true : ndarray (D,)
    """
    d_a, d_b = _v.integer("d_a", d_a), _v.integer("d_b", d_b)
    _v.finite("weight", weight)
    if int(n) != n or n < 1 or min(d_a, d_b) < 1 or min(var_a, var_b) <= 0 or noise < 0:
        raise ValueError("need n ≥ 1, d_a, d_b ≥ 1, positive variances and noise ≥ 0")
    rng = np.random.default_rng(seed)
    sd = np.concatenate([np.full(d_a, np.sqrt(var_a)), np.full(d_b, np.sqrt(var_b))])
    X = rng.standard_normal((int(n), d_a + d_b)) * sd
    w = np.full(d_a + d_b, float(weight))
    y = X @ w + noise * rng.standard_normal(int(n))
    return FusionSamples(X, y), np.diag(sd**2), w


# ---------------------------------------------------------------- the network


class FusionNet:
    """Ensemble of multimodal networks ``x ↦ W_L σ(⋯σ(W_1 x))`` fused at layer ``L_f``.

    Parameters
    ----------
    d_a, d_b : int
        Input dimensions of modalities A and B.
    depth : int
        Number of weight layers ``L ≥ 1``.
    fusion_layer : int or array_like of int
        ``L_f ∈ [1, L]``; an array gives one fusion layer per ensemble member.
    hidden : int
        Units per branch; every hidden layer has ``2·hidden`` units.
    slope : float
        Leaky-ReLU slope in ``[0, 1]``; 1 is the linear network (reads moments).
    """

    def __init__(self, d_a, d_b, depth, fusion_layer, hidden, slope=1.0):
        d_a, d_b, depth, hidden = (_v.integer(n, x) for n, x in
                                   (("d_a", d_a), ("d_b", d_b), ("depth", depth), ("hidden", hidden)))
        if min(d_a, d_b, depth, hidden) < 1:
            raise ValueError("d_a, d_b, depth and hidden must be ≥ 1")
        lf = np.atleast_1d(np.asarray(fusion_layer))
        if lf.ndim != 1 or np.any(lf != np.round(lf)) or np.any(lf < 1) or np.any(lf > depth):
            raise ValueError(f"fusion_layer must be integers in [1, depth = {depth}]; got {fusion_layer}")
        if not 0.0 <= slope <= 1.0:
            raise ValueError("slope must lie in [0, 1]")
        self.d_a, self.d_b, self.depth, self.hidden = d_a, d_b, depth, hidden
        self.n_in = d_a + d_b
        self.fusion_layer = lf.astype(int)
        self.slope = float(slope)
        H = 2 * hidden
        self.widths = (self.n_in,) + (H,) * (depth - 1) + (1,)
        self.names = tuple(f"W{l + 1}" for l in range(depth))
        self.masks = {}
        for l in range(1, depth + 1):
            out_w, in_w = self.widths[l], self.widths[l - 1]
            m = np.ones((len(lf), out_w, in_w))
            cut = d_a if l == 1 else hidden
            for e, f in enumerate(self.fusion_layer):
                if l < f:  # modality-specific layer: block diagonal
                    m[e, :hidden, cut:] = 0.0
                    m[e, hidden:, :cut] = 0.0
            self.masks[self.names[l - 1]] = m
        # layers that are shared in every member need no masking in the gradient
        self._full = {n: bool(np.all(m == 1)) for n, m in self.masks.items()}

    @property
    def n_members(self):
        """Ensemble size fixed by ``fusion_layer`` (1 means: broadcast to any E)."""
        return len(self.fusion_layer)

    def _check(self, params):
        for l, name in enumerate(self.names):
            p = params[name]
            if p.shape[1:] != (self.widths[l + 1], self.widths[l]):
                raise ValueError(f"{name} has shape {p.shape[1:]}; expected {(self.widths[l + 1], self.widths[l])}")
            if self.n_members > 1 and p.shape[0] != self.n_members:
                raise ValueError(f"{name} has {p.shape[0]} members; the fusion layers define {self.n_members}")

    def _check_data(self, data, E):
        if data.n_in != self.n_in:
            raise ValueError(f"data has {data.n_in} inputs; the network expects d_a + d_b = {self.n_in}")
        if isinstance(data, FusionMoments):
            if self.slope != 1.0:
                raise ValueError("a leaky-ReLU network (slope < 1) needs FusionSamples, not moments")
            if data.n_sets not in (1, E):
                raise ValueError(f"{data.n_sets} data sets for {E} ensemble members")
        elif not isinstance(data, FusionSamples):
            raise ValueError("data must be FusionMoments or FusionSamples")

    # -- linear network on moments
    def product(self, params):
        """End-to-end map ``W^tot`` of shape (E, D) (the network's function when linear)."""
        W = params[self.names[0]]
        for name in self.names[1:]:
            W = params[name] @ W
        return W[:, 0, :]

    def branch_weights(self, params):
        """``(W_A^tot, W_B^tot)`` of shapes (E, d_a), (E, d_b) (linear networks)."""
        W = self.product(params)
        return W[:, : self.d_a], W[:, self.d_a:]

    def _moment_loss(self, W, data):
        return 0.5 * data.e_yy - np.sum(W * data.sigma_yx, axis=1) + 0.5 * np.einsum("ei,eij,ej->e", W, np.broadcast_to(data.sigma, (W.shape[0],) + data.sigma.shape[1:]), W)

    def _moment_grad(self, params, data):
        Ws = [params[n] for n in self.names]
        before = [None] * self.depth  # before[l] = W_l ⋯ W_1 as (E, H_l, D); before of layer 0 is I
        acc = Ws[0]
        for l in range(1, self.depth):
            before[l - 1] = acc
            acc = Ws[l] @ acc
        W = acc  # (E, 1, D)
        S = data.sigma
        R = data.sigma_yx[:, None, :] - W @ S  # (E, 1, D), the residual drive Σ_yx − WΣ
        g = {}
        back = None  # (E, 1, H_l) = W_L ⋯ W_{l+1}
        for l in range(self.depth - 1, -1, -1):
            # ∂L/∂W_l = −(W_L⋯W_{l+1})ᵀ R (W_{l−1}⋯W_1)ᵀ, a rank-one matrix per member
            left = np.ones_like(R[:, :, :1]) if back is None else back  # (E, 1, H_l)
            right = R if l == 0 else R @ np.swapaxes(before[l - 1], 1, 2)  # (E, 1, H_{l-1})
            gl = -(np.swapaxes(left, 1, 2) @ right)
            g[self.names[l]] = gl if self._full[self.names[l]] else gl * self.masks[self.names[l]]
            back = Ws[l] if back is None else back @ Ws[l]
        return g

    # -- leaky-ReLU network on samples
    def _forward(self, params, X):
        hs, zs = [np.broadcast_to(X.T, (params[self.names[0]].shape[0],) + X.T.shape)], []
        for l, name in enumerate(self.names):
            z = params[name] @ hs[-1]
            zs.append(z)
            if l < self.depth - 1:
                hs.append(np.where(z > 0, z, self.slope * z) if self.slope != 1.0 else z)
        return hs, zs

    def output(self, params, X):
        """Network output for inputs ``X`` (P, D): array (E, P)."""
        return self._forward(params, np.asarray(X, float))[1][-1][:, 0, :]

    def _sample_grad(self, params, data):
        hs, zs = self._forward(params, data.X)
        P = data.X.shape[0]
        delta = -(data.y - zs[-1]) / P  # (E, 1, P)
        g = {}
        for l in range(self.depth - 1, -1, -1):
            name = self.names[l]
            gl = delta @ np.swapaxes(hs[l], 1, 2)
            g[name] = gl if self._full[name] else gl * self.masks[name]
            if l > 0:
                delta = np.swapaxes(params[name], 1, 2) @ delta
                if self.slope != 1.0:
                    delta = delta * np.where(zs[l - 1] > 0, 1.0, self.slope)
        return g

    # -- engine interface
    def loss(self, params, data):
        self._check(params)
        self._check_data(data, params[self.names[0]].shape[0])
        if isinstance(data, FusionSamples):
            err = data.y - self.output(params, data.X)
            return 0.5 * np.mean(err * err, axis=1)
        return self._moment_loss(self.product(params), data)

    def grad(self, params, data):
        self._check(params)
        self._check_data(data, params[self.names[0]].shape[0])
        if isinstance(data, FusionSamples):
            return self._sample_grad(params, data)
        return self._moment_grad(params, data)

    def _compiled_stepper(self, params, data, factor):
        """The fused GD kernel of the compiled backend (engine.train_gd), None without one:
        the linear network on moments, with its masked weights at zero (the kernel skips them)."""
        if not isinstance(data, FusionMoments) or self.slope != 1.0:
            return None
        self._check(params)
        self._check_data(data, params[self.names[0]].shape[0])
        for name, m in self.masks.items():
            if not self._full[name] and np.any((params[name] != 0) & (m == 0)):
                return None
        from . import _compiled  # imports numba: only when the engine asks for it

        return _compiled.fusion_linear(self, params, data, factor)

    def stability_bound(self, data):
        """Rough ``2/λ_max`` at a balanced minimum (as for a deep linear chain); words errors only."""
        if isinstance(data, FusionSamples):
            data = data.moments()
        w = data.least_squares()
        s = np.max(np.linalg.norm(w, axis=1))
        lam = self.depth * s ** (2 * (self.depth - 1) / self.depth) * np.max(np.linalg.eigvalsh(data.sigma))
        return 2.0 / lam if lam > 0 else np.inf

    def modality_coefficients(self, params, data):
        """Linear coefficient of each modality's contribution, (E, d_a), (E, d_b).

        The network's output with the other modality set to zero, regressed on that
        modality's inputs by least squares over the samples. For a linear network this is
        exactly ``(W_A^tot, W_B^tot)``; for late fusion with ReLU it is the linear part of
        each branch.
        """
        if isinstance(data, FusionMoments):
            return self.branch_weights(params)
        X = data.X
        out = []
        for sl in (slice(0, self.d_a), slice(self.d_a, self.n_in)):
            Xm = np.zeros_like(X)
            Xm[:, sl] = X[:, sl]
            f = self.output(params, Xm)  # (E, P)
            coef, *_ = np.linalg.lstsq(X[:, sl], f.T, rcond=None)
            out.append(coef.T)
        return out[0], out[1]


# ---------------------------------------------------------------- initialisations


def _unit(rng, n, support):
    v = np.zeros(n)
    v[support] = rng.standard_normal(len(range(n)[support]))
    return v / np.linalg.norm(v)


def aligned_init(net: FusionNet, u0, n_ensemble=None, seed=0):
    """Aligned rank-one balanced initialisation of scale ``u0`` (scalar modalities).

    Branch layers are ``u0·a_l a_{l−1}ᵀ`` and ``u0·b_l b_{l−1}ᵀ`` with unit vectors ``a_l``
    (A-block units) and ``b_l`` (B-block units) and ``a_0 = e_A``, ``b_0 = e_B``; the fusion
    layer is ``u0·c (a_{L_f−1} + b_{L_f−1})ᵀ`` and the shared layers ``√2 u0 · c_l c_{l−1}ᵀ``.
    Each layer's output direction is the next layer's input direction, so the network is a
    product of scalars: every A factor and every B factor has size ``u0``, every shared one
    ``√2 u0``, and the network is balanced: ``W_{l+1}ᵀW_{l+1} = W_l W_lᵀ`` between shared layers, and
    per branch block after a branch layer (the conserved quantities of a block-diagonal layer are
    its diagonal blocks). Random directions drawn with
    ``np.random.default_rng(seed)``; one draw per member.

    Parameters
    ----------
    n_ensemble : int, optional
        Number of members (defaults to the number of fusion layers given to ``net``).

    Raises
    ------
    ValueError
        If ``u0 ≤ 0``, the modalities are not scalar, or ``n_ensemble`` conflicts with ``net``.
    """
    u0 = _v.positive_scalar("u0", u0)
    if net.d_a != 1 or net.d_b != 1:
        raise ValueError("the aligned rank-one initialisation is defined for scalar modalities")
    E = net.n_members if n_ensemble is None else _v.integer("n_ensemble", n_ensemble, minimum=1)
    if net.n_members > 1 and E != net.n_members:
        raise ValueError("n_ensemble must match the number of fusion layers")
    rng = np.random.default_rng(seed)
    h, H, L = net.hidden, 2 * net.hidden, net.depth
    params = {n: np.zeros((E,) + (net.widths[l + 1], net.widths[l])) for l, n in enumerate(net.names)}
    v0 = np.sqrt(2.0) * u0
    for e in range(E):
        lf = int(net.fusion_layer[e if net.n_members > 1 else 0])
        a_prev, b_prev = np.array([1.0, 0.0]), np.array([0.0, 1.0])
        c_prev = None
        for l in range(1, L + 1):
            last = l == L
            if l < lf:
                a = _unit(rng, H, slice(0, h))
                b = _unit(rng, H, slice(h, H))
                W = u0 * (np.outer(a, a_prev) + np.outer(b, b_prev))
                a_prev, b_prev = a, b
            elif l == lf:
                c = np.ones(1) if last else _unit(rng, H, slice(0, H))
                W = u0 * np.outer(c, a_prev + b_prev)
                c_prev = c
            else:
                c = np.ones(1) if last else _unit(rng, H, slice(0, H))
                W = v0 * np.outer(c, c_prev)
                c_prev = c
            params[net.names[l - 1]][e] = W
    return params


def gaussian_init(net: FusionNet, std, n_ensemble=None, seed=0, scheme="iid"):
    """Random Gaussian initialisation (the authors' code), masked to the architecture.

    ``scheme="iid"``: every entry ``N(0, std²)`` (the two-layer networks).
    ``scheme="numel"``: entries of a branch block have standard deviation ``std/√numel`` and
    those of the fusion and shared layers ``√2·std/√numel`` (``deep_fusion``), so each branch
    layer has Frobenius norm ≈ ``std`` and each shared layer ≈ ``√2·std``.
    """
    std = _v.positive_scalar("std", std)
    if scheme not in ("iid", "numel"):
        raise ValueError("scheme must be 'iid' or 'numel'")
    E = net.n_members if n_ensemble is None else _v.integer("n_ensemble", n_ensemble, minimum=1)
    if net.n_members > 1 and E != net.n_members:
        raise ValueError("n_ensemble must match the number of fusion layers")
    rng = np.random.default_rng(seed)
    params = {}
    for l, name in enumerate(net.names):
        shape = (E, net.widths[l + 1], net.widths[l])
        G = rng.standard_normal(shape)
        mask = np.broadcast_to(net.masks[name], shape)
        if scheme == "iid":
            params[name] = std * G * mask
            continue
        scale = np.empty(shape)
        for e in range(E):
            lf = int(net.fusion_layer[e if net.n_members > 1 else 0])
            m = mask[e]
            if l + 1 < lf:
                # block-diagonal: an entry's row holds as many unmasked entries as its block has
                # columns, and its column as many as the block has rows (d_a ≠ d_b: unequal blocks)
                numel = m.sum(axis=1, keepdims=True) * m.sum(axis=0, keepdims=True)
                scale[e] = std / np.sqrt(np.maximum(numel, 1.0))
            else:
                scale[e] = np.sqrt(2.0) * std / np.sqrt(m.sum())
        params[name] = scale * G * mask
    return params


# ---------------------------------------------------------------- measurements


def first_crossing(t, w, level):
    """First time each column of ``w`` (T, E) reaches ``level`` (scalar or (E,)), linearly interpolated.

    Raises
    ------
    ValueError
        If some member never reaches its level (run too short), or shapes disagree.
    """
    t = np.asarray(t, float)
    w = np.asarray(w, float)
    if w.ndim == 1:
        w = w[:, None]
    T, E = w.shape
    if t.shape == (T,):
        t = np.broadcast_to(t[:, None], (T, E))
    if t.shape != (T, E):
        raise ValueError("t must be (T,) or (T, E) matching w")
    level = np.broadcast_to(np.asarray(level, float), (E,))
    above = w >= level
    if not np.all(above.any(axis=0)):
        bad = np.where(~above.any(axis=0))[0]
        raise ValueError(f"members {bad.tolist()} never reach their level; run longer")
    k = np.argmax(above, axis=0)
    out = np.empty(E)
    for e in range(E):
        i = k[e]
        if i == 0:
            out[e] = t[0, e]
            continue
        frac = (level[e] - w[i - 1, e]) / (w[i, e] - w[i - 1, e])
        out[e] = t[i - 1, e] + frac * (t[i, e] - t[i - 1, e])
    return out


def half_times(t, w_a, w_b, level_a):
    """``(t_A, t_B)`` as in the authors' ``time_half``.

    ``t_A``: first time ``W_A`` reaches ``level_a`` (the chapter uses half the A-only solution);
    ``t_B``: first time ``W_B`` reaches half its maximum over the run.
    """
    w_b = np.asarray(w_b, float)
    if w_b.ndim == 1:
        w_b = w_b[:, None]
    return first_crossing(t, w_a, level_a), first_crossing(t, w_b, 0.5 * w_b.max(axis=0))
