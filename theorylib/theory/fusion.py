"""Unimodal bias in multimodal deep linear networks (Chapter 4; Zhang, Latham & Saxe 2024).

Book conventions: scalar target ``y``, input ``x = [x_A; x_B]`` with modality A the first
``d_a`` coordinates, ``Σ = E[xxᵀ]`` (not whitened), ``Σ_yx = E[y xᵀ]``, loss
``L = ½E(y − W x)²`` and gradient flow ``τ dθ/dt = −∂L/∂θ``. A network fused at layer ``L_f``
computes ``ŷ = W^tot x`` with ``W^tot = [W_A, W_B]``.

Notation used throughout:

* ``W_A^uni = Σ_yxA Σ_A⁻¹`` — the best A-only predictor, reached in the unimodal phase;
* ``c_B = Σ_yxB − W_A^uni Σ_AB`` — modality B's correlation with the residual of that phase.

Every function validates its inputs and raises ``ValueError`` outside the domain of the
formula. This module never imports :mod:`theorylib.sim`.
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from scipy.integrate import quad, solve_ivp

from . import _validate as _v

__all__ = [
    "toy_statistics",
    "toy_statistics_expr",
    "unimodal_solution",
    "residual_drive",
    "misattribution",
    "fixed_point_losses",
    "late_fusion_time_ratio",
    "toy_time_ratio",
    "logistic_weight",
    "logistic_weight_expr",
    "logistic_half_time",
    "preference_lines",
    "early_branch_size",
    "fusion_times",
    "fusion_time_ratio",
    "aligned_flow",
]


# ---------------------------------------------------------------- statistics


def toy_statistics_expr():
    """Sympy form of the toy statistics: ``(Σ, Σ_yx, E y²)`` and the symbols ``(r, ρ)``.

    ``x_A`` has standard deviation ``r``, ``x_B`` standard deviation 1, correlation ``ρ``,
    and ``y = x_A + x_B``.
    """
    r = sp.symbols("r", positive=True)
    rho = sp.symbols("rho", real=True)
    S = sp.Matrix([[r**2, rho * r], [rho * r, 1]])
    w = sp.Matrix([[1, 1]])
    Syx = w * S
    Eyy = (w * S * w.T)[0, 0]
    return S, Syx, sp.expand(Eyy), (r, rho)


def toy_statistics(r, rho):
    """``(Σ, Σ_yx)`` of the two-scalar-modality toy (Chapter 4, eq. ``eq-ch04-toy``).

    .. math:: \\Sigma = \\begin{pmatrix} r^2 & \\rho r\\\\ \\rho r & 1\\end{pmatrix},\\qquad
       \\Sigma_{yx} = (r^2 + \\rho r,\\; 1 + \\rho r),

    for ``σ_A = r``, ``σ_B = 1``, correlation ``ρ`` and ``y = x_A + x_B`` (A first).

    Parameters
    ----------
    r : float
        Ratio of standard deviations ``σ_A/σ_B > 0``.
    rho : float
        Correlation, ``−1 < ρ < 1``.

    Returns
    -------
    sigma : ndarray (2, 2)
    sigma_yx : ndarray (2,)

    Raises
    ------
    ValueError
        If ``r ≤ 0`` or ``|ρ| ≥ 1`` (then Σ is singular).
    """
    r = float(r)
    rho = float(rho)
    if not np.isfinite(r) or r <= 0:
        raise ValueError(f"r must be positive; got {r}")
    if not np.isfinite(rho) or abs(rho) >= 1:
        raise ValueError(f"the correlation must satisfy |rho| < 1 (else Σ is singular); got {rho}")
    sigma = np.array([[r * r, rho * r], [rho * r, 1.0]])
    return sigma, np.array([r * r + rho * r, 1.0 + rho * r])


def _stats(sigma, sigma_yx, d_a):
    S = np.asarray(sigma, dtype=float)
    s = np.asarray(sigma_yx, dtype=float).reshape(-1)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"sigma must be a square matrix; got shape {S.shape}")
    D = S.shape[0]
    if s.shape != (D,):
        raise ValueError(f"sigma_yx must have {D} entries; got {s.size}")
    if not (np.all(np.isfinite(S)) and np.all(np.isfinite(s))):
        raise ValueError("sigma and sigma_yx must be finite")
    if not np.allclose(S, S.T, atol=1e-12 * max(1.0, np.abs(S).max())):
        raise ValueError("sigma must be symmetric")
    if np.linalg.eigvalsh(S).min() <= 1e-12 * max(1.0, np.abs(S).max()):
        raise ValueError("sigma must be positive definite")
    try:
        d_a = _v.integer("d_a", d_a)
    except ValueError:
        raise ValueError(f"d_a must be an integer with 1 ≤ d_a < {D} (both modalities non-empty); got {d_a}") from None
    if not 1 <= d_a < D:
        raise ValueError(f"d_a must be an integer with 1 ≤ d_a < {D} (both modalities non-empty); got {d_a}")
    return S, s, d_a


def unimodal_solution(sigma, sigma_yx, d_a):
    """The A-only fixed point ``W_A^uni = Σ_yxA Σ_A⁻¹`` (Chapter 4, Theorem ``thm-ch04-fixed``).

    Parameters
    ----------
    sigma : ndarray (D, D)
        Input covariance, symmetric positive definite.
    sigma_yx : ndarray (D,)
        Input-output correlation.
    d_a : int
        Number of coordinates of modality A (the first ones).

    Returns
    -------
    ndarray (d_a,)

    Raises
    ------
    ValueError
        If Σ is not symmetric positive definite, shapes disagree or ``d_a`` is out of range.
    """
    S, s, d_a = _stats(sigma, sigma_yx, d_a)
    return np.linalg.solve(S[:d_a, :d_a], s[:d_a])


def residual_drive(sigma, sigma_yx, d_a):
    """``c_B = Σ_yxB − W_A^uni Σ_AB``: B's correlation with the residual of the unimodal phase.

    Returns
    -------
    ndarray (d_b,)
    """
    S, s, d_a = _stats(sigma, sigma_yx, d_a)
    return s[d_a:] - unimodal_solution(S, s, d_a) @ S[:d_a, d_a:]


def misattribution(sigma, sigma_yx, d_a):
    """``W_A^uni − w_A* = w_B*ᵀ Σ_BA Σ_A⁻¹`` (Theorem ``thm-ch04-ratio``, eq. ``eq-ch04-mis``; toy: ``ρ/r``).

    ``w* = Σ_yx Σ⁻¹`` is the full solution; during the unimodal phase modality A also carries
    the part of the target that it can predict through its correlation with B.
    """
    S, s, d_a = _stats(sigma, sigma_yx, d_a)
    w = np.linalg.solve(S, s)
    return unimodal_solution(S, s, d_a) - w[:d_a]


def fixed_point_losses(sigma, sigma_yx, d_a, e_yy):
    """Loss at the fixed points ``M_0, M_A, M_B, M_*`` (Theorem ``thm-ch04-fixed``).

    ``L(M_0) = ½E y²``, ``L(M_A) = ½(E y² − Σ_yxA Σ_A⁻¹ Σ_yxAᵀ)``, likewise ``M_B``, and
    ``L(M_*) = ½(E y² − Σ_yx Σ⁻¹ Σ_yxᵀ)``.

    Returns
    -------
    dict
        ``{"M0", "MA", "MB", "Mstar"}`` -> float.

    Raises
    ------
    ValueError
        If ``e_yy`` is smaller than the variance explained by the best linear predictor.
    """
    S, s, d_a = _stats(sigma, sigma_yx, d_a)
    e_yy = float(e_yy)
    full = s @ np.linalg.solve(S, s)
    if not np.isfinite(e_yy) or e_yy < full * (1 - 1e-12):
        raise ValueError("E[y²] must be at least Σ_yx Σ⁻¹ Σ_yxᵀ (the variance the best linear predictor explains)")
    sa, sb = s[:d_a], s[d_a:]
    return {
        "M0": 0.5 * e_yy,
        "MA": 0.5 * (e_yy - sa @ np.linalg.solve(S[:d_a, :d_a], sa)),
        "MB": 0.5 * (e_yy - sb @ np.linalg.solve(S[d_a:, d_a:], sb)),
        "Mstar": 0.5 * (e_yy - full),
    }


# ---------------------------------------------------------------- two-layer late fusion


def late_fusion_time_ratio(sigma, sigma_yx, d_a):
    """``t_B/t_A`` for two-layer late fusion from small initialisation (Theorem ``thm-ch04-ratio``).

    For a one-dimensional modality B, the signed form

    .. math:: \\frac{t_B}{t_A} = 1 + \\frac{\\lVert\\Sigma_{yxA}\\rVert - \\Sigma_{yxB}\\,\\hat c_B}{\\lVert c_B\\rVert},
       \\qquad \\hat c_B = c_B/\\lVert c_B\\rVert,

    exact to leading order in ``ln(1/u0)`` for either sign of ``Σ_yxB c_B``; for a multi-dimensional
    B with ``Σ_yxB·c_B > 0``, Zhang et al.'s boxed (norm) form ``1 + (‖Σ_yxA‖ − ‖Σ_yxB‖)/‖c_B‖`` (the
    two coincide for scalar B when ``Σ_yxB c_B > 0``). For a multi-dimensional B the norm form is
    the ``u0 → 0`` limit for any ``cos θ = Σ̂_yxB·ĉ_B > −1``, whatever its sign; at finite ``u0`` the
    ratio exceeds it by about ``ln(2/(1 + cos θ))‖Σ_yxA‖/(‖c_B‖ ln(1/u0))``, at most ``ln 2`` times
    ``‖Σ_yxA‖/(‖c_B‖ ln(1/u0))`` for ``cos θ ≥ 0`` but unbounded as ``cos θ → −1``, which is why
    ``Σ_yxB·c_B ≤ 0`` raises.
    Toy case: ``1 + (r² − 1)/(1 − ρ²)`` for every ρ.

    Raises
    ------
    ValueError
        If Σ is not positive definite; if A is not learned first (``‖Σ_yxA‖ < ‖Σ_yxB‖``);
        if ``c_B = 0`` (B is never learned); or if B is multi-dimensional and
        ``Σ_yxB·c_B ≤ 0``, where neither form is accurate at practical ``u0`` (the hidden
        direction rotates at a cost that is only negligible against ``ln(1/u0)`` as ``u0 → 0``).
    """
    S, s, d_a = _stats(sigma, sigma_yx, d_a)
    sa, sb = s[:d_a], s[d_a:]
    na, nb = np.linalg.norm(sa), np.linalg.norm(sb)
    if na < nb * (1 - 1e-12):
        raise ValueError(f"A is not learned first: ‖Σ_yxA‖ = {na:.4g} < ‖Σ_yxB‖ = {nb:.4g} (swap the modalities)")
    c = residual_drive(S, s, d_a)
    nc = np.linalg.norm(c)
    if nc <= 1e-12 * max(1.0, na):
        raise ValueError("c_B = 0: B is uncorrelated with the residual of the unimodal phase and is never learned")
    proj = float(sb @ c) / nc
    if sb.size > 1 and proj <= 0:
        raise ValueError(
            "multi-dimensional modality B with Σ_yxB·c_B ≤ 0: neither the boxed nor the signed "
            "formula holds at practical u0 (B's hidden direction must rotate from Σ_yxB to c_B; the boxed "
            "form is only the u0 → 0 limit, approached like 1/ln(1/u0); see Chapter 4)"
        )
    if sb.size > 1:
        # B's hidden direction rotates from Σ_yxB to c_B at an O(1) cost: the boxed form
        return 1.0 + (na - nb) / nc
    return 1.0 + (na - proj) / nc


def toy_time_ratio(r, rho):
    """``1 + (r² − 1)/(1 − ρ²)``: the toy form of :func:`late_fusion_time_ratio` (needs ``r ≥ 1``)."""
    r = np.asarray(r, dtype=float)
    rho = np.asarray(rho, dtype=float)
    if np.any(~np.isfinite(r)) or np.any(r < 1):
        raise ValueError("need r ≥ 1 so that A is learned first")
    if np.any(~np.isfinite(rho)) or np.any(np.abs(rho) >= 1):
        raise ValueError("need |rho| < 1")
    return 1.0 + (r**2 - 1.0) / (1.0 - rho**2)


def logistic_weight_expr(t, w_star, w0, drive, tau=1):
    """Sympy twin of :func:`logistic_weight` (any sympy arguments)."""
    return w_star / (1 + (w_star / w0 - 1) * sp.exp(-2 * drive * t / tau))


def logistic_weight(t, w_star, w0, drive, tau=1.0):
    """Late-fusion weight of one modality when ``ρ = 0`` (Theorem ``thm-ch04-logistic``).

    .. math:: W(t) = \\frac{W^*}{1 + (W^*/W(0) - 1)\\,e^{-2\\Sigma_{yx}t/\\tau}},

    the solution of ``τẆ = 2W(Σ_yx − σ²W)`` with ``W^* = Σ_yx/σ²``.

    Raises
    ------
    ValueError
        Unless ``w_star, w0, drive, tau > 0``.
    """
    w_star, w0, drive, tau = (np.asarray(v, dtype=float) for v in (w_star, w0, drive, tau))
    for name, v in (("w_star", w_star), ("w0", w0), ("drive", drive), ("tau", tau)):
        if np.any(~np.isfinite(v)) or np.any(v <= 0):
            raise ValueError(f"{name} must be positive")
    t = _v.finite("t", t)
    _v.broadcastable(t=t, w_star=w_star, w0=w0, drive=drive, tau=tau)
    x = 2.0 * drive * t / tau
    r = w_star / w0
    with np.errstate(divide="ignore", invalid="ignore"):
        before_pole = (r < 1) & (x <= np.log1p(-np.minimum(r, 1.0)))
    if np.any(before_pole):
        raise ValueError("t is before the pole: from w0 > w_star the solution exists only for t > (τ/2Σ_yx) ln(1 − w_star/w0)")
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(-x)
        W = w_star / (1.0 + (w_star / w0 - 1.0) * e)
        # w0 ≫ w_star: (1 − e) + (w*/w0)e has no cancellation for t ≥ 0; w0 = w* is a fixed point
        W = np.where((r < 0.5) & (x >= 0), w_star / (-np.expm1(-x) + r * e), W)
        return np.where(r == 1, w_star * np.ones_like(W), W)


def logistic_half_time(w_star, w0, drive, tau=1.0):
    """``t½ = (τ/2Σ_yx) ln(W*/W(0) − 1)``: when the logistic reaches ``W*/2`` (needs ``W(0) < W*/2``)."""
    w_star, w0, drive = (_v.positive_scalar(n, v) for n, v in (("w_star", w_star), ("w0", w0), ("drive", drive)))
    tau = _v.positive_scalar("tau", tau)
    if min(w_star, w0, drive, tau) <= 0 or w0 >= w_star / 2:
        raise ValueError("need positive arguments and 0 < w0 < w_star/2")
    return tau / (2 * drive) * np.log(w_star / w0 - 1.0)


def preference_lines(sigma_a, sigma_b):
    """The two lines of the superficial modality preference (``ρ = 0``, scalar modalities).

    A is learned first iff ``w_A/w_B > (σ_B/σ_A)²`` (prioritisation) and A explains more
    output variance iff ``w_A/w_B > σ_B/σ_A`` (contribution); between the lines the modality
    learned first is the less important one.

    Returns
    -------
    (prioritisation, contribution) : tuple of float
    """
    sigma_a, sigma_b = _v.positive_scalar("sigma_a", sigma_a), _v.positive_scalar("sigma_b", sigma_b)
    if min(sigma_a, sigma_b) <= 0:
        raise ValueError("standard deviations must be positive")
    q = sigma_b / sigma_a
    return q * q, q


# ---------------------------------------------------------------- deep and intermediate fusion


def _scalar_setup(depth, fusion_layer, sigma, sigma_yx, d_a, u0):
    S, s, d_a = _stats(sigma, sigma_yx, d_a)
    if S.shape[0] != 2:
        raise ValueError("the deep-fusion formulas are derived for scalar modalities (d_a = d_b = 1)")
    depth = _v.integer("depth", depth, minimum=2)
    fusion_layer = _v.integer("fusion_layer", fusion_layer)
    if not 1 <= fusion_layer <= depth:
        raise ValueError(f"fusion_layer must be an integer in [1, depth]; got {fusion_layer}")
    u0 = float(_v.finite("u0", u0))
    if not 0 < u0 < 1:
        raise ValueError(f"u0 must lie in (0, 1) (the theory integrates u from u0 to 1); got {u0}")
    sa, sb = s[0], s[1]
    c = float(residual_drive(S, s, 1)[0])
    if abs(sa) < abs(sb) * (1 - 1e-12):
        raise ValueError(f"A is not learned first: |Σ_yxA| = {abs(sa):.4g} < |Σ_yxB| = {abs(sb):.4g}")
    if abs(c) <= 1e-12 * max(1.0, abs(sa)):
        raise ValueError("c_B = 0: B is never learned")
    # orient each modality so that its final weight is positive (the aligned init's signs)
    k = float(np.sign(c) * sb / abs(sa))
    w_uni = abs(sa) / S[0, 0]
    return int(depth), int(fusion_layer), abs(sa), k, abs(c), w_uni, u0


def early_branch_size(u_a, u0, k, fusion_layer):
    """Size ``u_B`` of B's factors when A's factors have size ``u_A`` in the loss-free phase.

    Solution of ``du_B/du_A = k (u_B/u_A)^{L_f−1}`` with ``u_B(u0) = u0`` (Proposition ``thm-ch04-deep``):
    ``u_B = u0 + k(u_A − u0)`` for ``L_f = 1``, ``u_B = u0 (u_A/u0)^k`` for ``L_f = 2`` and
    ``u_B^{2−L_f} = u0^{2−L_f} + k(u_A^{2−L_f} − u0^{2−L_f})`` otherwise.
    """
    u_a = _v.positive("u_a", u_a)
    u0 = _v.positive_scalar("u0", u0)
    k = float(_v.finite("k", k))
    Lf = _v.integer("fusion_layer", fusion_layer, minimum=1)
    if Lf == 1:
        return u0 + k * (u_a - u0)
    if Lf == 2:
        return u0 * (u_a / u0) ** k
    p = 2.0 - Lf
    return (u0**p + k * (u_a**p - u0**p)) ** (1.0 / p)


def fusion_times(depth, fusion_layer, sigma, sigma_yx, d_a, u0, tau=1.0):
    """``(t_A, t_B − t_A)`` for a depth-``L`` network fused at layer ``L_f`` (Proposition ``thm-ch04-deep``).

    Aligned rank-one balanced initialisation: every factor of either branch has size ``u0``,
    shared factors ``√2 u0``. With ``k = Σ_yxB/Σ_yxA`` and ``u_B(u)`` from
    :func:`early_branch_size`,

    .. math:: t_A = \\tau\\int_{u_0}^{1}\\frac{du}{\\Sigma_{yxA}\\,u^{L_f-1}\\,(u^2+u_B(u)^2)^{(L-L_f)/2}}

    (quadrature), and the unimodal phase lasts
    ``τ(1−k) ln(1/u0) / (c_B (W_A^uni)^{1−2/L})`` for ``L_f = 2`` and
    ``τ u0^{2−L_f}(1−k) / ((L_f−2) c_B (W_A^uni)^{1−L_f/L})`` for ``L_f > 2``; 0 for ``L_f = 1``.

    Scalar modalities; each modality is oriented so that its final weight is positive.

    Raises
    ------
    ValueError
        If the modalities are not scalar, A is not learned first (``|Σ_yxA| < |Σ_yxB|``),
        ``c_B = 0``, Σ is not positive definite, or ``depth``, ``fusion_layer``, ``u0`` are
        out of range.
    """
    tau = _v.positive_scalar("tau", tau)
    L, Lf, log_ta, one_minus_k, log_lag = _log_fusion_times(depth, fusion_layer, sigma, sigma_yx, d_a, u0)
    with np.errstate(over="ignore"):
        t_a = tau * float(np.exp(log_ta))
        lag = 0.0 if Lf == 1 else tau * one_minus_k * float(np.exp(log_lag))
    why = f"t_A ≈ e^{log_ta + np.log(tau):.4g} for u0 = {u0:g} (fusion_time_ratio still works at any u0)"
    # a positive time below the float range is as unrepresentable as one above it
    t_a = np.inf if t_a == 0.0 else t_a
    lag = np.inf if lag == 0.0 and Lf > 1 and one_minus_k > 0 else lag
    return _v.finite_result("t_A", t_a, why), _v.finite_result("t_B − t_A", lag, why)


def _log_fusion_times(depth, fusion_layer, sigma, sigma_yx, d_a, u0):
    r"""``(L, L_f, ln t_A, 1 − k, ln(lag/(1 − k)))`` at ``τ = 1``, free of overflow for any ``u0 > 0``.

    With ``u = u0·x`` (so ``u_B = u0·β(x)``) and ``x = e^y``,

    .. math:: t_A = \frac{u_0^{2-L}}{\Sigma_{yxA}}\int_0^{\ln(1/u_0)}
              e^{(2-L_f)y}\,\big(e^{2y} + β^2\big)^{-(L-L_f)/2}\,dy,

    with ``β = 1 + k(x − 1)`` (``L_f = 1``), ``x^k`` (``L_f = 2``) and
    ``(1 + k(x^{2−L_f} − 1))^{1/(2−L_f)}`` (``L_f > 2``). The integrand is evaluated through its
    logarithm and is bounded by 1, so neither ``u0^{2−L}`` nor the lag's ``u0^{2−L_f}`` is ever
    formed: they enter as ``(2 − L)\ln u_0`` and ``(2 − L_f)\ln u_0``.
    """
    L, Lf, sa, k, c, w_uni, u0 = _scalar_setup(depth, fusion_layer, sigma, sigma_yx, d_a, u0)
    log_u0 = np.log(u0)
    Y = -log_u0
    p = 2.0 - Lf

    def log_beta(y):  # ln|β(e^y)|, without forming e^y
        with np.errstate(divide="ignore"):
            if Lf == 1:
                return y + np.log(abs(k + (1.0 - k) * np.exp(-y)))
            if Lf == 2:
                return k * y
            if k >= 1.0:  # tied drives: β = x exactly (log1p(expm1(py)) is log1p(−1) = −inf once e^{py} < 2⁻⁵⁴)
                return y
            return np.log1p(min(k, 1.0) * np.expm1(p * y)) / p

    # The integrand is largest at y = 0, where it is 2^{−(L−L_f)/2}: that underflows to 0 for
    # L − L_f ≳ 2150, so it is integrated divided by that value and the factor re-enters as a log.
    log_scale = -(L - Lf) / 2.0 * np.log(2.0)

    def integrand(y):
        lb = log_beta(y)
        m = max(y, lb)
        log_v2 = 2.0 * m + np.log(np.exp(2.0 * (y - m)) + np.exp(2.0 * (lb - m)))
        return np.exp((2.0 - Lf) * y - (L - Lf) / 2.0 * log_v2 - log_scale)

    # the integrand is e^{(2−L)y} for large y: split where it has decayed, so quad sees its scale
    edges = [0.0] + [e for e in (1.0, 5.0, 20.0, 80.0) if e < Y] + [Y]
    J = sum(quad(integrand, a, b, limit=200, epsabs=0.0, epsrel=1e-11)[0] for a, b in zip(edges[:-1], edges[1:]))
    log_ta = (2.0 - L) * log_u0 + np.log(J) + log_scale - np.log(sa)
    if Lf == 1:
        return L, Lf, log_ta, 1.0 - k, -np.inf
    if Lf == 2:
        log_lag = np.log(Y) - np.log(c) - (1 - Lf / L) * np.log(w_uni)
    else:
        log_lag = p * log_u0 - np.log(Lf - 2.0) - np.log(c) - (1 - Lf / L) * np.log(w_uni)
    return L, Lf, log_ta, 1.0 - k, log_lag


def fusion_time_ratio(depth, fusion_layer, sigma, sigma_yx, d_a, u0):
    """``t_B/t_A`` for a depth-``L`` network fused at layer ``L_f`` (Proposition ``thm-ch04-deep``).

    ``1 + (t_B − t_A)/t_A`` with the times of :func:`fusion_times`: 1 for early fusion
    (``L_f = 1``, no unimodal phase); increasing in ``L_f``; for ``L_f = L`` it tends to the
    two-layer ratio as ``u0 → 0``.

    Parameters
    ----------
    depth : int
        Number of weight layers ``L ≥ 2``.
    fusion_layer : int
        ``1 ≤ L_f ≤ L`` (1: early fusion, ``L``: late fusion).
    sigma, sigma_yx, d_a
        Statistics as in :func:`unimodal_solution` (scalar modalities: ``D = 2``, ``d_a = 1``).
    u0 : float
        Initial size of every branch factor, ``0 < u0 < 1``.

    Raises
    ------
    ValueError
        See :func:`fusion_times`.

    Notes
    -----
    Both times grow without bound as ``u0 → 0`` (``t_A ∝ u0^{2−L}``, the lag ``∝ u0^{2−L_f}`` or
    ``ln(1/u0)``), so the ratio is formed from their logarithms
    (``_log_fusion_times``): it is accurate for every ``u0`` down to the smallest positive
    float. For ``L_f = L ≥ 3`` it equals ``1 + (1 − k)Σ_yxA/(c_B(1 − u0^{L−2}))``, which tends
    to the two-layer ratio :func:`late_fusion_time_ratio`.
    """
    L, Lf, log_ta, one_minus_k, log_lag = _log_fusion_times(depth, fusion_layer, sigma, sigma_yx, d_a, u0)
    if Lf == 1:
        return 1.0
    with np.errstate(over="ignore"):
        ratio = 1.0 + one_minus_k * float(np.exp(log_lag - log_ta))
    return _v.finite_result("t_B/t_A", ratio, f"the ratio is ≈ e^{log_lag - log_ta + np.log(one_minus_k):.4g}")


def aligned_flow(t, depth, fusion_layer, sigma, sigma_yx, u0, tau=1.0, rtol=1e-10):
    """Exact flow on the aligned rank-one balanced manifold (Lemma ``thm-ch04-reduction``).

    With branch factors ``u_A, u_B`` and shared factors ``v = √(u_A² + u_B²)``,
    ``W_A = u_A^{L_f} v^{L−L_f}``, ``W_B = u_B^{L_f} v^{L−L_f}`` and

    .. math:: \\tau\\dot u_A = g_A\\,u_A^{L_f-1}v^{L-L_f},\\qquad
              \\tau\\dot u_B = g_B\\,u_B^{L_f-1}v^{L-L_f},\\qquad g = \\Sigma_{yx} - W\\Sigma,

    (for ``L_f = 1`` the factors are the two entries of the fusion row and ``u^{0} = 1``),
    integrated by ``solve_ivp`` from ``u_A = u_B = u0`` (all factors positive; the statistics are
    used as given, without the re-orientation of :func:`fusion_times`). Scalar modalities.

    rtol : float
        Relative tolerance of ``solve_ivp`` (DOP853; ``atol = 1e-14``).

    Returns
    -------
    W : ndarray (len(t), 2)
        ``(W_A(t), W_B(t))``.
    """
    S, s, _ = _stats(sigma, sigma_yx, 1)
    if S.shape[0] != 2:
        raise ValueError("aligned_flow is for scalar modalities (D = 2)")
    L = _v.integer("depth", depth, minimum=1)
    Lf = _v.integer("fusion_layer", fusion_layer)
    if L < 1 or not 1 <= Lf <= L:
        raise ValueError("need 1 ≤ fusion_layer ≤ depth")
    u0 = _v.positive_scalar("u0", u0)
    tau = _v.positive_scalar("tau", tau)
    rtol = _v.positive_scalar("rtol", rtol)
    t = _v.times("t", t, nondecreasing=True)
    if t.ndim != 1:
        raise ValueError(f"t must be 1-D; got shape {t.shape}")

    def W_of(u):
        v = np.hypot(u[0], u[1])
        return np.array([u[0] ** Lf, u[1] ** Lf]) * v ** (L - Lf), v

    def rhs(_t, u):
        W, v = W_of(u)
        g = s - S @ W
        return g * u ** (Lf - 1) * v ** (L - Lf) / tau

    t_eval, back = np.unique(t, return_inverse=True)  # solve_ivp needs strictly increasing times
    sol = solve_ivp(rhs, (0.0, float(t[-1])), np.array([u0, u0], float), t_eval=t_eval, method="DOP853", rtol=rtol, atol=1e-14)
    if not sol.success:
        raise ValueError(f"integration failed: {sol.message}")
    u = sol.y[:, back.ravel()]  # (2, T)
    return (u**Lf * np.hypot(u[0], u[1]) ** (L - Lf)).T
