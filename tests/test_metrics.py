"""reglib.metrics against scikit-learn, SciPy, PyTorch and a straightforward reference loop."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score

from reglib.metrics import (accuracy, calibration_bins, expected_calibration_error, nll, predictive_entropy,
                            sparsity)




def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _logits(n, k, seed=0, dtype=torch.float32):
    return 2 * torch.randn(n, k, generator=_gen(seed), dtype=dtype)


def _labels(n, k, seed=1):
    return torch.randint(0, k, (n,), generator=_gen(seed))


# --------------------------------------------------------------------------- accuracy


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 50), k=st.integers(2, 6), seed=st.integers(0, 1000))
def test_accuracy_matches_sklearn(n, k, seed):
    logits, y = _logits(n, k, seed), _labels(n, k, seed + 1)
    expected = accuracy_score(y.numpy(), logits.argmax(1).numpy())
    assert isinstance(accuracy(logits, y), float)
    assert accuracy(logits, y) == pytest.approx(expected, abs=1e-12)
    # probabilities have the same argmax as logits
    assert accuracy(logits.softmax(1), y) == pytest.approx(expected, abs=1e-12)
    # predicted labels (N,)
    assert accuracy(logits.argmax(1), y) == pytest.approx(expected, abs=1e-12)
    # soft / one-hot targets: their argmax is the label
    soft = 0.8 * F.one_hot(y, k) + 0.2 / k
    assert accuracy(logits, soft) == pytest.approx(expected, abs=1e-12)
    assert accuracy(logits, F.one_hot(y, k).float()) == pytest.approx(expected, abs=1e-12)


def test_accuracy_simple_values():
    assert accuracy(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2])) == 0.75
    assert accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 1])) == 1.0


@pytest.mark.parametrize("scores, target", [(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long)),
                                            (torch.zeros(4), torch.zeros(3, dtype=torch.long)),
                                            (torch.zeros(4, 3), torch.zeros(5, 3))])
def test_accuracy_shape_mismatch(scores, target):
    with pytest.raises(ValueError, match="target"):
        accuracy(scores, target)


def test_accuracy_empty():
    with pytest.raises(ValueError, match="scores"):
        accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))


# --------------------------------------------------------------------------- calibration


def _reference_ece(probs, target, n_bins):
    """Guo et al. (2017), written as plainly as possible: bins (b/M, (b+1)/M], |acc - conf| weighted."""
    probs = np.asarray(probs, dtype=np.float64)
    target = np.asarray(target)
    n = len(probs)
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = []
        for i in range(n):
            conf = probs[i].max()
            if lo < conf <= hi or (b == 0 and conf <= lo):
                members.append(i)
        if not members:
            continue
        conf_mean = np.mean([probs[i].max() for i in members])
        acc = np.mean([probs[i].argmax() == target[i] for i in members])
        total += len(members) / n * abs(acc - conf_mean)
    return total


@pytest.mark.parametrize("n_bins", [1, 5, 10, 15])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ece_matches_reference_loop(n_bins, dtype):
    probs = (_logits(300, 4, seed=n_bins, dtype=dtype) * 1.5).softmax(1)
    # labels correlated with the prediction, so that some bins are well filled and others not
    y = torch.where(torch.rand(300, generator=_gen(7)) < 0.7, probs.argmax(1), _labels(300, 4, seed=8))
    expected = _reference_ece(probs.double().numpy(), y.numpy(), n_bins)
    ece = expected_calibration_error(probs, y, n_bins=n_bins)
    assert isinstance(ece, float)
    assert ece == pytest.approx(expected, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(2, 5), n_bins=st.integers(1, 20), seed=st.integers(0, 10**6))
def test_ece_matches_reference_loop_property(n, k, n_bins, seed):
    probs = (_logits(n, k, seed, dtype=torch.float64) * 2).softmax(1)
    y = _labels(n, k, seed + 1)
    assert expected_calibration_error(probs, y, n_bins) == pytest.approx(_reference_ece(probs, y, n_bins), abs=1e-12)


def _two_class(confidences, correct):
    """Probabilities [c, 1 - c] (so class 0 is predicted for c > 0.5) and labels that are right where asked."""
    c = torch.tensor(confidences, dtype=torch.float64)
    probs = torch.stack([c, 1 - c], dim=1)
    target = torch.tensor([0 if ok else 1 for ok in correct])
    return probs, target


def test_ece_perfectly_calibrated_is_zero():
    # 20 predictions at 0.75 of which 15 are right; 10 at 0.9 of which 9 are right; 4 at 1.0, all right
    conf = [0.75] * 20 + [0.9] * 10 + [1.0] * 4
    correct = [True] * 15 + [False] * 5 + [True] * 9 + [False] + [True] * 4
    probs, target = _two_class(conf, correct)
    assert expected_calibration_error(probs, target, n_bins=10) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(probs.float(), target, n_bins=10) == pytest.approx(0.0, abs=1e-6)


def test_ece_overconfident_known_value():
    # group A: confidence 0.9, accuracy 0.6; group B: confidence 0.7, accuracy 0.7 (calibrated)
    conf = [0.9] * 10 + [0.7] * 10
    correct = [True] * 6 + [False] * 4 + [True] * 7 + [False] * 3
    probs, target = _two_class(conf, correct)
    assert expected_calibration_error(probs, target, n_bins=10) == pytest.approx(0.5 * 0.3, abs=1e-12)
    # with a single bin, only the averages count: |0.65 - 0.8|
    assert expected_calibration_error(probs, target, n_bins=1) == pytest.approx(0.15, abs=1e-12)
    # always wrong at confidence 0.9
    probs, target = _two_class([0.9] * 5, [False] * 5)
    assert expected_calibration_error(probs, target) == pytest.approx(0.9, abs=1e-12)


def test_confidence_of_one_lands_in_last_bin():
    probs = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    target = torch.tensor([0, 1])
    conf, acc, count = calibration_bins(probs, target, n_bins=15)
    assert count[-1] == 2 and count.sum() == 2
    assert conf[-1] == 1.0 and acc[-1] == 1.0
    assert expected_calibration_error(probs, target, n_bins=15) == 0.0
    assert expected_calibration_error(probs, torch.tensor([1, 0]), n_bins=15) == 1.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("n_bins", [2, 4, 5, 10, 15, 20])
def test_confidence_on_a_bin_edge_lands_in_the_bin_it_closes(dtype, n_bins):
    # bin b is (b/M, (b+1)/M]: a confidence of exactly k/M belongs to bin k - 1, whatever the dtype rounds it to
    for k in range(math.ceil(n_bins / 2), n_bins + 1):
        c = torch.tensor(k / n_bins, dtype=dtype)
        probs = torch.stack([c, 1 - c]).view(1, 2)
        _, _, count = calibration_bins(probs, torch.tensor([0]), n_bins)
        assert count[k - 1] == 1, (k, n_bins, dtype)


def test_calibration_bins_values():
    probs, target = _two_class([0.55, 0.65, 0.68, 0.95], [True, False, True, True])
    conf, acc, count = calibration_bins(probs, target, n_bins=4)  # bins (0,.25], (.25,.5], (.5,.75], (.75,1]
    assert count.tolist() == [0, 0, 3, 1]
    assert torch.isnan(conf[:2]).all() and torch.isnan(acc[:2]).all()
    torch.testing.assert_close(conf[2:], torch.tensor([(0.55 + 0.65 + 0.68) / 3, 0.95], dtype=torch.float64))
    torch.testing.assert_close(acc[2:], torch.tensor([2 / 3, 1.0], dtype=torch.float64))


def test_ece_soft_targets_equal_their_argmax():
    probs = _logits(50, 3, seed=3).softmax(1)
    y = _labels(50, 3, seed=4)
    soft = 0.7 * F.one_hot(y, 3) + 0.1
    assert expected_calibration_error(probs, soft) == expected_calibration_error(probs, y)


def test_calibration_bad_arguments():
    probs, y = torch.full((4, 2), 0.5), torch.zeros(4, dtype=torch.long)
    for n_bins in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_bins"):
            expected_calibration_error(probs, y, n_bins=n_bins)
    with pytest.raises(ValueError, match="probs"):
        expected_calibration_error(torch.full((4,), 0.5), y)
    with pytest.raises(ValueError, match="target"):
        expected_calibration_error(probs, torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="n_bins"):
        calibration_bins(probs, y, n_bins=0)


# --------------------------------------------------------------------------- sparsity


def test_sparsity():
    w = torch.tensor([0.0, 0.05, -0.05, 0.2, -1.0, 0.0, 0.0, 3.0])
    assert sparsity(w) == 3 / 8
    assert sparsity(w, tol=0.05) == 5 / 8
    assert sparsity(w, tol=0.1) == 5 / 8
    assert sparsity(w, tol=10) == 1.0
    params = [torch.zeros(2, 3), torch.ones(4, requires_grad=True)]
    assert sparsity(params) == 6 / 10
    assert sparsity(iter(params)) == 6 / 10  # any iterable, e.g. model.parameters()
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.zero_()
    assert sparsity(model.parameters()) == 6 / 8
    assert isinstance(sparsity(w), float)


def test_sparsity_bad_arguments():
    with pytest.raises(ValueError, match="tol"):
        sparsity(torch.zeros(3), tol=-0.1)
    with pytest.raises(ValueError, match="tol"):
        sparsity(torch.zeros(3), tol=float("nan"))
    with pytest.raises(ValueError, match="params"):
        sparsity([])


# --------------------------------------------------------------------------- entropy, nll


def test_predictive_entropy_matches_scipy():
    from scipy.stats import entropy

    probs = torch.cat([_logits(20, 5, seed=5, dtype=torch.float64).softmax(1),
                       torch.tensor([[1.0, 0, 0, 0, 0], [0.5, 0.5, 0, 0, 0], [0.2] * 5], dtype=torch.float64)])
    h = predictive_entropy(probs)
    assert h.shape == (23,)
    np.testing.assert_allclose(h.numpy(), entropy(probs.numpy(), axis=1), rtol=1e-10, atol=1e-12)
    assert h[-1].item() == pytest.approx(math.log(5))
    assert h[-3].item() == pytest.approx(0.0, abs=1e-12)


def test_nll_matches_torch():
    probs = _logits(30, 4, seed=9, dtype=torch.float64).softmax(1)
    y = _labels(30, 4, seed=10)
    expected = F.nll_loss(probs.log(), y).item()
    assert nll(probs, y) == pytest.approx(expected, rel=1e-12)
    assert nll(probs, F.one_hot(y, 4).double()) == pytest.approx(expected, rel=1e-12)
    assert isinstance(nll(probs, y), float)
    # a probability of 0 on the true class is clamped, not infinite
    assert math.isfinite(nll(torch.tensor([[1.0, 0.0]]), torch.tensor([1])))
