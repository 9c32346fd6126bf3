"""Figures of Chapter 5 (linear attention), one function per figure.

Every function draws data the chapter computed (mostly a claim's ``Result.data``) and returns the
matplotlib Figure. Time axes are in the chapter's convention ``τ θ̇ = −½ ∂L/∂θ`` (plain GD on the
loss with step ``η`` reaches ``t = 2ηkτ`` after ``k`` steps).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter
import numpy as np

from theorylib.plotting import FULL_WIDTH, SIM, THEORY, overlay, use_style

__all__ = ["merged", "separate", "two_inits", "aligned", "finite_sample", "full_model", "rank"]

TIME = "time $t/\\tau$"
GREY = dict(color="0.55", ls=":", lw=1)


def _thin(t, n=600):
    """Indices of at most about ``n`` points spread evenly in ``log t`` (and the first point)."""
    t = np.asarray(t)
    if len(t) <= n:
        return np.arange(len(t))
    pos = t > 0
    grid = np.geomspace(t[pos][0], t[-1], n)
    idx = np.unique(np.searchsorted(t, grid).clip(0, len(t) - 1))
    return np.concatenate([[0], idx]) if not pos[0] else idx


def _levels(ax, levels):
    for lv in levels:
        ax.axhline(lv, **GREY)


def merged(d, de, esc_w):
    """Left: merged loss under GD against the closed form; right: midpoint times for several ε."""
    use_style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.0))
    overlay(ax, d["t"], d["theory"], d["sim"], label="loss")
    _levels(ax, (d["theory"][0], d["theory"][-1]))
    ax.set(xlabel=TIME, ylabel="$\\mathcal{L}$", title="$\\Lambda = I$: one abrupt drop")
    ax.legend(loc="upper right")
    for j, w in enumerate(esc_w):
        c = f"C{j}"
        ax2.plot(de["t"], de["loss"][:, j], color=c, lw=2, alpha=0.6,
                 label=f"$\\varepsilon = 10^{{{int(np.log10(w))}}}$")
        ax2.plot(de["tmid"][j], np.interp(de["tmid"][j], de["t"], de["loss"][:, j]), "o", color=c)
        ax2.axvline(de["t_esc"][j] + (de["tmid"][-1] - de["t_esc"][-1]), color=c, **THEORY)
    ax2.set(xlabel=TIME, title="non-white $\\Lambda$: escape times")
    ax2.legend(loc="lower left", fontsize=9)
    fig.tight_layout()
    return fig


def separate(t, loss, levels, v, align, curves, events, member):
    """(a) loss of every run with L(M_m); (b) |v_i| of one run with the head equation; (c) alignment."""
    use_style()
    fig, axs = plt.subplots(1, 3, figsize=(FULL_WIDTH, 2.9))
    ax = axs[0]
    i = _thin(t)
    for e in range(loss.shape[1]):
        ax.plot(t[i], loss[i, e], lw=1.8, alpha=0.6)
    _levels(ax, levels)
    ax.set(xscale="log", xlim=(50, t[-1]), xlabel=TIME, ylabel="$\\mathcal{L}$", title="(a) loss, six runs")
    heads = [(d, h) for (e, d, h, i0, i1) in events if e == member]
    for (e, d, h, tt, th) in curves:
        if e == member:
            j = _thin(tt, 300)
            axs[1].plot(tt[j], th[j], color=f"C{d}", **THEORY)
    for d, h in heads:
        axs[1].plot(t[i], v[i, member, h], color=f"C{d}", lw=2.2, alpha=0.55, label=f"$\\mathbf{{e}}_{d + 1}$")
        axs[2].plot(t[i], align[i, member, h, d], color=f"C{d}")
    axs[1].set(xscale="log", xlim=(50, t[-1]), xlabel=TIME, ylabel="$|v_i|$", title="(b) head strengths")
    axs[1].legend(loc="upper left", fontsize=9, title="head learning", title_fontsize=9)
    axs[2].set(xscale="log", xlim=(50, t[-1]), ylim=(0, 1.05), xlabel=TIME,
               ylabel="$|\\cos(\\mathbf{k}_i, \\mathbf{e}_d)|$", title="(c) keys align")
    fig.tight_layout()
    return fig


def two_inits(t, loss_bal, loss_code, levels, steps_per_tau):
    """Loss from the balanced start (left) and from the authors' initialisation (right)."""
    use_style()
    fig, axs = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.0), sharey=True)
    for ax, loss, title in ((axs[0], loss_bal, "balanced, $\\varepsilon = 0.01$"),
                            (axs[1], loss_code, "the authors' initialisation")):
        i = _thin(t)
        for e in range(loss.shape[1]):
            ax.plot(t[i], loss[i, e], lw=1.8, alpha=0.6)
        _levels(ax, levels)
        ax.set(xscale="log", xlim=(30, t[-1]), xlabel=TIME, title=title)
        sec = ax.secondary_xaxis("top", functions=(lambda x: x * steps_per_tau, lambda k: k / steps_per_tau))
        sec.set_xlabel("steps of the authors' code", fontsize=9)
    axs[0].set_ylabel("$\\mathcal{L}$")
    fig.tight_layout()
    return fig


