"""Figures of Chapter 1 (deep linear networks), one function per numbered figure.

Each function takes the data a claim of :mod:`theorylib.checks.ch01_deep_linear` returned
(``Result.data``), draws it in the book's style (theory dashed, simulation solid or markers)
and returns the matplotlib Figure.
"""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from theorylib.plotting import FULL_WIDTH, HALF_WIDTH, SIM, THEORY, use_style

__all__ = ["modes", "phase_portrait", "deep_chains", "hierarchical", "lazy_vs_rich"]

TIME_LABEL = r"time $t = \eta k$ ($\tau = 1$)"


def _style_legend(ax, **kw):
    """Two grey proxy entries that explain the line styles once."""
    ax.plot([], [], color="0.35", label="simulation", **SIM)
    ax.plot([], [], color="0.35", label="theory", **THEORY)
    return ax.legend(**kw)


def modes(gd: dict, order: dict, s_values):
    """Fig. ``fig-ch01-modes``: mode strengths under GD against u(t); the error against η."""
    use_style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.1), width_ratios=(1.25, 1))
    for k, s_k in enumerate(s_values):
        c = f"C{k}"
        ax.plot(gd["t"], gd["sim"][:, k], color=c, **SIM)
        ax.plot(gd["t"], gd["theory"][:, k], color=c, **THEORY)
        ax.annotate(f"$s_{k + 1} = {s_k:g}$", (gd["t"][-1], s_k), xytext=(4, 0),
                    textcoords="offset points", va="center", color=c, fontsize=9.5)
    ax.set(xlabel=TIME_LABEL, ylabel=r"mode strength $u_\alpha(t)$", xlim=(0, gd["t"][-1] * 1.17))
    _style_legend(ax, loc="upper left")
    ax2.loglog(order["lr"], order["error"], "o", color="C0", ms=6, label="GD, measured")
    ax2.loglog(order["lr"], order["prediction"], color="C0", label=r"$\eta\,\max|e_1|$ (theory)",
               **THEORY)
    ax2.set(xlabel=r"step size $\eta$", ylabel=r"$\max_{t,\alpha}|u_\alpha^{GD} - u_\alpha|$")
    ax2.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax2.legend(loc="upper left")
    fig.tight_layout()
    return fig


def phase_portrait(flow: dict, s: float = 1.0):
    """Fig. ``fig-ch01-phase``: the (w, a) plane of one mode, flow lines and conserved hyperbolas."""
    use_style()
    fig, ax = plt.subplots(figsize=(HALF_WIDTH * 1.1, HALF_WIDTH * 1.25))
    grid = np.linspace(-2, 2, 25)
    Wg, Ag = np.meshgrid(grid, grid)
    ax.streamplot(Wg, Ag, Ag * (s - Ag * Wg), Wg * (s - Ag * Wg), color="0.8", density=0.8,
                  linewidth=0.7, arrowsize=0.8)
    ww = np.linspace(0.4, 2.2, 100)
    ax.plot(ww, s / ww, "k", lw=1.4, label=r"minima $aw = s$")
    ax.plot(-ww, -s / ww, "k", lw=1.4)
    r = np.linspace(-2.2, 2.2, 200)
    for e, (w0, a0) in enumerate(flow["starts"]):
        c = f"C{e}"
        ax.plot(flow["w"][:, e], flow["a"][:, e], color=c, **SIM)
        d = a0**2 - w0**2  # the conserved hyperbola through the start, drawn parametrically
        hyp = (r, np.sign(a0) * np.sqrt(d + r**2)) if d >= 0 else (np.sign(w0) * np.sqrt(r**2 - d), r)
        ax.plot(*hyp, color=c, lw=1.1, linestyle="--")
        ax.plot(flow["w_inf"][e], flow["a_inf"][e], "*", ms=11, color=c, mec="k", mew=0.5)
    ax.plot([], [], color="0.35", label="gradient flow (solve_ivp)", **SIM)
    ax.plot([], [], color="0.35", lw=1.1, linestyle="--", label=r"$a^2 - w^2 = \delta$ (theory)")
    ax.plot([], [], "*", color="0.35", ms=10, linestyle="none", label=r"predicted end point")
    ax.set(xlim=(-2, 2), ylim=(-2, 2), aspect="equal", xlabel=r"first-layer factor $w$",
           ylabel=r"readout factor $a$")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=9)
    fig.tight_layout()
    return fig


