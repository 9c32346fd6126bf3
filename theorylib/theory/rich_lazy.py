"""Conserved quantities and the lazy/rich transition (Chapter 2; Kunin et al. 2024, *Get rich quick*).

Model of the chapter: a single neuron ``f(x) = a wᵀx`` with ``β = a w``, trained on
``L = ½‖Xβ − y‖²`` (a **sum** over the samples, the paper's convention) by gradient flow with
layer-wise rates ``ȧ = −η_a ∂L/∂a``, ``ẇ = −η_w ∇_w L`` (time constant τ = 1). Whitened data
means ``XᵀX = I`` and ``β* = Xᵀy``, ``s = ‖β*‖``.

The exact solution used here linearises the Riccati equation of ``ν = η_a (w·β*)/a``
(Chapter 2, Theorem ``thm-ch02-riccati``): with ``Ω = √(δ² + 4η_aη_w s²)``,
``r = (2ν₀ + δ)/Ω`` and

.. math::
   G(t) = e^{δt/2}\\big[\\cosh(Ωt/2) + r\\sinh(Ωt/2)\\big],\\qquad
   N(t) = 1 + 2η_w a_0^2 \\int_0^t G^2,

the parameters are ``a(t) = a₀G/√N`` and ``w(t) = (w_⊥(0) + β̂* P(t))/√N``, where
``P(t) = (a₀/(η_a s)) e^{δt/2}[((Ωr−δ)/2)\\cosh(Ωt/2) + ((Ω−δr)/2)\\sinh(Ωt/2)]``.
This single formula covers δ > 0, δ = 0 and δ < 0, including the case ``r < −1`` in which ν
blows up in finite time (``a`` crosses zero) while ``a`` and ``w`` stay smooth.

Every function is vectorised by numpy broadcasting where that makes sense and raises
``ValueError`` outside its domain. This module never imports :mod:`theorylib.sim`.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from . import _validate as _v

__all__ = [
    "conserved_quantity",
    "omega",
    "split_init",
    "function_space_matrix",
    "single_neuron",
    "single_neuron_expr",
    "riccati_nu",
    "riccati_blowup_time",
    "final_readout",
    "separatrix_ratio",
    "mu_phi",
    "learning_time",
    "learning_time_expr",
    "implicit_bias_limit",
    "lazy_limit",
    "ray_limit",
    "neuron_kernel",
    "kernel_distance",
    "gd_drift_per_step",
    "balanced_solution",
    "mirror_potential",
]


def _rates(eta_a, eta_w):
    eta_a = float(eta_a)
    eta_w = float(eta_w)
    if not (np.isfinite(eta_a) and np.isfinite(eta_w)) or eta_a <= 0 or eta_w <= 0:
        raise ValueError(f"learning-rate multipliers must be positive and finite; got eta_a={eta_a}, eta_w={eta_w}")
    return eta_a, eta_w


def _finite(name, x):
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


def conserved_quantity(a, w, eta_a=1.0, eta_w=1.0):
    """The conserved quantity of the single neuron (Chapter 2, Theorem ``thm-ch02-conserved``).

    .. math:: δ = η_w a^2 − η_a \\|w\\|^2 .

    Parameters
    ----------
    a : array_like
        Readout weight(s), shape ``S``.
    w : array_like
        First-layer weights, shape ``S + (d,)`` (the last axis is the vector axis).
    eta_a, eta_w : float
        Layer-wise learning-rate multipliers (> 0).

    Returns
    -------
    ndarray of shape ``S``

    Raises
    ------
    ValueError
        If the shapes do not match or a rate is not positive.
    """
    eta_a, eta_w = _rates(eta_a, eta_w)
    a = _finite("a", a)
    w = _finite("w", w)
    if w.ndim < 1 or w.shape[:-1] != a.shape:
        raise ValueError(f"w must have shape a.shape + (d,) = {a.shape} + (d,); got {w.shape}")
    return eta_w * a**2 - eta_a * np.sum(w**2, axis=-1)


def omega(delta, beta_norm, eta_a=1.0, eta_w=1.0):
    """``Ω = √(δ² + 4η_aη_w‖β‖²)``: the rate of the function-space flow at ``‖β‖``."""
    eta_a, eta_w = _rates(eta_a, eta_w)
    delta = _finite("delta", delta)
    beta_norm = _finite("beta_norm", beta_norm)
    if np.any(beta_norm < 0):
        raise ValueError("beta_norm must be non-negative")
    return np.sqrt(delta**2 + 4 * eta_a * eta_w * beta_norm**2)


def split_init(beta0, delta, eta_a=1.0, eta_w=1.0):
    """Split a function ``β₀`` into ``(a₀, w₀)`` with ``a₀w₀ = β₀``, ``a₀ > 0`` and a given δ.

    ``η_w a₀²`` is the positive root of ``x² − δx − η_aη_w‖β₀‖² = 0``:

    .. math:: a_0 = \\sqrt{\\frac{δ + \\sqrt{δ^2 + 4η_aη_w\\|β_0\\|^2}}{2η_w}},\\qquad w_0 = β_0/a_0 .

    Parameters
    ----------
    beta0 : array_like (d,)
    delta : float

    Returns
    -------
    a0 : float
    w0 : ndarray (d,)

    Raises
    ------
    ValueError
        If ``β₀ = 0`` and ``δ ≤ 0`` (then ``a₀ = 0`` and no such split exists).
    """
    eta_a, eta_w = _rates(eta_a, eta_w)
    beta0 = _finite("beta0", beta0)
    delta = float(_v.finite("delta", delta))
    if beta0.ndim != 1:
        raise ValueError("beta0 must be a vector")
    b2 = float(beta0 @ beta0)
    root = np.sqrt(delta**2 + 4 * eta_a * eta_w * b2)
    # for δ < 0 the sum δ + √(δ² + 4κ‖β₀‖²) cancels; 2κ‖β₀‖²/(√(…) − δ) is the same number, computed stably
    x = (delta + root) / 2 if delta >= 0 else 2 * eta_a * eta_w * b2 / (root - delta)
    if x <= 0:
        raise ValueError("β₀ = 0 with δ ≤ 0 forces a₀ = 0: no split with a₀ > 0 exists")
    a0 = np.sqrt(x / eta_w)
    return float(a0), beta0 / a0


def function_space_matrix(beta, delta, eta_a=1.0, eta_w=1.0):
    """The preconditioner of the function-space flow ``β̇ = −M(β)∇_βL`` (Theorem ``thm-ch02-function-space``).

    .. math:: M = η_w a^2 I + η_a ww^\\top = \\frac{Ω+δ}{2} I + \\frac{Ω−δ}{2}\\hat β\\hat β^\\top,
       \\qquad Ω = \\sqrt{δ^2 + 4η_aη_w\\|β\\|^2}.

    At ``β = 0`` the direction is undefined; then ``M = max(δ, 0) I`` plus, for ``δ < 0``, a
    rank-one term in the (unknown) direction of ``w``, so ``β = 0`` with ``δ < 0`` raises.

    Parameters
    ----------
    beta : array_like (d,)
    delta : float

    Returns
    -------
    ndarray (d, d)
    """
    eta_a, eta_w = _rates(eta_a, eta_w)
    beta = _finite("beta", beta)
    if beta.ndim != 1:
        raise ValueError("beta must be a vector")
    nb = float(np.linalg.norm(beta))
    Om = float(omega(delta, nb, eta_a, eta_w))
    d = len(beta)
    if nb == 0:
        if delta < 0:
            raise ValueError("M(0) depends on the direction of w when δ < 0")
        return delta * np.eye(d)
    bh = beta / nb
    return (Om + delta) / 2 * np.eye(d) + (Om - delta) / 2 * np.outer(bh, bh)


def _dexp_ratio(x, t):
    """``(e^{xt} − 1)/x`` with the x → 0 limit ``t``."""
    x, t = np.broadcast_arrays(np.asarray(x, float), np.asarray(t, float))
    small = np.abs(x * t) < 1e-3
    xs = np.where(small, 1.0, x)
    direct = np.expm1(xs * t) / xs
    # series t(1 + xt/2 + (xt)²/6 + (xt)³/24) is accurate to ~1e-13 for |xt| < 1e-3
    u = x * t
    series = t * (1 + u / 2 + u**2 / 6 + u**3 / 24)
    return np.where(small, series, direct)


def _whitened_setup(a0, w0, beta_star, eta_a, eta_w):
    eta_a, eta_w = _rates(eta_a, eta_w)
    a0 = float(a0)
    w0 = _finite("w0", w0)
    beta_star = _finite("beta_star", beta_star)
    if not np.isfinite(a0):
        raise ValueError("a0 must be finite")
    if a0 == 0:
        raise ValueError("a0 = 0: ν = η_a(w·β*)/a is undefined; perturb a0 (a = 0 is not invariant unless w·β* = 0)")
    if w0.ndim != 1 or beta_star.shape != w0.shape:
        raise ValueError(f"w0 and beta_star must be vectors of the same length; got {w0.shape} and {beta_star.shape}")
    s = float(np.linalg.norm(beta_star))
    delta = eta_w * a0**2 - eta_a * float(w0 @ w0)
    Om = float(np.sqrt(delta**2 + 4 * eta_a * eta_w * s**2))
    if Om == 0:
        raise ValueError("β* = 0 together with δ = 0 is degenerate (Ω = 0); not covered by the closed form")
    bh = beta_star / s if s > 0 else np.zeros_like(beta_star)
    r = float(separatrix_ratio(a0, w0, beta_star, eta_a, eta_w))
    if not abs(r) < 1e150:
        raise ValueError(f"a0 = {a0:.3g} is too close to 0 for the closed form: r = (2ν0 + δ)/Ω = {r:.3g} overflows")
    w_perp0 = w0 - bh * float(w0 @ bh)
    # Ω + δ, Ω − δ, 1 + r and 1 − r without cancellation: when s ≪ |δ| one of Ω ± δ is a small
    # difference of nearly equal numbers, so it is formed as 4η_aη_w s² over the other, and
    # 1 ± r = (Ω ± δ ± 2ν₀)/Ω from those (r itself is only checked above)
    g = 4 * eta_a * eta_w * s**2
    if delta >= 0:
        lam = Om + delta
        omd = g / lam
    else:
        omd = Om - delta
        lam = g / omd
    two_nu0 = 2 * eta_a * float(w0 @ beta_star) / a0
    sums = (lam, omd, (lam + two_nu0) / Om, (omd - two_nu0) / Om)
    return eta_a, eta_w, a0, w0, s, bh, delta, Om, sums, w_perp0


def _scaled_GNP(t, a0, s, delta, Om, sums, eta_a, eta_w):
    """``G, N, P`` all multiplied by ``e^{−(δ+Ω)t/2}`` (for G, P) and ``e^{−(δ+Ω)t}`` (for N);
    ``sums = (Ω + δ, Ω − δ, 1 + r, 1 − r)`` from ``_whitened_setup``."""
    lam, omd, opr, omr = sums
    em = np.exp(-Om * t)  # e^{−Ωt} ≤ 1
    Ghat = 0.5 * (opr + omr * em)
    # I(t) = ∫₀ᵗ G² = ¼[(1+r)²(e^{(δ+Ω)t}−1)/(δ+Ω) + 2(1−r²)(e^{δt}−1)/δ + (1−r)²(e^{(δ−Ω)t}−1)/(δ−Ω)]
    e_lam = np.exp(-lam * t)
    # λ = δ + Ω > 0 unless s = 0 and δ < 0; then λ = 0 and (e^{λt} − 1)/λ → t
    term1 = opr**2 * ((-np.expm1(-lam * t)) / lam if lam > 0 else t)
    # (e^{δt} − 1)/δ · e^{−(δ+Ω)t} = e^{−Ωt}(1 − e^{−δt})/δ
    small = np.abs(delta * t) <= 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        mid_small = em * _dexp_ratio(-delta, t)
        dd = delta if delta != 0 else 1.0
        mid_big = (em - e_lam) / dd
    mid = 2 * (omr * opr) * np.where(small, mid_small, mid_big)
    # (e^{(δ−Ω)t} − 1)/(δ − Ω) · e^{−(δ+Ω)t} = (e^{−(δ+Ω)t} − e^{−2Ωt})/(Ω − δ)
    term3 = omr**2 * (e_lam - em**2) / omd if omd > 0 else omr**2 * t * e_lam
    Ihat = 0.25 * (term1 + mid + term3)
    Nhat = e_lam + 2 * eta_w * a0**2 * Ihat
    if s > 0:
        Phat = (a0 / (eta_a * s)) * 0.25 * (omd * opr - lam * omr * em)
    else:
        Phat = np.zeros_like(Ghat)
    return Ghat, Nhat, Phat, e_lam


def single_neuron(t, a0, w0, beta_star, eta_a=1.0, eta_w=1.0):
    """Exact gradient-flow solution ``(a(t), w(t))`` of the single neuron on whitened data.

    Chapter 2, Theorem ``thm-ch02-exact``. Data: ``XᵀX = I``, ``β* = Xᵀy``; loss
    ``½‖Xβ − y‖²``; flow ``ȧ = −η_a∂_aL``, ``ẇ = −η_w∇_wL``. With ``δ = η_wa₀² − η_a‖w₀‖²``,
    ``Ω = √(δ² + 4η_aη_w s²)``, ``ν₀ = η_a(w₀·β*)/a₀`` and ``r = (2ν₀ + δ)/Ω``:

    .. math::
       a(t) = \\frac{a_0 G(t)}{\\sqrt{N(t)}},\\quad
       w(t) = \\frac{w_⊥(0) + \\hat β^* P(t)}{\\sqrt{N(t)}},

    with ``G = e^{δt/2}[cosh(Ωt/2) + r sinh(Ωt/2)]``, ``N = 1 + 2η_wa₀²∫₀ᵗG²`` and
    ``P = (a₀/(η_a s)) e^{δt/2}[((Ωr−δ)/2)cosh(Ωt/2) + ((Ω−δr)/2)sinh(Ωt/2)]``. Evaluated in a
    rescaled form that cannot overflow, for any ``t ≥ 0``; valid for every sign of δ, including
    ``r < −1`` (``a`` changes sign at the Riccati blow-up time).

    Parameters
    ----------
    t : array_like
        Times ``t ≥ 0``.
    a0 : float
        Initial readout, non-zero.
    w0 : array_like (d,)
        Initial first-layer weights.
    beta_star : array_like (d,)
        ``β* = Xᵀy``.
    eta_a, eta_w : float
        Layer-wise rates (> 0).

    Returns
    -------
    a : ndarray, shape ``t.shape``
    w : ndarray, shape ``t.shape + (d,)``

    Raises
    ------
    ValueError
        If ``a0 = 0``, a time is negative, shapes differ, a rate is not positive, or
        ``β* = 0`` and ``δ = 0`` (Ω = 0).
    """
    eta_a, eta_w, a0, w0, s, bh, delta, Om, sums, w_perp0 = _whitened_setup(a0, w0, beta_star, eta_a, eta_w)
    t = _finite("t", t)
    if np.any(t < 0):
        raise ValueError("times must be non-negative")
    Ghat, Nhat, Phat, _ = _scaled_GNP(t, a0, s, delta, Om, sums, eta_a, eta_w)
    root = np.sqrt(Nhat)
    a = a0 * Ghat / root
    # w_⊥(t) = w_⊥(0)/√N = w_⊥(0) e^{−(δ+Ω)t/2}/√N̂
    scale_perp = np.exp(-sums[0] * t / 2) / root
    w = scale_perp[..., None] * w_perp0 + (Phat / root)[..., None] * bh
    return a, w


def single_neuron_expr():
    """Sympy form of the exact solution (the unscaled formulas of :func:`single_neuron`).

    Returns
    -------
    exprs : dict
        ``G, I, N, P, a, nu`` as sympy expressions, where ``I = ∫₀ᵗG²`` is written out with the
        δ ≠ 0 closed form and ``nu = d/dt ln(e^{−δt}G)``.
    symbols : tuple ``(t, delta, Omega, r, a0, s, eta_a, eta_w)``
    """
    t = sp.Symbol("t", nonnegative=True)
    delta = sp.Symbol("delta", real=True, nonzero=True)
    Om, s, eta_a, eta_w = sp.symbols("Omega s eta_a eta_w", positive=True)
    r, a0 = sp.symbols("r a_0", real=True)
    h = Om * t / 2
    G = sp.exp(delta * t / 2) * (sp.cosh(h) + r * sp.sinh(h))
    I = sp.Rational(1, 4) * (
        (1 + r) ** 2 * (sp.exp((delta + Om) * t) - 1) / (delta + Om)
        + 2 * (1 - r**2) * (sp.exp(delta * t) - 1) / delta
        + (1 - r) ** 2 * (sp.exp((delta - Om) * t) - 1) / (delta - Om)
    )
    N = 1 + 2 * eta_w * a0**2 * I
    P = a0 / (eta_a * s) * sp.exp(delta * t / 2) * (
        (Om * r - delta) / 2 * sp.cosh(h) + (Om - delta * r) / 2 * sp.sinh(h)
    )
    nu = sp.diff(sp.log(sp.exp(-delta * t) * G), t)
    return {"G": G, "I": I, "N": N, "P": P, "a": a0 * G / sp.sqrt(N), "nu": nu}, (t, delta, Om, r, a0, s, eta_a, eta_w)


def riccati_nu(t, delta, s, nu0, eta_a=1.0, eta_w=1.0):
    """Solution of the Riccati equation ``ν̇ = η_aη_w s² − δν − ν²`` (Theorem ``thm-ch02-riccati``).

    .. math:: ν(t) = −\\frac{δ}{2} + \\frac{Ω}{2}\\,\\frac{\\sinh(Ωt/2) + r\\cosh(Ωt/2)}{\\cosh(Ωt/2) + r\\sinh(Ωt/2)},
       \\qquad r = \\frac{2ν_0+δ}{Ω},

    i.e. ``−δ/2 + (Ω/2)tanh(Ωt/2 + Q₀)`` with ``Q₀ = artanh r`` for ``|r| < 1`` and the coth branch
    for ``|r| > 1``. For ``r < −1`` the solution blows up at :func:`riccati_blowup_time`;
    ``ν(t)`` is returned as computed (±large or ±inf at the pole; it is finite again after it).

    Raises
    ------
    ValueError
        If ``Ω = 0`` or a time is negative.
    """
    eta_a, eta_w = _rates(eta_a, eta_w)
    t = _finite("t", t)
    if np.any(t < 0):
        raise ValueError("times must be non-negative")
    delta, s, nu0 = (float(_v.finite(n, x)) for n, x in (("delta", delta), ("s", s), ("nu0", nu0)))
    if s < 0:
        raise ValueError("s = ‖β*‖ must be non-negative")
    Om = np.sqrt(delta**2 + 4 * eta_a * eta_w * s**2)
    if Om == 0:
        raise ValueError("Ω = 0 (δ = 0 and s = 0): degenerate Riccati equation")
    r = (2 * nu0 + delta) / Om
    if r == -1:  # ν₀ is the unstable fixed point −(δ + Ω)/2; (th − 1)/(1 − th) is 0/0 once th = 1
        return np.full(t.shape, -delta / 2 - Om / 2)
    th = np.tanh(Om * t / 2)
    with np.errstate(divide="ignore"):
        return -delta / 2 + Om / 2 * (th + r) / (1 + r * th)


def riccati_blowup_time(delta, s, nu0, eta_a=1.0, eta_w=1.0):
    """Time at which ν blows up (``a`` crosses zero): ``t* = (2/Ω) artanh(−1/r)`` if ``r < −1``, else ``inf``."""
    eta_a, eta_w = _rates(eta_a, eta_w)
    delta, s, nu0 = (float(_v.finite(n, x)) for n, x in (("delta", delta), ("s", s), ("nu0", nu0)))
    if s < 0:
        raise ValueError("s = ‖β*‖ must be non-negative")
    Om = np.sqrt(float(delta) ** 2 + 4 * eta_a * eta_w * float(s) ** 2)
    if Om == 0:
        raise ValueError("Ω = 0 (δ = 0 and s = 0): degenerate Riccati equation")
    r = (2 * float(nu0) + float(delta)) / Om
    return float(2 / Om * np.arctanh(-1 / r)) if r < -1 else np.inf


def final_readout(delta, s, eta_a=1.0, eta_w=1.0):
    """Magnitude of the final readout on whitened data (Theorem ``thm-ch02-exact``, t → ∞).

    .. math:: a_∞^2 = \\frac{δ + \\sqrt{δ^2 + 4η_aη_w s^2}}{2η_w},\\qquad β_∞ = β^* .

    Returns ``|a∞| ≥ 0``; its sign is ``sign(a₀(1 + r))`` (see :func:`single_neuron`).

    Raises
    ------
    ValueError
        If ``s < 0`` or a rate is not positive.
    """
    eta_a, eta_w = _rates(eta_a, eta_w)
    delta = _finite("delta", delta)
    s = _finite("s", s)
    if np.any(s < 0):
        raise ValueError("s = ‖β*‖ must be non-negative")
    return np.sqrt((delta + np.sqrt(delta**2 + 4 * eta_a * eta_w * s**2)) / (2 * eta_w))


def separatrix_ratio(a0, w0, beta_star, eta_a=1.0, eta_w=1.0):
    """``r = (2ν₀ + δ)/Ω`` of a start ``(a₀, w₀)`` on whitened data (Theorem ``thm-ch02-exact``).

    With ``δ = η_wa₀² − η_a‖w₀‖²``, ``ν₀ = η_a(w₀·β*)/a₀`` and ``Ω = √(δ² + 4η_aη_w‖β*‖²)``.
    The readout ends with the sign of ``a₀(1 + r)``; it crosses zero once on the way if
    ``r < −1``, and ``r = −1`` is the separatrix, from which the flow goes to ``a = 0``.

    Parameters
    ----------
    a0 : array_like
        Initial readout(s), shape ``S``, non-zero.
    w0 : array_like
        Initial first-layer weights, shape ``S + (d,)``.
    beta_star : array_like (d,)
        The target ``β* = Xᵀy``.

    Returns
    -------
    ndarray of shape ``S``

    Raises
    ------
    ValueError
        On non-finite or mismatched input, ``a₀ = 0`` (ν₀ undefined) or so close to 0 that
        ``r`` overflows, or ``Ω = 0`` (β* = 0 and δ = 0).
    """
    a0 = _finite("a0", a0)
    w0 = _finite("w0", w0)
    beta_star = _finite("beta_star", beta_star)
    if beta_star.ndim != 1 or w0.shape[-1:] != beta_star.shape:
        raise ValueError(f"beta_star must be a vector of length w0.shape[-1]; got {beta_star.shape} "
                         f"for w0 of shape {w0.shape}")
    if np.any(a0 == 0):
        raise ValueError("a0 = 0: ν₀ = η_a(w₀·β*)/a₀ is undefined")
    delta = conserved_quantity(a0, w0, eta_a, eta_w)
    Om = omega(delta, np.linalg.norm(beta_star), eta_a, eta_w)
    if np.any(Om == 0):
        raise ValueError("β* = 0 together with δ = 0 is degenerate (Ω = 0)")
    eta_a, _ = _rates(eta_a, eta_w)
    with np.errstate(over="ignore", invalid="ignore"):
        r = (2 * eta_a * (w0 @ beta_star) / a0 + delta) / Om
    if not np.all(np.isfinite(r)):
        raise ValueError("a0 is too close to 0: r = (2ν₀ + δ)/Ω overflows")
    return r


def mu_phi(a, w, beta_star):
    """Signed magnitude ``μ = a‖w‖`` and alignment ``φ = ŵ·β̂*`` (the paper's Fig. 2 coordinates)."""
    a = _finite("a", a)
    w = _finite("w", w)
    beta_star = _finite("beta_star", beta_star)
    if w.ndim < 1 or w.shape[:-1] != a.shape or beta_star.shape != w.shape[-1:]:
        raise ValueError(f"need a of shape S, w of shape S + (d,) and beta_star of shape (d,); got {a.shape}, {w.shape}, {beta_star.shape}")
    nw = np.linalg.norm(w, axis=-1)
    s = np.linalg.norm(beta_star)
    if s == 0 or np.any(nw == 0):
        raise ValueError("φ is undefined when w = 0 or β* = 0")
    return a * nw, (w @ beta_star) / (nw * s)


def learning_time_expr():
    """Sympy form of :func:`learning_time` and the symbols ``(mu, mu0, delta, s, kappa)``, κ = η_aη_w."""
    mu, mu0 = sp.symbols("mu mu_0", real=True)
    delta = sp.Symbol("delta", real=True)
    s, kappa = sp.symbols("s kappa", positive=True)
    Os = sp.sqrt(delta**2 + 4 * kappa * s**2)
    F = lambda m: (delta**2 + 4 * kappa * s * m + Os * sp.sqrt(delta**2 + 4 * kappa * m**2)) / (s - m)
    return sp.log(F(mu) / F(mu0)) / Os, (mu, mu0, delta, s, kappa)


def learning_time(delta, s, mu0, mu, eta_a=1.0, eta_w=1.0):
    """Time for an aligned neuron (``φ = 1``) to go from ``μ₀`` to ``μ`` (Proposition ``prop-ch02-time``).

    The aligned flow is ``μ̇ = Ω(μ)(s − μ)`` with ``Ω(μ) = √(δ² + 4κμ²)``, κ = η_aη_w; it separates:

    .. math::

       t = \\frac{1}{Ω_*}\\ln\\frac{F(μ)}{F(μ_0)},\\qquad Ω_* = \\sqrt{δ^2 + 4κ s^2},

       F(m) = \\frac{δ^2 + 4κ s m + Ω_*\\sqrt{δ^2 + 4κ m^2}}{s − m}.

    At δ = 0 this is ``(1/2s)ln[μ(s−μ₀)/(μ₀(s−μ))]`` (κ = 1), the logistic time of Chapter 1.

    Raises
    ------
    ValueError
        Unless ``s > 0`` and ``μ₀ ≤ μ < s`` (the flow moves μ up towards s and never reaches it);
        with δ = 0 also ``μ₀ > 0`` (μ = 0 is then a fixed point).
    """
    eta_a, eta_w = _rates(eta_a, eta_w)
    kappa = eta_a * eta_w
    delta, s, mu0, mu = _v.broadcastable(**{n: _finite(n, x) for n, x in
                                            (("delta", delta), ("s", s), ("mu0", mu0), ("mu", mu))})
    if np.any(s <= 0):
        raise ValueError("s must be positive")
    if np.any(mu0 > mu) or np.any(mu >= s):
        raise ValueError("need μ₀ ≤ μ < s: from below, μ rises towards s and never reaches it")
    if np.any((delta == 0) & (mu0 <= 0)):
        raise ValueError("with δ = 0, μ = 0 is a fixed point: need μ₀ > 0")
    Os = np.sqrt(delta**2 + 4 * kappa * s**2)

    def F(m):
        return (delta**2 + 4 * kappa * s * m + Os * np.sqrt(delta**2 + 4 * kappa * m**2)) / (s - m)

    return np.log(F(mu) / F(mu0)) / Os


def _row_space(X):
    X = _finite("X", X)
    if X.ndim != 2:
        raise ValueError("X must be a matrix (n samples × d features)")
    n, d = X.shape
    U, sv, Vt = np.linalg.svd(X, full_matrices=False)
    rank = int(np.sum(sv > 1e-12 * max(1.0, sv.max(initial=0.0))))
    if rank < n:
        raise ValueError("X must have full row rank (independent samples)")
    if n >= d:
        raise ValueError(f"the implicit-bias result needs fewer samples than features; got X of shape {X.shape}")
    V = Vt[:rank].T  # orthonormal basis of row(X), (d, n)
    return X, V


def lazy_limit(X, y, beta0):
    """δ → +∞ limit of the interpolant: ``β_mn + (I − P_row)β₀``, the interpolant closest to β₀."""
    X, V = _row_space(X)
    y = _v.shape("y", _finite("y", y), (X.shape[0],))
    beta0 = _v.shape("beta0", _finite("beta0", beta0), (X.shape[1],))
    beta_mn = np.linalg.pinv(X) @ y
    return beta_mn + beta0 - V @ (V.T @ beta0)


def ray_limit(X, y, beta0):
    """Loss minimiser on the ray through β₀: ``λ*β₀`` with ``λ* = (Xβ₀)·y/‖Xβ₀‖²``.

    For one sample (``n = 1``) this is the δ → −∞ limit of the interpolant (β only moves along
    its own direction, :func:`function_space_matrix`).
    """
    X = _v.shape("X", _finite("X", X), (None, None))
    y = _v.shape("y", _finite("y", y), (X.shape[0],))
    beta0 = _v.shape("beta0", _finite("beta0", beta0), (X.shape[1],))
    v = X @ beta0
    if not np.any(v):
        raise ValueError("Xβ₀ = 0: the ray through β₀ does not change the predictions")
    return (v @ y) / (v @ v) * beta0


def implicit_bias_limit(X, y, a0, w0, eta_a=1.0, eta_w=1.0):
    """Limit ``(β∞, a∞)`` of gradient flow on ``½‖Xβ − y‖²`` when X has fewer rows than columns.

    Chapter 2, Theorem ``thm-ch02-implicit-bias``. ``ẇ ∈ row(X)``, so the null-space part
    ``w_⊥`` of w is conserved; with ``β_mn = X⁺y``, ``c = ‖β_mn‖``, ``k = ‖w_⊥(0)‖`` and the
    conserved ``δ``:

    .. math:: β_∞ = β_{mn} + a_∞ w_⊥(0),\\qquad
       η_w a_∞^4 − (δ + η_a k^2) a_∞^2 − η_a c^2 = 0 .

    The sign of ``a∞``: the row-space part of the neuron has its own conserved quantity
    ``δ_row = δ + η_a k²``. If ``δ_row > 0``, ``a`` never crosses zero and keeps the sign of
    ``a₀``. If ``XXᵀ = λI`` (e.g. one sample) the row-space problem is a whitened single neuron
    and the sign is ``sign(a₀(1 + r))`` with ``r = (2η_a w₀·β_mn/a₀ + δ_row)/Ω``,
    ``Ω = √(δ_row² + 4η_aη_w c²)``. Otherwise (``δ_row ≤ 0`` with ``XXᵀ`` not a multiple of the
    identity) the sign is not given by a closed form and a ``ValueError`` is raised.

    Parameters
    ----------
    X : array_like (n, d), ``n < d``, full row rank
    y : array_like (n,)
    a0 : float, non-zero
    w0 : array_like (d,)

    Returns
    -------
    beta_inf : ndarray (d,)
    a_inf : float

    Raises
    ------
    ValueError
        On bad shapes, ``n ≥ d``, rank-deficient rows, ``a₀ = 0``, ``y = 0`` with ``δ_row ≤ 0``,
        or an undetermined sign (see above).
    """
    eta_a, eta_w = _rates(eta_a, eta_w)
    X, V = _row_space(X)
    y = _finite("y", y)
    w0 = _finite("w0", w0)
    a0 = float(a0)
    n, d = X.shape
    if y.shape != (n,) or w0.shape != (d,):
        raise ValueError(f"need y of shape ({n},) and w0 of shape ({d},); got {y.shape} and {w0.shape}")
    if a0 == 0 or not np.isfinite(a0):
        raise ValueError("a0 must be finite and non-zero")
    beta_mn = np.linalg.pinv(X) @ y
    c2 = float(beta_mn @ beta_mn)
    w_perp = w0 - V @ (V.T @ w0)
    k2 = float(w_perp @ w_perp)
    delta = eta_w * a0**2 - eta_a * float(w0 @ w0)
    d_row = delta + eta_a * k2
    Om = np.sqrt(d_row**2 + 4 * eta_a * eta_w * c2)
    a_mag = np.sqrt((d_row + Om) / (2 * eta_w))
    if a_mag == 0:
        raise ValueError("y = 0 with δ_row ≤ 0: the readout decays to zero")
    XXt = X @ X.T
    lam = np.trace(XXt) / n
    if d_row > 0:
        sign = np.sign(a0)
    elif np.allclose(XXt, lam * np.eye(n), atol=1e-12 * lam):
        r = (2 * eta_a * float(w0 @ beta_mn) / a0 + d_row) / Om
        if r == -1:
            raise ValueError("initialisation on the separatrix (r = −1): the flow goes to a saddle")
        sign = np.sign(a0 * (1 + r))
    else:
        raise ValueError("δ + η_a‖w_⊥‖² ≤ 0 and XXᵀ is not a multiple of I: the sign of a∞ has no closed form")
    a_inf = float(sign * a_mag)
    return beta_mn + a_inf * w_perp, a_inf


def neuron_kernel(X, a, w, eta_a=1.0, eta_w=1.0):
    """Rate-weighted tangent kernel of the neuron, ``K = X(η_w a²I + η_a wwᵀ)Xᵀ`` (vectorised over a)."""
    eta_a, eta_w = _rates(eta_a, eta_w)
    X = _finite("X", X)
    a = _finite("a", a)
    w = _finite("w", w)
    if X.ndim != 2 or w.shape[:-1] != a.shape or w.shape[-1] != X.shape[1]:
        raise ValueError("need X (n, d), a of shape S and w of shape S + (d,)")
    Xw = w @ X.T  # S + (n,)
    return eta_w * a[..., None, None] ** 2 * (X @ X.T) + eta_a * Xw[..., :, None] * Xw[..., None, :]


def kernel_distance(K0, K):
    """``S(0, t) = 1 − ⟨K₀, K_t⟩_F / (‖K₀‖_F ‖K_t‖_F)`` (vectorised over leading axes of K).

    Note: the paper's public notebook evaluates ``‖K_t‖_F`` with ``a₀²`` in place of ``a_t²``;
    this function uses the kernel at time t throughout (Chapter 2, "kernel distance").
    """
    K0 = _finite("K0", K0)
    K = _finite("K", K)
    if K.shape[-2:] != K0.shape:
        raise ValueError("kernels must have the same trailing shape")
    n0 = np.linalg.norm(K0)
    nt = np.sqrt(np.sum(K**2, axis=(-2, -1)))
    if n0 == 0 or np.any(nt == 0):
        raise ValueError("kernel distance undefined for a zero kernel")
    return 1 - np.sum(K0 * K, axis=(-2, -1)) / (n0 * nt)


def gd_drift_per_step(a, w, grad_beta, lr, eta_a=1.0, eta_w=1.0):
    """Exact change of δ in one GD step (Proposition ``prop-ch02-gd-drift``).

    With ``g = ∇_βL``, the step ``a ← a − lr·η_a wᵀg``, ``w ← w − lr·η_w a g`` changes δ by

    .. math:: δ_{k+1} − δ_k = \\mathrm{lr}^2\\, η_aη_w\\big(η_a (w^\\top g)^2 − η_w a^2 \\|g\\|^2\\big).
    """
    eta_a, eta_w = _rates(eta_a, eta_w)
    a = _finite("a", a)
    w = _finite("w", w)
    g = _finite("grad_beta", grad_beta)
    lr = _v.positive("lr", lr)
    if w.shape != g.shape or w.shape[:-1] != a.shape:
        raise ValueError("need a of shape S and w, grad_beta of shape S + (d,)")
    wg = np.sum(w * g, axis=-1)
    return lr**2 * eta_a * eta_w * (eta_a * wg**2 - eta_w * a**2 * np.sum(g * g, axis=-1))


def balanced_solution(t, s, mu0, phi0):
    """Balanced single neuron (δ = 0, η_a = η_w = 1, a₀ > 0) in the coordinates μ = a‖w‖, φ = ŵ·β̂*.

    Chapter 2, exercise ``ex-ch02-balanced`` (the δ = 0 case of Theorem ``thm-ch02-exact``):

    .. math:: φ(t) = \\tanh S,\\qquad μ(t) = \\frac{s(\\cosh 2S + 1)}{2S + \\sinh 2S + C},\\qquad
       S = st + \\operatorname{artanh}φ_0,

    with ``C`` fixed by ``μ(0) = μ₀``.

    Raises
    ------
    ValueError
        Unless ``s > 0``, ``μ₀ > 0``, ``|φ₀| < 1`` and ``t ≥ 0``.
    """
    t = _finite("t", t)
    s, mu0, phi0 = (float(_v.finite(n, x)) for n, x in (("s", s), ("mu0", mu0), ("phi0", phi0)))
    if s <= 0 or mu0 <= 0 or not abs(phi0) < 1 or np.any(t < 0):
        raise ValueError("need s > 0, μ₀ > 0, |φ₀| < 1 and t ≥ 0")
    S0 = np.arctanh(phi0)
    S = s * t + S0
    # divide numerator and denominator by cosh 2S to avoid overflow: (1 + sech 2S)/((2S + C) sech 2S + tanh 2S)
    x = np.abs(2 * S)
    # log sech 2S, exact for every S (sech itself underflows to 0 cleanly, never clamped)
    log_sech = np.log(2.0) - x - np.log1p(np.exp(-2 * x))
    sech = np.exp(log_sech)
    # 2S + C = 2st + s(cosh 2S0 + 1)/μ0 − sinh 2S0, and tanh 2S − sinh 2S0 sech 2S =
    # 2cosh(S + S0)sinh(st)/cosh 2S: every term is ≥ 0, so no cancellation when st is small.
    # The products with sech are taken in logs: 2st and 1/μ0 may be huge where sech is tiny
    q = s * t
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        drift = np.exp(np.log(2.0) + np.log(s) + np.log(t) + log_sech)  # 2st·sech, 0 at t = 0
        start = np.exp(np.log(s) + np.log(np.cosh(2 * S0) + 1) - np.log(mu0) + log_sech)
        rest = np.where(x <= 700.0, 2 * np.cosh(np.minimum(S + S0, 700.0)) * np.sinh(np.minimum(q, 700.0)) * sech,
                        np.tanh(2 * S) - np.sinh(2 * S0) * sech)
    mu = s * (1 + sech) / (drift + start + rest)
    return mu, np.tanh(S)


def mirror_potential(beta, delta):
    """Mirror potential of the single neuron (η_a = η_w = 1, a > 0): ``∇Φ_δ(β) = w`` and ``M = a(∇²Φ_δ)⁻¹``.

    .. math:: Φ_δ(β) = \\tfrac13 (Ω − 2δ)\\sqrt{(Ω + δ)/2},\\qquad Ω = \\sqrt{δ^2 + 4\\|β\\|^2},

    so ``β̇ = −a(t)(∇²Φ_δ)⁻¹∇L``: a mirror flow with time warped by ``a(t)`` (Chapter 2, claim ``ch02-mirror``).
    At δ = 0 it is ``(2/3)‖β‖^{3/2}``.
    """
    beta = _finite("beta", beta)
    delta = float(_v.finite("delta", delta))
    # hypot ≥ |δ| exactly, so Ω + δ ≥ 0 even where δ² underflows
    Om = np.hypot(delta, 2 * np.sqrt(np.sum(beta**2, axis=-1)))
    return (Om - 2 * delta) * np.sqrt((Om + delta) / 2) / 3