def aligned(lam_grid, t_theory, spectrum, t_sim, v0s, da):
    """Left: drop midpoint times against λ; right: head strengths of the exact flow."""
    use_style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.0))
    for j, v0 in enumerate(v0s):
        overlay(ax, lam_grid, t_theory[j], None, color=f"C{j}", label=f"$\\varepsilon={v0:g}$")
        ax.plot(spectrum, t_sim[j], "o", color=f"C{j}")
        ax.plot(lam_grid, 1 / (lam_grid**2 * v0), ":", color=f"C{j}", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="eigenvalue $\\lambda$", ylabel="$t_{1/2}/\\tau$",
           title="drop times")
    # ticks at the eigenvalues themselves: the default minor labels (2e-1, 3e-1, 4e-1) overlap
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(sorted(spectrum), [f"{lam:g}" for lam in sorted(spectrum)])
    ax.legend(loc="upper right", fontsize=9)
    for d in range(len(spectrum)):
        overlay(ax2, da["t"], da["theory"][:, 0, d], da["sim"][:, 0, d], color=f"C{d}")
        ax2.text(da["t"][-1] * 1.05, da["sim"][-1, 0, d], f"$\\lambda={spectrum[d]:g}$", fontsize=9,
                 va="center")
    ax2.set(xscale="log", xlim=(10, da["t"][-1] * 3), xlabel=TIME, ylabel="$v$",
            title=f"flow vs head equation, $\\varepsilon = {v0s[0]:g}$")
    fig.tight_layout()
    return fig


def finite_sample(dm, df):
    """Training on sampled sequences: merged (left) and separate (right)."""
    use_style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.0))
    ax.plot(dm["t"], dm["train"], color="C0", label="training", **SIM)
    ax.plot(dm["t"], dm["theory"], color="C0", label="population theory (5.6)", **THEORY)
    ax.plot(dm["t"], dm["test"], color="k", lw=1, ls="-.", label="population loss")
    ax.set(xlabel=TIME, ylabel="$\\mathcal{L}$", title="merged, $\\Lambda = I$")
    ax.legend(loc="lower left", fontsize=9)
    i = _thin(df["t"])
    ax2.plot(df["t"][i], df["train"][i], lw=2.2, alpha=0.6, label="training")
    ax2.plot(df["t"][i], df["test"][i], color="k", lw=1, ls="-.", label="population loss")
    _levels(ax2, df["levels"])
    ax2.set(xscale="log", xlim=(50, df["t"][-1]), xlabel=TIME, title="separate")
    ax2.legend(loc="lower left", fontsize=9)
    fig.tight_layout()
    return fig


def full_model(d, member_P=0):
    """Left: loss of the full and the reduced model on the smallest P; right: drop shift against P."""
    use_style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.0))
    n_seeds = d["shift"].shape[1]
    for j in range(n_seeds):
        e = member_P * n_seeds + j
        ax.plot(d["t"], d["reduced"][:, e], color="C0", lw=2, alpha=0.55, label="reduced" if j == 0 else None)
        ax.plot(d["t"], d["full"][:, e], color="C3", lw=2, alpha=0.55, label="every block" if j == 0 else None)
    ax.set(xlabel=TIME, ylabel="training $\\mathcal{L}$", title=f"$P = {d['P'][member_P]}$ sequences")
    ax.legend(loc="upper right", fontsize=9)
    P = d["P"]
    for j in range(n_seeds):
        ax2.plot(P, -100 * d["shift"][:, j], "o", color="C3", alpha=0.5, ms=4)
    ax2.plot(P, -100 * d["shift"].mean(1), "-", color="C3", lw=2, label="mean of data sets")
    ax2.plot(P, -100 * d["shift"].mean(1)[-1] * P[-1] / P, color="k", **THEORY, label="$\\propto 1/P$")
    ax2.set(xscale="log", yscale="log", xlabel="training sequences $P$", ylabel="earlier drop (%)",
            title="shift of the drop")
    ax2.legend(loc="lower left", fontsize=9)
    fig.tight_layout()
    return fig


def rank(dr, ranks, n_seeds, dwell_min):
    """Left: loss of one run per rank R; right: seed-mean dwell at each L(M_m)."""
    use_style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.0))
    mean = dr["dwell"].mean(1)
    for j, R in enumerate(ranks):
        ax.plot(dr["ts"], dr["loss"][:, j * n_seeds], lw=2, alpha=0.7, label=f"$R = {R}$")
        ax2.plot(np.arange(mean.shape[1]) + 0.08 * j, mean[j], "o-", label=f"$R = {R}$")
    _levels(ax, dr["levels"])
    ax.set(xscale="log", xlim=(20, dr["ts"][-1]), xlabel=TIME, ylabel="$\\mathcal{L}$")
    ax.legend(loc="lower left", fontsize=9)
    ax2.axhline(dwell_min, color="k", ls="--", lw=1)
    ax2.set(yscale="log", xlabel="fixed point $m$", ylabel="dwell in $\\ln t$")
    fig.tight_layout()
    return fig
