"""Build the course website (Jupyter Book 1) from the committed notebooks, offline.

    python tools/build_book.py                 # -> book/_build/html/index.html
    python tools/build_book.py --out DIR       # the site goes to DIR instead

What it does, so that ``jupyter-book build`` sees a self-contained book:

1. stages a copy of the book in a temporary directory, laid out like the repository
   (``chapters/NN_*.ipynb``, ``book/*.md``) so that every relative link between them still works;
2. writes ``_toc.yml`` from the chapters present in ``chapters/`` when it runs (a new chapter
   appears on the site without editing anything), then the glossary and the instructor page;
3. rewrites, in the staged copies only: links to files that are not on the site (exercises,
   solutions, reglib sources) into links to the repository; the Colab/Binder badge images into
   local copies (the links still launch Colab and Binder); ``<details>`` review answers into
   dropdowns, so that the math inside them is typeset; ipywidgets outputs away (the static figure
   beside them stays), and the Colab set-up cell off the page;
4. generates the self-study pages from the chapters (``tools/study_kit.py``): the chapter summaries
   ("the chapter in five sentences"), the flashcards page (inline JavaScript and CSS, works offline) and
   the Anki deck it links to (``book/regularization-in-deep-learning.apkg`` on the site);
5. copies MathJax 3 (from the pinned ``sphinx-mathjax-offline`` package) into ``_static/mathjax``:
   the site serves its own MathJax and needs no network, at build time or when read;
6. runs ``jupyter-book build`` with execution off: the site shows the committed outputs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tools import study_kit  # noqa: E402

BOOK = ROOT / "book"
REPO_URL = "https://github.com/regularization-course/regularization-in-deep-learning"
BRANCH = "main"
BADGES = {  # external badge image -> local copy in book/_static
    "https://colab.research.google.com/assets/colab-badge.svg": "colab-badge.svg",
    "https://mybinder.org/badge_logo.svg": "binder-badge.svg",
}
PAGES = ["glossary", "instructors"]  # book/*.md after the chapters, in this order
STUDY_PAGES = ["summaries", "flashcards"]  # generated into the staged book/ by tools/study_kit.py
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
_DETAILS = re.compile(r"<details>\s*<summary>(.*?)</summary>(.*?)</details>", re.S)
_DISPLAY_MATH = re.compile(r"^([ \t]*)\$\$(.+?)\$\$[ \t]*$", re.S | re.M)


def display_math(m) -> str:
    """A ``$$...$$`` block that starts a line, as MyST reads it the way Jupyter does.

    Jupyter accepts display math glued to the paragraph before it; MyST needs blank lines around
    it. Sphinx wraps multi-line display math (``\\\\``) in ``split``, where MathJax refuses ``\\tag``:
    such a block becomes an amsmath ``equation`` environment, which Sphinx passes through as it is.
    """
    indent, body = m.group(1), m.group(2).strip()
    if "\\tag" in body and "\\\\" in body:
        return f"\n{indent}\\begin{{equation}}\n{body}\n\\end{{equation}}\n"
    return f"\n{indent}$${body}$$\n"


def chapter_paths() -> list[Path]:
    """The chapter notebooks present now, in chapter order."""
    return sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def make_toc(chapters: list[Path]) -> dict:
    """The ``_toc.yml`` content (jb-book format) for these chapters."""
    return {
        "format": "jb-book",
        "root": "book/intro",
        "parts": [
            {"caption": "Chapters", "chapters": [{"file": f"chapters/{p.stem}"} for p in chapters]},
            {"caption": "Self-study", "chapters": [{"file": f"book/{name}"} for name in STUDY_PAGES]},
            {"caption": "Reference", "chapters": [{"file": f"book/{name}"} for name in PAGES]},
        ],
    }


def mathjax_dir() -> Path:
    """MathJax 3 as shipped by the ``sphinx-mathjax-offline`` package."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("MathJax not found: pip install -r requirements.txt (sphinx-mathjax-offline)")
    path = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax"
    if not (path / "tex-chtml.js").exists():
        raise SystemExit(f"MathJax not found in {path}")
    return path


