"""The checker framework (course spec §7).

A checker calls the student's function through :func:`call`, which turns every way a candidate
can go wrong into an ``AssertionError`` with a hint: it raises (``NotImplementedError`` included),
mutates its inputs, or returns something that is not a finite tensor / array of the right shape and
dtype. :func:`diagnose` compares a wrong result with the outputs of known mistakes and names the
one it matches. :func:`passed` prints the one-line success message.

What a student sees when a check fails is the hint, first and alone (issue: exercise feedback). Every
failure is an ``AssertionError`` raised without exception chaining (no "During handling of the above
exception" block), :func:`checker` re-raises it from the checker's top level so that reglib's internal
frames are not shown, and in Jupyter (IPython, nbgrader's feedback) it renders as the hint followed only
by the student's own frames where the student's code raised. :func:`tolerance` gives tolerances from
the float precision of legitimate alternatives; :func:`expect_count`, :func:`expect_binomial_spread`,
:func:`expect_uniform_counts` and :func:`expect_distribution` are statistical tests of random functions,
each with the false-alarm rate :data:`FALSE_ALARM` (1e-5) unless told otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import linecache
import math
import os
import sys

import numpy as np
import torch

__all__ = ["call", "expect_tensor", "expect_array", "expect_scalar", "diagnose", "passed", "fail", "answer",
           "register_answers", "hash_answer", "checker", "tolerance", "expect_count", "expect_uniform_counts",
           "expect_distribution", "expect_binomial_spread", "binomial_range", "FALSE_ALARM"]

_RED, _RESET = "\x1b[0;31m", "\x1b[0m"
_HERE = os.path.dirname(os.path.abspath(__file__))            # reglib/check
_REGLIB = os.path.dirname(_HERE)                               # reglib


def _render(err: AssertionError) -> list[str]:
    """IPython's rendering of a failed check: the hint first and alone, then the student's frames."""
    lines = [f"{_RED}AssertionError{_RESET}: {err}"]
    frames = getattr(err, "_student_frames", None)
    if frames and len(frames) > 1:  # one frame is already named in the hint ("in f, line n: ...")
        lines += ["", "Where your code raised (most recent call last):"] + frames
    return lines


def _failure(message: str, student_frames=None) -> AssertionError:
    err = AssertionError(message)
    err._student_frames = list(student_frames or [])
    # IPython (JupyterLab, nbclient, nbgrader's autograde and feedback) calls this instead of formatting the
    # traceback; the instance attribute keeps the exception's type, and so its name, plain AssertionError.
    err._render_traceback_ = functools.partial(_render, err)
    return err


def fail(message: str, *, _student_frames=None):
    """Raise the ``AssertionError`` a student sees (the message is the hint), without exception chaining."""
    __tracebackhide__ = True  # noqa: F841  (pytest and IPython hide this frame)
    raise _failure(message, _student_frames) from None


def checker(fn):
    """Decorate a checker: a failure is re-raised from this top level, so reglib's inner frames are dropped.

    ``reglib.check`` applies it to every checker it re-exports; a chapter module need not.
    """
    if getattr(fn, "_reglib_checker", False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841
        try:
            return fn(*args, **kwargs)
        except AssertionError as err:
            if not hasattr(err, "_render_traceback_"):  # the student's own `assert` failed: show where, as is
                raise
            raise err.with_traceback(None) from None

    wrapper._reglib_checker = True
    return wrapper


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


def call(candidate, *args, name: str | None = None, _hint: str = "", **kwargs):
    """Call ``candidate(*args, **kwargs)``; turn any failure into an ``AssertionError`` with a hint.

    ``_hint`` is added to the message when the candidate raises: what the input tests and what the usual
    mistake is (e.g. "the groups here are unsorted and of unequal sizes").
    """
    name = name or getattr(candidate, "__name__", "your function")
    if not callable(candidate):
        fail(f"expected a function for `{name}`, got {type(candidate).__name__}: pass the function itself, "
             f"e.g. check.{name}({name}), not its result")
    before = [_snapshot(a) for a in args]
    before_kw = {k: _snapshot(v) for k, v in kwargs.items()}
    problem = None
    try:
        result = candidate(*args, **kwargs)
    except NotImplementedError as err:
        problem = (f"`{name}` is not implemented yet: replace `raise NotImplementedError()` with your code", err)
    except AssertionError:
        raise
    except Exception as err:  # the student's code raised: report what and where
        problem = (f"`{name}` raised {type(err).__name__}: {err}. Called as {name}({_describe_args(args, kwargs)})",
                   err)
    if problem is not None:  # raised outside the except block: no "During handling of ..." chain
        message, err = problem
        todo = isinstance(err, NotImplementedError)
        frames = [] if todo else _student_frames(err)
        where = "" if todo else _where(err)
        if where:
            message += f" ({where})"
        if _hint and not todo:
            message += f". {_hint}"
        fail(message, _student_frames=frames)
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


def _is_library(filename: str) -> bool:
    f = os.path.abspath(filename)
    return (f.startswith(_REGLIB + os.sep) or "site-packages" in f or "dist-packages" in f
            or f.startswith(os.path.abspath(sys.base_prefix)) or f.startswith(os.path.abspath(sys.prefix)))


def _user_tb(err):
    """The traceback entries of ``err`` below :func:`call`, without library frames."""
    tb = err.__traceback__
    entries = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if not (_is_library(code.co_filename) or code.co_filename.startswith("<frozen")):
            entries.append((code.co_filename, tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    return entries


def _student_frames(err) -> list[str]:
    lines = []
    for filename, lineno, func in _user_tb(err):
        src = linecache.getline(filename, lineno).strip()
        lines.append(f"  in {func}, line {lineno}" + (f": {src}" if src else ""))
    return lines


def _where(err) -> str:
    entries = _user_tb(err)
    if not entries:
        return ""
    filename, lineno, func = entries[-1]
    src = linecache.getline(filename, lineno).strip()
    return f"in {func}, line {lineno}" + (f": `{src}`" if src else "")


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


# --------------------------------------------------------------------------- tolerances and statistics


def tolerance(dtype=torch.float32) -> tuple[float, float]:
    """``(atol, rtol)`` that accept every legitimate way to compute a result in ``dtype``.

    Set from the float precision of alternatives, not from the reference's arithmetic: a different order
    of summation, PyTorch's own operations, or the small epsilons that library code adds to norms and
    denominators (``torch.renorm`` scales by ``maxnorm / (norm + 1e-7)``, a relative change of ~1e-7 that
    float64 resolves). Known mistakes change results by far more than these.
    """
    if isinstance(dtype, np.dtype) or dtype in (np.float32, np.float64, float):
        dtype = {np.dtype(np.float32): torch.float32}.get(np.dtype(dtype), torch.float64)
    if dtype in (torch.float16, torch.bfloat16):
        return 1e-2, 1e-2
    if dtype == torch.float32:
        return 1e-5, 1e-4
    return 1e-6, 1e-5


#: False-alarm rate of one statistical test: the probability that a correct random function fails it.
#: A checker runs at most a few dozen such tests, so a correct answer fails a whole check with probability
#: below 20 × 1e-5 = 2e-4, well under the required 1 in 1000.
FALSE_ALARM = 1e-5


def binomial_range(n: int, p: float, alpha: float = FALSE_ALARM) -> tuple[int, int]:
    """``(lo, hi)`` with P(X < lo) ≤ alpha/2 and P(X > hi) ≤ alpha/2 for X ~ Binomial(n, p)."""
    from scipy import stats

    if p <= 0:
        return 0, 0
    if p >= 1:
        return n, n
    return int(stats.binom.ppf(alpha / 2, n, p)), int(stats.binom.isf(alpha / 2, n, p))


def expect_count(count, n: int, p: float, message: str, alpha: float = FALSE_ALARM) -> None:
    """Fail with ``message`` unless ``count`` is a plausible draw from Binomial(n, p).

    Exact two-sided test: a correct function fails with probability at most ``alpha``.
    """
    lo, hi = binomial_range(n, p, alpha)
    count = int(count)
    if not lo <= count <= hi:
        fail(f"{message} (got {count} of {n}; a rate of {p:g} gives {lo}..{hi} in "
             f"{1 - alpha:.5%} of draws)")


def expect_binomial_spread(counts, m: int, p: float, too_regular: str, too_spread: str,
                           alpha: float = FALSE_ALARM) -> None:
    """``counts`` (one per row) must vary like independent Binomial(m, p) draws.

    Catches exact counts per row (no spread: e.g. exactly p·m dropped units) and one draw shared by a row
    (too much spread: e.g. per-batch instead of per-sample randomness). The statistic
    Σ (c − mp)² / (mp(1−p)) is χ² with len(counts) degrees of freedom (normal approximation of the
    binomial; its tails are checked at ``alpha``/2 each, so a correct function fails with probability
    about ``alpha``; use m·p·(1−p) ≥ 5).
    """
    from scipy import stats

    counts = np.asarray(counts, dtype=np.float64).reshape(-1)
    r = len(counts)
    stat = float(((counts - m * p) ** 2).sum() / (m * p * (1 - p)))
    if stat < stats.chi2.ppf(alpha / 2, r):
        fail(too_regular)
    if stat > stats.chi2.isf(alpha / 2, r):
        fail(too_spread)


def expect_uniform_counts(counts, message: str, probs=None, alpha: float = FALSE_ALARM) -> None:
    """Pearson χ² test that ``counts`` follow ``probs`` (uniform if None); false-alarm rate ≈ ``alpha``.

    Use expected counts of at least 5 per cell so that the χ² approximation holds.
    """
    from scipy import stats

    counts = np.asarray(counts, dtype=np.float64).reshape(-1)
    probs = np.full(len(counts), 1 / len(counts)) if probs is None else np.asarray(probs, dtype=np.float64)
    expected = counts.sum() * probs
    stat = float(((counts - expected) ** 2 / expected).sum())
    if stat > stats.chi2.isf(alpha, len(counts) - 1):
        fail(message)


def expect_distribution(samples, cdf, message: str, alpha: float = FALSE_ALARM) -> None:
    """Kolmogorov–Smirnov test that continuous ``samples`` follow ``cdf``; false-alarm rate ``alpha``."""
    from scipy import stats

    samples = np.asarray(samples, dtype=np.float64).reshape(-1)
    if stats.kstest(samples, cdf).pvalue < alpha:
        fail(message)


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
