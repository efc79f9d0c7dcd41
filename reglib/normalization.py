"""Batch and layer normalization (chapter 07).

Both standardize activations and then apply a learned affine map; they differ only in *which*
entries share a mean and a variance. Notation: :math:`n` entries share one statistic,
:math:`\\gamma, \\beta` are the learned scale and shift, :math:`\\delta y = \\partial L/\\partial y`.

.. math::

    \\mu = \\frac1n \\sum_i x_i, \\qquad \\sigma^2 = \\frac1n \\sum_i (x_i - \\mu)^2            \\quad (1)

    \\hat x_i = \\frac{x_i - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}}                               \\quad (2)

    y_i = \\gamma \\hat x_i + \\beta                                                            \\quad (3)

    \\delta\\beta = \\sum_i \\delta y_i, \\qquad \\delta\\gamma = \\sum_i \\delta y_i \\hat x_i,
    \\qquad \\delta x_i = \\frac{1}{n\\sqrt{\\sigma^2+\\epsilon}}
    \\Big(n g_i - \\sum_j g_j - \\hat x_i \\sum_j g_j \\hat x_j\\Big),\\; g = \\gamma\\,\\delta y   \\quad (4)

    \\hat\\mu \\leftarrow (1 - m)\\,\\hat\\mu + m\\,\\mu, \\qquad
    \\hat\\sigma^2 \\leftarrow (1 - m)\\,\\hat\\sigma^2 + m\\,\\tfrac{n}{n-1}\\sigma^2           \\quad (5)

* **Batch norm** (Ioffe & Szegedy 2015): one statistic per channel, over the batch and every
  position, i.e. over dims (0, 2, 3, ...) of an (N, C, *) input; :math:`\\gamma, \\beta` per channel.
  Training normalizes with the biased batch variance (1) and updates running estimates with the
  *unbiased* one (5); evaluation normalizes with the running estimates instead.
* **Layer norm** (Ba et al. 2016): one statistic per sample, over the trailing
  ``normalized_shape`` dims; :math:`\\gamma, \\beta` per feature; the same computation in training
  and evaluation, no running statistics.

For batch norm, :math:`\\gamma` is constant over the :math:`n` entries, so eq. (4) becomes
:math:`\\delta x = \\frac{\\gamma}{n\\sigma}(n\\,\\delta y - \\delta\\beta - \\hat x\\,\\delta\\gamma)`.

:func:`batch_norm_forward` / :func:`batch_norm_backward` and :func:`layer_norm_forward` /
:func:`layer_norm_backward` are the readable (N, D) forward/backward pairs. :func:`batch_norm` and
:func:`layer_norm` run the same equations as ``torch.autograd.Function``\\ s arranged for speed (few
passes over memory, eq. (4) instead of differentiating the graph of (1)-(3)); they match
``torch.nn.functional.batch_norm`` / ``layer_norm``, and so do the modules :class:`BatchNorm` and
:class:`LayerNorm` match ``nn.BatchNorm1d/2d/3d`` and ``nn.LayerNorm``, ``state_dict`` included.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_int, check_nonneg, check_probability

__all__ = [
    "batch_norm",
    "batch_norm_forward",
    "batch_norm_backward",
    "BatchNorm",
    "layer_norm",
    "layer_norm_forward",
    "layer_norm_backward",
    "LayerNorm",
    "GhostBatchNorm",
    "use_ghost_batches",
    "NoisyShift",
    "noisy_batch_norm",
    "fit_recording",
    "signal_and_gradient",
    "train_mode_accuracy",
    "recompute_statistics",
]


# --------------------------------------------------------------------------- the readable equations


def _standardize(x: torch.Tensor, dim, eps: float):
    """Eqs. (1)-(2): ``(x_hat, inv_std)`` with statistics over ``dim`` (kept as size-1 dims)."""
    centred = x - x.mean(dim, keepdim=True)
    inv_std = torch.rsqrt(centred.square().mean(dim, keepdim=True) + eps)
    return centred * inv_std, inv_std


def _closed_form_dx(g: torch.Tensor, x_hat: torch.Tensor, inv_std: torch.Tensor, dim) -> torch.Tensor:
    """Eq. (4): :math:`\\delta x = \\frac1\\sigma\\big(g - \\overline{g} - \\hat x\\,\\overline{g\\hat x}\\big)`,
    bars being means over the ``n`` entries of ``dim`` that share a statistic, :math:`g = \\gamma\\,\\delta y`."""
    return inv_std * (g - g.mean(dim, keepdim=True) - x_hat * (g * x_hat).mean(dim, keepdim=True))


def _check_2d(name: str, x) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise ValueError(f"{name} must be a 2-D tensor (N, D), got {getattr(x, 'shape', type(x).__name__)}")


def _check_vector(name: str, v, size: int) -> None:
    if not isinstance(v, torch.Tensor) or tuple(v.shape) != (size,):
        raise ValueError(f"{name} must be a tensor of shape ({size},), got {getattr(v, 'shape', type(v).__name__)}")


def batch_norm_forward(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5):
    """Training-mode batch norm on (N, D), CS231n style (chapter 07, eqs. (1)-(3)).

    Parameters
    ----------
    x : Tensor, shape (N, D)
        N ≥ 2 samples of D features; statistics per feature, over the batch.
    gamma, beta : Tensor, shape (D,)
    eps : float
        :math:`\\epsilon \\ge 0`, added to the variance.

    Returns
    -------
    out : Tensor, shape (N, D)
    cache : tuple
        ``(x_hat, gamma, inv_std)`` with ``x_hat`` (N, D) and
        ``inv_std`` = :math:`1/\\sqrt{\\sigma^2+\\epsilon}` (1, D).
    """
    _check_2d("x", x)
    if x.shape[0] < 2:
        raise ValueError(f"x must hold at least 2 samples (N ≥ 2) for batch statistics, got shape {tuple(x.shape)}")
    _check_vector("gamma", gamma, x.shape[1])
    _check_vector("beta", beta, x.shape[1])
    eps = check_nonneg("eps", eps)
    x_hat, inv_std = _standardize(x, 0, eps)
    return gamma * x_hat + beta, (x_hat, gamma, inv_std)


def batch_norm_backward(dout: torch.Tensor, cache):
    """Gradients of :func:`batch_norm_forward` (chapter 07, eq. (4)).

    With :math:`N` samples, :math:`\\delta\\beta = \\sum_n \\delta y_n`,
    :math:`\\delta\\gamma = \\sum_n \\delta y_n \\hat x_n` and the compact closed form

    .. math::

        \\delta x = \\frac{1}{N}\\frac{\\gamma}{\\sigma}
                   \\Big(N\\,\\delta y - \\delta\\beta - \\hat x\\,\\delta\\gamma\\Big).

    Parameters
    ----------
    dout : Tensor, shape (N, D)
    cache : tuple
        From :func:`batch_norm_forward`.

    Returns
    -------
    dx : Tensor, shape (N, D)
    dgamma, dbeta : Tensor, shape (D,)
    """
    x_hat, gamma, inv_std = cache
    dbeta = dout.sum(0)
    dgamma = (dout * x_hat).sum(0)
    return _closed_form_dx(gamma * dout, x_hat, inv_std, 0), dgamma, dbeta


def layer_norm_forward(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5):
    """Layer norm on (N, D), CS231n style (chapter 07, eqs. (1)-(3), statistics per sample).

    Parameters
    ----------
    x : Tensor, shape (N, D)
    gamma, beta : Tensor, shape (D,)
    eps : float
        :math:`\\epsilon \\ge 0`.

    Returns
    -------
    out : Tensor, shape (N, D)
    cache : tuple
        ``(x_hat, gamma, inv_std)`` with ``x_hat`` (N, D) and ``inv_std`` (N, 1).
    """
    _check_2d("x", x)
    _check_vector("gamma", gamma, x.shape[1])
    _check_vector("beta", beta, x.shape[1])
    eps = check_nonneg("eps", eps)
    x_hat, inv_std = _standardize(x, 1, eps)
    return gamma * x_hat + beta, (x_hat, gamma, inv_std)


def layer_norm_backward(dout: torch.Tensor, cache):
    """Gradients of :func:`layer_norm_forward` (chapter 07, eq. (4) with the sums over features).

    :math:`\\delta\\beta` and :math:`\\delta\\gamma` sum over the batch as in batch norm, but the
    statistics are per sample, so the closed form runs along each row with :math:`g = \\gamma\\,\\delta y`:
    :math:`\\delta x = \\frac{1}{D\\sigma}(D g - \\sum_j g_j - \\hat x \\sum_j g_j \\hat x_j)`.

    Returns
    -------
    dx : Tensor, shape (N, D)
    dgamma, dbeta : Tensor, shape (D,)
    """
    x_hat, gamma, inv_std = cache
    dbeta = dout.sum(0)
    dgamma = (dout * x_hat).sum(0)
    return _closed_form_dx(gamma * dout, x_hat, inv_std, 1), dgamma, dbeta


# --------------------------------------------------------------------------- fast autograd Functions
#
# Plain autograd through eqs. (1)-(3) launches a dozen kernels and keeps several (N, D)
# intermediates; these Functions make fewer passes over memory and apply eq. (4) directly.


def _bn_dims(x: torch.Tensor) -> tuple:
    """Batch-norm reduction dims of an (N, C, *) tensor: every dim except the channel dim 1."""
    return (0,) + tuple(range(2, x.dim()))


def _values_per_channel(x: torch.Tensor) -> int:
    """n of eqs. (1)-(5) for batch norm: N·L or N·H·W entries share a channel's statistics."""
    return x.shape[0] * math.prod(x.shape[2:])


