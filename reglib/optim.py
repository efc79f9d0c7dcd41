"""Optimizers as regularizers: SGD, Adam with L2 or decoupled weight decay, SAM (chapter 11).

Every optimizer here is a ``torch.optim.Optimizer`` (param groups, ``state_dict``, ``zero_grad``,
closures) whose ``step`` reads like the update it implements. Notation (chapter 11, table 1):
parameters :math:`\\theta`, gradient :math:`g = \\nabla_\\theta L`, learning rate :math:`\\eta`,
weight decay :math:`\\lambda`, step counter :math:`t = 1, 2, \\dots`.

SGD with momentum (eq. (1))::

    g ← g + λ θ                      (L2 penalty λ/2‖θ‖², coupled)
    b ← g            if t = 1
    b ← μ b + (1 − τ) g   otherwise  (momentum μ, dampening τ)
    d ← g + μ b  (Nesterov)  or  d ← b
    θ ← θ − η d

Adam (Kingma & Ba 2015) with L2 (eq. (2)) or decoupled weight decay, AdamW
(Loshchilov & Hutter 2019, eq. (3))::

    g ← g + λ θ          (Adam + L2: the penalty passes through the moments)
    θ ← θ − η λ θ        (AdamW: decay applied to the weights directly)
    m ← β₁ m + (1 − β₁) g
    v ← β₂ v + (1 − β₂) g²
    θ ← θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

Sharpness-aware minimization (Foret et al. 2021, eq. (4))::

    e = ρ g / ‖g‖                    (‖·‖ over all parameters together)
    g_SAM = ∇L(θ + e)
    θ ← base_step(θ, g_SAM)

Also for chapter 11: :func:`modified_loss` (the implicit regularizer of gradient descent, eq. (6)),
:func:`gradient_flow` (the flow it is compared with) and :func:`train_lockstep` (many Adam settings trained
side by side from one initialization, for §4's learning-rate × λ grid).

The arithmetic follows PyTorch's order of floating-point operations, so the results agree with
``torch.optim`` step for step, not just approximately. The per-parameter updates use
``torch._foreach_*`` operations (one call updates a whole list of tensors), which is what makes
them as fast as PyTorch's own implementations.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.optim import Optimizer

from ._validate import check_int, check_nonneg, check_range

__all__ = ["SGD", "Adam", "AdamW", "SAM", "modified_loss", "gradient_flow", "train_lockstep"]


def _check_betas(betas) -> tuple[float, float]:
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair (beta1, beta2) in [0, 1), got {betas!r}") from None
    return (check_range("betas[0]", beta1, 0.0, 1.0, high_open=True),
            check_range("betas[1]", beta2, 0.0, 1.0, high_open=True))


def _with_grads(group: dict) -> list[torch.Tensor]:
    """The parameters of a group that received a gradient."""
    for p in group["params"]:
        if p.grad is not None and p.grad.is_sparse:
            raise ValueError("sparse gradients are not supported by reglib optimizers")
    return [p for p in group["params"] if p.grad is not None]


def _closure_loss(closure: Callable | None):
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class _GradientStep(Optimizer):
    """What SGD and Adam share: a ``step`` that evaluates the closure, then hands each group's parameters
    that have gradients to ``_update(params, grads, group)``; and param groups whose ``_NONNEG``
    hyperparameters are checked to be >= 0."""

    _NONNEG: tuple[str, ...] = ()

    def add_param_group(self, param_group: dict) -> None:
        for key in self._NONNEG:
            if key in param_group:
                param_group[key] = check_nonneg(key, param_group[key])
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss (or None)."""
        loss = _closure_loss(closure)
        for group in self.param_groups:
            params = _with_grads(group)
            if params:
                self._update(params, [p.grad for p in params], group)
        return loss

    def _update(self, params, grads, group) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------- SGD


