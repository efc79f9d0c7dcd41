"""Label-smoothed cross-entropy (chapter 09) against ``F.cross_entropy(label_smoothing=...)``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reglib.losses import cross_entropy

from .harness import Case

N, K, EPS = 512, 1024, 0.1


def _inputs():
    logits = torch.randn(N, K, requires_grad=True)
    target = torch.randint(0, K, (N,))
    return logits, target


def _soft_inputs():
    logits = torch.randn(N, K, requires_grad=True)
    target = torch.softmax(torch.randn(N, K), dim=1)
    return logits, target


CASES = [
    Case(name=f"cross_entropy ls={EPS} idx ({N}, {K})", make_inputs=_inputs,
         reglib_fn=lambda z, y: cross_entropy(z, y, label_smoothing=EPS),
         torch_fn=lambda z, y: F.cross_entropy(z, y, label_smoothing=EPS)),
    Case(name=f"cross_entropy ls={EPS} probs ({N}, {K})", make_inputs=_soft_inputs,
         reglib_fn=lambda z, y: cross_entropy(z, y, label_smoothing=EPS),
         torch_fn=lambda z, y: F.cross_entropy(z, y, label_smoothing=EPS)),
]
