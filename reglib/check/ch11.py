"""Checkers for exercises/11_optimizers.ipynb."""

from __future__ import annotations

import torch

from ..optim import Adam
from ._core import call, diagnose, expect_tensor, fail, hash_answer, passed, register_answers, tolerance

__all__ = ["adam_step", "sam_step", "modified_loss_gradient", "decay_experiment",
           "decay_experiment_problem"]

_BETAS = (0.9, 0.999)
_EPS = 1e-8
#: float64 tolerances for SAM and the modified loss: accept legitimate alternatives (torch.func, an eps in the
#: norm, a float32 intermediate step). Adam keeps tighter ones: its moments are tiny numbers.
_ATOL, _RTOL = tolerance(torch.float64)


# --------------------------------------------------------------------------- task 1: one Adam step


def _adam_reference(theta, grad, m, v, t, lr, lam, decoupled, betas=_BETAS, eps=_EPS, *, bias1=True, bias2=True,
                    eps_inside=False, decay_lr=True, decay_after=False, skip_decay=False, t_shift=0, v_raw=False):
    """Eq. (2)/(3) of chapter 11, with switches that reproduce the usual mistakes."""
    b1, b2 = betas
    g = grad
    if not skip_decay and not decoupled:
        g = grad + lam * theta
    if not skip_decay and decoupled and not decay_after:
        theta = theta * (1 - (lr * lam if decay_lr else lam))
    m_new = b1 * m + (1 - b1) * g
    v_new = b2 * v + (1 - b2) * (grad * grad if v_raw else g * g)
    t = t + t_shift
    m_hat = m_new / (1 - b1 ** t) if bias1 else m_new
    v_hat = v_new / (1 - b2 ** t) if bias2 else v_new
    denom = (v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps
    new = theta - lr * m_hat / denom
    if not skip_decay and decoupled and decay_after:
        new = new * (1 - lr * lam)
    return new, m_new, v_new


def _adam_cases():
    gen = torch.Generator().manual_seed(11)
    scale = torch.logspace(-3, 0, 6, dtype=torch.float64)
    theta = torch.randn(6, generator=gen, dtype=torch.float64) * 2
    grad = torch.randn(6, generator=gen, dtype=torch.float64) * scale
    m = torch.randn(6, generator=gen, dtype=torch.float64) * scale * 0.5
    v = (torch.randn(6, generator=gen, dtype=torch.float64) * scale) ** 2 * 0.3
    zeros = torch.zeros(6, dtype=torch.float64)
    # (theta, grad, m, v, t, lr, lam, betas, eps): a first step from zero moments, a later step with real
    # moments, and one with non-default betas and an eps large enough to matter (passed by keyword)
    return [(theta, grad, zeros, zeros, 1, 0.1, 0.3, None, None), (theta, grad, m, v, 4, 0.05, 0.5, None, None),
            (theta, grad, m, v, 3, 0.02, 0.4, (0.8, 0.99), 1e-3)]


def adam_step(candidate) -> None:
    """``candidate(theta, grad, m, v, t, lr, lam, decoupled) -> (theta, m, v)``: eq. (2) or eq. (3)."""
    name = "adam_step"
    for decoupled in (False, True):
        for theta, grad, m, v, t, lr, lam, betas, eps in _adam_cases():
            extra = {} if betas is None else {"betas": betas, "eps": eps}
            out = call(candidate, theta, grad, m, v, t, lr, lam, decoupled, name=name, **extra)
            if not isinstance(out, (tuple, list)) or len(out) != 3:
                fail(f"`{name}` should return three tensors (theta, m, v), got {type(out).__name__}")
            if t == 1 and isinstance(out[0], torch.Tensor) and out[0].is_floating_point() \
                    and not torch.isfinite(out[0]).all():
                fail(f"`{name}` returned NaN or inf on the first step (t=1): 1 − βᵗ is 0 only for t = 0. t is "
                     "already the number of the step being taken, so divide by 1 − β₁ᵗ and 1 − β₂ᵗ, not by "
                     "1 − β^(t − 1)")
            new_theta, new_m, new_v = (expect_tensor(o, name, shape=theta.shape) for o in out)
            betas, eps = betas or _BETAS, eps or _EPS
            args = (theta, grad, m, v, t, lr, lam, decoupled, betas, eps)
            exp_theta, exp_m, exp_v = _adam_reference(*args)
            other = _adam_reference(theta, grad, m, v, t, lr, lam, not decoupled, betas, eps)
            ctx = f"for decoupled={decoupled}, t={t}" + (f", betas={betas}, eps={eps}" if extra else "")
            defaults = (theta, grad, m, v, t, lr, lam, decoupled)
            if extra and not torch.allclose(new_theta.double(), exp_theta, atol=1e-10, rtol=1e-8):
                for wrong, hint in [
                    (_adam_reference(*defaults), "your function ignores its betas and eps arguments (it behaves as "
                                                 "if betas=(0.9, 0.999), eps=1e-8); use the values passed in"),
                    (_adam_reference(*defaults, eps=eps), "your function ignores its betas argument (it behaves as "
                                                          "if betas=(0.9, 0.999)); use the betas passed in"),
                    (_adam_reference(*defaults, betas=betas), "your function ignores its eps argument (it behaves "
                                                              "as if eps=1e-8); use the eps passed in"),
                ]:
                    if torch.allclose(new_theta.double(), wrong[0], atol=1e-10, rtol=1e-8):
                        fail(f"`{name}` ({ctx}): {hint}")
            wrong_form = ("the decay term went through the moments: that is Adam + L2 (coupled). With decoupled=True "
                          "the moments see only grad, and the weights shrink directly, θ ← (1 − lr·λ)θ"
                          if decoupled else
                          "L2 added after the moments (decoupled, AdamW-style) although coupled was asked: with "
                          "decoupled=False add λθ to the gradient *before* updating m and v")
            mistakes = [
                (other[0], wrong_form),
                (_adam_reference(*args, bias1=False, bias2=False)[0],
                 "missing bias correction: divide m by (1 − β₁ᵗ) and v by (1 − β₂ᵗ) before the step"),
                (_adam_reference(*args, bias1=False)[0], "missing bias correction of m: m̂ = m / (1 − β₁ᵗ)"),
                (_adam_reference(*args, bias2=False)[0], "missing bias correction of v: v̂ = v / (1 − β₂ᵗ)"),
                (_adam_reference(*args, eps_inside=True)[0],
                 "ε is inside the square root; Adam divides by √v̂ + ε"),
                (_adam_reference(*args, skip_decay=True)[0], "no weight decay at all: λ must act on the weights"),
                (_adam_reference(*args, t_shift=1)[0],
                 "the bias correction used t + 1: t is already the number of the step being taken (1 for the "
                 "first), so divide by 1 − β₁ᵗ and 1 − β₂ᵗ"),
                (_adam_reference(*args, t_shift=-1)[0] if t > 1 else None,
                 "the bias correction used t − 1: t is already the number of the step being taken (1 for the "
                 "first), so divide by 1 − β₁ᵗ and 1 − β₂ᵗ"),
            ]
            if not decoupled:
                mistakes.append((_adam_reference(*args, v_raw=True)[0],
                                 "v was updated with the raw gradient: with decoupled=False the L2 term is part of "
                                 "the gradient, g = grad + λθ, and both m and v use that g"))
            if decoupled:
                mistakes += [
                    (_adam_reference(*args, decay_lr=False)[0],
                     "decay not scaled by the learning rate: AdamW shrinks θ by (1 − lr·λ), not (1 − λ)"),
                    (_adam_reference(*args, decay_after=True)[0],
                     "the decay was applied after the Adam step; decay the current weights first, θ ← (1 − lr·λ)θ, "
                     "then take the Adam step (PyTorch's order)"),
                ]
            g_used = grad + (0 if decoupled else lam * theta)
            if torch.allclose(new_m.double(), m) and not torch.allclose(exp_m, m):
                fail(f"`{name}`: m was returned unchanged: update it, m ← β₁m + (1 − β₁)g")
            if torch.allclose(new_v.double(), v) and not torch.allclose(exp_v, v):
                fail(f"`{name}`: v was returned unchanged: update it, v ← β₂v + (1 − β₂)g²")
            if torch.allclose(new_v.double(), betas[1] * v + (1 - betas[1]) * g_used.abs(), rtol=1e-8, atol=1e-14):
                fail(f"`{name}`: v averages the *squared* gradient, g², not |g|")
            diagnose(new_theta, exp_theta, name + " (theta)", atol=1e-10, rtol=1e-8, context=ctx, mistakes=mistakes)
            hats = "you returned the bias-corrected moments m̂ and v̂; return the raw moments m and v (the next step " \
                   "corrects them again with its own t)"
            diagnose(new_m, exp_m, name + " (m)", atol=1e-12, rtol=1e-8, context=ctx, mistakes=[
                (m, "m was returned unchanged: update it, m ← β₁m + (1 − β₁)g"),
                (other[1], wrong_form),
                (exp_m / (1 - betas[0] ** t), hats),
            ])
            diagnose(new_v, exp_v, name + " (v)", atol=1e-14, rtol=1e-8, context=ctx, mistakes=[
                (v, "v was returned unchanged: update it, v ← β₂v + (1 − β₂)g²"),
                (other[2], wrong_form),
                (betas[1] * v + (1 - betas[1]) * (grad + (0 if decoupled else lam * theta)).abs(),
                 "v averages the *squared* gradient, g², not |g|"),
                (exp_v / (1 - betas[1] ** t), hats),
            ])
    passed(name, "coupled = torch.optim.Adam, decoupled = torch.optim.AdamW")


# --------------------------------------------------------------------------- task 2: one SAM step


_SAM_A = [torch.tensor([1.0, 4.0, 0.5], dtype=torch.float64), torch.tensor([[2.0, 0.3], [1.5, 3.0]], dtype=torch.float64)]


def _sam_grad_fn(params):
    """∇L for L = Σ_k Σ a_k/2 · θ_k² + Σ sin(θ_k): a non-quadratic loss over two tensors."""
    return [a * p + torch.cos(p) for a, p in zip(_SAM_A, params)]


def _sam_params():
    return [torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64),
            torch.tensor([[0.25, -1.0], [0.7, 1.2]], dtype=torch.float64)]


