"""reglib.constraints against torch.renorm, torch.nn.utils.clip_grad_norm_ and the projection's definition."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from reglib.constraints import ClippedOptimizer, MaxNorm, clip_grad_norm_, max_norm_, project_l2_ball_, unit_norms

DTYPES = [torch.float32, torch.float64]


def _weight(shape, dtype=torch.float64, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _unit_norms(w, dim=0):
    others = [d for d in range(w.ndim) if d != dim]
    return torch.linalg.vector_norm(w, dim=others)


# --------------------------------------------------------------------------- max_norm_


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim", [((8, 5), 0), ((6, 3, 2, 2), 0), ((4, 7), 1), ((3, 4, 5), -1)])
def test_max_norm_matches_torch_renorm(shape, dim, dtype):
    w = _weight(shape, dtype)
    max_norm = 0.9 * _unit_norms(w, dim % w.ndim).median().item()  # about half the units exceed it
    expected = torch.renorm(w, 2, dim, max_norm)
    out = max_norm_(w, max_norm, dim=dim)
    # renorm divides by norm + 1e-7; reglib divides by the norm
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_norm_rescales_long_rows_and_leaves_short_rows_bit_for_bit(dtype):
    w = _weight((10, 6), dtype)
    before = w.clone()
    norms = _unit_norms(w)
    bound = norms.median().item()
    out = max_norm_(w, bound)
    assert out is w  # in place, returns its argument
    short = norms <= bound
    assert short.any() and (~short).any()
    assert torch.equal(w[short], before[short])
    torch.testing.assert_close(_unit_norms(w)[~short], torch.full(((~short).sum().item(),), bound, dtype=dtype))
    # directions are kept
    torch.testing.assert_close(w[~short] / bound, before[~short] / norms[~short, None])


def test_max_norm_of_a_conv_weight_bounds_each_output_channel():
    conv = nn.Conv2d(3, 8, 3)
    with torch.no_grad():
        conv.weight.mul_(10)
    max_norm_(conv.weight, 1.5)
    assert torch.all(_unit_norms(conv.weight.detach()) <= 1.5 * (1 + 1e-6))


def test_max_norm_works_on_a_leaf_that_requires_grad_and_records_no_history():
    layer = nn.Linear(4, 3)
    out = max_norm_(layer.weight, 0.1)
    assert out is layer.weight and out.grad_fn is None and out.requires_grad


def test_max_norm_zero_rows_and_1d_weights():
    w = torch.zeros(3, 4)
    max_norm_(w, 1.0)
    assert torch.equal(w, torch.zeros(3, 4))  # no NaN from 0/0
    v = torch.tensor([-3.0, 0.5, 2.0])
    torch.testing.assert_close(max_norm_(v, 1.0), torch.tensor([-1.0, 0.5, 1.0]))


# --------------------------------------------------------------------------- MaxNorm


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3)
        self.norm = nn.BatchNorm1d(4)
        self.up = nn.ConvTranspose1d(4, 3, 2)
        self.fc = nn.Linear(3 * 7, 5)

    def forward(self, x):
        return self.fc(self.up(self.norm(self.conv(x))).flatten(1))


def test_maxnorm_applies_max_norm_to_every_linear_and_conv_weight():
    torch.manual_seed(0)
    net = _Net()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(20)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    constraint = MaxNorm(2.0)
    constraint(net)
    after = net.state_dict()
    torch.testing.assert_close(after["conv.weight"], max_norm_(before["conv.weight"].clone(), 2.0))
    torch.testing.assert_close(after["fc.weight"], max_norm_(before["fc.weight"].clone(), 2.0))
    # a transposed convolution stores (in, out, k): its output units are along dim 1
    torch.testing.assert_close(after["up.weight"], max_norm_(before["up.weight"].clone(), 2.0, dim=1))
    for key in ["conv.bias", "fc.bias", "up.bias", "norm.weight", "norm.bias", "norm.running_var"]:
        assert torch.equal(after[key], before[key])
    assert "MaxNorm(max_norm=2.0" in repr(constraint)


def test_maxnorm_as_constraint_after_each_step_keeps_every_unit_bounded():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    constraint = MaxNorm(1.0)
    for _ in range(5):
        net.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= 5.0 * p.grad  # a large learning rate, as max-norm permits
        constraint(net)
        for layer in (net[0], net[2]):
            assert torch.all(_unit_norms(layer.weight.detach()) <= 1.0 + 1e-6)


def test_maxnorm_custom_names_can_include_biases():
    layer = nn.Linear(3, 4)
    with torch.no_grad():
        layer.bias.fill_(5.0)
    MaxNorm(1.0, names=("weight", "bias"))(layer)
    torch.testing.assert_close(layer.bias.detach(), torch.ones(4))


# --------------------------------------------------------------------------- project_l2_ball_


@pytest.mark.parametrize("dtype", DTYPES)
def test_project_l2_ball(dtype):
    w = _weight((4, 5), dtype)
    norm = torch.linalg.vector_norm(w).item()
    inside = w.clone()
    assert torch.equal(project_l2_ball_(inside, 2 * norm), w)  # inside the ball: untouched
    out = project_l2_ball_(w.clone(), 0.5 * norm)
    torch.testing.assert_close(out, 0.5 * w)
    assert out.dtype == dtype


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), radius=st.floats(0.1, 5.0))
def test_project_l2_ball_is_the_euclidean_projection(seed, radius):
    """p = P(x) satisfies <x - p, z - p> <= 0 for every z in the ball (the obtuse-angle criterion)."""
    gen = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(6, generator=gen, dtype=torch.float64)
    p = project_l2_ball_(x.clone(), radius)
    assert torch.linalg.vector_norm(p) <= radius * (1 + 1e-12)
    directions = torch.randn(50, 6, generator=gen, dtype=torch.float64)
    lengths = radius * torch.rand(50, 1, generator=gen, dtype=torch.float64)
    z = directions / torch.linalg.vector_norm(directions, dim=1, keepdim=True) * lengths
    assert torch.all((z - p) @ (x - p) <= 1e-10)


# --------------------------------------------------------------------------- clip_grad_norm_


def _model_with_grads(seed=0, scale=1.0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    (scale * net(torch.randn(10, 5)).square().sum()).backward()
    return net


@pytest.mark.parametrize("max_norm", [0.0, 0.1, 1e6])
def test_clip_grad_norm_matches_torch(max_norm):
    a, b = _model_with_grads(), _model_with_grads()
    total = clip_grad_norm_(a.parameters(), max_norm)
    expected = torch.nn.utils.clip_grad_norm_(b.parameters(), max_norm)
    torch.testing.assert_close(total, expected)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad)


def test_clip_grad_norm_returns_the_norm_before_clipping_and_skips_missing_grads():
    net = _model_with_grads(scale=10.0)
    net[2].bias.grad = None
    grads = [p.grad.clone() for p in net.parameters() if p.grad is not None]
    total = clip_grad_norm_(net, 1.0)
    torch.testing.assert_close(total, torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])))
    after = torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])
    torch.testing.assert_close(torch.linalg.vector_norm(after), torch.tensor(1.0), rtol=1e-5, atol=1e-5)
    assert net[2].bias.grad is None


def test_clip_grad_norm_without_grads_returns_zero():
    assert clip_grad_norm_(nn.Linear(2, 2), 1.0).item() == 0.0


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("call, match", [
    (lambda: max_norm_([[1.0, 2.0]], 1.0), "weight"),
    (lambda: max_norm_(torch.tensor(3.0), 1.0), "weight"),
    (lambda: max_norm_(torch.ones(2, 2), 0.0), "max_norm"),
    (lambda: max_norm_(torch.ones(2, 2), -1.0), "max_norm"),
    (lambda: max_norm_(torch.ones(2, 2), 1.0, dim=2), "dim"),
    (lambda: max_norm_(torch.ones(2, 2), 1.0, dim=0.5), "dim"),
    (lambda: project_l2_ball_(torch.ones(3), 0.0), "radius"),
    (lambda: project_l2_ball_(None, 1.0), "tensor"),
    (lambda: MaxNorm(-3.0), "max_norm"),
    (lambda: MaxNorm(3.0, names="weight"), "names"),
    (lambda: MaxNorm(3.0)([torch.ones(2, 2)]), "model"),
    (lambda: MaxNorm(3.0)(nn.ConvTranspose1d(4, 4, 2, groups=2)), "groups"),
    (lambda: clip_grad_norm_(nn.Linear(2, 2).parameters(), -1.0), "max_norm"),
    (lambda: clip_grad_norm_([], 1.0), "params"),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- unit_norms


def test_unit_norms_per_layer_match_the_rows_and_channels_max_norm_constrains():
    torch.manual_seed(0)
    net = _Net()
    norms = unit_norms(net)
    assert list(norms) == ["conv.weight", "up.weight", "fc.weight"]
    torch.testing.assert_close(norms["fc.weight"], torch.linalg.vector_norm(net.fc.weight.detach(), dim=1))
    torch.testing.assert_close(norms["conv.weight"], _unit_norms(net.conv.weight.detach()))
    torch.testing.assert_close(norms["up.weight"], _unit_norms(net.up.weight.detach(), dim=1))
    assert all(v.grad_fn is None for v in norms.values())
    MaxNorm(0.05)(net)
    assert all(torch.all(v <= 0.05 * (1 + 1e-6)) for v in unit_norms(net).values())


def test_unit_norms_of_a_bare_linear_layer():
    layer = nn.Linear(3, 2)
    assert list(unit_norms(layer)) == ["weight"]


# --------------------------------------------------------------------------- ClippedOptimizer


def _clip_setup(seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    x, y = torch.randn(20, 5), torch.randn(20, 2)
    return net, x, y


@pytest.mark.parametrize("max_norm", [0.05, 1e6])
def test_clipped_optimizer_equals_clip_then_sgd_step(max_norm):
    net_a, x, y = _clip_setup()
    net_b, _, _ = _clip_setup()
    opt_a = ClippedOptimizer(torch.optim.SGD(net_a.parameters(), lr=0.5, momentum=0.9), max_norm)
    opt_b = torch.optim.SGD(net_b.parameters(), lr=0.5, momentum=0.9)
    for _ in range(4):
        def closure():
            opt_a.zero_grad()
            loss = (net_a(x) - y).square().mean()
            loss.backward()
            return loss
        loss = opt_a.step(closure)
        assert loss.ndim == 0
        opt_b.zero_grad()
        (net_b(x) - y).square().mean().backward()
        torch.nn.utils.clip_grad_norm_(net_b.parameters(), max_norm)
        opt_b.step()
    for pa, pb in zip(net_a.parameters(), net_b.parameters()):
        torch.testing.assert_close(pa, pb)
    assert opt_a.num_steps == 4
    assert opt_a.num_clipped == (4 if max_norm < 1 else 0)
    assert opt_a.fraction_clipped == (1.0 if max_norm < 1 else 0.0)
    assert opt_a.param_groups is opt_a.optimizer.param_groups
    assert "/4 steps clipped" in repr(opt_a)


def test_clipped_optimizer_bounds_each_sgd_update_by_lr_times_max_norm():
    net, x, y = _clip_setup()
    opt = ClippedOptimizer(torch.optim.SGD(net.parameters(), lr=0.1), 0.2)
    before = torch.cat([p.detach().flatten().clone() for p in net.parameters()])
    opt.zero_grad()
    (100 * (net(x) - y).square().mean()).backward()
    opt.step()
    after = torch.cat([p.detach().flatten() for p in net.parameters()])
    assert opt.last_norm > 0.2
    torch.testing.assert_close(torch.linalg.vector_norm(after - before), torch.tensor(0.1 * 0.2), rtol=1e-4, atol=0)


def test_clipped_optimizer_plugs_into_fit_and_state_dict_round_trips():
    from reglib.train import fit

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3))
    x, y = torch.randn(30, 4), torch.randint(0, 3, (30,))
    box = {}

    def factory(params):
        box["opt"] = ClippedOptimizer(torch.optim.SGD(params, lr=0.1, momentum=0.9), 0.01)
        return box["opt"]

    fit(net, (x, y), epochs=2, batch_size=10, optimizer=factory, progress=False, device="cpu")
    opt = box["opt"]
    assert opt.num_steps == 6 and opt.num_clipped == 6
    state = opt.state_dict()
    opt.load_state_dict(state)
    assert opt.state is opt.optimizer.state
    assert torch.isnan(torch.tensor(ClippedOptimizer(torch.optim.SGD(net.parameters(), lr=0.1), 1.0).fraction_clipped))


@pytest.mark.parametrize("call, match", [
    (lambda: unit_norms(torch.ones(2, 2)), "model"),
    (lambda: ClippedOptimizer("sgd", 1.0), "optimizer"),
    (lambda: ClippedOptimizer(torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), -1.0), "max_norm"),
])
def test_bad_arguments_of_the_chapter_04_helpers(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unit_norm_trace_applies_its_constraint_and_records_every_k_calls():
    from reglib.constraints import UnitNormTrace, unit_norms

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    with torch.no_grad():
        model[0].weight.mul_(10)
    trace = UnitNormTrace(MaxNorm(1.5), every=2)
    for _ in range(5):
        trace(model)
    assert trace.calls == 5 and len(trace.values) == 2
    assert max(trace.values) <= 1.5 * (1 + 1e-6)
    plain = UnitNormTrace(every=1)
    plain(model)
    assert plain.values == [torch.cat(list(unit_norms(model).values())).max().item()]
    with pytest.raises(ValueError, match="every"):
        UnitNormTrace(every=0)
    with pytest.raises(ValueError, match="inner"):
        UnitNormTrace(inner=3.0)


def test_dead_units_counts_relus_silent_on_every_input():
    from reglib.constraints import dead_units

    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2), nn.ReLU())
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]]))
        model[0].bias.copy_(torch.tensor([0.0, 0.0, -1.0]))
        model[2].weight.fill_(1.0)
        model[2].bias.copy_(torch.tensor([0.0, -100.0]))
    x = torch.tensor([[1.0, 5.0], [2.0, -3.0]])  # unit 0 fires; unit 1 and 2 never do
    assert dead_units(model, x) == [pytest.approx(2 / 3), pytest.approx(0.5)]
    assert not model[1]._forward_hooks  # the hooks are removed
    with pytest.raises(ValueError, match="model"):
        dead_units("not a model", x)
