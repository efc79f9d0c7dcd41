"""The checkers of exercise 09 accept the reference and reject each named mistake with its own hint."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import torch.nn.functional as F

from reglib import check, losses, metrics
from reglib.check import ch09


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- smooth_labels


def _smooth(y, k, eps):
    """A student's correct version."""
    return (1 - eps) * F.one_hot(y, k).float() + eps / k


def test_smooth_labels_accepts_the_reference(capsys):
    check.smooth_labels(losses.smooth_labels)
    check.smooth_labels(_smooth)
    check.smooth_labels(lambda y, k, eps: _smooth(y, k, eps).double())
    assert "✔ smooth_labels" in capsys.readouterr().out


def _k_minus_one(y, k, eps):
    onehot = F.one_hot(y, k).float()
    return (1 - eps) * onehot + eps / (k - 1) * (1 - onehot)


def _mutates(y, k, eps):
    y.fill_(0)
    return _smooth(y, k, eps)


@pytest.mark.parametrize("candidate, match", [
    (_k_minus_one, "spread ε over the K − 1 wrong classes"),
    (lambda y, k, eps: F.one_hot(y, k).float() + eps / k, "forgot to remove ε from the true class"),
    (lambda y, k, eps: (1 - eps) * F.one_hot(y, k).float() + eps / k * (1 - F.one_hot(y, k).float()),
     "the true class gets 1 − ε instead of 1 − ε \\+ ε/K"),
    (lambda y, k, eps: eps * F.one_hot(y, k).float() + (1 - eps) / k, "swapped"),
    (lambda y, k, eps: F.one_hot(y, k).float(), "ε was not applied"),
    (lambda y, k, eps: (1 - eps) * F.one_hot(y, k).float() + eps, "must be ε/K per class"),
    (lambda y, k, eps: F.one_hot(y, k), "integer tensor"),
    (lambda y, k, eps: _smooth(y, k, eps)[:, :-1], "shape"),
    (lambda y, k, eps: _smooth(y, k, eps) * float("nan"), "NaN"),
    (lambda y, k, eps: _smooth(y, k, eps).numpy(), "torch tensor"),
    (lambda y, k, eps: None, "forget `return`"),
    (_mutates, "modified its input `y`"),
    (lambda y, k, eps: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda y, k, eps: _smooth(y, k, eps) * 1.01, "wrong values"),
])
def test_smooth_labels_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.smooth_labels(candidate)


# --------------------------------------------------------------------------- expected_calibration_error


def _student_ece(probs, y, n_bins=15, weighted=True, signed=False, overall=False, over_n=False, true_conf=False,
                 clip=True, per_sample=False, fixed_bins=None, empty_zero=False, left=False):
    """A loop a student would write; the flags switch on one mistake each."""
    probs = probs.double()
    conf, pred = probs.max(1)
    correct = (pred == y).double()
    if true_conf:
        conf = probs[torch.arange(len(y)), y]
    if per_sample:
        return (correct - conf).abs().mean().item()
    m = fixed_bins or n_bins
    if clip and not left:  # bins ((b-1)/M, b/M], as the task defines them
        idx = (torch.ceil(conf * m).long() - 1).clamp(0, m - 1)
    else:  # [b/M, (b+1)/M): an edge value goes to the bin above, and 1.0 past the last bin unless clipped
        idx = torch.floor(conf * m).long()
        if clip:
            idx = idx.clamp(max=m - 1)
    total, terms = 0.0, []
    counts = torch.zeros(m)
    counts.index_add_(0, idx, torch.ones(len(y)))  # IndexError for an unclipped confidence of 1
    for b in range(m):
        mask = idx == b
        if mask.sum() == 0:
            if empty_zero:
                terms.append(0.0)
            continue
        acc = correct.mean() if overall else correct[mask].sum() / (len(y) if over_n else mask.sum())
        diff = acc - conf[mask].mean()
        diff = diff if signed else diff.abs()
        total += (mask.sum() / len(y)) * diff
        terms.append(float(diff))
    return float(total) if weighted else float(np.mean(terms))


