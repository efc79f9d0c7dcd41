"""reglib.penalties against closed forms, autograd, SGD's weight_decay and the prox definition."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from reglib.penalties import (
    decay_groups,
    elastic_net_penalty,
    l1_penalty,
    l2_penalty,
    prox_elastic_net,
    prox_l1,
    soft_threshold,
)

DTYPES = [torch.float32, torch.float64]


def _params(dtype=torch.float64, requires_grad=False):
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 4), (4,), (2, 3, 2)]
    return [torch.randn(s, generator=gen, dtype=dtype).requires_grad_(requires_grad) for s in shapes]


def _flat(params):
    return torch.cat([p.reshape(-1) for p in params])


# --------------------------------------------------------------------------- penalty values


@pytest.mark.parametrize("dtype", DTYPES)
def test_penalties_match_closed_forms(dtype):
    params = _params(dtype)
    w = _flat(params)
    lam, rho = 0.3, 0.25
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == torch.float32 else {}
    torch.testing.assert_close(l1_penalty(params, lam), lam * w.abs().sum(), **tol)
    torch.testing.assert_close(l2_penalty(params, lam), lam / 2 * (w @ w), **tol)
    expected = lam * (rho * w.abs().sum() + (1 - rho) / 2 * (w @ w))
    torch.testing.assert_close(elastic_net_penalty(params, lam, rho), expected, **tol)


@pytest.mark.parametrize("fn", [l1_penalty, l2_penalty, lambda p, lam: elastic_net_penalty(p, lam, 0.5)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_penalty_is_a_0dim_tensor_of_the_params_dtype(fn, dtype):
    out = fn(_params(dtype), 0.1)
    assert out.ndim == 0 and out.dtype == dtype and out.device.type == "cpu"


@pytest.mark.parametrize("fn", [l1_penalty, l2_penalty])
def test_params_may_be_a_tensor_list_generator_or_module(fn):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    expected = fn(list(model.parameters()), 0.2)
    torch.testing.assert_close(fn(model.parameters(), 0.2), expected)  # a generator, consumed once
    torch.testing.assert_close(fn(model, 0.2), expected)
    w = model[0].weight
    torch.testing.assert_close(fn(w, 0.2), fn([w], 0.2))


def test_elastic_net_consumes_a_generator_only_once():
    model = nn.Linear(5, 3)
    expected = l1_penalty(model, 0.05) + l2_penalty(model, 0.05)
    torch.testing.assert_close(elastic_net_penalty(model.parameters(), 0.1, 0.5), expected)


def test_elastic_net_endpoints_are_l1_and_l2():
    params = _params()
    torch.testing.assert_close(elastic_net_penalty(params, 0.7, 1.0), l1_penalty(params, 0.7))
    torch.testing.assert_close(elastic_net_penalty(params, 0.7, 0.0), l2_penalty(params, 0.7))


def test_lam_zero_gives_zero():
    assert l1_penalty(_params(), 0.0).item() == 0.0
    assert l2_penalty(_params(), 0.0).item() == 0.0


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("fn", [
    lambda *p: l1_penalty(p, 0.3),
    lambda *p: l2_penalty(p, 0.3),
    lambda *p: elastic_net_penalty(p, 0.3, 0.4),
])
def test_gradcheck(fn):
    params = _params(torch.float64, requires_grad=True)
    with torch.no_grad():  # keep entries away from the kink of |w| at 0
        for p in params:
            p.add_(p.sign() * 0.1)
    assert torch.autograd.gradcheck(fn, tuple(params))


def test_l2_gradient_is_lam_w_and_l1_gradient_is_lam_sign_w():
    params = _params(requires_grad=True)
    lam = 0.25
    grads = torch.autograd.grad(l2_penalty(params, lam), params)
    for p, g in zip(params, grads):
        torch.testing.assert_close(g, lam * p.detach())
    grads = torch.autograd.grad(l1_penalty(params, lam), params)
    for p, g in zip(params, grads):
        torch.testing.assert_close(g, lam * p.detach().sign())


def test_l2_penalty_step_equals_sgd_weight_decay():
    """Chapter 01: SGD on loss + l2_penalty(lam) is SGD with weight_decay=lam, step for step."""
    torch.manual_seed(0)
    x, y = torch.randn(16, 5), torch.randn(16, 2)
    a, b = nn.Linear(5, 2), nn.Linear(5, 2)
    b.load_state_dict(a.state_dict())
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1, weight_decay=0.05)
    for _ in range(3):
        for model, opt, lam in [(a, opt_a, 0.05), (b, opt_b, 0.0)]:
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y) + l2_penalty(model.parameters(), lam)
            loss.backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)


# --------------------------------------------------------------------------- soft-thresholding and proxes


@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_threshold_formula(dtype):
    x = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], dtype=dtype)
    expected = torch.tensor([-2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0], dtype=dtype)
    out = soft_threshold(x, 1.0)
    torch.testing.assert_close(out, expected)
    assert out.dtype == dtype
    torch.testing.assert_close(soft_threshold(x, 0.0), x)


def test_soft_threshold_tensor_threshold_broadcasts():
    x = torch.tensor([[2.0, -2.0], [0.5, 4.0]])
    t = torch.tensor([1.0, 3.0])
    torch.testing.assert_close(soft_threshold(x, t), torch.tensor([[1.0, 0.0], [0.0, 1.0]]))


def test_soft_threshold_gradcheck():
    x = torch.tensor([-2.0, -0.3, 0.4, 1.7], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: soft_threshold(v, 0.1), (x,))


_finite = st.floats(-100, 100, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(x=_finite, t=st.floats(0, 50, allow_nan=False))
def test_soft_threshold_is_the_prox_of_abs(x, t):
    """S_t(x) minimises 1/2 (z - x)^2 + t|z|: no point of a fine grid around it does better."""
    z = soft_threshold(torch.tensor(x, dtype=torch.float64), t)
    grid = z + torch.linspace(-1, 1, 201, dtype=torch.float64)
    objective = lambda v: 0.5 * (v - x) ** 2 + t * v.abs()  # noqa: E731
    assert objective(z) <= objective(grid).min() + 1e-12


@settings(max_examples=60, deadline=None)
@given(x=_finite, step=st.floats(0, 2), lam=st.floats(0, 5), rho=st.floats(0, 1))
def test_prox_elastic_net_satisfies_its_optimality_condition(x, step, lam, rho):
    """0 lies in the subdifferential of 1/2 (z - x)^2 + step*lam*(rho|z| + (1 - rho)/2 z^2) at z."""
    z = prox_elastic_net(torch.tensor(x, dtype=torch.float64), step, lam, rho).item()
    l1, l2 = step * lam * rho, step * lam * (1 - rho)
    smooth_grad = z - x + l2 * z
    if z != 0:
        assert abs(smooth_grad + l1 * (1 if z > 0 else -1)) <= 1e-9 * (1 + abs(x))
    else:
        assert abs(smooth_grad) <= l1 + 1e-12


def test_prox_l1_is_soft_threshold_with_step_times_lam():
    x = torch.linspace(-2, 2, 9)
    torch.testing.assert_close(prox_l1(x, 0.5, 0.8), soft_threshold(x, 0.4))


def test_prox_elastic_net_endpoints():
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    torch.testing.assert_close(prox_elastic_net(x, 0.5, 0.8, 1.0), prox_l1(x, 0.5, 0.8))
    torch.testing.assert_close(prox_elastic_net(x, 0.5, 0.8, 0.0), x / (1 + 0.4))


# --------------------------------------------------------------------------- decay_groups


def test_decay_groups_exclude_biases_and_norm_parameters():
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4), nn.Flatten(), nn.Linear(8, 3), nn.LayerNorm(3))
    model[3].bias.requires_grad_(False)
    groups = decay_groups(model, 5e-4)
    decay, no_decay = groups
    assert decay["weight_decay"] == 5e-4 and no_decay["weight_decay"] == 0.0
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    assert ids(decay["params"]) == ids([model[0].weight, model[3].weight])
    assert ids(no_decay["params"]) == ids([model[0].bias, model[1].weight, model[1].bias,
                                          model[4].weight, model[4].bias])
    torch.optim.SGD(groups, lr=0.1)  # accepted as they are


def test_decay_groups_drop_empty_groups():
    groups = decay_groups(nn.Linear(3, 2, bias=False), 0.1)
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.1


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("call, match", [
    (lambda: l1_penalty(_params(), -1.0), "lam"),
    (lambda: l2_penalty(_params(), float("nan")), "lam"),
    (lambda: elastic_net_penalty(_params(), -0.1, 0.5), "lam"),
    (lambda: elastic_net_penalty(_params(), 0.1, 1.5), "l1_ratio"),
    (lambda: l1_penalty([], 0.1), "params"),
    (lambda: l2_penalty(3.0, 0.1), "params"),
    (lambda: l2_penalty([torch.ones(2), "w"], 0.1), "params"),
    (lambda: soft_threshold(torch.ones(3), -0.1), "threshold"),
    (lambda: soft_threshold(torch.ones(3), torch.tensor([0.1, -0.1, 0.0])), "threshold"),
    (lambda: prox_l1(torch.ones(3), -1.0, 0.1), "step"),
    (lambda: prox_l1(torch.ones(3), 1.0, -0.1), "lam"),
    (lambda: prox_elastic_net(torch.ones(3), 1.0, 0.1, -0.5), "l1_ratio"),
    (lambda: decay_groups(nn.Linear(2, 2), -1e-4), "weight_decay"),
    (lambda: decay_groups([torch.ones(2)], 1e-4), "model"),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
