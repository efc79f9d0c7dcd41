"""Chapter 12 checkers accept the reference and name the usual mistakes."""

import numpy as np
import pytest
import torch

from reglib import check
from reglib import generalization as gen
from reglib.check.ch12 import SWEEP_P, _reference_errors


def test_reference_passes():
    check.randomize_labels(gen.randomize_labels)
    check.min_norm_solution(gen.min_norm_least_squares)
    errors = _reference_errors()
    check.double_descent_sweep(errors, SWEEP_P[int(np.argmax(errors))])


def test_randomize_labels_mistakes():
    def always_different(y, fraction, k, generator=None):
        return (y + 1) % k if fraction > 0 else y.clone()

    with pytest.raises(AssertionError, match="not random"):
        check.randomize_labels(always_different)

    def ignores_fraction(y, fraction, k, generator=None):
        return torch.randint(0, k, y.shape, generator=generator) if fraction > 0 else y.clone()

    with pytest.raises(AssertionError, match="at most round"):
        check.randomize_labels(ignores_fraction)

    def in_place(y, fraction, k, generator=None):
        y[: round(fraction * len(y))] = 0
        return y

    with pytest.raises(AssertionError, match="modified its input"):
        check.randomize_labels(in_place)


def test_min_norm_mistakes():
    with pytest.raises(AssertionError, match="normal equations|least-squares solution"):
        check.min_norm_solution(lambda Phi, Y: np.linalg.solve(Phi.T @ Phi, Phi.T @ Y))
    with pytest.raises(AssertionError, match="ridge"):
        check.min_norm_solution(lambda Phi, Y: np.linalg.solve(Phi.T @ Phi + np.eye(Phi.shape[1]), Phi.T @ Y))
    with pytest.raises(AssertionError, match="not implemented"):
        check.min_norm_solution(lambda Phi, Y: (_ for _ in ()).throw(NotImplementedError()))


def test_sweep_mistakes():
    errors = np.array(_reference_errors())
    with pytest.raises(AssertionError, match="accuracies"):
        check.double_descent_sweep(1 - errors, SWEEP_P[int(np.argmax(errors))])
    with pytest.raises(AssertionError, match="peak_p"):
        check.double_descent_sweep(errors, SWEEP_P[0])
    with pytest.raises(AssertionError, match="shape"):
        check.double_descent_sweep(errors[:-1], 100)
