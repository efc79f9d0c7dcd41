"""The course as a reader sees it, in a real (headless) Chromium.

* The website is built once per session (``tools/build_book.py`` into a temporary directory) and served
  on loopback; on every chapter page MathJax — served by the site itself — must have typeset the math
  with no error and no raw TeX left, and every image must have loaded.
* JupyterLab is started on loopback (a free port, a random token) and must render chapter 00.

Chromium cannot reach anything but loopback here (``--host-resolver-rules``), so these tests also show
that the site and JupyterLab work offline. They need Debian's ``chromium`` and ``chromium-driver``
(``.ci/run`` installs them); without them they are skipped with the command that enables them.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
PAGES = ["book/intro", "book/glossary", "book/instructors"]
CHROMIUM = os.environ.get("REGLIB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("REGLIB_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
ENABLE = ("headless Chromium is needed for the browser tests; enable them with "
          "`sudo apt-get install -y chromium chromium-driver` (Debian/Ubuntu) or set REGLIB_CHROMIUM and "
          "REGLIB_CHROMEDRIVER to a Chromium and its matching chromedriver")

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chrome_available():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not found: {ENABLE}")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed: pip install -r requirements.txt")


@pytest.fixture(scope="session")
def site(chrome_available, tmp_path_factory) -> Path:
    """The website, built once per session into a temporary directory (REGLIB_SITE: use a built one)."""
    if os.environ.get("REGLIB_SITE"):
        return Path(os.environ["REGLIB_SITE"])
    out = tmp_path_factory.mktemp("site") / "html"
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py"), "--out", str(out), "--quiet"],
                            capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(f"site built in {time.perf_counter() - start:.0f} s")
    return out


@pytest.fixture(scope="session")
def site_url(site):
    """The site served over HTTP on loopback (MathJax loads its fonts by URL)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def browser(chrome_available, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--window-size=1280,1600",
                # nothing but loopback resolves: the pages must work offline
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(120)
    yield driver
    driver.quit()


# --------------------------------------------------------------------------------------------------
# the website

_WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done('ok'), (e) => done('error: ' + e));
  } else if (Date.now() - start > 60000) {
    done('MathJax did not start');
  } else { setTimeout(poll, 100); }
})();
"""

_LOAD_IMAGES = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.querySelectorAll('article img'));
Promise.all(imgs.map((img) => {
  img.loading = 'eager';
  return img.decode().then(() => [img.getAttribute('src'), img.naturalWidth],
                           () => [img.getAttribute('src'), 0]);
})).then(done);
"""

# the visible prose: the article without code, outputs or typeset math
_PROSE = """
const article = document.querySelector('article').cloneNode(true);
article.querySelectorAll('pre, code, script, style, mjx-container, .cell_output, .output')
       .forEach((e) => e.remove());
return article.textContent;
"""

_RAW_TEX = re.compile(r"\$\$|\\\(|\\\[|\$[^$\n]*\\[A-Za-z]+[^$\n]*\$")


def _page(path: str) -> str:
    return path + ".html"


def _source_has_math(path: Path) -> bool:
    text = path.read_text()
    if path.suffix == ".ipynb":
        nb = nbformat.reads(text, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return "$" in text


def _image_outputs(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if {"image/png", "image/svg+xml", "image/jpeg"} & set(o.get("data", {})))


def _check_page(browser, url: str, source: Path):
    browser.get(url)
    assert browser.execute_script("return document.querySelector('article') !== null"), f"no article at {url}"
    mathjax_src = browser.execute_script(
        "const s = document.querySelector('script[src*=\"mathjax\"]'); return s ? s.src : null;")
    if _source_has_math(source):
        assert mathjax_src, "the page does not load MathJax"
        assert mathjax_src.startswith(url.split("/chapters/")[0].split("/book/")[0]), \
            f"MathJax must be served by the site itself, not {mathjax_src}"
        assert browser.execute_async_script(_WAIT_FOR_MATHJAX) == "ok"
        typeset = browser.execute_script("return document.querySelectorAll('article mjx-container').length")
        assert typeset > 0, "MathJax typeset nothing"
        errors = browser.execute_script(
            "return Array.from(MathJax.startup.document.math)"
            ".filter(m => m.typesetRoot && m.typesetRoot.querySelector('mjx-merror'))"
            ".map(m => m.typesetRoot.querySelector('mjx-merror').getAttribute('data-mjx-error') + ' in: ' + m.math)")
        assert not errors, f"MathJax could not typeset: {errors[:5]}"
        raw = _RAW_TEX.findall(browser.execute_script(_PROSE))
        assert not raw, f"raw TeX left in the page: {raw[:5]}"
    images = browser.execute_async_script(_LOAD_IMAGES)
    broken = [src for src, width in images if width == 0]
    assert not broken, f"images that did not load: {broken}"
    return images


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_page_typesets_math_and_loads_figures(browser, site_url, chapter):
    images = _check_page(browser, f"{site_url}/chapters/{chapter.stem}.html", chapter)
    figures = [src for src, _ in images if "/_images/" in src or src.startswith("../_images/")]
    expected = _image_outputs(chapter)
    # every figure of the notebook is on the page (+ the two launch badges, local copies)
    assert len(figures) >= expected, f"{len(figures)} images on the page, {expected} figures in the notebook"


@pytest.mark.parametrize("page", PAGES)
def test_book_page(browser, site_url, page):
    _check_page(browser, f"{site_url}/{_page(page)}", ROOT / f"{page}.md")


def test_navigation_lists_every_chapter_and_page(browser, site_url):
    browser.get(f"{site_url}/index.html")  # redirects to the intro page
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('nav.bd-docs-nav a')).map(a => a.getAttribute('href'))")
    targets = {Path(h.split("#")[0]).stem for h in links if h}
    expected = {p.stem for p in CHAPTERS} | {"glossary", "instructors", "summaries", "flashcards"}
    assert expected <= targets, f"missing from the navigation: {sorted(expected - targets)}"


