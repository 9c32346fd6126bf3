"""Closed forms for deep linear networks (Chapter 1; Saxe, McClelland & Ganguli 2014).

Book conventions: whitened inputs ``Σ_xx = I``, ``Σ_yx = Σ_α s_α u_α v_αᵀ``, loss
``𝓛 = ½𝔼‖y − f(x)‖²`` and gradient flow ``τ dW/dt = −∂𝓛/∂W``. On the decoupled manifold each
mode is a scalar chain ``τ ȧ_i = (Π_{j≠i} a_j)(s − Π_j a_j)``.

Every function is vectorised by numpy broadcasting and raises ``ValueError`` outside the
theorem's domain. This module never imports :mod:`theorylib.sim`.
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from scipy.special import hyp2f1

from . import _validate as _v
from ._validate import positive as _pos

__all__ = [
    "mode_strength",
    "mode_strength_expr",
    "learning_time",
    "half_learning_time",
    "unbalanced_limit",
    "deep_learning_time",
    "gd_first_order_error",
]



def mode_strength_expr():
    """Sympy form of Saxe et al.'s eq. (12): ``u(t) = s e^{2st/τ} / (e^{2st/τ} − 1 + s/u0)``.

    Returns
    -------
    expr : sympy.Expr
    symbols : tuple ``(t, s, u0, tau)``
    """
    t, s, u0, tau = sp.symbols("t s u_0 tau", positive=True)
    E = sp.exp(2 * s * t / tau)
    return s * E / (E - 1 + s / u0), (t, s, u0, tau)


def mode_strength(t, s, u0, tau=1.0):
    """Balanced two-layer mode strength (Chapter 1, Theorem ``thm-ch01-sigmoid``; Saxe et al. eq. 12).

    .. math:: u(t) = \\frac{s\\,e^{2st/\\tau}}{e^{2st/\\tau} - 1 + s/u_0},

    the solution of ``τ u̇ = 2u(s − u)`` with ``u(0) = u0``. Evaluated in the overflow-free form
    ``s / (1 + (s/u0 − 1) e^{−2st/τ})``.

    Parameters
    ----------
    t : array_like
        Times (any sign; the logistic is defined for all t when ``u0 ≤ s``).
    s : array_like
        Singular value of the mode, ``s > 0``.
    u0 : array_like
        Initial strength ``u0 > 0`` (balanced: first-layer and readout factors ``w₀ = a₀ = √u0``).
    tau : float
        Time constant, > 0.

    Returns
    -------
    ndarray
        ``u(t)``, broadcast over the arguments.

    Raises
    ------
    ValueError
        If ``s``, ``u0`` or ``tau`` is not positive, a time is not finite, or the shapes do not
        broadcast.
    """
    s = _pos("s", s)
    u0 = _pos("u0", u0)
    tau = _pos("tau", tau)
    t = _v.finite("t", t)
    _v.broadcastable(t=t, s=s, u0=u0, tau=tau)
    x = 2.0 * (s * t) / tau  # s·t first: t = 0 gives x = 0 even where 2s overflows
    r = s / u0
    # from u0 > s the solution blows up backwards in time, at x* = ln(1 − s/u0) < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        before_pole = (r < 1) & (x <= np.log1p(-np.minimum(r, 1.0)))
    if np.any(before_pole):
        raise ValueError("t is before the pole: from u0 > s the solution exists only for t > (τ/2s) ln(1 − s/u0)")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # 1 + (s/u0 − 1)e can be 0
        e = np.exp(-x)
        u = s / (1.0 + ((s - u0) / u0) * e)  # s − u0 is exact for u0 near s; s/u0 − 1 is not
        # u0 ≫ s: 1 + (s/u0 − 1)e cancels; (1 − e) + (s/u0)e has no cancellation for t ≥ 0, and
        # for t < 0 (after the pole, |x| < ln 2) none beyond what the pole itself forces
        u = np.where(r < 0.5, s / (-np.expm1(-x) + r * e), u)
        # u0 = s is a fixed point (0·inf for t → −∞ in the general form)
        return np.where(r == 1, s * np.ones_like(u), u)


def learning_time(s, u0, u, tau=1.0):
    """Time for a balanced mode to go from ``u0`` to ``u`` (Saxe et al. eq. 11).

    .. math:: t = \\frac{\\tau}{2s} \\ln\\frac{u (s - u_0)}{u_0 (s - u)}.

    From ``u0`` to ``u = s − u0`` this is ``(τ/s) ln((s − u0)/u0) ≈ (τ/s) ln(s/u0)``.

    Raises
    ------
    ValueError
        If ``s, u0, u, tau`` are not positive, or ``u0`` and ``u`` are not on the same side of
        ``s`` (the flow never crosses ``u = s``), e.g. ``u ≥ s > u0``, or ``u`` is not between
        ``u0`` and ``s`` (the flow moves monotonically towards ``s``: no negative times).
    """
    s = _pos("s", s)
    u0 = _pos("u0", u0)
    u = _pos("u", u)
    tau = _pos("tau", tau)
    _v.broadcastable(s=s, u0=u0, u=u, tau=tau)
    # signs, not products: (u0 − s)(u − s) underflows to 0 for arguments below ~1e-154
    if np.any(np.sign(u0 - s) * np.sign(u - s) <= 0):
        raise ValueError("u0 and u must lie strictly on the same side of s: the mode approaches s but never reaches it")
    if np.any(np.sign(u - u0) * np.sign(s - u0) < 0):
        raise ValueError("u must lie between u0 and s: the mode moves from u0 towards s, so u is never reached (the time would be negative)")
    tiny = np.finfo(float).tiny
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        # The log's argument is 1 + x with x = s q ≥ 0 and q = (u − u0)/(u0 (s − u)), so
        # t = (τ/2) q · ln(1 + x)/x. This keeps every digit when x is small (u0 > u > s with
        # s ≪ u: the ratio itself rounds to 1), and never divides by s (s = 5e-324 is fine).
        q = ((u - u0) / u0) / (s - u)
        x = s * q
        g = np.log1p(x) / np.where(x == 0, 1.0, x)
        g = np.where(x == 0, 1.0, g)
        near = np.isfinite(x) & np.isfinite(q) & ((q == 0) | (np.abs(q) >= tiny))
        # elsewhere (the quotients under- or overflow): the ratio, or a sum of logs
        ratio = u * (s - u0) / (u0 * (s - u))
        logs = (np.log(u) - np.log(u0)) + (np.log(np.abs(s - u0)) - np.log(np.abs(s - u)))
        good = (np.isfinite(ratio) & (ratio >= tiny) & (np.abs(u * (s - u0)) >= tiny)
                & (np.abs(u0 * (s - u)) >= tiny))
        far = tau / (2 * s) * np.where(good, np.log(np.where(good, ratio, 1.0)), logs)
        t = np.where(near, 0.5 * tau * q * g, far)
    return _v.finite_result("the learning time", t, "s, u0, u or τ too extreme")[()]  # scalar in, scalar out


def half_learning_time(s, u0, tau=1.0):
    """Time to reach half strength, ``t½ = (τ/2s) ln(s/u0 − 1)``, for ``0 < u0 < s/2``."""
    s = _pos("s", s)
    u0 = _pos("u0", u0)
    if np.any(u0 >= s / 2):
        raise ValueError("the half-learning time needs u0 < s/2")
    return learning_time(s, u0, s / 2, tau)


def gd_first_order_error(t, s, u0):
    """First-order GD error of a balanced mode (Chapter 1, ``prop-ch01-gd-error``).

    GD with step η on a balanced mode (τ = 1), ``a_{k+1} = a_k + η a_k (s − a_k²)`` and
    ``u_k = a_k²``, satisfies ``u_k = u(ηk) + η e₁(ηk) + O(η²)`` with ``u`` the closed form of
    :func:`mode_strength` and

    .. math:: e_1(t) = -u(s - u)\\Big[s t - \\tfrac32 \\ln\\frac{e^{2st} + C}{1 + C}\\Big],
       \\qquad C = s/u_0 - 1,

    the solution of ``ė₁ = (2s − 4u) e₁ − u(s − 3u)(s − u)``, ``e₁(0) = 0`` (the linearisation
    of Euler's modified equation ``u̇ = 2u(s − u) − η u(s − 3u)(s − u)``).

    For a time constant τ (GD ``τ(a_{k+1} − a_k) = η a_k(s − a_k²)``, step k at ``t = ηk``) the
    error is ``(η/τ) e₁(t/τ)``: in units of ``t/τ`` the map is the τ = 1 map with step ``η/τ``.

    Parameters
    ----------
    t : array_like
        Times ``t = ηk`` (τ = 1), ``t ≥ 0``.
    s, u0 : array_like
        Singular value and initial strength, both > 0.

    Returns
    -------
    ndarray
        ``e₁(t)``; multiply by η for the error itself.
    """
    s = _pos("s", s)
    u0 = _pos("u0", u0)
    t = _v.finite("t", t)
    if np.any(t < 0):
        raise ValueError("t must be non-negative")
    C = s / u0 - 1.0
    u = mode_strength(t, s, u0)
    # ln((e^{2st} + C)/(1 + C)) without overflow: 2st + ln(1 + C e^{−2st}) − ln(s/u0)
    log_ratio = 2 * s * t + np.log1p(C * np.exp(-2 * s * t)) - np.log(s / u0)
    return -u * (s - u) * (s * t - 1.5 * log_ratio)


def unbalanced_limit(s, a0, b0):
    """End point ``(w∞, a∞)`` of one unbalanced mode (Chapter 1, ``thm-ch01-unbalanced``).

    The mode has first-layer (input) factor ``w`` and readout factor ``a`` and follows
    ``τẇ = a(s − aw)``, ``τȧ = w(s − aw)``. The argument names are historical: ``a0`` is the
    first-layer start ``w₀`` and ``b0`` the readout start ``a₀``; the first returned array is
    ``w∞``, the second ``a∞``. The balance ``δ = a² − w²`` (readout minus input) is conserved
    and ``aw → s``, so

    .. math:: a_\\infty^2 = \\tfrac12\\big(\\delta + \\sqrt{\\delta^2 + 4s^2}\\big),\\qquad
       w_\\infty = s / a_\\infty .

    The sign is inherited from the factor that cannot cross zero (``a`` if ``δ > 0``, ``w`` if
    ``δ < 0``). On the stable manifold of the saddle (``w₀ = −a₀``, including the origin) the
    flow ends at ``(0, 0)``.

    Raises
    ------
    ValueError
        If ``s ≤ 0`` or an initial value is not finite.
    """
    s = _pos("s", s)
    a0 = np.asarray(a0, dtype=float)
    b0 = np.asarray(b0, dtype=float)
    if not (np.all(np.isfinite(a0)) and np.all(np.isfinite(b0))):
        raise ValueError("a0 and b0 must be finite")
    s, a0, b0 = _v.broadcastable(s=s, a0=a0, b0=b0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # |δ| = |a0² − b0²| as (||a0| − |b0||)(|a0| + |b0|) = 2ph: a0² − b0² itself cancels for
        # nearly balanced starts (17% off in the end point at a0 = 1e11, b0 = a0 − 2e-5) and
        # overflows above ~1e154, where 2ph need not
        p, h = np.abs(np.abs(a0) - np.abs(b0)), np.abs(a0) / 2 + np.abs(b0) / 2
        c2 = 2 * p * h
        # the larger magnitude from a sum, the smaller as s / larger (their product is s at the
        # fixed point): (root − |δ|)/2 would cancel to 0 when |δ| ≫ s; hypot does not overflow
        big = np.sqrt((c2 + np.hypot(c2, 2 * s)) / 2)
        # s ≳ 9e307: 2s overflows; scaled by s instead
        r = 2 * (p / s) * h
        big_s = np.sqrt(s) * np.sqrt((r + np.hypot(r, 2.0)) / 2)
        # |δ| beyond the float range: √|δ| = √p·√(2h) stays finite up to the float limit
        huge = np.sqrt(p) * np.sqrt(h) * np.sqrt(1 + np.hypot(1.0, s / p / h))  # p > 0 here
        big = np.where(np.isfinite(big), big, np.where(np.isfinite(big_s), big_s, huge))
    big = _v.finite_result("the end point", big, "a0, b0 or s too large")
    small = s / big
    # which start is larger from |a0|, |b0| (c and a0·b0 underflow to 0 for starts below ~1e-154);
    # a balanced start |a0| = |b0| ends balanced, both magnitudes `big` = √s (not s/√s for one)
    a_big = np.abs(a0) >= np.abs(b0)
    b_big = np.abs(b0) >= np.abs(a0)
    a_mag = np.where(a_big, big, small)
    b_mag = np.where(b_big, big, small)
    # the variable with the larger magnitude never crosses zero; for c = 0, a = b keeps its sign
    sign = np.where(a_big, np.sign(a0), np.sign(b0))
    saddle = a0 == -b0  # the saddle's stable manifold w₀ = −a₀ (including the origin)
    a_inf = np.where(saddle, 0.0, sign * a_mag)
    b_inf = np.where(saddle, 0.0, sign * b_mag)
    return a_inf, b_inf


def deep_learning_time(s, u0, u, n_weights, tau=1.0):
    """Time for ``u = a^L`` to go from ``u0`` to ``u`` when ``L`` equal factors follow
    ``τȧ_i = (Π_{j≠i} a_j)(s − Π_j a_j)`` (Chapter 1, ``thm-ch01-deep``; Saxe et al.'s eq. 15
    with ``L = N_l − 1`` weight layers).

    ``τ u̇ = L u^{2−2/L}(s − u)``. Substituting ``u = s q^L`` gives

    .. math:: t = \\tau s^{2/L - 2}\\Big[F(q)\\Big]_{q_0}^{q_1},\\quad
       F(q) = \\frac{q^{2-L}}{2-L} + \\frac{q^2}{2}\\,{}_2F_1\\!\\big(1, \\tfrac2L; 1 + \\tfrac2L; q^L\\big),

    with ``q_0 = (u0/s)^{1/L}``, ``q_1 = (u/s)^{1/L}`` and ``q^{2−L}/(2−L)`` read as ``ln q`` for
    ``L = 2`` (then Saxe et al.'s eq. 11 is recovered).

    Numerically the closed form is used for ``u ≤ s/2``. Above ``s/2`` the logarithmic singularity
    at ``u = s`` is split off, ``ln((s − max(u0, s/2))/(s − u))``, and the analytic rest is
    integrated by Gauss–Legendre; for ``u`` within 5% of ``u0`` (relative to ``min(u0, s − u)``)
    the whole integral is. Both keep every digit where the hypergeometric function and the
    difference ``F(q₁) − F(q₀)`` do not.

    Parameters
    ----------
    n_weights : int
        Number of weight layers ``L ≥ 1`` in the chain.

    Raises
    ------
    ValueError
        Unless ``0 < u0 ≤ u < s``, ``L`` a positive (finite) integer and ``tau > 0``.
    """
    s = _pos("s", s)
    u0 = _pos("u0", u0)
    u = _pos("u", u)
    tau = _pos("tau", tau)
    N = _v.integers("n_weights", n_weights, minimum=1)
    N = N.astype(float)
    _v.broadcastable(s=s, u0=u0, u=u, n_weights=N, tau=tau)
    if np.any(u0 >= s) or np.any(u >= s):
        raise ValueError("need 0 < u0 < s and 0 < u < s (the product approaches s but never reaches it)")
    if np.any(u < u0):
        raise ValueError("need u ≥ u0: the product grows from u0 towards s (the time would be negative)")

    def F(y, N):
        with np.errstate(divide="ignore", invalid="ignore"):
            power = np.where(N == 2, np.log(y), y ** (2 - N) / np.where(N == 2, 1.0, 2 - N))
        return power + 0.5 * y**2 * hyp2f1(1.0, 2.0 / N, 1.0 + 2.0 / N, y**N)

    # (u0/s)^(1/L) through logs: u0/s itself underflows to 0 when u0 ≪ s, though its root need not
    def root(x):
        q = x / s
        with np.errstate(divide="ignore"):
            return np.where(q >= np.finfo(float).tiny, q ** (1.0 / N), np.exp((np.log(x) - np.log(s)) / N))

    # t = (τ/L) s^{−a} I with a = 2 − 2/L and I = ∫ dw/(w^a (1 − w)) over w = v/s from u0/s to
    # u/s. Below w = ½, I = L[F(q)] (hyp2f1 at q^L ≤ ½). Above it hyp2f1 loses its digits as
    # q^L → 1 (1e15 instead of 3.66 at u = 1 − 1e-14, L = 9), so there
    # I = ln((1 − w0)/(1 − w1)) + ∫ (w^{−a} − 1)/(1 − w) dw, whose integrand is analytic on
    # [½, 1] (removable at w = 1): 20-point Gauss–Legendre in d = 1 − w is exact to rounding.
    a = 2.0 - 2.0 / N
    y0, y1 = root(u0), root(u)
    ymid = 0.5 ** (1.0 / N)
    below = u0 < s / 2
    with np.errstate(over="ignore", invalid="ignore"):
        I_low = np.where(below, N * (F(np.where(u <= s / 2, y1, ymid), N) - F(y0, N)), 0.0)
    m = np.maximum(u0, s / 2)
    above = u > s / 2
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        gap = np.where(above, u - m, 0.0)  # exact: u and m lie within a factor 2 of each other
        x, wg = np.polynomial.legendre.leggauss(20)
        x = x.reshape((-1,) + (1,) * np.broadcast(s, u0, u, N, tau).ndim)
        wg = wg.reshape(x.shape)
        d1 = (s - u) / s
        d = d1 + (gap / s) * (0.5 * (1.0 + x))
        h = np.expm1(-a * np.log1p(-d)) / d
        I_high = np.log1p(gap / (s - u)) + 0.5 * (gap / s) * np.sum(wg * h, axis=0)
        I = I_low + np.where(above, I_high, 0.0)
        t = (tau / N) * s ** (-a) * I
        # (τ/L) s^{−a} can overflow (or underflow) where t itself does not: then in logs
        t_log = np.exp(np.log(tau) - np.log(N) - a * np.log(s) + np.log(I))
        t = np.where(np.isfinite(t) & (t >= np.finfo(float).tiny), t, np.where(I > 0, t_log, 0.0))
    # For u close to u0 the difference F(y1) − F(y0) cancels (a relative error of 1e-4 at
    # u − u0 = 1e-12 u0). There the integrand τ/(L v^{2−2/L}(s − v)) is analytic on a disc
    # 20 times wider than [u0, u], so 8-point Gauss–Legendre is exact to rounding; it is summed
    # in logs so that tiny or huge arguments cannot under- or overflow before the end.
    near = (u - u0) <= 0.05 * np.minimum(u0, s - u)
    if np.any(near):
        x, w = np.polynomial.legendre.leggauss(8)
        x = x.reshape((-1,) + (1,) * np.ndim(t))
        w = w.reshape(x.shape)
        v = u0 + (u - u0) * (0.5 * (1.0 + x))
        with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
            # u − u0 is exact (even when subnormal) and multiplies last, so no digit is lost
            # before the end; only where v^{2−2/L} under- or overflows are the logs summed
            direct = (0.5 * tau * np.sum(w / (N * v ** (2.0 - 2.0 / N) * (s - v)), axis=0)) * (u - u0)
            logf = np.log(u - u0) - np.log(2.0) - (2.0 - 2.0 / N) * np.log(v) - np.log(N) - np.log(s - v)
            quad = np.where(np.isfinite(direct) & (direct >= np.finfo(float).tiny), direct,
                            tau * np.sum(w * np.exp(logf), axis=0))
        t = np.where(near, np.where(u == u0, 0.0, quad), t)
    return _v.finite_result("the learning time", t, "s, u0, u, n_weights or τ too extreme")[()]  # scalar in, scalar out
