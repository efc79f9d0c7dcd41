"""Checkers for exercises/03_elastic_net.ipynb."""

from __future__ import annotations

import numpy as np
import torch

from .. import linear, penalties
from ..data import make_correlated_regression
from ._core import (call, diagnose, expect_array, expect_scalar, expect_tensor, fail, hash_answer, passed,
                    register_answers)

__all__ = ["elastic_net_penalty", "prox_elastic_net", "group_share", "grouping_data", "grouping_effect",
           "GROUPING_ALPHA", "GROUPING_L1_RATIO"]

#: The penalty strength and mixing weight of the exercise's grouping experiment.
GROUPING_ALPHA = 0.5
GROUPING_L1_RATIO = 0.5


# --------------------------------------------------------------------------- task 1: the penalty


def _weights(dtype=torch.float64):
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(5, 4, generator=gen, dtype=dtype)
    w[0, 0] = 0.0
    return w


def elastic_net_penalty(candidate) -> None:
    """``candidate(w, alpha, l1_ratio) -> 0-dim tensor`` equal to
    ``alpha * (l1_ratio * Σ|w| + (1 - l1_ratio) / 2 * Σ w²)`` (chapter 03, eq. (1))."""
    name = "elastic_net_penalty"
    alpha, rho = 0.4, 0.3
    w = _weights().requires_grad_(True)
    out = call(candidate, w, alpha, rho, name=name)
    if isinstance(out, (float, int, np.floating)) and not isinstance(out, bool):
        fail(f"`{name}` returned a Python number; return the torch tensor itself (no `.item()` or `float()`), "
             "so that autograd can differentiate the penalty")
    out = expect_tensor(out, name)
    if out.numel() != 1:
        fail(f"`{name}` returned a tensor of shape {tuple(out.shape)}; the penalty is one number "
             "(did you forget to sum?)")
    wd = w.detach()
    l1, sq = wd.abs().sum(), (wd**2).sum()
    expected = alpha * (rho * l1 + (1 - rho) / 2 * sq)
    diagnose(out.reshape(()), expected, name, atol=1e-8, rtol=1e-6, mistakes=[
        (alpha * (rho * l1 + (1 - rho) * sq), "missing ½ on the L2 part: α(ρ‖w‖₁ + (1 − ρ)/2 ‖w‖²)"),
        (alpha * ((1 - rho) * l1 + rho / 2 * sq), "the L1 and L2 weights are swapped: l1_ratio ρ multiplies ‖w‖₁, "
                                                  "(1 − ρ)/2 multiplies ‖w‖²"),
        (alpha * (rho * l1 + (1 - rho) / 2 * sq.sqrt()), "the L2 part uses the norm ‖w‖₂; it is the squared norm "
                                                         "‖w‖² = Σ w²"),
        (alpha * rho * l1 + (1 - rho) / 2 * sq, "α multiplies only the L1 part; it scales the whole penalty"),
        (rho * l1 + alpha * (1 - rho) / 2 * sq, "α multiplies only the L2 part; it scales the whole penalty"),
        (alpha * (rho * l1 + sq / 2), "the L2 part lacks its weight (1 − ρ)"),
        (alpha * (l1 + (1 - rho) / 2 * sq), "the L1 part lacks its weight ρ = l1_ratio"),
        (alpha * (rho * wd.abs().mean() + (1 - rho) / 2 * (wd**2).mean()), "you averaged over the weights; the "
                                                                           "penalty sums them"),
    ])
    if not out.requires_grad:
        fail(f"`{name}`: the result is not connected to the weights (did you use .detach(), .item() or NumPy?); "
             "autograd must be able to differentiate it")
    (grad,) = torch.autograd.grad(out.reshape(()), w)
    expected_grad = alpha * (rho * torch.sign(wd) + (1 - rho) * wd)
    if not torch.allclose(grad, expected_grad, atol=1e-8, rtol=1e-6):
        fail(f"`{name}`: its gradient is not α(ρ·sign(w) + (1 − ρ)w)")
    for r_end, ref in [(1.0, alpha * l1), (0.0, alpha / 2 * sq)]:
        end = expect_tensor(call(candidate, wd.clone(), alpha, r_end, name=name), name)
        if end.numel() != 1 or not torch.allclose(end.double().reshape(()), ref, atol=1e-8, rtol=1e-6):
            fail(f"`{name}` with l1_ratio={r_end} should be the {'L1' if r_end else 'L2'} penalty "
                 f"{'α‖w‖₁' if r_end else 'α/2 ‖w‖²'}")
    passed(name, "value and gradient; l1_ratio=1 is the L1 penalty, l1_ratio=0 the L2 penalty")


