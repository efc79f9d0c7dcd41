"""The "Open in Colab" and "Binder" badges every notebook carries in its first cell, pointing at itself.

    python tools/launch_badges.py PATH...      # set the badges of these notebooks to their own path

``tools/run_notebooks.py`` applies this to every notebook it writes, and ``tools/make_exercises.py``
to the exercise it generates from a solution (so ``solutions/NN`` opens the solution and
``exercises/NN`` the exercise). ``tests/test_launch.py`` checks the result.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import quote

import nbformat

ROOT = Path(__file__).resolve().parents[1]
REPO = "regularization-course/regularization-in-deep-learning"
BRANCH = "main"
_COLAB = re.compile(r"(https://colab\.research\.google\.com/github/" + re.escape(REPO) + r"/blob/[^/]+/)([^)\s]+\.ipynb)")
_BINDER = re.compile(r"(https://mybinder\.org/v2/gh/" + re.escape(REPO) + r"/[^?]+\?labpath=)([^)\s]+\.ipynb)")


def colab_url(relpath: str) -> str:
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{relpath}"


def binder_url(relpath: str) -> str:
    return f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?labpath={quote(relpath, safe='')}"


def retarget(source: str, relpath: str) -> str:
    """``source`` with both badge links pointing at ``relpath`` (a path from the repository root)."""
    source = _COLAB.sub(lambda m: m.group(1) + relpath, source)
    return _BINDER.sub(lambda m: m.group(1) + quote(relpath, safe=""), source)


def fix_badges(nb, relpath: str) -> bool:
    """Retarget the badges of the notebook's first cell in place; True if anything changed."""
    if not nb.cells:
        return False
    new = retarget(nb.cells[0].source, relpath)
    changed = new != nb.cells[0].source
    nb.cells[0].source = new
    return changed


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Point the Colab and Binder badges of each notebook at itself.")
    parser.add_argument("paths", nargs="+", help="notebooks inside the repository, e.g. chapters/00_generalization.ipynb")
    for arg in parser.parse_args(argv).paths:
        path = Path(arg).resolve()
        nb = nbformat.read(path, as_version=4)
        if fix_badges(nb, path.relative_to(ROOT).as_posix()):
            nbformat.write(nb, path)
            print(f"{arg}: badges now point at it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
