"""The checkers of exercise 02 accept the reference and reject each named mistake with its own hint."""

import numpy as np
import pytest
import torch

from reglib import check, linear, penalties
from reglib.check import ch02

# --------------------------------------------------------------------------- soft_threshold


def test_soft_threshold_accepts_the_reference(capsys):
    check.soft_threshold(penalties.soft_threshold)
    check.soft_threshold(lambda x, t: torch.sign(x) * torch.relu(x.abs() - t))
    check.soft_threshold(lambda x, t: x - torch.clamp(x, -t, t))
    assert "✔ soft_threshold" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (lambda x, t: x * (x.abs() > t), "hard thresholding"),
    (lambda x, t: torch.clamp(x.abs() - t, min=0), "forgot the sign"),
    (lambda x, t: torch.clamp(x - t, min=0), "symmetric"),
    (lambda x, t: x - t * torch.sign(x), "crossed zero"),
    (lambda x, t: x / (1 + t), "ridge"),
    (lambda x, t: torch.sign(x) * torch.clamp(x.abs() - 2 * t, min=0), "wrong values"),
])
def test_soft_threshold_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.soft_threshold(candidate)


def _mutating_threshold(x, t):
    x[x.abs() <= t] = 0  # right values, but computed in place in the caller's tensor
    x.sub_(t * torch.sign(x))
    return x


def _raises(*args):
    raise NotImplementedError()


@pytest.mark.parametrize("candidate, match", [
    (_raises, "not implemented yet"),
    (lambda x, t: torch.full_like(x, float("nan")), "NaN"),
    (lambda x, t: penalties.soft_threshold(x, t).reshape(-1), "shape"),
    (lambda x, t: penalties.soft_threshold(x, t).double(), "dtype"),
    (lambda x, t: penalties.soft_threshold(x, t).numpy(), "torch tensor"),
    (_mutating_threshold, "modified its input"),
])
def test_soft_threshold_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.soft_threshold(candidate)


# --------------------------------------------------------------------------- ista


def _ista_with(lipschitz=None, threshold=None, grad_scale=1.0, grad_sign=1.0, prox="soft"):
    """A student's ISTA with one ingredient changed (None keeps the correct one)."""
    def candidate(X, y, alpha, n_iter):
        n = len(y)
        L = np.linalg.norm(X, 2) ** 2 / n if lipschitz is None else lipschitz(X, n)
        step = 1 / L
        t = step * alpha if threshold is None else threshold(step, alpha)
        w = np.zeros(X.shape[1])
        for _ in range(n_iter):
            grad = grad_sign * grad_scale * X.T @ (X @ w - y) / n
            if prox == "subgradient":
                w = w - step * (grad + alpha * np.sign(w))
                continue
            if prox == "swapped":  # soft-threshold, then the gradient step at the thresholded point
                v = np.sign(w) * np.maximum(np.abs(w) - t, 0)
                w = v - step * grad_sign * grad_scale * X.T @ (X @ v - y) / n
                continue
            z = w - step * grad
            w = z * (np.abs(z) > t) if prox == "hard" else np.sign(z) * np.maximum(np.abs(z) - t, 0)
        return w
    return candidate


def test_ista_accepts_the_reference(capsys):
    check.ista(lambda X, y, alpha, n_iter: linear.ista(X, y, alpha, n_iter))
    check.ista(_ista_with())
    # the largest eigenvalue of X^T X / n is the same Lipschitz constant
    check.ista(_ista_with(lipschitz=lambda X, n: np.linalg.eigvalsh(X.T @ X / n).max()))
    assert "✔ ista" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (_ista_with(lipschitz=lambda X, n: np.linalg.norm(X) ** 2 / n), "Frobenius"),
    (_ista_with(lipschitz=lambda X, n: np.linalg.norm(X, 2) ** 2), "n times too small"),
    (_ista_with(lipschitz=lambda X, n: np.linalg.norm(X, 2) ** 2 / n ** 2), "n times too large"),
    (_ista_with(grad_scale=80.0), "missing its 1/n"),
    (_ista_with(threshold=lambda step, alpha: alpha), "thresholded by α;"),
    (_ista_with(threshold=lambda step, alpha: alpha / step), "thresholded by α/step"),
    (_ista_with(grad_sign=-1.0), "sign error"),
    (_ista_with(prox="hard"), "hard-thresholded"),
    (_ista_with(prox="subgradient"), "subgradient step"),
    (_ista_with(prox="swapped"), "wrong order"),
    (_ista_with(threshold=lambda step, alpha: step * alpha / 80), "threshold is n times too small"),
    (_ista_with(lipschitz=lambda X, n: 2 * np.linalg.norm(X, 2) ** 2 / n), "wrong values"),
])
def test_ista_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.ista(candidate)


def _diverging(X, y, alpha, n_iter):
    w = np.zeros(X.shape[1])
    for _ in range(n_iter):
        w = w - 10.0 * X.T @ (X @ w - y)
    return w


