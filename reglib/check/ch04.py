"""Checkers for exercises/04_max_norm.ipynb (norm constraints and max-norm)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import constraints as ref
from ..data import make_linear_regression
from ._core import _close, call, diagnose, expect_tensor, fail, hash_answer, passed, register_answers, tolerance

# float64 tolerance from legitimate alternatives: torch.renorm scales by c / (‖w_i‖ + 1e-7), a relative
# change of up to ~1e-7 that float64 resolves; every recognised mistake changes rows by far more
_ATOL64, _RTOL64 = tolerance(torch.float64)

__all__ = ["max_norm_", "project_l2_ball", "projected_gradient_descent", "constraint_data", "penalty_constraint"]


# --------------------------------------------------------------------------- task 1: max_norm_


def _call_in_place(candidate, *args, name: str):
    """Call a function that must modify its first argument in place (``call`` would reject that)."""
    if not callable(candidate):
        fail(f"expected a function for `{name}`, got {type(candidate).__name__}: pass the function itself, "
             f"e.g. check.{name}({name})")
    try:
        return candidate(*args)
    except NotImplementedError:
        fail(f"`{name}` is not implemented yet: replace `raise NotImplementedError()` with your code")
    except AssertionError:
        raise
    except RuntimeError as err:
        if "leaf Variable" in str(err) or "requires grad" in str(err):
            fail(f"`{name}` broke autograd: an in-place operation on a parameter that requires grad must run "
                 "under `torch.no_grad()` (a `with torch.no_grad():` block or the `@torch.no_grad()` "
                 f"decorator). PyTorch said: {err}")
        fail(f"`{name}` raised RuntimeError: {err}")
    except Exception as err:  # the student's code raised: report what
        fail(f"`{name}` raised {type(err).__name__}: {err}")


def _max_norm_cases():
    """A (6, 5) weight whose rows have norms 0.5 .. 6 around the bound c = 3 (columns differ from rows)."""
    gen = torch.Generator().manual_seed(4)
    w = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    target = torch.tensor([0.5, 4.0, 2.0, 6.0, 2.9, 3.5], dtype=torch.float64)
    return w / w.norm(dim=1, keepdim=True) * target[:, None], 3.0


def _max_norm_mistakes(w0: torch.Tensor, c: float):
    norms = w0.norm(dim=1, keepdim=True)
    return [
        (w0 * c / norms, "every row was rescaled to norm c; rescale only the rows whose norm exceeds c "
                         "(factor min(1, c/‖w_i‖)) and leave the others untouched"),
        (ref.max_norm_(w0.clone(), c, dim=1), "you bounded the norms of the columns; a unit's incoming weights "
                                              "are a ROW weight[i] of a Linear weight of shape (out, in): take "
                                              "norms along dim=1"),
        (w0 / norms, "every row was normalised to norm 1; rows above the bound get norm c (factor c / ‖w_i‖), "
                     "rows below it stay as they are"),
        (w0 / norms.clamp(min=1.0), "rows were bounded at norm 1 instead of c; the bound is `max_norm`"),
        (w0 * (c / norms**2).clamp(max=1.0), "you divided by the squared norm ‖w_i‖²; the factor is c / ‖w_i‖"),
        (w0.clamp(-c, c), "you clipped each entry to [-c, c]; max-norm bounds the L2 norm of each row"),
    ]


def max_norm_(candidate) -> None:
    """``candidate(weight, max_norm)``: rescale, in place, the rows of ``weight`` whose norm exceeds ``max_norm``."""
    name = "max_norm_"
    w0, c = _max_norm_cases()
    expected = ref.max_norm_(w0.clone(), c)
    w = w0.clone()
    out = _call_in_place(candidate, w, c, name=name)
    if torch.equal(w, w0):
        if isinstance(out, torch.Tensor) and out.shape == w0.shape and _close(out, expected, _ATOL64, _RTOL64):
            fail(f"`{name}` is not in place: it returned the right values in a new tensor but left `weight` "
                 "unchanged. Modify `weight` itself (e.g. `weight.mul_(factor)` inside `torch.no_grad()`) and "
                 "return it: a constraint hook must change the model's parameters")
        fail(f"`{name}` did not change `weight`, although rows 2, 4 and 6 have norms above c = 3; modify "
             "`weight` in place")
    diagnose(w, expected, name, atol=_ATOL64, rtol=_RTOL64, mistakes=_max_norm_mistakes(w0, c),
             context="on a (6, 5) weight with row norms 0.5, 4, 2, 6, 2.9, 3.5 and c = 3")
    if out is None:
        fail(f"`{name}` returned None (did you forget `return weight`?)")
    if out is not w:
        fail(f"`{name}` should return `weight` itself (the tensor it modified), like PyTorch's in-place functions")

    # a zero row must not become NaN
    wz = torch.tensor([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0], [0.3, 0.4, 0.0]], dtype=torch.float64)
    _call_in_place(candidate, wz, 1.0, name=name)
    if not torch.isfinite(wz).all():
        fail(f"`{name}` turned a row of zeros into NaN: c / ‖w_i‖ divides by zero there. Use "
             "`(c / norms).clamp(max=1)` (c / 0 = inf, clamped to 1) or divide by `norms.clamp(min=c)`")
    diagnose(wz, ref.max_norm_(torch.tensor([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0], [0.3, 0.4, 0.0]],
                                            dtype=torch.float64), 1.0), name, atol=_ATOL64, rtol=_RTOL64,
             context="on a weight with a zero row")

    # a real parameter: float32, requires grad, autograd must keep working
    torch.manual_seed(0)
    layer = nn.Linear(5, 4)
    with torch.no_grad():
        layer.weight.mul_(10.0)
    before = layer.weight.detach().clone()
    out = _call_in_place(candidate, layer.weight, 1.5, name=name)
    weight = layer.weight
    if weight.dtype != torch.float32:
        fail(f"`{name}` changed the dtype of the parameter to {weight.dtype}; keep the input's dtype")
    if not weight.requires_grad:
        fail(f"`{name}` switched off `requires_grad` on the parameter; use `torch.no_grad()` around the in-place "
             "update instead, so that the parameter keeps training")
    if weight.grad_fn is not None:
        fail(f"`{name}` recorded the update in the autograd graph; run it under `torch.no_grad()`")
    if torch.equal(weight.detach(), before):
        fail(f"`{name}` did not modify the parameter `layer.weight` in place")
    diagnose(weight.detach(), ref.max_norm_(before.clone(), 1.5), name, atol=1e-6, rtol=1e-5,
             mistakes=_max_norm_mistakes(before.double(), 1.5), context="on an nn.Linear(5, 4) weight (float32)")
    layer(torch.randn(3, 5)).square().sum().backward()
    if weight.grad is None or not torch.isfinite(weight.grad).all():
        fail(f"after `{name}`, backpropagating through the layer no longer gives a gradient for its weight")
    passed(name, "in place, rows above the bound rescaled, the rest untouched, autograd intact")


# --------------------------------------------------------------------------- task 2: project_l2_ball


def project_l2_ball(candidate) -> None:
    """``candidate(v, radius) -> P(v)``, the Euclidean projection of the whole tensor onto ``{‖w‖ ≤ radius}``."""
    name = "project_l2_ball"
    gen = torch.Generator().manual_seed(7)
    outside = 2.0 * torch.randn(7, generator=gen, dtype=torch.float64)
    inside = outside / outside.norm() * 0.4
    matrix = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    cases = [(outside, 1.5, "a vector outside the ball"), (inside, 1.5, "a vector inside the ball"),
             (matrix, 1.0, "a (3, 4) matrix"), (torch.zeros(4, dtype=torch.float64), 1.0, "the zero vector")]
    for v, r, what in cases:
        out = call(candidate, v, r, name=name)
        if out is v:
            fail(f"`{name}` returned the input tensor `v` itself for {what}; the task asks for a new tensor "
                 "(e.g. `v.clone()`), so that changing the projection cannot change the caller's v")
        out = expect_tensor(out, name, shape=v.shape)
        expected = ref.project_l2_ball_(v.clone(), r)
        norm = v.norm()
        mistakes = [
            (v * r / norm if norm > 0 else None, "every vector was rescaled onto the sphere ‖w‖ = r; a point inside "
                                                 "the ball is its own projection (factor min(1, r/‖v‖))"),
            (v.clamp(-r, r), "you clipped each entry to [-r, r]: that is the projection onto a box (the L∞ ball), "
                             "not onto the L2 ball"),
            (v * (r / norm**2).clamp(max=1.0) if norm > 0 else None, "you divided by the squared norm; the factor "
                                                                     "is r / ‖v‖"),
        ]
        if v.ndim == 2:
            mistakes.append((ref.max_norm_(v.clone(), r), "you projected each row separately (that is max-norm); "
                                                          "project the whole tensor, with the norm over all entries"))
        diagnose(out, expected, name, atol=_ATOL64, rtol=_RTOL64, mistakes=mistakes, context=f"for {what}")
        if out.dtype != v.dtype:
            fail(f"`{name}` returned dtype {out.dtype}; keep the input's dtype {v.dtype}")
    out = expect_tensor(call(candidate, outside.float(), 1.5, name=name), name, shape=outside.shape)
    if out.dtype != torch.float32:
        fail(f"`{name}` returned dtype {out.dtype} for a float32 input; keep the input's dtype")
    passed(name, "inside points kept, outside points pulled radially onto the sphere")


# --------------------------------------------------------------------------- task 3: projected gradient descent


def _pgd_reference(X, y, radius, lr, steps, *, project=True, grad_scale=2.0, sign=1.0, project_end=False):
    w = torch.zeros(X.shape[1], dtype=X.dtype)
    for _ in range(steps):
        w = w - lr * sign * (-grad_scale * X.T @ (y - X @ w))
        if project:
            w = ref.project_l2_ball_(w, radius)
    if project_end:
        w = ref.project_l2_ball_(w, radius)
    return w


def _pgd_data():
    X, y, _ = make_linear_regression(n=30, d=6, noise=0.3, seed=2, condition=4)
    return torch.tensor(X), torch.tensor(y)


def projected_gradient_descent(candidate) -> None:
    """``candidate(X, y, radius, lr, steps) -> w``: eq. (3) from w = 0 on L(w) = ‖y − Xw‖²."""
    name = "projected_gradient_descent"
    X, y = _pgd_data()
    lr = 1.0 / (2 * torch.linalg.eigvalsh(X.T @ X).max().item())
    w_ols = torch.linalg.lstsq(X, y).solution
    steps = 25
    for radius, what in [(0.4 * w_ols.norm().item(), "a radius below ‖w_OLS‖ (the constraint is active)"),
                         (3.0 * w_ols.norm().item(), "a radius the iterates never reach (inactive constraint)")]:
        out = expect_tensor(call(candidate, X, y, radius, lr, steps, name=name), name, shape=(X.shape[1],))
        expected = _pgd_reference(X, y, radius, lr, steps)
        # 1e-7: a projection through torch.renorm (which adds 1e-7 to the norm) differs by ~4e-8 after 25 steps;
        # one step more or less, near convergence, by ~4e-7
        diagnose(out, expected, name, atol=1e-7, rtol=1e-7, context=f"after {steps} steps for {what}", mistakes=[
            (_pgd_reference(X, y, radius, lr, steps, project=False),
             "these are plain gradient-descent iterates: project onto the ball after EVERY step"),
            (_pgd_reference(X, y, radius, lr, steps, project=False, project_end=True),
             "you projected only once, at the end; projected gradient descent projects after every step "
             "(projecting the unconstrained result is not the constrained solution)"),
            (_pgd_reference(X, y, radius, lr, steps, grad_scale=1.0),
             "your gradient is half of ∇L: for L(w) = ‖y − Xw‖² it is −2 Xᵀ(y − Xw)"),
            (_pgd_reference(X, y, radius, lr, steps, grad_scale=2.0 / X.shape[0]),
             "your gradient is that of the mean squared error, ∇L / n: the loss here is the sum "
             "L(w) = ‖y − Xw‖², with ∇L = −2 Xᵀ(y − Xw)"),
            (_pgd_reference(X, y, radius, lr, steps, grad_scale=1.0 / X.shape[0]),
             "your gradient is ∇L / (2n): the loss here is the sum L(w) = ‖y − Xw‖², with ∇L = −2 Xᵀ(y − Xw)"),
            (_pgd_reference(X, y, radius, lr, steps, sign=-1.0),
             "sign error: the step goes uphill; subtract lr · ∇L with ∇L = −2 Xᵀ(y − Xw)"),
            (_pgd_reference(X, y, radius, lr, steps + 1), f"you took {steps + 1} steps; take exactly `steps`"),
            (_pgd_reference(X, y, radius, lr, steps - 1), f"you took {steps - 1} steps; take exactly `steps`"),
        ])
    # non-default arguments: another learning rate and other step counts (0 steps: the start w = 0)
    radius = 0.4 * w_ols.norm().item()
    for lr_k, steps_k in [(0.3 * lr, 7), (lr, 0), (0.5 * lr, 1)]:
        out = expect_tensor(call(candidate, X, y, radius, lr_k, steps_k, name=name), name, shape=(X.shape[1],))
        diagnose(out, _pgd_reference(X, y, radius, lr_k, steps_k), name, atol=1e-7, rtol=1e-7,
                 context=f"for lr={lr_k:.4g}, steps={steps_k}", mistakes=[
            (_pgd_reference(X, y, radius, lr, steps_k) if steps_k else None,
             "the result is that of another learning rate: use the `lr` argument"),
            (_pgd_reference(X, y, radius, lr_k, steps) if steps_k != steps else None,
             "the result is that of another number of steps: take exactly `steps` steps"),
        ])
    passed(name, "matches eq. (3) step for step")


# --------------------------------------------------------------------------- task 4: penalty <-> constraint


def constraint_data():
    """The experiment's data: ``(X, y, alphas)`` with float64 tensors X (60, 8), y (60,) and three penalties."""
    X, y, _ = make_linear_regression(n=60, d=8, noise=0.5, seed=4, condition=5)
    return torch.tensor(X), torch.tensor(y), (0.5, 5.0, 50.0)


