"""reglib.weight_dynamics (and reglib.data.make_modular_addition): closed forms, PyTorch's AdamW, properties."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from reglib.data import load_mnist1d, make_modular_addition
from reglib.ensembles import StackedMLP, stacked_cross_entropy
from reglib.models import MLP
from reglib.train import fit
from reglib.weight_dynamics import (NormTracker, QuadraticMLP, StackedAdamW, adamw_decay_grid, angular_update,
                                    effective_lr, equilibrium_angular_update, equilibrium_norm,
                                    scale_invariant_weights, train_grokking)

# --------------------------------------------------------------------------- angles and closed forms


@settings(max_examples=80, deadline=None)
@given(angle=st.floats(1e-6, math.pi - 1e-3), scale_a=st.floats(1e-3, 1e3), scale_b=st.floats(1e-3, 1e3),
       seed=st.integers(0, 2**16))
def test_angular_update_recovers_a_constructed_angle(angle, scale_a, scale_b, seed):
    gen = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(6, 2, generator=gen, dtype=torch.float64))
    e1, e2 = basis[:, 0], basis[:, 1]
    a = scale_a * e1
    b = scale_b * (math.cos(angle) * e1 + math.sin(angle) * e2)
    assert math.isclose(angular_update(a, b), angle, rel_tol=1e-6, abs_tol=1e-9)
    # lists of tensors are flattened together; the angle does not depend on the scales
    assert math.isclose(angular_update([a[:2], a[2:]], [b[:3], b[3:]]), angle, rel_tol=1e-6, abs_tol=1e-9)


def test_equilibrium_formulas():
    assert math.isclose(equilibrium_angular_update(0.2, 0.04), math.sqrt(2 * 0.2 * 0.04))
    assert math.isclose(equilibrium_angular_update(0.1, 1e-3, momentum=0.9), math.sqrt(2e-4 / 1.9))
    assert equilibrium_angular_update(0.1, 0.0) == 0.0
    assert math.isclose(effective_lr(0.2, 4.0), 0.2 / 16)


@settings(max_examples=60, deadline=None)
@given(lr=st.floats(1e-3, 1.0), lam=st.floats(1e-5, 0.5), g=st.floats(1e-2, 1e2))
def test_equilibrium_norm_is_the_fixed_point_of_eq_3(lr, lam, g):
    w = equilibrium_norm(lr, lam, g)
    after = math.sqrt((1 - lr * lam) ** 2 * w ** 2 + lr ** 2 * g ** 2 / w ** 2)
    assert math.isclose(after, w, rel_tol=1e-9)
    # and the angle turned there: tan Δ = η‖g‖ / ((1 − ηλ)‖w‖) = √(ηλ(2 − ηλ)) / (1 − ηλ) ≈ √(2ηλ)
    tan_delta = lr * (g / w) / w / (1 - lr * lam)  # ‖g_actual‖ = ‖ĝ‖/‖w‖
    assert math.isclose(tan_delta, math.sqrt(lr * lam * (2 - lr * lam)) / (1 - lr * lam), rel_tol=1e-9)


def test_sgd_on_a_scale_invariant_loss_reaches_the_predicted_angle():
    gen = torch.Generator().manual_seed(0)
    A, b = torch.randn(20, 30, generator=gen, dtype=torch.float64), torch.randn(20, generator=gen, dtype=torch.float64)
    w = torch.randn(30, generator=gen, dtype=torch.float64) * 5
    lr, lam, angles = 0.1, 0.02, []
    for _ in range(4000):
        u = w / w.norm()
        g = A.T @ (A @ u - b) / 20 + 0.3 * torch.randn(30, generator=gen, dtype=torch.float64)
        g = (g - (g @ u) * u) / w.norm()
        new = (1 - lr * lam) * w - lr * g
        angles.append(angular_update(w, new))
        w = new
    assert math.isclose(np.mean(angles[-1500:]), equilibrium_angular_update(lr, lam), rel_tol=0.1)


# --------------------------------------------------------------------------- scale invariance on real networks


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_scale_invariant_weights_are_scale_invariant(norm):
    torch.manual_seed(0)
    model = MLP(10, 3, hidden=(16, 16), norm=norm)
    params = scale_invariant_weights(model)
    assert len(params) == 4 and [p.ndim for p in params] == [2, 1, 2, 1]
    x = torch.randn(32, 10)
    before = model(x)
    with torch.no_grad():
        for p in params[:2]:
            p.mul_(7.0)
    torch.testing.assert_close(model(x), before, rtol=1e-4, atol=1e-5)
    loss = F.cross_entropy(model(x), torch.randint(0, 3, (32,)))
    grads = torch.autograd.grad(loss, params[:2])
    dot = sum((p.detach() * g).sum() for p, g in zip(params[:2], grads))
    assert abs(float(dot)) < 1e-4 * float(sum(g.norm() for g in grads)) * 7  # w ⟂ g, eq. (1)


def test_scale_invariant_weights_needs_a_normalized_layer():
    with pytest.raises(ValueError, match="normalization"):
        scale_invariant_weights(MLP(10, 3, hidden=(8,)))


def test_norm_tracker_records_every_fit_step():
    torch.manual_seed(0)
    model = MLP(10, 3, hidden=(16,), norm="batch")
    params = scale_invariant_weights(model)
    start = torch.cat([p.detach().flatten() for p in params]).clone()
    tracker = NormTracker(params)
    x, y = torch.randn(60, 10), torch.randint(0, 3, (60,))
    fit(model, (x, y), epochs=2, batch_size=20, optimizer="sgd", lr=0.5, constraint=tracker, progress=False)
    arr = tracker.as_arrays()
    assert all(len(v) == 6 for v in arr.values())
    end = torch.cat([p.detach().flatten() for p in params])
    assert math.isclose(arr["norm"][-1], float(end.norm()), rel_tol=1e-6)
    assert math.isclose(tracker.initial_norm, float(start.norm()), rel_tol=1e-6)
    assert (arr["angle"] > 0).all() and (arr["grad_norm"] > 0).all()
    # without decay, SGD only grows the norm of scale-invariant weights (eq. (3) with λ = 0)
    assert (np.diff(np.concatenate([[tracker.initial_norm], arr["norm"]])) > -1e-5).all()


# --------------------------------------------------------------------------- StackedAdamW


def test_stacked_adamw_member_equals_torch_adamw():
    decays = [0.0, 0.3, 2.0]
    torch.manual_seed(0)
    stacked = StackedMLP(3, 8, 4, hidden=(12,))
    members = [stacked.member(m) for m in range(3)]
    opt = StackedAdamW([{"params": list(stacked.weights)}, {"params": list(stacked.biases), "decay": False}], 1e-2,
                       decays)
    refs = []
    for m, mlp in enumerate(members):
        ws = [p for n, p in mlp.named_parameters() if n.endswith("weight")]
        bs = [p for n, p in mlp.named_parameters() if n.endswith("bias")]
        refs.append(torch.optim.AdamW([{"params": ws, "weight_decay": decays[m]}, {"params": bs, "weight_decay": 0.0}],
                                      lr=1e-2))
    gen = torch.Generator().manual_seed(1)
    for _ in range(10):
        x, y = torch.randn(16, 8, generator=gen), torch.randint(0, 4, (16,), generator=gen)

        def closure():
            opt.zero_grad()
            loss = stacked_cross_entropy(stacked(x), y)
            loss.backward()
            return loss

        opt.step(closure)
        for mlp, ref in zip(members, refs):
            ref.zero_grad()
            F.cross_entropy(mlp(x), y).backward()
            ref.step()
    for m, mlp in enumerate(members):
        for a, b in zip(stacked.member(m).parameters(), mlp.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_stacked_adamw_bad_arguments():
    p = torch.zeros(3, 4, requires_grad=True)
    with pytest.raises(ValueError, match="weight_decays"):
        StackedAdamW([p], 0.1, [])
    with pytest.raises(ValueError, match="weight_decays"):
        StackedAdamW([p], 0.1, [0.1, -1.0, 0.0])
    with pytest.raises(ValueError, match="dim 0"):
        StackedAdamW([p], 0.1, [0.1, 0.2])
    with pytest.raises(ValueError, match="lr"):
        StackedAdamW([p], 0.0, [0.1, 0.2, 0.3])


# --------------------------------------------------------------------------- modular addition and grokking


@pytest.mark.parametrize("p, frac", [(7, 0.5), (13, 0.3), (31, 0.5)])
def test_make_modular_addition(p, frac):
    d = make_modular_addition(p, frac, seed=3)
    n = p * p
    assert len(d.y_train) == round(frac * n) and len(d.y_train) + len(d.y_val) + len(d.y_test) == n
    for x, y in (d.train, d.val, d.test):
        assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.shape[1] == 2 * p
        a, b = x[:, :p].argmax(1), x[:, p:].argmax(1)
        assert torch.equal(y, (a + b) % p) and torch.equal(x.sum(1), torch.full((len(y),), 2.0))
    pairs = torch.cat([x[:, :p].argmax(1) * p + x[:, p:].argmax(1) for x, _ in (d.train, d.val, d.test)])
    assert torch.equal(pairs.sort().values, torch.arange(n))  # every pair exactly once
    assert d.num_classes == p
    again = make_modular_addition(p, frac, seed=3)
    assert torch.equal(again.x_train, d.x_train)


def test_make_modular_addition_bad_arguments():
    with pytest.raises(ValueError, match="p must"):
        make_modular_addition(2)
    with pytest.raises(ValueError, match="train_fraction"):
        make_modular_addition(7, 1.0)
    with pytest.raises(ValueError, match="train_fraction"):
        make_modular_addition(3, 0.99)


def test_quadratic_mlp_members_are_independent():
    torch.manual_seed(0)
    model = QuadraticMLP(10, 5, width=6, num_members=3)
    x = torch.randn(4, 10)
    out = model(x)
    assert out.shape == (3, 4, 5)
    for m in range(3):
        torch.testing.assert_close(out[m], (x @ model.W1[m]).square() @ model.W2[m])
    torch.testing.assert_close(model.member_norms()[1],
                               torch.cat([model.W1[1].flatten(), model.W2[1].flatten()]).norm())
    with pytest.raises(ValueError, match="x must"):
        model(torch.randn(4, 9))
    with pytest.raises(ValueError, match="width"):
        QuadraticMLP(10, 5, width=0)


def test_train_grokking_shapes_and_memorization():
    d = make_modular_addition(7, 0.6, seed=0)
    out = train_grokking(d, [0.0, 1.0], steps=60, seed=0, lr=1e-2, width=32, eval_every=20)
    assert out["step"].tolist() == [0, 20, 40, 60]
    assert out["train_acc"].shape == out["val_acc"].shape == out["norm"].shape == (2, 4)
    assert (out["train_acc"][:, -1] > 0.9).all()  # a tiny table is memorized quickly
    again = train_grokking(d, [0.0, 1.0], steps=60, seed=0, lr=1e-2, width=32, eval_every=20)
    np.testing.assert_array_equal(out["val_acc"], again["val_acc"])


def test_adamw_decay_grid_members_differ_only_in_lambda():
    data = load_mnist1d()
    out = adamw_decay_grid(data, [0.0, 0.0, 50.0], n_train=200, epochs=2, seed=0)
    assert out["steps"] == 4 and out["val_loss"].shape == (3,)
    assert out["val_loss"][0] == out["val_loss"][1]  # same λ, same init and batches: identical
    assert out["val_loss"][2] != out["val_loss"][0]
    assert np.isinf(out["timescale_fraction"][0]) and math.isclose(out["timescale_fraction"][2], 1 / (1e-2 * 50 * 4))


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="before and after"):
        angular_update(torch.zeros(3), torch.ones(3))
    with pytest.raises(ValueError, match="before and after"):
        angular_update(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="lr"):
        effective_lr(-1.0, 1.0)
    with pytest.raises(ValueError, match="norm"):
        effective_lr(1.0, 0.0)
    with pytest.raises(ValueError, match="momentum"):
        equilibrium_angular_update(0.1, 0.1, momentum=1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        equilibrium_angular_update(0.1, -0.1)
    with pytest.raises(ValueError, match="unit_grad_norm"):
        equilibrium_norm(0.1, 0.1, 0.0)
    with pytest.raises(ValueError, match="lr \\* weight_decay"):
        equilibrium_norm(1.0, 3.0, 1.0)
    with pytest.raises(ValueError, match="params"):
        NormTracker([])
