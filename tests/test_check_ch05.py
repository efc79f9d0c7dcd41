"""The chapter 05 checkers accept reglib's reference and reject each named mistake with its hint."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from reglib import check
from reglib.check import ch05
from reglib.early_stopping import EarlyStopping, gd_linear_regression
from reglib.linear import ridge

# --------------------------------------------------------------------------- task 1: the early-stopping loop


def _loop(model, train_epoch, val_loss, max_epochs, patience, min_delta=0.0, *, late=0, ge=False, use_delta=True,
          restore="copy", zero_based=False, epochs_cap=None):
    """A configurable early-stopping loop: the correct one by default, each keyword one classic mistake."""
    delta = min_delta if use_delta else 0.0
    best, best_epoch, best_state, bad, epoch = math.inf, 0, None, 0, 0
    for epoch in range(1, (epochs_cap or max_epochs) + 1):
        train_epoch(model)
        value = val_loss(model)
        improved = value <= best - delta if ge else value < best - delta
        if improved:
            best, best_epoch, bad = value, epoch, 0
            best_state = copy.deepcopy(model.state_dict()) if restore == "copy" else model.state_dict()
        else:
            bad += 1
            if bad >= patience + late:
                break
    if restore in ("copy", "reference"):
        model.load_state_dict(best_state)
    return best_epoch - zero_based, epoch


def good_loop(model, train_epoch, val_loss, max_epochs, patience, min_delta=0.0):
    return _loop(model, train_epoch, val_loss, max_epochs, patience, min_delta)


def reglib_loop(model, train_epoch, val_loss, max_epochs, patience, min_delta=0.0):
    """The same loop written with reglib's EarlyStopping."""
    stopper = EarlyStopping(patience=patience, min_delta=min_delta)
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        train_epoch(model)
        if stopper.step(val_loss(model), model):
            break
    stopper.restore(model)
    return stopper.best_step + 1, epoch


def not_implemented(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("candidate", [good_loop, reglib_loop])
def test_early_stopping_loop_references_pass(candidate, capsys):
    check.train_with_early_stopping(candidate)
    assert "✔ train_with_early_stopping" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, match", [
    ({"late": 1}, "off-by-one patience.*one epoch late"),
    ({"late": -1}, "off-by-one patience.*one epoch early"),
    ({"late": 100}, "never stopped"),
    ({"restore": "none"}, "does not restore the best weights"),
    ({"restore": "reference"}, "reference, not a copy"),
    ({"ge": True}, "`>=` where the rule needs `>`"),
    ({"use_delta": False}, "ignores min_delta"),
    ({"zero_based": True}, "counted from 1"),
    ({"epochs_cap": 5}, "max_epochs"),
])
def test_early_stopping_loop_mistakes_are_named(kwargs, match):
    def candidate(model, train_epoch, val_loss, max_epochs, patience, min_delta=0.0):
        if "epochs_cap" in kwargs:  # a loop that stops one epoch before max_epochs: range(1, max_epochs)
            return _loop(model, train_epoch, val_loss, max_epochs, patience, min_delta, epochs_cap=max_epochs - 1)
        return _loop(model, train_epoch, val_loss, max_epochs, patience, min_delta, **kwargs)

    with pytest.raises(AssertionError, match=match):
        check.train_with_early_stopping(candidate)


def test_early_stopping_loop_bad_returns():
    with pytest.raises(AssertionError, match="not implemented yet"):
        check.train_with_early_stopping(not_implemented)
    with pytest.raises(AssertionError, match="forget `return`"):
        check.train_with_early_stopping(lambda *a, **k: None)
    with pytest.raises(AssertionError, match="two integers"):
        check.train_with_early_stopping(lambda *a, **k: (float("nan"), 3))

    def lies_about_epochs(model, train_epoch, val_loss, max_epochs, patience, min_delta=0.0):
        best, run = good_loop(model, train_epoch, val_loss, max_epochs, patience, min_delta)
        return best, run + 2

    with pytest.raises(AssertionError, match="trained 5 epochs but reported"):
        check.train_with_early_stopping(lies_about_epochs)

    def local_rebinding(model, train_epoch, val_loss, max_epochs, patience, min_delta=0.0):
        # keeps a deep copy of the best model but only rebinds the local name at the end
        best, best_model, best_epoch, bad, epoch = math.inf, None, 0, 0, 0
        for epoch in range(1, max_epochs + 1):
            train_epoch(model)
            value = val_loss(model)
            if value < best - min_delta:
                best, best_model, best_epoch, bad = value, copy.deepcopy(model), epoch, 0
            else:
                bad += 1
                if bad >= patience:
                    break
        model = best_model  # noqa: F841 -- the classic mistake
        return best_epoch, epoch

    with pytest.raises(AssertionError, match="assigning `model = ...`"):
        check.train_with_early_stopping(local_rebinding)