def _sam_reference(params, lr, rho, *, normalise=True, per_tensor=False, at_original=False, from_perturbed=False,
                   sign=1.0, sum_of_norms=False, squared_norm=False):
    g = _sam_grad_fn(params)
    if per_tensor:
        e = [rho * gi / gi.norm() for gi in g]
    elif sum_of_norms:
        e = [rho * gi / sum(gj.norm() for gj in g) for gi in g]
    elif squared_norm:
        e = [rho * gi / sum(gj.square().sum() for gj in g) for gi in g]
    else:
        norm = torch.cat([gi.flatten() for gi in g]).norm()
        e = [rho * gi / (norm if normalise else 1.0) for gi in g]
    perturbed = [p + sign * ei for p, ei in zip(params, e)]
    g_sam = g if at_original else _sam_grad_fn(perturbed)
    start = perturbed if from_perturbed else params
    return [s - lr * gs for s, gs in zip(start, g_sam)]


def _sam_inplace(candidate, name, lr, rho) -> None:
    """A specific hint when the candidate changes the tensors in ``params`` (``call`` would only say that it did).

    The usual way in is the PyTorch habit of perturbing in place and undoing it, ``p.add_(e)`` ... ``p.sub_(e)``:
    θ + ê − ê equals θ only up to rounding, so the caller's tensors come back altered in their last bits.
    """
    params = _sam_params()
    before = [p.clone() for p in params]
    try:
        candidate(params, _sam_grad_fn, lr, rho)
    except Exception:  # call() reports it, with its own hint
        return
    intact = all(isinstance(p, torch.Tensor) and p.shape == b.shape for b, p in zip(before, params))
    if intact and all(torch.equal(b, p) for b, p in zip(before, params)):
        return
    if intact and all(torch.allclose(b, p, rtol=1e-12, atol=1e-14) for b, p in zip(before, params)):
        fail(f"`{name}` changed `params` in place and changed them back (perturb, then undo): θ + ê − ê is θ only "
             "up to rounding, so the tensors you were given come back altered in their last bits. Leave `params` "
             "untouched: build the perturbed point as new tensors, e.g. "
             "`[p + rho * g / norm for p, g in zip(params, grads)]`, and return new tensors")
    fail(f"`{name}` modified its input `params` in place (the perturbation or the step was applied to the tensors "
         "passed in); leave `params` untouched and return new tensors, e.g. `[p - lr * g for p, g in ...]`")