def _mutating_ista(X, y, alpha, n_iter):
    X -= X.mean(axis=0)
    return linear.ista(X, y, alpha, n_iter)


@pytest.mark.parametrize("candidate, match", [
    (_raises, "not implemented yet"),
    (lambda X, y, alpha, n_iter: np.full(X.shape[1], np.nan), "NaN|w = 0"),
    (lambda X, y, alpha, n_iter: np.zeros((X.shape[1], 1)), "shape"),
    (lambda X, y, alpha, n_iter: None, "None"),
    (_diverging, "diverged"),
    (_mutating_ista, "modified its input"),
    (lambda X, y, alpha, n_iter: linear.ista(X, y, alpha, n_iter + 1), "n_iter=0|wrong values"),
])
def test_ista_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.ista(candidate)


def test_ista_data_is_fixed_and_has_zeros():
    (X1, y1, a1), (X2, y2, a2) = ch02.ista_data(), ch02.ista_data()
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2) and a1 == a2
    w = linear.lasso(X1, y1, a1)
    assert 0 < np.sum(w == 0) < X1.shape[1]
    # 500 ISTA iterations reach the lasso's support, as the checker demands
    assert np.array_equal(linear.ista(X1, y1, a1, 500) == 0, w == 0)


# --------------------------------------------------------------------------- the lasso path experiment


@pytest.fixture(scope="module")
def path():
    X, y, names, alphas = check.diabetes_path_data()
    return X, y, names, alphas, linear.lasso_path(X, y, alphas)


def test_lasso_nonzeros_accepts_the_reference(path, capsys):
    *_, coefs = path
    counts = (coefs != 0).sum(axis=0)
    check.lasso_nonzeros(counts)
    check.lasso_nonzeros(list(counts))
    check.lasso_nonzeros(torch.from_numpy(counts))
    assert "✔ n_nonzero" in capsys.readouterr().out
    assert np.sum(np.diff(counts) < 0) == 1  # "shrinks once on the way", as the success line says


@pytest.mark.parametrize("transform, match", [
    (lambda coefs: (coefs == 0).sum(axis=0), "zero coefficients"),
    (lambda coefs: (coefs != 0).sum(axis=0)[::-1], "reverse order"),
    (lambda coefs: (coefs != 0).sum(axis=1), "one entry per feature"),
    (lambda coefs: (coefs != 0).sum(axis=0)[:-1], "one entry per alpha"),
    (lambda coefs: (coefs != 0), "1-D"),
    (lambda coefs: (np.abs(coefs) > 50).sum(axis=0), "wrong values"),
])
def test_lasso_nonzeros_names_each_mistake(path, transform, match):
    *_, coefs = path
    with pytest.raises(AssertionError, match=match):
        check.lasso_nonzeros(transform(coefs))


def test_lasso_nonzeros_rejects_nan(path):
    with pytest.raises(AssertionError, match="NaN"):
        check.lasso_nonzeros(np.full(300, np.nan))


def test_lasso_entry_order_accepts_the_answer(capsys):
    check.lasso_entry_order(["bmi", "s5", "bp", "s3"])
    check.lasso_entry_order(("BMI", "s5 ", "bp", "s3"))
    assert "✔ first_four" in capsys.readouterr().out


@pytest.mark.parametrize("answer, match", [
    (["bmi", "s5", "bp", "s4"], "correlation with y"),
    (["s1", "s5", "bmi", "s2"], "size of their coefficient"),
    (["s5", "s1", "bmi", "s2"], "size of their coefficient"),
    (["age", "s2", "s4", "s1"], "last features to enter"),
    (["s5", "bmi", "bp", "s3"], "wrong order"),
    (["bmi", "s5", "bp"], "four names"),
    (["bmi", "s5", "bp", "glucose"], "not feature names"),
    ("bmi, s5, bp, s3", "list of four"),
    (None, "list of four"),
    (["bmi", "s5", "sex", "s3"], "not the order of entry"),
])
def test_lasso_entry_order_names_each_mistake(answer, match):
    with pytest.raises(AssertionError, match=match):
        check.lasso_entry_order(answer)


# --------------------------------------------------------------------------- conceptual questions


def test_conceptual_answers(capsys):
    check.answer("02.adam_zeros", "b")
    check.answer("02.adam_zeros", " B ")
    check.answer("02.laplace_scale", 4)
    check.answer("02.laplace_scale", 4.0)
    assert capsys.readouterr().out.count("✔") == 4


