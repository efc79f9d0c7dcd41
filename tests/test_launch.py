"""Launch where learners are: every notebook opens itself on Colab and Binder, and runs there.

* The first cell of every chapter, exercise and solution carries an "Open in Colab" and a "Binder"
  badge whose links point at that very notebook.
* Its first code cell is the Colab set-up cell: on Colab it installs reglib from the repository,
  anywhere else it does nothing (executed here in a fresh interpreter, with every way of starting a
  process or opening a connection replaced by a recorder).
* ``binder/`` is a configuration repo2docker understands: the pinned requirements, then reglib.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
REPO = "regularization-course/regularization-in-deep-learning"
NOTEBOOKS = sorted(p for folder in ("chapters", "exercises", "solutions")
                   for p in (ROOT / folder).glob("[0-9][0-9]_*.ipynb"))
ids = [f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS]

_RUN_CELL = textwrap.dedent("""
    import json, os, socket, subprocess, sys
    calls = []
    def recorder(name):
        def record(*args, **kwargs):
            calls.append([name, [str(a) for a in args]])
            return subprocess.CompletedProcess(args, 0)
        return record
    for name in ("run", "call", "check_call", "check_output", "Popen"):
        setattr(subprocess, name, recorder("subprocess." + name))
    os.system = recorder("os.system")
    socket.socket.connect = recorder("socket.connect")
    if sys.argv[1] == "colab":  # pretend to be Colab
        import types
        sys.modules["google"] = types.ModuleType("google")
        sys.modules["google.colab"] = types.ModuleType("google.colab")
    namespace = {"__name__": "__main__"}
    before = set(sys.modules)
    exec(compile(sys.stdin.read(), "<first code cell>", "exec"), namespace)
    new_modules = sorted(m for m in set(sys.modules) - before if not m.startswith("_"))
    print(json.dumps({"calls": calls, "new_modules": new_modules}))
""")


def _run_first_code_cell(source: str, where: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    out = subprocess.run([sys.executable, "-I", "-c", _RUN_CELL, where], input=source, capture_output=True,
                         text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not out.stderr, f"the set-up cell wrote to stderr: {out.stderr[-500:]}"
    *printed, report = out.stdout.strip().splitlines()
    return {"printed": printed, **json.loads(report)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_badges_point_at_the_notebook_itself(path):
    rel = path.relative_to(ROOT).as_posix()
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown"
    colab = f"https://colab.research.google.com/github/{REPO}/blob/main/{rel}"
    binder = f"https://mybinder.org/v2/gh/{REPO}/main?labpath={quote(rel, safe='')}"
    hint = f"fix with `python tools/launch_badges.py {rel}`"
    assert re.search(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\("
                     + re.escape(colab) + r"\)", first.source), f"no Colab badge opening {rel}: {hint}"
    assert re.search(r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\(" + re.escape(binder) + r"\)",
                     first.source), f"no Binder badge opening {rel}: {hint}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_first_code_cell_installs_on_colab_and_does_nothing_elsewhere(path):
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert code, "no code cell"
    source = code[0].source
    assert "google.colab" in source, "the first code cell must be the Colab set-up cell"

    here = _run_first_code_cell(source, "local")
    assert here == {"printed": [], "calls": [], "new_modules": []}, f"the set-up cell did something here: {here}"

    on_colab = _run_first_code_cell(source, "colab")
    installs = [args for name, args in on_colab["calls"] if name.startswith("subprocess")]
    assert installs, f"on Colab the set-up cell installs nothing: {on_colab}"
    command = installs[0][0]
    assert "pip" in command and "install" in command and f"github.com/{REPO}" in command, command


def test_binder_configuration():
    binder = ROOT / "binder"
    reqs = [line.strip() for line in (binder / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert reqs == ["-r ../requirements.txt"], "binder/ must install the course's own pinned requirements"
    post = binder / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    assert re.search(r"^pip install (--no-deps )?-e \.$", post.read_text(), re.M), "postBuild installs reglib"
    runtime = (binder / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(1[0-9])", runtime), runtime
