"""The self-study kit, generated from the chapter notebooks: flashcards and chapter summaries.

    python tools/study_kit.py --out DIR     # DIR/regularization-in-deep-learning.apkg (an Anki deck)
    python tools/study_kit.py --list        # what each chapter contributes, and any chapter that lacks a part
    python tools/study_kit.py --check       # exit status 1 if a chapter lacks a summary, key terms or questions

The chapters are the single source; nothing here is typed twice. Each chapter notebook carries

* a markdown cell headed exactly ``## The chapter in five sentences`` (five numbered sentences), placed just
  before its review questions;
* a ``Review questions`` section whose questions are ``<details><summary>N. question</summary> answer </details>``
  blocks;
* a ``**Key terms:**`` paragraph, a comma-separated list (commas inside parentheses, ``$...$`` or backticks
  do not split a term).

From them this module makes one flashcard per review question (front: the question; back: its answer) and
one per key term (front: the term; back: its entry in the glossary, ``book/glossary.md``, when it has one,
else the sentence of the chapter that defines it — the one that sets the term in bold, or else the first
that uses it). The cards go into an Anki package (genanki; one sub-deck per chapter, stable note ids, so
that importing a newer deck updates the cards instead of duplicating them) and into the site's flashcards
page: flip a card, filter by chapter and kind, shuffle, keep a card or send it to the back of the pile — all
in inline JavaScript and CSS, so the page works offline. ``tools/build_book.py`` builds both pages and the
deck into the website; any number of chapters is handled.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "book" / "glossary.md"
REPO_URL = "https://github.com/regularization-course/regularization-in-deep-learning"
BRANCH = "main"
COURSE = "Regularization in Deep Learning"
APKG_NAME = "regularization-in-deep-learning.apkg"
SUMMARY_HEADING = "## The chapter in five sentences"

_TITLE = re.compile(r"^#\s+(\d+)\s*[·.:-]?\s*(.+?)\s*$", re.M)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$", re.M)
_REVIEW = re.compile(r"review questions", re.I)
_DETAILS = re.compile(r"<details>\s*<summary>(.*?)</summary>(.*?)</details>", re.S | re.I)
_KEY_TERMS = re.compile(r"^\*\*Key terms:?\*\*:?[ \t]*(.*?)(?:\n[ \t]*\n|\n(?=#)|\Z)", re.S | re.M)
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+")
_LIST_ITEM = re.compile(r"^\s*\d+[.)]\s+(.*?)(?=^\s*\d+[.)]\s+|\Z)", re.S | re.M)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(*`$\[])")
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "cf.", "vs.", "eqs.", "Eqs.", "eq.", "Eq.", "Fig.", "Figs.", "approx.", "resp.")


class StudyKitError(ValueError):
    """A chapter lacks a part of the study kit, or a part cannot be read."""


@dataclass(frozen=True)
class Card:
    chapter: str          # "00"
    kind: str             # "question" or "term"
    number: int           # 1-based, within the chapter and the kind
    front: str            # markdown
    back: str             # markdown
    back_source: str      # where the back comes from: "answer", "glossary", "chapter" or "none"

    @property
    def id(self) -> str:
        return f"ch{self.chapter}-{'q' if self.kind == 'question' else 't'}{self.number:02d}"


@dataclass
class Chapter:
    number: str
    title: str
    path: Path
    summary: list[str] = field(default_factory=list)                # the five sentences (markdown)
    questions: list[tuple[str, str]] = field(default_factory=list)  # (question, answer), markdown
    terms: list[str] = field(default_factory=list)                  # markdown
    prose: list[str] = field(default_factory=list)                  # the other markdown cells

    @property
    def label(self) -> str:
        return f"{self.number} · {self.title}"

    def problems(self) -> list[str]:
        """What this chapter lacks for the study kit (empty when complete)."""
        missing = []
        if len(self.summary) != 5:
            missing.append(f"a '{SUMMARY_HEADING}' cell with five numbered sentences "
                           f"(found {len(self.summary)})" if self.summary else f"a '{SUMMARY_HEADING}' cell")
        if not self.questions:
            missing.append("review questions (<details><summary>question</summary> answer </details>)")
        if not self.terms:
            missing.append("a **Key terms:** paragraph")
        return missing


# --------------------------------------------------------------------------------------------- parsing

def split_terms(text: str) -> list[str]:
    """Split a key-terms paragraph at the commas that are not inside (), [], ``$...$`` or backticks."""
    terms, depth, math, code, start = [], 0, False, False, 0
    for i, ch in enumerate(text):
        if ch == "`" and not math:
            code = not code
        elif ch == "$" and not code:
            math = not math
        elif not (math or code):
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth = max(0, depth - 1)
            elif ch == "," and depth == 0:
                terms.append(text[start:i])
                start = i + 1
    terms.append(text[start:])
    terms = [" ".join(t.split()) for t in terms]
    if terms and terms[-1].endswith("."):
        terms[-1] = terms[-1][:-1].rstrip()
    return [t for t in terms if t]


def _section(markdown: str, heading_match) -> str:
    """The text under a heading, up to the next heading of the same or a higher level."""
    level = len(heading_match.group(1))
    rest = markdown[heading_match.end():]
    for m in _HEADING.finditer(rest):
        if len(m.group(1)) <= level:
            return rest[:m.start()]
    return rest


def _summary_sentences(body: str) -> list[str]:
    items = [" ".join(m.group(1).split()) for m in _LIST_ITEM.finditer(body)]
    if items:
        return items
    text = " ".join(body.split())
    return [s for s in _SENTENCE_END.split(text) if s] if text else []


def parse_chapter(path: Path) -> Chapter:
    """Read the study-kit parts of one chapter notebook (see the module docstring)."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "markdown"]
    if not cells:
        raise StudyKitError(f"{path.name}: no markdown cells")
    title = _TITLE.search(cells[0])
    number = title.group(1) if title else path.name[:2]
    chapter = Chapter(number=number, title=title.group(2) if title else path.stem, path=path)
    markdown = "\n\n".join(cells)

    summaries = [c for c in cells if c.lstrip().startswith(SUMMARY_HEADING)]
    if len(summaries) > 1:
        raise StudyKitError(f"{path.name}: {len(summaries)} '{SUMMARY_HEADING}' cells, expected one")
    if summaries:
        chapter.summary = _summary_sentences(summaries[0].lstrip()[len(SUMMARY_HEADING):])

    for m in _HEADING.finditer(markdown):
        if _REVIEW.search(m.group(2)):
            for q in _DETAILS.finditer(_section(markdown, m)):
                question = _NUMBERED.sub("", " ".join(q.group(1).split()), count=1)
                chapter.questions.append((question, q.group(2).strip()))
            break

    m = _KEY_TERMS.search(markdown)
    if m:
        chapter.terms = split_terms(m.group(1))

    # the chapter's own text, where key terms are defined: after the opening cell, before the review questions
    prose = []
    for cell in cells[1:]:
        if cell.lstrip().startswith(SUMMARY_HEADING):
            continue
        review = next((m for m in _HEADING.finditer(cell) if _REVIEW.search(m.group(2))), None)
        if review:
            prose.append(cell[:review.start()])
            break
        prose.append(cell)
    chapter.prose = prose
    return chapter


