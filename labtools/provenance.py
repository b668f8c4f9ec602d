"""Where a stored record comes from: the commit of this checkout and its uncommitted changes.

Every record under ``results/`` (benchmarks, rehearsals, GPU checks) names the code that made it through these
two functions; outside a git checkout (an unpacked release) they return ``""`` and ``[]``.
"""

from __future__ import annotations

import subprocess

from frlab.paths import REPO_ROOT


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout if out.returncode == 0 else ""


def commit(short: bool = True) -> str:
    """The checked-out commit (abbreviated unless ``short=False``), ``""`` outside a git checkout."""
    return _git("rev-parse", *(["--short"] if short else []), "HEAD").strip()


def changed_files() -> list[str]:
    """Tracked files with uncommitted changes (a record made from them is not exactly ``commit()``'s code)."""
    return [line[3:] for line in _git("status", "--porcelain", "-uno").splitlines() if line.strip()]
