"""Offline data loaders: every data set comes from an installed package, never the network.

* MNIST-1D (Greydanus 2020) is *generated* with ``mnist1d.data.make_dataset`` (never
  ``get_dataset``, which downloads a pickle).
* Digits, diabetes and breast cancer are scikit-learn's bundled copies.
* A few synthetic problems (polynomial regression, correlated features, linear regression)
  make the closed-form chapters exact.

Loaders that return splits give an object with ``x_train, y_train, x_val, y_val, x_test, y_test``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ._validate import check_int, check_nonneg, check_probability, check_range

__all__ = [
    "Splits",
    "load_mnist1d",
    "make_mnist1d",
    "load_digits",
    "load_breast_cancer",
    "load_diabetes",
    "make_polynomial_data",
    "make_correlated_regression",
    "make_linear_regression",
    "make_modular_addition",
]

_SPLIT_NAMES = ("train", "val", "test")


@dataclass
class Splits:
    """Train / validation / test tensors of one data set.

    Attributes
    ----------
    x_train, y_train, x_val, y_val, x_test, y_test : torch.Tensor
        Inputs are float32, labels int64 (classification) or float32 (regression).
    num_classes : int or None
        Number of classes, ``None`` for regression.
    name : str
        Short description used in figure titles.
    info : dict
        Anything else worth knowing (feature names, generator arguments).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int | None = None
    name: str = ""
    info: dict = field(default_factory=dict)

    @property
    def train(self):
        """``(x_train, y_train)``, the form :func:`reglib.train.fit` takes."""
        return self.x_train, self.y_train

    @property
    def val(self):
        """``(x_val, y_val)``."""
        return self.x_val, self.y_val

    @property
    def test(self):
        """``(x_test, y_test)``: look at it once, at the very end."""
        return self.x_test, self.y_test

    def subset_train(self, n: int, seed: int = 0) -> "Splits":
        """The same splits with only ``n`` training samples (a seeded random subset)."""
        n = check_int("n", n, 1, len(self.y_train))
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self.y_train), generator=gen)[:n]
        return Splits(self.x_train[idx], self.y_train[idx], self.x_val, self.y_val, self.x_test,
                      self.y_test, self.num_classes, f"{self.name} (n_train={n})", dict(self.info))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(getattr(self, 'y_' + s))}" for s in _SPLIT_NAMES)
        return (f"Splits({self.name!r}: {sizes}, input shape {tuple(self.x_train.shape[1:])}, "
                f"num_classes={self.num_classes})")


# --------------------------------------------------------------------------- MNIST-1D


def _cache_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "reglib-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


_MEMORY_CACHE: dict[str, dict] = {}


def _generate_mnist1d(overrides: dict) -> dict:
    """``mnist1d.data.make_dataset`` with ``overrides`` applied to ``get_dataset_args()``.

    Generating takes a few seconds, so the arrays are cached in memory and in a file
    under the system's temporary directory (nothing is written anywhere else). The
    generator seeds NumPy's global RNG; its state is saved and restored around the call.
    """
    key = hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:16]
    if key in _MEMORY_CACHE:
        return _MEMORY_CACHE[key]
    path = _cache_dir() / f"mnist1d-{key}.pkl"
    data = None
    if path.exists():
        try:
            data = pickle.loads(path.read_bytes())
        except Exception:  # a corrupt or partial cache file: regenerate
            data = None
    if data is None:
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        for name, value in overrides.items():
            setattr(args, name, value)
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            raw = make_dataset(args)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
        data = {k: np.asarray(raw[k]) for k in ("x", "y", "x_test", "y_test")}
        tmp = path.with_suffix(f".{random.getrandbits(32)}.tmp")
        tmp.write_bytes(pickle.dumps(data))
        tmp.replace(path)  # atomic, so parallel workers never read half a file
    _MEMORY_CACHE[key] = data
    return data


def load_mnist1d(seed: int = 42, val_size: int = 800) -> Splits:
    """MNIST-1D (Greydanus 2020) with a validation split carved from its training split.

    The data are exactly ``make_dataset(get_dataset_args())``: 4000 training and 1000 test
    signals of length 40 in 10 classes. The test split is mnist1d's test split; ``val_size``
    training signals, chosen by a permutation seeded with ``seed``, become the validation
    split, so train ∪ val is exactly mnist1d's training split.

    Parameters
    ----------
    seed : int
        Seed of the train/validation division (not of the data, which are fixed).
    val_size : int
        Number of validation signals, in [1, 3999].
    """
    seed = check_int("seed", seed, 0, 2**32 - 1)
    val_size = check_int("val_size", val_size, 1, 3999)
    raw = _generate_mnist1d({})
    x = torch.as_tensor(raw["x"], dtype=torch.float32)
    y = torch.as_tensor(raw["y"], dtype=torch.int64)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:val_size].sort().values, perm[val_size:].sort().values
    return Splits(x[train_idx], y[train_idx], x[val_idx], y[val_idx],
                  torch.as_tensor(raw["x_test"], dtype=torch.float32),
                  torch.as_tensor(raw["y_test"], dtype=torch.int64),
                  num_classes=10, name="MNIST-1D", info={"seed": seed, "val_size": val_size})


