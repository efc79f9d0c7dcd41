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
from ._core import (call, expect_array, expect_scalar, expect_tensor, expect_uniform_counts, fail,
                    hash_answer, passed, register_answers)

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
    # Pearson χ² against U{-3..3} (300 expected per value), false-alarm rate FALSE_ALARM (1e-5): a rounded
    # continuous draw (ends at half the rate) or a triangular / normal-ish draw fails far beyond it
    ends = "the two end values come up about half as often as the others: did you round a continuous draw " \
           "(torch.rand(...) * 2S - S).round()? Draw integers with torch.randint(-S, S + 1, ...)" \
        if counts[[0, 6]].sum() < 0.75 * counts[1:6].sum() * 2 / 5 else \
        "draw every integer of -S..S with the same probability (torch.randint(-max_shift, max_shift + 1, ...))"
    expect_uniform_counts(counts.numpy(), f"`{name}`: the shifts are not uniform over -S..S (counts of -3..3 in "
                                          f"2100 draws: {counts.tolist()}); {ends}")

    # the generator drives the randomness; max_shift=0 changes nothing; any float dtype
    again = call(candidate, x, 3, _gen(0), name=name)
    if not torch.equal(out, again):
        fail(f"`{name}`: two calls with identically seeded generators gave different shifts; draw the random "
             "numbers with generator=generator")
    if torch.equal(out, call(candidate, x, 3, _gen(7), name=name)):
        fail(f"`{name}`: generators with different seeds gave the same shifts; use the generator argument")
    # the direction: x̃[t] = x[(t − s) mod L] with s drawn as the task says; a reversed roll is only
    # recognisable when the draws are the task's, so this names the mistake without rejecting other draws
    prescribed = torch.randint(-3, 4, (len(x),), generator=_gen(0))
    if torch.equal(amounts, -prescribed) and not torch.equal(amounts, prescribed):
        fail(f"`{name}`: the signals move the wrong way: x̃[t] = x[(t − s) mod L] moves the signal *forward* by s "
             "(torch.roll(x, s, dims=-1)); you used x[(t + s) mod L]")
    still = expect_tensor(call(candidate, x, 0, _gen(0), name=name), name, shape=x.shape)
    if not torch.equal(still, x):
        fail(f"`{name}`: with max_shift=0 the signals must come back unchanged")
    if still is x or still.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
        fail(f"`{name}`: with max_shift=0 you returned `x` itself (or a view of it); return a new tensor "
             "(x.clone()), so that changing the result cannot change the input")
    x64 = x.double()
    expect_tensor(call(candidate, x64, 2, _gen(0), name=name), name, shape=x.shape, dtype=torch.float64)
    passed(name, "one circular shift per sample, uniform over -S..S, channels together")


# --------------------------------------------------------------------------- cutout


def _cutout_masks(candidate, name, size, n, channels, length, seed):
    """Call ``candidate`` on positive inputs, check everything but the distribution, return the (N, L) masks."""
    x = 1 + torch.rand(n, channels, length, generator=_gen(seed))  # no zeros: a zero marks an erased value
    out = expect_tensor(call(candidate, x, size, _gen(seed), name=name), name, shape=x.shape, dtype=x.dtype)
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
        fail(f"`{name}`: with size={size} a window away from the border covers "
             f"{int(interior[interior != size][0])} positions; it must cover exactly size={size} (check for an "
             "off-by-one in the window's end: it runs from centre - size // 2 to centre - size // 2 + size - 1)")
    if not (mask[:, 0].any() and mask[:, -1].any()):
        fail(f"`{name}`: windows are clipped at one border only; draw the centre uniformly over 0..L-1")
    # recover each centre: from the window's start when it is not clipped there, else from its end
    half = size // 2
    centre = torch.where(first > 0, first + half, last + 1 - size + half)
    lo = (centre - half).clamp(0, length)
    hi = (centre - half + size).clamp(0, length)
    expected = (positions >= lo[:, None]) & (positions < hi[:, None])
    if not torch.equal(expected, mask):
        fail(f"`{name}`: with size={size} a window clipped at the border has the wrong extent; the window covers "
             "centre - size // 2, ..., centre - size // 2 + size - 1, clipped to 0..L-1")
    return x, out, centre


