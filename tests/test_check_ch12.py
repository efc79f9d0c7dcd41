"""Chapter 12 checkers accept the reference and name the usual mistakes."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reglib import check
from reglib import generalization as gen
from reglib.check.ch12 import SWEEP_P, _reference_errors


def test_reference_passes():
    check.randomize_labels(gen.randomize_labels)
    check.min_norm_solution(gen.min_norm_least_squares)
    errors = _reference_errors()
    check.double_descent_sweep(errors, SWEEP_P[int(np.argmax(errors))])


def test_double_descent_pass_message_places_the_peak_against_the_threshold(capsys):
    """The exercise's peak (p = 100 = n) is not the interpolation threshold: rank Φ is 94 there and reaches n at
    p = 125. The pass message must say so instead of calling p = 100 the threshold."""
    errors = _reference_errors()
    check.double_descent_sweep(errors, SWEEP_P[int(np.argmax(errors))])
    out = capsys.readouterr().out
    assert "peaks at p = 100, where rank Φ = 94" in out and "n = 100 at p = 125" in out and "just below" in out


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


# --------------------------------------------------------------------------- issue: mistakes the fixed inputs missed
# Wrong answers written from the task text alone; each must be rejected with the hint that names it.


def _relabel(y, fraction, k, generator=None, *, count=None, classes=None, ret_input=False, dtype=None):
    if ret_input and fraction == 0:
        return y
    n = len(y)
    chosen = torch.randperm(n, generator=generator)[: round(fraction * n) if count is None else count(fraction, n)]
    out = y.clone()
    out[chosen] = torch.randint(0, classes(y) if classes else k, (len(chosen),), generator=generator)
    return out if dtype is None else out.to(dtype)


def _bernoulli_choice(y, fraction, k, generator=None):
    chosen = torch.rand(len(y), generator=generator) < fraction
    out = y.clone()
    out[chosen] = torch.randint(0, k, (int(chosen.sum()),), generator=generator)
    return out


def _first_k(y, fraction, k, generator=None):
    """Redraws the labels of the first round(fraction · n) samples instead of a random subset."""
    out = y.clone()
    count = round(fraction * len(y))
    out[:count] = torch.randint(0, k, (count,), generator=generator)
    return out


@pytest.mark.parametrize("candidate, match", [
    (_bernoulli_choice, "not each sample with probability fraction"),
    (lambda y, f, k, g=None: _relabel(y, f, k, g, count=lambda f, n: int(f * n)), "int\\(\\) truncates"),
    (lambda y, f, k, g=None: _relabel(y, f, k, g, classes=lambda y: int(y.max()) + 1), "no new label was 8 or 9"),
    (lambda y, f, k, g=None: _relabel(y, f, k, g, ret_input=True), "returned `y` itself"),
    (lambda y, f, k, g=None: _relabel(y, f, k, g, classes=lambda y: k - 1), "top class 9 never occurs"),
    (_first_k, "not a random subset"),
    (lambda y, f, k, g=None: _first_k(y.flip(0), f, k, g).flip(0), "not a random subset"),
    (lambda y, f, k, g=None: _relabel(y, f, k, g, dtype=torch.int32), "int64"),
    (lambda y, f, k, g=None: _relabel(y, f, k, None), "draw all randomness from `generator`"),
])
def test_randomize_labels_mistakes_found_by_new_inputs(candidate, match):
    torch.manual_seed(0)
    with pytest.raises(AssertionError, match=match):
        check.randomize_labels(candidate)


def _svd_without_cutoff(Phi, Y):
    U, s, Vt = np.linalg.svd(Phi, full_matrices=False)
    return Vt.T @ ((U.T @ Y) / s[:, None])


@pytest.mark.parametrize("candidate, match", [
    (lambda Phi, Y: Phi.T @ np.linalg.solve(Phi @ Phi.T + 1e-12 * np.eye(len(Phi)), Y), "formula holds for p > n only"),
    (lambda Phi, Y: np.linalg.solve(Phi.T @ Phi, Phi.T @ Y) if Phi.shape[1] <= Phi.shape[0]
     else Phi.T @ np.linalg.solve(Phi @ Phi.T, Y), "rank 15"),
    (_svd_without_cutoff, "rank 15"),
])
def test_min_norm_rank_deficient(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.min_norm_solution(candidate)


@pytest.mark.parametrize("candidate", [
    lambda Phi, Y: np.linalg.pinv(Phi) @ Y,
    lambda Phi, Y: torch.linalg.lstsq(torch.tensor(Phi), torch.tensor(Y), driver="gelsd").solution.numpy(),
    lambda Phi, Y: torch.linalg.pinv(torch.tensor(Phi)).numpy() @ Y,
])
def test_min_norm_accepts_other_pseudo_inverses(candidate):
    check.min_norm_solution(candidate)


# --------------------------------------------------------------------------- property-based (hypothesis)
# Random perturbations of a correct answer: valid ones must pass, those that break the contract must fail.
# derandomize=True and generator-driven randomness: the same results on every run.

PROP = settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@PROP
@given(labels_first=st.booleans(), shift=st.integers(-3, 3).filter(bool))
def test_randomize_labels_properties(labels_first, shift):
    def correct(y, fraction, k, generator=None):
        n, count = len(y), round(fraction * len(y))
        if labels_first:
            labels = torch.randint(0, k, (count,), generator=generator)
            chosen = torch.randperm(n, generator=generator)[:count]
        else:
            chosen = torch.randperm(n, generator=generator)[:count]
            labels = torch.randint(0, k, (count,), generator=generator)
        out = y.clone()
        out[chosen] = labels
        return out

    check.randomize_labels(correct)
    with pytest.raises(AssertionError):
        check.randomize_labels(lambda y, f, k, g=None: _relabel(
            y, f, k, g, count=lambda f, n: min(max(round(f * n) + shift, 0), n)))


@PROP
@given(rel=st.floats(-1e-9, 1e-9), delta=st.floats(1e-3, 1.0))
def test_min_norm_solution_properties(rel, delta):
    check.min_norm_solution(lambda Phi, Y: np.linalg.lstsq(Phi, Y, rcond=None)[0] * (1 + rel))

    def with_null_space_part(Phi, Y):
        W = np.linalg.lstsq(Phi, Y, rcond=None)[0]
        n, p = Phi.shape
        if p > n:  # add a direction that Φ does not see: still interpolates, no longer the smallest
            null = np.linalg.svd(Phi)[2][-1]
            W = W + delta * null[:, None]
        return W

    with pytest.raises(AssertionError):
        check.min_norm_solution(with_null_space_part)
