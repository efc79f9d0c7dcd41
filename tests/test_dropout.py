"""reglib.dropout against PyTorch, closed forms and sampling statistics.

Statistical tests use fixed generators, so they are deterministic; their tolerances are
5 standard deviations of the statistic under the model being tested, so a correct
implementation would pass for (practically) any seed, and a wrong scale (e.g. a missing
1/(1 - p)) misses by hundreds of standard deviations.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from reglib.dropout import (
    DROPOUT_MODULES,
    DropConnectLinear,
    Dropout,
    DropPath,
    GaussianDropout,
    SpatialDropout,
    drop_path,
    dropout,
    dropout_backward,
    dropout_forward,
    gaussian_dropout,
    mc_predict,
    spatial_dropout,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


BAD_P = [-0.1, 1.5, float("nan"), "0.5", None, True]
MASKED = [dropout, spatial_dropout, drop_path]  # the Bernoulli family: survivors scaled by 1/(1-p)


# --------------------------------------------------------------------------- inverted dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_fraction_p_and_scales_survivors(p):
    x = torch.rand(200, 500) + 0.5  # no exact zeros in the input
    out = dropout(x, p, generator=gen(1))
    kept = out != 0
    torch.testing.assert_close(out[kept], x[kept] / (1 - p))
    n = x.numel()
    assert abs((~kept).float().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_is_unbiased(p):
    # mean over n draws of x·m/(1-p) has variance x²·p/((1-p)·n): a 5σ band around x = 1
    x = torch.ones(400_000)
    mean = dropout(x, p, generator=gen(2)).mean().item()
    assert abs(mean - 1.0) < 5 * math.sqrt(p / (1 - p) / x.numel())


def test_dropout_unbiased_per_entry():
    # E[out] = x entry by entry: average T draws of each of 50 entries (5σ per entry)
    p, T = 0.5, 4000
    x = torch.randn(50, dtype=torch.float64)
    mean = dropout(x.expand(T, 50), p, generator=gen(3)).mean(0)
    assert torch.all((mean - x).abs() <= 5 * x.abs() * math.sqrt(p / (1 - p) / T))


def test_dropout_matches_torch_in_distribution():
    x = torch.rand(500, 400) + 0.5
    ours, theirs = dropout(x, 0.3, generator=gen(4)), F.dropout(x, 0.3, training=True)
    for out in (ours, theirs):
        kept = out != 0
        torch.testing.assert_close(out[kept], x[kept] / 0.7)
    sd = math.sqrt(0.3 * 0.7 / x.numel())
    assert abs((ours == 0).float().mean() - (theirs == 0).float().mean()) < 5 * math.sqrt(2) * sd


def test_dropout_identity_in_eval_and_for_p0():
    x = torch.randn(4, 5, requires_grad=True)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x


def test_dropout_p1_gives_zeros_and_zero_gradient():
    x = torch.randn(4, 5, requires_grad=True)
    out = dropout(x, 1.0)
    assert torch.equal(out, torch.zeros_like(x))
    out.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_dropout_generator_reproducible():
    x = torch.randn(64, 32)
    assert torch.equal(dropout(x, 0.5, generator=gen(7)), dropout(x, 0.5, generator=gen(7)))
    assert not torch.equal(dropout(x, 0.5, generator=gen(7)), dropout(x, 0.5, generator=gen(8)))
    torch.manual_seed(3)
    a = dropout(x, 0.5)
    torch.manual_seed(3)
    assert torch.equal(a, dropout(x, 0.5))


@pytest.mark.parametrize("fn", MASKED + [gaussian_dropout])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_shape_preserved(fn, dtype):
    x = torch.randn(3, 4, 5, dtype=dtype)
    out = fn(x, 0.3, generator=gen())
    assert out.dtype == dtype and out.shape == x.shape


def test_dropout_gradcheck_with_fixed_mask():
    x = torch.randn(6, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: dropout(t, 0.4, generator=gen(5)), (x,))


def test_dropout_gradient_is_the_scaled_mask():
    x = torch.randn(30, 40, requires_grad=True)
    out = dropout(x, 0.25, generator=gen(6))
    out.backward(torch.ones_like(out))
    torch.testing.assert_close(x.grad, (out != 0).float() / 0.75)


def test_manual_pair_equals_autograd():
    x = torch.randn(20, 30, dtype=torch.float64, requires_grad=True)
    out, cache = dropout_forward(x, 0.3, generator=gen(9))
    assert torch.equal(out, dropout(x, 0.3, generator=gen(9)))  # same mask from the same generator state
    torch.testing.assert_close(out, x * cache)
    assert set(torch.unique(cache).tolist()) <= {0.0, 1 / 0.7}
    dout = torch.randn_like(x)
    (dx_autograd,) = torch.autograd.grad(out, x, dout)
    torch.testing.assert_close(dropout_backward(dout, cache), dx_autograd)


def test_manual_pair_edge_cases():
    x = torch.randn(5, 6)
    out, cache = dropout_forward(x, 1.0)
    assert torch.equal(out, torch.zeros_like(x)) and not torch.isnan(cache).any()
    out, cache = dropout_forward(x, 0.0)
    assert torch.equal(out, x) and torch.equal(dropout_backward(x, cache), x)
    with pytest.raises(ValueError, match="cache"):
        dropout_backward(x, torch.ones(3))


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), p=st.floats(0.0, 1.0), seed=st.integers(0, 2**31))
def test_property_outputs_are_zero_or_scaled_input(shape, p, seed):
    x = torch.rand(shape, dtype=torch.float64) + 0.5
    out = dropout(x, p, generator=gen(seed))
    assert out.shape == x.shape and out.dtype == x.dtype
    kept = out != 0
    if p < 1:
        torch.testing.assert_close(out[kept], x[kept] / (1 - p))
    else:
        assert not kept.any()


# --------------------------------------------------------------------------- Gaussian dropout


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_gaussian_dropout_mean_and_variance(p):
    n = 400_000
    noise = gaussian_dropout(torch.ones(n, dtype=torch.float64), p, generator=gen(10))
    var = p / (1 - p)
    assert abs(noise.mean().item() - 1) < 5 * math.sqrt(var / n)
    # the sample variance of n Gaussians has standard deviation var·sqrt(2/(n-1))
    assert abs(noise.var().item() - var) < 5 * var * math.sqrt(2 / (n - 1))


def test_gaussian_dropout_identity_and_reproducible():
    x = torch.randn(8, 9)
    assert gaussian_dropout(x, 0.5, training=False) is x
    assert gaussian_dropout(x, 0.0) is x
    assert torch.equal(gaussian_dropout(x, 0.5, generator=gen(1)), gaussian_dropout(x, 0.5, generator=gen(1)))


def test_gaussian_dropout_rejects_p1():
    with pytest.raises(ValueError, match=r"p must be in \[0(\.0)?, 1(\.0)?\)"):
        gaussian_dropout(torch.ones(3), 1.0)
    with pytest.raises(ValueError, match="p"):
        GaussianDropout(1.0)


# --------------------------------------------------------------------------- spatial dropout and drop-path


@pytest.mark.parametrize("shape", [(16, 32, 10), (16, 32, 4, 5), (8, 8, 2, 3, 4)])
def test_spatial_dropout_drops_whole_channels(shape):
    x = torch.rand(shape) + 0.5
    out = spatial_dropout(x, 0.5, generator=gen(11))
    per_channel = out.flatten(2)
    dropped = (per_channel == 0).all(-1)
    kept = (per_channel != 0).all(-1)
    assert torch.all(dropped | kept)  # never a partly zeroed channel
    torch.testing.assert_close(out[kept], x[kept] * 2)
    n = dropped.numel()
    assert abs(dropped.float().mean().item() - 0.5) < 5 * math.sqrt(0.25 / n)


def test_spatial_dropout_on_2d_input_is_elementwise():
    x = torch.rand(50, 40) + 0.5
    assert torch.equal(spatial_dropout(x, 0.3, generator=gen(12)), dropout(x, 0.3, generator=gen(12)))


def test_spatial_dropout_unbiased():
    x = torch.ones(2000, 200, 3)
    p = 0.3
    # the mean over the 400,000 independent channel factors, each with variance p/(1-p)
    assert abs(spatial_dropout(x, p, generator=gen(13)).mean().item() - 1) < 5 * math.sqrt(p / (1 - p) / 400_000)


@pytest.mark.parametrize("shape", [(400,), (400, 7), (400, 3, 5)])
def test_drop_path_per_sample(shape):
    x = torch.rand(shape) + 0.5
    p = 0.25
    out = drop_path(x, p, generator=gen(14))
    flat = out.reshape(shape[0], -1)
    dropped, kept = (flat == 0).all(1), (flat != 0).all(1)
    assert torch.all(dropped | kept)
    torch.testing.assert_close(out[kept], x[kept] / (1 - p))
    assert abs(dropped.float().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / shape[0])


@pytest.mark.parametrize("fn", MASKED)
def test_masked_family_eval_identity_and_edges(fn):
    x = torch.randn(4, 3, 5)
    assert fn(x, 0.7, training=False) is x
    assert fn(x, 0.0) is x
    assert torch.equal(fn(x, 1.0), torch.zeros_like(x))
    assert torch.equal(fn(x, 0.5, generator=gen(1)), fn(x, 0.5, generator=gen(1)))


def test_shape_errors_name_x():
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, \*\)"):
        spatial_dropout(torch.ones(5), 0.5)
    with pytest.raises(ValueError, match=r"x must have shape \(N, \*\)"):
        drop_path(torch.tensor(1.0), 0.5)
    with pytest.raises(ValueError, match="x must be a torch.Tensor"):
        dropout([1.0, 2.0], 0.5)


@pytest.mark.parametrize("fn", MASKED + [gaussian_dropout, lambda x, p: dropout_forward(x, p)])
@pytest.mark.parametrize("p", BAD_P)
def test_functions_reject_bad_p(fn, p):
    with pytest.raises(ValueError, match="p must be"):
        fn(torch.ones(2, 3, 4), p)


# --------------------------------------------------------------------------- modules


@pytest.mark.parametrize("cls", [Dropout, GaussianDropout, SpatialDropout, DropPath])
def test_modules_follow_train_and_eval(cls):
    layer = cls(0.5)
    assert "p=0.5" in repr(layer)
    x = torch.rand(8, 6, 5) + 0.5
    torch.manual_seed(0)
    y_train = layer(x)
    assert not torch.equal(y_train, x)
    layer.eval()
    assert layer(x) is x


def test_dropout_module_equals_function_under_same_seed():
    x = torch.randn(10, 10)
    torch.manual_seed(1)
    a = Dropout(0.4)(x)
    torch.manual_seed(1)
    assert torch.equal(a, dropout(x, 0.4))


@pytest.mark.parametrize("cls", [Dropout, SpatialDropout, DropPath, GaussianDropout])
@pytest.mark.parametrize("p", BAD_P)
def test_modules_reject_bad_p(cls, p):
    with pytest.raises(ValueError, match="p must be"):
        cls(p)


# --------------------------------------------------------------------------- DropConnect


def test_dropconnect_eval_is_exactly_linear():
    layer = DropConnectLinear(12, 5, p=0.5).eval()
    x = torch.randn(7, 12)
    assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))


def test_dropconnect_state_dict_is_linears():
    ours, ref = DropConnectLinear(6, 4, p=0.3), nn.Linear(6, 4)
    assert ours.state_dict().keys() == ref.state_dict().keys()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 6)
    assert torch.equal(ours.eval()(x), ref(x))
    ref.load_state_dict(DropConnectLinear(6, 4, p=0.3).state_dict())
    assert DropConnectLinear(6, 4, p=0.1, bias=False).bias is None


def test_dropconnect_training_drops_weights_with_scaling():
    layer = DropConnectLinear(20, 10, p=0.4)
    x = torch.randn(5, 20)
    torch.manual_seed(2)
    y = layer(x)
    torch.manual_seed(2)
    w_dropped = dropout(layer.weight, 0.4)
    torch.testing.assert_close(y, F.linear(x, w_dropped, layer.bias))
    y.sum().backward()
    assert torch.all(layer.weight.grad[w_dropped == 0] == 0)  # dropped weights get no gradient
    assert layer.bias.grad is not None


def test_dropconnect_edges_and_unbiased():
    layer = DropConnectLinear(50, 3, p=1.0)
    x = torch.randn(4, 50)
    torch.testing.assert_close(layer(x), layer.bias.expand(4, 3))  # p = 1: all weights dropped, bias kept
    layer.p = 0.0
    assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))
    # averaging many dropped weight matrices recovers W (5σ per entry, var W²·p/(1-p)/T)
    layer = DropConnectLinear(8, 4, p=0.5)
    torch.manual_seed(3)
    T = 4000
    mean_w = torch.stack([dropout(layer.weight.detach(), 0.5) for _ in range(T)]).mean(0)
    assert torch.all((mean_w - layer.weight).abs() <= 5 * layer.weight.abs() / math.sqrt(T) + 1e-7)


@pytest.mark.parametrize("kwargs, name", [({"p": 1.5}, "p"), ({"p": -1}, "p"), ({"in_features": 0}, "in_features"),
                                          ({"out_features": 2.5}, "out_features")])
def test_dropconnect_rejects_bad_arguments(kwargs, name):
    args = {"in_features": 3, "out_features": 2, "p": 0.5, **kwargs}
    with pytest.raises(ValueError, match=name):
        DropConnectLinear(**args)


# --------------------------------------------------------------------------- MC dropout


class _Recorder(nn.Module):
    """Identity that records the training flags of the model's modules during each forward."""

    def __init__(self, model_ref):
        super().__init__()
        self.model_ref = model_ref
        self.seen = []

    def forward(self, x):
        self.seen.append({name: m.training for name, m in self.model_ref[0].named_modules()})
        return x


