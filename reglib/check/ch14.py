"""Checkers for exercises/14_weight_decay_averaging.ipynb (weight decay and weight averaging in modern training)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ._core import (call, diagnose, expect_array, expect_scalar, expect_tensor, fail, hash_answer, passed,
                    register_answers)

__all__ = ["ema_update", "swa_update", "equilibrium_angle", "decay_for_timescale", "equilibrium_problem",
           "equilibrium_experiment"]

_F64 = torch.float64


def _pair(seed: int, shape=(3, 4)):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=gen, dtype=_F64), torch.randn(*shape, generator=gen, dtype=_F64) * 2 + 1)


# --------------------------------------------------------------------------- task 1: one EMA step


def ema_update(candidate) -> None:
    """``candidate(average, current, decay) -> new average``: β·average + (1 − β)·current, eq. (10)."""
    name = "ema_update"
    for seed, decay in ((0, 0.9), (1, 0.99), (2, 0.0), (3, 0.5)):
        avg, cur = _pair(seed)
        out = expect_tensor(call(candidate, avg, cur, decay, name=name), name, shape=avg.shape, dtype=avg.dtype)
        expected = decay * avg + (1 - decay) * cur
        diagnose(out, expected, name, atol=1e-12, rtol=1e-10, context=f"for decay={decay}", mistakes=[
            ((1 - decay) * avg + decay * cur, "the weights are swapped: the *old* average keeps the factor β = decay "
                                              "(close to 1), the new weights get 1 − β"),
            (decay * avg + cur, "the new weights must be multiplied by 1 − β, so that the two weights sum to 1"),
            (cur, "you returned the current weights: an EMA keeps most of the old average"),
            (avg, "you returned the old average unchanged: fold the current weights in with weight 1 − β"),
            ((avg + cur) / 2, "that is the plain mean of two tensors; the EMA weights them by β and 1 − β"),
        ])
    passed(name, "β·average + (1 − β)·current, as torch's get_ema_multi_avg_fn")


# --------------------------------------------------------------------------- task 2: one SWA step


def swa_update(candidate) -> None:
    """``candidate(average, current, n) -> new average``: the running mean after adding a snapshot to n others, eq. (9)."""
    name = "swa_update"
    for seed, n in ((1, 4), (2, 9), (0, 1)):
        avg, cur = _pair(seed)
        out = expect_tensor(call(candidate, avg, cur, n, name=name), name, shape=avg.shape, dtype=avg.dtype)
        expected = avg + (cur - avg) / (n + 1)
        diagnose(out, expected, name, atol=1e-12, rtol=1e-10, context=f"for n={n}", mistakes=[
            (avg + (cur - avg) / n, "off by one: `n` snapshots are already in the average, so the new snapshot is "
                                    "number n + 1 and gets weight 1/(n + 1)"),
            ((avg + cur) / 2, "that averages only the last two: the new snapshot must get weight 1/(n + 1)"),
            (avg * n + cur, "you summed the snapshots; divide by their number, n + 1"),
            ((avg * n + cur) / n, "divide the sum of n + 1 snapshots by n + 1, not n"),
            (cur, "you returned the current weights; the running mean keeps the earlier snapshots"),
        ])
    # edge case: an empty average (n = 0) becomes the first snapshot
    avg, cur = _pair(5)
    out = expect_tensor(call(candidate, avg, cur, 0, name=name), name, shape=avg.shape)
    if not torch.isfinite(out).all():
        fail(f"`{name}` returned NaN or inf for n = 0: with no snapshot yet the average is the current weights "
             "(divide by n + 1, not n)")
    diagnose(out, cur, name, atol=1e-12, rtol=1e-10, context="for n=0 (the first snapshot)")
    passed(name, "the running mean of eq. (9), as AveragedModel's default")


# --------------------------------------------------------------------------- task 3: two formulas


def equilibrium_angle(candidate) -> None:
    """``candidate(lr, weight_decay, momentum=0.0) -> float``: √(2ηλ/(1 + μ)), eq. (4)."""
    name = "equilibrium_angle"
    for lr, lam, mom in ((0.1, 5e-4, 0.0), (0.2, 0.04, 0.0), (0.05, 1e-3, 0.9), (1.0, 0.0, 0.5)):
        out = expect_scalar(call(candidate, lr, lam, mom, name=name), name)
        expected = math.sqrt(2 * lr * lam / (1 + mom))
        diagnose(out, expected, name, atol=1e-12, rtol=1e-9, context=f"for lr={lr}, weight_decay={lam}, momentum={mom}",
                 mistakes=[
                     (2 * lr * lam / (1 + mom), "missing square root: the angle is √(2ηλ/(1 + μ))"),
                     (math.sqrt(lr * lam / (1 + mom)), "missing factor 2 inside the root: 1 − (1 − ηλ)² ≈ 2ηλ"),
                     (math.sqrt(2 * lr * lam), "momentum ignored: with momentum μ the angle is √(2ηλ/(1 + μ))"),
                     (math.sqrt(2 * lr * lam * (1 + mom)), "momentum on the wrong side: divide by 1 + μ"),
                     (math.sqrt(2 * lr * lam / (1 - mom)) if mom < 1 else None,
                      "divide by 1 + μ, not 1 − μ (Wan et al. 2021)"),
                     (math.sqrt(2 * lam / (1 + mom)), "the learning rate is missing: the product ηλ sets the angle"),
                 ])
    passed(name, "√(2ηλ/(1 + μ))")


def decay_for_timescale(candidate) -> None:
    """``candidate(lr, tau_epochs, n_samples, batch_size) -> float``: λ = B/(η N τ_epoch), eqs. (7)-(8)."""
    name = "decay_for_timescale"
    for lr, tau, n, b in ((1e-3, 5.0, 10**6, 512), (1e-2, 2.0, 3200, 100), (3e-4, 0.5, 50_000, 64)):
        out = expect_scalar(call(candidate, lr, tau, n, b, name=name), name)
        expected = b / (lr * n * tau)
        iters = n / b
        diagnose(out, expected, name, atol=0.0, rtol=1e-9, context=f"for lr={lr}, tau_epochs={tau}, n={n}, B={b}",
                 mistakes=[
                     (1 / (lr * tau), "τ was used as iterations: convert epochs to iterations first, "
                                      "τ_iter = τ_epoch · N/B"),
                     (n / (lr * b * tau), "N and B are swapped: one epoch has N/B iterations"),
                     (b / (n * tau), "the learning rate is missing: τ_iter = 1/(ηλ)"),
                     (lr * iters * tau, "inverted: τ_iter = 1/(ηλ), so λ = 1/(η τ_iter)"),
                     (1 / (lr * math.ceil(iters) * tau) if iters != math.ceil(iters) else None,
                      "close, but keep N/B exact (no rounding up)"),
                 ])
    # the scaling law of eq. (8): four times the data, a quarter of the decay
    base, more = (expect_scalar(call(candidate, 1e-3, 3.0, n, 256, name=name), name) for n in (10**5, 4 * 10**5))
    if not math.isclose(more, base / 4, rel_tol=1e-9):
        fail(f"`{name}`: with four times the data (same lr, τ_epoch, B) λ must fall by a factor 4 (eq. (8)); "
             f"got {base:.3g} → {more:.3g}")
    passed(name, "λ = B/(η N τ_epoch): four times the data, a quarter of the decay")


# --------------------------------------------------------------------------- task 4: the equilibrium, measured


def equilibrium_problem() -> dict:
    """The scale-invariant toy problem of task 4.

    ``grad_fn(w, generator)`` returns a stochastic gradient of L(w) = ½‖A w/‖w‖ − b‖² with Gaussian noise,
    projected orthogonally to ``w`` and divided by ‖w‖ — exactly what a scale-invariant loss produces (eq. (1)).
    Also ``w0`` (float64, 50 entries), ``lr``, ``weight_decay``, ``steps`` and ``late`` (average the angles of the
    last ``late`` steps).
    """
    gen = torch.Generator().manual_seed(14)
    A = torch.randn(30, 50, generator=gen, dtype=_F64) / math.sqrt(50)
    b = torch.randn(30, generator=gen, dtype=_F64)

    def grad_fn(w, generator=None):
        norm = w.norm()
        u = w / norm
        g = A.T @ (A @ u - b) + 0.5 * torch.randn(w.shape, generator=generator, dtype=w.dtype)
        g = g - (g @ u) * u  # orthogonal to w
        return g / norm

    return {"grad_fn": grad_fn, "w0": torch.randn(50, generator=gen, dtype=_F64), "lr": 0.1,
            "weight_decay": 0.01, "steps": 3000, "late": 1000}


def equilibrium_experiment(angles, problem=None) -> None:
    """``angles``: the angle (radians) turned at each of ``problem["steps"]`` SGD steps with weight decay.

    Passes when the mean of the last ``late`` angles is within 20 % of √(2ηλ) (eq. (4)).
    """
    name = "equilibrium_experiment"
    problem = problem or equilibrium_problem()
    arr = expect_array(angles, "angles")
    if arr.ndim != 1 or len(arr) != problem["steps"]:
        fail(f"`angles` should hold one angle per step, {problem['steps']} values, got shape {arr.shape}")
    if (arr < 0).any() or (arr > math.pi).any():
        fail("angles must lie in [0, π] radians: use arccos of the cosine between w before and after the step")
    predicted = math.sqrt(2 * problem["lr"] * problem["weight_decay"])
    late = float(np.mean(arr[-problem["late"]:]))
    if math.isclose(late, math.degrees(predicted), rel_tol=0.2):
        fail("your angles look like degrees; measure them in radians (np.arccos / torch.acos give radians)")
    if late < 0.3 * predicted:
        fail(f"the late angles ({late:.2g} rad) are far below √(2ηλ) = {predicted:.3f}: did you apply the weight decay "
             "(w ← (1 − ηλ)w − ηg)? Without it the norm grows and the steps shrink (eq. (3))")
    if late > 5 * predicted:
        fail(f"the late angles ({late:.2g} rad) are far above √(2ηλ) = {predicted:.3f}: check that the step uses the "
             "learning rate and that you measure the angle between consecutive weights")
    if not 0.8 * predicted <= late <= 1.25 * predicted:
        fail(f"the mean of the last {problem['late']} angles is {late:.4f} rad, but eq. (4) predicts "
             f"{predicted:.4f}: check the update w ← (1 − ηλ)w − η·grad_fn(w) and that you record every step")
    passed(name, f"late angle {late:.4f} rad vs √(2ηλ) = {predicted:.4f}")


# --------------------------------------------------------------------------- task 5: concepts


register_answers({
    "14.bn_decay": {
        "choices": "'a' (it limits the capacity of the layer), 'b' (it sets the effective learning rate) or "
                   "'c' (nothing at all)",
        "correct": hash_answer("14.bn_decay", "b"),
        "hints": {
            hash_answer("14.bn_decay", "a"): "the network computes the same function at any scale of that layer "
                                             "(§1): a penalty on the scale cannot limit capacity",
            hash_answer("14.bn_decay", "c"): "the function does not depend on ‖w‖, but the size of each step on the "
                                             "sphere does: η/‖w‖² (eq. (2))",
        },
        "explain": "it keeps ‖w‖ small and so the effective learning rate η/‖w‖² up",
    },
    "14.more_data": {
        "choices": "'divide by 4', 'keep' or 'multiply by 4'",
        "correct": hash_answer("14.more_data", "divide by 4"),
        "hints": {
            hash_answer("14.more_data", "keep"): "one epoch now has four times the iterations; the same λ keeps τ_iter "
                                                 "and so makes τ_epoch four times shorter",
            hash_answer("14.more_data", "multiply by 4"): "a larger λ makes the timescale 1/(ηλ) shorter, the wrong "
                                                          "way (eq. (8))",
        },
        "explain": "λ = B/(η N τ_epoch): four times N, a quarter of λ",
    },
    "14.swa_bn": {
        "choices": "'a' (keep the running statistics of the last iterate), 'b' (recompute them with a pass over "
                   "the training data) or 'c' (average them like the weights and nothing more)",
        "correct": hash_answer("14.swa_bn", "b"),
        "hints": {
            hash_answer("14.swa_bn", "a"): "the statistics of the last iterate do not fit the averaged weights: in §5 "
                                           "they cost most of SWA's gain",
            hash_answer("14.swa_bn", "c"): "an average of statistics is not the statistics of the averaged network, "
                                           "whose activations are a non-linear function of the weights",
        },
        "explain": "recompute them (torch.optim.swa_utils.update_bn / reglib.averaging.recompute_bn)",
    },
})
