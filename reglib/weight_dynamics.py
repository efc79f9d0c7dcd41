"""What weight decay does to the *dynamics* of training (chapter 14).

* Scale-invariant weights (a layer followed by batch or layer norm): :func:`angular_update`,
  :class:`NormTracker` (an after-step hook for :func:`reglib.train.fit` that records the norm, the gradient
  norm and the angle each step turns the weights), :func:`effective_lr` (η/‖w‖², eq. (2)) and the
  equilibrium of SGD with weight decay, :func:`equilibrium_angular_update` (√(2ηλ/(1+μ)), eq. (4)) and
  :func:`equilibrium_norm` (eq. (3)).
* Several decay strengths trained in lockstep: :class:`StackedAdamW` (AdamW with one λ per member of a
  stacked model), :func:`adamw_decay_grid` (the λ sweep of §4 on MNIST-1D, with
  :class:`reglib.ensembles.StackedMLP`).
* Grokking (§6): :class:`QuadraticMLP`, a stack of two-layer networks with quadratic activation for
  modular arithmetic, and :func:`train_grokking`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_int, check_nonneg, check_positive, check_range

__all__ = ["angular_update", "effective_lr", "equilibrium_angular_update", "equilibrium_norm", "NormTracker",
           "scale_invariant_weights", "StackedAdamW", "adamw_decay_grid", "QuadraticMLP", "train_grokking"]


# --------------------------------------------------------------------------- scale invariance


def _flat(tensors) -> torch.Tensor:
    if isinstance(tensors, torch.Tensor):
        return tensors.detach().flatten()
    tensors = list(tensors)
    if not tensors:
        raise ValueError("expected a tensor or a non-empty iterable of tensors, got an empty iterable")
    return torch.cat([t.detach().flatten() for t in tensors])


def angular_update(before, after) -> float:
    """The angle (radians) between two weight vectors (tensors or lists of tensors, flattened together).

    For a scale-invariant layer only the direction matters, so this is the size of a step (eq. (4)).
    """
    a, b = _flat(before).double(), _flat(after).double()
    if a.shape != b.shape:
        raise ValueError(f"before and after must have the same number of entries, got {a.numel()} and {b.numel()}")
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        raise ValueError("before and after must be non-zero (the angle of a zero vector is undefined)")
    cos = (a @ b / (na * nb)).clamp(-1.0, 1.0)
    # atan2 of |a x b| and a.b is accurate for tiny angles, where acos(cos) loses half the digits
    sin = ((a / na - b / nb).norm() * (a / na + b / nb).norm() / 2).clamp(0.0, 1.0)
    return float(torch.atan2(sin, cos))


def effective_lr(lr: float, norm: float) -> float:
    """η/‖w‖²: the learning rate a scale-invariant layer effectively sees at weight norm ``norm`` (eq. (2))."""
    return check_positive("lr", lr) / check_positive("norm", norm) ** 2


def equilibrium_angular_update(lr: float, weight_decay: float, momentum: float = 0.0) -> float:
    """√(2ηλ/(1+μ)): the angle SGD with weight decay turns scale-invariant weights per step at equilibrium (eq. (4)).

    For plain SGD (μ = 0) this follows from eq. (3) to first order in ηλ; the momentum version is the
    "angular update" of Wan et al. (2021). ``lr`` > 0, ``weight_decay`` >= 0, ``momentum`` in [0, 1).
    """
    lr, weight_decay = check_positive("lr", lr), check_nonneg("weight_decay", weight_decay)
    momentum = check_range("momentum", momentum, 0.0, 1.0, high_open=True)
    return math.sqrt(2 * lr * weight_decay / (1 + momentum))


def equilibrium_norm(lr: float, weight_decay: float, unit_grad_norm: float) -> float:
    """The norm at which SGD with decay stops growing or shrinking a scale-invariant weight (eq. (3)).

    With w·g = 0, ‖w_{t+1}‖² = (1 − ηλ)²‖w_t‖² + η²‖ĝ‖²/‖w_t‖², where ĝ is the gradient at unit norm
    (‖g‖ = ‖ĝ‖/‖w‖); its fixed point is ‖w‖⁴ = η‖ĝ‖²/(λ(2 − ηλ)).

    Parameters
    ----------
    lr, weight_decay : float
        η > 0, λ > 0 with ηλ < 2.
    unit_grad_norm : float
        ‖ĝ‖ = ‖g‖·‖w‖ (measure it with :class:`NormTracker`), > 0.
    """
    lr, weight_decay = check_positive("lr", lr), check_positive("weight_decay", weight_decay)
    check_range("lr * weight_decay", lr * weight_decay, 0.0, 2.0, low_open=True, high_open=True)
    g = check_positive("unit_grad_norm", unit_grad_norm)
    return (lr * g ** 2 / (weight_decay * (2 - lr * weight_decay))) ** 0.25


def scale_invariant_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weights and biases of the ``nn.Linear``/``nn.Conv*`` layers directly followed by a normalization layer.

    Works on ``nn.Sequential`` models such as :class:`reglib.models.MLP` with ``norm="batch"`` or ``"layer"``:
    the network's output does not change when such a layer's weight and bias are scaled together by c > 0
    (chapter 14, eq. (1)). Returned as one list, weight then bias, layer by layer.
    """
    from .normalization import BatchNorm, LayerNorm

    norms = (BatchNorm, LayerNorm, nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)
    layers = list(model.children()) if isinstance(model, nn.Sequential) else []
    found = [t for a, b in zip(layers, layers[1:])
             if isinstance(a, (nn.Linear, nn.modules.conv._ConvNd)) and isinstance(b, norms)
             for t in (a.weight, a.bias) if t is not None]
    if not found:
        raise ValueError("model must be an nn.Sequential with a Linear/Conv layer directly followed by a "
                         "normalization layer (e.g. reglib.models.MLP(..., norm='batch'))")
    return found


