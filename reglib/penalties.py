r"""Weight penalties and their proximal operators (chapters 01-03).

A penalty is added to the data loss, :math:`L(w) + \Omega(w)`, and acts through its gradient;
a proximal operator applies it *exactly* after a gradient step on the data loss alone, which is
what gives the exact zeros of the lasso (chapter 02).

===========================  ============================================================  =======
name                         formula                                                       chapter
===========================  ============================================================  =======
:func:`l2_penalty`           :math:`\frac{\lambda}{2}\sum w^2`                             01
:func:`l1_penalty`           :math:`\lambda\sum |w|`                                       02
:func:`elastic_net_penalty`  :math:`\lambda(\rho\sum|w| + \frac{1-\rho}{2}\sum w^2)`       03
:func:`soft_threshold`       :math:`\operatorname{sign}(x)\max(|x| - t, 0)`                02
:func:`prox_l1`              :math:`S_{s\lambda}(x)`, the prox of :math:`s\lambda\|w\|_1`  02
:func:`prox_l1_`             :func:`prox_l1` in place, after an optimizer step              02
:func:`magnitude_pruned`     the smallest weights set to zero, for a while                 02
:func:`prox_elastic_net`     :math:`S_{s\lambda\rho}(x) / (1 + s\lambda(1-\rho))`          03
:func:`decay_groups`         optimizer groups: decay matrices, not biases or norms         01
===========================  ============================================================  =======

The figures of chapter 02's network experiment (:func:`plot_weight_magnitudes`, :func:`plot_first_layer`)
close the module.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from ._validate import check_nonneg, check_probability

__all__ = [
    "l1_penalty",
    "l2_penalty",
    "elastic_net_penalty",
    "soft_threshold",
    "prox_l1",
    "prox_l1_",
    "magnitude_pruned",
    "prox_elastic_net",
    "plot_weight_magnitudes",
    "plot_first_layer",
    "decay_groups",
]


def _as_tensor_list(params) -> list[torch.Tensor]:
    """``params`` (a tensor, a module, or any iterable of tensors) as a non-empty list of tensors.

    Generators such as ``model.parameters()`` are consumed once, here, so that callers can
    iterate over the result as often as they need.
    """
    if isinstance(params, torch.Tensor):
        return [params]
    if isinstance(params, nn.Module):
        params = params.parameters()
    try:
        tensors = list(params)
    except TypeError:
        raise ValueError(f"params must be a tensor or an iterable of tensors, got {type(params).__name__}") from None
    if not tensors:
        raise ValueError("params must hold at least one tensor, got an empty iterable")
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"params must hold only tensors, got an element of type {type(t).__name__}")
    return tensors


def _sum_abs(tensors) -> torch.Tensor:
    r""":math:`\sum |w|` over every entry of every tensor."""
    return sum(t.abs().sum() for t in tensors)


def _sum_squares(tensors) -> torch.Tensor:
    r""":math:`\sum w^2` over every entry of every tensor."""
    return sum(t.square().sum() for t in tensors)


def l1_penalty(params, lam: float) -> torch.Tensor:
    r"""L1 penalty :math:`\lambda \sum_i |w_i|` (chapter 02, eq. (1)).

    Its subgradient is :math:`\lambda\,\operatorname{sign}(w)` (autograd picks 0 at :math:`w = 0`).

    Parameters
    ----------
    params : Tensor, nn.Module or iterable of Tensor
        The weights, e.g. ``model.parameters()`` (a generator is fine).
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    Tensor
        0-dim, differentiable, on the device and in the dtype of ``params``.
    """
    lam = check_nonneg("lam", lam)
    return lam * _sum_abs(_as_tensor_list(params))


def l2_penalty(params, lam: float) -> torch.Tensor:
    r"""L2 penalty :math:`\frac{\lambda}{2} \sum_i w_i^2` (chapter 01, eq. (1)).

    The factor 1/2 makes the gradient :math:`\lambda w`, exactly what SGD's ``weight_decay=lam``
    adds to every gradient (chapter 01, eq. (2)).

    Parameters
    ----------
    params : Tensor, nn.Module or iterable of Tensor
        The weights, e.g. ``model.parameters()`` (a generator is fine).
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    Tensor
        0-dim, differentiable, on the device and in the dtype of ``params``.
    """
    lam = check_nonneg("lam", lam)
    return lam / 2 * _sum_squares(_as_tensor_list(params))


def elastic_net_penalty(params, lam: float, l1_ratio: float) -> torch.Tensor:
    r"""Elastic-net penalty :math:`\lambda\left(\rho \sum|w_i| + \frac{1-\rho}{2}\sum w_i^2\right)`
    (chapter 03, eq. (1); scikit-learn's parameterization with :math:`\rho` = ``l1_ratio``).

    ``l1_ratio=1`` is :func:`l1_penalty`, ``l1_ratio=0`` is :func:`l2_penalty`.

    Parameters
    ----------
    params : Tensor, nn.Module or iterable of Tensor
        The weights.
    lam : float
        Overall strength :math:`\lambda \ge 0`.
    l1_ratio : float
        Mixing weight :math:`\rho \in [0, 1]` of the L1 part.

    Returns
    -------
    Tensor
        0-dim and differentiable.
    """
    lam = check_nonneg("lam", lam)
    l1_ratio = check_probability("l1_ratio", l1_ratio)
    tensors = _as_tensor_list(params)
    return l1_penalty(tensors, lam * l1_ratio) + l2_penalty(tensors, lam * (1 - l1_ratio))


def _check_threshold(threshold):
    """A float >= 0, or a tensor whose entries are all >= 0."""
    if isinstance(threshold, torch.Tensor):
        if threshold.isnan().any() or (threshold < 0).any():
            raise ValueError("threshold must be >= 0 everywhere, got a tensor with negative or NaN entries")
        return threshold
    return check_nonneg("threshold", threshold)


def soft_threshold(x: torch.Tensor, threshold) -> torch.Tensor:
    r"""Soft-thresholding :math:`S_t(x) = \operatorname{sign}(x)\max(|x| - t, 0)` (chapter 02, eq. (5)).

    :math:`S_t(x) = \arg\min_z \tfrac12 (z - x)^2 + t|z|`: it moves every entry ``t`` toward zero
    and sets the entries with :math:`|x| \le t` to exactly zero.

    Parameters
    ----------
    x : Tensor
        Any shape.
    threshold : float or Tensor
        :math:`t \ge 0`; a tensor broadcastable to ``x`` gives one threshold per entry.

    Returns
    -------
    Tensor
        Same shape, device and dtype as ``x``; differentiable in ``x``.
    """
    threshold = _check_threshold(threshold)
    return torch.sign(x) * torch.clamp(x.abs() - threshold, min=0)


def prox_l1(x: torch.Tensor, step: float, lam: float) -> torch.Tensor:
    r"""Proximal operator of ``step`` times the L1 penalty (chapter 02, eq. (6)).

    :math:`\operatorname{prox}_{s\lambda\|\cdot\|_1}(x) = \arg\min_z \tfrac12\|z - x\|^2
    + s\lambda\|z\|_1 = S_{s\lambda}(x)`. One ISTA step is ``prox_l1(w - step * grad, step, lam)``.

    Parameters
    ----------
    x : Tensor
        The point after the gradient step.
    step : float
        Step size :math:`s \ge 0`.
    lam : float
        Penalty strength :math:`\lambda \ge 0`.
    """
    step = check_nonneg("step", step)
    lam = check_nonneg("lam", lam)
    return soft_threshold(x, step * lam)


def prox_elastic_net(x: torch.Tensor, step: float, lam: float, l1_ratio: float) -> torch.Tensor:
    r"""Proximal operator of ``step`` times :func:`elastic_net_penalty` (chapter 03, eq. (3)).

    :math:`\arg\min_z \tfrac12\|z - x\|^2 + s\lambda\left(\rho\|z\|_1 + \frac{1-\rho}{2}\|z\|^2\right)
    = \dfrac{S_{s\lambda\rho}(x)}{1 + s\lambda(1-\rho)}`: soft-threshold, then shrink.

    Parameters
    ----------
    x : Tensor
        The point after the gradient step.
    step : float
        Step size :math:`s \ge 0`.
    lam : float
        Penalty strength :math:`\lambda \ge 0`.
    l1_ratio : float
        :math:`\rho \in [0, 1]`.
    """
    step = check_nonneg("step", step)
    lam = check_nonneg("lam", lam)
    l1_ratio = check_probability("l1_ratio", l1_ratio)
    return soft_threshold(x, step * lam * l1_ratio) / (1 + step * lam * (1 - l1_ratio))


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Optimizer parameter groups that decay weight matrices but not biases or norm parameters
    (chapter 01, "which parameters to decay").

    Biases and the scales and shifts of normalization layers are 1-D; decaying them pulls
    activations toward zero without reducing capacity, so they get ``weight_decay=0``.
    Parameters with ``requires_grad=False`` are left out; empty groups are dropped.

    Parameters
    ----------
    model : nn.Module
    weight_decay : float
        Decay (>= 0) for the parameters with two or more dimensions.

    Returns
    -------
    list of dict
        ``[{"params": [...], "weight_decay": weight_decay}, {"params": [...], "weight_decay": 0.0}]``,
        ready for ``torch.optim.SGD(decay_groups(model, 5e-4), lr=0.1)``.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    weight_decay = check_nonneg("weight_decay", weight_decay)
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def prox_l1_(weight: torch.Tensor, step: float, lam: float) -> torch.Tensor:
    r"""The proximal step of the L1 penalty, in place: :math:`W \leftarrow S_{s\lambda}(W)` for ``weight`` :math:`W`
    (chapter 02, eq. (6)).

    Called after each SGD step on the data loss alone (``fit(..., constraint=lambda m: prox_l1_(W, lr, lam))``),
    it makes training proximal SGD, the stochastic form of ISTA: the weights it sets to zero are exactly zero.
    No autograd history is recorded. Returns ``weight``.
    """
    with torch.no_grad():
        return weight.copy_(prox_l1(weight, step, lam))


@contextmanager
def magnitude_pruned(weight: torch.Tensor, fraction: float):
    """Within the ``with`` block, the ``fraction`` of entries of ``weight`` smallest in magnitude are zero
    (magnitude pruning, chapter 02 §8); afterwards ``weight`` holds its original values again, bit for bit.

    The ``round(fraction * weight.numel())``-th smallest magnitude is the cut, and every entry at or below it is
    zeroed (ties at the cut included, so exact zeros already there count toward the fraction).

    Parameters
    ----------
    weight : Tensor
        Changed in place inside the block (e.g. ``model[1].weight``), restored on leaving it.
    fraction : float
        In [0, 1]; 0 leaves ``weight`` unchanged.
    """
    fraction = check_probability("fraction", fraction)
    original = weight.detach().clone()
    k = int(round(fraction * original.numel()))
    try:
        if k > 0:
            cut = original.abs().flatten().kthvalue(k).values
            with torch.no_grad():
                weight.masked_fill_(original.abs() <= cut, 0.0)
        yield weight
    finally:
        with torch.no_grad():
            weight.copy_(original)


# ----------------------------------------------------------------------------- figures of chapter 02

def plot_weight_magnitudes(ax, weights: dict, pull: float | None = None, bins=None) -> None:
    """Histograms of the magnitudes of weight matrices on a log scale (chapter 02, §8), one outline per
    ``{label: array}`` entry; exact zeros cannot be drawn on a log axis, so the legend counts them. ``pull``
    (e.g. one SGD step's L1 pull ηλ) is marked by a dotted line. Default bins: 56 per log decade from 1e-7 to 1.
    """
    import numpy as np

    from .plot import COLORS

    if not weights:
        raise ValueError("weights must hold at least one {label: array} entry, got none")
    bins = np.logspace(-7, 0, 57) if bins is None else bins
    for (label, w), color in zip(weights.items(), COLORS):
        w_abs = np.abs(np.asarray(w, dtype=np.float64)).ravel()
        ax.hist(w_abs[w_abs > 0], bins=bins, histtype="step", lw=1.8, color=color,
                label=f"{label}: {np.mean(w_abs == 0):.0%} exactly 0")
    if pull is not None:
        ax.axvline(pull, color="gray", ls=":", lw=1, label="ηλ, one step's L1 pull")
    ax.set(xscale="log", xlabel="|weight| (log scale; exact zeros not shown)", ylabel="number of weights")
    ax.legend(loc="upper left")


def plot_first_layer(axes, weights: dict, input_norms: dict, colors=None) -> None:
    """Which inputs a first layer uses (chapter 02, §8), one column of ``axes`` (shape (2, k)) per network.

    Top: the network's :math:`|W|` (hidden units × inputs) on a log colour scale from 1e-3, exact zeros white, with
    one colour bar for the row. Bottom: each input's column norm relative to the mean over inputs, mean ± std
    over seeds.

    Parameters
    ----------
    axes : array of matplotlib Axes, shape (2, k)
    weights : dict
        ``{label: array (hidden units, inputs)}``, one trained first layer per network, k of them.
    input_norms : dict
        ``{label: array (seeds, inputs)}`` with the same labels.
    colors : list, optional
        One bar colour per network (default the course's colours in turn).
    """
    import numpy as np
    from matplotlib.colors import LogNorm

    from .plot import COLORS

    axes = np.asarray(axes)
    if axes.shape != (2, len(weights)) or set(input_norms) != set(weights):
        raise ValueError(f"axes must have shape (2, {len(weights)}) and input_norms the labels of weights, "
                         f"got shape {axes.shape} and labels {list(input_norms)}")
    for (ax_w, ax_n), (label, w), color in zip(axes.T, weights.items(), colors or COLORS):
        w_abs = np.abs(np.asarray(w, dtype=np.float64))
        image = ax_w.imshow(np.ma.masked_where(w_abs == 0, w_abs), aspect="auto", cmap="viridis",
                            norm=LogNorm(1e-3, w_abs.max()), interpolation="nearest")
        ax_w.set(xlabel="input position", ylabel="hidden unit",
                 title=f"|W1|, {label} ({np.mean(w_abs == 0):.0%} exactly 0, white)")
        ax_w.grid(False)
        norms = np.asarray(input_norms[label], dtype=np.float64)
        ax_n.bar(np.arange(norms.shape[1]), norms.mean(0), yerr=norms.std(0), color=color, capsize=1)
        ax_n.set(xlabel="input position", ylabel="column norm / mean", ylim=(0, 2),
                 title=f"Per-input weight norm, {label}")
    axes[0, 0].figure.colorbar(image, ax=axes[0].tolist(), label="|weight|")
