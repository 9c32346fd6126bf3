"""Closed forms for bias-free (leaky) ReLU networks (Chapter 3; Zhang, Saxe & Latham 2025).

Model ``f(x) = W2 σ_α(W1 x)`` with ``σ_α(z) = max(z, αz)``, ``0 ≤ α ≤ 1`` (``α = 0`` ReLU,
``α = 1`` linear), no biases. Book conventions: loss ``L = ½E‖y − f(x)‖²``, gradient flow
``τ dW/dt = −∂L/∂W``, GD ``τ(W_{k+1} − W_k) = −η ∂L/∂W`` with step ``k`` at time ``t = ηk``.

The chapter's two theorems in one line each:

* **Expressivity.** ``σ_α(z) = ((1+α)/2) z + ((1−α)/2)|z|``, so the odd part of a two-layer
  net is linear: ``f(x) − f(−x) = (1+α) W2 W1 x`` for every weight matrix and every ``x``.
* **Dynamics.** On symmetric data (the samples split into mirror pairs ``(x, y)``, ``(−x, −y)``),
  from the *paired* initialisation (hidden units in pairs ``(w, v)``, ``(−w, −v)``) and with
  the midpoint derivative ``σ_α'(0) = (1+α)/2``, the rescaled
  weights ``W̃ = √((1+α)/2)·W`` follow exactly the linear-network gradient flow in the
  rescaled time ``t̃ = ((1+α)/2)·t``. The bias-free net is *slower* than its linear twin by
  ``2/(1+α)``.

Every function is vectorised by numpy broadcasting and raises ``ValueError`` outside its
domain. This module never imports :mod:`theorylib.sim`.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from . import _validate as _v
from . import deep_linear as dl
from ._validate import positive as _pos

__all__ = [
    "sigma_expr",
    "sigma_decomposition_expr",
    "odd_part_matrix",
    "odd_part_matrix_expr",
    "time_rescaling",
    "weight_rescaling",
    "function_strength",
    "function_strength_expr",
    "half_time",
    "half_time_expr",
    "loss_curve",
    "linear_fit",
]


def _alpha(alpha):
    a = np.asarray(alpha, dtype=float)
    if np.any(~np.isfinite(a)) or np.any(a < 0) or np.any(a > 1):
        raise ValueError(f"the leak alpha must lie in [0, 1] (0 = ReLU, 1 = linear); got {alpha}")
    return a



def sigma_expr():
    """Sympy form of the leaky ReLU ``σ_α(z) = max(z, αz)`` for ``0 ≤ α ≤ 1``, as a Piecewise.

    Returns
    -------
    expr : sympy.Piecewise
        ``z`` for ``z ≥ 0`` and ``αz`` otherwise (equal to ``max(z, αz)`` because ``α ≤ 1``).
    symbols : tuple ``(z, alpha)``
    """
    z = sp.Symbol("z", real=True)
    alpha = sp.Symbol("alpha", nonnegative=True)
    return sp.Piecewise((z, z >= 0), (alpha * z, True)), (z, alpha)


def sigma_decomposition_expr(z=None, alpha=None):
    """``σ_α(z) = ((1+α)/2) z + ((1−α)/2)|z|``: a linear plus an even (absolute-value) part.

    Chapter 3, Lemma ``thm-ch03-decomposition``.

    Parameters
    ----------
    z, alpha : sympy expressions, optional
        Defaults are the symbols of :func:`sigma_expr`.
    """
    if z is None or alpha is None:
        _, (z0, a0) = sigma_expr()
        z = z0 if z is None else z
        alpha = a0 if alpha is None else alpha
    return (1 + alpha) / 2 * z + (1 - alpha) / 2 * sp.Abs(z)


def odd_part_matrix_expr(W1, W2, alpha):
    """Sympy version of :func:`odd_part_matrix`: ``A = ((1+α)/2) W2 W1``."""
    return (1 + alpha) / 2 * (sp.Matrix(W2) * sp.Matrix(W1))


def odd_part_matrix(W1, W2, alpha):
    """The matrix ``A`` with ``f(x) − f(−x) = 2 A x`` for ``f(x) = W2 σ_α(W1 x)`` (every ``x``).

    .. math:: A = \\frac{1+\\alpha}{2}\\, W_2 W_1 .

    Chapter 3, Theorem ``thm-ch03-expressivity``. The odd part ``(f(x) − f(−x))/2 = Ax`` of a
    two-layer bias-free net is linear, for any weights (the identity ``σ_α(z) − σ_α(−z) =
    (1+α)z`` holds at ``z = 0`` too). For the paired initialisation ``f`` itself equals ``Ax``.

    Parameters
    ----------
    W1 : array_like (..., H, d)
        First-layer weights (leading axes, e.g. an ensemble axis, broadcast).
    W2 : array_like (..., n_out, H)
        Second-layer weights.
    alpha : float or array_like
        Leak in ``[0, 1]``; an array broadcasts against the leading axes of ``W2 W1``.

    Returns
    -------
    ndarray (..., n_out, d)

    Raises
    ------
    ValueError
        If the hidden sizes disagree, an input is not at least 2-D, or ``alpha ∉ [0, 1]``.
    """
    W1 = _v.finite("W1", W1)
    W2 = _v.finite("W2", W2)
    if W1.ndim < 2 or W2.ndim < 2:
        raise ValueError("W1 and W2 must be at least 2-D (…, H, d) and (…, n_out, H)")
    if W1.shape[-2] != W2.shape[-1]:
        raise ValueError(f"hidden sizes disagree: W1 has {W1.shape[-2]} rows, W2 has {W2.shape[-1]} columns")
    a = _alpha(alpha)
    M = np.matmul(W2, W1)
    return ((1.0 + a) / 2.0)[..., None, None] * M if a.ndim else (1.0 + float(a)) / 2.0 * M


def time_rescaling(alpha):
    """Factor ``k = (1+α)/2`` of the rescaled time ``t̃ = k t`` of the linear twin.

    The bias-free net at time ``t`` is the linear twin at time ``t̃ = ((1+α)/2) t``: a ReLU
    net (``α = 0``) needs twice as long as the linear net to reach the same state.
    Chapter 3, Theorem ``thm-ch03-dynamics``.
    """
    return (1.0 + _alpha(alpha)) / 2.0


def weight_rescaling(alpha):
    """Factor ``c = √((1+α)/2)`` mapping the paired net's weights to its linear twin, ``W̃ = cW``."""
    return np.sqrt((1.0 + _alpha(alpha)) / 2.0)


