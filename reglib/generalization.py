"""Generalization itself: splits, capacity, bias–variance and a map of regularizers (chapter 00);
random labels, random features and minimum-norm interpolation (chapter 12)."""

from __future__ import annotations

import numpy as np

from ._validate import check_int, check_nonneg, check_range

__all__ = ["split_indices", "polynomial_features", "fit_polynomial", "predict_polynomial", "mse",
           "bias_variance", "TECHNIQUE_MAP", "randomize_labels", "random_relu_features", "min_norm_least_squares"]


def split_indices(n: int, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0):
    """Shuffle ``range(n)`` with ``seed`` and cut it into train / validation / test index arrays.

    The validation and test sizes are ``round(fraction · n)``; the training split gets the rest.
    Every index lands in exactly one split (chapter 00, "Splits").
    """
    n = check_int("n", n, 3)
    val_fraction = check_range("val_fraction", val_fraction, 0.0, 1.0, high_open=True)
    test_fraction = check_range("test_fraction", test_fraction, 0.0, 1.0 - val_fraction, high_open=True)
    perm = np.random.default_rng(seed).permutation(n)
    n_val, n_test = round(val_fraction * n), round(test_fraction * n)
    return perm[n_val + n_test:], perm[:n_val], perm[n_val:n_val + n_test]


def polynomial_features(x, degree: int) -> np.ndarray:
    r"""The Vandermonde matrix :math:`\Phi_{ij} = x_i^{\,j}`, :math:`j = 0..d`; shape (n, degree + 1)."""
    degree = check_int("degree", degree, 0)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return x[:, None] ** np.arange(degree + 1)


def fit_polynomial(x, y, degree: int, alpha: float = 0.0) -> np.ndarray:
    r"""Least-squares coefficients :math:`\hat w = \arg\min_w \|y - \Phi w\|^2 + \alpha\|w\|^2`.

    With ``alpha = 0`` this is ordinary least squares (the minimum-norm solution when the
    problem is under-determined); coefficients are ordered from :math:`x^0` up.
    """
    alpha = check_nonneg("alpha", alpha)
    phi = polynomial_features(x, degree)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if alpha == 0:
        return np.linalg.lstsq(phi, y, rcond=None)[0]
    return np.linalg.solve(phi.T @ phi + alpha * np.eye(phi.shape[1]), phi.T @ y)


def predict_polynomial(coef, x) -> np.ndarray:
    """Evaluate the polynomial with coefficients ``coef`` (from :math:`x^0` up) at ``x``."""
    coef = np.asarray(coef, dtype=np.float64)
    return polynomial_features(x, len(coef) - 1) @ coef


def mse(pred, target) -> float:
    """Mean squared error."""
    return float(np.mean((np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)) ** 2))


def bias_variance(degree: int, n_train: int = 20, noise: float = 0.3, n_datasets: int = 200,
                  n_grid: int = 200, seed: int = 0, alpha: float = 0.0) -> dict:
    r"""Monte-Carlo bias–variance decomposition for polynomial regression of :math:`\sin(\pi x)` (chapter 00, §4).

    Draws ``n_datasets`` training sets of ``n_train`` noisy points, fits a polynomial of ``degree``
    to each, and measures on a grid of ``x`` in [−1, 1], averaged over the grid:

    * ``variance``: :math:`\mathrm{Var}_D[\hat f(x)]`, the unbiased sample variance over the K training sets;
    * ``bias2``: :math:`(\mathbb{E}_D[\hat f(x)] - f(x))^2`, estimated without bias: the squared error of the
      mean prediction over K sets carries an extra :math:`\mathrm{Var}_D/K`, which is subtracted (so the
      estimate can dip slightly below zero where the bias is tiny);
    * ``noise``: :math:`\sigma^2`;
    * ``expected_mse``: the mean squared error on fresh noisy targets of fits to K *other*, independent
      training sets, which the decomposition ``bias2 + variance + noise`` must match up to Monte-Carlo error
      (a test of the decomposition, not an identity of the same numbers).

    Where the fits are unstable (high degree, few points), the variance is heavy-tailed: a few training sets
    give wild fits, and the estimates need many sets to settle.
    """
    from .data import make_polynomial_data

    check_int("n_datasets", n_datasets, 2)
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1.0, 1.0, n_grid)
    f_grid = np.sin(np.pi * grid)

    def fits():
        preds = np.empty((n_datasets, n_grid))
        for k in range(n_datasets):
            x, y, _ = make_polynomial_data(n_train, noise=noise, seed=int(rng.integers(2**31)))
            preds[k] = predict_polynomial(fit_polynomial(x, y, degree, alpha), grid)
        return preds

    preds = fits()
    variance = preds.var(0, ddof=1)
    bias2 = (preds.mean(0) - f_grid) ** 2 - variance / n_datasets
    other = fits()  # independent training sets, scored on fresh targets
    y_fresh = f_grid + noise * rng.standard_normal((n_datasets, n_grid))
    return {"bias2": float(bias2.mean()), "variance": float(variance.mean()), "noise": noise**2,
            "expected_mse": float(np.mean((other - y_fresh) ** 2))}


