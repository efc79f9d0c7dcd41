"""Collapse the setup, import and claims cells of chapter notebooks without executing them.

    python tools/collapse_cells.py            # every chapter
    python tools/collapse_cells.py --check    # exit 1 if a chapter is not collapsed as it should be

Their source is hidden in JupyterLab (``jupyter.source_hidden``) and behind a toggle on the website
(``hide-input``); their output stays visible; teaching code stays open (``reglib.notebooks.collapse_machinery``).
``tools/run_notebooks.py`` does the same whenever it executes a chapter.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reglib.notebooks import collapse_machinery  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; fail if a notebook would change")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(ROOT.glob("chapters/[0-9][0-9]_*.ipynb"))
    stale = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        before = copy.deepcopy(nb)
        cells = collapse_machinery(nb)
        if nb != before:
            stale.append(path)
            if not args.check:
                nbformat.write(nb, path)
        print(f"{path.name}: cells {cells} collapsed{' (changed)' if nb != before else ''}")
    if args.check and stale:
        print("not collapsed:", ", ".join(p.name for p in stale), "- run python tools/collapse_cells.py")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