class SGD(_GradientStep):
    """Stochastic gradient descent with momentum and coupled weight decay (chapter 11, eq. (1)).

    Equal to ``torch.optim.SGD`` with the same arguments, step for step.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or param groups (dicts) with their own hyperparameters.
    lr : float
        Learning rate :math:`\\eta \\ge 0`.
    momentum : float
        :math:`\\mu \\ge 0`.
    weight_decay : float
        :math:`\\lambda \\ge 0`; adds :math:`\\lambda\\theta` to the gradient (the gradient of
        :math:`\\tfrac{\\lambda}{2}\\lVert\\theta\\rVert^2`, chapter 01).
    dampening : float
        :math:`\\tau \\ge 0`, scales down the new gradient in the momentum buffer (not on the first step).
    nesterov : bool
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    """

    _NONNEG = ("lr", "momentum", "weight_decay", "dampening")

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False):
        defaults = {"lr": check_nonneg("lr", lr), "momentum": check_nonneg("momentum", momentum),
                    "weight_decay": check_nonneg("weight_decay", weight_decay),
                    "dampening": check_nonneg("dampening", dampening), "nesterov": bool(nesterov)}
        if nesterov and (defaults["momentum"] == 0 or defaults["dampening"] != 0):
            raise ValueError("nesterov=True requires momentum > 0 and dampening == 0, "
                             f"got momentum={momentum!r}, dampening={dampening!r}")
        super().__init__(params, defaults)

    def _update(self, params, grads, group) -> None:
        lr, mu, wd, tau = group["lr"], group["momentum"], group["weight_decay"], group["dampening"]
        if wd != 0:  # g ← g + λθ
            grads = torch._foreach_add(grads, params, alpha=wd)
        if mu != 0:
            buffers = [self._momentum_buffer(p, g, mu, tau) for p, g in zip(params, grads)]
            if group["nesterov"]:  # d ← g + μb
                grads = torch._foreach_add(grads, buffers, alpha=mu)
            else:  # d ← b
                grads = buffers
        torch._foreach_add_(params, grads, alpha=-lr)  # θ ← θ − ηd

    def _momentum_buffer(self, p, g, mu, tau) -> torch.Tensor:
        """b ← g on the first step, else b ← μb + (1 − τ)g."""
        state = self.state[p]
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = g.detach().clone()
        else:
            buf.mul_(mu).add_(g, alpha=1 - tau)
        return buf


# --------------------------------------------------------------------------- Adam / AdamW


class Adam(_GradientStep):
    """Adam with L2 regularization or decoupled weight decay (chapter 11, eqs. (2)-(3)).

    ``decoupled=False`` equals ``torch.optim.Adam`` (the penalty gradient :math:`\\lambda\\theta`
    is added to :math:`g` before the moments, so adaptive scaling also rescales the decay);
    ``decoupled=True`` equals ``torch.optim.AdamW`` (Loshchilov & Hutter 2019: the weights shrink
    by :math:`1 - \\eta\\lambda` before the Adam step, independently of the gradient's scale).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or param groups with their own hyperparameters.
    lr : float
        :math:`\\eta \\ge 0`.
    betas : (float, float)
        Moment decay rates :math:`\\beta_1, \\beta_2 \\in [0, 1)`.
    eps : float
        :math:`\\epsilon \\ge 0`, added to the denominator.
    weight_decay : float
        :math:`\\lambda \\ge 0`. Default 0 for both forms (``torch.optim.AdamW`` defaults to 0.01).
    decoupled : bool
        L2 through the moments (False) or decoupled weight decay (True).

    State per parameter: ``step`` (int :math:`t`), ``exp_avg`` (:math:`m`), ``exp_avg_sq`` (:math:`v`).
    """

    _NONNEG = ("lr", "eps", "weight_decay")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled: bool = False):
        defaults = {"lr": check_nonneg("lr", lr), "betas": _check_betas(betas), "eps": check_nonneg("eps", eps),
                    "weight_decay": check_nonneg("weight_decay", weight_decay), "decoupled": bool(decoupled)}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        if "betas" in param_group:
            param_group["betas"] = _check_betas(param_group["betas"])
        super().add_param_group(param_group)

    def _moments(self, params) -> tuple[list, list, list]:
        """``(t, m, v)`` per parameter after advancing the step counter, creating zero moments at t = 0."""
        steps, ms, vs = [], [], []
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] = int(state["step"]) + 1  # int() also accepts torch.optim.Adam's tensor counter
            steps.append(state["step"])
            ms.append(state["exp_avg"])
            vs.append(state["exp_avg_sq"])
        return steps, ms, vs

    def _update(self, params, grads, group) -> None:
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        steps, m, v = self._moments(params)
        if wd != 0:
            if group["decoupled"]:  # θ ← θ − ηλθ
                torch._foreach_mul_(params, 1 - lr * wd)
            else:  # g ← g + λθ
                grads = torch._foreach_add(grads, params, alpha=wd)
        torch._foreach_lerp_(m, grads, 1 - beta1)  # m ← β₁m + (1 − β₁)g
        torch._foreach_mul_(v, beta2)  # v ← β₂v + (1 − β₂)g²
        torch._foreach_addcmul_(v, grads, grads, 1 - beta2)
        # θ ← θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
        step_size = [-lr / (1 - beta1 ** t) for t in steps]
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, [(1 - beta2 ** t) ** 0.5 for t in steps])
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, m, denom, step_size)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``Adam(..., decoupled=True)`` (chapter 11, eq. (3)).

    Equal to ``torch.optim.AdamW`` with the same arguments; note that ``weight_decay`` defaults to
    0 here (PyTorch's default is 0.01).
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled=True)


