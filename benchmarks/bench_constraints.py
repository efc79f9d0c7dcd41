"""Max-norm (chapter 04): ``reglib.constraints.max_norm_`` against ``torch.renorm``.

Both work in place under ``no_grad`` and return ``None``, so the harness times the update only.
"""

from __future__ import annotations

import torch

from reglib.constraints import max_norm_

from .harness import Case

MAX_NORM = 3.0  # the rows of a (1024, 1024) standard-normal matrix have norm ~32, so all are rescaled


def _weight():
    return (torch.randn(1024, 1024),)


def _reglib_max_norm(weight):
    max_norm_(weight, MAX_NORM)


def _torch_renorm(weight):
    with torch.no_grad():
        torch.renorm(weight, 2, 0, MAX_NORM, out=weight)


CASES = [
    Case(
        name="max_norm_ (1024, 1024)",
        make_inputs=_weight,
        reglib_fn=_reglib_max_norm,
        torch_fn=_torch_renorm,
        note="in place, no autograd; after the first call every row sits at the bound, so both "
             "compute the row norms and rescale each run",
    ),
]
