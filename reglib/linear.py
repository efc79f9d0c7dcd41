r"""Penalized linear regression in NumPy: ridge, lasso, elastic net (chapters 01-03).

Everything here takes and returns NumPy arrays (float64) and fits no intercept, so the results
are those of scikit-learn's estimators with ``fit_intercept=False``. The objectives are
scikit-learn's:

* ridge (chapter 01, eq. (5)): :math:`\|y - Xw\|^2 + \alpha\|w\|^2`
* lasso (chapter 02, eq. (2)): :math:`\frac{1}{2n}\|y - Xw\|^2 + \alpha\|w\|_1`
* elastic net (chapter 03, eq. (2)):
  :math:`\frac{1}{2n}\|y - Xw\|^2 + \alpha\rho\|w\|_1 + \frac{\alpha(1-\rho)}{2}\|w\|^2`

The lasso and the elastic net are solved by cyclic coordinate descent on the Gram matrix
:math:`G = X^\top X / n`. Whenever a sweep ends on a new sign pattern, the stationarity equations
on that support are solved exactly, and the result is accepted when the optimality (KKT) conditions
certify it. That gives the minimiser to machine precision, exact zeros included, usually after a
handful of sweeps (the diabetes lasso path of 100 alphas takes a few milliseconds per alpha).

The module ends with chapter 02's figures of the path and of iterative solvers (matplotlib, imported on use).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ._validate import check_int, check_nonneg, check_positive, check_probability, check_range

__all__ = [
    "ridge",
    "ridge_shrinkage",
    "lasso",
    "elastic_net",
    "lasso_path",
    "elastic_net_path",
    "lasso_objective",
    "elastic_net_objective",
    "ista",
    "subgradient_descent",
    "entry_order",
    "plot_lasso_path",
    "plot_descent",
    "alpha_max",
    "alpha_grid",
]

# An exact solution on the support is accepted when every KKT condition holds to this relative accuracy.
_KKT_RTOL = 1e-11


# ----------------------------------------------------------------------------- argument checks

def _check_X(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be a non-empty 2-D array (n_samples, n_features), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X must be finite, got NaN or inf entries")
    return X


def _check_Xy(X, y, *, multi_target=False) -> tuple[np.ndarray, np.ndarray]:
    X = _check_X(X)
    y = np.asarray(y, dtype=np.float64)
    allowed = (1, 2) if multi_target else (1,)
    if y.ndim not in allowed or y.shape[0] != X.shape[0]:
        shape = "(n_samples,) or (n_samples, n_targets)" if multi_target else "(n_samples,)"
        raise ValueError(f"y must have shape {shape} with n_samples={X.shape[0]}, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("y must be finite, got NaN or inf entries")
    return X, y


def _check_w0(w0, n_features) -> np.ndarray:
    if w0 is None:
        return np.zeros(n_features)
    w0 = np.array(w0, dtype=np.float64)  # a copy: the caller's array is never modified
    if w0.shape != (n_features,) or not np.isfinite(w0).all():
        raise ValueError(f"w0 must be a finite array of shape ({n_features},), got shape {w0.shape}")
    return w0


def _check_alphas(alphas) -> np.ndarray:
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0 or not np.isfinite(alphas).all() or (alphas < 0).any():
        raise ValueError(f"alphas must be a non-empty 1-D array of finite values >= 0, got {alphas!r}")
    return alphas


# ----------------------------------------------------------------------------- ridge

def _singular_values(X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD ``X = U diag(s) Vt`` with numerically zero singular values set to exactly 0."""
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    cutoff = max(X.shape) * np.finfo(np.float64).eps * (s[0] if s.size else 0.0)
    return U, np.where(s > cutoff, s, 0.0), Vt