def _per_channel(v, x: torch.Tensor):
    """A (C,) vector viewed as (1, C, 1, ...) to broadcast against an (N, C, *) tensor."""
    return None if v is None else v.view((1, -1) + (1,) * (x.dim() - 2))


def _affine(x_hat, weight, bias):
    """Eq. (3) with optional :math:`\\gamma` and :math:`\\beta` (already shaped to broadcast)."""
    out = x_hat if weight is None else x_hat * weight
    return out if bias is None else out + bias


def _batch_norm_reference(x, weight, bias, eps):
    """Eqs. (1)-(3) for an (N, C, *) input as plain differentiable operations (used for double backward)."""
    x_hat, _ = _standardize(x, _bn_dims(x), eps)
    return _affine(x_hat, _per_channel(weight, x), _per_channel(bias, x))


def _layer_norm_reference(x, weight, bias, eps, ndim):
    """Eqs. (1)-(3) over the last ``ndim`` dims as plain differentiable operations (used for double backward)."""
    x_hat, _ = _standardize(x, tuple(range(-ndim, 0)), eps)
    return _affine(x_hat, weight, bias)


def _double_backward_grads(ctx, reference, dy, x, weight):
    """Gradients for ``(x, weight)`` when backward runs with ``create_graph=True``.

    The fast backward uses in-place kernels and statistics computed outside the graph, so its
    result cannot be differentiated again; differentiating the plain composite instead keeps
    second derivatives (gradient penalties) correct.
    """
    wanted = [t for t, need in zip((x, weight), ctx.needs_input_grad[:2]) if need]
    with torch.enable_grad():
        grads = iter(torch.autograd.grad(reference(x, weight), wanted, dy, create_graph=True))
    return tuple(next(grads) if need else None for need in ctx.needs_input_grad[:2])


