"""The Jupyter Book: chapter pages generated from ``solutions/``, the results page, the Sphinx extension and
the build (``python -m labtools.book.build``)."""

from labtools import REPO_ROOT

#: where the book's sources and build live (one place for build, pages and the results page)
BOOK_DIR, NOTEBOOKS_DIR, BUILD_DIR = REPO_ROOT / "book", REPO_ROOT / "notebooks", REPO_ROOT / "_build"
CHAPTERS_DIR, RESULTS_PAGE, TOC_PATH = BOOK_DIR / "chapters", BOOK_DIR / "results.md", REPO_ROOT / "_toc.yml"
HTML_DIR, CACHE_DIR, LOG_PATH = BUILD_DIR / "html", BUILD_DIR / ".jupyter_cache", BUILD_DIR / "book_build.log"
