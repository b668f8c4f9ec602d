"""Code taken from the chapters, so that a rule the chapter teaches exists once.

The stored reference producers and benchmarks need the exact ``fairseq-preprocess`` and ``fairseq-train`` commands
of Part 2. Their one source is the chapter's solution of Exercises 2.2-2.4 (``preprocess_args``, ``train_args``,
``random_init_args``: what the chapter runs), lifted out of the chapter source by
:func:`autograder.chapters.chapter_definitions` (through :mod:`autograder.answer_keys`).
"""

from __future__ import annotations

from pathlib import Path

from autograder import answer_keys


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
    """Part 2's ``fairseq-train`` command, built by the chapter's own ``train_args`` / ``random_init_args``.

    ``restore_file`` is the pretrained ``model.pt``, or ``ff.RANDOM_INIT_RESTORE`` for a random initialisation.
    """
    from frlab.fairseq import finetune as ff
    from frlab.runs import tool_path

    build = answer_keys.part2_definitions(hp, profile)
    if str(restore_file) == ff.RANDOM_INIT_RESTORE:
        args = build["random_init_args"](Path(data_bin), Path(run_dir), seed, n_train, arch)
    else:
        args = build["train_args"](Path(data_bin), Path(restore_file), Path(run_dir), seed, n_train, arch)
    return [tool_path("fairseq-train"), *args]


def part2_preprocess_commands(dict_txt: Path | str, text_dir: Path | str, data_bin: Path | str) -> list[list[str]]:
    """Part 2's two ``fairseq-preprocess`` commands (the reviews with the model's dictionary; the labels), built by
    the chapter's own ``preprocess_args``."""
    from frlab.runs import tool_path

    return [
        [tool_path("fairseq-preprocess"), *args]
        for args in answer_keys.preprocess_args(text_dir, data_bin, dict_txt).values()
    ]
