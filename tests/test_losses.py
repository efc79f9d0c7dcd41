"""reglib.losses against F.cross_entropy and the closed form of label smoothing (chapter 09)."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from reglib.losses import (LabelSmoothingCrossEntropy, cross_entropy, fit_temperature, smooth_labels,
                           symmetric_label_noise)

SMOOTHINGS = [0.0, 0.1, 0.3, 1.0]
REDUCTIONS = ["mean", "sum", "none"]


def _logits(*shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (3 * torch.randn(*shape, generator=g, dtype=dtype)).requires_grad_()


def _indices(n, k, seed=1):
    return torch.randint(0, k, (n,), generator=torch.Generator().manual_seed(seed))


def _probs(n, k, seed=2):
    return torch.softmax(torch.randn(n, k, generator=torch.Generator().manual_seed(seed)), dim=1)


def _value_and_grad(fn, logits, target, **kw):
    logits = logits.detach().clone().requires_grad_()
    out = fn(logits, target, **kw)
    out.backward(torch.ones_like(out))
    return out.detach(), logits.grad


# --------------------------------------------------------------------------- smooth_labels


@pytest.mark.parametrize("eps", SMOOTHINGS)
def test_smooth_labels_is_mixture_of_one_hot_and_uniform(eps):
    k = 7
    y = _indices(20, k)
    q = smooth_labels(y, k, eps)
    assert q.shape == (20, k) and q.dtype == torch.float32
    assert_close(q, (1 - eps) * F.one_hot(y, k).float() + eps / k)
    assert_close(q.sum(dim=1), torch.ones(20))


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_smooth_labels_true_class_gets_one_minus_eps_plus_eps_over_k_not_eps_over_k_minus_1(eps):
    k = 5
    y = _indices(10, k)
    q = smooth_labels(y, k, eps)
    assert_close(q.max(dim=1).values, torch.full((10,), 1 - eps + eps / k))
    assert_close(q.gather(1, y[:, None]).squeeze(1), torch.full((10,), 1 - eps + eps / k))
    off = q.masked_select(~F.one_hot(y, k).bool())
    assert_close(off, torch.full_like(off, eps / k))
    # the other convention (eps spread over the K - 1 wrong classes) is a different target
    assert not torch.allclose(off, torch.full_like(off, eps / (k - 1)))
    assert not torch.allclose(q.max(dim=1).values, torch.full((10,), 1 - eps))


def test_smooth_labels_on_probability_targets_and_dtypes():
    p = _probs(6, 4).double()
    q = smooth_labels(p, 4, 0.2)
    assert q.dtype == torch.float64
    assert_close(q, 0.8 * p + 0.05)
    assert_close(q.sum(dim=1), torch.ones(6, dtype=torch.float64))
    assert smooth_labels(_indices(3, 4), 4, 0.1, dtype=torch.float64).dtype == torch.float64
    assert smooth_labels(torch.tensor([[0, 2], [1, 3]]), 4, 0.0).shape == (2, 2, 4)  # any batch shape


def test_smooth_labels_input_is_not_modified():
    p = _probs(3, 4)
    before = p.clone()
    smooth_labels(p, 4, 0.5)
    assert torch.equal(p, before)


# --------------------------------------------------------------------------- cross_entropy


@pytest.mark.parametrize("eps", SMOOTHINGS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["indices", "probabilities"])
def test_cross_entropy_equals_torch(eps, reduction, kind):
    logits = _logits(16, 10)
    target = _indices(16, 10) if kind == "indices" else _probs(16, 10)
    ours = _value_and_grad(cross_entropy, logits, target, label_smoothing=eps, reduction=reduction)
    ref = _value_and_grad(F.cross_entropy, logits, target, label_smoothing=eps, reduction=reduction)
    assert_close(ours[0], ref[0])
    assert_close(ours[1], ref[1])


@pytest.mark.parametrize("kind", ["indices", "probabilities"])
def test_cross_entropy_with_extra_dimensions_and_unbatched(kind):
    logits = _logits(4, 5, 3, 2)
    if kind == "indices":
        target = torch.randint(0, 5, (4, 3, 2), generator=torch.Generator().manual_seed(0))
    else:
        target = torch.softmax(torch.randn(4, 5, 3, 2), dim=1)
    for reduction in REDUCTIONS:
        assert_close(cross_entropy(logits, target, 0.2, reduction),
                     F.cross_entropy(logits, target, label_smoothing=0.2, reduction=reduction))
    single = _logits(6)
    assert_close(cross_entropy(single, torch.tensor(2), 0.1), F.cross_entropy(single, torch.tensor(2),
                                                                           label_smoothing=0.1))


def test_cross_entropy_against_smoothed_targets_and_closed_form():
    logits, y, eps, k = _logits(8, 6), _indices(8, 6), 0.1, 6
    expected = -(smooth_labels(y, k, eps) * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    assert_close(cross_entropy(logits, y, eps), expected)
    assert_close(cross_entropy(logits, smooth_labels(y, k, eps)), expected)
    assert_close(cross_entropy(logits, F.one_hot(y, k).float(), eps), expected)


def test_cross_entropy_float64_and_gradcheck():
    logits = _logits(5, 4, dtype=torch.float64)
    y = _indices(5, 4)
    out = cross_entropy(logits, y, 0.3)
    assert out.dtype == torch.float64
    assert torch.autograd.gradcheck(lambda z: cross_entropy(z, y, 0.3), (logits,))
    p = _probs(5, 4).double()
    assert torch.autograd.gradcheck(lambda z: cross_entropy(z, p, 0.3, "none"), (logits,))


def test_cross_entropy_is_stable_for_huge_logits():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
    y = torch.tensor([0, 0])
    out = cross_entropy(logits, y, 0.1, "none")
    assert torch.isfinite(out).all()
    assert_close(out, F.cross_entropy(logits, y, label_smoothing=0.1, reduction="none"))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 6), k=st.integers(1, 8), eps=st.floats(0.0, 1.0), soft=st.booleans(),
       seed=st.integers(0, 2**16))
def test_cross_entropy_property(n, k, eps, soft, seed):
    g = torch.Generator().manual_seed(seed)
    logits = 5 * torch.randn(n, k, generator=g)
    target = (torch.softmax(torch.randn(n, k, generator=g), 1) if soft
              else torch.randint(0, k, (n,), generator=g))
    assert_close(cross_entropy(logits, target, eps), F.cross_entropy(logits, target, label_smoothing=eps))
    if not soft:
        q = smooth_labels(target, k, eps)
        assert_close(q.sum(dim=1), torch.ones(n))
        assert (q >= 0).all()


def test_label_smoothing_minimiser_has_a_finite_logit_gap():
    # chapter 09: the loss is minimised where softmax(z) = q, so the logit gap is finite,
    # log((1 - eps + eps/K) / (eps/K)), and the gradient there vanishes
    k, eps = 4, 0.1
    y = torch.tensor([0])
    z = smooth_labels(y, k, eps).log().requires_grad_()
    cross_entropy(z, y, eps).backward()
    assert_close(z.grad, torch.zeros(1, k), atol=1e-6, rtol=0)
    gap = (z[0, 0] - z[0, 1]).item()
    assert gap == pytest.approx(math.log((1 - eps + eps / k) / (eps / k)), rel=1e-6)
    z_plain = z.detach().clone().requires_grad_()
    cross_entropy(z_plain, y).backward()  # without smoothing the gap keeps growing
    assert z_plain.grad[0, 0] < 0


# --------------------------------------------------------------------------- module


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_module_equals_nn_cross_entropy_loss(reduction):
    logits, y = _logits(9, 3), _indices(9, 3)
    ours = LabelSmoothingCrossEntropy(0.2, reduction)
    ref = torch.nn.CrossEntropyLoss(label_smoothing=0.2, reduction=reduction)
    assert_close(ours(logits, y), ref(logits, y))
    assert_close(ours(logits, _probs(9, 3)), ref(logits, _probs(9, 3)))
    assert "label_smoothing=0.2" in repr(ours)
    assert LabelSmoothingCrossEntropy().label_smoothing == 0.1


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.1", None])
def test_smoothing_out_of_range_raises(bad):
    with pytest.raises(ValueError, match="smoothing"):
        smooth_labels(_indices(3, 4), 4, bad)
    with pytest.raises(ValueError, match="label_smoothing"):
        cross_entropy(_logits(3, 4), _indices(3, 4), label_smoothing=bad)
    with pytest.raises(ValueError, match="label_smoothing"):
        LabelSmoothingCrossEntropy(bad)


def test_bad_arguments_raise_value_errors_naming_them():
    with pytest.raises(ValueError, match="num_classes"):
        smooth_labels(_indices(3, 4), 0, 0.1)
    with pytest.raises(ValueError, match="num_classes"):
        smooth_labels(_indices(3, 4), 2.5, 0.1)
    with pytest.raises(ValueError, match="target"):
        smooth_labels(torch.tensor([0, 4]), 4, 0.1)
    with pytest.raises(ValueError, match="target"):
        smooth_labels(torch.tensor([-1, 0]), 4, 0.1)
    with pytest.raises(ValueError, match="target"):
        smooth_labels(_probs(3, 5), 4, 0.1)
    with pytest.raises(ValueError, match="reduction"):
        cross_entropy(_logits(3, 4), _indices(3, 4), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        LabelSmoothingCrossEntropy(0.1, reduction="batchmean")
    with pytest.raises(ValueError, match="target"):
        cross_entropy(_logits(3, 4), _indices(5, 4))
    with pytest.raises(ValueError, match="target"):
        cross_entropy(_logits(3, 4), _probs(3, 5))
    with pytest.raises(ValueError, match="logits"):
        cross_entropy(torch.tensor(1.0), torch.tensor(0))


# --------------------------------------------------------------------------- temperature scaling (chapter 09)


def _calibrated_sample(n, k, seed, scale=3.0):
    """Logits and labels drawn from softmax(logits): a perfectly calibrated model, optimal T = 1."""
    g = torch.Generator().manual_seed(seed)
    z = scale * torch.randn(n, k, generator=g)
    y = torch.multinomial(torch.softmax(z, 1), 1, generator=g).squeeze(1)
    return z, y


def _nll_at(z, y, t):
    return F.cross_entropy(z.double() / t, y).item()


def test_fit_temperature_minimises_the_nll_against_scipy():
    from scipy.optimize import minimize_scalar

    z, y = _calibrated_sample(500, 6, seed=3)
    z = 2.0 * z  # an over-confident model: the best temperature is about 2
    t = fit_temperature(z, y)
    ref = minimize_scalar(lambda log_t: _nll_at(z, y, math.exp(log_t)), bounds=(-3, 3), method="bounded",
                          options={"xatol": 1e-10}).x
    assert t == pytest.approx(math.exp(ref), rel=1e-4)
    assert isinstance(t, float) and 1.5 < t < 2.7
    # the gradient of the NLL with respect to T vanishes there
    temp = torch.tensor(t, dtype=torch.float64, requires_grad=True)
    F.cross_entropy(z.double() / temp, y).backward()
    assert abs(temp.grad.item()) < 1e-6
    for other in (0.9 * t, 1.1 * t):
        assert _nll_at(z, y, other) > _nll_at(z, y, t)


def test_fit_temperature_recovers_one_on_a_calibrated_model_and_is_scale_equivariant():
    z, y = _calibrated_sample(4000, 10, seed=0)
    t = fit_temperature(z, y)
    assert t == pytest.approx(1.0, abs=0.06)
    for c in (0.5, 4.0):  # dividing by T undoes any rescaling of the logits
        assert fit_temperature(c * z, y) == pytest.approx(c * t, rel=1e-5)
    # float64, and a shift of every logit of a sample changes nothing
    assert fit_temperature(z.double() + 7.0, y) == pytest.approx(t, rel=1e-5)


def test_fit_temperature_keeps_inputs_and_returns_the_bounds_at_the_extremes():
    z, y = _calibrated_sample(200, 4, seed=1)
    before = z.clone()
    fit_temperature(z, y)
    assert torch.equal(z, before)
    # every prediction correct with a margin: sharpening always lowers the NLL -> the lower bound
    separable = 5.0 * F.one_hot(y, 4).float()
    assert fit_temperature(separable, y, min_temperature=0.05) == 0.05
    # logits unrelated to the labels (always wrong): flattening always helps -> the upper bound
    wrong = 5.0 * F.one_hot((y + 1) % 4, 4).float()
    assert fit_temperature(wrong, y, max_temperature=30.0) == 30.0


def test_fit_temperature_bad_arguments():
    z, y = _calibrated_sample(20, 3, seed=2)
    with pytest.raises(ValueError, match="min_temperature"):
        fit_temperature(z, y, min_temperature=0)
    with pytest.raises(ValueError, match="max_temperature"):
        fit_temperature(z, y, max_temperature=-1)
    with pytest.raises(ValueError, match="min_temperature must be smaller"):
        fit_temperature(z, y, min_temperature=2.0, max_temperature=1.0)
    with pytest.raises(ValueError, match="tol"):
        fit_temperature(z, y, tol=0)
    with pytest.raises(ValueError, match="logits"):
        fit_temperature(z[0], y)
    with pytest.raises(ValueError, match="logits"):
        fit_temperature(z.long(), y)
    with pytest.raises(ValueError, match="target"):
        fit_temperature(z, y[:5])
    with pytest.raises(ValueError, match="target"):
        fit_temperature(z, y.float())
    with pytest.raises(ValueError, match="target"):
        fit_temperature(z, torch.full_like(y, 3))


# --------------------------------------------------------------------------- symmetric label noise


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 300), k=st.integers(2, 12), rate=st.floats(0.0, 1.0), seed=st.integers(0, 10**6))
def test_symmetric_label_noise_flips_exactly_the_requested_fraction(n, k, rate, seed):
    y = torch.randint(0, k, (n,), generator=torch.Generator().manual_seed(seed))
    before = y.clone()
    noisy, flipped = symmetric_label_noise(y, rate, k, torch.Generator().manual_seed(seed))
    assert torch.equal(y, before)
    assert noisy.dtype == torch.int64 and flipped.dtype == torch.bool and noisy.shape == flipped.shape == (n,)
    assert int(flipped.sum()) == round(rate * n)
    assert torch.equal(flipped, noisy != y)  # a chosen label always changes
    assert ((noisy >= 0) & (noisy < k)).all()


def test_symmetric_label_noise_is_uniform_over_the_other_classes_and_seeded():
    k, n = 5, 20000
    y = torch.zeros(n, dtype=torch.int64)
    noisy, flipped = symmetric_label_noise(y, 0.5, k, torch.Generator().manual_seed(0))
    counts = torch.bincount(noisy[flipped], minlength=k).double() / flipped.sum()
    assert counts[0] == 0
    assert_close(counts[1:], torch.full((k - 1,), 1 / (k - 1), dtype=torch.float64), atol=0.015, rtol=0)
    again, _ = symmetric_label_noise(y, 0.5, k, torch.Generator().manual_seed(0))
    other, _ = symmetric_label_noise(y, 0.5, k, torch.Generator().manual_seed(1))
    assert torch.equal(noisy, again) and not torch.equal(noisy, other)


def test_symmetric_label_noise_bad_arguments():
    y = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="rate"):
        symmetric_label_noise(y, 1.2, 3)
    with pytest.raises(ValueError, match="num_classes"):
        symmetric_label_noise(y, 0.1, 1)
    with pytest.raises(ValueError, match="target"):
        symmetric_label_noise(y, 0.1, 2)
    with pytest.raises(ValueError, match="target"):
        symmetric_label_noise(y.float(), 0.1, 3)
    with pytest.raises(ValueError, match="target"):
        symmetric_label_noise(y.view(1, 3), 0.1, 3)