def deep_chains(deep: dict, deep_learning_time, s: float = 1.0, u0: float = 1e-3):
    """Fig. ``fig-ch01-deep``: half-learning time against depth, GD and theory."""
    use_style()
    fig, ax = plt.subplots(figsize=(HALF_WIDTH * 1.45, 3.3))
    Ls = np.arange(1, 101)
    ax.plot(Ls, deep_learning_time(s, u0, s / 2, Ls), color="C0", label="exact time (theory)", **THEORY)
    big = Ls >= 8
    limit = (1 / Ls[big]) * (np.log((s / 2) * (s - u0) / (u0 * (s / 2))) / s**2 + 1 / (s * u0) - 2 / s**2)
    ax.plot(Ls[big], limit, ":", color="0.3", lw=1.6, label="large-$L$ limit (theory)")
    ax.plot(deep["depth"], deep["sim"], "o", color="C0", ms=5, label="GD (simulation)")
    L_peak = int(deep["depth"][np.argmax(deep["sim"])])
    ax.annotate(f"peak at $L = {L_peak}$", (L_peak, deep["sim"].max()), xytext=(0, 10),
                textcoords="offset points", ha="center", fontsize=9.5)
    ax.set(xscale="log", yscale="log", ylim=(0.4, 90), xlabel="number of weight layers $L$",
           ylabel=r"half-learning time $t_{1/2}$")
    ax.legend(loc="lower center")
    fig.tight_layout()
    return fig


def hierarchical(run: dict, mode_strength):
    """Fig. ``fig-ch01-hier``: stage-like learning from random init, coloured by mode."""
    use_style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.2), width_ratios=(1.35, 1))
    shown, S, t = run["shown"], run["S"], run["t"]
    cmap = plt.get_cmap("viridis")
    norm = mpl.colors.BoundaryNorm(np.arange(len(shown) + 1) - 0.5, cmap.N)
    for i, k in enumerate(shown):
        c = cmap(norm(i))
        ax.plot(t, run["u"][:, 0, k] / S[k], color=c, **SIM)
        ax.plot(t, mode_strength(t, S[k], run["u0"]) / S[k], color=c, **THEORY)
    cb = fig.colorbar(mpl.cm.ScalarMappable(norm, cmap), ax=ax, ticks=np.arange(len(shown)), pad=0.02)
    cb.set_ticklabels([str(k + 1) for k in shown])
    cb.set_label(r"mode $\alpha$")
    ax.set(xlabel=TIME_LABEL, ylabel=r"$u_\alpha(t)/s_\alpha$")
    _style_legend(ax, loc="lower right")
    d = run["delay"]
    ax2.errorbar(shown + 1, 100 * d.mean(axis=0), 100 * d.std(axis=0), fmt="o", capsize=3, color="C0")
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set(xlabel=r"mode $\alpha$", ylabel=r"delay of $t_{1/2}$ (%)", ylim=(0, None))
    fig.tight_layout()
    return fig


def lazy_vs_rich(curves: dict):
    """Fig. ``fig-ch01-lazy``: loss from a small and a large random initialisation."""
    use_style()
    fig, ax = plt.subplots(figsize=(HALF_WIDTH * 1.25, 3.1))
    for (label, (t, loss)), c in zip(curves.items(), ("C0", "C1")):
        ax.semilogy(t, loss, color=c, label=label, **SIM)
    ax.set(xlabel=TIME_LABEL, ylabel=r"loss $\mathcal{L}$")
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig
