"""Build and check the course book: ``python -m labtools.book.build`` (``make book``).

1. regenerate the chapter pages, the results page and ``_toc.yml`` (:mod:`labtools.book.pages`);
2. ``jupyter-book build . -W --keep-going``: warnings are errors; chapter pages are executed
   through jupyter-cache in the ``smoke`` profile (``FRLAB_PROFILE=smoke`` is forced; run outputs
   go to ``_build/work`` unless ``FRLAB_WORK`` is set), the student notebooks are rendered unexecuted;
3. fail on any execution failure: Jupyter Book itself exits 0 when a notebook fails, so the
   jupyter-cache records and the ``_build/html/reports/*.err.log`` files are checked;
4. the solution-leak check on everything under ``_build/html`` (HTML, ``searchindex.js``,
   ``_sources``, downloadable notebooks): :func:`autograder.leaks.check_site`, which owns every leak rule
   (nbgrader markers, solution and hidden-test lines, graded answer values);
5. print the build time (cold: no jupyter-cache yet; cached: a rebuild).

Exit status 0 only when all of that passes.  Options: ``--clean`` (delete ``_build`` first:
a cold build), ``--no-build`` (only check an existing build).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from autograder import leaks
from labtools import REPO_ROOT, use_dev_mirror
from labtools.book import BUILD_DIR, CACHE_DIR, HTML_DIR, LOG_PATH


# --------------------------------------------------------------------------- execution checks
def execution_failures(build_dir: Path = BUILD_DIR) -> list[str]:
    """Failed executions: error reports written by myst-nb and failed jupyter-cache records."""
    failures = []
    reports = build_dir / "html" / "reports"
    if reports.is_dir():
        for log in sorted(reports.rglob("*.err.log")):
            failures.append(
                f"execution error report {log.relative_to(build_dir).as_posix()}:\n"
                + log.read_text(encoding="utf-8", errors="replace")[-3000:]
            )
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


# The kernels that execute the chapter pages draw with matplotlib's inline backend: each figure a cell leaves open
# is sent once, as a PNG output, when the cell ends (and then closed), so it shows on the page. It needs no display
# (a headless build stays headless); "Agg" would draw the figures and show none of them.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def run_build(verbose: bool = True) -> tuple[int, str]:
    """Run Jupyter Book (warnings as errors); returns (exit status, output)."""
    env = dict(os.environ, FRLAB_PROFILE="smoke", PYTHONWARNINGS="ignore", MPLBACKEND=INLINE_BACKEND)
    use_dev_mirror(env)
    # the Sphinx extension (labtools.book.sphinx) is imported by jupyter-book from this checkout
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
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

    from labtools.book import pages as book_pages

    t_start = time.time()
    if args.clean and BUILD_DIR.exists():
        shutil.rmtree(BUILD_DIR)
    cold = not CACHE_DIR.is_dir()
    problems: list[str] = []
    for stem, why in book_pages.HELD_BACK.items():
        print(f"book: chapter {stem} held back: {why}")
    from autograder.chapters import read_source

    for src in book_pages.book_sources():
        problems += [f"{src.name}: {p}" for p in book_pages.book_dependency_problems(read_source(src, standins=True))]
    if problems:
        print("book: FAILED before building: these chapter pages cannot execute:", file=sys.stderr)
        for p in problems:
            print("  -", p, file=sys.stderr)
        print(
            "  (a `book` cell may only use names bound by earlier `book` cells or imported from frlab)", file=sys.stderr
        )
        return 1
    for p in book_pages.generate_all():
        print("book: generated", p.relative_to(REPO_ROOT))

    t_build = time.time()
    if not args.no_build:
        shutil.rmtree(HTML_DIR / "reports", ignore_errors=True)  # myst-nb rewrites the reports of failures
        rc, out = run_build(verbose=not args.quiet)
        if rc != 0:
            problems.append(f"jupyter-book exited with status {rc} (see {LOG_PATH.relative_to(REPO_ROOT)})")
        warnings = [ANSI_RE.sub("", line) for line in out.splitlines() if WARNING_RE.search(ANSI_RE.sub("", line))]
        problems += [f"build warning: {w}" for w in warnings]
    build_s = time.time() - t_build

    problems += execution_failures()
    leak_problems = leaks.check_site(HTML_DIR)
    problems += [f"leak: {p}" for p in leak_problems]
    print(f"book: leak check (autograder.leaks): {len(leak_problems)} problem(s)")

    for uri, secs in executed_pages().items():
        rel = os.path.relpath(uri, REPO_ROOT)
        print(f"book: executed {rel}: " + (f"{secs:.1f} s" if secs is not None else "not cached"))
    total = time.time() - t_start
    kind = "cold" if cold else "cached"
    print(
        f"book: {kind} build: jupyter-book {build_s:.1f} s, total {total:.1f} s -> {HTML_DIR.relative_to(REPO_ROOT)}/index.html"
    )
    if problems:
        print(f"book: FAILED ({len(problems)} problem(s)):", file=sys.stderr)
        for p in problems:
            print("  -", p, file=sys.stderr)
        return 1
    print("book: OK (no warnings, no execution failures, no solution leaks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
