"""Checkers for exercises/01_l2_weight_decay.ipynb."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import linear, penalties
from ..data import load_diabetes
from ._core import (call, diagnose, expect_array, expect_tensor, fail, hash_answer, passed,
                    register_answers)

__all__ = ["l2_penalty", "sgd_step_weight_decay", "ridge_closed_form", "ridge_sweep", "best_ridge_alpha",
           "ridge_sweep_data", "RIDGE_ALPHAS"]

#: The α grid of the exercise's ridge sweep (decades from 0.01 to 10 000).
RIDGE_ALPHAS = np.logspace(-2, 4, 7)


# --------------------------------------------------------------------------- task 1: the penalty


def _penalty_params(dtype=torch.float64):
    gen = torch.Generator().manual_seed(1)
    return [torch.randn(shape, generator=gen, dtype=dtype) for shape in [(3, 4), (4,), (2, 3)]]


def l2_penalty(candidate) -> None:
    """``candidate(params, lam) -> 0-dim tensor`` equal to ``lam / 2 * Σ w²`` over every tensor in ``params``."""
    name = "l2_penalty"
    params = [p.requires_grad_(True) for p in _penalty_params()]
    lam = 0.3
    out = call(candidate, params, lam, name=name)
    if isinstance(out, (list, tuple)):
        fail(f"`{name}` returned a {type(out).__name__} of {len(out)} values; add the penalties of all tensors "
             "into one number")
    if isinstance(out, (float, int, np.floating)) and not isinstance(out, bool):
        fail(f"`{name}` returned a Python number; return the torch tensor itself (no `.item()`, `float()` or NumPy), "
             "so that autograd can differentiate the penalty")
    out = expect_tensor(out, name)
    if out.numel() != 1:
        fail(f"`{name}` returned a tensor of shape {tuple(out.shape)}; the penalty is one number: sum the squared "
             "weights of every tensor (did you forget to sum?)")
    if out.dim() != 0:
        fail(f"`{name}` returned a tensor of shape {tuple(out.shape)}; return a 0-dimensional tensor (shape ()), "
             "e.g. start the sum from 0 or `torch.zeros(())`, not `torch.zeros(1)`")
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    squares = flat @ flat
    expected = lam / 2 * squares
    diagnose(out.reshape(()), expected, name, atol=1e-8, rtol=1e-6, mistakes=[
        (lam * squares, "missing ½: the penalty is λ/2 · Σ w² (you computed λ · Σ w²); the ½ makes its gradient "
                        "λw, exactly what SGD's weight_decay=λ adds"),
        (lam / 2 * flat.sum(), "the weights are not squared: the penalty is λ/2 · Σ w², a sum of squares"),
        (lam / 2 * flat.abs().sum(), "you summed |w| (that is the L1 penalty of chapter 02); square the weights "
                                     "instead: λ/2 · Σ w²"),
        (lam / 2 * squares.sqrt(), "you used the norm ‖w‖ instead of its square ‖w‖² = Σ w² (no square root)"),
        (lam * squares.sqrt(), "you used λ‖w‖: the penalty is λ/2 · ‖w‖², the squared norm with a factor ½"),
        (lam / 2 * flat.square().mean(), "you averaged the squared weights; the penalty sums them: λ/2 · Σ w²"),
        (lam / 2 * sum(p.detach().sum() ** 2 for p in params), "you squared the sum of each tensor; sum the squares "
                                                              "of the entries instead"),
        (lam / 2 * params[0].detach().square().sum(), "only the first tensor was counted; sum over every tensor in "
                                                      "params"),
        (lam / 2 * params[-1].detach().square().sum(), "only the last tensor was counted (is `total = ...` "
                                                       "overwritten in the loop instead of added to?)"),
        (lam ** 2 / 2 * squares, "λ appears squared; the penalty is linear in λ: λ/2 · Σ w²"),
        (lam / 2 * sum(p.detach().square().sum() for p in params if p.dim() > 1),
         "only the matrices were counted: the task sums every tensor in params, the 1-D ones included"),
        (torch.zeros((), dtype=flat.dtype), "the penalty is 0: was `params` iterated before the sum (a generator "
                                            "is empty the second time)? Call `params = list(params)` first"),
    ])
    if not out.requires_grad:
        fail(f"`{name}`'s result is not connected to the weights (requires_grad is False): avoid `.detach()`, "
             "`.item()`, `.data` or NumPy inside the penalty, or autograd cannot differentiate it")
    grads = torch.autograd.grad(out.sum(), params, allow_unused=True)
    for p, g in zip(params, grads):
        if g is None or not torch.allclose(g, lam * p.detach(), rtol=1e-6, atol=1e-8):
            fail(f"`{name}`: the gradient of your penalty is not λw for every tensor; build it from the tensors "
                 "themselves with torch operations")
    zero = call(candidate, [p.detach() for p in params], 0.0, name=name)
    if not isinstance(zero, torch.Tensor) or zero.numel() != 1 or abs(float(zero.detach())) > 1e-12:
        fail(f"`{name}` with lam=0 should return 0")
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).double()
    with torch.no_grad():
        expected = penalties.l2_penalty(list(model.parameters()), 0.1)
    out = call(candidate, model.parameters(), 0.1, name=name)
    if isinstance(out, torch.Tensor) and out.numel() == 1 and abs(float(out.detach())) < 1e-12 < float(expected):
        fail(f"`{name}(model.parameters(), lam)` returned 0: a generator can be iterated only once. "
             "Turn it into a list first: `params = list(params)`")
    diagnose(expect_tensor(out, name).reshape(()), expected, name, atol=1e-8, rtol=1e-6,
             context="for params=model.parameters() (a generator; iterate over it once, or call list() on it)")
    passed(name, "λ/2 · Σ w², gradient λw")


# --------------------------------------------------------------------------- task 2: one SGD step


def sgd_step_weight_decay(candidate) -> None:
    """``candidate(w, grad, lr, lam) -> new w`` = ``w - lr * (grad + lam * w)``, without changing ``w``."""
    name = "sgd_step_weight_decay"
    gen = torch.Generator().manual_seed(2)
    for dtype, lr, lam in [(torch.float64, 0.3, 0.2), (torch.float32, 0.1, 0.05)]:
        w = torch.randn(4, 3, generator=gen, dtype=dtype)
        grad = torch.randn(4, 3, generator=gen, dtype=dtype)
        out = expect_tensor(call(candidate, w, grad, lr, lam, name=name), name, shape=w.shape, dtype=dtype)
        expected = w - lr * (grad + lam * w)
        tol = dict(atol=1e-6, rtol=1e-5) if dtype == torch.float32 else dict(atol=1e-10, rtol=1e-8)
        diagnose(out, expected, name, **tol, context=f"for lr={lr}, lam={lam}", mistakes=[
            (w - lr * grad - lam * w, "the decay is not scaled by the learning rate: the step is "
                                      "w − lr·(grad + λw), so the weights shrink by the factor (1 − lr·λ), not (1 − λ)"),
            (w - lr * grad + lr * lam * w, "sign error in the decay term: weight decay pulls w toward zero, "
                                           "w − lr·(grad + λw)"),
            (w + lr * (grad + lam * w), "sign error: gradient descent steps against the gradient, w − lr·(grad + λw)"),
            (w + lr * grad - lr * lam * w, "sign error on the gradient: step against it, w − lr·(grad + λw)"),
            (w - lr * grad, "no weight decay: add λw to the gradient, w − lr·(grad + λw)"),
            (w - lr * (grad + lam / 2 * w), "the gradient of λ/2 · ‖w‖² is λw, not λw/2"),
            (w - lr * (grad + 2 * lam * w), "2λw is the gradient of λ‖w‖²; with the chapter's λ/2 · ‖w‖² it is λw "
                                            "(what weight_decay=λ adds)"),
            ((1 - lr * lam) * (w - lr * grad), "you decayed the weights after the gradient step; decay the current "
                                               "weights: (1 − lr·λ)·w − lr·grad"),
            (w - lam * grad, "the learning rate and λ are swapped"),
        ])
    w = torch.randn(5, generator=gen, dtype=torch.float64)
    grad = torch.randn(5, generator=gen, dtype=torch.float64)
    for lr, lam in [(0.0, 0.5), (0.25, 0.0), (2.0, 0.4)]:  # edge cases: no step, no decay, a decay factor < 0
        out = call(candidate, w, grad, lr, lam, name=name)
        if out is w:
            fail(f"`{name}`(lr={lr}, lam={lam}) returned the input tensor `w` itself; return a new tensor "
                 "(the caller may still need the old weights)")
        out = expect_tensor(out, name, shape=w.shape, dtype=w.dtype)
        diagnose(out, (1 - lr * lam) * w - lr * grad, name, atol=1e-10, rtol=1e-8,
                 context=f"for lr={lr}, lam={lam}")
    passed(name, "w ← (1 − lr·λ)·w − lr·grad")


# --------------------------------------------------------------------------- task 3: ridge


def _ridge_problems():
    rng = np.random.default_rng(3)
    tall = rng.normal(size=(40, 6)) + np.array([0.0, 1.0, -2.0, 0.5, 0.0, 3.0])  # columns with non-zero means
    tall[:, 1] = tall[:, 0] + 0.3 * tall[:, 1]  # correlated columns: XᵀX far from the identity
    tall[:, 4] *= 3.0
    y_tall = tall @ np.array([1.0, -2.0, 0.5, 0.0, 1.5, -1.0]) + 0.5 * rng.normal(size=40)
    wide = rng.normal(size=(8, 15))
    y_wide = wide[:, :3] @ np.array([2.0, -1.0, 1.0]) + 0.3 * rng.normal(size=8)
    return [(tall, y_tall, 0.7), (tall, y_tall, 5.0), (wide, y_wide, 1.0)]


def ridge_closed_form(candidate) -> None:
    """``candidate(X, y, alpha) -> w`` minimising ``‖y − Xw‖² + alpha‖w‖²`` (NumPy, no intercept)."""
    name = "ridge_closed_form"
    for X, y, alpha in _ridge_problems():
        n, p = X.shape
        out = expect_array(call(candidate, X, y, alpha, name=name), name)
        if out.shape == (p, 1) or out.shape == (1, p):
            fail(f"`{name}` returned shape {out.shape}; return a flat vector of shape ({p},) (use y as a 1-D array)")
        if out.shape != (p,):
            fail(f"`{name}` returned shape {out.shape} for X of shape {X.shape}; expected one coefficient per "
                 f"feature, shape ({p},)")
        expected = linear.ridge(X, y, alpha)
        G, b, eye = X.T @ X, X.T @ y, np.eye(p)
        mistakes = [
            (np.linalg.solve(G + alpha * np.ones((p, p)), b),
             "you added α to every entry of XᵀX (a scalar broadcasts to the whole matrix); add α·I, i.e. only to "
             "the diagonal: np.eye(p)"),
            (np.linalg.solve(G - alpha * eye, b), "sign error: the normal equations are (XᵀX + αI)w = Xᵀy"),
            (np.linalg.solve(G + n * alpha * eye, b), "α is multiplied by n: this objective sums the squared errors, "
                                                      "so the system is (XᵀX + αI)w = Xᵀy"),
            (np.linalg.solve(G + 2 * alpha * eye, b), "the factors 2 cancel: the gradient −2Xᵀ(y − Xw) + 2αw "
                                                      "vanishes where (XᵀX + αI)w = Xᵀy"),
            (np.linalg.solve(G + alpha / 2 * eye, b), "the factors 2 cancel: the gradient −2Xᵀ(y − Xw) + 2αw "
                                                      "vanishes where (XᵀX + αI)w = Xᵀy (not α/2)"),
        ]
        Xc, yc = X - X.mean(0), y - y.mean()
        mistakes.append((np.linalg.solve(Xc.T @ Xc + alpha * eye, Xc.T @ yc),
                         "the data were centred (or an intercept was fitted, as sklearn's Ridge does by default); "
                         "the task has no intercept: use X and y as they are"))
        if n >= p:
            ols = np.linalg.solve(G, b)
            mistakes += [
                (ols, "missing α·I: this is plain least squares; solve (XᵀX + αI)w = Xᵀy"),
                ((np.linalg.inv(G) + alpha * eye) @ b, "α·I is on the wrong side of the inverse: add it to XᵀX "
                                                       "before inverting, (XᵀX + αI)⁻¹Xᵀy"),
                (ols / (1 + alpha), "you shrank every least-squares coefficient by the same factor 1/(1 + α); ridge "
                                    "shrinks each eigen-direction by λᵢ/(λᵢ + α), which is uniform only when XᵀX = I"),
                (np.linalg.solve(G, b + alpha), "α was added to the right-hand side Xᵀy; it belongs on the matrix: "
                                                "(XᵀX + αI)w = Xᵀy"),
            ]
        diagnose(out, expected, name, atol=1e-8, rtol=1e-6, mistakes=mistakes,
                 context=f"for X of shape {X.shape}, alpha={alpha}")
    passed(name, "(XᵀX + αI)⁻¹Xᵀy, also when p > n")


# --------------------------------------------------------------------------- task 4: the sweep


def ridge_sweep_data():
    """The data of the exercise's α sweep: diabetes with all quadratic features (65 columns), 100 training and
    342 validation patients; columns standardised and targets centred with the training statistics.

    Returns ``(X_train, y_train, X_val, y_val)`` as NumPy arrays.
    """
    X, y, _ = load_diabetes()
    i, j = np.triu_indices(X.shape[1])
    F = np.hstack([X, X[:, i] * X[:, j]])
    order = np.random.default_rng(0).permutation(len(y))
    train, val = order[:100], order[100:]
    mean, std = F[train].mean(0), F[train].std(0)
    F = (F - mean) / std
    offset = y[train].mean()
    return F[train], y[train] - offset, F[val], y[val] - offset


def _mse(X, y, w):
    return float(np.mean((X @ w - y) ** 2))


def _reference_sweep(X_tr, y_tr, X_va, y_va, alphas):
    train_mse, val_mse = [], []
    for alpha in alphas:
        w = linear.ridge(X_tr, y_tr, alpha)
        train_mse.append(_mse(X_tr, y_tr, w))
        val_mse.append(_mse(X_va, y_va, w))
    return np.array(train_mse), np.array(val_mse)


def ridge_sweep(candidate) -> None:
    """``candidate(X_train, y_train, X_val, y_val, alphas) -> (train_mse, val_mse)``, one entry per alpha."""
    name = "ridge_sweep"
    X_tr, y_tr, X_va, y_va = ridge_sweep_data()
    # the exercise's data and grid, then other data (a function that reads the exercise's global data fails)
    # with unsorted alphas that are not decades (a function that sorts them or rebuilds the grid fails)
    cases = [((X_tr, y_tr, X_va, y_va), RIDGE_ALPHAS),
             ((X_va[:60], y_va[:60], np.vstack([X_tr, X_va[60:150]]), np.concatenate([y_tr, y_va[60:150]])),
              np.array([30.0, 0.5, 3.0]))]
    for data, alphas in cases:
        out = call(candidate, *data, alphas, name=name)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail(f"`{name}` should return two sequences (train_mse, val_mse), got {type(out).__name__}")
        train_mse, val_mse = (expect_array(o, name, shape=(len(alphas),)) for o in out)
        ref_train, ref_val = _reference_sweep(*data, alphas)
        X_t, y_t, X_v, y_v = data
        on_val, train_of_val_fit = _reference_sweep(X_v, y_v, X_t, y_t, alphas)
        fitted_on_val = "the models were fitted on the validation data; fit on train, evaluate on val"
        context = f"for alphas={alphas.tolist()}"
        other = []
        if alphas is not RIDGE_ALPHAS:
            srt = _reference_sweep(*data, np.sort(alphas))
            glob = _reference_sweep(*ridge_sweep_data(), alphas)
            other = [(srt, "the errors are in sorted order of α; keep the order of `alphas`"),
                     (_reference_sweep(*data, RIDGE_ALPHAS[:len(alphas)]),
                      "the errors belong to the exercise's grid, not to the `alphas` argument"),
                     (glob, "the errors come from the exercise's data, not from the arrays passed in: use the "
                            "function's arguments")]
        diagnose(train_mse, ref_train, name + " (train_mse)", rtol=1e-5, atol=1e-6, context=context, mistakes=[
            (ref_val, "train_mse holds validation errors: evaluate each fit on the data it was fitted to"),
            (on_val, fitted_on_val),
            (train_of_val_fit, fitted_on_val),
            (np.sqrt(ref_train), "these are root-mean-squared errors; return the mean squared error"),
            (ref_train * len(y_t), "these are sums of squared errors; divide by the number of samples"),
        ] + [(o[0], h) for o, h in other])
        diagnose(val_mse, ref_val, name + " (val_mse)", rtol=1e-5, atol=1e-6, context=context, mistakes=[
            (on_val, fitted_on_val),
            (ref_train, "val_mse holds training errors; evaluate each fit on the validation data"),
            (np.sqrt(ref_val), "these are root-mean-squared errors; return the mean squared error"),
            (ref_val * len(y_v), "these are sums of squared errors; divide by the number of samples"),
            (ref_val * len(y_v) / len(y_t), "the validation error is divided by the number of *training* samples; "
                                            "divide by len(y_val)"),
        ] + [(o[1], h) for o, h in other])
    passed(name, "training error rises with α; validation error is U-shaped")


def _alpha_choice():
    """Validation MSE per α, the argmin, its standard error and the acceptable choices: the argmin or a
    stronger α whose validation error is within one standard error of the minimum."""
    alphas = RIDGE_ALPHAS
    X_tr, y_tr, X_va, y_va = ridge_sweep_data()
    ref_train, ref_val = _reference_sweep(X_tr, y_tr, X_va, y_va, alphas)
    best = int(np.argmin(ref_val))
    sq = (X_va @ linear.ridge(X_tr, y_tr, alphas[best]) - y_va) ** 2
    se = float(sq.std(ddof=1) / np.sqrt(len(sq)))
    ok = [k for k in range(len(alphas)) if k >= best and ref_val[k] <= ref_val[best] + se]
    return alphas, ref_train, ref_val, best, se, ok


def best_ridge_alpha(candidate_alpha) -> None:
    """The α chosen from the exercise's sweep (one of ``RIDGE_ALPHAS``): the validation argmin, or a stronger α
    within one standard error of it (the one-standard-error rule). The standard error is that of the smallest
    validation MSE as a mean over the validation patients: the standard deviation (ddof=1) of that fit's
    per-patient squared errors divided by the square root of their number."""
    name = "best_alpha"
    alphas, ref_train, ref_val, best, se, ok = _alpha_choice()
    if isinstance(candidate_alpha, bool) or not isinstance(candidate_alpha, (int, float, np.integer, np.floating)):
        fail(f"`{name}` should be a number, one of the alphas of the sweep, got {candidate_alpha!r}")
    matches = np.flatnonzero(np.isclose(alphas, float(candidate_alpha), rtol=1e-6))
    if not matches.size:
        if any(np.isclose(float(candidate_alpha), k) for k in range(len(alphas))):
            fail(f"`{name}` = {candidate_alpha!r} looks like an index into the grid; set it to the α value itself, "
                 "e.g. alphas[np.argmin(val_mse)]")
        fail(f"`{name}` = {candidate_alpha!r} is not one of the alphas of the sweep: {alphas.tolist()}")
    k = int(matches[0])
    if k in ok:
        passed(name, f"α = {alphas[k]:g} has the lowest validation error" if k == best else
               f"α = {alphas[k]:g} regularizes more and validates within one standard error of the best")
        return
    if k == int(np.argmin(ref_train)):
        fail(f"`{name}`: α = {alphas[k]:g} has the smallest *training* error, which always favours the weakest "
             "regularization; choose by validation error")
    if k == int(np.argmax(ref_val)):
        fail(f"`{name}`: α = {alphas[k]:g} has the largest validation error; take the minimum (np.argmin)")
    if k < best and ref_val[k] <= ref_val[best] + se:
        fail(f"`{name}`: α = {alphas[k]:g} validates no better than α = {alphas[best]:g} (within noise) but "
             "regularizes less; among equally good α prefer the stronger regularization")
    fail(f"`{name}`: α = {alphas[k]:g} has validation MSE {ref_val[k]:.4g}, more than one standard error "
         f"({se:.3g}) above the smallest, {ref_val[best]:.4g}; choose the α with the smallest validation error")


# --------------------------------------------------------------------------- task 5: concepts


register_answers({
    "01.shrinkage": {
        "choices": "a number between 0 and 1",
        "correct": hash_answer("01.shrinkage", 0.25),
        "hints": {
            hash_answer("01.shrinkage", 0.75): "α/(λᵢ + α) is the fraction removed; the fraction kept is λᵢ/(λᵢ + α)",
            hash_answer("01.shrinkage", 1 / 3): "λᵢ/α is not the factor; ridge keeps λᵢ/(λᵢ + α) (eq. (6))",
            hash_answer("01.shrinkage", 3.0): "α/λᵢ is not the factor; ridge keeps λᵢ/(λᵢ + α) (eq. (6))",
            hash_answer("01.shrinkage", 0.5): "that would be the factor if λᵢ = α; here λᵢ = 4 and α = 12",
        },
        "explain": "4 / (4 + 12) = 0.25",
    },
    "01.map_alpha": {
        "choices": "a number",
        "correct": hash_answer("01.map_alpha", 16.0),
        "hints": {
            hash_answer("01.map_alpha", 4.0): "σ and τ are standard deviations; α = σ²/τ² uses the variances",
            hash_answer("01.map_alpha", 1 / 16): "upside down: α = σ²/τ² (more noise, stronger regularization)",
            hash_answer("01.map_alpha", 0.25): "upside down, and with standard deviations: α = σ²/τ²",
        },
        "explain": "α = σ²/τ² = 4 / 0.25 = 16",
    },
    "01.no_decay": {
        "choices": "a set of letters such as {'a', 'c'}",
        "correct": hash_answer("01.no_decay", {"b", "c", "d"}),
        "hints": {
            hash_answer("01.no_decay", {"b"}): "also leave out the LayerNorm scale γ and shift β",
            hash_answer("01.no_decay", {"c", "d"}): "also leave out the biases",
            hash_answer("01.no_decay", {"b", "c"}): "also leave out the LayerNorm shift β",
            hash_answer("01.no_decay", {"b", "d"}): "also leave out the LayerNorm scale γ: decaying it shrinks the "
                                                    "normalized signal",
            hash_answer("01.no_decay", {"a", "b", "c", "d", "e"}): "that leaves everything out, so nothing is decayed; "
                                                                   "keep the weight matrices and convolution kernels "
                                                                   "in: they carry the scale that decay controls",
            hash_answer("01.no_decay", set()): "that leaves nothing out, so everything is decayed; which parameters "
                                               "does decay_groups exclude?",
            hash_answer("01.no_decay", {"a", "e"}): "upside down: that leaves out the weight matrices and kernels, "
                                                    "the parameters decay is meant for; list those it should skip",
        },
        "explain": "decay weight matrices and kernels; not biases or normalization parameters",
    },
    "01.adamw": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("01.adamw", "b"),
        "hints": {
            hash_answer("01.adamw", "a"): "torch.optim.Adam's weight_decay adds λw to the gradient, which Adam then "
                                          "divides by its adaptive scale: that is the L2 penalty, not eq. (3)",
            hash_answer("01.adamw", "c"): "only one of them decays outside the adaptive scaling; see the forward "
                                          "pointer in §2 of the chapter",
        },
        "explain": "AdamW decouples the decay from the adaptive gradient scaling",
    },
})
