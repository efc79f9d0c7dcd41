"""Checkers for exercises/00_generalization.ipynb."""

from __future__ import annotations

import numpy as np

from .. import generalization as ref
from ..data import make_polynomial_data
from ._core import call, diagnose, expect_array, fail, hash_answer, passed, register_answers

__all__ = ["split_indices", "polynomial_features", "fit_polynomial", "degree_sweep", "best_degree",
           "sweep_data"]


def split_indices(candidate) -> None:
    """``candidate(n, val_fraction, test_fraction, seed) -> (train, val, test)`` index arrays."""
    name = "split_indices"
    for n, vf, tf in [(100, 0.2, 0.2), (37, 0.1, 0.3), (10, 0.0, 0.5)]:
        out = call(candidate, n, vf, tf, 0, name=name)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            fail(f"`{name}` should return three index arrays (train, val, test), got {type(out).__name__}")
        train, val, test = (expect_array(o, name).astype(int).reshape(-1) for o in out)
        every = np.concatenate([train, val, test])
        if len(np.unique(every)) < len(every):
            fail(f"`{name}`: some index appears in two splits (or twice); each sample must land in exactly one")
        if sorted(every.tolist()) != list(range(n)):
            fail(f"`{name}`: the three splits together must hold every index 0..n-1 exactly once")
        if (len(val), len(test)) != (round(vf * n), round(tf * n)):
            fail(f"`{name}`(n={n}, val_fraction={vf}, test_fraction={tf}): expected {round(vf * n)} validation "
                 f"and {round(tf * n)} test indices, got {len(val)} and {len(test)}")
    train, val, test = call(candidate, 100, 0.2, 0.2, 0, name=name)
    for split, part in (("validation", val), ("test", test)):
        part = np.sort(np.asarray(part))
        if np.array_equal(part, np.arange(part[0], part[0] + len(part))):
            fail(f"`{name}`: the {split} split is one contiguous block of the data; shuffle first "
                 "(data files are often sorted by class or by date)")
    again = call(candidate, 100, 0.2, 0.2, 0, name=name)
    other = call(candidate, 100, 0.2, 0.2, 1, name=name)
    if not all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip((train, val, test), again)):
        fail(f"`{name}`: two calls with the same seed gave different splits; seed your random generator")
    if all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip((train, val, test), other)):
        fail(f"`{name}`: seeds 0 and 1 gave the same split; the seed must drive the shuffle")
    passed(name, "disjoint, complete, shuffled and reproducible")


def polynomial_features(candidate) -> None:
    """``candidate(x, degree) -> (n, degree + 1)`` matrix with columns x^0 .. x^degree."""
    name = "polynomial_features"
    x = np.array([-1.0, -0.5, 0.0, 0.3, 2.0])
    for degree in (0, 1, 3, 6):
        out = expect_array(call(candidate, x, degree, name=name), name)
        expected = ref.polynomial_features(x, degree)
        if out.shape == (len(x), degree):
            fail(f"`{name}`(degree={degree}) returned {degree} columns; a degree-{degree} polynomial has "
                 f"{degree + 1} coefficients (do not forget the constant column x^0 = 1)")
        if out.shape != expected.shape:
            fail(f"`{name}`(degree={degree}) returned shape {out.shape}, expected {expected.shape}")
        diagnose(out, expected, name, mistakes=[
            (expected[:, ::-1].copy(), "columns are in decreasing powers; order them x^0, x^1, ..., x^degree"),
            (x[:, None] ** np.arange(1, degree + 2), "columns start at x^1; the first column must be x^0 = 1"),
        ], context=f"for degree={degree}")
    passed(name)


def fit_polynomial(candidate) -> None:
    """``candidate(x, y, degree) -> coefficients`` (x^0 first), the least-squares fit."""
    name = "fit_polynomial"
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 25)
    y = np.sin(np.pi * x) + 0.2 * rng.standard_normal(25)
    for degree in (1, 3, 5):
        out = expect_array(call(candidate, x, y, degree, name=name), name, shape=(degree + 1,))
        expected = ref.fit_polynomial(x, y, degree)
        diagnose(out, expected, name, atol=1e-6, rtol=1e-5, mistakes=[
            (expected[::-1].copy(), "coefficients are in decreasing powers (numpy.polyfit's order); "
                                    "return them from x^0 up, matching polynomial_features"),
            (ref.fit_polynomial(x, y, degree, alpha=1.0), "this is a ridge fit with alpha=1; the task asks for "
                                                          "plain least squares"),
        ], context=f"for degree={degree}")
    passed(name, "matches least squares")