def test_ece_accepts_the_reference(capsys):
    check.expected_calibration_error(metrics.expected_calibration_error)
    check.expected_calibration_error(_student_ece)
    check.expected_calibration_error(lambda p, y, n_bins=15: torch.tensor(_student_ece(p, y, n_bins)))
    assert "✔ expected_calibration_error" in capsys.readouterr().out


def _mutating_ece(probs, y, n_bins=15):
    probs.mul_(1.0).add_(0.0)[0, 0] = 0.5
    return _student_ece(probs, y, n_bins)


@pytest.mark.parametrize("kwargs, match", [
    (dict(weighted=False), "without weighting them"),
    (dict(weighted=False, empty_zero=True), "empty ones included"),
    (dict(signed=True), "signed differences"),
    (dict(overall=True), "overall\\* accuracy"),
    (dict(over_n=True), "by N"),
    (dict(true_conf=True), "probability of the \\*true\\* class"),
    (dict(per_sample=True), "single samples"),
    (dict(fixed_bins=15), "does not depend on n_bins"),
    (dict(clip=False), "exactly 1.0 falls outside the last bin"),
])
def test_ece_names_each_mistake(kwargs, match):
    with pytest.raises(AssertionError, match=match):
        check.expected_calibration_error(lambda p, y, n_bins=15: _student_ece(p, y, n_bins, **kwargs))


@pytest.mark.parametrize("candidate, match", [
    (lambda p, y, n_bins=15: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda p, y, n_bins=15: float("nan"), "nan"),
    (lambda p, y, n_bins=15: torch.zeros(n_bins), "single number"),
    (lambda p, y, n_bins=15: None, "should return a number"),
    (_mutating_ece, "modified its input `probs`"),
    (lambda p, y, n_bins=15: 1.05 * _student_ece(p, y, n_bins), "wrong values"),
])
def test_ece_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.expected_calibration_error(candidate)


# --------------------------------------------------------------------------- mixup_batch


def _onehot(y, k):
    return F.one_hot(y, k).float()


def _mixup(x, y, lam, perm, k):
    return lam * x + (1 - lam) * x[perm], lam * _onehot(y, k) + (1 - lam) * _onehot(y[perm], k)


def _inverse(x, y, lam, perm, k):
    inv = torch.argsort(perm)
    return lam * x + (1 - lam) * x[inv], lam * _onehot(y, k) + (1 - lam) * _onehot(y[inv], k)


def _mutating_mixup(x, y, lam, perm, k):
    x.mul_(lam)
    return _mixup(x, y, lam, perm, k)


def test_mixup_batch_accepts_the_reference(capsys):
    check.mixup_batch(_mixup)
    # reglib's mixup, with lambda and the permutation fixed from outside, gives the same result
    check.mixup_batch(lambda x, y, lam, perm, k: (x * lam + x[perm] * (1 - lam),
                                                  losses.smooth_labels(y, k, 0.0) * lam
                                                  + losses.smooth_labels(y[perm], k, 0.0) * (1 - lam)))
    assert "✔ mixup_batch" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (lambda x, y, lam, perm, k: ((1 - lam) * x + lam * x[perm], _mixup(x, y, lam, perm, k)[1]),
     "λ multiplies the partner"),
    (_inverse, "inverse permutation"),
    (lambda x, y, lam, perm, k: (_mixup(x, y, lam, perm, k)[0], _onehot(y, k)), "labels were not mixed"),
    (lambda x, y, lam, perm, k: (_mixup(x, y, lam, perm, k)[0],
                                 (1 - lam) * _onehot(y, k) + lam * _onehot(y[perm], k)), "same weights"),
    (lambda x, y, lam, perm, k: (_mixup(x, y, lam, perm, k)[0], lam * y + (1 - lam) * y[perm]),
     "mixed the class \\*indices\\*"),
    (lambda x, y, lam, perm, k: (lam * x + (1 - lam) * x.flip(0), _mixup(x, y, lam, perm, k)[1]), "reversed batch"),
    (lambda x, y, lam, perm, k: _mixup(x, y, lam, perm, k)[0], "two tensors"),
    (lambda x, y, lam, perm, k: (_mixup(x, y, lam, perm, k)[0][:, :5], _mixup(x, y, lam, perm, k)[1]), "shape"),
    (lambda x, y, lam, perm, k: (_mixup(x, y, lam, perm, k)[0] * float("nan"), _mixup(x, y, lam, perm, k)[1]),
     "NaN"),
    (_mutating_mixup, "modified its input `x`"),
    (lambda x, y, lam, perm, k: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
])
def test_mixup_batch_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.mixup_batch(candidate)


