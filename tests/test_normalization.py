"""reglib.normalization against torch.nn.functional / torch.nn, autograd and numerical gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from reglib.normalization import (
    BatchNorm,
    LayerNorm,
    batch_norm,
    batch_norm_backward,
    batch_norm_forward,
    layer_norm,
    layer_norm_backward,
    layer_norm_forward,
)

SHAPES = [(8, 5), (6, 5, 7), (4, 5, 3, 3)]  # (N, C), (N, C, L), (N, C, H, W)
SMALL_SHAPES = [(5, 3), (3, 2, 4), (2, 2, 3, 2)]  # for the (slow) numerical gradient checks
DTYPES = [torch.float32, torch.float64]


def rand(*shape, dtype=torch.float64, seed=0, requires_grad=False, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(shape, generator=g, dtype=dtype) * scale + shift
    return t.requires_grad_(requires_grad)


def grads(out, inputs, dout):
    inputs = [t for t in inputs if t is not None and t.requires_grad]
    return torch.autograd.grad(out, inputs, dout)


# --------------------------------------------------------------------------- batch_norm


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(shape, dtype, affine):
    c = shape[1]
    x = rand(*shape, dtype=dtype, requires_grad=True, scale=2.0, shift=1.0)
    w = rand(c, dtype=dtype, seed=1, requires_grad=True) if affine else None
    b = rand(c, dtype=dtype, seed=2, requires_grad=True) if affine else None
    ours = batch_norm(x, None, None, w, b, training=True)
    ref = F.batch_norm(x, None, None, w, b, training=True)
    assert ours.dtype == dtype and ours.shape == x.shape
    torch.testing.assert_close(ours, ref)
    dout = rand(*shape, dtype=dtype, seed=3)
    for g_ours, g_ref in zip(grads(ours, (x, w, b), dout), grads(ref, (x, w, b), dout)):
        assert g_ours.dtype == dtype
        torch.testing.assert_close(g_ours, g_ref)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batch_norm_running_stats_over_several_steps(shape, momentum):
    c = shape[1]
    rm_ours, rv_ours = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    rm_ref, rv_ref = rm_ours.clone(), rv_ours.clone()
    w, b = rand(c, seed=1), rand(c, seed=2)
    for step in range(4):
        x = rand(*shape, seed=10 + step, scale=3.0, shift=step - 1.0)
        out = batch_norm(x, rm_ours, rv_ours, w, b, training=True, momentum=momentum, eps=1e-3)
        ref = F.batch_norm(x, rm_ref, rv_ref, w, b, training=True, momentum=momentum, eps=1e-3)
        torch.testing.assert_close(out, ref)
        torch.testing.assert_close(rm_ours, rm_ref)
        torch.testing.assert_close(rv_ours, rv_ref)  # the unbiased variance goes into the running estimate
    x = rand(*shape, seed=99, requires_grad=True)
    before = rm_ours.clone(), rv_ours.clone()
    out = batch_norm(x, rm_ours, rv_ours, w, b, training=False, eps=1e-3)
    ref = F.batch_norm(x, rm_ref, rv_ref, w, b, training=False, eps=1e-3)
    torch.testing.assert_close(out, ref)
    dout = rand(*shape, seed=5)
    torch.testing.assert_close(grads(out, (x,), dout), grads(ref, (x,), dout))
    assert torch.equal(rm_ours, before[0]) and torch.equal(rv_ours, before[1])  # eval leaves them alone


def test_batch_norm_uses_biased_variance_to_normalize():
    x = rand(4, 3)
    out = batch_norm(x, None, None, training=True, eps=0.0)
    torch.testing.assert_close(out.var(0, correction=0), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(out.mean(0), torch.zeros(3, dtype=torch.float64))


def test_batch_norm_only_one_running_stat_or_none():
    x = rand(6, 4)
    rm = torch.zeros(4, dtype=torch.float64)
    batch_norm(x, rm, None, training=True)
    torch.testing.assert_close(rm, 0.1 * x.mean(0))


@pytest.mark.parametrize("shape", SMALL_SHAPES)
def test_batch_norm_gradcheck(shape):
    c = shape[1]
    x = rand(*shape, requires_grad=True)
    w, b = rand(c, seed=1, requires_grad=True), rand(c, seed=2, requires_grad=True)
    fn = lambda x_, w_, b_: batch_norm(x_, None, None, w_, b_, training=True)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w, b))
    assert torch.autograd.gradgradcheck(fn, (x, w, b))  # double backward (gradient penalties) works


def test_batch_norm_gradcheck_without_affine_and_partial_grads():
    x = rand(5, 3, 2, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: batch_norm(t, None, None, training=True), (x,))
    # only the weight needs a gradient
    w = rand(3, seed=1, requires_grad=True)
    xd = x.detach()
    (gw,) = torch.autograd.grad(batch_norm(xd, None, None, w, None, training=True).sum(), w)
    torch.testing.assert_close(gw, torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)


def test_batch_norm_float32_with_offset_is_as_accurate_as_torch():
    # mean 10, std 0.1: the backward's sum(dy·x) − μ·sum(dy) must not lose more than torch's kernel does
    x64 = rand(256, 16, scale=0.1, shift=10.0, requires_grad=True)
    w64, dout64 = rand(16, seed=1, requires_grad=True), rand(256, 16, seed=2)
    exact = grads(F.batch_norm(x64, None, None, w64, None, training=True), (x64, w64), dout64)
    x, w, dout = x64.detach().float().requires_grad_(), w64.detach().float().requires_grad_(), dout64.float()
    ours = grads(batch_norm(x, None, None, w, None, training=True), (x, w), dout)
    ref = grads(F.batch_norm(x, None, None, w, None, training=True), (x, w), dout)
    for o, r, e in zip(ours, ref, exact):
        err_ours = ((o.double() - e).abs().max() / e.abs().max()).item()
        err_ref = ((r.double() - e).abs().max() / e.abs().max()).item()
        assert err_ours < max(4 * err_ref, 1e-5)


@pytest.mark.parametrize("kwargs, name", [
    ({"x": torch.ones(5)}, "x"),
    ({"x": torch.ones(1, 3)}, "x"),  # one value per channel in training
    ({"x": torch.ones(1, 3, 1, 1)}, "x"),
    ({"running_mean": torch.zeros(4)}, "running_mean"),
    ({"running_var": torch.ones(3, 1)}, "running_var"),
    ({"weight": torch.ones(2)}, "weight"),
    ({"bias": [0.0, 0.0, 0.0]}, "bias"),
    ({"momentum": 1.5}, "momentum"),
    ({"momentum": -0.1}, "momentum"),
    ({"eps": -1e-5}, "eps"),
    ({"eps": float("nan")}, "eps"),
    ({"training": False, "running_mean": None}, "running_mean"),
])
def test_batch_norm_rejects_bad_arguments(kwargs, name):
    args = {"x": torch.randn(4, 3), "running_mean": torch.zeros(3), "running_var": torch.ones(3),
            "training": True, **kwargs}
    with pytest.raises(ValueError, match=name):
        batch_norm(**args)


# --------------------------------------------------------------------------- BatchNorm module


def _torch_bn(ndim, *args, **kwargs):
    return {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d}[ndim](*args, **kwargs)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_module_matches_torch_in_train_and_eval(shape, momentum):
    c = shape[1]
    ref = _torch_bn(len(shape), c, momentum=momentum)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.normal_()
    ours = BatchNorm(c, momentum=momentum)
    ours.load_state_dict(ref.state_dict())
    for step in range(3):
        x = rand(*shape, dtype=torch.float32, seed=step, scale=2.0, shift=0.5, requires_grad=True)
        out, expected = ours(x), ref(x)
        torch.testing.assert_close(out, expected)
        dout = rand(*shape, dtype=torch.float32, seed=50 + step)
        torch.testing.assert_close(grads(out, (x, ours.weight, ours.bias), dout),
                                   grads(expected, (x, ref.weight, ref.bias), dout))
    for key, value in ref.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value)
    ours.eval()
    ref.eval()
    x = rand(*shape, dtype=torch.float32, seed=7)
    torch.testing.assert_close(ours(x), ref(x))


@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_state_dict_loads_both_ways(shape):
    c = shape[1]
    ours, ref = BatchNorm(c), _torch_bn(len(shape), c)
    assert list(ours.state_dict()) == list(ref.state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    ours(rand(*shape, dtype=torch.float32, scale=3.0))  # move ours away from the initial state
    with torch.no_grad():
        ours.weight.mul_(2.0)
    ref.load_state_dict(ours.state_dict())
    fresh = BatchNorm(c)
    fresh.load_state_dict(ref.state_dict())
    x = rand(*shape, dtype=torch.float32, seed=4)
    torch.testing.assert_close(ref.eval()(x), ours.eval()(x))
    torch.testing.assert_close(fresh.eval()(x), ours(x))
    assert fresh.num_batches_tracked.item() == 1


@pytest.mark.parametrize("affine, track", [(False, True), (True, False), (False, False)])
def test_batchnorm_options_match_torch(affine, track):
    ours, ref = BatchNorm(4, affine=affine, track_running_stats=track), nn.BatchNorm1d(
        4, affine=affine, track_running_stats=track)
    assert ours.state_dict().keys() == ref.state_dict().keys()
    x = rand(10, 4, dtype=torch.float32, shift=3.0)
    torch.testing.assert_close(ours(x), ref(x))
    ours.eval()
    ref.eval()
    torch.testing.assert_close(ours(x + 1), ref(x + 1))  # without running stats, eval uses the batch
    assert "affine=" in repr(ours)


def test_batchnorm_reset_running_stats():
    layer = BatchNorm(3)
    layer(rand(5, 3, dtype=torch.float32, shift=4.0))
    layer.reset_running_stats()
    assert torch.equal(layer.running_mean, torch.zeros(3)) and torch.equal(layer.running_var, torch.ones(3))
    assert layer.num_batches_tracked.item() == 0


@pytest.mark.parametrize("kwargs, name", [({"num_features": 0}, "num_features"),
                                          ({"num_features": 2.0}, "num_features"),
                                          ({"eps": -1.0}, "eps"), ({"momentum": 1.1}, "momentum")])
def test_batchnorm_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        BatchNorm(**{"num_features": 3, **kwargs})


def test_batchnorm_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3, \*\)"):
        BatchNorm(3)(torch.randn(4, 5))
    with pytest.raises(ValueError, match="x"):
        BatchNorm(3)(torch.randn(3))


# --------------------------------------------------------------------------- manual batch-norm pair


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_manual_pair_equals_autograd(dtype):
    x = rand(16, 7, dtype=dtype, requires_grad=True, scale=2.0, shift=-1.0)
    gamma = rand(7, dtype=dtype, seed=1, requires_grad=True)
    beta = rand(7, dtype=dtype, seed=2, requires_grad=True)
    out, cache = batch_norm_forward(x, gamma, beta)
    torch.testing.assert_close(out, F.batch_norm(x, None, None, gamma, beta, training=True))
    dout = rand(16, 7, dtype=dtype, seed=3)
    dx, dgamma, dbeta = batch_norm_backward(dout, cache)
    assert dx.dtype == dgamma.dtype == dbeta.dtype == dtype
    for manual, auto in zip((dx, dgamma, dbeta), grads(out, (x, gamma, beta), dout)):
        torch.testing.assert_close(manual, auto)


def test_batch_norm_manual_backward_is_the_compact_closed_form():
    x, gamma, beta, dout = rand(10, 4), rand(4, seed=1), rand(4, seed=2), rand(10, 4, seed=3)
    _, (x_hat, _, inv_std) = batch_norm_forward(x, gamma, beta, eps=1e-5)
    n = x.shape[0]
    sigma = torch.sqrt(x.var(0, correction=0) + 1e-5)
    expected = gamma / (n * sigma) * (n * dout - dout.sum(0) - x_hat * (dout * x_hat).sum(0))
    torch.testing.assert_close(batch_norm_backward(dout, batch_norm_forward(x, gamma, beta)[1])[0], expected)
    torch.testing.assert_close(inv_std.flatten(), 1 / sigma)


@pytest.mark.parametrize("args, name", [
    ((torch.ones(4, 3, 2), torch.ones(3), torch.zeros(3)), "x"),
    ((torch.ones(1, 3), torch.ones(3), torch.zeros(3)), "x"),
    ((torch.ones(4, 3), torch.ones(2), torch.zeros(3)), "gamma"),
    ((torch.ones(4, 3), torch.ones(3), torch.zeros(3, 1)), "beta"),
    ((torch.ones(4, 3), torch.ones(3), torch.zeros(3), -1.0), "eps"),
])
def test_batch_norm_forward_rejects_bad_arguments(args, name):
    with pytest.raises(ValueError, match=name):
        batch_norm_forward(*args)


# --------------------------------------------------------------------------- layer_norm


LN_CASES = [((6, 10), (10,)), ((3, 4, 10), (10,)), ((3, 4, 10), (4, 10)), ((2, 3, 4, 5), 5)]
LN_SMALL = [((4, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)), ((2, 2, 2, 3), 3)]


@pytest.mark.parametrize("shape, normalized", LN_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_matches_torch(shape, normalized, dtype, affine):
    pshape = (normalized,) if isinstance(normalized, int) else normalized
    x = rand(*shape, dtype=dtype, requires_grad=True, scale=3.0, shift=2.0)
    w = rand(*pshape, dtype=dtype, seed=1, requires_grad=True) if affine != "none" else None
    b = rand(*pshape, dtype=dtype, seed=2, requires_grad=True) if affine == "both" else None
    ours, ref = layer_norm(x, normalized, w, b, eps=1e-5), F.layer_norm(x, pshape, w, b, eps=1e-5)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, ref)
    dout = rand(*shape, dtype=dtype, seed=3)
    for g_ours, g_ref in zip(grads(ours, (x, w, b), dout), grads(ref, (x, w, b), dout)):
        assert g_ours.dtype == dtype
        torch.testing.assert_close(g_ours, g_ref)


@pytest.mark.parametrize("shape, normalized", LN_SMALL)
def test_layer_norm_gradcheck(shape, normalized):
    pshape = (normalized,) if isinstance(normalized, int) else normalized
    x = rand(*shape, requires_grad=True)
    w, b = rand(*pshape, seed=1, requires_grad=True), rand(*pshape, seed=2, requires_grad=True)
    fn = lambda x_, w_, b_: layer_norm(x_, normalized, w_, b_)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w, b))
    assert torch.autograd.gradgradcheck(fn, (x, w, b))
    assert torch.autograd.gradcheck(lambda x_: layer_norm(x_, normalized), (x,))


def test_layer_norm_non_contiguous_and_constant_rows():
    x = rand(10, 6).t()  # (6, 10), not contiguous
    torch.testing.assert_close(layer_norm(x, 10), F.layer_norm(x, (10,)))
    const = torch.full((3, 4), 2.5)
    torch.testing.assert_close(layer_norm(const, 4), torch.zeros(3, 4))  # eps keeps it finite


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 5), d=st.integers(2, 9), scale=st.floats(0.1, 100.0), shift=st.floats(-50.0, 50.0),
       seed=st.integers(0, 2**31))
def test_property_layer_norm_matches_torch(n, d, scale, shift, seed):
    x = rand(n, d, seed=seed, scale=scale, shift=shift)
    w, b = rand(d, seed=seed + 1), rand(d, seed=seed + 2)
    torch.testing.assert_close(layer_norm(x, d, w, b), F.layer_norm(x, (d,), w, b))


@pytest.mark.parametrize("kwargs, name", [
    ({"normalized_shape": 7}, "normalized_shape"),
    ({"normalized_shape": (2, 4)}, "normalized_shape"),
    ({"normalized_shape": 0}, "normalized_shape"),
    ({"normalized_shape": "4"}, "normalized_shape"),
    ({"normalized_shape": ()}, "normalized_shape"),
    ({"weight": torch.ones(5)}, "weight"),
    ({"bias": torch.ones(4, 1)}, "bias"),
    ({"eps": -1.0}, "eps"),
    ({"x": "not a tensor"}, "x"),
])
def test_layer_norm_rejects_bad_arguments(kwargs, name):
    args = {"x": torch.randn(3, 4), "normalized_shape": 4, **kwargs}
    with pytest.raises(ValueError, match=name):
        layer_norm(**args)


# --------------------------------------------------------------------------- LayerNorm module


@pytest.mark.parametrize("normalized", [10, (4, 10)])
@pytest.mark.parametrize("options", [{}, {"elementwise_affine": False}, {"bias": False}])
def test_layernorm_module_matches_torch(normalized, options):
    ref = nn.LayerNorm(normalized, **options)
    if ref.weight is not None:
        with torch.no_grad():
            ref.weight.uniform_(0.5, 1.5)
            if ref.bias is not None:
                ref.bias.normal_()
    ours = LayerNorm(normalized, **options)
    assert ours.state_dict().keys() == ref.state_dict().keys()
    ours.load_state_dict(ref.state_dict())
    x = rand(3, 4, 10, dtype=torch.float32, shift=1.0)
    for mode in (True, False):
        ours.train(mode)
        ref.train(mode)
        torch.testing.assert_close(ours(x), ref(x))
    back = nn.LayerNorm(normalized, **options)
    back.load_state_dict(ours.state_dict())
    torch.testing.assert_close(back(x), ours(x))
    assert "eps=" in repr(ours)


@pytest.mark.parametrize("kwargs, name", [({"normalized_shape": 0}, "normalized_shape"),
                                          ({"normalized_shape": (2, -1)}, "normalized_shape"),
                                          ({"eps": -0.1}, "eps")])
def test_layernorm_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        LayerNorm(**{"normalized_shape": 4, **kwargs})


# --------------------------------------------------------------------------- manual layer-norm pair


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_manual_pair_equals_autograd(dtype):
    x = rand(9, 12, dtype=dtype, requires_grad=True, scale=2.0, shift=3.0)
    gamma = rand(12, dtype=dtype, seed=1, requires_grad=True)
    beta = rand(12, dtype=dtype, seed=2, requires_grad=True)
    out, cache = layer_norm_forward(x, gamma, beta)
    torch.testing.assert_close(out, F.layer_norm(x, (12,), gamma, beta))
    dout = rand(9, 12, dtype=dtype, seed=3)
    manual = layer_norm_backward(dout, cache)
    for m, a in zip(manual, grads(out, (x, gamma, beta), dout)):
        assert m.dtype == dtype
        torch.testing.assert_close(m, a)


@pytest.mark.parametrize("args, name", [
    ((torch.ones(4), torch.ones(4), torch.zeros(4)), "x"),
    ((torch.ones(2, 4), torch.ones(3), torch.zeros(4)), "gamma"),
    ((torch.ones(2, 4), torch.ones(4), None), "beta"),
    ((torch.ones(2, 4), torch.ones(4), torch.zeros(4), float("inf") * -1), "eps"),
])
def test_layer_norm_forward_rejects_bad_arguments(args, name):
    with pytest.raises(ValueError, match=name):
        layer_norm_forward(*args)
