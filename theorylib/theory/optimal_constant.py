"""Closed forms for the optimal constant solution (Chapter 6; Rubruck, Bauer, Saxe & Summerfield 2024).

Book conventions: items ``Y`` are the rows of a ``(P, N_out)`` array (one target per item),
the loss is ``L = ½E‖y − ŷ‖²``, gradient flow ``τ dθ/dt = −∂L/∂θ``. The network with biases is
``ŷ = W₂(W₁x + b₁) + b₂``; ``m = W₂b₁ + b₂`` is its output at ``x = 0`` and ``r = ȳ − m`` the
residual of the mean output.

The mode dynamics reuse Chapter 1 (:mod:`theorylib.theory.deep_linear`). Every function raises
``ValueError`` naming the argument on bad input (NaN, wrong shape, negative τ). This module never
imports :mod:`theorylib.sim`.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from . import deep_linear as _dl
from ._validate import positive as _pos

__all__ = [
    "ocs",
    "ocs_loss",
    "ocs_cross_entropy",
    "ocs_cross_entropy_loss",
    "bias_trajectory",
    "bias_trajectory_expr",
    "ocs_first_u0_bound",
    "residual_rate",
    "hidden_bias_mode_strength",
    "ocs_mode_strength",
    "ocs_learned_first",
    "mean_output_trajectory",
    "rates",
    "ocs_rates",
    "decoupled_outputs",
    "output_bias_loss",
]

_TIE_RTOL = 1e-9  # relative gap below which two singular values count as tied


def _finite_array(name, x, ndim=None):
    try:
        x = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array") from err
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} has non-finite entries")
    return x


def _labels(Y, name="Y"):
    Y = _finite_array(name, Y, ndim=2)
    if Y.shape[0] < 1 or Y.shape[1] < 1:
        raise ValueError(f"{name} must have at least one item (row) and one output (column); got {Y.shape}")
    return Y


def ocs(Y):
    """Optimal constant solution of the squared loss: the mean target.

    .. math:: c^\\star = \\arg\\min_c \\tfrac12\\mathbb{E}\\lVert y - c\\rVert^2 = \\bar y .

    Chapter 6, Theorem ``thm-ch06-ocs``.

    Parameters
    ----------
    Y : array_like (P, N_out)
        Targets, one item per row.

    Returns
    -------
    ndarray (N_out,)
        ``ȳ = (1/P) Σ_μ y_μ``.

    Raises
    ------
    ValueError
        If ``Y`` is not a finite 2-D array with at least one row and column.
    """
    return _labels(Y).mean(axis=0)


def ocs_loss(Y):
    """Loss on the OCS plateau: ``½ (1/P) Σ_μ ‖y_μ − ȳ‖² = ½ tr C_yy`` (``C_yy = Σ_yy − ȳȳᵀ``).

    Chapter 6, Theorem ``thm-ch06-ocs``.

    Parameters
    ----------
    Y : array_like (P, N_out)
        Targets, one item per row.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``Y`` is not a finite 2-D array with at least one row and column.
    """
    Y = _labels(Y)
    return float(0.5 * np.mean(np.sum((Y - Y.mean(axis=0)) ** 2, axis=1)))


def _distributions(Y):
    Y = _labels(Y)
    if np.any(Y < 0) or not np.allclose(Y.sum(axis=1), 1.0, rtol=0, atol=1e-12):
        raise ValueError("Y must hold probability vectors (non-negative rows summing to 1)")
    return Y


def ocs_cross_entropy(Y):
    """OCS of the softmax cross-entropy: the label marginal ``π = ȳ``.

    Minimising ``−E[Σ_j y_j log p_j]`` over constant ``p = softmax(z)`` gives
    ``softmax(z) = ȳ`` (the gradient in ``z`` is ``softmax(z) − ȳ``). Chapter 6,
    Theorem ``thm-ch06-ocs``.

    Parameters
    ----------
    Y : array_like (P, K)
        One-hot labels or class probabilities, one item per row.

    Returns
    -------
    ndarray (K,)
        The label marginal.

    Raises
    ------
    ValueError
        If ``Y`` is not finite and 2-D, or its rows are not probability vectors.
    """
    return _distributions(Y).mean(axis=0)


def ocs_cross_entropy_loss(Y):
    """Cross-entropy on the OCS plateau: the entropy ``H(π) = −Σ_j π_j ln π_j`` (nats).

    Chapter 6, Theorem ``thm-ch06-ocs``.

    Parameters
    ----------
    Y : array_like (P, K)
        One-hot labels or class probabilities.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        As :func:`ocs_cross_entropy`.
    """
    pi = ocs_cross_entropy(Y)
    nz = pi > 0
    return float(-np.sum(pi[nz] * np.log(pi[nz])))


def bias_trajectory_expr():
    """Sympy form ``b₂(t) = ȳ + (b₂(0) − ȳ) e^{−t/τ}`` (one output unit).

    Returns
    -------
    expr : sympy.Expr
    symbols : tuple ``(t, ybar, b0, tau)``
    """
    t, tau = sp.symbols("t tau", positive=True)
    ybar, b0 = sp.symbols("ybar b_0", real=True)
    return ybar + (b0 - ybar) * sp.exp(-t / tau), (t, ybar, b0, tau)


def bias_trajectory(t, ybar, b0, tau=1.0):
    """Output bias of a linear network on centred inputs (Chapter 6, Theorem ``thm-ch06-decouple``).

    .. math:: b_2(t) = \\bar y + \\big(b_2(0) - \\bar y\\big)\\,e^{-t/\\tau},

    the solution of ``τ ḃ₂ = ȳ − b₂``, which holds exactly when ``E[x] = 0`` and there is no
    hidden bias, whatever the weights do.

    Parameters
    ----------
    t : array_like (T,) or scalar
        Times ``t ≥ 0``.
    ybar : array_like (N_out,) or scalar
        Mean target ``ȳ``.
    b0 : array_like, broadcastable to ``ybar``
        Initial bias ``b₂(0)``.
    tau : float
        Time constant, > 0.

    Returns
    -------
    ndarray
        Shape ``t.shape + ybar.shape``.

    Raises
    ------
    ValueError
        If any argument is non-finite, ``b0`` does not broadcast to ``ybar``, ``t`` is negative
        or ``tau`` is not positive.
    """
    t = _finite_array("t", t)
    ybar = _finite_array("ybar", ybar)
    b0 = _finite_array("b0", b0)
    tau = _pos("tau", tau)
    if tau.ndim:
        raise ValueError("tau must be a scalar")
    if np.any(t < 0):
        raise ValueError("t must be non-negative")
    try:
        b0 = np.broadcast_to(b0, ybar.shape)
    except ValueError as err:
        raise ValueError(f"b0 of shape {b0.shape} does not broadcast to ybar of shape {ybar.shape}") from err
    decay = np.exp(-t / float(tau)).reshape(t.shape + (1,) * ybar.ndim)
    return ybar + (b0 - ybar) * decay


def ocs_first_u0_bound(s):
    """Largest initial mode strength for which the OCS is half-learned before mode ``s``.

    The output bias reaches half of ``ȳ`` (from ``b₂(0) = 0``) at ``τ ln 2``; a balanced mode
    reaches ``s/2`` at ``(τ/2s) ln(s/u₀ − 1)`` (Chapter 1). The OCS comes first iff

    .. math:: u_0 < \\frac{s}{1 + 4^{s}} .

    Chapter 6, Corollary ``thm-ch06-first``.

    Parameters
    ----------
    s : array_like
        Singular value(s) ``s > 0``.

    Returns
    -------
    ndarray
        ``s / (1 + 4**s)``.

    Raises
    ------
    ValueError
        If ``s`` is not positive and finite.
    """
    s = _pos("s", s)
    return s / (1.0 + 4.0**s)


def residual_rate(r, W1, W2, b1, sigma_yx, sigma_xx):
    """Right-hand side ``τ ṙ`` of the residual ``r = ȳ − m`` with both biases, centred inputs.

    .. math::
        \\tau\\dot r = -(1 + \\lVert b_1\\rVert^2)\\,r - W_2W_2^\\top r
                      - (\\Sigma_{yx} - W_2W_1\\Sigma_{xx})\\,W_1^\\top b_1 .

    Chapter 6, Proposition ``thm-ch06-residual``.

    Parameters
    ----------
    r : array_like (N_out,)
    W1 : array_like (N_h, N_in)
    W2 : array_like (N_out, N_h)
    b1 : array_like (N_h,)
    sigma_yx : array_like (N_out, N_in)
    sigma_xx : array_like (N_in, N_in)

    Returns
    -------
    ndarray (N_out,)

    Raises
    ------
    ValueError
        On non-finite entries or inconsistent shapes (the message names the argument).
    """
    r = _finite_array("r", r, 1)
    W1 = _finite_array("W1", W1, 2)
    W2 = _finite_array("W2", W2, 2)
    b1 = _finite_array("b1", b1, 1)
    Syx = _finite_array("sigma_yx", sigma_yx, 2)
    Sxx = _finite_array("sigma_xx", sigma_xx, 2)
    n_h, n_in = W1.shape
    n_out = W2.shape[0]
    for name, arr, shape in [("W2", W2, (n_out, n_h)), ("b1", b1, (n_h,)), ("r", r, (n_out,)),
                             ("sigma_yx", Syx, (n_out, n_in)), ("sigma_xx", Sxx, (n_in, n_in))]:
        if arr.shape != shape:
            raise ValueError(f"{name} has shape {arr.shape}; expected {shape}")
    R = Syx - W2 @ W1 @ Sxx
    return -(1.0 + b1 @ b1) * r - W2 @ (W2.T @ r) - R @ (W1.T @ b1)


def hidden_bias_mode_strength(sigma_yx, ybar, rtol=1e-10):
    """Singular value of the OCS mode when the hidden bias is a constant input unit.

    With ``x̃ = [x; 1]``, centred whitened ``x`` gives ``Σ̃_xx = I`` and ``Σ̃_yx = [Σ_yx | ȳ]``.
    If ``Σ_yxᵀ ȳ = 0`` then ``(ȳ/‖ȳ‖, e_c)`` is a singular pair of ``Σ̃_yx`` with

    .. math:: s_0 = \\lVert \\bar y\\rVert .

    Chapter 6, Theorem ``thm-ch06-hidden-bias``.

    Parameters
    ----------
    sigma_yx : array_like (N_out, N_in)
    ybar : array_like (N_out,)
    rtol : float
        Tolerance of the orthogonality test ``‖Σ_yxᵀȳ‖ ≤ rtol ‖Σ_yx‖ ‖ȳ‖``.

    Returns
    -------
    float
        ``‖ȳ‖``.

    Raises
    ------
    ValueError
        On bad shapes or non-finite entries, if ``ȳ = 0``, or if ``ȳ`` is not orthogonal to the
        columns of ``Σ_yx`` (then the OCS mixes with the input-driven modes).
    """
    Syx = _finite_array("sigma_yx", sigma_yx, 2)
    ybar = _finite_array("ybar", ybar, 1)
    if Syx.shape[0] != ybar.shape[0]:
        raise ValueError(f"sigma_yx has {Syx.shape[0]} rows but ybar has {ybar.shape[0]} entries")
    norm = float(np.linalg.norm(ybar))
    if norm == 0:
        raise ValueError("ybar is zero: there is no OCS mode")
    if np.linalg.norm(Syx.T @ ybar) > rtol * max(np.linalg.norm(Syx), 1.0) * norm:
        raise ValueError("ybar is not orthogonal to the columns of sigma_yx: the OCS is not a separate mode")
    return norm


def _ocs_mode(Y):
    Y = _labels(Y)
    ybar = Y.mean(axis=0)
    n2 = float(ybar @ ybar)
    if n2 == 0:
        raise ValueError("Y has zero mean: there is no OCS mode")
    overlap = Y @ ybar  # y_μ·ȳ for every item; constant (= ‖ȳ‖²) iff ȳ is an OCS singular direction
    if np.max(np.abs(overlap - n2)) > 1e-10 * max(1.0, np.abs(Y).max() * np.sqrt(n2)):
        raise ValueError("ybar is not a singular direction of Y with a constant item profile: "
                         "items differ in their overlap y·ȳ (an unbalanced hierarchy)")
    return Y, ybar, float(np.sqrt(Y.shape[0] * n2))


def ocs_mode_strength(Y):
    """Singular value of the label matrix along the OCS direction (one-hot inputs, no biases).

    Write ``Y = Y_c + 1ȳᵀ``. If every item has the same overlap ``y_μ·ȳ`` (so ``Y_c ȳ = 0``),
    ``(1/√P, ȳ/‖ȳ‖)`` is a singular pair of ``Y`` with

    .. math:: \\kappa_0 = \\sqrt{P}\\,\\lVert\\bar y\\rVert ,

    and the mode's output for every item is ``ȳ``: the OCS. Chapter 6, Theorem ``thm-ch06-onehot``.

    Parameters
    ----------
    Y : array_like (P, N_out)
        Targets, one item per row.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        On bad input, if ``ȳ = 0``, or if ``ȳ`` is not a singular direction of ``Y`` with a
        constant item profile.
    """
    return _ocs_mode(Y)[2]


def ocs_learned_first(Y):
    """Whether the OCS mode has the largest singular value of ``Y`` (one-hot inputs, no biases).

    The other singular values of ``Y`` are those of ``Y_c = Y − 1ȳᵀ``; from a small balanced
    init the strongest mode is learned first (Chapter 1), so the OCS comes first iff
    ``√P‖ȳ‖ > κ₁(Y_c)``. Chapter 6, Theorem ``thm-ch06-onehot``.

    Parameters
    ----------
    Y : array_like (P, N_out)

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        As :func:`ocs_mode_strength`, and on a tie ``|√P‖ȳ‖ − κ₁(Y_c)| ≤ 10⁻⁹ √P‖ȳ‖`` (then the
        two modes are learned at the same time and "first" is undefined).
    """
    Y, ybar, s0 = _ocs_mode(Y)
    sc = np.linalg.svd(Y - ybar, compute_uv=False)
    s1 = float(sc[0]) if sc.size else 0.0
    if abs(s0 - s1) <= _TIE_RTOL * s0:
        raise ValueError(f"tie: the OCS mode and the top centred mode share κ = {s0:.6g}")
    return bool(s0 > s1)


def mean_output_trajectory(t, ybar_norm, xbar_norm, u0, tau=1.0):
    """Mean output along ``ȳ`` of a bias-free two-layer net driven by the input mean.

    If ``x̄ = E[x]`` is orthogonal to the span of the centred inputs, ``x̄/‖x̄‖`` is an eigenvector of
    ``Σ_xx`` (eigenvalue ``λ = ‖x̄‖²``) and ``Σ_yx x̄/‖x̄‖ = ‖x̄‖ ȳ``. A balanced mode on
    ``(ȳ/‖ȳ‖, x̄/‖x̄‖)`` with strength ``u`` obeys ``τu̇ = 2u(s − λu)``, ``s = ‖ȳ‖‖x̄‖``. The mean
    output along ``ȳ/‖ȳ‖`` is ``o = ‖x̄‖u``:

    .. math:: o(t) = \\frac{\\lVert\\bar y\\rVert}{1 + \\big(\\lVert\\bar y\\rVert/(\\lVert\\bar x\\rVert u_0) - 1\\big)
              e^{-2\\lVert\\bar y\\rVert\\lVert\\bar x\\rVert t/\\tau}} \\to \\lVert\\bar y\\rVert .

    Chapter 6, Theorem ``thm-ch06-mean-driven``.

    Parameters
    ----------
    t : array_like
        Times.
    ybar_norm, xbar_norm : float
        ``‖ȳ‖ > 0`` and ``‖x̄‖ > 0``.
    u0 : float
        Initial mode strength ``ȳᵀW(0)x̄ / (‖ȳ‖‖x̄‖) > 0``.
    tau : float
        Time constant, > 0.

    Returns
    -------
    ndarray

    Raises
    ------
    ValueError
        If a norm, ``u0`` or ``tau`` is not positive and finite, or ``t`` is not finite.
    """
    t = _finite_array("t", t)
    yn = _pos("ybar_norm", ybar_norm)
    xn = _pos("xbar_norm", xbar_norm)
    u0 = _pos("u0", u0)
    tau = _pos("tau", tau)
    s = yn * xn
    v = _dl.mode_strength(t, s, xn**2 * u0, tau)  # v = λu follows Chapter 1's logistic
    return v / xn


def rates(Y_hat, Y, theta=0.5):
    """True-negative and true-positive rates with the rule "``ŷ > θ`` means positive".

    ``TNR = #(y = 0 and ŷ ≤ θ) / #(y = 0)``, ``TPR = #(y = 1 and ŷ > θ) / #(y = 1)``, counted over
    every item and output unit. An output exactly at ``θ`` is a negative. Chapter 6,
    Setup (``sec-ch06-setup``) and Theorem ``thm-ch06-tnr``.

    Parameters
    ----------
    Y_hat : array_like (..., P, N_out)
        Outputs; leading axes (times, seeds) are kept.
    Y : array_like (P, N_out)
        Binary targets (0 or 1), with at least one of each.
    theta : float
        Threshold.

    Returns
    -------
    tnr, tpr : ndarray (...)

    Raises
    ------
    ValueError
        If ``Y`` is not binary with both classes present, shapes disagree, or values are not finite.
    """
    Y = _labels(Y)
    Y_hat = _finite_array("Y_hat", Y_hat)
    theta = float(_finite_array("theta", theta))
    if Y_hat.shape[-2:] != Y.shape:
        raise ValueError(f"Y_hat ends in shape {Y_hat.shape[-2:]}; Y has shape {Y.shape}")
    if not np.all((Y == 0) | (Y == 1)):
        raise ValueError("Y must be binary (0 or 1)")
    neg, pos = Y == 0, Y == 1
    if not neg.any() or not pos.any():
        raise ValueError("Y needs at least one positive and one negative entry")
    predicted = Y_hat > theta
    tnr = np.sum(~predicted & neg, axis=(-2, -1)) / neg.sum()
    tpr = np.sum(predicted & pos, axis=(-2, -1)) / pos.sum()
    return tnr, tpr


def ocs_rates(Y, theta=0.5):
    """TNR and TPR of a network that outputs the OCS ``ȳ`` for every item.

    Unit ``j`` is predicted positive for every item iff ``ȳ_j > θ``, so

    .. math:: \\mathrm{TNR} = \\frac{\\sum_j (1-\\bar y_j)\\,[\\bar y_j \\le \\theta]}{\\sum_j (1-\\bar y_j)},\\qquad
              \\mathrm{TPR} = \\frac{\\sum_j \\bar y_j\\,[\\bar y_j > \\theta]}{\\sum_j \\bar y_j} .

    Chapter 6, Theorem ``thm-ch06-tnr``.

    Parameters
    ----------
    Y : array_like (P, N_out)
        Binary targets.
    theta : float
        Threshold.

    Returns
    -------
    tnr, tpr : float

    Raises
    ------
    ValueError
        As :func:`rates`.
    """
    Y = _labels(Y)
    rates(Y, Y, theta)  # validates Y and theta
    ybar = Y.mean(axis=0)
    pos = ybar > float(theta)
    tnr = np.sum((1 - ybar)[~pos]) / np.sum(1 - ybar)
    tpr = np.sum(ybar[pos]) / np.sum(ybar)
    return float(tnr), float(tpr)


def _centred_modes(Y):
    """Item-space SVD of ``Y_c = Y − 1ȳᵀ`` without the (numerically) zero modes."""
    Y = _labels(Y)
    ybar = Y.mean(axis=0)
    p, sig, qt = np.linalg.svd(Y - ybar, full_matrices=False)
    keep = sig > 1e-10 * max(sig.max(initial=0.0), 1.0)
    return Y, ybar, p[:, keep], sig[keep], qt[keep]


def decoupled_outputs(t, Y, b0, u0, tau=1.0):
    """Outputs of a two-layer net with an output bias on centred whitened item inputs.

    Inputs ``x_μ`` are centred and whitened (``Σ_xx = I``, ``E[x] = 0``) and span the centred
    items, weights start balanced and decoupled with every mode at ``u₀``. With ``Y_c = Σ_α κ_α
    p_α q_αᵀ`` (item-space SVD), the whitened mode strengths are ``s_α = κ_α/√P`` and

    .. math:: \\hat Y(t) = \\mathbf 1\\, b_2(t)^\\top + \\sum_\\alpha \\frac{u(t; s_\\alpha, u_0)}{s_\\alpha}\\,
              \\kappa_\\alpha p_\\alpha q_\\alpha^\\top ,

    with ``b₂(t)`` from :func:`bias_trajectory` and ``u`` from Chapter 1's sigmoid. Chapter 6,
    Theorem ``thm-ch06-tnr``.

    Parameters
    ----------
    t : array_like (T,)
    Y : array_like (P, N_out)
    b0 : array_like (N_out,) or scalar
        Initial output bias.
    u0 : float
        Initial strength of every mode, ``0 < u₀``.
    tau : float

    Returns
    -------
    ndarray (T, P, N_out)

    Raises
    ------
    ValueError
        On bad input (see :func:`bias_trajectory` and Chapter 1's ``mode_strength``).
    """
    Y, ybar, p, sig, qt = _centred_modes(Y)
    t = np.atleast_1d(_finite_array("t", t))
    b = bias_trajectory(t, ybar, b0, tau)  # (T, N_out)
    s = sig / np.sqrt(Y.shape[0])
    frac = _dl.mode_strength(t[:, None], s, u0, tau) / s  # (T, modes)
    return b[:, None, :] + np.einsum("ta,pa,a,aj->tpj", frac, p, sig, qt)


def output_bias_loss(t, Y, b0, u0, tau=1.0):
    """Loss of the network of :func:`decoupled_outputs`:
    ``L(t) = ½‖ȳ − b₂(t)‖² + ½Σ_α (s_α − u_α(t))²``.

    With ``b₂(0) = 0`` and ``u₀ → 0`` it starts at ``½E‖y‖²``, sits on the OCS plateau
    ``½ tr C_yy`` once the bias is learned, and falls to 0. Chapter 6, Theorem ``thm-ch06-decouple``.

    Parameters
    ----------
    t : array_like (T,)
    Y : array_like (P, N_out)
    b0 : array_like (N_out,) or scalar
    u0 : float
    tau : float

    Returns
    -------
    ndarray (T,)

    Raises
    ------
    ValueError
        On bad input.
    """
    Y, ybar, p, sig, qt = _centred_modes(Y)
    t = np.atleast_1d(_finite_array("t", t))
    b = bias_trajectory(t, ybar, b0, tau)
    s = sig / np.sqrt(Y.shape[0])
    u = _dl.mode_strength(t[:, None], s, u0, tau)
    return 0.5 * np.sum((ybar - b) ** 2, axis=1) + 0.5 * np.sum((s - u) ** 2, axis=1)
