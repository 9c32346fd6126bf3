"""Figures of Chapter 3 (bias-free ReLU networks), one function per figure.

Each function takes the ``data`` dict of a claim of :mod:`theorylib.checks.ch03_bias_free_relu`
(or the arrays named in its docstring) and returns the matplotlib Figure. The leaky-ReLU slope is
written γ on the figures (the python argument is ``alpha``).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from theorylib.plotting import FULL_WIDTH, SIM, THEORY, overlay, use_style

__all__ = ["parity", "collapse", "cubic", "random_init", "deep_spectra"]

_FLOOR = dict(color="k", ls="--", lw=1.4, zorder=1)


def parity(d):
    """Fig. 3.1: parity on {±1}³, two- against three-layer nets (``ch03-parity-floor`` data).

    Left, linear axes: the first 300 steps, where both families move. Right, log axis: the
    distance of each curve to where it ends (the floor 0.5 for two layers, 0 for three), down
    to the rounding level 1e-16.
    """
    use_style()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 2.9))
    s = d["steps"]
    early = s <= 300
    ax1.plot(s[early], d["two"][early], color="C0", **SIM)
    ax1.plot(s[early], d["three"][early], color="C1", **SIM)
    ax1.axhline(d["floor"], **_FLOOR)
    ax1.set(xlabel="GD step $k$", ylabel="loss", ylim=(0, None), title="Loss")
    ax1.text(300, d["floor"] + 0.03, "floor ½E[y²]", ha="right", va="bottom", fontsize=9)
    gap2 = np.maximum(d["two"] - d["floor"], 1e-17)
    ax2.semilogy(s, gap2, color="C0", **SIM)
    ax2.semilogy(s, np.maximum(d["three"], 1e-17), color="C1", **SIM)
    ax2.axhspan(1e-17, 1e-15, color="0.85", zorder=0)
    ax2.text(s[-1], 2e-17, "rounding", ha="right", va="bottom", fontsize=9)
    ax2.set(xlabel="GD step $k$", ylabel="distance to the end value", ylim=(1e-17, 10),
            title="Approach, log scale")
    ax1.plot([], [], color="C0", lw=2.4, label="two layers (simulation)")
    ax1.plot([], [], color="C1", lw=2.4, label="three layers (simulation)")
    ax1.plot([], [], **{k: v for k, v in _FLOOR.items() if k != "zorder"},
             label="floor 0.5 (theory)")
    fig.legend(*ax1.get_legend_handles_labels(), loc="lower center", ncol=3,
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def collapse(d, reciprocal, gammas, s_values, u_tilde0, loss_curve):
    """Fig. 3.2: paired nets in their own time, on t̃ = (1+γ)t/2 and on the reciprocal axis.

    ``d`` is the ``ch03-flow-closed-form`` data, ``reciprocal`` the losses sampled at
    t = κt̃ (``ch03-collapse`` data), ``loss_curve`` the closed-form loss of the linear net.
    """
    use_style()
    tt = d["t_tilde"]
    kk = (1 + np.asarray(gammas)) / 2
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(1, 3, figsize=(FULL_WIDTH, 2.8), sharey=False)
    ax1, ax2, ax3 = axes
    L_lin = loss_curve(tt, s_values, u_tilde0, 1.0)
    for i, g in enumerate(gammas):
        col = cmap(0.9 * i / (len(gammas) - 1))
        if g in (0.0, 1.0):
            for m in range(len(s_values)):
                ax1.plot(tt / kk[i], d["u"][:, i, m], color=col, **SIM)
                ax1.plot(tt / kk[i], d["theory"][:, i, m], color=col, **THEORY)
        ax2.plot(tt, d["loss"][:, i], color=col, lw=2.4, alpha=0.6, label=f"γ = {g:g}")
        ax3.plot(tt, reciprocal[:, i], color=col, lw=2.0, alpha=0.8)
    for ax in (ax2, ax3):
        ax.plot(tt, L_lin, "k--", lw=1.4, label="linear net (theory)")
    ax1.set(xlabel="time $t$", ylabel=r"mode strength $\tilde u_\alpha$", xlim=(0, 12),
            title="Own time")
    ax1.text(0.2, 1.5, "γ = 1", fontsize=9, color=cmap(0.75))
    ax1.text(7.0, 0.5, "γ = 0", fontsize=9, color=cmap(0.0))
    ax2.set(xlabel=r"$\tilde t = (1+\gamma)\,t/2$", ylabel="loss", title="Collapse")
    ax3.set(xlabel=r"$2t/(1+\gamma)$", title="Reciprocal axis")
    fig.legend(*ax2.get_legend_handles_labels(), loc="lower center", ncol=3,
               bbox_to_anchor=(0.5, -0.02), handlelength=1.5, columnspacing=1.0)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    return fig


def cubic(d, deep=None):
    """Fig. 3.3: y = x³ on {±1, ±2}: learned functions and losses (``ch03-cubic`` data).

    ``deep`` (optional, ``ch03-deep-1d-floor`` data) adds the 3- and 4-layer nets.
    """
    use_style()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 2.9))
    xx = d["x"]
    ax1.plot(xx, xx**3, color="0.6", lw=1, label="$x^3$")
    ax1.plot(d["data"].X[:, 0], d["data"].Y[:, 0], "ko", ms=4, label="data")
    ax1.plot(xx, d["random"]["f"].T, color="C0", **SIM)
    ax1.plot(xx, d["paired"]["f"].T, color="C1", **SIM)
    if deep is not None:
        ax1.plot(xx, deep[3]["f"].T, color="C2", **SIM)
        ax1.plot(xx, deep[4]["f"].T, color="C3", **SIM)
    ax1.plot(xx, d["slope"] * xx, "k", **THEORY)
    ax1.set(xlabel="$x$", ylabel="$f(x)$", title="Learned function", ylim=(-16, 16))
    ax2.plot(d["t"], d["random"]["loss"], color="C0", **SIM)
    ax2.plot(d["t"], d["paired"]["loss"], color="C1", **SIM)
    if deep is not None:
        t_deep = deep["steps"] * 0.005
        ax2.plot(t_deep, deep[3]["loss"], color="C2", **SIM)
        ax2.plot(t_deep, deep[4]["loss"], color="C3", **SIM)
    ax2.axhline(d["floor"], **_FLOOR)
    ax2.set(xlabel=r"time $t = \eta k$", ylabel="loss", title="Loss", xlim=(0, 10),
            ylim=(0, 25))
    handles = [plt.Line2D([], [], color=c, lw=2.4, alpha=0.55) for c in ("C0", "C1")]
    labels = ["2 layers, random init", "2 layers, paired init"]
    if deep is not None:
        handles += [plt.Line2D([], [], color=c, lw=2.4, alpha=0.55) for c in ("C2", "C3")]
        labels += ["3 layers", "4 layers"]
    handles.append(plt.Line2D([], [], color="k", ls="--", lw=1.4))
    labels.append("best linear fit 3.4x, floor 9/5 (theory)")
    fig.legend(handles, labels, loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig


def random_init(d, gap):
    """Fig. 3.4: random small init, gap to the linear twin and the even part (``ch03-random-width``).

    ``gap(H)`` returns the per-seed largest relative gap at width H.
    """
    use_style()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 2.9))
    for j, H in enumerate(d["H"]):
        L0 = d["relu"][H][0].mean()
        g = np.abs(d["relu"][H] - d["twin"][H]).mean(axis=1) / L0
        ax1.semilogy(d["t"][1:], g[1:], color=f"C{j}", label=f"$H = {H}$")
    ax1.set(xlabel=r"time $t = \eta k$",
            ylabel=r"$|\mathcal{L}_\mathrm{ReLU} - \mathcal{L}_\mathrm{twin}|/\mathcal{L}_0$",
            title="Gap to the linear twin")
    ax1.legend(loc="lower right")
    Hs = np.asarray(d["H"])
    ax2.loglog(Hs, [gap(H).max() for H in Hs], "o-", color="C3", label=r"largest gap / $\mathcal{L}_0$")
    ax2.loglog(Hs, d["even_end"], "s-", color="C4", label=r"even-part loss at $t = 16$")
    ax2.set_xticks(Hs, [str(H) for H in Hs])
    ax2.minorticks_off()
    ax2.set(xlabel="width $H$", title="Shrinks with width")
    ax2.legend(loc="lower left")
    fig.tight_layout()
    return fig


def deep_spectra(d, n_show: int = 8):
    """Fig. 3.5: 6-32-32-3 ReLU against linear nets: losses and layer spectra (``ch03-deep-spectra``)."""
    use_style()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 2.9))
    ax1.plot(d["t"], d["relu_loss"].mean(axis=1), color="C0", label="ReLU")
    ax1.plot(d["t"], d["lin_loss"].mean(axis=1), color="C1", label="linear")
    ax1.set(xlabel=r"time $t = \eta k$", ylabel="loss", title="Loss (simulation)")
    ax1.legend(loc="upper right")
    for l in range(3):
        k = min(n_show, d["relu_sv"][l].shape[1])
        x = np.arange(1, k + 1) + (n_show + 2) * l
        ax2.plot(x, d["relu_sv"][l][0][:k], "o", color="C0", ms=5)
        ax2.plot(x, d["lin_sv"][l][0][:k], "o", mfc="none", color="C1", ms=7)
        ax2.text(x.mean(), -0.03, f"$W_{l + 1}$", ha="center", va="top", fontsize=10,
                 transform=ax2.get_xaxis_transform())
    ax2.set_xticks([])
    ax2.set(ylabel="singular value", title="Spectra at $t = 60$ (seed 0)")
    ax2.plot([], [], "o", color="C0", label="ReLU")
    ax2.plot([], [], "o", mfc="none", color="C1", label="linear")
    ax2.legend(loc="lower right")
    fig.tight_layout()
    return fig