def chapter_paths(root: Path = ROOT) -> list[Path]:
    return sorted((Path(root) / "chapters").glob("[0-9][0-9]_*.ipynb"))


def collect(paths=None) -> list[Chapter]:
    """Every chapter (default: every ``chapters/NN_*.ipynb`` present), in order."""
    return [parse_chapter(p) for p in (chapter_paths() if paths is None else paths)]


# --------------------------------------------------------------------------------------------- glossary

def _keys(name: str) -> set[str]:
    """Normalised lookup keys of a term: the whole, its parts around " / ", the text outside and
    inside parentheses."""
    def norm(s):
        s = re.sub(r"[`*$]", "", s).lower().replace("–", "-").replace("’", "'")
        return " ".join(s.split()).strip(" .")

    keys = {norm(name)}
    for part in re.split(r"\s+/\s+|\s+vs\.?\s+", name):
        keys.add(norm(part))
        outside = re.sub(r"\([^)]*\)", "", part)
        keys.add(norm(outside))
        keys.update(norm(x) for x in re.findall(r"\(([^)]*)\)", part))
    return {k for k in keys if len(k) > 2}


def read_glossary(path: Path = GLOSSARY) -> dict[str, tuple[str, str]]:
    """``{key: (term, definition)}`` from the glossary's ``**Term** — definition`` entries."""
    if not Path(path).exists():
        return {}
    text = Path(path).read_text(encoding="utf-8")
    entries = re.findall(r"^\*\*(.+?)\*\*\s*[—–-]+\s*(.*?)(?=^\*\*|^#|\Z)", text, re.S | re.M)
    table = {}
    for term, definition in entries:
        definition = " ".join(definition.split())
        for key in _keys(term):
            table.setdefault(key, (term, definition))
    return table