def _mc_model():
    torch.manual_seed(0)
    holder = []
    model = nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), Dropout(0.3), nn.Dropout(0.2),
        DropConnectLinear(16, 16, p=0.2), GaussianDropout(0.1), nn.Linear(16, 4))
    holder.append(model)
    recorder = _Recorder(holder)
    model.append(recorder)
    return model, recorder


def test_mc_predict_sets_dropout_train_everything_else_eval():
    model, recorder = _mc_model()
    x = torch.randn(10, 6)
    model.train()
    mc_predict(model, x, n_samples=3)
    assert len(recorder.seen) == 3
    for flags in recorder.seen:
        for name, m in model.named_modules():
            assert flags[name] == isinstance(m, DROPOUT_MODULES), name


@pytest.mark.parametrize("start", ["train", "eval", "mixed"])
def test_mc_predict_restores_every_mode(start):
    model, _ = _mc_model()
    if start == "eval":
        model.eval()
    elif start == "mixed":
        model[1].eval()
        model[4].eval()
    before = [m.training for m in model.modules()]
    stats = [t.clone() for t in (model[1].running_mean, model[1].running_var)]
    mc_predict(model, torch.randn(10, 6), n_samples=4)
    assert [m.training for m in model.modules()] == before
    # batch norm ran in eval mode: its running statistics did not move
    assert torch.equal(model[1].running_mean, stats[0]) and torch.equal(model[1].running_var, stats[1])
    assert model[1].num_batches_tracked.item() == 0


