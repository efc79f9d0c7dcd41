"""The self-study kit (tools/study_kit.py) holds every chapter's key terms and review questions, and nothing else.

The chapters are parsed here a second time, independently of the tool (an HTML parser for the ``<details>``
blocks, a line scanner for the key terms), and the sets are compared with what the Anki package file and the
flashcards page actually contain. Every chapter present is checked, however many there are.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools import build_book, study_kit  # noqa: E402

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
HEADING = "## The chapter in five sentences"


# ------------------------------------------------------------------------------------ an independent reading

class _Details(HTMLParser):
    """Collects (summary text, body text) of every <details> element in a piece of markdown."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self._in, self._part, self._summary, self._body = [], False, None, [], []

    def handle_starttag(self, tag, attrs):
        if tag == "details":
            self._in, self._summary, self._body, self._part = True, [], [], "body"
        elif tag == "summary" and self._in:
            self._part = "summary"

    def handle_endtag(self, tag):
        if tag == "summary" and self._in:
            self._part = "body"
        elif tag == "details" and self._in:
            self.found.append(("".join(self._summary), "".join(self._body)))
            self._in = False

    def handle_data(self, data):
        if self._in:
            (self._summary if self._part == "summary" else self._body).append(data)


def _markdown_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def _review_section(path) -> str:
    """The markdown from the 'Review questions' heading to the next level-1/2 heading."""
    lines, inside = [], False
    for cell in _markdown_cells(path):
        for line in cell.source.splitlines():
            if line.startswith("#") and "review questions" in line.lower():
                inside = True
                continue
            if inside and re.match(r"#{1,2} ", line):
                return "\n".join(lines)
            if inside:
                lines.append(line)
    return "\n".join(lines)


def _key_terms(path) -> list[str]:
    text = "\n".join(c.source for c in _markdown_cells(path))
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().lower().startswith("**key terms")), None)
    if start is None:
        return []
    block = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line)
    body = " ".join(block).split("**", 2)[2].lstrip(": ")
    # protect commas inside $...$, `...` and (...) by masking them, then split
    masked = re.sub(r"\$[^$]*\$|`[^`]*`|\([^()]*\)", lambda m: m.group(0).replace(",", "\x00"), body)
    terms = [t.replace("\x00", ",").strip() for t in masked.split(",")]
    return [re.sub(r"\.$", "", " ".join(t.split())) for t in terms if t.strip()]


def _plain(text: str) -> str:
    """Text of markdown or HTML with the markup (and the white space, which markup moves) dropped, for
    comparing the two."""
    text = re.sub(r"<[^>]+>", " ", text)
    text = html.unescape(text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)       # markdown links -> their text
    text = re.sub(r"\\[()\[\]]", "", text)                      # MathJax delimiters \( \) \[ \]
    text = re.sub(r"[*`$]", "", text)
    text = re.sub(r"^\s*\d+\.\s+", "", text)                    # the question's number
    return "".join(text.split())


def expected_cards(paths=CHAPTERS) -> list[tuple[str, str, str]]:
    """(chapter, kind, plain front) for every review question and key term, read independently."""
    out = []
    for path in paths:
        number = path.name[:2]
        parser = _Details()
        parser.feed(_review_section(path))
        out += [(number, "question", _plain(q)) for q, _ in parser.found]
        out += [(number, "term", _plain(t)) for t in _key_terms(path)]
    return out


def expected_answers(paths=CHAPTERS) -> dict:
    answers = {}
    for path in paths:
        parser = _Details()
        parser.feed(_review_section(path))
        answers.update({(path.name[:2], _plain(q)): _plain(a) for q, a in parser.found})
    return answers


# ------------------------------------------------------------------------------------ the chapters

def test_there_are_chapters():
    assert CHAPTERS, "no chapters/NN_*.ipynb"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_has_key_terms_review_questions_and_a_five_sentence_summary(path):
    parser = _Details()
    parser.feed(_review_section(path))
    assert len(parser.found) >= 3, f"{path.name}: review questions as <details><summary>...</summary>...</details>"
    assert all(q.strip() and a.strip() for q, a in parser.found), "every review question has an answer"
    assert len(_key_terms(path)) >= 3, f"{path.name}: a **Key terms:** paragraph"

    cells = _markdown_cells(path)
    summary = [i for i, c in enumerate(cells) if c.source.splitlines()[:1] == [HEADING]]
    assert len(summary) == 1, f"{path.name}: exactly one markdown cell headed {HEADING!r}"
    i = summary[0]
    items = re.findall(r"^\d+\. +\S", cells[i].source, re.M)
    assert len(items) == 5, f"{path.name}: the summary is five numbered sentences ('1. ...' to '5. ...')"
    assert i + 1 < len(cells) and re.match(r"#+ .*review questions", cells[i + 1].source, re.I), \
        f"{path.name}: the summary cell comes just before the review questions heading"


