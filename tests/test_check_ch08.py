"""Checkers of exercises/08_augmentation.ipynb: the reference passes, every named mistake is caught."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reglib import augment, check
from reglib.linear import ridge

# --------------------------------------------------------------------------- random_shift


def ref_shift(x, max_shift, generator=None):
    return augment.random_shift(x, max_shift, generator)


def _per_sample_roll(x, shifts):
    return torch.stack([torch.roll(row, int(s), dims=-1) for row, s in zip(x, shifts)])


def loop_shift(x, max_shift, generator=None):
    """A correct student version: one torch.roll per sample."""
    shifts = torch.randint(-max_shift, max_shift + 1, (len(x),), generator=generator)
    return _per_sample_roll(x, shifts)


def same_shift_for_all(x, max_shift, generator=None):
    s = int(torch.randint(-max_shift, max_shift + 1, (1,), generator=generator))
    return torch.roll(x, s, dims=-1)


def batch_axis(x, max_shift, generator=None):
    shifts = torch.randint(-max_shift, max_shift + 1, (len(x),), generator=generator)
    return x[(torch.arange(len(x)) - shifts) % len(x)]


def zero_filled(x, max_shift, generator=None):
    return augment.random_shift(x, max_shift, generator, mode="zeros")


def non_negative(x, max_shift, generator=None):
    return _per_sample_roll(x, torch.randint(0, max_shift + 1, (len(x),), generator=generator))


def exclusive_high(x, max_shift, generator=None):
    return _per_sample_roll(x, torch.randint(-max_shift, max(max_shift, 1), (len(x),), generator=generator))


def too_far(x, max_shift, generator=None):
    return _per_sample_roll(x, torch.randint(-max_shift - 2, max_shift + 3, (len(x),), generator=generator))


def global_rng(x, max_shift, generator=None):
    return _per_sample_roll(x, torch.randint(-max_shift, max_shift + 1, (len(x),)))


def per_row(x, max_shift, generator=None):
    flat = x.reshape(-1, x.shape[-1])
    return loop_shift(flat, max_shift, generator).reshape(x.shape)


def in_place(x, max_shift, generator=None):
    x.copy_(loop_shift(x, max_shift, generator))
    return x


@pytest.mark.parametrize("candidate", [ref_shift, loop_shift])
def test_random_shift_accepts_correct_versions(candidate, capsys):
    check.random_shift(candidate)
    assert "✔ random_shift" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, hint", [
    (same_shift_for_all, "same amount"),
    (batch_axis, "batch axis"),
    (zero_filled, "circular"),
    (non_negative, "same sign"),
    (exclusive_high, "exclusive"),
    (too_far, "with max_shift=3"),
    (global_rng, "identically seeded generators"),
    (per_row, "channels of one sample were shifted by different amounts"),
    (in_place, "modified its input"),
])
def test_random_shift_names_the_mistake(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.random_shift(candidate)


@pytest.mark.parametrize("candidate, hint", [
    (lambda x, s, g=None: (_ for _ in ()).throw(NotImplementedError()), "not implemented"),
    (lambda x, s, g=None: torch.full_like(x, float("nan")), "NaN"),
    (lambda x, s, g=None: x[:, :-1], "shape"),
    (lambda x, s, g=None: None, "forget `return`"),
])
def test_random_shift_rejects_broken_candidates(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.random_shift(candidate)


# --------------------------------------------------------------------------- cutout


def ref_cutout(x, size, generator=None):
    return augment.cutout(x, size, generator)


def _windows(x, lo, hi):
    """Zero positions [lo[n], hi[n]) of sample n in every channel."""
    pos = torch.arange(x.shape[-1])
    mask = (pos >= lo[:, None]) & (pos < hi[:, None])
    return x.masked_fill(mask[:, None, :], 0)


def loop_cutout(x, size, generator=None):
    """A correct student version with a loop and slicing."""
    out = x.clone()
    centres = torch.randint(0, x.shape[-1], (len(x),), generator=generator)
    for n, c in enumerate(centres.tolist()):
        lo = c - size // 2
        out[n, :, max(lo, 0):max(lo + size, 0)] = 0
    return out


def per_channel(x, size, generator=None):
    n, c, length = x.shape
    flat = augment.cutout(x.reshape(n * c, 1, length), size, generator)
    return flat.reshape(n, c, length)


def always_inside(x, size, generator=None):
    centres = torch.randint(size // 2, x.shape[-1] - size // 2 + 1, (len(x),), generator=generator)
    return _windows(x, centres - size // 2, centres - size // 2 + size)


def wrapping(x, size, generator=None):
    length = x.shape[-1]
    centres = torch.randint(0, length, (len(x),), generator=generator)
    idx = (centres[:, None] - size // 2 + torch.arange(size)) % length
    mask = torch.zeros(len(x), length, dtype=torch.bool)
    mask[torch.arange(len(x))[:, None], idx] = True
    return x.masked_fill(mask[:, None, :], 0)


def mutating(x, size, generator=None):
    x.copy_(augment.cutout(x, size, generator))
    return x


def rescaling(x, size, generator=None):
    return augment.cutout(x, size, generator) * (x.shape[-1] / (x.shape[-1] - size))


def one_window(x, size, generator=None):
    c = int(torch.randint(0, x.shape[-1], (1,), generator=generator))
    lo = torch.full((len(x),), c - size // 2).clamp(min=0)
    return _windows(x, lo, torch.full((len(x),), c - size // 2 + size).clamp(min=0))


def one_too_long(x, size, generator=None):
    centres = torch.randint(0, x.shape[-1], (len(x),), generator=generator)
    return _windows(x, (centres - size // 2).clamp(min=0), (centres - size // 2 + size + 1).clamp(min=0))


def cutout_global_rng(x, size, generator=None):
    return augment.cutout(x, size)


@pytest.mark.parametrize("candidate", [ref_cutout, loop_cutout])
def test_cutout_accepts_correct_versions(candidate, capsys):
    check.cutout(candidate)
    assert "✔ cutout" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, hint", [
    (per_channel, "not shared across channels"),
    (always_inside, "never clipped at the border"),
    (wrapping, "wraps around"),
    (mutating, "modified its input"),
    (rescaling, "rescaled"),
    (one_window, "same window"),
    (one_too_long, "off-by-one"),
    (cutout_global_rng, "identically seeded generators"),
])
def test_cutout_names_the_mistake(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.cutout(candidate)


@pytest.mark.parametrize("candidate, hint", [
    (lambda x, s, g=None: (_ for _ in ()).throw(NotImplementedError()), "not implemented"),
    (lambda x, s, g=None: x * float("nan"), "NaN"),
    (lambda x, s, g=None: x[:, 0], "shape"),
])
def test_cutout_rejects_broken_candidates(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.cutout(candidate)


# --------------------------------------------------------------------------- noise = ridge


def ref_noisy(X, y, sigma, n_copies, seed):
    rng = np.random.default_rng(seed)
    XK = np.concatenate([X + sigma * rng.standard_normal(X.shape) for _ in range(n_copies)])
    return np.linalg.lstsq(XK, np.tile(y, n_copies), rcond=None)[0]


def noise_on_targets(X, y, sigma, n_copies, seed):
    rng = np.random.default_rng(seed)
    yK = np.concatenate([y + sigma * rng.standard_normal(y.shape) for _ in range(n_copies)])
    return np.linalg.lstsq(np.tile(X, (n_copies, 1)), yK, rcond=None)[0]


def variance_as_std(X, y, sigma, n_copies, seed):
    return ref_noisy(X, y, sigma**2, n_copies, seed)


def one_noise(X, y, sigma, n_copies, seed):
    E = sigma * np.random.default_rng(seed).standard_normal(X.shape)
    return np.linalg.lstsq(np.tile(X + E, (n_copies, 1)), np.tile(y, n_copies), rcond=None)[0]


def test_noisy_least_squares_accepts_reference(capsys):
    check.noisy_least_squares(ref_noisy)
    assert "✔ noisy_least_squares" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, hint", [
    (noise_on_targets, "plain least squares"),
    (variance_as_std, "standard deviation sigma\\*\\*2"),
    (one_noise, "fresh noise"),
    (lambda X, y, s, k, seed: ridge(X, y, 10.0), "away|with sigma=0"),
    (lambda X, y, s, k, seed: (_ for _ in ()).throw(NotImplementedError()), "not implemented"),
    (lambda X, y, s, k, seed: np.full(X.shape[1], np.nan), "NaN"),
    (lambda X, y, s, k, seed: np.zeros(3), "shape"),
])
def test_noisy_least_squares_names_the_mistake(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.noisy_least_squares(candidate)


def test_noisy_least_squares_rejects_mutation():
    def mutating(X, y, sigma, n_copies, seed):
        X += 0.0 * X + sigma
        return ref_noisy(X, y, sigma, n_copies, seed)

    with pytest.raises(AssertionError, match="modified its input"):
        check.noisy_least_squares(mutating)


def test_noise_ridge_data():
    X, y, sigma = check.noise_ridge_data()
    assert X.shape == (442, 10) and y.shape == (442,) and sigma == 0.05


def test_noise_alpha(capsys):
    n, sigma = 442, 0.05
    check.noise_alpha(1.12, n * sigma**2)
    assert "✔ noise_alpha" in capsys.readouterr().out
    for theory, hint in [(sigma**2, "mean"), (n * sigma, "squared"), (3.0, "derive")]:
        with pytest.raises(AssertionError, match=hint):
            check.noise_alpha(1.12, theory)
    with pytest.raises(AssertionError, match="not within 25 %"):
        check.noise_alpha(sigma**2, n * sigma**2)
    with pytest.raises(AssertionError, match="should return a number"):
        check.noise_alpha(np.ones(3), n * sigma**2)


def test_noise_alpha_requires_the_seeded_grid_value():
    """The task's computation (1000 copies, seed 0) is deterministic: its grid value passes, its neighbours one grid
    step away (within 25 % of n sigma^2, which the old check accepted) and a fit from 3 copies that lands on one of
    them are rejected with their own hint."""
    from reglib.check.ch08 import _noisy_fit

    X, y, sigma = check.noise_ridge_data()
    n = X.shape[0]
    alphas = np.geomspace(1e-3, 1e2, 101)
    check.noise_alpha(alphas[61], n * sigma**2)  # the seeded answer, 1.122
    for neighbour in (alphas[60], alphas[62]):
        with pytest.raises(AssertionError, match="1 grid step away .* 1000 copies and seed 0"):
            check.noise_alpha(neighbour, n * sigma**2)
    w3 = _noisy_fit(X, y, sigma, 3, 0)  # seed 0 with 3 copies lands off the seeded grid value
    few = alphas[int(np.argmin([np.linalg.norm(ridge(X, y, a) - w3) for a in alphas]))]
    assert few != alphas[61] and abs(few / (n * sigma**2) - 1) < 0.25
    with pytest.raises(AssertionError, match="grid step"):
        check.noise_alpha(few, n * sigma**2)


# --------------------------------------------------------------------------- conceptual questions


def test_conceptual_answers(capsys):
    check.answer("08.digit_label_preserving", {"a", "b", "e"})
    check.answer("08.digit_label_preserving", ["e", "b", "a"])
    check.answer("08.augment_which_splits", "a")
    assert capsys.readouterr().out.count("✔") == 3
    with pytest.raises(AssertionError, match="mirrored"):
        check.answer("08.digit_label_preserving", {"a", "b", "c", "e"})
    with pytest.raises(AssertionError, match="6 into a 9"):
        check.answer("08.digit_label_preserving", {"a", "b", "d", "e"})
    with pytest.raises(AssertionError, match="vertical flip .* mirrored 9"):
        check.answer("08.digit_label_preserving", {"a", "b", "e", "f"})
    with pytest.raises(AssertionError, match="180° rotation .* vertical flip"):
        check.answer("08.digit_label_preserving", {"a", "b", "d", "e", "f"})
    with pytest.raises(AssertionError, match="no answer yet"):
        check.answer("08.digit_label_preserving", None)
    with pytest.raises(AssertionError, match="deploy"):
        check.answer("08.augment_which_splits", "c")


# --------------------------------------------------------------------------- issue: mistakes the fixed inputs missed
# Wrong answers written from the task text alone; each must be rejected with the hint that names it.


def _shift_by(x, shifts):
    length = x.shape[-1]
    source = (torch.arange(length) - shifts[:, None]) % length
    if x.ndim == 3:
        source = source[:, None, :].expand(-1, x.shape[1], -1)
    return x.gather(-1, source)


def rounded_uniform(x, max_shift, generator=None):
    """A rounded continuous draw: the end values -S and +S come up half as often."""
    s = (torch.rand(len(x), generator=generator) * 2 * max_shift - max_shift).round().long()
    return _shift_by(x, s)


def returns_input_when_zero(x, max_shift, generator=None):
    return x if max_shift == 0 else ref_shift(x, max_shift, generator)


def reversed_direction(x, max_shift, generator=None):
    return _shift_by(x, -torch.randint(-max_shift, max_shift + 1, (len(x),), generator=generator))


def _cut_from_centre(x, centre, size, end=None):
    length = x.shape[-1]
    lo = (centre - size // 2).clamp(0, length)
    hi = (centre - size // 2 + size if end is None else end(centre, size)).clamp(0, length)
    position = torch.arange(length)
    return x.masked_fill(((position >= lo[:, None]) & (position < hi[:, None]))[:, None, :], 0)


def centre_never_last(x, size, generator=None):
    return _cut_from_centre(x, torch.randint(0, x.shape[-1] - 1, (len(x),), generator=generator), size)


def centre_from_one(x, size, generator=None):
    return _cut_from_centre(x, torch.randint(1, x.shape[-1] + 1, (len(x),), generator=generator), size)


def odd_size_one_short(x, size, generator=None):
    """Ends at centre + size // 2 (exclusive): right for even sizes, one short for odd ones."""
    return _cut_from_centre(x, torch.randint(0, x.shape[-1], (len(x),), generator=generator), size,
                            end=lambda c, s: c + s // 2)


def window_from_size_minus_one(x, size, generator=None):
    """Starts the window at centre - (size - 1) // 2: one position late for even sizes."""
    centre = torch.randint(0, x.shape[-1], (len(x),), generator=generator)
    return _cut_from_centre(x, centre + (size // 2 - (size - 1) // 2), size)


def averages_separate_fits(X, y, sigma, n_copies, seed):
    rng = np.random.default_rng(seed)
    return np.mean([np.linalg.lstsq(X + sigma * rng.standard_normal(X.shape), y, rcond=None)[0]
                    for _ in range(n_copies)], axis=0)


def cutout_returns_input_when_zero(x, size, generator=None):
    return x if size == 0 else ref_cutout(x, size, generator)


def noisy_global_rng(X, y, sigma, n_copies, seed):
    stacked = np.concatenate([X + sigma * np.random.standard_normal(X.shape) for _ in range(n_copies)])
    return np.linalg.lstsq(stacked, np.tile(y, n_copies), rcond=None)[0]


def closed_form_ridge(X, y, sigma, n_copies, seed):
    return ridge(X, y, X.shape[0] * sigma**2)


def repeated_targets(X, y, sigma, n_copies, seed):
    rng = np.random.default_rng(seed)
    stacked = np.concatenate([X + sigma * rng.standard_normal(X.shape) for _ in range(n_copies)])
    return np.linalg.lstsq(stacked, np.repeat(y, n_copies), rcond=None)[0]


def repeated_targets_other_draws(X, y, sigma, n_copies, seed):
    noise = np.random.default_rng(seed).standard_normal((X.shape[1], X.shape[0] * n_copies)).T
    return np.linalg.lstsq(np.tile(X, (n_copies, 1)) + sigma * noise, np.repeat(y, n_copies), rcond=None)[0]


def one_noise_other_draws(X, y, sigma, n_copies, seed):
    noise = np.random.default_rng(seed + 1000).standard_normal(X.shape)
    return np.linalg.lstsq(np.tile(X + sigma * noise, (n_copies, 1)), np.tile(y, n_copies), rcond=None)[0]


def other_draw_order(X, y, sigma, n_copies, seed):
    """Correct, with the noise drawn in another layout: not the task's exact numbers, equally valid."""
    noise = np.random.default_rng(seed).standard_normal((X.shape[1], X.shape[0] * n_copies)).T
    return np.linalg.lstsq(np.tile(X, (n_copies, 1)) + sigma * noise, np.tile(y, n_copies), rcond=None)[0]


def all_at_once_normal_equations(X, y, sigma, n_copies, seed):
    A = (X[None] + sigma * np.random.default_rng(seed).standard_normal((n_copies,) + X.shape)).reshape(-1, X.shape[1])
    return np.linalg.solve(A.T @ A, A.T @ np.tile(y, n_copies))


@pytest.mark.parametrize("checker, candidate, hint", [
    ("random_shift", rounded_uniform, "end values come up about half as often"),
    ("random_shift", returns_input_when_zero, "returned `x` itself"),
    ("random_shift", reversed_direction, "move the wrong way"),
    ("cutout", centre_never_last, "no window was centred at L - 1"),
    ("cutout", centre_from_one, "outside the signal"),
    ("cutout", window_from_size_minus_one, "size - 1\\) // 2"),
    ("noisy_least_squares", averages_separate_fits, "averaged the weights"),
    ("cutout", odd_size_one_short, "with size=5 a window away from the border covers 4 positions"),
    ("cutout", cutout_returns_input_when_zero, "returned `x` itself"),
    ("noisy_least_squares", noisy_global_rng, "same seed gave different weights"),
    ("noisy_least_squares", closed_form_ridge, "closed-form ridge solution"),
    ("noisy_least_squares", repeated_targets, "np.tile"),
    ("noisy_least_squares", repeated_targets_other_draws, "np.tile"),
    ("noisy_least_squares", one_noise_other_draws, "fresh noise"),
])
def test_augmentation_mistakes_found_by_new_inputs(checker, candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        getattr(check, checker)(candidate)


@pytest.mark.parametrize("candidate", [other_draw_order, all_at_once_normal_equations])
def test_noisy_least_squares_accepts_other_ways_of_drawing(candidate):
    check.noisy_least_squares(candidate)


# --------------------------------------------------------------------------- property-based (hypothesis)

PROP = settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@PROP
@given(method=st.sampled_from(["offset", "multinomial", "loop"]), missing=st.integers(-3, 3))
def test_random_shift_properties(method, missing):
    def correct(x, max_shift, generator=None):
        n, k = len(x), 2 * max_shift + 1
        if method == "offset":
            s = torch.randint(0, k, (n,), generator=generator) - max_shift
        elif method == "multinomial":
            s = torch.multinomial(torch.ones(k), n, replacement=True, generator=generator) - max_shift
        else:
            s = torch.tensor([int(torch.randint(-max_shift, max_shift + 1, (1,), generator=generator))
                              for _ in range(n)])
        return _shift_by(x, s)

    check.random_shift(correct)

    def never_draws_one_value(x, max_shift, generator=None):
        values = [v for v in range(-max_shift, max_shift + 1) if v != missing] or [0]
        pick = torch.randint(0, len(values), (len(x),), generator=generator)
        return _shift_by(x, torch.tensor(values)[pick])

    with pytest.raises(AssertionError):
        check.random_shift(never_draws_one_value)


@PROP
@given(kind=st.sampled_from(["offset", "longer", "shorter", "no_ends", "one_channel"]), k=st.integers(1, 3))
def test_cutout_properties(kind, k):
    check.cutout(loop_cutout)

    def broken(x, size, generator=None):
        length = x.shape[-1]
        if kind == "no_ends":
            centre = torch.randint(k, length - k, (len(x),), generator=generator)
        else:
            centre = torch.randint(0, length, (len(x),), generator=generator)
        if kind == "offset":
            centre = centre + k
        if kind in ("longer", "shorter"):
            delta = k if kind == "longer" else -min(k, size - 1)
            out = _cut_from_centre(x, centre, size, end=lambda c, s: c - s // 2 + s + delta)
        else:
            out = _cut_from_centre(x, centre, size)
        if kind == "one_channel" and size:
            out[0, -1] = x[0, -1]
        return out

    with pytest.raises(AssertionError):
        check.cutout(broken)


@settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(factor=st.floats(1.5, 3.0))
def test_noisy_least_squares_properties(factor):
    with pytest.raises(AssertionError):
        check.noisy_least_squares(lambda X, y, s, k, seed: ref_noisy(X, y, s * factor, k, seed))
