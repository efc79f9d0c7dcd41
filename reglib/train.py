"""The one training loop of the course.

Every experiment in every chapter calls :func:`fit`. Regularizers plug into it through
hooks, which is also a map of where each technique acts:

==================  =========================================================  ========
hook                called                                                     chapters
==================  =========================================================  ========
``penalty``         ``penalty(model) -> scalar`` added to each batch loss       01-03
``constraint``      ``constraint(model)`` after every optimizer step            04, 06
``augment``         ``augment(x, y, generator) -> (x, y)`` on each batch        08, 09
``loss_fn``         ``loss_fn(logits, y)`` (label smoothing, soft targets)      09
``optimizer``       a name, a class, or a factory ``params -> Optimizer``       01, 11
``early_stopping``  ``.step(value, model) -> bool`` after every evaluation      05
==================  =========================================================  ========

The loop is deterministic under ``seed``: it seeds torch's global generator (dropout masks)
and owns a generator for shuffling and augmentation.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_choice, check_int, check_nonneg, check_positive
from .utils import get_device

__all__ = ["fit", "History", "evaluate", "predict", "make_optimizer"]

_OPTIMIZERS = ("sgd", "adam", "adamw")


# --------------------------------------------------------------------------- history


@dataclass
class History:
    """What :func:`fit` records at every evaluation.

    Lists share an index: ``epoch[i]``, ``step[i]``, ``train_loss[i]`` (mean batch loss, penalty
    excluded, since the previous evaluation), ``train_acc[i]`` (accuracy on the whole training
    set in eval mode, if requested), ``val_loss[i]``, ``val_acc[i]``.
    """

    epoch: list = field(default_factory=list)
    step: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    stopped_early: bool = False
    best_index: int | None = None
    seconds: float = 0.0

    def __len__(self):
        return len(self.epoch)

    @property
    def best(self) -> dict:
        """The record at ``best_index`` (the early-stopping checkpoint), else the last one."""
        i = self.best_index if self.best_index is not None else len(self) - 1
        return {k: getattr(self, k)[i] if getattr(self, k) else None
                for k in ("epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc")}

    @property
    def final(self) -> dict:
        """The last record."""
        return {k: getattr(self, k)[-1] if getattr(self, k) else None
                for k in ("epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc")}

    def plot(self, axes=None, title: str | None = None, x: str = "epoch"):
        """Loss and accuracy curves, train vs validation; returns the two axes."""
        from .plot import plot_history

        return plot_history(self, axes=axes, title=title, x=x)

    def __repr__(self) -> str:
        if not len(self):
            return "History(empty)"
        last = self.final
        parts = [f"{len(self)} evaluations", f"epoch {last['epoch']}", f"{self.seconds:.1f} s"]
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            if last[key] is not None:
                parts.append(f"{key}={last[key]:.4f}")
        if self.stopped_early:
            parts.append(f"stopped early, best at epoch {self.epoch[self.best_index]}")
        return "History(" + ", ".join(parts) + ")"


# --------------------------------------------------------------------------- helpers


def make_optimizer(optimizer, model: nn.Module, lr: float, momentum: float = 0.0,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Build the optimizer ``fit`` uses.

    ``optimizer`` is ``"sgd"``, ``"adam"``, ``"adamw"`` (torch's), an ``Optimizer`` subclass
    (called with ``lr`` and, where non-zero, ``weight_decay``/``momentum``), a factory
    ``params -> Optimizer``, or an already built optimizer (returned as is).
    """
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if isinstance(optimizer, str):
        check_choice("optimizer", optimizer, _OPTIMIZERS)
        # foreach=True: the multi-tensor kernels give bitwise the same steps as the per-tensor loop
        # (torch's CPU default) and, on the course's small networks, save 20-40 % of the training time
        if optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, foreach=True)
        cls = torch.optim.Adam if optimizer == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, weight_decay=weight_decay, foreach=True)
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        kwargs = {"lr": lr}
        if weight_decay:
            kwargs["weight_decay"] = weight_decay
        if momentum:
            kwargs["momentum"] = momentum
        return optimizer(params, **kwargs)
    if callable(optimizer):
        return optimizer(params)
    raise ValueError("optimizer must be 'sgd', 'adam', 'adamw', an Optimizer class or instance, or a "
                     f"factory params -> Optimizer, got {optimizer!r}")


