"""Weight averaging and the EMA reading of AdamW (chapter 14).

* :class:`SWA` — stochastic weight averaging (Izmailov et al. 2018): the equal-weight running mean of the
  weights visited late in training, chapter 14, eq. (9). Same numbers as
  ``torch.optim.swa_utils.AveragedModel(model)``.
* :class:`EMA` — an exponential moving average of the weights (Polyak averaging), eq. (10). Same numbers
  as ``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))``.
* :func:`recompute_bn` — the batch-norm statistics of an averaged model, recomputed with one pass over the
  training data (the pitfall of §5); it does what ``torch.optim.swa_utils.update_bn`` does and also finds
  reglib's :class:`~reglib.normalization.BatchNorm`, which ``update_bn`` silently skips.
* :func:`adamw_timescale`, :func:`weight_decay_for_timescale`, :func:`adamw_as_ema` — AdamW's weights are an
  exponential moving average of its recent updates with timescale τ = 1/(ηλ) iterations
  (Wang & Aitchison 2025), eqs. (6)-(8).

Both averagers are callables ``averager(model)``, so they plug into :func:`reglib.train.fit` through its
after-step hook (``constraint=averager``): fit calls it after every optimizer step.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ._validate import check_int, check_positive, check_range

__all__ = ["SWA", "EMA", "recompute_bn", "batch_norm_layers", "adamw_timescale", "weight_decay_for_timescale",
           "adamw_as_ema", "adam_direction"]


class _Averager:
    """Shared bookkeeping: a deep copy of the model whose parameters hold the average."""

    def __init__(self, model: nn.Module, average_buffers: bool):
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.module = copy.deepcopy(model)
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.average_buffers = bool(average_buffers)
        self.n_averaged = 0

    def _pairs(self, model: nn.Module):
        mine = list(self.module.parameters())
        theirs = list(model.parameters())
        if len(mine) != len(theirs) or any(a.shape != b.shape for a, b in zip(mine, theirs)):
            raise ValueError("model must have the same architecture as the model the averager was built from")
        if self.average_buffers:
            mine += [b for b in self.module.buffers() if b.is_floating_point()]
            theirs += [b for b in model.buffers() if b.is_floating_point()]
        return mine, theirs

    def _blend(self, avg: torch.Tensor, new: torch.Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the current weights of ``model`` into the average (the first call copies them)."""
        mine, theirs = self._pairs(model)
        for avg, new in zip(mine, theirs):
            new = new.detach().to(avg.device)
            if self.n_averaged == 0:
                avg.copy_(new)
            else:
                self._blend(avg, new)
        if not self.average_buffers:  # keep the buffers in sync with the model, as AveragedModel does
            for mine_b, theirs_b in zip(self.module.buffers(), model.buffers()):
                mine_b.copy_(theirs_b.detach().to(mine_b.device))
        self.n_averaged += 1

    def __call__(self, model: nn.Module) -> None:
        self.update(model)


class SWA(_Averager):
    """Stochastic weight averaging: the running mean of the weights passed to :meth:`update` (eq. (9)).

    .. math:: \\bar\\theta_n = \\bar\\theta_{n-1} + \\frac{\\theta - \\bar\\theta_{n-1}}{n}

    The average lives in ``self.module`` (a deep copy of ``model``). Its buffers — batch norm's running
    statistics — are copied from ``model`` at every update (or averaged, with ``average_buffers``), as
    ``torch.optim.swa_utils.AveragedModel`` does: they are the statistics of the last averaged *iterate*,
    not of the average. Call :func:`recompute_bn` on ``self.module`` before using it (chapter 14, §5).

    Parameters
    ----------
    model : nn.Module
        The network being trained (copied, not modified).
    start : int
        Ignore the first ``start`` calls (the burn-in of Izmailov et al. 2018), ``start >= 0``.
    every : int
        Then average every ``every``-th call (e.g. once per epoch when called after every step), ``>= 1``.
    average_buffers : bool
        Average floating-point buffers too, instead of copying the model's (``AveragedModel(use_buffers=True)``).
    """

    def __init__(self, model: nn.Module, start: int = 0, every: int = 1, average_buffers: bool = False):
        super().__init__(model, average_buffers)
        self.start = check_int("start", start, 0)
        self.every = check_int("every", every, 1)
        self.calls = 0

    def _blend(self, avg, new):
        avg.add_((new - avg) / (self.n_averaged + 1))

    def __call__(self, model: nn.Module) -> None:
        """The after-step hook: count the call and average when past ``start`` and on the ``every`` grid."""
        self.calls += 1
        if self.calls > self.start and (self.calls - self.start - 1) % self.every == 0:
            self.update(model)


class EMA(_Averager):
    """Exponential moving average of the weights (Polyak averaging), eq. (10).

    .. math:: \\bar\\theta \\leftarrow \\beta\\,\\bar\\theta + (1-\\beta)\\,\\theta

    with ``decay`` β; it averages over about 1/(1 − β) recent calls. The first :meth:`update` copies the
    weights (as ``AveragedModel`` does). Floating-point buffers are averaged too by default (otherwise they are
    copied from the model at each update), so the running statistics of batch norm follow the averaged
    weights approximately; :func:`recompute_bn` makes them exact.

    Parameters
    ----------
    model : nn.Module
    decay : float
        β in [0, 1).
    average_buffers : bool
    """

    def __init__(self, model: nn.Module, decay: float = 0.99, average_buffers: bool = True):
        super().__init__(model, average_buffers)
        self.decay = check_range("decay", decay, 0.0, 1.0, high_open=True)

    def _blend(self, avg, new):
        avg.lerp_(new, 1.0 - self.decay)


