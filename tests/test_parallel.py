"""reglib.experiment.parallel_map: independent runs in worker processes give the loop's results."""

import os
import time

import numpy as np
import pytest
import torch

from reglib import experiment
from reglib.data import load_mnist1d
from reglib.experiment import SEEDS, default_workers, over_seeds, over_values, parallel_map
from reglib.models import MLP
from reglib.train import fit, predict
from reglib.utils import set_seed

FORKS = experiment._can_fork()


def test_parallel_map_keeps_order_and_accepts_lambdas():
    items = list(range(7))
    assert parallel_map(lambda x: x * x, items, workers=2) == [x * x for x in items]
    assert parallel_map(lambda x: x, [], workers=2) == []


@pytest.mark.skipif(not FORKS, reason="serial on this platform")
def test_parallel_map_really_uses_other_processes():
    # each item takes a moment, so one worker cannot take all four before the other has started
    pids = parallel_map(lambda _: (time.sleep(0.3), os.getpid())[1], range(4), workers=2)
    assert os.getpid() not in pids and len(set(pids)) == 2


def test_side_effects_stay_in_the_workers_and_results_pickle_back():
    seen = []
    out = parallel_map(lambda x: (seen.append(x), torch.full((2,), float(x)))[1], [1, 2, 3], workers=2)
    assert [t.tolist() for t in out] == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]
    assert seen == ([] if FORKS else [1, 2, 3])


def test_nested_calls_run_serially_inside_a_worker():
    inner = parallel_map(lambda x: parallel_map(lambda y: (experiment._IN_WORKER, y), [x, x + 1], workers=2),
                         [0, 10], workers=2)
    assert [[y for _, y in row] for row in inner] == [[0, 1], [10, 11]]
    assert all(flag == FORKS for row in inner for flag, _ in row)
    assert experiment._IN_WORKER is False and experiment._TASK is None


def test_an_error_in_a_worker_reaches_the_caller():
    def boom(x):
        if x == 2:
            raise KeyError("item 2 failed")
        return x

    with pytest.raises(KeyError, match="item 2 failed"):
        parallel_map(boom, range(4), workers=2)
    assert experiment._TASK is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_workers_raise(bad):
    with pytest.raises(ValueError, match="workers"):
        parallel_map(abs, [1, 2], workers=bad)


