"""The checker framework survives every way a candidate can go wrong (spec §7)."""

import math

import numpy as np
import pytest
import torch

from reglib import check
from reglib.check import _core


def test_call_reports_exceptions_with_the_error():
    def broken(x):
        return x / undefined_name  # noqa: F821

    with pytest.raises(AssertionError, match="raised NameError"):
        _core.call(broken, torch.ones(2))


def test_call_reports_not_implemented():
    def todo(x):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not implemented yet"):
        _core.call(todo, torch.ones(2))


def test_call_detects_mutation_of_inputs_by_argument_name():
    def mutates(values, scale):
        values.mul_(scale)
        return values

    with pytest.raises(AssertionError, match="modified its input `values`"):
        _core.call(mutates, torch.ones(3), 2.0)
    with pytest.raises(AssertionError, match="modified its input"):
        _core.call(lambda a: a.__setitem__(0, 5.0), np.zeros(3))


def test_call_rejects_non_callables():
    with pytest.raises(AssertionError, match="expected a function"):
        _core.call(3.0)


def test_expectations():
    with pytest.raises(AssertionError, match="forget `return`"):
        _core.expect_tensor(None, "f")
    with pytest.raises(AssertionError, match="shape"):
        _core.expect_tensor(torch.ones(2, 3), "f", shape=(3, 2))
    with pytest.raises(AssertionError, match="dtype"):
        _core.expect_tensor(torch.ones(2, dtype=torch.float64), "f", dtype=torch.float32)
    with pytest.raises(AssertionError, match="NaN"):
        _core.expect_tensor(torch.tensor([1.0, math.nan]), "f")
    with pytest.raises(AssertionError, match="NaN"):
        _core.expect_array(np.array([np.inf]), "f")
    with pytest.raises(AssertionError, match="single number"):
        _core.expect_scalar(torch.ones(3), "f")
    with pytest.raises(AssertionError, match="returned nan"):
        _core.expect_scalar(float("nan"), "f")
    assert _core.expect_scalar(torch.tensor(2.5), "f") == 2.5


def test_diagnose_names_the_known_mistake():
    expected = torch.tensor([1.0, 2.0])
    _core.diagnose(expected.clone(), expected, "f")
    with pytest.raises(AssertionError, match="missing ½"):
        _core.diagnose(2 * expected, expected, "f", mistakes=[(2 * expected, "missing ½")])
    with pytest.raises(AssertionError, match="largest error 1"):
        _core.diagnose(expected + 1, expected, "f", mistakes=[(2 * expected, "missing ½")])
    with pytest.raises(AssertionError, match="shape"):
        _core.diagnose(torch.ones(3), expected, "f")


def test_answers_are_checked_by_hash():
    check.answer("00.test_set", " B ")  # normalised: case and spaces
    with pytest.raises(AssertionError, match="no answer yet"):
        check.answer("00.test_set", None)
    with pytest.raises(AssertionError, match="independent estimate"):
        check.answer("00.test_set", "a")
    with pytest.raises(AssertionError, match="not quite"):
        check.answer("00.test_set", "z")
    with pytest.raises(AssertionError, match="unknown question"):
        check.answer("99.nothing", "a")


def test_success_is_one_line(capsys):
    _core.passed("thing", "detail")
    assert capsys.readouterr().out == "✔ thing: correct — detail\n"


# --------------------------------------------------------------------------- what a student sees (issue item 5)


def test_failures_are_not_chained_and_drop_reglib_frames():
    def broken(n, val_fraction, test_fraction, seed):
        return undefined_name  # noqa: F821

    with pytest.raises(AssertionError) as info:
        check.split_indices(broken)
    err = info.value
    assert err.__suppress_context__ and err.__cause__ is None
    assert "raised NameError" in str(err) and "undefined_name" in str(err)  # where the student's code raised
    frames = [(f.filename, f.name) for f in __import__("traceback").extract_tb(err.__traceback__)]
    # only the checker's top level is left (its wrapper frame, which pytest and IPython hide)
    assert [f for f in frames if "reglib" in f[0]] == [(_core.__file__, "wrapper")], frames
    rendered = err._render_traceback_()
    assert "raised NameError" in rendered[0] and "return undefined_name" in rendered[0]  # the hint, with where

    def helper(n):
        return undefined_name  # noqa: F821

    def nested(n, val_fraction, test_fraction, seed):
        return helper(n)

    with pytest.raises(AssertionError) as info:
        check.split_indices(nested)
    rendered = info.value._render_traceback_()
    assert "raised NameError" in rendered[0]  # the hint first, then the student's own frames
    assert any("in nested" in line for line in rendered[1:]) and any("in helper" in line for line in rendered[1:])


