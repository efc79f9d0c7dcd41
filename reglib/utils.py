"""Seeding and device selection (used by every chapter)."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from ._validate import check_int

__all__ = ["set_seed", "get_device", "make_generator", "init_notebook"]


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA).

    Parameters
    ----------
    seed : int
        A non-negative integer below 2**32.
    """
    seed = check_int("seed", seed, 0, 2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def get_device() -> torch.device:
    """CUDA when available, else CPU; the environment variable ``REGLIB_DEVICE`` overrides.

    ``REGLIB_DEVICE=cpu`` forces the CPU on a GPU machine (handy for reproducing the
    committed outputs exactly); ``REGLIB_DEVICE=cuda:1`` picks a particular GPU.
    """
    override = os.environ.get("REGLIB_DEVICE", "").strip()
    if override:
        try:
            return torch.device(override)
        except RuntimeError as err:
            raise ValueError(f"REGLIB_DEVICE must name a torch device such as 'cpu' or 'cuda', got {override!r}") from err
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_generator(seed: int, device=None) -> torch.Generator:
    """A ``torch.Generator`` seeded with ``seed`` on ``device`` (default CPU)."""
    seed = check_int("seed", seed, 0, 2**63 - 1)
    gen = torch.Generator(device=device if device is not None else "cpu")
    gen.manual_seed(seed)
    return gen


def init_notebook(threads: int = 1) -> torch.device:
    """The first line of every chapter: figure style, CPU threads, and a report of the set-up.

    The course's networks are tiny, so one CPU thread is as fast as several (thread start-up costs
    more than it saves) and lets two notebooks run side by side on a 2-core laptop without slowing
    each other down. Returns the device that :func:`reglib.train.fit` will use.
    """
    from .plot import use_style

    threads = check_int("threads", threads, 1)
    torch.set_num_threads(threads)
    try:  # NumPy's BLAS too: spinning BLAS threads slow small problems down on a busy laptop
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, keep BLAS's default
        pass
    use_style()
    device = get_device()
    print(f"torch {torch.__version__} on {device}, {threads} CPU thread{'s' * (threads > 1)}")
    return device
