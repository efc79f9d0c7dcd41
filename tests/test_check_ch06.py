"""The chapter 06 checkers accept reglib's reference and reject each named mistake with its hint."""

from __future__ import annotations

import math

import pytest
import torch

from reglib import check
from reglib import dropout as ref
from reglib.metrics import predictive_entropy

# --------------------------------------------------------------------------- candidates for task 1


def good_forward(x, p, training=True):
    """reglib's dropout_forward, with the exercise's cache format (0/1 mask, p)."""
    if not training or p == 0:
        return x, None
    out, scaled = ref.dropout_forward(x, p)
    return out, ((scaled != 0).to(x.dtype), p)


def _mask(x, keep):
    return (torch.rand_like(x) < keep).to(x.dtype)


def forward_missing_scale(x, p, training=True):
    if not training:
        return x, None
    mask = _mask(x, 1 - p)
    return x * mask, (mask, p)


def forward_keep_drop_confused(x, p, training=True):
    if not training:
        return x, None
    mask = _mask(x, p)  # p used as the keep probability
    return x * mask / p, (mask, p)


def forward_on_in_eval(x, p, training=True):
    mask = _mask(x, 1 - p)
    return (x * mask / (1 - p) if p < 1 else x * 0), (mask, p)


def forward_scales_in_eval(x, p, training=True):
    if not training:
        return x * (1 - p), None
    return good_forward(x, p)


def forward_nan_at_p1(x, p, training=True):
    if not training:
        return x, None
    mask = _mask(x, 1 - p)
    return x * mask / torch.tensor(1 - p), (mask, p)


def forward_zero_division_at_p1(x, p, training=True):
    if not training:
        return x, None
    scale = 1 / (1 - p)
    mask = _mask(x, 1 - p)
    return x * mask * scale, (mask, p)


def forward_scaled_mask_cached(x, p, training=True):
    if not training or p == 0:
        return x, None
    out, scaled = ref.dropout_forward(x, p)
    return out, (scaled, p)


def forward_per_row(x, p, training=True):
    if not training or p == 0:
        return x, None
    mask = _mask(x[:, :1], 1 - p).expand_as(x).clone()
    return (x * mask / (1 - p) if p < 1 else x * 0), (mask, p)


def forward_seeded_inside(x, p, training=True):
    if not training or p == 0:
        return x, None
    g = torch.Generator().manual_seed(0)
    mask = (torch.rand(x.shape, generator=g, dtype=x.dtype) >= p).to(x.dtype)
    return (x * mask / (1 - p) if p < 1 else x * 0), (mask, p)


def forward_in_place(x, p, training=True):
    if not training or p == 0:
        return x, None
    mask = _mask(x, 1 - p)
    x.mul_(mask / (1 - p) if p < 1 else 0)
    return x, (mask, p)


def forward_not_implemented(x, p, training=True):
    raise NotImplementedError()


def forward_nan(x, p, training=True):
    return x * float("nan"), None


def forward_wrong_shape(x, p, training=True):
    out, cache = good_forward(x, p, training)
    return out[:, :-1], cache


def forward_torch_functional(x, p, training=True):
    """PyTorch's dropout, the mask read back from the output: passes every statistical test."""
    if not training:
        return x, None
    out = torch.nn.functional.dropout(x, p, training=True)
    return out, ((out != 0).to(x.dtype), p)


def forward_torch_module(x, p, training=True):
    if not training:
        return x, None
    out = torch.nn.Dropout(p)(x)
    return out, ((out != 0).to(x.dtype), p)


