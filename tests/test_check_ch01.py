"""The checkers of exercise 01 accept the reference and reject each named mistake with its own hint."""

import numpy as np
import pytest
import torch

from reglib import check, linear, penalties
from reglib.check import ch01

# --------------------------------------------------------------------------- l2_penalty


def test_l2_penalty_accepts_the_reference(capsys):
    check.l2_penalty(penalties.l2_penalty)
    check.l2_penalty(lambda params, lam: lam / 2 * sum(p.pow(2).sum() for p in params))
    assert "✔ l2_penalty" in capsys.readouterr().out


def _first_only(params, lam):
    params = list(params)
    return lam / 2 * params[0].square().sum()


def _overwrites(params, lam):
    for p in params:
        total = p.square().sum()
    return lam / 2 * total


def _twice_over_generator(params, lam):
    count = sum(1 for _ in params)  # consumes a generator
    return lam / 2 * sum((p.square().sum() for p in params), torch.zeros(())) + 0 * count


@pytest.mark.parametrize("candidate, match", [
    (lambda ps, lam: lam * sum(p.square().sum() for p in ps), "missing ½"),
    (lambda ps, lam: lam / 2 * sum(p.sum() for p in ps), "not squared"),
    (lambda ps, lam: lam / 2 * sum(p.abs().sum() for p in ps), "L1 penalty"),
    (lambda ps, lam: lam / 2 * torch.sqrt(sum(p.square().sum() for p in ps)), "instead of its square"),
    (lambda ps, lam: lam * torch.sqrt(sum(p.square().sum() for p in ps)), "λ‖w‖"),
    (lambda ps, lam: lam / 2 * torch.cat([p.reshape(-1) for p in ps]).square().mean(), "averaged"),
    (lambda ps, lam: lam / 2 * sum(p.sum() ** 2 for p in ps), "squared the sum"),
    (_first_only, "only the first tensor"),
    (_overwrites, "only the last tensor"),
    (lambda ps, lam: lam ** 2 / 2 * sum(p.square().sum() for p in ps), "λ appears squared"),
    (lambda ps, lam: lam / 2 * torch.cat([p.reshape(-1) for p in ps]).square(), "forget to sum"),
    (lambda ps, lam: [lam / 2 * p.square().sum() for p in ps], "into one number"),
    (lambda ps, lam: (lam / 2 * sum(p.square().sum() for p in ps)).item(), "Python number"),
    (lambda ps, lam: lam / 2 * sum(p.detach().square().sum() for p in ps), "not connected to the weights"),
    (_twice_over_generator, "generator can be iterated only once"),
])
def test_l2_penalty_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.l2_penalty(candidate)


def _mutating_penalty(params, lam):
    params = list(params)
    with torch.no_grad():
        params[0].mul_(0.5)
    return lam / 2 * sum(p.square().sum() for p in params)


@pytest.mark.parametrize("candidate, match", [
    (lambda ps, lam: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda ps, lam: torch.tensor(float("nan")), "NaN"),
    (lambda ps, lam: None, "None|tensor"),
    (_mutating_penalty, "modified its input"),
])
def test_l2_penalty_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.l2_penalty(candidate)


# --------------------------------------------------------------------------- sgd_step_weight_decay


def test_sgd_step_accepts_the_reference(capsys):
    check.sgd_step_weight_decay(lambda w, g, lr, lam: w - lr * (g + lam * w))
    assert "✔ sgd_step_weight_decay" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (lambda w, g, lr, lam: w - lr * g - lam * w, "not scaled by the learning rate"),
    (lambda w, g, lr, lam: w - lr * g + lr * lam * w, "sign error in the decay"),
    (lambda w, g, lr, lam: w + lr * (g + lam * w), "steps against the gradient"),
    (lambda w, g, lr, lam: w + lr * g - lr * lam * w, "sign error on the gradient"),
    (lambda w, g, lr, lam: w - lr * g, "no weight decay"),
    (lambda w, g, lr, lam: w - lr * (g + lam / 2 * w), "not λw/2"),
    (lambda w, g, lr, lam: w - lr * (g + 2 * lam * w), "2λw"),
    (lambda w, g, lr, lam: (1 - lr * lam) * (w - lr * g), "after the gradient step"),
    (lambda w, g, lr, lam: w - lam * g, "swapped"),
])
def test_sgd_step_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.sgd_step_weight_decay(candidate)


def _inplace_step(w, g, lr, lam):
    w.mul_(1 - lr * lam).sub_(lr * g)
    return w