def make_mnist1d(num_samples: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Fresh MNIST-1D signals from the same generator with a different seed.

    Used where the course needs *more real data* (chapter 08) or a large pre-training set
    (chapter 10). ``seed`` must differ from 42, the seed of the benchmark data set, so the
    new signals are independent draws. The normalisation of ``make_dataset`` is per data set;
    with the same generator arguments it differs from the benchmark's only by sampling noise.

    Returns
    -------
    x : (num_samples, 40) float32, y : (num_samples,) int64
    """
    num_samples = check_int("num_samples", num_samples, 10, 10**6)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    if seed == 42:
        raise ValueError("seed must differ from 42 (the benchmark data set's seed), got 42")
    # make_dataset draws num_samples // 10 signals per class, so round up to a multiple of 10 and cut
    # (its output is shuffled, so the first num_samples are a uniform draw)
    rounded = -(-num_samples // 10) * 10
    raw = _generate_mnist1d({"num_samples": rounded, "seed": seed, "train_split": 1.0})
    return (torch.as_tensor(raw["x"][:num_samples], dtype=torch.float32),
            torch.as_tensor(raw["y"][:num_samples], dtype=torch.int64))


# --------------------------------------------------------------------------- scikit-learn data


def _three_way_split(n: int, fractions: tuple[float, float], seed: int, stratify=None):
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    val_frac, test_frac = fractions
    rest, test = train_test_split(idx, test_size=test_frac, random_state=seed,
                                  stratify=None if stratify is None else stratify)
    rel_val = val_frac / (1.0 - test_frac)
    train, val = train_test_split(rest, test_size=rel_val, random_state=seed,
                                  stratify=None if stratify is None else stratify[rest])
    return np.sort(train), np.sort(val), np.sort(test)


def _as_splits(x, y, parts, y_dtype, **kw) -> Splits:
    tensors = []
    for idx in parts:
        tensors += [torch.as_tensor(x[idx], dtype=torch.float32), torch.as_tensor(y[idx], dtype=y_dtype)]
    return Splits(*tensors, **kw)


def load_digits(seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2,
                flat: bool = False) -> Splits:
    """scikit-learn's 8×8 digits (1797 images, 10 classes), pixels scaled to [0, 1].

    Stratified train/val/test split seeded by ``seed``; every digit appears in exactly one split.
    Images have shape (1, 8, 8) unless ``flat`` (then 64 features).
    """
    from sklearn.datasets import load_digits as _load

    seed = check_int("seed", seed, 0, 2**32 - 1)
    check_range("val_fraction", val_fraction, 0.0, 1.0, low_open=True, high_open=True)
    check_range("test_fraction", test_fraction, 0.0, 1.0 - val_fraction, low_open=True, high_open=True)
    bunch = _load()
    x = bunch.images.astype(np.float32) / 16.0
    x = x.reshape(len(x), -1) if flat else x[:, None]
    parts = _three_way_split(len(x), (val_fraction, test_fraction), seed, stratify=bunch.target)
    return _as_splits(x, bunch.target, parts, torch.int64, num_classes=10, name="digits",
                      info={"seed": seed, "indices": dict(zip(_SPLIT_NAMES, parts))})


def load_breast_cancer(seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2) -> Splits:
    """Wisconsin breast cancer (569 × 30, 2 classes), standardised with training statistics."""
    from sklearn.datasets import load_breast_cancer as _load

    seed = check_int("seed", seed, 0, 2**32 - 1)
    check_range("val_fraction", val_fraction, 0.0, 1.0, low_open=True, high_open=True)
    check_range("test_fraction", test_fraction, 0.0, 1.0 - val_fraction, low_open=True, high_open=True)
    bunch = _load()
    parts = _three_way_split(len(bunch.target), (val_fraction, test_fraction), seed, stratify=bunch.target)
    mean, std = bunch.data[parts[0]].mean(0), bunch.data[parts[0]].std(0)
    x = (bunch.data - mean) / std
    return _as_splits(x, bunch.target, parts, torch.int64, num_classes=2, name="breast cancer",
                      info={"feature_names": list(bunch.feature_names), "seed": seed,
                            "indices": dict(zip(_SPLIT_NAMES, parts))})


def load_diabetes(standardize: bool = True):
    """scikit-learn's diabetes regression data (442 × 10) as NumPy arrays.

    Returns ``(X, y, feature_names)``. scikit-learn's copy already has mean-centred
    columns of unit L2 norm; with ``standardize`` the target is centred too, so linear
    models need no intercept (chapters 01-03 compare against ``fit_intercept=False``).
    """
    from sklearn.datasets import load_diabetes as _load

    bunch = _load()
    X, y = bunch.data.astype(np.float64), bunch.target.astype(np.float64)
    if standardize:
        y = y - y.mean()
    return X, y, list(bunch.feature_names)


# --------------------------------------------------------------------------- synthetic problems


def make_polynomial_data(n: int, noise: float = 0.3, seed: int = 0, low: float = -1.0, high: float = 1.0):
    """Noisy samples of ``f(x) = sin(πx)`` for the bias–variance study of chapter 00.

    Returns NumPy arrays ``x`` (n,), ``y`` (n,) and the noise-free function ``f``.
    """
    n = check_int("n", n, 1)
    noise = check_nonneg("noise", noise)
    low = check_range("low", low)
    high = check_range("high", high, low, None, low_open=True)
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, size=n)

    def f(t):
        return np.sin(np.pi * np.asarray(t))

    return x, f(x) + noise * rng.standard_normal(n), f


def make_correlated_regression(n: int = 100, n_groups: int = 3, group_size: int = 3, n_noise: int = 6,
                               correlation: float = 0.95, noise: float = 1.0, seed: int = 0):
    """Regression with groups of strongly correlated relevant features (chapter 03).

    Each of the ``n_groups`` groups holds ``group_size`` features that share a latent factor with
    pairwise correlation ``correlation``; the target depends on each group's latent factor with
    coefficient ``(1, -1, 1, ...)`` spread evenly over the group. ``n_noise`` independent features are
    irrelevant. Columns are standardised. Returns ``(X, y, true_coef, groups)`` with ``groups[j]`` the
    group index of feature j (−1 for noise).
    """
    n = check_int("n", n, 2)
    n_groups = check_int("n_groups", n_groups, 1)
    group_size = check_int("group_size", group_size, 1)
    n_noise = check_int("n_noise", n_noise, 0)
    correlation = check_probability("correlation", correlation, allow_one=False)
    noise = check_nonneg("noise", noise)
    rng = np.random.default_rng(seed)
    cols, coef, groups = [], [], []
    for g in range(n_groups):
        latent = rng.standard_normal(n)
        for _ in range(group_size):
            cols.append(np.sqrt(correlation) * latent + np.sqrt(1 - correlation) * rng.standard_normal(n))
            coef.append((-1) ** g * 3.0 / group_size)
            groups.append(g)
    for _ in range(n_noise):
        cols.append(rng.standard_normal(n))
        coef.append(0.0)
        groups.append(-1)
    X = np.stack(cols, axis=1)
    X = (X - X.mean(0)) / X.std(0)
    coef = np.array(coef)
    y = X @ coef + noise * rng.standard_normal(n)
    return X, y - y.mean(), coef, np.array(groups)


def make_linear_regression(n: int = 100, d: int = 20, noise: float = 0.5, seed: int = 0,
                           condition: float = 1.0):
    """``y = X w* + noise`` with Gaussian ``X`` whose column scales span ``condition``.

    Returns NumPy ``(X, y, w_true)``. ``condition > 1`` makes the eigenvalues of ``XᵀX`` spread out,
    which chapters 01 and 05 use to show direction-wise shrinkage.
    """
    n = check_int("n", n, 1)
    d = check_int("d", d, 1)
    noise = check_nonneg("noise", noise)
    condition = check_range("condition", condition, 1.0, None)
    rng = np.random.default_rng(seed)
    scales = np.geomspace(1.0, 1.0 / condition, d)
    X = rng.standard_normal((n, d)) * scales
    w = rng.standard_normal(d)
    return X, X @ w + noise * rng.standard_normal(n), w


def make_modular_addition(p: int = 31, train_fraction: float = 0.5, seed: int = 0) -> Splits:
    """All pairs (a, b) of residues mod ``p`` labelled (a + b) mod p, the task of Power et al. (2022) (chapter 14).

    Inputs are the concatenated one-hot codes of a and b, shape (p², 2p), float32; labels int64 in [0, p).
    A random ``train_fraction`` of the p² pairs (chosen with ``seed``) is the training split; the other
    pairs are divided in half between validation and test.

    Parameters
    ----------
    p : int
        The modulus, in [3, 1000].
    train_fraction : float
        In (0, 1); at least one pair must be left for validation and one for test.
    seed : int
    """
    p = check_int("p", p, 3, 1000)
    train_fraction = check_range("train_fraction", train_fraction, 0.0, 1.0, low_open=True, high_open=True)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    n = p * p
    n_train = int(round(train_fraction * n))
    if not 1 <= n_train <= n - 2:
        raise ValueError(f"train_fraction must leave at least one pair for training and two for validation "
                         f"and test, got {train_fraction} of {n} pairs")
    a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
    x = torch.cat([torch.nn.functional.one_hot(a, p), torch.nn.functional.one_hot(b, p)], dim=1).float()
    y = (a + b) % p
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = (n - n_train) // 2
    parts = (perm[:n_train].sort().values, perm[n_train:n_train + n_val].sort().values,
             perm[n_train + n_val:].sort().values)
    tensors = [t for idx in parts for t in (x[idx], y[idx])]
    return Splits(*tensors, num_classes=p, name=f"(a + b) mod {p}",
                  info={"p": p, "train_fraction": train_fraction, "seed": seed})
