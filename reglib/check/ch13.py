"""Checkers for exercises/13_capstone.ipynb (tuning on validation data, chapter 13)."""

from __future__ import annotations

import copy
import math

import numpy as np
from scipy import stats

from .. import tuning
from ..data import make_linear_regression
from ..linear import ridge
from ._core import (FALSE_ALARM, binomial_range, call, expect_array, expect_distribution, expect_scalar, fail,
                    hash_answer, passed, register_answers)

__all__ = ["sample_log_uniform", "select_best_config", "ridge_search_data", "ridge_search_outcome",
           "RIDGE_SEARCH_TRIALS"]

#: Number of trials of the exercise's random search (task 3), drawn with ``seed=0``.
RIDGE_SEARCH_TRIALS = 20
_ALPHA_RANGE = (1e-6, 1e2)


# --------------------------------------------------------------------------- task 1: log-uniform sampling


def _draw(candidate, low, high, size, seed, name):
    out = call(candidate, low, high, size, np.random.default_rng(seed), name=name)
    return expect_array(out, name, shape=(size,)).astype(float)


def sample_log_uniform(candidate) -> None:
    """``candidate(low, high, size, rng) -> array (size,)``: ``size`` log-uniform draws on ``[low, high]``."""
    name = "sample_log_uniform"
    low, high, size = 1e-5, 1e-1, 20_000
    x = _draw(candidate, low, high, size, 0, name)
    if np.all((x >= math.exp(low) - 1e-9) & (x <= math.exp(high) + 1e-9)):
        fail(f"`{name}`: the draws lie between exp(low) and exp(high); draw the *logarithm* uniformly between "
             "log(low) and log(high), then exponentiate")
    if x.min() < low * (1 - 1e-9) or x.max() > high * (1 + 1e-9):
        fail(f"`{name}`(low={low}, high={high}) returned values outside [low, high] (from {x.min():.3g} to "
             f"{x.max():.3g}); exponentiate a uniform draw between log(low) and log(high)")
    below = np.mean(x < 1e-3)
    if below < 0.1:
        fail(f"`{name}`: only {below:.1%} of the draws fall below 1e-3, half of the decades of [1e-5, 1e-1]: "
             "this is uniform sampling instead of log-uniform. A uniform draw spends almost all trials on the "
             "largest decade; sample log(θ) uniformly (chapter 13, eq. (4))")
    steps = np.diff(x)
    if np.all(steps >= 0) or np.all(steps <= 0):
        other = _draw(candidate, low, high, size, 1, name)
        if np.array_equal(x, other):
            fail(f"`{name}`: the values are an evenly spaced grid (np.geomspace / np.logspace), the same for every "
                 "seed: a random search draws its values at random from `rng` (rng.uniform(...)), so that "
                 "different seeds try different values")
        fail(f"`{name}`: the draws come out sorted; return them in the order they were drawn, so that they are "
             "independent draws (trial i must not depend on the others)")
    shares = np.histogram(np.log10(x), bins=np.arange(-5, 0))[0] / size
    # Kolmogorov–Smirnov test of log(x) against U[log low, log high), false-alarm rate FALSE_ALARM (1e-5)
    expect_distribution(np.log(x), stats.uniform(math.log(low), math.log(high / low)).cdf,
                        f"`{name}`: the four decades of [1e-5, 1e-1] received shares {np.round(shares, 3)} of the "
                        "draws; a log-uniform distribution gives every stretch of log θ between log(low) and "
                        "log(high) the same share (each decade 0.25), with no gaps or preferred values")
    # independent draws in random order: Spearman's rank correlation with the position, |z| > 4.42 has
    # probability FALSE_ALARM (1e-5) for independent draws
    rho = stats.spearmanr(np.arange(size), x).statistic
    if abs(rho) * math.sqrt(size - 1) > stats.norm.isf(FALSE_ALARM / 2):
        fail(f"`{name}`: the draws trend with their position (rank correlation {rho:.3f}); return independent draws "
             "in the order they were drawn")
    again = _draw(candidate, low, high, size, 0, name)
    other = _draw(candidate, low, high, size, 1, name)
    if not np.array_equal(x, again) or np.array_equal(x, other):
        fail(f"`{name}`: the draws must come from the generator `rng` you are given (e.g. rng.uniform(...)), so "
             "that the same seed gives the same draws and another seed other draws; do not use np.random.* "
             "or a fixed seed inside the function")
    y = _draw(candidate, 1e-3, 1e3, 5000, 2, name)
    below = int(np.sum(y < 1.0))
    lo_count, hi_count = binomial_range(5000, 0.5)  # false-alarm rate FALSE_ALARM
    if y.min() < 1e-3 * (1 - 1e-9) or y.max() > 1e3 * (1 + 1e-9) or not lo_count <= below <= hi_count:
        fail(f"`{name}`(low=1e-3, high=1e3) does not give half of its draws below 1 ({below} of 5000); use the low "
             "and high arguments, not fixed bounds")
    passed(name, "each decade gets the same share of the draws")