def cutout(candidate) -> None:
    """``candidate(x, size, generator) -> x_cut`` for ``x`` of shape (N, C, L): one zeroed window per
    sample, shared by all channels, centred uniformly and clipped at the border."""
    name = "cutout"
    n, channels, length = 600, 3, 40
    for size, seed in ((8, 0), (5, 1)):  # an even and an odd size
        x, out, centre = _cutout_masks(candidate, name, size, n, channels, length, seed)
        if centre.min() < 0 or centre.max() > length - 1:
            where = int(centre.max() if centre.max() > length - 1 else centre.min())
            fail(f"`{name}`: with size={size} a window lies where a centre of {where} would put it, outside the "
                 "signal: draw the centre from 0..L-1 (torch.randint(0, L, ...)) and start the window at "
                 "centre - size // 2 (not, e.g., centre - (size - 1) // 2)")
        # each end centre is missed by a correct sampler with probability (39/40)^600 < 3e-7
        for end, hint in ((0, "0 (did you draw from 1..L?)"),
                          (length - 1, "L - 1: torch.randint's upper bound is exclusive, so torch.randint(0, L, ...) "
                                       "already includes L - 1; torch.randint(0, L - 1, ...) never reaches it")):
            if not (centre == end).any():
                fail(f"`{name}`: in {n} samples no window was centred at {hint}. Draw the centre uniformly from "
                     "all positions 0..L-1")
        # Pearson χ² of the centres against U{0..L-1} (15 expected per position), false-alarm rate FALSE_ALARM
        expect_uniform_counts(torch.bincount(centre, minlength=length).numpy(),
                              f"`{name}`: the window centres are not uniform over 0..L-1 (counts per position: "
                              f"{torch.bincount(centre, minlength=length).tolist()}); draw them with "
                              "torch.randint(0, L, (N,), generator=generator)")
    x = 1 + torch.rand(n, channels, length, generator=_gen(0))
    out = call(candidate, x, 8, _gen(0), name=name)
    if not torch.equal(out, call(candidate, x, 8, _gen(0), name=name)):
        fail(f"`{name}`: two calls with identically seeded generators gave different windows; draw the centres "
             "with generator=generator")
    if torch.equal(out, call(candidate, x, 8, _gen(5), name=name)):
        fail(f"`{name}`: generators with different seeds gave the same windows; use the generator argument")
    same = expect_tensor(call(candidate, x, 0, _gen(0), name=name), name, shape=x.shape)
    if not torch.equal(same, x):
        fail(f"`{name}`: with size=0 nothing is erased; the input must come back unchanged")
    if same is x or same.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
        fail(f"`{name}`: with size=0 you returned `x` itself (or a view of it); return a new tensor (x.clone()), "
             "so that changing the result cannot change the input")
    passed(name, "one clipped window per sample, shared by all channels, nothing else changed")


# --------------------------------------------------------------------------- noise = ridge


def noise_ridge_data():
    """The exercise's data: the diabetes features ``X`` (442 × 10), centred target ``y``, and ``sigma = 0.05``."""
    X, y, _ = load_diabetes()
    return X, y, 0.05


