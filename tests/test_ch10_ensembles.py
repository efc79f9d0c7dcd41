"""Chapter 10's helpers in reglib.ensembles: fused Adam, sub-ensemble scores, probes of residual blocks, figures."""

import itertools
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from reglib import ensembles as ens  # noqa: E402
from reglib.metrics import accuracy  # noqa: E402
from reglib.models import MLP, ResidualMLP  # noqa: E402


def _probs(p=4, n=30, k=3, seed=0):
    return torch.randn(p, n, k, generator=torch.Generator().manual_seed(seed)).softmax(-1)


def _labels(n=30, k=3, seed=1):
    return torch.randint(0, k, (n,), generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- fused_adam


def test_fused_adam_follows_plain_adam():
    torch.manual_seed(0)
    a, b = MLP(5, 3, hidden=(7,)), MLP(5, 3, hidden=(7,))
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    opt_a, opt_b = ens.fused_adam(1e-2)(a.parameters()), torch.optim.Adam(b.parameters(), lr=1e-2)
    assert opt_a.defaults["fused"] and opt_a.defaults["lr"] == 1e-2
    for _ in range(5):
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


def test_fused_adam_rejects_a_bad_learning_rate():
    with pytest.raises(ValueError, match="lr"):
        ens.fused_adam(0.0)


# --------------------------------------------------------------------------- subensemble_scores


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_subensemble_scores_average_over_every_subset(size):
    probs, y = _probs(), _labels()
    subsets = list(itertools.combinations(range(4), size))
    acc = np.mean([accuracy(probs[list(s)].mean(0), y) for s in subsets])
    onehot = torch.nn.functional.one_hot(y, 3).double()
    brier = np.mean([((probs[list(s)].double().mean(0) - onehot) ** 2).sum(1).mean().item() for s in subsets])
    got = ens.subensemble_scores(probs, y, size)
    assert got[0] == pytest.approx(acc, abs=1e-12) and got[1] == pytest.approx(brier, abs=1e-12)


def test_subensemble_scores_satisfy_the_finite_pool_identity():
    # average Brier of the size-m sub-ensembles = Brier of the pool + s^2 (1/m - 1/P) (chapter 10 §2.3)
    probs, y = _probs(p=5, seed=3), _labels(seed=4)
    p = probs.double()
    s2 = ((p - p.mean(0)) ** 2).sum(2).mean().item() * 5 / 4
    pool = ens.ambiguity_decomposition(probs, y)["ensemble_error"]
    for m in range(1, 6):
        assert ens.subensemble_scores(probs, y, m)[1] == pytest.approx(pool + s2 * (1 / m - 1 / 5), abs=1e-12)


def test_subensemble_scores_reject_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        ens.subensemble_scores(_probs(), _labels(), 5)
    with pytest.raises(ValueError, match="member_probs"):
        ens.subensemble_scores(torch.rand(4, 30), _labels(), 1)


# --------------------------------------------------------------------------- residual blocks


def test_active_blocks_counts_every_block_without_drop_path():
    torch.manual_seed(0)
    net = ResidualMLP(6, 3, width=8, depth=4, drop_path=0.0).train()
    np.testing.assert_array_equal(ens.active_blocks(net, torch.randn(50, 6)).numpy(), np.full(50, 4.0))


def test_active_blocks_matches_the_linear_rule_on_average():
    torch.manual_seed(0)
    net = ResidualMLP(6, 3, width=8, depth=8, drop_path=0.5).train()
    counts = ens.active_blocks(net, torch.randn(20_000, 6))
    assert counts.dtype == torch.float64 and counts.shape == (20_000,)
    assert counts.mean().item() == pytest.approx(8 - 0.5 * 9 / 2, abs=0.05)
    assert all(not block.drop_path._forward_hooks for block in net.blocks)  # hooks removed
    net.eval()
    assert (ens.active_blocks(net, torch.randn(10, 6)) == 8).all()  # eval mode: every block


def test_delete_block_skips_exactly_that_block():
    torch.manual_seed(0)
    net = ResidualMLP(6, 3, width=8, depth=3).eval()
    x = torch.randn(5, 6)
    handle = ens.delete_block(net, 1)
    with torch.no_grad():
        got = net(x)
        h = net.inp(x)
        h = net.blocks[2](net.blocks[0](h))  # block 1 is the identity
        expected = net.out(torch.relu(h))
    handle.remove()
    torch.testing.assert_close(got, expected)
    with torch.no_grad():
        assert not torch.allclose(net(x), got)  # restored


def test_block_probes_reject_bad_arguments():
    with pytest.raises(ValueError, match="block"):
        ens.delete_block(ResidualMLP(6, 3, depth=2), 2)
    with pytest.raises(ValueError, match="residual blocks"):
        ens.active_blocks(MLP(6, 3), torch.randn(2, 6))


# --------------------------------------------------------------------------- figures


def test_plot_disagreement_draws_the_matrix_and_the_histogram():
    disagree = np.array([[0.0, 0.4], [0.4, 0.0]])
    fig = ens.plot_disagreement(disagree, np.array([0, 1, 2, 2]))
    ax1, ax2 = fig.axes[:2]
    assert len(ax1.texts) == 4 and ax1.texts[1].get_text() == "40%"
    assert [p.get_height() for p in ax2.patches] == [0.25, 0.25, 0.5]
    plt.close(fig)


def test_plot_size_curve_draws_both_panels():
    acc, brier = np.array([[0.6, 0.65, 0.66]] * 2), np.array([[0.6, 0.5, 0.47]] * 2)
    fig = ens.plot_size_curve(acc, brier, [0.4, 0.4], [0.2, 0.2])
    ax1, ax2 = fig.axes
    assert list(ax1.get_xticks()) == [1, 2, 3] and math.isclose(ax2.lines[-1].get_ydata()[0], 0.4)
    plt.close(fig)


def test_plot_transfer_draws_the_bars_and_the_curves():
    lams = (0.1, 1.0)
    transfer = {job: np.array([0.5, 0.6]) for job in [("scratch", 0), ("fine_tune", 0), ("probe", 0)]}
    transfer.update({(m, lam): np.array([0.4, 0.5]) for m in ("l2", "l2_sp") for lam in lams})
    fig = ens.plot_transfer(transfer, lams)
    ax1, ax2 = fig.axes
    assert len(ax1.patches) == 5 and ax2.get_xscale() == "log"
    plt.close(fig)
