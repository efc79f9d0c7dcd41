"""Execute notebooks in place, top to bottom, and report each one's time.

    python tools/run_notebooks.py chapters/00_generalization.ipynb solutions/00_generalization.ipynb
    python tools/run_notebooks.py --all

Notebooks are committed executed with their outputs (readers see every figure without running
anything). Executing a solution notebook also regenerates its exercise (tools/make_exercises.py).
Stops with an error if any cell fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reglib.notebooks import collapse_machinery, execute  # noqa: E402
from tools.launch_badges import fix_badges  # noqa: E402
from tools.make_exercises import exercise_from_solution  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every chapter and solution notebook")
    args = parser.parse_args(argv)
    os.environ["REGLIB_PROGRESS"] = "0"
    paths = args.paths
    if args.all:
        paths = sorted(ROOT.glob("chapters/*.ipynb")) + sorted(ROOT.glob("solutions/*.ipynb"))
    for path in paths:
        nb, seconds = execute(path)
        for cell in nb.cells:  # keep committed notebooks free of run-specific metadata
            cell.metadata.pop("execution", None)
        fix_badges(nb, path.resolve().relative_to(ROOT).as_posix())  # Colab/Binder open this very notebook
        if path.resolve().parent == ROOT / "chapters":
            collapse_machinery(nb)  # setup, imports and claims collapsed in JupyterLab and on the site
        nbformat.write(nb, path)
        print(f"{path}: {seconds:.1f} s")
        if path.resolve().parent == ROOT / "solutions":
            target = ROOT / "exercises" / path.name
            target.write_text(exercise_from_solution(path))
            print(f"  regenerated {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
