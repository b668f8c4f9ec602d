"""Build and check the course book: ``python -m frlab.book_build`` (``make book``).

1. regenerate the chapter pages, the results page and ``_toc.yml`` (:mod:`frlab.book_pages`);
2. ``jupyter-book build . -W --keep-going``: warnings are errors; chapter pages are executed
   through jupyter-cache in the ``smoke`` profile (``FRLAB_PROFILE=smoke`` is forced; run outputs
   go to ``_build/work`` unless ``FRLAB_WORK`` is set), the student notebooks are rendered unexecuted;
3. fail on any execution failure: Jupyter Book itself exits 0 when a notebook fails, so the
   jupyter-cache records and the ``_build/html/reports/*.err.log`` files are checked;
4. the solution-leak check on everything under ``_build/html`` (HTML, ``searchindex.js``,
   ``_sources``, downloadable notebooks): ``autograder.leaks`` when it exists, and always the
   book's own check (:func:`leak_problems`): nbgrader markers, solution lines and graded answer
   values taken from the chapter sources' solution blocks and hidden tests;
5. print the build time (cold: no jupyter-cache yet; cached: a rebuild).

Exit status 0 only when all of that passes.  Options: ``--clean`` (delete ``_build`` first:
a cold build), ``--no-build`` (only check an existing build).
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from frlab.paths import REPO_ROOT

BUILD_DIR = REPO_ROOT / "_build"
HTML_DIR = BUILD_DIR / "html"
CACHE_DIR = BUILD_DIR / ".jupyter_cache"
LOG_PATH = BUILD_DIR / "book_build.log"

# Graded answers that must never be published (also extracted from hidden tests, see answer_values()).
KNOWN_ANSWERS = (22807552, 22829056, 22829568, 1572864)
TEXT_SUFFIXES = (".html", ".js", ".txt", ".ipynb", ".md", ".json", ".py", ".xml", ".inv")
_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN MARK SCHEME")


# --------------------------------------------------------------------------- what must not leak
def _solution_blocks(text: str) -> list[str]:
    return re.findall(r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END (?:SOLUTION|HIDDEN TESTS)", text, flags=re.S)


def answer_values(sources: list[Path] | None = None) -> set[int]:
    """Graded integers: the known answers plus every integer of >= 5 digits in hidden tests."""
    from frlab.notebook_exec import chapter_sources

    values = set(KNOWN_ANSWERS)
    for src in sources if sources is not None else chapter_sources():
        text = src.read_text(encoding="utf-8")
        for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", text, flags=re.S):
            for num in re.findall(r"(?<![\w.])\d[\d_]{4,}(?![\w.])", block):
                values.add(int(num.replace("_", "")))
    return values


def solution_lines(sources: list[Path] | None = None, min_len: int = 25) -> set[str]:
    """Distinctive lines of solution blocks / hidden tests (not occurring elsewhere in the source)."""
    from frlab.notebook_exec import chapter_sources

    lines: set[str] = set()
    for src in sources if sources is not None else chapter_sources():
        text = src.read_text(encoding="utf-8")
        blocks = _solution_blocks(text)
        outside = text
        for b in blocks:
            outside = outside.replace(b, "")
        outside_lines = {_norm(l) for l in outside.splitlines()}
        for b in blocks:
            for line in b.splitlines():
                n = _norm(line)
                if len(n) >= min_len and n not in outside_lines and not n.startswith("#"):
                    lines.add(n)
    return lines


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _number_patterns(value: int) -> list[str]:
    s = str(value)
    grouped = f"{value:,}"
    return sorted({s, grouped, grouped.replace(",", "_"), grouped.replace(",", " "),
                   grouped.replace(",", "\u202f"), grouped.replace(",", "\u00a0"), grouped.replace(",", "&#8239;")})


def page_text(raw: str) -> str:
    """Visible text of an HTML (or other) file: tags stripped, entities decoded, whitespace collapsed."""
    return _norm(html.unescape(re.sub(r"<[^>]+>", "", raw)))


def leak_problems(site: Path = HTML_DIR, sources: list[Path] | None = None) -> list[str]:
    """Everything under ``site`` that publishes solution text or a graded answer (empty: clean)."""
    problems = []
    if not site.is_dir():
        return [f"no built site at {site}"]
    for d in ("solutions", "autograder"):
        if (site / d).exists() or (site / "_sources" / d).exists():
            problems.append(f"{d}/ was built into the site")
    values = answer_values(sources)
    lines = solution_lines(sources)
    number_res = [re.compile(r"(?<![\d.,_])" + re.escape(p) + r"(?![\d_]|[.,]\d)") for v in values for p in _number_patterns(v)]
    for path in sorted(site.rglob("*")):
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES or path.name.endswith(".inv"):
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        text = page_text(raw) if path.suffix in (".html", ".ipynb") else _norm(raw)
        rel = path.relative_to(site).as_posix()
        for m in _MARKERS:
            if m in raw or m in text:
                problems.append(f"{rel}: nbgrader marker {m!r}")
        for rx in number_res:
            hit = rx.search(raw) or rx.search(text)
            if hit:
                problems.append(f"{rel}: graded answer value {hit.group(0)!r}")
        if path.suffix in (".html", ".ipynb", ".txt", ".md"):
            for line in lines:
                if line in text:
                    problems.append(f"{rel}: solution line {line[:60]!r}")
    return problems


def external_leak_check(site: Path = HTML_DIR) -> tuple[bool, list[str]]:
    """Run ``autograder.leaks`` on the site when that module exists: (ran, problems)."""
    try:
        import autograder.leaks as leaks  # owned by the autograder
    except ImportError:
        return False, []
    fn = getattr(leaks, "check_paths", None)
    if not callable(fn):
        return False, []
    return True, [str(p) for p in fn([site])]


# --------------------------------------------------------------------------- execution checks
def execution_failures(build_dir: Path = BUILD_DIR) -> list[str]:
    """Failed executions: error reports written by myst-nb and failed jupyter-cache records."""
    failures = []
    reports = build_dir / "html" / "reports"
    if reports.is_dir():
        for log in sorted(reports.rglob("*.err.log")):
            failures.append(f"execution error report {log.relative_to(build_dir).as_posix()}:\n"
                            + log.read_text(encoding="utf-8", errors="replace")[-3000:])
    cache = build_dir / ".jupyter_cache"
    if cache.is_dir():
        from jupyter_cache import get_cache

        jc = get_cache(str(cache))
        for rec in jc.list_project_records():
            if not Path(rec.uri).exists() or REPO_ROOT.resolve() not in Path(rec.uri).resolve().parents:
                continue  # a page that is no longer generated (or a record copied from another checkout)
            try:
                cached = jc.get_cached_project_nb(rec.uri)
            except Exception:  # unreadable record: treat as not cached
                cached = None
            if cached is None and getattr(rec, "traceback", None):
                # the current content has no successful execution and its last run failed
                failures.append(f"jupyter-cache: {rec.uri} failed:\n{rec.traceback[-3000:]}")
    return failures


def executed_pages(build_dir: Path = BUILD_DIR) -> dict[str, float | None]:
    """{notebook uri: execution seconds} from jupyter-cache (None when not cached yet)."""
    cache = build_dir / ".jupyter_cache"
    out: dict[str, float | None] = {}
    if not cache.is_dir():
        return out
    from jupyter_cache import get_cache

    jc = get_cache(str(cache))
    for rec in jc.list_project_records():
        seconds = None
        try:
            cached = jc.get_cached_project_nb(rec.uri)
            if cached is not None:
                seconds = (cached.data or {}).get("execution_seconds")
        except Exception:  # an outdated record: no cached run
            pass
        out[rec.uri] = seconds
    return out


# --------------------------------------------------------------------------- build
def jupyter_book_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter-book")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyter_book.cli.main"]


ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
WARNING_RE = re.compile(r"(WARNING|ERROR|CRITICAL):|^Warning, treated as error", re.M)


def run_build(verbose: bool = True) -> tuple[int, str]:
    """Run Jupyter Book (warnings as errors); returns (exit status, output)."""
    env = dict(os.environ, FRLAB_PROFILE="smoke", PYTHONWARNINGS="ignore", MPLBACKEND="Agg")
    env.setdefault("FRLAB_MIRROR", str((REPO_ROOT.parent / "shared" / "data").resolve()))
    # the chapters' run outputs (binarised data, checkpoints, logs) stay inside the build folder, so that
    # building the book never clobbers (or reuses) the outputs of `make run` in work/
    env.setdefault("FRLAB_WORK", str(BUILD_DIR / "work"))
    cmd = jupyter_book_cmd() + ["build", str(REPO_ROOT), "--builder", "html", "-W", "--keep-going"]
    BUILD_DIR.mkdir(exist_ok=True)
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    chunks = []
    for line in proc.stdout:
        chunks.append(line)
        if verbose:
            sys.stdout.write(line)
    proc.wait()
    out = "".join(chunks)
    LOG_PATH.write_text(out, encoding="utf-8")
    return proc.returncode, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clean", action="store_true", help="delete _build first (a cold build)")
    ap.add_argument("--no-build", action="store_true", help="only run the checks on an existing build")
    ap.add_argument("--quiet", action="store_true", help="do not echo Jupyter Book's output")
    args = ap.parse_args(argv)

    from frlab import book_pages

    t_start = time.time()
    if args.clean and BUILD_DIR.exists():
        shutil.rmtree(BUILD_DIR)
    cold = not CACHE_DIR.is_dir()
    problems: list[str] = []
    for stem, why in book_pages.HELD_BACK.items():
        print(f"book: chapter {stem} held back: {why}")
    from frlab.notebook_exec import read_source

    for src in book_pages.book_sources():
        problems += [f"{src.name}: {p}" for p in book_pages.book_dependency_problems(read_source(src))]
    if problems:
        print("book: FAILED before building: these chapter pages cannot execute:", file=sys.stderr)
        for p in problems:
            print("  -", p, file=sys.stderr)
        print("  (a `book` cell may only use names bound by earlier `book` cells or imported from frlab)", file=sys.stderr)
        return 1
    for p in book_pages.generate_all():
        print("book: generated", p.relative_to(REPO_ROOT))

    t_build = time.time()
    if not args.no_build:
        shutil.rmtree(HTML_DIR / "reports", ignore_errors=True)  # myst-nb rewrites the reports of failures
        rc, out = run_build(verbose=not args.quiet)
        if rc != 0:
            problems.append(f"jupyter-book exited with status {rc} (see {LOG_PATH.relative_to(REPO_ROOT)})")
        warnings = [ANSI_RE.sub("", l) for l in out.splitlines() if WARNING_RE.search(ANSI_RE.sub("", l))]
        problems += [f"build warning: {w}" for w in warnings]
    build_s = time.time() - t_build

    problems += execution_failures()
    ran, ext = external_leak_check()
    problems += [f"autograder.leaks: {p}" for p in ext]
    problems += [f"leak: {p}" for p in leak_problems()]
    print("book: leak check:", "autograder.leaks + frlab.book_build.leak_problems" if ran
          else "frlab.book_build.leak_problems (autograder.leaks not available)")

    for uri, secs in executed_pages().items():
        rel = os.path.relpath(uri, REPO_ROOT)
        print(f"book: executed {rel}: " + (f"{secs:.1f} s" if secs is not None else "not cached"))
    total = time.time() - t_start
    kind = "cold" if cold else "cached"
    print(f"book: {kind} build: jupyter-book {build_s:.1f} s, total {total:.1f} s -> {HTML_DIR.relative_to(REPO_ROOT)}/index.html")
    if problems:
        print(f"book: FAILED ({len(problems)} problem(s)):", file=sys.stderr)
        for p in problems:
            print("  -", p, file=sys.stderr)
        return 1
    print("book: OK (no warnings, no execution failures, no solution leaks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