# --------------------------------------------------------------------------- SAM


class SAM(Optimizer):
    """Sharpness-aware minimization around any base optimizer (chapter 11, eq. (4)).

    Foret et al. (2021) minimise :math:`\\max_{\\lVert e\\rVert \\le \\rho} L(\\theta + e)`; to first
    order the inner maximiser is :math:`\\hat e = \\rho\\, g / \\lVert g\\rVert_2` (the norm taken over all
    parameters together), and the update uses the gradient at :math:`\\theta + \\hat e`. With
    ``adaptive=True`` (ASAM, Kwon et al. 2021) the perturbation is scaled per weight,
    :math:`\\hat e = \\rho\\, \\theta^2 g / \\lVert \\lvert\\theta\\rvert g\\rVert_2`.

    Parameters
    ----------
    params : iterable of Tensor or of dict
    base_optimizer : type or callable
        An optimizer class (or factory) called as ``base_optimizer(param_groups, **kwargs)``; it shares
        SAM's param groups, so schedulers and ``zero_grad`` act on both.
    rho : float
        Neighbourhood radius :math:`\\rho \\ge 0`; ``rho=0`` gives exactly the base optimizer.
    adaptive : bool
        ASAM's scale-invariant neighbourhood.
    **kwargs
        Hyperparameters of the base optimizer (``lr``, ``momentum``, ...).

    Notes
    -----
    ``step(closure)`` needs the closure (zero the grads, compute the loss, ``backward``, return the
    loss) and calls it twice: each step costs two forward and two backward passes.
    """

    def __init__(self, params, base_optimizer, rho: float = 0.05, adaptive: bool = False, **kwargs):
        if not callable(base_optimizer):
            raise ValueError(f"base_optimizer must be an optimizer class or factory, got {base_optimizer!r}")
        defaults = {"rho": check_nonneg("rho", rho), "adaptive": bool(adaptive), **kwargs}
        super().__init__(params, defaults)
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self._share_base()
        self.defaults.update(self.base_optimizer.defaults)

    def _share_base(self) -> None:
        self.param_groups = self.base_optimizer.param_groups
        self.state = self.base_optimizer.state

    def add_param_group(self, param_group: dict) -> None:
        if "rho" in param_group:
            param_group["rho"] = check_nonneg("rho", param_group["rho"])
        if hasattr(self, "base_optimizer"):  # a group added after construction goes to the base too
            for key, value in self.defaults.items():
                param_group.setdefault(key, value)
            self.base_optimizer.add_param_group(param_group)
        else:
            super().add_param_group(param_group)

    def load_state_dict(self, state_dict: dict) -> None:
        self.base_optimizer.load_state_dict(state_dict)
        self._share_base()

    def _grad_norm(self) -> torch.Tensor:
        """:math:`\\lVert g\\rVert_2` (or :math:`\\lVert\\lvert\\theta\\rvert g\\rVert_2`) over every parameter."""
        norms = [((p.abs() * p.grad) if group["adaptive"] else p.grad).norm(2)
                 for group in self.param_groups for p in _with_grads(group)]
        if not norms:
            return torch.tensor(0.0)
        return torch.linalg.vector_norm(torch.stack([n.to(norms[0].device) for n in norms]), 2)

    @torch.no_grad()
    def perturbation(self) -> dict:
        """The ascent step :math:`\\hat e = \\rho\\, g/\\lVert g\\rVert` for every parameter with a gradient.

        Returns a dict ``param -> e`` (the current ``.grad`` must hold :math:`\\nabla L(\\theta)`).
        """
        norm = self._grad_norm().clamp_min(1e-12)
        perturb = {}
        for group in self.param_groups:
            for p in _with_grads(group):
                direction = p.grad * p.pow(2) if group["adaptive"] else p.grad
                perturb[p] = direction * (group["rho"] / norm.to(p.device))
        return perturb

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        """One SAM step; returns the loss at the current (unperturbed) weights.

        ``closure`` is required: it is called at :math:`\\theta` and again at :math:`\\theta + \\hat e`.
        """
        if closure is None:
            raise ValueError("closure is required: SAM evaluates the loss at two points per step")
        loss = _closure_loss(closure)  # g = ∇L(θ)
        perturb = self.perturbation()  # e = ρ g / ‖g‖
        theta = {p: p.clone() for p in perturb}
        for p, e in perturb.items():
            p.add_(e)  # θ + e
        _closure_loss(closure)  # g_SAM = ∇L(θ + e)
        for p, saved in theta.items():
            p.copy_(saved)  # back to θ exactly
        self.base_optimizer.step()  # θ ← base_step(θ, g_SAM)
        return loss


