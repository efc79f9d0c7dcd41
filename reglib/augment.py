"""Data augmentation and noise injection in plain torch (chapters 08 and 09).

Two layers, as everywhere in reglib:

* **functions** that transform a batch: :func:`random_shift`, :func:`random_scale`, :func:`add_noise`
  (MNIST-1D signals), :func:`random_affine`, :func:`hflip` (digit images), :func:`cutout` (both), and
  the label-mixing :func:`mixup` and :func:`cutmix`;
* **augmentations**: small callable objects following the :class:`Augmentation` protocol
  ``aug(x, y, generator) -> (x, y)`` that :func:`reglib.train.fit` applies to every training batch
  (``fit(..., augment=aug)``), and :func:`compose` to chain them. Input transforms pass ``y``
  through; mixup and cutmix return soft labels of shape ``(N, K)``, which
  ``F.cross_entropy`` and :func:`reglib.losses.cross_entropy` accept.

Shapes: signals are ``(N, L)`` or ``(N, C, L)``, images ``(N, C, H, W)``. Randomness comes from
``generator`` (torch's global generator when ``None``); random numbers are drawn on the
generator's device and moved to the data's, so a CPU generator drives augmentation of data on
any device and the same seed gives the same batch everywhere.
"""

from __future__ import annotations

import math
from typing import Callable, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from ._validate import check_choice, check_int, check_nonneg, check_positive, check_range
from .losses import smooth_labels

__all__ = [
    "sample_beta", "mixup", "cutmix", "cutout", "random_shift", "random_scale", "add_noise",
    "affine", "random_affine", "hflip",
    "Augmentation", "Compose", "compose", "Shift", "Scale", "Noise", "Cutout", "Affine", "HFlip",
    "Mixup", "CutMix", "shift_tta", "plot_mixed_pair", "plot_draws", "show_images",
]


# --------------------------------------------------------------------------- random draws


def _source_device(x: torch.Tensor, generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else x.device


def _float_dtype(x: torch.Tensor) -> torch.dtype:
    return x.dtype if torch.is_floating_point(x) else torch.get_default_dtype()


def _uniform(x, shape, low, high, generator) -> torch.Tensor:
    """Uniform draws in ``[low, high)`` of ``shape``, on ``x``'s device in ``x``'s float dtype."""
    u = torch.rand(shape, generator=generator, device=_source_device(x, generator), dtype=_float_dtype(x))
    return (low + (high - low) * u).to(x.device)


def _randint(x, shape, low, high, generator) -> torch.Tensor:
    """Integer draws in ``[low, high)`` (int64), on ``x``'s device."""
    return torch.randint(low, high, shape, generator=generator, device=_source_device(x, generator)).to(x.device)


def _randperm(x, n, generator) -> torch.Tensor:
    return torch.randperm(n, generator=generator, device=_source_device(x, generator)).to(x.device)


def sample_beta(alpha: float, generator: torch.Generator | None = None) -> float:
    """One draw :math:`\\lambda \\sim \\operatorname{Beta}(\\alpha, \\alpha)` (chapter 09, eq. (5)).

    The draw is made by numpy, seeded from ``generator`` (or torch's global generator), so it is
    reproducible under torch seeding and consumes one 63-bit integer from the torch stream.
    """
    alpha = check_positive("alpha", alpha)
    device = generator.device if generator is not None else "cpu"
    seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator, device=device))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


# --------------------------------------------------------------------------- shape checks


def _check_shape(x, ndims: tuple[int, ...], what: str, floating: bool) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor of shape {what}, got {type(x).__name__}")
    if x.ndim not in ndims:
        raise ValueError(f"x must have shape {what}, got {tuple(x.shape)}")
    if floating and not torch.is_floating_point(x):
        raise ValueError(f"x must be a floating-point tensor, got {x.dtype}")


def _check_signal(x, floating: bool = False) -> None:
    _check_shape(x, (2, 3), "(N, L) or (N, C, L)", floating)


def _check_image(x, floating: bool = False) -> None:
    _check_shape(x, (4,), "(N, C, H, W)", floating)


def _check_signal_or_image(x, floating: bool = False) -> None:
    _check_shape(x, (2, 3, 4), "(N, L), (N, C, L) or (N, C, H, W)", floating)


