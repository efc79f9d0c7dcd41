"""Chapter 02's machinery in reglib: subgradient descent and entry order (reglib.linear), the in-place proximal
step and magnitude pruning (reglib.penalties), and the chapter's figures."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402
from sklearn.linear_model import lars_path  # noqa: E402

from reglib import linear, penalties  # noqa: E402
from reglib.data import load_diabetes  # noqa: E402


@pytest.fixture(scope="module")
def diabetes():
    X, y, names = load_diabetes()
    return X, y, names


@pytest.fixture
def figure():
    fig = plt.figure()
    yield fig
    plt.close(fig)


# --------------------------------------------------------------------------- reglib.linear


def test_subgradient_descent_takes_the_subgradient_step(diabetes):
    X, y, _ = diabetes
    n, alpha = len(y), 0.1
    step = 1 / (np.linalg.norm(X, ord=2) ** 2 / n)
    w, history, path = linear.subgradient_descent(X, y, alpha, 5, return_history=True, return_path=True)
    expected = [np.zeros(X.shape[1])]
    for _ in range(5):
        v = expected[-1]
        expected.append(v - step * (X.T @ (X @ v - y) / n + alpha * np.sign(v)))
    assert_allclose(path, np.array(expected), rtol=1e-12, atol=1e-12)
    assert_allclose(w, expected[-1], rtol=1e-12)
    assert_allclose(history, [linear.lasso_objective(X, y, v, alpha) for v in expected], rtol=1e-12)
    assert_allclose(linear.subgradient_descent(X, y, alpha, 5), w, rtol=0, atol=0)  # the same without extras


def test_subgradient_descent_hovers_where_ista_lands_on_zero(diabetes):
    X, y, _ = diabetes
    w_sub = linear.subgradient_descent(X, y, 0.1, 2000)
    w_ista = linear.ista(X, y, 0.1, 2000)
    assert np.count_nonzero(w_sub == 0) == 0 and np.count_nonzero(w_ista == 0) == 3


def test_subgradient_descent_options(diabetes):
    X, y, _ = diabetes
    w0 = np.ones(X.shape[1])
    w, path = linear.subgradient_descent(X, y, 0.1, 3, step=0.5, w0=w0, return_path=True)
    assert path.shape == (4, X.shape[1]) and (path[0] == 1).all() and (w0 == 1).all()  # w0 left alone
    assert linear.subgradient_descent(X, y, 0.1, 0).tolist() == [0.0] * X.shape[1]
    with pytest.raises(ValueError, match="step"):
        linear.subgradient_descent(X, y, 0.1, 3, step=0.0)
    with pytest.raises(ValueError, match="n_iter"):
        linear.subgradient_descent(X, y, 0.1, -1)


def test_entry_order_is_that_of_lars(diabetes):
    X, y, names = diabetes
    _, _, coefs = lars_path(X, y, method="lasso")
    order, first = linear.entry_order(coefs)
    assert [names[j] for j in order[:4]] == ["bmi", "s5", "bp", "s3"]
    assert all(coefs[j, first[j]] != 0 and not coefs[j, :first[j]].any() for j in range(len(names)))


def test_entry_order_ties_and_features_that_never_enter():
    coefs = np.array([[0, 0, 1.0], [0, 2.0, 2.0], [0, 0, 0], [0, 0, -1.0]])
    order, first = linear.entry_order(coefs)
    assert order == [1, 0, 3, 2] and first.tolist() == [2, 1, 3, 2]
    with pytest.raises(ValueError, match="coefs"):
        linear.entry_order(np.zeros(3))


def test_plot_lasso_path_numbers_the_first_entries(diabetes, figure):
    X, y, names = diabetes
    alphas = linear.alpha_grid(X, y, n_alphas=50)
    path = linear.lasso_path(X, y, alphas)
    axes = figure.subplots(1, 2)
    linear.plot_lasso_path(axes, alphas, path, names, n_annotated=3)
    assert [t.get_text() for t in axes[0].texts] == [" 1. bmi", " 2. s5", " 3. bp"]
    assert len(axes[0].get_legend().get_texts()) == len(names)
    assert_allclose(axes[1].get_lines()[0].get_ydata(), (path != 0).sum(axis=0))
    assert all(ax.xaxis_inverted() for ax in axes)
    with pytest.raises(ValueError, match="coefs"):
        linear.plot_lasso_path(axes, alphas[:-1], path, names)


def test_plot_descent_draws_one_coefficient_and_the_gap(diabetes, figure):
    X, y, _ = diabetes
    w, history, path = linear.subgradient_descent(X, y, 0.1, 10, return_history=True, return_path=True)
    axes = figure.subplots(1, 2)
    linear.plot_descent(axes, {"subgradient": (path, history)}, feature=0, optimum=history.min() - 1, n_steps=5)
    line = axes[0].get_lines()[0]
    assert_allclose(line.get_ydata(), path[:6, 0])
    assert line.get_label() == "subgradient"
    assert_allclose(axes[1].get_lines()[0].get_ydata(), history - history.min() + 1)
    assert axes[1].get_yscale() == "log"
    with pytest.raises(ValueError, match="runs"):
        linear.plot_descent(axes, {}, feature=0, optimum=0.0)


# --------------------------------------------------------------------------- reglib.penalties


def test_prox_l1_in_place_is_prox_l1():
    gen = torch.Generator().manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(20, 7, generator=gen))
    expected = penalties.prox_l1(weight.detach(), 0.3, 2.0)
    assert penalties.prox_l1_(weight, 0.3, 2.0) is weight
    assert torch.equal(weight.detach(), expected) and weight.grad_fn is None and weight.requires_grad
    with pytest.raises(ValueError, match="lam"):
        penalties.prox_l1_(weight, 0.3, -1.0)


def test_magnitude_pruned_zeroes_the_smallest_and_restores():
    gen = torch.Generator().manual_seed(1)
    weight = torch.nn.Parameter(torch.randn(10, 10, generator=gen))
    original = weight.detach().clone()
    with penalties.magnitude_pruned(weight, 0.3) as pruned:
        assert pruned is weight and int((weight == 0).sum()) == 30
        kept = original.abs() > original.abs().flatten().kthvalue(30).values
        assert torch.equal(weight.detach()[kept], original[kept])
    assert torch.equal(weight.detach(), original)
    with penalties.magnitude_pruned(weight, 0.0):
        assert torch.equal(weight.detach(), original)
    with pytest.raises(RuntimeError), penalties.magnitude_pruned(weight, 1.0):
        assert (weight == 0).all()
        raise RuntimeError("an error inside the block")
    assert torch.equal(weight.detach(), original)  # restored even then
    with pytest.raises(ValueError, match="fraction"):
        with penalties.magnitude_pruned(weight, 1.5):
            pass


def test_plot_weight_magnitudes_counts_exact_zeros(figure):
    ax = figure.subplots()
    w = np.array([[0.0, 1e-3], [0.0, 0.5]])
    penalties.plot_weight_magnitudes(ax, {"a": w, "b": np.ones((2, 2))}, pull=1e-3)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["a: 50% exactly 0", "b: 0% exactly 0", "ηλ, one step's L1 pull"]
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="weights"):
        penalties.plot_weight_magnitudes(ax, {})


def test_plot_first_layer_heat_maps_and_norms(figure):
    axes = figure.subplots(2, 2)
    W = {"dense": np.full((3, 4), 0.5), "sparse": np.array([[0, 0.5, 0, 0.5]] * 3)}
    norms = {"dense": np.ones((2, 4)), "sparse": np.array([[0, 2, 0, 2], [0, 2, 0, 2.0]])}
    penalties.plot_first_layer(axes, W, norms)
    assert axes[0, 1].get_title() == "|W1|, sparse (50% exactly 0, white)"
    assert np.ma.getmaskarray(axes[0, 1].get_images()[0].get_array()).sum() == 6  # the zeros are masked
    assert_allclose([bar.get_height() for bar in axes[1, 1].patches], [0, 2, 0, 2])
    with pytest.raises(ValueError, match="axes"):
        penalties.plot_first_layer(axes[:, :1], W, norms)
