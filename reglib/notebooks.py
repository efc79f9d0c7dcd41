"""Running notebooks and reading nbgrader metadata (used by ``reglib.grade``, the tools and the tests)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import nbformat

__all__ = ["execute", "task_cells", "cell_error", "ERROR_TYPES", "machinery_cells", "collapse_machinery"]

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


def machinery_cells(nb) -> list[int]:
    """Indices of the code cells a reader skims: the Colab setup cell (``# Setup``), the import cell right after
    it (every statement an import, or the ``init_notebook()`` call), and the ``# Claims checked`` cell."""
    import ast

    out = []
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for k, i in enumerate(code):
        source = nb.cells[i].source.lstrip()
        if source.startswith("# Setup") or source.startswith("# Claims checked"):
            out.append(i)
        elif k <= 1 and source:
            try:
                body = ast.parse(source).body
            except SyntaxError:
                continue
            imports = [s for s in body if isinstance(s, (ast.Import, ast.ImportFrom))]
            if len(imports) >= len(body) / 2 and isinstance(body[0], (ast.Import, ast.ImportFrom)):
                out.append(i)
    return out


def collapse_machinery(nb) -> list[int]:
    """Collapse the cells of :func:`machinery_cells`: their source is hidden in JupyterLab
    (``metadata.jupyter.source_hidden``) and behind a toggle on the website (tag ``hide-input``), their
    output stays visible; every other cell is left open. Returns the collapsed cells' indices."""
    collapse = set(machinery_cells(nb))
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = [t for t in cell.metadata.get("tags", []) if t != "hide-input"]
        jupyter = {k: v for k, v in cell.metadata.get("jupyter", {}).items() if k != "source_hidden"}
        if i in collapse:
            tags.append("hide-input")
            jupyter["source_hidden"] = True
        for key, value in (("tags", tags), ("jupyter", jupyter)):
            if value:
                cell.metadata[key] = value
            else:
                cell.metadata.pop(key, None)
    return sorted(collapse)
