"""reglib.early_stopping.EarlyStopping: patience counting, min_delta, modes, NaN, and exact restoring."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from reglib.early_stopping import EarlyStopping, gd_linear_regression, gd_shrinkage


def _run(stopper, values):
    return [stopper.step(v) for v in values]


# --------------------------------------------------------------------------- patience and improvement


@pytest.mark.parametrize("patience", [1, 2, 3, 5])
def test_stops_exactly_when_patience_bad_steps_in_a_row(patience):
    stopper = EarlyStopping(patience=patience)
    values = [1.0] + [2.0] * patience
    assert _run(stopper, values) == [False] * patience + [True]
    assert stopper.num_bad_steps == patience and stopper.stopped
    assert stopper.best == 1.0 and stopper.best_step == 0


def test_patience_one_stops_on_the_first_bad_step():
    assert _run(EarlyStopping(patience=1), [3.0, 2.0, 2.5]) == [False, False, True]


def test_an_improvement_resets_the_count():
    stopper = EarlyStopping(patience=2)
    assert _run(stopper, [1.0, 1.5, 0.9, 1.0, 1.2]) == [False, False, False, False, True]
    assert stopper.best == 0.9 and stopper.best_step == 2


def test_keeps_returning_true_while_no_improvement_and_stopped_is_sticky():
    stopper = EarlyStopping(patience=2)
    assert _run(stopper, [1.0, 2.0, 2.0, 2.0, 0.5]) == [False, False, True, True, False]
    assert stopper.stopped and stopper.num_bad_steps == 0 and stopper.best_step == 4


def test_equal_value_is_not_an_improvement():
    stopper = EarlyStopping(patience=2)
    assert _run(stopper, [1.0, 1.0, 1.0]) == [False, False, True]
    assert stopper.best_step == 0


def test_min_delta_requires_a_strictly_larger_improvement():
    stopper = EarlyStopping(patience=3, min_delta=0.1)
    _run(stopper, [1.0, 0.95, 0.9, 0.92])
    # 0.95 and 0.9 do not beat 1.0 by more than 0.1 (0.9 is exactly 0.1 better: not more)
    assert stopper.best == 1.0 and stopper.best_step == 0 and stopper.num_bad_steps == 3
    stopper = EarlyStopping(patience=3, min_delta=0.1)
    _run(stopper, [1.0, 0.85, 0.8])
    assert stopper.best == 0.85 and stopper.best_step == 1 and stopper.num_bad_steps == 1


def test_mode_max():
    stopper = EarlyStopping(patience=2, mode="max", min_delta=0.01)
    assert _run(stopper, [0.5, 0.6, 0.605, 0.55]) == [False, False, False, True]
    assert stopper.best == 0.6 and stopper.best_step == 1


def test_nan_never_improves_even_first():
    stopper = EarlyStopping(patience=2)
    assert stopper.step(float("nan")) is False
    assert stopper.best is None and stopper.best_step is None and stopper.num_bad_steps == 1
    assert stopper.step(5.0) is False  # the first real value improves
    assert stopper.best == 5.0 and stopper.best_step == 1
    assert _run(stopper, [math.nan, math.nan]) == [False, True]
    assert stopper.best == 5.0


def test_first_value_improves_even_if_infinite():
    stopper = EarlyStopping(patience=1)
    assert stopper.step(math.inf) is False
    assert stopper.best == math.inf and stopper.best_step == 0


def test_accepts_numpy_scalars_and_one_element_tensors():
    stopper = EarlyStopping(patience=2)
    stopper.step(torch.tensor(2.0))
    stopper.step(np.float32(1.0))
    stopper.step(torch.tensor([0.5]))
    assert stopper.best == 0.5 and stopper.best_step == 2 and isinstance(stopper.best, float)


def test_reset_forgets_everything():
    stopper = EarlyStopping(patience=1)
    _run(stopper, [1.0, 2.0])
    stopper.step(1.0, nn.Linear(2, 2))
    stopper.reset()
    assert (stopper.best, stopper.best_step, stopper.num_bad_steps, stopper.stopped, stopper.best_state) == (
        None, None, 0, False, None)
    assert stopper.step(7.0) is False and stopper.best_step == 0


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.floats(-10, 10), st.just(math.nan)), min_size=1, max_size=30),
       patience=st.integers(1, 4), min_delta=st.sampled_from([0.0, 0.5]), mode=st.sampled_from(["min", "max"]))
def test_matches_a_direct_reference(values, patience, min_delta, mode):
    """A direct restatement of the contract, checked on arbitrary sequences."""
    stopper = EarlyStopping(patience=patience, min_delta=min_delta, mode=mode)
    sign = 1 if mode == "min" else -1
    best, best_step, bad = None, None, 0
    for i, v in enumerate(values):
        better = not math.isnan(v) and (best is None or sign * (best - v) > min_delta)
        best, best_step, bad = (v, i, 0) if better else (best, best_step, bad + 1)
        assert stopper.step(v) == (bad >= patience)
        assert (stopper.best, stopper.best_step, stopper.num_bad_steps) == (best, best_step, bad)


# --------------------------------------------------------------------------- the best weights


def _perturb(model, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_restore_loads_the_best_state_exactly(dtype):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Linear(6, 2)).to(dtype)
    model(torch.randn(8, 4, dtype=dtype))  # moves the BatchNorm running statistics
    stopper = EarlyStopping(patience=3)
    best = None
    for step, value in enumerate([3.0, 2.0, 2.5, 2.2, 2.1]):
        _perturb(model, step)
        stopper.step(value, model)
        if value == 2.0:
            best = {k: v.clone() for k, v in model.state_dict().items()}
    assert stopper.stopped and stopper.best_step == 1
    assert stopper.restore(model) is model
    state = model.state_dict()
    assert state.keys() == best.keys()
    for key in best:
        assert torch.equal(state[key], best[key]) and state[key].dtype == best[key].dtype


def test_stored_state_is_a_detached_copy_unaffected_by_later_training():
    model = nn.Linear(3, 2)
    stopper = EarlyStopping()
    stopper.step(1.0, model)
    stored = stopper.best_state["weight"]
    assert stored.data_ptr() != model.weight.data_ptr() and not stored.requires_grad
    assert stored.device == model.weight.device
    before = stored.clone()
    _perturb(model, 0)
    assert torch.equal(stopper.best_state["weight"], before)
    stopper.restore(model)
    _perturb(model, 1)  # training after restoring does not reach into the stored copy either
    assert torch.equal(stopper.best_state["weight"], before)


def test_restore_without_a_stored_state_raises_runtime_error():
    stopper = EarlyStopping()
    with pytest.raises(RuntimeError, match="no best state"):
        stopper.restore(nn.Linear(2, 2))
    stopper.step(1.0)  # improved without a model: nothing to restore
    with pytest.raises(RuntimeError, match="step\\(value, model\\)"):
        stopper.restore(nn.Linear(2, 2))


def test_an_improvement_without_model_drops_the_older_state():
    model = nn.Linear(2, 2)
    stopper = EarlyStopping()
    stopper.step(2.0, model)
    stopper.step(1.0)
    assert stopper.best_state is None  # the stored state always belongs to best_step


def test_repr_shows_settings_and_state():
    stopper = EarlyStopping(patience=3, mode="max")
    stopper.step(0.5)
    text = repr(stopper)
    assert "patience=3" in text and "mode='max'" in text and "best=0.5" in text


def test_plugs_into_fit_and_restores_the_best_epoch():
    """The hook contract of reglib.train.fit: best_step indexes the history; the best weights come back."""
    from reglib.train import fit

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(120, 5, generator=gen), torch.randint(0, 3, (120,), generator=gen)
    x_val, y_val = torch.randn(60, 5, generator=gen), torch.randint(0, 3, (60,), generator=gen)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 3))
    stopper = EarlyStopping(patience=2)
    history = fit(model, (x, y), (x_val, y_val), epochs=40, lr=0.05, early_stopping=stopper,
                  progress=False, device="cpu")
    assert history.stopped_early and history.best_index == stopper.best_step
    assert history.val_loss[stopper.best_step] == min(history.val_loss)
    with torch.no_grad():
        restored_loss = nn.functional.cross_entropy(model(x_val), y_val).item()
    assert restored_loss == pytest.approx(stopper.best, rel=1e-6)


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("kwargs, match", [
    (dict(patience=0), "patience"),
    (dict(patience=2.5), "patience"),
    (dict(patience=True), "patience"),
    (dict(min_delta=-0.1), "min_delta"),
    (dict(min_delta=float("nan")), "min_delta"),
    (dict(mode="minimum"), "mode"),
    (dict(restore_best="yes"), "restore_best"),
])
def test_bad_constructor_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kwargs)


@pytest.mark.parametrize("call, match", [
    (lambda s: s.step("low"), "value"),
    (lambda s: s.step(torch.ones(3)), "value"),
    (lambda s: s.step(True), "value"),
    (lambda s: s.step(1.0, model={"weight": torch.ones(1)}), "model"),
    (lambda s: s.restore({"weight": torch.ones(1)}), "model"),
])
def test_bad_step_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call(EarlyStopping())


# --------------------------------------------------------------------------- early stopping as L2 (chapter 05)


def _regression(seed=0, n=30, d=6):
    from reglib.data import make_linear_regression

    X, y, _ = make_linear_regression(n=n, d=d, noise=0.5, seed=seed, condition=5)
    return X, y


@pytest.mark.parametrize("steps", [0, 1, 7, 100])
def test_gd_linear_regression_equals_running_gradient_descent(steps):
    X, y = _regression()
    lr = 1.0 / np.linalg.eigvalsh(X.T @ X).max()
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        w = w - lr * X.T @ (X @ w - y)
    np.testing.assert_allclose(gd_linear_regression(X, y, lr, steps), w, rtol=1e-9, atol=1e-12)


def test_gd_shrinkage_is_the_eigen_factor_of_the_iterate():
    from reglib.linear import ridge

    X, y = _regression(1)
    lam, V = np.linalg.eigh(X.T @ X)
    lam, V = lam[::-1], V[:, ::-1]
    lr, steps = 0.5 / lam[0], 40
    factors = gd_shrinkage(X, lr, steps)
    np.testing.assert_allclose(factors, 1 - (1 - lr * lam) ** steps, rtol=1e-12)
    w_ls = ridge(X, y, 0.0)
    # in the eigenbasis the iterate is the least-squares solution times the factors
    np.testing.assert_allclose(V.T @ gd_linear_regression(X, y, lr, steps), factors * (V.T @ w_ls), rtol=1e-8, atol=1e-12)
    assert np.all((factors > 0) & (factors < 1)) and np.all(np.diff(factors) <= 1e-15)


def test_gd_with_rank_deficient_X_stays_in_the_row_space():
    X, y = _regression(2, n=4, d=6)  # rank 4 < 6 features
    lr = 1.0 / np.linalg.eigvalsh(X.T @ X).max()
    w = np.zeros(6)
    for _ in range(25):
        w = w - lr * X.T @ (X @ w - y)
    np.testing.assert_allclose(gd_linear_regression(X, y, lr, 25), w, rtol=1e-8, atol=1e-10)
    factors = gd_shrinkage(X, lr, 25)
    np.testing.assert_allclose(factors[4:], 0.0, atol=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: gd_shrinkage(np.ones((3, 2)), 0.0, 5), "lr"),
    (lambda: gd_shrinkage(np.ones((3, 2)), 0.1, -1), "steps"),
    (lambda: gd_shrinkage(np.ones((3, 2)), 0.1, 2.5), "steps"),
    (lambda: gd_shrinkage(np.ones(3), 0.1, 5), "X"),
    (lambda: gd_linear_regression(np.ones((3, 2)), np.ones(4), 0.1, 5), "y"),
    (lambda: gd_linear_regression(np.ones((3, 2)), np.ones(3), -0.1, 5), "lr"),
])
def test_bad_arguments_of_the_linear_helpers(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_epoch_recorder_records_every_evaluation_and_never_stops():
    import torch

    from reglib.early_stopping import EpochRecorder
    from reglib.models import MLP
    from reglib.train import fit

    torch.manual_seed(0)
    x, y = torch.randn(64, 40), torch.randint(0, 10, (64,))
    model = MLP(40, 10, hidden=(8,))
    recorder = EpochRecorder(lambda m: float(m[1].weight.detach().sum()))
    history = fit(model, (x, y), (x, y), epochs=3, batch_size=32, early_stopping=recorder, seed=0)
    assert len(recorder.values) == len(history) == 3 and not history.stopped_early
    assert recorder.values[-1] == float(model[1].weight.detach().sum())
    assert len(set(recorder.values)) == 3  # the weights changed between evaluations
    with pytest.raises(ValueError, match="measure"):
        EpochRecorder(3)
