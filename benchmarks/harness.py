"""Interleaved timing of a reglib operation against its PyTorch counterpart.

A :class:`Case` names two callables that compute the same thing from the same inputs.
:func:`time_case` runs forward + backward of each, alternating between them so that
drifts in machine load hit both alike, and reports medians and their ratio.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import torch


@dataclass
class Case:
    """One benchmark row.

    Parameters
    ----------
    name : str
        Shown in the table, e.g. ``"dropout (512, 1024)"``.
    make_inputs : callable
        ``make_inputs() -> tuple`` of tensors; leaf tensors that need gradients have ``requires_grad``.
    reglib_fn, torch_fn : callable
        ``fn(*inputs) -> Tensor``. For ops with state (an optimizer step) they do their own work and
        return ``None``; then no backward pass is timed.
    note : str
        Printed under the table when it explains a ratio.
    """

    name: str
    make_inputs: Callable[[], tuple]
    reglib_fn: Callable
    torch_fn: Callable
    note: str = ""
    budget: float = 1.5
    extra: dict = field(default_factory=dict)


def _run_once(fn, inputs, grad_out):
    for t in inputs:
        if isinstance(t, torch.Tensor) and t.grad is not None:
            t.grad = None
    start = time.perf_counter()
    out = fn(*inputs)
    if out is not None and out.requires_grad:
        out.backward(grad_out if grad_out is not None and grad_out.shape == out.shape else torch.ones_like(out))
    return time.perf_counter() - start


def time_case(case: Case, repeats: int = 30, warmup: int = 5) -> dict:
    """Median forward+backward seconds of both implementations and ``ratio = reglib / torch``."""
    torch.manual_seed(0)
    inputs = case.make_inputs()
    with torch.no_grad():
        probe = case.torch_fn(*inputs)
    grad_out = torch.randn_like(probe) if isinstance(probe, torch.Tensor) else None
    for _ in range(warmup):
        _run_once(case.reglib_fn, inputs, grad_out)
        _run_once(case.torch_fn, inputs, grad_out)
    t_reg, t_ref = [], []
    for i in range(repeats):
        # alternate which goes first so neither always benefits from a warm cache
        if i % 2 == 0:
            t_reg.append(_run_once(case.reglib_fn, inputs, grad_out))
            t_ref.append(_run_once(case.torch_fn, inputs, grad_out))
        else:
            t_ref.append(_run_once(case.torch_fn, inputs, grad_out))
            t_reg.append(_run_once(case.reglib_fn, inputs, grad_out))
    reg, ref = statistics.median(t_reg), statistics.median(t_ref)
    return {"name": case.name, "reglib_ms": 1e3 * reg, "torch_ms": 1e3 * ref, "ratio": reg / ref,
            "budget": case.budget, "note": case.note}


def format_table(rows: list[dict]) -> str:
    """A plain-text table of the results, with notes underneath."""
    lines = [f"{'operation':<44} {'reglib ms':>10} {'torch ms':>10} {'ratio':>7}  within budget",
             "-" * 90]
    for r in rows:
        ok = "yes" if r["ratio"] <= r["budget"] else f"NO (>{r['budget']}x)"
        lines.append(f"{r['name']:<44} {r['reglib_ms']:>10.3f} {r['torch_ms']:>10.3f} {r['ratio']:>7.2f}  {ok}")
    notes = [f"* {r['name']}: {r['note']}" for r in rows if r["note"]]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)
