"""reglib optimizers (chapter 11) against ``torch.optim``: one step on a ~1M-parameter MLP.

Each case's inputs are the two optimizers, each over its own copy of the parameters (with fixed
random gradients), so both do identical work; the callables do one ``step()`` and return None.
On CPU ``torch.optim``'s default is the per-tensor loop (``foreach`` kernels are the default only
on CUDA-like devices), so the "default" row and the ``foreach=False`` row time the same algorithm;
the ``foreach=True`` row is the multi-tensor implementation.
"""

from __future__ import annotations

import torch

from reglib.optim import SGD, AdamW

from .harness import Case

# a 784-1024-256-10 MLP: 1,068,810 parameters
SHAPES = [(1024, 784), (1024,), (256, 1024), (256,), (10, 256), (10,)]
N_PARAMS = sum(torch.Size(s).numel() for s in SHAPES)


def _params():
    params = [torch.randn(s) * 0.05 for s in SHAPES]
    for p in params:
        p.grad = torch.randn_like(p)
    return params


def _pair(make_reglib, make_torch):
    def make_inputs():
        return make_reglib(_params()), make_torch(_params())
    return make_inputs


def _reglib_step(reglib_opt, torch_opt):
    reglib_opt.step()


def _torch_step(reglib_opt, torch_opt):
    torch_opt.step()


def _adamw_case(label, note="", **torch_kwargs):
    return Case(name=f"AdamW step {N_PARAMS / 1e6:.2f}M params vs {label}",
                make_inputs=_pair(lambda p: AdamW(p, lr=1e-3, weight_decay=1e-2),
                                  lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2, **torch_kwargs)),
                reglib_fn=_reglib_step, torch_fn=_torch_step, note=note)


CASES = [
    _adamw_case("foreach=False", foreach=False),
    _adamw_case("default", note="on CPU torch's default is foreach=False"),
    _adamw_case("foreach=True", foreach=True),
    Case(name=f"SGD momentum step {N_PARAMS / 1e6:.2f}M params",
         make_inputs=_pair(lambda p: SGD(p, lr=1e-2, momentum=0.9, weight_decay=1e-4),
                           lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9, weight_decay=1e-4)),
         reglib_fn=_reglib_step, torch_fn=_torch_step),
]