def sam_step(candidate) -> None:
    """``candidate(params, grad_fn, lr, rho) -> new params``: θ − lr · ∇L(θ + ρ g/‖g‖), eq. (4)."""
    name = "sam_step"
    for lr, rho in ((0.1, 0.05), (0.05, 0.5)):
        _sam_inplace(candidate, name, lr, rho)
        params = _sam_params()
        out = call(candidate, params, _sam_grad_fn, lr, rho, name=name)
        if isinstance(out, torch.Tensor) or not isinstance(out, (list, tuple)) or len(out) != len(params):
            fail(f"`{name}` should return a list of {len(params)} tensors, one per parameter tensor")
        out = [expect_tensor(o, name, shape=p.shape) for o, p in zip(out, params)]
        flat = torch.cat([o.flatten() for o in out])
        expected = torch.cat([o.flatten() for o in _sam_reference(params, lr, rho)])

        def wrong(**kw):
            return torch.cat([o.flatten() for o in _sam_reference(params, lr, rho, **kw)])

        diagnose(flat, expected, name, atol=_ATOL, rtol=_RTOL, context=f"for lr={lr}, rho={rho}", mistakes=[
            (wrong(normalise=False), "the perturbation is not normalised: ê = ρ·g/‖g‖, a step of length exactly ρ"),
            (wrong(per_tensor=True), "each tensor was normalised by its own norm; ‖g‖ is one norm over all parameters "
                                     "together"),
            (wrong(at_original=True), "the gradient was taken at the original point: that is a plain SGD step. SAM "
                                      "uses the gradient at the perturbed weights θ + ê"),
            (wrong(from_perturbed=True), "the step starts from the perturbed weights; go back to θ and step from "
                                         "there: θ − lr·∇L(θ + ê)"),
            (wrong(sign=-1.0), "the perturbation points downhill; SAM ascends to the worst point nearby: θ + ρg/‖g‖"),
            (wrong(sum_of_norms=True), "you added up the norms of the tensors; ‖g‖ is the norm of all entries "
                                       "together, the square root of the sum of all squares"),
            (wrong(squared_norm=True), "you divided by ‖g‖², the sum of squares, without the square root"),
        ])
    passed(name, "θ − lr · ∇L(θ + ρ g/‖g‖)")


