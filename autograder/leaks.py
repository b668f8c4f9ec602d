"""Leak check: no solution, hidden test or answer value may appear in the student notebooks, the book
or the feedback pages.

What counts as secret, per chapter source ``solutions/partN_*.py``:

* every distinctive number (>= 1000, at least 3 significant digits, not a power of two or a year) written inside a solution block (``### BEGIN/END SOLUTION``), a hidden-test block
  (``### BEGIN/END HIDDEN TESTS``) or a manually graded answer cell, unless the same number also appears
  in the public part of the source (then it is course material, e.g. a vocabulary size);
* the explicit answers of :data:`autograder.answer_keys.ANSWERS`;
* hidden-test lines and solution lines (at least :data:`MIN_LINE` characters once whitespace is
  collapsed) that do not also appear in the public part;
* the key sentences of each written answer's mark scheme (a markdown cell graded by hand: the whole cell, with or
  without ``=== BEGIN/END MARK SCHEME ===``), found even when reworded a little or re-wrapped: a text leaks a key
  sentence when it holds at least :data:`SENTENCE_SHARE` of the sentence's runs of :data:`SHINGLE` words
  (lower-cased, punctuation and Markdown ignored), not counting runs that the public part of the chapter (the
  question itself) also holds.

Numbers are matched in any common formatting: ``22807552``, ``22,807,552``, ``22 807 552``,
``22_807_552``, ``22.807.552``, ``22807552.0``.

Published places (the student notebooks, the built book) are also checked for nbgrader's markers
(:data:`MARKERS`), and a built site must not contain the ``solutions/`` or ``autograder/`` folders.

This module owns every leak rule: the notebook generator, the book build (``labtools.book``) and the feedback
check of the self-test all call it.

API: :func:`secrets` (the leak values), :func:`check_paths` (files/folders -> list of problems),
:func:`check_site` (a built book), :func:`check_text`, :func:`has_marker`, :func:`scrub` (replace leak values
in a string).
"""

from __future__ import annotations

import functools
import html
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder import REPO_ROOT
from autograder.answer_keys import ANSWERS

MIN_LINE = 22
#: mark-scheme sentences: runs of SHINGLE words; a text leaks a sentence holding at least MIN_SHINGLES runs when it
#: contains SENTENCE_SHARE of them
SHINGLE = 4
MIN_SHINGLES = 5
SENTENCE_SHARE = 0.5
_WORD_RE = re.compile(r"\w+")
_SCHEME_NOISE = re.compile(r"===\s*(BEGIN|END) MARK SCHEME\s*===|YOUR ANSWER HERE|^\s*Expected points.*$", re.M)
TEXT_SUFFIXES = {".ipynb", ".html", ".htm", ".md", ".py", ".txt", ".js", ".json", ".csv", ".tex", ".rst", ".xml"}
SEP = r"[,_ \u00a0\u202f.'\u2019]?"
_NUM_RE = re.compile(r"(?<![\w.])(\d{1,3}(?:[_,]\d{3})+|\d{4,})(?![\w])")

BEGIN_SOL, END_SOL = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HID, END_HID = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
#: nbgrader's markers: never in a published page or a student notebook
MARKERS = (
    "BEGIN SOLUTION",
    "END SOLUTION",
    "BEGIN HIDDEN TESTS",
    "END HIDDEN TESTS",
    "BEGIN MARK SCHEME",
    "END MARK SCHEME",
)
#: instructor folders that must never be built into the book
PRIVATE_DIRS = ("solutions", "autograder")


def has_marker(text: str) -> str | None:
    """The first nbgrader marker found in ``text``, else ``None``."""
    return next((m for m in MARKERS if m in text), None)


@dataclass
class Secrets:
    numbers: dict[int, str] = field(default_factory=dict)  # value -> origin
    lines: dict[str, str] = field(default_factory=dict)  # normalized line -> origin
    hidden_lines: set[str] = field(default_factory=set)  # normalized hidden-test lines
    #: mark-scheme key sentence -> (its word runs that the public text does not hold, origin)
    sentences: dict[str, tuple[frozenset, str]] = field(default_factory=dict)

    def merge(self, other: Secrets) -> None:
        self.numbers.update(other.numbers)
        self.lines.update(other.lines)
        self.hidden_lines |= other.hidden_lines
        self.sentences.update(other.sentences)


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def shingles(text: str, k: int = SHINGLE) -> set[tuple[str, ...]]:
    """The runs of ``k`` consecutive words of ``text`` (lower-cased; punctuation and Markdown ignored)."""
    w = _words(text)
    return {tuple(w[i : i + k]) for i in range(len(w) - k + 1)}