def test_mc_predict_restores_modes_after_an_exception():
    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), Dropout(0.5), Boom())
    model.train()
    model[2].eval()
    before = [m.training for m in model.modules()]
    with pytest.raises(RuntimeError, match="boom"):
        mc_predict(model, torch.randn(4, 3))
    assert [m.training for m in model.modules()] == before


def test_mc_predict_statistics():
    model, _ = _mc_model()
    x = torch.randn(10, 6)
    torch.manual_seed(5)
    mean, std = mc_predict(model, x, n_samples=10)
    assert mean.shape == std.shape == (10, 4)
    assert not mean.requires_grad and not std.requires_grad
    torch.testing.assert_close(mean.sum(1), torch.ones(10))
    assert torch.all(std > 0)
    # equals the mean and (population) std of 10 explicit samples under the same seed
    torch.manual_seed(5)
    for m in model.modules():
        m.training = isinstance(m, DROPOUT_MODULES)
    with torch.no_grad():
        probs = torch.stack([torch.softmax(model(x), -1) for _ in range(10)])
    torch.testing.assert_close(mean, probs.mean(0))
    torch.testing.assert_close(std, probs.std(0, correction=0))


def test_mc_predict_without_dropout_is_the_eval_prediction():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    x = torch.randn(6, 5)
    model(torch.randn(32, 5))  # move the running statistics away from their initial values
    mean, std = mc_predict(model, x, n_samples=3)
    assert model.training
    with torch.no_grad():
        expected = torch.softmax(model.eval()(x), -1)
    torch.testing.assert_close(mean, expected)
    assert torch.all(std < 1e-6)
    _, std1 = mc_predict(nn.Sequential(nn.Linear(5, 3), Dropout(0.5)), x, n_samples=1)
    assert torch.equal(std1, torch.zeros_like(std1))


@pytest.mark.parametrize("n_samples", [0, -3, 2.5, True, "10"])
def test_mc_predict_rejects_bad_n_samples(n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        mc_predict(nn.Linear(3, 2), torch.randn(2, 3), n_samples=n_samples)


def test_mc_predict_rejects_non_module():
    with pytest.raises(ValueError, match="model"):
        mc_predict(lambda x: x, torch.randn(2, 3))
