"""Label smoothing and cross-entropy with hard or soft targets (chapter 09).

With :math:`K` classes, smoothing strength :math:`\\varepsilon` and a one-hot target
:math:`e_y`, label smoothing (Szegedy et al. 2016) trains on the mixture

.. math::  q = (1 - \\varepsilon)\\, e_y + \\frac{\\varepsilon}{K}\\, \\mathbf 1
   \\qquad \\text{(chapter 09, eq. (1))}

so the true class keeps :math:`1 - \\varepsilon + \\varepsilon/K` and every class (the true one
included) gets :math:`\\varepsilon/K`. This is PyTorch's convention; some papers spread
:math:`\\varepsilon` over the :math:`K - 1` wrong classes instead, which is a different target.

The loss is the cross-entropy against :math:`q`. Written with the log-probabilities
:math:`\\log p = \\operatorname{log\\_softmax}(z)` it splits into two terms,

.. math::  \\ell(z, y) = -\\sum_k q_k \\log p_k
   = -(1 - \\varepsilon) \\log p_y - \\frac{\\varepsilon}{K} \\sum_k \\log p_k
   \\qquad \\text{(chapter 09, eq. (2))}

which is how :func:`cross_entropy` computes it: one ``log_softmax``, one gather, one sum,
never materialising :math:`q` for index targets.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_choice, check_int, check_positive, check_probability

__all__ = ["smooth_labels", "cross_entropy", "LabelSmoothingCrossEntropy", "fit_temperature",
           "symmetric_label_noise", "descend_free_logits"]

_REDUCTIONS = ("mean", "sum", "none")


def _is_index_target(target: torch.Tensor) -> bool:
    return not (torch.is_floating_point(target) or torch.is_complex(target))


def smooth_labels(target: torch.Tensor, num_classes: int, smoothing: float,
                  dtype: torch.dtype | None = None) -> torch.Tensor:
    """Label-smoothed target distribution :math:`(1 - \\varepsilon)\\,e_y + \\varepsilon / K`.

    Chapter 09, eq. (1).

    Parameters
    ----------
    target : Tensor
        Either class indices, integer tensor of shape ``(*,)`` with values in ``[0, K)``, or
        probability rows, floating tensor of shape ``(*, K)`` (e.g. mixup targets); the latter are
        smoothed the same way, :math:`(1 - \\varepsilon)\\,t + \\varepsilon / K`.
    num_classes : int
        :math:`K \\ge 1`.
    smoothing : float
        :math:`\\varepsilon \\in [0, 1]`; 0 gives the one-hot (or unchanged) target, 1 the uniform one.
    dtype : torch.dtype, optional
        Result dtype for index targets (default ``float32``); probability targets keep their dtype.

    Returns
    -------
    Tensor
        Shape ``(*, K)``; every row sums to 1 if the input rows did.
    """
    num_classes = check_int("num_classes", num_classes, 1)
    smoothing = check_probability("smoothing", smoothing)
    if _is_index_target(target):
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= num_classes):
            raise ValueError(f"target must hold class indices in [0, {num_classes - 1}] "
                             f"(num_classes={num_classes}), got values in "
                             f"[{int(target.min())}, {int(target.max())}]")
        probs = F.one_hot(target.long(), num_classes).to(dtype or torch.float32)
    else:
        if target.ndim == 0 or target.shape[-1] != num_classes:
            raise ValueError(f"target with probabilities must have shape (*, num_classes={num_classes}), "
                             f"got {tuple(target.shape)}")
        probs = target
    return probs * (1.0 - smoothing) + smoothing / num_classes


def _check_shapes(logits: torch.Tensor, target: torch.Tensor, class_dim: int) -> None:
    if logits.ndim == 0:
        raise ValueError("logits must have shape (C,), (N, C) or (N, C, d1, ...), got a scalar")
    if _is_index_target(target):
        expected = logits.shape[:class_dim] + logits.shape[class_dim + 1:]
        if target.shape != expected:
            raise ValueError(f"target with class indices must have shape {tuple(expected)} for logits of "
                             f"shape {tuple(logits.shape)}, got {tuple(target.shape)}")
    elif target.shape != logits.shape:
        raise ValueError(f"target with probabilities must have the shape of logits {tuple(logits.shape)}, "
                         f"got {tuple(target.shape)}")


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0,
                  reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy with optional label smoothing; equal to ``F.cross_entropy``.

    Chapter 09, eq. (2): with :math:`\\log p = \\operatorname{log\\_softmax}(z)` along the class axis,

    * index targets: :math:`\\ell = -(1 - \\varepsilon) \\log p_y - \\frac{\\varepsilon}{K} \\sum_k \\log p_k`;
    * probability targets :math:`t`:
      :math:`\\ell = -\\sum_k \\big((1 - \\varepsilon) t_k + \\varepsilon/K\\big) \\log p_k`.

    Parameters
    ----------
    logits : Tensor
        Unnormalised scores, shape ``(N, K)``, ``(N, K, d1, ...)`` or ``(K,)``; the class axis is 1
        (0 for a single unbatched sample), as in PyTorch.
    target : Tensor
        Class indices (integer), shape ``logits.shape`` without the class axis, or class
        probabilities (floating), the shape of ``logits``.
    label_smoothing : float
        :math:`\\varepsilon \\in [0, 1]`.
    reduction : {"mean", "sum", "none"}
        ``"mean"`` averages over every sample (and every position ``d1, ...``).

    Returns
    -------
    Tensor
        A scalar, or the per-sample losses (shape of ``target`` without the class axis) for
        ``reduction="none"``.
    """
    label_smoothing = check_probability("label_smoothing", label_smoothing)
    check_choice("reduction", reduction, _REDUCTIONS)
    class_dim = 0 if logits.ndim == 1 else 1
    _check_shapes(logits, target, class_dim)
    num_classes = logits.shape[class_dim]
    logp = F.log_softmax(logits, dim=class_dim)
    if _is_index_target(target):
        log_p_true = logp.gather(class_dim, target.long().unsqueeze(class_dim)).squeeze(class_dim)
        loss = -(1.0 - label_smoothing) * log_p_true
        if label_smoothing > 0:
            loss = loss - (label_smoothing / num_classes) * logp.sum(dim=class_dim)
    else:
        q = target if label_smoothing == 0 else target * (1.0 - label_smoothing) + label_smoothing / num_classes
        loss = -(q * logp).sum(dim=class_dim)
    return _reduce(loss, reduction)


