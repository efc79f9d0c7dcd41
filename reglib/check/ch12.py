"""Checkers for exercises/12_modern_view.ipynb."""

from __future__ import annotations

import numpy as np
import torch

from .. import generalization as ref
from ._core import call, diagnose, expect_array, expect_tensor, fail, hash_answer, passed, register_answers

__all__ = ["randomize_labels", "min_norm_solution", "double_descent_data", "double_descent_sweep", "SWEEP_P"]

#: Feature counts of the exercise's sweep (n = 100 training samples).
SWEEP_P = [25, 50, 75, 100, 125, 200, 800]


def randomize_labels(candidate) -> None:
    """``candidate(y, fraction, num_classes, generator) -> new labels``."""
    name = "randomize_labels"
    y = torch.arange(1000) % 10
    same = call(candidate, y, 0.0, 10, torch.Generator().manual_seed(0), name=name)
    expect_tensor(same, name, shape=(1000,))
    if not torch.equal(same.long(), y):
        fail(f"`{name}` with fraction=0 changed labels; it must return the labels unchanged")
    out = expect_tensor(call(candidate, y, 1.0, 10, torch.Generator().manual_seed(0), name=name), name, shape=(1000,))
    if out.dtype != torch.int64:
        fail(f"`{name}` returned dtype {out.dtype}; labels must stay int64")
    if out.min() < 0 or out.max() > 9:
        fail(f"`{name}` returned labels outside 0..num_classes-1")
    kept = (out == y).double().mean().item()
    if kept < 0.02:
        fail(f"`{name}`: with fraction=1 almost no label kept its value ({kept:.1%}); a random label is drawn from "
             "all K classes, so about 1/K of them coincide with the truth — do not force the new label to differ "
             "(and a shift like (y + 1) % K is not random at all)")
    if kept > 0.2:
        fail(f"`{name}`: with fraction=1, {kept:.0%} of labels kept their value; expected about 1/K = 10%")
    half = expect_tensor(call(candidate, y, 0.5, 10, torch.Generator().manual_seed(1), name=name), name, shape=(1000,))
    changed = (half != y).sum().item()
    if changed > 500:
        fail(f"`{name}` with fraction=0.5 changed {changed} of 1000 labels; at most round(0.5 * 1000) = 500 may change")
    if changed < 400:
        fail(f"`{name}` with fraction=0.5 changed only {changed} of 1000 labels; about 500 * (1 - 1/K) = 450 expected — "
             "is the fraction applied to the samples?")
    again = call(candidate, y, 0.5, 10, torch.Generator().manual_seed(1), name=name)
    if not torch.equal(again, half):
        fail(f"`{name}`: the same generator seed gave different labels; draw all randomness from `generator`")
    passed(name)


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
        diagnose(out, expected, name, atol=1e-6, rtol=1e-5, context=f"for n={n}, p={p}", mistakes=[
            (normal, "this is the ordinary least-squares solution, right only when p <= n"),
        ])
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
    passed(name, f"the test error peaks at p = {peak_p}, the interpolation threshold (n = 100)")


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
        "explain": "explicit regularizers are neither necessary nor sufficient",
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
