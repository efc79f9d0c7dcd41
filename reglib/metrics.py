"""Metrics used throughout the course. Each returns a Python float."""

from __future__ import annotations

import torch

from ._validate import check_int, check_nonneg

__all__ = ["accuracy", "expected_calibration_error", "calibration_bins", "sparsity",
           "predictive_entropy", "nll"]


def _labels(target: torch.Tensor) -> torch.Tensor:
    """Class indices from indices (N,) or probability / one-hot targets (N, K)."""
    return target.argmax(dim=-1) if target.ndim == 2 else target


def accuracy(scores: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of correct predictions.

    Parameters
    ----------
    scores : (N, K) logits or probabilities, or (N,) predicted class indices
    target : (N,) class indices, or (N, K) probabilities (their argmax is the label)
    """
    pred = scores.argmax(dim=-1) if scores.ndim == 2 else scores
    target = _labels(target)
    if pred.shape != target.shape:
        raise ValueError(f"scores and target must describe the same N samples, got {tuple(scores.shape)} "
                         f"and {tuple(target.shape)}")
    if pred.numel() == 0:
        raise ValueError("scores must hold at least one sample, got 0")
    return (pred == target.to(pred.device)).double().mean().item()


def calibration_bins(probs: torch.Tensor, target: torch.Tensor, n_bins: int = 15):
    """Per-bin ``(confidence, accuracy, count)`` over equal-width confidence bins in (0, 1].

    Bin b holds predictions whose confidence lies in ((b)/n_bins, (b+1)/n_bins]; empty bins have
    NaN confidence and accuracy. This is what a reliability diagram plots (Guo et al. 2017).
    """
    n_bins = check_int("n_bins", n_bins, 1)
    if probs.ndim != 2:
        raise ValueError(f"probs must have shape (N, K), got {tuple(probs.shape)}")
    labels = _labels(target)
    if labels.shape != probs.shape[:1]:
        raise ValueError(f"target must describe the same N samples as probs, got {tuple(target.shape)} "
                         f"for probs of shape {tuple(probs.shape)}")
    conf, pred = probs.detach().max(dim=1)
    correct = (pred == labels.to(pred.device)).double()
    # Bin b is (edge[b-1], edge[b]] with edge[b] = (b+1)/n_bins rounded to the input's precision, so a
    # confidence equal to an edge (as float32 writes 0.6, say) lands in the bin that edge closes, and a
    # confidence of exactly 1 in the last bin.
    dtype = probs.dtype if probs.is_floating_point() else torch.float64
    edges = (torch.arange(1, n_bins, dtype=torch.float64, device=conf.device) / n_bins).to(dtype).double()
    conf = conf.double()
    idx = torch.bucketize(conf, edges)
    count = torch.bincount(idx, minlength=n_bins).double()
    conf_sum = torch.zeros(n_bins, dtype=torch.float64, device=conf.device).index_add_(0, idx, conf)
    acc_sum = torch.zeros(n_bins, dtype=torch.float64, device=conf.device).index_add_(0, idx, correct)
    return conf_sum / count, acc_sum / count, count


def expected_calibration_error(probs: torch.Tensor, target: torch.Tensor, n_bins: int = 15) -> float:
    r"""ECE: :math:`\sum_b \frac{|B_b|}{N}\,|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)|` (chapter 09).

    Parameters
    ----------
    probs : (N, K) predicted probabilities
    target : (N,) class indices or (N, K) probabilities
    n_bins : number of equal-width confidence bins
    """
    conf, acc, count = calibration_bins(probs, target, n_bins)
    filled = count > 0
    weights = count[filled] / count.sum()
    return (weights * (acc[filled] - conf[filled]).abs()).sum().item()


def sparsity(params, tol: float = 0.0) -> float:
    """Fraction of entries with ``|w| <= tol`` over a tensor or an iterable of tensors."""
    tol = check_nonneg("tol", tol)
    tensors = [params] if isinstance(params, torch.Tensor) else list(params)
    if not tensors:
        raise ValueError("params must hold at least one tensor, got an empty iterable")
    small = sum(int((t.detach().abs() <= tol).sum()) for t in tensors)
    total = sum(t.numel() for t in tensors)
    return small / total


def predictive_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of each row of (N, K) probabilities, shape (N,)."""
    return -(probs * probs.clamp_min(1e-12).log()).sum(dim=-1)


def nll(probs: torch.Tensor, target: torch.Tensor) -> float:
    """Mean negative log-likelihood of the true classes under (N, K) probabilities."""
    p = probs.gather(1, _labels(target).to(probs.device).view(-1, 1)).squeeze(1)
    return (-p.clamp_min(1e-12).log()).mean().item()
