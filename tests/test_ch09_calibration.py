"""Chapter 09's helpers in reglib: the ECE floor, the reliability and confidence figures, gradient descent on free
logits, and the figure of one mixup / cutmix pair."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from reglib.augment import plot_mixed_pair  # noqa: E402
from reglib.interactive import optimal_logit_gap  # noqa: E402
from reglib.losses import descend_free_logits  # noqa: E402
from reglib.metrics import (confidence_histogram, ece_floor, expected_calibration_error,  # noqa: E402
                            reliability_diagram, reliability_diagrams)


def _probs(n=500, k=10, seed=0, scale=2.5):
    return (scale * torch.randn(n, k, generator=torch.Generator().manual_seed(seed))).softmax(1)


# --------------------------------------------------------------------------- ece_floor


def test_ece_floor_is_the_ece_against_labels_drawn_from_the_probabilities():
    probs = _probs()
    floors = ece_floor(probs, n_draws=25, generator=torch.Generator().manual_seed(3))
    draws = torch.multinomial(probs.double(), 25, replacement=True, generator=torch.Generator().manual_seed(3))
    expected = [expected_calibration_error(probs, draws[:, d]) for d in range(25)]
    assert isinstance(floors, np.ndarray) and floors.shape == (25,)
    np.testing.assert_allclose(floors, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_bins", [1, 5, 15])
def test_ece_floor_agrees_with_the_ece_for_any_number_of_bins(n_bins):
    probs = _probs(200, 4, seed=1)
    floors = ece_floor(probs, n_draws=5, n_bins=n_bins, generator=torch.Generator().manual_seed(0))
    draws = torch.multinomial(probs.double(), 5, replacement=True, generator=torch.Generator().manual_seed(0))
    for d in range(5):
        assert floors[d] == pytest.approx(expected_calibration_error(probs, draws[:, d], n_bins), abs=1e-12)


def test_ece_floor_is_positive_and_shrinks_with_more_samples():
    small = ece_floor(_probs(250), n_draws=100, generator=torch.Generator().manual_seed(0)).mean()
    large = ece_floor(_probs(4000), n_draws=100, generator=torch.Generator().manual_seed(0)).mean()
    assert 0 < large < small


def test_ece_floor_of_certain_predictions_is_zero():
    probs = torch.nn.functional.one_hot(torch.arange(30) % 3, 3).double()
    assert ece_floor(probs, n_draws=10).max() == pytest.approx(0.0, abs=1e-12)


def test_ece_floor_is_reproducible_with_a_generator():
    a = ece_floor(_probs(), 10, generator=torch.Generator().manual_seed(7))
    b = ece_floor(_probs(), 10, generator=torch.Generator().manual_seed(7))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, match", [({"n_draws": 0}, "n_draws"), ({"n_bins": 0}, "n_bins")])
def test_ece_floor_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ece_floor(_probs(), **kwargs)
    with pytest.raises(ValueError, match="probs"):
        ece_floor(torch.rand(5))


# --------------------------------------------------------------------------- figures


def test_reliability_diagram_returns_the_ece_and_draws_the_filled_bins():
    probs, y = _probs(), torch.randint(0, 10, (500,), generator=torch.Generator().manual_seed(1))
    fig, ax = plt.subplots()
    ece = reliability_diagram(ax, probs, y, "title", min_count=1)
    assert ece == pytest.approx(expected_calibration_error(probs, y))
    assert f"ECE = {ece:.3f}" in ax.get_title()
    assert len(ax.containers) == 2  # accuracy bars and gap boxes
    plt.close(fig)


def test_reliability_diagrams_draws_one_panel_per_entry():
    probs, y = _probs(), torch.randint(0, 10, (500,), generator=torch.Generator().manual_seed(1))
    fig = reliability_diagrams({"a": probs, "b": probs.flip(1), "c": probs}, y, "row")
    assert len(fig.axes) == 3 and [ax.get_title().splitlines()[0] for ax in fig.axes] == ["a", "b", "c"]
    assert fig._suptitle.get_text() == "row"
    plt.close(fig)


def test_confidence_histogram_counts_every_sample_once():
    probs, y = _probs(), torch.randint(0, 10, (500,), generator=torch.Generator().manual_seed(1))
    fig, ax = plt.subplots()
    confidence_histogram(ax, probs, y)
    heights = [sum(p.get_height() for p in container) for container in ax.containers]
    right = int((probs.argmax(1) == y).sum())
    assert heights == [right, 500 - right]
    plt.close(fig)


def test_plot_mixed_pair_draws_three_signals_and_the_window():
    x = torch.arange(40.0)
    fig, ax = plt.subplots()
    plot_mixed_pair(ax, x, -x, 0 * x, 1, 2, "mix", "pair", window=(5, 15))
    assert len(ax.lines) == 3 and len(ax.patches) == 1
    assert "10 of 40" in ax.get_legend().get_texts()[0].get_text()
    plt.close(fig)


# --------------------------------------------------------------------------- free logits (eq. 3a, 3b)


@pytest.mark.parametrize("eps", [0.05, 0.1, 0.5])
def test_descend_free_logits_converges_to_the_optimal_gap(eps):
    gaps = descend_free_logits(eps, 3000, num_classes=10)
    assert gaps.shape == (3000,)
    assert gaps[-1] == pytest.approx(optimal_logit_gap(eps, 10), abs=1e-6)


def test_descend_free_logits_without_smoothing_grows_like_log_t():
    gaps = descend_free_logits(0.0, 3000, num_classes=10)
    assert (np.diff(gaps) > 0).all()
    rise = np.diff(gaps[[29, 299, 2999]])
    assert rise[1] / rise[0] == pytest.approx(1, abs=0.2)


def test_descend_free_logits_first_step_is_the_gradient_3a():
    # from z = 0, p is uniform: one step of lr moves the true logit by lr (q_0 - 1/K) and the others by lr (q_k - 1/K)
    eps, k, lr = 0.2, 5, 0.5
    gap = descend_free_logits(eps, 1, num_classes=k, lr=lr)[0]
    q_true, q_other = 1 - eps + eps / k, eps / k
    assert gap == pytest.approx(lr * (q_true - q_other))
    assert math.isfinite(gap)


@pytest.mark.parametrize("kwargs", [{"eps": 1.5, "steps": 3}, {"eps": 0.1, "steps": 0},
                                    {"eps": 0.1, "steps": 3, "num_classes": 1}, {"eps": 0.1, "steps": 3, "lr": 0}])
def test_descend_free_logits_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        descend_free_logits(**kwargs)


# --------------------------------------------------------------------------- shown sources


@pytest.mark.parametrize("name", ["losses.smooth_labels", "losses.cross_entropy", "losses.fit_temperature",
                                  "losses.descend_free_logits", "losses.symmetric_label_noise",
                                  "interactive.optimal_logit_gap", "metrics.calibration_bins",
                                  "metrics.expected_calibration_error", "metrics.ece_floor"])
def test_shown_source_defines_every_name_it_uses(name):
    # the chapter shows these with show_source, which leaves the argument checks out: the lines that remain
    # must not use a name that only a hidden check binds (e.g. `eps = check_probability("smoothing", smoothing)`)
    import ast
    import builtins
    import importlib

    from reglib.experiment import source_without_checks

    module_name, func_name = name.split(".")
    module = importlib.import_module(f"reglib.{module_name}")
    func = getattr(module, func_name)
    source, _ = source_without_checks(func)
    tree = ast.parse(source)
    defined = set(dir(builtins)) | set(vars(module))
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.FunctionDef):
            defined.add(node.name)
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    assert used <= defined, f"{name} shows code that uses {sorted(used - defined)} without defining it"