@pytest.mark.parametrize("question, value, match", [
    ("02.adam_zeros", "a", "jumps across zero.*about ±lr, not ±lr·λ"),
    ("02.adam_zeros", "c", "data gradient"),
    ("02.adam_zeros", None, "no answer yet"),
    ("02.laplace_scale", 200, "dropped the n"),
    ("02.laplace_scale", 0.25, "inverted"),
    ("02.laplace_scale", 2, "variance"),
    ("02.laplace_scale", 7, "not quite"),
])
def test_conceptual_wrong_answers(question, value, match):
    with pytest.raises(AssertionError, match=match):
        check.answer(question, value)


# --------------------------------------------------------------------------- mistakes the fixed inputs used to miss

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _soft(x, t):
    return torch.sign(x) * torch.clamp(x.abs() - t, min=0)


def _ista(X, y, alpha, n_iter, fixed_alpha=None):
    n = len(y)
    step = n / np.linalg.norm(X, ord=2) ** 2
    a = alpha if fixed_alpha is None else fixed_alpha
    w = np.zeros(X.shape[1])
    for _ in range(n_iter):
        z = w - step * X.T @ (X @ w - y) / n
        w = np.sign(z) * np.maximum(np.abs(z) - step * a, 0.0)
    return w


def test_new_mistakes_get_their_hint():
    with pytest.raises(AssertionError, match="input tensor `x` itself"):
        check.soft_threshold(lambda x, t: x if t == 0 else _soft(x, t))
    with pytest.raises(AssertionError, match="exercise's value"):
        check.ista(lambda X, y, alpha, n_iter: _ista(X, y, alpha, n_iter, fixed_alpha=0.2))


def _ista_half_scaling(X, y, alpha, n_iter):
    """ISTA written for 1/2 ||y - Xw||^2 + alpha ||w||_1 (no 1/n anywhere): its threshold is n times too small."""
    step = 1 / np.linalg.norm(X, ord=2) ** 2
    w = np.zeros(X.shape[1])
    for _ in range(n_iter):
        z = w - step * X.T @ (X @ w - y)
        w = np.sign(z) * np.maximum(np.abs(z) - step * alpha, 0.0)
    return w


def _ista_threshold_first(X, y, alpha, n_iter):
    """The proximal and the gradient step in the wrong order."""
    n = len(y)
    step = n / np.linalg.norm(X, ord=2) ** 2
    w = np.zeros(X.shape[1])
    for _ in range(n_iter):
        w = np.sign(w) * np.maximum(np.abs(w) - step * alpha, 0.0)
        w = w - step * X.T @ (X @ w - y) / n
    return w


def test_review_mistakes_get_their_own_hint():
    with pytest.raises(AssertionError, match=r"½‖y − Xw‖²") as info:
        check.ista(_ista_half_scaling)
    assert "subgradient" not in str(info.value)
    with pytest.raises(AssertionError, match="wrong order") as info:
        check.ista(_ista_threshold_first)
    assert "subgradient" not in str(info.value)


def test_correct_variants_pass():
    check.soft_threshold(lambda x, t: torch.nn.functional.softshrink(x, t))
    check.soft_threshold(lambda x, t: torch.where(x > t, x - t, torch.where(x < -t, x + t, torch.zeros_like(x))))
    check.soft_threshold(lambda x, t: x.sign() * (x.abs() - t).relu())

    def ista_eig(X, y, alpha, n_iter):
        n = len(y)
        step = 1 / np.linalg.eigvalsh(X.T @ X / n).max()
        w = np.zeros(X.shape[1])
        for _ in range(n_iter):
            z = w - step * (X.T @ (X @ w) - X.T @ y) / n
            w = np.sign(z) * np.maximum(np.abs(z) - step * alpha, 0.0)
        return w

    check.ista(ista_eig)


@settings(max_examples=12, deadline=None)
@given(st.floats(1e-3, 1.0), st.sampled_from(["scale", "threshold", "offset"]))
def test_soft_threshold_property(eps, how):
    def wrong(x, t):
        if how == "scale":
            return _soft(x, t) * (1 + eps)
        if how == "threshold":
            return _soft(x, t * (1 + eps) + eps)
        return _soft(x, t) + eps * torch.sign(x)

    with pytest.raises(AssertionError):
        check.soft_threshold(wrong)
    check.soft_threshold(lambda x, t: _soft(x, t) * (1 + 1e-12))


@settings(max_examples=6, deadline=None)
@given(st.floats(0.02, 5.0))
def test_ista_property_wrong_step_fails(factor):
    """Any step 1/L·factor other than 1/L (factor off by 2 % or more) is rejected."""
    if abs(factor - 1) < 0.02:
        return

    def scaled(X, y, alpha, n_iter):
        n = len(y)
        step = factor * n / np.linalg.norm(X, ord=2) ** 2
        w = np.zeros(X.shape[1])
        with np.errstate(all="ignore"):
            for _ in range(n_iter):
                z = w - step * X.T @ (X @ w - y) / n
                w = np.sign(z) * np.maximum(np.abs(z) - step * alpha, 0.0)
        return w

    with pytest.raises(AssertionError):
        check.ista(scaled)
