"""Figures of Chapter 4 (fusion depth and the unimodal phase), one function per numbered figure.

Each function takes the data a claim of :mod:`theorylib.checks.ch04_fusion_depth` returned
(``Result.data``), draws it in the book's style (theory dashed, simulation solid or markers)
and returns the matplotlib Figure. Theory curves drawn only for the eye (the heatmap
backgrounds, the fine ρ grid of the depth figure) call :mod:`theorylib.theory.fusion` directly.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter, ScalarFormatter

from theorylib.plotting import FULL_WIDTH, HALF_WIDTH, SIM, THEORY, overlay, use_style
from theorylib.theory import fusion as fu

__all__ = ["early_late", "heatmaps", "ratio_scatter", "preference", "depth", "multidim",
           "random_init", "overparam"]

TIME_LABEL = r"time $t = \eta k$ ($\tau = 1$)"


def _style_legend(ax, **kw):
    """A legend of only two grey proxy entries that explain the line styles once."""
    handles = [Line2D([], [], color="0.35", **SIM), Line2D([], [], color="0.35", **THEORY)]
    return ax.legend(handles, ["simulation", "theory"], **kw)


def _plain_log_ticks(axis, ticks):
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())
    axis.set_ticks(ticks)


def early_late(dd: dict, plateau: float):
    """Fig. ``fig-ch04-early-late``: W_A, W_B under late and early fusion, and the two losses."""
    use_style()
    fig, axes = plt.subplots(1, 3, figsize=(FULL_WIDTH, 2.7), width_ratios=(1, 1, 1.05))
    for ax, key, title in ((axes[0], "late", "late fusion"), (axes[1], "early", "early fusion")):
        sim_a, sim_b, _ = dd[key]
        th_a, th_b = dd[key + "_theory"]
        ca = overlay(ax, dd["t"], th_a, sim_a)
        cb = overlay(ax, dd["t"], th_b, sim_b)
        ax.text(0.97, 0.55, "$W_A$", color=ca, transform=ax.transAxes, ha="right")
        ax.text(0.97, 0.38, "$W_B$", color=cb, transform=ax.transAxes, ha="right")
        ax.set(xlabel=TIME_LABEL, title=title, ylim=(-0.05, 1.1))
    axes[0].set_ylabel("weight")
    _style_legend(axes[0], loc="upper left", fontsize=8.5)
    L0 = dd["late"][2][0]
    for key, col in (("late", "C3"), ("early", "C2")):
        axes[2].plot(dd["t"], dd[key][2] / L0, color=col, label=key, **SIM)
    axes[2].axhline(plateau, color="k", lw=1, **{k: v for k, v in THEORY.items() if k != "linewidth"})
    axes[2].text(dd["t"][-1], plateau * 1.3, r"$\mathcal{L}(M_A)/\mathcal{L}(0)$", ha="right", fontsize=9)
    axes[2].set(xlabel=TIME_LABEL, ylabel=r"$\mathcal{L}/\mathcal{L}(0)$", yscale="log",
                ylim=(1e-3, 1.5), title="loss")
    axes[2].legend(loc="lower left", fontsize=8.5)
    fig.tight_layout()
    return fig


def heatmaps(hd: dict, md: dict):
    """Fig. ``fig-ch04-heatmaps``: the time ratio and the misattribution over (ρ, r), with GD points."""
    use_style()
    rho_g, r_g = np.meshgrid(np.linspace(-0.92, 0.92, 200), np.linspace(1, 3, 200))
    ratio_g = fu.toy_time_ratio(r_g, rho_g)
    fig, axes = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.0))
    norm = LogNorm(1, ratio_g.max())
    im = axes[0].pcolormesh(rho_g, r_g, ratio_g, norm=norm, shading="auto", rasterized=True)
    axes[0].scatter(hd["rho"], hd["r"], c=hd["sim"], norm=norm, edgecolors="w", s=40)
    cb = fig.colorbar(im, ax=axes[0], label="$t_B/t_A$")
    _plain_log_ticks(cb.ax.yaxis, [1, 2, 5, 10, 20])
    axes[0].set(xlabel=r"correlation $\rho$", ylabel=r"$r = \sigma_A/\sigma_B$", title="time ratio")
    kw = dict(cmap="RdBu_r", vmin=-0.92, vmax=0.92)
    im2 = axes[1].pcolormesh(rho_g, r_g, rho_g / r_g, shading="auto", rasterized=True, **kw)
    axes[1].scatter(md["rho"], md["r"], c=md["sim"], edgecolors="k", s=40, **kw)
    fig.colorbar(im2, ax=axes[1], label=r"$(W_A^{\rm mid} - W_A^{\rm end})/W_A^{\rm end}$")
    axes[1].set(xlabel=r"correlation $\rho$", ylabel="$r$", title="misattribution")
    fig.tight_layout()
    return fig


def ratio_scatter(hd: dict):
    """Fig. ``fig-ch04-ratio-scatter``: GD time ratios of the heatmap runs against the theory."""
    use_style()
    fig, ax = plt.subplots(figsize=(HALF_WIDTH, 3.0))
    ax.loglog(hd["theory"], hd["sim"], "o", ms=5, alpha=0.8, label="GD (simulation)")
    lim = np.array([1.8, 25])
    ax.loglog(lim, lim, "k", label="theory", **THEORY)
    for axis in (ax.xaxis, ax.yaxis):
        _plain_log_ticks(axis, [2, 5, 10, 20])
    ax.set(xlabel=r"theory $1 + (r^2-1)/(1-\rho^2)$", ylabel=r"GD $t_B/t_A$")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def preference():
    """Fig. ``fig-ch04-preference``: prioritisation and contribution lines, with time ratios."""
    use_style()
    ratio_sd = np.linspace(1.0, 3.0, 100)
    prio, contrib = np.array([fu.preference_lines(s_, 1.0) for s_ in ratio_sd]).T
    fig, ax = plt.subplots(figsize=(HALF_WIDTH * 1.3, 3.2))
    ax.plot(ratio_sd, prio, "C0", label=r"prioritisation $(\sigma_B/\sigma_A)^2$", **THEORY)
    ax.plot(ratio_sd, contrib, "C1", label=r"contribution $\sigma_B/\sigma_A$", **THEORY)
    ax.fill_between(ratio_sd, prio, contrib, color="0.85", label="A first, yet less important")
    for s_ in (1.5, 2.0, 2.5):
        lo, hi = fu.preference_lines(s_, 1.0)
        q_mid = np.sqrt(lo * hi)
        S_p = np.diag([s_**2, 1.0])
        ratio_p = fu.late_fusion_time_ratio(S_p, np.array([q_mid, 1.0]) @ S_p, 1)
        ax.plot(s_, q_mid, "k^")
        ax.annotate(f"{ratio_p:.2f}", (s_, q_mid), textcoords="offset points", xytext=(5, -12),
                    fontsize=9)
    ax.set(xlabel=r"$\sigma_A/\sigma_B$", ylabel=r"$w^*_A/w^*_B$", ylim=(0, 1.25))
    ax.legend(loc="upper right", fontsize=8.5)
    fig.tight_layout()
    return fig


def depth(flow: dict, deep: dict, lfs, rhos, eps: float, plateau: float):
    """Fig. ``fig-ch04-depth``: t_B/t_A against ρ for every fusion layer; the losses at ρ = 0."""
    use_style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.0), width_ratios=(1.15, 1))
    rho_fine = np.linspace(-0.6, 0.6, 61)
    rhos = np.asarray(rhos)
    for i, lf in enumerate(lfs):
        th_line = [fu.fusion_time_ratio(4, lf, *fu.toy_statistics(2.0, x_), 1, eps) for x_ in rho_fine]
        col = f"C{i}"
        ax.plot(rho_fine, th_line, color=col, **THEORY)
        ax.plot(rhos, flow["sim"][i], "o", color=col, ms=5, alpha=0.8)
        ax.plot(rhos, flow["exact"][i], "x", color="k", ms=5)
        ax.text(0.63, th_line[-1], f"$L_f={lf}$", color=col, va="center", fontsize=9)
    ax.plot([], [], "o", color="0.35", label="GD")
    ax.plot([], [], "kx", label="reduced flow")
    ax.plot([], [], color="0.35", label="leading order", **THEORY)
    ax.set(xlabel=r"correlation $\rho$", ylabel="$t_B/t_A$", yscale="log", xlim=(-0.62, 0.8),
           ylim=(0.9, 14))
    _plain_log_ticks(ax.yaxis, [1, 1.5, 2, 3, 4, 6, 10])
    ax.legend(loc="upper center", fontsize=8.5, ncol=3, handletextpad=0.3, columnspacing=0.8)
    j0 = list(rhos).index(0.0)
    for i, lf in enumerate(lfs):
        e = i * len(rhos) + j0
        ax2.plot(deep["t"], deep["loss"][:, e] / deep["loss"][0, e], color=f"C{i}",
                 label=f"$L_f={lf}$", **SIM)
    ax2.axhline(plateau, color="k", lw=1, linestyle="--")
    ax2.set(xlabel=TIME_LABEL, ylabel=r"$\mathcal{L}/\mathcal{L}(0)$ at $\rho = 0$", yscale="log",
            xlim=(0, 60), ylim=(1e-3, 1.5))
    ax2.legend(loc="lower left", fontsize=8.5)
    fig.tight_layout()
    return fig


def multidim(mdat: dict):
    """Fig. ``fig-ch04-multidim``: GD time ratios against ln(1/ε), with the two closed forms."""
    use_style()
    fig, ax = plt.subplots(figsize=(HALF_WIDTH * 1.3, 3.0))
    lnu = np.log(1 / mdat["u0"])
    ax.plot(np.repeat(lnu, mdat["ratio"].shape[1]), mdat["ratio"].ravel(), "o", ms=5,
            label="GD (simulation)")
    ax.axhline(mdat["boxed"], color="C1", label="norm form (theory)", **THEORY)
    ax.axhline(mdat["signed"], color="C2", linestyle=":", lw=1.6, label="signed form")
    ax.set(xscale="log", xlabel=r"$\ln(1/\varepsilon)$", ylabel="$t_B/t_A$")
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def random_init(rnd: dict, eff: dict, lfs):
    """Fig. ``fig-ch04-random-init``: per-seed ratios from the authors' init and three predictions."""
    use_style()
    fig, ax = plt.subplots(figsize=(HALF_WIDTH * 1.3, 3.0))
    x = np.arange(len(lfs))
    for i in x:
        ax.plot(np.full(rnd["ratio"].shape[1], i), rnd["ratio"][i], "o", color="C0", ms=5, alpha=0.7)
    ax.plot([], [], "o", color="C0", label="GD, authors' init (seeds)")
    ax.plot(x, eff["aligned"], "s", mfc="none", color="C3", ms=8, label=r"aligned theory, $\varepsilon = 0.1$")
    ax.plot(x, eff["pred"], "D", mfc="none", color="C2", ms=7,
            label=r"aligned theory, fitted $\varepsilon_{\rm eff}$")
    ax.set_xticks(x, [f"$L_f = {lf}$" for lf in lfs])
    ax.set(ylabel="$t_B/t_A$", yscale="log", xlim=(-0.4, len(lfs) - 0.6))
    _plain_log_ticks(ax.yaxis, [1, 1.5, 2, 3, 4])
    ax.legend(loc="upper left", fontsize=8.5)
    fig.tight_layout()
    return fig


def overparam(od: dict):
    """Fig. ``fig-ch04-overparam``: generalisation error of early and late fusion, P = 70 and 700."""
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(FULL_WIDTH, 2.8), sharey=True)
    for ax, (i0, n_) in zip(axes, [(0, 70), (2, 700)]):
        ax.plot(od["t"], od["Eg"][:, i0], color="C0", label="early fusion", **SIM)
        ax.plot(od["t"], od["Eg"][:, i0 + 1], color="C3", label="late fusion", **SIM)
        ax.axhline(od["minnorm"][i0 // 2], color="k", lw=1, linestyle="--",
                   label="min-norm least squares")
        ax.set(xlabel=TIME_LABEL, title=f"P = {n_} samples", yscale="log")
    axes[0].set_ylabel("$E_g$")
    axes[1].legend(loc="upper right", fontsize=8.5)
    fig.tight_layout()
    return fig