def test_site_needs_no_network(site):
    """No page loads a script, a stylesheet, a font or an image from another host."""
    external = re.compile(r"<(?:script|img|iframe)\b[^>]*\ssrc=\"(?:https?:)?//|<link\b[^>]*\shref=\"(?:https?:)?//")
    offenders = [str(p.relative_to(site)) for p in site.rglob("*.html") if external.search(p.read_text())]
    assert not offenders, f"pages that load resources from the network: {offenders}"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_every_page_footer_names_the_licenses(site):
    pages = [p for p in site.rglob("*.html") if "_static" not in p.parts and "Refresh" not in p.read_text()[:300]]
    assert pages
    for page in pages:
        footer = page.read_text().split('<footer', 1)[-1]
        assert "MIT License" in footer and "CC BY 4.0" in footer, f"{page.relative_to(site)}: license footer"


# --------------------------------------------------------------------------------------------------
# the self-study pages (generated from the chapters by tools/study_kit.py)

def _study_kit():
    sys.path.insert(0, str(ROOT))
    from tools import study_kit

    return study_kit


def test_summaries_page(browser, site_url, tmp_path):
    study_kit = _study_kit()
    source = tmp_path / "summaries.md"
    source.write_text(study_kit.summaries_markdown(study_kit.collect(CHAPTERS)))
    _check_page(browser, f"{site_url}/book/summaries.html", source)
    headings = browser.execute_script("return Array.from(document.querySelectorAll('article h2')).map(h => h.textContent)")
    assert len(headings) == len(CHAPTERS), headings


_FC_STATE = """
const app = document.getElementById('fc-app');
const shown = Array.from(app.querySelectorAll('.fc-card')).filter(c => c.offsetParent !== null);
const back = shown.length ? shown[0].querySelector('.fc-back') : null;
return {ready: app.classList.contains('fc-ready'), shown: shown.map(c => c.id),
        chapter: shown.length ? shown[0].dataset.chapter : null, kind: shown.length ? shown[0].dataset.kind : null,
        backVisible: !!back && back.offsetParent !== null && back.getBoundingClientRect().height > 0,
        status: document.getElementById('fc-status').textContent, total: app.querySelectorAll('.fc-card').length};
"""


