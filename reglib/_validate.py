"""Argument checks shared by every reglib module.

Each helper raises ``ValueError`` with a message that names the argument, says
what range is allowed, and repeats the value that was passed, e.g.
``ValueError: p must be in [0, 1], got 1.5``.
"""

from __future__ import annotations

import math
from numbers import Integral, Real


def _is_real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def check_range(name: str, value, low=None, high=None, *, low_open=False, high_open=False):
    """Return ``float(value)`` if it lies in the interval, else raise ``ValueError``.

    ``low``/``high`` of ``None`` mean unbounded; ``*_open`` excludes the endpoint.
    """
    lo_br = "(" if (low_open or low is None) else "["
    hi_br = ")" if (high_open or high is None) else "]"
    interval = f"{lo_br}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi_br}"
    if not _is_real(value) or math.isnan(float(value)):
        raise ValueError(f"{name} must be a real number in {interval}, got {value!r}")
    v = float(value)
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def check_nonneg(name: str, value) -> float:
    """``value >= 0``."""
    return check_range(name, value, 0.0, None)


def check_positive(name: str, value) -> float:
    """``value > 0``."""
    return check_range(name, value, 0.0, None, low_open=True)


def check_probability(name: str, value, *, allow_one=True) -> float:
    """``value`` in [0, 1] (or [0, 1) when ``allow_one`` is False)."""
    return check_range(name, value, 0.0, 1.0, high_open=not allow_one)


def check_int(name: str, value, low=None, high=None) -> int:
    """An integer (not a bool) in ``[low, high]``."""
    if not isinstance(value, Integral) or isinstance(value, bool):
        bounds = f" in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise ValueError(f"{name} must be an integer{bounds}, got {value!r}")
    check_range(name, value, low, high)
    return int(value)


def check_choice(name: str, value, choices) -> str:
    """``value`` is one of ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value
