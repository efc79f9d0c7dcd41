"""Checkers for exercises/12_modern_view.ipynb."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats

from .. import generalization as ref
from ._core import (FALSE_ALARM, binomial_range, call, diagnose, expect_array, expect_tensor, expect_uniform_counts,
                    fail, hash_answer, passed, register_answers)

__all__ = ["randomize_labels", "min_norm_solution", "double_descent_data", "double_descent_sweep", "SWEEP_P"]

#: Feature counts of the exercise's sweep (n = 100 training samples).
SWEEP_P = [25, 50, 75, 100, 125, 200, 800]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _new_tensor(out, y, name, what):
    if out is y or (isinstance(out, torch.Tensor) and out.numel()
                    and out.untyped_storage().data_ptr() == y.untyped_storage().data_ptr()):
        fail(f"`{name}` with {what} returned `y` itself (or a view of it); return a new tensor (y.clone()), so that "
             "changing the result cannot change the original labels")


def randomize_labels(candidate) -> None:
    """``candidate(y, fraction, num_classes, generator) -> new labels``: exactly round(fraction · n) samples,
    chosen at random, get a label drawn uniformly from all ``num_classes`` classes."""
    name = "randomize_labels"
    # fraction = 1: every label redrawn from all K classes, although the batch lacks the two top classes
    y8 = torch.arange(2000) % 8
    out = expect_tensor(call(candidate, y8, 1.0, 10, _gen(0), name=name), name, shape=(2000,))
    if out.dtype != torch.int64:
        fail(f"`{name}` returned dtype {out.dtype}; labels must stay int64")
    if out.min() < 0 or out.max() > 9:
        fail(f"`{name}` returned labels outside 0..num_classes-1")
    if out.max() < 8:
        fail(f"`{name}`: with num_classes=10 and labels that only use classes 0..7, no new label was 8 or 9 in 2000 "
             "draws: draw from all num_classes classes (torch.randint(0, num_classes, ...)), not from the classes "
             "that occur in y (y.max() + 1 or y.unique())")
    kept = int((out == y8).sum())
    lo, hi = binomial_range(2000, 0.1)  # a drawn label equals the true one with probability 1/K = 0.1
    if kept < lo:
        fail(f"`{name}`: with fraction=1 only {kept} of 2000 labels kept their value; a random label is drawn from "
             "all K classes, so about 1/K of them coincide with the truth — do not force the new label to differ "
             "(and a shift like (y + 1) % K is not random at all)")
    if kept > hi:
        fail(f"`{name}`: with fraction=1, {kept} of 2000 labels kept their value; expected about 1/K = 10% "
             f"({lo}..{hi}): every label must be redrawn")
    if not (out == 9).any():
        fail(f"`{name}`: in 2000 new labels the top class 9 never occurs: torch.randint's upper bound is exclusive, "
             "so torch.randint(0, num_classes, ...) already draws 0..num_classes-1")
    expect_uniform_counts(torch.bincount(out, minlength=10).numpy(),
                          f"`{name}`: with fraction=1 the new labels are not uniform over the 10 classes (counts "
                          f"{torch.bincount(out, minlength=10).tolist()}); draw them with torch.randint(0, "
                          "num_classes, ...)")

    y = torch.arange(1000) % 10
    same = call(candidate, y, 0.0, 10, _gen(0), name=name)
    expect_tensor(same, name, shape=(1000,))
    if not torch.equal(same.long(), y):
        fail(f"`{name}` with fraction=0 changed labels; it must return the labels unchanged")
    _new_tensor(same, y, name, "fraction=0")

    # exactly round(fraction · n) samples are chosen. With 100000 classes a redrawn label almost never equals
    # the old one (probability 1e-5 per chosen sample), so the number of changed labels is the number chosen:
    # round(0.3006 · 1000) = 301 (int() would give 300). A correct function changes fewer than 301 in one call
    # with probability 0.003 (so in all six with probability < 1e-15) and fewer than 298 with probability < 1e-13.
    big = torch.arange(1000)
    changed, positions = [], []
    for seed in range(1, 7):
        new = expect_tensor(call(candidate, big, 0.3006, 100_000, _gen(seed), name=name), name, shape=(1000,))
        changed.append(int((new != big).sum()))
        positions.append(torch.nonzero(new != big).flatten().double())
    if max(changed) > binomial_range(1000, 0.3006)[1]:
        fail(f"`{name}` with fraction=0.3006 of n=1000 changed {max(changed)} labels; at most round(0.3006 · 1000) "
             "= 301 may change — is the fraction applied to the samples?")
    if max(changed) > 301 or min(changed) < 298:
        fail(f"`{name}` with fraction=0.3006 of n=1000 changed {changed} labels in six calls; exactly "
             "round(0.3006 · 1000) = 301 samples must be chosen (torch.randperm(n)[:k]), not each sample with "
             "probability fraction, which makes the count itself random")
    if max(changed) == 300:
        fail(f"`{name}` with fraction=0.3006 of n=1000 chose 300 samples: int() truncates 300.6; choose "
             "round(fraction * n) = 301 samples")
    if max(changed) != 301:
        fail(f"`{name}` with fraction=0.3006 of n=1000 changed {changed} labels; exactly round(0.3006 · 1000) = 301 "
             "samples must be chosen")
    # the chosen samples are a random subset: the mean position of k = 301 of 1000 drawn without replacement
    # is 499.5 with standard deviation sqrt((n² − 1)/12 / k · (n − k)/(n − 1)) = 13.9; |z| > 4.42 has
    # probability FALSE_ALARM (1e-5) for a random subset
    k = len(positions[0])
    sd = math.sqrt((1000**2 - 1) / 12 / k * (1000 - k) / 999)
    z = (positions[0].mean().item() - 499.5) / sd
    if abs(z) > stats.norm.isf(FALSE_ALARM / 2) or all(torch.equal(p, positions[0]) for p in positions[1:]):
        fail(f"`{name}`: the changed labels are not a random subset of the samples (positions "
             f"{int(positions[0].min())}..{int(positions[0].max())}, mean {positions[0].mean().item():.0f} of "
             "0..999): choose the samples with torch.randperm(n, generator=generator)[:k], not the first (or last) k")

    half = expect_tensor(call(candidate, y, 0.5, 10, _gen(1), name=name), name, shape=(1000,))
    again = call(candidate, y, 0.5, 10, _gen(1), name=name)
    if not torch.equal(again, half):
        fail(f"`{name}`: the same generator seed gave different labels; draw all randomness from `generator`")
    if torch.equal(half, call(candidate, y, 0.5, 10, _gen(2), name=name)):
        fail(f"`{name}`: generators with different seeds gave the same labels; draw all randomness from "
             "`generator`")
    passed(name, "round(fraction · n) samples, each redrawn uniformly from all classes")


def min_norm_solution(candidate) -> None:
    """``candidate(Phi, Y) -> W``, the minimum-norm least-squares solution."""
    name = "min_norm_solution"
    rng = np.random.default_rng(0)
    for n, p in [(30, 80), (80, 30), (40, 40)]:
        Phi = rng.standard_normal((n, p))
        Y = rng.standard_normal((n, 3))
        expected = np.linalg.pinv(Phi) @ Y
        try:
            out = call(candidate, Phi, Y, name=name)
        except AssertionError as err:
            if "LinAlgError" in str(err) and p > n:
                fail(f"`{name}` failed for p={p} > n={n} ({err}); the normal equations Φᵀ Φ w = Φᵀ y are singular "
                     "when there are more features than samples — use the pseudo-inverse or np.linalg.lstsq")
            raise
        out = expect_array(out, name, shape=(p, 3))
        ridge_1 = np.linalg.solve(Phi.T @ Phi + np.eye(p), Phi.T @ Y)
        if np.allclose(out, ridge_1, atol=1e-6, rtol=1e-5):
            fail(f"`{name}`: this is a ridge solution with alpha=1; the minimum-norm solution is the alpha → 0 limit")
        if p > n and not np.allclose(Phi @ out, Y, atol=1e-6):
            fail(f"`{name}`: with p={p} > n={n} the solution must interpolate (Φ W = Y) and it does not. If you solved "
                 "the normal equations Φᵀ Φ W = Φᵀ Y: ΦᵀΦ is singular when p > n — use np.linalg.lstsq or the "
                 "pseudo-inverse")
        if p > n and np.linalg.norm(out) > np.linalg.norm(expected) * (1 + 1e-6):
            fail(f"`{name}`: for p={p} > n={n} your W interpolates but is not the minimum-norm solution (its norm is "
                 f"{np.linalg.norm(out):.3g}, the minimum is {np.linalg.norm(expected):.3g}). The normal equations "
                 "Φᵀ Φ W = Φᵀ Y are singular when p > n; use np.linalg.lstsq or the pseudo-inverse")
        normal = None
        if p <= n:
            normal = np.linalg.solve(Phi.T @ Phi, Phi.T @ Y)
            if p < n and not np.allclose(out, expected, atol=1e-6, rtol=1e-5) \
                    and not np.allclose(Phi.T @ (Phi @ out - Y), 0, atol=1e-6 * np.abs(Phi.T @ Y).max()):
                fail(f"`{name}`: for n={n} samples and p={p} features your W is not the least-squares solution "
                     "(ΦᵀΦ W ≠ ΦᵀY), which Φ⁺Y is when p < n. If you used Φᵀ(ΦΦᵀ)⁻¹Y: that formula holds for "
                     "p > n only; with fewer features than samples ΦΦᵀ is singular. np.linalg.lstsq (or the "
                     "pseudo-inverse) covers both cases")
        diagnose(out, expected, name, atol=1e-6, rtol=1e-5, context=f"for n={n}, p={p}", mistakes=[
            (normal, "this is the ordinary least-squares solution, right only when p <= n"),
        ])
    # p < n but linearly dependent columns (rank 15 < p = 20): ΦᵀΦ is singular, and Φ⁺Y is the least-squares
    # solution of smallest norm
    A = rng.standard_normal((50, 15))
    Phi = np.concatenate([A, 2.0 * A[:, :5]], 1)
    Y = rng.standard_normal((50, 3))
    expected = np.linalg.lstsq(Phi, Y, rcond=None)[0]
    singular = (f"`{name}`: with n=50 samples and p=20 features of rank 15 (five columns are multiples of others) "
                "ΦᵀΦ is singular and Φ has singular values that are 0 up to rounding: the normal equations have "
                "no unique solution, and dividing by every singular value blows up. Φ⁺Y (np.linalg.lstsq or "
                "np.linalg.pinv, which drop singular values below a cutoff) is the least-squares solution of "
                "smallest norm")
    try:
        out = call(candidate, Phi, Y, name=name)
    except AssertionError as err:
        if "LinAlgError" in str(err):
            fail(singular)
        raise
    out = expect_array(out, name, shape=(20, 3), finite=False)
    if not np.isfinite(out).all() or (not np.allclose(out, expected, atol=1e-6, rtol=1e-5)
                                      and np.linalg.norm(out) > np.linalg.norm(expected) * (1 + 1e-6)):
        fail(singular)
    diagnose(out, expected, name, atol=1e-6, rtol=1e-5, context="for n=50, p=20 of rank 15")
    passed(name, "Φ⁺Y for under- and over-parameterised problems")


def double_descent_data():
    """The exercise's data: 100 training and 360 test digits as float64 arrays ``(X, y, X_test, y_test)``."""
    from ..data import load_digits

    d = load_digits(flat=True)
    idx = np.random.default_rng(0).permutation(len(d.y_train))[:100]
    return (d.x_train.numpy()[idx].astype(np.float64), d.y_train.numpy()[idx],
            d.x_test.numpy().astype(np.float64), d.y_test.numpy())


