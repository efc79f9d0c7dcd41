"""Checkers for exercises/08_augmentation.ipynb (data augmentation and noise injection).

The augmentations are random, so the checkers test properties rather than values: every output row
of a shift must be a circular roll of its input row, the shifts must be drawn per sample and cover
``-S..S``, a cutout window must be one clipped window shared by all channels, and so on. Each
property that fails names the mistake that usually causes it.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data import load_diabetes
from ..linear import ridge
from ._core import call, expect_array, expect_scalar, expect_tensor, fail, hash_answer, passed, register_answers

__all__ = ["random_shift", "cutout", "noisy_least_squares", "noise_alpha", "noise_ridge_data"]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _distinct(*shape, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    """Gaussian values: all distinct, so a roll of a row is recognisable, and none is exactly 0."""
    return torch.randn(*shape, generator=_gen(seed), dtype=dtype)


# --------------------------------------------------------------------------- random_shift


def _roll_amounts(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """For rows ``(M, L)``: the shift ``s`` in ``(-L/2, L/2]`` with ``roll(x[m], s) == out[m]``, or a
    large sentinel where no roll matches."""
    length = x.shape[-1]
    match = torch.stack([(torch.roll(x, s, dims=-1) == out).all(-1) for s in range(length)])  # (L, M)
    amount = match.float().argmax(0)
    amount = torch.where(amount > length // 2, amount - length, amount)
    return torch.where(match.any(0), amount, torch.full_like(amount, 10**6))


def _zero_shift(x: torch.Tensor, s: int) -> torch.Tensor:
    """``x[t - s]`` with zeros where ``t - s`` falls outside the signal (last axis)."""
    out = torch.zeros_like(x)
    if s >= 0:
        out[..., s:] = x[..., :x.shape[-1] - s]
    else:
        out[..., :s] = x[..., -s:]
    return out


def _diagnose_not_rolled(name, x2, out2, max_shift):
    """Rows of ``out2`` that are no roll of their ``x2`` row: say what they are instead."""
    zero_filled = torch.zeros(len(x2), dtype=torch.bool)
    for s in range(-max_shift, max_shift + 1):
        if s:
            zero_filled |= (_zero_shift(x2, s) == out2).all(-1)
    if zero_filled.any():
        fail(f"`{name}`: the vacated positions are filled with zeros; the shift must be circular — what falls off "
             "one end comes back at the other (torch.roll, or indices taken modulo L), as MNIST-1D's own "
             "translation does")
    same_row = (out2[:, None, :] == x2[None, :, :]).all(-1)  # out row n equals input row m
    if (same_row.any(1) & ~same_row.diagonal()).any():
        fail(f"`{name}`: output rows are other samples' input rows: you shifted along the batch axis (dim 0). "
             "Shift along time, the last axis (dims=-1)")
    fail(f"`{name}`: each output row must be its input row rolled in time by some s with |s| <= max_shift; "
         "some rows are not")


def random_shift(candidate) -> None:
    """``candidate(x, max_shift, generator) -> x_shifted``: circular shift per sample, ``s ~ U{-S..S}``."""
    name = "random_shift"
    x = _distinct(64, 40)
    out = expect_tensor(call(candidate, x, 3, _gen(0), name=name), name, shape=x.shape, dtype=x.dtype)
    amounts = _roll_amounts(x, out)
    if (amounts == 10**6).any():
        _diagnose_not_rolled(name, x, out, 3)
    if (amounts.abs() > 3).any():
        fail(f"`{name}`: a shift of {int(amounts.abs().max())} samples with max_shift=3; draw s from -S..S")
    if (amounts == amounts[0]).all():
        fail(f"`{name}`: every sample was shifted by the same amount ({int(amounts[0])}); draw one shift per sample "
             "(a tensor of N random integers) so the batch covers many positions")

    # channels of one sample move together
    x3 = _distinct(32, 2, 40, seed=1)
    out3 = expect_tensor(call(candidate, x3, 3, _gen(1), name=name), name, shape=x3.shape, dtype=x3.dtype)
    per_channel = _roll_amounts(x3.reshape(-1, 40), out3.reshape(-1, 40)).view(32, 2)
    if (per_channel == 10**6).any():
        same_channel = (out3[:, :, None, :] == x3[:, None, :, :]).all(-1)  # (N, C_out, C_in)
        if (same_channel.any(2) & ~same_channel.diagonal(dim1=1, dim2=2)).any():
            fail(f"`{name}`: for input (N, C, L) you shifted along the channel axis; shift along the last axis")
        _diagnose_not_rolled(name, x3.reshape(-1, 40), out3.reshape(-1, 40), 3)
    if (per_channel[:, 0] != per_channel[:, 1]).any():
        fail(f"`{name}`: for input (N, C, L) the channels of one sample were shifted by different amounts; "
             "all channels of a sample must move together (one shift per sample, not per row)")

    # the distribution of the shifts: uniform over -S..S, both ends included
    big = _distinct(2100, 40, seed=2)
    drawn = _roll_amounts(big, expect_tensor(call(candidate, big, 3, _gen(2), name=name), name, shape=big.shape))
    if (drawn == 10**6).any() or (drawn.abs() > 3).any():
        _diagnose_not_rolled(name, big, call(candidate, big, 3, _gen(2), name=name), 3)
    counts = torch.bincount(drawn + 3, minlength=7)
    if drawn.min() >= 0 or drawn.max() <= 0:
        fail(f"`{name}`: all shifts have the same sign; draw s from -max_shift to +max_shift so signals move "
             "both ways")
    if counts[0] == 0 or counts[6] == 0:
        fail(f"`{name}`: the shifts never reach {'-' if counts[0] == 0 else '+'}max_shift; torch.randint's upper "
             "bound is exclusive: use torch.randint(-max_shift, max_shift + 1, ...)")
    if (counts < 150).any() or (counts > 450).any():
        fail(f"`{name}`: the shifts are not uniform over -S..S (counts of -3..3 in 2100 draws: {counts.tolist()})")

    # the generator drives the randomness; max_shift=0 changes nothing; any float dtype
    again = call(candidate, x, 3, _gen(0), name=name)
    if not torch.equal(out, again):
        fail(f"`{name}`: two calls with identically seeded generators gave different shifts; draw the random "
             "numbers with generator=generator")
    if torch.equal(out, call(candidate, x, 3, _gen(7), name=name)):
        fail(f"`{name}`: generators with different seeds gave the same shifts; use the generator argument")
    still = expect_tensor(call(candidate, x, 0, _gen(0), name=name), name, shape=x.shape)
    if not torch.equal(still, x):
        fail(f"`{name}`: with max_shift=0 the signals must come back unchanged")
    x64 = x.double()
    expect_tensor(call(candidate, x64, 2, _gen(0), name=name), name, shape=x.shape, dtype=torch.float64)
    passed(name, "one circular shift per sample, uniform over -S..S, channels together")


# --------------------------------------------------------------------------- cutout


def cutout(candidate) -> None:
    """``candidate(x, size, generator) -> x_cut`` for ``x`` of shape (N, C, L): one zeroed window per
    sample, shared by all channels, centred uniformly and clipped at the border."""
    name = "cutout"
    size, n, channels, length = 8, 400, 3, 40
    x = 1 + torch.rand(n, channels, length, generator=_gen(0))  # no zeros: a zero marks an erased value
    out = expect_tensor(call(candidate, x, size, _gen(0), name=name), name, shape=x.shape, dtype=x.dtype)
    zero = out == 0
    kept = ~zero
    if not torch.equal(out[kept], x[kept]):
        ratio = out[kept] / x[kept]
        if ratio.numel() and ratio.std() < 1e-4 and abs(ratio.mean().item() - 1) > 1e-3:
            fail(f"`{name}`: the values outside the window were rescaled (by {ratio.mean().item():.3f}); cutout is "
                 "not dropout — it only zeroes the window and leaves everything else exactly as it was")
        fail(f"`{name}`: values outside the window changed; cutout only sets the window to 0")
    if (zero != zero[:, :1]).any():
        fail(f"`{name}`: the window is not shared across channels; draw one window per sample and zero it in "
             "every channel (index x[n, :, lo:hi], or broadcast an (N, 1, L) mask)")
    mask = zero[:, 0]  # (N, L)
    counts = mask.sum(1)
    if (counts == 0).any():
        fail(f"`{name}`: some samples have no zeroed window; every sample gets one window (its centre lies "
             "inside the signal)")
    if (mask == mask[0]).all():
        fail(f"`{name}`: every sample got the same window; draw one centre per sample")
    positions = torch.arange(length)
    first = torch.where(mask, positions, length).min(1).values
    last = torch.where(mask, positions, -1).max(1).values
    contiguous = last - first + 1 == counts
    if not contiguous.all():
        wraps = mask[:, 0] & mask[:, -1] & ~contiguous
        if wraps.any():
            fail(f"`{name}`: the window wraps around from the end of the signal to its start; clip it at the "
                 "border instead (lo = max(centre - size // 2, 0), hi = min(lo_unclipped + size, L))")
        fail(f"`{name}`: the zeroed positions of a sample do not form one contiguous window")
    if counts.max() > size:
        fail(f"`{name}`: a window covers {int(counts.max())} positions with size={size}; it must cover at most "
             "size positions (check for an off-by-one in the window's end)")
    if (counts == size).all():
        fail(f"`{name}`: windows are never clipped at the border: the centre was drawn so that the window always "
             "fits. Draw the centre uniformly over all L positions and clip the window at the border — DeVries & "
             "Taylor (2017) found that windows partly outside the input matter")
    touches = mask[:, 0] | mask[:, -1]
    interior = counts[~touches]
    if interior.numel() and (interior != size).any():
        fail(f"`{name}`: a window away from the border covers {int(interior[interior != size][0])} positions; "
             f"it must cover exactly size={size} (check for an off-by-one in the window's end)")
    if not (mask[:, 0].any() and mask[:, -1].any()):
        fail(f"`{name}`: windows are clipped at one border only; draw the centre uniformly over 0..L-1")
    if not mask.any(0).all():
        fail(f"`{name}`: some positions are never erased in {n} samples; draw the centre uniformly over all "
             "positions 0..L-1")
    if not torch.equal(out, call(candidate, x, size, _gen(0), name=name)):
        fail(f"`{name}`: two calls with identically seeded generators gave different windows; draw the centres "
             "with generator=generator")
    if torch.equal(out, call(candidate, x, size, _gen(5), name=name)):
        fail(f"`{name}`: generators with different seeds gave the same windows; use the generator argument")
    same = expect_tensor(call(candidate, x, 0, _gen(0), name=name), name, shape=x.shape)
    if not torch.equal(same, x):
        fail(f"`{name}`: with size=0 nothing is erased; the input must come back unchanged")
    passed(name, "one clipped window per sample, shared by all channels, nothing else changed")


# --------------------------------------------------------------------------- noise = ridge


def noise_ridge_data():
    """The exercise's data: the diabetes features ``X`` (442 × 10), centred target ``y``, and ``sigma = 0.05``."""
    X, y, _ = load_diabetes()
    return X, y, 0.05