def test_a_wrong_value_renders_as_the_hint_alone():
    with pytest.raises(AssertionError) as info:
        check.polynomial_features(lambda x, degree: x[:, None] ** np.arange(degree + 1)[::-1])
    assert info.value._render_traceback_() == [f"\x1b[0;31mAssertionError\x1b[0m: {info.value}"]
    assert type(info.value) is AssertionError  # nbgrader and the exercise tests read the name


def test_a_failing_cell_shows_the_hint_first_in_jupyter():
    """Execute a tiny notebook with a wrong answer, as JupyterLab and nbgrader's autograde do."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import numpy as np\nfrom reglib import check"),
        nbformat.v4.new_code_cell("def polynomial_features(x, degree):\n"
                                  "    return x[:, None] ** np.arange(degree + 1)[::-1]\n"
                                  "check.polynomial_features(polynomial_features)"),
        nbformat.v4.new_code_cell("def split_indices(n, val_fraction, test_fraction, seed):\n"
                                  "    order = np.random.default_rng(seed).permutation(n)\n"
                                  "    return order[: n // 2], order[n // 2 :] / 0, undefined_name\n"
                                  "check.split_indices(split_indices)"),
    ]
    nbclient.NotebookClient(nb, timeout=120, allow_errors=True).execute()
    for cell, hint in ((nb.cells[1], "decreasing powers"), (nb.cells[2], "raised NameError")):
        (error,) = [o for o in cell.outputs if o.output_type == "error"]
        assert error.ename == "AssertionError"
        text = "\n".join(error.traceback)
        assert hint in error.traceback[0], error.traceback  # the hint comes first
        assert "During handling of the above exception" not in text
        assert "_core.py" not in text and "reglib/check" not in text
    assert "undefined_name" in nb.cells[2].outputs[-1].traceback[0]  # where the student's code raised


# --------------------------------------------------------------------------- shared helpers for checkers


def test_call_adds_the_hint_when_the_candidate_raises():
    def breaks(groups):
        return groups[10]

    with pytest.raises(AssertionError, match="raised IndexError.*unequal sizes"):
        _core.call(breaks, np.arange(3), name="f", _hint="the groups here have unequal sizes")


def test_tolerance_accepts_library_epsilons_and_rejects_mistakes():
    atol, rtol = _core.tolerance(torch.float64)
    w = torch.tensor([[3.0, 4.0], [0.3, 0.4]], dtype=torch.float64)
    exact = w / w.norm(dim=1, keepdim=True).clamp(min=1.0)
    _core.diagnose(torch.renorm(w, 2, 0, 1.0), exact, "max_norm_", atol=atol, rtol=rtol)  # renorm adds 1e-7
    with pytest.raises(AssertionError):
        _core.diagnose(exact * 1.001, exact, "max_norm_", atol=atol, rtol=rtol)
    assert _core.tolerance(torch.float32) > _core.tolerance(torch.float64)


def test_binomial_count_test():
    lo, hi = _core.binomial_range(1000, 0.3)
    assert lo < 300 < hi and hi - lo < 150
    assert _core.binomial_range(50, 0.0) == (0, 0) and _core.binomial_range(50, 1.0) == (50, 50)
    _core.expect_count(300, 1000, 0.3, "rate")
    with pytest.raises(AssertionError, match="wrong rate.*got 700 of 1000"):
        _core.expect_count(700, 1000, 0.3, "wrong rate")


def test_binomial_spread_test_names_both_directions():
    rng = np.random.default_rng(0)
    for _ in range(20):  # independent draws pass (false-alarm rate 1e-5 per call)
        _core.expect_binomial_spread(rng.binomial(500, 0.2, size=200), 500, 0.2, "regular", "spread")
    with pytest.raises(AssertionError, match="regular"):
        _core.expect_binomial_spread(np.full(200, 100), 500, 0.2, "regular", "spread")
    with pytest.raises(AssertionError, match="spread"):  # one draw per row: all or nothing
        _core.expect_binomial_spread(500 * rng.binomial(1, 0.2, size=200), 500, 0.2, "regular", "spread")


def test_uniform_and_distribution_tests():
    rng = np.random.default_rng(1)
    _core.expect_uniform_counts(np.bincount(rng.integers(0, 6, 3000), minlength=6), "not uniform")
    with pytest.raises(AssertionError, match="not uniform"):
        _core.expect_uniform_counts(np.bincount(np.round(rng.uniform(0, 5, 3000)).astype(int), minlength=6),
                                    "not uniform")  # a rounded continuous draw: the end values are half as likely
    log_uniform = 10 ** rng.uniform(-4, -1, 500)
    cdf = lambda v: (np.log10(v) + 4) / 3  # noqa: E731
    _core.expect_distribution(log_uniform, cdf, "not log-uniform")
    with pytest.raises(AssertionError, match="not log-uniform"):
        _core.expect_distribution(rng.uniform(1e-4, 1e-1, 500), cdf, "not log-uniform")
