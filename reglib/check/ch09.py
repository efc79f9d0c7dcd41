"""Checkers for exercises/09_label_smoothing.ipynb.

Task 1 ``smooth_labels``, task 2 ``expected_calibration_error``, task 3 ``mixup_batch``, task 4
``temperature_experiment`` (a result dictionary), task 5 conceptual questions ``09.*``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import losses as ref_losses
from .. import metrics as ref_metrics
from ._core import call, diagnose, expect_scalar, expect_tensor, fail, hash_answer, passed, register_answers

__all__ = ["smooth_labels", "expected_calibration_error", "mixup_batch", "temperature_experiment"]


# --------------------------------------------------------------------------- task 1: smooth_labels


def _labels(n: int, k: int, seed: int) -> torch.Tensor:
    return torch.randint(0, k, (n,), generator=torch.Generator().manual_seed(seed))


def smooth_labels(candidate) -> None:
    """``candidate(y, num_classes, eps) -> (N, K)`` float tensor :math:`(1 - \\varepsilon) e_y + \\varepsilon / K`."""
    name = "smooth_labels"
    for n, k, eps, seed in [(12, 10, 0.1, 0), (7, 4, 0.3, 1), (5, 3, 0.0, 2), (6, 5, 1.0, 3), (9, 6, 0.2, 4)]:
        y = _labels(n, k, seed)
        if seed == 4:
            y = y % (k - 2)  # a batch without the two top classes: K must come from num_classes, not from y
        else:
            y[0] = k - 1
        out = call(candidate, y, k, eps, name=name)
        if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[1] == int(y.max()) + 1 < k:
            fail(f"`{name}` returned {out.shape[1]} columns for num_classes={k}: you took the number of classes "
                 "from the labels (F.one_hot(y) or y.max() + 1); a batch need not contain the top class, so use "
                 "num_classes")
        out = expect_tensor(out, name, shape=(n, k))
        if not torch.is_floating_point(out):
            fail(f"`{name}` returned an integer tensor ({out.dtype}); targets are probabilities: convert the "
                 "one-hot matrix to float before smoothing")
        onehot = F.one_hot(y, k).double()
        expected = ref_losses.smooth_labels(y, k, eps, dtype=torch.float64)
        mistakes = [
            ((1 - eps) * onehot + eps / (k - 1) * (1 - onehot),
             "you spread ε over the K − 1 wrong classes (true class 1 − ε, others ε/(K − 1)); eq. (1) mixes with "
             "the uniform distribution over all K classes, so every class, the true one included, gets ε/K"),
            (onehot + eps / k,
             "you forgot to remove ε from the true class: one_hot + ε/K sums to 1 + ε per row; multiply the "
             "one-hot part by (1 − ε)"),
            ((1 - eps) * onehot + eps / k * (1 - onehot),
             "the true class gets 1 − ε instead of 1 − ε + ε/K: the uniform part ε/K goes to every class, "
             "the true one included (rows must sum to 1)"),
            (eps * onehot + (1 - eps) / k,
             "ε and 1 − ε are swapped: the one-hot part keeps weight 1 − ε, the uniform part gets ε"),
            (onehot, "the result is the plain one-hot target: ε was not applied"),
            ((1 - eps) * onehot + eps,
             "the uniform part must be ε/K per class, not ε (divide by the number of classes)"),
            ((1 - eps + eps / k) * onehot,
             "the wrong classes get 0: the uniform part ε/K goes to every class, not only the true one"),
            ((1 - eps) * onehot + eps / (int(y.max()) + 1),
             "you divided ε by the number of classes seen in the labels (y.max() + 1); a batch need not contain "
             "the top class: divide by num_classes"),
        ]
        mistakes = [m for m in mistakes if not torch.allclose(m[0], expected)]
        diagnose(out, expected, name, mistakes=mistakes, context=f"for K={k}, ε={eps}")
    passed(name, "(1 − ε)·one_hot + ε/K, rows summing to 1")


# --------------------------------------------------------------------------- task 2: ECE


def _calibration_case(n: int, k: int, seed: int, sharpen: float):
    """Probabilities of an over- or under-confident model and labels drawn from a calibrated one."""
    g = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(n, k, generator=g, dtype=torch.float64)
    y = torch.multinomial(torch.softmax(logits, 1), 1, generator=g).squeeze(1)
    return torch.softmax(sharpen * logits, 1), y


def _bins(conf: torch.Tensor, n_bins: int) -> torch.Tensor:
    return torch.clamp(torch.ceil(conf * n_bins).long() - 1, 0, n_bins - 1)


def _ece_variant(probs, y, n_bins, *, weighted=True, empty_as_zero=False, signed=False, overall_acc=False,
                 acc_over_n=False, true_class_conf=False):
    conf, pred = probs.max(1)
    correct = (pred == y).double()
    if true_class_conf:
        conf = probs.gather(1, y.view(-1, 1)).squeeze(1)
    idx = _bins(conf, n_bins)
    n = len(y)
    terms, weights = [], []
    for b in range(n_bins):
        mask = idx == b
        m = int(mask.sum())
        if m == 0:
            if empty_as_zero:
                terms.append(0.0)
                weights.append(0.0)
            continue
        acc = correct.mean().item() if overall_acc else correct[mask].sum().item() / (n if acc_over_n else m)
        diff = acc - conf[mask].mean().item()
        terms.append(diff if signed else abs(diff))
        weights.append(m / n)
    terms, weights = np.array(terms), np.array(weights)
    return float((weights * terms).sum()) if weighted else float(terms.mean())


def _edge_case():
    """Rows whose confidences (0.375, 0.5, 0.625, 0.75, 0.875, 1) lie exactly on the edges of 4 and 8 bins."""
    rows = [([1.0, 0.0, 0.0, 0.0], 1), ([0.0, 0.75, 0.25, 0.0], 0), ([0.5, 0.25, 0.125, 0.125], 0),
            ([0.125, 0.25, 0.625, 0.0], 2), ([0.125, 0.0, 0.0, 0.875], 2), ([0.3125, 0.3125, 0.0, 0.375], 0),
            ([0.0, 0.0, 1.0, 0.0], 0), ([0.25, 0.5, 0.25, 0.0], 1)]
    # with 4 bins the right rule and the mistaken rules of _ece_edges give five different values
    return (torch.tensor([r for r, _ in rows], dtype=torch.float64), torch.tensor([t for _, t in rows]))


def _ece_edges(probs, y, n_bins, rule):
    """ECE with a mistaken rule for confidences on the bin edges."""
    conf, pred = probs.max(1)
    correct = (pred == y).double()
    scaled = conf * n_bins
    if rule == "left":
        idx = scaled.floor().long().clamp(0, n_bins - 1)
    elif rule == "left_drop_one":
        idx = scaled.floor().long()
    elif rule == "drop_one":
        idx = torch.where(conf >= 1, n_bins, _bins(conf, n_bins))
    else:  # open intervals: an edge value belongs to no bin
        idx = torch.where(scaled == scaled.round(), n_bins, scaled.floor().long())
    total = 0.0
    for b in range(n_bins):
        mask = idx == b
        if mask.any():
            total += mask.double().mean().item() * abs(correct[mask].mean().item() - conf[mask].mean().item())
    return total


def expected_calibration_error(candidate) -> None:
    """``candidate(probs, y, n_bins=15) -> float``, equation (4) of chapter 09."""
    name = "expected_calibration_error"
    cases = [(2000, 10, 0, 2.0, 15), (1500, 5, 1, 0.5, 10), (800, 3, 2, 3.0, 5)]
    for n, k, seed, sharpen, n_bins in cases:
        probs, y = _calibration_case(n, k, seed, sharpen)
        out = expect_scalar(call(candidate, probs, y, n_bins, name=name), name)
        expected = ref_metrics.expected_calibration_error(probs, y, n_bins)
        variants = [
            (dict(weighted=False), "you averaged |acc − conf| over the bins without weighting them: weight each bin "
                                   "by its share of the samples, |B_b|/N (a bin with 3 samples must count less "
                                   "than one with 300)"),
            (dict(weighted=False, empty_as_zero=True), "you averaged |acc − conf| over all bins, empty ones "
                                                       "included, without weighting: weight each bin by |B_b|/N"),
            (dict(signed=True), "you summed signed differences acc − conf: take the absolute value per bin, or "
                                "over- and under-confident bins cancel"),
            (dict(overall_acc=True), "you compared each bin's confidence with the *overall* accuracy: use the "
                                     "accuracy of the predictions inside the bin"),
            (dict(acc_over_n=True), "your per-bin accuracy divides the number of correct predictions in the bin "
                                    "by N: divide by the number of samples in the bin, |B_b|"),
            (dict(true_class_conf=True), "your confidence is the probability of the *true* class: the confidence "
                                         "of a prediction is its largest probability, max_k p_ik"),
        ]
        mistakes = [(torch.tensor(_ece_variant(probs, y, n_bins, **kw)), hint) for kw, hint in variants]
        conf, pred = probs.max(1)
        mistakes.append((torch.tensor((conf - (pred == y).double()).abs().mean().item()),
                         "you averaged |1[correct] − confidence| over single samples: group the samples into "
                         "n_bins equal-width confidence bins first and compare averages per bin"))
        mistakes.append((torch.tensor(ref_metrics.expected_calibration_error(probs, y, 15)),
                         f"the result does not depend on n_bins (called with n_bins={n_bins}); use it"))
        if n_bins == 15:
            mistakes.pop()
        diagnose(torch.tensor(out), torch.tensor(expected), name, atol=1e-6, rtol=1e-5, mistakes=mistakes,
                 context=f"for n_bins={n_bins}")
    # confidences exactly on bin edges (dyadic, so every way of computing the edges agrees) and exactly 1:
    # the bins are (lo, hi], the last one includes 1
    probs, y = _edge_case()
    for n_bins in (4, 8):
        try:
            out = expect_scalar(call(candidate, probs, y, n_bins, name=name), name)
        except AssertionError as err:
            if "IndexError" in str(err) or "out of bounds" in str(err):
                fail(f"`{name}`: a confidence of exactly 1.0 falls outside the last bin (index n_bins); the bins are "
                     "(0, 1/M], ..., ((M−1)/M, 1]: clip the bin index to n_bins − 1")
            raise
        diagnose(torch.tensor(out), torch.tensor(ref_metrics.expected_calibration_error(probs, y, n_bins)), name,
                 atol=1e-6, rtol=1e-5, context=f"for confidences exactly on the bin edges (n_bins={n_bins})",
                 mistakes=[
                     (torch.tensor(_ece_edges(probs, y, n_bins, "left")),
                      "a confidence exactly on an edge b/M went into the bin above it: the bins are (lo, hi], "
                      "closed on the right, so conf = b/M belongs to bin b (use ceil(conf·M) − 1, or "
                      "lo < conf <= hi), and a confidence of exactly 1 to the last bin"),
                     (torch.tensor(_ece_edges(probs, y, n_bins, "left_drop_one")),
                      "a confidence exactly on an edge b/M went into the bin above it, and a confidence of exactly "
                      "1 into no bin at all: the bins are (lo, hi], closed on the right (use ceil(conf·M) − 1, or "
                      "lo < conf <= hi)"),
                     (torch.tensor(_ece_edges(probs, y, n_bins, "open")),
                      "confidences exactly on a bin edge were left out of every bin (lo < conf < hi): the bins are "
                      "(lo, hi], closed on the right"),
                     (torch.tensor(_ece_edges(probs, y, n_bins, "drop_one")),
                      "a confidence of exactly 1 was left out: it belongs to the last bin, ((M−1)/M, 1]"),
                 ])
    passed(name, "bin-weighted |accuracy − confidence| over equal-width bins")


# --------------------------------------------------------------------------- task 3: mixup_batch


def mixup_batch(candidate) -> None:
    """``candidate(x, y, lam, perm, num_classes) -> (x_mix, y_mix)``, equation (5) of chapter 09."""
    name = "mixup_batch"
    g = torch.Generator().manual_seed(0)
    for n, k, lam, shape in [(8, 5, 0.3, (40,)), (6, 3, 0.8, (2, 7)), (7, 6, 0.65, (5,))]:
        x = torch.randn(n, *shape, generator=g)
        y = torch.randint(0, k, (n,), generator=g)
        y[0], y[1] = 0, k - 1  # at least two classes
        if k == 6:
            y = y % 4  # a batch without the two top classes: K must come from num_classes
        perm = torch.roll(torch.arange(n), 1)  # i -> i - 1, not its own inverse
        perm = perm[torch.randperm(n, generator=g)]
        while torch.equal(perm[perm], torch.arange(n)):  # avoid permutations that are their own inverse
            perm = perm[torch.randperm(n, generator=g)]
        out = call(candidate, x, y, lam, perm, k, name=name)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail(f"`{name}` should return two tensors (x_mix, y_mix), got {type(out).__name__}")
        x_mix, y_mix = out
        x_mix = expect_tensor(x_mix, name + " (x_mix)", shape=x.shape)
        if isinstance(y_mix, torch.Tensor) and tuple(y_mix.shape) == (n,):
            fail(f"`{name}`: y_mix has shape ({n},): you mixed the class *indices*; turn the labels into one-hot "
                 f"rows first, so that y_mix holds soft labels of shape (N, num_classes) = ({n}, {k})")
        if isinstance(y_mix, torch.Tensor) and y_mix.dim() == 2 and y_mix.shape[1] == int(y.max()) + 1 < k:
            fail(f"`{name}`: y_mix has {y_mix.shape[1]} columns for num_classes={k}: you took the number of "
                 "classes from the labels (F.one_hot(y) or y.max() + 1); a batch need not contain the top class, "
                 "so pass num_classes to F.one_hot")
        y_mix = expect_tensor(y_mix, name + " (y_mix)", shape=(n, k))
        inv = torch.argsort(perm)
        onehot = F.one_hot(y, k).double()
        x_ref = lam * x + (1 - lam) * x[perm]
        y_ref = lam * onehot + (1 - lam) * onehot[perm]
        diagnose(x_mix, x_ref, name + " (x_mix)", mistakes=[
            ((1 - lam) * x + lam * x[perm],
             "λ multiplies the partner: eq. (5) gives λ to the sample itself, x̃_i = λ x_i + (1 − λ) x_π(i)"),
            (lam * x + (1 - lam) * x[inv],
             "the partner of sample i is x[perm[i]]; you used the inverse permutation (x[perm] is the partner row)"),
            (lam * x + (1 - lam) * x.flip(0), "the partner must be x[perm], not the reversed batch"),
        ], context=f"for λ={lam}")
        diagnose(y_mix, y_ref, name + " (y_mix)", mistakes=[
            (onehot, "the labels were not mixed: y_mix must be λ·one_hot(y) + (1 − λ)·one_hot(y[perm]), with the "
                     "same λ and partner as the inputs"),
            ((1 - lam) * onehot + lam * onehot[perm],
             "the labels use λ for the partner while the inputs use λ for the sample (or vice versa): the same "
             "weights must mix the inputs and their labels"),
            (lam * onehot + (1 - lam) * onehot[inv], "the partner of sample i is y[perm[i]]; you used the inverse "
                                                     "permutation"),
        ], context=f"for λ={lam}")
    passed(name, "x̃ = λx + (1 − λ)x[perm], ỹ = λ e_y + (1 − λ) e_y[perm]")


# --------------------------------------------------------------------------- task 4: temperature experiment


_KEYS = ("temperature", "ece_before", "ece_after", "acc_before", "acc_after")
_REFERENCE: dict = {}


def _reference_temperatures(seed: int = 0) -> dict:
    """``{"val": T, "test": T}``: the temperatures fitted to the validation and to the test logits of the network
    that task 4 trains for ``seed`` (chapter 00's MLP, 20 epochs). Training is seeded, so on the same machine
    and settings it is the student's network exactly; computed once per process and settings (one training,
    a few seconds), with the random generators' states restored afterwards."""
    import random

    from ..data import load_mnist1d
    from ..losses import fit_temperature
    from ..models import MLP
    from ..train import fit, predict
    from ..utils import get_device, set_seed

    key = (seed, torch.get_num_threads(), str(get_device()))
    if key not in _REFERENCE:
        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng():
            data = load_mnist1d()
            set_seed(seed)
            model = MLP(40, 10, hidden=(100, 100))
            fit(model, data.train, epochs=20, lr=1e-2, eval_every=20, eval_train=False, seed=seed, progress=False)
            _REFERENCE[key] = {split: fit_temperature(predict(model, getattr(data, f"x_{split}")),
                                                      getattr(data, f"y_{split}")) for split in ("val", "test")}
        random.setstate(py_state)
        np.random.set_state(np_state)
    return _REFERENCE[key]