def _relative(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def noisy_least_squares(candidate) -> None:
    """``candidate(X, y, sigma, n_copies, seed) -> w``: least squares on ``n_copies`` noisy copies of ``X``."""
    name = "noisy_least_squares"
    X, y, sigma = noise_ridge_data()
    n, d = X.shape
    target = ridge(X, y, n * sigma**2)
    w = expect_array(call(candidate, X, y, sigma, 500, 0, name=name), name, shape=(d,))
    if _relative(w, target) < 0.04:
        passed(name, f"500 noisy copies land within {_relative(w, target):.1%} of ridge with alpha = n sigma^2")
        return
    if _relative(w, ridge(X, y, 0.0)) < 0.04:
        fail(f"`{name}`: this is plain least squares; the noise must be added to the inputs X (noise on the "
             "targets y, or no noise, does not shrink the weights)")
    if _relative(w, ridge(X, y, n * sigma**4)) < 0.04:
        fail(f"`{name}`: the noise has standard deviation sigma**2; sigma is the standard deviation, so scale "
             "standard normal draws by sigma")
    w_other = expect_array(call(candidate, X, y, sigma, 500, 1, name=name), name, shape=(d,))
    if _relative(w, w_other) > 0.08:
        fail(f"`{name}`: two seeds give very different weights: every copy must get its own fresh noise (one "
             "noise matrix repeated n_copies times is a single noisy data set)")
    fail(f"`{name}`: with 500 copies the weights should be within a few percent of ridge(X, y, alpha = n sigma^2), "
         f"but they are {_relative(w, target):.0%} away. Stack the copies X + sigma*E_k (k = 1..n_copies), "
         "repeat y as many times, and solve least squares")


def noise_alpha(alpha_fitted, alpha_theory) -> None:
    """The α whose ridge solution is closest to the noisy fit (``alpha_fitted``) and n·σ² (``alpha_theory``)."""
    name = "noise_alpha"
    X, _, sigma = noise_ridge_data()
    n = X.shape[0]
    expected = n * sigma**2
    theory = expect_scalar(alpha_theory, "alpha_theory")
    if not np.isclose(theory, expected, rtol=1e-6):
        for wrong, hint in [(sigma**2, "sigma^2 is the penalty for the *mean* squared error; ridge sums the "
                                       "squared errors over the n samples, so alpha = n sigma^2"),
                            (n * sigma, "sigma must be squared: E[E^T E] = n sigma^2 I"),
                            (sigma, "alpha is n sigma^2, the expected value of the noise term"),
                            (np.sqrt(n) * sigma, "alpha is n sigma^2, not sqrt(n) sigma")]:
            if np.isclose(theory, wrong, rtol=1e-6):
                fail(f"`alpha_theory`: {hint}")
        fail(f"`alpha_theory` = {theory:.4g}; derive it from E||y - (X + E)w||^2 with n = {n} and sigma = {sigma}")
    fitted = expect_scalar(alpha_fitted, "alpha_fitted")
    if not expected / 1.25 <= fitted <= expected * 1.25:
        fail(f"`alpha_fitted` = {fitted:.4g} is not within 25 % of n sigma^2 = {expected:.4g}: choose, on the grid, "
             "the alpha whose ridge weights are closest to the weights of least squares on the noisy copies")
    passed(name, f"the noisy fit matches ridge at alpha ≈ {fitted:.3g}, and n sigma^2 = {expected:.4g}")


# --------------------------------------------------------------------------- conceptual questions

_LABEL_SAFE = "08.digit_label_preserving"
_SPLITS = "08.augment_which_splits"

register_answers({
    _LABEL_SAFE: {
        "choices": "a set of letters, e.g. {'a', 'c'}",
        "correct": hash_answer(_LABEL_SAFE, {"a", "b", "e"}),
        "hints": {
            hash_answer(_LABEL_SAFE, {"a", "b", "c", "e"}): "a horizontal flip does not preserve the label: a mirrored "
                                                            "3, 5 or 6 is not that digit (chapter 08 §3)",
            hash_answer(_LABEL_SAFE, {"a", "b", "d", "e"}): "a 180° rotation turns a 6 into a 9 (and a 9 into a 6)",
            hash_answer(_LABEL_SAFE, {"a", "b"}): "small pixel noise leaves every digit recognisable too",
            hash_answer(_LABEL_SAFE, {"a", "e"}): "a rotation by 10° keeps a digit a digit; handwriting is often "
                                                  "slanted that much",
            hash_answer(_LABEL_SAFE, {"b", "e"}): "a one-pixel shift keeps a digit a digit",
            hash_answer(_LABEL_SAFE, {"a", "b", "c", "d", "e", "f"}): "not all of them: mirror images and upside-down "
                                                                      "digits change the class of some digits",
            hash_answer(_LABEL_SAFE, {"a", "b", "c", "e", "f"}): "flips (horizontal or vertical) do not preserve the "
                                                                 "label of most digits",
        },
        "explain": "small shifts, small rotations and small noise keep every digit's class; flips and 180° turns "
                   "do not",
    },
    _SPLITS: {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer(_SPLITS, "a"),
        "hints": {
            hash_answer(_SPLITS, "b"): "the validation set estimates performance on real data for model selection; "
                                       "augmenting it measures the wrong thing",
            hash_answer(_SPLITS, "c"): "an augmented test set no longer estimates performance on the data you will "
                                       "deploy on",
        },
        "explain": "augment the training data only; validation and test data stay as they come",
    },
})
