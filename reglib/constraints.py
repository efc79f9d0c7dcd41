r"""Norm constraints: max-norm, projection onto an L2 ball, and gradient clipping (chapter 04).

A penalty adds :math:`\lambda\Omega(w)` to the loss; a constraint keeps :math:`\Omega(w) \le c` by
projecting the weights back after every optimizer step (projected gradient descent). Max-norm
(Srivastava et al. 2014) constrains each unit's incoming weight vector separately,
:math:`\|w_i\|_2 \le c`. Gradient clipping rescales the *gradient*, not the weights: it limits the
step, not the solution, and is shown here for contrast.

All functions work in place under ``torch.no_grad()`` and keep the device and dtype of their input.
"""

from __future__ import annotations

import torch
from torch import nn

from ._validate import check_int, check_nonneg, check_positive
from .penalties import _as_tensor_list

__all__ = ["max_norm_", "MaxNorm", "project_l2_ball_", "clip_grad_norm_"]


def _check_tensor(name: str, value, min_ndim: int = 0) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {tuple(value.shape)}")
    return value


def _clip_factor(norm: torch.Tensor, bound: float) -> torch.Tensor:
    r""":math:`\min(1, c / \|w\|)`: exactly 1 where :math:`\|w\| \le c` (a zero norm gives 1, not NaN)."""
    return (bound / norm).clamp(max=1.0)


@torch.no_grad()
def max_norm_(weight: torch.Tensor, max_norm: float, dim: int = 0) -> torch.Tensor:
    r"""Max-norm constraint, in place: :math:`w_i \leftarrow w_i \min(1, c / \|w_i\|_2)` (chapter 04, eq. (4)).

    Each slice ``weight[i]`` along ``dim`` is a unit's incoming weight vector: a row of a Linear
    weight of shape (out, in), an output channel's filter of a conv weight of shape (out, in, *k).
    Slices whose L2 norm exceeds ``max_norm`` are rescaled to norm ``max_norm``; the others are
    left bit-for-bit unchanged. This is ``torch.renorm(weight, 2, dim, max_norm)`` without its
    1e-7 in the denominator.

    Parameters
    ----------
    weight : Tensor, at least 1-D
        Modified in place (no autograd history is recorded).
    max_norm : float
        The bound :math:`c > 0` (Srivastava et al. 2014 use 3-4).
    dim : int
        The dimension that indexes the units (0 for ``nn.Linear`` and ``nn.ConvNd``).

    Returns
    -------
    Tensor
        ``weight`` itself.
    """
    weight = _check_tensor("weight", weight, min_ndim=1)
    max_norm = check_positive("max_norm", max_norm)
    dim = check_int("dim", dim, -weight.ndim, weight.ndim - 1) % weight.ndim
    others = [d for d in range(weight.ndim) if d != dim]
    norms = torch.linalg.vector_norm(weight, dim=others, keepdim=True) if others else weight.abs()
    return weight.mul_(_clip_factor(norms, max_norm))


@torch.no_grad()
def project_l2_ball_(tensor: torch.Tensor, radius: float) -> torch.Tensor:
    r"""Euclidean projection of the whole tensor onto :math:`\{w: \|w\|_2 \le r\}`, in place
    (chapter 04, eq. (2)): :math:`w \leftarrow w \min(1, r / \|w\|_2)`.

    Used after each gradient step, this is projected gradient descent on the constrained problem
    :math:`\min L(w)` s.t. :math:`\|w\|_2 \le r`.

    Parameters
    ----------
    tensor : Tensor
        Any shape; modified in place.
    radius : float
        :math:`r > 0`.

    Returns
    -------
    Tensor
        ``tensor`` itself.
    """
    tensor = _check_tensor("tensor", tensor)
    radius = check_positive("radius", radius)
    return tensor.mul_(_clip_factor(torch.linalg.vector_norm(tensor), radius))


def _unit_dim(module: nn.Module) -> int | None:
    """The weight dimension that indexes output units, or ``None`` for layers max-norm skips."""
    if isinstance(module, nn.Linear):
        return 0
    if isinstance(module, nn.modules.conv._ConvNd):
        if not module.transposed:
            return 0
        if module.groups == 1:
            return 1  # ConvTransposeNd stores (in, out, *k)
        raise ValueError("MaxNorm does not support grouped transposed convolutions "
                         f"(got {type(module).__name__} with groups={module.groups})")
    return None


class MaxNorm:
    """Max-norm on every ``nn.Linear`` and convolution of a model (chapter 04, eq. (4)).

    Call it after each optimizer step; it is the ``constraint`` hook of :func:`reglib.train.fit`::

        fit(model, train, val, constraint=MaxNorm(3.0))

    Parameters
    ----------
    max_norm : float
        The bound :math:`c > 0` on each unit's incoming weight norm.
    names : tuple of str
        Names of the parameters to constrain on each such layer (default: the weight; biases
        are not constrained).

    Notes
    -----
    Convolutions are constrained per output channel (dim 0; dim 1 for transposed convolutions).
    """

    def __init__(self, max_norm: float, names=("weight",)):
        self.max_norm = check_positive("max_norm", max_norm)
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"names must be a tuple of parameter names, got {names!r}")
        self.names = tuple(names)

    def __call__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        for module in model.modules():
            dim = _unit_dim(module)
            if dim is None:
                continue
            for name in self.names:
                param = getattr(module, name, None)
                if isinstance(param, torch.Tensor) and param.ndim > dim:
                    max_norm_(param, self.max_norm, dim=dim)

    def __repr__(self) -> str:
        return f"MaxNorm(max_norm={self.max_norm}, names={self.names})"


@torch.no_grad()
def clip_grad_norm_(params, max_norm: float) -> torch.Tensor:
    r"""Rescale gradients so that their joint L2 norm is at most ``max_norm`` (chapter 04, eq. (6)).

    :math:`g \leftarrow g \min\left(1, \frac{c}{\|g\|_2 + 10^{-6}}\right)` with :math:`\|g\|_2` the norm
    of all gradients concatenated; the same as ``torch.nn.utils.clip_grad_norm_`` (including its
    1e-6). Unlike max-norm it changes the step, not the weights.

    Parameters
    ----------
    params : Tensor, nn.Module or iterable of Tensor
        Parameters whose ``.grad`` is rescaled in place; those without a gradient are skipped.
    max_norm : float
        :math:`c \ge 0`.

    Returns
    -------
    Tensor
        The total gradient norm before clipping (0-dim; ``tensor(0.)`` when there are no gradients).
    """
    max_norm = check_nonneg("max_norm", max_norm)
    grads = [p.grad for p in _as_tensor_list(params) if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    device = grads[0].device
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g).to(device) for g in grads]))
    factor = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(factor.to(g.device, g.dtype))
    return total