def temperature_experiment(results) -> None:
    """The result dictionary of task 4: per seed (3 values each) the fitted temperature, the test ECE and
    the test accuracy before and after temperature scaling."""
    name = "temperature_experiment"
    if not isinstance(results, dict):
        fail(f"`results` should be a dict with keys {', '.join(_KEYS)}, got {type(results).__name__}")
    missing = [k for k in _KEYS if k not in results]
    if missing:
        fail(f"`results` lacks the keys {missing}; it needs {', '.join(_KEYS)}")
    if all(hasattr(results[k], "__len__") and len(results[k]) == 0 for k in _KEYS):
        fail("`results` is still empty: run the experiment and append one number per seed to each list")
    vals = {}
    for key in _KEYS:
        try:
            v = np.asarray([float(t) for t in results[key]], dtype=float)
        except Exception:
            fail(f"results[{key!r}] should be a list of 3 numbers (one per seed), got {results[key]!r}")
        if v.shape != (3,) or not np.isfinite(v).all():
            fail(f"results[{key!r}] should hold 3 finite numbers (seeds 0, 1, 2), got {results[key]!r}")
        vals[key] = v
    t, eb, ea, ab, aa = (vals[k] for k in _KEYS)
    if (eb > 1).any() or (ea > 1).any():
        fail("an ECE above 1 is impossible for probabilities: did you pass logits to expected_calibration_error "
             "instead of softmax probabilities?")
    if (t < 1).any():
        fail(f"fitted temperatures {np.round(t, 2).tolist()} are below 1, i.e. they *sharpen* the predictions: "
             "you probably fitted T on the training set, where the network is almost always right. Fit it on the "
             "validation logits")
    if (np.abs(t - 1) < 1e-6).all():
        fail("all temperatures are 1: fit T with fit_temperature on the validation logits")
    if not np.allclose(aa, ab, atol=1e-12):
        fail("the accuracy changed after temperature scaling; dividing the logits by T > 0 never changes the "
             "argmax: compute both accuracies from the same test logits (divided by T or not)")
    if ((ab < 0.45) | (ab > 0.75)).any():
        fail(f"test accuracies {np.round(ab, 3).tolist()} are far from the ~61 % of the chapter's MLP; train "
             "MLP(40, 10, hidden=(100, 100)) for 20 epochs with lr=1e-2 and evaluate on the test split")
    if (eb < 0.1).any():
        fail(f"ECE before scaling {np.round(eb, 3).tolist()} is too small for the plain MLP (the chapter finds "
             "~0.24): evaluate the raw network's softmax probabilities on the test set")
    if ((t < 1.5) | (t > 8)).any():
        fail(f"fitted temperatures {np.round(t, 2).tolist()} are outside the plausible range (the chapter finds "
             "~3.5): fit on the validation logits of the trained network")
    if (ea >= eb / 2).any() or (ea > 0.1).any():
        fail(f"ECE after scaling {np.round(ea, 3).tolist()} should be well below the ECE before "
             f"{np.round(eb, 3).tolist()}: divide the *test* logits by the fitted T before the softmax")
    # the seeds are fixed: seed 0's temperature must be the one fitted on the validation logits of that network
    ref = _reference_temperatures(0)
    off_val, off_test = abs(t[0] / ref["val"] - 1), abs(t[0] / ref["test"] - 1)
    if off_val > 0.01:
        if off_test < off_val:
            fail(f"seed 0's temperature {t[0]:.3f} is the one fitted on the *test* logits ({ref['test']:.3f}); "
                 f"fitted on the validation logits it is {ref['val']:.3f}. A temperature chosen on the test set "
                 "makes the test ECE after scaling an optimistic estimate: fit T on the validation logits and "
                 "use the test set only to evaluate")
        fail(f"seed 0's temperature {t[0]:.3f} differs from {ref['val']:.3f}, the one fitted on the validation "
             "logits of the network step 1 describes (trained here, same seed): call set_seed(seed) before "
             "building MLP(40, 10, hidden=(100, 100)), train 20 epochs with lr=1e-2 and seed=seed, and fit T with "
             "losses.fit_temperature(predict(model, data.x_val), data.y_val)")
    passed(name, f"T = {np.round(t, 2).tolist()}, ECE {eb.mean():.3f} → {ea.mean():.3f} at unchanged accuracy")