# --------------------------------------------------------------------------- task 2: selection


def _records():
    """Eight result records in which every selection rule of :data:`_RULES` picks a different entry."""
    rows = [  # name, train, val, test
        ("A: no regularization", 1.00, 0.62, 0.63),
        ("B: too much dropout", 0.66, 0.60, 0.55),
        ("C: shift + label smoothing", 0.90, 0.77, 0.72),
        ("D: shift only", 0.93, 0.75, 0.74),
        ("E: shift + dropout", 0.84, 0.70, 0.79),
        ("F: label smoothing", 0.81, 0.76, 0.75),
        ("G: weight decay", 0.60, 0.58, 0.61),
        ("H: strong weight decay", 0.68, 0.67, 0.64),
    ]
    return [{"config": {"name": n}, "train_acc": tr, "val_acc": va, "test_acc": te} for n, tr, va, te in rows]


#: (rule, hint) for the usual selection mistakes; each picks a different record of :func:`_records`, in
#: every order, so a candidate is told a rule only if it picked what that rule picks in every order.
_RULES = [
    (lambda r: max(r, key=lambda q: q["test_acc"]),
     "you selected by test accuracy: that is tuning on the test split, which makes the reported test score "
     "optimistic (chapter 13, §2). Select on validation accuracy"),
    (lambda r: max(r, key=lambda q: q["train_acc"]),
     "you selected by training accuracy, which always favours the least regularized, memorising model. Select on "
     "validation accuracy"),
    (lambda r: min(r, key=lambda q: q["val_acc"]),
     "you returned the record with the *lowest* validation accuracy (argmin instead of argmax): accuracy is "
     "maximised, losses are minimised"),
    (lambda r: min(r, key=lambda q: q["test_acc"]),
     "you returned the lowest test accuracy; select the *highest validation* accuracy"),
    (lambda r: min(r, key=lambda q: q["train_acc"] - q["val_acc"]),
     "you selected the smallest gap between training and validation accuracy; a small gap is no merit in itself "
     "(an underfitting model has none). Select the highest validation accuracy"),
    (lambda r: max(r, key=lambda q: q["val_acc"] + q["test_acc"]),
     "you combined validation and test accuracy; the test split must not influence the choice at all. Select on "
     "validation accuracy alone"),
    (lambda r: r[-1], "you returned the last record, whatever its accuracies; select the highest validation "
                      "accuracy"),
    (lambda r: r[0], "you returned the first record, whatever its accuracies; select the highest validation "
                     "accuracy"),
]

_ORDERS = ([0, 1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3, 2, 1, 0], [3, 0, 5, 7, 2, 6, 4, 1])