def _spatial_sizes(x: torch.Tensor) -> tuple[int, ...]:
    """``(L,)`` for signals, ``(H, W)`` for images."""
    return tuple(x.shape[-1:]) if x.ndim in (2, 3) else tuple(x.shape[-2:])


# --------------------------------------------------------------------------- windows (cutout, cutmix)


def _window(center: torch.Tensor, length: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Bounds ``[lo, hi)`` of a window of ``length`` centred at ``center``, clipped to ``[0, size)``.

    The window covers ``center - length // 2, ..., center - length // 2 + length - 1`` before clipping.
    """
    lo = center - length // 2
    return lo.clamp(0, size), (lo + length).clamp(0, size)


def _axis_mask(lo: torch.Tensor, hi: torch.Tensor, size: int) -> torch.Tensor:
    """Boolean ``(N, size)``: position ``i`` of row ``n`` lies in ``[lo[n], hi[n])``."""
    pos = torch.arange(size, device=lo.device)
    return (pos >= lo[:, None]) & (pos < hi[:, None])


def _box_mask(centers: list[torch.Tensor], lengths: list[int], sizes: tuple[int, ...]) -> torch.Tensor:
    """Boolean mask ``(N, L)`` or ``(N, H, W)``: per row, the window of ``lengths`` around ``centers``.

    ``centers`` holds one ``(N,)`` tensor per spatial axis; each window is clipped at the border.
    """
    masks = [_axis_mask(*_window(c, n, size), size) for c, n, size in zip(centers, lengths, sizes)]
    if len(masks) == 1:
        return masks[0]
    rows, cols = masks
    return rows[:, :, None] & cols[:, None, :]


def _broadcast_over_channels(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``(N, *spatial)`` → a view that broadcasts against ``x`` (adds the channel axis if ``x`` has one)."""
    return mask if mask.ndim == x.ndim else mask.unsqueeze(1)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one random window per sample (DeVries & Taylor 2017; chapter 08, eq. (6)).

    For each sample a centre is drawn uniformly over all positions (each of ``L``, or each of the
    ``H × W`` pixels); the window of length ``size`` (or ``size × size``) around it, clipped at the
    border, is set to 0 in every channel. Nothing else changes.

    Parameters
    ----------
    x : Tensor
        Signals ``(N, L)`` or ``(N, C, L)``, or images ``(N, C, H, W)``.
    size : int
        Window side, ``size >= 0`` (0 returns an unchanged copy); a window of even length extends
        one further before the centre than after it.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor
        A new tensor of the shape and dtype of ``x``; ``x`` itself is not modified.
    """
    size = check_int("size", size, 0)
    _check_signal_or_image(x)
    sizes = _spatial_sizes(x)
    centers = [_randint(x, (x.shape[0],), 0, extent, generator) for extent in sizes]
    mask = _box_mask(centers, [size] * len(sizes), sizes)
    return x.masked_fill(_broadcast_over_channels(mask, x), 0)


# --------------------------------------------------------------------------- mixup, cutmix


def _check_labels(x: torch.Tensor, y: torch.Tensor) -> None:
    if not isinstance(y, torch.Tensor) or y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must be class indices (N,) or probabilities (N, num_classes) with N = "
                         f"{x.shape[0]}, got {tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
    if y.ndim == 2 and not torch.is_floating_point(y):
        raise ValueError(f"y of shape (N, num_classes) must hold probabilities (a float tensor), got {y.dtype}")


def _mix(a: torch.Tensor, b: torch.Tensor, lam: float) -> torch.Tensor:
    """:math:`\\lambda a + (1 - \\lambda) b`."""
    return a * lam + b * (1.0 - lam)


def _mix_labels(y: torch.Tensor, perm: torch.Tensor, lam: float, num_classes: int, dtype) -> torch.Tensor:
    """:math:`\\tilde y = \\lambda\\, y + (1 - \\lambda)\\, y_{\\pi}` as probability rows ``(N, K)``."""
    probs = smooth_labels(y, num_classes, 0.0, dtype=dtype)
    return _mix(probs, probs[perm], lam)


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, num_classes: int,
          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018; chapter 09, eq. (5)): convex combinations of sample pairs.

    One :math:`\\lambda \\sim \\operatorname{Beta}(\\alpha, \\alpha)` for the whole batch and a random
    permutation :math:`\\pi` pair every sample with a partner:

    .. math:: \\tilde x_i = \\lambda x_i + (1 - \\lambda) x_{\\pi(i)}, \\qquad
              \\tilde y_i = \\lambda y_i + (1 - \\lambda) y_{\\pi(i)}

    Parameters
    ----------
    x : Tensor
        Inputs, shape ``(N, ...)``.
    y : Tensor
        Class indices ``(N,)`` or probability rows ``(N, K)``.
    alpha : float
        :math:`\\alpha > 0`; small values keep :math:`\\lambda` near 0 or 1 (almost no mixing),
        ``alpha=1`` draws :math:`\\lambda` uniformly.
    num_classes : int
        :math:`K`.
    generator : torch.Generator, optional

    Returns
    -------
    x_mix : Tensor
        Shape of ``x``.
    y_mix : Tensor
        Soft labels ``(N, K)`` (dtype of ``x`` if floating, else the default), rows summing to 1.
    """
    alpha = check_positive("alpha", alpha)
    num_classes = check_int("num_classes", num_classes, 1)
    _check_labels(x, y)
    lam = sample_beta(alpha, generator)
    perm = _randperm(x, x.shape[0], generator)
    return _mix(x, x[perm], lam), _mix_labels(y, perm, lam, num_classes, _float_dtype(x))


def cutmix(x: torch.Tensor, y: torch.Tensor, alpha: float, num_classes: int,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix (Yun et al. 2019; chapter 09, eq. (6)): paste a window from a partner sample.

    Draw :math:`\\lambda \\sim \\operatorname{Beta}(\\alpha, \\alpha)` and a permutation :math:`\\pi`.
    A window covering a fraction :math:`1 - \\lambda` of the signal (length
    :math:`\\operatorname{round}(L(1 - \\lambda))`) or of the image (sides
    :math:`\\operatorname{round}(H\\sqrt{1 - \\lambda})`, :math:`\\operatorname{round}(W\\sqrt{1 - \\lambda})`)
    is centred uniformly at random and clipped at the border; it is the same window for the whole
    batch. Inside it :math:`x_i` is replaced by :math:`x_{\\pi(i)}` in every channel. The label weight
    is then recomputed from the area actually pasted, :math:`\\lambda' = 1 - |\\text{window}| / |\\text{signal}|`,
    and :math:`\\tilde y_i = \\lambda' y_i + (1 - \\lambda') y_{\\pi(i)}`.

    Parameters
    ----------
    x : Tensor
        Signals ``(N, L)`` / ``(N, C, L)`` or images ``(N, C, H, W)``.
    y : Tensor
        Class indices ``(N,)`` or probability rows ``(N, K)``.
    alpha : float
        :math:`\\alpha > 0`.
    num_classes : int
        :math:`K`.
    generator : torch.Generator, optional

    Returns
    -------
    x_mix : Tensor
        Shape of ``x``.
    y_mix : Tensor
        Soft labels ``(N, K)`` summing to 1, weighted by the pasted area.
    """
    alpha = check_positive("alpha", alpha)
    num_classes = check_int("num_classes", num_classes, 1)
    _check_signal_or_image(x)
    _check_labels(x, y)
    lam = sample_beta(alpha, generator)
    perm = _randperm(x, x.shape[0], generator)
    sizes = _spatial_sizes(x)
    side_fraction = (1.0 - lam) ** (1.0 / len(sizes))  # area fraction 1 − λ
    lengths = [int(round(extent * side_fraction)) for extent in sizes]
    centers = [_randint(x, (1,), 0, extent, generator) for extent in sizes]
    mask = _box_mask(centers, lengths, sizes)  # (1, *spatial): one window for the whole batch
    pasted = mask.sum().item() / math.prod(sizes)
    x_mix = torch.where(_broadcast_over_channels(mask, x), x[perm], x)
    return x_mix, _mix_labels(y, perm, 1.0 - pasted, num_classes, _float_dtype(x))


# --------------------------------------------------------------------------- MNIST-1D signals


def _gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``out[n, ..., t] = x[n, ..., index[n, t]]`` for signals ``(N, L)`` or ``(N, C, L)``."""
    if x.ndim == 3:
        index = index[:, None, :].expand(-1, x.shape[1], -1)
    return x.gather(-1, index)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None,
                 mode: str = "circular") -> torch.Tensor:
    """Shift each signal in time by a random integer (chapter 08, eq. (2)).

    Sample :math:`s_n` uniformly from :math:`\\{-S, \\dots, S\\}` and set
    :math:`\\tilde x_n[t] = x_n[t - s_n]` (positive :math:`s` moves the signal right/later).

    Parameters
    ----------
    x : Tensor
        ``(N, L)`` or ``(N, C, L)``; all channels of a sample shift together.
    max_shift : int
        :math:`S \\ge 0`.
    generator : torch.Generator, optional
    mode : {"circular", "zeros"}
        ``"circular"`` wraps around (indices mod :math:`L`, as MNIST-1D's generator rolls its zero-padded
        template; rolled after noise and shear, a finished signal gains a jump the generator never makes), so
        each signal keeps its multiset of values; ``"zeros"`` fills the vacated positions with 0.

    Returns
    -------
    Tensor
        Shape of ``x``.
    """
    max_shift = check_int("max_shift", max_shift, 0)
    check_choice("mode", mode, ("circular", "zeros"))
    _check_signal(x)
    n, length = x.shape[0], x.shape[-1]
    shift = _randint(x, (n, 1), -max_shift, max_shift + 1, generator)
    source = torch.arange(length, device=x.device) - shift  # t − s, shape (N, L)
    if mode == "circular":
        return _gather_time(x, source.remainder(length))
    inside = (source >= 0) & (source < length)
    out = _gather_time(x, source.clamp(0, length - 1))
    return out.masked_fill(~_broadcast_over_channels(inside, x), 0)


def random_scale(x: torch.Tensor, max_scale: float, generator: torch.Generator | None = None,
                 padding: str = "border") -> torch.Tensor:
    """Stretch or compress each signal in time about its centre (chapter 08, eq. (3)).

    Sample :math:`f_n` uniformly from :math:`[1 - s, 1 + s]` and resample with linear interpolation,

    .. math:: \\tilde x_n(t) = x_n\\big(c + (t - c) / f_n\\big), \\qquad c = (L - 1)/2,

    so :math:`f > 1` spreads the pattern out and :math:`f < 1` squeezes it towards the centre.
    ``max_scale=0`` (or :math:`f = 1`) returns the signal exactly.

    Parameters
    ----------
    x : Tensor
        ``(N, L)`` or ``(N, C, L)``, floating point.
    max_scale : float
        :math:`s \\in [0, 1)`.
    generator : torch.Generator, optional
    padding : {"border", "zeros"}
        Value read outside the signal: the nearest end sample (default; MNIST-1D signals do not
        decay to 0 at their ends) or 0.

    Returns
    -------
    Tensor
        Shape of ``x``.
    """
    max_scale = check_range("max_scale", max_scale, 0.0, 1.0, high_open=True)
    check_choice("padding", padding, ("border", "zeros"))
    _check_signal(x, floating=True)
    n, length = x.shape[0], x.shape[-1]
    factor = _uniform(x, (n, 1), 1.0 - max_scale, 1.0 + max_scale, generator)
    center = (length - 1) / 2
    t = torch.arange(length, device=x.device, dtype=factor.dtype)
    source = center + (t - center) / factor  # (N, L), fractional positions
    left = source.floor()
    weight = source - left  # linear interpolation weight of the right neighbour
    left = left.long()

    def read(index):
        value = _gather_time(x, index.clamp(0, length - 1))
        if padding == "zeros":
            inside = (index >= 0) & (index < length)
            value = value.masked_fill(~_broadcast_over_channels(inside, x), 0)
        return value

    weight = _broadcast_over_channels(weight, x)
    return read(left) * (1 - weight) + read(left + 1) * weight


def add_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gaussian input noise :math:`\\tilde x = x + \\sigma \\xi`, :math:`\\xi \\sim \\mathcal N(0, I)`.

    Chapter 08, eq. (4); for a linear model with squared loss its expected effect is a Tikhonov
    (L2) penalty :math:`\\sigma^2 \\lVert w\\rVert^2` (Bishop 1995).

    Parameters
    ----------
    x : Tensor
        Any shape, floating point.
    sigma : float
        :math:`\\sigma \\ge 0`.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor
        Shape of ``x``.
    """
    sigma = check_nonneg("sigma", sigma)
    if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x):
        raise ValueError(f"x must be a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    noise = torch.randn(x.shape, generator=generator, device=_source_device(x, generator), dtype=x.dtype)
    return x + sigma * noise.to(x.device)


# --------------------------------------------------------------------------- digit images


def _affine_matrices(angle: torch.Tensor, shift: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``affine_grid`` matrices (N, 2, 3) mapping output to input coordinates.

    Content is rotated by ``angle`` (radians, counter-clockwise as displayed) about the image centre
    and then moved by ``shift`` = (dx, dy) pixels (right, down). In pixel units the inverse map is
    :math:`p_{in} = R(\\theta)^{-1}(p_{out} - d)`; it is rewritten in the normalised coordinates
    :math:`u = 2p/W`, :math:`v = 2p/H` (``align_corners=False``) that ``affine_grid`` uses.
    """
    cos, sin = torch.cos(angle), torch.sin(angle)
    # With y pointing down, a counter-clockwise (as displayed) rotation has R^{-1} = [[cos, -sin], [sin, cos]]
    # in pixel units; conjugating with diag(W/2, H/2) turns it into normalised units (the aspect factors).
    aspect = width / height
    theta = torch.stack([
        torch.stack([cos, -sin / aspect], dim=-1),
        torch.stack([sin * aspect, cos], dim=-1),
    ], dim=1)  # (N, 2, 2)
    offset = torch.stack([2 * shift[:, 0] / width, 2 * shift[:, 1] / height], dim=-1)  # normalised d
    translation = -(theta @ offset[:, :, None])  # −R^{-1} d
    return torch.cat([theta, translation], dim=2)


def affine(x: torch.Tensor, angle_deg: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate each image about its centre, then translate it (chapter 08, eq. (5)).

    The output pixel at :math:`p` reads the input at :math:`R(\\theta_n)^{-1}(p - d_n)` with bilinear
    interpolation (``F.affine_grid`` + ``F.grid_sample``, ``align_corners=False``, zeros outside).

    Parameters
    ----------
    x : Tensor
        ``(N, C, H, W)``, floating point.
    angle_deg : Tensor
        ``(N,)`` rotation angles in degrees, counter-clockwise as displayed (row 0 at the top).
    shift : Tensor
        ``(N, 2)`` translations :math:`(d_x, d_y)` in pixels, right and down.

    Returns
    -------
    Tensor
        Shape of ``x``.
    """
    _check_image(x, floating=True)
    n, _, height, width = x.shape
    angle_deg = torch.as_tensor(angle_deg, dtype=x.dtype, device=x.device)
    shift = torch.as_tensor(shift, dtype=x.dtype, device=x.device)
    if angle_deg.shape != (n,) or shift.shape != (n, 2):
        raise ValueError(f"angle_deg must have shape ({n},) and shift ({n}, 2), "
                         f"got {tuple(angle_deg.shape)} and {tuple(shift.shape)}")
    matrices = _affine_matrices(angle_deg * (math.pi / 180), shift, height, width)
    grid = F.affine_grid(matrices, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_affine(x: torch.Tensor, max_shift: float, max_rotation_deg: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Small random translations and rotations of images (chapter 08, eq. (5)).

    Per sample, a shift :math:`(d_x, d_y)` uniform in :math:`[-S, S]^2` pixels and an angle uniform in
    :math:`[-A, A]` degrees, applied by :func:`affine` (rotation about the centre, then translation,
    bilinear resampling, zeros outside). With ``max_shift=0`` and ``max_rotation_deg=0`` it returns
    ``x`` up to rounding (within 1e-6).

    Parameters
    ----------
    x : Tensor
        ``(N, C, H, W)``, floating point.
    max_shift : float
        :math:`S \\ge 0`, in pixels (real-valued: sub-pixel shifts interpolate).
    max_rotation_deg : float
        :math:`A \\in [0, 180]`, in degrees.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor
        Shape of ``x``.
    """
    max_shift = check_nonneg("max_shift", max_shift)
    max_rotation_deg = check_range("max_rotation_deg", max_rotation_deg, 0.0, 180.0)
    _check_image(x, floating=True)
    n = x.shape[0]
    angle = _uniform(x, (n,), -max_rotation_deg, max_rotation_deg, generator)
    shift = _uniform(x, (n, 2), -max_shift, max_shift, generator)
    return affine(x, angle, shift)


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror left–right (the last axis), ``(N, C, H, W)`` or signals ``(N, [C,] L)``.

    Chapter 08: a label-preserving transform for natural images, but not for digits
    (a mirrored 2, 3, 4, 5, 7 or 9 is not that digit), which is why the chapter uses it as a warning.
    """
    _check_signal_or_image(x)
    return x.flip(-1)


# --------------------------------------------------------------------------- the protocol


@runtime_checkable
class Augmentation(Protocol):
    """What :func:`reglib.train.fit` calls on each training batch: ``aug(x, y, generator) -> (x, y)``.

    ``y`` goes in as class indices ``(N,)`` or probabilities ``(N, K)`` and may come out soft.
    """

    def __call__(self, x: torch.Tensor, y: torch.Tensor,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        ...


class _InputAugmentation:
    """Adapts an input-only transform ``apply(x, generator)`` to the protocol; labels pass through."""

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, x, y, generator=None):
        return self.apply(x, generator), y

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Shift(_InputAugmentation):
    """:func:`random_shift` as an augmentation (MNIST-1D, chapter 08)."""

    def __init__(self, max_shift: int, mode: str = "circular"):
        self.max_shift = check_int("max_shift", max_shift, 0)
        self.mode = check_choice("mode", mode, ("circular", "zeros"))

    def apply(self, x, generator):
        return random_shift(x, self.max_shift, generator, mode=self.mode)


class Scale(_InputAugmentation):
    """:func:`random_scale` as an augmentation (MNIST-1D, chapter 08)."""

    def __init__(self, max_scale: float, padding: str = "border"):
        self.max_scale = check_range("max_scale", max_scale, 0.0, 1.0, high_open=True)
        self.padding = check_choice("padding", padding, ("border", "zeros"))

    def apply(self, x, generator):
        return random_scale(x, self.max_scale, generator, padding=self.padding)


class Noise(_InputAugmentation):
    """:func:`add_noise` as an augmentation (chapter 08)."""

    def __init__(self, sigma: float):
        self.sigma = check_nonneg("sigma", sigma)

    def apply(self, x, generator):
        return add_noise(x, self.sigma, generator)


class Cutout(_InputAugmentation):
    """:func:`cutout` as an augmentation (chapter 08)."""

    def __init__(self, size: int):
        self.size = check_int("size", size, 0)

    def apply(self, x, generator):
        return cutout(x, self.size, generator)


class Affine(_InputAugmentation):
    """:func:`random_affine` as an augmentation (digit images, chapter 08)."""

    def __init__(self, max_shift: float, max_rotation_deg: float):
        self.max_shift = check_nonneg("max_shift", max_shift)
        self.max_rotation_deg = check_range("max_rotation_deg", max_rotation_deg, 0.0, 180.0)

    def apply(self, x, generator):
        return random_affine(x, self.max_shift, self.max_rotation_deg, generator)


class HFlip(_InputAugmentation):
    """:func:`hflip` applied to each sample with probability ``p`` (chapter 08's counter-example)."""

    def __init__(self, p: float = 0.5):
        self.p = check_range("p", p, 0.0, 1.0)

    def apply(self, x, generator):
        flip = _uniform(x, (x.shape[0],), 0.0, 1.0, generator) < self.p
        return torch.where(flip.view(-1, *[1] * (x.ndim - 1)), hflip(x), x)


class _LabelMixing:
    """Shared shell of :class:`Mixup` and :class:`CutMix`: ``fn(x, y, alpha, num_classes, generator)``."""

    fn: Callable

    def __init__(self, alpha: float, num_classes: int):
        self.alpha = check_positive("alpha", alpha)
        self.num_classes = check_int("num_classes", num_classes, 1)

    def __call__(self, x, y, generator=None):
        return type(self).fn(x, y, self.alpha, self.num_classes, generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha!r}, num_classes={self.num_classes!r})"


class Mixup(_LabelMixing):
    """:func:`mixup` as an augmentation (chapter 09); returns soft labels ``(N, K)``."""

    fn = staticmethod(mixup)


class CutMix(_LabelMixing):
    """:func:`cutmix` as an augmentation (chapter 09); returns soft labels ``(N, K)``."""

    fn = staticmethod(cutmix)


class Compose:
    """Apply augmentations in order: ``Compose(a, b)(x, y, g) == b(*a(x, y, g), g)``."""

    def __init__(self, *augmentations: Augmentation):
        for aug in augmentations:
            if not callable(aug):
                raise ValueError(f"augmentations must be callables (x, y, generator) -> (x, y), got {aug!r}")
        self.augmentations = tuple(augmentations)

    def __call__(self, x, y, generator=None):
        for aug in self.augmentations:
            x, y = aug(x, y, generator)
        return x, y

    def __repr__(self) -> str:
        return f"Compose({', '.join(repr(a) for a in self.augmentations)})"


def compose(*augmentations: Augmentation) -> Compose:
    """Chain augmentations with the signature ``aug(x, y, generator) -> (x, y)`` (chapters 08-09)."""
    return Compose(*augmentations)


# --------------------------------------------------------------------------- test-time augmentation


def shift_tta(model: torch.nn.Module, x: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Test-time augmentation with circular shifts (chapter 08 §4): the class probabilities averaged over the
    :math:`2S + 1` shifted copies of each input, :math:`\\frac{1}{2S+1}\\sum_{s=-S}^{S}
    \\operatorname{softmax}(f(\\operatorname{roll}(x, s)))`, shape ``(N, K)``. The model runs in eval mode
    (its mode is restored); ``max_shift=0`` gives its plain softmax."""
    max_shift = check_int("max_shift", max_shift, 0)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = x.to(next(model.parameters(), x).device)  # the model's device (the input's if it has no parameters)
            shifts = range(-max_shift, max_shift + 1)
            return torch.stack([model(torch.roll(x, s, dims=-1)).softmax(-1) for s in shifts]).mean(0)
    finally:
        model.train(was_training)


# --------------------------------------------------------------------------- figures


def plot_mixed_pair(ax, x, partner, mixed, y, y_partner, label: str, title: str = "", window=None) -> None:
    """Draw a signal ``x`` (class ``y``), its partner (class ``y_partner``) and their mix on the matplotlib
    axes ``ax``, the mix labelled ``label`` (chapter 09's figures of one mixup or cutmix pair); ``window=(lo,
    hi)`` shades the positions ``lo..hi-1`` that cutmix pasted."""
    if window is not None:
        lo, hi = window
        ax.axvspan(lo - 0.5, hi - 0.5, color="gray", alpha=0.15, label=f"pasted window W ({hi - lo} of {len(x)})")
    ax.plot(np.asarray(x), lw=1, label=f"$x_i$ (class {int(y)})")
    ax.plot(np.asarray(partner), lw=1, label=f"$x_{{\\pi(i)}}$ (class {int(y_partner)})")
    ax.plot(np.asarray(mixed), "k", lw=2, label=label)
    ax.set(xlabel="position in the signal (sample index)", ylabel="value (standardised)", title=title)
    ax.legend(fontsize=8, ncol=1 if window is None else 2)


def plot_draws(ax, original, draws, title: str = "") -> None:
    """Draw a signal ``original`` (shape ``(L,)``, thick and grey) and augmented copies of it (rows of ``draws``,
    shape ``(n, L)``) on the matplotlib axes ``ax`` (chapter 08's figure of augmentations)."""
    ax.plot(np.asarray(original), color="gray", lw=3, alpha=0.4)
    ax.plot(np.asarray(draws).T, lw=1)
    ax.set(title=title, xlabel="position (sample)")


def show_images(axes, images, titles, colors=None, ylabel: str | None = None) -> None:
    """Show images ``(C, H, W)`` or ``(H, W)`` (their first channel), one per matplotlib axes, in grey
    on [0, 1], without ticks, each with its title (in its colour, if ``colors`` is given); ``ylabel`` labels
    the first axes (chapter 08)."""
    colors = colors or ["black"] * len(axes)
    if ylabel is not None:
        axes[0].set_ylabel(ylabel)
    for ax, img, title, color in zip(axes, images, titles, colors):
        img = torch.as_tensor(img)
        ax.imshow((img if img.ndim == 2 else img[0]).cpu().numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
        ax.set_title(title, color=color)
