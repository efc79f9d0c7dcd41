"""Chapter 13 checkers accept the reference and name the usual mistakes."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reglib import check
from reglib.check import ch13
from reglib.linear import ridge
from reglib.tuning import LogUniform, Space, Uniform, random_search, select_best


# --------------------------------------------------------------------------- task 1


def _log_uniform(low, high, size, rng):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def test_reference_samplers_pass(capsys):
    check.sample_log_uniform(_log_uniform)
    # base 10 is as good as base e, and reglib's own distribution passes too
    check.sample_log_uniform(lambda low, high, size, rng: 10 ** rng.uniform(np.log10(low), np.log10(high), size))
    check.sample_log_uniform(lambda low, high, size, rng: np.array([LogUniform(low, high).sample(rng)
                                                                    for _ in range(size)]))
    assert capsys.readouterr().out.count("✔") == 3


@pytest.mark.parametrize("candidate, match", [
    (lambda low, high, size, rng: rng.uniform(low, high, size), "uniform sampling instead of log-uniform"),
    (lambda low, high, size, rng: np.exp(rng.uniform(low, high, size)), "logarithm"),
    (lambda low, high, size, rng: np.exp(np.random.uniform(np.log(low), np.log(high), size)), "generator `rng`"),
    (lambda low, high, size, rng: np.exp(np.random.default_rng(0).uniform(np.log(low), np.log(high), size)),
     "generator `rng`"),
    (lambda low, high, size, rng: np.exp(rng.uniform(np.log(1e-5), np.log(1e-1), size)), "low and high"),
    (lambda low, high, size, rng: rng.uniform(0, 1, size) ** 4 * high, "decades|outside"),
])
def test_sampler_mistakes(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.sample_log_uniform(candidate)


@pytest.mark.parametrize("candidate, match", [
    (lambda low, high, size, rng: (_ for _ in ()).throw(NotImplementedError()), "not implemented"),
    (lambda low, high, size, rng: np.full(size, np.nan), "NaN"),
    (lambda low, high, size, rng: _log_uniform(low, high, size + 1, rng), "shape"),
    (lambda low, high, size, rng: _log_uniform(low, high, size, rng).reshape(size, 1), "shape"),
    (lambda low, high, size, rng: None, "None"),
])
def test_sampler_generic_failures(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.sample_log_uniform(candidate)


# --------------------------------------------------------------------------- task 2


def test_reference_selection_passes(capsys):
    check.select_best_config(lambda records: max(records, key=lambda r: r["val_acc"]))
    check.select_best_config(select_best)  # reglib's own
    assert capsys.readouterr().out.count("✔") == 2


@pytest.mark.parametrize("candidate, match", [
    (lambda records: max(records, key=lambda r: r["test_acc"]), "tuning on the test split"),
    (lambda records: max(records, key=lambda r: r["train_acc"]), "training accuracy"),
    (lambda records: min(records, key=lambda r: r["val_acc"]), "argmin instead of argmax"),
    (lambda records: max(records, key=lambda r: r["val_acc"])["config"], "whole record"),
    (lambda records: next(r for r in records if r["config"]["name"].startswith("D")), "expected the record"),
    (lambda records: None, "None"),
])
def test_selection_mistakes(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.select_best_config(candidate)


def test_selection_that_mutates_or_raises_is_rejected():
    def sorts_in_place(records):
        records.sort(key=lambda r: -r["val_acc"])
        return records[0]

    with pytest.raises(AssertionError, match="modified"):
        check.select_best_config(sorts_in_place)

    def not_done(records):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not implemented"):
        check.select_best_config(not_done)


# --------------------------------------------------------------------------- task 3


def _search(dist=LogUniform(1e-6, 1e2), mode="min", metric="val"):
    X_tr, y_tr, X_va, y_va, X_te, y_te = check.ridge_search_data()

    def run(config):
        w = ridge(X_tr, y_tr, config["alpha"])
        return {"val": float(np.mean((X_va @ w - y_va) ** 2)), "train": float(np.mean((X_tr @ w - y_tr) ** 2)),
                "test_error": float(np.mean((X_te @ w - y_te) ** 2))}

    result = random_search(run, Space({"alpha": dist}), n_trials=ch13.RIDGE_SEARCH_TRIALS, seed=0, mode=mode,
                           metric=metric)
    return result


def _test_mse(alpha):
    X_tr, y_tr, _, _, X_te, y_te = check.ridge_search_data()
    return float(np.mean((X_te @ ridge(X_tr, y_tr, alpha) - y_te) ** 2))


def test_reference_search_passes(capsys):
    alpha = _search().best_config["alpha"]
    check.ridge_search_outcome(alpha, _test_mse(alpha))
    # refitting on train + validation before the single test evaluation is accepted too
    X_tr, y_tr, X_va, y_va, X_te, y_te = check.ridge_search_data()
    w = ridge(np.vstack([X_tr, X_va]), np.concatenate([y_tr, y_va]), alpha)
    check.ridge_search_outcome(alpha, float(np.mean((X_te @ w - y_te) ** 2)))
    assert capsys.readouterr().out.count("✔") == 2


def _alpha_minimising(key):
    result = _search()
    return result.trials[int(np.argmin([t.results[key] for t in result.trials]))].config["alpha"]


@pytest.mark.parametrize("make_alpha, match", [
    (lambda: _alpha_minimising("test_error"), "tuned on the test split"),
    (lambda: _alpha_minimising("train"), "training"),
    (lambda: _search(mode="max").best_config["alpha"], "mode='min'"),
    (lambda: _search(dist=Uniform(1e-6, 1e2)).best_config["alpha"], "log-uniformly"),
    (lambda: 10.0, "validation MSE"),
])
def test_search_mistakes(make_alpha, match):
    alpha = make_alpha()
    with pytest.raises(AssertionError, match=match):
        check.ridge_search_outcome(alpha, _test_mse(alpha))


def test_search_reporting_mistakes():
    result = _search()
    alpha = result.best_config["alpha"]
    with pytest.raises(AssertionError, match="validation error of the chosen"):
        check.ridge_search_outcome(alpha, result.best_score)
    with pytest.raises(AssertionError, match="root-mean-squared"):
        check.ridge_search_outcome(alpha, math.sqrt(_test_mse(alpha)))
    with pytest.raises(AssertionError, match="set best_alpha"):
        check.ridge_search_outcome(None, None)
    with pytest.raises(AssertionError, match="returned nan|nan"):
        check.ridge_search_outcome(float("nan"), 1.0)
    with pytest.raises(AssertionError, match="positive"):
        check.ridge_search_outcome(-1.0, 1.0)


def test_ridge_search_data_is_fixed():
    a, b = check.ridge_search_data(), check.ridge_search_data()
    assert [x.shape for x in a] == [(45, 40), (45,), (40, 40), (40,), (500, 40), (500,)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


# --------------------------------------------------------------------------- task 4


def test_conceptual_answers(capsys):
    check.answer("13.test_tuning", "c")
    check.answer("13.grid_values", 4)
    check.answer("13.underfit", "b")
    assert capsys.readouterr().out.count("✔") == 3
    with pytest.raises(AssertionError, match="intended use"):
        check.answer("13.test_tuning", "b")
    with pytest.raises(AssertionError, match="number of runs"):
        check.answer("13.grid_values", 64)
    with pytest.raises(AssertionError, match="underfits"):
        check.answer("13.underfit", "a")
    with pytest.raises(AssertionError, match="no answer yet"):
        check.answer("13.underfit", None)


# --------------------------------------------------------------------------- issue: mistakes the fixed inputs missed
# Wrong answers written from the task text alone; each must be rejected with the hint that names it (a rule
# that is wrong for another reason is not told "you selected by test accuracy").


@pytest.mark.parametrize("candidate, match", [
    (lambda low, high, size, rng: np.sort(_log_uniform(low, high, size, rng)), "come out sorted"),
    (lambda low, high, size, rng: np.geomspace(low, high, size), "evenly spaced grid"),
    (lambda low, high, size, rng: 10.0 ** np.round(rng.uniform(np.log10(low), np.log10(high), size), 1),
     "no gaps or preferred values"),
])
def test_sampler_mistakes_found_by_new_inputs(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.sample_log_uniform(candidate)


@pytest.mark.parametrize("candidate, match", [
    (lambda records: min(records, key=lambda r: r["train_acc"] - r["val_acc"]), "smallest gap"),
    (lambda records: max(records, key=lambda r: r["val_acc"] + r["test_acc"]), "combined validation and test"),
    (lambda records: records[-1], "returned the last record"),
    (lambda records: records[0], "returned the first record"),
])
def test_selection_rules_get_their_own_hint(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.select_best_config(candidate)


def test_no_two_selection_rules_pick_alike():
    for i, (rule, _) in enumerate(ch13._RULES):
        for other, _ in ch13._RULES[i + 1:]:
            lists = [[ch13._records()[j] for j in order] for order in ch13._ORDERS]
            assert any(rule(r) != other(r) for r in lists)
        assert all(rule(r) != max(r, key=lambda q: q["val_acc"])
                   for r in ([ch13._records()[j] for j in order] for order in ch13._ORDERS[:2]))


@pytest.mark.parametrize("candidate", [
    lambda records: sorted(records, key=lambda r: r["val_acc"])[-1],
    lambda records: dict(max(records, key=lambda r: r["val_acc"])),
    lambda low, high, size, rng: low * (high / low) ** rng.random(size),
    lambda low, high, size, rng: 10 ** rng.uniform(np.log10(low), np.log10(high), size),
])
def test_correct_variants_pass(candidate):
    n_args = candidate.__code__.co_argcount
    (check.select_best_config if n_args == 1 else check.sample_log_uniform)(candidate)


# --------------------------------------------------------------------------- property-based (hypothesis)
# Random perturbations of a correct answer: valid ones must pass, those that break the contract must fail.

PROP = settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@PROP
@given(form=st.sampled_from(["exp", "pow10", "ratio"]), power=st.floats(1.1, 2.0), invert=st.booleans())
def test_sample_log_uniform_properties(form, power, invert):
    def correct(low, high, size, rng):
        u = rng.random(size)
        if form == "exp":
            return np.exp(np.log(low) + u * (np.log(high) - np.log(low)))
        if form == "pow10":
            return 10 ** (np.log10(low) + u * (np.log10(high) - np.log10(low)))
        return low * (high / low) ** u

    check.sample_log_uniform(correct)
    k = 1 / power if invert else power
    with pytest.raises(AssertionError):
        check.sample_log_uniform(lambda low, high, size, rng: low * (high / low) ** (rng.random(size) ** k))


@PROP
@given(weight=st.floats(0.5, 2.0), ties=st.booleans())
def test_select_best_config_properties(weight, ties):
    order = (lambda r: (r["val_acc"], -r["train_acc"])) if ties else (lambda r: r["val_acc"])
    check.select_best_config(lambda records: max(records, key=order))
    with pytest.raises(AssertionError):
        check.select_best_config(lambda records: max(records, key=lambda r: r["val_acc"] + weight * r["test_acc"]))
