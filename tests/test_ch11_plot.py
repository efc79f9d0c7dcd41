"""reglib.plot.heatmap_mean_std, the annotated learning-rate × λ grids of chapter 11."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from reglib.plot import heatmap_mean_std  # noqa: E402


def test_heatmap_shows_the_mean_and_writes_mean_and_std_in_each_cell():
    values = np.array([[[0.1, 0.5, 0.9], [0.2, 0.4, 0.6]], [[0.3, 0.5, 0.7], [0.2, 0.6, 0.6]]])  # (2 seeds, 2, 3)
    fig, ax = plt.subplots()
    image = heatmap_mean_std(ax, values, ["a", "b", "c"], ["r0", "r1"], cmap="viridis", vmin=0, vmax=1)
    np.testing.assert_allclose(image.get_array(), values.mean(0))
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 6 and texts[0] == "20.0%\n±10.0%" and texts[-1] == "60.0%\n±0.0%", texts
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["r0", "r1"]
    assert len(fig.axes) == 2  # the colour bar
    # dark cells get white text, light ones black
    assert ax.texts[0].get_color() == "white" and ax.texts[2].get_color() == "k"
    plt.close(fig)


def test_heatmap_without_std_and_with_another_format():
    fig, ax = plt.subplots()
    heatmap_mean_std(ax, np.full((3, 1, 2), 12.34), ["x", "y"], ["z"], fmt="{:.1f}", show_std=False)
    assert [t.get_text() for t in ax.texts] == ["12.3", "12.3"]
    plt.close(fig)


@pytest.mark.parametrize("shape, xl, yl, match", [((2, 3), ["a", "b", "c"], ["r0", "r1"], "shape"),
                                                 ((1, 2, 3), ["a", "b"], ["r0", "r1"], "xticklabels")])
def test_heatmap_bad_arguments(shape, xl, yl, match):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=match):
        heatmap_mean_std(ax, np.zeros(shape), xl, yl)
    plt.close(fig)