_SKIP_PARAGRAPH = re.compile(r"\s*(#|\||<details|<summary|!\[|```|\$\$|\*\*(Key terms|Exercise|Prerequisites|"
                             r"Reading time|Learning objectives)|Notation follows)")
_SUFFIXES = ("ization", "isation", "ation", "ance", "ence", "ity", "ing", "ed", "es", "s")


def _loose(key: str) -> str:
    """A pattern for ``key`` that also finds its plural and close derivatives (invariance -> invariant)."""
    words = [w for w in re.split(r"[\s-]+", key) if w]
    last = words[-1]
    for suffix in _SUFFIXES:
        if last.endswith(suffix) and len(last) - len(suffix) >= 4:
            last = last[:-len(suffix)]
            break
    body = r"[\s-]+".join([*map(re.escape, words[:-1]), re.escape(last) + r"\w*"])
    return r"(?<![\w-])" + body + r"(?![\w-])"


def _defining_sentence(term: str, chapter: Chapter) -> str | None:
    """The chapter's sentence that defines ``term``: the first that sets it in bold, else in italics, else the
    first that uses it (or a close form of it). ``None`` if the chapter's prose never mentions it."""
    keys = sorted(_keys(term), key=len, reverse=True)
    paragraphs = [p for cell in chapter.prose for p in re.split(r"\n[ \t]*\n", cell)]
    paragraphs = [" ".join(p.split()) for p in paragraphs if p.strip() and not _SKIP_PARAGRAPH.match(p)]

    def find(pattern):
        for p in paragraphs:
            if not re.search(pattern, p, re.I):
                continue
            sentences = _split_sentences(re.sub(r"^[*-] ", "", p))
            for i, s in enumerate(sentences):
                if re.search(pattern, s, re.I):
                    if (len(s) < 60 or s.endswith(":")) and i + 1 < len(sentences):
                        s += " " + sentences[i + 1]
                    return s
        return None

    for make in (lambda k: r"\*\*[^*]*?" + re.escape(k) + r"[^*]*?\*\*",
                 lambda k: r"(?<![*\w])\*" + re.escape(k) + r"\*(?![*\w])",
                 _loose):
        for key in keys:
            hit = find(make(key))
            if hit:
                return hit
    return None


def _split_sentences(text: str) -> list[str]:
    protected = text
    for abbr in _ABBREVIATIONS:
        protected = protected.replace(abbr + " ", abbr.replace(".", "\0") + " ")
    # no sentence boundary inside math
    protected = re.sub(r"\$[^$]*\$", lambda m: m.group(0).replace(". ", "\0 "), protected)
    return [s.replace("\0", ".") for s in _SENTENCE_END.split(protected) if s.strip()]


# --------------------------------------------------------------------------------------------- cards

def cards(chapters: list[Chapter], glossary: dict | None = None) -> list[Card]:
    """The flashcards of these chapters: their review questions, then their key terms, chapter by chapter."""
    glossary = read_glossary() if glossary is None else glossary
    out = []
    for ch in chapters:
        for i, (question, answer) in enumerate(ch.questions, 1):
            out.append(Card(ch.number, "question", i, question, answer, "answer"))
        for i, term in enumerate(ch.terms, 1):
            entry = next((glossary[k] for k in sorted(_keys(term), key=len, reverse=True) if k in glossary), None)
            if entry:
                back, source = f"**{entry[0]}** — {entry[1]}", "glossary"
            else:
                sentence = _defining_sentence(term, ch)
                back, source = ((f"*In the chapter:* {sentence}", "chapter") if sentence else
                                (f"Explain it in your own words, then look it up in chapter {ch.label}.", "none"))
            out.append(Card(ch.number, "term", i, term, back, source))
    return out


