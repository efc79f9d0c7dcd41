"""Chapter 11 §3 at the chapter's own scale: reglib's optimizers against torch.optim, step for step.

The MLP of chapter 11 (40-100-100-10) on 100 MNIST-1D batches of 100, once with reglib's optimizer and once
with PyTorch's, in the five configurations the chapter used to run itself; every parameter is compared after
every step. (``tests/test_optim.py`` covers many more settings on a small problem.)
"""

import pytest
import torch
import torch.nn.functional as F

from reglib.data import load_mnist1d
from reglib.models import MLP
from reglib.optim import SGD, Adam, AdamW
from reglib.utils import set_seed

STEPS = 100


@pytest.fixture(scope="module")
def data():
    return load_mnist1d()


def _trajectory(data, make_opt, steps=STEPS):
    """All parameters after each of ``steps`` steps of the MLP on MNIST-1D batches of 100 (chapter 11, §3)."""
    set_seed(0)
    model = MLP(40, 10, hidden=(100, 100))
    opt = make_opt(model.parameters())
    order = torch.randperm(len(data.y_train), generator=torch.Generator().manual_seed(0))
    out = []
    for k in range(steps):
        idx = order[(100 * k) % 3200:(100 * k) % 3200 + 100]
        opt.zero_grad()
        F.cross_entropy(model(data.x_train[idx]), data.y_train[idx]).backward()
        opt.step()
        out.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    return torch.stack(out)


PAIRS = {
    "SGD, momentum 0.9, weight_decay 5e-4": (lambda p: SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4),
                                               lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4)),
    "SGD, Nesterov": (lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True),
                      lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    "Adam + L2 (coupled), λ = 1e-3": (lambda p: Adam(p, lr=1e-2, weight_decay=1e-3),
                                      lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-3)),
    "Adam decoupled = AdamW, λ = 0.1": (lambda p: Adam(p, lr=1e-2, weight_decay=0.1, decoupled=True),
                                        lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1)),
    "AdamW, λ = 0.1": (lambda p: AdamW(p, lr=1e-2, weight_decay=0.1),
                       lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1)),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_reglib_equals_torch_at_every_one_of_100_steps(data, name):
    ours, theirs = PAIRS[name]
    traj_ours, traj_theirs = _trajectory(data, ours), _trajectory(data, theirs)
    gap = (traj_ours - traj_theirs).abs().max().item()
    moved = (traj_ours[-1] - traj_ours[0]).abs().max().item()
    assert gap < 1e-5, (name, gap)  # float32 rounding at most (0 on the course's machines)
    assert moved > 0.1, (name, moved)  # and the weights did move


def test_adam_l2_and_adamw_part_ways_within_ten_steps(data):
    l2 = _trajectory(data, PAIRS["Adam + L2 (coupled), λ = 1e-3"][0], steps=10)
    decoupled = _trajectory(data, lambda p: AdamW(p, lr=1e-2, weight_decay=1e-3), steps=10)
    assert (l2[-1] - decoupled[-1]).abs().max().item() > 1e-3
