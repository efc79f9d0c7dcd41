"""A real nbgrader course (spec §8): sqlite gradebook, ``generate_assignment``, ``autograde``, ``export``.

An instructor puts ``solutions/NN_topic.ipynb`` into nbgrader unchanged. The always-on part
(a little under a minute on 2 cores) builds a course whose gradebook is an sqlite file, makes one
assignment from chapter 00's solution with ``nbgrader generate_assignment``, autogrades two submissions
with ``nbgrader autograde`` — the full solution and the untouched release — and exports the grades:
full marks and zero. It also generates an assignment from every solution notebook (cheap: nothing is
executed), so that nbgrader accepts every chapter's metadata. Autograding every chapter takes several
minutes; run it with ``REGLIB_NBGRADER_ALL=1 pytest -n 0 tests/test_nbgrader_course.py``.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")
nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
FAST = "00_generalization"
ALL = os.environ.get("REGLIB_NBGRADER_ALL") == "1"


def _nbgrader(course: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, REGLIB_PROGRESS="0", MPLBACKEND="Agg", REGLIB_STATIC_FIGURES="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _make_course(root: Path, assignments: dict[str, list[Path]]) -> Path:
    course = root / "course"
    for assignment, notebooks in assignments.items():
        (course / "source" / assignment).mkdir(parents=True)
        for nb in notebooks:
            shutil.copy(nb, course / "source" / assignment / nb.name)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'regularization'\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course / 'gradebook.db'}'\n"
        "c.Execute.timeout = 600\n")
    return course


def _submit(course: Path, assignment: str, student: str, notebooks: list[Path]) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    for nb in notebooks:
        shutil.copy(nb, folder / nb.name)


def _grades(course: Path) -> dict[tuple[str, str], tuple[float, float]]:
    _nbgrader(course, "export", "--to", str(course / "grades.csv"))
    with open(course / "grades.csv") as f:
        return {(r["assignment"], r["student_id"]): (float(r["score"]), float(r["max_score"]))
                for r in csv.DictReader(f)}


def _points(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    return sum(c.metadata.get("nbgrader", {}).get("points", 0) or 0 for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade"))


def _grade_round_trip(tmp_path: Path, solutions: list[Path]) -> None:
    """Full solution → full marks, untouched release → zero, for one assignment per solution notebook."""
    assignments = {f"ps{nb.name[:2]}": [nb] for nb in solutions}
    course = _make_course(tmp_path, assignments)
    for assignment in assignments:
        _nbgrader(course, "generate_assignment", assignment)
    for assignment, notebooks in assignments.items():
        released = [course / "release" / assignment / nb.name for nb in notebooks]
        assert all(p.exists() for p in released), f"generate_assignment wrote no release for {assignment}"
        for p in released:  # the release holds no solutions and no hidden tests
            text = p.read_text()
            assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, p
        _submit(course, assignment, "full", notebooks)
        _submit(course, assignment, "blank", released)
    for assignment in assignments:
        _nbgrader(course, "autograde", assignment)
    assert (course / "gradebook.db").exists()
    grades = _grades(course)
    for assignment, notebooks in assignments.items():
        total = sum(_points(nb) for nb in notebooks)
        assert total > 0
        assert grades[(assignment, "full")] == (total, total), (assignment, grades)
        assert grades[(assignment, "blank")] == (0.0, total), (assignment, grades)
        feedback_ok = course / "autograded" / "full" / assignment / notebooks[0].name
        assert feedback_ok.exists()


def test_nbgrader_course_grades_a_fast_chapter(tmp_path):
    """Always on: one fast chapter, generate → autograde (two submissions) → export: full marks and zero.

    Then the feedback a student gets for the untouched release: every failed check shows its hint first,
    with no chained traceback through reglib (issue: exercise feedback, item 5).
    """
    _grade_round_trip(tmp_path, [ROOT / "solutions" / f"{FAST}.ipynb"])
    course = tmp_path / "course"
    _nbgrader(course, "generate_feedback", f"ps{FAST[:2]}", "--student", "blank")
    (html,) = (course / "feedback" / "blank" / f"ps{FAST[:2]}").glob("*.html")
    text = html.read_text()
    assert "is not implemented yet" in text
    assert "During handling of the above exception" not in text
    assert "_core.py" not in text and "reglib/check" not in text


def test_nbgrader_generates_an_assignment_from_every_solution(tmp_path):
    """Always on and cheap (nothing executes): nbgrader accepts every solution notebook's metadata."""
    course = _make_course(tmp_path, {"all": SOLUTIONS})
    _nbgrader(course, "generate_assignment", "all")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assignment = gb.find_assignment("all")
        stored = {nb.name: nb.max_score for nb in assignment.notebooks}
    for path in SOLUTIONS:
        assert stored[path.stem] == _points(path) > 0, path.name
        released = nbformat.read(course / "release" / "all" / path.name, as_version=4)
        for cell in released.cells:
            assert "### BEGIN SOLUTION" not in cell.source and "### BEGIN HIDDEN TESTS" not in cell.source


@pytest.mark.notebook
@pytest.mark.skipif(not ALL, reason="autograding every chapter takes minutes: set REGLIB_NBGRADER_ALL=1")
@pytest.mark.parametrize("solution", [p for p in SOLUTIONS if p.stem != FAST], ids=lambda p: p.stem[:2])
def test_nbgrader_course_grades_every_chapter(tmp_path, solution):
    _grade_round_trip(tmp_path, [solution])
