"""The answer keys: what the grader and the instructor tools compare students' answers with.

Nothing here is installed for students (``frlab`` holds no reference solution and no expected value).

* :data:`ANSWERS` — explicit answer values per chapter, checked by the leak check in addition to every distinctive
  literal (numbers >= 1000) found inside solution blocks and hidden tests. Keys are chapter source stems
  (``solutions/<stem>.py``). Add a value here when an answer is computed rather than written literally in the
  solution (so the automatic extraction cannot see it).
* The reference answers of the exercises whose answers later cells run with: Part 3's ``TrainingArguments``
  (Ex 3.2), Part 4's prompt format, quantisation and LoRA configurations and 4-bit-aware count (Ex 4.1–4.4). The
  book runs its chapters with them (the ``book-standin`` cells, see :mod:`autograder.chapters`); the tests use
  them too.
* The reference solutions of Part 2's Exercises 2.1 (test accuracy at the earliest best valid accuracy) and 2.2
  (one row per run, mean ± std per init, the gap), read from fairseq's TensorBoard logs: used by the stored
  reference producers (``labtools.references``) and the tests. The hidden tests of the chapter carry their own
  copy of the rule (the grading sandbox does not see this package).
"""

from __future__ import annotations

import math
from pathlib import Path

from frlab.fairseq.logs import METRIC, RUN_NAME, RunLogError, run_dirs, validation_curve
from frlab.hf import finetune as hf_finetune
from frlab.lora import qa_data, qlora

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
    for d in run_dirs(log_root):
        m = RUN_NAME.match(d.name)
        best = best_valid_test_accuracy(d, metric)
        rows.append(
            {
                "run": d.name,
                "init": m["init"],
                "seed": int(m["seed"]),
                "best_step": best["step"],
                "valid_accuracy": best["valid_accuracy"],
                "test_accuracy": best["test_accuracy"],
            }
        )
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


# --------------------------------------------------------------------------- Part 3
def training_arguments(run_dir: Path | str, seed: int, hp: dict | None = None, **overrides):
    """The reference ``TrainingArguments`` of the chapter (what Exercise 3.2 asks for).

    Part 2's fairseq settings: batch, epochs, lr, warm-up fraction then linear decay, weight decay,
    Adam (0.9, 0.98, 1e-8), no gradient clipping (``--clip-norm 0``); evaluation and saving every
    ``eval_steps`` updates (else every epoch), a checkpoint saved only when the valid accuracy improves
    (``save_strategy="best"``) and reloaded at the end;
    TensorBoard logging (transformers 5 has no ``logging_dir`` argument: set ``TENSORBOARD_LOGGING_DIR``).
    """
    from transformers import TrainingArguments

    hp = hp or hf_finetune.hyperparameters()
    strategy = "steps" if hp["eval_steps"] else "epoch"
    kw = dict(
        output_dir=str(run_dir),
        per_device_train_batch_size=hp["batch_size"],
        per_device_eval_batch_size=hp["eval_batch_size"],
        num_train_epochs=hp["epochs"],
        learning_rate=hp["lr"],
        warmup_steps=hp["warmup_ratio"],
        lr_scheduler_type="linear",
        weight_decay=hp["weight_decay"],
        adam_beta1=hp["adam_beta1"],
        adam_beta2=hp["adam_beta2"],
        adam_epsilon=hp["adam_eps"],
        max_grad_norm=0.0,
        eval_strategy=strategy,
        eval_steps=hp["eval_steps"],
        save_strategy="best",
        save_total_limit=1,
        save_only_model=True,
        load_best_model_at_end=True,
        metric_for_best_model=hf_finetune.METRIC,
        greater_is_better=True,
        logging_steps=hp["logging_steps"],
        report_to=["tensorboard"],
        seed=seed,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    kw.update(overrides)
    return TrainingArguments(**kw)


# --------------------------------------------------------------------------- Part 4
def format_prompt(question: str, answer: str | None = None) -> str:
    """``<human>: question\\n<assistant>: answer``; without ``answer``: the generation prompt
    ``<human>: question\\n<assistant>:`` (the model writes the rest)."""
    text = f"{qa_data.HUMAN_TAG} {question.strip()}\n{qa_data.ASSISTANT_TAG}"
    if answer is not None:
        text += f" {answer.strip()}"
    return text


def bnb_config(compute_dtype=None):
    """The course's 4-bit setting: NF4 weights, double quantisation, ``compute_dtype`` matmuls."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype if compute_dtype is not None else qlora.choose_compute_dtype(),
    )


def lora_config(r: int = 16, lora_alpha: int = 32, target_modules=None, lora_dropout: float = 0.05):
    from peft import LoraConfig

    return LoraConfig(
        r=r,
        lora_alpha=lora_alpha,
        target_modules=list(target_modules or ["query_key_value"]),
        lora_dropout=lora_dropout,
        bias="none",
        task_type="CAUSAL_LM",
    )


def true_numel(param) -> int:
    """Number of weights ``param`` stands for.

    A bitsandbytes ``Params4bit`` stores two 4-bit codes per ``uint8`` byte, flattened to
    shape ``(n/2, 1)``: its ``numel()`` is half the number of weights.  The original shape
    is kept in ``param.quant_state.shape``.
    """
    qs = getattr(param, "quant_state", None)
    if qs is not None and getattr(qs, "shape", None) is not None:
        return math.prod(qs.shape)
    if param.__class__.__name__ == "Params4bit" and param.dtype in _packed_dtypes():
        return param.numel() * 2 * param.element_size()
    return param.numel()


def _packed_dtypes():
    import torch

    return (torch.uint8, torch.int8)


def count_parameters(model) -> tuple[int, int]:
    """``(trainable, total)`` weights, correct for 4-bit models (tied weights counted once)."""
    trainable = total = 0
    for p in model.parameters():
        n = true_numel(p)
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total