# --------------------------------------------------------------------------- implicit regularization


def modified_loss(loss: torch.Tensor, params, lr: float) -> torch.Tensor:
    """The modified loss of gradient descent, :math:`\\tilde L = L + \\tfrac{\\eta}{4}\\lVert\\nabla L\\rVert^2`
    (chapter 11, eq. (6)).

    One step of gradient descent with step size :math:`\\eta` (``lr``) stays within
    :math:`O(\\eta^3)` of the gradient flow of :math:`\\tilde L` run for time :math:`\\eta`, but only
    within :math:`O(\\eta^2)` of the flow of :math:`L` itself (Barrett & Dherin 2021; Smith et al. 2021):
    finite steps implicitly penalise the squared gradient norm. Its gradient is
    :math:`\\nabla L + \\tfrac{\\eta}{2} H \\nabla L` with :math:`H` the Hessian of :math:`L`.

    Parameters
    ----------
    loss : Tensor
        0-dim tensor :math:`L(\\theta)` with its autograd graph (not yet backpropagated).
    params : iterable of Tensor
        The parameters :math:`\\theta` the gradient is taken with respect to (``requires_grad``).
    lr : float
        Step size :math:`\\eta \\ge 0`; ``lr=0`` returns ``loss`` unchanged.

    Returns
    -------
    Tensor
        0-dim, differentiable with respect to ``params`` (the gradient is built with ``create_graph=True``).
    """
    lr = check_nonneg("lr", lr)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError(f"loss must be a one-element tensor, got {type(loss).__name__}"
                         + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""))
    params = [p for p in params]
    if not params or not all(isinstance(p, torch.Tensor) and p.requires_grad for p in params):
        raise ValueError("params must be a non-empty iterable of tensors with requires_grad=True")
    if lr == 0:
        return loss.reshape(())
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    sq_norm = sum((g.pow(2).sum() for g in grads if g is not None), torch.zeros((), dtype=loss.dtype,
                                                                                 device=loss.device))
    return loss.reshape(()) + lr / 4 * sq_norm


def _gradient(loss_fn, theta: torch.Tensor) -> torch.Tensor:
    theta = theta.detach().requires_grad_()
    return torch.autograd.grad(loss_fn(theta), theta)[0]


def gradient_flow(loss_fn, theta: torch.Tensor, duration: float, substeps: int = 20) -> torch.Tensor:
    """The gradient flow :math:`\\dot\\theta = -\\nabla L(\\theta)` run for time ``duration`` from ``theta``
    (chapter 11, §6), by the classical fourth-order Runge–Kutta method with ``substeps`` equal steps.

    Chapter 11 compares one gradient-descent step of size :math:`\\alpha` with the flow of :math:`L` and with
    the flow of the modified loss (:func:`modified_loss`), both run for time :math:`\\alpha`. The integration
    error is :math:`O(h^4)` per unit time with :math:`h` = ``duration / substeps``, far below the
    :math:`O(\\alpha^3)` differences measured there (use float64).

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(theta) -> 0-dim tensor``, differentiable in the flat parameter vector ``theta``.
    theta : Tensor
        The starting point (not modified).
    duration : float
        Time to run the flow, >= 0.
    substeps : int
        Runge–Kutta steps, >= 1.

    Returns
    -------
    Tensor
        :math:`\\theta(\\text{duration})`, detached, with ``theta``'s shape and dtype.
    """
    duration = check_nonneg("duration", duration)
    substeps = check_int("substeps", substeps, 1)
    h = duration / substeps
    theta = theta.detach()
    for _ in range(substeps):
        k1 = -_gradient(loss_fn, theta)
        k2 = -_gradient(loss_fn, theta + h / 2 * k1)
        k3 = -_gradient(loss_fn, theta + h / 2 * k2)
        k4 = -_gradient(loss_fn, theta + h * k3)
        theta = theta + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return theta


