"""The answer keys: what the grader and the instructor tools compare students' answers with.

Nothing here is installed for students (``frlab`` holds no reference solution and no expected value).

* :data:`ANSWERS` — explicit answer values per chapter, checked by the leak check in addition to every distinctive
  literal (numbers >= 1000) found inside solution blocks. Keys are chapter source stems
  (``solutions/<stem>.py``). Add a value here when an answer is computed rather than written literally in the
  solution (so the automatic extraction cannot see it).
* The reference answers of the exercises whose answers later cells run with: Part 3's ``TrainingArguments``
  (Ex 3.2), Part 4's prompt format, quantisation and LoRA configurations and 4-bit-aware count (Ex 4.1–4.4). The
  book runs its chapters with them (the ``book-standin`` cells, see :mod:`autograder.chapters`); the tests use
  them too.
* Part 2's commands (Ex 2.1-2.4: the encoding loop, the ``fairseq-preprocess`` and ``fairseq-train`` argument
  lists, the random-init run), lifted from the chapter; the book, the checker, ``labtools.chapter_code`` and the
  tests use them.
* The reference solutions of Part 2's Exercises 2.5 (test accuracy at the earliest best valid accuracy) and 2.6
  (one row per run, mean ± std per init, the gap), read from fairseq's TensorBoard logs: used by the stored
  reference producers (``labtools.references``), the checker (:mod:`autograder.checks`) and the tests.
"""

from __future__ import annotations

from pathlib import Path

from autograder.chapters import chapter_definitions
from frlab.fairseq.logs import METRIC, RunLogError, runs_of, validation_curve
from frlab.hf import finetune as hf_finetune
from frlab.lora import qlora

ACCURACIES = ("valid_accuracy", "test_accuracy")
ANSWERS: dict[str, list[int | str]] = {
    "part1_parameter_counting": [22807552, 22829056, 22829568],  # weights only, + biases/LayerNorm, + LM head
    "part4_qlora": [1572864],
}


def best_valid_test_accuracy(run_dir: Path | str, metric: str = METRIC) -> dict:
    """The test accuracy at the step of the best valid accuracy of one run.

    Returns ``{"step", "valid_accuracy", "test_accuracy"}`` (accuracies in %).  Ties on the valid
    accuracy go to the **earliest** step (what ``--best-checkpoint-metric accuracy`` keeps: a later
    equal score does not replace the best checkpoint).  Only steps where both subsets were
    evaluated count.
    """
    curve = validation_curve(run_dir, metric).dropna()
    if curve.empty:
        raise RunLogError(f"{run_dir}: no step with both valid and test {metric}")
    v = curve[f"valid_{metric}"]
    step = int(v[v == v.max()].index.min())
    return {
        "step": step,
        "valid_accuracy": float(v.loc[step]),
        "test_accuracy": float(curve.loc[step, f"test_{metric}"]),
    }


def summarize_runs(log_root: Path | str, metric: str = METRIC):
    """One row per run of ``log_root``: ``run, init, seed, best_step, valid_accuracy, test_accuracy``.

    Runs are the sub-folders named ``<init>_seed<k>``, each holding fairseq's TensorBoard logs
    (``tb/valid``, ``tb/test``; a run folder that directly holds ``valid/`` and ``test/`` works
    too).  ``test_accuracy`` is read at the best valid accuracy (:func:`best_valid_test_accuracy`).
    """
    import pandas as pd

    rows = []
    for d, init, seed in runs_of(log_root):
        best = best_valid_test_accuracy(d, metric)
        rows.append(dict(run=d.name, init=init, seed=seed, best_step=best["step"], **{k: best[k] for k in ACCURACIES}))
    if not rows:
        raise RunLogError(f"no run folders <init>_seed<k> with logs in {log_root}")
    return pd.DataFrame(rows).sort_values(["init", "seed"], ignore_index=True)


def results_table(summary, column: str = "test_accuracy"):
    """Mean, std (sample std, ddof=1) and number of runs of ``column`` per init (index: init)."""
    g = summary.groupby("init")[column]
    table = g.agg(["mean", "std", "count"]).rename(columns={"count": "runs"})
    table["std"] = table["std"].fillna(0.0)
    return table


def gap(summary, column: str = "test_accuracy", better: str = "pretrained", worse: str = "random") -> float:
    """Mean ``column`` of the ``better`` runs minus that of the ``worse`` runs (accuracy points)."""
    t = results_table(summary, column)
    return float(t.loc[better, "mean"] - t.loc[worse, "mean"])