# --------------------------------------------------------------------------------------------- rendering

def _markdown_it():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": True}).enable("table").use(dollarmath_plugin, double_inline=True)
    esc = html.escape
    md.add_render_rule("math_inline", lambda self, t, i, o, e: f'<span class="math notranslate nohighlight">\\({esc(t[i].content, False)}\\)</span>')
    md.add_render_rule("math_inline_double", lambda self, t, i, o, e: f'<div class="math notranslate nohighlight">\\[{esc(t[i].content, False)}\\]</div>')
    md.add_render_rule("math_block", lambda self, t, i, o, e: f'<div class="math notranslate nohighlight">\\[{esc(t[i].content, False)}\\]</div>\n')
    md.add_render_rule("math_block_label", lambda self, t, i, o, e: f'<div class="math notranslate nohighlight">\\[{esc(t[i].content, False)}\\]</div>\n')
    return md


_MD = None


def to_html(text: str, source: Path, site: bool = True, inline: bool = False) -> str:
    """Markdown (with ``$...$`` math) of a chapter as HTML; relative links point to the site's pages
    (``site=True``, for a page in ``book/``) or to the repository (for Anki)."""
    global _MD
    if _MD is None:
        _MD = _markdown_it()
    out = _MD.renderInline(text) if inline else _MD.render(text)

    def link(m):
        target = html.unescape(m.group(2))
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            return m.group(0)
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve()
        try:
            rel = resolved.relative_to(ROOT).as_posix()
        except ValueError:
            return m.group(0)
        if site and rel.startswith("chapters/") and rel.endswith(".ipynb"):
            url = f"../chapters/{Path(rel).stem}.html"
        elif site and rel.startswith("book/") and rel.endswith(".md"):
            url = f"{Path(rel).stem}.html"
        else:
            url = f"{REPO_URL}/blob/{BRANCH}/{rel}"
        return f'{m.group(1)}{html.escape(url + ("#" + anchor if anchor else ""))}"'

    return re.sub(r'(<a href=")([^"]*)"', link, out).strip()


def _chapter_url(ch: Chapter, site: bool) -> str:
    return f"../chapters/{ch.path.stem}.html" if site else f"{REPO_URL}/blob/{BRANCH}/chapters/{ch.path.name}"


# --------------------------------------------------------------------------------------------- Anki

ANKI_MODEL_ID = 1_738_204_611
ANKI_DECK_ID = 1_738_204_700  # sub-decks: ANKI_DECK_ID + 1 + chapter number
ANKI_CSS = """
.card { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; font-size: 19px;
        line-height: 1.45; text-align: left; max-width: 42em; margin: 0 auto; color: #1d1d1f; background: #fff; }
.nightMode.card, .night_mode .card { color: #e8e8e8; background: #1e1e1e; }
.meta { font-size: 13px; color: #6b6b6b; text-transform: uppercase; letter-spacing: .04em; }
.source { font-size: 13px; color: #6b6b6b; margin-top: 1.2em; }
code { font-size: 90%; }
"""