def batch_norm_layers(model: nn.Module) -> list[nn.Module]:
    """The batch-norm modules of ``model``: PyTorch's ``_BatchNorm`` subclasses and reglib's ``BatchNorm``."""
    from .normalization import BatchNorm

    return [m for m in model.modules()
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, BatchNorm)) and m.track_running_stats]


@torch.no_grad()
def recompute_bn(model: nn.Module, x: torch.Tensor, batch_size: int = 100) -> nn.Module:
    """Recompute the running statistics of every batch-norm layer of ``model`` from the inputs ``x``.

    Resets them and runs ``x`` through the model in train mode in batches of ``batch_size``, with the
    cumulative average (momentum ``None``), so each running mean is the average over the batches of the
    batch means — what ``torch.optim.swa_utils.update_bn`` computes. Momenta and the train/eval mode are
    restored. Modifies ``model`` in place and returns it; a model without batch norm is returned unchanged.

    Parameters
    ----------
    model : nn.Module
    x : Tensor, shape (N, ...)
        Training inputs (not labels).
    batch_size : int
        ``>= 1``.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or x.ndim < 1 or len(x) == 0:
        raise ValueError(f"x must be a non-empty tensor of inputs, got {getattr(x, 'shape', type(x).__name__)}")
    batch_size = check_int("batch_size", batch_size, 1)
    layers = batch_norm_layers(model)
    if not layers:
        return model
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    device = next(model.parameters()).device
    try:
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size].to(device))
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        model.train(was_training)
    return model


# --------------------------------------------------------------------------- AdamW as an EMA


def adamw_timescale(lr: float, weight_decay: float) -> float:
    """τ = 1/(ηλ): the number of iterations AdamW's weights average over (chapter 14, eq. (7)).

    ``lr`` η > 0 and ``weight_decay`` λ > 0 in PyTorch's convention (the decay per step is ηλ, with ηλ < 1).
    """
    lr, weight_decay = check_positive("lr", lr), check_positive("weight_decay", weight_decay)
    check_range("lr * weight_decay", lr * weight_decay, 0.0, 1.0, low_open=True, high_open=True)
    return 1.0 / (lr * weight_decay)


def weight_decay_for_timescale(lr: float, tau: float) -> float:
    """λ = 1/(ητ): the weight decay that gives timescale ``tau`` iterations at learning rate ``lr`` (eq. (8)).

    Keeping τ fixed in epochs (τ_iter = τ_epoch · N/B, Wang & Aitchison 2025) when the data set grows from N
    to kN at a fixed batch size B divides λ by k. ``tau`` must exceed 1 (ηλ < 1).
    """
    lr = check_positive("lr", lr)
    tau = check_range("tau", tau, 1.0, None, low_open=True)
    return 1.0 / (lr * tau)


def adam_direction(optimizer: torch.optim.Optimizer, param: torch.Tensor) -> torch.Tensor:
    """The last Adam update direction u = m̂/(√v̂ + ε) of ``param``, read from ``optimizer``'s state (eq. (5)).

    ``optimizer`` is a ``torch.optim.Adam``/``AdamW`` (or reglib's) after at least one step, without amsgrad.
    """
    state = optimizer.state.get(param)
    if not state or "exp_avg" not in state:
        raise ValueError("optimizer has no Adam state for param; take a step first")
    group = next(g for g in optimizer.param_groups if any(p is param for p in g["params"]))
    beta1, beta2 = group["betas"]
    t = float(state["step"])
    m_hat = state["exp_avg"] / (1 - beta1 ** t)
    v_hat = state["exp_avg_sq"] / (1 - beta2 ** t)
    return m_hat / (v_hat.sqrt() + group["eps"])


def adamw_as_ema(theta0: torch.Tensor, directions, lr: float, weight_decay: float) -> torch.Tensor:
    """AdamW's weights after T steps, written as an exponential moving average (eq. (6)).

    With the decoupled update θ_{t+1} = (1 − ηλ)θ_t − η u_t,

    .. math:: \\theta_T = (1-\\eta\\lambda)^T\\theta_0
              + \\sum_{t=0}^{T-1} \\eta\\lambda\\,(1-\\eta\\lambda)^{T-1-t}\\Big(-\\frac{u_t}{\\lambda}\\Big):

    an EMA, with weight ηλ on the newest term, of the scaled updates −u_t/λ, started from θ_0.

    Parameters
    ----------
    theta0 : Tensor
        The initial weights.
    directions : sequence of Tensor, each shaped like ``theta0``
        The update directions u_0, …, u_{T−1} (for Adam, :func:`adam_direction` after each step).
    lr, weight_decay : float
        η > 0 and λ > 0 with ηλ < 1.
    """
    adamw_timescale(lr, weight_decay)  # validates lr, weight_decay and their product
    directions = list(directions)
    if any(u.shape != theta0.shape for u in directions):
        raise ValueError(f"directions must all have theta0's shape {tuple(theta0.shape)}")
    alpha = lr * weight_decay
    ema = theta0.clone()
    for u in directions:  # the recursion ema ← (1 − α) ema + α (−u/λ), evaluated term by term
        ema = (1 - alpha) * ema + alpha * (-u / weight_decay)
    return ema
