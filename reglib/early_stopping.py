"""Early stopping on a monitored validation metric (chapter 05).

Training is stopped once the monitored value has failed to improve for ``patience`` consecutive
evaluations, and the weights of the best evaluation are restored (Prechelt 1998; Goodfellow et al.
2016, §7.8). :func:`reglib.train.fit` calls :meth:`EarlyStopping.step` after every evaluation and
:meth:`EarlyStopping.restore` at the end when ``restore_best`` is set.
"""

from __future__ import annotations

import copy
import math

import numpy as np

import torch
from torch import nn

from ._validate import check_choice, check_int, check_nonneg, check_positive

__all__ = ["EarlyStopping", "EpochRecorder", "gd_shrinkage", "gd_linear_regression"]


def _as_float(value) -> float:
    """A Python float from a number, a NumPy scalar or a one-element tensor."""
    if isinstance(value, bool):
        raise ValueError(f"value must be a real number, got {value!r}")
    try:
        return float(value.item() if isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"value must be a real number or a one-element tensor, got {value!r}") from None


def _snapshot(model: nn.Module) -> dict:
    """A copy of ``model.state_dict()`` that later training cannot touch: tensors are detached clones
    on their own device; anything else in the state dict is deep-copied."""
    return {key: value.detach().clone() if isinstance(value, torch.Tensor) else copy.deepcopy(value)
            for key, value in model.state_dict().items()}


class EarlyStopping:
    """Stop when the monitored value has not improved for ``patience`` consecutive steps (chapter 05).

    A step *improves* when its value beats ``best`` by more than ``min_delta``
    (``value < best - min_delta`` in ``"min"`` mode, ``value > best + min_delta`` in ``"max"`` mode).
    NaN never improves, not even on the first step; the first non-NaN value always improves (even
    ``inf``), because there is nothing to compare it with.

    Parameters
    ----------
    patience : int
        Number of consecutive steps without improvement that stops training, >= 1.
    min_delta : float
        Smallest change that counts as an improvement, >= 0.
    mode : {"min", "max"}
        ``"min"`` for losses, ``"max"`` for accuracies.
    restore_best : bool
        Whether :func:`reglib.train.fit` should load the best weights back at the end.

    Attributes
    ----------
    best : float or None
        Best value so far (``None`` before the first improvement).
    best_step : int or None
        0-based index of the :meth:`step` call that produced ``best``.
    num_bad_steps : int
        Consecutive steps without improvement so far.
    num_steps : int
        Number of :meth:`step` calls so far.
    stopped : bool
        Whether :meth:`step` has returned True (stays True until :meth:`reset`).
    best_state : dict or None
        Copy of the model's ``state_dict`` at ``best_step``, when a model was passed at that step.

    Examples
    --------
    >>> stopper = EarlyStopping(patience=2)
    >>> [stopper.step(v) for v in [1.0, 0.5, 0.6, 0.7]]
    [False, False, False, True]
    >>> stopper.best, stopper.best_step
    (0.5, 1)
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "min", restore_best: bool = True):
        self.patience = check_int("patience", patience, 1)
        self.min_delta = check_nonneg("min_delta", min_delta)
        self.mode = check_choice("mode", mode, ("min", "max"))
        if not isinstance(restore_best, bool):
            raise ValueError(f"restore_best must be True or False, got {restore_best!r}")
        self.restore_best = restore_best
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far (the arguments are kept)."""
        self.best = None
        self.best_step = None
        self.best_state = None
        self.num_bad_steps = 0
        self.num_steps = 0
        self.stopped = False

    def improves(self, value: float) -> bool:
        """Whether ``value`` would count as an improvement on ``best`` (without recording it)."""
        value = _as_float(value)
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value, model: nn.Module | None = None) -> bool:
        """Record one evaluation; return True if training should stop now.

        Parameters
        ----------
        value : float or one-element Tensor
            The monitored metric of this evaluation.
        model : nn.Module, optional
            When given and ``value`` improves, a copy of its ``state_dict`` is kept for :meth:`restore`.

        Returns
        -------
        bool
            True on the call where the number of consecutive steps without improvement reaches
            ``patience`` (and on later calls as long as none improves).
        """
        if model is not None and not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module or None, got {type(model).__name__}")
        value = _as_float(value)
        if self.improves(value):
            self.best, self.best_step, self.num_bad_steps = value, self.num_steps, 0
            # the stored state always belongs to best_step: without a model there is none
            self.best_state = _snapshot(model) if model is not None else None
        else:
            self.num_bad_steps += 1
        self.num_steps += 1
        should_stop = self.num_bad_steps >= self.patience
        self.stopped = self.stopped or should_stop
        return should_stop

    def restore(self, model: nn.Module) -> nn.Module:
        """Load the stored best ``state_dict`` into ``model`` (exactly: same values, bit for bit).

        Raises
        ------
        RuntimeError
            If no state was stored (no model was passed to :meth:`step` at the best step).
        """
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if self.best_state is None:
            raise RuntimeError("EarlyStopping.restore: no best state stored; pass the model to "
                               "step(value, model) so that the weights of the best step are kept")
        model.load_state_dict(self.best_state)
        return model

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, mode={self.mode!r}, "
                f"restore_best={self.restore_best}; best={self.best}, best_step={self.best_step}, "
                f"num_bad_steps={self.num_bad_steps})")