def select_best_config(candidate) -> None:
    """``candidate(records) -> record``: the record with the highest validation accuracy."""
    name = "select_best_config"
    picks, lists = [], []
    for order in _ORDERS:
        records = [_records()[i] for i in order]
        before = copy.deepcopy(records)
        out = call(candidate, records, name=name)
        if records != before:
            fail(f"`{name}` modified the list of records (sorted or edited it in place); leave the input as it is")
        if out is None:
            fail(f"`{name}` returned None (did you forget `return`?)")
        picks.append(out)
        lists.append(before)
    for out, records in zip(picks, lists):
        expected = max(records, key=lambda q: q["val_acc"])
        if out == expected:
            continue
        if out == expected["config"]:
            fail(f"`{name}` returned the configuration; return the whole record (the dict with its accuracies)")
        for rule, hint in _RULES:
            if all(p == rule(r) for p, r in zip(picks, lists)):
                fail(f"`{name}`: {hint}")
        fail(f"`{name}` returned {out!r}; expected the record with the highest val_acc, {expected!r}")
    passed(name, "selects on validation accuracy")


# --------------------------------------------------------------------------- task 3: a search on validation data


def ridge_search_data():
    """The exercise's regression problem: 45 training, 40 validation and 500 test samples, 40 features.

    Returns ``(X_train, y_train, X_val, y_val, X_test, y_test)`` (NumPy arrays). With nearly as many
    features as training samples, the ridge penalty ``alpha`` matters.
    """
    X, y, _ = make_linear_regression(n=585, d=40, noise=0.2, seed=1)
    return X[:45], y[:45], X[45:85], y[45:85], X[85:], y[85:]


def _mse(alpha, X_fit, y_fit, X, y):
    return float(np.mean((X @ ridge(X_fit, y_fit, alpha) - y) ** 2))


def _reference_trials(dist):
    X_tr, y_tr, X_va, y_va, X_te, y_te = ridge_search_data()

    def run(config):
        a = config["alpha"]
        return {"val_mse": _mse(a, X_tr, y_tr, X_va, y_va), "train_mse": _mse(a, X_tr, y_tr, X_tr, y_tr),
                "test_mse": _mse(a, X_tr, y_tr, X_te, y_te)}

    return tuning.random_search(run, {"alpha": dist}, RIDGE_SEARCH_TRIALS, seed=0, mode="min", metric="val_mse")