@pytest.mark.parametrize("candidate, match", [
    (lambda w, g, lr, lam: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda w, g, lr, lam: torch.full_like(w, float("nan")), "NaN"),
    (lambda w, g, lr, lam: (w - lr * (g + lam * w)).reshape(-1), "shape"),
    (lambda w, g, lr, lam: (w - lr * (g + lam * w)).double() if w.dtype == torch.float32 else w - lr * (g + lam * w),
     "dtype"),
    (_inplace_step, "modified its input `w`"),
])
def test_sgd_step_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.sgd_step_weight_decay(candidate)


# --------------------------------------------------------------------------- ridge_closed_form


def test_ridge_accepts_the_reference_and_equivalent_forms(capsys):
    check.ridge_closed_form(linear.ridge)
    check.ridge_closed_form(lambda X, y, a: np.linalg.solve(X.T @ X + a * np.eye(X.shape[1]), X.T @ y))
    # the dual ("push-through") form X^T (X X^T + αI)^{-1} y is the same vector
    check.ridge_closed_form(lambda X, y, a: X.T @ np.linalg.solve(X @ X.T + a * np.eye(X.shape[0]), y))
    assert "✔ ridge_closed_form" in capsys.readouterr().out


def _eye(X):
    return np.eye(X.shape[1])


@pytest.mark.parametrize("candidate, match", [
    (lambda X, y, a: np.linalg.solve(X.T @ X, X.T @ y), "missing α·I"),
    (lambda X, y, a: np.linalg.solve(X.T @ X + a, X.T @ y), "every entry"),
    (lambda X, y, a: np.linalg.solve(X.T @ X - a * _eye(X), X.T @ y), "sign error"),
    (lambda X, y, a: np.linalg.solve(X.T @ X + len(y) * a * _eye(X), X.T @ y), "multiplied by n"),
    (lambda X, y, a: np.linalg.solve(X.T @ X + 2 * a * _eye(X), X.T @ y), "factors 2 cancel"),
    (lambda X, y, a: np.linalg.solve(X.T @ X + a / 2 * _eye(X), X.T @ y), "not α/2"),
    (lambda X, y, a: (np.linalg.inv(X.T @ X) + a * _eye(X)) @ X.T @ y, "wrong side of the inverse"),
    (lambda X, y, a: np.linalg.solve(X.T @ X, X.T @ y) / (1 + a), "same factor"),
    (lambda X, y, a: np.linalg.solve(X.T @ X, X.T @ y + a), "right-hand side"),
])
def test_ridge_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.ridge_closed_form(candidate)


def _inplace_ridge(X, y, a):
    X *= 1.0 + 1e-3
    return linear.ridge(X, y, a)


@pytest.mark.parametrize("candidate, match", [
    (lambda X, y, a: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda X, y, a: np.full(X.shape[1], np.nan), "NaN"),
    (lambda X, y, a: linear.ridge(X, y, a)[:, None], r"flat vector"),
    (lambda X, y, a: linear.ridge(X, y, a)[:-1], "one coefficient per feature"),
    (_inplace_ridge, "modified its input `X`"),
    (lambda X, y, a: linear.ridge(X, y, a) + 1e-3, "wrong values"),
])
def test_ridge_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.ridge_closed_form(candidate)


# --------------------------------------------------------------------------- the sweep


def _sweep(fit_on="train", evaluate_train_on="train", evaluate_val_on="val", transform=lambda e, n: e):
    def candidate(X_tr, y_tr, X_va, y_va, alphas):
        sets = {"train": (X_tr, y_tr), "val": (X_va, y_va)}
        train_mse, val_mse = [], []
        for a in alphas:
            w = linear.ridge(*sets[fit_on], a)
            for out, where in ((train_mse, evaluate_train_on), (val_mse, evaluate_val_on)):
                X, y = sets[where]
                out.append(transform(np.mean((X @ w - y) ** 2), len(y)))
        return train_mse, val_mse
    return candidate