class LabelSmoothingCrossEntropy(nn.Module):
    """Module form of :func:`cross_entropy` (chapter 09).

    Parameters
    ----------
    label_smoothing : float
        :math:`\\varepsilon \\in [0, 1]`, default 0.1.
    reduction : {"mean", "sum", "none"}

    Shapes: ``forward(logits (N, K), target (N,) int or (N, K) float) -> loss``.
    Same results as ``nn.CrossEntropyLoss(label_smoothing=label_smoothing, reduction=reduction)``.
    """

    def __init__(self, label_smoothing: float = 0.1, reduction: str = "mean"):
        super().__init__()
        self.label_smoothing = check_probability("label_smoothing", label_smoothing)
        self.reduction = check_choice("reduction", reduction, _REDUCTIONS)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cross_entropy(logits, target, self.label_smoothing, self.reduction)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}, reduction={self.reduction!r}"


# --------------------------------------------------------------------------- temperature scaling


def _check_logits_and_indices(logits, target) -> None:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or not torch.is_floating_point(logits):
        raise ValueError("logits must be a floating-point tensor of shape (N, K), got "
                         f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}")
    if logits.shape[0] == 0:
        raise ValueError("logits must hold at least one sample, got N = 0")
    if not isinstance(target, torch.Tensor) or not _is_index_target(target) or target.shape != logits.shape[:1]:
        raise ValueError(f"target must be integer class indices of shape ({logits.shape[0]},), got "
                         f"{tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__}")
    if int(target.min()) < 0 or int(target.max()) >= logits.shape[1]:
        raise ValueError(f"target must hold class indices in [0, {logits.shape[1] - 1}], got values in "
                         f"[{int(target.min())}, {int(target.max())}]")


def _check_temperature_range(min_temperature, max_temperature) -> tuple[float, float]:
    min_temperature = check_positive("min_temperature", min_temperature)
    max_temperature = check_positive("max_temperature", max_temperature)
    if not min_temperature < max_temperature:
        raise ValueError("min_temperature must be smaller than max_temperature, got "
                         f"{min_temperature} and {max_temperature}")
    return min_temperature, max_temperature