# --------------------------------------------------------------------------- task 5: conceptual questions


register_answers({
    "09.gap": {
        "choices": "'a', 'b', 'c' or 'd'",
        "correct": hash_answer("09.gap", "b"),
        "hints": {
            hash_answer("09.gap", "a"): "log 16 is the gap for the ε/(K − 1) convention (true class 1 − ε = 0.8, "
                                        "others 0.05); PyTorch's target gives the true class 1 − ε + ε/K",
            hash_answer("09.gap", "c"): "an infinite gap is the optimum without smoothing; with ε > 0 the loss is "
                                        "minimised where softmax(z) = q, eq. (3b)",
            hash_answer("09.gap", "d"): "(1 − ε)/ε ignores the ε/K that the true class also receives; write q_y and "
                                        "q_k from eq. (1) and take log(q_y/q_k)",
        },
        "explain": "q_y = 0.84, q_k = 0.04, gap = log 21",
    },
    "09.temperature_accuracy": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("09.temperature_accuracy", "c"),
        "hints": {
            hash_answer("09.temperature_accuracy", "a"): "dividing every logit by the same T > 0 keeps their "
                                                         "order, so no prediction changes",
            hash_answer("09.temperature_accuracy", "b"): "dividing every logit by the same T > 0 keeps their "
                                                         "order, so no prediction changes",
        },
        "explain": "the argmax of z/T is the argmax of z",
    },
    "09.mixup_noise": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("09.mixup_noise", "b"),
        "hints": {
            hash_answer("09.mixup_noise", "a"): "it is the other way round: mixup predicts the wrong training labels "
                                                "*less* often than the plain network (§6's memorisation bars)",
            hash_answer("09.mixup_noise", "c"): "mixup fits *fewer* of the correct training labels than the plain "
                                                "network (§6's table); what it gains comes from elsewhere",
        },
        "explain": "mixup memorises far fewer of the corrupted labels",
    },
})