@pytest.mark.parametrize("candidate", [good_forward])
def test_forward_reference_passes(candidate, capsys):
    check.dropout_forward(candidate)
    assert "✔ dropout_forward" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, hint", [
    (forward_missing_scale, "missing 1/\\(1 − p\\) scale"),
    (forward_keep_drop_confused, "Keep/drop confusion"),
    (forward_on_in_eval, "dropout left on in eval"),
    (forward_scales_in_eval, "multiplied by 1 − p"),
    (forward_nan_at_p1, "p = 1 gives NaN"),
    (forward_zero_division_at_p1, "division by 1 − p = 0"),
    (forward_scaled_mask_cached, "should hold 0s and 1s"),
    (forward_per_row, "one mask value"),
    (forward_seeded_inside, "same mask"),
    (forward_in_place, "modified its input"),
    (forward_not_implemented, "not implemented yet"),
    (forward_nan, "NaN"),
    (forward_wrong_shape, "shape"),
    (forward_torch_functional, "calls PyTorch's dropout"),
    (forward_torch_module, "calls PyTorch's dropout"),
])
def test_forward_mistakes_are_named(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.dropout_forward(candidate)


# --------------------------------------------------------------------------- candidates for task 2


def good_backward(dout, cache):
    mask, p = cache
    return ref.dropout_backward(dout, mask / (1 - p)) if p < 1 else dout * 0


def backward_fresh_mask(dout, cache):
    _, p = cache
    mask = (torch.rand_like(dout) >= p).to(dout.dtype)
    return dout * mask / (1 - p) if p < 1 else dout * 0


def backward_missing_scale(dout, cache):
    mask, _ = cache
    return dout * mask


def backward_through_everything(dout, cache):
    return dout.clone()


def backward_divides_by_p(dout, cache):
    mask, p = cache
    return dout * mask / p


def backward_nan_at_p1(dout, cache):
    mask, p = cache
    return dout * mask / torch.tensor(1 - p)


def backward_in_place(dout, cache):
    mask, p = cache
    return dout.mul_(mask / (1 - p) if p < 1 else 0)


def test_backward_reference_passes(capsys):
    check.dropout_backward(good_backward)
    assert "✔ dropout_backward" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, hint", [
    (backward_fresh_mask, "mask not reused in backward"),
    (backward_missing_scale, "missing 1/\\(1 − p\\) scale in the backward"),
    (backward_through_everything, "passes through dropped units"),
    (backward_divides_by_p, "keep/drop confusion"),
    (backward_nan_at_p1, "p = 1 gives NaN"),
    (backward_in_place, "modified its input"),
    (lambda dout, cache: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda dout, cache: dout[:-1], "shape"),
])
def test_backward_mistakes_are_named(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.dropout_backward(candidate)


# --------------------------------------------------------------------------- candidates for task 3


def good_mc(model, x, n_samples):
    return ref.mc_predict(model, x, n_samples)[0]


def mc_in_eval(model, x, n_samples):
    was = model.training
    model.eval()
    with torch.no_grad():
        out = torch.stack([torch.softmax(model(x), -1) for _ in range(n_samples)]).mean(0)
    model.train(was)
    return out


def mc_whole_model_train(model, x, n_samples):
    was = model.training
    model.train()
    with torch.no_grad():
        out = torch.stack([torch.softmax(model(x), -1) for _ in range(n_samples)]).mean(0)
    model.train(was)
    return out


def _set_dropout(model, on):
    modes = [(m, m.training) for m in model.modules()]
    for m, _ in modes:
        m.training = on and isinstance(m, ref.DROPOUT_MODULES)
    return modes


def mc_not_restored(model, x, n_samples):
    _set_dropout(model, True)
    with torch.no_grad():
        return torch.stack([torch.softmax(model(x), -1) for _ in range(n_samples)]).mean(0)


def mc_logits_averaged(model, x, n_samples):
    modes = _set_dropout(model, True)
    with torch.no_grad():
        logits = torch.stack([model(x) for _ in range(n_samples)]).mean(0)
    for m, mode in modes:
        m.training = mode
    return torch.softmax(logits, -1)


def mc_returns_logits(model, x, n_samples):
    modes = _set_dropout(model, True)
    with torch.no_grad():
        logits = torch.stack([model(x) for _ in range(n_samples)]).mean(0)
    for m, mode in modes:
        m.training = mode
    return logits


def mc_one_sample(model, x, n_samples):
    return ref.mc_predict(model, x, 1)[0]


def test_mc_reference_passes(capsys):
    check.mc_dropout_predict(good_mc)
    assert "✔ mc_dropout_predict" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, hint", [
    (mc_in_eval, "dropout was off while sampling"),
    (mc_whole_model_train, "running statistics"),
    (mc_not_restored, "restore every module's mode"),
    (mc_logits_averaged, "averaged the logits"),
    (mc_returns_logits, "should return probabilities"),
    (mc_one_sample, "ran 1 forward pass over"),
    (lambda model, x, n: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda model, x, n: torch.full((len(x), 5), float("nan")), "NaN"),
    (lambda model, x, n: good_mc(model, x, n)[:, :3], "shape"),
])
def test_mc_mistakes_are_named(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.mc_dropout_predict(candidate)


# --------------------------------------------------------------------------- task 4


@pytest.fixture(scope="module")
def entropies():
    model, x, y = check.mc_dropout_setup()
    probs = ref.mc_predict(model, x, 100)[0]
    h = predictive_entropy(probs)
    correct = probs.argmax(-1) == y
    with torch.no_grad():
        det = torch.softmax(model(x), -1)
    h_det, correct_det = predictive_entropy(det), det.argmax(-1) == y
    return {"mc": (h[correct].mean().item(), h[~correct].mean().item()),
            "det": (h_det[correct_det].mean().item(), h_det[~correct_det].mean().item())}


def test_setup_is_reproducible_and_in_eval():
    a, xa, ya = check.mc_dropout_setup()
    b, xb, yb = check.mc_dropout_setup()
    assert not a.training and a is not b
    assert all(torch.equal(u, v) for u, v in zip(a.state_dict().values(), b.state_dict().values()))
    assert torch.equal(xa, xb) and torch.equal(ya, yb) and xa.shape == (1000, 40)


def test_entropy_reference_passes(entropies, capsys):
    check.entropy_by_correctness(*entropies["mc"])
    assert "✔ entropy_by_correctness" in capsys.readouterr().out
    h_c, h_w = entropies["mc"]
    assert h_w > h_c + 0.2  # the exercise's claim, with room


@pytest.mark.parametrize("transform, hint", [
    (lambda mc, det: (mc[1], mc[0]), "swapped"),
    (lambda mc, det: (mc[0] / math.log(2), mc[1] / math.log(2)), "bits"),
    (lambda mc, det: det, "deterministic"),
    (lambda mc, det: (mc[0] + 0.3, mc[1] - 0.5), "not above"),
    (lambda mc, det: (mc[0] + 0.1, mc[1] + 0.1), "expected about"),
    (lambda mc, det: (float("nan"), mc[1]), "nan"),
    (lambda mc, det: (torch.ones(3), mc[1]), "single number"),
])
def test_entropy_mistakes_are_named(entropies, transform, hint):
    with pytest.raises(AssertionError, match=hint):
        check.entropy_by_correctness(*transform(entropies["mc"], entropies["det"]))


def test_entropy_expected_entropy_is_named():
    """The mean of the passes' entropies (with other masks than the checker's) instead of the entropy of the mean."""
    from reglib.check import ch06

    model, x, y = check.mc_dropout_setup()
    passes = torch.softmax(ch06._sample_passes(model, x, 100, seed=1), dim=-1)
    per_pass, correct = predictive_entropy(passes).mean(0), passes.mean(0).argmax(-1) == y
    with pytest.raises(AssertionError, match="expected entropy"):
        check.entropy_by_correctness(per_pass[correct].mean().item(), per_pass[~correct].mean().item())


# --------------------------------------------------------------------------- task 5


@pytest.mark.parametrize("question, right, wrong, hint", [
    ("06.pytorch_p", 0.2, 0.8, "KEEPING"),
    ("06.test_scale", 1, 0.75, "weight-scaling rule"),
    ("06.channel_dropout", "b", "c", "neighbouring"),
])
def test_answers(question, right, wrong, hint, capsys):
    check.answer(question, right)
    assert "✔" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=hint):
        check.answer(question, wrong)
    with pytest.raises(AssertionError, match="no answer yet"):
        check.answer(question, None)


