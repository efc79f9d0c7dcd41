"""reglib additions made for chapter 07: ghost batch norm, the noisy-BN module, the training recorder, the
per-layer signal and gradient, training-mode accuracy, recomputed statistics and two plot helpers."""

import matplotlib

matplotlib.use("Agg")

import copy  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from reglib import normalization as norm  # noqa: E402
from reglib.models import MLP  # noqa: E402
from reglib.plot import grouped_bars, smoothed_bands  # noqa: E402
from reglib.train import fit  # noqa: E402


def _data(n=64, d=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, classes, (n,), generator=g)


# --------------------------------------------------------------------------- ghost batch norm


def test_ghost_batch_norm_normalizes_each_ghost_batch_on_its_own():
    torch.manual_seed(0)
    bn = norm.BatchNorm(5)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0), bn.bias.normal_()
    ghost = norm.GhostBatchNorm(copy.deepcopy(bn), 4).train()
    x = torch.randn(12, 5) * 3 + 1
    expected = torch.cat([F.batch_norm(x[i:i + 4], None, None, bn.weight, bn.bias, training=True)
                          for i in range(0, 12, 4)])
    torch.testing.assert_close(ghost(x), expected)
    # running statistics: the average of the three sub-batches' updates
    updates = [copy.deepcopy(bn).train() for _ in range(3)]
    for module, i in zip(updates, range(0, 12, 4)):
        module(x[i:i + 4])
    torch.testing.assert_close(ghost.bn.running_mean, torch.stack([m.running_mean for m in updates]).mean(0))
    torch.testing.assert_close(ghost.bn.running_var, torch.stack([m.running_var for m in updates]).mean(0))


def test_ghost_batch_of_the_whole_batch_is_batch_norm_and_eval_is_the_wrapped_layer():
    torch.manual_seed(1)
    x = torch.randn(8, 3)
    bn, reference = norm.BatchNorm(3), norm.BatchNorm(3)
    ghost = norm.GhostBatchNorm(bn, 8).train()
    torch.testing.assert_close(ghost(x), reference.train()(x))
    torch.testing.assert_close(bn.running_var, reference.running_var)
    torch.testing.assert_close(ghost.eval()(x), bn.eval()(x))


def test_ghost_batch_norm_rejects_bad_arguments():
    with pytest.raises(ValueError, match="^bn"):
        norm.GhostBatchNorm(nn.BatchNorm1d(3), 2)
    with pytest.raises(ValueError, match="^ghost"):
        norm.GhostBatchNorm(norm.BatchNorm(3), 1)
    with pytest.raises(ValueError, match="^x"):
        norm.GhostBatchNorm(norm.BatchNorm(3), 4).train()(torch.randn(6, 3))


def test_use_ghost_batches_replaces_every_batch_norm_in_place():
    model = MLP(6, 3, hidden=(8, 8), norm="batch")
    bns = [layer for layer in model if isinstance(layer, norm.BatchNorm)]
    assert norm.use_ghost_batches(model, 4) is model
    ghosts = [layer for layer in model if isinstance(layer, norm.GhostBatchNorm)]
    assert [g.bn for g in ghosts] == bns and all(g.ghost == 4 for g in ghosts)
    assert model(torch.randn(8, 6)).shape == (8, 3)
    with pytest.raises(ValueError, match="^model"):
        norm.use_ghost_batches(nn.Linear(2, 2), 4)


# --------------------------------------------------------------------------- noisy batch norm


def test_noisy_shift_is_a_per_unit_affine_map_in_training_and_the_identity_in_eval():
    layer = norm.NoisyShift()
    x = torch.randn(10, 4)
    assert layer.eval()(x) is x
    torch.manual_seed(3)
    y = layer.train()(x)
    torch.manual_seed(3)
    scale = torch.empty(4).uniform_(0.5, 1.5)
    torch.testing.assert_close(y, x * scale + torch.randn(4))
    assert ((scale >= 0.5) & (scale <= 1.5)).all()
    assert not torch.equal(layer(x), layer(x))  # fresh noise at every call


