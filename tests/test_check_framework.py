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
