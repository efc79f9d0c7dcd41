"""tools/check_claims.py reports every failing claim of a notebook, and REGLIB_SEEDS changes the course's seeds."""

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from reglib import experiment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools import check_claims  # noqa: E402

CLAIMS = '''# Claims checked
x = 3
assert x > 1, "x is large"
assert x > 5, f"x = {x} is not above 5"
for n in (1, 2):
    assert n < 2, n
print("end reached")
'''


def test_soften_reports_each_failing_assert_and_runs_on():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(check_claims.soften(CLAIMS), {})
    lines = out.getvalue().splitlines()
    assert lines == [f"{check_claims.MARK} x > 5 | x = 3 is not above 5",
                     f"{check_claims.MARK} n < 2 | 2",
                     "end reached"]


def test_soften_keeps_passing_claims_silent():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(check_claims.soften("# Claims checked\nassert 1 + 1 == 2\n"), {})
    assert out.getvalue() == ""


def test_check_executes_a_notebook_and_lists_failures_and_errors(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from reglib.experiment import SEEDS"),
                nbformat.v4.new_code_cell(CLAIMS + "assert SEEDS == (0, 1, 2), SEEDS\n"),
                nbformat.v4.new_code_cell("1 / 0")]
    path = tmp_path / "claims.ipynb"
    nbformat.write(nb, path)
    problems, seconds = check_claims.check(path)
    assert problems == [f"{check_claims.MARK} x > 5 | x = 3 is not above 5", f"{check_claims.MARK} n < 2 | 2",
                        "cell 2 raised ZeroDivisionError: division by zero"], problems
    assert nbformat.read(path, as_version=4).cells[1].source == CLAIMS + "assert SEEDS == (0, 1, 2), SEEDS\n"
    # the same notebook with other seeds: its SEEDS claim fails, in a run of the command line
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "check_claims.py"), "--seeds", "10,11,12", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 1
    assert f"{check_claims.MARK} SEEDS == (0, 1, 2) | (10, 11, 12)" in run.stdout, run.stdout


def test_a_notebook_without_claims_cell_is_a_problem(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, tmp_path / "plain.ipynb")
    assert check_claims.check(tmp_path / "plain.ipynb")[0] == ["no '# Claims checked' cell"]


def test_reglib_seeds_reads_the_environment(monkeypatch):
    monkeypatch.delenv("REGLIB_SEEDS", raising=False)
    assert experiment._seeds_from_environment() == (0, 1, 2) == experiment.SEEDS
    monkeypatch.setenv("REGLIB_SEEDS", " 10, 11,12 ")
    assert experiment._seeds_from_environment() == (10, 11, 12)
    monkeypatch.setenv("REGLIB_SEEDS", "3,4,5,6")
    assert experiment._seeds_from_environment() == (3, 4, 5, 6)


@pytest.mark.parametrize("bad", ["1,2", "1,1,2", "a,b,c", "-1,0,1", "1.5,2,3"])
def test_bad_reglib_seeds_raise(monkeypatch, bad):
    monkeypatch.setenv("REGLIB_SEEDS", bad)
    with pytest.raises(ValueError, match="REGLIB_SEEDS"):
        experiment._seeds_from_environment()
