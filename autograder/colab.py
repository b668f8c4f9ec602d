"""Colab support for the generated student notebooks: the "Open in Colab" badge and the install cell.

The install cell is generated from ``requirements/pins.txt`` and ``requirements/fairseq.txt`` (the one
place where versions are set), minus what Colab already has (torch) and what only the build, the book
or the grader need. It runs only on Colab and never while nbgrader grades (``NBGRADER_EXECUTION``).
"""

from __future__ import annotations

import re
from pathlib import Path

from autograder import REPO_ROOT
from frlab import publishing

DEFAULT_REPOSITORY = publishing.REPOSITORY_URL  # set in one place: frlab/publishing.py
DEFAULT_BRANCH = publishing.DEFAULT_BRANCH

#: never installed by the Colab cell: Colab's own torch, and build/book/grading-only tools
SKIP = {
    "torch",
    "torchaudio",
    "cython",
    "nbgrader",
    "copydetect",
    "distributed",
    "sqlalchemy",
    "jupyter-book",
    "nbclient",
    "nbformat",
    "ipykernel",
    "jupytext",
    "pytest",
    "ruff",
}


def repository(config_path: Path | str | None = None) -> tuple[str, str]:
    """``(url, branch)`` of the public repository: ``_config.yml``'s ``repository.url``/``repository.branch``
    when present, else :data:`DEFAULT_REPOSITORY` / :data:`DEFAULT_BRANCH`. The one place that decides it."""
    path = Path(config_path) if config_path else REPO_ROOT / "_config.yml"
    url, branch = DEFAULT_REPOSITORY, DEFAULT_BRANCH
    if path.exists():
        try:
            import yaml

            repo = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("repository") or {}
        except Exception:  # an unreadable _config.yml must not break notebook generation
            repo = {}
        url = str(repo.get("url") or url).rstrip("/")
        branch = str(repo.get("branch") or branch)
    if url.endswith(".git"):
        url = url[:-4]
    return url, branch


def _github_slug(url: str) -> str:
    m = re.match(r"https?://github\.com/([^/]+/[^/]+)", url)
    if not m:
        raise ValueError(f"not a GitHub repository URL: {url!r}")
    return m.group(1)


def colab_url(notebook_relpath: str, config_path: Path | str | None = None) -> str:
    """Colab link that opens ``notebook_relpath`` (e.g. ``notebooks/part1_x.ipynb``) from the repository."""
    url, branch = repository(config_path)
    return f"https://colab.research.google.com/github/{_github_slug(url)}/blob/{branch}/{notebook_relpath}"


def badge_markdown(notebook_relpath: str, config_path: Path | str | None = None) -> str:
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_url(notebook_relpath, config_path)})"
    )


def _requirement_lines(path: Path) -> list[str]:
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.append(line)
    return out


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;@]", req, maxsplit=1)[0].strip().lower().replace("_", "-")


def colab_requirements(requirements_dir: Path | str | None = None) -> tuple[list[str], list[str]]:
    """``(packages, no_deps_packages)`` for the Colab cell, from pins.txt and fairseq.txt."""
    rdir = Path(requirements_dir) if requirements_dir else REPO_ROOT / "requirements"
    pins = [r for r in _requirement_lines(rdir / "pins.txt") if _name(r) not in SKIP]
    no_deps = [r for r in _requirement_lines(rdir / "fairseq.txt") if _name(r) not in SKIP]
    return pins, no_deps


def install_cell_source(requirements_dir: Path | str | None = None, config_path: Path | str | None = None) -> str:
    """Python source of the Colab install cell (a no-op outside Colab and under nbgrader)."""
    pins, no_deps = colab_requirements(requirements_dir)
    url, branch = repository(config_path)
    frlab_req = f"frlab @ git+{url}@{branch}"

    def fmt(reqs):
        return "[\n" + "".join(f"        {r!r},\n" for r in reqs) + "    ]"

    return (
        "# Colab set-up: installs the lab's pinned stack (generated from requirements/ by autograder.colab).\n"
        "# It does nothing outside Colab (local set-up: `make setup`) and while the notebook is graded.\n"
        "import os, subprocess, sys\n"
        "\n"
        "IN_COLAB = 'google.colab' in sys.modules or 'COLAB_RELEASE_TAG' in os.environ\n"
        "if IN_COLAB and not os.environ.get('NBGRADER_EXECUTION'):\n"
        "    pip = [sys.executable, '-m', 'pip', 'install', '-q']\n"
        f"    subprocess.run(pip + {fmt(pins)}, check=True)\n"
        f"    subprocess.run(pip + ['--no-deps'] + {fmt(no_deps)}, check=True)\n"
        f"    subprocess.run(pip + ['--no-deps', {frlab_req!r}], check=True)\n"
    )