def scheme_sentences(text: str) -> list[str]:
    """The sentences of a written answer's mark scheme: one per sentence of each bullet or paragraph."""
    text = _SCHEME_NOISE.sub(" ", text)
    out = []
    for block in re.split(r"\n\s*(?:[*+-]|\d+\.)\s+|\n\s*\n", "\n" + text):
        block = _norm(block)
        out += [s.strip() for s in re.split(r"(?<=[.;!?])\s+(?=[A-Z*`(\"'])|;\s+", block) if s.strip()]
    return out


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def split_regions(source: str) -> tuple[list[str], list[str], list[str]]:
    """(public lines, solution lines, hidden-test lines) of one cell source."""
    public, sol, hid = [], [], []
    state = None
    for line in source.splitlines():
        s = line.strip()
        if s.startswith(BEGIN_SOL):
            state = "sol"
            continue
        if s.startswith(END_SOL) or s.startswith(END_HID):
            state = None
            continue
        if s.startswith(BEGIN_HID):
            state = "hid"
            continue
        {"sol": sol, "hid": hid, None: public}[state].append(line)
    return public, sol, hid


def distinctive(v: int) -> bool:
    """A number worth checking: >= 1000 with at least 3 significant digits, not a power of two, not a year
    (1600, 2000, 4096, 2024 are everywhere: hyper-parameters, JavaScript, copyright lines)."""
    return v >= 1000 and len(str(v).rstrip("0")) >= 3 and v & (v - 1) != 0 and not 1900 <= v <= 2100


def _numbers(text: str, only_distinctive: bool = True) -> set[int]:
    out = set()
    for m in _NUM_RE.finditer(text):
        v = int(re.sub(r"[_,]", "", m.group(1)))
        if v >= 1000 and (distinctive(v) or not only_distinctive):
            out.add(v)
    return out


def secrets_of_notebook(nb, origin: str) -> Secrets:
    """Leak values of one instructor notebook (nbformat) called ``origin``."""
    public_text, secret_text, hidden, sol_lines = [], [], [], []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        src = cell.source
        if cell.cell_type == "markdown" and meta.get("solution"):
            secret_text.append(src)  # a manually graded answer: the whole cell is the answer
            sol_lines += src.splitlines()
            continue
        pub, sol, hid = split_regions(src)
        public_text += pub
        secret_text += sol + hid
        hidden += hid
        sol_lines += sol
    public = "\n".join(public_text)
    public_norm = _norm(public)
    s = Secrets()
    public_runs = shingles(public)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            for sentence in scheme_sentences(cell.source):
                runs = frozenset(shingles(sentence) - public_runs)
                if len(runs) >= MIN_SHINGLES:
                    s.sentences[sentence] = (runs, f"{origin} (mark scheme)")
    for v in _numbers("\n".join(secret_text)) - _numbers(public, only_distinctive=False):
        s.numbers[v] = f"{origin} (solution/hidden test)"
    for v in ANSWERS.get(origin, []):
        s.numbers[int(v)] = f"{origin} (answer list)"
    for line in hidden + sol_lines:
        n = _norm(line.lstrip("#").strip()) if line.lstrip().startswith("#") else _norm(line)
        if len(n) >= MIN_LINE and n not in public_norm:
            s.lines[n] = f"{origin} ({'hidden test' if line in hidden else 'solution'})"
            if line in hidden:
                s.hidden_lines.add(n)
    return s


@functools.lru_cache(maxsize=4)
def _secrets_cached(key: tuple) -> Secrets:
    from autograder.chapters import read_source

    total = Secrets()
    for p, _mtime in key:
        total.merge(secrets_of_notebook(read_source(p), Path(p).stem))
    # explicit answers of chapters whose source is not there (yet) still count
    for stem, values in ANSWERS.items():
        for v in values:
            total.numbers.setdefault(int(v), f"{stem} (answer list)")
    return total


def secrets(sources: list[Path] | None = None) -> Secrets:
    """Leak values of every chapter source (default ``solutions/part*.py``)."""
    if sources is None:
        from autograder.chapters import chapter_sources

        sources = chapter_sources()
    return _secrets_cached(tuple((str(p), Path(p).stat().st_mtime) for p in sources))


def number_pattern(value: int) -> re.Pattern:
    digits = str(value)
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    body = SEP.join(groups)
    return re.compile(r"(?<![\d])" + body + r"(?![\d])(?![,_]\d)")


@functools.lru_cache(maxsize=4096)
def _pat(value: int) -> re.Pattern:
    return number_pattern(value)


