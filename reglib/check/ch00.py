"""Checkers for exercises/00_generalization.ipynb."""

from __future__ import annotations

import numpy as np

from .. import generalization as ref
from ..data import make_polynomial_data
from ._core import (call, diagnose, expect_array, expect_uniform_counts, fail, hash_answer, passed,
                    register_answers)

__all__ = ["split_indices", "polynomial_features", "fit_polynomial", "degree_sweep", "best_degree",
           "sweep_data"]


def _split(candidate, name, n, vf, tf, seed):
    out = call(candidate, n, vf, tf, seed, name=name)
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail(f"`{name}` should return three index arrays (train, val, test), got {type(out).__name__}")
    return tuple(expect_array(o, name).astype(int).reshape(-1) for o in out)


def split_indices(candidate) -> None:
    """``candidate(n, val_fraction, test_fraction, seed) -> (train, val, test)`` index arrays."""
    name = "split_indices"
    # sizes chosen so that no fraction·n is a tie (x.5) and the roundings do not add up: rounding the
    # training share instead of the two held-out shares gives other sizes; zero fractions and an empty
    # training split are edge cases the task states
    for n, vf, tf in [(100, 0.2, 0.2), (37, 0.1, 0.3), (10, 0.16, 0.16), (10, 0.0, 0.5), (20, 0.35, 0.0),
                      (9, 0.0, 0.0)]:
        train, val, test = _split(candidate, name, n, vf, tf, 0)
        every = np.concatenate([train, val, test])
        n_val, n_test = round(vf * n), round(tf * n)
        call_txt = f"`{name}`(n={n}, val_fraction={vf}, test_fraction={tf})"
        if len(np.unique(every)) < len(every):
            fail(f"{call_txt}: some index appears in two splits (or twice); each sample must land in exactly one"
                 + (" — with a fraction of 0, a slice like `perm[-0:]` is the whole array"
                    if 0 in (n_val, n_test) and n_val + n_test < n else ""))
        if sorted(every.tolist()) != list(range(n)):
            fail(f"{call_txt}: the three splits together must hold every index 0..n-1 exactly once")
        if (len(val), len(test)) != (n_val, n_test):
            hint = ""
            if (len(val), len(test)) == (n_test, n_val):
                hint = ": the validation and test splits come back swapped; return them in the order (train, val, test)"
            elif (len(val), len(test)) == (int(vf * n), int(tf * n)):
                hint = ": `int()` truncates; use `round(fraction * n)`"
            elif len(train) == round((1 - vf - tf) * n):
                hint = ": round the validation and test sizes, and give the training split the rest"
            elif 0 in (n_val, n_test):
                hint = ": a fraction of 0 must give an empty split (beware `perm[-0:]`, which is the whole array)"
            fail(f"{call_txt}: expected {n_val} validation and {n_test} test indices "
                 f"(round(fraction·n)), got {len(val)} and {len(test)}{hint}")
    train, val, test = _split(candidate, name, 100, 0.2, 0.2, 0)
    for split, part in (("validation", val), ("test", test), ("training", train)):
        part = np.sort(np.asarray(part))
        if len(part) and np.array_equal(part, np.arange(part[0], part[0] + len(part))):
            fail(f"`{name}`: the {split} split is one contiguous block of the data; shuffle first "
                 "(data files are often sorted by class or by date)")
    again = _split(candidate, name, 100, 0.2, 0.2, 0)
    other = _split(candidate, name, 100, 0.2, 0.2, 1)
    if not all(np.array_equal(a, b) for a, b in zip((train, val, test), again)):
        fail(f"`{name}`: two calls with the same seed gave different splits; seed your random generator")
    if all(np.array_equal(a, b) for a, b in zip((train, val, test), other)):
        fail(f"`{name}`: seeds 0 and 1 gave the same split; the seed must drive the shuffle")
    # every sample is equally likely to be held out: over 200 seeds, index i lands in the validation split
    # Binomial(200, 0.2) times. A shuffle that keeps some order (e.g. only the first half shuffled) fails.
    # Pearson χ² over 20 indices at FALSE_ALARM (1e-5): a correct shuffle fails with probability 1e-5.
    hits = np.zeros(20)
    for seed in range(200):
        hits[_split(candidate, name, 20, 0.2, 0.2, seed)[1]] += 1
    expect_uniform_counts(hits, f"`{name}`: over 200 seeds some indices land in the validation split far more "
                                "often than others; shuffle all of range(n) (a full permutation) before splitting")
    passed(name, "disjoint, complete, shuffled and reproducible")


