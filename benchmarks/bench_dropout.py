"""Inverted dropout (chapter 06) against ``torch.nn.functional.dropout``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reglib.dropout import dropout

from .harness import Case

N, D, P = 512, 1024, 0.5


def _inputs():
    return (torch.randn(N, D, requires_grad=True),)


CASES = [
    Case(name=f"dropout p={P} ({N}, {D})", make_inputs=_inputs,
         reglib_fn=lambda x: dropout(x, P, training=True),
         torch_fn=lambda x: F.dropout(x, P, training=True), extra={"random": True}),
]