def sweep_data():
    """The data of the exercise's degree sweep: 40 noisy samples of sin(πx), split 20 / 20."""
    x, y, _ = make_polynomial_data(40, noise=0.3, seed=0)
    train, val, _ = ref.split_indices(40, val_fraction=0.5, test_fraction=0.0, seed=0)
    return x[train], y[train], x[val], y[val]


def _reference_sweep(x_tr, y_tr, x_va, y_va, degrees):
    train_mse, val_mse = [], []
    for d in degrees:
        coef = ref.fit_polynomial(x_tr, y_tr, d)
        train_mse.append(ref.mse(ref.predict_polynomial(coef, x_tr), y_tr))
        val_mse.append(ref.mse(ref.predict_polynomial(coef, x_va), y_va))
    return np.array(train_mse), np.array(val_mse)


def degree_sweep(candidate) -> None:
    """``candidate(x_train, y_train, x_val, y_val, degrees) -> (train_mse, val_mse)``."""
    name = "degree_sweep"
    data = sweep_data()
    degrees = list(range(0, 13))
    out = call(candidate, *data, degrees, name=name)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"`{name}` should return two sequences (train_mse, val_mse), got {type(out).__name__}")
    train_mse, val_mse = (expect_array(o, name, shape=(len(degrees),)) for o in out)
    ref_train, ref_val = _reference_sweep(*data, degrees)
    diagnose(train_mse, ref_train, name + " (train_mse)", rtol=1e-4, atol=1e-8, mistakes=[
        (ref_val, "train_mse holds validation errors: evaluate each fit on the data it was fitted to"),
        (np.sqrt(ref_train), "these are root-mean-squared errors; return the mean squared error"),
    ])
    diagnose(val_mse, ref_val, name + " (val_mse)", rtol=1e-4, atol=1e-8, mistakes=[
        (_reference_sweep(data[2], data[3], data[2], data[3], degrees)[0],
         "val_mse comes from polynomials fitted on the validation data; fit on train, evaluate on val"),
        (np.sqrt(ref_val), "these are root-mean-squared errors; return the mean squared error"),
    ])
    passed(name, "training error falls with degree; validation error is U-shaped")


def best_degree(candidate_degree) -> None:
    """The degree chosen from the exercise's sweep (an int)."""
    name = "best_degree"
    degrees = list(range(0, 13))
    ref_train, ref_val = _reference_sweep(*sweep_data(), degrees)
    if not isinstance(candidate_degree, (int, np.integer)) or isinstance(candidate_degree, bool):
        fail(f"`{name}` should be an integer degree, got {candidate_degree!r}")
    if candidate_degree == degrees[int(np.argmin(ref_train))]:
        fail(f"`{name}`: {candidate_degree} has the smallest *training* error, which always favours the most "
             "flexible model; choose by validation error")
    if candidate_degree != degrees[int(np.argmin(ref_val))]:
        fail(f"`{name}`: {candidate_degree} is not the degree with the smallest validation error")
    passed(name, f"degree {candidate_degree} has the lowest validation error")


register_answers({
    "00.test_set": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("00.test_set", "b"),
        "hints": {
            hash_answer("00.test_set", "a"): "the score was used to choose among 20 models, so it is no longer an "
                                             "independent estimate: the choice favours settings that were lucky "
                                             "on this particular test set",
            hash_answer("00.test_set", "c"): "selection picks the best of 20 noisy scores; noise that helped is "
                                             "selected, so the error goes the other way",
        },
        "explain": "selecting on the test set makes its score optimistic",
    },
    "00.dropout_acts_on": {
        "choices": "'loss', 'weights', 'activations', 'data', 'labels', 'optimizer' or 'procedure'",
        "correct": hash_answer("00.dropout_acts_on", "activations"),
        "hints": {
            hash_answer("00.dropout_acts_on", "weights"): "that is DropConnect; dropout zeroes unit outputs",
            hash_answer("00.dropout_acts_on", "data"): "dropout on the inputs is a form of noise injection, but "
                                                       "dropout proper zeroes hidden units",
            hash_answer("00.dropout_acts_on", "loss"): "dropout adds no term to the loss; look at the map of "
                                                       "techniques",
        },
        "explain": "dropout zeroes hidden units' outputs",
    },
})