def test_ridge_sweep_data_is_deterministic_centred_and_standardised():
    X_tr, y_tr, X_va, y_va = ch01.ridge_sweep_data()
    assert X_tr.shape == (100, 65) and X_va.shape == (342, 65)
    np.testing.assert_allclose(X_tr.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(X_tr.std(0), 1, rtol=1e-12)
    assert abs(y_tr.mean()) < 1e-10
    again = ch01.ridge_sweep_data()
    assert all(np.array_equal(a, b) for a, b in zip((X_tr, y_tr, X_va, y_va), again))


def test_the_sweep_has_an_interior_optimum():
    train_mse, val_mse = ch01._reference_sweep(*ch01.ridge_sweep_data(), ch01.RIDGE_ALPHAS)
    assert np.all(np.diff(train_mse) > 0)  # training error rises with α
    k = int(np.argmin(val_mse))
    assert 0 < k < len(val_mse) - 1 and val_mse[0] > 2 * val_mse[k]  # under- and over-regularization
    assert val_mse[k] < 0.97 * min(val_mse[k - 1], val_mse[k + 1])  # a clear winner, not a near-tie


def test_ridge_sweep_accepts_the_reference(capsys):
    check.ridge_sweep(_sweep())
    assert "✔ ridge_sweep" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (_sweep(evaluate_train_on="val"), "train_mse holds validation errors"),
    (_sweep(transform=lambda e, n: np.sqrt(e)), "root-mean-squared"),
    (_sweep(transform=lambda e, n: e * n), "sums of squared errors"),
    (_sweep(fit_on="val", evaluate_train_on="val"), "fitted on the validation data"),
    (_sweep(fit_on="val"), "fitted on the validation data"),
    (_sweep(evaluate_val_on="train"), "val_mse holds training errors"),
])
def test_ridge_sweep_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.ridge_sweep(candidate)


@pytest.mark.parametrize("candidate, match", [
    (lambda *args: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda *args: [np.nan] * 7, "two sequences"),
    (lambda *args: ([np.nan] * 7, [1.0] * 7), "NaN"),
    (lambda *args: ([1.0] * 6, [1.0] * 6), "shape"),
])
def test_ridge_sweep_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.ridge_sweep(candidate)


def test_best_ridge_alpha(capsys):
    check.best_ridge_alpha(100.0)
    check.best_ridge_alpha(ch01.RIDGE_ALPHAS[4])
    assert "✔ best_alpha" in capsys.readouterr().out
    for value, match in [(0.01, "smallest \\*training\\* error"), (1000.0, "more than one standard error"),
                         (4, "index"), (123.0, "not one of the alphas"), ("100", "should be a number"),
                         (True, "should be a number")]:
        with pytest.raises(AssertionError, match=match):
            check.best_ridge_alpha(value)


# --------------------------------------------------------------------------- conceptual questions


@pytest.mark.parametrize("question, right, wrong, match", [
    ("01.shrinkage", 0.25, 0.75, "fraction removed"),
    ("01.shrinkage", 4 / 16, 0.5, "λᵢ = 4"),
    ("01.map_alpha", 16, 4.0, "variances"),
    ("01.map_alpha", 16.0, 1 / 16, "upside down"),
    ("01.no_decay", {"b", "c", "d"}, {"b"}, "LayerNorm"),
    ("01.no_decay", ["d", "c", "b"], {"c", "d"}, "biases"),
    ("01.no_decay", {"b", "c", "d"}, {"a", "b", "c", "d", "e"}, "nothing is decayed"),
    ("01.no_decay", {"b", "c", "d"}, set(), "everything is decayed"),
    ("01.no_decay", {"b", "c", "d"}, {"a", "e"}, "upside down"),
    ("01.adamw", "b", "a", "L2 penalty"),
    ("01.adamw", " B ", "c", "only one"),
])
def test_conceptual_answers(question, right, wrong, match):
    check.answer(question, right)
    with pytest.raises(AssertionError, match=match):
        check.answer(question, wrong)
    with pytest.raises(AssertionError, match="no answer yet"):
        check.answer(question, None)


# --------------------------------------------------------------------------- mistakes the fixed inputs used to miss

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _accumulate_from_zeros1(params, lam):
    total = torch.zeros(1, dtype=torch.float64)
    for p in params:
        total = total + p.square().sum()
    return lam / 2 * total


def _weights_only(params, lam):
    return lam / 2 * sum(p.square().sum() for p in params if p.dim() > 1)


def _identity_when_no_step(w, grad, lr, lam):
    if lr == 0:
        return w
    return (1 - lr * lam) * w - lr * grad


def _sklearn_ridge(X, y, alpha):
    from sklearn.linear_model import Ridge
    return Ridge(alpha=alpha).fit(X, y).coef_


def _my_sweep(Xt, yt, Xv, yv, alphas):
    tr, va = [], []
    for a in alphas:
        w = linear.ridge(Xt, yt, a)
        tr.append(np.mean((Xt @ w - yt) ** 2))
        va.append(np.mean((Xv @ w - yv) ** 2))
    return tr, va