def test_noisy_batch_norm_inserts_noise_after_each_batch_norm_and_shares_layers():
    model = MLP(6, 3, hidden=(8, 8), activation="sigmoid", norm="batch")
    noisy = norm.noisy_batch_norm(model)
    kinds = [type(layer).__name__ for layer in noisy]
    assert kinds.count("NoisyShift") == 2
    for i, layer in enumerate(noisy):
        if isinstance(layer, norm.NoisyShift):
            assert isinstance(noisy[i - 1], norm.BatchNorm)
    assert noisy[1] is model[1]
    x = torch.randn(5, 6)
    torch.testing.assert_close(noisy.eval()(x), model.eval()(x))
    with pytest.raises(ValueError, match="^model"):
        norm.noisy_batch_norm(nn.Linear(2, 2))


# --------------------------------------------------------------------------- the training recorder


def test_fit_recording_trains_exactly_like_fit_and_records_every_step():
    x, y = _data()
    kwargs = dict(epochs=3, batch_size=16, optimizer="sgd", momentum=0.9, lr=0.1, eval_every=10,
                  eval_train=False, seed=4, device="cpu", progress=False)
    torch.manual_seed(4)
    plain = MLP(6, 3, hidden=(5, 5), activation="sigmoid")
    recorded = copy.deepcopy(plain)
    fit(plain, (x, y), loss_fn=F.cross_entropy, **kwargs)
    out = norm.fit_recording(recorded, (x, y), **kwargs)
    for a, b in zip(plain.parameters(), recorded.parameters()):
        assert torch.equal(a, b)
    steps = 3 * 64 // 16
    assert out["losses"].shape == (steps,) and np.isfinite(out["losses"]).all()
    assert out["unit_means"].shape == (steps, 2, 5)
    assert out["cpu_seconds"] >= 0
    # the first step's record is the untrained network's mean activation on the first batch
    assert ((out["unit_means"] > 0) & (out["unit_means"] < 1)).all()  # sigmoid outputs
    assert not any(module._forward_hooks for module in recorded.modules())  # hooks removed


def test_fit_recording_uses_the_given_loss():
    x, y = _data()
    calls = []

    def loss_fn(logits, target):
        calls.append(1)
        return F.cross_entropy(logits, target) * 2

    out = norm.fit_recording(MLP(6, 3, hidden=(4,)), (x, y), loss_fn=loss_fn, epochs=1, batch_size=32,
                             eval_every=10, eval_train=False, device="cpu", progress=False)
    assert len(out["losses"]) == 2 and len(calls) >= 2
    with pytest.raises(ValueError, match="^model"):
        norm.fit_recording("not a model", (x, y))


def test_signal_and_gradient_matches_a_direct_computation():
    torch.manual_seed(5)
    model = MLP(6, 3, hidden=(7, 7), activation="sigmoid")
    x, y = _data(20)
    spread, grad = norm.signal_and_gradient(model, x, y)
    h1 = torch.sigmoid(model[1](x))
    h2 = torch.sigmoid(model[3](h1))
    assert spread == pytest.approx([h1.std(0).mean().item(), h2.std(0).mean().item()], rel=1e-5)
    reference = copy.deepcopy(model)
    reference.zero_grad()
    F.cross_entropy(reference(x), y).backward()
    expected = [m.weight.grad.norm().item() for m in reference if isinstance(m, nn.Linear)]
    assert grad == pytest.approx(expected, rel=1e-6) and len(grad) == 3
    assert not any(module._forward_hooks for module in model.modules())


# --------------------------------------------------------------------------- the two modes


def _trained_bn_model():
    torch.manual_seed(6)
    x, y = _data(96, classes=3)
    model = MLP(6, 3, hidden=(8,), norm="batch")
    fit(model, (x, y), epochs=5, batch_size=16, lr=1e-2, eval_every=10, eval_train=False, device="cpu",
        progress=False)
    return model.eval(), x, y


