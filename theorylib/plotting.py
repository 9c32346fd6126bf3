"""One figure style for the whole book and the theory-versus-simulation overlay.

Theory is drawn dashed, simulation solid (or with markers), in the same colour per series, so
a reader can tell them apart in every chapter. ``savefig`` writes figures to the folder named
by the environment variable ``THEORYLIB_FIGDIR`` when it is set (nothing otherwise).

Introduced in Chapter 1.
"""
from __future__ import annotations

import os

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["use_style", "overlay", "savefig", "THEORY", "SIM", "FULL_WIDTH", "HALF_WIDTH"]

# Figure widths in inches for the book's text column. Figures are drawn as SVG at their
# natural size (1 in = 96 CSS px at figure.dpi = 96), so a FULL_WIDTH figure fills the column
# of the page at 1280 px without being scaled down, and font sizes in points are the sizes the
# reader sees. Wider figures would be shrunk to fit, and their text with them.
FULL_WIDTH = 7.0
HALF_WIDTH = 4.2

THEORY = dict(linestyle="--", linewidth=1.6)
SIM = dict(linestyle="-", linewidth=2.4, alpha=0.55)

_STYLE = {
    "figure.figsize": (HALF_WIDTH * 1.25, 3.4),
    "figure.dpi": 96,
    "savefig.dpi": 200,
    "svg.fonttype": "path",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10.5,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "legend.frameon": False,
    "font.size": 10,
    "mathtext.fontset": "dejavusans",
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
}


def use_style():
    """Apply the book's matplotlib style (idempotent).

    In a notebook, figures are also switched to SVG output: vector figures stay sharp on any
    screen and in print, at any zoom.
    """
    mpl.rcParams.update(_STYLE)
    try:  # only inside IPython; plain scripts keep their backend
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # pragma: no cover - IPython is always there in the book's venv
        return
    if get_ipython() is not None:
        set_matplotlib_formats("svg")


def overlay(ax, t, theory=None, sim=None, label=None, color=None, markers=False, t_sim=None):
    """Plot one series twice: theory dashed and simulation solid (or markers) in one colour.

    Parameters
    ----------
    ax : matplotlib Axes
    t : array_like
        Times for the theory curve (and the simulation unless ``t_sim`` is given).
    theory, sim : array_like, optional
        The two curves; either may be omitted.
    label : str, optional
        Series name; the legend reads "<label> (theory)" and "<label> (simulation)".
    """
    if color is None:  # one colour per series, counted per axes
        n = getattr(ax, "_theorylib_series", 0)
        ax._theorylib_series = n + 1
        color = f"C{n % 10}"
    suffix = lambda s: f"{label} ({s})" if label else s
    if sim is not None:
        ts = t if t_sim is None else t_sim
        if markers:
            ax.plot(ts, sim, "o", ms=4, color=color, alpha=0.8, label=suffix("simulation"))
        else:
            ax.plot(ts, sim, color=color, label=suffix("simulation"), **SIM)
    if theory is not None:
        ax.plot(t, theory, color=color, label=suffix("theory"), **THEORY)
    return color


def savefig(fig, name: str):
    """Save ``fig`` as ``<THEORYLIB_FIGDIR>/<name>.png`` when that variable is set."""
    folder = os.environ.get("THEORYLIB_FIGDIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        fig.savefig(os.path.join(folder, f"{name}.png"), bbox_inches="tight")
    return fig