def function_strength_expr():
    """Sympy form of :func:`function_strength`.

    Returns
    -------
    expr : sympy.Expr
        ``ũ(t) = s e^{2s k t/τ} / (e^{2s k t/τ} − 1 + s/(k u0))`` with ``k = (1+α)/2``.
    symbols : tuple ``(t, s, u0, alpha, tau)``
    """
    u_lin, (t, s, u0, tau) = dl.mode_strength_expr()
    alpha = sp.Symbol("alpha", nonnegative=True)
    k = (1 + alpha) / 2
    return u_lin.subs({t: k * t, u0: k * u0}, simultaneous=True), (t, s, u0, alpha, tau)


def function_strength(t, s, u0, alpha, tau=1.0):
    """Function-space strength of a mode of the paired bias-free net (whitened symmetric data).

    With ``Σ_xx = I`` and ``Σ_yx = Σ s_i u_i v_iᵀ``, the paired net computes ``f(x) = Ax``
    (:func:`odd_part_matrix`). Started balanced and decoupled with *raw* strength ``u0`` of the
    mode in ``W2 W1`` (summed over all hidden units), its strength ``ũ = u_iᵀ A v_i`` is Saxe's
    sigmoid in the rescaled time with the rescaled initial value:

    .. math:: \\tilde u(t) = u_{\\rm lin}\\big(k t;\\ s,\\ k u_0\\big),\\qquad k = \\frac{1+\\alpha}{2}.

    Chapter 3, Corollary ``thm-ch03-time-course``.

    Parameters
    ----------
    t : array_like
        Times.
    s : array_like
        Singular value of the mode, ``> 0``.
    u0 : array_like
        Initial raw strength ``u_iᵀ W2 W1 v_i`` (``> 0``).
    alpha : array_like
        Leak in ``[0, 1]``.
    tau : float
        Time constant ``> 0``.

    Raises
    ------
    ValueError
        If ``s, u0, tau`` are not positive or ``alpha ∉ [0, 1]``.
    """
    k = time_rescaling(alpha)
    _pos("u0", u0)
    return dl.mode_strength(k * np.asarray(t, dtype=float), s, k * np.asarray(u0, dtype=float), tau)


def half_time_expr():
    """Sympy form of :func:`half_time` and its symbols ``(s, u0, alpha, tau)``."""
    s, u0, tau = sp.symbols("s u_0 tau", positive=True)
    alpha = sp.Symbol("alpha", nonnegative=True)
    return 2 / (1 + alpha) * tau / (2 * s) * sp.log(2 * s / ((1 + alpha) * u0) - 1), (s, u0, alpha, tau)