class NormTracker:
    """An after-step hook (``fit(..., constraint=tracker)``) that records, for a group of weights, at every step:

    ``norm`` ‖w‖ after the step, ``grad_norm`` ‖g‖ of the gradient the step used, ``angle`` the angle
    between the weights before and after the step (radians), all as lists over steps.

    Parameters
    ----------
    params : iterable of Tensor
        The weights to follow, treated as one vector (e.g. :func:`scale_invariant_weights`).
    """

    def __init__(self, params):
        self.params = list(params)
        if not self.params or not all(isinstance(p, torch.Tensor) for p in self.params):
            raise ValueError("params must be a non-empty iterable of tensors")
        self._previous = _flat(self.params).clone()
        self.norm, self.grad_norm, self.angle = [], [], []
        self.initial_norm = float(self._previous.norm())

    @torch.no_grad()
    def __call__(self, model=None) -> None:
        current = _flat(self.params)
        grads = [p.grad for p in self.params]
        self.grad_norm.append(float(_flat(grads).norm()) if all(g is not None for g in grads) else math.nan)
        self.norm.append(float(current.norm()))
        self.angle.append(angular_update(self._previous, current))
        self._previous = current.clone()

    def as_arrays(self) -> dict:
        """``{"norm", "grad_norm", "angle"}`` as NumPy arrays over steps."""
        return {k: np.array(getattr(self, k)) for k in ("norm", "grad_norm", "angle")}


# --------------------------------------------------------------------------- several λ in lockstep


class StackedAdamW(torch.optim.Adam):
    """AdamW in which member m of a stacked model (parameters shaped (M, ...)) has its own decay ``weight_decays[m]``.

    Each step computes the gradient (through the closure, if given), shrinks member m's slice of every
    decayed parameter by 1 − η·λ_m, then takes Adam's step — the order of ``torch.optim.AdamW``, so member m
    follows exactly the AdamW run with λ_m (Adam acts entry by entry). A param group with ``"decay": False``
    is not decayed (biases).

    Parameters
    ----------
    params : iterable of Tensor or of dicts (param groups)
    lr : float
    weight_decays : sequence of float
        One λ >= 0 per member (the length of dim 0 of every parameter).
    betas, eps : as for ``torch.optim.Adam``.
    """

    def __init__(self, params, lr: float, weight_decays, betas=(0.9, 0.999), eps: float = 1e-8):
        decays = [check_nonneg("weight_decays[i]", float(v)) for v in weight_decays]
        if not decays:
            raise ValueError("weight_decays must hold one value per member, got none")
        super().__init__(params, lr=check_positive("lr", lr), betas=betas, eps=eps)
        self.weight_decays = torch.tensor(decays, dtype=torch.float64)
        for group in self.param_groups:
            group.setdefault("decay", True)
            for p in group["params"]:
                if group["decay"] and (p.ndim == 0 or p.shape[0] != len(decays)):
                    raise ValueError(f"every decayed parameter must have dim 0 of length {len(decays)} (one slice "
                                     f"per member), got shape {tuple(p.shape)}")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if not group["decay"]:
                continue
            for p in group["params"]:
                if p.grad is None:
                    continue
                factor = (1 - group["lr"] * self.weight_decays).to(dtype=p.dtype, device=p.device)
                p.mul_(factor.view(-1, *[1] * (p.ndim - 1)))
        super().step()
        return loss