def test_the_tool_reads_what_the_independent_parser_reads():
    chapters = study_kit.collect(CHAPTERS)
    assert [ch.number for ch in chapters] == [p.name[:2] for p in CHAPTERS]
    assert all(not ch.problems() for ch in chapters), {ch.path.name: ch.problems() for ch in chapters}
    got = sorted((c.chapter, c.kind, _plain(c.front)) for c in study_kit.cards(chapters))
    assert got == sorted(expected_cards())


# ------------------------------------------------------------------------------------ the Anki deck

@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    path = tmp_path_factory.mktemp("deck") / study_kit.APKG_NAME
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "study_kit.py"), "--out", str(path.parent)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert path.exists(), result.stdout
    with zipfile.ZipFile(path) as z:
        db = tmp_path_factory.mktemp("anki") / "collection.anki2"
        db.write_bytes(z.read("collection.anki2"))
    con = sqlite3.connect(db)
    notes = [(guid, flds.split("\x1f"), tags) for guid, flds, tags in con.execute("select guid, flds, tags from notes")]
    decks = json.loads(con.execute("select decks from col").fetchone()[0])
    n_cards = con.execute("select count(*) from cards").fetchone()[0]
    con.close()
    return {"notes": notes, "decks": decks, "cards": n_cards}


def _note_key(fields):
    front, _back, chapter, kind, _source = fields
    number = re.fullmatch(r"Chapter (\d+)", chapter).group(1)
    return number, {"review question": "question", "key term": "term"}[kind], _plain(front)


def test_deck_holds_every_key_term_and_review_question_and_nothing_else(deck):
    got = sorted(_note_key(fields) for _, fields, _ in deck["notes"])
    expected = sorted(expected_cards())
    missing, extra = set(expected) - set(got), set(got) - set(expected)
    assert not missing and not extra, f"missing from the deck: {sorted(missing)[:5]}; not in the chapters: {sorted(extra)[:5]}"
    assert got == expected, "each card exactly once"
    assert deck["cards"] == len(expected), "one Anki card per note"


def test_deck_answers_are_the_chapters_answers(deck):
    answers = expected_answers()
    for _, fields, _ in deck["notes"]:
        number, kind, front = _note_key(fields)
        if kind == "question":
            assert answers[(number, front)] in _plain(fields[1]), (number, front)
        else:
            assert _plain(fields[1]), f"key term {front!r} of chapter {number} has an empty back"


def test_deck_has_a_sub_deck_per_chapter_and_stable_note_ids(deck):
    names = {d["name"] for d in deck["decks"].values()}
    for ch in study_kit.collect(CHAPTERS):
        assert f"{study_kit.COURSE}::{ch.label}" in names
    guids = [g for g, _, _ in deck["notes"]]
    assert len(set(guids)) == len(guids)
    # a second build gives the same note ids: re-importing a newer deck updates cards instead of duplicating
    package = study_kit.anki_package(study_kit.collect(CHAPTERS))
    assert sorted(n.guid for d in package.decks for n in d.notes) == sorted(guids)
    tags = {t for _, _, tag_str in deck["notes"] for t in tag_str.split()}
    assert {"review-question", "key-term"} <= tags


def test_requirements_pin_genanki():
    assert "genanki==0.13.1" in (ROOT / "requirements.txt").read_text().split()


# ------------------------------------------------------------------------------------ the site pages