def ridge_search_outcome(best_alpha, test_mse) -> None:
    """The exercise's random search: the chosen ``best_alpha`` and the test MSE reported for it."""
    name = "ridge_search_outcome"
    if best_alpha is None or test_mse is None:
        fail(f"`{name}`: set best_alpha and test_mse first")
    best_alpha = expect_scalar(best_alpha, "best_alpha")
    test_mse = expect_scalar(test_mse, "test_mse")
    if best_alpha <= 0:
        fail(f"`{name}`: best_alpha must be a positive penalty strength, got {best_alpha}")
    X_tr, y_tr, X_va, y_va, X_te, y_te = ridge_search_data()
    log_search = _reference_trials(tuning.LogUniform(*_ALPHA_RANGE))
    uniform_search = _reference_trials(tuning.Uniform(*_ALPHA_RANGE))
    trials = log_search.trials
    alphas = np.array([t.config["alpha"] for t in trials])

    def pick(key, fn):
        return alphas[fn([t.results[key] for t in trials])]

    def same(a, b):
        return abs(a - b) <= 1e-6 * abs(b)

    mistakes = [
        (pick("test_mse", np.argmin), "this alpha has the lowest *test* error among the trials: you tuned on the "
                                      "test split. Select on validation error; compute the test error once, for "
                                      "the chosen alpha"),
        (pick("train_mse", np.argmin), "this alpha has the lowest *training* error, which always prefers the "
                                       "weakest penalty. Select on validation error"),
        (pick("val_mse", np.argmax), "this alpha has the *highest* validation error: pass mode='min' for an error "
                                     "(mode='max' is for accuracies)"),
        (uniform_search.best_config["alpha"], "this is the best of 20 *uniform* draws from [1e-6, 1e2]: almost all of "
                                              "them land above 1, far from the good penalties. Sample alpha "
                                              "log-uniformly (LogUniform)"),
    ]
    best_val = log_search.best_score
    val_of_choice = _mse(best_alpha, X_tr, y_tr, X_va, y_va)
    if not same(best_alpha, log_search.best_config["alpha"]):
        for wrong, hint in mistakes:
            if same(best_alpha, wrong):
                fail(f"`{name}`: {hint}")
        grid = np.geomspace(*_ALPHA_RANGE, 401)
        optimum = min(_mse(a, X_tr, y_tr, X_va, y_va) for a in grid)
        if val_of_choice > 1.1 * optimum:
            fail(f"`{name}`: alpha = {best_alpha:.3g} has validation MSE {val_of_choice:.4f}, but the search of the "
                 f"task (20 log-uniform trials on [1e-6, 1e2] with seed=0, mode='min') finds {best_val:.4f} at "
                 f"alpha = {log_search.best_config['alpha']:.3g}")
    expected_test = _mse(best_alpha, X_tr, y_tr, X_te, y_te)
    refit_test = _mse(best_alpha, np.vstack([X_tr, X_va]), np.concatenate([y_tr, y_va]), X_te, y_te)
    if not (math.isclose(test_mse, expected_test, rel_tol=1e-4) or math.isclose(test_mse, refit_test, rel_tol=1e-4)):
        if math.isclose(test_mse, val_of_choice, rel_tol=1e-4):
            fail(f"`{name}`: test_mse is the validation error of the chosen alpha; evaluate the chosen model on "
                 "X_test, y_test")
        if math.isclose(test_mse, math.sqrt(expected_test), rel_tol=1e-4):
            fail(f"`{name}`: test_mse is a root-mean-squared error; report the mean squared error")
        fail(f"`{name}`: test_mse = {test_mse:.4f}, but ridge with alpha = {best_alpha:.3g} fitted on the training "
             f"data has test MSE {expected_test:.4f}")
    passed(name, f"alpha = {best_alpha:.3g} chosen on validation, test MSE {test_mse:.4f} measured once")


# --------------------------------------------------------------------------- task 4: conceptual questions


register_answers({
    "13.test_tuning": {
        "choices": "'a', 'b', 'c' or 'd'",
        "correct": hash_answer("13.test_tuning", "c"),
        "hints": {
            hash_answer("13.test_tuning", "a"): "a three-way split is exactly what protects the test score",
            hash_answer("13.test_tuning", "b"): "choosing among 50 configurations on validation data is the "
                                                "intended use of the validation split; its score becomes optimistic, "
                                                "the test score does not",
            hash_answer("13.test_tuning", "d"): "reporting the test score is fine *if* the test set took no part "
                                                "in the choice; look for the step where it did",
        },
        "explain": "keeping the finalist with the best test accuracy is selection on the test set",
    },
    "13.grid_values": {
        "choices": "a whole number",
        "correct": hash_answer("13.grid_values", 4),
        "hints": {
            hash_answer("13.grid_values", 64): "64 is the number of runs; the grid repeats each learning rate for "
                                               "every combination of the other two knobs",
            hash_answer("13.grid_values", 16): "16 is how often each learning rate is repeated, not how many "
                                               "distinct values there are",
        },
        "explain": "4 learning rates (64 ** (1/3)), against 64 distinct ones for a random search",
    },
    "13.underfit": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("13.underfit", "b"),
        "hints": {
            hash_answer("13.underfit", "a"): "the training accuracy has fallen to the validation level: the model "
                                             "underfits, and more regularization makes underfitting worse",
            hash_answer("13.underfit", "c"): "training accuracy always favours the least regularized model; and the "
                                             "problem here is underfitting, not the selection rule",
        },
        "explain": "train ≈ val, both low: over-regularized, so regularize less (or add capacity / epochs)",
    },
})
