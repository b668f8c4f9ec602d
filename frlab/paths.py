"""Where things live: the repository, the asset cache, run outputs, stored results."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


def cache_dir() -> Path:
    """Downloaded/extracted assets. ``FRLAB_CACHE`` overrides ``~/.cache/frlab``."""
    return Path(os.environ.get("FRLAB_CACHE", Path.home() / ".cache" / "frlab")).expanduser()


def work_dir() -> Path:
    """Run outputs (checkpoints, binarised data, logs). ``FRLAB_WORK`` overrides ``<repo>/work``.

    On Colab, where the repository is not cloned, this is ``./frlab-work``.
    """
    env = os.environ.get("FRLAB_WORK")
    if env:
        return Path(env).expanduser()
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT / "work"
    return Path.cwd() / "frlab-work"


def results_dir() -> Path:
    """Stored reference results that the book renders (committed, small)."""
    return REPO_ROOT / "results"


def fairseq_user_dir() -> Path:
    """Directory to pass as ``--user-dir`` to fairseq command-line tools."""
    return PACKAGE_DIR / "fairseq" / "frlab_plugin"


@contextmanager
def replaced_atomically(target: Path | str, prefix: str | None = None) -> Iterator[Path]:
    """Yield a new empty folder beside ``target`` to fill; when the ``with`` block ends without an error, it
    replaces ``target`` (any old one is removed), else it is removed and ``target`` stays as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix or f".{target.name}-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