# --------------------------------------------------------------------------- mistakes the fixed inputs used to miss

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402


def _bernoulli_forward(x, p, training=True):
    if not training:
        return x, None
    mask = torch.bernoulli(torch.full_like(x, 1 - p))
    return (x * mask / (1 - p) if p < 1 else torch.zeros_like(x)), (mask, p)


def _exact_per_row(x, p, training=True):
    if not training:
        return x, None
    if p >= 1:
        return torch.zeros_like(x), (torch.zeros_like(x), p)
    dropped = torch.rand_like(x).argsort(dim=-1) < round(p * x.shape[-1])
    mask = (~dropped).to(x.dtype)
    return x * mask / (1 - p), (mask, p)


def _exact_total(x, p, training=True):
    if not training:
        return x, None
    if p >= 1:
        return torch.zeros_like(x), (torch.zeros_like(x), p)
    mask = torch.ones(x.numel(), dtype=x.dtype)
    mask[torch.randperm(x.numel())[:round(p * x.numel())]] = 0
    mask = mask.view_as(x)
    return x * mask / (1 - p), (mask, p)


def test_forward_exact_counts_are_not_independent_draws():
    with pytest.raises(AssertionError, match="exact count"):
        check.dropout_forward(_exact_per_row)
    with pytest.raises(AssertionError, match="exact count instead of independent draws"):
        check.dropout_forward(_exact_total)
    check.dropout_forward(_bernoulli_forward)


