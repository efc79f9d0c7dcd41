"""Metrics used throughout the course. Each returns a Python float."""

from __future__ import annotations

import numpy as np
import torch

from ._validate import check_int, check_nonneg

__all__ = ["accuracy", "expected_calibration_error", "calibration_bins", "sparsity",
           "predictive_entropy", "nll", "ece_floor", "reliability_diagram", "reliability_diagrams",
           "confidence_histogram"]


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


def _check_probs_and_target(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Check that ``probs`` is (N, K) and ``target`` names N samples; return ``target``'s class indices."""
    if probs.ndim != 2:
        raise ValueError(f"probs must have shape (N, K), got {tuple(probs.shape)}")
    labels = _labels(target)
    if labels.shape != probs.shape[:1]:
        raise ValueError(f"target must describe the same N samples as probs, got {tuple(target.shape)} "
                         f"for probs of shape {tuple(probs.shape)}")
    return labels


def _confidence_bins(probs: torch.Tensor, n_bins: int):
    """``(confidence, predicted class, bin index)`` of each row of ``probs``, the confidence in float64."""
    conf, pred = probs.detach().max(dim=1)
    # Bin b is (edge[b-1], edge[b]] with edge[b] = (b+1)/n_bins rounded to the input's precision, so a
    # confidence equal to an edge (as float32 writes 0.6, say) lands in the bin that edge closes, and a
    # confidence of exactly 1 in the last bin.
    dtype = probs.dtype if probs.is_floating_point() else torch.float64
    edges = (torch.arange(1, n_bins, dtype=torch.float64, device=conf.device) / n_bins).to(dtype).double()
    conf = conf.double()
    return conf, pred, torch.bucketize(conf, edges)


def calibration_bins(probs: torch.Tensor, target: torch.Tensor, n_bins: int = 15):
    """Per-bin ``(confidence, accuracy, count)`` over equal-width confidence bins in (0, 1].

    Bin b holds predictions whose confidence lies in ((b)/n_bins, (b+1)/n_bins]; empty bins have
    NaN confidence and accuracy. This is what a reliability diagram plots (Guo et al. 2017).
    """
    n_bins = check_int("n_bins", n_bins, 1)
    _check_probs_and_target(probs, target)
    labels = _labels(target)  # class indices (the argmax of probability rows)
    conf, pred, idx = _confidence_bins(probs, n_bins)
    correct = (pred == labels.to(pred.device)).double()
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


def ece_floor(probs: torch.Tensor, n_draws: int = 200, n_bins: int = 15,
              generator: torch.Generator | None = None) -> np.ndarray:
    r"""The ECE that a *perfectly calibrated* model with these predictions shows from sampling noise alone.

    Chapter 09 §4. Labels drawn from the model's own probabilities, :math:`\tilde y_i \sim p_i`, are labels for
    which the model is calibrated by construction; the ECE (4) against them is still positive, because each
    bin's accuracy is estimated from finitely many samples and the absolute value turns that noise into a
    bias. Compare a model's measured ECE with its own floor, not with zero.

    Parameters
    ----------
    probs : (N, K) predicted probabilities (rows summing to 1)
    n_draws : how many label sets to draw
    n_bins : number of equal-width confidence bins, as in :func:`expected_calibration_error`
    generator : torch.Generator, optional (a CPU generator; torch's global one when ``None``)

    Returns
    -------
    numpy array of shape ``(n_draws,)``: the ECE against each drawn label set.
    """
    n_draws = check_int("n_draws", n_draws, 1)
    n_bins = check_int("n_bins", n_bins, 1)
    _check_probs_and_target(probs, probs)
    probs = probs.detach().cpu()
    conf, pred, idx = _confidence_bins(probs, n_bins)
    labels = torch.multinomial(probs.double(), n_draws, replacement=True, generator=generator)  # (N, n_draws)
    correct = (labels == pred[:, None]).double()
    # eq. (4) for every draw at once: sum over bins of |sum over the bin of (correct - confidence)| / N
    gaps = torch.zeros(n_bins, n_draws, dtype=torch.float64).index_add_(0, idx, correct - conf[:, None])
    return (gaps.abs().sum(0) / len(conf)).numpy()


def reliability_diagram(ax, probs: torch.Tensor, target: torch.Tensor, title: str = "", n_bins: int = 15,
                        min_count: int = 5) -> float:
    """Draw a reliability diagram on the matplotlib axes ``ax`` (chapter 09 §4); return the ECE.

    Bars show the accuracy of each confidence bin of :func:`calibration_bins`, hatched boxes the gap to the
    bin's mean confidence, a dashed line the diagonal of perfect calibration. Bins holding fewer than
    ``min_count`` samples are not drawn (they still count in the ECE, printed in the title, with their weight).
    """
    from .plot import COLORS

    conf, acc, count = calibration_bins(probs, target, n_bins)
    centres = (np.arange(n_bins) + 0.5) / n_bins
    shown = (count >= min_count).numpy()
    conf, acc = conf.numpy()[shown], acc.numpy()[shown]
    ax.bar(centres[shown], acc, width=1 / n_bins, edgecolor="white", label="accuracy")
    ax.bar(centres[shown], np.abs(conf - acc), bottom=np.minimum(acc, conf), width=1 / n_bins, fill=False,
           hatch="///", edgecolor=COLORS[1], lw=0.8, label="gap to mean confidence")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ece = expected_calibration_error(probs, target, n_bins)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (bin)", title=f"{title}\nECE = {ece:.3f}")
    return ece


def reliability_diagrams(probs: dict, target: torch.Tensor, title: str = "", n_bins: int = 15, min_count: int = 5):
    """A row of :func:`reliability_diagram` panels, one per entry ``{panel title: (N, K) probabilities}``, with a
    shared accuracy axis and ``title`` over the row; returns the matplotlib figure (chapter 09 §4 and §7)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(probs), figsize=(3.3 * len(probs), 3.6), sharey=True, squeeze=False)
    for ax, (name, p) in zip(axes[0], probs.items()):
        reliability_diagram(ax, p, target, name, n_bins, min_count)
    axes[0, 0].set_ylabel("accuracy in the bin")
    axes[0, 0].legend(loc="upper left", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def confidence_histogram(ax, probs: torch.Tensor, target: torch.Tensor, bins: int = 20) -> None:
    """Histograms of the confidence (largest probability) of the right and of the wrong predictions, drawn
    on the matplotlib axes ``ax`` over ``bins`` equal bins of [0, 1] (chapter 09 §1)."""
    confidence, predicted = probs.detach().max(1)
    right = predicted == _labels(target).to(predicted.device)
    for mask, name in ((right, "correct"), (~right, "wrong")):
        ax.hist(confidence[mask].cpu().numpy(), bins=np.linspace(0, 1, bins + 1), alpha=0.7,
                label=f"{name} ({int(mask.sum())})")
    ax.set(xlabel="confidence: largest predicted probability", ylabel="samples")
    ax.legend(loc="upper left")
