"""Checkers for exercises/10_ensembles_transfer.ipynb.

Task 1 ``average_probabilities`` (eq. (1)), task 2 ``ambiguity_decomposition`` (eq. (2)), task 3
``drop_path_forward`` (eq. (6)), task 4 ``l2_sp_penalty`` (eq. (7)), task 5
``seed_ensemble_experiment`` (a result dictionary), task 6 conceptual questions ``10.*``.

Drop-path is random, so its checker compares *statistics* of the student's output with what
eq. (6) implies: every sample (row) is either all zeros or x/(1 − p), and a fraction p ± 5σ of
the samples is dropped. The wrong scales, rates and mask shapes of the usual mistakes sit far
outside those bands, so they are recognised and named.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import ensembles as ref
from ._core import (call, diagnose, expect_binomial_spread, expect_scalar, expect_tensor, fail, hash_answer, passed,
                    register_answers, tolerance)

__all__ = ["average_probabilities", "ambiguity_decomposition", "drop_path_forward", "l2_sp_penalty",
           "seed_ensemble_experiment"]


#: float64 tolerances that accept legitimate alternatives (PyTorch's own ops, a float32 intermediate step)
_ATOL, _RTOL = tolerance(torch.float64)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- task 1: average_probabilities


def _member_logits(m: int, n: int, k: int, seed: int, dtype=torch.float32) -> torch.Tensor:
    """Logits of m members that disagree (scale 3), so every wrong rule gives a visibly different answer."""
    return 3.0 * torch.randn(m, n, k, generator=_gen(seed), dtype=dtype)


def average_probabilities(candidate) -> None:
    """``candidate(logits) -> (N, K)``: the mean over members (dim 0) of the softmax of each member's
    logits of shape (M, N, K), eq. (1) of chapter 10."""
    name = "average_probabilities"
    for m, n, k, seed, dtype in [(5, 40, 10, 0, torch.float32), (3, 7, 4, 1, torch.float64),
                                 (1, 6, 3, 2, torch.float32)]:
        logits = _member_logits(m, n, k, seed, dtype)
        out = call(candidate, logits, name=name)
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (m, n, k) and m > 1:
            fail(f"`{name}` returned shape {tuple(out.shape)}: these are the members' probabilities, one row "
                 "block per member; average them over the member dimension (dim 0) to get the (N, K) ensemble")
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (m, k) and m > 1:
            fail(f"`{name}` returned shape {tuple(out.shape)}: you averaged over the inputs (dim 1); average over "
                 "the members, dim 0, so that every input keeps its own prediction")
        out = expect_tensor(out, name, shape=(n, k), dtype=dtype)
        l64 = logits.double()
        expected = torch.softmax(l64, -1).mean(0)
        vote = F.one_hot(l64.argmax(-1), k).double().mean(0)
        mistakes = [
            (torch.softmax(l64.mean(0), -1), "you averaged the logits and then took one softmax; eq. (1) averages "
                                             "the members' probabilities: mean over members of softmax(logits)"),
            (vote, "this is a vote (the fraction of members whose argmax is each class); average the members' "
                   "softmax probabilities instead, which keeps each member's confidence"),
            (torch.softmax(l64, 0).mean(0), "the softmax ran over the member dimension (dim 0); each member's "
                                            "probabilities are a softmax over the classes, the last dimension"),
            (torch.softmax(l64, 1).mean(0), "the softmax ran over the inputs (dim 1); take it over the classes, "
                                            "the last dimension"),
            (torch.log_softmax(l64, -1).mean(0).exp(), "you averaged log-probabilities (a geometric mean, whose rows "
                                                       "do not even sum to 1); average the probabilities"),
            (torch.softmax(l64, -1).sum(0), "you summed the members' probabilities; divide by M to average them "
                                            "(rows must sum to 1)"),
            (l64.mean(0), "you averaged the raw logits without any softmax; the ensemble predicts probabilities"),
        ]
        if m == 1:
            mistakes = [mk for mk in mistakes if not torch.allclose(mk[0], expected)]
        diagnose(out, expected, name, mistakes=mistakes, context=f"for M={m} members")
    # confident members: logits of a few hundred overflow exp() in float32 (and a thousand in float64)
    for dtype, scale in ((torch.float32, 100.0), (torch.float64, 1000.0)):
        logits = scale * _member_logits(4, 9, 5, 3, dtype) / 3.0
        out = call(candidate, logits, name=name)
        if isinstance(out, torch.Tensor) and out.is_floating_point() and not torch.isfinite(out).all():
            fail(f"`{name}` returned NaN or inf for large logits (up to {logits.abs().max().item():.0f}): "
                 "exp(z) overflows. Subtract each row's maximum before exponentiating, or use torch.softmax, "
                 "which does")
        out = expect_tensor(out, name, shape=(9, 5), dtype=dtype)
        diagnose(out, torch.softmax(logits.double(), -1).mean(0), name,
                 context=f"for large logits (up to {logits.abs().max().item():.0f}, {str(dtype)[6:]})")
    passed(name, "the mean of the members' softmax probabilities, rows summing to 1")


# --------------------------------------------------------------------------- task 2: ambiguity decomposition


def _member_probs(m: int, n: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(seed)
    probs = torch.softmax(2.0 * torch.randn(m, n, k, generator=g, dtype=torch.float64), -1)
    y = torch.randint(0, k, (n,), generator=g)
    return probs, y


def _three(result, name, n=None):
    if isinstance(result, dict):
        keys = ("ensemble_error", "member_error", "ambiguity")
        if all(k in result for k in keys):
            result = tuple(result[k] for k in keys)
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        fail(f"`{name}` should return three numbers (ensemble_error, member_error, ambiguity), got "
             f"{type(result).__name__}" + (" (did you forget `return`?)" if result is None else ""))
    for v, label in zip(result, ("ensemble_error", "member_error", "ambiguity")):
        if isinstance(v, (torch.Tensor, np.ndarray)) and v.size != 1 and n in tuple(v.shape):
            fail(f"`{name}` ({label}) returned one value per input (shape {tuple(v.shape)}); eq. (2) holds for "
                 "every input, and the task asks for its average over the N inputs: take the mean")
    return tuple(expect_scalar(v, f"{name} ({label})")
                 for v, label in zip(result, ("ensemble_error", "member_error", "ambiguity")))


def ambiguity_decomposition(candidate) -> None:
    """``candidate(member_probs, y) -> (ensemble_error, member_error, ambiguity)``, eq. (2) of chapter 10.

    ``member_probs`` (M, N, K), ``y`` (N,) class indices; each term is a mean over the N inputs of a
    squared distance summed over the K classes (the Brier score), the last two also averaged over members.
    """
    name = "ambiguity_decomposition"
    for m, n, k, seed in [(5, 60, 10, 0), (3, 9, 4, 1), (4, 12, 6, 2)]:
        probs, y = _member_probs(m, n, k, seed)
        if seed == 2:
            y = y % (k - 2)  # no input of the two top classes: K comes from member_probs, not from y
        try:
            out = _three(call(candidate, probs, y, name=name), name, n)
        except AssertionError as err:
            if seed == 2 and "RuntimeError" in str(err) and "size" in str(err):
                fail(f"`{name}` failed when no input belongs to the top classes: F.one_hot(y) makes y.max() + 1 "
                     "columns; pass the number of classes, member_probs.shape[-1]")
            raise
        ref_dec = ref.ambiguity_decomposition(probs, y)
        expected = (ref_dec["ensemble_error"], ref_dec["member_error"], ref_dec["ambiguity"])
        onehot = F.one_hot(y, k).double()
        mean = probs.mean(0)
        amb_el = (probs - mean).square()
        wrong_all = {
            "per-class": tuple(v / k for v in expected),
        }
        if all(abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(out, wrong_all["per-class"])):
            fail(f"`{name}`: every term is K = {k} times too small: you averaged the squared errors over the "
                 "classes. Each term is a squared distance between probability vectors: sum over the K classes, "
                 "then average over the inputs (and members)")
        labels = ("ensemble_error", "member_error", "ambiguity")
        specific = {
            "ensemble_error": [
                (torch.tensor(expected[1]), "the ensemble error equals the average member error: you averaged the "
                                            "members' errors instead of the members' predictions. Average the "
                                            "probabilities first (the ensemble), then take its squared error"),
                (torch.tensor((mean - onehot).square().sum(-1).sqrt().mean().item()),
                 "you used the distance ‖π̄ − y‖, not its square; eq. (2) is about squared errors"),
            ],
            "member_error": [
                (torch.tensor((probs - onehot).square().sum(-1).sqrt().mean().item()),
                 "you used the distances ‖π_m − y‖, not their squares; eq. (2) is about squared errors"),
                (torch.tensor(expected[0]), "the member error equals the ensemble's error: average the squared "
                                            "error of each member, not of their mean"),
            ],
            "ambiguity": [
                (torch.tensor(amb_el.sum(-1).mean().item() * m / (m - 1)),
                 "you divided by M − 1 (Bessel's correction); the ambiguity of eq. (2) is the plain mean over "
                 "the M members, 1/M Σ_m ‖π_m − π̄‖², otherwise the identity does not hold"),
                (torch.tensor(expected[1]), "the ambiguity equals the member error: measure each member's spread "
                                            "around the ensemble mean π̄, not around the target y"),
                (torch.tensor(-expected[2]), "the ambiguity has the wrong sign: it is a mean of squared distances "
                                             "and never negative; eq. (2) subtracts it"),
                (torch.tensor((probs - mean).square().sum(-1).sqrt().mean().item()),
                 "you used the distances ‖π_m − π̄‖, not their squares"),
                (torch.tensor((probs.var(0, correction=0)).mean().item()),
                 "you averaged the variance over the classes as well; sum over the K classes"),
            ],
        }
        for label, value, exp in zip(labels, out, expected):
            diagnose(torch.tensor(value), torch.tensor(exp), f"{name} ({label})", mistakes=specific[label],
                     atol=_ATOL, rtol=_RTOL, context=f"for M={m}, K={k}")
    passed(name, "ensemble error = mean member error − ambiguity, for every input")


# --------------------------------------------------------------------------- task 3: drop_path_forward


def _branch(shape, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    """A branch output without zeros (|x| in [0.5, 1.5), random signs), so out / x recovers the mask."""
    g = _gen(seed)
    magnitude = torch.rand(shape, generator=g, dtype=dtype) + 0.5
    sign = torch.randint(0, 2, shape, generator=g).to(dtype) * 2 - 1
    return magnitude * sign


def _near(a: float, b: float, rel: float = 1e-3) -> bool:
    return abs(a - b) <= rel * max(abs(b), 1.0)


def _check_drop_path_output(out, x, p, name):
    n = x.shape[0]
    ratio = (out.detach().double() / x.double()).reshape(n, -1)
    zero = ratio.abs() < 1e-9
    row_all, row_none = zero.all(1), (~zero).all(1)
    if not (row_all | row_none).all():
        mixed = (~(row_all | row_none)).double().mean().item()
        if x.dim() == 3:
            per_channel = zero.view(x.shape)
            uniform_last = (per_channel.all(-1) | (~per_channel).all(-1)).all()
            if uniform_last:
                fail(f"`{name}`: the mask is per (sample, channel): drop-path drops the whole branch output of a "
                     "sample, every channel and position together. Give the mask the shape (N, 1, 1, ...), "
                     "i.e. (x.shape[0],) + (1,) * (x.dim() - 1)")
        fail(f"`{name}` (p={p}): in {mixed:.0%} of the samples only some entries are zero — per-element mask. "
             "Drop-path is all-or-nothing per sample: draw ONE Bernoulli value per sample (a mask of shape "
             "(N, 1, ..., 1)) and broadcast it over the sample's entries")
    frac = row_all.double().mean().item()
    keep = 1.0 - p
    tol = 5 * math.sqrt(max(p * keep, 1e-4) / n) + 1e-3
    if abs(frac - keep) < tol and abs(frac - p) >= tol:
        fail(f"`{name}` (p={p}): you dropped a fraction {frac:.3f} ≈ 1 − p of the samples. Keep/drop confusion: "
             "p is the probability of DROPPING a sample's branch")
    if frac < min(p, 0.05) / 2:
        fail(f"`{name}` (p={p}): no sample was dropped; drop-path zeroes each sample's branch with probability p")
    survivors = ratio[row_none]
    if survivors.numel() == 0:
        fail(f"`{name}` (p={p}): every sample was dropped; only a fraction p should be")
    if abs(frac - p) >= tol:
        fail(f"`{name}` (p={p}): {frac:.3f} of the samples are dropped; expected a fraction p = {p} (± {tol:.3f})")
    scale = survivors.median().item()
    if (survivors - scale).abs().max().item() > 1e-4 * abs(scale):
        fail(f"`{name}` (p={p}): the kept samples are not all x times the same factor; each survivor must be "
             "x / (1 − p)")
    if _near(scale, 1.0):
        fail(f"`{name}` (p={p}): the kept samples equal x — forgot the 1/(1 − p) rescale. Without it "
             "E[out] = (1 − p)·x, and the eval-mode network (which uses every block fully) sees larger "
             "branch outputs than training did")
    if _near(scale, keep):
        fail(f"`{name}` (p={p}): the kept samples are x·(1 − p); divide by 1 − p instead of multiplying")
    if _near(scale, 1.0 / p):
        fail(f"`{name}` (p={p}): the kept samples are x/p; divide by the keep probability 1 − p")
    if not _near(scale, 1.0 / keep):
        fail(f"`{name}` (p={p}): the kept samples are x·{scale:.4g}; they should be x/(1 − p) = x·{1 / keep:.4g}")


def drop_path_forward(candidate) -> None:
    """``candidate(x, p, training=True) -> out``: drop-path (stochastic depth), eq. (6) of chapter 10.

    For each sample (dim 0) independently: all zeros with probability p, else ``x[n] / (1 − p)``;
    ``x`` unchanged when ``training`` is False.
    """
    name = "drop_path_forward"
    # One draw per sample, not one for the whole batch. A per-sample mask gives "some" on the first call
    # (all-or-none of 400 samples has probability 2^-399); a whole-batch mask never does, and within 40
    # calls it shows "all" at least once except with probability 2^-40. A candidate that never drops
    # anything is left to the "no sample was dropped" check below.
    x = _branch((400, 6), seed=3)
    statuses = set()
    for _ in range(40):
        out = expect_tensor(call(candidate, x, 0.5, name=name), name, shape=x.shape, dtype=x.dtype)
        zero_rows = (out.detach() == 0).all(1)
        statuses.add("all" if zero_rows.all() else "none" if not zero_rows.any() else "some")
        if "some" in statuses or "all" in statuses:
            break
    if "some" not in statuses and "all" in statuses:
        fail(f"`{name}`: in every call either the whole batch was dropped or none of it — you drew ONE Bernoulli "
             "value for the whole batch. Drop-path draws one per sample (a mask of shape (N, 1, ..., 1))")
    for shape, p in (((3000, 4, 5), 0.6), ((4000, 6), 0.3)):
        x = _branch(shape)
        try:
            out = call(candidate, x, p, name=name)
        except AssertionError as err:
            if x.dim() == 3 and "RuntimeError" in str(err) and "size" in str(err):
                fail(f"`{name}` fails on a 3-D input {tuple(x.shape)}: a mask of shape (N, 1) does not broadcast "
                     "against (N, C, L). Give the mask one dimension of size 1 per trailing dimension: "
                     "(x.shape[0],) + (1,) * (x.dim() - 1)")
            raise
        out = expect_tensor(out, name, shape=x.shape, dtype=x.dtype)
        _check_drop_path_output(out, x, p, name)
    x = _branch((500, 8), seed=1)
    first = call(candidate, x, 0.5, name=name)
    second = call(candidate, x, 0.5, name=name)
    if isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor) and torch.equal(first, second):
        fail(f"`{name}`: two calls gave the same mask; draw a fresh mask on every call (do not seed inside the "
             "function)")
    # independent draws: the number of dropped samples varies from call to call like Binomial(N, p). A fixed
    # count (exactly round(p·N) dropped, e.g. with randperm) has no spread at all; the χ² test on 30 calls
    # has a false-alarm rate of FALSE_ALARM (1e-5) for a correct function
    x = _branch((40, 3), seed=4)
    counts = []
    for _ in range(30):
        out = expect_tensor(call(candidate, x, 0.5, name=name), name, shape=x.shape, dtype=x.dtype)
        counts.append(int((out.detach() == 0).all(1).sum()))
    expect_binomial_spread(
        counts, 40, 0.5,
        f"`{name}`: the number of dropped samples hardly varies from call to call ({sorted(set(counts))} of 40 "
        "with p = 0.5): you dropped a fixed count. Each sample is dropped independently with probability p "
        "(compare torch.rand(N, 1, ...) with p), so the count itself is random, Binomial(N, p)",
        f"`{name}`: the number of dropped samples varies far more than Binomial(40, 0.5) allows ({counts}): the "
        "samples of one call are not dropped independently; draw one Bernoulli value per sample")
    x64 = _branch((50, 3), seed=2, dtype=torch.float64)
    expect_tensor(call(candidate, x64, 0.5, name=name), name, shape=x64.shape, dtype=torch.float64)
    out = expect_tensor(call(candidate, x, 0.3, training=False, name=name), name + " (training=False)",
                        shape=x.shape)
    if not torch.allclose(out, x):
        if torch.allclose(out, x * 0.7):
            fail(f"`{name}`: with training=False you multiplied by 1 − p. The 1/(1 − p) during training already "
                 "keeps the expectation right, so the eval-mode branch is used as it is: return x")
        fail(f"`{name}`: drop-path left on in eval — with training=False the output must be x itself")
    out0 = expect_tensor(call(candidate, x, 0.0, name=name), name + " (p=0)", shape=x.shape)
    if not torch.allclose(out0, x):
        fail(f"`{name}`: with p = 0 nothing is dropped, so the output must equal x")
    try:
        out1 = call(candidate, x, 1.0, name=name)
    except AssertionError as err:
        if "ZeroDivisionError" in str(err):
            fail(f"`{name}`: p = 1 raised ZeroDivisionError — a division by 1 − p = 0. When p = 1 every branch is "
                 "dropped: return zeros")
        raise
    if isinstance(out1, torch.Tensor) and not torch.isfinite(out1).all():
        fail(f"`{name}`: p = 1 gives NaN or inf — a division by 1 − p = 0. When p = 1 every branch is dropped: "
             "return zeros")
    out1 = expect_tensor(out1, name + " (p=1)", shape=x.shape)
    if (out1 != 0).any():
        fail(f"`{name}`: with p = 1 every sample's branch is dropped, so the output must be all zeros")
    passed(name, "whole samples dropped with probability p, survivors scaled by 1/(1 − p), identity in eval")


# --------------------------------------------------------------------------- task 4: l2_sp_penalty


def _transfer_case(dtype=torch.float64):
    """A fine-tuning model (body + a new 3-class head) and the pre-trained body's weights (w⁰ ≠ w)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)
        model = nn.Sequential(OrderedDict(body1=nn.Linear(6, 8), bn=nn.BatchNorm1d(8), act=nn.ReLU(),
                                          body2=nn.Linear(8, 8), act2=nn.ReLU(), head=nn.Linear(8, 3))).to(dtype)
        model.bn.running_mean.normal_()  # buffers that differ from the reference's entries for them
        model.bn.running_var.uniform_(0.5, 2.0)
        reference = {name: (w.detach() + 0.3 * torch.randn(w.shape, dtype=dtype)).clone()
                     for name, w in model.named_parameters() if not name.startswith("head")}
    return model, reference