# --------------------------------------------------------------------------- task 2: gd_factors


def _factors(lam, lr, steps):
    return 1.0 - (1.0 - lr * np.asarray(lam, dtype=float)) ** steps


def test_gd_factors_reference_passes(capsys):
    check.gd_factors(_factors)
    assert "✔ gd_factors" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (lambda lam, lr, t: (1 - lr * lam) ** t, "NOT yet"),
    (lambda lam, lr, t: 1 - np.exp(-t * lr * lam), "approximation"),
    (lambda lam, lr, t: lam / (lam + 1 / (t * lr)) if t else 0 * lam, "ridge factor"),
    (lambda lam, lr, t: _factors(lam, lr, t + 1), "not τ \\+ 1"),
    (lambda lam, lr, t: _factors(lam, lr, max(t - 1, 0)), "not τ − 1"),
    (lambda lam, lr, t: 1 - (1 - lam) ** t, "step size ε is missing"),
    (lambda lam, lr, t: _factors(lam, lr, t)[:-1], "shape"),
    (lambda lam, lr, t: np.full(lam.shape, np.nan), "NaN"),
    (not_implemented, "not implemented yet"),
])
def test_gd_factors_mistakes_are_named(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.gd_factors(candidate)


def test_gd_factors_must_not_mutate_and_must_give_zeros_for_zero_steps():
    def mutating(lam, lr, t):
        lam *= 1.0
        lam[0] = 0.5
        return _factors(lam, lr, t)

    with pytest.raises(AssertionError, match="modified its input"):
        check.gd_factors(mutating)

    def ones_at_zero(lam, lr, t):
        return _factors(lam, lr, t) if t else np.ones_like(lam)

    with pytest.raises(AssertionError, match="steps=0"):
        check.gd_factors(ones_at_zero)


# --------------------------------------------------------------------------- task 3: the experiment


def _experiment_gaps(alpha_of=lambda t, lr: 1 / (t * lr), offset=0, relative=True, denom="ridge"):
    X, y, lr, taus = check.gd_ridge_data()
    gaps = []
    for t in taus:
        w = np.zeros(X.shape[1])
        for _ in range(t + offset):
            w = w - lr * X.T @ (X @ w - y)
        w_r = np.linalg.solve(X.T @ X + alpha_of(t, lr) * np.eye(X.shape[1]), X.T @ y)
        gap = np.linalg.norm(w - w_r)
        gaps.append(gap / np.linalg.norm(w_r if denom == "ridge" else w) if relative else gap)
    return gaps


def test_experiment_reference_passes_and_the_gap_shrinks(capsys):
    gaps = _experiment_gaps()
    check.gd_vs_ridge(gaps)
    assert "✔ gd_vs_ridge" in capsys.readouterr().out
    assert all(b < a for a, b in zip(gaps, gaps[1:]))


def test_reglib_helpers_agree_with_the_loop():
    X, y, lr, taus = ch05.gd_ridge_data()
    w = np.zeros(X.shape[1])
    for _ in range(10):
        w = w - lr * X.T @ (X @ w - y)
    np.testing.assert_allclose(gd_linear_regression(X, y, lr, 10), w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ridge(X, y, 2.0), np.linalg.solve(X.T @ X + 2.0 * np.eye(X.shape[1]), X.T @ y),
                               rtol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    ({"alpha_of": lambda t, lr: t * lr}, "α = τε"),
    ({"alpha_of": lambda t, lr: 1 / t}, "α = 1/τ"),
    ({"relative": False}, "absolute distances"),
    ({"denom": "gd"}, "divided by ‖w_τ‖"),
    ({"offset": 1}, "τ \\+ 1 steps"),
    ({"offset": -1}, "τ − 1 steps"),
    ({"alpha_of": lambda t, lr: 2 / (t * lr)}, "used 2α"),
    ({"alpha_of": lambda t, lr: 0.5 / (t * lr)}, "used α/2"),
])
def test_experiment_mistakes_are_named(kwargs, match):
    with pytest.raises(AssertionError, match=match):
        check.gd_vs_ridge(_experiment_gaps(**kwargs))


