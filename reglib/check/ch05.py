"""Checkers for exercises/05_early_stopping.ipynb (early stopping)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data import make_linear_regression
from ..early_stopping import EarlyStopping, gd_linear_regression
from ..linear import ridge
from ._core import call, diagnose, expect_array, fail, hash_answer, passed, register_answers

__all__ = ["train_with_early_stopping", "gd_factors", "gd_ridge_data", "gd_vs_ridge"]


# --------------------------------------------------------------------------- task 1: the early-stopping loop


class _Script:
    """A fake training run: epoch e sets every parameter to the value e; the validation loss of a model is
    read off its weights (``losses[e - 1]``), so it does not matter how often the candidate evaluates."""

    def __init__(self, losses, rebind: bool = False):
        self.losses, self.rebind, self.epochs_trained = list(losses), rebind, 0
        self.model = nn.Linear(2, 1)
        with torch.no_grad():
            for p in self.model.parameters():
                p.zero_()

    def train_epoch(self, model):
        self.epochs_trained += 1
        e = float(self.epochs_trained)
        if self.rebind:  # new parameter tensors each epoch (what some optimizers' wrappers effectively do)
            model.weight = nn.Parameter(torch.full_like(model.weight, e))
            model.bias = nn.Parameter(torch.full_like(model.bias, e))
        else:  # an ordinary in-place optimizer step
            with torch.no_grad():
                for p in model.parameters():
                    p.fill_(e)

    def val_loss(self, model):
        e = int(round(model.weight.detach()[0, 0].item()))
        return 10.0 if e < 1 else float(self.losses[min(e, len(self.losses)) - 1])

    def weights_epoch(self) -> float:
        return self.model.weight.detach()[0, 0].item()


def _reference_loop(losses, max_epochs, patience, min_delta):
    """``(best_epoch, epochs_run)``, 1-based, from reglib's EarlyStopping (the chapter's semantics)."""
    stopper = EarlyStopping(patience=patience, min_delta=min_delta)
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        if stopper.step(losses[epoch - 1]):
            break
    return stopper.best_step + 1, epoch


def _variant_loop(losses, max_epochs, patience, min_delta, *, vs_previous=False, no_reset=False,
                  non_strict=False, no_min_delta=False):
    """``(best_epoch, epochs_run)`` of the loop with one usual mistake, to name it when a candidate matches it."""
    best, prev, best_epoch, bad, epoch = np.inf, np.inf, 0, 0, 0
    delta = 0.0 if no_min_delta else min_delta
    for epoch in range(1, max_epochs + 1):
        v = losses[epoch - 1]
        ref = prev if vs_previous else best
        better = v <= ref - delta if non_strict else v < ref - delta
        prev = v
        if better:
            best, best_epoch = v, epoch
            bad = bad if no_reset else 0
        else:
            bad += 1
            if bad >= patience:
                break
    return best_epoch, epoch


_LOOP_MISTAKES = [
    (dict(vs_previous=True), "an epoch improves only if its loss beats the BEST loss so far, not the previous "
                             "epoch's loss"),
    (dict(no_reset=True), "reset the count of epochs without improvement to 0 at every improvement (patience "
                          "counts CONSECUTIVE epochs without improvement)"),
    (dict(non_strict=True), "a loss equal to best − min_delta counted as an improvement: the rule is strict, "
                            "`loss < best - min_delta`"),
    (dict(no_min_delta=True), "min_delta is ignored: an epoch improves only if `loss < best - min_delta`"),
]


def _judge(name, got, weights, losses, max_epochs, patience, min_delta):
    expected = _reference_loop(losses, max_epochs, patience, min_delta)
    if got == expected and weights == expected[0]:
        return
    setting = f"for losses {losses} with patience {patience}, min_delta {min_delta}, max_epochs {max_epochs}"
    if got != expected:
        for kw, hint in _LOOP_MISTAKES:
            if got == _variant_loop(losses, max_epochs, patience, min_delta, **kw):
                fail(f"`{name}` returned (best_epoch, epochs_run) = {got} {setting} (expected {expected}): {hint}")
    fail(f"`{name}` returned {got} with the weights of epoch {weights:g} {setting}; expected {expected} with the "
         f"weights of epoch {expected[0]}")


def _run(candidate, losses, max_epochs, patience, min_delta, rebind=False):
    name = "train_with_early_stopping"
    script = _Script(losses, rebind)
    out = call(candidate, script.model, script.train_epoch, script.val_loss, max_epochs, patience, min_delta, name=name)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"`{name}` should return two integers (best_epoch, epochs_run), got "
             f"{'None (did you forget `return`?)' if out is None else type(out).__name__}")
    try:
        best, run = (int(v) for v in out)
    except (TypeError, ValueError):
        fail(f"`{name}` should return two integers (best_epoch, epochs_run), got {out!r}")
    if script.epochs_trained != run:
        fail(f"`{name}` trained {script.epochs_trained} epochs but reported epochs_run = {run}")
    return best, run, script.weights_epoch()


def train_with_early_stopping(candidate) -> None:
    """``candidate(model, train_epoch, val_loss, max_epochs, patience, min_delta) -> (best_epoch, epochs_run)``."""
    name = "train_with_early_stopping"
    # 1. patience and restoring: best at epoch 2, then three epochs without improvement (patience 3)
    losses = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.4, 0.3, 0.2, 0.1]
    expected = _reference_loop(losses, 10, 3, 0.0)  # (2, 5)
    best, run, weights = _run(candidate, losses, 10, 3, 0.0)
    if run == 10:
        fail(f"`{name}` never stopped: stop as soon as `patience` consecutive epochs have not improved "
             "(validation losses 1.0, 0.5, 0.6, 0.7, 0.8 with patience 3 stop at epoch 5)")
    if run == expected[1] + 1:
        fail(f"`{name}`: off-by-one patience: you stopped at epoch {run}, one epoch late. With losses 1.0, 0.5, 0.6, "
             "0.7, 0.8 and patience 3, epochs 3, 4, 5 do not improve, so training stops right after epoch 5 "
             "(stop when the count REACHES patience)")
    if run == expected[1] - 1:
        fail(f"`{name}`: off-by-one patience: you stopped at epoch {run}, one epoch early; stop when patience "
             "consecutive epochs (here 3) have not improved, not patience - 1")
    if (best, run) == (expected[0] - 1, expected[1]):
        fail(f"`{name}` returned best_epoch = {best}: epochs are counted from 1 (the first epoch is epoch 1)")
    if (best, run) != expected:
        fail(f"`{name}` returned (best_epoch, epochs_run) = ({best}, {run}) for validation losses {losses[:6]}... "
             f"with patience 3; expected {expected}")
    if weights != expected[0]:
        if weights == run:
            _, _, rebound = _run(candidate, losses, 10, 3, 0.0, rebind=True)
            if rebound == expected[0]:
                fail(f"`{name}` restored the weights of the LAST epoch: the stored state is a reference, not a copy. "
                     "`model.state_dict()` returns the live parameter tensors, which the next training epoch "
                     "overwrites in place; store `copy.deepcopy(model.state_dict())` (or clone every tensor)")
            fail(f"`{name}` does not restore the best weights: the model ends with the weights of the last epoch "
                 f"({run}) instead of the best one ({expected[0]}). Keep a copy of the state when the loss improves "
                 "and `model.load_state_dict(best_state)` at the end (assigning `model = ...` inside the function "
                 "does not change the caller's model)")
        fail(f"`{name}`: the model ends with the weights of epoch {weights:g}, expected those of the best epoch "
             f"{expected[0]}")

    # 2. min_delta is strict: an improvement of exactly min_delta does not count
    losses = [1.0, 0.75, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    expected = _reference_loop(losses, 8, 3, 0.25)  # (3, 6)
    best, run, weights = _run(candidate, losses, 8, 3, 0.25)
    if (best, run) == (2, 5):  # what `loss <= best - min_delta` gives
        fail(f"`{name}`: an improvement of exactly min_delta counted (1.0 -> 0.75 with min_delta = 0.25): you used "
             "`>=` where the rule needs `>`. An epoch improves only if best - loss > min_delta, i.e. "
             "`loss < best - min_delta`")
    _judge(name, (best, run), weights, losses, 8, 3, 0.25)
    # 3. min_delta must be used: improvements of 0.1 and 0.05 are below it
    losses = [1.0, 0.9, 0.85, 0.8, 0.8, 0.8]
    expected = _reference_loop(losses, 6, 2, 0.25)  # (1, 3)
    best, run, weights = _run(candidate, losses, 6, 2, 0.25)
    if (best, run) == _reference_loop(losses, 6, 2, 0.0):
        fail(f"`{name}` ignores min_delta: with min_delta = 0.25, going from 1.0 to 0.9 is not an improvement")
    _judge(name, (best, run), weights, losses, 6, 2, 0.25)
    # 4. a run that never stops: all max_epochs epochs, and the last is the best
    losses = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5]
    best, run, weights = _run(candidate, losses, 6, 2, 0.0)
    if (best, run, weights) != (6, 6, 6.0):
        fail(f"`{name}` with steadily falling losses and max_epochs = 6 returned ({best}, {run}) and weights of "
             f"epoch {weights:g}; expected (6, 6): train exactly max_epochs epochs when the rule never fires")
    # 5. the loop runs out of epochs before patience is reached: the best weights must be restored anyway
    losses = [1.0, 0.5, 0.6, 0.7]
    best, run, weights = _run(candidate, losses, 4, 5, 0.0)
    if (best, run) != (2, 4):
        fail(f"`{name}` returned ({best}, {run}) for losses {losses} with patience 5 and max_epochs 4; expected (2, 4)")
    if weights != 2.0:
        fail(f"`{name}` did not restore the best weights when training ran out of epochs (losses {losses}, patience 5, "
             f"max_epochs 4: the model ends with the weights of epoch {weights:g}, not of the best epoch 2). Load the "
             "best state after the loop, whether or not the patience rule fired")
    # 6. compare with the best loss so far, not with the previous epoch; 7. the count restarts at every
    # improvement; 8. ties with min_delta = 0 (an equal loss is no improvement)
    for losses, patience in (([1.0, 0.5, 0.8, 0.7, 0.6, 0.55, 0.9, 0.95], 3),
                             ([1.0, 0.9, 1.0, 0.8, 1.0, 0.7, 1.0, 1.0, 1.0], 2),
                             ([1.0, 0.5, 0.5, 0.5, 0.5, 0.5], 2)):
        best, run, weights = _run(candidate, losses, len(losses), patience, 0.0)
        _judge(name, (best, run), weights, losses, len(losses), patience, 0.0)
    passed(name, "patience counted exactly, min_delta strict, best weights restored from a real copy")


# --------------------------------------------------------------------------- task 2: the GD shrinkage factors


def gd_factors(candidate) -> None:
    """``candidate(eigenvalues, lr, steps) -> 1 - (1 - lr * eigenvalues) ** steps`` (chapter 05, eq. (3))."""
    name = "gd_factors"
    lam = np.array([0.01, 0.1, 1.0, 5.0, 20.0, 50.0])
    lr = 0.02
    for steps in (1, 10, 100):
        out = expect_array(call(candidate, lam, lr, steps, name=name), name, shape=lam.shape)
        expected = 1 - (1 - lr * lam) ** steps
        diagnose(out, expected, name, atol=1e-12, rtol=1e-10, context=f"for steps={steps}", mistakes=[
            ((1 - lr * lam) ** steps, "you returned (1 − ελ)^τ, the part of the least-squares coefficient NOT yet "
                                      "learned; the factor is 1 − (1 − ελ)^τ"),
            (1 - np.exp(-steps * lr * lam), "this is the approximation 1 − exp(−τελ); use the exact factor "
                                            "1 − (1 − ελ)^τ (they differ when ελ is not small)"),
            (lam / (lam + 1 / (steps * lr)), "this is the ridge factor λ/(λ + α) with α = 1/(τε), the analogy; "
                                             "the gradient-descent factor is 1 − (1 − ελ)^τ"),
            (1 - (1 - lr * lam) ** (steps + 1), "off by one: the exponent is the number of steps τ, not τ + 1"),
            (1 - (1 - lr * lam) ** (steps - 1), "off by one: the exponent is the number of steps τ, not τ − 1"),
            (1 - (1 - lam) ** steps, "the step size ε is missing: the factor is 1 − (1 − ελ)^τ"),
        ])
    # ελ > 1 for the largest eigenvalues: (1 − ελ) is negative, and the factor oscillates around 1
    lr2, lam2 = 0.03, np.array([50.0, 0.5, 60.0, 10.0])
    for steps in (3, 4):
        out = expect_array(call(candidate, lam2, lr2, steps, name=name), name, shape=lam2.shape)
        diagnose(out, 1 - (1 - lr2 * lam2) ** steps, name, atol=1e-12, rtol=1e-10,
                 context=f"for lr={lr2}, steps={steps} (where 1 − ελ < 0)", mistakes=[
            (1 - np.abs(1 - lr2 * lam2) ** steps, "you took |1 − ελ|: keep the sign, 1 − (1 − ελ)^τ"),
        ])
    out = expect_array(call(candidate, lam, lr, 0, name=name), name, shape=lam.shape)
    if not np.allclose(out, 0.0, atol=1e-12):
        fail(f"`{name}` with steps=0 should return zeros (gradient descent from 0 has learned nothing yet)")
    passed(name, "1 − (1 − ελ)^τ for every eigendirection")


# --------------------------------------------------------------------------- task 3: the experiment


def gd_ridge_data():
    """The experiment's data: ``(X, y, lr, taus)``: NumPy X (50, 10), y (50,), the step lr = 1/λ_max and four τ."""
    X, y, _ = make_linear_regression(n=50, d=10, noise=0.5, seed=1, condition=10)
    lr = 1.0 / np.linalg.eigvalsh(X.T @ X).max()
    return X, y, lr, (1, 10, 100, 1000)


