"""reglib.optim against torch.optim, step for step, and SAM against a hand computation (chapter 11)."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from reglib.optim import SAM, SGD, Adam, AdamW

STEPS = 25


@pytest.fixture(scope="module")
def problem():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    x = torch.randn(40, 6, generator=g)
    y = torch.randint(0, 3, (40,), generator=g)
    return net, x, y


def _train(problem, make_opt, steps=STEPS, groups=False, use_closure=True):
    """Train a copy of the MLP; returns the trajectory of flattened parameters and the losses."""
    net, x, y = problem
    model = copy.deepcopy(net)
    if groups:  # two groups with different hyperparameters
        params = [{"params": model[0].parameters()}, {"params": model[2].parameters(), **groups}]
    else:
        params = model.parameters()
    opt = make_opt(params)
    trajectory, losses = [], []
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return loss

        if use_closure:
            losses.append(float(opt.step(closure).detach()))
        else:
            losses.append(float(closure().detach()))
            opt.step()
        trajectory.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    return torch.stack(trajectory), losses


def _assert_same_training(problem, ours, theirs, **kw):
    traj_ours, loss_ours = _train(problem, ours, **kw)
    traj_ref, loss_ref = _train(problem, theirs, **kw)
    assert_close(traj_ours, traj_ref, rtol=1e-6, atol=1e-7)
    assert_close(torch.tensor(loss_ours), torch.tensor(loss_ref))
    assert not torch.equal(traj_ours[0], traj_ours[-1])  # it did move


# --------------------------------------------------------------------------- SGD


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.1},
    {"lr": 0.1, "weight_decay": 0.05},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-2},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-2},
    {"lr": 0.05, "momentum": 0.5, "dampening": 0.3},
])
def test_sgd_equals_torch_step_for_step(problem, kwargs):
    _assert_same_training(problem, lambda p: SGD(p, **kwargs), lambda p: torch.optim.SGD(p, **kwargs))


def test_sgd_without_closure_and_with_param_groups(problem):
    _assert_same_training(problem, lambda p: SGD(p, lr=0.1, momentum=0.9),
                          lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), use_closure=False)
    _assert_same_training(problem, lambda p: SGD(p, lr=0.1, momentum=0.9),
                          lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                          groups={"lr": 0.01, "momentum": 0.5, "weight_decay": 0.1, "nesterov": True})


# --------------------------------------------------------------------------- Adam / AdamW


@pytest.mark.parametrize("kwargs", [
    {},
    {"lr": 1e-2},
    {"lr": 1e-2, "weight_decay": 1e-2},
    {"lr": 3e-3, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
])
def test_adam_equals_torch_adam(problem, kwargs):
    _assert_same_training(problem, lambda p: Adam(p, **kwargs), lambda p: torch.optim.Adam(p, **kwargs))


@pytest.mark.parametrize("lr", [1e-3, 1e-2, 5e-2])
@pytest.mark.parametrize("wd", [0.0, 1e-2, 0.5])
def test_adamw_equals_torch_adamw(problem, lr, wd):
    _assert_same_training(problem, lambda p: AdamW(p, lr=lr, weight_decay=wd),
                          lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=wd))
    _assert_same_training(problem, lambda p: Adam(p, lr=lr, weight_decay=wd, decoupled=True),
                          lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=wd, foreach=True), steps=5)


def test_adam_param_groups_with_different_hyperparameters(problem):
    group = {"lr": 0.05, "betas": (0.5, 0.9), "weight_decay": 0.2}
    _assert_same_training(problem, lambda p: Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2),
                          groups=group)
    _assert_same_training(problem, lambda p: AdamW(p, lr=1e-2, weight_decay=1e-3),
                          lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=1e-3), groups=group)


def test_adam_l2_differs_from_adamw(problem):
    l2, _ = _train(problem, lambda p: Adam(p, lr=1e-2, weight_decay=0.1), steps=10)
    decoupled, _ = _train(problem, lambda p: AdamW(p, lr=1e-2, weight_decay=0.1), steps=10)
    assert not torch.allclose(l2[-1], decoupled[-1])


def test_adamw_defaults_to_no_weight_decay(problem):
    assert AdamW([torch.zeros(1, requires_grad=True)]).defaults["weight_decay"] == 0.0
    assert AdamW([torch.zeros(1, requires_grad=True)]).defaults["decoupled"] is True
    _assert_same_training(problem, AdamW, lambda p: torch.optim.AdamW(p, weight_decay=0.0), steps=5)


def test_adam_state_dict_round_trip_continues_identically(problem):
    net, x, y = problem

    def run(model, opt, n):
        for _ in range(n):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

    a = copy.deepcopy(net)
    opt_a = Adam(a.parameters(), lr=1e-2, weight_decay=1e-2)
    run(a, opt_a, 10)
    b = copy.deepcopy(net)
    opt_b = Adam(b.parameters(), lr=1e-2, weight_decay=1e-2)
    run(b, opt_b, 5)
    c = copy.deepcopy(b)
    opt_c = Adam(c.parameters(), lr=1.0)  # hyperparameters come from the state dict
    opt_c.load_state_dict(copy.deepcopy(opt_b.state_dict()))
    assert opt_c.param_groups[0]["lr"] == 1e-2
    run(c, opt_c, 5)
    for p, q in zip(a.parameters(), c.parameters()):
        assert torch.equal(p, q)
    assert opt_c.state[next(c.parameters())]["step"] == 10


def test_parameters_without_gradient_are_skipped_and_zero_grad_works():
    w = torch.ones(3, requires_grad=True)
    frozen = torch.ones(3, requires_grad=True)
    opt = Adam([w, frozen], lr=0.1)
    (w ** 2).sum().backward()
    opt.step()
    assert torch.equal(frozen, torch.ones(3)) and not torch.equal(w, torch.ones(3))
    assert frozen not in opt.state
    opt.zero_grad()
    assert w.grad is None
    assert SGD([w], lr=0.1).step() is None


def test_step_runs_under_no_grad_and_returns_closure_loss():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    for opt in (SGD([w], lr=0.1, momentum=0.9), Adam([w]), AdamW([w], weight_decay=0.1)):
        def closure():
            opt.zero_grad()
            loss = (w ** 2).sum()
            loss.backward()
            return loss

        loss = opt.step(closure)
        assert loss.requires_grad and w.grad_fn is None and w.is_leaf


def test_float64_parameters_keep_their_dtype():
    w = torch.ones(4, dtype=torch.float64, requires_grad=True)
    opt = AdamW([w], lr=0.1, weight_decay=0.1)
    (w ** 3).sum().backward()
    opt.step()
    assert w.dtype == torch.float64 and opt.state[w]["exp_avg"].dtype == torch.float64


# --------------------------------------------------------------------------- SAM


@pytest.mark.parametrize("base, kwargs", [
    (SGD, {"lr": 0.1}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3}),
    (Adam, {"lr": 1e-2}),
    (torch.optim.AdamW, {"lr": 1e-2, "weight_decay": 0.1}),
])
def test_sam_with_rho_zero_equals_its_base_optimizer(problem, base, kwargs):
    _assert_same_training(problem, lambda p: SAM(p, base, rho=0.0, **kwargs), lambda p: base(p, **kwargs))


def _quadratic():
    """L(w) = 1/2 Σ a_i w_i² over two parameter tensors; ∇L = a ⊙ w."""
    a1, a2 = torch.tensor([1.0, 4.0]), torch.tensor([[0.5, 2.0, 3.0]])
    w1 = torch.tensor([1.0, -0.5], requires_grad=True)
    w2 = torch.tensor([[2.0, 0.25, -1.0]], requires_grad=True)
    return (a1, a2), (w1, w2)


@pytest.mark.parametrize("adaptive", [False, True])
def test_sam_perturbation_and_update_by_hand(adaptive):
    (a1, a2), (w1, w2) = _quadratic()
    rho, lr = 0.3, 0.1
    opt = SAM([w1, w2], SGD, rho=rho, adaptive=adaptive, lr=lr)
    seen = []

    def closure():
        opt.zero_grad()
        seen.append((w1.detach().clone(), w2.detach().clone()))
        loss = 0.5 * (a1 * w1 ** 2).sum() + 0.5 * (a2 * w2 ** 2).sum()
        loss.backward()
        return loss

    w1_0, w2_0 = w1.detach().clone(), w2.detach().clone()
    g1, g2 = a1 * w1_0, a2 * w2_0
    if adaptive:  # e = ρ w² g / ‖|w| g‖
        norm = torch.cat([(w1_0.abs() * g1).flatten(), (w2_0.abs() * g2).flatten()]).norm()
        e1, e2 = rho * w1_0 ** 2 * g1 / norm, rho * w2_0 ** 2 * g2 / norm
    else:  # e = ρ g / ‖g‖, the norm over both tensors together
        norm = torch.cat([g1.flatten(), g2.flatten()]).norm()
        e1, e2 = rho * g1 / norm, rho * g2 / norm
    loss = opt.step(closure)

    assert len(seen) == 2  # the closure is evaluated at θ and at θ + e
    assert torch.equal(seen[0][0], w1_0) and torch.equal(seen[0][1], w2_0)
    assert_close(seen[1][0], w1_0 + e1)
    assert_close(seen[1][1], w2_0 + e2)
    if not adaptive:
        assert_close(torch.cat([(seen[1][0] - w1_0).flatten(), (seen[1][1] - w2_0).flatten()]).norm(),
                     torch.tensor(rho))
    # the base step starts from θ and uses the gradient at θ + e
    assert_close(w1.detach(), w1_0 - lr * a1 * (w1_0 + e1))
    assert_close(w2.detach(), w2_0 - lr * a2 * (w2_0 + e2))
    # the returned loss is the one at the current weights
    assert_close(loss.detach(), 0.5 * (a1 * w1_0 ** 2).sum() + 0.5 * (a2 * w2_0 ** 2).sum())


def test_sam_perturbation_method_matches_formula():
    (a1, a2), (w1, w2) = _quadratic()
    opt = SAM([w1, w2], SGD, rho=0.05, lr=0.1)
    (0.5 * (a1 * w1 ** 2).sum() + 0.5 * (a2 * w2 ** 2).sum()).backward()
    e = opt.perturbation()
    g = torch.cat([(a1 * w1).detach().flatten(), (a2 * w2).detach().flatten()])
    assert_close(torch.cat([e[w1].flatten(), e[w2].flatten()]), 0.05 * g / g.norm())


def test_sam_zero_gradient_does_not_produce_nan():
    w = torch.zeros(3, requires_grad=True)
    opt = SAM([w], SGD, rho=0.05, lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert torch.equal(w, torch.zeros(3))


def test_sam_shares_param_groups_and_state_with_base(problem):
    net, x, y = problem
    model = copy.deepcopy(net)
    opt = SAM(model.parameters(), SGD, rho=0.1, lr=0.1, momentum=0.9)
    assert opt.param_groups is opt.base_optimizer.param_groups
    assert opt.param_groups[0]["rho"] == 0.1 and opt.param_groups[0]["momentum"] == 0.9
    opt.param_groups[0]["lr"] = 0.05  # what a scheduler does
    assert opt.base_optimizer.param_groups[0]["lr"] == 0.05

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    opt.step(closure)
    state = copy.deepcopy(opt.state_dict())
    assert len(state["state"]) == 4  # the base optimizer's momentum buffers
    other = SAM(copy.deepcopy(model).parameters(), SGD, rho=0.5, lr=1.0, momentum=0.9)
    other.load_state_dict(state)
    assert other.param_groups[0]["rho"] == 0.1 and other.param_groups[0]["lr"] == 0.05
    assert other.param_groups is other.base_optimizer.param_groups
    assert other.state is other.base_optimizer.state and len(other.state) == 4
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_sam_lowers_the_loss(problem):
    _, losses = _train(problem, lambda p: SAM(p, SGD, rho=0.05, lr=0.5), steps=30)
    assert losses[-1] < 0.8 * losses[0]


# --------------------------------------------------------------------------- bad arguments


def _w():
    return [torch.zeros(2, requires_grad=True)]


@pytest.mark.parametrize("make, name", [
    (lambda: SGD(_w(), lr=-0.1), "lr"),
    (lambda: SGD(_w(), lr=float("nan")), "lr"),
    (lambda: SGD(_w(), lr=0.1, momentum=-0.5), "momentum"),
    (lambda: SGD(_w(), lr=0.1, weight_decay=-1e-4), "weight_decay"),
    (lambda: SGD(_w(), lr=0.1, dampening=-0.1), "dampening"),
    (lambda: SGD(_w(), lr=0.1, nesterov=True), "nesterov"),
    (lambda: SGD(_w(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda: SGD([{"params": _w(), "lr": -1.0}], lr=0.1), "lr"),
    (lambda: Adam(_w(), lr=-1e-3), "lr"),
    (lambda: Adam(_w(), betas=(1.0, 0.999)), r"betas\[0\]"),
    (lambda: Adam(_w(), betas=(0.9, -0.1)), r"betas\[1\]"),
    (lambda: Adam(_w(), betas=(0.9,)), "betas"),
    (lambda: Adam(_w(), betas=0.9), "betas"),
    (lambda: Adam(_w(), eps=-1e-8), "eps"),
    (lambda: Adam(_w(), weight_decay=-0.1), "weight_decay"),
    (lambda: Adam([{"params": _w(), "betas": (0.9, 1.5)}]), r"betas\[1\]"),
    (lambda: AdamW(_w(), weight_decay=-0.1), "weight_decay"),
    (lambda: SAM(_w(), SGD, rho=-0.05, lr=0.1), "rho"),
    (lambda: SAM(_w(), "sgd", lr=0.1), "base_optimizer"),
    (lambda: SAM(_w(), SGD, lr=-0.1), "lr"),
])
def test_bad_arguments_raise_value_errors_naming_them(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_sam_step_needs_a_closure():
    opt = SAM(_w(), SGD, lr=0.1)
    with pytest.raises(ValueError, match="closure"):
        opt.step()


# --------------------------------------------------------------------------- modified loss (chapter 11, eq. (6))


def test_modified_loss_value_and_gradient_match_the_closed_form():
    from reglib.optim import modified_loss

    w = torch.tensor([1.0, 2.0, -0.5], dtype=torch.float64, requires_grad=True)
    lr = 0.4
    out = modified_loss((w ** 3).sum(), [w], lr)
    g = 3 * w.detach() ** 2  # ∇L for L = Σ w³
    assert_close(out.detach(), (w.detach() ** 3).sum() + lr / 4 * (g ** 2).sum())
    (grad,) = torch.autograd.grad(out, w)
    hessian_g = 6 * w.detach() * g  # H = diag(6w)
    assert_close(grad, g + lr / 2 * hessian_g)


def test_modified_loss_gradcheck_and_lr_zero():
    from reglib.optim import modified_loss

    a = torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def f(w):
        return modified_loss(torch.tanh(a @ w).pow(2).sum(), [w], 0.3)

    w = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (w,))
    loss = (w ** 2).sum()
    assert modified_loss(loss, [w], 0.0) is not None
    assert_close(modified_loss(loss, [w], 0.0), loss)


def test_modified_loss_over_several_tensors_and_unused_parameters():
    from reglib.optim import modified_loss

    w1 = torch.tensor([1.0, -1.0], requires_grad=True)
    w2 = torch.tensor([0.5], requires_grad=True)
    unused = torch.zeros(3, requires_grad=True)
    loss = (w1 ** 2).sum() + 3 * w2.sum()
    out = modified_loss(loss, [w1, w2, unused], 0.2)
    assert_close(out.detach(), loss.detach() + 0.05 * ((2 * w1.detach()) ** 2).sum() + 0.05 * 9)


@pytest.mark.parametrize("make, name", [
    (lambda w: ((w ** 2).sum(), [w], -0.1), "lr"),
    (lambda w: ((w ** 2).sum(), [w], float("nan")), "lr"),
    (lambda w: (w ** 2, [w], 0.1), "loss"),
    (lambda w: (3.0, [w], 0.1), "loss"),
    (lambda w: ((w ** 2).sum(), [], 0.1), "params"),
    (lambda w: ((w ** 2).sum(), [w.detach()], 0.1), "params"),
])
def test_modified_loss_bad_arguments(make, name):
    from reglib.optim import modified_loss

    w = torch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match=name):
        modified_loss(*make(w))


# --------------------------------------------------------------------------- gradient flow (chapter 11, §6)


def test_gradient_flow_solves_a_linear_ode_exactly_enough():
    from reglib.optim import gradient_flow

    a = torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64)
    theta0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    loss = lambda th: 0.5 * (a * th ** 2).sum()  # noqa: E731  flow: θ(t) = θ0 exp(−a t)
    for duration in (0.0, 0.1, 1.0):
        assert_close(gradient_flow(loss, theta0, duration, substeps=100), theta0 * torch.exp(-a * duration),
                     rtol=1e-7, atol=1e-9)
    assert torch.equal(theta0, torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))  # not modified
    # fourth order: halving the sub-step divides the error by about 16
    exact = theta0 * torch.exp(-a * 2.0)
    e1 = (gradient_flow(loss, theta0, 2.0, substeps=20) - exact).norm()
    e2 = (gradient_flow(loss, theta0, 2.0, substeps=40) - exact).norm()
    assert 14 < e1 / e2 < 20, (e1, e2)


def test_gradient_descent_step_is_second_order_close_to_the_flow():
    from reglib.optim import gradient_flow, modified_loss

    w = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64)
    loss = lambda th: torch.cosh(th @ w) + 0.25 * (th ** 4).sum()  # noqa: E731
    theta0 = torch.tensor([0.2, 0.4, -0.3], dtype=torch.float64)
    errors_plain, errors_modified = [], []
    for alpha in (0.02, 0.01):
        th = theta0.clone().requires_grad_()
        step = theta0 - alpha * torch.autograd.grad(loss(th), th)[0]
        errors_plain.append((step - gradient_flow(loss, theta0, alpha)).norm().item())
        modified = lambda t, a=alpha: modified_loss(loss(t), [t], a)  # noqa: E731
        errors_modified.append((step - gradient_flow(modified, theta0, alpha)).norm().item())
    assert 3.5 < errors_plain[0] / errors_plain[1] < 4.5  # O(α²)
    assert 7 < errors_modified[0] / errors_modified[1] < 9  # O(α³)


@pytest.mark.parametrize("kwargs, name", [({"duration": -1.0}, "duration"),
                                          ({"duration": 1.0, "substeps": 0}, "substeps")])
def test_gradient_flow_bad_arguments(kwargs, name):
    from reglib.optim import gradient_flow

    with pytest.raises(ValueError, match=name):
        gradient_flow(lambda th: (th ** 2).sum(), torch.zeros(2), **kwargs)


# --------------------------------------------------------------------------- lockstep training (chapter 11, §4)


@pytest.fixture(scope="module")
def mnist1d():
    from reglib.data import load_mnist1d

    return load_mnist1d()


def test_train_lockstep_runs_equal_fit(mnist1d):
    """Each run of the lockstep trainer is what fit() gives with the same optimizer, seed and number of steps."""
    from reglib.models import MLP
    from reglib.optim import train_lockstep
    from reglib.train import fit
    from reglib.utils import set_seed

    settings = [{"lr": 1e-2, "weight_decay": 0.1, "decoupled": True}, {"lr": 3e-3, "weight_decay": 1e-3},
                {"lr": 3e-2, "weight_decay": 0.0}]
    lockstep = train_lockstep(lambda: MLP(40, 10, hidden=(100, 100)), settings, *mnist1d.train, seed=0, steps=40)
    for setting, model in zip(settings, lockstep):
        set_seed(0)
        single = MLP(40, 10, hidden=(100, 100))
        fit(single, mnist1d.train, epochs=100, max_steps=40, optimizer=lambda p, s=setting: Adam(p, **s),
            eval_every=100, eval_train=False, seed=0, device="cpu", progress=False)
        gap = max((p - q).abs().max().item() for p, q in zip(single.parameters(), model.parameters()))
        moved = max((p - q).abs().max().item() for p, q in zip(single.parameters(), MLP(40, 10).parameters()))
        assert gap < 1e-5, (setting, gap)
        assert moved > 1e-2


def test_train_lockstep_crosses_epochs_and_is_deterministic():
    from reglib.models import MLP
    from reglib.optim import train_lockstep

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(30, 5, generator=g), torch.randint(0, 3, (30,), generator=g)
    make = lambda: MLP(5, 3, hidden=(8,))  # noqa: E731
    a = train_lockstep(make, [{"lr": 1e-2}, {"lr": 1e-2}], x, y, seed=3, steps=7, batch_size=8)  # 4 batches/epoch
    b = train_lockstep(make, [{"lr": 1e-2}], x, y, seed=3, steps=7, batch_size=8)
    for p, q, r in zip(a[0].parameters(), a[1].parameters(), b[0].parameters()):
        assert_close(p, q)  # two identical settings train identically
        assert_close(p, r, rtol=1e-6, atol=1e-7)  # and do not depend on the other runs in the lockstep


@pytest.mark.parametrize("make, settings, kwargs, name", [
    (lambda: torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Tanh(), torch.nn.Linear(3, 3)), [{"lr": 1e-2}], {},
     "make_model"),
    (lambda: torch.nn.Linear(5, 3), [{"lr": 1e-2}], {}, "make_model"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(5, 3)), [], {}, "settings"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(5, 3)), [{"lr": 1e-2}], {"steps": 0}, "steps"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(5, 3)), [{"lr": 1e-2}], {"batch_size": 0}, "batch_size"),
])
def test_train_lockstep_bad_arguments(make, settings, kwargs, name):
    from reglib.optim import train_lockstep

    with pytest.raises(ValueError, match=name):
        train_lockstep(make, settings, torch.zeros(4, 5), torch.zeros(4, dtype=torch.long), seed=0,
                       **{"steps": 1, **kwargs})
