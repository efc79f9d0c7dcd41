"""Chapter 08's helpers in reglib.augment: test-time augmentation with shifts and the figure helpers."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from reglib.augment import plot_draws, random_scale, shift_tta, show_images  # noqa: E402
from reglib.models import MLP  # noqa: E402


def _net(seed=0):
    torch.manual_seed(seed)
    return MLP(12, 4, hidden=(16,))


# --------------------------------------------------------------------------- shift_tta


def test_shift_tta_is_the_mean_softmax_over_shifted_copies():
    model, x = _net(), torch.randn(20, 12, generator=torch.Generator().manual_seed(1))
    expected = torch.stack([model(torch.roll(x, s, dims=-1)).softmax(1) for s in range(-2, 3)]).mean(0)
    torch.testing.assert_close(shift_tta(model, x, 2), expected)


def test_shift_tta_without_shifts_is_the_softmax_and_rows_sum_to_one():
    model, x = _net(), torch.randn(20, 12, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(shift_tta(model, x, 0), model(x).softmax(1))
    torch.testing.assert_close(shift_tta(model, x, 5).sum(1), torch.ones(20))


def test_shift_tta_of_a_shift_invariant_model_changes_nothing():
    class Pool(nn.Module):  # the class scores depend only on the mean of the signal: shift invariant
        def forward(self, x):
            return torch.stack([x.mean(-1), -x.mean(-1)], dim=1)

    x = torch.randn(10, 12, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(shift_tta(Pool(), x, 3), Pool()(x).softmax(1))


def test_shift_tta_uses_eval_mode_and_restores_the_mode():
    model = nn.Sequential(nn.Linear(12, 4), nn.Dropout(0.5))
    x = torch.randn(6, 12)
    model.train()
    first, second = shift_tta(model, x, 1), shift_tta(model, x, 1)
    torch.testing.assert_close(first, second)  # no dropout noise: eval mode
    assert model.training
    assert not shift_tta(model, x, 1).requires_grad


def test_shift_tta_rejects_a_negative_shift():
    with pytest.raises(ValueError, match="max_shift"):
        shift_tta(_net(), torch.randn(3, 12), -1)


# --------------------------------------------------------------------------- figures


def test_plot_draws_draws_the_original_and_every_copy():
    fig, ax = plt.subplots()
    plot_draws(ax, torch.zeros(40), torch.randn(3, 40), "shift")
    assert len(ax.lines) == 4 and ax.get_title() == "shift"
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), np.zeros(40))
    plt.close(fig)


def test_show_images_shows_one_image_per_axes_with_titles_and_colours():
    fig, axes = plt.subplots(1, 3)
    images = torch.rand(3, 1, 8, 8)
    show_images(axes, images, ["a", "b", "c"], ["red", "black", "blue"], ylabel="row")
    assert [ax.get_title() for ax in axes] == ["a", "b", "c"]
    assert axes[0].get_ylabel() == "row" and axes[2].title.get_color() == "blue"
    np.testing.assert_array_equal(axes[1].images[0].get_array(), images[1, 0].numpy())
    assert all(len(ax.get_xticks()) == 0 for ax in axes)
    plt.close(fig)


# --------------------------------------------------------------------------- eq. (3), moved from the chapter


def test_random_scale_is_eq_3_against_np_interp():
    """Chapter 08, eq. (3): a ramp r[t] = t in a second channel (both channels share one factor) recovers the
    factor f_n each signal drew (its slope at the centre is 1/f_n); the other channel must equal np.interp at
    c + (t - c)/f_n, which also repeats the end values."""
    x = torch.randn(64, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    length = x.shape[-1]
    ramp = torch.arange(length, dtype=torch.float64).expand(len(x), length)
    scaled = random_scale(torch.stack([ramp, x], dim=1), 0.2, torch.Generator().manual_seed(2))
    factor = 1 / (scaled[:, 0, length // 2] - scaled[:, 0, length // 2 - 1])
    assert ((factor > 0.8 - 1e-9) & (factor < 1.2 + 1e-9)).all()
    c = (length - 1) / 2
    for n in range(len(x)):
        source = c + (np.arange(length) - c) / factor[n].item()
        np.testing.assert_allclose(scaled[n, 1].numpy(), np.interp(source, np.arange(length), x[n].numpy()),
                                   atol=1e-9)
