"""Print (or, with --write, update) the README's chapter map from the notebooks that exist.

    python tools/chapter_map.py --write

The title of each chapter is read from its first cell (``# NN · Title``); only notebooks committed
to git are listed, so drafts never appear.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- chapter-map:start -->", "<!-- chapter-map:end -->"


def _notebooks(folder: str) -> list[Path]:
    """Notebooks committed to git in ``folder`` (drafts are left out); all of them outside a checkout."""
    try:
        out = subprocess.run(["git", "ls-files", f"{folder}/*.ipynb"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
        return sorted(ROOT / p for p in out if re.match(rf"{folder}/\d\d_", p))
    except (OSError, subprocess.CalledProcessError):
        return sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))


def chapter_map() -> str:
    rows = ["| # | chapter | exercise | solution |", "|---|---|---|---|"]
    tracked = {folder: {p.name for p in _notebooks(folder)} for folder in ("exercises", "solutions")}
    for path in _notebooks("chapters"):
        first = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
        title = re.sub(r"^#\s*\d\d\s*·\s*", "", first).strip()
        ex = f"[exercise](exercises/{path.name})" if path.name in tracked["exercises"] else "—"
        sol = f"[solution](solutions/{path.name})" if path.name in tracked["solutions"] else "—"
        rows.append(f"| {path.name[:2]} | [{title}](chapters/{path.name}) | {ex} | {sol} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    table = chapter_map()
    if "--write" not in argv:
        print(table)
        return 0
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = text.index(START) + len(START), text.index(END)
    readme.write_text(text[:start] + "\n" + table + "\n" + text[end:])
    print(f"updated {readme.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
