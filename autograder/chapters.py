"""The chapters of the lab: the one place that lists them and reads their sources.

A chapter is ``solutions/partN_<slug>.py`` (jupytext percent format, nbgrader metadata in the cell headers).
Everything that loops over chapters — notebook generation, the leak check, the book, the main job — asks here.
"""

from __future__ import annotations

from pathlib import Path

from autograder import REPO_ROOT

SOLUTIONS_DIR = REPO_ROOT / "solutions"
PATTERN = "part*.py"


def chapter_sources() -> list[Path]:
    """The chapter sources, in order: ``solutions/part*.py``."""
    return sorted(SOLUTIONS_DIR.glob(PATTERN))


def chapter_number(path: Path | str) -> int:
    """``solutions/part3_hf_finetuning.py`` → 3."""
    return int(Path(path).stem.split("_")[0].removeprefix("part"))


def read_source(path: Path | str):
    """A chapter source as an nbformat notebook (cell metadata, nbgrader included, preserved)."""
    import jupytext

    nb = jupytext.read(str(path), fmt="py:percent")
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    nb.metadata.pop("jupytext", None)
    return nb
