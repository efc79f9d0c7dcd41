"""Hyperparameter search on validation data (chapter 13).

Three pieces, each small enough to read in one sitting:

* **search spaces**: :class:`Uniform`, :class:`LogUniform`, :class:`IntUniform` and :class:`Choice`
  distributions, collected in a :class:`Space` (a plain ``dict`` of them works everywhere too).
  :class:`LogUniform` samples :math:`\\log \\theta` uniformly (chapter 13, eq. (4)), the right
  scale for learning rates and penalty strengths, whose effect depends on their order of magnitude;
* **searches**: :func:`grid_search` and :func:`random_search` call ``run(config)``, which trains a
  model with the hyperparameters in ``config`` and returns its **validation** score, and return a
  :class:`SearchResult` (every :class:`Trial`, the best one, the best score after each trial);
* **helpers**: :func:`select_best` picks an entry from a list of result records by a validation
  metric (and refuses a test metric), :func:`validation_curve` sweeps one hyperparameter over
  several seeds, :func:`expected_max_normal` gives the selection bias of picking the best of
  ``n`` noisy scores (chapter 13, eq. (2)), and :func:`selection_optimism` measures it on real networks
  over random divisions of their held-out signals (chapter 13, §7).

Randomness comes from ``numpy.random.default_rng(seed)``: the same seed gives the same
configurations, in the same order, whatever ``run`` returns (Bergstra & Bengio 2012).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ._validate import check_choice, check_int, check_positive, check_range

__all__ = ["Uniform", "LogUniform", "IntUniform", "Choice", "Space", "Trial", "SearchResult", "grid_search",
           "random_search", "select_best", "validation_curve", "expected_max_normal", "selection_optimism"]


# --------------------------------------------------------------------------- distributions


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), got {rng!r}")
    return rng


def _check_n(n) -> int:
    return check_int("n", n, 1)


class Uniform:
    """Uniform on ``[low, high)`` (chapter 13, eq. (3)): for hyperparameters whose effect is additive,
    such as a dropout rate or a label-smoothing :math:`\\varepsilon`.

    Parameters
    ----------
    low, high : float
        Bounds, ``low < high``.
    """

    def __init__(self, low: float, high: float):
        self.low = check_range("low", low)
        self.high = check_range("high", high, self.low, None, low_open=True)

    def sample(self, rng: np.random.Generator) -> float:
        """One draw (a Python float) from ``rng``."""
        value = float(_check_rng(rng).uniform(self.low, self.high))
        return min(max(value, self.low), math.nextafter(self.high, self.low))

    def grid(self, n: int) -> list:
        """``n`` evenly spaced values from ``low`` to ``high`` (both included; the midpoint if ``n == 1``)."""
        n = _check_n(n)
        if n == 1:
            return [(self.low + self.high) / 2]
        return [float(v) for v in np.linspace(self.low, self.high, n)]

    def __repr__(self) -> str:
        return f"Uniform({self.low:g}, {self.high:g})"


class LogUniform:
    """Log-uniform on ``[low, high)`` (chapter 13, eq. (4)): :math:`\\log\\theta \\sim U(\\log a, \\log b)`.

    Its density is :math:`p(\\theta) = 1 / (\\theta \\log(b/a))` and its distribution function
    :math:`P(\\theta \\le t) = \\log(t/a)/\\log(b/a)`, so every factor of ten between ``low`` and
    ``high`` receives the same share of the samples. Use it for learning rates, weight decay and
    penalty strengths.

    Parameters
    ----------
    low, high : float
        Bounds, ``0 < low < high``.
    """

    def __init__(self, low: float, high: float):
        self.low = check_positive("low", low)
        self.high = check_range("high", high, self.low, None, low_open=True)

    def sample(self, rng: np.random.Generator) -> float:
        """One draw: ``exp(uniform(log low, log high))``, kept inside ``[low, high)`` against rounding."""
        value = math.exp(_check_rng(rng).uniform(math.log(self.low), math.log(self.high)))
        return min(max(value, self.low), math.nextafter(self.high, self.low))

    def grid(self, n: int) -> list:
        """``n`` geometrically spaced values from ``low`` to ``high`` (both included; the geometric mean if ``n == 1``)."""
        n = _check_n(n)
        if n == 1:
            return [math.sqrt(self.low * self.high)]
        return [float(v) for v in np.geomspace(self.low, self.high, n)]

    def __repr__(self) -> str:
        return f"LogUniform({self.low:g}, {self.high:g})"


class IntUniform:
    """Uniform over the integers ``low, low + 1, ..., high`` (both included), e.g. a maximal shift.

    Parameters
    ----------
    low, high : int
        Bounds, ``low <= high``.
    """

    def __init__(self, low: int, high: int):
        self.low = check_int("low", low)
        self.high = check_int("high", high, self.low)

    def sample(self, rng: np.random.Generator) -> int:
        """One draw (a Python int)."""
        return int(_check_rng(rng).integers(self.low, self.high + 1))

    def grid(self, n: int) -> list:
        """Up to ``n`` evenly spaced integers from ``low`` to ``high`` (duplicates removed)."""
        n = _check_n(n)
        if n == 1:
            return [(self.low + self.high) // 2]
        return sorted({int(round(v)) for v in np.linspace(self.low, self.high, n)})

    def __repr__(self) -> str:
        return f"IntUniform({self.low}, {self.high})"


class Choice:
    """One of a finite list of options, each with probability ``1 / len(options)``.

    Parameters
    ----------
    options : sequence
        At least one option (any values: numbers, strings, tuples, None).
    """

    def __init__(self, options):
        if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or len(options) == 0:
            raise ValueError(f"options must be a non-empty sequence (list or tuple), got {options!r}")
        self.options = list(options)

    def sample(self, rng: np.random.Generator):
        """One of the options."""
        return self.options[int(_check_rng(rng).integers(len(self.options)))]

    def grid(self, n: int) -> list:
        """Every option (``n`` is ignored: a finite choice has its own grid)."""
        _check_n(n)
        return list(self.options)

    def __repr__(self) -> str:
        return f"Choice({self.options!r})"


_DISTRIBUTIONS = (Uniform, LogUniform, IntUniform, Choice)


class Space:
    """A search space: hyperparameter name → distribution, or a fixed value.

    Parameters
    ----------
    dims : mapping
        ``{"weight_decay": LogUniform(1e-4, 1e-1), "dropout": Uniform(0, 0.5), "epochs": 60}``;
        entries that are not distributions are constants, copied into every configuration.

    Examples
    --------
    >>> space = Space({"lr": LogUniform(1e-4, 1e-1), "dropout": Uniform(0.0, 0.5), "epochs": 10})
    >>> config = space.sample(np.random.default_rng(0))
    >>> sorted(config), config["epochs"]
    (['dropout', 'epochs', 'lr'], 10)
    >>> space.grid(2)["lr"]
    [0.0001, 0.1]
    """

    def __init__(self, dims):
        if isinstance(dims, Space):
            dims = dims.dims
        if not isinstance(dims, Mapping) or len(dims) == 0:
            raise ValueError(f"dims must be a non-empty mapping name -> distribution, got {dims!r}")
        for name in dims:
            if not isinstance(name, str):
                raise ValueError(f"dims must have string keys (hyperparameter names), got {name!r}")
        self.dims = dict(dims)

    @property
    def names(self) -> list:
        """The hyperparameter names, in order."""
        return list(self.dims)

    def sample(self, rng: np.random.Generator) -> dict:
        """One configuration: each distribution sampled in turn (in the order of ``dims``), constants copied."""
        _check_rng(rng)
        return {name: dist.sample(rng) if isinstance(dist, _DISTRIBUTIONS) else dist
                for name, dist in self.dims.items()}

    def grid(self, n: int) -> dict:
        """``{name: list of values}`` with ``n`` values per distribution (see each ``grid``), constants as ``[value]``."""
        n = _check_n(n)
        return {name: dist.grid(n) if isinstance(dist, _DISTRIBUTIONS) else [dist]
                for name, dist in self.dims.items()}

    def __repr__(self) -> str:
        return "Space(" + ", ".join(f"{k}={v!r}" for k, v in self.dims.items()) + ")"


# --------------------------------------------------------------------------- search results


@dataclass
class Trial:
    """One evaluated configuration: ``config``, its validation ``score``, and everything ``run`` returned."""

    config: dict
    score: float
    results: dict = field(default_factory=dict)


@dataclass
class SearchResult:
    """The trials of a search, in the order they were run.

    ``mode="max"`` for scores to maximise (accuracy), ``"min"`` for losses. NaN scores (diverged
    runs) never win.
    """

    trials: list
    mode: str = "max"

    def __len__(self) -> int:
        return len(self.trials)

    @property
    def scores(self) -> np.ndarray:
        """Validation score of every trial, shape ``(n_trials,)``."""
        return np.array([t.score for t in self.trials], dtype=float)

    @property
    def best_index(self) -> int:
        """Index of the best trial (the first one on ties)."""
        scores = self.scores
        if scores.size == 0 or np.isnan(scores).all():
            raise RuntimeError("no trial has a finite score: every run returned NaN")
        return int(np.nanargmax(scores) if self.mode == "max" else np.nanargmin(scores))

    @property
    def best(self) -> Trial:
        """The best trial."""
        return self.trials[self.best_index]

    @property
    def best_config(self) -> dict:
        """The configuration of the best trial."""
        return self.best.config

    @property
    def best_score(self) -> float:
        """The validation score of the best trial (an optimistic estimate of its quality: chapter 13, §2)."""
        return self.best.score

    def running_best(self) -> np.ndarray:
        """Best score after each trial, shape ``(n_trials,)`` (NaN until the first finite score)."""
        scores = self.scores
        return (np.fmax if self.mode == "max" else np.fmin).accumulate(scores)

    def __repr__(self) -> str:
        if not self.trials or np.isnan(self.scores).all():
            return f"SearchResult({len(self)} trials, no finite score)"
        return f"SearchResult({len(self)} trials, best score {self.best_score:.4g} at {self.best_config})"


def _check_not_test(metric) -> None:
    if isinstance(metric, str) and metric.lower().startswith("test"):
        raise ValueError(f"metric must be a validation (or training) score, got {metric!r}: choosing "
                         "hyperparameters on the test split makes its score optimistic (chapter 13, §2); "
                         "select on validation data and evaluate the winner on test once")


def _score(result, metric):
    """``(score, results)`` from what ``run`` returned: a number, or a mapping holding ``metric``."""
    if isinstance(result, Mapping):
        if metric is None:
            raise ValueError("run returned a mapping; pass metric= naming the validation score to select on, "
                             f"one of {sorted(result)}")
        if metric not in result:
            raise ValueError(f"metric {metric!r} is not among the keys run returned: {sorted(result)}")
        return float(result[metric]), dict(result)
    try:
        score = float(result)
    except (TypeError, ValueError):
        raise ValueError(f"run must return a number (the validation score) or a mapping of numbers, "
                         f"got {result!r}") from None
    return score, {"score": score}


def _check_search_args(run, mode, metric) -> None:
    if not callable(run):
        raise ValueError(f"run must be a callable config -> validation score, got {run!r}")
    check_choice("mode", mode, ("max", "min"))
    if metric is not None and not isinstance(metric, str):
        raise ValueError(f"metric must be a string key of run's result or None, got {metric!r}")
    _check_not_test(metric)


def grid_search(run, grid, *, mode: str = "max", metric: str | None = None,
                parallel: bool = False) -> SearchResult:
    """Evaluate ``run`` on every combination of the values in ``grid`` (chapter 13, §3).

    Parameters
    ----------
    run : callable
        ``run(config) -> score`` or ``-> dict`` of numbers; the score must come from **validation**
        data.
    grid : mapping
        ``{name: sequence of values}``; the trials are ``itertools.product`` of the value lists, in
        order (the last name varies fastest). :meth:`Space.grid` builds one from a search space.
    mode : {"max", "min"}
        Whether a larger score is better (accuracy) or a smaller one (loss, error).
    metric : str, optional
        When ``run`` returns a dict, the key of the score to select on. A key starting with
        ``"test"`` is refused.
    parallel : bool
        Run the trials side by side in worker processes (:func:`reglib.experiment.parallel_map`);
        the same results, in the same order.

    Returns
    -------
    SearchResult
        ``len(result) == prod(len(values))``.
    """
    _check_search_args(run, mode, metric)
    if isinstance(grid, Space):
        raise ValueError("grid must map names to lists of values; build one with space.grid(n)")
    if not isinstance(grid, Mapping) or len(grid) == 0:
        raise ValueError(f"grid must be a non-empty mapping name -> sequence of values, got {grid!r}")
    names, lists = [], []
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)) or len(values) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty sequence of values, got {values!r}")
        names.append(name)
        lists.append(list(values))
    configs = [dict(zip(names, values)) for values in itertools.product(*lists)]
    return SearchResult(_evaluate(run, configs, metric, parallel), mode)


def random_search(run, space, n_trials: int, seed: int = 0, *, mode: str = "max",
                  metric: str | None = None, parallel: bool = False) -> SearchResult:
    """Evaluate ``run`` on ``n_trials`` configurations drawn independently from ``space`` (chapter 13, §3).

    Bergstra & Bengio (2012): with the same budget as a grid, random search tries ``n_trials``
    distinct values of *every* hyperparameter instead of ``n_trials ** (1/d)``, which pays off when
    only a few of the ``d`` hyperparameters matter.

    Parameters
    ----------
    run : callable
        ``run(config) -> score`` or ``-> dict`` of numbers; the score must come from **validation** data.
    space : Space or mapping
        Name → distribution (:class:`Uniform`, :class:`LogUniform`, :class:`IntUniform`,
        :class:`Choice`) or constant.
    n_trials : int
        Number of configurations, >= 1.
    seed : int
        Seeds ``numpy.random.default_rng``; the configurations depend on nothing else.
    mode : {"max", "min"}
    metric, parallel
        As in :func:`grid_search`.

    Returns
    -------
    SearchResult
    """
    _check_search_args(run, mode, metric)
    space = Space(space)
    n_trials = check_int("n_trials", n_trials, 1)
    seed = check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    configs = [space.sample(rng) for _ in range(n_trials)]  # drawn up front: independent of the scores
    return SearchResult(_evaluate(run, configs, metric, parallel), mode)


def _evaluate(run, configs, metric, parallel) -> list:
    """The trials of ``run`` on ``configs``, in order; each call gets its own copy of its config."""
    from .experiment import parallel_map

    outputs = parallel_map(run, [dict(c) for c in configs]) if parallel else [run(dict(c)) for c in configs]
    return [Trial(config, *_score(out, metric)) for config, out in zip(configs, outputs)]


# --------------------------------------------------------------------------- helpers


def select_best(results, metric: str = "val_acc", mode: str = "max"):
    """The record with the best **validation** ``metric`` (chapter 13, §2); the first one on ties.

    Parameters
    ----------
    results : sequence of mappings
        One record per configuration, e.g. ``{"config": ..., "train_acc": ..., "val_acc": ...,
        "test_acc": ...}``.
    metric : str
        The key to select on. Keys starting with ``"test"`` are refused: a test score that chose the
        winner is no longer an unbiased estimate of it.
    mode : {"max", "min"}

    Returns
    -------
    The winning record itself (not a copy). NaN values never win.
    """
    check_choice("mode", mode, ("max", "min"))
    if not isinstance(metric, str):
        raise ValueError(f"metric must be a string key of the records, got {metric!r}")
    _check_not_test(metric)
    if isinstance(results, (str, bytes, Mapping)) or not isinstance(results, Sequence) or len(results) == 0:
        raise ValueError(f"results must be a non-empty sequence of records (mappings), got {results!r}")
    values = []
    for i, record in enumerate(results):
        if not isinstance(record, Mapping) or metric not in record:
            raise ValueError(f"results[{i}] must be a mapping with the key metric={metric!r}, got {record!r}")
        values.append(float(record[metric]))
    values = np.array(values)
    if np.isnan(values).all():
        raise ValueError(f"results: every record has {metric} = NaN")
    return results[int(np.nanargmax(values) if mode == "max" else np.nanargmin(values))]


def validation_curve(run, values, seeds=None, *, parallel: bool = False) -> dict:
    """Sweep one hyperparameter over several seeds (chapter 13, §6: a validation curve).

    Parameters
    ----------
    run : callable
        ``run(value, seed) -> dict`` of numbers (e.g. ``train_acc`` and ``val_acc``).
    values : sequence
        The hyperparameter values, in the order of the curve's x-axis.
    seeds : sequence of int, optional
        Default :data:`reglib.experiment.SEEDS`.
    parallel : bool
        Run the ``len(values) * len(seeds)`` calls side by side in worker processes
        (:func:`reglib.experiment.parallel_map`); the same results.

    Returns
    -------
    dict
        ``{key: array of shape (len(values), len(seeds))}``.
    """
    from .experiment import SEEDS, _sweep, stack_results

    if not callable(run):
        raise ValueError(f"run must be a callable (value, seed) -> dict of numbers, got {run!r}")
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)) or len(values) == 0:
        raise ValueError(f"values must be a non-empty sequence of hyperparameter values, got {values!r}")
    seeds = SEEDS if seeds is None else seeds
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)) or len(seeds) == 0:
        raise ValueError(f"seeds must be a non-empty sequence of integers, got {seeds!r}")
    rows = [stack_results(row) for row in _sweep(run, list(values), list(seeds), parallel)]  # one dict per value
    return {key: np.stack([row[key] for row in rows]) for key in rows[0]}


def expected_max_normal(n: int) -> float:
    """:math:`\\mathbb E[\\max(Z_1, \\dots, Z_n)]` for i.i.d. standard normals (chapter 13, eq. (2)).

    .. math:: \\mathbb E[\\max_i Z_i] = \\int_{-\\infty}^{\\infty} z\\, n\\, \\varphi(z)\\, \\Phi(z)^{n-1}\\, dz,

    computed by the trapezoidal rule on ``[-12, 12]`` (error below 1e-9). Picking the best of
    ``n`` equally good configurations by a score with noise of standard deviation :math:`\\sigma`
    overstates it by :math:`\\sigma\\,\\mathbb E[\\max_i Z_i]` on average: 0 for ``n = 1``, about
    :math:`0.56\\sigma` for 2, :math:`1.54\\sigma` for 10, :math:`1.87\\sigma` for 20.
    """
    n = check_int("n", n, 1)
    from scipy.special import ndtr

    z = np.linspace(-12.0, 12.0, 48_001)
    phi = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    density = n * phi * ndtr(z) ** (n - 1)
    return float(np.trapezoid(z * density, z) if hasattr(np, "trapezoid") else np.trapz(z * density, z))


def selection_optimism(hits, n_test: int, fixed: int | None = None, n_divisions: int = 1000, seed: int = 0):
    """How much choosing a network by its test score overstates that score (chapter 13, §7).

    ``hits[i, j]`` says whether network ``i`` classified held-out signal ``j`` correctly. Each of
    ``n_divisions`` random divisions (a permutation from ``numpy.random.default_rng(seed)``) makes its first
    ``n_test`` signals the "test set" and the others the "fresh" signals; the network with the best test
    accuracy (the first on ties) is chosen, and its test accuracy minus its fresh accuracy is that
    division's **optimism**. A network chosen beforehand (``fixed``, e.g. the one chosen on validation data)
    is scored on the same divisions: since its choice does not depend on them, its mean optimism is zero up
    to sampling noise, and its spread shows how far an honest test score moves between test sets.

    Parameters
    ----------
    hits : array (networks, signals) of bool or 0/1
    n_test : int
        Signals per test set, 1 <= n_test < signals.
    fixed : int, optional
        Index of a network chosen without looking at the held-out signals.
    n_divisions : int
        Number of random divisions, >= 1.
    seed : int
        Seed of the divisions.

    Returns
    -------
    (optimism_chosen, optimism_fixed) : arrays of length ``n_divisions`` (``optimism_fixed`` is ``None``
    without ``fixed``).
    """
    hits = np.asarray(hits)
    if hits.ndim != 2 or hits.shape[1] < 2:
        raise ValueError(f"hits must have shape (networks, signals) with at least 2 signals, got {hits.shape}")
    n_test = check_int("n_test", n_test, 1, hits.shape[1] - 1)
    n_divisions = check_int("n_divisions", n_divisions, 1)
    if fixed is not None:
        fixed = check_int("fixed", fixed, 0, hits.shape[0] - 1)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    optimism_chosen, optimism_fixed = [], []
    for _ in range(n_divisions):
        perm = rng.permutation(hits.shape[1])
        acc_test, acc_fresh = hits[:, perm[:n_test]].mean(1), hits[:, perm[n_test:]].mean(1)
        chosen = int(np.argmax(acc_test))
        optimism_chosen.append(acc_test[chosen] - acc_fresh[chosen])
        if fixed is not None:
            optimism_fixed.append(acc_test[fixed] - acc_fresh[fixed])
    return np.array(optimism_chosen), (np.array(optimism_fixed) if fixed is not None else None)
