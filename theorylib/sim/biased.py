"""Networks with bias terms: deep linear networks ``ŷ = W_L(⋯(W₁x + b₁)⋯) + b_L`` trained on
population statistics or on samples, a ReLU MLP with biases, and the data sets of Chapter 6.

Each layer is an affine map. Appending a constant 1 to the input, ``x̃ = [x; 1]``, and to every
hidden layer turns layer ``l`` into the matrix ``Ã_l = [[W_l, b_l], [0, 1]]`` (the last layer has no
constant row), so the network is the product ``A = Ã_L ⋯ Ã_1`` acting on ``x̃``. The squared loss

    L = ½E‖y − A x̃‖² = ½E‖y‖² − tr(Σ̃_yxᵀ A) + ½ tr(A Σ̃_xx Aᵀ),
    Σ̃_xx = [[Σ_xx, E[x]], [E[x]ᵀ, 1]],   Σ̃_yx = [Σ_yx, ȳ],

depends on the data only through ``Σ_xx, Σ_yx, E[x], ȳ`` and ``E‖y‖²`` (:class:`BiasedMoments`);
on :class:`Samples` the same gradient is computed from the per-sample residuals. Gradients of
``Ã_l`` follow the product rule of :class:`theorylib.sim.linear.DeepLinear`; the constant rows
are not parameters and their gradients are dropped. Every parameter array carries a leading
ensemble axis, and :func:`theorylib.sim.engine.train_gd` trains them.

Never uses a closed form. Introduced in Chapter 6 (the optimal constant solution).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BiasedMoments",
    "Samples",
    "biased_moments_from_samples",
    "BiasedLinear",
    "BiasedReLU",
    "biased_random_init",
    "tree_labels",
    "centred_whitened_inputs",
    "hierarchical_digits",
]


def _finite(name, x, ndim):
    x = np.asarray(x, dtype=float)
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} has non-finite entries")
    return x


@dataclass(frozen=True)
class BiasedMoments:
    """Population statistics a network with biases needs (expectations, book convention).

    Attributes
    ----------
    sigma_xx : ndarray (n_in, n_in)
        ``E[xxᵀ]`` (second moment, not the covariance).
    sigma_yx : ndarray (n_out, n_in)
        ``E[yxᵀ]``.
    x_mean : ndarray (n_in,)
        ``E[x]``.
    y_mean : ndarray (n_out,)
        ``ȳ = E[y]``.
    trace_yy : float
        ``E‖y‖²``.
    """

    sigma_xx: np.ndarray
    sigma_yx: np.ndarray
    x_mean: np.ndarray
    y_mean: np.ndarray
    trace_yy: float

    def __post_init__(self):
        sxx = _finite("sigma_xx", self.sigma_xx, 2)
        syx = _finite("sigma_yx", self.sigma_yx, 2)
        xm = _finite("x_mean", self.x_mean, 1)
        ym = _finite("y_mean", self.y_mean, 1)
        n = sxx.shape[0]
        if sxx.shape != (n, n):
            raise ValueError(f"sigma_xx must be square; got {sxx.shape}")
        if syx.shape[1] != n or xm.shape != (n,) or ym.shape != (syx.shape[0],):
            raise ValueError(f"inconsistent shapes: sigma_xx {sxx.shape}, sigma_yx {syx.shape}, "
                             f"x_mean {xm.shape}, y_mean {ym.shape}")
        if not np.allclose(sxx, sxx.T, atol=1e-12 * max(1.0, np.abs(sxx).max())):
            raise ValueError("sigma_xx must be symmetric")
        aug = np.block([[sxx, xm[:, None]], [xm[None, :], np.ones((1, 1))]])
        if np.linalg.eigvalsh(aug).min() < -1e-10 * max(1.0, np.abs(aug).max()):
            raise ValueError("sigma_xx − x_mean x_meanᵀ must be positive semi-definite (a covariance)")
        if not np.isfinite(self.trace_yy) or self.trace_yy < 0:
            raise ValueError("trace_yy must be a non-negative number")
        object.__setattr__(self, "sigma_xx", sxx)
        object.__setattr__(self, "sigma_yx", syx)
        object.__setattr__(self, "x_mean", xm)
        object.__setattr__(self, "y_mean", ym)
        object.__setattr__(self, "trace_yy", float(self.trace_yy))

    @property
    def n_in(self) -> int:
        return self.sigma_xx.shape[0]

    @property
    def n_out(self) -> int:
        return self.sigma_yx.shape[0]

    def augmented(self):
        """``(Σ̃_xx, Σ̃_yx)`` of the input with a constant unit appended."""
        xm = self.x_mean[:, None]
        sxx = np.block([[self.sigma_xx, xm], [xm.T, np.ones((1, 1))]])
        return sxx, np.hstack([self.sigma_yx, self.y_mean[:, None]])


@dataclass(frozen=True)
class Samples:
    """A finite data set: inputs ``X`` (P, n_in) and targets ``Y`` (P, n_out)."""

    X: np.ndarray
    Y: np.ndarray

    def __post_init__(self):
        X = _finite("X", self.X, 2)
        Y = _finite("Y", self.Y, 2)
        if X.shape[0] != Y.shape[0] or X.shape[0] == 0:
            raise ValueError(f"X and Y need the same, non-zero number of rows; got {X.shape} and {Y.shape}")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "Y", Y)

    @property
    def n_in(self) -> int:
        return self.X.shape[1]

    @property
    def n_out(self) -> int:
        return self.Y.shape[1]


def biased_moments_from_samples(X, Y) -> BiasedMoments:
    """The :class:`BiasedMoments` of samples ``X`` (P, n_in), ``Y`` (P, n_out) (averages over rows)."""
    d = Samples(X, Y)
    P = d.X.shape[0]
    return BiasedMoments(d.X.T @ d.X / P, d.Y.T @ d.X / P, d.X.mean(axis=0), d.Y.mean(axis=0),
                         float(np.sum(d.Y * d.Y) / P))


class BiasedLinear:
    """An ensemble of deep linear networks with optional bias terms.

    Parameters ``W1 … WL`` (shape ``(E, widths[l], widths[l−1])``) and, for each layer in
    ``biases``, ``b1 … bL`` (shape ``(E, widths[l])``).

    Parameters
    ----------
    widths : sequence of int
        ``(n_in, hidden…, n_out)``.
    biases : sequence of int, optional
        Layers (1-based) that have a bias; default all. ``()`` is a bias-free network,
        ``(L,)`` an output bias only, ``(1,)`` a hidden bias only in a two-layer net.
    """

    def __init__(self, widths, biases=None):
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2 or min(widths) < 1:
            raise ValueError(f"widths must list at least input and output sizes ≥ 1; got {widths}")
        L = len(widths) - 1
        biases = tuple(range(1, L + 1)) if biases is None else tuple(int(b) for b in biases)
        if any(b < 1 or b > L for b in biases) or len(set(biases)) != len(biases):
            raise ValueError(f"biases must be distinct layer numbers in 1..{L}; got {biases}")
        self.widths, self.n_layers, self.biases = widths, L, tuple(sorted(biases))
        self.names = tuple(f"W{l}" for l in range(1, L + 1)) + tuple(f"b{l}" for l in self.biases)

    # -- parameters as augmented matrices -------------------------------------------------
    def _check(self, params, data):
        if data.n_in != self.widths[0] or data.n_out != self.widths[-1]:
            raise ValueError(f"data has n_in={data.n_in}, n_out={data.n_out}; "
                             f"network expects {self.widths[0]} and {self.widths[-1]}")
        missing = set(self.names) - set(params)
        if missing:
            raise ValueError(f"missing parameters {sorted(missing)}")
        for l in range(1, self.n_layers + 1):
            shape = params[f"W{l}"].shape[1:]
            if shape != (self.widths[l], self.widths[l - 1]):
                raise ValueError(f"W{l} has shape {shape}; expected {(self.widths[l], self.widths[l - 1])}")
            if l in self.biases and params[f"b{l}"].shape[1:] != (self.widths[l],):
                raise ValueError(f"b{l} has shape {params[f'b{l}'].shape[1:]}; expected {(self.widths[l],)}")

    def _augmented(self, params):
        E = params["W1"].shape[0]
        mats = []
        for l in range(1, self.n_layers + 1):
            W = params[f"W{l}"]
            b = params[f"b{l}"] if l in self.biases else np.zeros((E, W.shape[1]))
            top = np.concatenate([W, b[:, :, None]], axis=2)
            if l < self.n_layers:
                row = np.zeros((E, 1, W.shape[2] + 1))
                row[:, 0, -1] = 1.0
                top = np.concatenate([top, row], axis=1)
            mats.append(top)
        return mats

    def affine(self, params):
        """End-to-end map ``(W, m)``: ``ŷ = W x + m`` with ``W = W_L⋯W_1`` and ``m`` the output at ``x = 0``."""
        A = self._product(self._augmented(params))
        return A[:, :, :-1], A[:, :, -1]

    @staticmethod
    def _product(mats):
        A = mats[0]
        for M in mats[1:]:
            A = np.matmul(M, A)
        return A

    def forward(self, params, X):
        """Outputs ``ŷ`` (E, P, n_out) for inputs ``X`` (P, n_in)."""
        W, m = self.affine(params)
        return np.einsum("eoi,pi->epo", W, np.asarray(X, float)) + m[:, None, :]

    def loss(self, params, data):
        self._check(params, data)
        A = self._product(self._augmented(params))
        if isinstance(data, Samples):
            W, m = A[:, :, :-1], A[:, :, -1]
            err = data.Y[None] - (np.matmul(data.X[None], np.swapaxes(W, 1, 2)) + m[:, None, :])
            return 0.5 * np.mean(np.sum(err * err, axis=2), axis=1)
        sxx, syx = data.augmented()
        return 0.5 * data.trace_yy - np.sum(A * syx, axis=(1, 2)) + 0.5 * np.sum(np.matmul(A, sxx) * A, axis=(1, 2))

    def _grad_A(self, A, data):
        """``∂L/∂A`` of shape (E, n_out, n_in + 1)."""
        if isinstance(data, Samples):
            Xt = np.hstack([data.X, np.ones((data.X.shape[0], 1))])
            err = data.Y[None] - np.matmul(Xt[None], np.swapaxes(A, 1, 2))  # (E, P, n_out)
            return -np.matmul(np.swapaxes(err, 1, 2), Xt[None]) / data.X.shape[0]
        sxx, syx = data.augmented()
        return -(syx - np.matmul(A, sxx))

    def grad(self, params, data):
        self._check(params, data)
        mats = self._augmented(params)
        L = self.n_layers
        before, acc = [None] * L, None
        for l in range(L):
            before[l] = acc
            acc = mats[l] if acc is None else np.matmul(mats[l], acc)
        G = self._grad_A(acc, data)
        after, acc = [None] * L, None
        for l in range(L - 1, -1, -1):
            after[l] = acc
            acc = mats[l] if acc is None else np.matmul(acc, mats[l])
        out = {}
        for l in range(L):
            g = G if after[l] is None else np.matmul(np.swapaxes(after[l], 1, 2), G)
            if before[l] is not None:
                g = np.matmul(g, np.swapaxes(before[l], 1, 2))
            n_rows = self.widths[l + 1]
            out[f"W{l + 1}"] = g[:, :n_rows, :-1]
            if (l + 1) in self.biases:
                out[f"b{l + 1}"] = g[:, :n_rows, -1]
        return out


def biased_random_init(widths, scale, biases=None, bias_scale=0.0, n_ensemble=1, seed=0):
    """I.i.d. Gaussian weights of standard deviation ``scale`` (may be 0) and biases of
    standard deviation ``bias_scale`` (default: biases start at zero)."""
    widths = tuple(int(w) for w in widths)
    L = len(widths) - 1
    biases = tuple(range(1, L + 1)) if biases is None else tuple(biases)
    if not (np.isfinite(scale) and scale >= 0 and np.isfinite(bias_scale) and bias_scale >= 0):
        raise ValueError("scale and bias_scale must be non-negative and finite")
    rng = np.random.default_rng(seed)
    p = {f"W{l}": scale * rng.standard_normal((n_ensemble, widths[l], widths[l - 1])) for l in range(1, L + 1)}
    for l in biases:
        p[f"b{l}"] = bias_scale * rng.standard_normal((n_ensemble, widths[l]))
    return p


class BiasedReLU:
    """An ensemble of two-layer ReLU networks with biases, ``ŷ = W₂ relu(W₁x + b₁) + b₂``,
    trained on :class:`Samples` with ``L = ½ mean_μ ‖y_μ − ŷ_μ‖²``. ReLU'(0) is taken as 0.

    Parameters
    ----------
    widths : (n_in, n_hidden, n_out)
    """

    names = ("W1", "b1", "W2", "b2")

    def __init__(self, widths):
        widths = tuple(int(w) for w in widths)
        if len(widths) != 3 or min(widths) < 1:
            raise ValueError(f"BiasedReLU needs widths (n_in, n_hidden, n_out) ≥ 1; got {widths}")
        self.widths = widths

    def _check(self, params, data):
        if not isinstance(data, Samples):
            raise ValueError("BiasedReLU trains on Samples (its loss is not a function of moments)")
        n_in, n_h, n_out = self.widths
        if data.n_in != n_in or data.n_out != n_out:
            raise ValueError(f"data has n_in={data.n_in}, n_out={data.n_out}; network expects {n_in} and {n_out}")
        want = {"W1": (n_h, n_in), "b1": (n_h,), "W2": (n_out, n_h), "b2": (n_out,)}
        for k, shape in want.items():
            if k not in params or params[k].shape[1:] != shape:
                raise ValueError(f"{k} must have shape (E, {', '.join(map(str, shape))})")

    @staticmethod
    def _shared_input(X, W):
        """``X Wₑᵀ`` for every member ``e``: one BLAS call on the stacked rows (E, P, n_out)."""
        E, n_out, n_in = W.shape
        return (X @ W.reshape(E * n_out, n_in).T).reshape(X.shape[0], E, n_out).transpose(1, 0, 2)

    def hidden(self, params, X):
        return self._shared_input(np.asarray(X, float), params["W1"]) + params["b1"][:, None, :]

    def forward(self, params, X):
        """Outputs (E, P, n_out)."""
        h = np.maximum(self.hidden(params, X), 0.0)
        return np.matmul(h, np.swapaxes(params["W2"], 1, 2)) + params["b2"][:, None, :]

    def loss(self, params, data):
        self._check(params, data)
        err = data.Y[None] - self.forward(params, data.X)
        return 0.5 * np.mean(np.sum(err * err, axis=2), axis=1)

    def grad(self, params, data):
        self._check(params, data)
        P = data.X.shape[0]
        z = self.hidden(params, data.X)
        h = np.maximum(z, 0.0)
        err = data.Y[None] - (np.matmul(h, np.swapaxes(params["W2"], 1, 2)) + params["b2"][:, None, :])
        d_out = -err / P  # ∂L/∂ŷ per sample
        dh = np.matmul(d_out, params["W2"]) * (z > 0)
        return {
            "W2": np.matmul(np.swapaxes(d_out, 1, 2), h),
            "b2": d_out.sum(axis=1),
            "W1": (np.ascontiguousarray(np.swapaxes(dh, 1, 2)).reshape(-1, P) @ data.X).reshape(
                dh.shape[0], dh.shape[2], data.X.shape[1]),
            "b1": dh.sum(axis=1),
        }


def tree_labels(n_levels: int = 4, root: bool = True) -> np.ndarray:
    """Binary-tree hierarchy labels: ``P = 2**(n_levels − 1)`` items, one unit per tree node.

    Item ``μ`` is positive (1) on every node on its path from the root to its leaf. With
    ``root=False`` the always-on root unit is left out. Returns ``Y`` (P, N_out), columns
    ordered root, level 1, level 2, …, leaves.
    """
    if n_levels < 2:
        raise ValueError("n_levels must be at least 2")
    P = 2 ** (n_levels - 1)
    cols = []
    for level in range(0 if root else 1, n_levels):
        n_nodes = 2**level
        block = np.zeros((P, n_nodes))
        block[np.arange(P), np.arange(P) // (P // n_nodes)] = 1.0
        cols.append(block)
    return np.hstack(cols)


def centred_whitened_inputs(P: int, mean=None) -> np.ndarray:
    """Inputs for ``P`` items that are centred and whitened: ``X`` (P, P − 1) with
    ``E[x] = 0`` and ``E[xxᵀ] = I``, from an orthonormal basis of the vectors orthogonal to ``1``.

    With ``mean`` (a length-``P−1+k`` vector) the columns are padded with ``k`` zeros and the mean is
    added to every row (an uncentred input set whose mean lies along the padding when the first
    ``P − 1`` entries of ``mean`` are zero).
    """
    if P < 2:
        raise ValueError("P must be at least 2")
    C = np.eye(P) - np.ones((P, P)) / P
    q, _ = np.linalg.qr(C[:, :-1])
    X = np.sqrt(P) * q
    if mean is None:
        return X
    mean = _finite("mean", mean, 1)
    k = mean.shape[0] - (P - 1)
    if k < 0:
        raise ValueError(f"mean needs at least P − 1 = {P - 1} entries")
    return np.hstack([X, np.zeros((P, k))]) + mean


def hierarchical_digits(test_fraction: float = 0.3, seed: int = 0, centre: bool = True):
    """scikit-learn's bundled 8×8 digits with a two-level label hierarchy.

    Level 1, the shape family: loops {0, 6, 8, 9}, straight strokes {1, 4, 7}, open curves
    {2, 3, 5}; level 2: the digit. ``Y`` has 3 + 10 = 13 binary units, every label marginal
    below ½. Pixels are scaled to [0, 1] and, with ``centre``, the training mean is subtracted
    from both splits. The split is stratified by digit with a fixed seed. No network access: the
    data ship inside scikit-learn.

    Returns
    -------
    dict with ``X_train, Y_train, X_test, Y_test, digit_train, digit_test`` and ``units``
    (the 13 unit names).
    """
    from sklearn.datasets import load_digits

    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must lie in (0, 1)")
    d = load_digits()
    X = d.data.astype(float) / 16.0
    digit = d.target.astype(int)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(digit), bool)
    for k in range(10):
        idx = np.flatnonzero(digit == k)
        test[rng.choice(idx, int(round(test_fraction * len(idx))), replace=False)] = True
    family = np.array([0, 1, 2, 2, 1, 2, 0, 1, 0, 0])  # 0 loops, 1 straight, 2 open curves
    Y = np.zeros((len(digit), 13))
    Y[np.arange(len(digit)), family[digit]] = 1.0
    Y[np.arange(len(digit)), 3 + digit] = 1.0
    mu = X[~test].mean(axis=0) if centre else 0.0
    units = ["loops", "straight", "open"] + [str(k) for k in range(10)]
    return {"X_train": X[~test] - mu, "Y_train": Y[~test], "X_test": X[test] - mu, "Y_test": Y[test],
            "digit_train": digit[~test], "digit_test": digit[test], "units": units}
