"""The small networks every chapter trains, so that no notebook re-types a model.

The MNIST-1D models follow Greydanus (2020): logistic regression, an MLP with two hidden
layers of 100 ReLU units, and a three-layer 1-D CNN with 25 channels.
"""

from __future__ import annotations

import torch
from torch import nn

from ._validate import check_choice, check_int, check_probability

__all__ = ["LogisticRegression", "MLP", "PaperMLP", "CNN1d", "CNN2d", "ResidualMLP", "count_parameters"]

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU}


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _dropout(p: float) -> nn.Module:
    from .dropout import Dropout

    return Dropout(p)


def _norm(kind, width: int) -> nn.Module:
    if kind == "batch":
        from .normalization import BatchNorm

        return BatchNorm(width)
    from .normalization import LayerNorm

    return LayerNorm(width)


class LogisticRegression(nn.Module):
    """Multinomial logistic regression: one linear layer on the flattened input."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.linear = nn.Linear(check_int("in_features", in_features, 1), check_int("num_classes", num_classes, 2))

    def forward(self, x):
        return self.linear(x.flatten(1))


class MLP(nn.Sequential):
    """Flatten → [Linear → (norm) → activation → (dropout)] × len(hidden) → Linear.

    Parameters
    ----------
    in_features, num_classes : int
    hidden : tuple of int
        Widths of the hidden layers; Greydanus (2020) uses (100, 100) on MNIST-1D.
    activation : {"relu", "sigmoid", "tanh", "gelu"}
    dropout : float
        Drop probability after each hidden activation (reglib's inverted dropout); 0 disables it.
    input_dropout : float
        Drop probability on the inputs (Srivastava et al. 2014 use ~0.2).
    norm : {None, "batch", "layer"}
        Normalization between each hidden Linear and its activation (chapter 07).
    """

    def __init__(self, in_features: int, num_classes: int, hidden=(100, 100), activation: str = "relu",
                 dropout: float = 0.0, input_dropout: float = 0.0, norm=None):
        check_int("in_features", in_features, 1)
        check_int("num_classes", num_classes, 1)
        check_choice("activation", activation, tuple(_ACTIVATIONS))
        check_probability("dropout", dropout, allow_one=False)
        check_probability("input_dropout", input_dropout, allow_one=False)
        check_choice("norm", norm, (None, "batch", "layer"))
        layers: list[nn.Module] = [nn.Flatten()]
        if input_dropout > 0:
            layers.append(_dropout(input_dropout))
        width = in_features
        for h in hidden:
            layers.append(nn.Linear(width, check_int("hidden width", h, 1)))
            if norm is not None:
                layers.append(_norm(norm, h))
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(_dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)


class PaperMLP(nn.Module):
    """The MLP of the MNIST-1D paper's code (Greydanus 2020, ``MLPBase``), for the benchmark of chapter 00 §5.

    ``h = relu(W1 x)``, then one residual block ``h = h + relu(W2 h)``, then the read-out ``W3 h``: 40 → 100 → 100
    → 10 by default. The course's own :class:`MLP` has two plain hidden layers instead.
    """

    def __init__(self, in_features: int = 40, num_classes: int = 10, hidden: int = 100):
        super().__init__()
        check_int("hidden", hidden, 1)
        self.inp = nn.Linear(check_int("in_features", in_features, 1), hidden)
        self.block = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, check_int("num_classes", num_classes, 2))

    def forward(self, x):
        h = torch.relu(self.inp(x))
        h = h + torch.relu(self.block(h))
        return self.out(h)


class CNN1d(nn.Module):
    """The MNIST-1D CNN of Greydanus (2020): three strided 1-D convolutions and a linear read-out.

    Input (N, L) or (N, 1, L). ``hidden`` (default None: none, as in the paper) inserts a fully connected
    hidden layer of that many ReLU units between the flattened feature maps and the read-out. ``dropout``
    acts right before the read-out: on that hidden layer's units (the classic placement after fully
    connected layers), or, without one, on the flattened feature maps. ``channel_dropout`` drops whole
    feature maps after each convolution (chapter 06, eq. (5)).
    """

    def __init__(self, num_classes: int = 10, channels: int = 25, length: int = 40,
                 dropout: float = 0.0, channel_dropout: float = 0.0, hidden: int | None = None):
        super().__init__()
        check_int("channels", channels, 1)
        if hidden is not None:
            check_int("hidden", hidden, 1)
        check_probability("dropout", dropout, allow_one=False)
        check_probability("channel_dropout", channel_dropout, allow_one=False)
        self.convs = nn.ModuleList([
            nn.Conv1d(1, channels, 5, stride=2, padding=1),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),
        ])
        from .dropout import SpatialDropout

        # modules (not functional calls) so that mc_predict can switch them on by type
        self.channel_dropouts = nn.ModuleList(
            SpatialDropout(channel_dropout) if channel_dropout > 0 else nn.Identity() for _ in self.convs)
        self.dropout = _dropout(dropout) if dropout > 0 else nn.Identity()
        with torch.no_grad():
            flat = self._features(torch.zeros(1, 1, length)).shape[1]
        # created only when asked for, so that the default network draws the same initial weights as before
        self.hidden = None if hidden is None else nn.Sequential(nn.Linear(flat, hidden), nn.ReLU())
        self.linear = nn.Linear(flat if hidden is None else hidden, num_classes)

    def _features(self, x):
        for conv, drop in zip(self.convs, self.channel_dropouts):
            x = drop(torch.relu(conv(x)))
        return x.flatten(1)

    def forward(self, x):
        if x.ndim == 2:
            x = x.unsqueeze(1)
        h = self._features(x)
        if self.hidden is not None:
            h = self.hidden(h)
        return self.linear(self.dropout(h))


class CNN2d(nn.Module):
    """A small CNN for 8×8 digits: two 3×3 convolutions (16, 32 channels), pooling, a linear read-out."""

    def __init__(self, num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        check_int("num_classes", num_classes, 1)
        check_probability("dropout", dropout, allow_one=False)
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.dropout = _dropout(dropout) if dropout > 0 else nn.Identity()
        self.linear = nn.Linear(32 * 2 * 2, num_classes)

    def forward(self, x):
        if x.ndim == 2:
            x = x.view(-1, 1, 8, 8)
        return self.linear(self.dropout(self.features(x)))


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, drop_path: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)
        from .dropout import DropPath

        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x):
        return x + self.drop_path(self.fc2(torch.relu(self.fc1(self.norm(x)))))


class ResidualMLP(nn.Module):
    """Input projection, ``depth`` pre-norm residual blocks, read-out (chapter 10).

    Block l's residual branch is dropped per sample with probability
    ``drop_path · l / depth`` (the linear decay rule of Huang et al. 2016).
    """

    def __init__(self, in_features: int, num_classes: int, width: int = 64, depth: int = 8,
                 drop_path: float = 0.0):
        super().__init__()
        check_int("depth", depth, 1)
        check_probability("drop_path", drop_path, allow_one=False)
        self.inp = nn.Linear(in_features, width)
        self.blocks = nn.ModuleList(_ResidualBlock(width, drop_path * (i + 1) / depth) for i in range(depth))
        self.out = nn.Linear(width, num_classes)

    def forward(self, x):
        h = self.inp(x.flatten(1))
        for block in self.blocks:
            h = block(h)
        return self.out(torch.relu(h))
