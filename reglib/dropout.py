"""Dropout and its relatives (chapters 06 and 10).

Everywhere in this module ``p`` is the **drop** probability, as in PyTorch. Several papers,
Srivastava et al. (2014) among them, write :math:`p` for the *keep* probability instead; their
:math:`p = 0.8` is ``p=0.2`` here.

Notation: input :math:`x`, output :math:`y`, upstream gradient :math:`\\delta y = \\partial L/\\partial y`,
keep probability :math:`q = 1 - p`, element-wise product :math:`\\odot`.

==========================  ======================================================================  ==============
name                        what it computes                                                        equation
==========================  ======================================================================  ==============
:func:`dropout`             :math:`y = x \\odot m / q,\\; m_i \\sim \\mathrm{Bernoulli}(q)`             ch. 06, (1)
:func:`dropout_forward`     eq. (1), returning the mask as the cache                                ch. 06, (1)
:func:`dropout_backward`    :math:`\\delta x = \\delta y \\odot m / q`                                   ch. 06, (2)
:func:`gaussian_dropout`    :math:`y = x \\odot \\xi,\\; \\xi_i \\sim \\mathcal N(1, p/q)`                 ch. 06, (4)
:func:`spatial_dropout`     eq. (1) with one :math:`m_{nc}` per sample and channel                  ch. 06, (5)
:class:`DropConnectLinear`  :math:`y = (M \\odot W / q)\\,x + b,\\; M_{ij} \\sim \\mathrm{Bernoulli}(q)`   ch. 06, (6)
:func:`mc_predict`          :math:`\\bar\\pi = \\frac1T\\sum_t \\mathrm{softmax}(f(x; m_t))` and its std     ch. 06, (3)
:func:`drop_path`           eq. (1) with one :math:`m_n` per sample: the whole residual branch      ch. 10, (6)
==========================  ======================================================================  ==============

Why the :math:`1/q`: :math:`\\mathbb E[m_i/q] = 1`, so :math:`\\mathbb E[y] = x` during training and
the network needs no rescaling at test time ("inverted" dropout; the original paper instead
multiplies the weights by :math:`q` at test time, the *weight-scaling rule*).

Every function is an identity when ``training`` is False, works on the input's device and dtype,
and draws its randomness from ``generator`` (the global RNG when ``None``).
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_int, check_probability

__all__ = [
    "dropout",
    "dropout_forward",
    "dropout_backward",
    "gaussian_dropout",
    "spatial_dropout",
    "drop_path",
    "Dropout",
    "GaussianDropout",
    "SpatialDropout",
    "DropPath",
    "DropConnectLinear",
    "DROPOUT_MODULES",
    "mc_predict",
    "neighbour_r2",
    "dropout_cost",
]


# --------------------------------------------------------------------------- the shared mask


def _keep_mask(shape, p: float, like: torch.Tensor, generator=None) -> torch.Tensor:
    """The scaled mask :math:`m / q` of eq. (1): :math:`1/q` with probability :math:`q = 1 - p`, else 0.

    ``shape`` may have 1s where the mask is shared (broadcast) across entries of ``like``.
    With :math:`u \\sim U[0, 1)`, :math:`P(u \\ge p) = 1 - p = q`.
    """
    keep = 1.0 - p
    device = like.device if generator is None else generator.device  # a CPU generator draws on the CPU
    mask = torch.rand(shape, generator=generator, dtype=like.dtype, device=device).ge_(p).to(like.device)
    return mask.div_(keep) if keep > 0 else mask  # p = 1: all zeros, no division by 0


def _check_x(x, min_dim: int, layout: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < min_dim:
        raise ValueError(f"x must have shape {layout} (at least {min_dim} dimensions), got shape {tuple(x.shape)}")


def _masked(x, p, training, generator, mask_shape) -> torch.Tensor:
    """``x`` times a scaled keep mask of ``mask_shape`` (eq. (1)); ``x`` itself when inactive."""
    if not training or p == 0:
        return x
    return x * _keep_mask(mask_shape, p, x, generator)


# --------------------------------------------------------------------------- functional core


def dropout_forward(x: torch.Tensor, p: float, generator=None):
    """Training-mode inverted dropout, CS231n style (chapter 06, eq. (1)).

    Parameters
    ----------
    x : Tensor, any shape
    p : float
        Drop probability in [0, 1] (PyTorch's convention; Srivastava et al. 2014 write the keep
        probability :math:`1 - p`).
    generator : torch.Generator, optional

    Returns
    -------
    out : Tensor, shape of ``x``
        :math:`x \\odot m / (1 - p)`.
    cache : Tensor, shape of ``x``
        The scaled mask :math:`m / (1 - p)` (entries 0 or :math:`1/(1-p)`; all 0 when ``p == 1``),
        what :func:`dropout_backward` needs.
    """
    p = check_probability("p", p)
    _check_x(x, 0, "(*)")
    mask = _keep_mask(x.shape, p, x, generator)
    return x * mask, mask


def dropout_backward(dout: torch.Tensor, cache: torch.Tensor) -> torch.Tensor:
    """Gradient of :func:`dropout_forward` (chapter 06, eq. (2)): :math:`\\delta x = \\delta y \\odot m/(1-p)`.

    Dropped units pass no gradient; survivors pass it scaled by the same :math:`1/(1-p)` as the
    forward pass, because :math:`y` is linear in :math:`x`.

    Parameters
    ----------
    dout : Tensor, shape of the forward input
        Upstream gradient :math:`\\partial L / \\partial y`.
    cache : Tensor
        The mask returned by :func:`dropout_forward`.

    Returns
    -------
    Tensor, shape of ``dout``
    """
    if not isinstance(cache, torch.Tensor) or cache.shape != dout.shape:
        raise ValueError("cache must be the mask returned by dropout_forward, of the same shape as dout "
                         f"{tuple(dout.shape)}, got {getattr(cache, 'shape', type(cache).__name__)}")
    return dout * cache


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True, generator=None) -> torch.Tensor:
    """Inverted dropout (chapter 06, eq. (1)): zero each entry with probability ``p``, scale survivors by 1/(1 − p).

    Equivalent in distribution to ``torch.nn.functional.dropout``. ``E[out] = x`` entry by entry.

    Parameters
    ----------
    x : Tensor, any shape
    p : float
        **Drop** probability in [0, 1] (PyTorch's convention; Srivastava et al. 2014 use the keep
        probability). ``p=0`` returns ``x`` itself; ``p=1`` returns zeros.
    training : bool
        When False, returns ``x`` unchanged (the test-time network of inverted dropout).
    generator : torch.Generator, optional
        Source of randomness, on ``x``'s device.

    Returns
    -------
    Tensor, shape and dtype of ``x``
    """
    p = check_probability("p", p)
    _check_x(x, 0, "(*)")
    return _masked(x, p, training, generator, x.shape)


def spatial_dropout(x: torch.Tensor, p: float = 0.5, training: bool = True, generator=None) -> torch.Tensor:
    """Channel ("spatial") dropout (chapter 06, eq. (5)): drop whole feature maps.

    Neighbouring activations of a convolutional feature map are strongly correlated, so dropping
    single entries removes little information; dropping a channel for a whole sample does
    (Tompson et al. 2015). Same as ``nn.Dropout1d/2d/3d`` for inputs with a batch dimension.

    Parameters
    ----------
    x : Tensor, shape (N, C, *)
        E.g. (N, C, L) signals or (N, C, H, W) images.
    p : float
        Drop probability of a channel, in [0, 1] (PyTorch's convention).
    training : bool
        When False, returns ``x`` unchanged.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, shape (N, C, *)
        ``x[n, c]`` is either all zeros or ``x[n, c] / (1 - p)``.
    """
    p = check_probability("p", p)
    _check_x(x, 2, "(N, C, *)")
    return _masked(x, p, training, generator, x.shape[:2] + (1,) * (x.dim() - 2))


def drop_path(x: torch.Tensor, p: float = 0.5, training: bool = True, generator=None) -> torch.Tensor:
    """Stochastic depth / drop-path (chapter 10, eq. (6); Huang et al. 2016).

    Applied to a residual branch :math:`f(h)` in :math:`h + f(h)`, it skips the whole branch for
    a sample with probability ``p``: one Bernoulli draw per sample (dim 0), survivors scaled by
    1/(1 − p) so that the expected output is unchanged.

    Parameters
    ----------
    x : Tensor, shape (N, *)
        A batch of branch outputs.
    p : float
        Drop probability per sample, in [0, 1] (PyTorch's convention).
    training : bool
        When False, returns ``x`` unchanged.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, shape (N, *)
        ``x[n]`` is either all zeros or ``x[n] / (1 - p)``.
    """
    p = check_probability("p", p)
    _check_x(x, 1, "(N, *)")
    return _masked(x, p, training, generator, x.shape[:1] + (1,) * (x.dim() - 1))


def gaussian_dropout(x: torch.Tensor, p: float = 0.5, training: bool = True, generator=None) -> torch.Tensor:
    """Gaussian (multiplicative-noise) dropout (chapter 06, eq. (4)).

    Multiplies every entry by :math:`\\xi \\sim \\mathcal N(1, p/(1-p))`: the same mean (1) and
    variance (:math:`p/(1-p)`) as the Bernoulli factor :math:`m/(1-p)` of eq. (1), without exact
    zeros (Srivastava et al. 2014, §10; Kingma et al. 2015).

    Parameters
    ----------
    x : Tensor, any shape
    p : float
        Drop probability of the matching Bernoulli dropout, in [0, 1) (the variance
        :math:`p/(1-p)` is infinite at 1).
    training : bool
        When False, returns ``x`` unchanged.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, shape and dtype of ``x``
    """
    p = check_probability("p", p, allow_one=False)
    _check_x(x, 0, "(*)")
    if not training or p == 0:
        return x
    sigma = math.sqrt(p / (1.0 - p))
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x * noise.mul_(sigma).add_(1.0)


# --------------------------------------------------------------------------- module shells


class _DropoutModule(nn.Module):
    """A thin shell around one of the functions above: stores ``p``, follows ``train()``/``eval()``."""

    _allow_one = True

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = check_probability("p", p, allow_one=self._allow_one)

    def _function(self, x, p, training):
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._function(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout(_DropoutModule):
    """Module form of :func:`dropout` (chapter 06, eq. (1)); ``p`` is the drop probability."""

    def _function(self, x, p, training):
        return dropout(x, p, training)


class GaussianDropout(_DropoutModule):
    """Module form of :func:`gaussian_dropout` (chapter 06, eq. (4)); ``p`` in [0, 1)."""

    _allow_one = False

    def _function(self, x, p, training):
        return gaussian_dropout(x, p, training)


class SpatialDropout(_DropoutModule):
    """Module form of :func:`spatial_dropout` (chapter 06, eq. (5)); input (N, C, *)."""

    def _function(self, x, p, training):
        return spatial_dropout(x, p, training)


class DropPath(_DropoutModule):
    """Module form of :func:`drop_path` (chapter 10, eq. (6)); wrap a residual branch's output."""

    def _function(self, x, p, training):
        return drop_path(x, p, training)


class DropConnectLinear(nn.Linear):
    """A linear layer whose *weights* are dropped in training (chapter 06, eq. (6); Wan et al. 2013).

    Training: :math:`y = x (M \\odot W / (1-p))^\\top + b` with a fresh
    :math:`M_{ij} \\sim \\mathrm{Bernoulli}(1-p)` on every call, shared by the mini-batch (one mask per
    forward pass, as most implementations do; a mask per sample would need a batched matmul).
    The bias is not dropped. Evaluation: exactly ``F.linear(x, weight, bias)``, the mean network.
    Parameters, initialization and ``state_dict`` are those of ``nn.Linear``.

    This is a simplified DropConnect. Wan et al. (2013) draw a mask per example, and at test time they
    do not use the mean network: they approximate each unit's pre-activation by a Gaussian with the
    mean and variance it has over the masks, pass samples of it through the nonlinearity and average.

    Parameters
    ----------
    in_features, out_features : int
    p : float
        Drop probability of each weight, in [0, 1] (PyTorch's convention).
    bias : bool

    Shapes
    ------
    input (*, in_features) → output (*, out_features)
    """

    def __init__(self, in_features: int, out_features: int, p: float = 0.5, bias: bool = True):
        super().__init__(check_int("in_features", in_features, 1), check_int("out_features", out_features, 1),
                         bias=bias)
        self.p = check_probability("p", p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, dropout(self.weight, self.p, self.training), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"


# --------------------------------------------------------------------------- Monte-Carlo dropout

DROPOUT_MODULES = (
    Dropout, GaussianDropout, SpatialDropout, DropPath, DropConnectLinear,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout,
)
"""Module types that :func:`mc_predict` keeps stochastic (in train mode) while sampling."""


@torch.no_grad()
def mc_predict(model: nn.Module, x: torch.Tensor, n_samples: int = 50, *, dropout_types=DROPOUT_MODULES):
    """Monte-Carlo dropout prediction (chapter 06, eq. (3); Gal & Ghahramani 2016).

    Runs ``model`` ``n_samples`` times with its dropout modules active and everything else in
    eval mode (batch norm uses its running statistics and does not update them), and averages
    the softmax outputs. Each module's ``training`` flag is set individually and restored
    afterwards, also when the model raises.

    Parameters
    ----------
    model : nn.Module
        Maps ``x`` to class scores (logits), classes on the last dimension.
    x : Tensor
        The model's input, e.g. (N, D).
    n_samples : int
        Number :math:`T \\ge 1` of stochastic forward passes.
    dropout_types : tuple of type
        Module types put in train mode (default :data:`DROPOUT_MODULES`: reglib's and PyTorch's
        dropout modules and :class:`DropConnectLinear`).

    Returns
    -------
    mean : Tensor, shape (N, K)
        :math:`\\frac1T\\sum_t \\mathrm{softmax}(f_t(x))`, the predictive distribution.
    std : Tensor, shape (N, K)
        Standard deviation of the sampled probabilities over the :math:`T` passes (population
        formula, dividing by :math:`T`, so ``n_samples=1`` gives zeros).
    """
    n_samples = check_int("n_samples", n_samples, 1)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modes = [(m, m.training) for m in model.modules()]
    try:
        for m, _ in modes:  # set flags one module at a time: Module.train() would recurse
            m.training = isinstance(m, dropout_types)
        probs = torch.stack([torch.softmax(model(x), dim=-1) for _ in range(n_samples)])
    finally:
        for m, mode in modes:
            m.training = mode
    std, mean = torch.std_mean(probs, dim=0, correction=0)
    return mean, std


# --------------------------------------------------------------------------- redundancy of feature maps


def _check_maps(maps) -> None:
    if not isinstance(maps, torch.Tensor) or maps.dim() < 1 or maps.shape[-1] < 3:
        raise ValueError("maps must be a torch.Tensor of shape (..., L) with L >= 3, got "
                         f"{tuple(maps.shape) if isinstance(maps, torch.Tensor) else type(maps).__name__}")


def neighbour_r2(maps: torch.Tensor) -> float:
    """How much of an entry's variance its two neighbours along the last axis explain (chapter 06 §5.4).

    Predicts every interior entry ``maps[..., l]`` by the mean of ``maps[..., l - 1]`` and ``maps[..., l + 1]``
    and returns :math:`R^2 = 1 - \\mathrm{Var}(\\text{error}) / \\mathrm{Var}(\\text{entry})`: near 1 for smooth
    signals, where element-wise dropout removes little information, near 0 (or below) for rough ones.
    ``maps`` has shape (..., L) with L ≥ 3, e.g. (N, L) signals or (N, C, L) feature maps.
    """
    _check_maps(maps)
    centre, neighbours = maps[..., 1:-1], (maps[..., :-2] + maps[..., 2:]) / 2
    return (1 - (centre - neighbours).var() / centre.var()).item()


# --------------------------------------------------------------------------- what dropout costs


def dropout_cost(width: int = 100, batch: int = 100, p: float = 0.3, *, reps: int = 100, rounds: int = 5,
                 in_features: int = 40, num_classes: int = 10) -> dict:
    """CPU seconds of one training-mode forward + backward pass (no optimizer step) of
    ``MLP(in_features, num_classes, hidden=(width, width))`` without dropout and with dropout ``p`` (chapter 06 §5.5).

    Both networks see the same random batch of ``batch`` inputs; each timing averages ``reps`` passes, the
    two networks alternate ``rounds`` times and the fastest round of each is kept, which damps the noise of a
    busy machine. Process CPU time is measured, so other programs' load counts less than in wall-clock time.

    Returns
    -------
    dict
        ``{0.0: seconds without dropout, p: seconds with dropout}``.
    """
    from .models import MLP

    width, batch = check_int("width", width, 1), check_int("batch", batch, 1)
    reps, rounds = check_int("reps", reps, 1), check_int("rounds", rounds, 1)
    p = check_probability("p", p, allow_one=False)
    if p == 0:
        raise ValueError("p must be in (0, 1) to compare with the network without dropout, got 0")
    torch.manual_seed(0)
    x, y = torch.randn(batch, in_features), torch.randint(0, num_classes, (batch,))
    nets = {rate: MLP(in_features, num_classes, hidden=(width, width), dropout=rate).train() for rate in (0.0, p)}
    best = {rate: math.inf for rate in nets}
    for _ in range(rounds):
        for rate, net in nets.items():
            start = time.process_time()
            for _ in range(reps):
                net.zero_grad(set_to_none=True)
                F.cross_entropy(net(x), y).backward()
            best[rate] = min(best[rate], (time.process_time() - start) / reps)
    return best
