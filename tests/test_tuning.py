"""reglib.tuning: search spaces, grid and random search, selection on validation data, selection bias."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from reglib.tuning import (Choice, IntUniform, LogUniform, SearchResult, Space, Trial, Uniform, expected_max_normal,
                           grid_search, random_search, select_best, selection_optimism, validation_curve)


def _rng(seed=0):
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- distributions


@settings(max_examples=30, deadline=None)
@given(low=st.floats(-1e3, 1e3), width=st.floats(1e-6, 1e3), seed=st.integers(0, 2**32 - 1))
def test_uniform_samples_within_bounds(low, width, seed):
    dist = Uniform(low, low + width)
    rng = _rng(seed)
    values = [dist.sample(rng) for _ in range(50)]
    assert all(dist.low <= v < dist.high for v in values)
    assert all(isinstance(v, float) for v in values)


@settings(max_examples=30, deadline=None)
@given(log_low=st.floats(-12, 3), decades=st.floats(1e-3, 12), seed=st.integers(0, 2**32 - 1))
def test_log_uniform_samples_within_bounds(log_low, decades, seed):
    dist = LogUniform(10.0**log_low, 10.0 ** (log_low + decades))
    rng = _rng(seed)
    values = [dist.sample(rng) for _ in range(50)]
    assert all(dist.low <= v < dist.high for v in values)


def test_log_uniform_has_the_log_uniform_distribution():
    low, high = 1e-4, 1e2
    dist = LogUniform(low, high)
    rng = _rng(1)
    values = np.array([dist.sample(rng) for _ in range(4000)])
    # log θ is uniform on [log a, log b] ...
    assert stats.kstest(np.log(values), stats.uniform(math.log(low), math.log(high / low)).cdf).pvalue > 1e-3
    # ... so P(θ <= t) = log(t/a) / log(b/a): every decade gets the same share (1/6 here)
    for t in (1e-3, 1e-1, 1.0, 10.0):
        assert abs((values <= t).mean() - math.log(t / low) / math.log(high / low)) < 0.03
    decade_counts = np.histogram(np.log10(values), bins=np.arange(-4, 3))[0]
    np.testing.assert_allclose(decade_counts / len(values), 1 / 6, atol=0.03)
    # a linear-scale sampler would put almost nothing below 1 (1 % of the range)
    assert (values < 1.0).mean() > 0.6


def test_uniform_has_the_uniform_distribution():
    dist = Uniform(-2.0, 3.0)
    rng = _rng(2)
    values = np.array([dist.sample(rng) for _ in range(4000)])
    assert stats.kstest(values, stats.uniform(-2.0, 5.0).cdf).pvalue > 1e-3


def test_int_uniform_and_choice_cover_every_value_equally():
    rng = _rng(3)
    ints = np.array([IntUniform(2, 6).sample(rng) for _ in range(5000)])
    assert set(ints.tolist()) == {2, 3, 4, 5, 6}
    np.testing.assert_allclose(np.bincount(ints)[2:] / len(ints), 0.2, atol=0.03)
    assert all(isinstance(v, int) for v in ints.tolist())
    picks = [Choice(["a", None, (1, 2)]).sample(rng) for _ in range(3000)]
    for option in ("a", None, (1, 2)):
        assert abs(picks.count(option) / len(picks) - 1 / 3) < 0.04
    assert IntUniform(5, 5).sample(rng) == 5


def test_grids():
    assert Uniform(0.0, 1.0).grid(3) == [0.0, 0.5, 1.0]
    np.testing.assert_allclose(LogUniform(1e-3, 1e1).grid(5), [1e-3, 1e-2, 1e-1, 1.0, 1e1], rtol=1e-12)
    assert LogUniform(1e-2, 1.0).grid(1) == pytest.approx([0.1])
    assert Uniform(0.0, 1.0).grid(1) == [0.5]
    assert IntUniform(0, 8).grid(3) == [0, 4, 8]
    assert IntUniform(0, 2).grid(10) == [0, 1, 2]
    assert Choice(["x", "y"]).grid(7) == ["x", "y"]


@pytest.mark.parametrize("make, match", [
    (lambda: Uniform(1.0, 1.0), "high"),
    (lambda: Uniform(float("nan"), 1.0), "low"),
    (lambda: LogUniform(0.0, 1.0), "low"),
    (lambda: LogUniform(-1.0, 1.0), "low"),
    (lambda: LogUniform(1.0, 0.5), "high"),
    (lambda: IntUniform(3, 2), "high"),
    (lambda: IntUniform(0.5, 2), "low"),
    (lambda: Choice([]), "options"),
    (lambda: Choice("abc"), "options"),
    (lambda: Space({}), "dims"),
    (lambda: Space({1: Uniform(0, 1)}), "dims"),
])
def test_bad_distribution_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_sampling_arguments():
    with pytest.raises(ValueError, match="rng"):
        Uniform(0, 1).sample(0)
    with pytest.raises(ValueError, match="rng"):
        Space({"a": Uniform(0, 1)}).sample(np.random.RandomState(0))
    with pytest.raises(ValueError, match="n must"):
        LogUniform(1e-3, 1).grid(0)


def test_space_samples_in_order_and_copies_constants():
    space = Space({"lr": LogUniform(1e-4, 1e-1), "p": Uniform(0.0, 0.5), "k": IntUniform(0, 8), "epochs": 10})
    a, b = space.sample(_rng(0)), space.sample(_rng(0))
    assert a == b and list(a) == ["lr", "p", "k", "epochs"] and a["epochs"] == 10
    assert space.names == ["lr", "p", "k", "epochs"]
    assert space.grid(2) == {"lr": pytest.approx([1e-4, 1e-1]), "p": [0.0, 0.5], "k": [0, 8], "epochs": [10]}
    assert Space(space).dims == space.dims
    assert "LogUniform" in repr(space)


# --------------------------------------------------------------------------- searches


def _score(config):
    """A validation score that depends on log10(lr) (optimum 1e-2) and a little on p."""
    return -abs(math.log10(config["lr"]) + 2.0) - 0.01 * config["p"]


SPACE = {"lr": LogUniform(1e-5, 1.0), "p": Uniform(0.0, 0.5)}


def test_random_search_is_deterministic_under_its_seed():
    a = random_search(_score, SPACE, 20, seed=3)
    b = random_search(_score, SPACE, 20, seed=3)
    c = random_search(_score, SPACE, 20, seed=4)
    assert [t.config for t in a.trials] == [t.config for t in b.trials]
    assert [t.config for t in a.trials] != [t.config for t in c.trials]
    np.testing.assert_array_equal(a.scores, b.scores)


def test_random_search_configs_do_not_depend_on_the_scores():
    a = random_search(_score, SPACE, 10, seed=5)
    b = random_search(lambda c: 0.0, SPACE, 10, seed=5)
    assert [t.config for t in a.trials] == [t.config for t in b.trials]


def test_random_search_samples_within_bounds_and_returns_the_best():
    space = Space({"lr": LogUniform(1e-5, 1.0), "p": Uniform(0.0, 0.5), "k": IntUniform(1, 3), "fixed": "x"})
    seen = []

    def run(config):
        seen.append(config)
        return _score(config)

    result = random_search(run, space, 200, seed=0)
    assert len(result) == len(seen) == 200
    assert all(1e-5 <= c["lr"] < 1.0 and 0 <= c["p"] < 0.5 and c["k"] in (1, 2, 3) and c["fixed"] == "x"
               for c in seen)
    best = max(range(200), key=lambda i: _score(seen[i]))
    assert result.best_index == best and result.best_config == seen[best]
    assert result.best_score == pytest.approx(_score(seen[best]))
    # log-uniform: about a fifth of the learning rates in every decade, not 90 % in the top one
    assert 0.1 < np.mean([c["lr"] < 1e-3 for c in seen]) < 0.6
    np.testing.assert_array_equal(result.running_best(), np.maximum.accumulate(result.scores))


def test_run_receives_a_copy_of_the_config():
    def meddle(config):
        config["lr"] = -1.0
        return 0.0

    result = random_search(meddle, SPACE, 3, seed=0)
    assert all(t.config["lr"] > 0 for t in result.trials)


def test_grid_search_tries_every_combination_in_order():
    seen = []

    def run(config):
        seen.append((config["a"], config["b"]))
        return config["a"] * 10 + config["b"]

    result = grid_search(run, {"a": [1, 2, 3], "b": [0, 1]})
    assert seen == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]
    assert result.best_config == {"a": 3, "b": 1} and result.best_score == 31
    assert grid_search(run, {"a": [1, 2, 3], "b": [0, 1]}, mode="min").best_config == {"a": 1, "b": 0}
    assert len(grid_search(run, {"a": np.array([1, 2]), "b": (0,)})) == 2


def test_grid_search_on_a_space_grid():
    result = grid_search(_score, Space(SPACE).grid(6))
    assert len(result) == 36
    assert result.best_config["lr"] == pytest.approx(1e-2) and result.best_config["p"] == 0.0


def test_mapping_results_and_metric():
    def run(config):
        return {"val_acc": -abs(config["x"] - 1), "train_acc": config["x"], "test_acc": -abs(config["x"] - 2)}

    result = grid_search(run, {"x": [0, 1, 2, 3]}, metric="val_acc")
    assert result.best_config == {"x": 1} and result.best.results["test_acc"] == -1
    with pytest.raises(ValueError, match="metric"):
        grid_search(run, {"x": [0, 1]})
    with pytest.raises(ValueError, match="metric"):
        grid_search(run, {"x": [0, 1]}, metric="val_loss")
    with pytest.raises(ValueError, match="test split"):
        grid_search(run, {"x": [0, 1]}, metric="test_acc")
    with pytest.raises(ValueError, match="test split"):
        random_search(run, {"x": Uniform(0, 1)}, 3, metric="test_acc")


def test_nan_scores_never_win():
    result = SearchResult([Trial({"a": 0}, math.nan), Trial({"a": 1}, 0.5), Trial({"a": 2}, 0.7)])
    assert result.best_config == {"a": 2}
    assert SearchResult([Trial({}, math.nan), Trial({}, 2.0)], mode="min").best_index == 1
    np.testing.assert_array_equal(result.running_best(), [math.nan, 0.5, 0.7])
    with pytest.raises(RuntimeError, match="NaN"):
        SearchResult([Trial({}, math.nan)]).best
    assert "no finite score" in repr(SearchResult([Trial({}, math.nan)]))


@pytest.mark.parametrize("call, match", [
    (lambda: random_search(_score, SPACE, 0), "n_trials"),
    (lambda: random_search(_score, SPACE, 2.5), "n_trials"),
    (lambda: random_search(_score, SPACE, 5, seed=-1), "seed"),
    (lambda: random_search(_score, SPACE, 5, seed=1.0), "seed"),
    (lambda: random_search("run", SPACE, 5), "run"),
    (lambda: random_search(_score, {}, 5), "dims"),
    (lambda: random_search(_score, SPACE, 5, mode="best"), "mode"),
    (lambda: random_search(lambda c: "good", SPACE, 5), "run must return"),
    (lambda: grid_search(_score, {}), "grid"),
    (lambda: grid_search(_score, {"lr": []}), "grid"),
    (lambda: grid_search(_score, {"lr": 0.1}), "grid"),
    (lambda: grid_search(_score, Space(SPACE)), "grid"),
    (lambda: grid_search(_score, {"lr": [0.1]}, metric=3), "metric"),
])
def test_bad_search_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- selection, curves, selection bias


RECORDS = [
    {"name": "a", "train_acc": 1.00, "val_acc": 0.60, "test_acc": 0.61},
    {"name": "b", "train_acc": 0.90, "val_acc": 0.72, "test_acc": 0.70},
    {"name": "c", "train_acc": 0.85, "val_acc": 0.70, "test_acc": 0.74},
]


def test_select_best_uses_the_validation_metric():
    assert select_best(RECORDS)["name"] == "b"
    assert select_best(RECORDS) is RECORDS[1]
    assert select_best(RECORDS, metric="train_acc")["name"] == "a"
    losses = [{"val_loss": 0.5}, {"val_loss": math.nan}, {"val_loss": 0.4}]
    assert select_best(losses, metric="val_loss", mode="min") is losses[2]
    assert select_best([{"val_acc": 0.5}, {"val_acc": 0.5}]) is not None  # ties: the first


@pytest.mark.parametrize("call, match", [
    (lambda: select_best(RECORDS, metric="test_acc"), "test split"),
    (lambda: select_best(RECORDS, metric="TEST_acc"), "test split"),
    (lambda: select_best(RECORDS, metric="val_loss"), "metric"),
    (lambda: select_best(RECORDS, mode="largest"), "mode"),
    (lambda: select_best([]), "results"),
    (lambda: select_best(RECORDS[0]), "results"),
    (lambda: select_best([{"val_acc": math.nan}]), "NaN"),
    (lambda: select_best(RECORDS, metric=None), "metric"),
])
def test_bad_select_best_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_validation_curve_shapes_and_values():
    calls = []

    def run(value, seed):
        calls.append((value, seed))
        return {"val": value * 10 + seed, "train": float(value)}

    curve = validation_curve(run, [0.1, 0.2, 0.3, 0.4], seeds=(0, 1))
    assert curve["val"].shape == curve["train"].shape == (4, 2)
    np.testing.assert_allclose(curve["val"], [[1, 2], [2, 3], [3, 4], [4, 5]])
    assert calls == [(v, s) for v in (0.1, 0.2, 0.3, 0.4) for s in (0, 1)]
    assert validation_curve(run, [1.0])["val"].shape == (1, 3)  # reglib.experiment.SEEDS by default
    with pytest.raises(ValueError, match="values"):
        validation_curve(run, [])
    with pytest.raises(ValueError, match="seeds"):
        validation_curve(run, [1.0], seeds=())
    with pytest.raises(ValueError, match="run"):
        validation_curve(None, [1.0])


def test_expected_max_normal_against_closed_forms_and_simulation():
    assert expected_max_normal(1) == pytest.approx(0.0, abs=1e-9)
    assert expected_max_normal(2) == pytest.approx(1 / math.sqrt(math.pi), abs=1e-9)
    assert expected_max_normal(3) == pytest.approx(1.5 / math.sqrt(math.pi), abs=1e-9)
    rng = _rng(0)
    for n in (5, 20, 100):
        simulated = rng.standard_normal((200_000, n)).max(axis=1).mean()
        assert expected_max_normal(n) == pytest.approx(simulated, abs=0.01)
    values = [expected_max_normal(n) for n in (1, 2, 5, 10, 50)]
    assert values == sorted(values)
    with pytest.raises(ValueError, match="n must"):
        expected_max_normal(0)


# --------------------------------------------------------------------------- parallel trials


def _noisy_score(config):
    """A deterministic 'validation score' with a side effect that a worker process would keep to itself."""
    return {"val_acc": math.sin(7 * config["a"]) + config.get("b", 0), "a": config["a"]}


def test_parallel_searches_and_curves_equal_the_serial_ones():
    space = Space({"a": Uniform(0.0, 1.0), "b": Choice([0.0, 0.5])})
    serial = random_search(_noisy_score, space, n_trials=7, seed=3, metric="val_acc")
    parallel = random_search(_noisy_score, space, n_trials=7, seed=3, metric="val_acc", parallel=True)
    assert [t.config for t in parallel.trials] == [t.config for t in serial.trials]
    assert [t.score for t in parallel.trials] == [t.score for t in serial.trials]
    assert parallel.best_index == serial.best_index

    grid = {"a": [0.1, 0.2, 0.3], "b": [0.0, 0.5]}
    g_serial = grid_search(_noisy_score, grid, metric="val_acc")
    g_parallel = grid_search(_noisy_score, grid, metric="val_acc", parallel=True)
    assert [(t.config, t.score) for t in g_parallel.trials] == [(t.config, t.score) for t in g_serial.trials]

    def run(value, seed):
        return {"acc": value + seed / 10, "curve": np.array([value, seed, value * seed])}

    c_serial = validation_curve(run, [1.0, 2.0], seeds=(0, 1, 2))
    c_parallel = validation_curve(run, [1.0, 2.0], seeds=(0, 1, 2), parallel=True)
    assert c_serial["acc"].shape == (2, 3) and c_serial["curve"].shape == (2, 3, 3)
    for key in ("acc", "curve"):
        np.testing.assert_array_equal(c_parallel[key], c_serial[key])
    np.testing.assert_allclose(c_serial["acc"], [[1.0, 1.1, 1.2], [2.0, 2.1, 2.2]])


# --------------------------------------------------------------------------- chapter 13, §3 and §7


def test_chapter_13_vectorised_searches_are_reglibs_searches():
    """Chapter 13 §3 evaluates 2000 synthetic problems at once with numpy; the configurations it scores are the
    ones grid_search (Space.grid, in itertools.product order) and random_search (seeded draws) try."""
    k = 3
    space = Space({"u1": Uniform(0.5 / k, 1 - 0.5 / k), "u2": Uniform(0.5 / k, 1 - 0.5 / k)})
    values = space.grid(k)
    points = np.array(list(itertools.product(values["u1"], values["u2"])))
    np.testing.assert_allclose(points[:, 0], np.repeat([1 / 6, 1 / 2, 5 / 6], 3))  # the centres of 3 cells
    optimum = np.array([0.62, 0.3])
    g = lambda t: np.exp(-t ** 2 / (2 * 0.08 ** 2))  # noqa: E731
    objective = lambda c: float(g(c["u1"] - optimum[0]) + 0.05 * g(c["u2"] - optimum[1]))  # noqa: E731
    result = grid_search(objective, values)
    np.testing.assert_allclose([[t.config["u1"], t.config["u2"]] for t in result.trials], points)
    np.testing.assert_allclose(result.best_score, max(objective({"u1": a, "u2": b}) for a, b in points))
    result = random_search(objective, Space({"u1": Uniform(0.0, 1.0), "u2": Uniform(0.0, 1.0)}), n_trials=9, seed=9)
    np.testing.assert_allclose([[t.config["u1"], t.config["u2"]] for t in result.trials],
                               np.random.default_rng(9).uniform(0, 1, (9, 2)))


def test_selection_optimism_by_hand_and_its_properties():
    rng = np.random.default_rng(0)
    hits = rng.random((8, 600)) < np.linspace(0.6, 0.7, 8)[:, None]
    chosen, fixed = selection_optimism(hits, 100, fixed=3, n_divisions=50, seed=4)
    # by hand, the same divisions
    perms = np.random.default_rng(4)
    for d in range(50):
        perm = perms.permutation(600)
        a, b = hits[:, perm[:100]].mean(1), hits[:, perm[100:]].mean(1)
        assert chosen[d] == a[np.argmax(a)] - b[np.argmax(a)] and fixed[d] == a[3] - b[3]
    assert chosen.mean() > fixed.mean()  # choosing on the test set overstates
    assert selection_optimism(hits, 100, n_divisions=5)[1] is None
    # one network: choosing is not selecting, both numbers coincide
    one, same = selection_optimism(hits[:1], 100, fixed=0, n_divisions=20)
    np.testing.assert_array_equal(one, same)


@pytest.mark.parametrize("kwargs, match", [({"hits": np.zeros(5), "n_test": 2}, "hits"),
                                           ({"hits": np.zeros((2, 5)), "n_test": 5}, "n_test"),
                                           ({"hits": np.zeros((2, 5)), "n_test": 2, "fixed": 2}, "fixed"),
                                           ({"hits": np.zeros((2, 5)), "n_test": 2, "n_divisions": 0}, "n_divisions")])
def test_selection_optimism_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        selection_optimism(**kwargs)
