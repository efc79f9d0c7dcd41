"""The chapter 07 checkers accept reglib's reference and reject each named mistake with its hint."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reglib import check
from reglib import normalization as ref

# --------------------------------------------------------------------------- task 1: batch-norm forward


def good_bn_forward(x, gamma, beta, eps=1e-5):
    return ref.batch_norm_forward(x, gamma, beta, eps)[0]


def _bn_like(dim, unbiased=False, eps_outside=False, eps_override=None, affine="ok"):
    """A forward pass along ``dim`` with one deliberate mistake."""
    def forward(x, gamma, beta, eps=1e-5):
        e = eps if eps_override is None else eps_override
        centred = x - x.mean(dim, keepdim=True)
        var = x.var(dim, unbiased=unbiased, keepdim=True)
        x_hat = centred / (var.sqrt() + e if eps_outside else (var + e).sqrt())
        if affine == "swapped":
            return beta * x_hat + gamma
        if affine == "none":
            return x_hat
        if affine == "no_beta":
            return gamma * x_hat
        return gamma * x_hat + beta
    return forward


def test_bn_forward_accepts_reference_and_cache_pairs(capsys):
    check.batch_norm_forward(good_bn_forward)
    check.batch_norm_forward(lambda x, g, b, eps=1e-5: ref.batch_norm_forward(x, g, b, eps))  # (out, cache)
    assert "✔ batch_norm_forward" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, hint", [
    (_bn_like(0, unbiased=True), "unbiased variance"),
    (_bn_like(0, eps_outside=True), "eps is outside the square root"),
    (_bn_like(0, eps_override=1e-5), "ignores its eps argument"),
    (_bn_like(0, eps_override=0.0), "ignores its eps argument"),
    (_bn_like(1), "that is layer norm"),
    (_bn_like(0, affine="swapped"), "gamma and beta are swapped"),
    (_bn_like(0, affine="none"), "you returned x_hat"),
    (_bn_like(0, affine="no_beta"), "the shift beta is missing"),
])
def test_bn_forward_names_each_mistake(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.batch_norm_forward(candidate)


def test_bn_forward_checks_the_default_eps():
    def wrong_default(x, gamma, beta, eps=1e-3):
        return good_bn_forward(x, gamma, beta, eps)
    with pytest.raises(AssertionError, match="default must be eps=1e-5"):
        check.batch_norm_forward(wrong_default)


def _not_implemented(*args, **kwargs):
    raise NotImplementedError()


def _mutating_forward(x, gamma, beta, eps=1e-5):
    x -= x.mean(0)
    return good_bn_forward(x, gamma, beta, eps)


@pytest.mark.parametrize("candidate, hint", [
    (_not_implemented, "not implemented yet"),
    (lambda x, g, b, eps=1e-5: good_bn_forward(x, g, b, eps) * float("nan"), "NaN"),
    (lambda x, g, b, eps=1e-5: good_bn_forward(x, g, b, eps)[:, :2], "shape"),
    (lambda x, g, b, eps=1e-5: good_bn_forward(x, g, b, eps).float(), "dtype"),
    (lambda x, g, b, eps=1e-5: None, "forget `return`"),
    (_mutating_forward, "modified its input `x` in place"),
])
def test_bn_forward_rejects_broken_candidates(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.batch_norm_forward(candidate)


# --------------------------------------------------------------------------- task 2: batch-norm backward


def _stats(x, eps, unbiased=False, eps_outside=False):
    mu = x.mean(0)
    var = x.var(0, unbiased=unbiased)
    s = var.sqrt() + eps if eps_outside else (var + eps).sqrt()
    return (x - mu) / s, s


def make_backward(mistake=None):
    def backward(dout, x, gamma, eps=1e-5):
        n = x.shape[0]
        x_hat, s = _stats(x, eps, unbiased=mistake == "unbiased", eps_outside=mistake == "eps_outside")
        g = dout if mistake == "no_gamma" else gamma * dout
        mean_term = 0 if mistake == "no_mean" else g.sum(0)
        var_term = 0 if mistake == "no_var" else x_hat * (g * x_hat).sum(0)
        dx = (n * g - mean_term - var_term) / (n * s)
        if mistake == "direct_only":
            dx = g / s
        if mistake == "sign":
            dx = -dx
        dgamma, dbeta = (dout * x_hat).sum(0), dout.sum(0)
        if mistake == "swap_params":
            dgamma, dbeta = dbeta, dgamma
        if mistake == "dgamma_x":
            dgamma = (dout * x).sum(0)
        if mistake == "dgamma_times_gamma":
            dgamma = (g * x_hat).sum(0)
        if mistake == "dbeta_mean":
            dbeta = dout.mean(0)
        return dx, dgamma, dbeta
    return backward


def test_bn_backward_accepts_reference_and_manual(capsys):
    def via_reglib(dout, x, gamma, eps=1e-5):
        return ref.batch_norm_backward(dout, ref.batch_norm_forward(x, gamma, torch.zeros_like(gamma), eps)[1])
    check.batch_norm_backward(via_reglib)
    check.batch_norm_backward(make_backward())
    assert capsys.readouterr().out.count("✔ batch_norm_backward") == 2


def test_bn_backward_accepts_autograd_answer():
    def via_autograd(dout, x, gamma, eps=1e-5):
        x, gamma = x.clone().requires_grad_(True), gamma.clone().requires_grad_(True)
        beta = torch.zeros_like(gamma, requires_grad=True)
        out = torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
        return torch.autograd.grad(out, (x, gamma, beta), dout)
    check.batch_norm_backward(via_autograd)


@pytest.mark.parametrize("mistake, hint", [
    ("no_mean", "forgot the mean term"),
    ("no_var", "forgot the variance term"),
    ("direct_only", "treats the batch statistics as constants"),
    ("no_gamma", "gamma is missing from dx"),
    ("unbiased", "unbiased variance"),
    ("eps_outside", "outside the square root"),
    ("sign", "wrong sign"),
    ("swap_params", "that is dbeta"),
    ("dgamma_x", "uses x instead of the normalized x_hat"),
    ("dgamma_times_gamma", "multiplied by gamma"),
    ("dbeta_mean", "dbeta is a mean"),
])
def test_bn_backward_names_each_mistake(mistake, hint):
    with pytest.raises(AssertionError, match=hint):
        check.batch_norm_backward(make_backward(mistake))


def _mutating_backward(dout, x, gamma, eps=1e-5):
    dout *= 1.0 + 1e-3
    return make_backward()(dout, x, gamma, eps)


@pytest.mark.parametrize("candidate, hint", [
    (_not_implemented, "not implemented yet"),
    (lambda dout, x, g, eps=1e-5: make_backward()(dout, x, g, eps)[:2], "three tensors"),
    (lambda dout, x, g, eps=1e-5: None, "forget `return`"),
    (lambda dout, x, g, eps=1e-5: tuple(t * float("nan") for t in make_backward()(dout, x, g, eps)), "NaN"),
    (lambda dout, x, g, eps=1e-5: (make_backward()(dout, x, g, eps)[0].T,) + make_backward()(dout, x, g, eps)[1:],
     "shape"),
    (_mutating_backward, "modified its input `dout` in place"),
])
def test_bn_backward_rejects_broken_candidates(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.batch_norm_backward(candidate)


# --------------------------------------------------------------------------- task 3: layer-norm forward


def test_ln_forward_accepts_reference(capsys):
    check.layer_norm_forward(lambda x, g, b, eps=1e-5: ref.layer_norm_forward(x, g, b, eps)[0])
    check.layer_norm_forward(lambda x, g, b, eps=1e-5: torch.nn.functional.layer_norm(x, (x.shape[1],), g, b, eps))
    assert capsys.readouterr().out.count("✔ layer_norm_forward") == 2


@pytest.mark.parametrize("candidate, hint", [
    (_bn_like(1, unbiased=True), "unbiased variance"),
    (_bn_like(1, eps_outside=True), "eps is outside the square root"),
    (_bn_like(1, eps_override=1e-5), "ignores its eps argument"),
    (_bn_like(0), "that is batch norm"),
    (_bn_like(1, affine="swapped"), "gamma and beta are swapped"),
    (_bn_like(1, affine="none"), "you returned x_hat"),
    (_not_implemented, "not implemented yet"),
    (lambda x, g, b, eps=1e-5: ref.layer_norm_forward(x, g, b, eps)[0][:1], "shape"),
])
def test_ln_forward_names_each_mistake(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.layer_norm_forward(candidate)


# --------------------------------------------------------------------------- task 4: training-mode accuracy


def good_train_mode_accuracy(model, x, y, batch_size):
    model = copy.deepcopy(model).train()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    return correct / len(y)


def eval_mode_accuracy(model, x, y, batch_size):
    with torch.no_grad():
        return (model.eval()(x).argmax(1) == y).float().mean().item()


def one_batch(model, x, y, batch_size):
    return good_train_mode_accuracy(model, x, y, len(y))


def updates_running_stats(model, x, y, batch_size):
    model.train()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    model.eval()
    return correct / len(y)


def leaves_train_mode(model, x, y, batch_size):
    state = copy.deepcopy(model.state_dict())
    acc = updates_running_stats(model, x, y, batch_size)
    model.load_state_dict(state)
    model.train()
    return acc


def mean_of_batches(model, x, y, batch_size):
    model = copy.deepcopy(model).train()
    accs = []
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            accs.append((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).float().mean().item())
    return sum(accs) / len(accs)


def drops_last(model, x, y, batch_size):
    model = copy.deepcopy(model).train()
    n = len(y) // batch_size * batch_size
    with torch.no_grad():
        return sum((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
                   for i in range(0, n, batch_size)) / n


def test_train_mode_accuracy_accepts_reference(capsys):
    check.train_mode_accuracy(good_train_mode_accuracy)
    assert "✔ train_mode_accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, hint", [
    (eval_mode_accuracy, "eval-mode accuracy"),
    (one_batch, "as one batch"),
    (updates_running_stats, "changed the model's running statistics"),
    (leaves_train_mode, "left the model in training mode"),
    (mean_of_batches, "averaged the accuracies of the batches"),
    (drops_last, "dropped the last, smaller batch"),
    (_not_implemented, "not implemented yet"),
    (lambda model, x, y, b: float("nan"), "returned nan"),
    (lambda model, x, y, b: torch.ones(3), "single number"),
    (lambda model, x, y, b: 100 * good_train_mode_accuracy(model, x, y, b), "you returned a percentage"),
    (lambda model, x, y, b: good_train_mode_accuracy(model, x, y, b) * len(y), "number of correct predictions"),
    (lambda model, x, y, b: good_train_mode_accuracy(model, x, y, b) + 0.05,
     "divide the number of correct predictions over all samples by len"),
])
def test_train_mode_accuracy_names_each_mistake(candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        check.train_mode_accuracy(candidate)


def test_setup_returns_fresh_copies_in_eval_mode():
    m1, x1, _ = check.bn_exercise_setup()
    m2, _, _ = check.bn_exercise_setup()
    assert not m1.training and m1 is not m2
    with torch.no_grad():
        m1[2].running_mean.add_(1.0)
        x1.add_(1.0)
    m3, x3, _ = check.bn_exercise_setup()
    assert torch.equal(m3[2].running_mean, m2[2].running_mean) and not torch.equal(x3, x1)


@functools.lru_cache(maxsize=1)
def _experiment():
    model, x, y = check.bn_exercise_setup()
    results = {b: good_train_mode_accuracy(model, x, y, b) for b in check.TRAIN_MODE_BATCHES}
    acc_eval = eval_mode_accuracy(model, x, y, None)
    safe = min(b for b in results if abs(results[b] - acc_eval) <= 0.03)
    return results, acc_eval, safe, model, x, y


def test_train_mode_results_accepts_reference(capsys):
    results, acc_eval, safe, *_ = _experiment()
    check.train_mode_results(results, acc_eval, safe)
    assert "✔ train_mode_results" in capsys.readouterr().out
    assert results[2] < acc_eval - 0.1  # the experiment shows the effect it is about


def test_train_mode_results_rejects_wrong_values():
    results, acc_eval, safe, model, x, y = _experiment()
    with pytest.raises(AssertionError, match="measured in training mode"):
        check.train_mode_results(results, good_train_mode_accuracy(model, x, y, len(y)), safe)
    with pytest.raises(AssertionError, match="eval mode on x_val"):
        check.train_mode_results(results, acc_eval + 0.01, safe)
    with pytest.raises(AssertionError, match=r"results\[8\]"):
        check.train_mode_results({**results, 8: acc_eval}, acc_eval, safe)
    with pytest.raises(AssertionError, match="as keys"):
        check.train_mode_results({b: results[b] for b in (2, 8)}, acc_eval, safe)
    with pytest.raises(AssertionError, match="a dict"):
        check.train_mode_results([0.1, 0.2], acc_eval, safe)
    with pytest.raises(AssertionError, match="smallest_safe_batch"):
        check.train_mode_results(results, acc_eval, 800 if safe != 800 else 2)
    with pytest.raises(AssertionError, match="smallest_safe_batch"):
        check.train_mode_results(results, acc_eval, None)


def test_train_mode_results_rejects_percentages():
    results, acc_eval, safe, *_ = _experiment()
    with pytest.raises(AssertionError, match=r"results\[2\] = .* is a percentage"):
        check.train_mode_results({b: 100 * a for b, a in results.items()}, acc_eval, safe)
    with pytest.raises(AssertionError, match="`eval_accuracy` = .* is a percentage"):
        check.train_mode_results(results, 100 * acc_eval, safe)


# --------------------------------------------------------------------------- task 5: conceptual questions


@pytest.mark.parametrize("question, right, wrong, hint", [
    ("07.batch_of_one", "a", "c", "the case N = 2"),
    ("07.batch_of_one", "a", "d", "only evaluation mode"),
    ("07.layer_norm_depends_on_batch", False, True, "features of one sample"),
    ("07.dropout_variance", "smaller", "equal", "preserves the mean, not the variance"),
    ("07.dropout_variance", "smaller", "larger", "in training only"),
    ("07.noisy_bn", "b", "a", "section 8"),
])
def test_conceptual_answers(question, right, wrong, hint, assert_answer):
    assert_answer(question, right, {wrong: hint})


def test_layer_norm_answer_accepts_string_spelling():
    check.answer("07.layer_norm_depends_on_batch", "False")


# --------------------------------------------------------------------------- issue: mistakes the fixed inputs missed
# Wrong answers written from the task text alone (before reading the tests above); each must be rejected with
# the hint that names it, and every legitimate way of computing the answer must pass.


def _bn_global(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean()) / (x.var(unbiased=False) + eps).sqrt() + beta


def _backward_fixed_eps(dout, x, gamma, eps=1e-5):
    return make_backward()(dout, x, gamma, 1e-5)


def _backward_wrong_default(dout, x, gamma, eps=1e-3):
    return make_backward()(dout, x, gamma, eps)


@pytest.mark.parametrize("checker, candidate, hint", [
    ("batch_norm_forward", _bn_global, "one mean and one variance for the whole tensor"),
    ("layer_norm_forward", _bn_global, "one mean and one variance for the whole tensor"),
    ("batch_norm_backward", _backward_fixed_eps, "ignores its eps argument"),
    ("batch_norm_backward", _backward_wrong_default, "default must be eps=1e-5"),
])
def test_normalization_mistakes_found_by_new_inputs(checker, candidate, hint):
    with pytest.raises(AssertionError, match=hint):
        getattr(check, checker)(candidate)


@pytest.mark.parametrize("candidate", [
    lambda x, g, b, eps=1e-5: torch.nn.functional.batch_norm(x, None, None, g, b, training=True, eps=eps),
    lambda x, g, b, eps=1e-5: (x - x.mean(0)) * torch.rsqrt(x.var(0, unbiased=False) + eps) * g + b,
    lambda x, g, b, eps=1e-5: (lambda v, m: g * (x - m) / (v + eps).sqrt() + b)(*torch.var_mean(x, 0, correction=0)),
    # computed in float32 and returned in the input's dtype: right to float32 precision
    lambda x, g, b, eps=1e-5: good_bn_forward(x.float(), g.float(), b.float(), eps).to(x.dtype),
])
def test_bn_forward_accepts_pytorch_alternatives(candidate):
    check.batch_norm_forward(candidate)


def _restores_top_level_flag(model, x, y, batch_size):
    """Saves the statistics and `model.training`, then `model.train(was)`: resets every submodule's mode."""
    was = model.training
    state = copy.deepcopy(model.state_dict())
    model.train()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    model.load_state_dict(state)
    model.train(was)
    return correct / len(y)