def _default_loss(logits, y):
    return F.cross_entropy(logits, y)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Model outputs on ``x`` in eval mode (the model's previous mode is restored)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        out = [model(x[i:i + batch_size].to(device)) for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn=None) -> tuple[float, float]:
    """``(loss, accuracy)`` of the model on ``(x, y)`` in eval mode; accuracy is NaN for regression."""
    loss_fn = loss_fn or _default_loss
    out = predict(model, x)
    y = y.to(out.device)
    loss = float(loss_fn(out, y))
    is_classification = out.ndim == 2 and out.shape[1] > 1 and (y.dtype == torch.int64 or y.ndim == 2)
    if not is_classification:
        return loss, math.nan
    from .metrics import accuracy

    return loss, accuracy(out, y)


def _progress_enabled(progress) -> bool:
    if progress is not None:
        return bool(progress)
    if os.environ.get("REGLIB_PROGRESS", "").strip() in ("0", "false", "no"):
        return False
    return sys.stderr.isatty() or "ipykernel" in sys.modules


# --------------------------------------------------------------------------- fit


def fit(model: nn.Module, train, val=None, *, epochs: int = 100, batch_size: int = 100,
        optimizer="adam", lr: float = 1e-3, momentum: float = 0.0, weight_decay: float = 0.0,
        loss_fn=None, penalty=None, constraint=None, augment=None, early_stopping=None,
        monitor: str = "val_loss", eval_every: int = 1, eval_train: bool = True, max_steps: int | None = None,
        shuffle: bool = True, seed: int = 0, device=None, progress=None) -> History:
    """Train ``model`` with mini-batch gradient descent and return its :class:`History`.

    Parameters
    ----------
    model : nn.Module
        Trained in place, moved to ``device``.
    train, val : (x, y) tensors
        Training data and, optionally, validation data (evaluated every ``eval_every`` epochs).
    epochs, batch_size : int
        Passes over the shuffled training set, and samples per step (the last, smaller batch is kept).
    optimizer, lr, momentum, weight_decay
        See :func:`make_optimizer`. ``weight_decay`` is the optimizer's own (coupled for SGD and Adam).
    loss_fn : callable ``(logits, y) -> loss``, default cross-entropy (accepts soft targets).
    penalty : callable ``model -> scalar tensor``, added to the loss of each batch (chapters 01-03).
    constraint : callable ``model -> None``, applied after each optimizer step (max-norm, chapter 04).
    augment : callable ``(x, y, generator) -> (x, y)`` applied to each training batch (chapters 08-09).
    early_stopping : an object with ``step(value, model) -> bool`` and ``restore(model)``
        (:class:`reglib.early_stopping.EarlyStopping`); stepped after every evaluation on ``monitor``.
        When it says stop, training ends; if it has ``restore_best`` set, the best weights are loaded.
    monitor : {"val_loss", "val_acc", "train_loss"}
    eval_every : int
        Evaluate every this many epochs (and after the last one).
    eval_train : bool
        Also measure accuracy on the whole training set at each evaluation (cheap for small data).
    max_steps : int, optional
        Stop after this many optimizer steps even mid-epoch.
    shuffle : bool
        Draw a new order of the training set every epoch (default); ``False`` takes the batches in the
        stored order, epoch after epoch (the MNIST-1D paper's protocol, chapter 00 §5).
    seed : int
        Seeds shuffling, augmentation and torch's global generator (dropout masks).
    device : torch.device, optional
        Default :func:`reglib.utils.get_device`.
    progress : bool, optional
        Show a progress bar; default: on in a terminal or notebook unless ``REGLIB_PROGRESS=0``.

    The optimizer is always stepped with a closure, so sharpness-aware minimization
    (:class:`reglib.optim.SAM`), which evaluates the loss twice per step, plugs in like any other.
    """
    epochs = check_int("epochs", epochs, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    check_positive("lr", lr)
    check_nonneg("weight_decay", weight_decay)
    eval_every = check_int("eval_every", eval_every, 1)
    check_choice("monitor", monitor, ("val_loss", "val_acc", "train_loss"))
    if max_steps is not None:
        max_steps = check_int("max_steps", max_steps, 1)
    if monitor.startswith("val") and val is None and early_stopping is not None:
        raise ValueError(f"monitor={monitor!r} needs val data; pass val=(x_val, y_val) or monitor='train_loss'")
    mode = getattr(early_stopping, "mode", None)
    if mode is not None and mode != ("max" if monitor.endswith("acc") else "min"):
        raise ValueError(f"early_stopping.mode={mode!r} does not fit monitor={monitor!r} "
                         "(accuracy is maximised, losses are minimised)")

    device = torch.device(device) if device is not None else get_device()
    torch.manual_seed(seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    model.to(device)
    x_train, y_train = (t.to(device) for t in train)
    val = tuple(t.to(device) for t in val) if val is not None else None
    loss_fn = loss_fn or _default_loss
    opt = make_optimizer(optimizer, model, lr, momentum, weight_decay)
    n = len(y_train)
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)

    history = History()
    bar = None
    if _progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=total, leave=False, desc=type(model).__name__)
    start, step, running, count = time.perf_counter(), 0, 0.0, 0
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            order = (torch.randperm(n, generator=gen) if shuffle else torch.arange(n)).to(device)
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                xb, yb = x_train[idx], y_train[idx]
                if augment is not None:
                    xb, yb = augment(xb, yb, gen)
                data_loss = _step(model, opt, loss_fn, penalty, xb, yb)
                if constraint is not None:
                    constraint(model)
                running, count, step = running + data_loss, count + 1, step + 1
                if bar is not None:
                    bar.update(1)
                if max_steps is not None and step >= max_steps:
                    break
            last = epoch == epochs or (max_steps is not None and step >= max_steps)
            if epoch % eval_every == 0 or last:
                _record(history, model, epoch, step, running / max(count, 1), (x_train, y_train), val,
                        loss_fn, eval_train)
                running, count = 0.0, 0
                if bar is not None:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in history.final.items()
                                     if k in ("train_loss", "val_acc") and v is not None})
                if early_stopping is not None:
                    value = getattr(history, monitor)[-1]
                    stop = early_stopping.step(value, model)
                    # one early-stopping step per evaluation, so its 0-based best_step indexes the history
                    history.best_index = getattr(early_stopping, "best_step", None)
                    if stop:
                        history.stopped_early = True
                        break
            if last:
                break
    finally:
        if bar is not None:
            bar.close()
    if early_stopping is not None and getattr(early_stopping, "restore_best", False):
        early_stopping.restore(model)
    history.seconds = time.perf_counter() - start
    return history


def _step(model, opt, loss_fn, penalty, xb, yb) -> float:
    """One optimizer step through a closure; returns the batch's data loss (penalty excluded)."""
    data_loss = []

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        data_loss.append(loss.detach())
        if penalty is not None:
            loss = loss + penalty(model)
        loss.backward()
        return loss

    opt.step(closure)
    return float(data_loss[0])


def _record(history, model, epoch, step, train_loss, train, val, loss_fn, eval_train):
    history.epoch.append(epoch)
    history.step.append(step)
    history.train_loss.append(train_loss)
    if eval_train:
        history.train_acc.append(evaluate(model, *train, loss_fn=loss_fn)[1])
    if val is not None:
        v_loss, v_acc = evaluate(model, *val, loss_fn=loss_fn)
        history.val_loss.append(v_loss)
        history.val_acc.append(v_acc)
