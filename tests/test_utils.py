"""reglib.utils: seeding and device selection."""

import random

import numpy as np
import pytest
import torch

from reglib.utils import get_device, make_generator, set_seed

BAD_SEEDS = [-1, 2**32, 1.5, True, "1", None, float("nan")]


def _draw():
    return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist(), torch.randint(0, 10**6, (2,)).tolist()


def test_set_seed_makes_every_generator_reproducible():
    set_seed(123)
    first = _draw()
    set_seed(123)
    assert _draw() == first
    set_seed(124)
    other = _draw()
    # each of the three libraries is seeded (none of them is left unseeded by accident)
    for a, b in zip(first, other):
        assert a != b


def test_set_seed_accepts_the_whole_range():
    set_seed(0)
    set_seed(2**32 - 1)
    set_seed(np.int64(7))  # any Integral


@pytest.mark.parametrize("seed", BAD_SEEDS)
def test_set_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        set_seed(seed)


def test_get_device_default(monkeypatch):
    monkeypatch.delenv("REGLIB_DEVICE", raising=False)
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_get_device_empty_override_is_ignored(monkeypatch):
    monkeypatch.setenv("REGLIB_DEVICE", "  ")
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("value, expected", [("cpu", torch.device("cpu")), (" cpu ", torch.device("cpu")),
                                             ("cuda:1", torch.device("cuda", 1)), ("meta", torch.device("meta"))])
def test_get_device_honours_override(monkeypatch, value, expected):
    monkeypatch.setenv("REGLIB_DEVICE", value)
    assert get_device() == expected


@pytest.mark.parametrize("value", ["banana", "cuda:x", "cpu:-5:3"])
def test_get_device_rejects_bad_override(monkeypatch, value):
    monkeypatch.setenv("REGLIB_DEVICE", value)
    with pytest.raises(ValueError, match="REGLIB_DEVICE"):
        get_device()


def test_make_generator_is_seeded():
    a = torch.rand(5, generator=make_generator(3))
    b = torch.rand(5, generator=make_generator(3))
    c = torch.rand(5, generator=make_generator(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert make_generator(0).device == torch.device("cpu")


@pytest.mark.parametrize("seed", [-1, 2**63, 0.5, False])
def test_make_generator_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        make_generator(seed)