def ridge(X, y, alpha: float) -> np.ndarray:
    r"""Ridge regression :math:`\arg\min_w \|y - Xw\|^2 + \alpha\|w\|^2` (chapter 01, eq. (5)).

    Solved through the SVD :math:`X = U\,\mathrm{diag}(s)\,V^\top`:
    :math:`w = V\,\mathrm{diag}\!\left(\frac{s_i}{s_i^2 + \alpha}\right) U^\top y`, which is the closed
    form :math:`(X^\top X + \alpha I)^{-1} X^\top y` (Hoerl & Kennard 1970). ``alpha=0`` gives the
    minimum-norm least-squares solution. Equal to ``sklearn.linear_model.Ridge(alpha, fit_intercept=False)``.

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
    y : array, shape (n_samples,) or (n_samples, n_targets)
    alpha : float
        Penalty strength, >= 0.

    Returns
    -------
    w : ndarray, shape (n_features,) or (n_features, n_targets)
    """
    X, y = _check_Xy(X, y, multi_target=True)
    alpha = check_nonneg("alpha", alpha)
    U, s, Vt = _singular_values(X)
    filt = np.divide(s, s**2 + alpha, out=np.zeros_like(s), where=s > 0)
    return Vt.T @ (filt[:, None] * U.T) @ y


def ridge_shrinkage(X, alpha: float) -> np.ndarray:
    r"""Shrinkage factors :math:`\lambda_i / (\lambda_i + \alpha)` of ridge along the eigenvectors of
    :math:`X^\top X` (chapter 01, eq. (6)).

    In the eigenbasis :math:`v_i` of :math:`X^\top X` (eigenvalues :math:`\lambda_i = s_i^2`), ridge
    multiplies each least-squares coefficient by this factor: directions of large variance are kept,
    directions of small variance are shrunk toward zero.

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
    alpha : float
        Penalty strength, >= 0.

    Returns
    -------
    ndarray, shape (n_features,)
        In order of decreasing eigenvalue; a zero eigenvalue has factor 0 (ridge, like the
        minimum-norm least-squares solution, does not move along the null space of ``X``).
    """
    X = _check_X(X)
    alpha = check_nonneg("alpha", alpha)
    _, s, _ = _singular_values(X)
    lam = np.zeros(X.shape[1])
    lam[: s.size] = s**2
    return np.divide(lam, lam + alpha, out=np.zeros_like(lam), where=lam > 0)


# ----------------------------------------------------------------------------- objectives

def elastic_net_objective(X, y, w, alpha: float, l1_ratio: float) -> float:
    r""":math:`\frac{1}{2n}\|y - Xw\|^2 + \alpha\rho\|w\|_1 + \frac{\alpha(1-\rho)}{2}\|w\|^2`
    (chapter 03, eq. (2)), scikit-learn's ``ElasticNet`` objective with :math:`\rho` = ``l1_ratio``."""
    X, y = _check_Xy(X, y)
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},), got shape {w.shape}")
    alpha = check_nonneg("alpha", alpha)
    l1_ratio = check_probability("l1_ratio", l1_ratio)
    residual = y - X @ w
    return float(residual @ residual / (2 * len(y))
                 + alpha * l1_ratio * np.abs(w).sum()
                 + alpha * (1 - l1_ratio) / 2 * (w @ w))


def lasso_objective(X, y, w, alpha: float) -> float:
    r""":math:`\frac{1}{2n}\|y - Xw\|^2 + \alpha\|w\|_1` (chapter 02, eq. (2))."""
    return elastic_net_objective(X, y, w, alpha, 1.0)


def alpha_max(X, y, l1_ratio: float = 1.0) -> float:
    r"""The smallest ``alpha`` whose lasso / elastic-net solution is all zeros (chapter 02, eq. (4)).

    :math:`w = 0` is optimal iff :math:`\|X^\top y\|_\infty / n \le \alpha\rho`, so
    :math:`\alpha_{\max} = \|X^\top y\|_\infty / (n\rho)`. ``l1_ratio`` must be > 0.
    """
    X, y = _check_Xy(X, y)
    l1_ratio = check_range("l1_ratio", l1_ratio, 0.0, 1.0, low_open=True)
    return float(np.abs(X.T @ y).max() / (len(y) * l1_ratio))


