"""The built book as a reader meets it, read from the DOM that headless Chromium renders.

For every chapter page (and the results page):

* each cell that draws (calls a plotting helper ``plot_*(...)`` or ``plt.*``) shows exactly one image in its output
  area, no other cell shows an image unless it displays a stored one (``Image(...)``), so the page's images from
  plotting cells number the plotting cells of the chapter source; no ``<Figure size ...>`` / Axes repr text;
* each cell that displays a table (``display(...)`` of a DataFrame or of ``Markdown``) shows a ``<table>``;
* no raw Markdown table (``|---|``) in the rendered text, no ``<s>``/``<del>`` element made of a ``<s>`` token;
* no absolute path of the build machine (``/work/``, ``/home/``, ``/tmp/``, ...) in any page's text.

The checker (:func:`page_problems`) is tested on a planted page of the old behaviour (figures drawn with Agg and
never shown, a Markdown table rendered as a paragraph, absolute paths, an HTML strikethrough) as well as on the
built book. The built-book tests are slow: they build the book (a cached rebuild when ``_build`` is up to date);
``FRLAB_BOOK_BUILT=1`` checks the existing ``_build/html`` without building.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.chapters import chapter_sources, read_source
from frlab.paths import REPO_ROOT
from labtools.book import build as book_build
from labtools.book import pages as book_pages

HTML = book_build.HTML_DIR

PLOT_CALL = re.compile(r"\bplot_\w+\s*\(|\bplt\.\w+\s*\(")
IMAGE_CALL = re.compile(r"\bImage\s*\(")
TABLE_CALL = re.compile(r"\bdisplay\s*\((?!\s*Image\b)|\bMarkdown\s*\(")
ABS_PATH = re.compile(r"(?<![\w.:/~$-])/(?:work|home|tmp|root|Users|mnt|opt|content|private|var/folders)/")
RAW_MD_TABLE = re.compile(r"\|\s*:?-{3,}:?\s*\|")
FIGURE_REPR = re.compile(r"<(?:Figure size \d|Axes[:\s]|matplotlib\.\w)")
NO_DATA = ("no stored", "not yet produced")


# --------------------------------------------------------------------------- the checker
def _soup(html: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


def _article(soup):
    return soup.select_one("article.bd-article") or soup.select_one("main") or soup.body or soup


def _code_cells(soup) -> list:
    """The executed code cells of a myst-nb page (``div.cell``, each with ``div.cell_input`` and outputs)."""
    return [c for c in soup.select("div.cell") if c.select_one("div.cell_input")]


def text_problems(html: str) -> list[str]:
    """Absolute paths, raw Markdown tables and strikethroughs in the rendered text of any page."""
    art = _article(_soup(html))
    text = art.get_text(" ")
    problems = []
    for m in ABS_PATH.finditer(text):
        problems.append(f"absolute path in the text: {text[max(0, m.start() - 40) : m.end() + 40]!r}")
    for m in RAW_MD_TABLE.finditer(text):
        problems.append(f"raw Markdown table in the text: {text[max(0, m.start() - 60) : m.end() + 20]!r}")
    for el in art.find_all(["s", "strike", "del"]):
        problems.append(f"strikethrough <{el.name}> (an unescaped '<s>'?): {el.get_text()[:60]!r}")
    return problems


def page_problems(html: str, code_sources: list[str]) -> list[str]:
    """What a chapter page shows wrong, given the code cells of its chapter source (in page order)."""
    soup = _soup(html)
    cells = _code_cells(soup)
    problems = text_problems(html)
    if len(cells) != len(code_sources):
        return problems + [f"{len(cells)} code cells on the page, {len(code_sources)} in the chapter source"]
    plotting, plotted = 0, 0
    for i, (cell, src) in enumerate(zip(cells, code_sources), 1):
        head = src.strip().splitlines()[0][:60] if src.strip() else ""
        where = f"cell {i} ({head!r})"
        outputs = cell.select("div.cell_output")
        out_text = " ".join(o.get_text(" ") for o in outputs)
        images = sum(len(o.find_all("img")) for o in outputs)
        if FIGURE_REPR.search(out_text):
            problems.append(f"{where}: a figure's repr instead of (or beside) the figure: {out_text[:120]!r}")
        if PLOT_CALL.search(src):
            plotting += 1
            plotted += images == 1
            if images != 1:
                problems.append(f"{where} draws a figure: {images} image(s) in its output, expected 1")
        elif images and not IMAGE_CALL.search(src):
            problems.append(f"{where} draws nothing but shows {images} image(s)")
        if TABLE_CALL.search(src) and not any(s in out_text for s in NO_DATA):
            if not any(o.find("table") for o in outputs):
                problems.append(f"{where} displays a table: no <table> in its output")
    if plotted != plotting:
        problems.append(f"{plotted} of the {plotting} plotting cells of the chapter show their figure")
    return problems


def chapter_code_sources(src: Path) -> list[str]:
    """The code cells the page shows: the book's version of the chapter, less the cells it runs without showing
    (``remove-cell``: the stand-ins that bind the reference answers)."""
    nb = book_pages.book_notebook(read_source(src, standins=True), src.stem)
    return [c.source for c in nb.cells if c.cell_type == "code" and "remove-cell" not in c.metadata.get("tags", [])]


# --------------------------------------------------------------------------- planted pages (fast)
def _page(cells: str, extra: str = "") -> str:
    return f'<html><body><main><article class="bd-article">{extra}{cells}</article></main></body></html>'


def _cell(code: str, output: str = "") -> str:
    out = f'<div class="cell_output docutils container">{output}</div>' if output else ""
    return (
        f'<div class="cell docutils container"><div class="cell_input docutils container">'
        f"<pre>{code}</pre></div>{out}</div>"
    )


PLANTED_SOURCES = [
    'print("work folder:", WORK)',
    "ax = plot_shares(per_module)",
    "display(Markdown(format_comparison(rows)))",
    "qlora.plot_loss_curve(log_history)",
]

OLD_PAGE = _page(
    _cell(PLANTED_SOURCES[0], '<div class="output stream"><pre>work folder: /work/main/_build/work/smoke</pre></div>')
    + _cell(PLANTED_SOURCES[1])  # Agg: the figure is drawn, never shown
    + _cell(
        PLANTED_SOURCES[2],
        "<p>| framework | valid | |---|---| | Hugging Face | 72.9 ± 1.6 |</p>",  # CommonMark: one paragraph
    )
    + _cell(
        PLANTED_SOURCES[3], '<div class="output text_plain"><pre>&lt;Figure size 600x350 with 1 Axes&gt;</pre></div>'
    ),
    extra="<table><tr><td>MLM never trains the <s>output</s></td></tr></table>",
)

NEW_PAGE = _page(
    _cell(PLANTED_SOURCES[0], '<div class="output stream"><pre>work folder: _build/work/smoke</pre></div>')
    + _cell(PLANTED_SOURCES[1], '<img alt="_images/a.png" src="../../_images/a.png"/>')
    + _cell(PLANTED_SOURCES[2], "<table><tr><th>framework</th></tr><tr><td>Hugging Face</td></tr></table>")
    + _cell(PLANTED_SOURCES[3], '<img alt="_images/b.png" src="../../_images/b.png"/>'),
    extra="<table><tr><td>MLM never trains the &lt;s&gt; output</td></tr></table>",
)


def test_checker_fails_on_a_page_built_the_old_way():
    problems = "\n".join(page_problems(OLD_PAGE, PLANTED_SOURCES))
    assert "absolute path" in problems and "/work/" in problems
    assert "raw Markdown table" in problems
    assert "strikethrough" in problems
    assert "cell 2 ('ax = plot_shares(per_module)') draws a figure: 0 image(s)" in problems
    assert "cell 3" in problems and "no <table>" in problems
    assert "cell 4" in problems and "repr" in problems
    assert "0 of the 2 plotting cells" in problems


def test_checker_passes_a_page_built_the_new_way():
    assert page_problems(NEW_PAGE, PLANTED_SOURCES) == []


def test_checker_counts_duplicate_images_and_cells():
    twice = NEW_PAGE.replace('src="../../_images/b.png"/>', 'src="../../_images/b.png"/><img src="c.png"/>')
    assert any("2 image(s)" in p for p in page_problems(twice, PLANTED_SOURCES))
    assert any("code cells on the page" in p for p in page_problems(NEW_PAGE, PLANTED_SOURCES[:3]))


# --------------------------------------------------------------------------- the built book (slow)
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def rendered_dom(path: Path) -> str:
    """The DOM of a built page after Chromium ran its scripts (``--dump-dom``)."""
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (apt-get install -y chromium)")
        pytest.skip("no chromium (apt-get install -y chromium)")
    profile = tempfile.mkdtemp(prefix="frlab-chrome-")
    try:
        proc = subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
             "--disable-background-networking", "--disable-component-update", f"--user-data-dir={profile}",
             "--virtual-time-budget=5000", "--dump-dom", path.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert proc.returncode == 0 and "<body" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def site() -> Path:
    if os.environ.get("FRLAB_BOOK_BUILT") != "1":
        cmd = [sys.executable, "-m", "labtools.book.build", "--quiet"]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=3600)
        assert proc.returncode == 0, f"book build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    if not (HTML / "book" / "intro.html").is_file():
        pytest.skip("no built book in _build/html")
    return HTML


@pytest.mark.slow
@pytest.mark.parametrize("src", chapter_sources(), ids=lambda p: p.stem)
def test_chapter_page_shows_figures_and_tables(site, src):
    page = site / "book" / "chapters" / f"{src.stem}.html"
    assert page.is_file(), page
    sources = chapter_code_sources(src)
    dom = rendered_dom(page)
    problems = page_problems(dom, sources)
    assert not problems, f"{page.name}:\n  - " + "\n  - ".join(problems)
    if any(PLOT_CALL.search(s) for s in sources):
        assert 'src="data:image' in dom or re.search(r'<img[^>]+src="[^"]*_images/[^"]+\.png"', dom)


@pytest.mark.slow
def test_results_page_reads_well(site):
    dom = rendered_dom(site / "book" / "results.html")
    problems = text_problems(dom)
    assert not problems, "results.html:\n  - " + "\n  - ".join(problems)
    art = _article(_soup(dom))
    assert art.find("table") is not None
    if "pretraining_ablation" in dom:
        assert "<s>" in art.get_text(), "the ablation table names the <s> token as text"


@pytest.mark.slow
def test_no_page_names_the_build_machine(site):
    problems = []
    for page in sorted(site.rglob("*.html")):
        rel = page.relative_to(site).as_posix()
        if rel.startswith(("_static/", "_sources/", "genindex", "search")):
            continue
        problems += [f"{rel}: {p}" for p in text_problems(page.read_text(encoding="utf-8", errors="replace"))]
    assert not problems, "\n".join(problems[:30])