def _relative(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def _noisy_fit(X, y, sigma, n_copies, seed, *, same=False, repeat=False, scale=None, average=False):
    """The task's computation with the prescribed draws (``same``/``repeat``/``scale``/``average``: known
    mistakes)."""
    rng = np.random.default_rng(seed)
    scale = sigma if scale is None else scale
    if average:  # one least-squares fit per copy, then the mean of the weights
        return np.mean([np.linalg.lstsq(X + scale * rng.standard_normal(X.shape), y, rcond=None)[0]
                        for _ in range(n_copies)], axis=0)
    if same:
        noise = rng.standard_normal(X.shape)
        stacked = np.concatenate([X + scale * noise for _ in range(n_copies)])
    else:
        stacked = np.concatenate([X + scale * rng.standard_normal(X.shape) for _ in range(n_copies)])
    target = np.repeat(y, n_copies) if repeat else np.tile(y, n_copies)
    return np.linalg.lstsq(stacked, target, rcond=None)[0]


def noisy_least_squares(candidate) -> None:
    """``candidate(X, y, sigma, n_copies, seed) -> w``: least squares on ``n_copies`` noisy copies of ``X``.

    The draws of ``np.random.default_rng(seed)`` in the task's order give one exact answer; other orders of
    drawing are legitimate too, so a result that is not that answer is accepted when it lies as close to
    ridge(X, y, n σ²) as least squares on that many noisy copies does: with 500 copies (σ = 0.05) the
    relative distance of a correct answer is 0.011 ± 0.003 (40 seeds, at most 0.017), with 200 copies
    (σ = 0.1) 0.024 ± 0.005 (at most 0.036); the bounds 0.04 and 0.08 sit more than 10 standard deviations
    above the mean, while one noise matrix repeated lands 0.15–0.56 away.
    """
    name = "noisy_least_squares"
    X, y, sigma = noise_ridge_data()
    n, d = X.shape
    # sigma = 0: every copy is X itself, so the answer is plain least squares whatever the draws; targets that
    # do not line up with the stacked copies show here without any noise to hide them
    w = expect_array(call(candidate, X, y, 0.0, 3, 0, name=name), name, shape=(d,))
    if _relative(w, ridge(X, y, 0.0)) > 1e-6:
        if _relative(w, np.linalg.lstsq(np.tile(X, (3, 1)), np.repeat(y, 3), rcond=None)[0]) < 1e-6:
            fail(f"`{name}`: the targets do not line up with the stacked copies: np.repeat(y, K) repeats each "
                 "target K times in a row (y1, y1, ..., y2, ...), but the copies are stacked whole (X, X, ...); "
                 "use np.tile(y, K)")
        fail(f"`{name}` with sigma=0 (three copies of X itself) should return plain least squares, "
             "np.linalg.lstsq(X, y)[0]; stack the copies X + sigma*E_k, repeat y as many times (np.tile), and "
             "solve least squares")
    w = expect_array(call(candidate, X, y, sigma, 500, 0, name=name), name, shape=(d,))
    again = expect_array(call(candidate, X, y, sigma, 500, 0, name=name), name, shape=(d,))
    if not np.array_equal(w, again):
        fail(f"`{name}`: two calls with the same seed gave different weights; draw the noise from "
             "np.random.default_rng(seed), not from np.random.* or an unseeded generator")
    w_other = expect_array(call(candidate, X, y, sigma, 500, 1, name=name), name, shape=(d,))
    for sig, copies, seed, bound in ((sigma, 500, 0, 0.04), (0.1, 200, 3, 0.08)):
        if (sig, seed) != (sigma, 0):
            w = expect_array(call(candidate, X, y, sig, copies, seed, name=name), name, shape=(d,))
        ctx = f"(sigma={sig}, n_copies={copies}, seed={seed})"
        target = ridge(X, y, n * sig**2)
        if _relative(w, _noisy_fit(X, y, sig, copies, seed)) < 1e-6:
            continue  # exactly the task's draws
        if _relative(w, target) < 1e-6:
            fail(f"`{name}`: this is the closed-form ridge solution with alpha = n sigma^2 itself; the task is to "
                 "simulate the noise: draw n_copies noisy copies with np.random.default_rng(seed) and solve least "
                 "squares on them")
        for wrong, tol, hint in [
            (_noisy_fit(X, y, sig, copies, seed, repeat=True), 1e-6,
             "the targets do not line up with the stacked copies: np.repeat(y, K) repeats each target K times in a "
             "row (y1, y1, ..., y2, ...), but the copies are stacked whole; use np.tile(y, K)"),
            (_noisy_fit(X, y, sig, copies, seed, same=True), 1e-6,
             "every copy got the same noise matrix; each copy needs its own fresh noise E_k, drawn from the one "
             "generator (create np.random.default_rng(seed) once, outside the loop)"),
            (_noisy_fit(X, y, sig, copies, seed, average=True), 1e-6,
             "you fitted each copy separately and averaged the weights; stack all copies into one (K·n) × d "
             "matrix and solve one least-squares problem: the minimiser of the summed loss is not the mean of "
             "the separate minimisers"),
            (_noisy_fit(X, y, sig, copies, seed, scale=sig**2), 1e-6,
             "the noise has standard deviation sigma**2; sigma is the standard deviation, so scale standard "
             "normal draws by sigma"),
            (ridge(X, y, n * sig**4), 0.04,
             "the noise has standard deviation sigma**2; sigma is the standard deviation, so scale standard "
             "normal draws by sigma"),
            (ridge(X, y, 0.0), 0.04,
             "this is plain least squares; the noise must be added to the inputs X (noise on the targets y, or no "
             "noise, does not shrink the weights)"),
        ]:
            if _relative(w, wrong) < tol:
                fail(f"`{name}` {ctx}: {hint}")
        if _relative(w, target) < bound:
            continue  # another order of drawing: as close to ridge as the task's own draws are
        if (sig, seed) == (sigma, 0) and _relative(w, w_other) > 0.08:
            fail(f"`{name}`: two seeds give very different weights, as with a single noisy data set: every copy "
                 "must get its own fresh noise (one noise matrix repeated n_copies times is a single noisy data set)")
        fail(f"`{name}` {ctx}: with {copies} copies the weights should be within a few percent of "
             f"ridge(X, y, alpha = n sigma^2), but they are {_relative(w, target):.0%} away. Stack the copies "
             "X + sigma*E_k (k = 1..n_copies), repeat y as many times (np.tile), and solve least squares")
    passed(name, "least squares on noisy copies: ridge with alpha = n sigma^2")


_ALPHA_GRID = np.geomspace(1e-3, 1e2, 101)  # the task's grid
_GRID_STEP = 5 / 100  # its spacing in log10


def _seeded_alpha() -> float:
    """The grid value the task's computation selects: ridge closest to least squares on 1000 copies, seed 0."""
    X, y, sigma = noise_ridge_data()
    w = _noisy_fit(X, y, sigma, 1000, 0)
    return float(_ALPHA_GRID[int(np.argmin([np.linalg.norm(ridge(X, y, a) - w) for a in _ALPHA_GRID]))])


def noise_alpha(alpha_fitted, alpha_theory) -> None:
    """The α whose ridge solution is closest to the noisy fit (``alpha_fitted``) and n·σ² (``alpha_theory``).

    ``alpha_fitted`` must be the grid value the task's seeded computation selects (half a grid step of
    tolerance, for rounding); values within 25 % of n·σ² but a grid step or more away, as fits from a few
    copies give, get their own hint.
    """
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
    # The task's computation is deterministic (1000 copies, seed 0), so its grid answer is known; with 30 or more
    # copies every seed lands on the same grid point, while a fit from a few copies scatters by a grid step or two.
    seeded = _seeded_alpha()
    if abs(np.log10(fitted / seeded)) > _GRID_STEP / 2:
        steps = int(round(np.log10(fitted / seeded) / _GRID_STEP))
        fail(f"`alpha_fitted` = {fitted:.4g} is {abs(steps)} grid step{'s' if abs(steps) != 1 else ''} away from the "
             "grid value that least squares on 1000 noisy copies (seed 0) selects: fit noisy_least_squares with "
             "1000 copies and seed 0, and take the grid value of np.geomspace(1e-3, 1e2, 101) whose ridge weights "
             "are closest to it (a fit from a few copies, or alpha read off the theory, is not the experiment)")
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
            hash_answer(_LABEL_SAFE, {"a", "b", "e", "f"}): "a vertical flip (upside down and mirrored) does not "
                                                            "preserve the label: a flipped 6 is a mirrored 9, and a "
                                                            "flipped 2, 4 or 7 is no digit at all (chapter 08 §3)",
            hash_answer(_LABEL_SAFE, {"a", "b", "d", "e", "f"}): "neither a 180° rotation (6 <-> 9) nor a vertical "
                                                                 "flip (a flipped 6 is a mirrored 9) preserves every "
                                                                 "digit's label (chapter 08 §3)",
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
