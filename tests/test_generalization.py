"""reglib.generalization (chapters 00 and 12) against NumPy closed forms and brute force."""

import numpy as np
import pytest
import torch

from reglib import generalization as gen
from reglib.linear import ridge


def test_split_indices_partition_and_sizes():
    train, val, test = gen.split_indices(103, 0.2, 0.1, seed=4)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(103))
    assert (len(val), len(test)) == (round(0.2 * 103), round(0.1 * 103))
    again = gen.split_indices(103, 0.2, 0.1, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))


@pytest.mark.parametrize("kwargs, name", [({"n": 2}, "n"), ({"val_fraction": 1.0}, "val_fraction"),
                                          ({"test_fraction": 0.9}, "test_fraction")])
def test_split_indices_rejects_bad_arguments(kwargs, name):
    args = {"n": 10, "val_fraction": 0.2, "test_fraction": 0.2, **kwargs}
    with pytest.raises(ValueError, match=name):
        gen.split_indices(**args)


def test_polynomial_features_and_fit_match_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, 30), rng.standard_normal(30)
    np.testing.assert_allclose(gen.polynomial_features(x, 4), np.polynomial.polynomial.polyvander(x, 4))
    coef = gen.fit_polynomial(x, y, 4)
    np.testing.assert_allclose(coef, np.polynomial.polynomial.polyfit(x, y, 4), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gen.predict_polynomial(coef, x), np.polynomial.polynomial.polyval(x, coef))
    # with alpha > 0 it is ridge on the polynomial features
    np.testing.assert_allclose(gen.fit_polynomial(x, y, 4, alpha=0.5), ridge(gen.polynomial_features(x, 4), y, 0.5),
                               rtol=1e-8)
    with pytest.raises(ValueError, match="degree"):
        gen.polynomial_features(x, -1)
    with pytest.raises(ValueError, match="alpha"):
        gen.fit_polynomial(x, y, 2, alpha=-1)


def test_mse():
    assert gen.mse([1, 2, 3], [1, 2, 5]) == pytest.approx(4 / 3)


def test_bias_variance_decomposition_adds_up():
    # expected_mse comes from other training sets, so this tests the decomposition (stable fits only)
    for degree in (1, 3):
        r = gen.bias_variance(degree, n_train=20, noise=0.3, n_datasets=300, seed=1)
        assert r["noise"] == pytest.approx(0.09)
        total = r["bias2"] + r["variance"] + r["noise"]
        assert abs(total - r["expected_mse"]) / r["expected_mse"] < 0.05


def test_bias2_estimate_is_unbiased_where_the_plain_one_is_not():
    """With K = 5 training sets, (mean prediction - f)^2 overstates bias^2 by Var/K; the estimate subtracts it."""
    truth = gen.bias_variance(2, n_datasets=4000, seed=123)
    small = [gen.bias_variance(2, n_datasets=5, seed=s) for s in range(300)]
    estimate = np.mean([r["bias2"] for r in small])
    plain = estimate + np.mean([r["variance"] for r in small]) / 5  # what the uncorrected formula gives
    assert abs(estimate - truth["bias2"]) < 0.25 * truth["variance"] / 5 < plain - truth["bias2"]
    assert gen.bias_variance(1, n_datasets=50)["bias2"] > gen.bias_variance(4, n_datasets=50)["bias2"]
    with pytest.raises(ValueError, match="n_datasets"):
        gen.bias_variance(1, n_datasets=1)


def test_technique_map_covers_every_lever():
    assert [row[0] for row in gen.TECHNIQUE_MAP] == ["loss", "weights", "activations", "data", "labels",
                                                     "optimizer", "procedure"]
    cited = " ".join(row[2] for row in gen.TECHNIQUE_MAP)
    assert all(f"{chapter:02d}" in cited for chapter in range(1, 15))  # every technique chapter has a place


def test_randomize_labels():
    y = torch.arange(2000) % 10
    out = gen.randomize_labels(y, 0.3, 10, generator=torch.Generator().manual_seed(0))
    assert out.dtype == torch.int64 and torch.equal(y, torch.arange(2000) % 10)  # input untouched
    changed = (out != y).sum().item()
    assert changed <= 600 and changed > 600 * 0.9 * 0.85  # ~ 600 · (1 − 1/K)
    assert torch.equal(gen.randomize_labels(y, 0.0, 10), y)
    full = gen.randomize_labels(y, 1.0, 10, generator=torch.Generator().manual_seed(1))
    assert abs((full == y).double().mean().item() - 0.1) < 0.03
    with pytest.raises(ValueError, match="fraction"):
        gen.randomize_labels(y, 1.5, 10)
    with pytest.raises(ValueError, match="num_classes"):
        gen.randomize_labels(y, 0.5, 1)


def test_random_relu_features_and_min_norm():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5))
    Phi, V = gen.random_relu_features(X, 60, seed=3, scale=2.0)
    assert Phi.shape == (20, 60) and V.shape == (5, 60) and (Phi >= 0).all()
    np.testing.assert_allclose(Phi, np.maximum(X @ V, 0))
    assert abs(V.std() - 2.0 / np.sqrt(5)) < 0.1
    Y = rng.standard_normal((20, 2))
    W = gen.min_norm_least_squares(Phi, Y)
    np.testing.assert_allclose(W, np.linalg.pinv(Phi) @ Y, atol=1e-8)
    np.testing.assert_allclose(Phi @ W, Y, atol=1e-8)  # p > n: interpolates
    with pytest.raises(ValueError, match="n_features"):
        gen.random_relu_features(X, 0)
    with pytest.raises(ValueError, match="scale"):
        gen.random_relu_features(X, 3, scale=0.0)