def _mc(restore="each", set_modes="modules"):
    @torch.no_grad()
    def predict(model, x, n_samples):
        was, modes = model.training, [(m, m.training) for m in model.modules()]
        for m in (model.modules() if set_modes == "modules" else model.children()):
            m.training = isinstance(m, ref.DROPOUT_MODULES)
        model.training = False
        out = torch.stack([torch.softmax(model(x), -1) for _ in range(n_samples)]).mean(0)
        if restore == "each":
            for m, mode in modes:
                m.training = mode
        else:
            model.train(was)
        return out
    return predict


def test_mc_modes_mixed_and_nested():
    with pytest.raises(AssertionError, match="mixed modes"):
        check.mc_dropout_predict(_mc(restore="top"))
    with pytest.raises(AssertionError, match="nested nn.Sequential"):
        check.mc_dropout_predict(_mc(set_modes="children"))
    check.mc_dropout_predict(_mc())


def test_forward_checker_never_rejects_a_correct_answer_in_many_runs():
    """10 independent runs of the statistical tests (each with false-alarm rate ≤ 1e-5 per test); seeded, so
    that the test itself is deterministic."""
    for seed in range(10):
        torch.manual_seed(1000 + seed)
        check.dropout_forward(_bernoulli_forward)


@settings(max_examples=8, deadline=None)
@given(st.floats(0.03, 0.5), st.sampled_from(["rate", "scale"]))
def test_forward_property_wrong_rate_or_scale_fails(eps, how):
    """Dropping at p + eps, or scaling survivors by (1 + eps)/(1 − p), is rejected."""
    def wrong(x, p, training=True):
        if not training:
            return x, None
        q = min(p + eps, 1.0) if how == "rate" else p
        mask = (torch.rand_like(x) >= q).to(x.dtype)
        scale = (1 + eps) if how == "scale" else 1.0
        return (x * mask * scale / (1 - p) if p < 1 else torch.zeros_like(x)), (mask, p)

    with pytest.raises(AssertionError):
        check.dropout_forward(wrong)


@settings(max_examples=8, deadline=None)
@given(st.floats(1e-3, 0.5))
def test_backward_property(eps):
    with pytest.raises(AssertionError):
        check.dropout_backward(lambda dout, cache: dout * cache[0] / (1 - cache[1]) * (1 + eps)
                               if cache[1] < 1 else torch.zeros_like(dout))


@settings(max_examples=3, deadline=None)
@given(st.sampled_from([0, 2, 5]))
def test_mc_property_any_module_left_in_the_wrong_mode_fails(k):
    """Leaving one module of the restored model in the wrong mode is rejected."""
    @torch.no_grad()
    def wrong(model, x, n_samples):
        out = _mc()(model, x, n_samples)
        modules = list(model.modules())
        m = modules[min(k, len(modules) - 1)]
        m.training = not m.training
        return out

    with pytest.raises(AssertionError):
        check.mc_dropout_predict(wrong)


def test_mc_with_fewer_passes_than_n_samples():
    @torch.no_grad()
    def fifty_passes(model, x, n_samples):
        return _mc()(model, x, min(n_samples, 50))

    with pytest.raises(AssertionError, match="ran 50 forward passes"):
        check.mc_dropout_predict(fifty_passes)

    @torch.no_grad()
    def batched(model, x, n_samples):  # all passes as one batch: a correct variant
        modes = [(m, m.training) for m in model.modules()]
        for m, _ in modes:
            m.training = isinstance(m, ref.DROPOUT_MODULES)
        logits = model(x.repeat(n_samples, 1)).view(n_samples, len(x), -1)
        for m, mode in modes:
            m.training = mode
        return torch.softmax(logits, -1).mean(0)

    check.mc_dropout_predict(batched)
