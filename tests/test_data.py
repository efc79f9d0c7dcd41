"""reglib.data: the offline loaders and the synthetic problems."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from reglib.data import (Splits, load_breast_cancer, load_diabetes, load_digits, load_mnist1d,
                         make_correlated_regression, make_linear_regression, make_mnist1d,
                         make_polynomial_data)

FIELDS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def _rows(x, y):
    """The (signal, label) pairs as a sorted list of tuples: a multiset that ignores order."""
    x = np.asarray(x, dtype=np.float32)
    return sorted(tuple(row) + (int(label),) for row, label in zip(x.tolist(), np.asarray(y).tolist()))


# --------------------------------------------------------------------------- MNIST-1D


@pytest.fixture(scope="module")
def mnist1d_reference():
    """mnist1d's own data set, generated here directly (not through reglib's cache)."""
    from mnist1d.data import get_dataset_args, make_dataset

    state = np.random.get_state()
    try:
        return make_dataset(get_dataset_args())
    finally:
        np.random.set_state(state)


@pytest.fixture(scope="module")
def mnist1d():
    return load_mnist1d()


def test_mnist1d_fields_and_dtypes(mnist1d):
    assert isinstance(mnist1d, Splits)
    for name in FIELDS:
        t = getattr(mnist1d, name)
        assert isinstance(t, torch.Tensor)
        assert t.dtype == (torch.float32 if name.startswith("x") else torch.int64), name
    assert mnist1d.x_train.shape == (3200, 40)
    assert mnist1d.x_val.shape == (800, 40)
    assert mnist1d.x_test.shape == (1000, 40)
    assert mnist1d.num_classes == 10
    assert set(mnist1d.y_train.unique().tolist()) == set(range(10))


def test_mnist1d_is_exactly_mnist1d_make_dataset(mnist1d, mnist1d_reference):
    # one test, so that under xdist only one worker pays for generating the reference
    ref = mnist1d_reference
    # the test split is mnist1d's test split, in its order
    assert torch.equal(mnist1d.x_test, torch.as_tensor(ref["x_test"], dtype=torch.float32))
    assert torch.equal(mnist1d.y_test, torch.as_tensor(ref["y_test"], dtype=torch.int64))
    # train and val divide mnist1d's training split: together they are the same multiset of (signal, label)
    ours = _rows(torch.cat([mnist1d.x_train, mnist1d.x_val]), torch.cat([mnist1d.y_train, mnist1d.y_val]))
    assert ours == _rows(ref["x"], ref["y"])
    for seed, val_size in ((0, 800), (7, 1)):
        other = load_mnist1d(seed=seed, val_size=val_size)
        assert _rows(torch.cat([other.x_train, other.x_val]), torch.cat([other.y_train, other.y_val])) == ours


def test_mnist1d_division_is_seeded(mnist1d):
    again = load_mnist1d(seed=42)
    for name in FIELDS:
        assert torch.equal(getattr(again, name), getattr(mnist1d, name)), name
    other = load_mnist1d(seed=0)
    assert not torch.equal(other.x_val, mnist1d.x_val)
    assert torch.equal(other.x_test, mnist1d.x_test)


def test_mnist1d_val_size():
    s = load_mnist1d(val_size=500)
    assert len(s.y_val) == 500 and len(s.y_train) == 3500
    assert s.info["val_size"] == 500


@pytest.mark.parametrize("kw, name", [({"val_size": 0}, "val_size"), ({"val_size": 4000}, "val_size"),
                                      ({"val_size": 10.0}, "val_size"), ({"seed": -1}, "seed"),
                                      ({"seed": 2**32}, "seed"), ({"seed": 1.5}, "seed")])
def test_mnist1d_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=f"^{name} must"):
        load_mnist1d(**kw)


def test_make_mnist1d_shapes():
    x, y = make_mnist1d(100, seed=1)
    assert x.shape == (100, 40) and x.dtype == torch.float32
    assert y.shape == (100,) and y.dtype == torch.int64
    assert torch.bincount(y, minlength=10).tolist() == [10] * 10
    x2, y2 = make_mnist1d(100, seed=1)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(make_mnist1d(100, seed=2)[0], x)


def test_make_mnist1d_any_size():
    x, y = make_mnist1d(23, seed=3)
    assert x.shape == (23, 40) and y.shape == (23,)


@pytest.mark.parametrize("kw, name", [({"seed": 42}, "seed"), ({"seed": -1}, "seed"),
                                      ({"num_samples": 5}, "num_samples"), ({"num_samples": 50.0}, "num_samples")])
def test_make_mnist1d_bad_arguments(kw, name):
    kw = {"num_samples": 20, **kw}
    with pytest.raises(ValueError, match=f"^{name} must"):
        make_mnist1d(**kw)


# --------------------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def sk_digits():
    from sklearn.datasets import load_digits as sk_load

    return sk_load()


def test_digits_fields_and_pixels(sk_digits):
    s = load_digits()
    for name in FIELDS:
        assert getattr(s, name).dtype == (torch.float32 if name.startswith("x") else torch.int64), name
    assert s.x_train.shape[1:] == (1, 8, 8)
    for x in (s.x_train, s.x_val, s.x_test):
        assert x.min() >= 0 and x.max() <= 1
    assert torch.cat([s.x_train, s.x_val, s.x_test]).max() == 1.0
    assert load_digits(flat=True).x_train.shape[1:] == (64,)


def test_digits_every_image_in_exactly_one_split(sk_digits):
    s = load_digits(seed=3)
    idx = s.info["indices"]
    all_idx = np.concatenate([idx["train"], idx["val"], idx["test"]])
    assert sorted(all_idx.tolist()) == list(range(len(sk_digits.target)))
    for split in ("train", "val", "test"):
        x, y = getattr(s, "x_" + split), getattr(s, "y_" + split)
        assert_allclose(x.numpy(), sk_digits.images[idx[split]][:, None] / 16.0, rtol=0, atol=0)
        assert np.array_equal(y.numpy(), sk_digits.target[idx[split]])


def test_digits_split_sizes_and_stratification(sk_digits):
    s = load_digits(seed=0, val_fraction=0.2, test_fraction=0.2)
    n = len(sk_digits.target)
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == n
    assert abs(len(s.y_test) - 0.2 * n) <= 1 and abs(len(s.y_val) - 0.2 * n) <= 1
    overall = np.bincount(sk_digits.target, minlength=10) / n
    for y in (s.y_train, s.y_val, s.y_test):
        share = np.bincount(y.numpy(), minlength=10) / len(y)
        assert np.abs(share - overall).max() < 0.01


def test_digits_seeded():
    a, b, c = load_digits(seed=1), load_digits(seed=1), load_digits(seed=2)
    assert torch.equal(a.x_val, b.x_val)
    assert not torch.equal(a.y_val, c.y_val) or not torch.equal(a.x_val, c.x_val)


@pytest.mark.parametrize("kw, name", [({"val_fraction": 0.0}, "val_fraction"), ({"val_fraction": 1.0}, "val_fraction"),
                                      ({"test_fraction": 0.0}, "test_fraction"),
                                      ({"val_fraction": 0.5, "test_fraction": 0.5}, "test_fraction"),
                                      ({"seed": -3}, "seed")])
def test_digits_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=f"^{name} must"):
        load_digits(**kw)


# --------------------------------------------------------------------------- breast cancer, diabetes


def test_breast_cancer_standardised_with_training_statistics():
    from sklearn.datasets import load_breast_cancer as sk_load

    raw = sk_load()
    s = load_breast_cancer(seed=0)
    assert s.num_classes == 2 and len(s.info["feature_names"]) == 30
    assert s.x_train.shape[1] == 30 and s.y_train.dtype == torch.int64
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == 569
    assert_allclose(s.x_train.double().mean(0).numpy(), 0.0, atol=1e-5)
    assert_allclose(s.x_train.double().std(0, unbiased=False).numpy(), 1.0, atol=1e-5)
    # validation and test data use the *training* mean and std
    idx = s.info["indices"]
    mean, std = raw.data[idx["train"]].mean(0), raw.data[idx["train"]].std(0)
    for split in ("val", "test"):
        x = getattr(s, "x_" + split).numpy()
        assert_allclose(x, (raw.data[idx[split]] - mean) / std, rtol=1e-5, atol=1e-5)
        assert np.array_equal(getattr(s, "y_" + split).numpy(), raw.target[idx[split]])
        assert np.abs(x.mean(0)).max() > 1e-3  # not re-standardised on its own statistics


@pytest.mark.parametrize("kw, name", [({"val_fraction": 0.0}, "val_fraction"), ({"test_fraction": 0.9}, "test_fraction"),
                                      ({"seed": -1}, "seed")])
def test_breast_cancer_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=f"^{name} must"):
        load_breast_cancer(**kw)


def test_diabetes():
    from sklearn.datasets import load_diabetes as sk_load

    raw = sk_load()
    X, y, names = load_diabetes()
    assert X.shape == (442, 10) and y.shape == (442,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert names == list(raw.feature_names) and len(names) == 10
    assert abs(y.mean()) < 1e-10
    assert_allclose(y, raw.target - raw.target.mean())
    assert_allclose(X.mean(0), 0.0, atol=1e-12)
    X2, y2, _ = load_diabetes(standardize=False)
    assert_allclose(X2, X)
    assert_allclose(y2, raw.target)


# --------------------------------------------------------------------------- Splits


def test_splits_properties_and_subset():
    s = load_digits(flat=True)
    assert s.train[0] is s.x_train and s.val[1] is s.y_val and s.test[0] is s.x_test
    sub = s.subset_train(50, seed=1)
    assert len(sub.y_train) == 50 and sub.x_train.shape == (50, 64)
    assert sub.x_val is s.x_val and sub.num_classes == 10
    assert torch.equal(sub.x_train, s.subset_train(50, seed=1).x_train)
    # the subset is made of training rows
    train_rows = set(map(tuple, s.x_train.tolist()))
    assert all(tuple(r) in train_rows for r in sub.x_train.tolist())
    assert "n_train=50" in repr(sub) and "digits" in repr(s)
    with pytest.raises(ValueError, match="^n must"):
        s.subset_train(0)
    with pytest.raises(ValueError, match="^n must"):
        s.subset_train(len(s.y_train) + 1)


# --------------------------------------------------------------------------- synthetic


def test_polynomial_data():
    x, y, f = make_polynomial_data(20000, noise=0.3, seed=0, low=-2.0, high=3.0)
    assert x.shape == y.shape == (20000,)
    assert x.min() >= -2 and x.max() < 3
    assert_allclose(np.std(y - f(x)), 0.3, rtol=0.03)
    x0, y0, f0 = make_polynomial_data(10, noise=0.0)
    assert_allclose(y0, np.sin(np.pi * x0))
    assert np.array_equal(make_polynomial_data(10, seed=4)[1], make_polynomial_data(10, seed=4)[1])


@pytest.mark.parametrize("kw, name", [({"n": 0}, "n"), ({"noise": -0.1}, "noise"),
                                      ({"low": 1.0, "high": 1.0}, "high"), ({"low": float("nan")}, "low")])
def test_polynomial_data_bad_arguments(kw, name):
    kw = {"n": 10, **kw}
    with pytest.raises(ValueError, match=f"^{name} must"):
        make_polynomial_data(**kw)


def test_correlated_regression():
    X, y, coef, groups = make_correlated_regression(n=4000, n_groups=2, group_size=3, n_noise=4,
                                                    correlation=0.8, noise=0.5, seed=1)
    assert X.shape == (4000, 10) and y.shape == (4000,) and coef.shape == (10,)
    assert groups.tolist() == [0, 0, 0, 1, 1, 1, -1, -1, -1, -1]
    assert_allclose(X.mean(0), 0.0, atol=1e-10)
    assert_allclose(X.std(0), 1.0)
    assert abs(y.mean()) < 1e-10
    assert_allclose(coef, [1, 1, 1, -1, -1, -1, 0, 0, 0, 0])
    corr = np.corrcoef(X, rowvar=False)
    for g in (0, 1):
        members = np.flatnonzero(groups == g)
        within = corr[np.ix_(members, members)][~np.eye(len(members), dtype=bool)]
        assert_allclose(within, 0.8, atol=0.03)
    between = corr[np.ix_(np.flatnonzero(groups == 0), np.flatnonzero(groups != 0))]
    assert np.abs(between).max() < 0.08
    # y = X coef + noise
    assert_allclose(np.std(y - X @ coef), 0.5, rtol=0.05)


@pytest.mark.parametrize("kw, name", [({"n": 1}, "n"), ({"correlation": 1.0}, "correlation"),
                                      ({"correlation": -0.1}, "correlation"), ({"n_groups": 0}, "n_groups"),
                                      ({"group_size": 0}, "group_size"), ({"n_noise": -1}, "n_noise"),
                                      ({"noise": -1.0}, "noise")])
def test_correlated_regression_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=f"^{name} must"):
        make_correlated_regression(**kw)


def test_linear_regression():
    X, y, w = make_linear_regression(n=5000, d=5, noise=0.0, seed=2, condition=100.0)
    assert X.shape == (5000, 5) and y.shape == (5000,) and w.shape == (5,)
    assert_allclose(y, X @ w)
    assert_allclose(X.std(0), np.geomspace(1.0, 0.01, 5), rtol=0.05)
    X1, y1, w1 = make_linear_regression(n=10, d=3, seed=2)
    assert np.array_equal(X1, make_linear_regression(n=10, d=3, seed=2)[0])


@pytest.mark.parametrize("kw, name", [({"n": 0}, "n"), ({"d": 0}, "d"), ({"noise": -1.0}, "noise"),
                                      ({"condition": 0.5}, "condition")])
def test_linear_regression_bad_arguments(kw, name):
    with pytest.raises(ValueError, match=f"^{name} must"):
        make_linear_regression(**kw)