def test_default_workers_reads_the_environment(monkeypatch):
    monkeypatch.setenv("REGLIB_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("REGLIB_WORKERS", "1")
    assert parallel_map(lambda _: os.getpid(), range(3)) == [os.getpid()] * 3  # 1 worker: serial, here
    for bad in ("0", "two"):
        monkeypatch.setenv("REGLIB_WORKERS", bad)
        with pytest.raises(ValueError, match="REGLIB_WORKERS"):
            default_workers()
    monkeypatch.delenv("REGLIB_WORKERS")
    assert default_workers() >= 1


def test_over_seeds_in_parallel_trains_bitwise_the_same_networks():
    data = load_mnist1d()
    x, y = data.train[0][:256], data.train[1][:256]

    def run(seed):
        set_seed(seed)
        model = MLP(40, 10, hidden=(32,), dropout=0.1)
        fit(model, (x, y), epochs=3, batch_size=64, optimizer="adamw", lr=1e-2, weight_decay=1e-2,
            seed=seed, progress=False)
        return {"logits": predict(model, data.x_test[:50]).cpu()}

    serial = over_seeds(run, seeds=(0, 1, 2))
    parallel = over_seeds(run, seeds=(0, 1, 2), parallel=True)
    assert serial["logits"].shape == (3, 50, 10)
    assert (serial["logits"] == parallel["logits"]).all()
    assert not (serial["logits"][0] == serial["logits"][1]).all()  # the seeds differ


def test_over_values_groups_a_sweep_by_value_and_stacks_the_seeds():
    def make_run(value):
        return lambda seed: {"product": value * seed, "pair": np.array([value, seed])}

    for parallel in (False, True):
        out = over_values(make_run, (2, 5), seeds=(1, 3, 4), parallel=parallel)
        assert list(out) == [2, 5]
        assert out[5]["product"].tolist() == [5, 15, 20]
        assert out[2]["pair"].tolist() == [[2, 1], [2, 3], [2, 4]]
    assert list(over_values(lambda v: lambda s: {"s": s}, ["a"])["a"]["s"]) == list(SEEDS)


def test_over_values_in_parallel_trains_bitwise_the_same_networks():
    data = load_mnist1d()
    x, y = data.train[0][:256], data.train[1][:256]

    def make_run(p):
        def run(seed):
            set_seed(seed)
            model = MLP(40, 10, hidden=(32,), dropout=p)
            fit(model, (x, y), epochs=2, batch_size=64, lr=1e-2, seed=seed, progress=False)
            return {"logits": predict(model, data.x_test[:20]).cpu()}
        return run

    serial = over_values(make_run, (0.0, 0.3), seeds=(0, 1))
    parallel = over_values(make_run, (0.0, 0.3), seeds=(0, 1), parallel=True)
    for p in (0.0, 0.3):
        assert serial[p]["logits"].shape == (2, 20, 10)
        assert (serial[p]["logits"] == parallel[p]["logits"]).all()
    assert not (serial[0.0]["logits"] == serial[0.3]["logits"]).all()


def test_over_values_rejects_empty_values_and_seeds():
    with pytest.raises(ValueError, match="values"):
        over_values(lambda v: lambda s: {"x": s}, [])
    with pytest.raises(ValueError, match="seeds"):
        over_values(lambda v: lambda s: {"x": s}, [1], seeds=[])


def test_sweep_is_one_call_for_a_knob_over_seeds_and_keeps_models_as_lists():
    from reglib.experiment import sweep

    def run(value, seed):
        torch.manual_seed(seed)
        model = torch.nn.Linear(2, 1)
        return {"value": value, "seed": seed, "w": float(model.weight.sum()) * value, "model": model}

    for parallel in (False, True):
        out = sweep(run, [2.0, 5.0], seeds=(1, 3, 4), parallel=parallel)
        assert list(out) == [2.0, 5.0]
        assert out[5.0]["seed"].tolist() == [1, 3, 4] and out[5.0]["value"].tolist() == [5.0] * 3
        assert isinstance(out[2.0]["model"], list) and len(out[2.0]["model"]) == 3
        torch.manual_seed(3)
        np.testing.assert_array_equal(out[2.0]["model"][1].weight.detach(), torch.nn.Linear(2, 1).weight.detach())
    serial, forked = sweep(run, [2.0], seeds=(0, 1), parallel=False), sweep(run, [2.0], seeds=(0, 1))
    np.testing.assert_array_equal(serial[2.0]["w"], forked[2.0]["w"])
    tuples = sweep(lambda v, s: {"sum": v[0] + v[1] + s}, [(1, 2), (3, 4)], seeds=(0, 10), parallel=False)
    assert tuples[(3, 4)]["sum"].tolist() == [7, 17]


def test_sweep_rejects_empty_and_repeated_values_and_empty_seeds():
    from reglib.experiment import sweep

    with pytest.raises(ValueError, match="values"):
        sweep(lambda v, s: {"x": 1}, [])
    with pytest.raises(ValueError, match="values must be distinct"):
        sweep(lambda v, s: {"x": 1}, [1, 1])
    with pytest.raises(ValueError, match="seeds"):
        sweep(lambda v, s: {"x": 1}, [1], seeds=[])


def test_results_table_shows_mean_and_std_per_row_with_formats_and_marks():
    from reglib.experiment import results_table

    results = {0.0: {"acc": np.array([0.5, 0.7]), "loss": np.array([1.0, 3.0])},
               1e-3: {"acc": np.array([0.8, 0.8]), "loss": np.array([2.0, 2.0])}}
    table = results_table(results, {"accuracy": "acc", "loss": ("loss", "{:.2f}")}, label="λ",
                          marks={1e-3: " (chosen)"}).data.splitlines()
    assert table[0] == "| λ | accuracy | loss |" and table[1] == "|---|---|---|"
    assert table[2] == "| 0 | 60.0% ± 10.0% | 2.00 ± 1.00 |"
    assert table[3] == "| 0.001 (chosen) | 80.0% ± 0.0% | 2.00 ± 0.00 |"
    with pytest.raises(ValueError, match="columns"):
        results_table(results, {})