class _Cards(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.cards, self._stack, self.scripts, self.external = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "link", "img", "iframe") and re.match(r"(https?:)?//", attrs.get("src") or attrs.get("href") or ""):
            self.external.append(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        cls = attrs.get("class", "") or ""
        if "fc-card" in cls.split():
            self.cards.append({"chapter": attrs["data-chapter"], "kind": attrs["data-kind"], "front": "", "id": attrs["id"]})
        if tag in ("div", "p", "span", "a", "code", "em", "strong", "select", "option", "button", "label", "style", "script"):
            self._stack.append(cls)

    def handle_endtag(self, tag):
        if tag in ("div", "p", "span", "a", "code", "em", "strong", "select", "option", "button", "label", "style", "script"):
            self._stack.pop()

    def handle_data(self, data):
        if self.cards and any("fc-front" in c.split() for c in self._stack):
            self.cards[-1]["front"] += data


def _raw_html(page: str) -> str:
    m = re.search(r"^```\{raw\} html\n(.*?)^```", page, re.S | re.M)
    assert m, "the flashcards are one raw HTML block"
    return m.group(1)


def test_flashcards_page_holds_every_card_and_loads_nothing_from_the_network():
    chapters = study_kit.collect(CHAPTERS)
    page = study_kit.flashcards_markdown(chapters)
    parser = _Cards()
    parser.feed(_raw_html(page))
    got = sorted((c["chapter"], c["kind"], _plain(c["front"])) for c in parser.cards)
    assert got == sorted(expected_cards())
    assert len({c["id"] for c in parser.cards}) == len(parser.cards), "card ids are unique"
    assert not parser.external, f"external resources: {parser.external}"
    assert parser.scripts and all("src" not in s for s in parser.scripts), "the script is inline"
    assert "<style>" in page and f"{{download}}`{study_kit.APKG_NAME}" in page
    chapter_options = re.findall(r'<option value="(\d+)">', page)
    assert chapter_options == [ch.number for ch in chapters], "a filter entry per chapter"


def test_summaries_page_has_every_chapters_five_sentences():
    chapters = study_kit.collect(CHAPTERS)
    page = study_kit.summaries_markdown(chapters)
    for path in CHAPTERS:
        cell = next(c for c in _markdown_cells(path) if c.source.startswith(HEADING))
        body = " ".join(cell.source[len(HEADING):].split())
        for sentence in re.split(r" ?\d+\. ", body):
            if sentence:
                assert sentence in " ".join(page.split()), (path.name, sentence[:60])
        assert f"flashcards.html#chapter-{path.name[:2]}" in page


def test_site_build_generates_the_study_pages(tmp_path):
    assert study_kit.REPO_URL == build_book.REPO_URL
    toc = build_book.make_toc(CHAPTERS)
    captions = {part["caption"]: [c["file"] for c in part["chapters"]] for part in toc["parts"]}
    assert captions["Self-study"] == ["book/summaries", "book/flashcards"]
    build_book.stage(tmp_path / "src", CHAPTERS)
    staged = tmp_path / "src" / "book"
    assert (staged / study_kit.APKG_NAME).stat().st_size > 10_000
    assert "```{raw} html" in (staged / "flashcards.md").read_text()
    summaries = (staged / "summaries.md").read_text()
    assert "(../chapters/00_generalization.ipynb)" in summaries  # staged chapters stay site links


# ------------------------------------------------------------------------------------ any number of chapters

def _notebook(path: Path, title: str, review: bool = True, terms: bool = True, summary: bool = True):
    cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n**Learning objectives.** Something.")]
    cells.append(nbformat.v4.new_markdown_cell("## 1 · Idea\n\nA **widget** is a small thing, defined here."))
    if summary:
        cells.append(nbformat.v4.new_markdown_cell(HEADING + "\n\n" + "\n".join(f"{i}. Sentence {i}." for i in range(1, 6))))
    tail = "## 9 · Review questions\n\n"
    if review:
        tail += "<details><summary>1. What is $x$, really?</summary>\n\nAn answer, with $x^2$.\n</details>\n\n"
    if terms:
        tail += "**Key terms:** widget, gadget (a thing, or two), $\\alpha$-thing.\n\n"
    tail += "## References\n\n* Someone (2020)."
    cells.append(nbformat.v4.new_markdown_cell(tail))
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nbformat.write(nb, path)
    return path


def test_a_new_chapter_is_picked_up_and_parsed(tmp_path):
    path = _notebook(tmp_path / "14_new_topic.ipynb", "14 · A new topic")
    ch = study_kit.parse_chapter(path)
    assert (ch.number, ch.title) == ("14", "A new topic")
    assert ch.questions == [("What is $x$, really?", "An answer, with $x^2$.")]
    assert ch.terms == ["widget", "gadget (a thing, or two)", "$\\alpha$-thing"]
    assert ch.summary == [f"Sentence {i}." for i in range(1, 6)] and not ch.problems()
    deck_cards = study_kit.cards([*study_kit.collect(CHAPTERS[:1]), ch], glossary={})
    assert {c.chapter for c in deck_cards} == {CHAPTERS[0].name[:2], "14"}
    widget = next(c for c in deck_cards if c.front == "widget")
    assert widget.back_source == "chapter" and "**widget** is a small thing" in widget.back
    package = study_kit.anki_package([*study_kit.collect(CHAPTERS[:1]), ch], deck_cards)
    assert len(package.decks) == 2


@pytest.mark.parametrize("missing", ["review", "terms", "summary"])
def test_a_chapter_missing_a_part_is_reported(tmp_path, missing):
    path = _notebook(tmp_path / "15_gap.ipynb", "15 · A gap", **{missing: False})
    problems = study_kit.parse_chapter(path).problems()
    assert len(problems) == 1 and {"review": "review questions", "terms": "Key terms",
                                   "summary": "five sentences"}[missing] in problems[0]
    assert study_kit.main(["--check", str(path)]) == 1
    assert study_kit.main(["--check", str(_notebook(tmp_path / "16_ok.ipynb", "16 · Fine"))]) == 0


def test_split_terms_keeps_commas_inside_parentheses_math_and_code():
    assert study_kit.split_terms("a, b (c, d), $f(x, y)$, `g(h, i)`, last.") == [
        "a", "b (c, d)", "$f(x, y)$", "`g(h, i)`", "last"]
    assert study_kit.split_terms("  one,\n two ") == ["one", "two"]