def fit_temperature(logits: torch.Tensor, target: torch.Tensor, min_temperature: float = 1e-2,
                    max_temperature: float = 1e2, tol: float = 1e-7) -> float:
    """Temperature scaling: the :math:`T` minimising the NLL of :math:`\\operatorname{softmax}(z / T)`.

    Chapter 09, eq. (7) (Guo et al. 2017). Fit it on *validation* logits, then divide test logits
    by it; the argmax, hence the accuracy, does not change. With :math:`\\beta = 1/T`,

    .. math:: f(\\beta) = \\frac1N \\sum_i \\Big(\\log \\sum_k e^{\\beta z_{ik}} - \\beta z_{i y_i}\\Big), \\quad
              f'(\\beta) = \\frac1N \\sum_i \\big(\\mathbb E_{p_i}[z_i] - z_{i y_i}\\big), \\quad
              f''(\\beta) = \\frac1N \\sum_i \\operatorname{Var}_{p_i}[z_i] \\ge 0,

    where :math:`p_i = \\operatorname{softmax}(\\beta z_i)`. :math:`f` is convex in :math:`\\beta`, so
    :math:`f'` is non-decreasing and its root is found by bisection (in :math:`\\log\\beta`, in float64)
    to a relative precision ``tol``. If the root lies outside the allowed range the nearest bound is
    returned: ``min_temperature`` when sharpening never stops paying (every training-style logit
    already correct), ``max_temperature`` when the logits carry no information about the labels.

    Parameters
    ----------
    logits : Tensor
        ``(N, K)`` floating point, e.g. a network's validation outputs.
    target : Tensor
        ``(N,)`` integer class indices.
    min_temperature, max_temperature : float
        The search range, ``0 < min_temperature < max_temperature``.
    tol : float
        Relative precision of :math:`T`, ``tol > 0``.

    Returns
    -------
    float
        The fitted temperature :math:`T`; ``T > 1`` softens an over-confident network.
    """
    min_temperature, max_temperature = _check_temperature_range(min_temperature, max_temperature)
    tol = check_positive("tol", tol)
    _check_logits_and_indices(logits, target)
    z = logits.detach().double()
    z_true = z.gather(1, target.to(z.device).long().unsqueeze(1)).squeeze(1)

    def slope(log_beta: float) -> float:  # f'(beta)
        p = torch.softmax(math.exp(log_beta) * z, dim=1)
        return float(((p * z).sum(1) - z_true).mean())

    lo, hi = -math.log(max_temperature), -math.log(min_temperature)  # log beta range
    if slope(lo) >= 0:
        return max_temperature
    if slope(hi) <= 0:
        return min_temperature
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if slope(mid) > 0:
            hi = mid
        else:
            lo = mid
    return math.exp(-0.5 * (lo + hi))


# --------------------------------------------------------------------------- label noise


def symmetric_label_noise(target: torch.Tensor, rate: float, num_classes: int,
                          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt a fraction of the labels with symmetric noise (chapter 09 §6; chapter 11).

    Exactly ``round(rate * N)`` samples, chosen uniformly at random, get a new label drawn
    uniformly from the :math:`K - 1` *other* classes; the rest keep theirs. (Some papers draw the new
    label from all :math:`K` classes, which flips only a fraction :math:`(K - 1)/K` of the chosen ones.)

    Parameters
    ----------
    target : Tensor
        ``(N,)`` integer class indices in ``[0, K)``; not modified.
    rate : float
        Fraction of corrupted labels, in [0, 1].
    num_classes : int
        :math:`K \\ge 2`.
    generator : torch.Generator, optional
        Source of randomness (a CPU generator; torch's global one when ``None``).

    Returns
    -------
    noisy : Tensor
        ``(N,)`` int64 labels, on ``target``'s device.
    flipped : Tensor
        ``(N,)`` bool, True where the label was changed (``noisy != target`` exactly there).
    """
    rate = check_probability("rate", rate)
    num_classes = check_int("num_classes", num_classes, 2)
    if not isinstance(target, torch.Tensor) or not _is_index_target(target) or target.ndim != 1:
        raise ValueError("target must be a 1-D integer tensor of class indices, got "
                         f"{tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__}")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= num_classes):
        raise ValueError(f"target must hold class indices in [0, {num_classes - 1}], got values in "
                         f"[{int(target.min())}, {int(target.max())}]")
    n = target.shape[0]
    y = target.detach().cpu().long()
    chosen = torch.randperm(n, generator=generator)[:round(rate * n)]
    offset = torch.randint(1, num_classes, (len(chosen),), generator=generator)
    noisy = y.clone()
    noisy[chosen] = (y[chosen] + offset) % num_classes
    flipped = torch.zeros(n, dtype=torch.bool)
    flipped[chosen] = True
    return noisy.to(target.device), flipped.to(target.device)


def descend_free_logits(eps: float, steps: int, num_classes: int = 10, lr: float = 1.0) -> np.ndarray:
    r"""Gradient descent on one free logit vector with the smoothed loss's gradient (chapter 09, eq. (3a)).

    The true class is 0 and the logits start at zero; each step is :math:`z \leftarrow z - \mathrm{lr}\,(p - q)`
    with :math:`p = \operatorname{softmax}(z)` and :math:`q` the smoothed target (1). Returns the gap
    :math:`z_0 - \frac{1}{K-1}\sum_{k>0} z_k` after each step (numpy, shape ``(steps,)``): it converges to
    :math:`\Delta^*(\varepsilon)` of eq. (3b) for :math:`\varepsilon > 0` and grows like :math:`\log t` at 0.
    """
    eps = check_probability("eps", eps)
    steps = check_int("steps", steps, 1)
    num_classes = check_int("num_classes", num_classes, 2)
    lr = check_positive("lr", lr)
    q = smooth_labels(torch.tensor(0), num_classes, eps, dtype=torch.float64).numpy()
    z = np.zeros(num_classes)
    gaps = np.empty(steps)
    for t in range(steps):
        p = np.exp(z - z.max())
        z -= lr * (p / p.sum() - q)
        gaps[t] = z[0] - z[1:].mean()
    return gaps
