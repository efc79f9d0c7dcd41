"""reglib.ensembles against closed forms, brute force and one-at-a-time training."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from reglib.ensembles import (
    StackedMLP,
    ambiguity_decomposition,
    bootstrap_indices,
    ensemble_predict,
    l2_sp_penalty,
    member_probs,
    out_of_bag_mask,
    stack_member_data,
    stacked_cross_entropy,
)
from reglib.models import MLP
from reglib.penalties import l2_penalty
from reglib.train import fit
from reglib.utils import set_seed


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_indices_are_uniform_with_replacement():
    n, draws = 50, 200_000
    idx = bootstrap_indices(n, gen(0), size=draws)
    assert idx.dtype == torch.int64 and idx.shape == (draws,)
    assert idx.min() >= 0 and idx.max() < n
    counts = torch.bincount(idx, minlength=n).double()
    # each count is Binomial(draws, 1/n): a 5σ band
    sd = math.sqrt(draws * (1 / n) * (1 - 1 / n))
    assert (counts - draws / n).abs().max() < 5 * sd


def test_bootstrap_covers_one_minus_one_over_e():
    # a bootstrap sample of size n holds 1 - (1 - 1/n)^n of the distinct points on average
    n, reps = 1000, 200
    frac = torch.tensor([1 - out_of_bag_mask(bootstrap_indices(n, gen(s)), n).double().mean().item()
                         for s in range(reps)])
    expected = 1 - (1 - 1 / n) ** n
    assert abs(frac.mean().item() - expected) < 5 * frac.std().item() / math.sqrt(reps)
    assert abs(expected - (1 - math.exp(-1))) < 1e-3


def test_bootstrap_is_reproducible_and_default_size_n():
    assert torch.equal(bootstrap_indices(30, gen(3)), bootstrap_indices(30, gen(3)))
    assert bootstrap_indices(30, gen(3)).shape == (30,)
    assert not torch.equal(bootstrap_indices(30, gen(3)), bootstrap_indices(30, gen(4)))


def test_out_of_bag_mask_brute_force():
    idx = torch.tensor([0, 2, 2, 5])
    expected = torch.tensor([i not in {0, 2, 5} for i in range(7)])
    assert torch.equal(out_of_bag_mask(idx, 7), expected)


@pytest.mark.parametrize("kwargs, name", [
    (dict(n=0), "n"), (dict(n=2.5), "n"), (dict(n=5, size=0), "size"), (dict(n=True), "n"),
])
def test_bootstrap_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        bootstrap_indices(**kwargs)


@pytest.mark.parametrize("indices, n, name", [
    (torch.tensor([0.0, 1.0]), 3, "indices"), (torch.tensor([[0, 1]]), 3, "indices"),
    (torch.tensor([0, 3]), 3, "indices"), (torch.tensor([-1]), 3, "indices"), (torch.tensor([0]), 0, "n"),
])
def test_out_of_bag_rejects_bad_arguments(indices, n, name):
    with pytest.raises(ValueError, match=name):
        out_of_bag_mask(indices, n)


# --------------------------------------------------------------------------- predicting


def _models(k=3, dropout=0.0):
    set_seed(0)
    return [MLP(6, 4, hidden=(8,), dropout=dropout) for _ in range(k)]


def test_ensemble_predict_averages_probabilities():
    models, x = _models(), torch.randn(5, 6, generator=gen(1))
    with torch.no_grad():
        expected = torch.stack([torch.softmax(m(x), -1) for m in models]).mean(0)
        logit_mean = torch.softmax(torch.stack([m(x) for m in models]).mean(0), -1)
    out = ensemble_predict(models, x)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(out.sum(-1), torch.ones(5))
    assert not torch.allclose(out, logit_mean, atol=1e-4)  # a different ensemble


def test_member_probs_uses_eval_mode_and_restores_modes():
    models, x = _models(dropout=0.5), torch.randn(5, 6, generator=gen(1))
    for m in models:
        m.train()
    a, b = member_probs(models, x), member_probs(models, x)
    torch.testing.assert_close(a, b)  # deterministic: dropout is off
    assert all(m.training for m in models) and all(mod.training for m in models for mod in m.modules())
    with torch.no_grad():
        expected = torch.stack([torch.softmax(m.eval()(x), -1) for m in models])
    torch.testing.assert_close(a, expected)
    assert a.shape == (3, 5, 4)


def test_member_probs_accepts_a_stacked_model_and_mixes():
    set_seed(0)
    stacked = StackedMLP(2, 6, 4, hidden=(8,))
    single = MLP(6, 4, hidden=(8,))
    x = torch.randn(5, 6, generator=gen(2))
    out = member_probs([stacked, single], x)
    assert out.shape == (3, 5, 4)
    torch.testing.assert_close(out[0], torch.softmax(stacked.member(0)(x), -1).detach())
    torch.testing.assert_close(out[2], torch.softmax(single(x), -1).detach())
    torch.testing.assert_close(ensemble_predict(stacked, x), out[:2].mean(0))


@pytest.mark.parametrize("models, name", [([], "models"), ([nn.Linear(6, 4), "no"], "models"), (3, "models")])
def test_member_probs_rejects_bad_models(models, name):
    with pytest.raises(ValueError, match=name):
        member_probs(models, torch.randn(2, 6))


def test_member_probs_rejects_bad_outputs():
    with pytest.raises(ValueError, match="x must"):
        member_probs(_models(), [[0.0] * 6])
    with pytest.raises(ValueError, match="logits of shape"):
        member_probs(nn.Flatten(0), torch.randn(2, 6))


# --------------------------------------------------------------------------- ambiguity decomposition


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 20), st.integers(2, 5), st.integers(0, 1000))
def test_ambiguity_decomposition_is_an_identity(M, N, K, seed):
    g = gen(seed)
    probs = torch.softmax(torch.randn(M, N, K, generator=g, dtype=torch.float64), -1)
    y = torch.randint(K, (N,), generator=g)
    out = ambiguity_decomposition(probs, y)
    assert out["ambiguity"] >= 0
    assert math.isclose(out["ensemble_error"], out["member_error"] - out["ambiguity"], rel_tol=1e-10, abs_tol=1e-12)


def test_ambiguity_decomposition_brute_force():
    g = gen(5)
    probs = torch.softmax(torch.randn(4, 7, 3, generator=g, dtype=torch.float64), -1)
    y = torch.randint(3, (7,), generator=g)
    onehot = F.one_hot(y, 3).double()
    ens = sum(((probs.mean(0)[n] - onehot[n]) ** 2).sum() for n in range(7)) / 7
    mem = sum(((probs[m, n] - onehot[n]) ** 2).sum() for m in range(4) for n in range(7)) / 28
    amb = sum(((probs[m, n] - probs.mean(0)[n]) ** 2).sum() for m in range(4) for n in range(7)) / 28
    out = ambiguity_decomposition(probs, y)
    assert math.isclose(out["ensemble_error"], ens.item(), rel_tol=1e-12)
    assert math.isclose(out["member_error"], mem.item(), rel_tol=1e-12)
    assert math.isclose(out["ambiguity"], amb.item(), rel_tol=1e-12)
    # probability targets equal to the one-hot vectors give the same numbers
    assert ambiguity_decomposition(probs, onehot) == pytest.approx(out)


def test_ambiguity_decomposition_regression_and_identical_members():
    preds = torch.tensor([[1.0, 2.0], [3.0, 2.0]])
    out = ambiguity_decomposition(preds, torch.tensor([2.0, 2.0]))
    assert out == pytest.approx({"ensemble_error": 0.0, "member_error": 0.5, "ambiguity": 0.5})
    same = ambiguity_decomposition(preds[:1].expand(3, 2), torch.tensor([0.0, 0.0]))
    assert same["ambiguity"] == 0 and same["ensemble_error"] == pytest.approx(same["member_error"])


@pytest.mark.parametrize("preds, target, name", [
    (torch.rand(3), torch.tensor([0]), "member_preds"),
    (torch.rand(2, 3, 4), torch.tensor([0, 1]), "target"),
    (torch.rand(2, 3, 4), torch.tensor([0, 1, 4]), "target"),
    (torch.rand(2, 3, 4), torch.rand(3, 5), "target"),
    (torch.rand(2, 3), torch.rand(4), "target"),
    (torch.rand(2, 3), [0.0, 1.0, 2.0], "target"),
])
def test_ambiguity_decomposition_rejects_bad_arguments(preds, target, name):
    with pytest.raises(ValueError, match=name):
        ambiguity_decomposition(preds, target)


# --------------------------------------------------------------------------- L2-SP


def _pretrained_pair():
    set_seed(0)
    pre, model = MLP(5, 3, hidden=(4,)), MLP(5, 3, hidden=(4,))
    reference = {k: v.detach().clone() for k, v in pre.state_dict().items()}
    return model, reference


def test_l2_sp_matches_closed_form_and_gradient():
    model, ref = _pretrained_pair()
    lam = 0.3
    expected = lam / 2 * sum(((p - ref[n]) ** 2).sum() for n, p in model.named_parameters())
    out = l2_sp_penalty(model, ref, lam)
    torch.testing.assert_close(out, expected)
    assert out.ndim == 0
    out.backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, lam * (p.detach() - ref[n]))


def test_l2_sp_with_zero_reference_is_l2_and_zero_at_the_reference():
    model, ref = _pretrained_pair()
    zeros = {k: torch.zeros_like(v) for k, v in ref.items()}
    torch.testing.assert_close(l2_sp_penalty(model, zeros, 0.7), l2_penalty(model.parameters(), 0.7))
    model.load_state_dict(ref)
    assert l2_sp_penalty(model, ref, 5.0).item() == 0.0


def test_l2_sp_skips_parameters_missing_from_reference_and_ignores_extras():
    model, ref = _pretrained_pair()
    body = {k: v for k, v in ref.items() if not k.startswith("3.")}  # no head
    expected = 0.5 * sum(((p - ref[n]) ** 2).sum() for n, p in model.named_parameters() if not n.startswith("3."))
    torch.testing.assert_close(l2_sp_penalty(model, {**body, "unused.buffer": torch.ones(2)}, 1.0), expected)


def test_l2_sp_gradcheck_float64():
    model, ref = _pretrained_pair()
    model.double()
    ref = {k: v.double() for k, v in ref.items()}
    w = model[1].weight

    def f(weight):
        with torch.no_grad():
            model[1].weight.copy_(weight)
        return l2_sp_penalty(model, ref, 0.4)

    # the penalty is quadratic: its gradient must equal the finite difference of a step along any direction
    direction = torch.randn_like(w)
    eps = 1e-6
    base = w.detach().clone()
    num = (f(base + eps * direction) - f(base - eps * direction)) / (2 * eps)
    with torch.no_grad():
        model[1].weight.copy_(base)
    model.zero_grad()
    l2_sp_penalty(model, ref, 0.4).backward()
    torch.testing.assert_close((model[1].weight.grad * direction).sum(), num, rtol=1e-6, atol=1e-8)


def test_l2_sp_reference_gets_no_gradient():
    model, ref = _pretrained_pair()
    ref = {k: v.clone().requires_grad_(True) for k, v in ref.items()}
    l2_sp_penalty(model, ref, 1.0).backward()
    assert all(v.grad is None for v in ref.values())


@pytest.mark.parametrize("args, name", [
    ((None, {}, 1.0), "model"),
    (("model", [1, 2], 1.0), "reference"),
    (("model", {"3.weight": torch.zeros(2, 2)}, 1.0), "reference"),
    (("model", {"nothing": torch.zeros(1)}, 1.0), "reference"),
    (("model", "ref", -1.0), "lam"),
    (("model", "ref", float("nan")), "lam"),
])
def test_l2_sp_rejects_bad_arguments(args, name):
    model, ref = _pretrained_pair()
    args = tuple(model if a == "model" else ref if a == "ref" else a for a in args)
    with pytest.raises(ValueError, match=name):
        l2_sp_penalty(*args)


# --------------------------------------------------------------------------- StackedMLP


def test_stacked_members_are_the_mlps_set_seed_would_give():
    set_seed(7)
    stacked = StackedMLP(3, 6, 4, hidden=(8, 5))
    set_seed(7)
    mlps = [MLP(6, 4, hidden=(8, 5)) for _ in range(3)]
    x = torch.randn(10, 6, generator=gen(0))
    out = stacked(x)
    assert out.shape == (3, 10, 4)
    for m, mlp in enumerate(mlps):
        torch.testing.assert_close(out[m], mlp(x))
        torch.testing.assert_close(stacked.member(m)(x), mlp(x))
    again = StackedMLP.from_mlps(mlps)
    torch.testing.assert_close(again(x), out)


def test_stacked_per_member_inputs():
    set_seed(0)
    stacked = StackedMLP(2, 6, 4, hidden=(8,))
    x = torch.randn(10, 2, 6, generator=gen(0))
    out = stacked(x)
    for m in range(2):
        torch.testing.assert_close(out[m], stacked.member(m)(x[:, m]))


def test_stacked_training_equals_training_each_member_alone():
    """One fit of a StackedMLP on stacked data == fitting each MLP on its own rows (same batches)."""
    n, M = 40, 3
    g = gen(0)
    x, y = torch.randn(n, 6, generator=g, dtype=torch.float64), torch.randint(4, (n,), generator=g)
    idx = torch.stack([torch.randperm(n, generator=g) for _ in range(M - 1)] + [bootstrap_indices(n, g)])
    set_seed(3)
    stacked = StackedMLP(M, 6, 4, hidden=(8,)).double()
    members = [stacked.member(m).double() for m in range(M)]
    xs, ys = stack_member_data(x, y, idx)
    fit(stacked, (xs, ys), loss_fn=stacked_cross_entropy, epochs=3, batch_size=16, lr=1e-2, eval_train=False,
        seed=5, device="cpu", progress=False)
    for m, mlp in enumerate(members):
        # fit shuffles rows with the same generator, so member m sees x[idx[m]] in the same order
        fit(mlp, (x[idx[m]], y[idx[m]]), epochs=3, batch_size=16, lr=1e-2, eval_train=False, seed=5,
            device="cpu", progress=False)
        torch.testing.assert_close(stacked(x)[m], mlp(x), rtol=1e-9, atol=1e-10)


def test_stacked_dropout_masks_differ_between_members():
    set_seed(0)
    stacked = StackedMLP(2, 6, 4, hidden=(50,), dropout=0.5)
    stacked._load([stacked.member(0)] * 2)  # two identical members
    x = torch.randn(8, 6, generator=gen(0))
    out = stacked.train()(x)
    assert not torch.allclose(out[0], out[1])  # same weights, independent masks
    with torch.no_grad():
        ev = stacked.eval()(x)
    torch.testing.assert_close(ev[0], ev[1])


def test_stacked_cross_entropy_is_the_sum_of_member_losses():
    logits = torch.randn(3, 5, 4, generator=gen(0))
    y = torch.randint(4, (5,), generator=gen(1))
    expected = sum(F.cross_entropy(logits[m], y) for m in range(3))
    torch.testing.assert_close(stacked_cross_entropy(logits, y), expected)
    y2 = torch.randint(4, (5, 3), generator=gen(2))
    expected = sum(F.cross_entropy(logits[m], y2[:, m]) for m in range(3))
    torch.testing.assert_close(stacked_cross_entropy(logits, y2), expected)


def test_stack_member_data_brute_force():
    x, y = torch.arange(12.0).view(6, 2), torch.arange(6)
    idx = torch.tensor([[5, 4, 3, 2, 1, 0], [0, 0, 1, 1, 2, 2]])
    xs, ys = stack_member_data(x, y, idx)
    assert xs.shape == (6, 2, 2) and ys.shape == (6, 2)
    for i, m in itertools.product(range(6), range(2)):
        assert torch.equal(xs[i, m], x[idx[m, i]]) and ys[i, m] == y[idx[m, i]]


@pytest.mark.parametrize("call, name", [
    (lambda: StackedMLP(0, 4, 2), "num_members"),
    (lambda: StackedMLP(2, 4, 2, dropout=1.0), "dropout"),
    (lambda: StackedMLP(2, 4, 2).member(2), "m"),
    (lambda: StackedMLP(2, 4, 2)(torch.randn(3, 3, 4)), "x must"),
    (lambda: StackedMLP.from_mlps([]), "mlps"),
    (lambda: stacked_cross_entropy(torch.randn(5, 4), torch.zeros(5, dtype=torch.long)), "logits"),
    (lambda: stacked_cross_entropy(torch.randn(2, 5, 4), torch.zeros(4, dtype=torch.long)), "target"),
    (lambda: stack_member_data(torch.randn(4, 2), torch.zeros(4), torch.tensor([0, 1])), "indices"),
    (lambda: stack_member_data(torch.randn(4, 2), torch.zeros(4), torch.tensor([[0, 4]])), "indices"),
    (lambda: stack_member_data(torch.randn(4, 2), torch.zeros(3), torch.tensor([[0, 1]])), "same number"),
])
def test_stacked_helpers_reject_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()