def _ridge_torch(X, y, alpha):
    return torch.linalg.solve(X.T @ X + alpha * torch.eye(X.shape[1], dtype=X.dtype), X.T @ y)


def penalty_constraint(radii, multipliers) -> None:
    """The experiment's results: ``radii[k] = ‖w_α‖`` and the multipliers μ recovered by projected gradient descent."""
    name = "penalty_constraint"
    X, y, alphas = constraint_data()
    alphas = np.array(alphas)
    for value, label in [(radii, "radii"), (multipliers, "multipliers")]:
        if value is None or value is Ellipsis:
            fail(f"`{label}` is not set yet: run the experiment and store one value per alpha")
    try:
        radii = np.asarray([float(r) for r in radii], dtype=float)
        multipliers = np.asarray([float(m) for m in multipliers], dtype=float)
    except (TypeError, ValueError):
        fail(f"`radii` and `multipliers` should be sequences of {len(alphas)} numbers, one per alpha")
    if radii.shape != alphas.shape or multipliers.shape != alphas.shape:
        fail(f"`radii` and `multipliers` should hold {len(alphas)} numbers each (one per alpha in {tuple(alphas)}), "
             f"got {radii.size} and {multipliers.size}")
    if not (np.isfinite(radii).all() and np.isfinite(multipliers).all()):
        fail(f"`{name}`: radii or multipliers contain NaN or inf; did projected gradient descent diverge (lr too big)?")
    expected_r = np.array([_ridge_torch(X, y, a).norm().item() for a in alphas])
    ols = torch.linalg.lstsq(X, y).solution.norm().item()
    diagnose(radii, expected_r, f"{name} (radii)", atol=1e-8, rtol=1e-6, mistakes=[
        (expected_r**2, "these are squared norms ‖w_α‖²; the radius is ‖w_α‖"),
        (np.full(3, ols), "this is the norm of the unpenalised (least-squares) solution; use ‖w_α‖ for each alpha"),
        (np.array([_ridge_torch(X, y, a / 2).norm().item() for a in alphas]),
         "these radii belong to α/2: the ridge problem here is ‖y − Xw‖² + α‖w‖², solved by (XᵀX + αI)⁻¹Xᵀy"),
        (np.array([_ridge_torch(X, y, 2 * a).norm().item() for a in alphas]),
         "these radii belong to 2α: the ridge problem here is ‖y − Xw‖² + α‖w‖², solved by (XᵀX + αI)⁻¹Xᵀy"),
    ])
    if not np.allclose(multipliers, alphas, atol=0.0, rtol=1e-3) and np.allclose(multipliers, alphas, rtol=0.05):
        fail(f"`{name}`: your multipliers {np.round(multipliers, 5).tolist()} are close to α = {alphas.tolist()} but "
             "not within 0.1 %: projected gradient descent has not converged yet; take more steps (thousands) "
             "before reading off μ")
    diagnose(multipliers, alphas, f"{name} (multipliers)", atol=0.0, rtol=1e-3, mistakes=[
        (2 * alphas, "your multipliers are 2α: stationarity reads ∇L(w*) + 2μ w* = 0, so "
                     "μ = −⟨∇L(w*), w*⟩ / (2‖w*‖²); did you forget the 2 in the denominator?"),
        (alphas / 2, "your multipliers are α/2: for L(w) = ‖y − Xw‖², ∇L = −2 Xᵀ(y − Xw) (did you drop the 2?)"),
        (-alphas, "sign error: μ = −⟨∇L(w*), w*⟩ / (2‖w*‖²) is positive when the constraint is active"),
    ])
    passed(name, "the constrained solution for r = ‖w_α‖ has Lagrange multiplier α: the penalty and the "
                 "constraint are the same problem")


