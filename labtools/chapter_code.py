"""Code taken from the chapters, so that a rule the chapter teaches exists once.

The stored reference producers and benchmarks need the exact ``fairseq-train`` command of Part 2. Its one source
is the chapter's ``fairseq_train_command`` (what students read and run); :func:`chapter_function` lifts a
function out of a chapter source (like d2l's ``#@save``) and binds the chapter globals it reads.
"""

from __future__ import annotations

import ast
from pathlib import Path

from autograder.chapters import SOLUTIONS_DIR, read_source

PART2 = "part2_fairseq_finetuning"


def _module_imports(tree: ast.Module) -> list[ast.stmt]:
    return [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]


def chapter_function(stem: str, name: str, **chapter_globals):
    """The function ``name`` defined at the top level of a code cell of ``solutions/<stem>.py``, executed with the
    chapter's top-level imports and ``chapter_globals`` (the chapter variables it reads)."""
    nb = read_source(SOLUTIONS_DIR / f"{stem}.py")
    namespace: dict = {"__name__": f"chapter_{stem}"}
    found = None
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.source.lstrip().startswith(("%", "!")):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        exec(compile(ast.Module(_module_imports(tree), []), f"<{stem} imports>", "exec"), namespace)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                found = ast.get_source_segment(cell.source, node)
    if found is None:
        raise LookupError(f"solutions/{stem}.py defines no top-level function {name!r}")
    namespace.update(chapter_globals)
    exec(compile(found, f"<{stem}:{name}>", "exec"), namespace)
    return namespace[name]


def part2_train_command(
    data_bin: Path | str,
    run_dir: Path | str,
    restore_file: Path | str,
    seed: int,
    hp: dict,
    arch: dict,
    n_train: int,
    profile=None,
) -> list[str]:
    """Part 2's ``fairseq-train`` command, built by the chapter's own ``fairseq_train_command``.

    ``restore_file`` is the pretrained ``model.pt``, or ``ff.RANDOM_INIT_RESTORE`` for a random initialisation.
    """
    from frlab import profiles
    from frlab.fairseq import finetune as ff

    updates = ff.total_updates(n_train, hp["batch_size"], hp["max_epoch"])
    random_init = str(restore_file) == ff.RANDOM_INIT_RESTORE
    build = chapter_function(
        PART2,
        "fairseq_train_command",
        BIN=Path(data_bin),
        HP=hp,
        ARCH=arch,
        N_UPDATES=updates,
        WARMUP=round(hp["warmup_ratio"] * updates),
        PROFILE=profiles.resolve(profile),
        MODEL_DIR=Path(ff.RANDOM_INIT_RESTORE if random_init else restore_file).parent,
    )
    return build("random" if random_init else "pretrained", seed, Path(run_dir))