def l2_sp_penalty(candidate) -> None:
    """``candidate(model, reference, lam) -> 0-dim tensor``: ``lam / 2 · Σ (w − w⁰)²`` over the parameters of
    ``model`` that have an entry in ``reference`` (eq. (7) of chapter 10); the others (a new head) are skipped."""
    name = "l2_sp_penalty"
    model, reference = _transfer_case()
    lam = 0.7
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = call(candidate, model, reference, lam, name=name)
    if any(not torch.equal(v, before[k]) for k, v in model.state_dict().items()):
        fail(f"`{name}` changed the model's weights; a penalty only reads them")
    if isinstance(out, (float, int, np.floating)) and not isinstance(out, bool):
        fail(f"`{name}` returned a Python number; return the torch tensor itself (no `.item()` or `float()`), so "
             "that autograd can differentiate the penalty")
    out = expect_tensor(out, name)
    if out.numel() != 1:
        fail(f"`{name}` returned a tensor of shape {tuple(out.shape)}; the penalty is one number: sum over every "
             "entry of every penalised tensor")
    params = dict(model.named_parameters())
    body = [k for k in params if k in reference]
    head = [k for k in params if k not in reference]
    diff2 = sum((params[k].detach() - reference[k]).square().sum() for k in body)
    w2_body = sum(params[k].detach().square().sum() for k in body)
    w2_head = sum(params[k].detach().square().sum() for k in head)
    expected = lam / 2 * diff2
    diagnose(out.reshape(()), expected, name, atol=_ATOL, rtol=_RTOL, mistakes=[
        (lam / 2 * w2_body, "penalising toward zero instead of the pre-trained weights: L2-SP is λ/2 · ‖w − w⁰‖², "
                            "centred at w⁰ = reference[name]; λ/2 · ‖w‖² is plain L2, which drags the "
                            "pre-trained weights toward a network that knows nothing"),
        (lam / 2 * (w2_body + w2_head), "penalising toward zero instead of the pre-trained weights (and the new "
                                        "head included): L2-SP is λ/2 · Σ (w − w⁰)² over the parameters in "
                                        "`reference`"),
        (lam / 2 * (diff2 + w2_head), "you included the new head in L2-SP (as w − 0: it has no pre-trained "
                                      "value). Penalise only the parameters that have an entry in `reference`; "
                                      "the head, if regularized at all, gets ordinary L2 separately"),
        (lam * diff2, "missing ½: the penalty is λ/2 · Σ (w − w⁰)², whose gradient is λ(w − w⁰)"),
        (lam / 2 * diff2.sqrt(), "you used the norm ‖w − w⁰‖ instead of its square"),
        (lam / 2 * sum((params[k].detach() - reference[k]).square().sum().sqrt() for k in body),
         "you summed the norms ‖w − w⁰‖ of the tensors; sum the squared differences of all entries"),
        (lam / 2 * sum((params[k].detach() - reference[k]).square().mean() for k in body),
         "you averaged the squared differences within each tensor; the penalty sums them"),
        (lam * sum((params[k].detach() - reference[k]).abs().sum() for k in body),
         "you summed |w − w⁰| (an L1 penalty); square the differences: λ/2 · Σ (w − w⁰)²"),
        (lam / 2 * sum((params[k].detach() - reference[k]).abs().sum() for k in body),
         "you summed |w − w⁰|; square the differences: λ/2 · Σ (w − w⁰)²"),
        (lam / 2 * sum((params[k].detach() - reference[k]).sum() ** 2 for k in body),
         "you squared the sum of each tensor's differences; sum the squares of the entries instead"),
        (lam / 2 * (params[body[0]].detach() - reference[body[0]]).square().sum(),
         "only the first tensor was counted; sum over every parameter that has a reference value"),
        (lam / 2 * (params[body[-1]].detach() - reference[body[-1]]).square().sum(),
         "only the last tensor was counted (is `total = ...` overwritten in the loop instead of added to?)"),
        (lam ** 2 / 2 * diff2, "λ appears squared; the penalty is linear in λ"),
        (lam / 2 * sum((params[k].detach().square() - reference[k].square()).sum() for k in body),
         "you subtracted the squares, w² − (w⁰)²; square the difference instead: (w − w⁰)²"),
    ])
    if not out.requires_grad:
        fail(f"`{name}`'s result is not connected to the weights (requires_grad is False): avoid `.detach()`, "
             "`.item()`, `.data` or NumPy on the model's parameters inside the penalty")
    grads = torch.autograd.grad(out.sum(), [params[k] for k in params], allow_unused=True)
    for k, g in zip(params, grads):
        target = lam * (params[k].detach() - reference[k]) if k in reference else torch.zeros_like(params[k])
        got = torch.zeros_like(params[k]) if g is None else g
        if not torch.allclose(got, target, rtol=1e-6, atol=1e-8):
            fail(f"`{name}`: the gradient for `{k}` is not λ(w − w⁰)" + (" (it should be 0: the head is not "
                                                                        "penalised)" if k not in reference else "")
                 + "; build the penalty from the parameters themselves with torch operations")
    # the reference is a dict: its entries are found by name, in whatever order they come
    by_name = (f"`{name}`: with the entries of `reference` in another order the result changed (or failed): look "
               "each parameter up by its name, reference[name] from model.named_parameters(), instead of pairing "
               "model.parameters() with reference.values() by position")
    shuffled = dict(reversed(list(reference.items())))
    try:
        out_r = call(candidate, model, shuffled, lam, name=name)
    except AssertionError as err:
        if "RuntimeError" in str(err) or "KeyError" in str(err):
            fail(by_name)
        raise
    out_r = expect_tensor(out_r, name + " (reference in another order)")
    if out_r.numel() != 1 or not torch.allclose(out_r.detach().reshape(()).double(), expected, rtol=_RTOL, atol=_ATOL):
        fail(by_name)
    # extra entries in the reference (the old head, buffers) are ignored; lam = 0 gives 0
    extended = dict(reference, **{"old_head.weight": torch.zeros(10, 8, dtype=torch.float64),
                                  "body1.running_mean": torch.zeros(8, dtype=torch.float64),
                                  "bn.running_mean": torch.zeros(8, dtype=torch.float64),
                                  "bn.running_var": torch.ones(8, dtype=torch.float64)})
    extra_hint = (f"`{name}`: with extra entries in `reference` that are not parameters of the model (an old head, "
                  "buffers) the result changed; loop over model.named_parameters() and look each name up in "
                  "`reference`, skipping names it does not have")
    try:
        out2 = call(candidate, model, extended, lam, name=name)
    except AssertionError as err:
        if "KeyError" in str(err) or "AttributeError" in str(err):
            fail(extra_hint)
        raise
    out2 = expect_tensor(out2, name + " (reference with extra entries)")
    if out2.numel() != 1 or not torch.allclose(out2.detach().reshape(()).double(), expected, rtol=1e-6, atol=1e-8):
        buffers = sum((b.double() - extended[k]).square().sum() for k, b in model.named_buffers() if k in extended
                      and b.is_floating_point())
        if out2.numel() == 1 and torch.allclose(out2.detach().reshape(()).double(), expected + lam / 2 * buffers,
                                                rtol=1e-6, atol=1e-8):
            fail(f"`{name}`: you penalised the model's buffers too (batch norm's running_mean and running_var, "
                 "from state_dict() or named_buffers()); L2-SP is over the parameters only: loop over "
                 "model.named_parameters()")
        fail(extra_hint)
    zero = expect_tensor(call(candidate, model, reference, 0.0, name=name), name + " (lam=0)")
    if zero.numel() != 1 or abs(float(zero.detach().reshape(()))) > 1e-12:
        fail(f"`{name}` with lam=0 should return 0")
    # the penalty is zero at the starting point: a reference taken from the model itself
    at_start = {k: v.detach().clone() for k, v in model.named_parameters() if k in reference}
    z = expect_tensor(call(candidate, model, at_start, lam, name=name), name + " (at w⁰)")
    if z.numel() != 1 or abs(float(z.detach().reshape(()))) > 1e-12:
        fail(f"`{name}` should be 0 when the weights equal the reference (w = w⁰)")
    passed(name, "λ/2 · Σ (w − w⁰)² over the pre-trained parameters, gradient λ(w − w⁰), new head untouched")