def alpha_grid(X, y, n_alphas: int = 100, eps: float = 1e-3, l1_ratio: float = 1.0) -> np.ndarray:
    """``n_alphas`` values log-spaced from :func:`alpha_max` down to ``eps * alpha_max``
    (the default grid of ``sklearn.linear_model.lasso_path`` without intercept)."""
    n_alphas = check_int("n_alphas", n_alphas, 1)
    eps = check_range("eps", eps, 0.0, 1.0, low_open=True)
    top = alpha_max(X, y, l1_ratio)
    return np.geomspace(top, top * eps, n_alphas)


# ----------------------------------------------------------------------------- lasso / elastic net

def _soft_threshold(z, t):
    r""":math:`\operatorname{sign}(z)\max(|z| - t, 0)` for NumPy arrays (chapter 02, eq. (5))."""
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0)


def _soft_threshold_scalar(z: float, t: float) -> float:
    """:func:`_soft_threshold` for one Python float: ten times faster in the coordinate-descent loop."""
    return math.copysign(max(abs(z) - t, 0.0), z)


@dataclass
class _GramProblem:
    r""":math:`\tfrac12 w^\top G w - c^\top w + l_1\|w\|_1 + \tfrac{l_2}{2}\|w\|^2` with
    :math:`G = X^\top X/n`, :math:`c = X^\top y/n`, :math:`l_1 = \alpha\rho`, :math:`l_2 = \alpha(1-\rho)`:
    the elastic-net objective minus the constant :math:`\|y\|^2/(2n)`."""

    G: np.ndarray
    c: np.ndarray
    l1: float
    l2: float

    def objective(self, w) -> float:
        return float(w @ self.G @ w / 2 - self.c @ w + self.l1 * np.abs(w).sum() + self.l2 / 2 * (w @ w))

    def face_minimiser(self, signs):
        r"""Minimiser on the face of the sign pattern ``signs``, or ``None`` if it is singular.

        With support :math:`A` and signs :math:`s_A` fixed, the objective is a quadratic whose
        stationary point solves :math:`(G_{AA} + l_2 I)\,w_A = c_A - l_1 s_A`.
        """
        support = np.flatnonzero(signs)
        w = np.zeros_like(self.c)
        if support.size:
            system = self.G[np.ix_(support, support)] + self.l2 * np.eye(support.size)
            try:
                w[support] = np.linalg.solve(system, self.c[support] - self.l1 * signs[support])
            except np.linalg.LinAlgError:
                return None
        return w

    def is_optimal(self, w, signs) -> bool:
        r"""KKT conditions at ``w`` with sign pattern ``signs`` (chapter 02, eq. (3)).

        On the support, :math:`c_j - (Gw)_j - l_2 w_j = l_1 s_j` and (when :math:`l_1 > 0`)
        :math:`\operatorname{sign}(w_j) = s_j`; off it, :math:`|c_j - (Gw)_j| \le l_1`. Checked to the
        relative accuracy ``_KKT_RTOL``.
        """
        on = signs != 0
        Gw = self.G @ w
        slack = _KKT_RTOL * (np.abs(self.c).max() + np.abs(Gw).max() + self.l1)
        residual = self.c - Gw - self.l2 * w  # minus the gradient of the smooth part
        signs_ok = self.l1 == 0 or np.array_equal(np.sign(w[on]), signs[on])
        return bool(signs_ok
                    and np.all(np.abs(residual[on] - self.l1 * signs[on]) <= slack)
                    and np.all(np.abs(residual[~on]) <= self.l1 + slack))


def _step_toward(w, target):
    """Move from ``w`` toward ``target`` as far as possible without any coordinate changing sign;
    the coordinate that reaches zero first is set to exactly 0."""
    crossing = np.flatnonzero(w * target < 0)
    if crossing.size == 0:
        return target
    fractions = w[crossing] / (w[crossing] - target[crossing])
    first = np.argmin(fractions)
    moved = w + fractions[first] * (target - w)
    moved[crossing[first]] = 0.0
    return moved


