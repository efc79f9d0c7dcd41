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


# --------------------------------------------------------------------------- mistakes the fixed inputs used to miss

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _share(w, groups, labels=None, over=None):
    a, groups = np.abs(np.asarray(w, float)), np.asarray(groups)
    labels = [g for g in np.unique(groups) if g >= 0] if labels is None else labels
    return float(np.mean([a[groups == g].max() / a[groups == g].sum() for g in (labels if over is None else over)]))


@pytest.mark.parametrize("candidate, match", [
    (lambda w, g: float(np.mean([np.abs(w[3 * k:3 * k + 3]).max() / np.abs(w[3 * k:3 * k + 3]).sum()
                                 for k in range(3)])), "block of three"),
    (lambda w, g: _share(w, g, labels=range(3)), "np.unique"),
    (lambda w, g: _share(w, g, over=[x for x in g if x >= 0]), "averaged over features"),
    (lambda w, g: float(np.median([np.abs(w[g == k]).max() / np.abs(w[g == k]).sum()
                                   for k in np.unique(g) if k >= 0])), "wrong values"),
])
def test_group_share_irregular_groups(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.group_share(candidate)


def test_prox_returning_its_input():
    S = penalties.soft_threshold
    with pytest.raises(AssertionError, match="input tensor `x` itself"):
        check.prox_elastic_net(lambda x, s, a, r: x if a == 0 else S(x, s * a * r) / (1 + s * a * (1 - r)))
    check.prox_elastic_net(lambda x, s, a, r: torch.nn.functional.softshrink(x, s * a * r) / (1 + s * a * (1 - r)))


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(0.05, 3.0), min_size=6, max_size=6), st.permutations(list(range(6))))
def test_group_share_property(mags, order):
    """On random irregular inputs the reference equals a groupby-style variant; a wrong average fails."""
    w = np.array(mags) * np.array([1, -1, 1, -1, -1, 1])
    g = np.array([0, 0, 3, 3, 3, -1])[list(order)]
    variant = {}
    for x, k in zip(np.abs(w), g):
        if k >= 0:
            variant.setdefault(k, []).append(x)
    assert np.isclose(np.mean([max(v) / sum(v) for v in variant.values()]), ch03._group_share_ref(w, g))
    check.group_share(lambda w, g: float(np.mean([np.abs(w[g == k]).max() / np.abs(w[g == k]).sum()
                                                  for k in set(g.tolist()) if k >= 0])))


@settings(max_examples=12, deadline=None)
@given(st.floats(1e-3, 1.0), st.sampled_from(["threshold", "shrink", "scale"]))
def test_prox_property(eps, how):
    S = penalties.soft_threshold

    def wrong(x, s, a, r):
        t, c = s * a * r, s * a * (1 - r)
        if how == "threshold":
            return S(x, t + eps) / (1 + c)
        if how == "shrink":
            return S(x, t) / (1 + c + eps)
        return S(x, t) / (1 + c) * (1 + eps)

    with pytest.raises(AssertionError):
        check.prox_elastic_net(wrong)


@settings(max_examples=10, deadline=None)
@given(st.floats(1e-3, 1.0), st.sampled_from(["l1", "l2", "alpha"]))
def test_elastic_net_penalty_property(eps, how):
    def wrong(w, alpha, rho):
        l1, l2 = w.abs().sum(), w.square().sum()
        if how == "l1":
            return alpha * (rho * (1 + eps) * l1 + (1 - rho) / 2 * l2)
        if how == "l2":
            return alpha * (rho * l1 + (1 - rho) / 2 * (1 + eps) * l2)
        return (alpha + eps) * (rho * l1 + (1 - rho) / 2 * l2)

    with pytest.raises(AssertionError):
        check.elastic_net_penalty(wrong)
    check.elastic_net_penalty(lambda w, a, r: a * (r * w.abs().sum() + (1 - r) / 2 * w.square().sum()) * (1 + 1e-13))
