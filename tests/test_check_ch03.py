"""The checkers of exercise 03 accept the reference and reject each named mistake with its own hint."""

import numpy as np
import pytest
import torch

from reglib import check, linear, penalties
from reglib.check import ch03


def _raises(*args):
    raise NotImplementedError()


# --------------------------------------------------------------------------- elastic_net_penalty


def test_elastic_net_penalty_accepts_the_reference(capsys):
    check.elastic_net_penalty(penalties.elastic_net_penalty)
    check.elastic_net_penalty(lambda w, a, r: a * r * w.abs().sum() + a * (1 - r) / 2 * (w * w).sum())
    assert "✔ elastic_net_penalty" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (lambda w, a, r: a * (r * w.abs().sum() + (1 - r) * (w**2).sum()), "missing ½"),
    (lambda w, a, r: a * ((1 - r) * w.abs().sum() + r / 2 * (w**2).sum()), "swapped"),
    (lambda w, a, r: a * (r * w.abs().sum() + (1 - r) / 2 * w.norm()), "squared norm"),
    (lambda w, a, r: a * r * w.abs().sum() + (1 - r) / 2 * (w**2).sum(), "only the L1 part"),
    (lambda w, a, r: r * w.abs().sum() + a * (1 - r) / 2 * (w**2).sum(), "only the L2 part"),
    (lambda w, a, r: a * (r * w.abs().sum() + (w**2).sum() / 2), "lacks its weight \\(1 − ρ\\)"),
    (lambda w, a, r: a * (w.abs().sum() + (1 - r) / 2 * (w**2).sum()), "lacks its weight ρ"),
    (lambda w, a, r: a * (r * w.abs().mean() + (1 - r) / 2 * (w**2).mean()), "averaged"),
    (lambda w, a, r: a * (r * w.abs() + (1 - r) / 2 * w**2), "forget to sum"),
    (lambda w, a, r: (a * (r * w.abs().sum() + (1 - r) / 2 * (w**2).sum())).item(), "Python number"),
    (lambda w, a, r: a * (r * w.detach().abs().sum() + (1 - r) / 2 * (w.detach()**2).sum()), "not connected"),
    (lambda w, a, r: a * (r * w.abs().sum() + (1 - r) / 3 * (w**2).sum()), "wrong values"),
])
def test_elastic_net_penalty_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.elastic_net_penalty(candidate)


def _mutating_penalty(w, a, r):
    with torch.no_grad():
        w.mul_(2)
    return penalties.elastic_net_penalty(w, a, r)


@pytest.mark.parametrize("candidate, match", [
    (_raises, "not implemented yet"),
    (lambda w, a, r: torch.tensor(float("nan")), "NaN"),
    (lambda w, a, r: None, "tensor"),
    (_mutating_penalty, "modified its input"),
])
def test_elastic_net_penalty_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.elastic_net_penalty(candidate)


# --------------------------------------------------------------------------- prox_elastic_net

S = penalties.soft_threshold


def test_prox_elastic_net_accepts_the_reference(capsys):
    check.prox_elastic_net(penalties.prox_elastic_net)
    check.prox_elastic_net(lambda x, s, a, r: torch.sign(x) * torch.relu(x.abs() - s * a * r) / (1 + s * a * (1 - r)))
    assert "✔ prox_elastic_net" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (lambda x, s, a, r: S(x, s * a * r), "shrink factor is missing"),
    (lambda x, s, a, r: S(x, s * a * (1 - r)) / (1 + s * a * r), "swapped"),
    (lambda x, s, a, r: S(x / (1 + s * a * (1 - r)), s * a * r), "shrank before thresholding"),
    (lambda x, s, a, r: S(x, s * a * r) * (1 - s * a * (1 - r)), "multiplied by 1 − step"),
    (lambda x, s, a, r: S(x, s * a * r) / (1 + 2 * s * a * (1 - r)), "dropped the ½"),
    (lambda x, s, a, r: S(x, a * r) / (1 + a * (1 - r)), "step size is missing"),
    (lambda x, s, a, r: x * (x.abs() > s * a * r) / (1 + s * a * (1 - r)), "hard-thresholded"),
    (lambda x, s, a, r: torch.relu(x.abs() - s * a * r) / (1 + s * a * (1 - r)), "forgot the sign"),
    (lambda x, s, a, r: S(x, s * a * r) / (1 + s * a * (1 - r)) + 0.01, "wrong values"),
])
def test_prox_elastic_net_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.prox_elastic_net(candidate)


def _mutating_prox(x, s, a, r):
    x.div_(1 + s * a * (1 - r))
    return S(x, s * a * r / (1 + s * a * (1 - r)))