def anki_package(chapters: list[Chapter], deck_cards: list[Card] | None = None):
    """The deck as a ``genanki.Package``: one sub-deck per chapter, one note per card."""
    import genanki

    deck_cards = cards(chapters) if deck_cards is None else deck_cards
    model = genanki.Model(
        ANKI_MODEL_ID, f"{COURSE} card",
        fields=[{"name": "Front"}, {"name": "Back"}, {"name": "Chapter"}, {"name": "Kind"}, {"name": "Source"}],
        templates=[{
            "name": "Recall",
            "qfmt": '<div class="meta">{{Chapter}} · {{Kind}}</div>{{Front}}',
            "afmt": '{{FrontSide}}<hr id="answer">{{Back}}<div class="source">{{Source}}</div>',
        }],
        css=ANKI_CSS,
    )
    by_number = {ch.number: ch for ch in chapters}
    decks = {}
    for ch in chapters:
        decks[ch.number] = genanki.Deck(ANKI_DECK_ID + 1 + int(ch.number), f"{COURSE}::{ch.label}")
    for card in deck_cards:
        ch = by_number[card.chapter]
        kind = "review question" if card.kind == "question" else "key term"
        source = f'<a href="{_chapter_url(ch, site=False)}">Chapter {ch.label}</a>'
        note = genanki.Note(
            model=model,
            fields=[to_html(card.front, ch.path, site=False, inline=card.kind == "term"),
                    to_html(card.back, ch.path, site=False), f"Chapter {ch.number}", kind, source],
            guid=genanki.guid_for("regularization-course", card.chapter, card.kind, card.front),
            tags=[f"chapter-{ch.number}", kind.replace(" ", "-")],
        )
        decks[card.chapter].add_note(note)
    return genanki.Package(list(decks.values()))