def polynomial_features(candidate) -> None:
    """``candidate(x, degree) -> (n, degree + 1)`` matrix with columns x^0 .. x^degree."""
    name = "polynomial_features"
    x = np.array([-1.0, 2.0, 0.0, -0.5, 0.3])  # unsorted, a zero (0^0 = 1), negatives, |x| > 1
    for degree in (0, 1, 3, 4, 6):  # degree 4: a square matrix, where a transposed result has the right shape
        out = expect_array(call(candidate, x, degree, name=name), name)
        expected = ref.polynomial_features(x, degree)
        if out.shape == (len(x), degree):
            fail(f"`{name}`(degree={degree}) returned {degree} columns; a degree-{degree} polynomial has "
                 f"{degree + 1} coefficients (do not forget the constant column x^0 = 1)")
        if out.shape != expected.shape:
            fail(f"`{name}`(degree={degree}) returned shape {out.shape}, expected {expected.shape}"
                 + (" (one row per sample, one column per power)" if out.shape == expected.shape[::-1] else ""))
        diagnose(out, expected, name, atol=1e-6, rtol=1e-5, mistakes=[
            (expected[:, ::-1].copy(), "columns are in decreasing powers; order them x^0, x^1, ..., x^degree"),
            (x[:, None] ** np.arange(1, degree + 2), "columns start at x^1; the first column must be x^0 = 1"),
            (expected.T.copy() if degree + 1 == len(x) else None,
             "the matrix is transposed: one row per sample, one column per power"),
        ], context=f"for degree={degree}")
    passed(name)


