"""Author a notebook as a percent-format script, then convert it.

    python tools/percent_to_notebook.py draft.py chapters/05_early_stopping.ipynb

An authoring aid: the committed ``.ipynb`` stays the source of truth. Cells start with ``# %%``
(``# %% [markdown]`` for prose); nbgrader metadata goes on the marker line, e.g.
``# %% nbgrader={"grade": true, "grade_id": "check_x", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}``.
The output has a plain Python 3 kernelspec and no jupytext metadata; execute it afterwards with
``python tools/run_notebooks.py``.
"""

from __future__ import annotations

import sys

import jupytext
import nbformat


def convert(source: str, target: str) -> None:
    nb = jupytext.read(source, fmt="py:percent")
    for cell in nb.cells:
        for key in ("lines_to_next_cell", "lines_to_end_of_cell_marker", "cell_marker"):
            cell.metadata.pop(key, None)
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    nbformat.validate(nb)
    nbformat.write(nb, target)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(sys.argv[1], sys.argv[2])
    print(f"{sys.argv[1]} -> {sys.argv[2]}")