def _coordinate_descent(problem: _GramProblem, w, tol, max_iter):
    r"""Cyclic coordinate descent on ``problem`` from ``w`` (chapter 02, eq. (8)).

    Coordinate update: :math:`w_j \leftarrow S_{l_1}(c_j - \sum_{k \ne j} G_{jk} w_k) / (G_{jj} + l_2)`.
    ``q = c - G w`` is kept up to date, so one update costs O(n_features). After each sweep that
    ends on a new sign pattern, the minimiser on that pattern's face is computed exactly: it is
    returned if it passes the KKT check; otherwise the iterate moves toward it as far as the signs
    allow, when that lowers the objective (the jump that plain coordinate descent makes slowly).
    """
    G, c, l1, l2 = problem.G, problem.c, problem.l1, problem.l2
    q = c - G @ w
    g_diag = np.diag(G).tolist()
    tried = None
    for _ in range(max_iter):
        max_change = 0.0
        for j, g_jj in enumerate(g_diag):
            old = float(w[j])
            new = _soft_threshold_scalar(float(q[j]) + g_jj * old, l1) / (g_jj + l2) if g_jj + l2 > 0 else 0.0
            if new != old:
                q -= G[:, j] * (new - old)
                w[j] = new
                max_change = max(max_change, abs(new - old))
        signs = np.sign(w)
        if tried is None or not np.array_equal(signs, tried):
            tried = signs
            candidate = problem.face_minimiser(signs)
            if candidate is not None:
                if problem.is_optimal(candidate, signs):
                    return candidate
                moved = _step_toward(w, candidate)
                if problem.objective(moved) < problem.objective(w):
                    w, q = moved, c - G @ moved
        if max_change <= tol * np.abs(w).max():
            return w
    warnings.warn(f"coordinate descent did not reach tol={tol} in max_iter={max_iter} sweeps; "
                  "increase max_iter", RuntimeWarning, stacklevel=3)
    return w


def _enet_path(X, y, alphas, l1_ratio, tol, max_iter, w0):
    """Solutions for each alpha in the order given, each warm-started from the previous one."""
    n = len(y)
    G, c = X.T @ X / n, X.T @ y / n
    coefs = np.empty((X.shape[1], alphas.size))
    w = w0
    for k, alpha in enumerate(alphas):
        problem = _GramProblem(G, c, alpha * l1_ratio, alpha * (1 - l1_ratio))
        w = _coordinate_descent(problem, w.copy(), tol, max_iter)
        coefs[:, k] = w + 0.0  # + 0.0 turns -0.0 into 0.0
    return coefs


def _check_solver_args(X, y, l1_ratio, tol, max_iter, w0):
    X, y = _check_Xy(X, y)
    l1_ratio = check_probability("l1_ratio", l1_ratio)
    tol = check_nonneg("tol", tol)
    max_iter = check_int("max_iter", max_iter, 1)
    return X, y, l1_ratio, tol, max_iter, _check_w0(w0, X.shape[1])


def elastic_net_path(X, y, alphas, l1_ratio: float, tol: float = 1e-12, max_iter: int = 10_000, *,
                     w0=None) -> np.ndarray:
    r"""Elastic-net solutions along ``alphas`` (chapter 03), warm-started in the order given.

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
    y : array, shape (n_samples,)
    alphas : array, shape (n_alphas,)
        Values >= 0; decreasing order makes the warm starts most effective.
    l1_ratio : float
        :math:`\rho \in [0, 1]`.
    tol, max_iter, w0
        As in :func:`elastic_net`; ``w0`` warm-starts the first alpha.

    Returns
    -------
    coefs : ndarray, shape (n_features, n_alphas)
        Column ``k`` is the solution for ``alphas[k]``.
    """
    X, y, l1_ratio, tol, max_iter, w0 = _check_solver_args(X, y, l1_ratio, tol, max_iter, w0)
    return _enet_path(X, y, _check_alphas(alphas), l1_ratio, tol, max_iter, w0)


def lasso_path(X, y, alphas, tol: float = 1e-12, max_iter: int = 10_000, *, w0=None) -> np.ndarray:
    """Lasso solutions along ``alphas`` (chapter 02), warm-started in the order given.

    Same numbers as ``sklearn.linear_model.lasso_path(X, y, alphas=alphas)`` run to a tight ``tol``.

    Returns
    -------
    coefs : ndarray, shape (n_features, n_alphas)
    """
    return elastic_net_path(X, y, alphas, 1.0, tol=tol, max_iter=max_iter, w0=w0)