def fit_polynomial(candidate) -> None:
    """``candidate(x, y, degree) -> coefficients`` (x^0 first), the least-squares fit."""
    name = "fit_polynomial"
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 25)
    y = np.sin(np.pi * x) + 0.2 * rng.standard_normal(25)
    x2 = rng.uniform(0.5, 3.0, 18)  # off [-1, 1]: a fit in a rescaled window gives other coefficients
    y2 = np.log(x2) + 0.1 * rng.standard_normal(18)
    for xs, ys, degree in ((x, y, 1), (x, y, 3), (x, y, 5), (x2, y2, 2), (x2, y2, 0)):
        out = expect_array(call(candidate, xs, ys, degree, name=name), name, shape=(degree + 1,))
        expected = ref.fit_polynomial(xs, ys, degree)
        # normal equations and QR/SVD solvers differ by ~cond(Φ)·1e-16; 1e-6 covers them all
        diagnose(out, expected, name, atol=1e-6, rtol=1e-5, mistakes=[
            (expected[::-1].copy() if degree else None,
             "coefficients are in decreasing powers (numpy.polyfit's order); "
             "return them from x^0 up, matching polynomial_features"),
            (ref.fit_polynomial(xs, ys, degree, alpha=1.0), "this is a ridge fit with alpha=1; the task asks for "
                                                            "plain least squares"),
            (np.polynomial.Polynomial.fit(xs, ys, degree).coef,
             "these are coefficients in numpy's rescaled window (Polynomial.fit maps x to [-1, 1]); "
             "return coefficients of x itself (e.g. `.convert().coef`, or np.linalg.lstsq)"),
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
    x_tr, y_tr, x_va, y_va = sweep_data()
    # the exercise's data and degrees, then unequal split sizes and degrees that are not their positions
    for data, degrees in (((x_tr, y_tr, x_va, y_va), list(range(0, 13))),
                          ((x_tr[:14], y_tr[:14], np.concatenate([x_va, x_tr[14:]]),
                            np.concatenate([y_va, y_tr[14:]])), [5, 1, 3])):
        out = call(candidate, *data, degrees, name=name)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail(f"`{name}` should return two sequences (train_mse, val_mse), got {type(out).__name__}")
        train_mse, val_mse = (expect_array(o, name, shape=(len(degrees),)) for o in out)
        ref_train, ref_val = _reference_sweep(*data, degrees)
        positions = list(range(len(degrees)))
        n_tr, n_va = len(data[0]), len(data[2])
        context = f"for degrees={degrees}"
        in_sorted_order = (_reference_sweep(*data, sorted(degrees)) if degrees != sorted(degrees) else (None, None))
        sorted_hint = "the errors are in sorted order of degree; keep the order of `degrees`"
        diagnose(train_mse, ref_train, name + " (train_mse)", rtol=1e-4, atol=1e-8, context=context, mistakes=[
            (in_sorted_order[0], sorted_hint),
            (ref_val, "train_mse holds validation errors: evaluate each fit on the data it was fitted to"),
            (np.sqrt(ref_train), "these are root-mean-squared errors; return the mean squared error"),
            (ref_train * n_tr, "these are sums of squared errors; take the mean over the samples"),
            (_reference_sweep(*data, positions)[0] if degrees != positions else None,
             "the errors belong to degrees 0, 1, 2, ...: fit the degrees in `degrees` (loop over its values, "
             "not over range(len(degrees)))"),
        ])
        diagnose(val_mse, ref_val, name + " (val_mse)", rtol=1e-4, atol=1e-8, context=context, mistakes=[
            (in_sorted_order[1], sorted_hint),
            (_reference_sweep(data[2], data[3], data[2], data[3], degrees)[0],
             "val_mse comes from polynomials fitted on the validation data; fit on train, evaluate on val"),
            (np.sqrt(ref_val), "these are root-mean-squared errors; return the mean squared error"),
            (ref_val * n_va, "these are sums of squared errors; take the mean over the samples"),
            (ref_val * n_va / n_tr if n_va != n_tr else None,
             "the validation error is divided by the number of *training* samples; divide by len(x_val)"),
            (_reference_sweep(*data, positions)[1] if degrees != positions else None,
             "the errors belong to degrees 0, 1, 2, ...: fit the degrees in `degrees` (loop over its values, "
             "not over range(len(degrees)))"),
        ])
    passed(name, "training error falls with degree; validation error is U-shaped")


def _sweep_choice():
    """Validation MSE per degree, the argmin, and the one-standard-error set of acceptable choices."""
    degrees = list(range(0, 13))
    x_tr, y_tr, x_va, y_va = sweep_data()
    train, val = _reference_sweep(x_tr, y_tr, x_va, y_va, degrees)
    best = int(np.argmin(val))
    sq = (ref.predict_polynomial(ref.fit_polynomial(x_tr, y_tr, degrees[best]), x_va) - y_va) ** 2
    se = float(sq.std(ddof=1) / np.sqrt(len(sq)))
    # the argmin, or a simpler degree whose validation error is within one standard error of the minimum
    ok = [d for d in degrees if d <= degrees[best] and val[d] <= val[best] + se]
    return degrees, train, val, best, se, ok


def best_degree(candidate_degree) -> None:
    """The degree chosen from the exercise's sweep (an int): the validation argmin, or a simpler degree
    whose validation error is within one standard error of the minimum (the one-standard-error rule)."""
    name = "best_degree"
    if not isinstance(candidate_degree, (int, np.integer)) or isinstance(candidate_degree, bool):
        fail(f"`{name}` should be an integer degree, got {candidate_degree!r}")
    degrees, train, val, best, se, ok = _sweep_choice()
    d = int(candidate_degree)
    if d == degrees[int(np.argmin(train))]:
        fail(f"`{name}`: {d} has the smallest *training* error, which always favours the most "
             "flexible model; choose by validation error")
    if d not in degrees:
        fail(f"`{name}`: {d} is not one of the degrees of the sweep (0 to 12)")
    if d in ok:
        rule = "the lowest validation error" if d == degrees[best] else \
            f"a validation error within one standard error ({se:.3f}) of the lowest, and is simpler"
        passed(name, f"degree {d} has {rule}")
        return
    if d > degrees[best] and val[d] <= val[best] + se:
        fail(f"`{name}`: degree {d} validates no better than degree {degrees[best]} (within noise) but is more "
             f"complex; among degrees that validate equally well, prefer the simpler one")
    fail(f"`{name}`: degree {d} has validation MSE {val[d]:.3g}, more than one standard error ({se:.3f}) above the "
         f"lowest, {val[best]:.3g}; choose the degree with the smallest validation error (or, by the "
         "one-standard-error rule, the simplest degree within one standard error of it)")


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