def adamw_decay_grid(data, weight_decays, n_train: int, epochs: int, seed: int, lr: float = 1e-2,
                     batch_size: int = 100, hidden=(100, 100)) -> dict:
    """Train one MNIST-1D MLP per λ in ``weight_decays`` (AdamW, in lockstep) and measure them on validation.

    The members share the initialization seed, the ``n_train`` training signals (a subset drawn with
    ``seed``) and the batches, so they differ only in λ. Weights are decayed, biases not.

    Returns
    -------
    dict with ``val_loss``, ``val_acc`` (arrays over λ), ``steps`` (T) and ``timescale_fraction``
    (τ/T = 1/(ηλT), ``inf`` for λ = 0).
    """
    from .ensembles import StackedMLP, stacked_cross_entropy
    from .models import MLP
    from .train import fit
    from .utils import set_seed

    n_train = check_int("n_train", n_train, 1, len(data.y_train))
    epochs, batch_size = check_int("epochs", epochs, 1), check_int("batch_size", batch_size, 1)
    sub = data.subset_train(n_train, seed=seed)
    set_seed(seed)
    base = MLP(sub.x_train.shape[1], int(sub.num_classes or 10), hidden=hidden)
    model = StackedMLP.from_mlps([base] * len(weight_decays))  # every member starts from the same weights
    opt = StackedAdamW([{"params": list(model.weights)}, {"params": list(model.biases), "decay": False}], lr,
                       weight_decays)
    fit(model, sub.train, epochs=epochs, batch_size=batch_size, optimizer=opt, loss_fn=stacked_cross_entropy,
        eval_every=epochs, eval_train=False, seed=seed, progress=False)
    with torch.no_grad():
        device = model.weights[0].device
        out = model(data.x_val.to(device))
        y = data.y_val.to(device)
        acc = (out.argmax(-1) == y).double().mean(1).cpu().numpy()
        loss = np.array([float(F.cross_entropy(o, y)) for o in out])
    steps = epochs * math.ceil(n_train / batch_size)
    frac = np.array([1 / (lr * lam * steps) if lam > 0 else np.inf for lam in weight_decays])
    return {"val_loss": loss, "val_acc": acc, "steps": steps, "timescale_fraction": frac}


# --------------------------------------------------------------------------- grokking


class QuadraticMLP(nn.Module):
    """``num_members`` two-layer networks x ↦ (xW₁)² W₂ evaluated in one batched pass (§6).

    With the one-hot pair encoding of :func:`reglib.data.make_modular_addition` the hidden unit k computes
    (E_a[k] + E_b[k])², whose cross term E_a[k]·E_b[k] lets products of Fourier features of a and b — and so
    cos(ω(a + b)) — be formed in one layer (the construction Gromov 2023 analyses). No biases.

    Input (N, D) → output (M, N, num_classes). ``W1`` has shape (M, D, width), entries N(0, 1/2) (each
    one-hot pair sums two rows, so pre-activations start with variance 1); ``W2`` (M, width, num_classes),
    entries N(0, 1/width).
    """

    def __init__(self, in_features: int, num_classes: int, width: int = 128, num_members: int = 1):
        super().__init__()
        check_int("in_features", in_features, 1)
        check_int("num_classes", num_classes, 2)
        self.width = check_int("width", width, 1)
        self.num_members = check_int("num_members", num_members, 1)
        self.W1 = nn.Parameter(torch.randn(num_members, in_features, width) / math.sqrt(2))
        self.W2 = nn.Parameter(torch.randn(num_members, width, num_classes) / math.sqrt(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.W1.shape[1]:
            raise ValueError(f"x must have shape (N, {self.W1.shape[1]}), got {tuple(x.shape)}")
        return (x @ self.W1).square() @ self.W2

    def member_norms(self) -> torch.Tensor:
        """‖θ_m‖ (all weights of member m), shape (M,)."""
        return (self.W1.detach().flatten(1).pow(2).sum(1) + self.W2.detach().flatten(1).pow(2).sum(1)).sqrt()


def _member_accuracy(out: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    return (out.argmax(-1) == y).double().mean(1).cpu().numpy()


def train_grokking(data, weight_decays, steps: int, seed: int, lr: float = 3e-3, width: int = 128,
                   eval_every: int = 50, betas=(0.9, 0.98)) -> dict:
    """Full-batch AdamW on modular addition, one :class:`QuadraticMLP` member per λ, trained in lockstep.

    Returns ``{"step": (E,), "train_acc": (M, E), "val_acc": (M, E), "norm": (M, E)}`` (E evaluations,
    including step 0). Each call of :func:`reglib.train.fit` trains ``eval_every`` full-batch steps; the
    optimizer (and its state) carries over between calls.
    """
    from .ensembles import stacked_cross_entropy
    from .train import fit
    from .utils import set_seed

    steps, eval_every = check_int("steps", steps, 1), check_int("eval_every", eval_every, 1)
    set_seed(seed)
    model = QuadraticMLP(data.x_train.shape[1], int(data.num_classes), width, len(weight_decays))
    opt = StackedAdamW(model.parameters(), lr, weight_decays, betas=betas)
    n = len(data.y_train)
    record = {"step": [], "train_acc": [], "val_acc": [], "norm": []}

    def evaluate_members(step):
        device = model.W1.device
        with torch.no_grad():
            record["step"].append(step)
            for split in ("train", "val"):
                x, y = (t.to(device) for t in getattr(data, split))
                record[f"{split}_acc"].append(_member_accuracy(model(x), y))
            record["norm"].append(model.member_norms().cpu().numpy())

    evaluate_members(0)
    done = 0
    while done < steps:
        chunk = min(eval_every, steps - done)
        fit(model, data.train, epochs=chunk, batch_size=n, optimizer=opt, loss_fn=stacked_cross_entropy,
            eval_every=chunk, eval_train=False, seed=seed + done, progress=False)
        done += chunk
        evaluate_members(done)
    return {"step": np.array(record["step"]), **{k: np.stack(record[k], axis=1) for k in
                                                  ("train_acc", "val_acc", "norm")}}
