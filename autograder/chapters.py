"""The chapters of the lab: the one place that lists them and reads their sources.

A chapter is ``solutions/partN_<slug>.py`` (jupytext percent format, nbgrader metadata in the cell headers).
Everything that loops over chapters — notebook generation, the leak check, the book, the main job — asks here.

**Book stand-ins.** The chapter's later cells run with the student's own answers (``bnb_config``,
``make_training_args`` …). The book page leaves the solution cells out, so it needs those names from elsewhere: a
code cell tagged ``book-standin``, placed right after the exercise, binds them to the reference answers of
:mod:`autograder.answer_keys`. Stand-ins exist only in the book: :func:`read_source` drops them unless asked, so
the student notebooks, the grader and the main job never see them.
"""

from __future__ import annotations

from pathlib import Path

from autograder import REPO_ROOT

SOLUTIONS_DIR = REPO_ROOT / "solutions"
PATTERN = "part*.py"
STANDIN_TAG = "book-standin"


def is_standin(cell) -> bool:
    return cell.get("cell_type") == "code" and STANDIN_TAG in (cell.get("metadata", {}).get("tags") or [])


def chapter_sources() -> list[Path]:
    """The chapter sources, in order: ``solutions/part*.py``."""
    return sorted(SOLUTIONS_DIR.glob(PATTERN))


def chapter_number(path: Path | str) -> int:
    """``solutions/part3_hf_finetuning.py`` → 3."""
    return int(Path(path).stem.split("_")[0].removeprefix("part"))


def read_source(path: Path | str, *, standins: bool = False):
    """A chapter source as an nbformat notebook (cell metadata, nbgrader included, preserved); the book's
    stand-in cells only with ``standins=True``."""
    import jupytext

    nb = jupytext.read(str(path), fmt="py:percent")
    if not standins:
        nb.cells = [c for c in nb.cells if not is_standin(c)]
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    nb.metadata.pop("jupytext", None)
    return nb