@pytest.mark.parametrize("checker, candidate, match", [
    ("l2_penalty", _accumulate_from_zeros1, "0-dimensional"),
    ("l2_penalty", _weights_only, "1-D ones included"),
    ("sgd_step_weight_decay", _identity_when_no_step, "input tensor `w` itself"),
    ("ridge_closed_form", _sklearn_ridge, "intercept"),
    ("ridge_sweep", lambda Xt, yt, Xv, yv, a: _my_sweep(Xt, yt, Xv, yv, sorted(a)), "sorted order"),
    ("ridge_sweep", lambda Xt, yt, Xv, yv, a: _my_sweep(Xt, yt, Xv, yv, ch01.RIDGE_ALPHAS[:len(a)]),
     "exercise's grid"),
    ("ridge_sweep", lambda Xt, yt, Xv, yv, a: _my_sweep(*ch01.ridge_sweep_data(), a), "function's arguments"),
    ("ridge_sweep", lambda Xt, yt, Xv, yv, a: (_my_sweep(Xt, yt, Xv, yv, a)[0],
                                               np.array(_my_sweep(Xt, yt, Xv, yv, a)[1]) * len(yv) / len(yt)),
     "training\\* samples"),
])
def test_new_mistakes_get_their_hint(checker, candidate, match):
    with pytest.raises(AssertionError, match=match):
        getattr(check, checker)(candidate)


def test_correct_variants_pass():
    check.ridge_closed_form(lambda X, y, a: X.T @ np.linalg.solve(X @ X.T + a * np.eye(len(X)), y))  # dual form
    check.ridge_closed_form(lambda X, y, a: np.linalg.lstsq(np.vstack([X, np.sqrt(a) * np.eye(X.shape[1])]),
                                                            np.concatenate([y, np.zeros(X.shape[1])]),
                                                            rcond=None)[0])
    from sklearn.linear_model import Ridge
    check.ridge_closed_form(lambda X, y, a: Ridge(alpha=a, fit_intercept=False).fit(X, y).coef_)
    check.sgd_step_weight_decay(lambda w, g, lr, lam: w.mul(1 - lr * lam).sub(g, alpha=lr))
    check.sgd_step_weight_decay(lambda w, g, lr, lam: torch.addcmul(w * (1 - lr * lam), g, torch.full_like(g, -lr)))


def test_best_alpha_one_standard_error_rule():
    alphas, train, val, best, se, ok = ch01._alpha_choice()
    assert best in ok
    for k in ok:
        check.best_ridge_alpha(float(alphas[k]))
    for k in range(len(alphas)):
        if k not in ok:
            with pytest.raises(AssertionError):
                check.best_ridge_alpha(float(alphas[k]))


# --------------------------------------------------------------------------- property-based


@settings(max_examples=12, deadline=None)
@given(st.floats(1e-3, 2.0), st.sampled_from(["scale", "shift", "lam"]))
def test_l2_and_step_properties(eps, how):
    """Round-off-level changes pass; any relative change of 1e-3 or more fails."""
    def penalty(params, lam):
        value = lam / 2 * sum(p.square().sum() for p in params)
        if how == "scale":
            return value * (1 + eps)
        if how == "shift":
            return value + eps
        return (lam + eps) / 2 * sum(p.square().sum() for p in params)

    with pytest.raises(AssertionError):
        check.l2_penalty(penalty)

    def step(w, g, lr, lam):
        out = (1 - lr * lam) * w - lr * g
        return out * (1 + eps) if how == "scale" else out + eps if how == "shift" else (1 - lr * (lam + eps)) * w - lr * g

    with pytest.raises(AssertionError):
        check.sgd_step_weight_decay(step)
    check.sgd_step_weight_decay(lambda w, g, lr, lam: ((1 - lr * lam) * w - lr * g) * (1 + 1e-12))


@settings(max_examples=10, deadline=None)
@given(st.floats(0.05, 20.0))
def test_ridge_property_wrong_alpha_fails(factor):
    """Using α·factor instead of α (factor far from 1) is rejected; the exact solver is accepted."""
    if abs(factor - 1) < 0.02:
        return
    with pytest.raises(AssertionError):
        check.ridge_closed_form(lambda X, y, a: linear.ridge(X, y, a * factor))
    check.ridge_closed_form(lambda X, y, a: linear.ridge(X, y, a))


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 6), st.floats(1e-3, 1.0), st.booleans())
def test_ridge_sweep_property(k, rel, on_val):
    def wrong(Xt, yt, Xv, yv, alphas):
        tr, va = (np.array(v, dtype=float) for v in _my_sweep(Xt, yt, Xv, yv, alphas))
        target = va if on_val else tr
        target[min(k, len(alphas) - 1)] *= 1 + rel
        return tr, va

    with pytest.raises(AssertionError):
        check.ridge_sweep(wrong)
    check.ridge_sweep(_my_sweep)