# --------------------------------------------------------------------------- task 5: conceptual


register_answers({
    "04.clipping": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("04.clipping", "b"),
        "hints": {
            hash_answer("04.clipping", "a"): "clipping rescales the gradient, not the weights; in §6 of the chapter the "
                                             "largest unit norm of the clipped run ended at about twice c",
            hash_answer("04.clipping", "c"): "an L2 penalty changes the minimiser (it is ridge's α); clipping leaves every "
                                             "stationary point where it was, because at g = 0 it does nothing",
        },
        "explain": "clipping bounds each update, not the weights, and keeps the minimisers",
    },
    "04.rows": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("04.rows", "a"),
        "hints": {
            hash_answer("04.rows", "b"): "a column holds one input's outgoing weights to all 100 units; max-norm bounds "
                                         "each unit's incoming weights, which PyTorch stores as a row",
            hash_answer("04.rows", "c"): "that is a single L2-ball constraint on the whole matrix; max-norm bounds "
                                         "every unit separately",
        },
        "explain": "nn.Linear(40, 100).weight has shape (100, 40): one row of 40 incoming weights per unit",
    },
    "04.radius": {
        "choices": "'smaller', 'larger' or 'unchanged'",
        "correct": hash_answer("04.radius", "smaller"),
        "hints": {
            hash_answer("04.radius", "larger"): "a stronger penalty pulls the solution closer to zero, i.e. into a "
                                                "smaller ball; ‖w_α‖ decreases with α",
            hash_answer("04.radius", "unchanged"): "‖w_α‖ is strictly decreasing in α (chapter §2), so each radius "
                                                   "below ‖w_OLS‖ has its own α",
        },
        "explain": "‖w_α‖ decreases with α: a larger ball is a weaker penalty",
    },
})