# --------------------------------------------------------------------------- task 5: seed-ensemble experiment


@functools.lru_cache(maxsize=1)
def _test_labels() -> torch.Tensor:
    from ..data import load_mnist1d

    return load_mnist1d().y_test.clone()


_KEYS = ("member_probs", "member_acc", "ensemble_acc")


def seed_ensemble_experiment(results) -> None:
    """The result dictionary of task 5: ``member_probs`` (3, 1000, 10), the test probabilities of the three
    seed members; ``member_acc``, their three test accuracies; ``ensemble_acc``, the test accuracy of their
    average (eq. (1))."""
    name = "seed_ensemble_experiment"
    if not isinstance(results, dict):
        fail(f"`results` should be a dict with keys {', '.join(_KEYS)}, got {type(results).__name__}")
    missing = [k for k in _KEYS if k not in results]
    if missing:
        fail(f"`results` lacks the keys {missing}; it needs {', '.join(_KEYS)}")
    probs = results["member_probs"]
    if probs is None or (hasattr(probs, "__len__") and len(probs) == 0):
        fail("`results` is still empty: run the experiment and fill in member_probs, member_acc and ensemble_acc")
    y = _test_labels()
    if isinstance(probs, (list, tuple)) and all(isinstance(p, torch.Tensor) for p in probs):
        probs = torch.stack([p.detach().cpu() for p in probs])
    probs = expect_tensor(probs if not isinstance(probs, np.ndarray) else torch.from_numpy(probs),
                          "results['member_probs']", shape=(3, len(y), 10)).detach().cpu().double()
    if (probs < -1e-6).any() or not torch.allclose(probs.sum(-1), torch.ones(3, len(y), dtype=torch.float64),
                                                   atol=1e-4):
        fail("results['member_probs'] are not probabilities (rows must be ≥ 0 and sum to 1): did you store the "
             "logits? Apply the softmax over the classes to each member's test logits")
    if torch.allclose(probs[0], probs[1]) or torch.allclose(probs[1], probs[2]):
        fail("two of your three members give the same predictions: give each its own seed (set_seed(seed) before "
             "building the MLP, and fit(..., seed=seed))")
    try:
        member_acc = np.asarray([float(a) for a in results["member_acc"]], dtype=float)
    except Exception:
        fail(f"results['member_acc'] should be a list of 3 numbers, got {results['member_acc']!r}")
    if member_acc.shape != (3,) or not np.isfinite(member_acc).all():
        fail(f"results['member_acc'] should hold 3 finite numbers, got {results['member_acc']!r}")
    ens_acc = expect_scalar(results["ensemble_acc"], "results['ensemble_acc']")
    true_acc = np.array([(p.argmax(-1) == y).double().mean().item() for p in probs])
    if (true_acc < 0.2).all():
        fail(f"the members' accuracies on the test labels are {np.round(true_acc, 3).tolist()}, near chance: "
             "member_probs must be the predictions on data.x_test, in its original order")
    if not np.allclose(member_acc, true_acc, atol=1e-6):
        fail(f"results['member_acc'] = {np.round(member_acc, 4).tolist()} does not match the accuracies of "
             f"member_probs on the test set ({np.round(true_acc, 4).tolist()}); compute both from the same "
             "test predictions")
    if ((true_acc < 0.5) | (true_acc > 0.72)).any():
        fail(f"member test accuracies {np.round(true_acc, 3).tolist()} are far from the ~60 % of the chapter's "
             "MLP: train MLP(40, 10, hidden=(100, 100)) for 15 epochs with lr=1e-2, then predict in eval mode")
    mean_probs = probs.mean(0)
    expected = (mean_probs.argmax(-1) == y).double().mean().item()
    logit_avg = (probs.clamp_min(1e-300).log().mean(0).argmax(-1) == y).double().mean().item()
    votes = F.one_hot(probs.argmax(-1), 10).sum(0).double()
    vote_acc = (votes.argmax(-1) == y).double().mean().item()
    if abs(ens_acc - expected) > 1e-6:
        if abs(ens_acc - member_acc.mean()) < 1e-6:
            fail("results['ensemble_acc'] is the mean of the member accuracies: the ensemble averages the "
                 "members' *predictions* (their probabilities), and its accuracy is that of the average")
        if abs(ens_acc - logit_avg) < 1e-6:
            fail("results['ensemble_acc'] is the accuracy of the averaged logits (or log-probabilities); eq. (1) "
                 "averages the probabilities: accuracy of member_probs.mean(0)")
        if abs(ens_acc - vote_acc) < 1e-6:
            fail("results['ensemble_acc'] is the accuracy of a majority vote; eq. (1) averages the probabilities: "
                 "accuracy of member_probs.mean(0)")
        fail(f"results['ensemble_acc'] = {ens_acc:.4f}, but the average of member_probs has test accuracy "
             f"{expected:.4f}: take the argmax of member_probs.mean(0)")
    if expected - true_acc.mean() < 0.02:
        fail(f"the ensemble gains only {expected - true_acc.mean():+.3f} over its average member; three seed members "
             "should gain about 4 points. Are the members trained on the full training set, each with its own seed?")
    passed(name, f"members {np.round(true_acc, 3).tolist()}, ensemble {expected:.3f} "
                 f"(+{expected - true_acc.mean():.3f} over the average member)")


