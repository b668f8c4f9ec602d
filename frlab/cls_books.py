"""CLS-Books, the task of Parts 2 and 3: its label files and the course's fine-tuning hyper-parameters, which
both frameworks (fairseq in Part 2, the Hugging Face Trainer in Part 3) use."""

from __future__ import annotations

import math
from pathlib import Path

from frlab import profiles
from frlab.runs import SEEDS


class LabelError(ValueError):
    """A label file is malformed; the message names the file and the line."""


def count_lines(path: Path | str) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in f)


def validate_labels(
    label_path: Path | str, review_path: Path | str | None = None, allowed: tuple[str, ...] = ("0", "1")
) -> list[int]:
    """Read a label file: one of ``allowed`` per line; as many lines as ``review_path``.

    Raises :class:`LabelError` naming the file and the 1-based line number of the first problem.
    """
    label_path = Path(label_path)
    labels = []
    with open(label_path, encoding="utf-8") as f:
        for i, line in enumerate(f, start=1):
            value = line.strip()
            if value not in allowed:
                raise LabelError(f"{label_path}, line {i}: label {value!r} is not one of {', '.join(allowed)}")
            labels.append(int(value))
    if review_path is not None:
        n_rev = count_lines(review_path)
        if n_rev != len(labels):
            first = min(n_rev, len(labels)) + 1
            which = "review without a label" if n_rev > len(labels) else "label without a review"
            raise LabelError(
                f"{label_path} has {len(labels)} lines but {review_path} has {n_rev}: line {first} is the first {which}"
            )
    return labels


def hyperparameters(profile: profiles.Profile | str | None = None) -> dict:
    """Fine-tuning hyper-parameters of a profile.

    ``cpu`` and ``full`` use the course's: batch 8, 5 epochs, Adam (0.9, 0.98), lr 1e-5,
    6 % warm-up, polynomial decay (power 1), weight decay 0.01, 256 positions (truncate), on the
    whole CLS-Books split (train 1600 / valid 400 / test 2000).  ``cpu`` additionally cuts reviews to
    126 pieces (+ ``<s>``/``</s>`` = 128 positions): its base model was pretrained on 128-token blocks, so
    positions 128-255 of its position table are untrained (and it halves the CPU time).  ``smoke`` trains the toy base
    model on a slice for a few dozen updates, with a larger learning rate so something moves.
    """
    p = profiles.resolve(profile)
    hp = dict(
        batch_size=8,
        max_epoch=p.pick(full=5, cpu=5, smoke=2),
        lr=p.pick(full=1e-5, cpu=1e-5, smoke=1e-4),
        warmup_ratio=0.06,
        weight_decay=0.01,
        adam_betas="(0.9,0.98)",
        adam_eps=1e-8,
        max_positions=256,
        limit=p.pick(full=None, cpu=None, smoke={"train": 96, "valid": 64, "test": 96}),
        max_pieces=p.pick(full=None, cpu=126, smoke=126),  # cpu/smoke base models saw 128-token blocks
        validate_interval_updates=p.pick(full=0, cpu=100, smoke=6),
        log_interval=p.pick(full=20, cpu=25, smoke=4),
        seeds=list(SEEDS[: p.seeds] if p.seeds else SEEDS),  # FRLAB_SEEDS: the first N only
        threads=p.pick(full=None, cpu=1, smoke=1),  # 1 thread: faster for batch 8 on a shared CPU
    )
    return hp


def total_updates(n_train: int, batch_size: int, max_epoch: int) -> int:
    return math.ceil(n_train / batch_size) * max_epoch