# --------------------------------------------------------------------------- issue: mistakes the fixed inputs missed
# Wrong answers written from the task text alone; each must be rejected with the hint that names it.


def _bucketize_ece(probs, y, n_bins=15):
    """Correct: torch.bucketize against float32 edges from torch.linspace (bins closed on the right)."""
    conf, pred = probs.max(1)
    edges = torch.linspace(0, 1, n_bins + 1)
    idx = torch.bucketize(conf.float(), edges[1:-1])
    correct, total = (pred == y).float(), 0.0
    for b in range(n_bins):
        mask = idx == b
        if mask.any():
            total += mask.float().mean() * (correct[mask].mean() - conf[mask].mean()).abs()
    return float(total)


def _edges_loop_ece(probs, y, n_bins=15, lower=torch.gt, upper=torch.le, drop_one=False):
    """A loop over (lo, hi] bins from torch.linspace; other comparisons make the edge mistakes."""
    conf, pred = probs.max(1)
    correct, total = (pred == y).double(), 0.0
    edges = torch.linspace(0, 1, n_bins + 1, dtype=conf.dtype)
    for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        mask = lower(conf, lo) & upper(conf, hi)
        if b == n_bins - 1 and upper is torch.lt and not drop_one:
            mask |= conf == 1
        if mask.any():
            total += mask.double().mean() * (correct[mask].mean() - conf[mask].mean()).abs()
    return float(total)


@pytest.mark.parametrize("checker, candidate, match", [
    ("smooth_labels", lambda y, k, eps: (1 - eps) * F.one_hot(y).float() + eps / (int(y.max()) + 1),
     "number of classes from the labels"),
    ("smooth_labels", lambda y, k, eps: (1 - eps) * F.one_hot(y, k).float() + eps / (int(y.max()) + 1),
     "number of classes seen in the labels"),
    ("smooth_labels", lambda y, k, eps: (1 - eps + eps / k) * F.one_hot(y, k).float(), "the wrong classes get 0"),
    ("expected_calibration_error", lambda p, y, n_bins=15: _student_ece(p, y, n_bins, left=True),
     "went into the bin above it"),
    ("expected_calibration_error", lambda p, y, n_bins=15: _edges_loop_ece(p, y, n_bins, torch.ge, torch.lt),
     "went into the bin above it"),
    ("expected_calibration_error",
     lambda p, y, n_bins=15: _edges_loop_ece(p, y, n_bins, torch.ge, torch.lt, drop_one=True),
     "exactly 1 into no bin"),
    ("expected_calibration_error",
     lambda p, y, n_bins=15: _edges_loop_ece(p, y, n_bins, torch.gt, torch.lt, drop_one=True),
     "left out of every bin"),
    ("expected_calibration_error",
     lambda p, y, n_bins=15: _edges_loop_ece(p[p.max(1).values < 1], y[p.max(1).values < 1], n_bins)
     * (p.max(1).values < 1).double().mean().item(), "exactly 1 was left out"),
    ("mixup_batch", lambda x, y, lam, perm, k: (lam * x + (1 - lam) * x[perm],
                                                lam * F.one_hot(y).float() + (1 - lam) * F.one_hot(y[perm]).float()),
     "number of classes from the labels"),
])
def test_mistakes_found_by_new_inputs(checker, candidate, match):
    with pytest.raises(AssertionError, match=match):
        getattr(check, checker)(candidate)


