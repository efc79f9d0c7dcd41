"""Every chapter follows the anatomy of spec §4 and is committed executed; the README maps them all."""

import re
from pathlib import Path

import nbformat
import pytest

from reglib.notebooks import cell_error, machinery_cells

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
EXECUTED = CHAPTERS + sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("path", EXECUTED, ids=[f"{p.parent.name}/{p.stem}" for p in EXECUTED])
def test_committed_executed_in_order_without_errors(path):
    nb = nbformat.read(path, as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert None not in counts, "unexecuted code cells: run `python tools/run_notebooks.py`"
    assert counts == list(range(counts[0], counts[0] + len(counts))), "cells were not executed once, top to bottom"
    errors = [cell_error(c) for c in nb.cells if c.cell_type == "code" and cell_error(c)]
    assert not errors, errors


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_anatomy(path):
    nb = nbformat.read(path, as_version=4)
    md = _markdown(nb)
    first = nb.cells[0].source
    assert first.startswith(f"# {path.stem[:2]} · "), "title cell '# NN · Title' first"
    for needle in ("Learning objectives", "Prerequisites", "Reading time", f"exercises/{path.name}", "colab", "binder"):
        assert needle.lower() in first.lower(), f"first cell lacks {needle!r}"
    claims = [c for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith("# Claims checked")]
    assert len(claims) == 1, "exactly one '# Claims checked' cell"
    assert claims[0].source.count("assert") >= 3
    assert "<details>" in md, "review questions with answers in <details>"
    assert re.search(r"^#+ .*References", md, re.M), "a References section"
    assert re.search(r"pitfall", md, re.I), "a pitfalls section"
    assert "show_source(" in "\n".join(c.source for c in nb.cells if c.cell_type == "code"), \
        "show the reglib implementation with show_source"
    assert "$" in md, "the derivation in LaTeX"
    figures = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert figures >= 2, "chapters show their results in figures"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_setup_imports_and_claims_are_collapsed_teaching_code_open(path):
    nb = nbformat.read(path, as_version=4)
    machinery = machinery_cells(nb)
    kinds = [nb.cells[i].source.lstrip().split("\n")[0] for i in machinery]
    assert len(machinery) == 3 and kinds[0].startswith("# Setup") and kinds[2].startswith("# Claims checked"), kinds
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        hidden = cell.metadata.get("jupyter", {}).get("source_hidden", False)
        tagged = "hide-input" in cell.metadata.get("tags", [])
        if i in machinery:
            assert hidden and tagged, f"cell {i} should be collapsed: run python tools/collapse_cells.py"
        else:
            assert not hidden and not tagged, f"cell {i} is teaching code and should be open"


def test_readme_maps_every_chapter():
    readme = (ROOT / "README.md").read_text()
    for path in CHAPTERS:
        assert f"chapters/{path.name}" in readme, f"README chapter map lacks {path.name}"
        assert f"exercises/{path.name}" in readme


def test_requirements_pin_cpu_torch():
    reqs = (ROOT / "requirements.txt").read_text().splitlines()
    pins = [r for r in reqs if r and not r.startswith("#")]
    assert "torch==2.13.0" in pins
    assert all("==" in r for r in pins), "every requirement pinned"


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    for command in ("pip install -r requirements.txt -e .", "pytest -n 2 --dist loadscope --nbval-lax"):
        assert command in readme
    assert "pip install -q -r requirements.txt -e ." in ci and "pytest -n 2 --dist loadscope --nbval-lax" in ci
