r"""Ensembles and transfer (chapter 10).

Notation: :math:`M` members :math:`f_1, \dots, f_M`, each mapping an input to a vector of
:math:`K` class probabilities (or to a real number in regression); the ensemble
:math:`\bar f = \frac1M\sum_m f_m`; a target :math:`y` (a one-hot vector for classification);
pre-trained weights :math:`w^0`.

================================  ==========================================================================  ===========
name                              what it computes                                                            equation
================================  ==========================================================================  ===========
:func:`bootstrap_indices`         :math:`n` indices drawn uniformly *with* replacement (one bagging sample)    ch. 10, (5)
:func:`out_of_bag_mask`           which of the :math:`n` samples a bootstrap sample left out                  ch. 10, (5)
:func:`member_probs`              :math:`\mathrm{softmax}(f_m(x))` for every member, in eval mode              ch. 10, (1)
:func:`ensemble_predict`          :math:`\bar\pi(x) = \frac1M\sum_m \mathrm{softmax}(f_m(x))`                  ch. 10, (1)
:func:`ambiguity_decomposition`   :math:`\|\bar f - y\|^2 = \frac1M\sum_m\|f_m - y\|^2 - \frac1M\sum_m\|f_m - \bar f\|^2`  ch. 10, (2)
:func:`l2_sp_penalty`             :math:`\frac\lambda2\sum_i (w_i - w_i^0)^2` (L2-SP, Li et al. 2018)          ch. 10, (7)
:class:`StackedMLP`               :math:`M` independent :class:`reglib.models.MLP` s in one batched pass        —
:func:`stacked_cross_entropy`     :math:`\sum_m` (mean cross-entropy of member :math:`m`)                       —
:func:`stack_member_data`         per-member copies of a data set, for :func:`reglib.train.fit`               —
================================  ==========================================================================  ===========

:class:`StackedMLP` exists for speed only: the course's networks are so small that a training
step costs mostly Python and dispatch overhead, so :math:`M` members trained side by side in
one batched matrix product cost about as much as two or three trained one after the other.
Every member keeps its own weights, initialization, mini-batches (through
:func:`stack_member_data`) and Adam state, so the result is the same as training them one at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_int, check_nonneg, check_positive, check_probability

__all__ = [
    "bootstrap_indices",
    "out_of_bag_mask",
    "member_probs",
    "ensemble_predict",
    "ambiguity_decomposition",
    "l2_sp_penalty",
    "StackedMLP",
    "stacked_cross_entropy",
    "stack_member_data",
    "subensemble_scores",
    "fused_adam",
    "active_blocks",
    "delete_block",
    "plot_disagreement",
    "plot_size_curve",
    "plot_transfer",
]


# --------------------------------------------------------------------------- bagging


def bootstrap_indices(n: int, generator=None, size: int | None = None) -> torch.Tensor:
    """One bootstrap sample (chapter 10, eq. (5); Efron 1979, Breiman 1996): indices drawn with replacement.

    Each index is uniform on ``0 .. n-1`` and independent of the others, so a sample of size
    :math:`n` contains a given training point with probability :math:`1 - (1 - 1/n)^n \\to
    1 - e^{-1} \\approx 0.632`; the rest are duplicates.

    Parameters
    ----------
    n : int
        Size of the data set, ``n >= 1``.
    generator : torch.Generator, optional
        Source of randomness (the global RNG when ``None``).
    size : int, optional
        Number of draws (default ``n``).

    Returns
    -------
    Tensor, shape (size,), int64
    """
    n = check_int("n", n, 1)
    size = n if size is None else check_int("size", size, 1)
    return torch.randint(n, (size,), generator=generator)


def out_of_bag_mask(indices: torch.Tensor, n: int) -> torch.Tensor:
    """Boolean mask of the samples a bootstrap sample did not draw ("out of bag").

    Parameters
    ----------
    indices : Tensor, shape (size,), integer
        A bootstrap sample, e.g. from :func:`bootstrap_indices`.
    n : int
        Size of the data set.

    Returns
    -------
    Tensor, shape (n,), bool
        True where sample ``i`` does not occur in ``indices``.
    """
    n = check_int("n", n, 1)
    if not isinstance(indices, torch.Tensor) or indices.dtype.is_floating_point or indices.ndim != 1:
        raise ValueError("indices must be a 1-D integer tensor, got "
                         f"{getattr(indices, 'dtype', type(indices).__name__)} of shape {getattr(indices, 'shape', '?')}")
    if indices.numel() and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"indices must lie in [0, {n - 1}] for n={n}, got values in "
                         f"[{int(indices.min())}, {int(indices.max())}]")
    mask = torch.ones(n, dtype=torch.bool, device=indices.device)
    mask[indices] = False
    return mask


# --------------------------------------------------------------------------- predicting


def _as_models(models) -> list[nn.Module]:
    if isinstance(models, nn.Module):
        return [models]
    try:
        models = list(models)
    except TypeError:
        raise ValueError(f"models must be an nn.Module or an iterable of them, got {type(models).__name__}") from None
    if not models:
        raise ValueError("models must hold at least one model, got none")
    for m in models:
        if not isinstance(m, nn.Module):
            raise ValueError(f"models must hold only torch.nn.Module s, got an element of type {type(m).__name__}")
    return models


@torch.no_grad()
def member_probs(models, x: torch.Tensor) -> torch.Tensor:
    """Class probabilities of every member, each in eval mode (chapter 10, eq. (1)).

    Parameters
    ----------
    models : nn.Module or iterable of nn.Module
        Each maps ``x`` to logits of shape (N, K), or, like :class:`StackedMLP`, to (M', N, K)
        for M' members at once. Each module's ``training`` flags are restored afterwards.
    x : Tensor, shape (N, D)
        Moved to the device of the first model's parameters.

    Returns
    -------
    Tensor, shape (M, N, K)
        ``softmax`` of each member's logits over the last dimension; M counts every member of
        every model.
    """
    models = _as_models(models)
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    first = next(models[0].parameters(), None)
    if first is not None:
        x = x.to(first.device)
    out = []
    for model in models:
        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        try:
            logits = model(x)
        finally:
            for m, mode in modes:
                m.training = mode
        if logits.ndim == 2:
            logits = logits.unsqueeze(0)
        if logits.ndim != 3 or logits.shape[1] != x.shape[0]:
            raise ValueError(f"each model must return logits of shape (N, K) or (M, N, K) for N={x.shape[0]} "
                             f"inputs, got {tuple(logits.shape)}")
        out.append(torch.softmax(logits, dim=-1))
    return torch.cat(out)


def ensemble_predict(models, x: torch.Tensor) -> torch.Tensor:
    r"""The ensemble's predictive distribution (chapter 10, eq. (1)).

    :math:`\bar\pi(x) = \frac1M\sum_{m=1}^M \mathrm{softmax}(f_m(x))`: the members' *probabilities*
    are averaged, each member in eval mode. (Averaging logits instead gives the normalized
    geometric mean of the members' distributions, a different, usually more confident ensemble;
    majority voting throws the members' confidence away.)

    Parameters
    ----------
    models : nn.Module or iterable of nn.Module
        See :func:`member_probs`.
    x : Tensor, shape (N, D)

    Returns
    -------
    Tensor, shape (N, K)
        Rows sum to 1.
    """
    return member_probs(models, x).mean(dim=0)


def _one_hot_like(target: torch.Tensor, preds: torch.Tensor) -> torch.Tensor:
    if preds.ndim == 3:
        if target.ndim == 1 and not target.dtype.is_floating_point:
            k = preds.shape[-1]
            if target.shape[0] != preds.shape[1]:
                raise ValueError(f"target must hold N={preds.shape[1]} class indices, one per input of "
                                 f"member_preds {tuple(preds.shape)}, got shape {tuple(target.shape)}")
            if target.numel() and (target.min() < 0 or target.max() >= k):
                raise ValueError(f"target class indices must lie in [0, {k - 1}], got values in "
                                 f"[{int(target.min())}, {int(target.max())}]")
            return F.one_hot(target.to(preds.device), k).to(preds.dtype)
        if target.shape != preds.shape[1:]:
            raise ValueError(f"target must be (N,) class indices or (N, K) probabilities matching member_preds "
                             f"{tuple(preds.shape)}, got shape {tuple(target.shape)}")
        return target.to(preds)
    if target.shape != preds.shape[1:]:
        raise ValueError(f"target must have shape (N,) = {tuple(preds.shape[1:])} for regression member_preds, "
                         f"got {tuple(target.shape)}")
    return target.to(preds)


def ambiguity_decomposition(member_preds: torch.Tensor, target: torch.Tensor) -> dict:
    r"""Krogh & Vedelsby's (1995) ambiguity decomposition (chapter 10, eq. (2)).

    For every input, with :math:`\bar f = \frac1M\sum_m f_m`,

    .. math:: \|\bar f - y\|^2 = \frac1M\sum_m \|f_m - y\|^2 - \frac1M\sum_m \|f_m - \bar f\|^2 ,

    an identity: the ensemble's squared error is the members' average squared error minus
    their spread around the ensemble (the *ambiguity*), which can never be negative. For
    probabilities and one-hot targets the squared error is the Brier score.

    Parameters
    ----------
    member_preds : Tensor, shape (M, N, K) or (M, N)
        Each member's probabilities (classification) or predictions (regression).
    target : Tensor
        (N,) class indices or (N, K) probabilities for (M, N, K) predictions; (N,) values for
        (M, N) predictions.

    Returns
    -------
    dict of float
        ``ensemble_error`` (mean over inputs of :math:`\|\bar f - y\|^2`), ``member_error``
        (the same for each member, averaged over members), ``ambiguity`` (mean over inputs and
        members of :math:`\|f_m - \bar f\|^2`); ``ensemble_error == member_error - ambiguity``
        up to rounding. Computed in float64.
    """
    if not isinstance(member_preds, torch.Tensor) or member_preds.ndim not in (2, 3):
        raise ValueError("member_preds must be a tensor of shape (M, N, K) or (M, N), got "
                         f"{getattr(member_preds, 'shape', type(member_preds).__name__)}")
    if not isinstance(target, torch.Tensor):
        raise ValueError(f"target must be a torch.Tensor, got {type(target).__name__}")
    preds = member_preds.detach().double()
    y = _one_hot_like(target.detach(), preds).double()
    mean = preds.mean(dim=0)
    reduce = (lambda t: t.sum(dim=-1)) if preds.ndim == 3 else (lambda t: t)
    return {
        "ensemble_error": reduce((mean - y).square()).mean().item(),
        "member_error": reduce((preds - y).square()).mean().item(),
        "ambiguity": reduce((preds - mean).square()).mean().item(),
    }


def subensemble_scores(member_probs: torch.Tensor, target: torch.Tensor, size: int) -> tuple[float, float]:
    """Test accuracy and Brier score of an ensemble of ``size`` of the members, each averaged over all
    :math:`\\binom{P}{size}` ways to choose them from the ``P`` rows of ``member_probs`` (shape (P, N, K))
    (chapter 10: the finite-pool form of eq. (4) in §2.3, the size curves of §5.1)."""
    if not isinstance(member_probs, torch.Tensor) or member_probs.ndim != 3:
        raise ValueError("member_probs must be a tensor of shape (P, N, K), got "
                         f"{getattr(member_probs, 'shape', type(member_probs).__name__)}")
    size = check_int("size", size, 1, len(member_probs))
    from .metrics import accuracy

    subsets = [list(s) for s in itertools.combinations(range(len(member_probs)), size)]
    acc = np.mean([accuracy(member_probs[s].mean(0), target) for s in subsets])
    brier = np.mean([ambiguity_decomposition(member_probs[s], target)["ensemble_error"] for s in subsets])
    return float(acc), float(brier)


# --------------------------------------------------------------------------- transfer


def l2_sp_penalty(model: nn.Module, reference: Mapping, lam: float) -> torch.Tensor:
    r"""L2-SP: an L2 penalty toward the pre-trained *starting point* (chapter 10, eq. (7); Li et al. 2018).

    .. math:: \Omega(w) = \frac\lambda2 \sum_{i \in S} (w_i - w_i^0)^2 ,

    summed over the parameters :math:`S` of ``model`` whose names appear in ``reference``. Its
    gradient is :math:`\lambda (w - w^0)`: the weights are pulled back toward the pre-trained
    :math:`w^0`, not toward zero (plain L2, :func:`reglib.penalties.l2_penalty`, is the special
    case :math:`w^0 = 0`). Parameters missing from ``reference`` (a freshly initialised
    classifier head) are not penalised here; Li et al. add ordinary L2 on them.

    Parameters
    ----------
    model : nn.Module
        The network being fine-tuned.
    reference : mapping of str to Tensor
        Pre-trained values by parameter name, e.g. ``{k: v.detach().clone() for k, v in
        pretrained.state_dict().items()}``. Take a *copy*: a ``state_dict`` of the model being
        trained shares its storage and would follow the weights, making the penalty 0. Entries
        are treated as constants (no gradient flows into them); extra entries (buffers, the
        old head) are ignored.
    lam : float
        Strength :math:`\lambda \ge 0`.

    Returns
    -------
    Tensor
        0-dim, differentiable in the model's parameters, on their device and dtype.
    """
    lam = check_nonneg("lam", lam)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(reference, Mapping):
        raise ValueError("reference must be a mapping from parameter names to tensors (a state_dict copy), "
                         f"got {type(reference).__name__}")
    terms = []
    for name, w in model.named_parameters():
        if name not in reference:
            continue
        w0 = reference[name]
        if not isinstance(w0, torch.Tensor) or w0.shape != w.shape:
            raise ValueError(f"reference[{name!r}] must be a tensor of shape {tuple(w.shape)}, got "
                             f"{getattr(w0, 'shape', type(w0).__name__)}")
        terms.append((w - w0.detach().to(device=w.device, dtype=w.dtype)).square().sum())
    if not terms:
        raise ValueError("reference shares no parameter name with model; pass a state_dict of the same architecture")
    return lam / 2 * torch.stack(terms).sum()


# --------------------------------------------------------------------------- training M networks at once


class StackedMLP(nn.Module):
    """``num_members`` independent :class:`reglib.models.MLP` s evaluated in one batched pass.

    Member ``m`` has its own weights ``weights[l][m]`` (shape (in, out)) and biases
    ``biases[l][m]`` (shape (1, out)); nothing is shared. Members are initialised by building
    ``num_members`` :class:`~reglib.models.MLP` s one after the other and stacking their weights,
    so after ``set_seed(s)`` member ``m`` is exactly the m-th ``MLP`` that ``set_seed(s)`` would
    give. :meth:`member` returns member ``m`` as an ordinary ``MLP``.

    Parameters
    ----------
    num_members : int
    in_features, num_classes : int
    hidden : tuple of int
        Hidden widths, as in :class:`~reglib.models.MLP` (ReLU activations).
    dropout : float
        Drop probability after each hidden activation (reglib's :class:`~reglib.dropout.Dropout`,
        so :func:`reglib.dropout.mc_predict` switches it on); every member draws its own masks.

    Shapes
    ------
    input (N, D), shared by all members, or (N, M, D), where member m sees ``x[:, m]``
    (what :func:`stack_member_data` builds) → output (M, N, num_classes).
    """

    def __init__(self, num_members: int, in_features: int, num_classes: int, hidden=(100, 100),
                 dropout: float = 0.0):
        super().__init__()
        from .models import MLP

        self.num_members = check_int("num_members", num_members, 1)
        self.hidden = tuple(hidden)
        self.dropout_p = check_probability("dropout", dropout, allow_one=False)
        members = [MLP(in_features, num_classes, hidden=self.hidden) for _ in range(num_members)]
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        self._load(members)
        from .dropout import Dropout

        self.drops = nn.ModuleList(Dropout(dropout) if dropout > 0 else nn.Identity() for _ in self.hidden)

    def _load(self, mlps) -> None:
        linears = [[m for m in mlp if isinstance(m, nn.Linear)] for mlp in mlps]
        with torch.no_grad():
            for layer in range(len(linears[0])):
                w = torch.stack([lin[layer].weight.detach().t() for lin in linears])
                b = torch.stack([lin[layer].bias.detach()[None] for lin in linears])
                if len(self.weights) <= layer:
                    self.weights.append(nn.Parameter(w.clone()))
                    self.biases.append(nn.Parameter(b.clone()))
                else:
                    self.weights[layer].copy_(w)
                    self.biases[layer].copy_(b)

    @classmethod
    def from_mlps(cls, mlps) -> "StackedMLP":
        """Stack existing ReLU :class:`~reglib.models.MLP` s (no dropout, no normalization) into one model."""
        mlps = list(mlps)
        if not mlps:
            raise ValueError("mlps must hold at least one MLP, got none")
        linears = [m for m in mlps[0] if isinstance(m, nn.Linear)]
        model = cls(len(mlps), linears[0].in_features, linears[-1].out_features,
                    hidden=tuple(lin.out_features for lin in linears[:-1]))
        model._load(mlps)
        return model

    def member(self, m: int):
        """Member ``m`` as an ordinary :class:`~reglib.models.MLP` (a copy of its weights)."""
        from .models import MLP

        m = check_int("m", m, 0, self.num_members - 1)
        in_features, num_classes = self.weights[0].shape[1], self.weights[-1].shape[2]
        mlp = MLP(in_features, num_classes, hidden=self.hidden, dropout=self.dropout_p)
        with torch.no_grad():
            for lin, w, b in zip([x for x in mlp if isinstance(x, nn.Linear)], self.weights, self.biases):
                lin.weight.copy_(w[m].t())
                lin.bias.copy_(b[m, 0])
        return mlp.to(self.weights[0].device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            h = x.unsqueeze(0).expand(self.num_members, -1, -1)
        elif x.ndim == 3 and x.shape[1] == self.num_members:
            h = x.transpose(0, 1)
        else:
            raise ValueError(f"x must have shape (N, D) or (N, {self.num_members}, D), got {tuple(x.shape)}")
        last = len(self.weights) - 1
        for layer, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if layer < last:
                h = self.drops[layer](torch.relu(h))
        return h

    def extra_repr(self) -> str:
        return f"num_members={self.num_members}, hidden={self.hidden}, dropout={self.dropout_p}"


def stacked_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over members of each member's mean cross-entropy: the loss of M independent networks.

    Because member m's weights enter only its own term, the gradient for member m is exactly the
    gradient of its own loss, and Adam (which works entry by entry) updates each member as if it
    were trained alone.

    Parameters
    ----------
    logits : Tensor, shape (M, N, K)
    target : Tensor, shape (N,) shared by all members, or (N, M) per member (class indices)

    Returns
    -------
    Tensor, 0-dim
    """
    if logits.ndim != 3:
        raise ValueError(f"logits must have shape (M, N, K), got {tuple(logits.shape)}")
    M, N, K = logits.shape
    if target.shape == (N,):
        target = target.unsqueeze(0).expand(M, N)
    elif target.shape == (N, M):
        target = target.t()
    else:
        raise ValueError(f"target must have shape (N,) = ({N},) or (N, M) = ({N}, {M}), got {tuple(target.shape)}")
    return F.cross_entropy(logits.reshape(M * N, K), target.reshape(M * N), reduction="sum") / N


def stack_member_data(x: torch.Tensor, y: torch.Tensor, indices: torch.Tensor):
    """Per-member copies of a data set, so that one :func:`reglib.train.fit` call trains M members on their own data.

    Row ``i`` of the result holds, for every member ``m``, sample ``indices[m, i]``. ``fit``
    shuffles rows, so member m goes through its own sample set in its own order: use a random
    permutation per member for a seed ensemble, a bootstrap sample per member for bagging.

    Parameters
    ----------
    x : Tensor, shape (n, D)
    y : Tensor, shape (n,)
    indices : Tensor, shape (M, n'), integer
        Row m: the samples member m trains on (n' is usually n).

    Returns
    -------
    x_stacked : Tensor, shape (n', M, D)
    y_stacked : Tensor, shape (n', M)
    """
    if not isinstance(indices, torch.Tensor) or indices.ndim != 2 or indices.dtype.is_floating_point:
        raise ValueError("indices must be a 2-D integer tensor of shape (M, n'), got "
                         f"{getattr(indices, 'shape', type(indices).__name__)}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same number of samples, got {x.shape[0]} and {y.shape[0]}")
    if indices.numel() and (indices.min() < 0 or indices.max() >= x.shape[0]):
        raise ValueError(f"indices must lie in [0, {x.shape[0] - 1}], got values in "
                         f"[{int(indices.min())}, {int(indices.max())}]")
    return x[indices].transpose(0, 1).contiguous(), y[indices].t().contiguous()


# --------------------------------------------------------------------------- chapter 10's training and probes


def fused_adam(lr: float):
    """An optimizer factory for :func:`reglib.train.fit`: ``torch.optim.Adam(params, lr=lr, fused=True)``.

    The same algorithm as ``optimizer="adam"``, with the whole update in one kernel, which costs less for
    the course's tiny networks (``benchmarks/README.md``, chapter 10); chapter 10 trains every network with it.
    """
    lr = check_positive("lr", lr)
    return lambda params: torch.optim.Adam(params, lr=lr, fused=True)


def _residual_blocks(model: nn.Module):
    blocks = getattr(model, "blocks", None)
    if blocks is None or not all(hasattr(b, "drop_path") for b in blocks):
        raise ValueError("model must have residual blocks with a drop_path module, like reglib.models.ResidualMLP, "
                         f"got {type(model).__name__}")
    return blocks


@torch.no_grad()
def active_blocks(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """How many residual branches each sample of ``x`` passes through in one forward pass of ``model``.

    ``model`` is a :class:`reglib.models.ResidualMLP` (its ``blocks`` each end in a ``drop_path`` module); in
    train mode drop-path zeroes some branches for some samples (chapter 10, eq. (6)), and a branch counts as
    active for a sample if any of its outputs is non-zero. Returns a float64 tensor of shape ``(N,)``.
    """
    active = []
    hooks = [block.drop_path.register_forward_hook(lambda mod, inp, out: active.append((out != 0).any(1).double()))
             for block in _residual_blocks(model)]
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(active).sum(0)


def delete_block(model: nn.Module, block: int):
    """Skip residual block ``block`` of ``model`` (a :class:`reglib.models.ResidualMLP`) until the returned
    handle's ``remove()``: a forward hook zeroes the block's branch, so that :math:`h_{l+1} = h_l` (chapter 10
    §5.4, deleting a block at test time as Veit et al. 2016 do)."""
    blocks = _residual_blocks(model)
    block = check_int("block", block, 0, len(blocks) - 1)
    return blocks[block].drop_path.register_forward_hook(lambda mod, inp, out: torch.zeros_like(out))


# --------------------------------------------------------------------------- chapter 10's figures


def plot_disagreement(disagree, n_correct):
    """Chapter 10 §1's figure: the (M, M) matrix of the fractions of test inputs on which two members disagree,
    as an annotated heatmap, and the distribution of ``n_correct`` (for each test input, how many of the M members
    classify it correctly, a length-N integer array). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    from .plot import COLORS

    disagree, n_correct = np.asarray(disagree), np.asarray(n_correct)
    m = len(disagree)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    im = ax1.imshow(disagree, cmap="viridis", vmin=0)
    for i, j in itertools.product(range(m), range(m)):
        ax1.text(j, i, f"{disagree[i, j]:.0%}", ha="center", va="center", color="w" if disagree[i, j] < 0.2 else "k",
                 fontsize=9)
    ax1.set(xlabel="network", ylabel="network", title="test signals on which two networks disagree")
    fig.colorbar(im, ax=ax1, fraction=0.046)
    ax2.bar(range(m + 1), [(n_correct == k).mean() for k in range(m + 1)], color=COLORS[0])
    ax2.set(xlabel=f"number of the {m} networks that classify the signal correctly", ylabel="fraction of test signals",
            title="who is right?")
    return fig


def plot_size_curve(acc, brier, brier_inf, s2, max_size: int = 20):
    """Chapter 10 §5.1's figure: test accuracy and Brier score against the ensemble size M = 1, 2, ... (rows of
    ``acc`` and ``brier``, shape (seeds, sizes), drawn as mean ± std), with eq. (4)'s curve Brier(∞) + s²/M up to
    ``max_size`` members from the means of ``brier_inf`` and ``s2``. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    from .plot import mean_std_band

    sizes = np.arange(1, np.shape(acc)[1] + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    mean_std_band(ax1, sizes, acc, marker="o", label="seed ensemble")
    ax1.set(xlabel="ensemble size M", ylabel="test accuracy (mean ± std, 3 seeds)", xticks=sizes,
            title="accuracy grows with M")
    mean_std_band(ax2, sizes, brier, marker="o", label="measured")
    grid = np.linspace(1, max_size, 100)
    ax2.plot(grid, np.mean(brier_inf) + np.mean(s2) / grid, "k--", lw=1, label="eq. (4): Brier(∞) + s²/M")
    ax2.axhline(np.mean(brier_inf), color="gray", ls=":", lw=1, label="infinite ensemble (extrapolated)")
    ax2.set(xlabel="ensemble size M", ylabel="test Brier score (mean ± std)", title="the error falls like 1/M")
    ax2.legend()
    return fig


def plot_transfer(transfer: dict, lams, fixed_lam: float = 1.0):
    """Chapter 10 §5.5's figure. ``transfer`` maps ``(method, lam)`` to test accuracies over seeds for the methods
    ``("scratch", 0)``, ``("fine_tune", 0)``, ``("probe", 0)`` and ``("l2", lam)``, ``("l2_sp", lam)`` for every
    ``lam`` of ``lams``. Left: bars of the five methods, the penalties at ``fixed_lam``; right: accuracy against
    the penalty strength for L2 toward zero and L2-SP, with plain fine-tuning and the linear probe as lines.
    Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    from .plot import bar_mean_std, mean_std_band

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.2, 1]})
    jobs = [("scratch", 0), ("fine_tune", 0), ("probe", 0), ("l2", fixed_lam), ("l2_sp", fixed_lam)]
    bar_mean_std(ax1, ["scratch", "fine-tune", "linear\nprobe", f"+ L2\n(λ = {fixed_lam:g})",
                       f"+ L2-SP\n(λ = {fixed_lam:g})"], [transfer[job] for job in jobs])
    ax1.set(ylabel="test accuracy, digits 5-9 (mean ± std)", ylim=(0, 0.8), title="100 training signals of a new task")
    for key, label in (("l2", "fine-tune + L2 (toward 0)"), ("l2_sp", "fine-tune + L2-SP (toward w⁰)")):
        mean_std_band(ax2, lams, np.stack([transfer[key, lam] for lam in lams], 1), marker="o", label=label)
    ax2.axhline(np.mean(transfer["fine_tune", 0]), color="k", lw=1, ls=":", label="fine-tune, no penalty (λ = 0)")
    ax2.axhline(np.mean(transfer["probe", 0]), color="gray", ls="--", lw=1, label="linear probe (body frozen)")
    ax2.set(xscale="log", xlabel="penalty strength λ", ylabel="test accuracy (mean ± std)", title="the centre matters")
    ax2.legend(fontsize=8)
    return fig