# --------------------------------------------------------------------------- task 3: the modified loss


def _mod_loss(theta):
    return (torch.sin(theta) * torch.arange(1, theta.numel() + 1, dtype=theta.dtype)).sum() + (theta ** 4).sum() / 4


def _mod_parts(theta):
    th = theta.detach().clone().requires_grad_(True)
    g = torch.autograd.grad(_mod_loss(th), th)[0]
    hg = torch.autograd.functional.hvp(_mod_loss, theta.detach(), g)[1]
    return g.detach(), hg.detach()


def _mod_hvp(theta, vector):
    return torch.autograd.functional.hvp(_mod_loss, theta.detach(), vector)[1].detach()


def modified_loss_gradient(candidate) -> None:
    """``candidate(loss_fn, theta, lr) -> ∇L̃(θ) = ∇L + (lr/2) H ∇L``, eq. (6)."""
    name = "modified_loss_gradient"
    theta = torch.tensor([0.3, -1.2, 0.8, 2.0], dtype=torch.float64)
    for lr in (0.1, 0.4):
        out = expect_tensor(call(candidate, _mod_loss, theta, lr, name=name), name, shape=theta.shape)
        g, hg = _mod_parts(theta)
        diagnose(out.detach(), g + lr / 2 * hg, name, atol=_ATOL, rtol=_RTOL, context=f"for lr={lr}", mistakes=[
            (g, "this is ∇L itself; the modified loss adds (lr/4)‖∇L‖², whose gradient is (lr/2)·H∇L"),
            (g + lr / 4 * hg, "the factor is lr/2, not lr/4: the gradient of ‖∇L‖² is 2H∇L"),
            (g + lr * hg, "the factor is lr/2: the gradient of (lr/4)‖∇L‖² is (lr/4)·2H∇L"),
            (g - lr / 2 * hg, "sign error: the modified loss *adds* (lr/4)‖∇L‖²"),
            (lr / 2 * hg, "only the correction term was returned; add ∇L"),
            (g + lr / 4 * hg / g.norm(), "you added (lr/4)‖∇L‖, the norm; the modified loss adds its square, "
                                         "(lr/4)‖∇L‖² = (lr/4)·(grad ** 2).sum()"),
            (g + lr / 4 * _mod_hvp(theta, torch.ones_like(theta)), "you added (lr/4)·Σ∇L, the sum of the gradient's "
                                                                   "entries; the modified loss adds the sum of their "
                                                                   "squares, (lr/4)·(grad ** 2).sum()"),
        ] + [(g + other / 2 * hg, f"your function ignores its lr argument (it behaves as if lr={other}); use "
                                  "the lr passed in") for other in (0.1, 0.4, 0.01, 0.001, 1.0) if other != lr])
    passed(name, "∇L + (lr/2)·H∇L")