# --------------------------------------------------------------------------- task 6: conceptual questions


register_answers({
    "10.seed_limit": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("10.seed_limit", "b"),
        "hints": {
            hash_answer("10.seed_limit", "a"): "all members saw the same training set, so the variance that comes from "
                                               "the data is shared (ρ > 0 in eq. (3)) and no number of seeds removes it",
            hash_answer("10.seed_limit", "c"): "the seed part of the variance falls like V/M (eq. (4)); with more "
                                               "members the ensemble's error keeps falling toward the infinite "
                                               "ensemble's",
        },
        "explain": "averaging over seeds removes only the seed part of the variance (eq. (4))",
    },
    "10.bootstrap_distinct": {
        "choices": "a whole number",
        "correct": hash_answer("10.bootstrap_distinct", 632),
        "hints": {
            hash_answer("10.bootstrap_distinct", 1000): "draws are *with* replacement: some samples come up several "
                                                        "times, so others are missed; eq. (5)",
            hash_answer("10.bootstrap_distinct", 368): "368 is the expected number *left out* (out of bag), "
                                                       "(1 − 1/n)^n · n; the question asks for the distinct samples in",
            hash_answer("10.bootstrap_distinct", 500): "use eq. (5): 1 − (1 − 1/n)^n ≈ 1 − 1/e",
            hash_answer("10.bootstrap_distinct", 0.632): "that is the fraction; the question asks for the number of "
                                                         "distinct samples out of 1000",
            hash_answer("10.bootstrap_distinct", 632.3): "right value; round it to a whole number",
        },
        "explain": "1000 · (1 − (1 − 1/1000)^1000) ≈ 632",
    },
    "10.l2sp_limit": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("10.l2sp_limit", "b"),
        "hints": {
            hash_answer("10.l2sp_limit", "a"): "that is the limit of L2 toward zero; L2-SP pulls toward w⁰",
            hash_answer("10.l2sp_limit", "c"): "plain fine-tuning is the limit λ → 0",
        },
        "explain": "an infinitely strong pull toward w⁰ freezes the penalised weights at their pre-trained values",
    },
})