def test_train_mode_accuracy_leaves_the_model_untouched_and_uses_batch_statistics():
    model, x, y = _trained_bn_model()
    state = copy.deepcopy(model.state_dict())
    acc = norm.train_mode_accuracy(model, x, y, batch_size=32)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert not model.training
    probe = copy.deepcopy(model).train()
    with torch.no_grad():
        expected = sum((probe(x[i:i + 32]).argmax(1) == y[i:i + 32]).sum().item() for i in range(0, 96, 32)) / 96
    assert acc == pytest.approx(expected)
    probe = copy.deepcopy(model).train()
    with torch.no_grad():
        by_class = sum((probe(x[y == c]).argmax(1) == c).sum().item() for c in range(3)) / 96
    assert norm.train_mode_accuracy(model, x, y) == pytest.approx(by_class)
    with pytest.raises(ValueError, match="^batch_size"):
        norm.train_mode_accuracy(model, x, y, batch_size=0)


def test_train_mode_accuracy_without_batch_norm_is_the_eval_accuracy():
    torch.manual_seed(7)
    model = MLP(6, 3, hidden=(8,)).eval()
    x, y = _data(30)
    with torch.no_grad():
        expected = (model(x).argmax(1) == y).float().mean().item()
    assert norm.train_mode_accuracy(model, x, y, batch_size=7) == pytest.approx(expected)


def test_recompute_statistics_gives_the_statistics_of_x_with_dropout_off():
    torch.manual_seed(8)
    model = MLP(6, 3, hidden=(8, 8), norm="batch", dropout=0.5).eval()
    x, _ = _data(50)
    before = copy.deepcopy(model.state_dict())
    fixed = norm.recompute_statistics(model, x)
    for key, value in model.state_dict().items():  # the original is untouched
        assert torch.equal(value, before[key]), key
    assert not fixed.training and all(not m.training for m in fixed.modules())
    bns = [m for m in fixed if isinstance(m, norm.BatchNorm)]
    with torch.no_grad():
        z1 = fixed[1](x)  # the input of the first batch norm
        # during the one pass the first batch norm normalized with the batch's own statistics; dropout was off
        h1 = F.batch_norm(z1, None, None, bns[0].weight, bns[0].bias, training=True, eps=bns[0].eps)
        z2 = fixed[5](fixed[4](fixed[3](h1)))
    for bn, z in zip(bns, (z1, z2)):
        torch.testing.assert_close(bn.running_mean, z.mean(0))
        torch.testing.assert_close(bn.running_var, z.var(0, unbiased=True))
        assert bn.momentum is None
    with pytest.raises(ValueError, match="^x"):
        norm.recompute_statistics(model, "x")


# --------------------------------------------------------------------------- plot helpers


def test_smoothed_bands_moving_average_and_positions():
    fig, ax = plt.subplots()
    curves = np.array([[0.0, 1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0, 6.0]])
    line = smoothed_bands(ax, curves, window=2, label="loss")
    np.testing.assert_allclose(line.get_xdata(), [2, 3, 4, 5])
    np.testing.assert_allclose(line.get_ydata(), [1.5, 2.5, 3.5, 4.5])
    assert line.get_label() == "loss"
    with pytest.raises(ValueError, match="^window"):
        smoothed_bands(ax, curves, window=6)
    plt.close(fig)


def test_grouped_bars_one_group_per_row_and_one_bar_per_key():
    results = {"a": {"x": np.array([0.2, 0.4]), "y": np.array([1.0, 1.0])},
               "b": {"x": np.array([0.5, 0.5]), "y": np.array([0.0, 2.0])}}
    fig, ax = plt.subplots()
    assert grouped_bars(ax, results, {"first": "x", "second": "y"}, ["A", "B"], ylabel="acc") is ax
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == sorted([0.3, 0.5, 1.0, 1.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B"] and ax.get_ylabel() == "acc"
    with pytest.raises(ValueError, match="^keys"):
        grouped_bars(ax, results, {})
    with pytest.raises(ValueError, match="^xticklabels"):
        grouped_bars(ax, results, {"first": "x"}, ["A"])
    plt.close(fig)
