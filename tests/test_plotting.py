"""theorylib.plotting: the overlay convention (theory dashed, simulation solid) and savefig."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from theorylib.plotting import overlay, savefig, use_style  # noqa: E402


def test_overlay_draws_theory_dashed_and_simulation_solid_in_one_colour():
    use_style()
    fig, ax = plt.subplots()
    t = np.linspace(0, 1, 5)
    c1 = overlay(ax, t, theory=t, sim=t + 0.01, label="a")
    c2 = overlay(ax, t, theory=2 * t, sim=2 * t, label="b")
    sim_line, th_line = ax.lines[0], ax.lines[1]
    assert sim_line.get_linestyle() == "-" and th_line.get_linestyle() == "--"
    assert sim_line.get_color() == th_line.get_color() == c1 and c1 != c2
    assert [l.get_label() for l in ax.lines[:2]] == ["a (simulation)", "a (theory)"]
    plt.close(fig)


def test_overlay_markers_and_separate_times():
    fig, ax = plt.subplots()
    overlay(ax, np.arange(3), theory=np.arange(3), sim=[1.0], t_sim=[0.5], markers=True)
    assert ax.lines[0].get_marker() == "o" and len(ax.lines[0].get_xdata()) == 1
    plt.close(fig)


def test_savefig_only_with_environment_variable(tmp_path, monkeypatch):
    fig, ax = plt.subplots()
    monkeypatch.delenv("THEORYLIB_FIGDIR", raising=False)
    savefig(fig, "none")
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv("THEORYLIB_FIGDIR", str(tmp_path))
    savefig(fig, "fig")
    assert (tmp_path / "fig.png").stat().st_size > 0
    plt.close(fig)
