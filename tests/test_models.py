"""reglib.models: shapes, parameter counts, argument checks."""

import pytest
import torch
from torch import nn

from reglib.models import CNN1d, CNN2d, MLP, LogisticRegression, PaperMLP, ResidualMLP, count_parameters




def _x(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_count_parameters_of_the_greydanus_mlp():
    assert count_parameters(MLP(40, 10)) == 40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10


def test_count_parameters_skips_frozen():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert count_parameters(model) == 3 * 4 + 4 + 4 * 2 + 2
    model[0].weight.requires_grad_(False)
    assert count_parameters(model) == 4 + 4 * 2 + 2


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "gelu"])
def test_mlp_shapes(activation):
    model = MLP(40, 10, hidden=(16, 8), activation=activation)
    assert model(_x(5, 40)).shape == (5, 10)
    assert model(_x(5, 1, 40)).shape == (5, 10)  # flattened
    assert count_parameters(model) == 40 * 16 + 16 + 16 * 8 + 8 + 8 * 10 + 10


def test_mlp_without_hidden_layers_is_linear():
    model = MLP(6, 3, hidden=())
    assert count_parameters(model) == 6 * 3 + 3
    x = _x(4, 6)
    torch.testing.assert_close(model(x), x @ model[-1].weight.T + model[-1].bias)


def test_mlp_with_dropout():
    pytest.importorskip("reglib.dropout")
    model = MLP(40, 10, hidden=(32,), dropout=0.5, input_dropout=0.2)
    x = _x(8, 40)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    a = model(x)
    assert a.shape == (8, 10)
    assert not torch.equal(a, model(x))  # fresh masks in training


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_mlp_with_norm(norm):
    pytest.importorskip("reglib.normalization")
    model = MLP(40, 10, hidden=(16, 16), norm=norm)
    assert model(_x(8, 40)).shape == (8, 10)
    model.eval()
    assert model(_x(3, 40)).shape == (3, 10)


@pytest.mark.parametrize("kw, name", [({"activation": "swish"}, "activation"), ({"norm": "group"}, "norm"),
                                      ({"dropout": 1.0}, "dropout"), ({"dropout": -0.1}, "dropout"),
                                      ({"input_dropout": 1.0}, "input_dropout"), ({"in_features": 0}, "in_features"),
                                      ({"num_classes": 0}, "num_classes"), ({"hidden": (10, 0)}, "hidden")])
def test_mlp_bad_arguments(kw, name):
    kw = {"in_features": 40, "num_classes": 10, **kw}
    with pytest.raises(ValueError, match=f"^{name}"):
        MLP(**kw)


def test_logistic_regression():
    model = LogisticRegression(40, 10)
    assert model(_x(7, 40)).shape == (7, 10)
    assert model(_x(7, 1, 40)).shape == (7, 10)
    assert count_parameters(model) == 40 * 10 + 10
    with pytest.raises(ValueError, match="in_features"):
        LogisticRegression(0, 10)
    with pytest.raises(ValueError, match="num_classes"):
        LogisticRegression(40, 1)


def test_cnn1d_shapes():
    model = CNN1d()
    assert model(_x(6, 40)).shape == (6, 10)
    assert model(_x(6, 1, 40)).shape == (6, 10)
    torch.testing.assert_close(model(_x(6, 40)), model(_x(6, 1, 40)))
    assert CNN1d(num_classes=3, channels=8, length=64)(_x(2, 64)).shape == (2, 3)


def test_cnn1d_with_dropout():
    pytest.importorskip("reglib.dropout")
    model = CNN1d(dropout=0.3, channel_dropout=0.2).eval()
    x = _x(4, 40)
    torch.testing.assert_close(model(x), model(x))
    assert model.train()(x).shape == (4, 10)


@pytest.mark.parametrize("kw, name", [({"channels": 0}, "channels"), ({"dropout": 1.0}, "dropout"),
                                      ({"channel_dropout": 1.5}, "channel_dropout")])
def test_cnn1d_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        CNN1d(**kw)


def test_cnn2d_shapes():
    model = CNN2d()
    assert model(_x(5, 1, 8, 8)).shape == (5, 10)
    torch.testing.assert_close(model(_x(5, 64)), model(_x(5, 1, 8, 8)))
    assert CNN2d(num_classes=4)(_x(2, 1, 8, 8)).shape == (2, 4)


def test_cnn2d_with_dropout():
    pytest.importorskip("reglib.dropout")
    model = CNN2d(dropout=0.5).eval()
    x = _x(3, 1, 8, 8)
    torch.testing.assert_close(model(x), model(x))


@pytest.mark.parametrize("kw, name", [({"dropout": 1.0}, "dropout"), ({"num_classes": 0}, "num_classes")])
def test_cnn2d_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        CNN2d(**kw)


def test_residual_mlp_shapes():
    model = ResidualMLP(40, 10, width=16, depth=3)
    assert len(model.blocks) == 3
    assert model(_x(4, 40)).shape == (4, 10)
    assert model(_x(4, 1, 40)).shape == (4, 10)
    per_block = 2 * 16 + 2 * (16 * 16 + 16)  # LayerNorm + two Linear
    assert count_parameters(model) == 40 * 16 + 16 + 3 * per_block + 16 * 10 + 10


def test_residual_mlp_drop_path_schedule():
    model = ResidualMLP(8, 2, width=4, depth=4, drop_path=0.4)
    assert [b.drop_path.p for b in model.blocks] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    pytest.importorskip("reglib.dropout")
    x = _x(6, 8)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    assert model.train()(x).shape == (6, 2)


@pytest.mark.parametrize("kw, name", [({"depth": 0}, "depth"), ({"drop_path": 1.0}, "drop_path"),
                                      ({"drop_path": -0.5}, "drop_path")])
def test_residual_mlp_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        ResidualMLP(8, 2, **kw)


@pytest.mark.parametrize("make", [lambda: MLP(40, 10, hidden=(8,)), lambda: CNN1d(channels=4),
                                  lambda: LogisticRegression(40, 10), lambda: ResidualMLP(40, 10, width=8, depth=2)])
def test_models_backpropagate_to_every_parameter(make):
    model = make()
    model(_x(3, 40)).logsumexp(1).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_paper_mlp_is_the_residual_mlpbase_of_the_mnist1d_code():
    model = PaperMLP()
    # Linear(40, 100), Linear(100, 100), Linear(100, 10)
    assert count_parameters(model) == 40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10
    x = _x(7, 40)
    h = torch.relu(model.inp(x))
    expected = model.out(h + torch.relu(model.block(h)))
    torch.testing.assert_close(model(x), expected)
    with pytest.raises(ValueError, match="hidden"):
        PaperMLP(hidden=0)


def test_cnn1d_is_the_convbase_of_the_mnist1d_code():
    model = CNN1d()
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0], c.padding[0]) for c in model.convs] == \
        [(1, 25, 5, 2, 1), (25, 25, 3, 2, 1), (25, 25, 3, 2, 1)]
    assert model.linear.in_features == 125 and model.linear.out_features == 10


def test_fit_without_shuffling_takes_batches_in_order():
    from reglib.train import fit

    seen = []
    model = nn.Linear(1, 2)
    model.register_forward_pre_hook(lambda mod, args: seen.append(args[0][:, 0].tolist()) if mod.training else None)
    x = torch.arange(6.0).view(6, 1)
    fit(model, (x, torch.zeros(6, dtype=torch.long)), epochs=2, batch_size=4, shuffle=False, eval_every=10,
        eval_train=False, device="cpu", progress=False)
    assert seen == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0], [0.0, 1.0, 2.0, 3.0], [4.0, 5.0]]