def format_table(summary, column: str = "test_accuracy") -> str:
    """Markdown table ``init | mean ± std | runs`` plus the gap line."""
    t = results_table(summary, column)
    lines = ["| init | test accuracy at best valid (%) | runs |", "|---|---|---|"]
    for init, row in t.iterrows():
        lines.append(f"| {init} | {row['mean']:.1f} ± {row['std']:.1f} | {int(row['runs'])} |")
    if {"pretrained", "random"} <= set(t.index):
        lines.append(f"\n**gap (pretrained − random): {gap(summary, column):+.1f} points**")
    return "\n".join(lines)


# --------------------------------------------------------------------------- Part 2's commands
# Exercises 2.1-2.4 (the encoding loop, the fairseq-preprocess and fairseq-train argument lists, the random-init
# run): the chapter's own solution cells, lifted out of solutions/ like Parts 3 and 4 below.
PART2 = "part2_fairseq_finetuning"
PART2_COMMANDS = ("encode_reviews", "preprocess_args", "train_args", "random_init_args")


def part2_definitions(hp: dict | None = None, profile=None) -> dict:
    """The chapter's Exercises 2.1-2.4 for the hyper-parameters ``hp`` (default: the profile's) and ``profile``."""
    from frlab import profiles
    from frlab.fairseq import finetune as ff

    prof = profiles.resolve(profile)
    return chapter_definitions(PART2, *PART2_COMMANDS, HP=hp or ff.hyperparameters(prof), PROFILE=prof)


def encode_reviews(sp, reviews: list[str], max_pieces: int | None = None) -> list[str]:
    """Exercise 2.1: one line of space-separated sentencepiece pieces per review, at most ``max_pieces`` each."""
    return chapter_definitions(PART2, "encode_reviews")["encode_reviews"](sp, reviews, max_pieces)


def preprocess_args(text_dir: Path | str, data_bin: Path | str, dict_txt: Path | str) -> dict[str, list[str]]:
    """Exercise 2.2: ``{"input0": [...], "label": [...]}``, the two ``fairseq-preprocess`` argument lists."""
    fn = chapter_definitions(PART2, "preprocess_args")["preprocess_args"]
    return fn(Path(text_dir), Path(data_bin), Path(dict_txt))


def part2_train_args(hp: dict | None = None, profile=None):
    """Exercise 2.3: the chapter's ``train_args(data_bin, restore_file, run_dir, seed, n_train, arch)``."""
    return part2_definitions(hp, profile)["train_args"]


def part2_random_init_args(hp: dict | None = None, profile=None):
    """Exercise 2.4: the chapter's ``random_init_args(data_bin, run_dir, seed, n_train, arch)``."""
    return part2_definitions(hp, profile)["random_init_args"]


# --------------------------------------------------------------------------- Parts 3 and 4
# The reference answers are the chapters' own solution cells, lifted out of solutions/ (one source per chapter).
PART3, PART4 = "part3_hf_finetuning", "part4_qlora"


def training_arguments(run_dir: Path | str, seed: int, hp: dict | None = None):
    """Exercise 3.2: the chapter's ``make_training_args(run_dir, seed)`` for the hyper-parameters ``hp``."""
    hp = hp or hf_finetune.hyperparameters()
    return chapter_definitions(PART3, "make_training_args", HP=hp)["make_training_args"](run_dir, seed)


def format_prompt(question: str, answer: str | None = None) -> str:
    """Exercise 4.1: ``<human>: question\n<assistant>: answer`` (the generation prompt without ``answer``)."""
    return chapter_definitions(PART4, "format_prompt")["format_prompt"](question, answer)


def bnb_config(compute_dtype=None):
    """Exercise 4.2: 4-bit NF4 with double quantisation, computing in ``compute_dtype`` (default: the device's)."""
    dtype = compute_dtype if compute_dtype is not None else qlora.choose_compute_dtype()
    return chapter_definitions(PART4, "bnb_config", compute_dtype=dtype)["bnb_config"]


def lora_config(**changes):
    """Exercise 4.3: the chapter's ``LoraConfig`` (r 16, alpha 32, ``query_key_value``, dropout 0.05, causal LM);
    ``changes`` replace fields (the tests build wrong configurations from it)."""
    import dataclasses

    return dataclasses.replace(chapter_definitions(PART4, "lora_config")["lora_config"], **changes)


def count_parameters(model) -> tuple[int, int]:
    """Exercise 4.4: ``(trainable, total)``, 4-bit weights counted with their original shape."""
    return chapter_definitions(PART4, "count_parameters")["count_parameters"](model)