def check_text(text: str, sec: Secrets, where: str = "") -> list[str]:
    """Problems found in ``text`` (already extracted from its container)."""
    problems = []
    norm = _norm(text)
    for v, origin in sorted(sec.numbers.items()):
        m = _pat(v).search(text)
        if m:
            problems.append(f"{where}: leaks {m.group(0)!r} (= {v}, from {origin})")
    for line, origin in sorted(sec.lines.items()):
        if line in norm:
            problems.append(f"{where}: leaks source line {line!r} (from {origin})")
    if sec.sentences:
        runs = shingles(text)
        for sentence, (key, origin) in sorted(sec.sentences.items()):
            share = len(key & runs) / len(key)
            if share >= SENTENCE_SHARE:
                problems.append(f"{where}: leaks mark-scheme sentence {sentence[:80]!r} ({share:.0%}, from {origin})")
    return problems


def scrub(text: str, sec: Secrets | None = None, replacement: str = "\u2026") -> str:
    """``text`` with every leak value replaced: a line that shows a line of a solution or hidden test (a student
    printing IPython's ``In``, a notebook file, ``globals()``…) and every expected number."""
    sec = sec or secrets()
    lines = text.split("\n")
    for i, line in enumerate(lines):
        norm = _norm(line)
        if len(norm) >= MIN_LINE and any(s in norm for s in sec.lines):
            lines[i] = replacement
    text = "\n".join(lines)
    for v in sec.numbers:
        text = _pat(v).sub(replacement, text)
    return text


def notebook_text(path: Path) -> str:
    """Cell sources + text outputs + attachments-free metadata-free text of an .ipynb (raw file if unreadable)."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    try:
        nb = json.loads(raw)
        chunks = []
        for cell in nb.get("cells", []):
            src = cell.get("source", "")
            chunks.append("".join(src) if isinstance(src, list) else src)
            for out in cell.get("outputs", []) or []:
                if "text" in out:
                    t = out["text"]
                    chunks.append("".join(t) if isinstance(t, list) else t)
                for k, v in (out.get("data") or {}).items():
                    if k.startswith("text/") or k.endswith("json"):
                        chunks.append("".join(v) if isinstance(v, list) else str(v))
                if "traceback" in out:
                    chunks.append("\n".join(out["traceback"]))
                if "evalue" in out:
                    chunks.append(str(out["evalue"]))
        return "\n".join(chunks)
    except (ValueError, AttributeError, TypeError):
        return raw


def html_text(raw: str) -> str:
    no_tags = re.sub(r"<[^>]+>", "", raw)
    return html.unescape(no_tags)


def iter_files(paths):
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES and ".ipynb_checkpoints" not in f.parts:
                    yield f
        elif p.is_file():
            yield p


def check_paths(paths, sources: list[Path] | None = None, *, markers: bool = False) -> list[str]:
    """Leak problems in the given files/folders (``.ipynb``, ``.html``, ``.md`` ... recursively).

    Returns a list of human-readable problems; empty means clean. ``markers``: also report nbgrader's markers
    (published places: ``python -m autograder.generate`` on ``notebooks/``, the book build on ``_build/html``).
    """
    sec = secrets(sources)
    problems = []
    for f in iter_files(paths):
        suffix = f.suffix.lower()
        if suffix == ".ipynb":
            texts = [notebook_text(f)]
        else:
            raw = f.read_text(encoding="utf-8", errors="replace")
            texts = [raw, html_text(raw)] if suffix in {".html", ".htm", ".xml", ".js"} else [raw]
        seen = set()
        if markers and any(has_marker(t) for t in texts):
            problems.append(f"{f}: nbgrader marker {next(filter(None, map(has_marker, texts)))!r}")
        for t in texts:
            for prob in check_text(t, sec, str(f)):
                if prob not in seen:
                    seen.add(prob)
                    problems.append(prob)
    return problems


def check_site(site: Path, sources: list[Path] | None = None) -> list[str]:
    """Leak problems of a built book: private folders built into it, markers, secret values and lines."""
    site = Path(site)
    if not site.is_dir():
        return [f"no built site at {site}"]
    problems = [
        f"{d}/ was built into the site" for d in PRIVATE_DIRS if (site / d).exists() or (site / "_sources" / d).exists()
    ]
    return problems + check_paths([site], sources, markers=True)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    paths = argv or [str(REPO_ROOT / "notebooks")] + (
        [str(REPO_ROOT / "_build" / "html")] if (REPO_ROOT / "_build" / "html").exists() else []
    )
    problems = check_paths(paths, markers=True)
    for p in problems:
        print("LEAK", p)
    print(f"leak check: {len(problems)} problem(s) in {', '.join(paths)}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