@pytest.mark.parametrize("checker, candidate", [
    ("expected_calibration_error", _bucketize_ece),
    ("expected_calibration_error", _edges_loop_ece),
    ("smooth_labels", lambda y, k, eps: torch.full((len(y), k), eps / k).scatter(1, y[:, None], 1 - eps + eps / k)),
    ("mixup_batch", lambda x, y, lam, perm, k: (torch.lerp(x[perm], x, lam),
                                                torch.lerp(_onehot(y[perm], k), _onehot(y, k), lam))),
])
def test_correct_variants_pass(checker, candidate):
    getattr(check, checker)(candidate)


# --------------------------------------------------------------------------- property-based (hypothesis)
# Random perturbations of a correct answer: those at float precision must pass, those that break the contract
# must fail. derandomize=True: the same examples on every run.

PROP = settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@PROP
@given(rel=st.floats(-1e-7, 1e-7), delta=st.floats(1e-3, 0.1), sign=st.sampled_from([-1, 1]))
def test_smooth_labels_properties(rel, delta, sign):
    check.smooth_labels(lambda y, k, eps: _smooth(y, k, eps) * (1 + rel))
    with pytest.raises(AssertionError):
        check.smooth_labels(lambda y, k, eps: _smooth(y, k, eps) + sign * delta * F.one_hot(y, k))


@PROP
@given(rel=st.floats(-1e-9, 1e-9), kind=st.sampled_from(["shift", "bins"]), delta=st.floats(2e-3, 0.05),
       extra=st.integers(1, 3))
def test_ece_properties(rel, kind, delta, extra):
    check.expected_calibration_error(lambda p, y, n_bins=15: metrics.expected_calibration_error(p, y, n_bins)
                                     * (1 + rel))
    if kind == "shift":
        def broken(p, y, n_bins=15):
            return metrics.expected_calibration_error(p, y, n_bins) + delta
    else:
        def broken(p, y, n_bins=15):
            return metrics.expected_calibration_error(p, y, n_bins + extra)
    with pytest.raises(AssertionError):
        check.expected_calibration_error(broken)


@PROP
@given(rel=st.floats(-1e-7, 1e-7), dlam=st.floats(0.01, 0.1), sign=st.sampled_from([-1, 1]),
       part=st.sampled_from([0, 1]))
def test_mixup_batch_properties(rel, dlam, sign, part):
    check.mixup_batch(lambda *a: tuple(t * (1 + rel) for t in _mixup(*a)))

    def broken(x, y, lam, perm, k):
        out = list(_mixup(x, y, lam, perm, k))
        out[part] = _mixup(x, y, lam + sign * dlam, perm, k)[part]
        return tuple(out)

    with pytest.raises(AssertionError):
        check.mixup_batch(broken)


# --------------------------------------------------------------------------- temperature_experiment


GOOD = {"temperature": [3.4, 3.7, 3.3], "ece_before": [0.24, 0.25, 0.24], "ece_after": [0.03, 0.04, 0.03],
        "acc_before": [0.612, 0.607, 0.615], "acc_after": [0.612, 0.607, 0.615]}


def _with(**changes):
    return {**GOOD, **changes}


@pytest.fixture
def reference(monkeypatch):
    # seed 0's reference temperatures (validation fit 3.4, test fit 3.2) without the training that the checker
    # runs; test_reference_temperatures_tell_validation_from_test runs it
    monkeypatch.setattr(ch09, "_reference_temperatures", lambda seed=0: {"val": 3.4, "test": 3.2})