def write_apkg(chapters: list[Chapter], path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    anki_package(chapters).write_to_file(str(path))
    return path


# --------------------------------------------------------------------------------------------- site pages

def summaries_markdown(chapters: list[Chapter]) -> str:
    """The site's summaries page (MyST markdown, as if it were ``book/summaries.md``)."""
    lines = [
        "# Each chapter in five sentences", "",
        "Each chapter ends with five sentences that say what it shows; here they are together, one section",
        "per chapter, for a first overview or a last review. Each section links to its chapter and to the",
        "chapter's [flashcards](flashcards.md).", "",
    ]
    for ch in chapters:
        lines += [f"({_anchor(ch)})=", f"## {ch.label}", ""]
        if ch.summary:
            lines += [f"{i}. {s}" for i, s in enumerate(ch.summary, 1)]
        else:
            lines.append("*This chapter has no summary yet.*")
        n_q, n_t = len(ch.questions), len(ch.terms)
        lines += ["", f"**Key terms:** {', '.join(ch.terms)}." if ch.terms else "",
                  "", f"[Read chapter {ch.number}](../chapters/{ch.path.name}) · "
                  f'<a href="flashcards.html#chapter-{ch.number}">practise its {n_q} review questions and '
                  f'{n_t} key terms as flashcards</a>', ""]
    return "\n".join(lines)


def _anchor(ch: Chapter) -> str:
    return f"summary-chapter-{ch.number}"


_PAGE_CSS = """
.fc-app { --fc-border: var(--pst-color-border, #d0d7de); --fc-surface: var(--pst-color-surface, #f6f8fa);
          --fc-muted: var(--pst-color-text-muted, #57606a); --fc-accent: var(--pst-color-primary, #0a7d91);
          margin: 1.5rem 0; }
.fc-controls { display: flex; flex-wrap: wrap; gap: .6rem 1.2rem; align-items: center; margin-bottom: 1rem; }
.fc-controls label { display: flex; gap: .4rem; align-items: center; margin: 0; }
.fc-controls select { max-width: 22rem; }
.fc-app button, .fc-app select { border: 1px solid var(--fc-border); border-radius: .4rem; padding: .3rem .7rem;
          background: var(--pst-color-background, #fff); color: inherit; font: inherit; cursor: pointer; }
.fc-app button:hover { border-color: var(--fc-accent); }
.fc-app button:disabled { opacity: .45; cursor: default; }
.fc-status { color: var(--fc-muted); font-size: .95em; }
.fc-card { border: 1px solid var(--fc-border); border-radius: .8rem; background: var(--fc-surface);
           padding: 1.3rem 1.5rem; margin: 0 0 1rem; min-height: 12rem; outline-offset: 3px; }
.fc-ready .fc-card { cursor: pointer; }
.fc-meta { font-size: .8em; text-transform: uppercase; letter-spacing: .05em; color: var(--fc-muted); margin: 0 0 .6rem; }
.fc-front { font-size: 1.15em; font-weight: 600; }
.fc-back { border-top: 1px dashed var(--fc-border); margin-top: 1rem; padding-top: 1rem; }
.fc-ready .fc-card:not(.fc-flipped) .fc-back { display: none; }
.fc-hint { color: var(--fc-muted); font-size: .85em; margin: 1rem 0 0; }
.fc-ready .fc-flipped .fc-hint { display: none; }
.fc-app:not(.fc-ready) .fc-hint, .fc-app:not(.fc-ready) .fc-controls, .fc-app:not(.fc-ready) .fc-nav { display: none; }
.fc-source { font-size: .85em; color: var(--fc-muted); margin: .8rem 0 0; }
.fc-nav { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; }
.fc-nav .fc-grow { flex: 1; }
.fc-empty { padding: 1.5rem; border: 1px dashed var(--fc-border); border-radius: .8rem; }
"""

# The page's behaviour. Cards are rendered into the page (so MathJax typesets them with the rest of it); the
# script only decides which card shows and whether its back is visible. Without JavaScript every card shows
# with its answer. "Got it" takes a card out of the pile (remembered in this browser), "Again" sends it to the back.
_PAGE_JS = r"""
(function () {
  "use strict";
  var app = document.getElementById("fc-app");
  if (!app) return;
  var cards = Array.prototype.slice.call(app.querySelectorAll(".fc-card"));
  var chapterSel = document.getElementById("fc-chapter"), kindSel = document.getElementById("fc-kind");
  var status = document.getElementById("fc-status"), empty = document.getElementById("fc-empty");
  var buttons = {};
  ["prev", "flip", "next", "known", "again", "shuffle", "reset"].forEach(function (name) {
    buttons[name] = document.getElementById("fc-" + name);
  });
  var STORE = "reglib-flashcards-known";
  var known = {};
  try { known = JSON.parse(window.localStorage.getItem(STORE) || "{}") || {}; } catch (e) { known = {}; }
  function save() { try { window.localStorage.setItem(STORE, JSON.stringify(known)); } catch (e) { /* private mode */ } }
  var queue = [], pos = 0;

  function matches(card) {
    return (chapterSel.value === "all" || card.getAttribute("data-chapter") === chapterSel.value) &&
           (kindSel.value === "all" || card.getAttribute("data-kind") === kindSel.value);
  }
  function shuffle(list) {
    for (var i = list.length - 1; i > 0; i--) {
      var j = Math.floor(Math.random() * (i + 1)), t = list[i]; list[i] = list[j]; list[j] = t;
    }
  }
  function rebuild(mix) {
    queue = cards.filter(function (c) { return matches(c) && !known[c.id]; });
    if (mix) shuffle(queue);
    pos = 0;
    show();
  }
  function show() {
    cards.forEach(function (c) { c.hidden = true; setFlipped(c, false); });
    var selected = cards.filter(matches), done = selected.filter(function (c) { return known[c.id]; }).length;
    empty.hidden = queue.length > 0;
    ["prev", "flip", "next", "known", "again"].forEach(function (n) { buttons[n].disabled = !queue.length; });
    if (queue.length) queue[pos].hidden = false;
    status.textContent = (queue.length ? "card " + (pos + 1) + " of " + queue.length : "no cards left") +
      (done ? " · " + done + " of " + selected.length + " marked as known" : "");
    app.setAttribute("data-current", queue.length ? queue[pos].id : "");
  }
  function setFlipped(card, on) {
    card.classList.toggle("fc-flipped", on);
    card.setAttribute("aria-expanded", on ? "true" : "false");
  }
  function current() { return queue.length ? queue[pos] : null; }
  function flip() { var c = current(); if (c) setFlipped(c, !c.classList.contains("fc-flipped")); }
  function step(d) { if (queue.length) { pos = (pos + d + queue.length) % queue.length; show(); } }
  function markKnown() {
    var c = current(); if (!c) return;
    known[c.id] = 1; save(); queue.splice(pos, 1);
    if (pos >= queue.length) pos = 0;
    show();
  }
  function again() {
    if (queue.length < 2) { show(); return; }
    queue.push(queue.splice(pos, 1)[0]);
    if (pos >= queue.length) pos = 0;
    show();
  }
  function fromHash() {
    var m = /^#chapter-(\d+)$/.exec(window.location.hash);
    if (m && chapterSel.querySelector('option[value="' + m[1] + '"]')) chapterSel.value = m[1];
  }

  cards.forEach(function (c) {
    c.setAttribute("tabindex", "0");
    c.setAttribute("role", "button");
    c.addEventListener("click", function (e) { if (!e.target.closest("a")) flip(); });
  });
  buttons.flip.addEventListener("click", flip);
  buttons.prev.addEventListener("click", function () { step(-1); });
  buttons.next.addEventListener("click", function () { step(1); });
  buttons.known.addEventListener("click", markKnown);
  buttons.again.addEventListener("click", again);
  buttons.shuffle.addEventListener("click", function () { rebuild(true); });
  buttons.reset.addEventListener("click", function () { known = {}; save(); rebuild(false); });
  chapterSel.addEventListener("change", function () {
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", chapterSel.value === "all" ? window.location.pathname : "#chapter-" + chapterSel.value);
    }
    rebuild(false);
  });
  kindSel.addEventListener("change", function () { rebuild(false); });
  window.addEventListener("hashchange", function () { fromHash(); rebuild(false); });
  document.addEventListener("keydown", function (e) {
    var tag = (e.target && e.target.tagName) || "";
    if (/^(SELECT|INPUT|TEXTAREA)$/.test(tag) || e.altKey || e.ctrlKey || e.metaKey) return;
    if (tag === "BUTTON" && (e.key === " " || e.key === "Enter")) return;
    if (e.key === " " || e.key === "Enter") { flip(); e.preventDefault(); }
    else if (e.key === "ArrowRight") { step(1); e.preventDefault(); }
    else if (e.key === "ArrowLeft") { step(-1); e.preventDefault(); }
  });
  fromHash();
  app.classList.add("fc-ready");
  rebuild(false);
})();
"""


def flashcards_markdown(chapters: list[Chapter], deck_cards: list[Card] | None = None,
                        apkg_name: str | None = APKG_NAME) -> str:
    """The site's flashcards page (MyST markdown whose cards are one raw HTML block with inline CSS and JS),
    as if it were ``book/flashcards.md``; ``apkg_name``: the deck beside it, linked for download."""
    deck_cards = cards(chapters) if deck_cards is None else deck_cards
    by_number = {ch.number: ch for ch in chapters}
    n_q = sum(c.kind == "question" for c in deck_cards)
    n_t = len(deck_cards) - n_q
    esc = html.escape
    options = "".join(f'<option value="{ch.number}">{esc(ch.label)}</option>' for ch in chapters)
    body = []
    for card in deck_cards:
        ch = by_number[card.chapter]
        kind = "review question" if card.kind == "question" else "key term"
        front = to_html(card.front, ch.path, inline=card.kind == "term")
        front = f"<p>{front}</p>" if card.kind == "term" else front
        body.append(
            f'<div class="fc-card" id="{card.id}" data-chapter="{card.chapter}" data-kind="{card.kind}" '
            f'aria-expanded="true">\n'
            f'<p class="fc-meta">Chapter {esc(ch.label)} · {kind} {card.number}</p>\n'
            f'<div class="fc-front">{front}</div>\n'
            f'<p class="fc-hint">Recall the answer, then flip the card (click it, or press the space bar).</p>\n'
            f'<div class="fc-back">{to_html(card.back, ch.path)}\n'
            f'<p class="fc-source">From <a href="{_chapter_url(ch, site=True)}">chapter {esc(ch.label)}</a>'
            + (" and the <a href=\"glossary.html\">glossary</a>" if card.back_source == "glossary" else "")
            + "</p></div>\n</div>")
    app = "\n".join([
        f"<style>{_PAGE_CSS}</style>",
        '<div id="fc-app" class="fc-app">',
        '<div class="fc-controls">',
        f'<label>Chapter <select id="fc-chapter" autocomplete="off"><option value="all">All chapters</option>{options}</select></label>',
        '<label>Cards <select id="fc-kind" autocomplete="off"><option value="all">Questions and terms</option>'
        '<option value="question">Review questions</option><option value="term">Key terms</option></select></label>',
        '<button type="button" id="fc-shuffle">Shuffle</button>',
        '<button type="button" id="fc-reset" title="Bring back the cards marked as known">Start over</button>',
        '<span id="fc-status" class="fc-status" aria-live="polite"></span>',
        "</div>",
        '<div id="fc-cards">', *body, "</div>",
        '<div id="fc-empty" class="fc-empty" hidden>No cards left in this selection: every card is marked as '
        'known. Press <em>Start over</em> to bring them back, or choose another chapter.</div>',
        '<div class="fc-nav">',
        '<button type="button" id="fc-prev" title="Previous card (←)">← Previous</button>',
        '<button type="button" id="fc-flip" title="Show or hide the answer (space)">Flip</button>',
        '<button type="button" id="fc-next" title="Next card (→)">Next →</button>',
        '<span class="fc-grow"></span>',
        '<button type="button" id="fc-again" title="Put this card at the back of the pile">Again</button>',
        '<button type="button" id="fc-known" title="Take this card out of the pile">Got it</button>',
        "</div>",
        "</div>",
        f"<script>{_PAGE_JS}</script>",
    ])
    download = (f"Prefer spaced repetition? The same cards are an Anki deck, one sub-deck per chapter: "
                f"{{download}}`{apkg_name} <{apkg_name}>` (in Anki: *File → Import*; importing a newer "
                f"deck updates the cards you have).") if apkg_name else ""
    return "\n".join([
        "# Flashcards", "",
        f"Every review question and every key term of the {len(chapters)} chapters — {n_q} questions and "
        f"{n_t} terms — as cards to practise with. Read the front, recall the answer, then flip the card. "
        "*Got it* takes a card out of the pile (this browser remembers it), *Again* sends it to the back. "
        "Keys: space flips, ← and → move. The page needs no network; formulas such as the weight-decay step "
        r"$w \leftarrow (1 - \eta\lambda)\,w$ are typeset as on the chapter pages.", "",
        download, "",
        "```{raw} html", app, "```", "",
    ])


def write_site_pages(dest_book: Path, chapters: list[Chapter] | None = None) -> list[str]:
    """Write ``summaries.md``, ``flashcards.md`` and the Anki deck into ``dest_book`` (the staged ``book/``);
    return the page names to list in the table of contents."""
    chapters = collect() if chapters is None else chapters
    deck_cards = cards(chapters)
    dest_book = Path(dest_book)
    write_apkg(chapters, dest_book / APKG_NAME)
    (dest_book / "summaries.md").write_text(summaries_markdown(chapters), encoding="utf-8")
    (dest_book / "flashcards.md").write_text(flashcards_markdown(chapters, deck_cards), encoding="utf-8")
    return ["summaries", "flashcards"]


# --------------------------------------------------------------------------------------------- command line

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help=f"write the Anki deck ({APKG_NAME}) into this folder")
    parser.add_argument("--list", action="store_true", help="list what each chapter contributes")
    parser.add_argument("--check", action="store_true", help="exit 1 if a chapter lacks a part of the kit")
    parser.add_argument("chapters", nargs="*", type=Path, help="chapter notebooks (default: chapters/NN_*.ipynb)")
    args = parser.parse_args(argv)
    chapters = collect(args.chapters or None)
    problems = {ch.path.name: ch.problems() for ch in chapters if ch.problems()}
    if args.list or not (args.out or args.check):
        glossary = read_glossary()
        for ch in chapters:
            chapter_cards = cards([ch], glossary)
            sources = {s: sum(c.back_source == s for c in chapter_cards if c.kind == "term")
                       for s in ("glossary", "chapter", "none")}
            print(f"{ch.label}: {len(ch.summary)} summary sentences, {len(ch.questions)} review questions, "
                  f"{len(ch.terms)} key terms (defined by the glossary {sources['glossary']}, by the chapter "
                  f"{sources['chapter']}, not found {sources['none']})")
    for name, missing in problems.items():
        print(f"{name} lacks {'; '.join(missing)}", file=sys.stderr)
    if args.out:
        path = write_apkg(chapters, args.out / APKG_NAME)
        print(f"{len(cards(chapters))} cards from {len(chapters)} chapters: {path}")
    return 1 if (args.check and problems) else 0


if __name__ == "__main__":
    raise SystemExit(main())
