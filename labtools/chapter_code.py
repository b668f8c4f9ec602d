"""Code taken from the chapters, so that a rule the chapter teaches exists once.

The stored reference producers and benchmarks need the exact ``fairseq-train`` command of Part 2. Its one source
is the chapter's ``fairseq_train_command`` (what students read and run), lifted out of the chapter source by
:func:`autograder.chapters.chapter_definitions` with the chapter globals it reads.
"""

from __future__ import annotations

from pathlib import Path

from autograder.chapters import chapter_definitions

PART2 = "part2_fairseq_finetuning"


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
    build = chapter_definitions(
        PART2,
        "fairseq_train_command",
        BIN=Path(data_bin),
        HP=hp,
        ARCH=arch,
        N_UPDATES=updates,
        WARMUP=round(hp["warmup_ratio"] * updates),
        PROFILE=profiles.resolve(profile),
        MODEL_DIR=Path(ff.RANDOM_INIT_RESTORE if random_init else restore_file).parent,
    )["fairseq_train_command"]
    return build("random" if random_init else "pretrained", seed, Path(run_dir))