def _squared_deviation(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """:math:`(x - \\mu)^2` element-wise in one kernel (``mse_loss`` without reduction is exactly that)."""
    return F.mse_loss(x, mean.expand_as(x), reduction="none")


class _BatchNormTrain(torch.autograd.Function):
    """Training-mode batch norm of an (N, C, *) input; returns ``(y, mean, biased var)``.

    Forward: the statistics (1), then :math:`y = s\\,x + t` in one pass, with per-channel
    :math:`s = \\gamma/\\sigma`, :math:`t = \\beta - \\mu s` (:math:`\\sigma = \\sqrt{\\sigma^2+\\epsilon}`).
    Backward: eq. (4) rewritten in terms of the saved input (no normalized copy is kept),

    .. math:: \\delta\\gamma = \\tfrac1\\sigma\\big(\\textstyle\\sum \\delta y\\,x - \\mu\\,\\delta\\beta\\big),
              \\qquad \\delta x = k\\,\\delta y + c\\,x + e,

    with :math:`k = \\gamma/\\sigma`, :math:`c = -k\\,\\delta\\gamma/(n\\sigma)` and
    :math:`e = -k\\,\\delta\\beta/n - c\\,\\mu`.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        dims = _bn_dims(x)
        mean = x.mean(dims, keepdim=True)
        buf = _squared_deviation(x, mean)
        var = buf.mean(dims, keepdim=True)
        inv_std = (var + eps).rsqrt_()
        scale = inv_std if weight is None else inv_std * _per_channel(weight, x)
        shift = (-mean * scale if bias is None
                 else torch.addcmul(_per_channel(bias, x), mean, scale, value=-1.0))
        out = torch.addcmul(shift, x, scale, out=buf)
        ctx.eps = eps
        ctx.save_for_backward(x, weight, mean, inv_std)
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    def backward(ctx, dy, _, __):
        x, weight, mean, inv_std = ctx.saved_tensors
        dims, need = _bn_dims(x), ctx.needs_input_grad
        if torch.is_grad_enabled():  # create_graph=True
            dx, dweight = _double_backward_grads(
                ctx, lambda x_, w_: _batch_norm_reference(x_, w_, None, ctx.eps), dy, x, weight)
            return dx, dweight, dy.sum(dims) if need[2] else None, None
        n = _values_per_channel(x)
        dbias = dy.sum(dims, keepdim=True)
        buf = torch.mul(dy, x)
        dweight = torch.addcmul(buf.sum(dims, keepdim=True), mean, dbias, value=-1.0).mul_(inv_std)
        dx = None
        if need[0]:
            k = inv_std if weight is None else inv_std * _per_channel(weight, x)
            c = (k * inv_std).mul_(dweight).mul_(-1.0 / n)
            e = torch.addcmul(torch.mul(c, mean).neg_(), k, dbias, value=-1.0 / n)
            dx = torch.addcmul(e, x, c, out=buf).addcmul_(dy, k)
        return dx, dweight.flatten() if need[1] else None, dbias.flatten() if need[2] else None, None


class _LayerNorm(torch.autograd.Function):
    """Layer norm over the last ``ndim`` dims of ``x``.

    Forward: mean, then :math:`\\sigma` from the norm of the centred rows (no squared copy), then
    eq. (3). Backward: eq. (4) per row, with the row sums :math:`\\sum_j g_j = \\delta y \\cdot \\gamma`
    and :math:`\\sum_j g_j\\hat x_j = (\\delta y \\odot \\hat x)\\cdot\\gamma` taken as matrix-vector products.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps, ndim):
        dims = tuple(range(-ndim, 0))
        x_hat = x - x.mean(dims, keepdim=True)
        norm = torch.linalg.vector_norm(x_hat, 2, dims, keepdim=True)
        inv_std = norm.square_().div_(math.prod(x.shape[-ndim:])).add_(eps).rsqrt_()
        x_hat.mul_(inv_std)
        both = weight is not None and bias is not None
        out = torch.addcmul(bias, x_hat, weight) if both else _affine(x_hat, weight, bias)
        ctx.eps, ctx.ndim = eps, ndim
        ctx.save_for_backward(x, weight, x_hat, inv_std)
        return out

    @staticmethod
    def backward(ctx, dy):
        x, weight, x_hat, inv_std = ctx.saved_tensors
        need, feature_shape = ctx.needs_input_grad, x.shape[x.dim() - ctx.ndim:]
        if torch.is_grad_enabled():  # create_graph=True
            dx, dweight = _double_backward_grads(
                ctx, lambda x_, w_: _layer_norm_reference(x_, w_, None, ctx.eps, ctx.ndim), dy, x, weight)
            return dx, dweight, dy.sum(tuple(range(x.dim() - ctx.ndim))) if need[2] else None, None, None
        d = math.prod(feature_shape)
        dy, x_hat, inv_std = dy.reshape(-1, d), x_hat.reshape(-1, d), inv_std.reshape(-1, 1)
        w = None if weight is None else weight.reshape(d)
        # each (N, D) tensor's reductions back to back, while it is still in cache
        buf = torch.mul(dy, x_hat)
        sum_g_xhat = _rows_dot(buf, w) if need[0] else None  # sum_j g_j x_hat_j, g = gamma * dy
        dweight = buf.sum(0).view(feature_shape) if need[1] else None
        minus_mean_g = _rows_dot(dy, w).mul_(-1.0 / d) if need[0] else None
        dbias = dy.sum(0).view(feature_shape) if need[2] else None
        dx = None
        if need[0]:
            centred_g = (torch.add(minus_mean_g, dy, out=buf) if w is None  # g - mean(g)
                         else torch.addcmul(minus_mean_g, dy, w, out=buf))
            dx = centred_g.addcmul_(x_hat, sum_g_xhat, value=-1.0 / d).mul_(inv_std).view(x.shape)
        return dx, dweight, dbias, None, None


