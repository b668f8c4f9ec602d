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

#: never installed by the Colab cell: Colab's own torch, and book/grading-only tools (cython stays: fairseq
#: builds with it)
SKIP = {
    "torch",
    "torchaudio",
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


def _spec(req: str) -> str:
    """``'==5.23.0'`` of ``'transformers==5.23.0'``; ``''`` for an unpinned name."""
    return req[len(re.split(r"[<>=!~\[ ;@]", req, maxsplit=1)[0]) :].strip()


def colab_requirements(requirements_dir: Path | str | None = None) -> tuple[dict, dict]:
    """``(needs, build)`` for the Colab cell: ``needs`` maps each pins.txt package Colab needs to ``(range kept
    when the runtime has it, pin installed otherwise)`` (ranges from colab.txt; a pinned package not listed
    there is kept only at its pin), ``build`` maps fairseq.txt's packages to their pins."""
    rdir = Path(requirements_dir) if requirements_dir else REPO_ROOT / "requirements"
    accept = {_name(r): _spec(r) for r in _requirement_lines(rdir / "colab.txt")}
    needs = {}
    for req in _requirement_lines(rdir / "pins.txt"):
        name = _name(req)
        if name not in SKIP:
            needs[name] = (accept.get(name, _spec(req)), _spec(req))
    unknown = sorted(set(accept) - set(needs))
    if unknown:
        raise ValueError(f"requirements/colab.txt names packages the Colab cell does not install: {unknown}")
    build = {_name(r): _spec(r) for r in _requirement_lines(rdir / "fairseq.txt") if _name(r) not in SKIP}
    return needs, build


CELL_BODY = Path(__file__).with_name("colab_cell.py")  # the cell's code below its constants


def install_cell_source(requirements_dir: Path | str | None = None, config_path: Path | str | None = None) -> str:
    """Python source of the Colab install cell: the constants generated from ``requirements/`` and the repository
    URL, then the body of :data:`CELL_BODY` (a no-op outside Colab and under nbgrader)."""
    needs, build = colab_requirements(requirements_dir)
    url, branch = repository(config_path)
    body = CELL_BODY.read_text(encoding="utf-8").split("# cell body\n", 1)[1]
    width = max(len(repr(n)) for n in needs)
    lines = [
        "# Colab set-up: installs what this runtime lacks (generated from requirements/ by autograder.colab).",
        "# It does nothing outside Colab (local set-up: `make setup`) and while the notebook is graded.",
        "NEEDS = {  # package: (range kept when the runtime has it, pin installed otherwise)",
        *(f"    {n!r}:{' ' * (width - len(repr(n)))} {v!r}," for n, v in needs.items()),
        "}",
        f"BUILD = {build!r}  # built against the runtime's torch, no dependencies",
        f"FRLAB = {f'frlab @ git+{url}@{branch}'!r}",
    ]
    return "\n".join(lines) + "\n" + body