def elastic_net(X, y, alpha: float, l1_ratio: float, tol: float = 1e-12, max_iter: int = 10_000, *,
                w0=None) -> np.ndarray:
    r"""The exact minimiser of scikit-learn's elastic-net objective (chapter 03, eq. (2); Zou & Hastie 2005)

    :math:`\frac{1}{2n}\|y - Xw\|^2 + \alpha\rho\|w\|_1 + \frac{\alpha(1-\rho)}{2}\|w\|^2`,
    what ``ElasticNet(alpha, l1_ratio=l1_ratio, fit_intercept=False)`` converges to.

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
    y : array, shape (n_samples,)
    alpha : float
        Overall strength, >= 0.
    l1_ratio : float
        :math:`\rho \in [0, 1]`; 1 is the lasso, 0 is ridge with penalty :math:`n\alpha\|w\|^2`
        on :math:`\|y - Xw\|^2`.
    tol : float
        Coordinate descent stops when no coordinate moved by more than ``tol * max|w|`` in a sweep
        (or earlier, when the exact solution on the support passes the KKT check).
    max_iter : int
        Maximum number of sweeps (a ``RuntimeWarning`` says when it was not enough).
    w0 : array, shape (n_features,), optional
        Warm start (not modified).

    Returns
    -------
    w : ndarray, shape (n_features,)
    """
    alpha = check_nonneg("alpha", alpha)
    return elastic_net_path(X, y, [alpha], l1_ratio, tol=tol, max_iter=max_iter, w0=w0)[:, 0]


def lasso(X, y, alpha: float, tol: float = 1e-12, max_iter: int = 10_000, *, w0=None) -> np.ndarray:
    r"""The exact minimiser of :math:`\frac{1}{2n}\|y - Xw\|^2 + \alpha\|w\|_1` (chapter 02, eq. (2);
    Tibshirani 1996), exact zeros included.

    What ``Lasso(alpha, fit_intercept=False)`` converges to with a tight ``tol`` (its default
    ``tol=1e-4`` stops much earlier). Arguments as in :func:`elastic_net`.

    Returns
    -------
    w : ndarray, shape (n_features,)
    """
    return elastic_net(X, y, alpha, 1.0, tol=tol, max_iter=max_iter, w0=w0)


# ----------------------------------------------------------------------------- ISTA

def _inverse_lipschitz(X) -> float:
    """The default step 1/L of the proximal and subgradient methods, L = ‖X‖₂²/n the Lipschitz constant of
    the gradient of (1/2n)‖y − Xw‖² (1 when X is zero)."""
    lipschitz = np.linalg.norm(X, ord=2) ** 2 / len(X)
    return 1.0 / lipschitz if lipschitz > 0 else 1.0


def ista(X, y, alpha: float, n_iter: int, step: float | None = None, *, l1_ratio: float = 1.0, w0=None,
         return_history: bool = False):
    r"""Proximal gradient descent (ISTA) on the lasso / elastic-net objective (chapter 02, eq. (7)).

    Each iteration takes a gradient step on the data term :math:`f(w) = \frac{1}{2n}\|y - Xw\|^2`
    and applies the proximal operator of the penalty:
    :math:`w \leftarrow \dfrac{S_{s\alpha\rho}\left(w - s\nabla f(w)\right)}{1 + s\alpha(1-\rho)}`,
    :math:`\nabla f(w) = X^\top (Xw - y)/n`. With the default step :math:`s = 1/L`,
    :math:`L = \|X\|_2^2 / n`, the objective never increases.

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
    y : array, shape (n_samples,)
    alpha : float
        Penalty strength, >= 0.
    n_iter : int
        Number of iterations, >= 0.
    step : float, optional
        Step size :math:`s > 0`; default :math:`1/L`.
    l1_ratio : float
        :math:`\rho \in [0, 1]` (1, the default, is the lasso).
    w0 : array, shape (n_features,), optional
        Starting point (default zeros; not modified).
    return_history : bool
        Also return the objective at the start and after every iteration.

    Returns
    -------
    w : ndarray, shape (n_features,)
    history : ndarray, shape (n_iter + 1,)
        Only with ``return_history=True``.
    """
    X, y = _check_Xy(X, y)
    alpha = check_nonneg("alpha", alpha)
    n_iter = check_int("n_iter", n_iter, 0)
    l1_ratio = check_probability("l1_ratio", l1_ratio)
    n = len(y)
    step = check_positive("step", _inverse_lipschitz(X) if step is None else step)
    w = _check_w0(w0, X.shape[1])
    history = [elastic_net_objective(X, y, w, alpha, l1_ratio)] if return_history else None
    for _ in range(n_iter):
        gradient = X.T @ (X @ w - y) / n
        w = _soft_threshold(w - step * gradient, step * alpha * l1_ratio) / (1 + step * alpha * (1 - l1_ratio))
        if return_history:
            history.append(elastic_net_objective(X, y, w, alpha, l1_ratio))
    return (w, np.array(history)) if return_history else w