def _always_back_to_eval(model, x, y, batch_size):
    acc = _restores_top_level_flag(model, x, y, batch_size)
    model.eval()
    return acc


def _restores_every_module(model, x, y, batch_size):
    modes = {m: m.training for m in model.modules()}
    state = copy.deepcopy(model.state_dict())
    acc = _restores_top_level_flag(model, x, y, batch_size)
    model.load_state_dict(state)
    for m, mode in modes.items():
        m.training = mode
    return acc


def _freezes_parameters(model, x, y, batch_size):
    for p in model.parameters():
        p.requires_grad_(False)
    return good_train_mode_accuracy(model, x, y, batch_size)


def _shuffles(model, x, y, batch_size):
    order = torch.randperm(len(y))
    return good_train_mode_accuracy(model, x[order], y[order], batch_size)


def _zero_momentum(model, x, y, batch_size):
    """Keeps the statistics from updating with momentum = 0, restores the modes, forgets the momentum."""
    modes = {m: m.training for m in model.modules()}
    for m in model.modules():
        if hasattr(m, "momentum"):
            m.momentum = 0.0
    model.train()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    for m, mode in modes.items():
        m.training = mode
    return correct / len(y)


@pytest.mark.parametrize("candidate, hint", [
    (_always_back_to_eval, "came in training mode and left in eval mode"),
    (_restores_top_level_flag, "submodules in different modes"),
    (_freezes_parameters, "requires_grad"),
    (_shuffles, "two different accuracies"),
    (_zero_momentum, "batch-norm layers' settings"),
])
def test_train_mode_accuracy_checks_the_state_it_leaves(candidate, hint):
    torch.manual_seed(0)  # _shuffles draws from the global generator: pin its draws
    with pytest.raises(AssertionError, match=hint):
        check.train_mode_accuracy(candidate)