def _reference_errors():
    X, y, X_te, y_te = double_descent_data()
    Y = np.eye(10)[y]
    errors = []
    for p in SWEEP_P:
        Phi, V = ref.random_relu_features(X, p, seed=0, scale=4.0)
        W = ref.min_norm_least_squares(Phi, Y)
        errors.append(float(np.mean((np.maximum(X_te @ V, 0) @ W).argmax(1) != y_te)))
    return errors


def double_descent_sweep(errors, peak_p) -> None:
    """Check the exercise's sweep: ``errors`` over ``SWEEP_P`` and the feature count ``peak_p`` of the peak."""
    name = "double_descent_sweep"
    errors = expect_array(errors, name, shape=(len(SWEEP_P),))
    expected = np.array(_reference_errors())
    diagnose(errors, expected, name, atol=0.006, rtol=0, mistakes=[  # ±2 test digits of rounding slack
        (1 - expected, "these are accuracies; report test *error* rates (fraction misclassified)"),
    ], context="(use random_relu_features(X, p, seed=0, scale=4.0), your min_norm_solution, one-hot targets)")
    if peak_p != SWEEP_P[int(np.argmax(expected))]:
        fail(f"`peak_p` = {peak_p!r} is not the feature count with the largest test error")
    passed(name, _peak_message(peak_p))