def _rows_dot(t: torch.Tensor, w) -> torch.Tensor:
    """Row sums of :math:`t \\odot \\gamma` for an (N, D) ``t``, as (N, 1): one matrix-vector product."""
    return (t.sum(1) if w is None else t @ w).unsqueeze(1)


# --------------------------------------------------------------------------- functional API


def _check_tensor(name: str, x) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")


def _check_optional_vector(name: str, v, size: int) -> None:
    if v is not None:
        _check_vector(name, v, size)


def batch_norm(x: torch.Tensor, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> torch.Tensor:
    """Batch normalization (chapter 07, eqs. (1)-(3) and (5); Ioffe & Szegedy 2015).

    Same results and running-statistic updates as ``torch.nn.functional.batch_norm``.

    Parameters
    ----------
    x : Tensor, shape (N, C) or (N, C, L) or (N, C, H, W) (any (N, C, *))
        Statistics per channel ``c``, over every other dim (n = N·L or N·H·W entries).
    running_mean, running_var : Tensor of shape (C,) or None
        Running estimates :math:`\\hat\\mu, \\hat\\sigma^2`. In training they are updated in place by
        eq. (5) (the *unbiased* batch variance, :math:`\\tfrac{n}{n-1}\\sigma^2`) when given; in
        evaluation they are required and used instead of batch statistics.
    weight, bias : Tensor of shape (C,), optional
        :math:`\\gamma` and :math:`\\beta` (1 and 0 when None).
    training : bool
        Normalize with the batch statistics (biased variance, eq. (1)) and update the running ones.
    momentum : float
        :math:`m \\in [0, 1]` in eq. (5) (PyTorch's convention: the weight of the *new* batch).
    eps : float
        :math:`\\epsilon \\ge 0` in eq. (2).

    Returns
    -------
    Tensor, shape of ``x``
    """
    _check_tensor("x", x)
    if x.dim() < 2:
        raise ValueError(f"x must have shape (N, C, *) with at least 2 dims, got shape {tuple(x.shape)}")
    channels = x.shape[1]
    for name, v in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_optional_vector(name, v, channels)
    momentum = check_probability("momentum", momentum)
    eps = check_nonneg("eps", eps)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("running_mean and running_var must be tensors of shape (C,) when training=False")
        inv_std = torch.rsqrt(running_var + eps)
        scale = inv_std if weight is None else inv_std * weight
        shift = -running_mean * scale if bias is None else bias - running_mean * scale
        return torch.addcmul(_per_channel(shift, x), x, _per_channel(scale, x))
    n = _values_per_channel(x)
    if n < 2:
        raise ValueError(f"x must have more than 1 value per channel when training, got shape {tuple(x.shape)}")
    out, mean, var = _BatchNormTrain.apply(x, weight, bias, eps)
    with torch.no_grad():  # eq. (5)
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(mean.flatten(), alpha=momentum)
        if running_var is not None:
            running_var.mul_(1 - momentum).add_(var.flatten(), alpha=momentum * n / (n - 1))
    return out


def _as_shape(normalized_shape) -> tuple:
    shape = (normalized_shape,) if isinstance(normalized_shape, Integral) else normalized_shape
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if not shape or any(not isinstance(s, Integral) or isinstance(s, bool) or s < 1 for s in shape):
        raise ValueError(f"normalized_shape must be a positive int or a non-empty tuple of positive ints, "
                         f"got {normalized_shape!r}")
    return tuple(int(s) for s in shape)


def layer_norm(x: torch.Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> torch.Tensor:
    """Layer normalization (chapter 07, eqs. (1)-(3) per sample; Ba et al. 2016).

    Same as ``torch.nn.functional.layer_norm``.

    Parameters
    ----------
    x : Tensor, shape (*, *normalized_shape)
    normalized_shape : int or tuple of int
        The trailing dims that share one mean and variance, e.g. ``D`` for (N, D) or (N, T, D).
    weight, bias : Tensor of shape ``normalized_shape``, optional
        Element-wise :math:`\\gamma` and :math:`\\beta`.
    eps : float
        :math:`\\epsilon \\ge 0`.

    Returns
    -------
    Tensor, shape of ``x``
    """
    _check_tensor("x", x)
    shape = _as_shape(normalized_shape)
    if tuple(x.shape[x.dim() - len(shape):]) != shape or x.dim() < len(shape):
        raise ValueError(f"normalized_shape must match the trailing dims of x {tuple(x.shape)}, got {shape}")
    for name, v in (("weight", weight), ("bias", bias)):
        if v is not None and (not isinstance(v, torch.Tensor) or tuple(v.shape) != shape):
            raise ValueError(f"{name} must be a tensor of shape {shape}, got {getattr(v, 'shape', type(v).__name__)}")
    eps = check_nonneg("eps", eps)
    return _LayerNorm.apply(x, weight, bias, eps, len(shape))


# --------------------------------------------------------------------------- module shells


class BatchNorm(nn.Module):
    """Batch normalization layer for (N, C) or (N, C, *) inputs (chapter 07; Ioffe & Szegedy 2015).

    A drop-in replacement for ``nn.BatchNorm1d/2d/3d``: the same arguments, buffers and
    ``state_dict`` keys (``weight``, ``bias``, ``running_mean``, ``running_var``,
    ``num_batches_tracked``), so it loads their state dicts and they load its, and the same outputs
    in train and eval mode.

    Parameters
    ----------
    num_features : int
        Channels C.
    eps : float
        :math:`\\epsilon \\ge 0`.
    momentum : float or None
        :math:`m \\in [0, 1]` of eq. (5); None uses the cumulative average
        (:math:`m = 1/t` at the :math:`t`-th training batch), as PyTorch does.
    affine : bool
        Learn :math:`\\gamma` (init 1) and :math:`\\beta` (init 0).
    track_running_stats : bool
        Keep running estimates; without them eval mode also normalizes with batch statistics.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True):
        super().__init__()
        self.num_features = check_int("num_features", num_features, 1)
        self.eps = check_nonneg("eps", eps)
        self.momentum = None if momentum is None else check_probability("momentum", momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if self.affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"x must have shape (N, {self.num_features}, *), got {getattr(x, 'shape', type(x))}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or self.running_mean is None
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          training=use_batch_stats, momentum=momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class LayerNorm(nn.Module):
    """Layer normalization over the trailing ``normalized_shape`` dims (chapter 07; Ba et al. 2016).

    A drop-in replacement for ``nn.LayerNorm`` (same arguments, ``state_dict`` keys ``weight`` and
    ``bias``, same outputs); it behaves identically in train and eval mode.

    Parameters
    ----------
    normalized_shape : int or tuple of int
    eps : float
        :math:`\\epsilon \\ge 0`.
    elementwise_affine : bool
        Learn :math:`\\gamma` (init 1) and :math:`\\beta` (init 0) of shape ``normalized_shape``.
    bias : bool
        With ``elementwise_affine``, also learn :math:`\\beta`.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = check_nonneg("eps", eps)
        self.elementwise_affine = bool(elementwise_affine)
        affine = self.elementwise_affine
        self.register_parameter("weight", nn.Parameter(torch.ones(self.normalized_shape)) if affine else None)
        self.register_parameter("bias", nn.Parameter(torch.zeros(self.normalized_shape)) if affine and bias else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


# --------------------------------------------------------------------------- chapter 07's experiments


class NoisyShift(nn.Module):
    """Santurkar et al. (2018)'s "noisy BN" in miniature (chapter 07 §8).

    In training, every unit (dim 1) is rescaled by a factor from :math:`U(0.5, 1.5)` and shifted by an
    offset from :math:`\\mathcal N(0, 1)`, drawn afresh at every call (one factor and one offset per unit,
    shared by the batch), so that the distribution of the next layer's input moves at every step. In
    evaluation it does nothing. Placed after a batch-norm layer by :func:`noisy_batch_norm`.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        scale = torch.empty(x.shape[1], device=x.device).uniform_(0.5, 1.5)
        return x * scale + torch.randn(x.shape[1], device=x.device)


def noisy_batch_norm(model: nn.Sequential) -> nn.Sequential:
    """A new ``nn.Sequential`` of ``model``'s layers with a :class:`NoisyShift` after every :class:`BatchNorm`
    (chapter 07 §8); the layers themselves are shared, not copied."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"model must be an nn.Sequential, got {type(model).__name__}")
    layers = []
    for layer in model:
        layers.append(layer)
        if isinstance(layer, BatchNorm):
            layers.append(NoisyShift())
    return nn.Sequential(*layers)


class GhostBatchNorm(nn.Module):
    """Ghost batch normalization (Hoffer et al. 2017; chapter 07 §6): batch statistics per "ghost" sub-batch.

    Wraps a :class:`BatchNorm` ``bn`` for (N, C) inputs. In training, the batch is split into ``N / ghost``
    consecutive sub-batches of ``ghost`` samples, each normalized with its own mean and variance (eqs. (1)-(3)),
    with the shared :math:`\\gamma, \\beta`; smaller ``ghost`` means noisier statistics at the same batch size.
    The running statistics become the average of the sub-batches' updates (eq. (5)). In evaluation it is
    ``bn`` itself. ``N`` must be a multiple of ``ghost``.
    """

    def __init__(self, bn: BatchNorm, ghost: int):
        super().__init__()
        if not isinstance(bn, BatchNorm):
            raise ValueError(f"bn must be a reglib BatchNorm, got {type(bn).__name__}")
        self.bn, self.ghost = bn, check_int("ghost", ghost, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.bn(x)
        _check_ghost_batch(x, self.ghost)
        n, c = x.shape
        k = n // self.ghost
        # (k ghost batches × c units) as k·c channels of one batch norm over `ghost` samples
        xg = x.reshape(k, self.ghost, c).transpose(0, 1).reshape(self.ghost, k * c)
        mean, var = self.bn.running_mean.repeat(k), self.bn.running_var.repeat(k)
        out = batch_norm(xg, mean, var, self.bn.weight.repeat(k), self.bn.bias.repeat(k),
                         training=True, momentum=self.bn.momentum)
        with torch.no_grad():  # running statistics: the average over the ghost batches
            self.bn.running_mean.copy_(mean.view(k, c).mean(0))
            self.bn.running_var.copy_(var.view(k, c).mean(0))
        return out.reshape(self.ghost, k, c).transpose(0, 1).reshape(n, c)

    def extra_repr(self) -> str:
        return f"ghost={self.ghost}"


def _check_ghost_batch(x, ghost: int) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] % ghost:
        raise ValueError(f"x must have shape (N, C) with N a multiple of ghost = {ghost}, "
                         f"got {getattr(x, 'shape', type(x).__name__)}")


def use_ghost_batches(model: nn.Sequential, ghost: int) -> nn.Sequential:
    """Replace, in place, every :class:`BatchNorm` of the ``nn.Sequential`` ``model`` by a :class:`GhostBatchNorm`
    around it with sub-batches of ``ghost`` samples; returns ``model``."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"model must be an nn.Sequential, got {type(model).__name__}")
    ghost = check_int("ghost", ghost, 2)
    for i, layer in enumerate(model):
        if isinstance(layer, BatchNorm):
            model[i] = GhostBatchNorm(layer, ghost)
    return model


def fit_recording(model: nn.Module, train, *, record=nn.Sigmoid, **fit_kwargs) -> dict:
    """Train with :func:`reglib.train.fit` and record, at every step, what chapter 07 (§1, §5, §8) measures.

    ``fit(model, train, loss_fn=..., **fit_kwargs)`` trains exactly as it would without the recording (which
    draws no random numbers), with ``fit_kwargs["loss_fn"]`` or cross-entropy as the loss.

    Returns
    -------
    dict
        ``"losses"``: numpy array, the loss of every training batch, in order; ``"unit_means"``: tensor
        (steps, layers, units), for each module of type ``record`` (in the order of ``model.modules()``; all
        of the same width) each unit's output averaged over the training batch, at each step;
        ``"cpu_seconds"``: the process CPU time the training took.
    """
    import time

    from .train import fit

    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    base_loss = fit_kwargs.pop("loss_fn", None) or F.cross_entropy
    losses, means = [], []

    def loss_fn(logits, y):
        loss = base_loss(logits, y)
        if logits.requires_grad:  # a training step (evaluations run without gradients)
            losses.append(loss.item())
        return loss

    def record_mean(module, inputs, output):
        if module.training:
            means.append(output.detach().mean(0))

    hooks = [m.register_forward_hook(record_mean) for m in model.modules() if isinstance(m, record)]
    try:
        start = time.process_time()
        fit(model, train, loss_fn=loss_fn, **fit_kwargs)
        cpu_seconds = time.process_time() - start
    finally:
        for hook in hooks:
            hook.remove()
    unit_means = torch.stack(means).view(len(losses), len(hooks), -1) if means else torch.empty(len(losses), 0, 0)
    return {"losses": np.asarray(losses), "unit_means": unit_means, "cpu_seconds": cpu_seconds}


def signal_and_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, activation=nn.Sigmoid):
    """What one batch does to a network, layer by layer (chapter 07 §1).

    Runs ``x`` through ``model`` (in its current mode) and backpropagates the cross-entropy with ``y``.

    Returns
    -------
    spread : list of float
        For each module of type ``activation``, in order: the std across the batch of each unit's output,
        averaged over the units (how much the signals still differ after that layer).
    gradient : list of float
        For each ``nn.Linear``, in order: the norm of its weight gradient. ``model``'s gradients are overwritten.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    outputs = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: outputs.append(out.detach()))
             for m in model.modules() if isinstance(m, activation)]
    try:
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
    finally:
        for hook in hooks:
            hook.remove()
    return ([out.std(0).mean().item() for out in outputs],
            [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Linear)])


@torch.no_grad()
def train_mode_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int | None = None) -> float:
    """Accuracy of ``model`` (wrongly) left in training mode (chapter 07 §7), on batches of ``batch_size``
    consecutive samples, or, with ``batch_size=None``, on batches that each hold the samples of one class.

    Works on a deep copy, because a training-mode forward pass updates batch norm's running statistics;
    ``model`` itself is left untouched.
    """
    import copy

    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1)
    model = copy.deepcopy(model).train()
    device = next(model.parameters()).device
    x, y = x.to(device), y.to(device)
    if batch_size is None:
        batches = [y == c for c in torch.unique(y)]
    else:
        batches = [slice(i, i + batch_size) for i in range(0, len(y), batch_size)]
    return sum((model(x[b]).argmax(1) == y[b]).sum().item() for b in batches) / len(y)


@torch.no_grad()
def recompute_statistics(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """A copy of ``model`` in eval mode whose :class:`BatchNorm` running statistics are recomputed from ``x``,
    with every other layer (dropout included) in eval mode (chapter 07 §9, the fix for the variance shift).

    One pass over all of ``x`` as a single batch, the batch-norm layers in training mode with the cumulative
    average (momentum ``None``): each running mean and (unbiased, eq. (5)) variance becomes the statistic of
    ``x`` as the layer sees it in that pass, where the batch-norm layers before it normalize with the batch's
    own statistics (these differ from the recomputed running ones only by the variance's factor n/(n - 1)).
    """
    import copy

    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor of inputs, got {type(x).__name__}")
    model = copy.deepcopy(model).eval()
    for layer in model.modules():
        if isinstance(layer, BatchNorm):
            layer.reset_running_stats()
            layer.momentum = None  # cumulative average: one pass over x gives x's statistics exactly
            layer.train()
    model(x.to(next(model.parameters()).device))
    return model.eval()
