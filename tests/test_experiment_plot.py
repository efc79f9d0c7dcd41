"""reglib.experiment (multi-seed runs, mean ± std) and reglib.plot (the course's figure style)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

from reglib.experiment import SEEDS, mean_std, over_seeds, show_source, stack_results  # noqa: E402
from reglib.plot import COLORS, bar_mean_std, mean_std_band, use_style  # noqa: E402


# --------------------------------------------------------------------------- experiment


def test_over_seeds_collects_each_key():
    calls = []

    def run(seed):
        calls.append(seed)
        return {"acc": 0.5 + seed / 10, "loss": float(seed), "curve": [seed, 2 * seed]}

    out = over_seeds(run, seeds=(3, 1, 4))
    assert calls == [3, 1, 4]
    assert set(out) == {"acc", "loss", "curve"}
    assert_allclose(out["acc"], [0.8, 0.6, 0.9])
    assert isinstance(out["loss"], np.ndarray) and out["loss"].tolist() == [3.0, 1.0, 4.0]
    assert out["curve"].shape == (3, 2)  # per-seed curves stack into rows


def test_over_seeds_default_seeds():
    assert len(SEEDS) >= 3
    out = over_seeds(lambda s: {"seed": s})
    assert out["seed"].tolist() == list(SEEDS)


def test_over_seeds_needs_a_seed():
    with pytest.raises(ValueError, match="seeds"):
        over_seeds(lambda s: {"x": s}, seeds=[])


def test_mean_std_format():
    assert mean_std([0.8, 0.9]) == "85.0% ± 5.0%"
    assert mean_std(np.array([1.0, 2.0, 3.0]), fmt="{:.3f}") == f"2.000 ± {np.std([1, 2, 3]):.3f}"
    assert mean_std([0.5]) == "50.0% ± 0.0%"
    assert mean_std([1, 3], fmt="{:.1f}") == "2.0 ± 1.0"  # population std, not the sample std


def test_show_source(capsys):
    pytest.importorskip("IPython")
    show_source(mean_std)
    assert "def mean_std" in capsys.readouterr().out


# --------------------------------------------------------------------------- plot


def test_use_style_sets_rcparams():
    with matplotlib.rc_context():
        matplotlib.rcParams["axes.grid"] = False
        use_style()
        rc = matplotlib.rcParams
        assert rc["axes.grid"] is True
        assert rc["axes.spines.top"] is False and rc["axes.spines.right"] is False
        assert rc["figure.constrained_layout.use"] is True
        assert rc["legend.frameon"] is False
        assert list(rc["axes.prop_cycle"].by_key()["color"]) == COLORS
        fig, ax = plt.subplots()
        (line,) = ax.plot([0, 1])
        assert matplotlib.colors.to_hex(line.get_color()) == COLORS[0].lower()
        plt.close(fig)
    assert matplotlib.rcParams["axes.grid"] == matplotlib.rcParamsDefault["axes.grid"]  # context restored


def test_colors_are_distinct_hex():
    assert len(set(COLORS)) == len(COLORS) >= 6
    for c in COLORS:
        assert matplotlib.colors.is_color_like(c)


def test_mean_std_band(ax):
    x = np.arange(4)
    values = np.array([[1.0, 2.0, 3.0, 4.0], [3.0, 2.0, 1.0, 8.0], [2.0, 2.0, 2.0, 6.0]])
    line = mean_std_band(ax, x, values, label="runs", color=COLORS[2], ls="--")
    assert ax.get_lines() == [line]
    assert line.get_label() == "runs" and line.get_linestyle() == "--"
    assert_allclose(line.get_ydata(), values.mean(0))
    assert len(ax.collections) == 1
    band = ax.collections[0]
    assert_allclose(band.get_facecolor()[0][:3], matplotlib.colors.to_rgb(COLORS[2]))
    verts = band.get_paths()[0].vertices
    mean, std = values.mean(0), values.std(0)
    assert_allclose(verts[:, 1].min(), (mean - std).min())
    assert_allclose(verts[:, 1].max(), (mean + std).max())


def test_mean_std_band_default_color_follows_the_cycle(ax):
    first = mean_std_band(ax, [0, 1], [[0, 1], [1, 2]])
    second = mean_std_band(ax, [0, 1], [[0, 1], [1, 2]])
    assert first.get_color() != second.get_color()
    assert len(ax.collections) == 2


def test_bar_mean_std(ax):
    values = [[0.8, 0.9], [0.5, 0.7, 0.6], np.array([1.0, 1.0])]
    bars = bar_mean_std(ax, ["a", "b", "c"], values)
    assert len(bars) == 3
    assert_allclose([b.get_height() for b in bars], [0.85, 0.6, 1.0])
    assert_allclose(bars[0].get_facecolor()[:3], matplotlib.colors.to_rgb(COLORS[0]))
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["85.0%", "60.0%", "100.0%"]
    assert bars.errorbar is not None  # ±1 std error bars
    segments = bars.errorbar.lines[2][0].get_segments()
    assert_allclose([s[1, 1] - s[0, 1] for s in segments], [2 * np.std(v) for v in values])


def test_bar_mean_std_writes_each_mean_above_its_error_bar(ax):
    values = [[0.8, 0.9], [0.5, 0.7, 0.6]]
    bar_mean_std(ax, ["a", "b"], values)
    assert_allclose([t.xy[1] for t in ax.texts], [np.mean(v) + np.std(v) for v in values])


def test_bar_mean_std_format_and_color(ax):
    bar_mean_std(ax, ["x", "y"], [[1, 2], [3, 5]], color="black", fmt="{:.2f}")
    assert [t.get_text() for t in ax.texts] == ["1.50", "4.00"]
    assert all(p.get_facecolor()[:3] == (0, 0, 0) for p in ax.patches)


def test_stack_results_stacks_each_key_in_order():
    out = stack_results([{"a": 1, "v": np.array([1, 2])}, {"a": 3, "v": np.array([3, 4])}])
    assert out["a"].tolist() == [1, 3] and out["v"].tolist() == [[1, 2], [3, 4]]