def subgradient_descent(X, y, alpha: float, n_iter: int, step: float | None = None, *, w0=None,
                        return_history: bool = False, return_path: bool = False):
    r"""Subgradient descent on the lasso objective (chapter 02, §4): the naive alternative to :func:`ista`.

    Each iteration follows a subgradient of :math:`F(w) = \frac{1}{2n}\|y - Xw\|^2 + \alpha\|w\|_1`,
    :math:`w \leftarrow w - s\left(\nabla f(w) + \alpha\operatorname{sign}(w)\right)`, which is what adding
    ``l1_penalty`` to a loss and calling ``backward`` does. Near zero every step adds :math:`\pm s\alpha`, so
    the iterates hover around zero and almost never land on it.

    Parameters
    ----------
    X, y, alpha, n_iter, step, w0
        As for :func:`ista` (default step :math:`1/L`, start at zeros).
    return_history : bool
        Also return the objective at the start and after every iteration, shape (n_iter + 1,).
    return_path : bool
        Also return the iterates, shape (n_iter + 1, n_features), the start included.

    Returns
    -------
    ``w``, or ``(w, history)``, ``(w, path)`` or ``(w, history, path)``.
    """
    X, y = _check_Xy(X, y)
    alpha = check_nonneg("alpha", alpha)
    n_iter = check_int("n_iter", n_iter, 0)
    n = len(y)
    step = check_positive("step", _inverse_lipschitz(X) if step is None else step)
    w = _check_w0(w0, X.shape[1])
    path, history = [w], [lasso_objective(X, y, w, alpha)]
    for _ in range(n_iter):
        w = w - step * (X.T @ (X @ w - y) / n + alpha * np.sign(w))
        path.append(w)
        if return_history:
            history.append(lasso_objective(X, y, w, alpha))
    extra = ([np.array(history)] if return_history else []) + ([np.array(path)] if return_path else [])
    return (w, *extra) if extra else w


def entry_order(coefs) -> tuple[list[int], np.ndarray]:
    """The order in which the features enter a path (chapter 02, §6).

    Parameters
    ----------
    coefs : array, shape (n_features, n_alphas)
        A path along decreasing ``alpha`` (:func:`lasso_path`).

    Returns
    -------
    order : list of int
        Feature indices sorted by the first alpha at which they are nonzero (ties in index order; features
        that never enter come last).
    first : ndarray of int, shape (n_features,)
        For each feature, the index of that first alpha (``n_alphas`` if it never enters).
    """
    coefs = np.asarray(coefs)
    if coefs.ndim != 2:
        raise ValueError(f"coefs must have shape (n_features, n_alphas), got shape {coefs.shape}")
    nonzero = coefs != 0
    first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), coefs.shape[1])
    return [int(j) for j in np.argsort(first, kind="stable")], first


# ----------------------------------------------------------------------------- figures of chapter 02