def half_time(s, u0, alpha, tau=1.0):
    """Time at which a mode of the paired net reaches half its final function-space strength.

    .. math:: t_{1/2} = \\frac{2}{1+\\alpha}\\cdot\\frac{\\tau}{2s}
       \\ln\\!\\Big(\\frac{2s}{(1+\\alpha)u_0} - 1\\Big),

    for whitened symmetric data and the balanced, decoupled paired initialisation, where ``u0``
    is the initial *raw* strength of the mode in ``W2 W1`` (summed over all hidden units).
    With ``α = 1`` this is ``deep_linear.learning_time(s, u0, s/2)``.
    Chapter 3, Corollary ``thm-ch03-time-course``.

    Raises
    ------
    ValueError
        If ``s, u0, tau ≤ 0``, ``alpha ∉ [0, 1]``, or the initial function-space strength
        ``((1+α)/2) u0`` is not below ``s/2`` (then there is no half-way crossing).
    """
    s = _pos("s", s)
    u0 = _pos("u0", u0)
    tau = _pos("tau", tau)
    k = time_rescaling(alpha)
    if np.any(k * u0 >= s / 2):
        raise ValueError("the half-learning time needs ((1+alpha)/2)·u0 < s/2")
    return tau / (2 * s * k) * np.log(s / (k * u0) - 1.0)


def loss_curve(t, s, u0, alpha, tau=1.0, floor=0.0):
    """Loss of the paired net on whitened symmetric data with decoupled balanced start.

    .. math:: L(t) = L_* + \\tfrac12 \\sum_i \\big(s_i - \\tilde u_i(t)\\big)^2,

    with ``ũ_i`` from :func:`function_strength` and ``L_*`` (``floor``) the loss of the best
    linear fit, ``½(E‖y‖² − Σ s_i²)``; modes whose initial strength is zero are not listed.

    Parameters
    ----------
    t : array_like (T,)
    s, u0 : array_like (m,)
        Singular values and initial raw strengths of the modes.
    alpha : float
    floor : float
        ``L_* ≥ 0``.

    Returns
    -------
    ndarray (T,)
    """
    s = np.atleast_1d(_pos("s", s))
    u0 = np.atleast_1d(_pos("u0", u0))
    if s.ndim != 1 or u0.ndim != 1 or u0.shape not in ((1,), s.shape):
        raise ValueError(f"s must have shape (m,) and u0 shape (m,) or (1,); got {s.shape} and {u0.shape}")
    u0 = np.broadcast_to(u0, s.shape)
    if not np.isfinite(floor) or floor < 0:
        raise ValueError("floor must be a non-negative number")
    t = _v.finite("t", t)
    u = function_strength(t[..., None], s, u0, alpha, tau)
    return floor + 0.5 * np.sum((s - u) ** 2, axis=-1)


def linear_fit(sigma_xx, sigma_yx, trace_yy):
    """Best linear map and its loss: ``B = Σ_yx Σ_xx⁺``, ``L_* = ½(E‖y‖² − tr(B Σ_xy))``.

    On symmetric data with an odd target the loss splits as ``½E‖y − f_odd‖² + ½E‖f_even‖²``
    and a two-layer bias-free net has a linear odd part, so ``L ≥ L_*`` at all times and the
    net can at best learn ``x ↦ Bx`` (Chapter 3, Corollary ``thm-ch03-floor``). For ``y = x³`` on
    ``x ∈ {±1, ±2}``: ``B = 17/5`` and ``L_* = 9/5``.

    Parameters
    ----------
    sigma_xx : array_like (d, d)
        ``E[x xᵀ]``, symmetric positive semi-definite.
    sigma_yx : array_like (n_out, d)
        ``E[y xᵀ]``.
    trace_yy : float
        ``E‖y‖²``.

    Returns
    -------
    B : ndarray (n_out, d)
    floor : float

    Raises
    ------
    ValueError
        On bad shapes, non-finite entries, a non-symmetric or non-PSD ``Σ_xx``, a negative
        ``trace_yy`` or one below the part the best linear map explains (negative ``L_*``).
    """
    Sxx = np.atleast_2d(_v.finite("sigma_xx", sigma_xx))
    Syx = np.atleast_2d(_v.finite("sigma_yx", sigma_yx))
    if Sxx.ndim != 2 or Sxx.shape[0] != Sxx.shape[1] or Syx.ndim != 2 or Syx.shape[1] != Sxx.shape[0]:
        raise ValueError(f"need sigma_xx (d, d) and sigma_yx (n_out, d); got {Sxx.shape} and {Syx.shape}")
    if not np.allclose(Sxx, Sxx.T, atol=1e-12 * max(1.0, np.abs(Sxx).max())):
        raise ValueError("sigma_xx must be symmetric")
    _v.symmetric_psd("sigma_xx", Sxx)
    if not np.isfinite(trace_yy) or trace_yy < 0:
        raise ValueError("trace_yy must be a non-negative number")
    B = Syx @ np.linalg.pinv(Sxx)
    if not np.all(np.isfinite(B)):
        raise ValueError("sigma_xx is numerically singular: Σ_yx Σ_xx⁺ is not finite")
    _v.fitted_part_below("trace_yy", trace_yy, np.trace(B @ Syx.T), "tr(B Σ_xy) (the part the best linear map explains)")
    return B, float(0.5 * (trace_yy - np.trace(B @ Syx.T)))
