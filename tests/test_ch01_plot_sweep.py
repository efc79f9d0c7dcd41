"""reglib.plot.plot_sweep, the λ-sweep figure of chapter 01: mean ± std over seeds against the swept value."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

from reglib.experiment import sweep  # noqa: E402
from reglib.plot import COLORS, plot_sweep  # noqa: E402


@pytest.fixture
def results():
    """What sweep returns for a made-up run: accuracy falls with λ, loss rises, and a model that is no number."""
    return sweep(lambda lam, seed: {"acc": 0.9 - lam - seed / 100, "loss": lam + seed, "model": object()},
                 [0.0, 1e-3, 1e-2, 1e-1], seeds=(0, 1, 2), parallel=False)


def test_draws_the_mean_over_seeds_against_every_value_but_the_reference(ax, results):
    (acc, loss) = plot_sweep(ax, results, {"acc": "accuracy", "loss": "loss"}, reference=0.0)
    assert_allclose(acc.get_xdata(), [1e-3, 1e-2, 1e-1])
    assert_allclose(acc.get_ydata(), [0.9 - lam - 0.01 for lam in (1e-3, 1e-2, 1e-1)])  # seeds 0, 1, 2: mean 0.01
    assert_allclose(loss.get_ydata(), [lam + 1 for lam in (1e-3, 1e-2, 1e-1)])
    assert acc.get_color() == COLORS[0] and loss.get_color() == COLORS[1]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "λ (log scale)"
    # the reference is a dashed horizontal line at its mean, in its measurement's colour
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_label() for line in dashed] == ["accuracy, λ = 0", "loss, λ = 0"]
    assert_allclose(dashed[0].get_ydata(), [0.89, 0.89])
    assert dashed[0].get_color() == acc.get_color()
    assert acc.get_label() == "accuracy, λ > 0"
    # one ±1 std band per measurement
    assert len(ax.collections) == 2


def test_without_a_reference_every_value_is_drawn(ax, results):
    (line,) = plot_sweep(ax, results, {"acc": "accuracy"}, name="p", log=False, colors=["k"])
    assert_allclose(line.get_xdata(), [0.0, 1e-3, 1e-2, 1e-1])
    assert line.get_label() == "accuracy" and ax.get_xscale() == "linear" and ax.get_xlabel() == "p"
    assert not [other for other in ax.get_lines() if other.get_linestyle() == "--"]


def test_arguments_are_validated(ax, results):
    with pytest.raises(ValueError, match="keys"):
        plot_sweep(ax, results, {})
    with pytest.raises(ValueError, match="reference"):
        plot_sweep(ax, results, {"acc": "accuracy"}, reference=0.5)
    with pytest.raises(ValueError, match="besides the reference"):
        plot_sweep(ax, {0.0: results[0.0]}, {"acc": "accuracy"}, reference=0.0)
