"""theorylib.figures.ch01_deep_linear: each figure draws from small synthetic data, fits the
column, labels its axes, keeps text at 9 pt or more, and has no legend longer than 4 entries."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from theorylib.figures import ch01_deep_linear as figs  # noqa: E402
from theorylib.plotting import FULL_WIDTH  # noqa: E402
from theorylib.theory import deep_linear as dl  # noqa: E402

S = np.array([3.0, 2.0, 1.0, 0.5])


def _modes():
    t = np.linspace(0, 8, 41)
    th = dl.mode_strength(t[:, None], S, 1e-3)
    lr = np.array([0.02, 0.01, 0.005])
    return figs.modes({"t": t, "theory": th, "sim": th * 1.01},
                      {"lr": lr, "error": 6.7 * lr, "prediction": 6.7 * lr}, S)


def _phase():
    starts = np.array([[0.05, 1.6], [1.5, 0.1], [0.4, -1.5]])
    w_inf, a_inf = dl.unbalanced_limit(1.0, starts[:, 0], starts[:, 1])
    path = np.linspace(0, 1, 20)[:, None]
    return figs.phase_portrait({"starts": starts, "w": starts[:, 0] + path * (w_inf - starts[:, 0]),
                                "a": starts[:, 1] + path * (a_inf - starts[:, 1]),
                                "w_inf": w_inf, "a_inf": a_inf})


def _deep():
    L = np.array([1, 2, 4, 8, 11, 16, 32, 64])
    t = dl.deep_learning_time(1.0, 1e-3, 0.5, L)
    return figs.deep_chains({"depth": L, "sim": t, "theory": t}, dl.deep_learning_time)


def _hier():
    t = np.linspace(0, 10, 51)
    Sh = np.linspace(5, 0.5, 32)
    u = dl.mode_strength(t[:, None, None], Sh, 3.2e-5) * np.ones((1, 2, 1))
    shown = np.array([0, 1, 2, 4, 11, 17, 30])
    return figs.hierarchical({"t": t, "u": u, "S": Sh, "u0": 3.2e-5, "shown": shown,
                              "delay": np.full((2, 7), 0.1)}, dl.mode_strength)


def _lazy():
    t = np.linspace(0, 8, 50)
    return figs.lazy_vs_rich({"small": (t, np.exp(-t) + 0.1), "large": (t, np.exp(-2 * t) + 0.01)})


@pytest.mark.parametrize("make", [_modes, _phase, _deep, _hier, _lazy])
def test_figure_is_readable(make):
    fig = make()
    try:
        assert fig.get_size_inches()[0] <= FULL_WIDTH + 1e-9
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            assert ax.get_xlabel() and ax.get_ylabel(), "unlabelled axis"
            legend = ax.get_legend()
            if legend is not None:
                assert len(legend.get_texts()) <= 4, "legend too long: use direct labels or a colour bar"
        sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip()]
        assert min(sizes) >= 9, f"text below 9 pt: {min(sizes)}"
    finally:
        plt.close(fig)