# --------------------------------------------------------------------------- many settings in lockstep


def _linear_layers(model) -> list:
    """The ``nn.Linear`` layers of a plain ReLU MLP (``nn.Sequential`` of Flatten, Linear and ReLU only)."""
    from torch import nn

    layers = list(model) if isinstance(model, nn.Sequential) else []
    kinds = [type(layer) for layer in layers if not isinstance(layer, nn.Flatten)]
    names = [kind.__name__ for kind in kinds]
    if not kinds or kinds[-1] is not nn.Linear or kinds[::2] != [nn.Linear] * len(kinds[::2]) \
            or kinds[1::2] != [nn.ReLU] * len(kinds[1::2]):
        raise ValueError("make_model must build an nn.Sequential of Linear layers with ReLU between them "
                         f"(reglib.models.MLP without dropout or normalization), got {names or model!r}")
    return [layer for layer in layers if isinstance(layer, nn.Linear)]


def train_lockstep(make_model, settings, x: torch.Tensor, y: torch.Tensor, *, seed: int, steps: int,
                   batch_size: int = 100) -> list:
    """Train one ReLU MLP per Adam setting, all from the same initialization on the same batches, side by side
    (chapter 11, §4: a learning-rate × λ grid).

    Each run is what ``fit(model, (x, y), optimizer=lambda p: Adam(p, **setting), seed=seed, max_steps=steps,
    batch_size=batch_size)`` gives on the CPU, up to float rounding (``tests/test_optim.py`` checks it): the
    batches are drawn by a generator seeded with ``seed``, reshuffled every epoch. The runs share one
    :class:`Adam` with one param group per run (a group carries its own ``lr``, ``weight_decay`` and
    ``decoupled``), and their forward passes are one batched matrix product per layer; the loss is the sum of
    the runs' mean cross-entropies, so each run's gradient is its own.

    Parameters
    ----------
    make_model : callable
        ``make_model() -> nn.Sequential`` of ``Linear`` layers with ``ReLU`` between them (e.g.
        ``lambda: MLP(40, 10, hidden=(100, 100))``); called after ``set_seed(seed)`` for every run.
    settings : sequence of dict
        Keyword arguments of :class:`Adam` for each run, e.g. ``{"lr": 1e-2, "weight_decay": 0.1,
        "decoupled": True}``.
    x, y : Tensor
        Training inputs ``(N, in_features)`` and class indices ``(N,)``.
    seed : int
        Seeds the initialization and the order of the batches.
    steps : int
        Optimizer steps, >= 1.
    batch_size : int
        Samples per batch, >= 1 (the last batch of an epoch may be smaller).

    Returns
    -------
    list of nn.Module
        The trained models, in the order of ``settings``.
    """
    import torch.nn.functional as F

    from .utils import set_seed

    settings = list(settings)
    if not settings:
        raise ValueError("settings must hold at least one dict of Adam arguments, got none")
    steps, batch_size = check_int("steps", steps, 1), check_int("batch_size", batch_size, 1)
    models = []
    for _ in settings:
        set_seed(seed)
        models.append(make_model())
    linears = [_linear_layers(m) for m in models]
    opt = Adam([{"params": m.parameters(), **setting} for m, setting in zip(models, settings)])
    gen = torch.Generator().manual_seed(seed)
    n, step = len(y), 0
    while step < steps:
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            h = x[idx].expand(len(models), -1, -1)  # (runs, batch, in_features)
            for j in range(len(linears[0])):  # Linear → ReLU → ... → Linear, all runs at once
                W = torch.stack([layers[j].weight for layers in linears])
                b = torch.stack([layers[j].bias for layers in linears])
                h = torch.baddbmm(b.unsqueeze(1), h, W.transpose(1, 2))
                h = torch.relu(h) if j < len(linears[0]) - 1 else h
            logits, target = h.reshape(-1, h.shape[-1]), y[idx].repeat(len(models))
            loss = F.cross_entropy(logits, target, reduction="sum") / len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step == steps:
                break
    return models