#: Where each regularizer of the course acts, and the chapter that treats it.
TECHNIQUE_MAP = [
    ("loss", "adds a penalty to the objective", "L2 (01), L1 (02), elastic net (03)"),
    ("weights", "restricts or perturbs the parameters directly", "max-norm and other constraints (04), DropConnect (06)"),
    ("activations", "perturbs or normalises hidden units", "dropout (06), batch / layer norm (07), stochastic depth (10)"),
    ("data", "enlarges or perturbs the inputs", "augmentation, noise injection, cutout (08), mixup, cutmix (09)"),
    ("labels", "softens the targets", "label smoothing (09), mixup (09)"),
    ("optimizer", "changes which minimum training finds",
     "weight decay (01, 11, 14), SGD noise, SAM (11), the implicit bias of gradient descent (12)"),
    ("procedure", "decides when to stop, what to average, where to start",
     "early stopping (05), ensembles, transfer (10), tuning (13), weight averaging (14)"),
]


# --------------------------------------------------------------------------- chapter 12


def randomize_labels(y, fraction: float, num_classes: int, generator=None):
    """Replace the labels of a random ``round(fraction · n)`` samples by uniformly drawn classes.

    Chapter 12 (Zhang et al. 2017). A replaced label is drawn from all ``num_classes`` classes, so it
    keeps its true value with probability 1/K; ``fraction=1`` gives labels independent of the inputs.
    Returns a new int64 tensor; ``y`` is not modified.
    """
    import torch

    from ._validate import check_probability

    fraction = check_probability("fraction", fraction)
    num_classes = check_int("num_classes", num_classes, 2)
    n = len(y)
    chosen = torch.randperm(n, generator=generator)[: round(fraction * n)]
    out = y.clone()
    out[chosen] = torch.randint(0, num_classes, (len(chosen),), generator=generator).to(y.device, y.dtype)
    return out


def random_relu_features(X, n_features: int, seed: int = 0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Random ReLU features :math:`\phi(x) = \max(0, x^\top V)` with fixed Gaussian :math:`V` (chapter 12).

    ``V`` has shape (d, n_features) with entries :math:`\mathcal N(0, \text{scale}^2/d)`. Returns
    ``(features, V)``; apply the same ``V`` to test inputs with ``np.maximum(X_test @ V, 0)``.
    """
    n_features = check_int("n_features", n_features, 1)
    scale = check_range("scale", scale, 0.0, None, low_open=True)
    X = np.asarray(X, dtype=np.float64)
    V = np.random.default_rng(seed).normal(0.0, scale / np.sqrt(X.shape[1]), size=(X.shape[1], n_features))
    return np.maximum(X @ V, 0.0), V


def min_norm_least_squares(Phi, Y) -> np.ndarray:
    r"""The minimum-norm least-squares solution :math:`\hat W = \Phi^{+} Y` (chapter 12).

    Under-parameterised (full column rank) it is ordinary least squares; over-parameterised it is,
    among all interpolating solutions, the one with the smallest Frobenius norm — the limit of ridge
    regression as α → 0, and where gradient descent from zero converges.
    """
    return np.linalg.lstsq(np.asarray(Phi, dtype=np.float64), np.asarray(Y, dtype=np.float64), rcond=None)[0]