def test_flashcards_flip_and_filter_offline(browser, site_url):
    """The flashcards page works with nothing but the site: flip a card, filter by chapter and kind, step
    through a chapter's cards, set one aside, and open the page on one chapter from its link."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    study_kit = _study_kit()
    chapters = study_kit.collect(CHAPTERS)
    cards = study_kit.cards(chapters)
    browser.get(f"{site_url}/book/flashcards.html")
    browser.execute_script("localStorage.clear()")
    browser.get(f"{site_url}/book/flashcards.html")
    assert browser.execute_async_script(_WAIT_FOR_MATHJAX) == "ok"
    errors = browser.execute_script("return document.querySelectorAll('#fc-app mjx-merror').length")
    assert errors == 0 and browser.execute_script("return document.querySelectorAll('#fc-app mjx-container').length") > 0

    state = browser.execute_script(_FC_STATE)
    assert state["ready"] and state["total"] == len(cards)
    assert len(state["shown"]) == 1 and not state["backVisible"], state
    assert state["status"].startswith(f"card 1 of {len(cards)}")
    flip = browser.find_element(By.ID, "fc-flip")
    flip.click()
    assert browser.execute_script(_FC_STATE)["backVisible"]
    flip.click()
    assert not browser.execute_script(_FC_STATE)["backVisible"]
    browser.find_element(By.ID, state["shown"][0]).click()  # clicking the card flips it too
    assert browser.execute_script(_FC_STATE)["backVisible"]
    ActionChains(browser).send_keys(Keys.ARROW_RIGHT).perform()  # the next card starts face down
    moved = browser.execute_script(_FC_STATE)
    assert moved["shown"] != state["shown"] and not moved["backVisible"]
    ActionChains(browser).send_keys(Keys.SPACE).perform()
    assert browser.execute_script(_FC_STATE)["backVisible"]

    # filter by chapter: stepping through shows exactly that chapter's cards
    target = chapters[len(chapters) // 2]
    mine = [c.id for c in cards if c.chapter == target.number]
    Select(browser.find_element(By.ID, "fc-chapter")).select_by_value(target.number)
    seen = []
    for _ in mine:
        s = browser.execute_script(_FC_STATE)
        assert s["chapter"] == target.number and s["status"].endswith(f"of {len(mine)}"), s
        seen.append(s["shown"][0])
        browser.find_element(By.ID, "fc-next").click()
    assert sorted(seen) == sorted(mine)
    assert browser.execute_script(_FC_STATE)["shown"] == [seen[0]], "the pile wraps around"

    # ... and by kind
    Select(browser.find_element(By.ID, "fc-kind")).select_by_value("term")
    terms = [c.id for c in cards if c.chapter == target.number and c.kind == "term"]
    s = browser.execute_script(_FC_STATE)
    assert s["kind"] == "term" and s["status"].startswith(f"card 1 of {len(terms)}"), s

    # "Got it" sets a card aside (remembered across a reload), "Start over" brings it back
    browser.find_element(By.ID, "fc-known").click()
    s = browser.execute_script(_FC_STATE)
    assert s["status"].startswith(f"card 1 of {len(terms) - 1}") and "1 of" in s["status"].split("·")[-1], s
    browser.refresh()
    Select(browser.find_element(By.ID, "fc-chapter")).select_by_value(target.number)
    Select(browser.find_element(By.ID, "fc-kind")).select_by_value("term")
    assert browser.execute_script(_FC_STATE)["status"].startswith(f"card 1 of {len(terms) - 1}")
    browser.find_element(By.ID, "fc-reset").click()
    assert browser.execute_script(_FC_STATE)["status"].startswith(f"card 1 of {len(terms)}")

    # the summaries page links straight to one chapter's cards
    Select(browser.find_element(By.ID, "fc-kind")).select_by_value("all")
    browser.get(f"{site_url}/book/flashcards.html#chapter-{chapters[0].number}")
    s = browser.execute_script(_FC_STATE)
    first = [c for c in cards if c.chapter == chapters[0].number]
    assert s["chapter"] == chapters[0].number and s["status"].startswith(f"card 1 of {len(first)}"), s


def test_flashcards_page_offers_the_anki_deck(browser, site_url):
    browser.get(f"{site_url}/book/flashcards.html")
    href = browser.execute_script("const a = document.querySelector('a[href$=\".apkg\"]'); return a ? a.href : null;")
    assert href and href.startswith(site_url), href
    with urllib.request.urlopen(href, timeout=30) as r:
        assert r.read().startswith(b"PK\x03\x04"), "an .apkg is a zip archive"


# --------------------------------------------------------------------------------------------------
# JupyterLab

@pytest.fixture(scope="module")
def jupyterlab(chrome_available, tmp_path_factory):
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("jupyter")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail("JupyterLab did not start:\n" + (home / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url, token
    finally:
        proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_jupyterlab_renders_chapter_00(browser, jupyterlab):
    from selenium.webdriver.support.ui import WebDriverWait

    url, token = jupyterlab
    browser.get(f"{url}/lab/tree/chapters/00_generalization.ipynb?token={token}")
    rendered = """
        const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
        if (!panel) return null;
        const cells = panel.querySelectorAll('.jp-Cell');
        const title = panel.querySelector('.jp-MarkdownCell .jp-RenderedMarkdown h1');
        const code = panel.querySelector('.jp-CodeCell .cm-content');
        const img = panel.querySelector('.jp-OutputArea-output img');
        const collapsed = panel.querySelectorAll('.jp-CodeCell .jp-InputPlaceholder').length;
        return {cells: cells.length, title: title ? title.textContent : null,
                code: code ? code.textContent : null, image: img ? img.naturalWidth : 0, collapsed: collapsed};
    """
    state = WebDriverWait(browser, 180, poll_frequency=0.5).until(
        lambda d: (s := d.execute_script(rendered)) and s["cells"] >= 5 and s["title"] and s["code"] and s)
    assert "Generalization and overfitting" in state["title"]
    # the setup and import cells open collapsed (their source hidden); the first code shown is teaching code
    assert state["collapsed"] >= 2, state
    assert "load_mnist1d()" in state["code"] and "google.colab" not in state["code"], state["code"][:200]
    visible = browser.execute_script(
        "const r = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').getBoundingClientRect();"
        "return r.width > 100 && r.height > 10;")
    assert visible, "the notebook's cells are not visible"
