"""Figures of Chapter 2 (conserved quantities and the lazy/rich transition), one function each.

Every function takes the data a claim of :mod:`theorylib.checks.ch02_rich_lazy` computed (its
``Result.data``) and returns a matplotlib Figure: theory dashed, simulation solid or markers,
one colour per value of δ (a diverging map, negative δ blue, positive red).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from theorylib.plotting import FULL_WIDTH, SIM, THEORY, overlay, use_style

__all__ = ["exact", "drift", "regimes", "blowup", "implicit", "learning_time", "relu_paths", "relu_losses"]

T_LABEL = "time $t$ ($\\tau = 1$)"


def _delta_colors(deltas):
    """Blues for δ < 0, reds for δ > 0 (darker for larger |δ|), black for δ = 0."""
    deltas = np.asarray(deltas, float)
    m = np.abs(deltas).max() or 1.0
    shade = lambda d: 0.4 + 0.55 * abs(d) / m
    return [plt.cm.Blues(shade(d)) if d < 0 else plt.cm.Reds(shade(d)) if d > 0 else (0, 0, 0, 1)
            for d in deltas]


def _style_legend(fig, entries, **kw):
    handles = [Line2D([], [], color="0.3", **style) for _, style in entries]
    return fig.legend(handles, [name for name, _ in entries], frameon=False, **kw)


def _delta_legend(fig, deltas, colors, **kw):
    handles = [Line2D([], [], color=c, lw=2.5) for c in colors]
    return fig.legend(handles, [f"{d:g}" for d in deltas], title="$\\delta$", frameon=False, **kw)


def exact(D, G, deltas):
    """Fig. fig-ch02-exact: a(t) and w(t) for β₀ = (0, −1), closed form vs solve_ivp vs GD."""
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.1), layout="constrained")
    colors = dict(zip(deltas, _delta_colors(deltas)))
    for e, (i, dlt, _) in enumerate(D["labels"]):
        if i != 0:
            continue
        c = colors[dlt]
        axes[0].plot(G["t"], G["a_gd"][:, e], color=c, **SIM)
        axes[0].plot(D["t"][::10], D["a_sim"][::10, e], "o", ms=3, color=c)
        axes[0].plot(D["t"], D["a_th"][:, e], color=c, **THEORY)
        for k in range(2):
            axes[1].plot(D["t"][::10], D["w_sim"][::10, e, k], "o", ms=3, color=c)
            axes[1].plot(D["t"], D["w_th"][:, e, k], color=c, **THEORY)
    axes[0].set(xlabel=T_LABEL, ylabel="readout $a(t)$")
    axes[1].set(xlabel=T_LABEL, ylabel="$w_1(t)$ and $w_2(t)$")
    _delta_legend(fig, deltas, [colors[d] for d in deltas], loc="outside right upper")
    _style_legend(fig, [("GD", SIM), ("solve_ivp", dict(ls="", marker="o", ms=3)), ("exact", THEORY)],
                  loc="outside right lower")
    return fig


def drift(lrs, errs, drifts, t, delta):
    """Fig. fig-ch02-drift: GD error and δ drift against the step size; δ(t) − δ(0) along GD."""
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.0), layout="constrained")
    axes[0].loglog(lrs, errs, "o-", label="max |GD − exact|")
    axes[0].loglog(lrs, drifts, "s-", label="max $|\\delta(t) - \\delta(0)|$")
    axes[0].loglog(lrs, errs[-1] * lrs / lrs[-1], ":", color="k", label="slope 1")
    axes[0].set(xlabel="step size $\\eta$", ylabel="largest value for $t \\leq 10$")
    axes[0].set_xticks(lrs, labels=[f"{x:g}" for x in lrs])
    axes[0].xaxis.set_minor_formatter(NullFormatter())
    axes[0].set_yticks([3e-4, 1e-3, 3e-3], labels=["3e-4", "1e-3", "3e-3"])
    axes[0].yaxis.set_minor_formatter(NullFormatter())
    axes[0].legend(loc="upper left")
    axes[1].plot(t, delta - delta[0], color="C0", alpha=0.6, lw=1)
    axes[1].set(xlabel="time $t = \\eta k$", ylabel="$\\delta(t) - \\delta(0)$, GD at $\\eta = 10^{-3}$")
    return fig


def regimes(F, beta_star, beta0, mu_phi):
    """Fig. fig-ch02-regimes: β-space paths, ρ(t) = a‖w‖, φ(t) and the kernel distance S(0, t)."""
    use_style()
    fig, axes = plt.subplots(2, 2, figsize=(FULL_WIDTH, 6.2), layout="constrained")
    ax = axes[0, 0]
    b1, b2 = np.meshgrid(np.linspace(-1.3, 0.6, 120), np.linspace(-0.5, 1.4, 120))
    ax.contour(b1, b2, 0.5 * (b1**2 + (b2 - 1) ** 2), levels=12, colors="0.8", linewidths=0.7)
    ax.plot(*beta_star, "k*", ms=10)
    ax.plot(*beta0, "ko", ms=5)
    ax.annotate("$\\beta^*$", beta_star, xytext=(6, -4), textcoords="offset points")
    ax.annotate("$\\beta_0$", beta0, xytext=(-4, 8), textcoords="offset points")
    colors = _delta_colors(F["deltas"])
    for e, c in enumerate(colors):
        bt = F["a_th"][:, e, None] * F["w_th"][:, e]
        bs = F["a_sim"][:, e, None] * F["w_sim"][:, e]
        ax.plot(bs[:, 0], bs[:, 1], color=c, **SIM)
        ax.plot(bt[:, 0], bt[:, 1], color=c, **THEORY)
        m_t, p_t = mu_phi(F["a_th"][:, e], F["w_th"][:, e], beta_star)
        m_s, p_s = mu_phi(F["a_sim"][:, e], F["w_sim"][:, e], beta_star)
        overlay(axes[0, 1], F["t"], m_t, m_s, color=c)
        overlay(axes[1, 0], F["t"], p_t, p_s, color=c)
        overlay(axes[1, 1], F["t"], F["S_th"][:, e], F["S_sim"][:, e], color=c)
    ax.set(xlabel="$\\beta_1$", ylabel="$\\beta_2$", aspect="equal")
    axes[0, 1].set(xlabel=T_LABEL, ylabel="$\\rho = a\\Vert w\\Vert$", xlim=(0, 8))
    axes[1, 0].set(xlabel=T_LABEL, ylabel="$\\varphi = \\hat w\\cdot\\hat\\beta^*$", xlim=(0, 8))
    axes[1, 1].set(xlabel=T_LABEL, ylabel="kernel distance $S(0, t)$", xlim=(0, 8))
    _delta_legend(fig, F["deltas"], colors, loc="outside right upper")
    _style_legend(fig, [("simulation", SIM), ("exact", THEORY)], loc="outside right lower")
    return fig


def blowup(t, nu_th, nu_sim, a_th, a_sim, w_th, w_sim, t_b, clip=30.0):
    """Fig. fig-ch02-blowup: ν(t) with its pole at t_b, and the smooth parameters a(t), w(t)."""
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(FULL_WIDTH, 3.0), layout="constrained")
    cut = lambda v: np.where(np.abs(v) < clip, v, np.nan)  # no line drawn through the pole
    overlay(axes[0], t, cut(nu_th), cut(nu_sim), label="$\\nu$")
    overlay(axes[1], t, a_th, a_sim, label="$a$")
    for k in range(w_th.shape[1]):
        overlay(axes[1], t, w_th[:, k], w_sim[:, k], label=f"$w_{k + 1}$")
    for ax in axes:
        ax.axvline(t_b, color="0.5", lw=0.8)
    axes[0].set(xlabel=T_LABEL, ylabel="$\\nu = \\eta_a w\\cdot\\beta^*/a$", ylim=(-clip, clip))
    axes[1].set(xlabel=T_LABEL, ylabel="parameters")
    axes[0].legend(loc="lower left")
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside right center")
    return fig


def implicit(B, x, y, beta0, lazy, ray, curve):
    """Fig. fig-ch02-implicit: one-sample trajectories, their limits and the δ → ±∞ paths."""
    use_style()
    fig, ax = plt.subplots(figsize=(FULL_WIDTH, 4.2), layout="constrained")
    xs = np.linspace(-0.3, 1.9, 50)
    ax.plot(xs, (y - x[0] * xs) / x[1], color="k", lw=1, label="interpolants $x\\cdot\\beta = y$")
    colors = _delta_colors(B["deltas"])
    for e, c in enumerate(colors):
        ax.plot(B["beta"][:-1, e, 0], B["beta"][:-1, e, 1], color=c, **SIM, label=f"$\\delta = {B['deltas'][e]:g}$")
        ax.plot(*B["limit"][e], "x", color=c, ms=8, mew=2)
    ax.plot(*np.stack([beta0, lazy]).T, ":", color="C3", lw=2, label="$\\delta \\to +\\infty$")
    ax.plot(*np.stack([beta0, ray]).T, ":", color="C0", lw=2, label="$\\delta \\to -\\infty$")
    ax.plot(curve[:, 0], curve[:, 1], color="0.5", lw=4, alpha=0.4, label="limits, all $\\delta$")
    ax.plot(*beta0, "ko", ms=5)
    ax.set(xlabel="$\\beta_1$", ylabel="$\\beta_2$", aspect="equal", xlim=(-0.1, 1.9), ylim=(-0.1, 1.2))
    fig.legend(loc="outside right upper")
    return fig


def learning_time(L, dgrid, t_closed, mu_target, big=0.8):
    """Fig. fig-ch02-time: time to learn against δ; the |δ| ≫ s asymptote only where it is drawn meaningfully."""
    use_style()
    fig, ax = plt.subplots(figsize=(FULL_WIDTH * 0.75, 3.2), layout="constrained")
    ax.plot(dgrid, t_closed, color="C0", **THEORY, label="closed form")
    ax.plot(L["deltas"], L["t"], "o", color="C0", ms=5, label="flow is at $u = s/2$ then")
    for k, side in enumerate((dgrid <= -big, dgrid >= big)):  # two branches, none for |δ| < big
        asym = np.log((L["s"] - L["mu0"]) / (L["s"] - mu_target)) / np.abs(dgrid[side])
        ax.plot(dgrid[side], asym, ":", color="k",
                label=None if k else "$\\ln\\frac{s-u_0}{s-u}/|\\delta|$")
    ax.set(xlabel="$\\delta$", ylabel="time to reach $u = s/2$", ylim=(0, 4))
    ax.legend(loc="upper right")
    return fig


def relu_paths(R, names):
    """Fig. fig-ch02-relu-paths: the paths of |a_i| w_i of the 50 student neurons, one panel per start."""
    use_style()
    fig, axes = plt.subplots(2, 2, figsize=(FULL_WIDTH, 6.4), layout="constrained")
    tW = R["teacher"]["W"]
    i40 = int(np.argmin(np.abs(R["t"] - 40.0)))
    for e, (ax, name) in enumerate(zip(axes.flat, names)):
        path = np.abs(R["a"][: i40 + 1, e, :, None]) * R["W"][: i40 + 1, e]
        lim = 1.15 * np.abs(path).max()
        for k in range(len(tW)):
            ax.plot([0, lim * tW[k, 0]], [0, lim * tW[k, 1]], color="C3", lw=1.2, alpha=0.8)
        ax.plot(path[:, :, 0], path[:, :, 1], color="0.55", lw=0.8)
        ax.plot(path[-1, :, 0], path[-1, :, 1], ".", color="k", ms=4)
        ax.set(title=name, aspect="equal", xlim=(-lim, lim), ylim=(-lim, lim),
               xlabel="$|a_i|\\, w_{i,1}$", ylabel="$|a_i|\\, w_{i,2}$")
    return fig


def relu_losses(R, names, T_short=40.0):
    """Fig. fig-ch02-relu-loss: training loss, held-out loss and activation changes, to T = 200."""
    use_style()
    fig, axes = plt.subplots(1, 3, figsize=(FULL_WIDTH, 2.9), layout="constrained")
    for e, name in enumerate(names):
        axes[0].semilogy(R["t"], R["loss"][:, e] / R["loss"][0, e], label=name)
        axes[1].semilogy(R["t"], R["test"][:, e] / R["test"][0, e])
        axes[2].plot(R["t"], R["act"][:, e])
    for ax, lab in zip(axes, ("training loss / initial", "test loss / initial", "activation changes")):
        ax.axvline(T_short, color="0.6", lw=0.8, ls=":")
        ax.set(xlabel="time $t = \\eta k$", ylabel=lab)
    axes[0].set_ylim(1e-8, 2)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4)
    return fig
