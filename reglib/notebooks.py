"""Running notebooks and reading nbgrader metadata (used by ``reglib.grade``, the tools and the tests)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import nbformat

__all__ = ["execute", "task_cells", "cell_error", "ERROR_TYPES"]

ERROR_TYPES = ("error",)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def execute(path, *, allow_errors: bool = False, timeout: int = 600, cwd=None, kernel_name: str = "python3"):
    """Execute a notebook top to bottom and return ``(notebook, seconds)``; the file is not written.

    Progress bars are switched off (``REGLIB_PROGRESS=0``), matplotlib renders off-screen,
    ``reglib.interactive`` explorers show their static figure (``REGLIB_STATIC_FIGURES=1``) and the
    kernel computes on one thread, as the test suite's kernels do: the thread count changes the order of
    floating-point sums, so the committed outputs are the ones ``pytest --nbval-lax`` reproduces.
    """
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("REGLIB_PROGRESS", "0")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ.setdefault("REGLIB_STATIC_FIGURES", "1")  # reglib.interactive: the figure, not a widget
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, allow_errors=allow_errors,
                            resources={"metadata": {"path": str(cwd or path.parent)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def task_cells(nb) -> list[int]:
    """Indices of the cells nbgrader knows as tasks: solution cells and graded test cells."""
    out = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") or meta.get("grade"):
            out.append(i)
    return out


def cell_error(cell) -> tuple[str, str] | None:
    """``(exception name, message)`` of the first error output of a code cell, else ``None``."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return output.get("ename", ""), _ANSI.sub("", output.get("evalue", ""))
    return None