@pytest.mark.parametrize("candidate, match", [
    (_raises, "not implemented yet"),
    (lambda x, s, a, r: torch.full_like(x, float("nan")), "NaN"),
    (lambda x, s, a, r: penalties.prox_elastic_net(x, s, a, r).flatten(), "shape"),
    (lambda x, s, a, r: penalties.prox_elastic_net(x, s, a, r).double(), "dtype"),
    (lambda x, s, a, r: penalties.prox_elastic_net(x, s, a, r).numpy(), "torch tensor"),
    (_mutating_prox, "modified its input"),
])
def test_prox_elastic_net_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.prox_elastic_net(candidate)


# --------------------------------------------------------------------------- group_share and the experiment


def _share(w, groups):
    w, groups = np.abs(np.asarray(w, dtype=float)), np.asarray(groups)
    return float(np.mean([w[groups == g].max() / w[groups == g].sum() for g in range(groups.max() + 1)]))


def test_group_share_accepts_a_correct_function(capsys):
    check.group_share(_share)
    check.group_share(ch03._group_share_ref)
    assert "✔ group_share" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (lambda w, g: np.mean([np.abs(w[g == k]).max() / np.abs(w[g == k]).sum() for k in np.unique(g)]), "group −1"),
    (lambda w, g: np.mean([w[g == k].max() / w[g == k].sum() for k in range(g.max() + 1)]), "absolute values"),
    (lambda w, g: max(np.abs(w[g == k]).max() / np.abs(w[g == k]).sum() for k in range(g.max() + 1)), "mean"),
    (lambda w, g: np.mean([(w[g == k] ** 2).max() / (w[g == k] ** 2).sum() for k in range(g.max() + 1)]), "squared"),
    (lambda w, g: np.mean([np.abs(w[g == k]).min() / np.abs(w[g == k]).sum() for k in range(g.max() + 1)]),
     "smallest"),
    (lambda w, g: np.abs(w[g >= 0]).max() / np.abs(w[g >= 0]).sum(), "within each group"),
    (lambda w, g: 0.5, "wrong values|0.5"),
    (_raises, "not implemented yet"),
    (lambda w, g: np.array([0.4, 0.5]), "should return a number"),
    (lambda w, g: float("nan"), "nan"),
])
def test_group_share_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.group_share(candidate)


@pytest.fixture(scope="module")
def shares():
    return ch03._reference_shares()


def test_grouping_effect_accepts_the_reference(shares, capsys):
    check.grouping_effect(*shares)
    # computed the way the exercise asks
    lasso_s, enet_s = [], []
    for seed in (0, 1, 2):
        X, y, _, groups = check.grouping_data(seed)
        lasso_s.append(_share(linear.lasso(X, y, check.GROUPING_ALPHA), groups))
        enet_s.append(_share(linear.elastic_net(X, y, check.GROUPING_ALPHA, check.GROUPING_L1_RATIO), groups))
    check.grouping_effect(np.mean(lasso_s), np.mean(enet_s))
    assert "✔ grouping_effect" in capsys.readouterr().out
    # the effect the exercise shows: the lasso's largest member carries much more of its group
    assert shares[0] > shares[1] + 0.1 and abs(shares[1] - 1 / 3) < 0.06


def test_grouping_effect_names_each_mistake(shares):
    lasso_s, enet_s = shares
    seed0 = ch03._reference_shares(seeds=(0,))
    for values, match in [((enet_s, lasso_s), "swapped"), (seed0, "seed 0 only"),
                          ((3 * lasso_s, 3 * enet_s), "summed"), ((enet_s, enet_s), "other method"),
                          ((lasso_s, 0.9), "enet_share ="), ((0.9, enet_s), "lasso_share =")]:
        with pytest.raises(AssertionError, match=match):
            check.grouping_effect(*values)
    with pytest.raises(AssertionError, match="NaN|nan"):
        check.grouping_effect(float("nan"), enet_s)
    with pytest.raises(AssertionError, match="number"):
        check.grouping_effect(None, enet_s)


# --------------------------------------------------------------------------- conceptual questions


def test_conceptual_answers(capsys):
    check.answer("03.ridge_alpha", 10)
    check.answer("03.ridge_alpha", 100 * 0.1)
    check.answer("03.duplicates", "b")
    assert capsys.readouterr().out.count("✔") == 3


@pytest.mark.parametrize("question, value, match", [
    ("03.ridge_alpha", 0.1, "averages the squared error"),
    ("03.ridge_alpha", 5, "becomes nα"),
    ("03.ridge_alpha", 20, "with the ½"),
    ("03.ridge_alpha", 3, "not quite"),
    ("03.duplicates", "a", "only the L2 part"),
    ("03.duplicates", "c", "other way round"),
    ("03.duplicates", None, "no answer yet"),
])
def test_conceptual_wrong_answers(question, value, match):
    with pytest.raises(AssertionError, match=match):
        check.answer(question, value)