def test_temperature_experiment_accepts_plausible_results(capsys, reference):
    check.temperature_experiment(GOOD)
    check.temperature_experiment({k: np.array(v) for k, v in GOOD.items()})
    check.temperature_experiment({k: [torch.tensor(t) for t in v] for k, v in GOOD.items()})
    assert "✔ temperature_experiment" in capsys.readouterr().out


@pytest.mark.parametrize("results, match", [
    (_with(temperature=[0.6, 0.7, 0.65]), "training set"),
    (_with(ece_before=[7.5, 8.0, 7.0]), "logits"),
    (_with(temperature=[1.0, 1.0, 1.0]), "all temperatures are 1"),
    (_with(acc_after=[0.5, 0.5, 0.5]), "argmax"),
    (_with(acc_before=[0.1, 0.1, 0.1], acc_after=[0.1, 0.1, 0.1]), "far from"),
    (_with(ece_before=[0.03, 0.04, 0.03]), "too small"),
    (_with(temperature=[1.1, 1.2, 1.1]), "plausible range"),
    (_with(ece_after=[0.2, 0.2, 0.2]), "well below"),
    ({k: v for k, v in GOOD.items() if k != "ece_after"}, "lacks the keys"),
    (_with(temperature=[3.4, 3.7]), "3 finite numbers"),
    (_with(temperature=[3.4, float("nan"), 3.3]), "3 finite numbers"),
    (_with(temperature="3.4"), "list of 3 numbers"),
    ([3.4, 0.24, 0.03], "should be a dict"),
    ({k: [] for k in GOOD}, "still empty"),
])
def test_temperature_experiment_names_each_mistake(results, match, reference):
    with pytest.raises(AssertionError, match=match):
        check.temperature_experiment(results)


def test_temperature_fitted_on_the_test_logits_is_named(reference):
    with pytest.raises(AssertionError, match=r"fitted on the \*test\* logits \(3.200\)"):
        check.temperature_experiment(_with(temperature=[3.2, 3.7, 3.3]))


def test_temperature_of_another_network_is_named(reference):
    with pytest.raises(AssertionError, match=r"differs from 3.400.*set_seed\(seed\) before"):
        check.temperature_experiment(_with(temperature=[3.9, 3.7, 3.3]))
    check.temperature_experiment(_with(temperature=[3.41, 3.7, 3.3]))  # within 1 %: accepted


def test_reference_temperatures_tell_validation_from_test():
    # one real 20-epoch training (seed 0): the two fits differ by far more than the 1 % the checker allows
    ref = ch09._reference_temperatures(0)
    assert 1.5 < ref["val"] < 8 and abs(ref["test"] / ref["val"] - 1) > 0.03, ref
    assert ch09._reference_temperatures(0) is ref  # computed once per process
    check.temperature_experiment(_with(temperature=[ref["val"], 3.7, 3.3]))
    with pytest.raises(AssertionError, match="test"):
        check.temperature_experiment(_with(temperature=[ref["test"], 3.7, 3.3]))


def test_temperature_fitted_on_training_logits_is_below_one():
    # the mistake the checker names: on data the model fits almost perfectly, the NLL prefers T < 1
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (500,), generator=g)
    z = torch.randn(500, 10, generator=g) + 4 * F.one_hot(y, 10)
    assert losses.fit_temperature(z, y) < 1


# --------------------------------------------------------------------------- conceptual questions


@pytest.mark.parametrize("question, right, wrong", [
    ("09.gap", "b", {"a": "ε/\\(K − 1\\) convention", "c": "without smoothing", "d": "ignores the ε/K"}),
    ("09.temperature_accuracy", "c", {"a": "keeps their order", "b": "keeps their order"}),
    ("09.mixup_noise", "b", {"a": "other way round", "c": "fewer\\* of the correct"}),
])
def test_conceptual_answers(question, right, wrong, assert_answer):
    check.answer(question, right)
    assert_answer(question, right.upper() + " ", wrong)