def _gaps(X, y, lr, taus, *, alpha=lambda t, lr: 1 / (t * lr), offset=0, denom="ridge", relative=True):
    out = []
    for t in taus:
        w_gd = gd_linear_regression(X, y, lr, t + offset)
        w_r = ridge(X, y, alpha(t, lr))
        gap = np.linalg.norm(w_gd - w_r)
        if relative:
            gap /= np.linalg.norm(w_r if denom == "ridge" else w_gd)
        out.append(gap)
    return np.array(out)


def gd_vs_ridge(gaps) -> None:
    """The experiment's result: ``gaps[k] = ‖w_τ − w_α‖ / ‖w_α‖`` for each τ of :func:`gd_ridge_data`, α = 1/(τ lr)."""
    name = "gd_vs_ridge"
    X, y, lr, taus = gd_ridge_data()
    if gaps is None or gaps is Ellipsis:
        fail("`gaps` is not set yet: run the experiment and store one relative gap per τ")
    try:
        gaps = np.asarray([float(g) for g in gaps], dtype=float)
    except (TypeError, ValueError):
        fail(f"`gaps` should be a sequence of {len(taus)} numbers, one per τ in {taus}")
    if gaps.shape != (len(taus),):
        fail(f"`gaps` should hold {len(taus)} numbers (one per τ in {taus}), got {gaps.size}")
    if not np.isfinite(gaps).all():
        fail("`gaps` contains NaN or inf; did gradient descent diverge (is the step 1/λ_max)?")
    expected = _gaps(X, y, lr, taus)
    diagnose(gaps, expected, name, atol=1e-9, rtol=1e-6, mistakes=[
        (_gaps(X, y, lr, taus, alpha=lambda t, lr: t * lr), "you used α = τε; the matching penalty is its inverse, "
                                                            "α = 1/(τε)"),
        (_gaps(X, y, lr, taus, alpha=lambda t, lr: 1 / t), "you used α = 1/τ; the step size belongs in it too: "
                                                           "α = 1/(τε)"),
        (_gaps(X, y, lr, taus, relative=False), "these are absolute distances ‖w_τ − w_α‖; divide by ‖w_α‖"),
        (_gaps(X, y, lr, taus, denom="gd"), "you divided by ‖w_τ‖; divide by the ridge solution's norm ‖w_α‖"),
        (_gaps(X, y, lr, taus, offset=1), "your gradient descent took τ + 1 steps; take exactly τ"),
        (_gaps(X, y, lr, taus, offset=-1), "your gradient descent took τ − 1 steps; take exactly τ"),
        (_gaps(X, y, lr, taus, alpha=lambda t, lr: 2 / (t * lr)),
         "your ridge used 2α: ridge for ½‖y − Xw‖² + (α/2)‖w‖² is (XᵀX + αI)⁻¹Xᵀy"),
        (_gaps(X, y, lr, taus, alpha=lambda t, lr: 0.5 / (t * lr)),
         "your ridge used α/2: ridge for ½‖y − Xw‖² + (α/2)‖w‖² is (XᵀX + αI)⁻¹Xᵀy"),
    ])
    passed(name, f"the relative gap shrinks from {expected[0]:.2f} (τ = {taus[0]}) to {expected[-1]:.3f} "
                 f"(τ = {taus[-1]})")


