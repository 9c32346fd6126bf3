"""Models of Chapter 2 (conserved quantities, lazy and rich learning) for the GD engine.

* :class:`SingleNeuron`: ``f(x) = a wᵀx`` on ``L = ½‖Xβ − y‖²`` summed over samples (the
  convention of Kunin et al. 2024), read from the sums :class:`SampleSums`. Layer-wise learning
  rates are the engine's ``rates={"a": η_a, "w": η_w}``.
* Two-layer linear networks with per-layer rates are :class:`theorylib.sim.linear.DeepLinear`
  with ``rates={"W1": η_w, "W2": η_a}``; :func:`two_layer_init` draws them with per-layer scales.
* :class:`TwoLayerReLU`: ``f(x) = Σ_i a_i relu(w_iᵀx)`` (no biases) on ``L = ½·mean_n (f(x_n) − y_n)²``
  (the book's expectation convention over the empirical distribution), with
  :func:`relu_init` for the (scale τ, imbalance δ) initialisations of the paper's Fig. 1.

Only numerics live here: no closed form of the dynamics is used. In particular the initial
conditions of Chapter 2 are built here from raw parameters (:func:`split_function` finds the
split of a function ``β₀`` into ``(a₀, w₀)`` by solving the conservation constraint numerically),
never by :mod:`theorylib.theory`.

Introduced in Chapter 2.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SampleSums",
    "SingleNeuron",
    "split_function",
    "tangent_kernel",
    "two_layer_init",
    "TwoLayerReLU",
    "relu_init",
    "activation_change",
    "teacher_student_data",
]


@dataclass(frozen=True)
class SampleSums:
    """Data of the single neuron as *sums* over samples: ``XᵀX``, ``Xᵀy`` and ``yᵀy``.

    ``L = ½‖Xβ − y‖² = ½βᵀ(XᵀX)β − βᵀ(Xᵀy) + ½yᵀy``.
    """

    xtx: np.ndarray
    xty: np.ndarray
    yty: float

    def __post_init__(self):
        xtx = np.asarray(self.xtx, dtype=float)
        xty = np.asarray(self.xty, dtype=float)
        if xtx.ndim != 2 or xtx.shape[0] != xtx.shape[1] or xty.shape != (xtx.shape[0],):
            raise ValueError(f"need XᵀX of shape (d, d) and Xᵀy of shape (d,); got {xtx.shape} and {xty.shape}")
        if not (np.all(np.isfinite(xtx)) and np.all(np.isfinite(xty)) and np.isfinite(self.yty)):
            raise ValueError("data must be finite")
        if not np.allclose(xtx, xtx.T, atol=1e-12 * max(1.0, np.abs(xtx).max())):
            raise ValueError("XᵀX must be symmetric")
        if self.yty < 0:
            raise ValueError("yᵀy must be non-negative")
        from .. import _validate as _v  # shared checks: XᵀX positive semi-definite, yᵀy ≥ its fitted part
        _v.symmetric_psd("xtx (XᵀX)", xtx)
        _v.fitted_part_below("yty (yᵀy)", self.yty, _v.explained(xtx, xty), "Xᵀy·(XᵀX)⁺Xᵀy (the part the best β explains)")
        object.__setattr__(self, "xtx", xtx)
        object.__setattr__(self, "xty", xty)
        object.__setattr__(self, "yty", float(self.yty))

    @property
    def d(self) -> int:
        return self.xtx.shape[0]

    @classmethod
    def from_samples(cls, X, y):
        """Sums of samples ``X`` (n, d) and targets ``y`` (n,)."""
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"need X of shape (n, d) and y of shape (n,); got {X.shape} and {y.shape}")
        return cls(X.T @ X, X.T @ y, float(y @ y))

    @classmethod
    def whitened(cls, beta_star):
        """Whitened data ``XᵀX = I``, ``Xᵀy = β*`` (e.g. ``X = I``, ``y = β*``)."""
        b = np.asarray(beta_star, dtype=float)
        if b.ndim != 1:
            raise ValueError("beta_star must be a vector")
        return cls(np.eye(len(b)), b, float(b @ b))


class SingleNeuron:
    """Ensemble of single neurons ``f(x) = a wᵀx``; parameters ``a`` (E,) and ``w`` (E, d).

    ``∂L/∂a = wᵀg`` and ``∇_wL = a g`` with ``g = ∇_βL = XᵀXβ − Xᵀy`` (sums, no 1/n).
    """

    def _check(self, params, data: SampleSums):
        a, w = params["a"], params["w"]
        if a.ndim != 1 or w.ndim != 2 or w.shape != (a.shape[0], data.d):
            raise ValueError(f"need a of shape (E,) and w of shape (E, {data.d}); got {a.shape} and {w.shape}")

    def beta(self, params):
        return params["a"][:, None] * params["w"]

    def grad_beta(self, params, data: SampleSums):
        return self.beta(params) @ data.xtx - data.xty

    def loss(self, params, data: SampleSums):
        self._check(params, data)
        b = self.beta(params)
        return 0.5 * np.einsum("ei,ij,ej->e", b, data.xtx, b) - b @ data.xty + 0.5 * data.yty

    def grad(self, params, data: SampleSums):
        self._check(params, data)
        g = self.grad_beta(params, data)
        return {"a": np.sum(params["w"] * g, axis=1), "w": params["a"][:, None] * g}

    def stability_bound(self, data: SampleSums):
        """``2/λ_max`` of the Hessian at a balanced minimum (``a² = ‖w‖² = s``): ``λ_max ≈ 2 s λ_x``."""
        s = np.linalg.norm(np.linalg.pinv(data.xtx) @ data.xty)
        lam = 2 * s * np.linalg.eigvalsh(data.xtx).max()
        return 2.0 / lam if lam > 0 else np.inf


def split_function(beta0, delta, eta_a=1.0, eta_w=1.0, sign=1.0):
    """Split functions ``β₀`` into single neurons ``(a₀, w₀)`` with ``a₀w₀ = β₀`` and a given δ.

    Solves the conservation constraint ``η_w a² − η_a‖β₀‖²/a² = δ`` for ``|a₀| > 0`` numerically
    (Brent's method on a bracket found by doubling; the left side increases strictly in
    ``|a|``), then sets ``w₀ = β₀/a₀``. No closed form is used, so the result is an independent
    check of :func:`theorylib.theory.rich_lazy.split_init`. ``sign = −1`` gives the mirror
    neuron ``(−a₀, −w₀)``: the same function and the same δ, with a negative readout.

    Parameters
    ----------
    beta0 : array_like, (d,) or (E, d)
        Initial functions.
    delta : float or array_like (E,)
        Conserved quantity ``δ = η_w a² − η_a‖w‖²`` of each neuron.
    eta_a, eta_w : float
        Layer-wise rates (> 0).
    sign : float or array_like (E,)
        Sign of the readout, ``+1`` or ``−1``.

    Returns
    -------
    dict with ``a`` (E,) and ``w`` (E, d), ready for the GD engine.

    Raises
    ------
    ValueError
        On non-finite input, non-positive rates, signs other than ±1, or ``β₀ = 0`` with
        ``δ ≤ 0`` (then ``a₀ = 0``: no split exists).
    """
    from scipy.optimize import brentq

    b = np.atleast_2d(np.asarray(beta0, dtype=float))
    if b.ndim != 2:
        raise ValueError("beta0 must have shape (d,) or (E, d)")
    E = b.shape[0]
    dl = np.broadcast_to(np.asarray(delta, dtype=float), (E,))
    sg = np.broadcast_to(np.asarray(sign, dtype=float), (E,))
    eta_a, eta_w = float(eta_a), float(eta_w)
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(dl))):
        raise ValueError("beta0 and delta must be finite")
    if not (np.isfinite(eta_a) and np.isfinite(eta_w) and eta_a > 0 and eta_w > 0):
        raise ValueError(f"rates must be positive and finite; got eta_a={eta_a}, eta_w={eta_w}")
    if not np.all(np.abs(sg) == 1):
        raise ValueError("sign must be +1 or -1")
    a = np.empty(E)
    for e in range(E):
        # ‖β₀‖ scaled by its largest entry, and (‖β₀‖/x)² rather than ‖β₀‖²/x²: for ‖β₀‖ or x
        # below ~1e-154 the squares underflow (a division by zero, or a subnormal with few digits)
        m = float(np.max(np.abs(b[e]))) if b.shape[1] else 0.0
        bn = m * float(np.linalg.norm(b[e] / m)) if m > 0 else 0.0
        if bn == 0 and dl[e] <= 0:
            raise ValueError("beta0 = 0 with delta <= 0 forces a0 = 0: no split exists")
        # products, not ** (a Python float raises OverflowError on ** but gives inf on *)
        h = lambda x, bn=bn, de=dl[e]: eta_w * x * x - eta_a * (bn / x) * (bn / x) - de if x > 0 else -np.inf
        hi = 1.0
        while h(hi) <= 0:
            hi *= 2.0
            if not np.isfinite(hi):
                raise ValueError(f"the readout a0 of member {e} exceeds the float range "
                                 f"(eta_w = {eta_w:g}, eta_a = {eta_a:g}, delta = {dl[e]:g})")
        lo = hi / 2.0
        while h(lo) > 0:  # keep the bracket [lo, 2 lo]: from [lo, 1] brentq may need > 500 steps
            hi, lo = lo, lo / 2.0
        # a tolerance relative to the bracket: an absolute 1e-300 swamped roots below ~1e-285
        # (a0 = 1.14e-305 for 1e-305)
        xtol = max(4 * np.finfo(float).eps * lo, 4 * np.finfo(float).smallest_subnormal)
        a[e] = brentq(h, lo, hi, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=500)
    a = sg * a
    return {"a": a, "w": b / a[:, None]}


def tangent_kernel(model, params, X, rates=None):
    """Rate-weighted tangent kernel ``K_ij = Σ_θ η_θ ∂f_i/∂θ ∂f_j/∂θ`` of a single neuron, per member.

    The Jacobian comes from the model's own loss gradients: for one sample ``x_i`` the
    gradient of ``½(f_i − y)²`` is ``(f_i − y)∂f_i/∂θ``, so the difference of the gradients at
    ``y = 0`` and ``y = 1`` is ``∂f_i/∂θ`` exactly (no finite differences, no formula for K).

    Parameters
    ----------
    model : SingleNeuron
    params : dict with ``a`` (E,) and ``w`` (E, d)
    X : array_like (n, d)
        Inputs at which the kernel is evaluated.
    rates : dict, optional
        ``{"a": η_a, "w": η_w}`` (default 1).

    Returns
    -------
    ndarray (E, n, n)
    """
    X = np.asarray(X, dtype=float)
    rates = {} if rates is None else dict(rates)
    jac = {name: [] for name in params}
    for x in X:
        g0 = model.grad(params, SampleSums(np.outer(x, x), 0.0 * x, 0.0))
        g1 = model.grad(params, SampleSums(np.outer(x, x), x, 1.0))
        for name in params:
            jac[name].append((g0[name] - g1[name]).reshape(len(params["a"]), -1))
    K = 0.0
    for name, rows in jac.items():
        J = np.stack(rows, axis=1)  # (E, n, p)
        K = K + float(rates.get(name, 1.0)) * J @ np.swapaxes(J, 1, 2)
    return K


def two_layer_init(widths, scales, n_ensemble: int = 1, seed: int = 0):
    """Gaussian two-layer linear weights with per-layer scales, for :class:`~theorylib.sim.linear.DeepLinear`.

    ``W1`` (E, m, d) has i.i.d. entries of std ``scales[0]``, ``W2`` (E, c, m) of std ``scales[1]``.
    """
    widths = tuple(int(x) for x in widths)
    if len(widths) != 3 or min(widths) < 1:
        raise ValueError("widths must be (d, m, c) with positive entries")
    scales = tuple(float(x) for x in scales)
    if len(scales) != 2 or min(scales) <= 0:
        raise ValueError("scales must be two positive numbers (first layer, readout)")
    rng = np.random.default_rng(seed)
    d, m, c = widths
    return {"W1": scales[0] * rng.standard_normal((n_ensemble, m, d)),
            "W2": scales[1] * rng.standard_normal((n_ensemble, c, m))}


class TwoLayerReLU:
    """Ensemble of bias-free ReLU networks ``f(x) = Σ_i a_i relu(w_iᵀx)``.

    Parameters ``W`` (E, m, d) and ``a`` (E, m); data ``(X, y)`` with ``X`` (n, d), ``y`` (n,);
    loss ``½·mean_n (f(x_n) − y_n)²`` (book convention: an expectation over the samples).
    """

    @staticmethod
    def _check(params, data):
        X, y = data
        W, a = params["W"], params["a"]
        if W.ndim != 3 or a.shape != W.shape[:2] or W.shape[2] != X.shape[1] or y.shape != (X.shape[0],):
            raise ValueError("need W (E, m, d), a (E, m), X (n, d), y (n,)")

    @staticmethod
    def preact(params, X):
        return params["W"] @ X.T  # (E, m, n)

    def predict(self, params, X):
        h = np.maximum(self.preact(params, X), 0.0)
        return np.einsum("em,emn->en", params["a"], h)

    def loss(self, params, data):
        self._check(params, data)
        X, y = data
        r = self.predict(params, X) - y
        return 0.5 * np.mean(r**2, axis=1)

    def grad(self, params, data):
        self._check(params, data)
        X, y = data
        z = self.preact(params, X)
        h = np.maximum(z, 0.0)
        r = (np.einsum("em,emn->en", params["a"], h) - y) / X.shape[0]  # (E, n)
        ga = (h @ r[:, :, None])[..., 0]
        gW = ((z > 0) * params["a"][:, :, None] * r[:, None, :]) @ X
        return {"W": gW, "a": ga}


def relu_init(m, d, tau, delta, n_ensemble: int = 1, seed: int = 0, symmetric: bool = True):
    """Initialisation of scale τ and per-neuron imbalance δ = a_i² − ‖w_i‖² (Kunin et al., Fig. 1).

    Directions ``ŵ_i`` are uniform on the sphere and readout signs ±1. Magnitudes are
    ``‖w_i‖ = τα``, ``|a_i| = τ/α`` with ``α = √((√(4 + (δ/τ²)²) − δ/τ²)/2)``, so
    ``|a_i|‖w_i‖ = τ²`` and ``a_i² − ‖w_i‖² = τ²(1/α² − α²) = δ``. With ``symmetric`` the second
    half of the neurons copies the first half with negated readouts, so ``f ≡ 0`` at init.

    ``tau`` and ``delta`` may be arrays of shape (E,) (one setting per ensemble member).

    Returns
    -------
    dict with ``W`` (E, m, d) and ``a`` (E, m)
    """
    m, d = int(m), int(d)
    if m < 1 or d < 1 or (symmetric and m % 2):
        raise ValueError("need m, d ≥ 1 (and m even when symmetric)")
    tau = np.broadcast_to(np.asarray(tau, float), (n_ensemble,))
    delta = np.broadcast_to(np.asarray(delta, float), (n_ensemble,))
    if np.any(tau <= 0):
        raise ValueError("tau must be positive")
    q = delta / tau**2
    alpha = np.sqrt((np.sqrt(4 + q**2) - q) / 2)
    rng = np.random.default_rng(seed)
    k = m // 2 if symmetric else m
    dirs = rng.standard_normal((n_ensemble, k, d))
    dirs /= np.linalg.norm(dirs, axis=2, keepdims=True)
    signs = rng.choice([-1.0, 1.0], size=(n_ensemble, k))
    if symmetric:
        dirs = np.concatenate([dirs, dirs], axis=1)
        signs = np.concatenate([signs, -signs], axis=1)
    W = (tau * alpha)[:, None, None] * dirs
    a = (tau / alpha)[:, None] * signs
    return {"W": W, "a": a}


def activation_change(W0, W, X):
    """Fraction of (neuron, sample) pairs whose ReLU on/off state differs between ``W0`` and ``W`` (per member)."""
    z0 = np.einsum("emd,nd->emn", W0, X) > 0
    z = np.einsum("emd,nd->emn", W, X) > 0
    return np.mean(z0 != z, axis=(1, 2))


def teacher_student_data(n, d, n_teacher, seed=0):
    """Inputs on the unit sphere and a bias-free ReLU teacher with unit neurons and ±1 readouts.

    Returns
    -------
    X : ndarray (n, d)
    y : ndarray (n,)
    teacher : dict with ``W`` (n_teacher, d) and ``a`` (n_teacher,)
    """
    if min(n, d, n_teacher) < 1:
        raise ValueError("n, d and n_teacher must be positive")
    rng = np.random.default_rng(seed)
    if d == 2:
        ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
        X = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    else:
        X = rng.standard_normal((n, d))
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    Wt = rng.standard_normal((n_teacher, d))
    Wt /= np.linalg.norm(Wt, axis=1, keepdims=True)
    at = rng.choice([-1.0, 1.0], size=n_teacher)
    y = np.maximum(X @ Wt.T, 0) @ at
    return X, y, {"W": Wt, "a": at}