def rewrite_markdown(text: str, source: Path, staged: set[Path]) -> str:
    """Apply the site-only rewrites of step 3 to one markdown text of ``source`` (a repo path)."""
    for url, local in BADGES.items():
        rel = os.path.relpath(BOOK / "_static" / local, source.parent)
        text = text.replace(f"]({url})", f"]({rel})")

    def link(m):
        target = m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            return m.group(0)
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve()
        if resolved in staged or not resolved.is_relative_to(ROOT) or "_static" in resolved.parts:
            return m.group(0)
        url = f"{REPO_URL}/blob/{BRANCH}/{resolved.relative_to(ROOT).as_posix()}"
        return f"{m.group(1)}{url}{'#' + anchor if anchor else ''}{m.group(3)}"

    text = _LINK.sub(link, text)
    text = _DETAILS.sub(lambda m: f"\n:::{{dropdown}} {m.group(1).strip()}\n{m.group(2).strip()}\n:::\n", text)
    return _DISPLAY_MATH.sub(display_math, text)


def stage_notebook(path: Path, dest: Path, staged: set[Path]) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    first_code = True
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = rewrite_markdown(cell.source, path, staged)
        elif cell.cell_type == "code":
            if first_code and "google.colab" in cell.source:  # the Colab install cell: not for readers
                cell.metadata.setdefault("tags", []).append("remove-cell")
            first_code = False
            cell.outputs = [o for o in cell.outputs if WIDGET_MIME not in o.get("data", {})]
    nbformat.write(nb, dest)


def stage(dest: Path, chapters: list[Path]) -> None:
    """Lay out the book in ``dest`` (see the module docstring)."""
    pages = [BOOK / f"{name}.md" for name in ["intro", *PAGES]]
    generated = [BOOK / f"{name}.md" for name in STUDY_PAGES]
    staged = {p.resolve() for p in [*chapters, *pages, *generated]}
    (dest / "chapters").mkdir(parents=True)
    (dest / "book").mkdir()
    for path in chapters:
        stage_notebook(path, dest / "chapters" / path.name, staged)
    for path in pages:
        (dest / "book" / path.name).write_text(rewrite_markdown(path.read_text(), path, staged))
    # the self-study kit: summaries, flashcards and the Anki deck, generated from the chapters
    kit = study_kit.collect(chapters)
    for ch in kit:
        for missing in ch.problems():
            print(f"warning: {ch.path.name} lacks {missing} (tools/study_kit.py --check)", file=sys.stderr)
    names = study_kit.write_site_pages(dest / "book", kit)
    assert names == STUDY_PAGES, names
    summaries = dest / "book" / "summaries.md"
    summaries.write_text(rewrite_markdown(summaries.read_text(encoding="utf-8"), BOOK / "summaries.md", staged),
                         encoding="utf-8")
    shutil.copytree(BOOK / "_static", dest / "book" / "_static")
    shutil.copy(BOOK / "_config.yml", dest / "_config.yml")
    (dest / "_toc.yml").write_text("# generated by tools/build_book.py\n" + yaml.safe_dump(make_toc(chapters), sort_keys=False))
    # not under a root _static/: Jupyter Book would add every .js file found there to every page
    shutil.copytree(mathjax_dir(), dest / "_mathjax" / "mathjax")


def build(out: Path, quiet: bool = False) -> Path:
    """Build the site into ``out`` (replaced) and return the path of its ``index.html``."""
    chapters = chapter_paths()
    if not chapters:
        raise SystemExit("no chapters/NN_*.ipynb to build")
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if jb is None:
        raise SystemExit("jupyter-book not found: pip install -r requirements.txt")
    with tempfile.TemporaryDirectory(prefix="reglib-book-") as tmp:
        src = Path(tmp) / "src"
        stage(src, chapters)
        cmd = [jb, "build", str(src), "--path-output", str(Path(tmp) / "out"), "--builder", "html"]
        if quiet:
            cmd.append("--quiet")
        env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        result = subprocess.run(cmd, env=env, capture_output=quiet, text=True)
        if result.returncode != 0:
            raise SystemExit(f"jupyter-book build failed ({result.returncode})\n"
                             + ((result.stdout or "")[-4000:] + (result.stderr or "")[-4000:] if quiet else ""))
        html = Path(tmp) / "out" / "_build" / "html"
        out = Path(out)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(html, out)
    return out / "index.html"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BOOK / "_build" / "html", help="where the site goes")
    parser.add_argument("--quiet", action="store_true", help="print only the result")
    parser.add_argument("--print-toc", action="store_true", help="print the generated _toc.yml and exit")
    args = parser.parse_args(argv)
    if args.print_toc:
        print(yaml.safe_dump(make_toc(chapter_paths()), sort_keys=False), end="")
        return 0
    start = time.perf_counter()
    index = build(args.out, quiet=args.quiet)
    pages = len(chapter_paths())
    print(f"site with {pages} chapters built in {time.perf_counter() - start:.0f} s: {index}")
    print(json.dumps({"index": str(index)}) if args.quiet else f"open file://{index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
