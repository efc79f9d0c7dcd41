"""reglib.augment: mixup, cutmix, cutout, MNIST-1D and digit augmentations, the protocol (chapters 08-09)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from reglib.augment import (
    Affine, Augmentation, Compose, CutMix, Cutout, HFlip, Mixup, Noise, Scale, Shift, add_noise, affine,
    compose, cutmix, cutout, hflip, mixup, random_affine, random_scale, random_shift, sample_beta,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def positive(*shape, seed=0, dtype=torch.float32):
    """Random values in [1, 2): no zeros, so zeros mark exactly what an augmentation erased."""
    return 1 + torch.rand(*shape, generator=gen(seed), dtype=dtype)


def _partners(y_mix):
    """For y = arange(N) (one class per sample): λ_i = y_mix[i, i] and partner π(i)."""
    lam = y_mix.diagonal()
    off = y_mix.clone()
    off.fill_diagonal_(-1)
    partner = torch.where(lam < 1, off.argmax(dim=1), torch.arange(len(y_mix)))
    return lam, partner


# --------------------------------------------------------------------------- sample_beta


def test_sample_beta_moments_and_reproducibility():
    g = gen(1)
    alpha = 0.4
    draws = np.array([sample_beta(alpha, g) for _ in range(3000)])
    assert ((draws >= 0) & (draws <= 1)).all()
    assert draws.mean() == pytest.approx(0.5, abs=0.03)
    assert draws.var() == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.1)
    assert sample_beta(alpha, gen(5)) == sample_beta(alpha, gen(5))
    torch.manual_seed(3)
    first = sample_beta(1.0)
    torch.manual_seed(3)
    assert sample_beta(1.0) == first


# --------------------------------------------------------------------------- mixup


def test_mixup_one_lambda_per_batch_and_matching_convex_combination():
    n = 12
    x = torch.randn(n, 3, 5, generator=gen(0))
    y = torch.arange(n)
    x_mix, y_mix = mixup(x, y, alpha=1.0, num_classes=n, generator=gen(1))
    assert x_mix.shape == x.shape and y_mix.shape == (n, n)
    assert_close(y_mix.sum(dim=1), torch.ones(n))
    assert (y_mix >= 0).all()
    lam, partner = _partners(y_mix)
    mixed = lam < 1
    assert mixed.sum() >= 2  # only fixed points of the permutation keep their label
    assert_close(lam[mixed], lam[mixed][0].expand(int(mixed.sum())))  # one λ for the batch
    assert sorted(partner.tolist()) == list(range(n))  # the partners form a permutation
    lam_b = lam.view(n, 1, 1)
    assert_close(x_mix, lam_b * x + (1 - lam_b) * x[partner])  # the same λ mixes inputs and labels


def test_mixup_with_soft_labels_and_reproducible():
    x = torch.randn(8, 4, generator=gen(0))
    y = torch.softmax(torch.randn(8, 3, generator=gen(1)), dim=1)
    a = mixup(x, y, 0.5, 3, generator=gen(7))
    b = mixup(x, y, 0.5, 3, generator=gen(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert_close(a[1].sum(dim=1), torch.ones(8))
    # mixing soft labels is the same linear map as mixing their one-hot originals
    y_idx = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    _, y_from_idx = mixup(x, y_idx, 0.5, 3, generator=gen(7))
    _, y_from_onehot = mixup(x, F.one_hot(y_idx, 3).float(), 0.5, 3, generator=gen(7))
    assert_close(y_from_idx, y_from_onehot)


def test_mixup_with_tiny_alpha_returns_near_originals():
    n = 16
    x = torch.randn(n, 10, generator=gen(0))
    y = torch.arange(n)
    for seed in range(5):
        x_mix, y_mix = mixup(x, y, alpha=1e-5, num_classes=n, generator=gen(seed))
        nearest = torch.cdist(x_mix, x).min(dim=1)
        assert (nearest.values < 1e-3).all()
        assert_close(y_mix, F.one_hot(nearest.indices, n).float(), atol=1e-3, rtol=0)


def test_mixup_keeps_dtype_and_does_not_mutate():
    x = torch.randn(5, 2, dtype=torch.float64)
    before = x.clone()
    x_mix, y_mix = mixup(x, torch.tensor([0, 1, 0, 1, 1]), 2.0, 2, generator=gen())
    assert x_mix.dtype == y_mix.dtype == torch.float64
    assert torch.equal(x, before)


# --------------------------------------------------------------------------- cutmix


@pytest.mark.parametrize("shape", [(10, 30), (10, 2, 30), (10, 3, 8, 9)])
def test_cutmix_window_shared_by_batch_and_channels_and_label_weight_is_area(shape):
    n = shape[0]
    # sample i is constant i + 1 everywhere, so each entry tells which sample it came from
    x = (torch.arange(n, dtype=torch.float32) + 1).view(n, *[1] * (len(shape) - 1)).expand(shape).clone()
    y = torch.arange(n)
    for seed in range(6):
        x_mix, y_mix = cutmix(x, y, alpha=1.0, num_classes=n, generator=gen(seed))
        assert_close(y_mix.sum(dim=1), torch.ones(n))
        source = x_mix - 1  # index of the sample each entry was taken from
        pasted = source != torch.arange(n).view(n, *[1] * (len(shape) - 1))
        lam, partner = _partners(y_mix)
        moved = partner != torch.arange(n)
        if not moved.any():
            continue
        window = pasted[moved][0]
        if len(shape) >= 3:
            assert (window == window[:1]).all()  # same positions in every channel
            window = window[0]
        assert all(torch.equal(pasted[i][0] if len(shape) >= 3 else pasted[i], window) for i in range(n) if moved[i])
        spatial = window.numel()
        assert_close(lam[moved], torch.full((int(moved.sum()),), 1 - window.sum().item() / spatial))
        for i in torch.nonzero(moved).flatten().tolist():  # pasted from the partner π(i)
            assert (source[i][pasted[i]] == partner[i]).all()
        coords = torch.nonzero(window)
        if len(coords):  # the window is one contiguous interval / rectangle
            extent = (coords.max(dim=0).values - coords.min(dim=0).values + 1).prod()
            assert extent == len(coords)


def test_cutmix_label_weight_is_lambda_unless_the_window_is_clipped():
    # λ is the first draw from the generator, so sample_beta with the same seed recovers it;
    # clipping at the border only shrinks the window, so the kept fraction λ' is never below λ
    # (up to rounding the window's sides to whole pixels)
    x, y = torch.zeros(4, 1, 32, 32), torch.arange(4)
    for seed in range(40):
        _, y_mix = cutmix(x, y, 1.0, 4, generator=gen(seed))
        lam, kept = sample_beta(1.0, gen(seed)), y_mix[0, 0].item()
        assert kept >= lam - 0.05
    z = torch.zeros(4, 1, 200)  # 1-D: exact length round(L(1 - λ)) when the window fits
    hits = 0
    for seed in range(40):
        _, y_mix = cutmix(z, y, 1.0, 4, generator=gen(seed))
        lam, kept = sample_beta(1.0, gen(seed)), y_mix.diagonal().min().item()  # a sample with a partner
        if kept == 1.0 or kept > lam + 0.01:
            continue  # no partner, or a clipped window
        hits += 1
        assert kept == pytest.approx(1 - round(200 * (1 - lam)) / 200)
    assert hits >= 10


def test_cutmix_reproducible_and_soft_labels():
    x = torch.randn(6, 1, 8, 8)
    y = torch.softmax(torch.randn(6, 4), dim=1)
    a, b = cutmix(x, y, 0.7, 4, generator=gen(3)), cutmix(x, y, 0.7, 4, generator=gen(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert_close(a[1].sum(dim=1), torch.ones(6))


# --------------------------------------------------------------------------- cutout


def _check_cutout(x, out, size, centers=None):
    """Exactly one clipped window of zeros per sample, shared by every channel, nothing else changed."""
    spatial = x.shape[-1:] if x.ndim in (2, 3) else x.shape[-2:]
    zeros = out == 0
    assert torch.equal(out[~zeros], x[~zeros])  # nothing else changes
    for i in range(x.shape[0]):
        z = zeros[i]
        if x.ndim in (3, 4):
            assert (z == z[:1]).all()  # shared by all channels
            z = z[0]
        coords = torch.nonzero(z)
        if size == 0:
            assert len(coords) == 0
            continue
        assert len(coords) > 0
        lo, hi = coords.min(dim=0).values, coords.max(dim=0).values + 1
        assert (hi - lo).prod() == len(coords)  # one interval / rectangle
        assert ((hi - lo) <= size).all()
        # unclipped sides have exactly `size`; clipped sides touch the border
        for d, extent in enumerate(spatial):
            assert hi[d] - lo[d] == size or lo[d] == 0 or hi[d] == extent


@pytest.mark.parametrize("shape", [(50, 40), (50, 3, 40), (50, 2, 8, 8)])
@pytest.mark.parametrize("size", [0, 1, 4, 7])
def test_cutout_one_window_per_sample(shape, size):
    x = positive(*shape)
    before = x.clone()
    out = cutout(x, size, generator=gen(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(x, before)  # input unchanged
    assert out is not x
    _check_cutout(x, out, size)


def test_cutout_centres_are_uniform_over_all_positions_and_windows_clip():
    n, length = 8000, 10
    out = cutout(positive(n, length), 3, generator=gen(2))
    zeros = out == 0
    # a width-3 window centred at c zeros c-1, c, c+1: its middle zero is the centre unless clipped
    first = zeros.float().argmax(dim=1)
    count = zeros.sum(dim=1)
    centre = torch.where(count == 3, first + 1, torch.where(first == 0, torch.zeros_like(first), first + 1))
    freq = torch.bincount(centre, minlength=length).float() / n
    assert_close(freq, torch.full((length,), 1 / length), atol=0.02, rtol=0)
    assert (count[centre == 0] == 2).all() and (count[centre == length - 1] == 2).all()


def test_cutout_even_size_and_oversized_window():
    x = positive(200, 1, 12)
    _check_cutout(x, cutout(x, 4, generator=gen()), 4)
    assert (cutout(x, 100, generator=gen()) == 0).all()  # a window larger than twice the signal covers it all


def test_cutout_reproducible_with_generator_and_global_rng():
    x = positive(10, 2, 6, 6)
    assert torch.equal(cutout(x, 3, gen(4)), cutout(x, 3, gen(4)))
    assert not torch.equal(cutout(x, 3, gen(4)), cutout(x, 3, gen(5)))
    torch.manual_seed(0)
    a = cutout(x, 3)
    torch.manual_seed(0)
    assert torch.equal(a, cutout(x, 3))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), c=st.integers(1, 3), length=st.integers(1, 20), size=st.integers(0, 25),
       image=st.booleans(), seed=st.integers(0, 1000))
def test_cutout_property(n, c, length, size, image, seed):
    x = positive(n, c, length, max(1, length // 2), seed=seed) if image else positive(n, c, length, seed=seed)
    _check_cutout(x, cutout(x, size, generator=gen(seed)), size)


# --------------------------------------------------------------------------- MNIST-1D shifts, scales, noise


def test_circular_shift_preserves_values_and_stays_in_range():
    n, length, s = 300, 40, 5
    x = torch.randn(n, length, generator=gen(0))
    out = random_shift(x, s, generator=gen(1))
    assert_close(out.sort(dim=1).values, x.sort(dim=1).values, rtol=0, atol=0)  # same multiset per row
    impulse = torch.zeros(n, length)
    impulse[:, 20] = 1
    moved = random_shift(impulse, s, generator=gen(1)).argmax(dim=1) - 20
    assert moved.abs().max() <= s
    assert set(moved.tolist()) == set(range(-s, s + 1))  # every shift occurs
    assert torch.equal(random_shift(x, s, gen(1)), random_shift(x, s, gen(1)))


def test_circular_shift_is_a_roll_and_channels_move_together():
    x = torch.randn(20, 3, 15, generator=gen(0))
    out = random_shift(x, 4, generator=gen(2))
    for i in range(20):
        matches = [k for k in range(-4, 5) if torch.equal(out[i], torch.roll(x[i], k, dims=-1))]
        assert len(matches) == 1


def test_zero_shift_mode_fills_with_zeros():
    x = positive(100, 2, 12)
    out = random_shift(x, 3, generator=gen(3), mode="zeros")
    for i in range(100):
        k = [k for k in range(-3, 4) if torch.equal(out[i], _shift_zeros(x[i], k))]
        assert len(k) == 1
    assert torch.equal(random_shift(x, 0, mode="zeros"), x)
    assert torch.equal(random_shift(x, 0), x)


def _shift_zeros(signal, k):
    out = torch.zeros_like(signal)
    if k >= 0:
        out[..., k:] = signal[..., :signal.shape[-1] - k]
    else:
        out[..., :k] = signal[..., -k:]
    return out


def test_scale_zero_is_identity_and_factors_are_in_range():
    x = torch.randn(30, 1, 40, generator=gen(0))
    assert torch.equal(random_scale(x, 0.0, generator=gen(1)), x)
    # linear interpolation is exact on a line through the centre: out = (t - c) / f
    length, s = 41, 0.3
    c = (length - 1) / 2
    line = (torch.arange(length, dtype=torch.float64) - c).repeat(200, 1)
    out = random_scale(line, s, generator=gen(2), padding="zeros")
    inner = slice(14, 27)  # |t - c| <= 6 reads inside the signal for every f in [0.7, 1.3]
    inv_f = out[:, inner] / line[:, inner]
    inv_f = inv_f[:, ~torch.isnan(inv_f[0])]  # drop t = c
    assert_close(inv_f, inv_f[:, :1].expand_as(inv_f))  # one factor per sample
    f = 1 / inv_f[:, 0]
    assert (f >= 1 - s - 1e-12).all() and (f <= 1 + s + 1e-12).all()
    assert f.min() < 0.8 and f.max() > 1.2
    assert out.dtype == torch.float64


def test_scale_padding_modes():
    x = torch.ones(100, 30)
    assert torch.equal(random_scale(x, 0.5, generator=gen(0)), x)  # border keeps a constant constant
    out = random_scale(x, 0.5, generator=gen(0), padding="zeros")
    assert (out <= 1).all() and (out >= 0).all()
    assert (out[:, 10:20] == 1).all()  # the middle always reads inside the signal
    assert (out[:, 0] == 0).any()  # squeezed signals (f < 1) read zeros beyond their ends
    assert_close(out.flip(-1), out)  # stretched about the centre: symmetric
    assert torch.equal(random_scale(x, 0.5, gen(9)), random_scale(x, 0.5, gen(9)))


def test_add_noise_statistics():
    x = torch.zeros(200, 1, 50)
    out = add_noise(x, 0.3, generator=gen(0))
    assert out.std().item() == pytest.approx(0.3, rel=0.05)
    assert out.mean().item() == pytest.approx(0.0, abs=0.01)
    assert torch.equal(add_noise(x, 0.0), x)
    assert torch.equal(add_noise(x, 0.3, gen(1)), add_noise(x, 0.3, gen(1)))


# --------------------------------------------------------------------------- digit images


def test_affine_with_zero_shift_and_rotation_is_identity():
    x = torch.rand(10, 1, 8, 8, generator=gen(0))
    assert_close(random_affine(x, 0.0, 0.0, generator=gen(1)), x, atol=1e-6, rtol=0)
    x = torch.rand(3, 2, 5, 7, generator=gen(1))
    assert_close(affine(x, torch.zeros(3), torch.zeros(3, 2)), x, atol=1e-6, rtol=0)


def test_affine_directions_rotation_and_translation():
    x = torch.rand(2, 1, 6, 6, generator=gen(0))
    # 90 degrees counter-clockwise as displayed is torch.rot90 over (H, W)
    assert_close(affine(x, torch.full((2,), 90.0), torch.zeros(2, 2)), torch.rot90(x, 1, dims=(-2, -1)),
                 atol=1e-5, rtol=0)
    # one pixel right and two down, zeros coming in
    y = torch.rand(2, 1, 5, 7, generator=gen(1))
    expected = torch.zeros_like(y)
    expected[..., 2:, 1:] = y[..., :-2, :-1]
    assert_close(affine(y, torch.zeros(2), torch.tensor([[1.0, 2.0]] * 2)), expected, atol=1e-5, rtol=0)
    # a rotation on a non-square image keeps the centre pixel and is invertible up to interpolation
    z = torch.zeros(1, 1, 9, 15)
    z[..., 4, 7] = 1
    assert affine(z, torch.tensor([30.0]), torch.zeros(1, 2))[0, 0, 4, 7] == pytest.approx(1.0, abs=1e-5)


def test_random_affine_changes_images_within_budget_and_is_reproducible():
    x = torch.zeros(50, 1, 9, 9)
    x[..., 4, 4] = 1
    out = random_affine(x, 1.0, 15.0, generator=gen(2))
    assert out.shape == x.shape
    assert not torch.allclose(out, x)
    # the centre pixel only moves with the shift (≤ 1 per axis; bilinear resampling blurs it a little)
    ys, xs = torch.meshgrid(torch.arange(9.0), torch.arange(9.0), indexing="ij")
    mass = out[:, 0].sum(dim=(1, 2))
    cy, cx = (out[:, 0] * ys).sum(dim=(1, 2)) / mass, (out[:, 0] * xs).sum(dim=(1, 2)) / mass
    assert ((cy - 4).abs() <= 1.1).all() and ((cx - 4).abs() <= 1.1).all()
    assert torch.equal(random_affine(x, 1.0, 15.0, gen(3)), random_affine(x, 1.0, 15.0, gen(3)))


def test_hflip():
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(hflip(x)[..., 0], x[..., -1])
    assert torch.equal(hflip(hflip(x)), x)
    assert torch.equal(HFlip(p=1.0)(x, None, gen())[0], hflip(x))
    assert torch.equal(HFlip(p=0.0)(x, None, gen())[0], x)
    flipped = HFlip(0.5)(torch.rand(200, 1, 4, 4), None, gen())
    assert flipped[0].shape == (200, 1, 4, 4)


# --------------------------------------------------------------------------- protocol and classes


@pytest.mark.parametrize("aug, fn", [
    (Shift(3), lambda x, g: random_shift(x, 3, g)),
    (Shift(3, mode="zeros"), lambda x, g: random_shift(x, 3, g, mode="zeros")),
    (Scale(0.2), lambda x, g: random_scale(x, 0.2, g)),
    (Noise(0.1), lambda x, g: add_noise(x, 0.1, g)),
    (Cutout(4), lambda x, g: cutout(x, 4, g)),
])
def test_signal_augmentations_adapt_their_functions(aug, fn):
    x, y = torch.randn(8, 1, 20), torch.arange(8)
    out_x, out_y = aug(x, y, gen(5))
    assert torch.equal(out_x, fn(x, gen(5)))
    assert out_y is y
    assert isinstance(aug, Augmentation)
    assert type(aug).__name__ in repr(aug)


def test_image_and_label_mixing_augmentations_adapt_their_functions():
    x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 3, 4, 5]) % 3
    assert torch.equal(Affine(1.0, 10.0)(x, y, gen(1))[0], random_affine(x, 1.0, 10.0, gen(1)))
    for aug, fn in ((Mixup(0.4, 3), mixup), (CutMix(0.4, 3), cutmix)):
        a, b = aug(x, y, gen(2)), fn(x, y, 0.4, 3, gen(2))
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert "alpha=0.4" in repr(aug)


def test_compose_chains_in_order_and_labels_become_soft():
    x, y = torch.randn(10, 1, 20), torch.arange(10) % 4
    chain = compose(Shift(2), Noise(0.05), Mixup(0.2, 4))
    assert isinstance(chain, Compose) and isinstance(chain, Augmentation)
    out_x, out_y = chain(x, y, gen(3))
    g = gen(3)
    step_x, step_y = Shift(2)(x, y, g)
    step_x, step_y = Noise(0.05)(step_x, step_y, g)
    step_x, step_y = Mixup(0.2, 4)(step_x, step_y, g)
    assert torch.equal(out_x, step_x) and torch.equal(out_y, step_y)
    assert out_y.shape == (10, 4)
    # a second label mixer accepts the soft labels of the first
    _, twice = compose(Mixup(1.0, 4), CutMix(1.0, 4))(x, y, gen(4))
    assert_close(twice.sum(dim=1), torch.ones(10))
    assert compose()(x, y, gen()) == (x, y)
    assert "Shift" in repr(chain)


def test_fit_accepts_augmentations_with_soft_labels():
    train = pytest.importorskip("reglib.train")
    g = gen(0)
    x, y = torch.randn(64, 1, 16, generator=g), torch.randint(0, 3, (64,), generator=g)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    history = train.fit(model, (x, y), (x, y), epochs=2, batch_size=32, progress=False,
                        augment=compose(Shift(2), Cutout(3), Mixup(0.4, 3)))
    assert len(history) == 2 and math.isfinite(history.final["train_loss"])


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("call, name", [
    (lambda: mixup(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), 0.0, 2), "alpha"),
    (lambda: mixup(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), -1.0, 2), "alpha"),
    (lambda: mixup(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), 1.0, 0), "num_classes"),
    (lambda: mixup(torch.zeros(4, 2), torch.zeros(3, dtype=torch.long), 1.0, 2), "y"),
    (lambda: mixup(torch.zeros(4, 2), torch.zeros(4, 2, dtype=torch.long), 1.0, 2), "y"),
    (lambda: mixup(torch.zeros(4, 2), torch.tensor([0, 1, 2, 0]), 1.0, 2), "target"),
    (lambda: cutmix(torch.zeros(4, 2, 3), torch.zeros(4, dtype=torch.long), float("nan"), 2), "alpha"),
    (lambda: cutmix(torch.zeros(4, 2, 3), torch.zeros(4, dtype=torch.long), 1.0, -2), "num_classes"),
    (lambda: cutmix(torch.zeros(4), torch.zeros(4, dtype=torch.long), 1.0, 2), "x"),
    (lambda: sample_beta(0.0), "alpha"),
    (lambda: cutout(torch.zeros(2, 5), -1), "size"),
    (lambda: cutout(torch.zeros(2, 5), 2.5), "size"),
    (lambda: cutout(torch.zeros(5), 2), "x"),
    (lambda: cutout(torch.zeros(1, 1, 1, 2, 2), 2), "x"),
    (lambda: random_shift(torch.zeros(2, 5), -1), "max_shift"),
    (lambda: random_shift(torch.zeros(2, 5), 1.5), "max_shift"),
    (lambda: random_shift(torch.zeros(2, 5), 1, mode="reflect"), "mode"),
    (lambda: random_shift(torch.zeros(2, 1, 4, 4), 1), "x"),
    (lambda: random_scale(torch.zeros(2, 5), -0.1), "max_scale"),
    (lambda: random_scale(torch.zeros(2, 5), 1.0), "max_scale"),
    (lambda: random_scale(torch.zeros(2, 5), 0.1, padding="reflect"), "padding"),
    (lambda: random_scale(torch.zeros(2, 5, dtype=torch.long), 0.1), "x"),
    (lambda: add_noise(torch.zeros(2, 5), -0.1), "sigma"),
    (lambda: add_noise(torch.zeros(2, 5, dtype=torch.long), 0.1), "x"),
    (lambda: random_affine(torch.zeros(2, 1, 4, 4), -1.0, 0.0), "max_shift"),
    (lambda: random_affine(torch.zeros(2, 1, 4, 4), 1.0, 200.0), "max_rotation_deg"),
    (lambda: random_affine(torch.zeros(2, 1, 4, 4), 1.0, -5.0), "max_rotation_deg"),
    (lambda: random_affine(torch.zeros(2, 16), 1.0, 5.0), "x"),
    (lambda: affine(torch.zeros(2, 1, 4, 4), torch.zeros(3), torch.zeros(2, 2)), "angle_deg"),
    (lambda: hflip(torch.zeros(3)), "x"),
    (lambda: Shift(-2), "max_shift"),
    (lambda: Shift(2, mode="wrap"), "mode"),
    (lambda: Scale(1.5), "max_scale"),
    (lambda: Scale(0.1, padding="reflect"), "padding"),
    (lambda: Noise(-1.0), "sigma"),
    (lambda: Cutout(-3), "size"),
    (lambda: Affine(-1.0, 5.0), "max_shift"),
    (lambda: Affine(1.0, 181.0), "max_rotation_deg"),
    (lambda: HFlip(1.5), "p"),
    (lambda: Mixup(0.0, 10), "alpha"),
    (lambda: Mixup(0.2, 0), "num_classes"),
    (lambda: CutMix(-1.0, 10), "alpha"),
    (lambda: compose(Shift(1), "noise"), "augmentations"),
])
def test_bad_arguments_raise_value_errors_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()