# --------------------------------------------------------------------------- task 2: the proximal step


def prox_elastic_net(candidate) -> None:
    """``candidate(x, step, alpha, l1_ratio) -> tensor`` equal to
    ``soft_threshold(x, step*alpha*l1_ratio) / (1 + step*alpha*(1 - l1_ratio))`` (chapter 03, eq. (3))."""
    name = "prox_elastic_net"
    S = penalties.soft_threshold
    for dtype, (s, a, r) in [(torch.float64, (0.5, 0.8, 0.3)), (torch.float64, (2.0, 0.25, 0.8)),
                             (torch.float32, (0.5, 0.8, 0.3))]:
        gen = torch.Generator().manual_seed(4)
        x = 1.5 * torch.randn(6, 7, generator=gen, dtype=dtype)
        out = expect_tensor(call(candidate, x, s, a, r, name=name), name, shape=x.shape, dtype=dtype)
        t, c = s * a * r, s * a * (1 - r)
        expected = S(x, t) / (1 + c)
        diagnose(out, expected, name, atol=1e-6, rtol=1e-5, context=f"for step={s}, alpha={a}, l1_ratio={r}",
                 mistakes=[
            (S(x, t), "the shrink factor is missing: after soft-thresholding, divide by 1 + step·α(1 − ρ) "
                      "(the L2 part of the penalty)"),
            (S(x, s * a * (1 - r)) / (1 + s * a * r), "the L1 and L2 weights are swapped: threshold by step·α·ρ, "
                                                      "shrink by 1 + step·α(1 − ρ)"),
            (S(x / (1 + c), t), "you shrank before thresholding; the closed form is S_{step·α·ρ}(x) / (1 + step·α(1 − ρ)) "
                                "— threshold the original x, then divide"),
            (S(x, t) * (1 - c), "you multiplied by 1 − step·α(1 − ρ) (a gradient step on the L2 part); the proximal "
                                "step divides by 1 + step·α(1 − ρ)"),
            (S(x, t) / (1 + 2 * c), "the shrink factor is 1 + 2·step·α(1 − ρ): you dropped the ½ of the L2 part "
                                    "(its gradient is α(1 − ρ)w)"),
            (S(x, a * r) / (1 + a * (1 - r)), "the step size is missing: the prox of step·Ω thresholds by step·α·ρ and "
                                              "shrinks by 1 + step·α(1 − ρ)"),
            (x * (x.abs() > t) / (1 + c), "you hard-thresholded; the L1 part needs soft-thresholding"),
            (torch.clamp(x.abs() - t, min=0) / (1 + c), "negative inputs came out positive: you forgot the sign"),
        ])
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    same = call(candidate, x, 0.5, 0.0, 0.5, name=name)
    if same is x:
        fail(f"`{name}` with alpha=0 returned the input tensor `x` itself; return a new tensor (e.g. `x.clone()`)")
    diagnose(expect_tensor(same, name, shape=x.shape), x, name, atol=1e-12, rtol=1e-12,
             context="for alpha=0 (the prox of a zero penalty is the identity)")
    for r_end, ref, what in [(1.0, S(x, 0.5), "soft-thresholding by step·α"), (0.0, x / 1.5, "x / (1 + step·α)")]:
        end = expect_tensor(call(candidate, x, 0.5, 1.0, r_end, name=name), name, shape=x.shape)
        if not torch.allclose(end, ref, atol=1e-8):
            fail(f"`{name}` with l1_ratio={r_end} should be {what}")
    passed(name, "soft-threshold by step·α·ρ, then shrink by 1 + step·α(1 − ρ)")


# --------------------------------------------------------------------------- task 3: the grouping effect


def _group_share_ref(w, groups):
    w, groups = np.asarray(w, dtype=float), np.asarray(groups)
    shares = [np.abs(w[groups == g]).max() / np.abs(w[groups == g]).sum() for g in np.unique(groups) if g >= 0]
    return float(np.mean(shares))


