"""The checker framework (course spec §7).

A checker calls the student's function through :func:`call`, which turns every way a candidate
can go wrong into an ``AssertionError`` with a hint: it raises (``NotImplementedError`` included),
mutates its inputs, or returns something that is not a finite tensor / array of the right shape and
dtype. :func:`diagnose` compares a wrong result with the outputs of known mistakes and names the
one it matches. :func:`passed` prints the one-line success message.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import math

import numpy as np
import torch

__all__ = ["call", "expect_tensor", "expect_array", "expect_scalar", "diagnose", "passed", "fail", "answer",
           "register_answers", "hash_answer"]


def fail(message: str):
    """Raise the ``AssertionError`` a student sees (the message is the hint)."""
    raise AssertionError(message)


def passed(name: str, detail: str = "") -> None:
    """Print the one-line success message."""
    print(f"✔ {name}: correct{' — ' + detail if detail else ''}")


# --------------------------------------------------------------------------- calling the candidate


def _snapshot(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot(v) for v in value)
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    return None  # modules, generators, numbers: not compared


def _changed(before, after) -> bool:
    if before is None:
        return False
    if isinstance(before, torch.Tensor):
        return before.shape != after.shape or not torch.equal(before, after.detach())
    if isinstance(before, np.ndarray):
        return before.shape != after.shape or not np.array_equal(before, after, equal_nan=True)
    if isinstance(before, (list, tuple)):
        return len(before) != len(after) or any(_changed(b, a) for b, a in zip(before, after))
    if isinstance(before, dict):
        return any(_changed(before[k], after.get(k)) for k in before)
    return False


def call(candidate, *args, name: str | None = None, **kwargs):
    """Call ``candidate(*args, **kwargs)``; turn any failure into an ``AssertionError`` with a hint."""
    name = name or getattr(candidate, "__name__", "your function")
    if not callable(candidate):
        fail(f"expected a function for `{name}`, got {type(candidate).__name__}: pass the function itself, "
             f"e.g. check.{name}({name}), not its result")
    before = [_snapshot(a) for a in args]
    before_kw = {k: _snapshot(v) for k, v in kwargs.items()}
    try:
        result = candidate(*args, **kwargs)
    except NotImplementedError:
        fail(f"`{name}` is not implemented yet: replace `raise NotImplementedError()` with your code")
    except AssertionError:
        raise
    except Exception as err:  # the student's code raised: report what and where
        fail(f"`{name}` raised {type(err).__name__}: {err}. Called as {name}({_describe_args(args, kwargs)})")
    try:
        params = list(inspect.signature(candidate).parameters)
    except (TypeError, ValueError):
        params = []
    for i, (b, a) in enumerate(zip(before, args)):
        if _changed(b, a):
            arg = params[i] if i < len(params) else f"#{i + 1}"
            fail(f"`{name}` modified its input `{arg}` in place; compute a new tensor instead "
                 "(avoid in-place operations such as `x[...] = `, `x *= `, `x.clamp_()` on inputs)")
    for k, b in before_kw.items():
        if _changed(b, kwargs[k]):
            fail(f"`{name}` modified its input `{k}` in place; compute a new tensor instead")
    return result


def _describe_args(args, kwargs) -> str:
    def one(v):
        if isinstance(v, torch.Tensor):
            return f"<tensor {tuple(v.shape)} {str(v.dtype).replace('torch.', '')}>"
        if isinstance(v, np.ndarray):
            return f"<array {v.shape} {v.dtype}>"
        return repr(v) if len(repr(v)) < 40 else f"<{type(v).__name__}>"

    return ", ".join([one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()])


# --------------------------------------------------------------------------- checking the result


def expect_tensor(out, name: str, shape=None, dtype=None, finite: bool = True) -> torch.Tensor:
    """``out`` must be a tensor of ``shape`` and ``dtype`` with finite entries."""
    if not isinstance(out, torch.Tensor):
        fail(f"`{name}` should return a torch tensor, got {type(out).__name__}"
             + (" (did you forget `return`?)" if out is None else ""))
    if shape is not None and tuple(out.shape) != tuple(shape):
        fail(f"`{name}` returned shape {tuple(out.shape)}, expected {tuple(shape)}")
    if dtype is not None and out.dtype != dtype:
        fail(f"`{name}` returned dtype {out.dtype}, expected {dtype} (keep the input's dtype)")
    if finite and out.is_floating_point() and not torch.isfinite(out).all():
        fail(f"`{name}` returned NaN or inf values; look for a division by zero or log(0)")
    return out


def expect_array(out, name: str, shape=None, finite: bool = True) -> np.ndarray:
    """``out`` must be array-like of ``shape`` with finite entries; returns it as a NumPy array."""
    if out is None:
        fail(f"`{name}` returned None (did you forget `return`?)")
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    try:
        arr = np.asarray(out)
    except Exception:
        fail(f"`{name}` should return an array, got {type(out).__name__}")
    if shape is not None and arr.shape != tuple(shape):
        fail(f"`{name}` returned shape {arr.shape}, expected {tuple(shape)}")
    if finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        fail(f"`{name}` returned NaN or inf values")
    return arr


def expect_scalar(out, name: str) -> float:
    """``out`` must be a finite number or a one-element tensor; returns it as a float."""
    if isinstance(out, torch.Tensor):
        if out.numel() != 1:
            fail(f"`{name}` should return a single number, got a tensor of shape {tuple(out.shape)}"
                 " (did you forget to sum?)")
        out = out.item()
    if isinstance(out, np.ndarray) and out.size == 1:
        out = out.item()
    if not isinstance(out, (int, float, np.floating, np.integer)) or isinstance(out, bool):
        fail(f"`{name}` should return a number, got {type(out).__name__}")
    if not math.isfinite(out):
        fail(f"`{name}` returned {out}; look for a division by zero or log(0)")
    return float(out)


def _double(a) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().double()
    return torch.tensor(np.array(a, dtype=np.float64, copy=True))


def _close(a, b, atol, rtol) -> bool:
    a, b = _double(a), _double(b)
    return a.shape == b.shape and torch.allclose(a, b, atol=atol, rtol=rtol, equal_nan=False)


def diagnose(out, expected, name: str, mistakes=(), atol: float = 1e-5, rtol: float = 1e-4,
             context: str = "") -> None:
    """Fail unless ``out`` ≈ ``expected``; if ``out`` matches a known mistake, say which.

    ``mistakes`` is a sequence of ``(wrong_result, hint)`` pairs: the result that the mistake
    produces on the same input, and what to tell the student.
    """
    if _close(out, expected, atol, rtol):
        return
    for wrong, hint in mistakes:
        if wrong is not None and _close(out, wrong, atol, rtol):
            fail(f"`{name}`: {hint}")
    a, b = _double(out), _double(expected)
    if a.shape != b.shape:
        fail(f"`{name}` returned shape {tuple(a.shape)}, expected {tuple(b.shape)}")
    err = (a - b).abs().max().item()
    fail(f"`{name}` gives wrong values{' ' + context if context else ''}: largest error {err:.3g}. "
         "Compare your code with the equation in the chapter, term by term")


# --------------------------------------------------------------------------- conceptual answers


def hash_answer(question: str, value) -> str:
    """Salted hash of a normalised answer, so that answer keys are not readable at a glance."""
    if isinstance(value, str):
        norm = " ".join(value.strip().lower().split())
    elif isinstance(value, (bool, np.bool_)):
        norm = str(bool(value)).lower()
    elif isinstance(value, (int, float, np.integer, np.floating)):
        norm = repr(round(float(value), 6))
    elif isinstance(value, (set, frozenset, list, tuple)):
        norm = ",".join(sorted(" ".join(str(v).strip().lower().split()) for v in value))
    else:
        norm = repr(value)
    return hashlib.sha256(f"{question}|{norm}".encode()).hexdigest()[:16]


_ANSWERS: dict[str, dict] = {}


def register_answers(table: dict) -> None:
    """Register ``{question: {"correct": hash, "hints": {hash: hint}, "choices": "...", "explain": str}}``."""
    _ANSWERS.update(table)


def answer(question: str, value) -> None:
    """Check the answer to a conceptual question, e.g. ``check.answer("00.test_set", "b")``."""
    if question not in _ANSWERS:
        fail(f"unknown question {question!r}; known: {', '.join(sorted(_ANSWERS))}")
    entry = _ANSWERS[question]
    if value is None or value is Ellipsis:
        fail(f"{question}: no answer yet; set it to one of {entry.get('choices', 'the options above')}")
    h = hash_answer(question, value)
    if h == entry["correct"]:
        passed(question, entry.get("explain", ""))
        return
    hint = entry.get("hints", {}).get(h, "not quite: re-read the section the question points to")
    fail(f"{question}: {hint}")