# --------------------------------------------------------------------------- task 4: experiment


def decay_experiment_problem():
    """The exercise's quadratic: L(θ) = ½ Σ a_i (θ_i − 1)², curvatures a from 10 to 0.01; and its settings."""
    a = torch.tensor([10.0, 1.0, 0.1, 0.01], dtype=torch.float64)
    return {"a": a, "c": torch.ones(4, dtype=torch.float64), "lr": 0.05, "lam": 0.5, "steps": 300}


def _decay_reference(decoupled):
    prob = decay_experiment_problem()
    theta = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt = Adam([theta], lr=prob["lr"], weight_decay=prob["lam"], decoupled=decoupled)
    for _ in range(prob["steps"]):
        opt.zero_grad()
        (0.5 * (prob["a"] * (theta - prob["c"]) ** 2).sum()).backward()
        opt.step()
    return theta.detach()


def decay_experiment(theta_coupled, theta_decoupled) -> None:
    """The final θ of the exercise's two Adam runs (coupled L2, then decoupled decay)."""
    name = "decay_experiment"
    ref_c, ref_d = _decay_reference(False), _decay_reference(True)
    tc = expect_tensor(theta_coupled, "theta_coupled", shape=(4,))
    td = expect_tensor(theta_decoupled, "theta_decoupled", shape=(4,))
    if torch.allclose(tc.double(), ref_d, atol=1e-4) and torch.allclose(td.double(), ref_c, atol=1e-4):
        fail(f"`{name}`: the two results are swapped: theta_coupled is the Adam + L2 run (decoupled=False)")
    diagnose(tc.detach(), ref_c, "theta_coupled", atol=1e-5, rtol=1e-4, context="(Adam + L2, 300 steps from θ = 0)")
    diagnose(td.detach(), ref_d, "theta_decoupled", atol=1e-5, rtol=1e-4, context="(AdamW, 300 steps from θ = 0)")
    passed(name, "after 300 steps Adam + L2 sits at the penalized optimum a/(a + λ), AdamW's coordinates "
                 "all alike (still moving: a transient, not a resting point)")


register_answers({
    "11.double_lr": {
        "choices": "'double', 'halve' or 'keep'",
        "correct": hash_answer("11.double_lr", "halve"),
        "hints": {
            hash_answer("11.double_lr", "double"): "PyTorch's AdamW shrinks θ by lr·λ per step; doubling lr already "
                                                   "doubles the decay",
            hash_answer("11.double_lr", "keep"): "the per-step shrinkage is lr·λ (eq. (3)); with lr doubled it doubles "
                                                 "unless λ changes",
        },
        "explain": "the per-step decay is lr·λ; halve λ to keep it",
    },
    "11.curvature": {
        "choices": "'coupled', 'decoupled' or 'both'",
        "correct": hash_answer("11.curvature", "coupled"),
        "hints": {
            hash_answer("11.curvature", "decoupled"): "look at your theta_decoupled: every coordinate ends at the same "
                                                      "value, whatever its curvature",
            hash_answer("11.curvature", "both"): "compare the four entries of each of your two results",
        },
        "explain": "Adam + L2 converges to the penalized optimum a/(a + λ); AdamW shrinks all coordinates alike",
    },
    "11.tune_rho": {
        "choices": "'train', 'validation' or 'test'",
        "correct": hash_answer("11.tune_rho", "validation"),
        "hints": {
            hash_answer("11.tune_rho", "test"): "tuning on the test split makes its score an optimistic estimate "
                                                "(chapter 00 §2); choose ρ on validation data",
            hash_answer("11.tune_rho", "train"): "the training loss rewards memorising the noisy labels that SAM is "
                                                 "meant to resist; choose ρ on held-out validation data",
        },
        "explain": "hyperparameters are chosen on validation data; the test split is read once",
    },
})