def _peak_message(peak_p) -> str:
    """Where the peak sits relative to the interpolation threshold, the first p with rank Φ = n (chapter 12 §2)."""
    X, y, _, _ = double_descent_data()
    n = len(y)
    features = {p: ref.random_relu_features(X, p, seed=0, scale=4.0)[0] for p in SWEEP_P}
    rank = {p: int(np.linalg.matrix_rank(phi)) for p, phi in features.items()}
    threshold = next(p for p in SWEEP_P if rank[p] == n)
    if peak_p == threshold:
        return f"the test error peaks at p = {peak_p}, the interpolation threshold (the first p with rank Φ = n = {n})"
    zero = peak_p - int(np.count_nonzero(features[peak_p].any(axis=0)))
    side = "just below" if peak_p < threshold else "above"
    return (f"the test error peaks at p = {peak_p}, where rank Φ = {rank[peak_p]} ({zero} features are zero on every "
            f"training digit); rank Φ first reaches n = {n} at p = {threshold}, the interpolation threshold of this "
            f"sweep, so the peak sits {side} it, where Φ is already nearly singular")


register_answers({
    "12.random_labels": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("12.random_labels", "c"),
        "hints": {
            hash_answer("12.random_labels", "a"): "with dropout and weight decay the network still fitted random labels "
                                                  "almost perfectly (§1)",
            hash_answer("12.random_labels", "b"): "the very network that memorised random labels reached ~97 % test "
                                                  "accuracy on the true ones",
        },
        "explain": "explicit regularizers are not necessary for generalization, and at the strength used they did not "
                   "prevent memorisation",
    },
    "12.gd_limit": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("12.gd_limit", "b"),
        "hints": {
            hash_answer("12.gd_limit", "a"): "gradients lie in the row space of Φ, so the iterates never pick up a "
                                             "null-space component: the limit is not arbitrary",
            hash_answer("12.gd_limit", "c"): "nothing in plain gradient descent adds a penalty; the limit interpolates",
        },
        "explain": "gradient descent from zero converges to the minimum-norm interpolator",
    },
})
