"""Batch norm (training mode) and layer norm (chapter 07) against the PyTorch built-ins."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reglib.normalization import batch_norm, layer_norm

from .harness import Case

N, D = 512, 1024

_FUSION = ("PyTorch's CPU kernel is one fused loop per direction; reglib's autograd.Function composes "
           "stock kernels ({kernels}), each a trip through memory, so it moves about twice the bytes. "
           "Closing the gap needs kernel fusion (a compiler, which the course does not require); plain "
           "autograd through eqs. (1)-(3) is 4-6x.")


def _inputs():
    return (torch.randn(N, D, requires_grad=True), torch.randn(D).add_(1.0).requires_grad_(),
            torch.randn(D, requires_grad=True))


CASES = [
    Case(name=f"batch_norm training ({N}, {D})", make_inputs=_inputs,
         reglib_fn=lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
         torch_fn=lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
         note=_FUSION.format(kernels="4 (N, C)-sized passes forward, 5 backward")),
    Case(name=f"layer_norm ({N}, {D})", make_inputs=_inputs,
         reglib_fn=lambda x, w, b: layer_norm(x, D, w, b),
         torch_fn=lambda x, w, b: F.layer_norm(x, (D,), w, b),
         note=_FUSION.format(kernels="5 (N, D)-sized passes forward, 8 backward")),
]