# --------------------------------------------------------------------------- task 4: conceptual


register_answers({
    "05.alpha": {
        "choices": "the allowed answers: any single number",
        "correct": hash_answer("05.alpha", 0.2),
        "hints": {
            hash_answer("05.alpha", 5.0): "5 is τε; the equivalent penalty is its inverse, α ≈ 1/(τε)",
            hash_answer("05.alpha", 0.002): "that is 1/τ; the step size belongs in it too: α ≈ 1/(τε)",
            hash_answer("05.alpha", 100.0): "that is 1/ε; the number of steps belongs in it too: α ≈ 1/(τε)",
            hash_answer("05.alpha", 500.0): "that is τ; α ≈ 1/(τε)",
        },
        "explain": "α ≈ 1/(τε) = 1/(500 · 0.01) = 0.2",
    },
    "05.monitor": {
        "choices": "'train', 'validation' or 'test'",
        "correct": hash_answer("05.monitor", "validation"),
        "hints": {
            hash_answer("05.monitor", "train"): "the training loss keeps falling while the model overfits; it cannot "
                                                "tell you when to stop",
            hash_answer("05.monitor", "test"): "the stopping epoch is a hyperparameter: choosing it on the test set makes "
                                               "the test score optimistic (chapter §6 measured about two points)",
        },
        "explain": "the stopping epoch is tuned on validation data; the test set is touched once at the end",
    },
    "05.patience": {
        "choices": "'increase', 'decrease' or 'unchanged'",
        "correct": hash_answer("05.patience", "increase"),
        "hints": {
            hash_answer("05.patience", "decrease"): "a smaller validation set makes the curve noisier, so short patience "
                                                    "stops at noise dips even more often",
            hash_answer("05.patience", "unchanged"): "the noise of the metric grows like 1/√n_val; patience is your "
                                                     "protection against it",
        },
        "explain": "a noisier validation metric needs more patience (or a smoothed curve)",
    },
})
