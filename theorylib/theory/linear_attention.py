"""Closed forms for multi-head linear attention trained on in-context linear regression
(Chapter 5; Zhang, Singh, Latham & Saxe 2025).

Conventions (the paper's, which differ from the rest of the book):

* data: ``x_1 … x_N, x_q ~ N(0, Λ)`` i.i.d. in ``R^D``, task ``w ~ N(0, I_D)``, labels
  ``y_n = wᵀx_n``, no noise; ``β = (1/N) Σ_n y_n x_n`` and ``Λ̂ = (1/N) Σ_n x_n x_nᵀ``;
* every model predicts ``ŷ_q = βᵀ M x_q`` with ``M = Σ_i v_i U_i`` (merged) or
  ``M = Σ_i v_i Σ_r k_{ir} q_{ir}ᵀ`` (separate, rank ``R``);
* loss ``L = E(y_q − ŷ_q)²`` **without** ½, and gradient flow ``τ dθ/dt = −½ ∂L/∂θ``.

The book's other chapters use ``L_book = ½E(·)²`` with ``τ θ̇ = −∂L_book/∂θ``: the flows are the
same, every loss value here is twice the book-convention value.

Key objects: ``Γ = (1 + 1/N)Λ + (tr Λ/N) I`` with ``E[Λ̂²] = ΛΓ``; for an eigenvalue ``λ_d``
of Λ, ``c_d = 1 + (1 + tr Λ/λ_d)/N`` so that ``Γ e_d = λ_d c_d e_d``.

Every function is vectorised by numpy broadcasting where that makes sense and raises
``ValueError`` outside its domain. This module never imports :mod:`theorylib.sim`.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from . import _validate as _v
from ._validate import positive as _pos

__all__ = [
    "gamma",
    "gamma_expr",
    "c_factor",
    "population_loss",
    "population_loss_expr",
    "global_minimum",
    "minimum_loss",
    "fixed_point",
    "fixed_point_loss",
    "fixed_point_losses",
    "merged_sigma_expr",
    "merged_time_course",
    "merged_midpoint_time",
    "merged_escape_time",
    "head_fixed_point",
    "head_ode_rhs",
    "implicit_F",
    "implicit_F_expr",
    "head_time",
    "head_strength",
    "separate_drop_time",
    "unbalanced_rhs_expr",
    "unbalanced_drop_time",
    "U_MID",
    "visible_plateaus",
]

#: ``ξ = v/v*`` at which a head's loss drop is half complete: ``ξ³ = 1 − 1/√2``.
U_MID = float((1.0 - 1.0 / np.sqrt(2.0)) ** (1.0 / 3.0))


# --------------------------------------------------------------------------- helpers

def _context_length(N):
    N = np.asarray(N, dtype=float)
    if np.any(~np.isfinite(N)) or np.any(N < 1):
        raise ValueError("the context length N must be ≥ 1")
    return N


def _covariance(Lambda):
    L = np.asarray(Lambda, dtype=float)
    if L.ndim != 2 or L.shape[0] != L.shape[1]:
        raise ValueError(f"Lambda must be a square matrix; got shape {L.shape}")
    if not np.all(np.isfinite(L)):
        raise ValueError("Lambda has non-finite entries")
    if not np.allclose(L, L.T, atol=1e-12 * max(1.0, np.abs(L).max())):
        raise ValueError("Lambda must be symmetric")
    if np.linalg.eigvalsh(L).min() <= 0:
        raise ValueError("Lambda must be positive definite")
    return L


def _subset(subset, D):
    S = _v.integers("subset", list(subset))
    if S.ndim != 1:
        raise ValueError("subset must be a flat iterable of indices")
    S = sorted(set(int(d) for d in S))
    if S and (S[0] < 0 or S[-1] >= D):
        raise ValueError(f"subset indices must lie in 0 … {D - 1}")
    return S


def _spectrum(eigenvalues):
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError("eigenvalues must be a non-empty 1-D array")
    _pos("eigenvalues", lam)
    return np.sort(lam)[::-1]


# --------------------------------------------------------------------------- population statistics
def gamma(Lambda, N):
    """``Γ = (1 + 1/N) Λ + (tr Λ / N) I`` (Chapter 5, Proposition ``prop-ch05-loss``).

    ``E[Λ̂²] = ΛΓ`` for Gaussian tokens, by the fourth-moment identity
    ``E[x xᵀ A x xᵀ] = ΛAΛ + ΛAᵀΛ + tr(AΛ) Λ``.

    Parameters
    ----------
    Lambda : ndarray (D, D)
        Token covariance, symmetric positive definite.
    N : float
        Context length (number of labelled tokens), ``N ≥ 1``.

    Raises
    ------
    ValueError
        If Λ is not symmetric positive definite or ``N < 1``.
    """
    L = _covariance(Lambda)
    N = float(_context_length(N))
    return (1.0 + 1.0 / N) * L + np.trace(L) / N * np.eye(L.shape[0])


def gamma_expr(Lambda, N):
    """Sympy twin of :func:`gamma` for a sympy matrix ``Lambda`` and symbol ``N``."""
    Lambda = sp.Matrix(Lambda)
    return (1 + sp.Integer(1) / N) * Lambda + Lambda.trace() / N * sp.eye(Lambda.shape[0])


def c_factor(eigenvalue, trace, N):
    """Finite-context factor ``c = 1 + (1 + tr Λ / λ)/N`` of one eigen-direction (``Γe = λ c e``).

    Raises
    ------
    ValueError
        Unless ``λ > 0``, ``tr Λ ≥ λ`` and ``N ≥ 1``.
    """
    lam = _pos("eigenvalue", eigenvalue)
    tr = _pos("trace", trace)
    N = _context_length(N)
    _v.broadcastable(eigenvalue=lam, trace=tr, N=N)
    if np.any(tr < lam * (1 - 1e-12)):
        raise ValueError("trace must be at least the eigenvalue")
    return 1.0 + (1.0 + tr / lam) / N


def population_loss(M, Lambda, N):
    """Population loss of ``ŷ = βᵀ M x_q`` (Chapter 5, Proposition ``prop-ch05-loss``).

    .. math:: L(M) = \\operatorname{tr}Λ - 2\\operatorname{tr}(MΛ^2)
              + \\operatorname{tr}(M Λ M^⊤ ΛΓ)

    (no ½). Vectorised over leading axes of ``M``.

    Parameters
    ----------
    M : ndarray (..., D, D)
    Lambda : ndarray (D, D)
    N : float

    Returns
    -------
    ndarray (...)
    """
    L = _covariance(Lambda)
    M = _v.finite("M", M)
    if M.ndim < 2 or M.shape[-2:] != L.shape:
        raise ValueError(f"M must end in shape {L.shape}; got {M.shape}")
    LG = L @ gamma(L, N)
    L2 = L @ L
    return (
        np.trace(L)
        - 2.0 * np.einsum("...ab,ba->...", M, L2)
        + np.einsum("...ab,bc,...dc,da->...", M, L, M, LG)
    )


def population_loss_expr(M, Lambda, N):
    """Sympy twin of :func:`population_loss` for sympy matrices ``M``, ``Lambda`` and symbol ``N``."""
    M, Lambda = sp.Matrix(M), sp.Matrix(Lambda)
    G = gamma_expr(Lambda, N)
    return Lambda.trace() - 2 * (M * Lambda**2).trace() + (M * Lambda * M.T * Lambda * G).trace()


def global_minimum(Lambda, N):
    """Global minimiser ``M* = Γ⁻¹`` of :func:`population_loss` (Theorem ``thm-ch05-global``; paper eq. 11).

    ``ŷ = βᵀ Γ⁻¹ x_q``; as ``N → ∞``, ``Γ⁻¹ → Λ⁻¹`` (in-context least squares).

    Raises
    ------
    ValueError
        If Λ is not symmetric positive definite or ``N < 1``.
    """
    return np.linalg.inv(gamma(Lambda, N))


def minimum_loss(Lambda, N):
    """``L* = tr Λ − tr(Λ² Γ⁻¹) = Σ_d λ_d (1 − 1/c_d)`` (Theorem ``thm-ch05-global``)."""
    L = _covariance(Lambda)
    return float(np.trace(L) - np.trace(L @ L @ global_minimum(L, N)))


# --------------------------------------------------------------------------- fixed points (function space)
def fixed_point(Lambda, N, subset):
    """Function-space fixed point ``M(S) = Σ_{d∈S} (λ_d c_d)⁻¹ e_d e_dᵀ`` (condition C1).

    Parameters
    ----------
    Lambda : ndarray (D, D)
    N : float
    subset : iterable of int
        Indices ``d`` (0-based) into the eigenvalues sorted in *descending* order.

    Raises
    ------
    ValueError
        On bad Λ, N, or indices outside ``0 … D−1``.
    """
    L = _covariance(Lambda)
    lam, E = np.linalg.eigh(L)
    order = np.argsort(lam)[::-1]
    lam, E = lam[order], E[:, order]
    S = _subset(subset, len(lam))
    c = c_factor(lam, lam.sum(), N)
    M = np.zeros_like(L)
    for d in S:
        M += np.outer(E[:, d], E[:, d]) / (lam[d] * c[d])
    return M


def fixed_point_loss(eigenvalues, N, subset):
    """Loss at ``M(S)``: ``tr Λ − Σ_{d∈S} λ_d / c_d`` (Theorem ``thm-ch05-fixed``; paper eq. 19).

    ``subset`` indexes the eigenvalues sorted in descending order (0-based).
    """
    lam = _spectrum(eigenvalues)
    N = float(_context_length(N))
    S = _subset(subset, len(lam))
    c = c_factor(lam, lam.sum(), N)
    return float(lam.sum() - sum(lam[d] / c[d] for d in S))


def fixed_point_losses(eigenvalues, N):
    """Losses ``L(M_0), …, L(M_D)`` of the fixed points on the saddle-to-saddle path.

    .. math:: L(M_m) = \\operatorname{tr}Λ - \\sum_{d=1}^{m} \\frac{λ_d}{1 + (1 + \\operatorname{tr}Λ/λ_d)/N}

    with ``λ_1 ≥ … ≥ λ_D`` (sorted internally). ``L(M_0) = tr Λ``; ``L(M_D)`` is the global
    minimum. Chapter 5, Theorem ``thm-ch05-fixed`` (paper eq. 19).

    Parameters
    ----------
    eigenvalues : array_like (D,)
        Eigenvalues of Λ, positive.
    N : float
        Context length ``≥ 1``.

    Returns
    -------
    ndarray (D + 1,)

    Raises
    ------
    ValueError
        On non-positive eigenvalues or ``N < 1``.
    """
    lam = _spectrum(eigenvalues)
    N = float(_context_length(N))
    drops = lam / c_factor(lam, lam.sum(), N)
    return lam.sum() - np.concatenate([[0.0], np.cumsum(drops)])


def visible_plateaus(D, R):
    """Fixed points ``M_m`` that show as conspicuous plateaus for rank-``R`` heads: ``m`` a
    multiple of ``R`` below ``D`` (paper Section 5; the last, ``M_D``, is the final loss).

    Raises
    ------
    ValueError
        Unless ``D ≥ 1`` and ``1 ≤ R``.
    """
    if not (np.isfinite(D) and np.isfinite(R)) or int(D) != D or int(R) != R or D < 1 or R < 1:
        raise ValueError("D and R must be positive integers")
    return [m for m in range(int(D)) if m % int(R) == 0]


# --------------------------------------------------------------------------- merged model
def merged_sigma_expr():
    """Sympy form of the merged model's scale ``σ(t)`` for ``Λ = λI`` (paper eq. 10, generalised).

    .. math::

       σ(t) = \\frac{E(t)}{λ s (E(t) - 1) + \\sqrt{D}/w_0^2},

       E(t) = e^{2λ^2\\sqrt{D}\\,t/τ},\\qquad s = 1 + \\frac{1 + D}{N}.

    Returns
    -------
    expr : sympy.Expr
    symbols : tuple ``(t, D, N, w0, lam, tau)``
    """
    t, D, N, w0, lam, tau = sp.symbols("t D N w_0 lambda tau", positive=True)
    s = 1 + (1 + D) / N
    E = sp.exp(2 * lam**2 * sp.sqrt(D) * t / tau)
    return E / (lam * s * (E - 1) + sp.sqrt(D) / w0**2), (t, D, N, w0, lam, tau)


def _merged_args(D, N, w_init, lam, tau):
    try:
        D = _v.integer("D", D, minimum=1)
    except ValueError:
        raise ValueError(f"D must be a positive integer; got {D!r}") from None
    N = float(_context_length(N))
    w0 = float(_pos("w_init", w_init))
    lam = float(_pos("lam", lam))
    tau = float(_pos("tau", tau))
    return float(D), N, w0, lam, tau


def merged_time_course(t, D, N, w_init, lam=1.0, tau=1.0):
    """Scale ``σ(t)`` and loss ``L(t)`` of merged linear attention (Theorem ``thm-ch05-merged-time``).

    For ``Λ = λI`` and aligned, balanced initialisation with layer norms ``‖w_2‖ = ‖W_1‖_F = w_init``
    the prediction is ``ŷ = σ(t) βᵀx_q`` with

    .. math::

       σ(t) = \\frac{E(t)}{λ s (E(t) - 1) + \\sqrt{D}/w_{init}^2},\\qquad
       L(t) = Dλ(1 - 2λσ + λ^2 s σ^2),

       E(t) = e^{2λ^2\\sqrt{D}\\,t/τ},\\qquad s = 1 + \\frac{1 + D}{N}.

    Paper eq. (10) is ``λ = 1``. Evaluated without overflow.

    Parameters
    ----------
    t : array_like
        Times (≥ 0 not required).
    D : int
        Token dimension.
    N : float
        Context length.
    w_init : float
        Layer norm at initialisation, > 0.
    lam : float
        ``Λ = lam · I``, > 0.
    tau : float
        Time constant, > 0.

    Returns
    -------
    sigma, loss : ndarray
        Same shape as ``t``.

    Raises
    ------
    ValueError
        On non-positive ``D, N-1, w_init, lam, tau``.
    """
    D, N, w0, lam, tau = _merged_args(D, N, w_init, lam, tau)
    s = 1.0 + (1.0 + D) / N
    t = _v.finite("t", t)
    with np.errstate(over="ignore"):
        em = np.exp(-2.0 * lam**2 * np.sqrt(D) * t / tau)
        # λs(1 − E⁻¹) + (√D/w²)E⁻¹ written so that E⁻¹ = inf (t ≪ 0) gives σ = 0, not inf − inf
        coef = np.sqrt(D) / w0**2 - lam * s
        # the zeros_like keeps σ an array shaped like t at the balanced start (coef = 0)
        sigma = 1.0 / (lam * s + (coef * em if coef != 0 else np.zeros_like(em)))
    loss = D * lam * (1.0 - 2.0 * lam * sigma + lam**2 * s * sigma**2)
    return sigma, loss


def merged_midpoint_time(D, N, w_init, lam=1.0, tau=1.0):
    """Time at which the merged model's loss is halfway between ``L(0⁺)`` and ``L(∞)``.

    Halfway means ``λ s σ = 1 − 1/√2 = μ``; solving σ(t) gives

    .. math:: t_{mid} = \\frac{τ}{2λ^2\\sqrt D}\\ln\\frac{μ(\\sqrt D/w^2 - λ s)}{λ s (1 - μ)} .

    (Halfway between ``Dλ`` and the final loss; the loss at ``t = 0`` is ``Dλ`` up to ``O(w²)``.)

    Raises
    ------
    ValueError
        If the initial σ is already past the midpoint (``w_init`` too large).
    """
    D, N, w0, lam, tau = _merged_args(D, N, w_init, lam, tau)
    s = 1.0 + (1.0 + D) / N
    mu = 1.0 - 1.0 / np.sqrt(2.0)
    if w0**2 / np.sqrt(D) * lam * s >= mu:
        raise ValueError("w_init is too large: the loss starts past the midpoint of its drop")
    return _v.finite_result("the midpoint time", tau / (2 * lam**2 * np.sqrt(D)) * np.log(mu * (np.sqrt(D) / w0**2 - lam * s) / (lam * s * (1 - mu))),
                            "λ, w_init or τ too extreme")


def merged_escape_time(Lambda, w_init, tau=1.0):
    """Leading-order escape time of merged attention from small init (Remark ``rem-ch05-escape``;
    paper App. D.6.1).

    .. math:: t_{esc} = \\frac{τ}{\\lVert Λ^2 \\rVert_F}\\ln\\frac{1}{w_{init}}

    From a balanced start of layer norms ``w_init`` aligned with ``Σ_yz``, linearised at the
    origin, the end-to-end map grows like ``w² e^{2‖Σ_yz‖t/τ}`` with
    ``‖Σ_yz‖ = ‖Λ²‖_F``; ``t_esc`` is when it reaches ``O(1)``. The true midpoint time is
    ``t_esc + O(τ/‖Λ²‖_F)`` with an offset that does not depend on ``w_init`` as ``w_init → 0``.

    Raises
    ------
    ValueError
        If Λ is not symmetric positive definite, or ``w_init`` is not in (0, 1).
    """
    L = _covariance(Lambda)
    w0 = float(_pos("w_init", w_init))
    if w0 >= 1:
        raise ValueError("the escape-time estimate needs a small initialisation, w_init < 1")
    return float(_pos("tau", tau)) / np.linalg.norm(L @ L) * np.log(1.0 / w0)


# --------------------------------------------------------------------------- separate model, one head
def head_fixed_point(eigenvalue, trace, N):
    """Strength ``v* = (λ c)^{-1/3}`` a head reaches on eigen-direction ``λ`` (``v*³ = 1/(λc)``)."""
    return (np.asarray(_pos("eigenvalue", eigenvalue)) * c_factor(eigenvalue, trace, N)) ** (-1.0 / 3.0)


def head_ode_rhs(v, eigenvalue, trace, N):
    """``τ v̇ = λ² v² − λ³ c v⁵`` for the head being learned (Theorem ``thm-ch05-head``; paper eq. 21)."""
    lam = _pos("eigenvalue", eigenvalue)
    c = c_factor(eigenvalue, trace, N)
    v = _v.finite("v", v)
    return lam**2 * v**2 - lam**3 * c * v**5


def implicit_F_expr():
    """Sympy form of ``F(ξ) = −1/ξ + ⅙ ln[(ξ²+ξ+1)/(1−ξ)²] − (1/√3) arctan((2ξ+1)/√3)``,
    an antiderivative of ``1/(ξ²(1−ξ³))`` on ``0 < ξ < 1``, where ``ξ = v/v*``
    (Theorem ``thm-ch05-head``).

    Returns
    -------
    expr : sympy.Expr
    xi : sympy.Symbol
        The positive symbol ``ξ`` (named ``xi``).
    """
    xi = sp.symbols("xi", positive=True)
    F = -1 / xi + sp.log((xi**2 + xi + 1) / (1 - xi) ** 2) / 6 - sp.atan((2 * xi + 1) / sp.sqrt(3)) / sp.sqrt(3)
    return F, xi


def implicit_F(u):
    """Numeric :func:`implicit_F_expr` at ``u = ξ = v/v*``, for ``0 < u < 1`` (ValueError otherwise)."""
    u = np.asarray(u, dtype=float)
    if np.any(~np.isfinite(u)) or np.any(u <= 0) or np.any(u >= 1):
        raise ValueError("F(u) is defined for 0 < u < 1 (u = v/v* below the fixed point)")
    return (
        -1.0 / u
        + np.log((u**2 + u + 1) / (1 - u) ** 2) / 6.0
        - np.arctan((2 * u + 1) / np.sqrt(3.0)) / np.sqrt(3.0)
    )


def head_time(v, v0, eigenvalue, trace, N, tau=1.0):
    """Time for a head on eigen-direction ``λ`` to grow from ``v0`` to ``v`` (implicit solution of eq. 21).

    .. math:: \\frac{t}{τ} = \\frac{F(v/v^*) - F(v_0/v^*)}{λ^2 v^*},\\qquad v^* = (λc)^{-1/3}

    Raises
    ------
    ValueError
        Unless ``0 < v0 ≤ v < v*``.
    """
    vs = head_fixed_point(eigenvalue, trace, N)
    lam = _pos("eigenvalue", eigenvalue)
    v = _pos("v", v)
    v0 = _pos("v0", v0)
    if np.any(v < v0) or np.any(v >= vs):
        raise ValueError("need v0 ≤ v < v* = (λc)^(-1/3)")
    return _v.finite_result("the head time", float(_pos("tau", tau)) * (implicit_F(v / vs) - implicit_F(v0 / vs)) / (lam**2 * vs),
                            "the eigenvalue, v0 or τ too extreme")


def head_strength(t, v0, eigenvalue, trace, N, tau=1.0):
    """``v(t)`` solving ``τ v̇ = λ²v² − λ³c v⁵``, ``v(0) = v0`` (inverts :func:`head_time` by bisection).

    Parameters
    ----------
    t : array_like
        Times ``≥ 0``.
    v0 : float
        Initial strength, ``0 < v0 < v*``.

    Returns
    -------
    ndarray, the shape of ``t``; accurate to ~1e-13 relative.
    """
    t = np.asarray(t, dtype=float)
    if np.any(t < 0) or not np.all(np.isfinite(t)):
        raise ValueError("times must be finite and non-negative")
    vs = float(head_fixed_point(eigenvalue, trace, N))
    lam = float(_pos("eigenvalue", eigenvalue))
    v0 = float(_pos("v0", v0))
    if v0 >= vs:
        raise ValueError("need v0 < v* = (λc)^(-1/3)")
    tau = float(_pos("tau", tau))
    u0 = v0 / vs
    target = implicit_F(u0) + t * lam**2 * vs / tau  # F(u(t)); F increases from -inf to +inf on (0,1)
    lo = np.full(t.shape, u0)
    hi = np.ones(t.shape)
    for _ in range(1200):  # enough to reach a relative width 1e-15 even from a subnormal u0
        mid = 0.5 * (lo + hi)
        if np.all(hi - lo < 1e-15 * lo):  # relative: u(t) ≪ 1 for a small v0
            break
        # F at the midpoint itself (a clip at 1e-300 froze the bisection for u(t) below it)
        up = implicit_F(np.clip(mid, np.finfo(float).smallest_subnormal, 1 - 1e-16)) < target
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    return vs * 0.5 * (lo + hi)


def separate_drop_time(eigenvalue, trace, N, v0, tau=1.0):
    """Time at which a head's loss drop on eigen-direction ``λ`` is half complete (Theorem ``thm-ch05-head``).

    The head is aligned (``k = q = v e``, ``v = ‖k‖ = ‖q‖``) and starts at ``v0``; halfway means
    ``v³ = (1 − 1/√2) v*³``, i.e. ``ξ = v/v* = U_MID ≈ 0.664``:

    .. math:: t_{1/2} = τ\\,\\frac{F(U_{MID}) - F(v_0/v^*)}{λ^2 v^*} = \\frac{τ}{λ^2 v_0} + O(τ/λ^{5/3}).

    Parameters
    ----------
    eigenvalue : float
        ``λ`` of the direction, > 0.
    trace : float
        ``tr Λ ≥ λ``.
    N : float
        Context length ≥ 1.
    v0 : float
        Initial scale, ``0 < v0 < U_MID v*``.
    tau : float

    Raises
    ------
    ValueError
        On bad arguments, or if the head starts past the midpoint.
    """
    vs = head_fixed_point(eigenvalue, trace, N)
    v0 = _pos("v0", v0)
    if np.any(v0 >= U_MID * vs):
        raise ValueError("v0 must be below the midpoint strength U_MID·v*")
    return head_time(U_MID * vs, v0, eigenvalue, trace, N, tau)


# --------------------------------------------------------------------------- separate model, unbalanced head
def unbalanced_rhs_expr(v, delta, lam, tr, N):
    """Sympy right-hand side of ``τ v̇ = (v² − δ)(λ² − λ³c v(v² − δ))`` for an aligned head with
    ``k = q = κ e`` and its own value ``v``, where ``δ = v² − κ²`` is conserved
    (Proposition ``thm-ch05-unbalanced``); ``c = 1 + (1 + tr/λ)/N``. At ``δ = 0`` it is the head
    equation of :func:`head_ode_rhs`.

    Parameters
    ----------
    v, delta, lam, tr, N : sympy expressions (or numbers)
        The value, the conserved imbalance, the eigenvalue, ``tr Λ`` and the context length.

    Returns
    -------
    sympy.Expr
    """
    kap2 = v**2 - delta
    return kap2 * (lam**2 - lam**3 * (1 + (1 + tr / lam) / N) * v * kap2)


def unbalanced_drop_time(lam, tr, N, v0, kappa0, tau=1.0):
    """Midpoint time of the loss drop of an aligned head started at ``(v, κ) = (v0, κ0)``
    (Proposition ``thm-ch05-unbalanced``).

    With ``δ = v0² − κ0²`` conserved the head obeys ``τ v̇ = (v² − δ)(λ² − λ³c v(v² − δ))``; the
    drop is half complete when ``vκ² = v(v² − δ) = (1 − 1/√2)/(λc)``. The time is the quadrature
    of ``dt = τ dv / ((v² − δ)(λ² − λ³c v(v² − δ)))`` from ``v0`` to that point. For ``v0 = κ0``
    it equals :func:`separate_drop_time`.

    Parameters
    ----------
    lam : float
        Eigenvalue ``λ`` of the head's direction, > 0.
    tr : float
        ``tr Λ ≥ λ``.
    N : float
        Context length ≥ 1.
    v0, kappa0 : float
        Initial value and key/query norm, > 0, with ``v0 κ0²`` below the midpoint.
    tau : float
        Time constant, > 0.

    Raises
    ------
    ValueError
        On bad arguments, or if the head starts at or past the midpoint of its drop.
    """
    from scipy.integrate import quad
    from scipy.optimize import brentq

    lam = float(_pos("lam", lam))
    c = float(c_factor(lam, tr, N))
    v0 = float(_pos("v0", v0))
    kappa0 = float(_pos("kappa0", kappa0))
    tau = float(_pos("tau", tau))
    # Everything in logs, over σ = ln κ² (κ² = v² − δ grows monotonically from κ0²): with
    # v = v0 ν, ν² = 1 + (κ² − κ0²)/v0², and q = λc v κ²,
    #     t = τ/(λ² v0) ∫ dσ / (2ν (1 − q)),   σ from ln κ0² to the midpoint q = 1 − 1/√2.
    # v² − δ is never formed (it cancels for κ0 ≪ v0: 1e-2 off at κ0 = 1e-8 v0, and false
    # errors below), λ³ is never formed (it overflows above λ ≈ 5.6e102), nor 1/v² (v0 ≲ 1e-154).
    log_lc, log_v0 = np.log(lam) + np.log(c), np.log(v0)
    s0, lv2 = 2.0 * np.log(kappa0), 2.0 * log_v0
    log_mid = np.log(1 - 1 / np.sqrt(2))
    with np.errstate(over="ignore", under="ignore"):
        prod, target = v0 * kappa0**2, (1 - 1 / np.sqrt(2)) / (lam * c)
    tiny = np.finfo(float).tiny
    if np.isfinite(prod) and prod >= tiny and np.isfinite(target) and target >= tiny:
        started_past = not prod < target  # exact where the products are representable
    else:
        started_past = not log_lc + log_v0 + s0 < log_mid
    if started_past:
        raise ValueError("the head starts at or past the midpoint of its drop: need v0·κ0² < (1 − 1/√2)/(λc)")

    # the variable is x = σ − σ0 ≥ 0 itself, never σ0 + x: near σ0 the integrand changes on a
    # scale (v0/κ0)² that σ0 + x could not resolve
    a0 = s0 - lv2  # ln(κ0²/v0²)

    def log_nu(x):  # ln ν = ½ ln(1 + (κ0/v0)² e^x (1 − e^{−x})), without overflow
        z = a0 + x + np.log(-np.expm1(-x)) if x > 0 else -np.inf
        return 0.5 * np.logaddexp(0.0, z)

    base = log_lc + log_v0 + s0  # ln q at x = 0, below log_mid
    G = lambda x: base + log_nu(x) + x - log_mid  # increasing; G(0) < 0
    x_up = log_mid - base  # G(x_up) = ln ν ≥ 0, since ν ≥ 1
    if G(0.0) >= 0:  # v0 κ0² within rounding of the midpoint
        x_mid = 0.0
    elif G(x_up) == 0:
        x_mid = x_up
    else:
        x_mid = brentq(G, 0.0, x_up, xtol=1e-300, rtol=4 * np.finfo(float).eps)

    def integrand(x):
        ln_nu = log_nu(x)
        return np.exp(-ln_nu) / (2.0 * (1.0 - np.exp(base + ln_nu + x)))

    # pieces of width ≤ 4 so that quad sees the change of scale near σ = ln v0², and for κ0 > v0
    # (ν rises like √(1 + (κ0/v0)² x) near x = 0) decades down to (v0/κ0)²
    n = max(1, int(np.ceil(x_mid / 4.0)))
    edges = np.linspace(0.0, x_mid, n + 1)
    if a0 > 0:
        k_max = min(330, int(np.ceil(a0 / np.log(10.0))) + 2)
        edges = np.concatenate([[0.0], edges[1] * 10.0 ** -np.arange(k_max, 0, -1), edges[1:]])
    integral = sum(quad(integrand, a, b, epsabs=0, epsrel=1e-13, limit=200)[0] for a, b in zip(edges[:-1], edges[1:]))
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        val = ((tau / lam) / lam) * (integral / v0)
        if not (np.isfinite(val) and val >= np.finfo(float).tiny):  # a factor over- or underflowed
            val = np.exp(np.log(tau) - 2.0 * np.log(lam) - log_v0 + np.log(integral))
    return _v.finite_result("the drop time", val, "λ, v0, κ0 or τ too extreme")
