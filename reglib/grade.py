"""Grade an exercise notebook from the command line.

    python -m reglib.grade exercises/00_generalization.ipynb

runs the notebook in a fresh kernel (continuing past errors), then prints one line per graded
task — its points and either ✔ or the checker's hint — and the total score. The exit status is 0
at full marks and 1 otherwise, so it can sit in a script. The notebook file is not changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .notebooks import cell_error, execute


def grade(path, timeout: int = 600) -> list[dict]:
    """Execute ``path`` and return one record per graded cell: id, points, earned, hint."""
    nb, _ = execute(path, allow_errors=True, timeout=timeout)
    records = []
    pending_solution_error = None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        err = cell_error(cell)
        if meta.get("solution") and not meta.get("grade"):
            pending_solution_error = err
            continue
        if meta.get("grade"):
            points = float(meta.get("points", 0))
            if err is None:
                hint = ""
            elif err[0] == "AssertionError":
                hint = err[1]
            elif err[0] == "NotImplementedError" or (pending_solution_error or ("",))[0] == "NotImplementedError":
                hint = "not attempted yet: the cell above still raises NotImplementedError"
            else:
                hint = f"{err[0]}: {err[1]}"
            records.append({"id": meta.get("grade_id", "?"), "points": points,
                            "earned": points if err is None else 0.0, "hint": hint})
            pending_solution_error = None
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reglib.grade", description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path, help="the exercise (or solution) notebook to grade")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    args = parser.parse_args(argv)
    if not args.notebook.exists():
        parser.error(f"no such notebook: {args.notebook}")
    records = grade(args.notebook, timeout=args.timeout)
    if not records:
        print(f"{args.notebook}: no graded tasks found (is this an exercise notebook?)")
        return 1
    width = max(len(r["id"]) for r in records)
    print(f"Grading {args.notebook}\n")
    for r in records:
        mark = "✔" if r["earned"] == r["points"] else "✘"
        line = f"  {mark} {r['id']:<{width}}  {r['earned']:g}/{r['points']:g}"
        if r["hint"]:
            line += f"  — {r['hint'].splitlines()[0]}"
        print(line)
    earned, total = sum(r["earned"] for r in records), sum(r["points"] for r in records)
    print(f"\nScore: {earned:g}/{total:g}" + ("  — full marks!" if earned == total else ""))
    return 0 if earned == total else 1


if __name__ == "__main__":
    sys.exit(main())