def test_train_mode_accuracy_accepts_restoring_every_module():
    check.train_mode_accuracy(_restores_every_module)


# --------------------------------------------------------------------------- property-based (hypothesis)
# Random perturbations of a correct answer: those at float precision (what a legitimate alternative differs
# by) must pass, those that break the contract must fail. derandomize=True: the same examples on every run.

PROP = settings(max_examples=10, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
_FORWARDS = {"batch_norm_forward": good_bn_forward,
             "layer_norm_forward": lambda x, g, b, eps=1e-5: ref.layer_norm_forward(x, g, b, eps)[0]}


@PROP
@given(checker=st.sampled_from(sorted(_FORWARDS)), rel=st.floats(-1e-12, 1e-12))
def test_forward_accepts_float_precision_changes(checker, rel):
    getattr(check, checker)(lambda x, g, b, eps=1e-5: _FORWARDS[checker](x, g, b, eps) * (1 + rel))


@PROP
@given(checker=st.sampled_from(sorted(_FORWARDS)), kind=st.sampled_from(["scale", "column", "eps"]),
       size=st.floats(1e-3, 0.5), column=st.integers(0, 4), sign=st.sampled_from([-1, 1]))
def test_forward_rejects_contract_breaking_changes(checker, kind, size, column, sign):
    good = _FORWARDS[checker]

    def broken(x, g, b, eps=1e-5):
        if kind == "eps":
            return good(x, g, b, eps * (1 + 100 * size) ** sign)
        out = good(x, g, b, eps)
        if kind == "scale":
            return out * (1 + sign * size)
        return out + sign * size * (torch.arange(x.shape[1]) == column % x.shape[1]).to(x.dtype)

    with pytest.raises(AssertionError):
        getattr(check, checker)(broken)


@PROP
@given(which=st.integers(0, 2), size=st.floats(1e-3, 0.5), rel=st.floats(-1e-12, 1e-12))
def test_backward_properties(which, size, rel):
    good = make_backward()
    check.batch_norm_backward(lambda d, x, g, eps=1e-5: tuple(t * (1 + rel) for t in good(d, x, g, eps)))

    def broken(d, x, g, eps=1e-5):
        out = list(good(d, x, g, eps))
        out[which] = out[which] + size * out[which].abs().max()
        return tuple(out)

    with pytest.raises(AssertionError):
        check.batch_norm_backward(broken)


@settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(offset=st.integers(1, 5), module=st.integers(1, 7))
def test_train_mode_accuracy_properties(offset, module):
    check.train_mode_accuracy(lambda *a: good_train_mode_accuracy(*a) * (1 + 1e-12))
    with pytest.raises(AssertionError):
        check.train_mode_accuracy(lambda *a: good_train_mode_accuracy(*a) + offset / 500)

    def flips_one_module(model, x, y, batch_size):
        acc = good_train_mode_accuracy(model, x, y, batch_size)
        sub = model[module]
        sub.training = not sub.training
        return acc

    with pytest.raises(AssertionError, match="mode"):
        check.train_mode_accuracy(flips_one_module)
