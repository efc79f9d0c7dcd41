"""The chapter 04 checkers accept reglib's reference and reject each named mistake with its hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reglib import check
from reglib import constraints as ref
from reglib.check import ch04

# --------------------------------------------------------------------------- task 1: max_norm_


def good_max_norm_(weight, max_norm):
    return ref.max_norm_(weight, max_norm)


def max_norm_every_row(weight, max_norm):
    with torch.no_grad():
        weight.mul_(max_norm / weight.norm(dim=1, keepdim=True))
    return weight


def max_norm_columns(weight, max_norm):
    with torch.no_grad():
        weight.mul_((max_norm / weight.norm(dim=0, keepdim=True)).clamp(max=1.0))
    return weight


def max_norm_not_in_place(weight, max_norm):
    return weight * (max_norm / weight.norm(dim=1, keepdim=True)).clamp(max=1.0)


def max_norm_no_grad_missing(weight, max_norm):
    weight.mul_((max_norm / weight.norm(dim=1, keepdim=True)).clamp(max=1.0))
    return weight


def max_norm_turns_off_grad(weight, max_norm):
    weight.requires_grad_(False)
    weight.mul_((max_norm / weight.norm(dim=1, keepdim=True)).clamp(max=1.0))
    return weight


def max_norm_nan_on_zero_rows(weight, max_norm):
    with torch.no_grad():
        norms = weight.norm(dim=1, keepdim=True)
        factor = torch.where(norms > max_norm, max_norm / norms, norms / norms)
        weight.mul_(factor)
    return weight


def max_norm_squared(weight, max_norm):
    with torch.no_grad():
        weight.mul_((max_norm / weight.norm(dim=1, keepdim=True) ** 2).clamp(max=1.0))
    return weight


def max_norm_entrywise(weight, max_norm):
    with torch.no_grad():
        weight.clamp_(-max_norm, max_norm)
    return weight


def max_norm_normalises_to_one(weight, max_norm):
    with torch.no_grad():
        weight.div_(weight.norm(dim=1, keepdim=True))
    return weight


def max_norm_no_return(weight, max_norm):
    ref.max_norm_(weight, max_norm)


def max_norm_returns_copy(weight, max_norm):
    ref.max_norm_(weight, max_norm)
    return weight.clone()


def max_norm_does_nothing(weight, max_norm):
    return weight


def max_norm_float64(weight, max_norm):
    with torch.no_grad():
        return weight.copy_(ref.max_norm_(weight.detach().double().clone(), max_norm))  # still float32 in place


def not_implemented(*args, **kwargs):
    raise NotImplementedError()


def test_max_norm_reference_passes(capsys):
    check.max_norm_(good_max_norm_)
    assert "✔ max_norm_" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (max_norm_every_row, "every row was rescaled"),
    (max_norm_columns, "columns"),
    (max_norm_not_in_place, "not in place"),
    (max_norm_no_grad_missing, "broke autograd.*no_grad"),
    (max_norm_turns_off_grad, "requires_grad"),
    (max_norm_nan_on_zero_rows, "zeros into NaN"),
    (max_norm_squared, "squared norm"),
    (max_norm_entrywise, "clipped each entry"),
    (max_norm_normalises_to_one, "normalised to norm 1"),
    (max_norm_no_return, "forget `return weight`"),
    (max_norm_returns_copy, "return `weight` itself"),
    (max_norm_does_nothing, "did not change `weight`"),
    (not_implemented, "not implemented yet"),
    (42, "expected a function"),
])
def test_max_norm_mistakes_are_named(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.max_norm_(candidate)


def test_max_norm_checker_accepts_a_float32_round_trip_implementation(capsys):
    check.max_norm_(max_norm_float64)
    assert "✔" in capsys.readouterr().out


# --------------------------------------------------------------------------- task 2: project_l2_ball


def good_project(v, radius):
    return ref.project_l2_ball_(v.clone(), radius)


def project_always_to_sphere(v, radius):
    return v * radius / v.norm() if v.norm() > 0 else v.clone()


def project_box(v, radius):
    return v.clamp(-radius, radius)


def project_squared(v, radius):
    return v * (radius / v.norm() ** 2).clamp(max=1.0)


def project_rows(v, radius):
    if v.ndim == 2:
        return ref.max_norm_(v.clone(), radius)
    return good_project(v, radius)


def project_in_place(v, radius):
    return ref.project_l2_ball_(v, radius)


def project_nan_at_zero(v, radius):
    return v * torch.minimum(torch.ones((), dtype=v.dtype), radius / v.norm()) if v.norm() > 0 else v / v.norm()


def project_float64(v, radius):
    return good_project(v.double(), radius)


def project_wrong_shape(v, radius):
    return good_project(v, radius).reshape(-1, 1)


def project_returns_nan(v, radius):
    return torch.full_like(v, float("nan"))


def test_project_reference_passes(capsys):
    check.project_l2_ball(good_project)
    assert "✔ project_l2_ball" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (project_always_to_sphere, "its own projection"),
    (project_box, "box"),
    (project_squared, "squared norm"),
    (project_rows, "each row separately"),
    (project_in_place, "modified its input"),
    (project_nan_at_zero, "NaN"),
    (project_float64, "dtype"),
    (project_wrong_shape, "shape"),
    (project_returns_nan, "NaN"),
    (not_implemented, "not implemented yet"),
])
def test_project_mistakes_are_named(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.project_l2_ball(candidate)


# --------------------------------------------------------------------------- task 3: projected gradient descent


def _pgd(X, y, radius, lr, steps, *, grad_scale=2.0, sign=1.0, project=True, project_end=False, offset=0):
    w = torch.zeros(X.shape[1], dtype=X.dtype)
    for _ in range(steps + offset):
        w = w - lr * sign * (-grad_scale * X.T @ (y - X @ w))
        if project:
            w = good_project(w, radius)
    return good_project(w, radius) if project_end else w


def good_pgd(X, y, radius, lr, steps):
    return _pgd(X, y, radius, lr, steps)


@pytest.mark.parametrize("kwargs, match", [
    ({"project": False}, "plain gradient-descent"),
    ({"project": False, "project_end": True}, "only once, at the end"),
    ({"grad_scale": 1.0}, "half of ∇L"),
    ({"grad_scale": 2.0 / 30}, "mean squared error"),
    ({"grad_scale": 1.0 / 30}, "∇L / \\(2n\\)"),
    ({"sign": -1.0}, "sign error"),
    ({"offset": 1}, "took 26 steps"),
    ({"offset": -1}, "took 24 steps"),
])
def test_pgd_mistakes_are_named(kwargs, match):
    with pytest.raises(AssertionError, match=match):
        check.projected_gradient_descent(lambda X, y, r, lr, steps: _pgd(X, y, r, lr, steps, **kwargs))


def test_pgd_reference_passes_and_generic_failures(capsys):
    check.projected_gradient_descent(good_pgd)
    assert "✔ projected_gradient_descent" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="not implemented yet"):
        check.projected_gradient_descent(not_implemented)
    with pytest.raises(AssertionError, match="NaN"):
        check.projected_gradient_descent(lambda X, y, r, lr, steps: torch.full((X.shape[1],), float("nan"),
                                                                                dtype=X.dtype))
    with pytest.raises(AssertionError, match="shape"):
        check.projected_gradient_descent(lambda X, y, r, lr, steps: good_pgd(X, y, r, lr, steps)[:-1])

    def mutating(X, y, r, lr, steps):
        y.mul_(2.0)
        return good_pgd(X, y / 2, r, lr, steps)

    with pytest.raises(AssertionError, match="modified its input"):
        check.projected_gradient_descent(mutating)


# --------------------------------------------------------------------------- task 4: the experiment


def _experiment(alpha_scale=1.0, mu_scale=1.0, square=False, steps=None):
    """The experiment's answers: by projected gradient descent when `steps` is given, else in closed form
    (the constrained solution for r = ||w_a|| is w_a, with multiplier a)."""
    X, y, alphas = check.constraint_data()
    lr = 1 / (2 * torch.linalg.eigvalsh(X.T @ X).max().item())
    radii, mus = [], []
    for alpha in alphas:
        a = alpha_scale * alpha
        w_alpha = torch.linalg.solve(X.T @ X + a * torch.eye(X.shape[1], dtype=X.dtype), X.T @ y)
        r = w_alpha.norm().item()
        w = good_pgd(X, y, r, lr, steps) if steps else w_alpha
        grad = -2 * X.T @ (y - X @ w)
        radii.append(r**2 if square else r)
        mus.append(mu_scale * (-(grad @ w) / (2 * w @ w)).item())
    return radii, mus


def test_experiment_reference_passes(capsys):
    check.penalty_constraint(*_experiment(steps=1000))
    assert "✔ penalty_constraint" in capsys.readouterr().out
    check.penalty_constraint(*_experiment())


def test_the_data_make_every_constraint_active():
    X, y, alphas = ch04.constraint_data()
    ols = torch.linalg.lstsq(X, y).solution.norm().item()
    radii, _ = _experiment()
    assert all(r < ols for r in radii) and X.dtype == torch.float64 and len(alphas) == 3


@pytest.mark.parametrize("kwargs, match", [
    ({"mu_scale": 2.0}, "2α"),
    ({"mu_scale": 0.5}, "α/2"),
    ({"mu_scale": -1.0}, "sign error"),
    ({"square": True}, "squared norms"),
    ({"alpha_scale": 0.5}, "belong to α/2"),
    ({"alpha_scale": 2.0}, "belong to 2α"),
])
def test_experiment_mistakes_are_named(kwargs, match):
    with pytest.raises(AssertionError, match=match):
        check.penalty_constraint(*_experiment(**kwargs))


def test_experiment_with_too_few_steps_is_told_to_converge():
    radii, mus = _experiment(steps=1000)
    off = [m * (1 + 0.01 * (-1) ** k) for k, m in enumerate(mus)]  # 1 % off: what 100 steps leave
    with pytest.raises(AssertionError, match="not converged"):
        check.penalty_constraint(radii, off)


def test_experiment_bad_inputs():
    radii, mus = _experiment()
    with pytest.raises(AssertionError, match="not set yet"):
        check.penalty_constraint(None, mus)
    with pytest.raises(AssertionError, match="hold 3 numbers"):
        check.penalty_constraint(radii[:2], mus[:2])
    with pytest.raises(AssertionError, match="NaN"):
        check.penalty_constraint(radii, [float("nan")] * 3)
    with pytest.raises(AssertionError, match="sequences"):
        check.penalty_constraint(radii, ["a", "b", "c"])
    X, y, _ = ch04.constraint_data()
    ols = torch.linalg.lstsq(X, y).solution.norm().item()
    with pytest.raises(AssertionError, match="unpenalised"):
        check.penalty_constraint([ols] * 3, mus)
    with pytest.raises(AssertionError, match="wrong values"):  # not converged: no named mistake
        check.penalty_constraint(radii, list(np.array(mus) * 1.3))


# --------------------------------------------------------------------------- task 5: conceptual


@pytest.mark.parametrize("question, right, wrong", [
    ("04.clipping", "b", ["a", "c"]),
    ("04.rows", "a", ["b", "c"]),
    ("04.radius", "smaller", ["larger", "unchanged"]),
])
def test_conceptual_answers(question, right, wrong, assert_answer):
    assert_answer(question, right, {w: question for w in wrong})


# --------------------------------------------------------------------------- correct variants and new mistakes

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _renorm(weight, c):
    with torch.no_grad():
        weight.copy_(torch.renorm(weight, 2, 0, c))
    return weight


def _eps_denominator(weight, c):
    with torch.no_grad():
        n = weight.norm(dim=1, keepdim=True)
        weight.mul_(torch.where(n > c, c / (n + 1e-8), torch.ones_like(n)))
    return weight


def _via_data(weight, c):
    n = weight.data.norm(dim=1, keepdim=True)
    weight.data *= (c / n).clamp(max=1)
    return weight


@pytest.mark.parametrize("candidate", [_renorm, _eps_denominator, _via_data])
def test_max_norm_accepts_correct_variants(candidate, capsys):
    """PyTorch's own torch.renorm (which adds 1e-7 to the norm) is right; the checker's tolerance allows it."""
    check.max_norm_(candidate)
    assert "✔ max_norm_" in capsys.readouterr().out


def test_project_returning_its_input():
    def identity_inside(v, r):
        n = v.norm()
        return v if n <= r else v * (r / n)

    with pytest.raises(AssertionError, match="input tensor `v` itself"):
        check.project_l2_ball(identity_inside)
    check.project_l2_ball(lambda v, r: v * torch.clamp(r / v.norm(), max=1.0))


def test_pgd_that_ignores_its_learning_rate():
    def own_lr(X, y, radius, lr, steps):
        lr = 1 / (2 * torch.linalg.eigvalsh(X.T @ X).max().item())
        w = torch.zeros(X.shape[1], dtype=X.dtype)
        for _ in range(steps):
            w = w + lr * 2 * X.T @ (y - X @ w)
            n = w.norm()
            w = w if n <= radius else w * radius / n
        return w

    with pytest.raises(AssertionError, match="use the `lr` argument"):
        check.projected_gradient_descent(own_lr)


@settings(max_examples=10, deadline=None)
@given(st.floats(1e-4, 0.5), st.integers(0, 5))
def test_max_norm_property(eps, row):
    """A relative error of 1e-4 or more in any one row is rejected, below or above the bound."""
    def wrong(weight, c):
        with torch.no_grad():
            n = weight.norm(dim=1, keepdim=True)
            weight.mul_((c / n).clamp(max=1.0))
            weight[min(row, weight.shape[0] - 1)] *= 1 + eps
        return weight

    with pytest.raises(AssertionError):
        check.max_norm_(wrong)


@settings(max_examples=10, deadline=None)
@given(st.floats(1e-4, 0.5))
def test_projection_property(eps):
    with pytest.raises(AssertionError):
        check.project_l2_ball(lambda v, r: (v * torch.clamp(r / v.norm(), max=1.0)) * (1 + eps))
    check.project_l2_ball(lambda v, r: (v * torch.clamp(r / v.norm(), max=1.0)) * (1 + 1e-12))


@settings(max_examples=6, deadline=None)
@given(st.floats(1e-3, 0.5), st.sampled_from(["lr", "radius", "grad"]))
def test_pgd_property(eps, how):
    def wrong(X, y, radius, lr, steps):
        w = torch.zeros(X.shape[1], dtype=X.dtype)
        for _ in range(steps):
            g = -2 * X.T @ (y - X @ w) * ((1 + eps) if how == "grad" else 1)
            w = w - lr * ((1 + eps) if how == "lr" else 1) * g
            r = radius * ((1 + eps) if how == "radius" else 1)
            n = w.norm()
            w = w if n <= r else w * (r / n)
        return w

    with pytest.raises(AssertionError):
        check.projected_gradient_descent(wrong)


def test_pgd_with_torch_renorm_projection_passes():
    def pgd(X, y, radius, lr, steps):
        w = torch.zeros(X.shape[1], dtype=X.dtype)
        for _ in range(steps):
            w = torch.renorm((w - lr * (-2 * X.T @ (y - X @ w))).reshape(1, -1), 2, 0, radius).reshape(-1)
        return w

    check.projected_gradient_descent(pgd)
    check.project_l2_ball(lambda v, r: torch.renorm(v.reshape(1, -1), 2, 0, r).reshape(v.shape))
