"""Generate exercises/ from solutions/ with nbgrader's own preprocessors.

    python tools/make_exercises.py            # every solution notebook
    python tools/make_exercises.py solutions/00_generalization.ipynb

Each ``solutions/NN_topic.ipynb`` is run through nbconvert with nbgrader's ``ClearSolutions``
(code between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` becomes ``raise NotImplementedError()``),
``ClearHiddenTests`` (drops ``### BEGIN HIDDEN TESTS`` blocks) and ``ClearOutput``. No nbgrader course
database is needed. The result is written to ``exercises/NN_topic.ipynb``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.launch_badges import fix_badges  # noqa: E402

PREPROCESSORS = [
    "nbgrader.preprocessors.ClearSolutions",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearOutput",
]


def exercise_from_solution(solution_path) -> str:
    """The exercise notebook (as JSON text) generated from one solution notebook."""
    config = Config()
    config.Exporter.preprocessors = PREPROCESSORS
    config.ClearSolutions.enforce_metadata = True
    exporter = NotebookExporter(config=config)
    body, _ = exporter.from_filename(str(solution_path))
    nb = nbformat.reads(body, as_version=4)
    nb.metadata.pop("widgets", None)
    fix_badges(nb, f"exercises/{Path(solution_path).name}")  # the exercise opens itself on Colab/Binder
    return nbformat.writes(nb) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    paths = [Path(p) for p in argv] or sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        target = ROOT / "exercises" / path.name
        target.write_text(exercise_from_solution(path))
        print(f"{path.relative_to(ROOT) if path.is_absolute() else path} -> {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
