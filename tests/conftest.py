"""Test-suite set-up shared by unit tests and notebook runs (nbval).

* Every process the suite starts — this one, xdist workers, notebook kernels — gets the offline
  guard of ``tests/netblock/sitecustomize.py`` through ``PYTHONPATH``: any connection outside
  loopback fails, so a notebook or reglib function that tried to download would fail its test.
* Progress bars are off, matplotlib draws off-screen, and ``reglib.interactive`` shows static figures.
* Torch uses one thread per process: the course's models are tiny, and with ``-n 2`` two workers
  share the two cores.
"""

import importlib.util
import os
from pathlib import Path

NETBLOCK = str(Path(__file__).parent / "netblock")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (NETBLOCK, os.environ.get("PYTHONPATH")) if p)
os.environ["REGLIB_PROGRESS"] = "0"
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("REGLIB_STATIC_FIGURES", "1")  # reglib.interactive shows figures, not widgets
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# the guard in this process too (loaded by path: another sitecustomize may already be imported)
_spec = importlib.util.spec_from_file_location("_reglib_netblock", Path(NETBLOCK) / "sitecustomize.py")
_guard = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_guard)

import torch  # noqa: E402

torch.set_num_threads(1)
try:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
except ImportError:
    pass

ROOT = Path(__file__).resolve().parents[1]


import pytest  # noqa: E402


@pytest.fixture
def assert_answer(capsys):
    """Test one conceptual question of an exercise.

    ``assert_answer(question, right, wrong)`` checks that ``right`` passes with a ✔ line, that each key
    of the dict ``wrong`` fails with a hint matching its value, and that ``None`` fails with "no answer yet".
    """
    from reglib import check

    def run(question, right, wrong: dict):
        check.answer(question, right)
        assert f"✔ {question}" in capsys.readouterr().out
        for value, match in wrong.items():
            with pytest.raises(AssertionError, match=match):
                check.answer(question, value)
        with pytest.raises(AssertionError, match="no answer yet"):
            check.answer(question, None)

    return run


import pytest  # noqa: E402


@pytest.fixture
def ax():
    """A fresh matplotlib Axes, closed after the test (the plotting tests draw on it)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)