def plot_lasso_path(axes, alphas, coefs, names, n_annotated: int = 4) -> None:
    """The lasso path and the model size along it (chapter 02, §6), α decreasing to the right.

    Left axes: every coefficient against α (log scale), the first ``n_annotated`` features to enter
    (:func:`entry_order`) numbered where they enter; right axes: the number of nonzero coefficients. The
    caller adds the left panel's title and units.

    Parameters
    ----------
    axes : two matplotlib Axes
    alphas : array, shape (n_alphas,)
        Decreasing, as :func:`alpha_grid` gives them.
    coefs : array, shape (n_features, n_alphas)
        The path (:func:`lasso_path`).
    names : list of str
        One per feature.
    n_annotated : int
        How many entries to number (>= 0).
    """
    from .plot import COLORS

    alphas, coefs = np.asarray(alphas, dtype=np.float64), np.asarray(coefs, dtype=np.float64)
    if coefs.ndim != 2 or coefs.shape[1] != alphas.size or len(names) != coefs.shape[0]:
        raise ValueError(f"coefs must have shape (len(names), len(alphas)) = ({len(names)}, {alphas.size}), "
                         f"got shape {coefs.shape}")
    n_annotated = check_int("n_annotated", n_annotated, 0)
    order, first = entry_order(coefs)
    ax_path, ax_size = axes
    for j, name in enumerate(names):  # dashed once the colours repeat
        ax_path.plot(alphas, coefs[j], lw=1.5, ls="-" if j < len(COLORS) else "--", label=name)
    for rank, j in enumerate(order[:n_annotated]):
        ax_path.axvline(alphas[first[j]], color="gray", lw=0.6, ls=":")
        ax_path.text(alphas[first[j]], 0.97 - 0.08 * rank, f" {rank + 1}. {names[j]}", fontsize=8, color="gray",
                     transform=ax_path.get_xaxis_transform(), va="top")
    ax_path.set(xscale="log", xlabel="α (log scale; the penalty weakens to the right)", ylabel="coefficient")
    ax_path.legend(ncol=2, fontsize=8, loc="lower left")
    ax_size.step(alphas, (coefs != 0).sum(axis=0), where="post")
    ax_size.set(xscale="log", xlabel="α (log scale)", ylabel="nonzero coefficients", title="Model size along the path")
    for ax in axes:
        ax.invert_xaxis()


def plot_descent(axes, runs: dict, feature: int, optimum: float, name: str | None = None, n_steps: int = 400) -> None:
    """Iterative lasso solvers side by side (chapter 02, §4): left, one coefficient over the first ``n_steps``
    iterations; right, the objective minus its minimum on a log scale (floored at 1e-14, where an exact solver
    would sit at zero). The caller adds titles.

    Parameters
    ----------
    axes : two matplotlib Axes
    runs : dict
        ``{label: (path, objective)}``: iterates of shape (n_iter + 1, n_features), the start included, and the
        objective at each of them (:func:`subgradient_descent` with ``return_history`` and ``return_path``).
        Lines are drawn thicker in turn, so a later run stays visible on top of an earlier one.
    feature : int
        The coefficient drawn on the left (a zero of the optimum shows the difference best).
    optimum : float
        The minimum of the objective.
    name : str, optional
        The feature's name, for the left panel's labels.
    n_steps : int
        Iterations shown on the left.
    """
    if not runs:
        raise ValueError("runs must hold at least one {label: (path, objective)} entry, got none")
    n_steps = check_int("n_steps", n_steps, 1)
    name = name if name is not None else f"w{feature}"
    ax_w, ax_obj = axes
    for width, (label, (path, objective)) in enumerate(runs.items(), start=1):
        path = np.asarray(path, dtype=np.float64)[: n_steps + 1]
        ax_w.plot(np.arange(len(path)), path[:, feature], lw=width, label=label)
        ax_obj.plot(np.maximum(np.asarray(objective, dtype=np.float64) - optimum, 1e-14), label=label)
    ax_w.axhline(0, color="gray", lw=1)
    ax_w.set(xlabel="iteration", ylabel=f"coefficient of '{name}'")
    ax_obj.set(yscale="log", xlabel="iteration", ylabel="objective minus its minimum")
    ax_w.legend()
    ax_obj.legend()
