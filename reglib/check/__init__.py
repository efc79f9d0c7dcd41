"""Checkers for the exercises: ``check.<name>(candidate)`` for every function a student writes.

A checker prints one line when the candidate is right and raises ``AssertionError`` with a
specific hint when it is not (a missing ½, hard instead of soft thresholding, ...). The checkers
for chapter NN live in ``reglib/check/chNN.py``; this package re-exports all of them.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from ._core import answer as _answer
from ._core import checker as _checker

answer = _checker(_answer)
__all__ = ["answer"]

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("ch"):
        _module = importlib.import_module(f"{__name__}.{_info.name}")
        for _name in getattr(_module, "__all__", ()):
            if _name in globals():
                raise ImportError(f"checker {_name!r} is defined twice (again in {_info.name})")
            _obj = getattr(_module, _name)
            # a failure is raised from the checker's top level: the student sees the hint, not reglib's frames
            globals()[_name] = _checker(_obj) if inspect.isfunction(_obj) else _obj
            __all__.append(_name)
del _info, _obj
