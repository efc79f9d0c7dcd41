"""reglib.interactive: static figures without a kernel, widgets that redraw, the closed forms they draw."""

import math

import ipywidgets
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from reglib import interactive
from reglib.data import load_diabetes
from reglib.linear import lasso, ridge_shrinkage
from reglib.losses import smooth_labels


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes()


def _check_figure(fig):
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert len(axes) >= 2
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title(), "labelled axes and a title"
    fig.canvas.draw()  # renders without a kernel or pyplot
    return axes


def test_ridge_shrinkage_figure(diabetes):
    X, _, _ = diabetes
    axes = _check_figure(interactive.ridge_shrinkage_figure(X, 0.1))
    df = ridge_shrinkage(X, 0.1).sum()
    assert f"df(α) = {df:.2f}" in axes[1].get_title()
    heights = [bar.get_height() for bar in axes[1].patches]
    np.testing.assert_allclose(heights, ridge_shrinkage(X, 0.1))
    _check_figure(interactive.ridge_shrinkage_figure(X, 0.0))
    _check_figure(interactive.ridge_shrinkage_figure(X, 1e3))


def test_lasso_figure_counts_the_nonzero_coefficients(diabetes):
    X, y, names = diabetes
    for alpha in (0.3, 0.05):
        axes = _check_figure(interactive.lasso_figure(X, y, alpha, names))
        nonzero = int((lasso(X, y, alpha) != 0).sum())
        assert axes[0].get_title().startswith(f"{nonzero} of 10 features nonzero")


def test_optimal_logit_gap_is_where_softmax_equals_the_smoothed_target():
    for k in (2, 10):
        for eps in (0.01, 0.1, 0.5, 0.9):
            gap = interactive.optimal_logit_gap(eps, k)
            logits = torch.zeros(k, dtype=torch.float64)
            logits[0] = gap
            target = smooth_labels(torch.tensor(0), k, eps, dtype=torch.float64)
            torch.testing.assert_close(logits.softmax(0), target)
    assert interactive.optimal_logit_gap(0.0) == math.inf
    assert interactive.optimal_logit_gap(1.0) == 0.0
    assert abs(interactive.optimal_logit_gap(0.1, 10) - math.log(91)) < 1e-12


def test_label_smoothing_figure():
    axes = _check_figure(interactive.label_smoothing_figure(0.1))
    heights = [bar.get_height() for bar in axes[0].patches][10:]  # after the one-hot outline
    np.testing.assert_allclose(heights, [0.91] + [0.01] * 9)
    _check_figure(interactive.label_smoothing_figure(0.0, num_classes=3))


def test_label_smoothing_figure_legend_names_every_bar_colour():
    import matplotlib.colors as mcolors

    ax = interactive.label_smoothing_figure(0.1).get_axes()[0]
    filled = {mcolors.to_hex(bar.get_facecolor()) for bar in ax.patches
              if bar.get_fill() and bar.get_facecolor()[3] > 0}
    handles, labels = ax.get_legend_handles_labels()
    in_legend = {mcolors.to_hex(h.patches[0].get_facecolor()) for h in handles if h.patches[0].get_facecolor()[3] > 0}
    assert len(filled) == 2 and filled <= in_legend, (filled, in_legend, labels)


@pytest.mark.parametrize("make", [
    lambda X, y, names: interactive.ridge_shrinkage_explorer(X, alpha=0.1),
    lambda X, y, names: interactive.lasso_explorer(X, y, alpha=0.3, names=names),
    lambda X, y, names: interactive.label_smoothing_explorer(0.1),
], ids=["ridge_shrinkage", "lasso", "label_smoothing"])
def test_explorer_is_a_widget_that_redraws(make, diabetes):
    widget = make(*diabetes)
    assert isinstance(widget, ipywidgets.Widget)
    slider = widget.children[0]
    assert isinstance(slider, (ipywidgets.FloatSlider, ipywidgets.FloatLogSlider))
    first = widget.figure
    _check_figure(first)
    slider.value = slider.min if isinstance(slider, ipywidgets.FloatSlider) else 10 ** (slider.min + 0.5)
    assert widget.figure is not first, "moving the slider redraws the figure"
    _check_figure(widget.figure)


def test_show_displays_the_figure_in_batch_runs_and_the_widget_live(monkeypatch):
    monkeypatch.setenv("REGLIB_STATIC_FIGURES", "1")
    assert not interactive.live_frontend()
    shown = interactive.show(interactive.label_smoothing_figure, interactive.label_smoothing_explorer, 0.2)
    assert isinstance(shown, Figure)
    monkeypatch.delenv("REGLIB_STATIC_FIGURES")
    assert not interactive.live_frontend(), "no kernel here"
    monkeypatch.setattr(interactive, "live_frontend", lambda: True)
    shown = interactive.show(interactive.label_smoothing_figure, interactive.label_smoothing_explorer, 0.2)
    assert isinstance(shown, ipywidgets.Widget)


def test_arguments_are_validated(diabetes):
    X, y, _ = diabetes
    with pytest.raises(ValueError, match="alpha"):
        interactive.ridge_shrinkage_figure(X, -1.0)
    with pytest.raises(ValueError, match="alpha"):
        interactive.lasso_figure(X, y, 0.0)
    with pytest.raises(ValueError, match="alpha_range"):
        interactive.ridge_shrinkage_explorer(X, alpha_range=(1.0, 0.1))
    with pytest.raises(ValueError, match="eps"):
        interactive.label_smoothing_figure(1.5)
    with pytest.raises(ValueError, match="num_classes"):
        interactive.optimal_logit_gap(0.1, num_classes=1)
