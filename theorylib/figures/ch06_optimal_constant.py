"""Figures of Chapter 6 (the optimal constant solution), one function per numbered figure.

Each function takes data computed by :mod:`theorylib.checks.ch06_optimal_constant` (a claim's
``Result.data`` or a run it cached), draws it in the book's style (theory dashed, simulation solid
or markers) and returns the matplotlib Figure.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from theorylib.plotting import FULL_WIDTH, SIM, THEORY, overlay, use_style

__all__ = ["ocs_phase", "three_routes", "rates_linear", "digits", "breaks"]

TIME_LABEL = r"time $t = \eta k$ ($\tau = 1$)"
LEVELS = ("root", "level 1", "level 2", "leaves")
LEVEL_COLS = (slice(0, 1), slice(1, 3), slice(3, 7), slice(7, 15))


def _style_handles():
    """Two grey proxies that explain the line styles once."""
    return ([plt.Line2D([], [], color="0.35", **SIM), plt.Line2D([], [], color="0.35", **THEORY)],
            ["simulation (GD)", "theory"])


def _style_legend(ax, extra=(), **kw):
    handles, labels = _style_handles()
    for h, lab in extra:
        handles.append(h)
        labels.append(lab)
    return ax.legend(handles, labels, **kw)


def ocs_phase(loss: dict, bias: dict, modes: dict, ocs_loss: float):
    """Fig. ``fig-ch06-ocs``: loss with its OCS plateau; bias and modes, each as a fraction learned."""
    use_style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.0))
    t = loss["t"]
    overlay(ax, t, loss["theory"], loss["sim"], color="C0")
    ax.axhline(ocs_loss, color="0.4", lw=1, ls=":")
    ax.annotate(r"OCS loss $\frac{1}{2}\mathbb{E}\Vert y-\bar y\Vert^2$", (t[-1], ocs_loss), xytext=(0, 5),
                textcoords="offset points", ha="right", fontsize=9, color="0.3")
    ax.set(xlabel=TIME_LABEL, ylabel=r"loss $\mathcal{L}$", ylim=(0, 2.1))
    _style_legend(ax, loc="upper right")
    ybar = bias["ybar"]
    frac_sim = bias["sim"] @ ybar / (ybar @ ybar)
    frac_th = bias["theory"] @ ybar / (ybar @ ybar)
    overlay(ax2, t, frac_th, frac_sim, color="k")
    ax2.annotate(r"bias $b_2$", (1.2, 0.72), fontsize=9.5)
    s = modes["s"]
    for k, c, y in zip((0, 1, 3), ("C1", "C2", "C3"), (0.62, 0.42, 0.22)):
        overlay(ax2, t, modes["theory"][:, k] / s[k], modes["sim"][:, k] / s[k], color=c)
        t_y = t[np.argmax(modes["theory"][:, k] >= s[k] * y)]  # label each sigmoid at its own height
        ax2.annotate(f"$s = {s[k]:.2f}$", (t_y, y), xytext=(6, -3), textcoords="offset points",
                     fontsize=9.5, color=c, ha="left")
    ax2.set(xlabel=TIME_LABEL, ylabel="fraction learned", ylim=(-0.03, 1.05))
    fig.tight_layout()
    return fig


def three_routes(hidden: dict, onehot: dict, tie: dict, mean: dict, P: int):
    """Fig. ``fig-ch06-routes``: the OCS as a singular mode of Chapter 1 (hidden bias), as a singular mode of Y
    (one-hot, no bias, with the root-less tie) and driven by the input mean (no bias)."""
    use_style()
    fig, axes = plt.subplots(1, 3, figsize=(FULL_WIDTH, 2.9), sharey=True)
    ax = axes[0]
    t = hidden["t"]
    overlay(ax, t, hidden["theory"] / hidden["s0"], hidden["sim"] / hidden["s0"], color="k")
    ax.annotate("OCS", (t[np.argmax(hidden["theory"] > hidden["s0"] / 2)], 0.5),
                xytext=(-5, 4), textcoords="offset points", ha="right", fontsize=9)
    ax.plot(t, hidden["u"][:, 0] / hidden["s_top_input"], color="C1", **SIM)
    ax.set(title="hidden bias only", xlabel=TIME_LABEL, ylabel="fraction learned")
    ax = axes[1]
    t = onehot["t"] / P
    sig = onehot["sigma"]
    overlay(ax, t, onehot["theory"] / sig[0], onehot["sim"][:, 0] / sig[0], color="k")
    ax.plot(t, onehot["sim"][:, 1] / sig[1], color="C1", **SIM)
    ax.plot(t, tie["sim"][:, 0] / tie["sigma"][0], color="C4", lw=1.4, ls=(0, (1, 1.5)))
    ax.annotate("OCS", (t[np.argmax(onehot["theory"] > sig[0] / 2)], 0.5), xytext=(-5, 4),
                textcoords="offset points", ha="right", fontsize=9)
    ax.set(title="one-hot, no bias", xlabel=r"time $t/P$", xlim=(0, 4))
    ax = axes[2]
    for xn, c in zip(sorted(mean, reverse=True), ("C0", "C2")):
        d = mean[xn]
        overlay(ax, d["t"], d["theory"] / d["ybar_norm"], d["sim"] / d["ybar_norm"], color=c)
        ax.annotate(rf"$\Vert\bar x\Vert = {xn:g}$", (d["t"][np.argmax(d["theory"] > d["ybar_norm"] / 2)], 0.5),
                    xytext=(5, -8), textcoords="offset points", fontsize=9, color=c)
    ax.set(title="input mean, no bias", xlabel=TIME_LABEL)
    handles, labels = _style_handles()
    handles += [plt.Line2D([], [], color="C1", **SIM), plt.Line2D([], [], color="C4", lw=1.4, ls=(0, (1, 1.5)))]
    labels += ["first input mode / first split", "OCS without root (tie)"]
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def rates_linear(gd: dict, theory_low: dict, theta_low: float):
    """Fig. ``fig-ch06-rates``: TNR and TPR of the linear network, GD against the decoupled theory."""
    use_style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 2.9), sharey=True)
    t = gd["t"]
    ax.plot(t, gd["tnr_sim"], color="C0", **SIM)
    ax.plot(t, gd["tpr_sim"], color="C3", **SIM)
    ax.plot(t, gd["tnr_theory"], color="C0", **THEORY)
    ax.plot(t, gd["tpr_theory"], color="C3", **THEORY)
    ax.annotate("TNR", (t[-1], 1.0), xytext=(0, -12), textcoords="offset points", ha="right", color="C0")
    ax.annotate("TPR", (t[len(t) // 6], 0.25), xytext=(0, 5), textcoords="offset points", color="C3")
    ax.set(title=r"$\theta = 1/2$: GD and theory", xlabel=TIME_LABEL, ylabel="rate", ylim=(-0.03, 1.05))
    _style_legend(ax, loc="center right")
    tl = theory_low["t"]
    ax2.plot(tl, theory_low["tnr"], color="C0", **THEORY)
    ax2.plot(tl, theory_low["tpr"], color="C3", **THEORY)
    ax2.set(title=rf"$\theta = {theta_low:g}$: theory", xlabel=TIME_LABEL, xlim=(0, t[-1]))
    fig.tight_layout()
    return fig


def digits(run: dict):
    """Fig. ``fig-ch06-digits``: the ReLU MLP on hierarchical digits: loss, then TPR and TNR per level."""
    use_style()
    fig, axes = plt.subplots(1, 3, figsize=(FULL_WIDTH, 2.7))
    t = run["t"]
    ax = axes[0]
    ax.plot(t, run["loss"], color="C0", **SIM)
    ax.axhline(run["ocs_loss"], color="0.4", lw=1, ls=":")
    ax.annotate("OCS loss", (t[-1], run["ocs_loss"]), xytext=(0, 4), textcoords="offset points", ha="right",
                fontsize=9, color="0.3")
    ax.set(xlabel=TIME_LABEL, ylabel=r"training loss $\mathcal{L}$")
    every = slice(None, None, 8)
    for ax, k, name in ((axes[1], 1, "TPR"), (axes[2], 0, "TNR")):
        ax.axvspan(*run["ocs_window"], color="0.92", zorder=0)
        for level, c in (("family", "C0"), ("digit", "C1")):
            train, test = run["levels"][level]["train"][k], run["levels"][level]["test"][k]
            ax.plot(t, train, color=c, **SIM)
            ax.plot(t[every], test[every].mean(axis=1), "o", ms=3.5, color=c, alpha=0.9)
        ax.set(xlabel=TIME_LABEL, ylabel=name)
    axes[1].set_ylim(-0.03, 1.03)
    axes[1].annotate("OCS", (np.mean(run["ocs_window"]), 0.5), ha="center", fontsize=9, color="0.3")
    axes[2].set_ylim(0.94, 1.004)
    for level, c in (("shape family", "C0"), ("digit", "C1")):
        axes[1].plot([], [], color=c, label=level, **SIM)
    axes[1].plot([], [], "o", ms=3.5, color="0.35", label="test set")
    axes[1].legend(loc="upper left", fontsize=8.5)
    fig.tight_layout()
    return fig


def breaks(uncentred: dict, init: dict, ocs_loss: float):
    """Fig. ``fig-ch06-breaks``: output bias on uncentred inputs; loss from small and large inits."""
    use_style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 2.9))
    t = uncentred["t"]
    for j, c in zip((1, 4, 8), ("C0", "C1", "C2")):
        overlay(ax, t, uncentred["theory"][:, j], uncentred["sim"][:, j], color=c)
        ax.plot([t[-1]], [uncentred["b_end"][j]], "o", color=c, ms=5)
    ax.set(xlabel=TIME_LABEL, ylabel=r"output bias $b_{2,j}(t)$", title="uncentred inputs")
    end = plt.Line2D([], [], marker="o", color="0.35", ms=5, linestyle="none")
    _style_legend(ax, extra=[(end, "end point")], loc="center right", bbox_to_anchor=(1.0, 0.71), fontsize=8.5)
    for (eps, d), c in zip(sorted(init.items()), ("C0", "C3")):
        ax2.semilogy(d["t"], d["loss"], color=c, label=rf"$\varepsilon = {eps:g}$", **SIM)
    ax2.axhline(ocs_loss, color="0.4", lw=1, ls=":")
    ax2.annotate("OCS loss", (init[min(init)]["t"][-1], ocs_loss), xytext=(0, 4), textcoords="offset points",
                 ha="right", fontsize=9, color="0.3")
    ax2.set(xlabel=TIME_LABEL, ylabel=r"loss $\mathcal{L}$", title="initial weight scale")
    ax2.legend(loc="lower left")
    fig.tight_layout()
    return fig
