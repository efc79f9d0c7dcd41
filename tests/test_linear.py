"""reglib.linear against scikit-learn, closed forms and the optimality (KKT) conditions."""

import time

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, Lasso, Ridge, enet_path
from sklearn.linear_model import lasso_path as sklearn_lasso_path

from reglib.linear import (
    alpha_grid,
    alpha_max,
    elastic_net,
    elastic_net_objective,
    elastic_net_path,
    ista,
    lasso,
    lasso_objective,
    lasso_path,
    ridge,
    ridge_shrinkage,
)

TIGHT = dict(tol=1e-12, max_iter=1_000_000, fit_intercept=False)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def _random_problem(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[:, 1] = X[:, 0] + 0.2 * X[:, 1]  # a correlated pair, as in the diabetes data
    w_true = np.zeros(p)
    w_true[:3] = [2.0, -1.0, 0.5]
    return X, X @ w_true + 0.3 * rng.normal(size=n)


RANDOM = [(60, 15, 0), (25, 40, 1)]  # tall and wide


def _kkt_violation(X, y, w, alpha, l1_ratio=1.0):
    """Largest violation of the elastic-net optimality conditions at w (0 at the exact minimiser)."""
    l1, l2 = alpha * l1_ratio, alpha * (1 - l1_ratio)
    residual = X.T @ (y - X @ w) / len(y) - l2 * w
    on = w != 0
    on_support = np.abs(residual[on] - l1 * np.sign(w[on]))
    off_support = np.maximum(np.abs(residual[~on]) - l1, 0.0)
    return np.concatenate([on_support, off_support]).max()


# --------------------------------------------------------------------------- ridge


@pytest.mark.parametrize("alpha", [0.0, 0.01, 1.0, 100.0])
def test_ridge_matches_sklearn_on_diabetes(diabetes, alpha):
    X, y = diabetes
    expected = Ridge(alpha=alpha, fit_intercept=False, solver="svd").fit(X, y).coef_
    assert_allclose(ridge(X, y, alpha), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n, p, seed", RANDOM)
def test_ridge_matches_closed_form_and_sklearn(n, p, seed):
    X, y = _random_problem(n, p, seed)
    w = ridge(X, y, 0.5)
    assert_allclose(w, np.linalg.solve(X.T @ X + 0.5 * np.eye(p), X.T @ y), rtol=1e-8, atol=1e-10)
    assert_allclose(w, Ridge(alpha=0.5, fit_intercept=False).fit(X, y).coef_, rtol=1e-6, atol=1e-8)


def test_ridge_with_several_targets():
    X, y = _random_problem(40, 6)
    Y = np.column_stack([y, -2 * y + 1])
    W = ridge(X, Y, 0.3)
    assert W.shape == (6, 2)
    assert_allclose(W, Ridge(alpha=0.3, fit_intercept=False).fit(X, Y).coef_.T, rtol=1e-6, atol=1e-8)


def test_ridge_alpha_zero_is_minimum_norm_least_squares():
    X, y = _random_problem(10, 30)
    assert_allclose(ridge(X, y, 0.0), np.linalg.pinv(X) @ y, atol=1e-10)


def test_ridge_shrinkage_matches_the_eigenvalues():
    X, _ = _random_problem(50, 8)
    lam = np.sort(np.linalg.eigvalsh(X.T @ X))[::-1]
    factors = ridge_shrinkage(X, 4.0)
    assert_allclose(factors, lam / (lam + 4.0), rtol=1e-10)
    assert np.all(np.diff(factors) <= 0) and np.all((factors > 0) & (factors < 1))
    assert_allclose(ridge_shrinkage(X, 0.0), np.ones(8))


def test_ridge_shrinks_least_squares_along_each_eigenvector():
    """Chapter 01: in the eigenbasis of X^T X, ridge = shrinkage factor x least squares."""
    X, y = _random_problem(50, 8)
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    w_ols, w_ridge = ridge(X, y, 0.0), ridge(X, y, 10.0)
    assert_allclose(Vt @ w_ridge, ridge_shrinkage(X, 10.0) * (Vt @ w_ols), rtol=1e-8, atol=1e-12)


def test_ridge_shrinkage_is_zero_along_the_null_space():
    X, _ = _random_problem(5, 8)
    factors = ridge_shrinkage(X, 1.0)
    assert factors.shape == (8,)
    assert np.all(factors[:5] > 0) and np.all(factors[5:] == 0)


# --------------------------------------------------------------------------- lasso and elastic net


@pytest.mark.parametrize("alpha", [0.005, 0.1, 1.0])
def test_lasso_matches_sklearn_on_diabetes(diabetes, alpha):
    X, y = diabetes
    expected = Lasso(alpha=alpha, **TIGHT).fit(X, y).coef_
    w = lasso(X, y, alpha)
    assert_allclose(w, expected, atol=1e-6)
    assert np.array_equal(w == 0, expected == 0)
    assert _kkt_violation(X, y, w, alpha) < 1e-10


@pytest.mark.parametrize("n, p, seed", RANDOM)
@pytest.mark.parametrize("alpha", [0.01, 0.1])
def test_lasso_matches_sklearn_on_random_data(n, p, seed, alpha):
    X, y = _random_problem(n, p, seed)
    w = lasso(X, y, alpha)
    assert_allclose(w, Lasso(alpha=alpha, **TIGHT).fit(X, y).coef_, atol=1e-6)
    assert _kkt_violation(X, y, w, alpha) < 1e-10


def test_lasso_has_exact_zeros_and_is_a_minimum():
    X, y = _random_problem(60, 15)
    w = lasso(X, y, 0.1)
    assert 0 < np.count_nonzero(w) < 15  # sparse, with exact zeros
    best = lasso_objective(X, y, w, 0.1)
    rng = np.random.default_rng(1)
    for _ in range(20):
        assert lasso_objective(X, y, w + 1e-3 * rng.normal(size=15), 0.1) > best


def test_lasso_is_zero_from_alpha_max_on(diabetes):
    X, y = diabetes
    top = alpha_max(X, y)
    assert_allclose(top, np.abs(X.T @ y).max() / len(y))
    assert np.count_nonzero(lasso(X, y, top)) == 0
    assert np.count_nonzero(lasso(X, y, 0.99 * top)) == 1


def test_lasso_warm_start_gives_the_same_answer_and_leaves_w0_alone():
    X, y = _random_problem(60, 15)
    w0 = np.ones(15)
    w = lasso(X, y, 0.05, w0=w0)
    assert_allclose(w, lasso(X, y, 0.05), atol=1e-10)
    assert np.all(w0 == 1)


def test_lasso_warns_when_max_iter_is_too_small():
    X, y = _random_problem(25, 40, 1)
    with pytest.warns(RuntimeWarning, match="max_iter"):
        lasso(X, y, 1e-3, tol=0.0, max_iter=1)


@pytest.mark.parametrize("l1_ratio", [0.2, 0.5, 0.9])
def test_elastic_net_matches_sklearn(diabetes, l1_ratio):
    X, y = diabetes
    for alpha in [0.001, 0.05]:
        expected = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, **TIGHT).fit(X, y).coef_
        w = elastic_net(X, y, alpha, l1_ratio)
        assert_allclose(w, expected, atol=1e-6)
        assert _kkt_violation(X, y, w, alpha, l1_ratio) < 1e-10


@pytest.mark.parametrize("n, p, seed", RANDOM)
def test_elastic_net_matches_sklearn_on_random_data(n, p, seed):
    X, y = _random_problem(n, p, seed)
    expected = ElasticNet(alpha=0.05, l1_ratio=0.5, **TIGHT).fit(X, y).coef_
    assert_allclose(elastic_net(X, y, 0.05, 0.5), expected, atol=1e-6)


def test_elastic_net_endpoints_are_lasso_and_ridge():
    X, y = _random_problem(60, 15)
    n = len(y)
    assert_allclose(elastic_net(X, y, 0.1, 1.0), lasso(X, y, 0.1))
    # 1/(2n)|y - Xw|^2 + alpha/2 |w|^2 is ridge with penalty n * alpha
    assert_allclose(elastic_net(X, y, 0.1, 0.0), ridge(X, y, n * 0.1), rtol=1e-9, atol=1e-12)


def test_elastic_net_spreads_weight_over_correlated_features():
    """Chapter 03's grouping effect: here lasso keeps one of two near-copies, elastic net both, evenly."""
    rng = np.random.default_rng(4)
    z = rng.normal(size=100)
    X = np.column_stack([z + 0.05 * rng.normal(size=100), z + 0.05 * rng.normal(size=100), rng.normal(size=(100, 3))])
    y = 2 * z + 0.5 * rng.normal(size=100)
    w_lasso, w_enet = lasso(X, y, 0.1), elastic_net(X, y, 0.1, 0.5)
    assert np.count_nonzero(w_lasso[:2]) == 1
    assert np.all(w_enet[:2] > 0) and abs(w_enet[0] - w_enet[1]) < 0.2 * w_enet[:2].sum()


# --------------------------------------------------------------------------- paths


def test_lasso_path_matches_sklearn_on_diabetes(diabetes):
    X, y = diabetes
    alphas = alpha_grid(X, y)
    sk_alphas, expected, _ = sklearn_lasso_path(X, y, alphas=alphas, tol=1e-12, max_iter=100_000)
    assert_allclose(sk_alphas, alphas)
    coefs = lasso_path(X, y, alphas)
    assert coefs.shape == (10, 100)
    assert_allclose(coefs, expected, atol=1e-4)


def test_lasso_path_default_grid_matches_sklearn(diabetes):
    X, y = diabetes
    sk_alphas, _, _ = sklearn_lasso_path(X, y, eps=1e-3)  # 100 alphas by default
    assert_allclose(alpha_grid(X, y, n_alphas=100, eps=1e-3), sk_alphas)


def test_lasso_path_is_fast(diabetes):
    X, y = diabetes
    alphas = alpha_grid(X, y)
    start = time.perf_counter()
    lasso_path(X, y, alphas)
    assert time.perf_counter() - start < 1.0


def test_lasso_path_entry_order_is_that_of_lars(diabetes):
    """Chapter 02 (Efron et al. 2004): bmi, s5, bp, s3 enter first."""
    X, y = diabetes
    alphas = np.geomspace(alpha_max(X, y), 0.01 * alpha_max(X, y), 300)
    coefs = lasso_path(X, y, alphas)
    active = coefs != 0
    entry = np.where(active.any(axis=1), active.argmax(axis=1), alphas.size)
    first_four = np.argsort(entry, kind="stable")[:4]
    assert list(first_four) == [2, 8, 3, 6]
    assert len(set(entry[first_four])) == 4  # no ties on this grid


@pytest.mark.parametrize("n, p, seed", RANDOM)
def test_paths_match_sklearn_on_random_data(n, p, seed):
    X, y = _random_problem(n, p, seed)
    alphas = alpha_grid(X, y, n_alphas=20, eps=1e-2)
    _, expected, _ = sklearn_lasso_path(X, y, alphas=alphas, tol=1e-12, max_iter=100_000)
    assert_allclose(lasso_path(X, y, alphas), expected, atol=1e-6)
    _, expected, _ = enet_path(X, y, l1_ratio=0.5, alphas=alphas, tol=1e-12, max_iter=100_000)
    assert_allclose(elastic_net_path(X, y, alphas, 0.5), expected, atol=1e-6)


def test_path_keeps_the_order_given_and_equals_single_fits():
    X, y = _random_problem(60, 15)
    alphas = np.array([0.01, 0.3, 0.05])
    coefs = lasso_path(X, y, alphas)
    for k, alpha in enumerate(alphas):
        assert_allclose(coefs[:, k], lasso(X, y, alpha), atol=1e-10)


# --------------------------------------------------------------------------- ISTA and objectives


def test_ista_converges_to_the_lasso_with_a_monotone_objective(diabetes):
    X, y = diabetes
    X = X / np.linalg.norm(X, axis=0) * np.sqrt(len(y))  # unit-variance columns: a well-conditioned problem
    w, history = ista(X, y, 1.0, 300, return_history=True)
    assert history.shape == (301,)
    assert np.all(np.diff(history) <= 1e-9 * history[0])
    assert_allclose(w, lasso(X, y, 1.0), atol=1e-3)
    assert np.array_equal(w == 0, lasso(X, y, 1.0) == 0)  # proximal steps give exact zeros


def test_ista_elastic_net_and_options():
    X, y = _random_problem(60, 15)
    w = ista(X, y, 0.1, 2000, l1_ratio=0.5)
    assert_allclose(w, elastic_net(X, y, 0.1, 0.5), atol=1e-8)
    w0 = np.full(15, 0.5)
    assert_allclose(ista(X, y, 0.1, 0, w0=w0), w0)
    assert np.all(w0 == 0.5)
    small_steps = ista(X, y, 0.1, 10, step=1e-4)
    assert np.abs(small_steps).max() < np.abs(w).max()  # tiny steps barely leave 0


def test_objectives_match_their_definitions():
    X, y = _random_problem(30, 5)
    w = np.arange(5.0) - 2
    r = y - X @ w
    assert_allclose(lasso_objective(X, y, w, 0.3), r @ r / 60 + 0.3 * np.abs(w).sum())
    expected = r @ r / 60 + 0.3 * 0.4 * np.abs(w).sum() + 0.3 * 0.6 / 2 * (w @ w)
    assert_allclose(elastic_net_objective(X, y, w, 0.3, 0.4), expected)


# --------------------------------------------------------------------------- bad arguments

X_OK, Y_OK = _random_problem(20, 4)


@pytest.mark.parametrize("call, match", [
    (lambda: ridge(X_OK[:, 0], Y_OK, 1.0), "X"),
    (lambda: ridge(X_OK, Y_OK[:5], 1.0), "y"),
    (lambda: ridge(X_OK, Y_OK, -1.0), "alpha"),
    (lambda: ridge_shrinkage(X_OK, -1.0), "alpha"),
    (lambda: lasso(np.where(X_OK > 1, np.nan, X_OK), Y_OK, 0.1), "X"),
    (lambda: lasso(X_OK, np.full(20, np.inf), 0.1), "y"),
    (lambda: lasso(X_OK, np.column_stack([Y_OK, Y_OK]), 0.1), "y"),
    (lambda: lasso(X_OK, Y_OK, -0.1), "alpha"),
    (lambda: lasso(X_OK, Y_OK, 0.1, tol=-1.0), "tol"),
    (lambda: lasso(X_OK, Y_OK, 0.1, max_iter=0), "max_iter"),
    (lambda: lasso(X_OK, Y_OK, 0.1, w0=np.zeros(3)), "w0"),
    (lambda: elastic_net(X_OK, Y_OK, 0.1, 1.5), "l1_ratio"),
    (lambda: lasso_path(X_OK, Y_OK, [0.1, -0.1]), "alphas"),
    (lambda: lasso_path(X_OK, Y_OK, []), "alphas"),
    (lambda: elastic_net_path(X_OK, Y_OK, [0.1], -0.5), "l1_ratio"),
    (lambda: ista(X_OK, Y_OK, 0.1, -1), "n_iter"),
    (lambda: ista(X_OK, Y_OK, 0.1, 5, step=0.0), "step"),
    (lambda: ista(X_OK, Y_OK, -0.1, 5), "alpha"),
    (lambda: ista(X_OK, Y_OK, 0.1, 5, l1_ratio=2.0), "l1_ratio"),
    (lambda: alpha_max(X_OK, Y_OK, l1_ratio=0.0), "l1_ratio"),
    (lambda: alpha_grid(X_OK, Y_OK, n_alphas=0), "n_alphas"),
    (lambda: alpha_grid(X_OK, Y_OK, eps=0.0), "eps"),
    (lambda: lasso_objective(X_OK, Y_OK, np.zeros(3), 0.1), "w"),
    (lambda: elastic_net_objective(X_OK, Y_OK, np.zeros(4), 0.1, -1.0), "l1_ratio"),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
