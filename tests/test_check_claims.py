"""tools/check_claims.py reports every failing claim of a notebook, and REGLIB_SEEDS changes the course's seeds."""

import contextlib
import inspect
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
    # the SEEDS claim fails with other seeds; the others as before; the cell after the claims raised
    assert "FAIL  0/1  c1:L8      SEEDS == (0, 1, 2)   <- 10,11,12@native" in run.stdout, run.stdout
    assert "ok    1/1  c1:L3      x > 1" in run.stdout, run.stdout
    assert "ERROR in 10,11,12@native: cell 2 raised ZeroDivisionError" in run.stdout, run.stdout


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


# --------------------------------------------------------------------------- streams: seed sets × kernel settings


def test_claims_of_names_each_assert_by_cell_and_line():
    assert check_claims.claims_of(CLAIMS, "c4:") == [("c4:L3", "x > 1"), ("c4:L4", "x > 5"), ("c4:L6", "n < 2")]


def test_labelled_soften_prefixes_the_claim_id():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(check_claims.soften(CLAIMS, "c4:"), {})
    assert out.getvalue().splitlines()[:2] == [f"{check_claims.MARK} [c4:L4] x > 5 | x = 3 is not above 5",
                                               f"{check_claims.MARK} [c4:L6] n < 2 | 2"]


def test_seed_sets_are_disjoint_and_avoid_the_committed_seeds():
    sets = check_claims.seed_sets(10, count=3, base=1000)
    assert len(sets) == 10 and all(len(s) == 3 for s in sets)
    flat = [seed for s in sets for seed in s]
    assert len(set(flat)) == len(flat) and not {0, 1, 2} & set(flat)
    assert check_claims.seed_sets(2, count=5, base=7) == [(7, 8, 9, 10, 11), (107, 108, 109, 110, 111)]
    for kwargs, name in (({"n": -1}, "--seed-sets"), ({"n": 1, "count": 2}, "--seed-count"),
                         ({"n": 1, "base": 2}, "--seed-base")):
        with pytest.raises(ValueError, match=name):
            check_claims.seed_sets(**kwargs)


def test_plan_streams_covers_every_kernel_setting():
    sets = check_claims.seed_sets(4)
    plan = check_claims.plan_streams(["native", "avx2", "default"], sets)
    # the committed seeds under each setting, then each set under one setting in turn
    assert [s.name for s in plan[:3]] == ["committed@native", "committed@avx2", "committed@default"]
    assert [s.kernel for s in plan[3:]] == ["native", "avx2", "default", "native"]
    assert [s.seeds for s in plan[3:]] == sets
    crossed = check_claims.plan_streams(["native", "default"], sets, cross=True)
    assert len(crossed) == 2 + 2 * len(sets)
    assert check_claims.plan_streams(["avx2"], [], explicit=(5, 6, 7))[0].seeds == (5, 6, 7)


def test_stream_environment_sets_seeds_kernel_and_workers(monkeypatch):
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")
    monkeypatch.setenv("REGLIB_SEEDS", "4,5,6")
    native = check_claims.Stream(None).environment()
    assert "ATEN_CPU_CAPABILITY" not in native and "REGLIB_SEEDS" not in native
    env = check_claims.Stream((10, 11, 12), "default").environment(workers=1)
    assert env["ATEN_CPU_CAPABILITY"] == "default" and env["REGLIB_SEEDS"] == "10,11,12"
    assert env["REGLIB_WORKERS"] == "1"


def test_table_counts_where_each_claim_held(tmp_path):
    claims = [("c1:L2", "a > 0"), ("c1:L3", "b > 0")]
    s1, s2 = check_claims.Stream(None), check_claims.Stream((10, 11, 12), "avx2")
    results = [check_claims.Result(s1, {}, [], 3.0), check_claims.Result(s2, {"c1:L3": "b = -1"}, [], 4.0)]
    text = check_claims.table(tmp_path / "nb.ipynb", claims, results)
    assert "ok    2/2  c1:L2" in text and "FAIL  1/2  c1:L3" in text and "<- 10,11,12@avx2" in text
    # a cell that raised before the claims cell voids its claims; one after it does not
    broken = check_claims.Result(s1, {}, ["cell 0 raised ValueError: x"], 1.0)
    assert not check_claims.held("c1:L2", broken)
    assert check_claims.held("c1:L2", check_claims.Result(s1, {}, ["cell 2 raised ValueError: x"], 1.0))
    broken = [broken]
    assert "ERROR in committed@native" in check_claims.table(tmp_path / "nb.ipynb", claims, broken, markdown=True)


def test_streams_and_probes_end_to_end(tmp_path):
    """Two streams of a real notebook: the seed-dependent claim fails in one, the kernel setting reaches the
    kernel, and a probe reports a value from each."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nfrom reglib.experiment import SEEDS\n"
                                          "kernel = os.environ.get('ATEN_CPU_CAPABILITY', 'native')"),
                nbformat.v4.new_code_cell("# Claims checked\nassert SEEDS[0] < 100, SEEDS\nassert len(SEEDS) == 3\n")]
    path = tmp_path / "streams.ipynb"
    nbformat.write(nb, path)
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "check_claims.py"), "--seed-sets", "1",
                          "--seed-base", "500", "--kernels", "native,default", "--jobs", "2",
                          "--probe", "SEEDS[0]", "--probe", "kernel == 'default'", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout
    assert "streams.ipynb: 3 stream(s)" in out
    assert "FAIL  2/3  c1:L2" in out and "<- 500,501,502@native" in out, out
    assert "ok    3/3  c1:L3" in out, out
    assert "committed@default        1.0" in out and "500,501,502@native       500.0" in out, out


def test_seeds_extends_the_course_seeds(monkeypatch):
    assert experiment.seeds(5) == (0, 1, 2, 3, 4) and experiment.seeds(2) == (0, 1)
    monkeypatch.setattr(experiment, "SEEDS", (1000, 1001, 1002))
    assert experiment.seeds(5) == (1000, 1001, 1002, 1003, 1004) and experiment.seeds(3) == (1000, 1001, 1002)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="^n must be"):
            experiment.seeds(bad)


def test_show_source_leaves_argument_checks_out():
    from reglib import penalties
    from reglib.dropout import dropout

    source, count = experiment.source_without_checks(penalties.elastic_net_penalty)
    assert count == 2 and "check_nonneg" not in source and "check_probability" not in source
    assert "return l1_penalty(tensors, lam * l1_ratio) + l2_penalty(tensors, lam * (1 - l1_ratio))" in source
    assert "def elastic_net_penalty(" in source and '"""' in source  # signature and docstring stay
    source, count = experiment.source_without_checks(dropout)
    assert count == 2 and "_check_x" not in source and "return _masked(" in source
    # a check that binds a new name is shown as the assignment it performs, so every used name stays defined
    from reglib.dropout import DropConnectLinear

    source, count = experiment.source_without_checks(DropConnectLinear.__init__)
    assert "self.p = p" in source and "check_probability" not in source and count >= 1
    # an unlabelled helper that computes its result is shown whole, not guessed at
    from reglib import linear

    source, _ = experiment.source_without_checks(linear.ista)
    assert "w = _check_w0(w0, X.shape[1])" in source and "w = w0, X.shape[1]" not in source
    # a function without checks comes back whole
    source, count = experiment.source_without_checks(experiment.mean_std)
    assert count == 0 and source.strip() == inspect.getsource(experiment.mean_std).strip()
