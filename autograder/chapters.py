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

import ast
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


def chapter_definitions(stem: str, *names: str, **chapter_globals) -> dict:
    """Lift top-level definitions out of ``solutions/<stem>.py`` (like d2l's ``#@save``): each of ``names`` is a
    function defined or a name assigned at the top level of a code cell. They are executed, in chapter order, with
    the chapter's top-level imports and ``chapter_globals`` (the chapter variables they read); returns
    ``{name: value}``. Solution blocks are ordinary code here: this is how the answer keys and the reference
    producers use *the* chapter, not a copy of it."""
    nb = read_source(SOLUTIONS_DIR / f"{stem}.py")
    namespace: dict = {"__name__": f"chapter_{stem}"}
    found: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.source.lstrip().startswith(("%", "!")):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(imports, []), f"<{stem} imports>", "exec"), namespace)
        for node in tree.body:
            bound = (
                {node.name}
                if isinstance(node, ast.FunctionDef)
                else {t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)}
            )
            for name in bound & set(names):
                found[name] = ast.get_source_segment(cell.source, node)
    missing = [n for n in names if n not in found]
    if missing:
        raise LookupError(f"solutions/{stem}.py defines no top-level {', '.join(missing)}")
    namespace.update(chapter_globals)
    for name in names:
        exec(compile(found[name], f"<{stem}:{name}>", "exec"), namespace)
    return {name: namespace[name] for name in names}
