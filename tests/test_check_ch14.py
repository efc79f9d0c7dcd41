"""The checkers of exercise 14 accept the reference and reject each named mistake with its own hint."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reglib import check
from reglib.averaging import weight_decay_for_timescale
from reglib.check import ch14
from reglib.weight_dynamics import equilibrium_angular_update

# --------------------------------------------------------------------------- ema_update


def test_ema_update_accepts_the_reference(capsys):
    check.ema_update(lambda avg, cur, decay: decay * avg + (1 - decay) * cur)
    check.ema_update(lambda avg, cur, decay: torch.lerp(avg, cur, 1 - decay))
    assert "✔ ema_update" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (lambda a, c, d: (1 - d) * a + d * c, "swapped"),
    (lambda a, c, d: d * a + c, "multiplied by 1 − β"),
    (lambda a, c, d: c.clone(), "returned the current weights"),
    (lambda a, c, d: a.clone(), "unchanged"),
    (lambda a, c, d: (a + c) / 2, "plain mean"),
    (lambda a, c, d: a.mul_(d).add_((1 - d) * c), "modified its input"),
    (lambda a, c, d: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda a, c, d: None, "return"),
    (lambda a, c, d: (d * a + (1 - d) * c).float(), "dtype"),
])
def test_ema_update_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.ema_update(candidate)


@settings(max_examples=40, deadline=None)
@given(factor=st.floats(0.5, 2.0).filter(lambda f: abs(f - 1) > 1e-3))
def test_ema_update_rejects_any_rescaled_result(factor):
    with pytest.raises(AssertionError):
        check.ema_update(lambda a, c, d: factor * (d * a + (1 - d) * c))


# --------------------------------------------------------------------------- swa_update


def test_swa_update_accepts_the_reference(capsys):
    check.swa_update(lambda avg, cur, n: avg + (cur - avg) / (n + 1))
    check.swa_update(lambda avg, cur, n: (avg * n + cur) / (n + 1))
    assert "✔ swa_update" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (lambda a, c, n: a + (c - a) / max(n, 1), "off by one"),
    (lambda a, c, n: (a + c) / 2, "last two"),
    (lambda a, c, n: a * n + c, "summed"),
    (lambda a, c, n: (a * n + c) / max(n, 1), "not n"),
    (lambda a, c, n: c.clone(), "current weights"),
    (lambda a, c, n: a + (c - a) / n, "off by one"),
])
def test_swa_update_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.swa_update(candidate)


def test_swa_update_first_snapshot_edge_case():
    # a candidate that is right for n >= 1 but mishandles the empty average
    def wrong_at_zero(avg, cur, n):
        return avg if n == 0 else avg + (cur - avg) / (n + 1)

    with pytest.raises(AssertionError, match="n=0"):
        check.swa_update(wrong_at_zero)


# --------------------------------------------------------------------------- equilibrium_angle, decay_for_timescale


def test_formulas_accept_references(capsys):
    check.equilibrium_angle(lambda lr, wd, momentum=0.0: math.sqrt(2 * lr * wd / (1 + momentum)))
    check.equilibrium_angle(equilibrium_angular_update)
    check.decay_for_timescale(lambda lr, tau, n, b: b / (lr * n * tau))
    check.decay_for_timescale(lambda lr, tau, n, b: weight_decay_for_timescale(lr, tau * n / b))
    out = capsys.readouterr().out
    assert "✔ equilibrium_angle" in out and "✔ decay_for_timescale" in out


@pytest.mark.parametrize("candidate, match", [
    (lambda lr, wd, m=0.0: 2 * lr * wd / (1 + m), "square root"),
    (lambda lr, wd, m=0.0: math.sqrt(lr * wd / (1 + m)), "factor 2"),
    (lambda lr, wd, m=0.0: math.sqrt(2 * lr * wd), "momentum ignored"),
    (lambda lr, wd, m=0.0: math.sqrt(2 * lr * wd * (1 + m)), "wrong side"),
    (lambda lr, wd, m=0.0: math.sqrt(2 * lr * wd / (1 - m)), "1 − μ"),
    (lambda lr, wd, m=0.0: math.sqrt(2 * wd / (1 + m)), "learning rate is missing"),
    (lambda lr, wd, m=0.0: float("nan"), "nan"),
    (lambda lr, wd, m=0.0: torch.ones(2), "single number"),
])
def test_equilibrium_angle_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.equilibrium_angle(candidate)


@pytest.mark.parametrize("candidate, match", [
    (lambda lr, tau, n, b: 1 / (lr * tau), "iterations"),
    (lambda lr, tau, n, b: n / (lr * b * tau), "swapped"),
    (lambda lr, tau, n, b: b / (n * tau), "learning rate is missing"),
    (lambda lr, tau, n, b: lr * n / b * tau, "inverted"),
    (lambda lr, tau, n, b: 1 / (lr * math.ceil(n / b) * tau), "rounding"),
])
def test_decay_for_timescale_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.decay_for_timescale(candidate)


@settings(max_examples=40, deadline=None)
@given(power=st.floats(0.2, 3.0).filter(lambda p: abs(p - 1) > 0.05))
def test_decay_for_timescale_rejects_wrong_scaling_with_data(power):
    # a formula with the right value at one data size but the wrong law in N is caught by the scaling check
    def wrong(lr, tau, n, b):
        return b / (lr * tau) / 10**5 * (10**5 / n) ** power

    with pytest.raises(AssertionError):
        check.decay_for_timescale(wrong)


# --------------------------------------------------------------------------- equilibrium_experiment


def _solve(problem, decay=True, degrees=False, steps=None):
    gen = torch.Generator().manual_seed(0)
    w, lr, lam = problem["w0"].clone(), problem["lr"], problem["weight_decay"] if decay else 0.0
    angles = []
    for _ in range(steps or problem["steps"]):
        new = (1 - lr * lam) * w - lr * problem["grad_fn"](w, gen)
        angle = float(torch.acos((w @ new / (w.norm() * new.norm())).clamp(-1, 1)))
        angles.append(math.degrees(angle) if degrees else angle)
        w = new
    return angles


def test_equilibrium_experiment_accepts_the_solution(capsys):
    problem = ch14.equilibrium_problem()
    check.equilibrium_experiment(_solve(problem))
    check.equilibrium_experiment(torch.tensor(_solve(problem)))
    assert "✔ equilibrium_experiment" in capsys.readouterr().out


def test_equilibrium_experiment_names_each_mistake():
    problem = ch14.equilibrium_problem()
    with pytest.raises(AssertionError, match="weight decay"):
        check.equilibrium_experiment(_solve(problem, decay=False))
    with pytest.raises(AssertionError, match="degrees|\\[0, π\\]"):
        check.equilibrium_experiment(_solve(problem, degrees=True))
    with pytest.raises(AssertionError, match="one angle per step"):
        check.equilibrium_experiment(_solve(problem, steps=100))
    with pytest.raises(AssertionError, match="NaN"):
        check.equilibrium_experiment([float("nan")] * problem["steps"])


@settings(max_examples=40, deadline=None)
@given(factor=st.floats(0.3, 3.0))
def test_equilibrium_experiment_accepts_exactly_the_20_percent_band(factor):
    problem = ch14.equilibrium_problem()
    target = math.sqrt(2 * problem["lr"] * problem["weight_decay"])
    angles = np.full(problem["steps"], factor * target)
    if 0.8 <= factor <= 1.25:
        ch14.equilibrium_experiment(angles)
    else:
        with pytest.raises(AssertionError):
            ch14.equilibrium_experiment(angles)


# --------------------------------------------------------------------------- conceptual answers


def test_answers_accept_the_key_and_explain_wrong_choices(capsys):
    check.answer("14.bn_decay", "b")
    check.answer("14.more_data", "Divide by 4")
    check.answer("14.swa_bn", "b")
    assert capsys.readouterr().out.count("✔") == 3
    for question, wrong, match in (("14.bn_decay", "a", "capacity"), ("14.bn_decay", "c", "η/‖w‖²"),
                                   ("14.more_data", "keep", "four times"), ("14.more_data", "multiply by 4", "wrong way"),
                                   ("14.swa_bn", "a", "do not fit"), ("14.swa_bn", "c", "not the statistics")):
        with pytest.raises(AssertionError, match=match):
            check.answer(question, wrong)
    with pytest.raises(AssertionError, match="no answer yet"):
        check.answer("14.swa_bn", ...)
