"""reglib additions made for chapter 06: the CNN's hidden fully connected layer, the redundancy measure of
§5.4, the cost measurement of §5.5 and the sweep plot of §5.1/§5.4."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from reglib import dropout as rd  # noqa: E402
from reglib.models import CNN1d  # noqa: E402
from reglib.plot import sweep_bands  # noqa: E402


def test_cnn1d_default_has_no_hidden_layer_and_draws_the_same_weights():
    torch.manual_seed(0)
    default = CNN1d()
    torch.manual_seed(0)
    explicit = CNN1d(hidden=None)
    assert default.hidden is None and default.linear.in_features == 125
    assert not any(key.startswith("hidden") for key in default.state_dict())
    for (k1, v1), (k2, v2) in zip(default.state_dict().items(), explicit.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)


def test_cnn1d_hidden_layer_shapes_and_dropout_placement():
    model = CNN1d(hidden=16, dropout=0.5)
    assert model.hidden[0].in_features == 125 and model.hidden[0].out_features == 16
    assert model.linear.in_features == 16
    seen = []
    model.dropout.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape))
    x = torch.randn(4, 40)
    assert model(x).shape == (4, 10)
    assert seen == [torch.Size([4, 16])]  # dropout acts on the hidden layer's units, before the read-out
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    h = model.hidden(model._features(x.unsqueeze(1)))
    torch.testing.assert_close(model(x), model.linear(h))  # eval: no dropout
    assert (h >= 0).all()  # ReLU units


def test_cnn1d_hidden_with_channel_dropout_and_mc_predict():
    torch.manual_seed(0)
    model = CNN1d(channels=4, hidden=8, channel_dropout=0.3)
    mean, std = rd.mc_predict(model, torch.randn(5, 40), n_samples=4)
    assert mean.shape == (5, 10) and (std > 0).any()
    torch.testing.assert_close(mean.sum(1), torch.ones(5))


@pytest.mark.parametrize("hidden", [0, -3, 2.5])
def test_cnn1d_rejects_bad_hidden(hidden):
    with pytest.raises(ValueError, match="^hidden"):
        CNN1d(hidden=hidden)


def test_neighbour_r2_extremes():
    ramp = torch.arange(20.0).repeat(3, 1) * torch.tensor([[1.0], [2.0], [-1.0]])
    assert rd.neighbour_r2(ramp) == pytest.approx(1.0)  # a straight line: neighbours predict exactly
    noise = torch.randn(2000, 50, generator=torch.Generator().manual_seed(0))
    # white noise: Var(x - (a + b)/2) = 1.5 Var(x), so R² = -0.5
    assert rd.neighbour_r2(noise) == pytest.approx(-0.5, abs=0.02)
    maps = torch.randn(4, 3, 10)
    assert rd.neighbour_r2(maps) == pytest.approx(rd.neighbour_r2(maps.reshape(12, 10)))


@pytest.mark.parametrize("bad", [torch.zeros(5, 2), torch.zeros(()), np.zeros((3, 5))])
def test_neighbour_r2_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="^maps"):
        rd.neighbour_r2(bad)


def test_dropout_cost_times_both_networks():
    cost = rd.dropout_cost(width=8, batch=4, p=0.3, reps=2, rounds=2)
    assert set(cost) == {0.0, 0.3}
    assert all(seconds > 0 and np.isfinite(seconds) for seconds in cost.values())


@pytest.mark.parametrize("kwargs, name", [({"p": 0.0}, "p"), ({"p": 1.0}, "p"), ({"width": 0}, "width"),
                                          ({"reps": 0}, "reps"), ({"rounds": 0}, "rounds")])
def test_dropout_cost_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        rd.dropout_cost(**kwargs)


def test_sweep_bands_draws_one_band_per_key():
    results = {0.0: {"a": np.array([0.1, 0.3]), "b": np.array([1.0, 1.0])},
               0.5: {"a": np.array([0.2, 0.4]), "b": np.array([2.0, 4.0])}}
    fig, ax = plt.subplots()
    assert sweep_bands(ax, results, {"first": "a", "second": "b"}, xlabel="p", title="t") is ax
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["first", "second"]
    np.testing.assert_allclose(lines[0].get_xdata(), [0.0, 0.5])
    np.testing.assert_allclose(lines[0].get_ydata(), [0.2, 0.3])
    np.testing.assert_allclose(lines[1].get_ydata(), [1.0, 3.0])
    assert ax.get_xlabel() == "p" and ax.get_title() == "t" and ax.get_legend() is not None
    sweep_bands(ax, {"x": results[0.0], "y": results[0.5]}, {"third": "a"}, xs=[1, 2])
    np.testing.assert_allclose(ax.get_lines()[-1].get_xdata(), [1, 2])
    with pytest.raises(ValueError, match="^keys"):
        sweep_bands(ax, results, {})
    with pytest.raises(ValueError, match="^xs"):
        sweep_bands(ax, results, {"a": "a"}, xs=[1])
    plt.close(fig)
