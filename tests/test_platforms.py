"""What the README promises about Python versions and platforms is true.

* The supported Python versions are stated the same way everywhere (README, the site's landing page,
  ``requires-python``, Binder), and every pin of requirements.txt has a wheel for each of them on Linux x86-64,
  macOS on Apple silicon and Windows x86-64 — asked of the real package index by ``tools/check_wheels.py`` (in a
  clean process: the suite's offline guard blocks sockets here). Without a connection to the index these tests
  are skipped, saying why. The floors the README names (Python 3.11, glibc 2.28, macOS 14) are checked to be
  needed, not just sufficient.
* The only Linux-specific code path of reglib, ``reglib.experiment.parallel_map`` (it forks worker processes on
  Linux only), falls back to a plain loop elsewhere; forcing that path here gives bitwise the same trainings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools import check_wheels  # noqa: E402

SUPPORTED = check_wheels.SUPPORTED_PYTHONS
PLATFORMS = list(check_wheels.PLATFORMS)
RANGE = f"Python {SUPPORTED[0]}–{SUPPORTED[-1]}"


# ---------------------------------------------------------------------------------- what the docs say

def test_supported_versions_are_consecutive_and_include_this_interpreter():
    minors = [int(v.split(".")[1]) for v in SUPPORTED]
    assert minors == list(range(minors[0], minors[-1] + 1)) and all(v.startswith("3.") for v in SUPPORTED)
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in SUPPORTED, "the tests run on a supported Python"


def test_requires_python_admits_exactly_the_supported_floor():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    spec = SpecifierSet(project["requires-python"])
    assert project["requires-python"] == f">={SUPPORTED[0]}"
    assert all(v in spec for v in SUPPORTED)
    assert f"3.{int(SUPPORTED[0].split('.')[1]) - 1}" not in spec


def test_readme_and_site_state_the_versions_and_platforms():
    readme = (ROOT / "README.md").read_text()
    assert RANGE in readme, f"the README names the supported versions as {RANGE!r}"
    for platform in ("Linux x86-64", "glibc 2.28", "macOS 14", "Apple silicon", "Windows x86-64"):
        assert platform in readme, f"the README names {platform!r}"
    assert "tools/check_wheels.py" in readme
    assert ".venv\\Scripts\\activate" in readme, "the Windows activation command"
    intro = (ROOT / "book" / "intro.md").read_text()
    assert RANGE in intro
    stale = re.findall(r"Python 3\.\d+\+|Python 3\.\d+ or newer", readme + intro)
    assert not stale, f"open-ended version claims: {stale}"


def test_binder_uses_a_supported_python():
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert runtime.removeprefix("python-") in SUPPORTED, runtime


# ---------------------------------------------------------------------------------- what the index says

def _run_check(*args, timeout=240):
    cmd = [sys.executable, str(ROOT / "tools" / "check_wheels.py"), "--json", *args]
    try:
        result = subprocess.run(cmd, env=check_wheels.clean_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.skip(f"the package index did not answer within {timeout} s")
    if result.returncode == 2:
        pytest.skip(json.loads(result.stdout)["unreachable"] + " (these tests ask the real index; offline they skip)")
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return {(r["python"], r["platform"]): r for r in json.loads(result.stdout)}


@pytest.fixture(scope="module")
def index_answer():
    """One question to the index (a request per pin), answered for every cell of the matrix."""
    below = f"3.{int(SUPPORTED[0].split('.')[1]) - 1}"
    tags = ["macosx_13_0_arm64", ",".join(t for t in check_wheels.PLATFORMS[PLATFORMS[0]] if "2_28" not in t)]
    args = [a for v in (below, *SUPPORTED) for a in ("--python", v)]
    args += [a for p in PLATFORMS for a in ("--platform", p)] + [a for t in tags for a in ("--tags", t)]
    return {"below": below, "tags": tags, "cells": _run_check(*args)}


@pytest.mark.parametrize("python", SUPPORTED)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_pin_has_a_wheel(index_answer, python, platform):
    cell = index_answer["cells"][(python, platform)]
    assert cell["ok"], f"Python {python} on {platform}: {cell['error']}"


def test_the_python_below_the_floor_really_lacks_wheels(index_answer):
    """3.10 is not left out by caution: seven pins have no wheel for it on any platform."""
    for platform in PLATFORMS:
        cell = index_answer["cells"][(index_answer["below"], platform)]
        assert not cell["ok"] and "numpy==" in cell["error"], cell


def test_the_platform_floors_are_needed(index_answer):
    """torch 2.13 has no wheel for macOS 13 or for glibc older than 2.28: the README's floors are the real ones."""
    for tags in index_answer["tags"]:
        cell = index_answer["cells"][(SUPPORTED[-1], tags)]
        assert not cell["ok"] and "torch==" in cell["error"], cell


def test_pip_itself_agrees_on_a_foreign_platform():
    """The same answer from pip's own resolver, for the newest Python on Windows (not this machine)."""
    python, platform = SUPPORTED[-1], "Windows x86-64"
    cell = _run_check("--pip", "--python", python, "--platform", platform)[(python, platform)]
    assert cell["ok"], cell["error"]
    pinned = {p.split("==")[0].lower() for p in check_wheels.pins()}
    assert set(cell["wheels"]) == pinned
    tag = f"cp{python.replace('.', '')}"
    assert re.fullmatch(rf"torch-[\d.]+-{tag}-{tag}-win_amd64\.whl", cell["wheels"]["torch"]), cell["wheels"]["torch"]


def test_the_checker_ignores_local_pip_settings(monkeypatch):
    monkeypatch.setenv("PIP_FIND_LINKS", "/somewhere/local")
    monkeypatch.setenv("PIP_CONSTRAINT", "/etc/constraints.txt")
    monkeypatch.setenv("PIP_CERT", "/etc/ssl/certs/ca.crt")
    env = check_wheels.clean_env()
    assert "PIP_FIND_LINKS" not in env and "PIP_CONSTRAINT" not in env and "PYTHONPATH" not in env
    assert env["PIP_CONFIG_FILE"] == os.devnull and env["PIP_CERT"] == "/etc/ssl/certs/ca.crt"


# ---------------------------------------------------------------------------------- the same numbers everywhere

@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_parallel_map_runs_serially_off_linux_with_the_same_results(monkeypatch, platform):
    from reglib import experiment
    from reglib.data import load_mnist1d
    from reglib.models import MLP
    from reglib.train import fit, predict
    from reglib.utils import set_seed

    data = load_mnist1d()
    x, y = data.train[0][:256], data.train[1][:256]

    def run(seed):
        set_seed(seed)
        model = MLP(40, 10, hidden=(32,), dropout=0.1)
        fit(model, (x, y), epochs=2, batch_size=64, optimizer="adamw", lr=1e-2, weight_decay=1e-2,
            seed=seed, progress=False)
        return {"logits": predict(model, data.x_test[:40]).cpu(), "pid": os.getpid()}

    here = experiment.over_seeds(run, seeds=(0, 1, 2), parallel=True)  # forked workers on Linux
    monkeypatch.setattr(sys, "platform", platform)
    assert not experiment._can_fork()
    elsewhere = experiment.over_seeds(run, seeds=(0, 1, 2), parallel=True)
    assert (elsewhere["pid"] == os.getpid()).all(), "off Linux the runs stay in this process"
    assert (here["logits"] == elsewhere["logits"]).all(), "bitwise the same networks"
    assert experiment.parallel_map(lambda v: v * 2, [1, 2, 3], workers=2) == [2, 4, 6]
