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

__all__ = ["max_norm_", "MaxNorm", "project_l2_ball_", "clip_grad_norm_", "unit_norms", "ClippedOptimizer",
           "UnitNormTrace", "dead_units"]


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


@torch.no_grad()
def unit_norms(model: nn.Module) -> dict:
    r"""The L2 norm of every unit's incoming weights, :math:`\|w_i\|_2`, per layer (chapter 04, eq. (4)).

    Covers the layers :class:`MaxNorm` constrains (every ``nn.Linear`` and convolution), with the
    same notion of unit (a row of a Linear weight, an output channel of a convolution).

    Parameters
    ----------
    model : nn.Module

    Returns
    -------
    dict
        ``{"<module name>.weight": Tensor of shape (n_units,)}`` in the order of ``model.named_modules()``;
        the norms are detached and on the weight's device.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    out = {}
    for name, module in model.named_modules():
        dim = _unit_dim(module)
        weight = getattr(module, "weight", None)
        if dim is None or not isinstance(weight, torch.Tensor) or weight.ndim <= dim:
            continue
        others = [d for d in range(weight.ndim) if d != dim]
        norms = torch.linalg.vector_norm(weight, dim=others) if others else weight.abs()
        out[f"{name}.weight" if name else "weight"] = norms.detach()
    return out


class ClippedOptimizer:
    r"""An optimizer that clips the joint gradient norm before every step (chapter 04, eq. (6)).

    Wraps a built ``torch.optim.Optimizer``: :meth:`step` computes the gradients (through the
    closure, when one is given), rescales them with :func:`clip_grad_norm_` and then steps the wrapped
    optimizer. It plugs into :func:`reglib.train.fit` as an optimizer factory::

        fit(model, train, optimizer=lambda params: ClippedOptimizer(torch.optim.SGD(params, lr=0.3), 1.0))

    Clipping bounds the length of each update (:math:`\le` lr · ``max_norm`` for plain SGD); it
    does not bound the weights, and it leaves the stationary points of the loss unchanged.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The optimizer that takes the steps. Optimizers that must evaluate the loss themselves
        (:class:`reglib.optim.SAM`) are not supported: the closure is called once, here.
    max_norm : float
        :math:`c \ge 0`, the largest gradient norm let through.

    Attributes
    ----------
    num_steps, num_clipped : int
        Steps taken, and how many of them had their gradient rescaled (norm above ``max_norm``).
    last_norm : float or None
        Gradient norm before clipping at the last step.
    """

    def __init__(self, optimizer, max_norm: float):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.max_norm = check_nonneg("max_norm", max_norm)
        self.num_steps = 0
        self.num_clipped = 0
        self.last_norm = None

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    @property
    def state(self):
        return self.optimizer.state

    def _params(self):
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        """Evaluate ``closure`` (if given), clip the gradients, step; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = [p for p in self._params() if p.grad is not None]
        if params:
            norm = float(clip_grad_norm_(params, self.max_norm))
            self.last_norm = norm
            self.num_clipped += int(norm > self.max_norm)
        self.num_steps += 1
        self.optimizer.step()
        return loss

    @property
    def fraction_clipped(self) -> float:
        """Fraction of the steps so far whose gradient was rescaled (NaN before the first step)."""
        return self.num_clipped / self.num_steps if self.num_steps else float("nan")

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.optimizer.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return (f"ClippedOptimizer({type(self.optimizer).__name__}, max_norm={self.max_norm}; "
                f"{self.num_clipped}/{self.num_steps} steps clipped)")


class UnitNormTrace:
    """A ``fit`` constraint hook that applies ``inner`` (a constraint such as :class:`MaxNorm`, or nothing)
    and records the largest unit norm :math:`\\max_i \\|w_i\\|` of the model every ``every`` steps (chapter 04).

    ``fit(model, ..., constraint=trace)``; afterwards ``trace.values`` holds one number per ``every`` steps.
    """

    def __init__(self, inner=None, every: int = 20):
        if inner is not None and not callable(inner):
            raise ValueError(f"inner must be a constraint (callable model -> None) or None, got {type(inner).__name__}")
        self.inner, self.every, self.calls, self.values = inner, check_int("every", every, 1), 0, []

    def __call__(self, model: nn.Module) -> None:
        if self.inner is not None:
            self.inner(model)
        self.calls += 1
        if self.calls % self.every == 0:
            self.values.append(torch.cat(list(unit_norms(model).values())).max().item())


@torch.no_grad()
def dead_units(model: nn.Module, x: torch.Tensor) -> list:
    """For each ``nn.ReLU`` of ``model`` in order, the fraction of its units that output 0 on every input of
    the batch ``x`` ("dead" ReLUs: no gradient reaches their incoming weights through these inputs)."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    outputs = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out))
             for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return [(h <= 0).all(0).float().mean().item() for h in outputs]
