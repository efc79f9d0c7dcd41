"""Exercise machinery (spec §7): exercises/ is generated from solutions/, checkers can fail.

* every exercise is exactly what nbgrader's preprocessors make of its solution;
* solution notebooks carry consistent nbgrader metadata and 3-6 graded tasks;
* every unsolved exercise fails at its task cells and nowhere else, and at every graded cell;
* ``python -m reglib.grade`` reports an unsolved exercise as not done and a solution as full marks.
(nbval runs every solution notebook, which proves each passes its own checks.)
"""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from reglib.notebooks import cell_error, execute, task_cells

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools.make_exercises import exercise_from_solution  # noqa: E402

SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
ids = [p.stem for p in SOLUTIONS]


def test_every_solution_has_an_exercise_and_a_chapter():
    assert SOLUTIONS, "no solution notebooks found"
    assert [p.name for p in EXERCISES] == [p.name for p in SOLUTIONS]
    chapters = {p.name for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")}
    assert {p.name for p in SOLUTIONS} <= chapters


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_exercise_is_generated_from_solution(solution):
    expected = nbformat.reads(exercise_from_solution(solution), as_version=4)
    actual = nbformat.read(ROOT / "exercises" / solution.name, as_version=4)
    assert [c.source for c in actual.cells] == [c.source for c in expected.cells], (
        f"exercises/{solution.name} is stale: run `python tools/make_exercises.py {solution.relative_to(ROOT)}`")
    assert [c.get("metadata", {}).get("nbgrader") for c in actual.cells] == \
           [c.get("metadata", {}).get("nbgrader") for c in expected.cells]
    assert all(not c.get("outputs") for c in actual.cells if c.cell_type == "code")


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_solution_metadata(solution):
    nb = nbformat.read(solution, as_version=4)
    grade_ids, graded = [], 0
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if not meta:
            assert "BEGIN SOLUTION" not in cell.source, "solution markers in a cell without nbgrader metadata"
            continue
        grade_ids.append(meta["grade_id"])
        assert meta.get("schema_version") == 3
        if meta.get("solution"):
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
            assert not meta.get("locked")
        if meta.get("grade"):
            graded += 1
            assert meta.get("locked") and meta.get("points", 0) > 0
            assert "check." in cell.source or "assert" in cell.source
    assert len(grade_ids) == len(set(grade_ids)), "grade_id values must be unique"
    assert 3 <= graded <= 8, f"{graded} graded cells; each exercise has 3-6 tasks"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("exercise", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_unsolved_exercise_fails_exactly_at_its_tasks(exercise):
    nb, _ = execute(exercise, allow_errors=True, timeout=300)
    tasks = set(task_cells(nb))
    failed = {i for i, c in enumerate(nb.cells) if c.cell_type == "code" and cell_error(c)}
    outside = failed - tasks
    assert not outside, "non-task cells failed: " + "; ".join(
        f"cell {i}: {cell_error(nb.cells[i])}" for i in sorted(outside))
    graded = {i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
    passing = graded - failed
    assert not passing, f"graded cells that pass although nothing was solved: {sorted(passing)}"
    for i in graded:  # the student sees a hint, not an internal error from the checker
        assert cell_error(nb.cells[i])[0] in ("AssertionError", "NameError", "NotImplementedError"), cell_error(nb.cells[i])


def test_grade_command_reports_unsolved_and_solved():
    exercise = ROOT / "exercises" / "00_generalization.ipynb"
    out = subprocess.run([sys.executable, "-m", "reglib.grade", str(exercise)], capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "✘ check_split_indices" in out.stdout and "not implemented yet" in out.stdout
    assert "Score: 0/14" in out.stdout
    solved = subprocess.run([sys.executable, "-m", "reglib.grade", str(ROOT / "solutions" / "00_generalization.ipynb")],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert "Score: 14/14" in solved.stdout and "full marks" in solved.stdout