def group_share(candidate) -> None:
    """``candidate(w, groups) -> float``: the mean over relevant groups (``groups >= 0``) of the largest
    |coefficient| in the group divided by the group's total |coefficient|."""
    name = "group_share"
    w = np.array([0.2, 0.5, 1.3, -0.9, -0.1, -0.4, 0.6, 0.6, 0.6, 0.05, -0.3, 0.0])
    groups = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, -1, -1, -1])
    out = expect_scalar(call(candidate, w, groups, name=name), name)
    expected = _group_share_ref(w, groups)
    a = np.abs(w)
    per_group = [a[groups == g].max() / a[groups == g].sum() for g in range(3)]
    diagnose(out, expected, name, atol=1e-9, rtol=1e-7, mistakes=[
        (np.mean(per_group + [a[groups == -1].max() / a[groups == -1].sum()]),
         "you included the irrelevant features (group −1) as a group; average over groups 0, 1, 2, … only"),
        (np.mean([w[groups == g].max() / w[groups == g].sum() for g in range(3)]),
         "use absolute values: a group whose coefficients are negative has its largest member at the most negative"),
        (max(per_group), "you returned the largest share over the groups; return their mean"),
        (np.mean([(w[groups == g] ** 2).max() / (w[groups == g] ** 2).sum() for g in range(3)]),
         "you used squared coefficients; the share is max |w| / Σ |w| within the group"),
        (np.mean([a[groups == g].min() / a[groups == g].sum() for g in range(3)]),
         "you took the smallest member's share; the task asks for the largest"),
        (a[groups >= 0].max() / a[groups >= 0].sum(), "compute the share within each group, then average over groups"),
    ])
    # irregular groups: unsorted and interleaved, unequal sizes (1, 2 and 4 members), labels that are not
    # 0, 1, 2, a group whose members are all negative
    w2 = np.array([-0.7, 0.3, 0.0, -0.2, 0.9, 0.4, -0.6, 0.1, -0.5, 2.0])
    g2 = np.array([5, 2, -1, 5, 0, 5, 2, -1, 5, -1])
    out = expect_scalar(call(candidate, w2, g2, name=name,
                             _hint="This input's groups are labelled 0, 2 and 5, unsorted and of unequal sizes: "
                                   "loop over the labels present (np.unique(groups)) and select with "
                                   "`groups == g`"), name)
    a2 = np.abs(w2)
    labels = [0, 2, 5]
    shares = {g: a2[g2 == g].max() / a2[g2 == g].sum() for g in labels}
    feature_weighted = float(np.mean([shares[g] for g in g2 if g >= 0]))
    diagnose(out, _group_share_ref(w2, g2), name, atol=1e-9, rtol=1e-7,
             context=f"for groups={g2.tolist()} (unsorted, of sizes 1, 2 and 4, labelled 0, 2 and 5)", mistakes=[
        (np.mean([a2[3 * k:3 * k + 3].max() / a2[3 * k:3 * k + 3].sum() for k in range(3)]),
         "you assumed each group is a block of three consecutive features; select the members with "
         "`groups == g`"),
        (np.mean([a2[g2 == g].max() / a2[g2 == g].sum() for g in range(3) if (g2 == g).any()]),
         "you assumed the groups are labelled 0, 1, 2; loop over the labels present, e.g. np.unique(groups)"),
        (feature_weighted, "you averaged over features, so larger groups count more; average over groups, each "
                           "group once"),
        (np.mean([a2[g2 == g].max() / a2[g2 == g].sum() for g in labels] + [a2[g2 == -1].max() / a2[g2 == -1].sum()]),
         "you included the irrelevant features (group −1) as a group; average over groups g ≥ 0 only"),
        (np.mean([w2[g2 == g].max() / w2[g2 == g].sum() for g in labels]),
         "use absolute values: a group whose coefficients are negative has its largest member at the most negative"),
    ])
    even = np.array([1.0, 1.0, -2.0, -2.0])
    out = expect_scalar(call(candidate, even, np.array([0, 0, 1, 1]), name=name), name)
    if not np.isclose(out, 0.5):
        fail(f"`{name}`: two groups of two equal-magnitude members should give 0.5, got {out}")
    passed(name, "1/size for an even split, 1 when one member carries the group")


