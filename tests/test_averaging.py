"""reglib.averaging against torch.optim.swa_utils (AveragedModel, get_ema_multi_avg_fn, update_bn) and closed forms."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn

from reglib.averaging import (EMA, SWA, adam_direction, adamw_as_ema, adamw_timescale, batch_norm_layers,
                              recompute_bn, weight_decay_for_timescale)
from reglib.models import MLP
from reglib.normalization import BatchNorm


def _net(seed=0, conv=False):
    torch.manual_seed(seed)
    if conv:
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    return nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


def _train(model, averagers, steps=12, conv=False, seed=0):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        x = torch.randn(8, 1, 8, 8, generator=gen) if conv else torch.randn(8, 5, generator=gen)
        y = torch.randint(0, 3, (8,), generator=gen)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        for a in averagers:
            a.update_parameters(model) if isinstance(a, AveragedModel) else a.update(model)


@pytest.mark.parametrize("conv", [False, True])
def test_swa_equals_averaged_model(conv):
    model = _net(conv=conv)
    ours, theirs = SWA(model), AveragedModel(model)
    _train(model, [ours, theirs], conv=conv)
    assert ours.n_averaged == int(theirs.n_averaged) == 12
    for a, b in zip(ours.module.parameters(), theirs.module.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(ours.module.buffers(), theirs.module.buffers()):  # both leave the buffers as created
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.9, 0.999])
def test_ema_equals_averaged_model_with_ema_fn(decay):
    model = _net(1)
    ours = EMA(model, decay=decay, average_buffers=False)
    theirs = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))
    _train(model, [ours, theirs], steps=15)
    for a, b in zip(ours.module.parameters(), theirs.module.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_ema_with_buffers_averages_float_buffers_only():
    model = _net(2)
    ema = EMA(model, decay=0.5)
    _train(model, [ema], steps=3)
    bn, bn_avg = model[1], ema.module[1]
    assert int(bn_avg.num_batches_tracked) == 0  # integer buffers are not averaged
    assert not torch.equal(bn_avg.running_mean, torch.zeros(16))  # float buffers are


def test_swa_hook_start_and_every():
    model = _net(3)
    swa = SWA(model, start=4, every=3)
    snapshots = []
    gen = torch.Generator().manual_seed(0)
    for call in range(1, 14):
        with torch.no_grad():
            model[0].weight.add_(torch.randn(model[0].weight.shape, generator=gen))
        swa(model)
        if call > 4 and (call - 5) % 3 == 0:
            snapshots.append(model[0].weight.detach().clone())
    assert swa.n_averaged == len(snapshots) == 3  # calls 5, 8, 11
    torch.testing.assert_close(swa.module[0].weight, torch.stack(snapshots).mean(0), rtol=1e-6, atol=1e-6)


def test_averagers_work_as_fit_hooks():
    from reglib.train import fit

    torch.manual_seed(0)
    model = MLP(6, 3, hidden=(8,), norm="batch")
    x, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
    swa, ema = SWA(model, start=2), EMA(model)
    fit(model, (x, y), epochs=2, batch_size=10, optimizer="sgd", lr=0.1, constraint=lambda m: (swa(m), ema(m)),
        progress=False)
    assert swa.calls == 8 and swa.n_averaged == 6 and ema.n_averaged == 8
    assert all(not p.requires_grad for p in swa.module.parameters())


@pytest.mark.parametrize("conv", [False, True])
def test_recompute_bn_equals_update_bn(conv):
    model = _net(4, conv=conv)
    ours, theirs = SWA(model), AveragedModel(model)
    _train(model, [ours, theirs], conv=conv)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(50, 1, 8, 8, generator=gen) if conv else torch.randn(50, 5, generator=gen)
    ours.module.eval()
    out = recompute_bn(ours.module, x, batch_size=16)
    assert out is ours.module and not out.training  # in place, mode restored
    update_bn([x[i:i + 16] for i in range(0, 50, 16)], theirs)
    for a, b in zip(ours.module.buffers(), theirs.module.buffers()):
        torch.testing.assert_close(a, b)
    assert ours.module[1].momentum == 0.1  # momentum restored


def test_recompute_bn_finds_reglib_batchnorm_which_update_bn_skips():
    torch.manual_seed(0)
    ours = MLP(5, 3, hidden=(16,), norm="batch")
    assert isinstance(ours[2], BatchNorm) and batch_norm_layers(ours) == [ours[2]]
    twin = nn.Sequential(nn.Flatten(), nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    twin.load_state_dict(ours.state_dict())
    with torch.no_grad():
        ours[2].running_mean.fill_(3.0)
        twin[2].running_mean.fill_(3.0)
    x = torch.randn(64, 5)
    skipped = MLP(5, 3, hidden=(16,), norm="batch")
    skipped.load_state_dict(ours.state_dict())
    update_bn([x], skipped)
    assert torch.all(skipped[2].running_mean == 3.0)  # torch's update_bn did nothing to reglib's BatchNorm
    recompute_bn(ours, x, batch_size=20)
    update_bn([x[i:i + 20] for i in range(0, 64, 20)], twin)
    torch.testing.assert_close(ours[2].running_mean, twin[2].running_mean)
    torch.testing.assert_close(ours[2].running_var, twin[2].running_var)


def test_recompute_bn_without_batch_norm_is_a_no_op():
    model = MLP(5, 3, hidden=(4,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert recompute_bn(model, torch.randn(10, 5)) is model
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_adamw_as_ema_rebuilds_torch_adamw():
    torch.manual_seed(0)
    w = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    target = torch.randn(7, 3, dtype=torch.float64)
    lr, lam = 3e-2, 0.7
    opt = torch.optim.AdamW([w], lr=lr, weight_decay=lam)
    w0, directions = w.detach().clone(), []
    for _ in range(25):
        opt.zero_grad()
        ((w - target) ** 4).sum().backward()
        opt.step()
        directions.append(adam_direction(opt, w).clone())
    torch.testing.assert_close(adamw_as_ema(w0, directions, lr, lam), w.detach(), rtol=1e-10, atol=1e-12)


def test_adamw_as_ema_forgets_the_initialization():
    theta0 = torch.ones(4, dtype=torch.float64)
    u = [torch.full((4,), -2.0, dtype=torch.float64)] * 400
    out = adamw_as_ema(theta0, u, lr=0.05, weight_decay=0.5)  # τ = 40 steps, 400 steps = 10 τ
    target = 2.0 / 0.5  # the EMA of the constant −u/λ
    expected = target + (1 - target) * (1 - 0.025) ** 400
    torch.testing.assert_close(out, torch.full((4,), expected, dtype=torch.float64))


@settings(max_examples=60, deadline=None)
@given(lr=st.floats(1e-5, 1.0), tau=st.floats(2.5, 1e6))
def test_timescale_and_decay_are_inverse(lr, tau):
    lam = weight_decay_for_timescale(lr, tau)
    if lr * lam < 1:
        assert math.isclose(adamw_timescale(lr, lam), tau, rel_tol=1e-9)
    assert math.isclose(weight_decay_for_timescale(lr, tau) * 2, weight_decay_for_timescale(lr, tau / 2))


def test_bad_arguments_raise_value_errors():
    model = _net()
    with pytest.raises(ValueError, match="decay"):
        EMA(model, decay=1.0)
    with pytest.raises(ValueError, match="decay"):
        EMA(model, decay=-0.1)
    with pytest.raises(ValueError, match="start"):
        SWA(model, start=-1)
    with pytest.raises(ValueError, match="every"):
        SWA(model, every=0)
    with pytest.raises(ValueError, match="model"):
        SWA("not a model")
    with pytest.raises(ValueError, match="architecture"):
        SWA(model).update(_net(conv=True))
    with pytest.raises(ValueError, match="batch_size"):
        recompute_bn(model, torch.randn(4, 5), batch_size=0)
    with pytest.raises(ValueError, match="x must"):
        recompute_bn(model, torch.randn(0, 5))
    with pytest.raises(ValueError, match="lr"):
        adamw_timescale(0.0, 0.1)
    with pytest.raises(ValueError, match="weight_decay"):
        adamw_timescale(0.1, -1.0)
    with pytest.raises(ValueError, match="lr \\* weight_decay"):
        adamw_timescale(1.0, 2.0)
    with pytest.raises(ValueError, match="tau"):
        weight_decay_for_timescale(0.1, 0.5)
    with pytest.raises(ValueError, match="directions"):
        adamw_as_ema(torch.zeros(3), [torch.zeros(4)], 0.1, 0.1)
    p = torch.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="step"):
        adam_direction(torch.optim.AdamW([p], lr=0.1), p)