# --------------------------------------------------------------------------- early stopping as L2 (linear case)


class EpochRecorder:
    """An ``early_stopping`` hook of :func:`reglib.train.fit` that never stops: after every evaluation it
    records ``measure(model)`` in :attr:`values` (chapter 05 records which test signals are classified right,
    to see what each epoch would have scored on data that early stopping must not look at)."""

    def __init__(self, measure):
        if not callable(measure):
            raise ValueError(f"measure must be a callable model -> value, got {type(measure).__name__}")
        self.measure, self.values = measure, []

    def step(self, value, model) -> bool:
        self.values.append(self.measure(model))
        return False


def _eigen(X) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of ``XᵀX`` in decreasing order and the matching eigenvectors (columns)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.size == 0 or not np.isfinite(X).all():
        raise ValueError(f"X must be a finite, non-empty 2-D array (n_samples, n_features), got shape {X.shape}")
    lam, V = np.linalg.eigh(X.T @ X)
    order = np.argsort(lam)[::-1]
    return np.clip(lam[order], 0.0, None), V[:, order]


def gd_shrinkage(X, lr: float, steps: int) -> np.ndarray:
    r"""Per-eigendirection factors :math:`1 - (1 - \varepsilon\lambda_i)^\tau` of gradient descent stopped early
    (chapter 05, eq. (3)). NumPy in, NumPy out.

    Gradient descent on :math:`\tfrac12\|y - Xw\|^2` from :math:`w_0 = 0` with step :math:`\varepsilon` reaches, after
    :math:`\tau` steps, :math:`w_\tau = V\,\mathrm{diag}\big(1 - (1 - \varepsilon\lambda_i)^\tau\big)\,V^\top w_{\mathrm{LS}}`,
    where :math:`X^\top X = V\,\mathrm{diag}(\lambda)\,V^\top` and :math:`w_{\mathrm{LS}}` is the least-squares solution.
    Compare :func:`reglib.linear.ridge_shrinkage`, :math:`\lambda_i/(\lambda_i + \alpha)`: with
    :math:`\alpha = 1/(\tau\varepsilon)` the two agree qualitatively (Goodfellow et al. 2016, §7.8).

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
    lr : float
        The step :math:`\varepsilon > 0`. Gradient descent converges when :math:`\varepsilon < 2/\lambda_{\max}`.
    steps : int
        :math:`\tau \ge 0`.

    Returns
    -------
    ndarray, shape (n_features,)
        In order of decreasing eigenvalue, like :func:`reglib.linear.ridge_shrinkage`. A zero
        eigenvalue has factor 0 (gradient descent never moves along the null space of ``X``).
    """
    lr = check_positive("lr", lr)
    steps = check_int("steps", steps, 0)
    lam, _ = _eigen(X)
    return 1.0 - (1.0 - lr * lam) ** steps


def gd_linear_regression(X, y, lr: float, steps: int) -> np.ndarray:
    r"""The iterate :math:`w_\tau` of gradient descent on :math:`\tfrac12\|y - Xw\|^2` from :math:`w_0 = 0`
    (chapter 05, eq. (2)), in closed form through the eigendecomposition of :math:`X^\top X`.

    Equal to ``steps`` iterations of :math:`w \leftarrow w - \varepsilon X^\top(Xw - y)`, without running them:
    :math:`w_\tau = \sum_i \frac{1 - (1 - \varepsilon\lambda_i)^\tau}{\lambda_i}\, v_i v_i^\top X^\top y`
    (the factor tends to :math:`\tau\varepsilon` as :math:`\lambda_i \to 0`).

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
    y : array, shape (n_samples,)
    lr : float
        :math:`\varepsilon > 0`.
    steps : int
        :math:`\tau \ge 0`.

    Returns
    -------
    ndarray, shape (n_features,)
    """
    lr = check_positive("lr", lr)
    steps = check_int("steps", steps, 0)
    lam, V = _eigen(X)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (X.shape[0],) or not np.isfinite(y).all():
        raise ValueError(f"y must be a finite array of shape ({X.shape[0]},), got shape {y.shape}")
    small = lam <= max(lam[0], 0.0) * X.shape[1] * np.finfo(np.float64).eps
    # (1 - (1 - lr*lam)^steps) / lam, with its limit steps*lr where lam is (numerically) zero
    safe = np.where(small, 1.0, lam)
    gain = np.where(small, steps * lr, (1.0 - (1.0 - lr * lam) ** steps) / safe)
    return V @ (gain * (V.T @ (X.T @ y)))
