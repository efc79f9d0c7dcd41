"""reglib.train: the fit loop, its hooks, History, predict/evaluate, make_optimizer."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.testing import assert_close  # noqa: E402

from reglib.train import History, evaluate, fit, make_optimizer, predict  # noqa: E402

CPU = torch.device("cpu")




def _classification(n=24, d=5, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = torch.randint(0, k, (n,), generator=g)
    return x, y


def _model(d=5, k=3, seed=0, dropout=0.0):
    torch.manual_seed(seed)
    layers = [nn.Linear(d, 8), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(8, k))


def _fit(model, train, **kw):
    kw = {"epochs": 2, "batch_size": 8, "device": CPU, "progress": False, **kw}
    return fit(model, train, **kw)


def _same_history(a: History, b: History):
    for key in ("epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc"):
        assert getattr(a, key) == getattr(b, key), key
    assert a.best_index == b.best_index and a.stopped_early == b.stopped_early


# --------------------------------------------------------------------------- determinism, convergence


def test_fit_is_deterministic_under_a_seed():
    train, val = _classification(seed=0), _classification(n=10, seed=1)
    runs = []
    for _ in range(2):
        model = _model(dropout=0.3)
        hist = _fit(model, train, val=val, epochs=3, seed=5, optimizer="sgd", lr=0.1)
        runs.append((model, hist))
    (m1, h1), (m2, h2) = runs
    _same_history(h1, h2)
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    other = _model(dropout=0.3)
    h3 = _fit(other, train, val=val, epochs=3, seed=6, optimizer="sgd", lr=0.1)
    assert h3.train_loss != h1.train_loss


def test_fit_converges_on_linear_regression():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    w_true, b_true = torch.tensor([1.5, -2.0, 0.5]), 0.3
    y = x @ w_true + b_true
    model = nn.Linear(3, 1)

    def mse(out, target):
        return F.mse_loss(out.squeeze(1), target)

    hist = _fit(model, (x, y), val=(x, y), epochs=60, batch_size=16, optimizer="sgd", lr=0.1, loss_fn=mse)
    assert_close(model.weight.detach().squeeze(0), w_true, atol=1e-3, rtol=0)
    assert model.bias.item() == pytest.approx(b_true, abs=1e-3)
    assert hist.val_loss[-1] < 1e-6 and hist.train_loss[-1] < hist.train_loss[0]
    assert math.isnan(hist.val_acc[-1]) and math.isnan(hist.train_acc[-1])  # regression: no accuracy


def test_fit_learns_a_separable_problem():
    x, _ = _classification(n=60, d=2)
    y = (x[:, 0] > 0).long()
    model = _model(d=2, k=2)
    hist = _fit(model, (x, y), val=(x, y), epochs=40, batch_size=20, optimizer="adam", lr=0.05)
    assert hist.val_acc[-1] >= 0.95
    assert hist.train_acc == hist.val_acc  # the same data, both measured in eval mode


def test_history_records():
    train, val = _classification(n=20), _classification(n=10, seed=1)
    hist = _fit(_model(), train, val=val, epochs=3, batch_size=8)
    assert len(hist) == 3
    assert hist.epoch == [1, 2, 3] and hist.step == [3, 6, 9]
    assert len(hist.train_loss) == len(hist.train_acc) == len(hist.val_loss) == len(hist.val_acc) == 3
    assert hist.best == hist.final and hist.final["epoch"] == 3
    assert hist.seconds > 0 and not hist.stopped_early and hist.best_index is None
    assert "3 evaluations" in repr(hist) and repr(History()) == "History(empty)"
    # without val data and train accuracy, those lists stay empty
    hist = _fit(_model(), train, epochs=1, eval_train=False)
    assert hist.val_loss == [] and hist.train_acc == [] and hist.final["val_acc"] is None


def test_train_loss_is_the_mean_batch_loss_without_penalty():
    train = _classification(n=16)
    model = _model()
    batches = []

    def loss_fn(out, y):
        loss = F.cross_entropy(out, y)
        batches.append(loss.item())
        return loss

    hist = _fit(model, train, epochs=1, batch_size=8, loss_fn=loss_fn, eval_train=False,
                penalty=lambda m: 100.0 * sum(p.abs().sum() for p in m.parameters()))
    assert len(batches) == 2
    assert hist.train_loss[0] == pytest.approx(sum(batches) / 2)


# --------------------------------------------------------------------------- hooks


def test_penalty_equals_sgd_weight_decay():
    x, y = _classification(n=16)
    lam = 0.3

    def run(**kw):
        model = _model(seed=1).double()
        _fit(model, (x.double(), y), epochs=1, batch_size=16, optimizer="sgd", lr=0.5, **kw)
        return [p.detach() for p in model.parameters()]

    def l2(model):
        return lam / 2 * sum((p ** 2).sum() for p in model.parameters())

    with_penalty, with_decay, plain = run(penalty=l2), run(weight_decay=lam), run()
    for a, b, c in zip(with_penalty, with_decay, plain):
        assert_close(a, b, rtol=1e-12, atol=1e-12)
        assert not torch.equal(a, c)


@pytest.mark.parametrize("n, batch_size, epochs", [(10, 4, 3), (10, 5, 2), (7, 10, 2), (1, 1, 4)])
def test_constraint_called_after_every_step(n, batch_size, epochs):
    train = _classification(n=n)
    calls = []
    model = _model()

    def constraint(m):
        assert m is model
        calls.append(m[0].weight.detach().clone())

    hist = _fit(model, train, epochs=epochs, batch_size=batch_size, optimizer="sgd", lr=0.1, constraint=constraint)
    assert len(calls) == epochs * math.ceil(n / batch_size) == hist.step[-1]
    # called after the step: the weights it sees have moved since the previous call
    if len(calls) > 1:
        assert not torch.equal(calls[0], calls[1])


def test_constraint_acts_on_the_weights():
    def zero_first_layer(m):
        with torch.no_grad():
            m[0].weight.clamp_(-0.01, 0.01)

    model = _model()
    _fit(model, _classification(), epochs=2, optimizer="sgd", lr=1.0, constraint=zero_first_layer)
    assert model[0].weight.abs().max() <= 0.01


def test_augment_receives_each_batch_and_the_generator():
    x, y = _classification(n=10)
    seen = []

    def augment(xb, yb, generator):
        assert isinstance(generator, torch.Generator)
        seen.append((xb.clone(), yb.clone()))
        return xb + 0.01 * torch.randn(xb.shape, generator=generator), yb

    _fit(_model(), (x, y), epochs=2, batch_size=4, augment=augment)
    assert [len(b[1]) for b in seen] == [4, 4, 2, 4, 4, 2]
    for epoch in (seen[:3], seen[3:]):  # each epoch is a permutation of the training set
        xs = torch.cat([b[0] for b in epoch])
        ys = torch.cat([b[1] for b in epoch])
        order = [int((x == row).all(1).nonzero()) for row in xs]
        assert sorted(order) == list(range(10))
        assert torch.equal(ys, y[order])


def test_augment_output_is_what_is_trained_on():
    x, y = _classification(n=12)
    model = nn.Linear(5, 3, bias=False)
    before = model.weight.detach().clone()
    # with zeroed inputs a bias-free linear model gets no gradient
    _fit(model, (x, y), epochs=2, batch_size=4, optimizer="sgd", lr=1.0,
         augment=lambda xb, yb, g: (torch.zeros_like(xb), yb))
    assert torch.equal(model.weight, before)


def test_augment_randomness_is_seeded():
    def noisy(xb, yb, g):
        return xb + torch.randn(xb.shape, generator=g), yb

    weights = []
    for seed in (3, 3, 4):
        model = _model()
        _fit(model, _classification(), epochs=2, augment=noisy, seed=seed)
        weights.append(model[0].weight.detach())
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_soft_target_loss_fn():
    x, y = _classification(n=12)
    soft = 0.9 * F.one_hot(y, 3) + 0.1 / 3
    hist = _fit(_model(), (x, soft), val=(x, soft), epochs=2, batch_size=6)
    assert 0 <= hist.val_acc[-1] <= 1


# --------------------------------------------------------------------------- max_steps, eval_every


def test_max_steps_stops_mid_epoch():
    steps = []
    hist = _fit(_model(), _classification(n=10), epochs=10, batch_size=4, max_steps=5,
                constraint=lambda m: steps.append(1))
    assert len(steps) == 5
    assert hist.step[-1] == 5 and hist.epoch == [1, 2]


def test_max_steps_larger_than_the_run():
    hist = _fit(_model(), _classification(n=10), epochs=2, batch_size=4, max_steps=100)
    assert hist.step == [3, 6]


def test_eval_every():
    hist = _fit(_model(), _classification(n=10), val=_classification(n=6, seed=2), epochs=5, batch_size=5,
                eval_every=2)
    assert hist.epoch == [2, 4, 5] and hist.step == [4, 8, 10]
    assert len(hist.val_loss) == 3
    hist = _fit(_model(), _classification(n=10), epochs=6, batch_size=5, eval_every=3)
    assert hist.epoch == [3, 6]


# --------------------------------------------------------------------------- early stopping


class StubStopper:
    """The early-stopping protocol fit relies on, with a scripted answer."""

    def __init__(self, stop_at, best_step, mode="min", restore_best=True):
        self.stop_at, self.best_step, self.mode, self.restore_best = stop_at, best_step, mode, restore_best
        self.values, self.models, self.restored = [], [], []

    def step(self, value, model=None):
        self.values.append(value)
        self.models.append(model)
        return len(self.values) == self.stop_at

    def restore(self, model):
        self.restored.append(model)


def test_early_stopping_stops_at_the_right_evaluation():
    stopper = StubStopper(stop_at=3, best_step=1)
    model = _model()
    hist = _fit(model, _classification(), val=_classification(n=10, seed=1), epochs=10, early_stopping=stopper)
    assert len(hist) == 3 and hist.epoch == [1, 2, 3]
    assert stopper.values == hist.val_loss
    assert all(m is model for m in stopper.models)
    assert hist.stopped_early and hist.best_index == 1
    assert hist.best["epoch"] == 2 and hist.best["val_loss"] == hist.val_loss[1]
    assert stopper.restored == [model]
    assert "stopped early, best at epoch 2" in repr(hist)


def test_early_stopping_with_eval_every_and_monitor():
    stopper = StubStopper(stop_at=2, best_step=0, mode="max", restore_best=False)
    hist = _fit(_model(), _classification(), val=_classification(n=10, seed=1), epochs=10, eval_every=3,
                early_stopping=stopper, monitor="val_acc")
    assert hist.epoch == [3, 6] and stopper.values == hist.val_acc
    assert hist.best_index == 0 and hist.stopped_early
    assert stopper.restored == []  # restore_best is False


def test_early_stopping_that_never_fires():
    stopper = StubStopper(stop_at=-1, best_step=2)
    hist = _fit(_model(), _classification(), epochs=4, early_stopping=stopper, monitor="train_loss")
    assert len(hist) == 4 and not hist.stopped_early
    assert stopper.values == hist.train_loss and hist.best_index == 2
    assert len(stopper.restored) == 1  # the best weights are loaded at the end anyway


@pytest.mark.parametrize("mode, monitor", [("min", "val_acc"), ("max", "val_loss"), ("max", "train_loss")])
def test_early_stopping_mode_must_fit_monitor(mode, monitor):
    with pytest.raises(ValueError, match="monitor"):
        _fit(_model(), _classification(), val=_classification(n=4), early_stopping=StubStopper(2, 0, mode=mode),
             monitor=monitor)


def test_early_stopping_on_validation_needs_val():
    with pytest.raises(ValueError, match="monitor"):
        _fit(_model(), _classification(), early_stopping=StubStopper(2, 0))


# --------------------------------------------------------------------------- optimizers


def _weights_after(optimizer, **kw):
    model = _model(seed=2)
    opt = optimizer(model) if callable(optimizer) and not isinstance(optimizer, type) and kw.pop("instance", False) \
        else optimizer
    _fit(model, _classification(), epochs=2, lr=0.05, **kw, optimizer=opt)
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_optimizer_as_string_class_factory_and_instance_agree():
    by_name = _weights_after("sgd", momentum=0.9, weight_decay=1e-3)
    by_class = _weights_after(torch.optim.SGD, momentum=0.9, weight_decay=1e-3)
    by_factory = _weights_after(lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-3))
    by_instance = _weights_after(lambda m: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3),
                                 instance=True)
    assert torch.equal(by_name, by_class)
    assert torch.equal(by_name, by_factory)
    assert torch.equal(by_name, by_instance)
    assert not torch.equal(by_name, _weights_after("sgd"))


@pytest.mark.parametrize("name, cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                       ("adamw", torch.optim.AdamW)])
def test_make_optimizer_by_name(name, cls):
    model = _model()
    opt = make_optimizer(name, model, lr=0.01, weight_decay=0.1)
    assert type(opt) is cls
    assert opt.defaults["lr"] == 0.01 and opt.defaults["weight_decay"] == 0.1
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == sum(p.numel() for p in model.parameters())
    assert _weights_after(name).isfinite().all()


@pytest.mark.parametrize("name, cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                       ("adamw", torch.optim.AdamW)])
def test_named_optimizers_use_foreach_kernels_with_bitwise_the_per_tensor_steps(name, cls):
    opt = make_optimizer(name, _model(), lr=0.01)
    assert opt.defaults["foreach"] is True  # faster on CPU; on CUDA it is torch's default anyway
    extra = {"momentum": 0.9} if name == "sgd" else {}
    by_name = _weights_after(name, weight_decay=1e-2, **extra)
    per_tensor = _weights_after(lambda params: cls(params, lr=0.05, weight_decay=1e-2, foreach=False, **extra))
    assert torch.equal(by_name, per_tensor)


def test_make_optimizer_skips_frozen_parameters_and_keeps_instances():
    model = _model()
    model[0].weight.requires_grad_(False)
    opt = make_optimizer("sgd", model, lr=0.1)
    assert all(p is not model[0].weight for p in opt.param_groups[0]["params"])
    instance = torch.optim.Adam(model.parameters())
    assert make_optimizer(instance, model, lr=0.1) is instance
    with_class = make_optimizer(torch.optim.Adam, model, lr=0.02)
    assert with_class.defaults["lr"] == 0.02 and with_class.defaults["weight_decay"] == 0


def test_instance_optimizer_is_the_one_stepped():
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    _fit(model, _classification(), epochs=1, optimizer=opt)
    assert opt.state  # Adam's moments exist: fit stepped this very optimizer
    assert all(s["step"] == 3 for s in opt.state.values())


@pytest.mark.parametrize("bad", ["rmsprop", 42, None])
def test_bad_optimizer(bad):
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer(bad, _model(), lr=0.1)


class TwoEvaluations(torch.optim.Optimizer):
    """A SAM-shaped optimizer: evaluates the closure at the weights and at perturbed weights."""

    def __init__(self, params, lr=0.1, rho=0.05):
        super().__init__(params, {"lr": lr, "rho": rho})
        self.closure_calls = 0
        self.losses = []

    @torch.no_grad()
    def step(self, closure):
        with torch.enable_grad():
            self.losses.append(float(closure().detach()))
        self.closure_calls += 1
        eps = []
        for group in self.param_groups:
            for p in group["params"]:
                e = group["rho"] * p.grad / (p.grad.norm() + 1e-12)
                p.add_(e)
                eps.append(e)
        with torch.enable_grad():
            closure()
        self.closure_calls += 1
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                p.sub_(eps[i]).sub_(group["lr"] * p.grad)
                i += 1


def test_closure_based_optimizer_that_evaluates_twice():
    model = _model()
    opt = TwoEvaluations(model.parameters(), lr=0.1)
    x, y = _classification(n=16)
    hist = _fit(model, (x, y), val=(x, y), epochs=3, batch_size=8, optimizer=opt)
    assert opt.closure_calls == 2 * 6
    # the recorded training loss is the loss at the unperturbed weights
    assert hist.train_loss[0] == pytest.approx(sum(opt.losses[:2]) / 2)
    assert hist.val_loss[-1] < hist.val_loss[0]


# --------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize("kw, name", [({"epochs": 0}, "epochs"), ({"epochs": 1.5}, "epochs"),
                                      ({"batch_size": 0}, "batch_size"), ({"lr": 0.0}, "lr"),
                                      ({"lr": -1.0}, "lr"), ({"weight_decay": -0.1}, "weight_decay"),
                                      ({"eval_every": 0}, "eval_every"), ({"monitor": "val_f1"}, "monitor"),
                                      ({"max_steps": 0}, "max_steps")])
def test_fit_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        _fit(_model(), _classification(), **kw)


# --------------------------------------------------------------------------- predict, evaluate, progress, plot


@pytest.mark.parametrize("training", [True, False])
def test_predict_and_evaluate_restore_the_mode(training):
    model = _model(dropout=0.5)
    model.train(training)
    x, y = _classification(n=9)
    out = predict(model, x, batch_size=4)
    assert model.training is training
    assert all(m.training is training for m in model.modules())
    with torch.no_grad():
        expected = model.eval()(x)
    model.train(training)
    assert_close(out, expected)  # eval mode inside predict: dropout off
    loss, acc = evaluate(model, x, y)
    assert model.training is training
    assert loss == pytest.approx(F.cross_entropy(expected, y).item(), rel=1e-6)
    assert acc == pytest.approx((expected.argmax(1) == y).double().mean().item())


def test_predict_restores_the_mode_when_the_model_raises():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            raise RuntimeError("boom")

    model = Broken().train()
    with pytest.raises(RuntimeError, match="boom"):
        predict(model, torch.zeros(2, 1))
    assert model.training


def test_fit_leaves_the_model_in_train_mode_and_evaluate_with_loss_fn():
    model = _model()
    x, y = _classification(n=8)
    _fit(model, (x, y), epochs=1)
    assert model.training
    loss, acc = evaluate(model, x, y, loss_fn=lambda out, t: torch.tensor(1.25))
    assert loss == 1.25 and 0 <= acc <= 1


def test_progress_false_prints_nothing(capsys):
    _fit(_model(), _classification(), epochs=2, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_true_shows_a_bar(capsys):
    _fit(_model(), _classification(), epochs=2, progress=True)
    assert "Sequential" in capsys.readouterr().err


def test_progress_default_follows_environment(capsys, monkeypatch):
    monkeypatch.setenv("REGLIB_PROGRESS", "0")
    fit(_model(), _classification(), epochs=1, device=CPU)
    assert capsys.readouterr().err == ""


def test_history_plot_returns_two_axes():
    hist = _fit(_model(), _classification(), val=_classification(n=6, seed=3), epochs=3,
                early_stopping=StubStopper(stop_at=-1, best_step=1, restore_best=False))
    axes = hist.plot(title="run")
    try:
        assert len(axes) == 2
        ax_loss, ax_acc = axes
        assert len(ax_loss.get_lines()) == 3  # train, validation, best marker
        assert list(ax_loss.get_lines()[0].get_ydata()) == hist.train_loss
        assert list(ax_acc.get_lines()[1].get_ydata()) == hist.val_acc
        assert ax_loss.figure._suptitle.get_text() == "run"
        fig, own = plt.subplots(1, 2)
        assert tuple(hist.plot(axes=own, x="step")) == tuple(own)
        assert list(own[0].get_lines()[0].get_xdata()) == hist.step
    finally:
        plt.close("all")