def test_experiment_bad_inputs():
    gaps = _experiment_gaps()
    with pytest.raises(AssertionError, match="not set yet"):
        check.gd_vs_ridge(None)
    with pytest.raises(AssertionError, match="hold 4 numbers"):
        check.gd_vs_ridge(gaps[:3])
    with pytest.raises(AssertionError, match="NaN"):
        check.gd_vs_ridge([float("nan")] * 4)
    with pytest.raises(AssertionError, match="sequence"):
        check.gd_vs_ridge(["a"] * 4)
    with pytest.raises(AssertionError, match="wrong values"):
        check.gd_vs_ridge(list(np.array(gaps) * 1.5))


# --------------------------------------------------------------------------- task 4: conceptual


@pytest.mark.parametrize("question, right, wrong", [
    ("05.alpha", 0.2, [5.0, 0.002, 100.0, 500.0, 1.0]),
    ("05.monitor", "validation", ["train", "test"]),
    ("05.patience", "increase", ["decrease", "unchanged"]),
])
def test_conceptual_answers(question, right, wrong, assert_answer):
    assert_answer(question, right, {w: question for w in wrong})


def test_alpha_answer_accepts_the_computed_float():
    check.answer("05.alpha", 1 / (500 * 0.01))


# --------------------------------------------------------------------------- mistakes the fixed inputs used to miss

import copy as _copy  # noqa: E402
import math as _math  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _my_loop(restore_on_break_only=False, vs_previous=False, no_reset=False):
    def loop(model, train_epoch, val_loss, max_epochs, patience, min_delta=0.0):
        best, prev, best_epoch, best_state, bad, epoch = _math.inf, _math.inf, 0, None, 0, 0
        for epoch in range(1, max_epochs + 1):
            train_epoch(model)
            v = val_loss(model)
            better = v < (prev if vs_previous else best) - min_delta
            prev = v
            if better:
                best, best_epoch = v, epoch
                bad = bad if no_reset else 0
                best_state = _copy.deepcopy(model.state_dict())
            else:
                bad += 1
                if bad >= patience:
                    model.load_state_dict(best_state)
                    return best_epoch, epoch
        if not restore_on_break_only:
            model.load_state_dict(best_state)
        return best_epoch, epoch
    return loop


@pytest.mark.parametrize("kw, match", [
    (dict(restore_on_break_only=True), "ran out of epochs"),
    (dict(vs_previous=True), "BEST loss so far"),
    (dict(no_reset=True), "CONSECUTIVE"),
])
def test_loop_mistakes_get_their_hint(kw, match):
    with pytest.raises(AssertionError, match=match):
        check.train_with_early_stopping(_my_loop(**kw))
    check.train_with_early_stopping(_my_loop())


def test_gd_factors_with_negative_base():
    with pytest.raises(AssertionError, match=r"\|1 − ελ\|"):
        check.gd_factors(lambda lam, lr, s: 1 - np.abs(1 - lr * lam) ** s)
    check.gd_factors(lambda lam, lr, s: 1 - np.power(1 - lr * np.asarray(lam), s))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from([1.0, 0.9, 0.8, 0.7, 0.6, 0.5]), min_size=3, max_size=9),
       st.integers(1, 3), st.sampled_from([0.0, 0.1]))
def test_loop_property_reference_passes_every_script(losses, patience, min_delta):
    """On random loss scripts the student-style loop agrees with reglib's EarlyStopping (what the checker uses)."""
    from reglib.check import ch05

    best, run, weights = ch05._run(_my_loop(), losses, len(losses), patience, min_delta)
    assert (best, run) == ch05._reference_loop(losses, len(losses), patience, min_delta)
    assert weights == best


@settings(max_examples=10, deadline=None)
@given(st.floats(1e-6, 0.2))
def test_gd_factors_property(eps):
    with pytest.raises(AssertionError):
        check.gd_factors(lambda lam, lr, s: 1 - (1 - lr * (1 + eps) * np.asarray(lam)) ** s)