def grouping_data(seed):
    """Task 3's data: ``X, y, coef, groups`` from ``make_correlated_regression(seed=seed)`` (3 groups of 3
    features with correlation 0.95, 6 irrelevant features, n = 100)."""
    return make_correlated_regression(seed=seed)


def _reference_shares(seeds=(0, 1, 2), alpha=GROUPING_ALPHA, l1_ratio=GROUPING_L1_RATIO):
    lasso_s, enet_s = [], []
    for seed in seeds:
        X, y, _, groups = grouping_data(seed)
        lasso_s.append(_group_share_ref(linear.lasso(X, y, alpha), groups))
        enet_s.append(_group_share_ref(linear.elastic_net(X, y, alpha, l1_ratio), groups))
    return float(np.mean(lasso_s)), float(np.mean(enet_s))


def grouping_effect(lasso_share, enet_share) -> None:
    """The group shares of the lasso and of the elastic net at α = 0.5 (l1_ratio 0.5), averaged over seeds 0, 1, 2."""
    name = "grouping_effect"
    lasso_share = expect_scalar(lasso_share, "lasso_share")
    enet_share = expect_scalar(enet_share, "enet_share")
    ref_l, ref_e = _reference_shares()
    got = np.array([lasso_share, enet_share])
    close = lambda a, b: np.allclose(a, b, atol=1e-4, rtol=1e-4)
    if close(got, [ref_l, ref_e]):
        passed(name, f"lasso {ref_l:.2f} vs elastic net {ref_e:.2f} (an even split of three is 0.33): the lasso "
                     "lets one member carry its group, the elastic net spreads the weight")
        return
    if close(got, [ref_e, ref_l]):
        fail(f"`{name}`: the two values are swapped; lasso_share is the lasso's")
    if close(got, _reference_shares(seeds=(0,))):
        fail(f"`{name}`: these are the shares of seed 0 only; average over seeds 0, 1 and 2")
    if close(got, 3 * np.array([ref_l, ref_e])):
        fail(f"`{name}`: you summed over the seeds; take the mean")
    if close(got[0], ref_e) or close(got[1], ref_l):
        fail(f"`{name}`: one value belongs to the other method; lasso_share comes from lasso(X, y, α), "
             "enet_share from elastic_net(X, y, α, l1_ratio)")
    for value, ref, label in [(lasso_share, ref_l, "lasso_share"), (enet_share, ref_e, "enet_share")]:
        if not close(value, ref):
            fail(f"`{name}`: {label} = {value:.4f} is not the mean group share over seeds 0, 1, 2 at α = "
                 f"{GROUPING_ALPHA}; check that you fit on check.grouping_data(seed) and used your group_share")


# --------------------------------------------------------------------------- task 4: conceptual questions

register_answers({
    "03.ridge_alpha": {
        "choices": "a positive number",
        "correct": hash_answer("03.ridge_alpha", 10.0),
        "hints": {
            hash_answer("03.ridge_alpha", 0.1): "the elastic net averages the squared error over n (1/(2n)); Ridge "
                                                "does not: multiply the objective by 2n",
            hash_answer("03.ridge_alpha", 0.05): "the elastic net averages the squared error over n (1/(2n)); Ridge "
                                                 "does not: multiply the whole objective by 2n",
            hash_answer("03.ridge_alpha", 5.0): "multiply the whole objective by 2n: the L2 term α/2‖w‖² becomes "
                                                "nα‖w‖²",
            hash_answer("03.ridge_alpha", 20.0): "multiply the whole objective by 2n: the L2 term is α/2‖w‖² (with "
                                                 "the ½), so it becomes nα‖w‖²",
        },
        "explain": "×2n turns 1/(2n)‖y − Xw‖² + α/2‖w‖² into ‖y − Xw‖² + nα‖w‖²: Ridge(alpha = 100 · 0.1)",
    },
    "03.duplicates": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("03.duplicates", "b"),
        "hints": {
            hash_answer("03.duplicates", "a"): "the lasso's objective depends only on the sum of the two "
                                               "coefficients when they share a sign, so it does not prefer the even "
                                               "split; only the L2 part does",
            hash_answer("03.duplicates", "c"): "it is the other way round: the L2 part is smallest for the even split",
        },
        "explain": "the L2 part breaks the lasso's tie in favour of the even split (chapter 03 §4)",
    },
})
