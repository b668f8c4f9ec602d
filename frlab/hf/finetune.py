"""Part 3 plumbing: CLS-Books for the Hugging Face ``Trainer``, per-profile settings, run records.

The chapter (``solutions/part3_hf_finetuning.py``) writes the ``TrainingArguments`` (Exercise 3.2: the runs use
the student's own) and the ``Trainer`` itself -- they are the teaching material.  This module holds the rest:

* :func:`write_jsonl` / :func:`load_cls_books` -- CLS-Books as JSON lines (``{"sentence1": ...,
  "label": ...}``, the course's layout) and as a ``datasets.DatasetDict``;
* :func:`tokenize` -- tokenisation with truncation at the model's 256 positions (dynamic padding
  is left to ``DataCollatorWithPadding``);
* :func:`compute_metrics` -- accuracy in % (the unit fairseq logs), for the Trainer;
* :func:`hyperparameters` -- the **same** hyper-parameters as Part 2 (read from
  :func:`frlab.cls_books.hyperparameters`), per profile;
* :func:`run_is_finished` / :func:`record_run` / :func:`load_run` -- idempotent runs: a finished
  run (``run.json``) is loaded, not retrained;
* :func:`validation_curve` / :func:`best_valid` -- read the Trainer's ``trainer_state.json``;
* :func:`summarize_runs`, :func:`comparison_table`, :func:`plot_comparison` -- mean ± std over
  seeds and the side-by-side with Part 2's fairseq runs.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

from frlab import cls_books, profiles, runs
from frlab.paths import results_dir, work_dir
from frlab.runs import MARKER, SEEDS, SPLITS, hardware, mean_std, run_name  # noqa: F401 (mean_std, run_name: used by the chapter)

METRIC = "accuracy"


# --------------------------------------------------------------------------- data
def cls_books_dir() -> Path:
    from frlab.assets import fetch

    return fetch("cls-books", progress=False)


def split_limits(profile: profiles.Profile | str | None = None) -> dict:
    """Reviews per split: all of them (cpu/full) or Part 2's smoke slice sizes."""
    lim = cls_books.hyperparameters(profile).get("limit") or {}
    return {s: lim.get(s) for s in SPLITS}


def write_jsonl(out_dir: Path | str, source: Path | str | None = None, limits: dict | None = None) -> dict:
    """Write ``train/valid/test.jsonl`` (``{"sentence1": review, "label": 0|1}`` per line).

    ``limits`` keeps ``n`` reviews of a split (the smoke slice): the same seeded random subset as
    Part 2's fairseq data, so both frameworks see the same reviews.
    Returns ``{split: path}``.  Labels are checked (0/1, one per review).
    """
    src = Path(source) if source else cls_books_dir()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in SPLITS:
        cls_books.validate_labels(src / f"{split}.label", src / f"{split}.review")
        texts = (src / f"{split}.review").read_text(encoding="utf-8").splitlines()
        labels = [int(x) for x in (src / f"{split}.label").read_text(encoding="utf-8").split()]
        n = (limits or {}).get(split)
        rows = list(zip(texts, labels))
        if n and n < len(rows):
            # Part 2's smoke slice (frlab.fairseq.finetune.read_split): a seeded random subset in file
            # order -- the files are sorted by label, so the first n lines would hold one class only
            keep = sorted(random.Random(0).sample(range(len(rows)), n))
            rows = [rows[i] for i in keep]
        p = out / f"{split}.jsonl"
        tmp = p.with_suffix(".jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for text, label in rows:
                f.write(json.dumps({"sentence1": text, "label": label}, ensure_ascii=False) + "\n")
        os.replace(tmp, p)
        paths[split] = p
    return paths


def load_cls_books(data_dir: Path | str | None = None, profile: profiles.Profile | str | None = None):
    """CLS-Books as a ``datasets.DatasetDict`` with splits train/valid/test (JSON lines)."""
    from datasets import load_dataset

    data_dir = Path(data_dir) if data_dir else part3_dir(profile) / "data"
    paths = write_jsonl(data_dir, limits=split_limits(profile))
    return load_dataset("json", data_files={k: str(v) for k, v in paths.items()})


def tokenize(dataset, tokenizer, max_length: int = 256):
    """Token ids of ``sentence1`` (``<s> ... </s>``, truncated to ``max_length``); keeps ``label``."""

    def enc(batch):
        return tokenizer(batch["sentence1"], truncation=True, max_length=max_length)

    return dataset.map(enc, batched=True, remove_columns=["sentence1"])


def compute_metrics(eval_pred) -> dict:
    """Accuracy in % (fairseq's unit), for ``Trainer(compute_metrics=...)``."""
    import numpy as np

    logits, labels = eval_pred
    logits = logits[0] if isinstance(logits, tuple) else logits
    return {METRIC: float((np.argmax(logits, axis=-1) == labels).mean() * 100.0)}


# --------------------------------------------------------------------------- settings
def hyperparameters(profile: profiles.Profile | str | None = None) -> dict:
    """Part 2's fine-tuning hyper-parameters, as Trainer settings (same profile, same values).

    batch 8, 5 epochs, Adam (0.9, 0.98, eps 1e-8), lr 1e-5, 6 % warm-up then linear decay to 0,
    weight decay 0.01, 256 positions; evaluation every ``eval_steps`` updates (Part 2's
    ``--validate-interval-updates``; ``None`` = every epoch), best model by valid accuracy.  ``threads``: ``OMP_NUM_THREADS`` when set, else Part 2's.
    """
    p = profiles.resolve(profile)
    f = cls_books.hyperparameters(p.name)
    betas = tuple(float(x) for x in f["adam_betas"].strip("()").split(","))
    eval_steps = f.get("validate_interval_updates") or None  # Part 2's --validate-interval-updates
    threads = (
        int(os.environ["OMP_NUM_THREADS"]) if os.environ.get("OMP_NUM_THREADS", "").isdigit() else f.get("threads")
    )
    return {
        "batch_size": f["batch_size"],
        "epochs": f["max_epoch"],
        "lr": f["lr"],
        "warmup_ratio": f["warmup_ratio"],
        "weight_decay": f["weight_decay"],
        "adam_beta1": betas[0],
        "adam_beta2": betas[1],
        "adam_eps": f["adam_eps"],
        "max_length": f["max_pieces"] + 2 if f.get("max_pieces") else f["max_positions"],
        "eval_steps": eval_steps,
        "logging_steps": f["log_interval"],
        "seeds": list(f.get("seeds", SEEDS)),
        "threads": threads,
        "limit": f.get("limit"),
        "eval_batch_size": p.pick(full=64, cpu=32, smoke=32),
    }


def one_device(args, profile: profiles.Profile | str | None = None):
    """``args`` set to train on one GPU, unless the notebook was launched by ``torchrun``/``accelerate``; and under
    the profile's step cap (``FRLAB_MAX_UPDATES``), ``max_steps`` set to the cap when the run would be longer.

    On a machine with several GPUs the ``Trainer`` otherwise wraps the model in ``DataParallel`` and splits every
    batch over all of them: another effective batch, without a word. Returns ``args``.
    """
    from frlab.runs import world_size

    if world_size() == 1 and args.n_gpu > 1:  # n_gpu sets the devices up first: then keep only the first GPU
        args._n_gpu = 1
    prof = profiles.resolve(profile)
    if prof.max_updates:
        planned = planned_steps(args, count_train_reviews(prof))
        if prof.capped(planned) != planned:
            args.max_steps = prof.capped(planned)
    return args


def count_train_reviews(profile: profiles.Profile | str | None = None) -> int:
    """Training reviews of the profile: the train split, or its slice (smoke)."""
    n = cls_books.count_lines(cls_books_dir() / "train.label")
    limit = split_limits(profile)["train"]
    return min(n, limit) if limit else n


def planned_steps(args, n_train: int) -> int:
    """The optimizer steps ``args`` plan for ``n_train`` examples: ``max_steps`` when set, else the epochs'."""
    import math

    if args.max_steps and args.max_steps > 0:
        return int(args.max_steps)
    per_step = args.per_device_train_batch_size * max(args.gradient_accumulation_steps, 1)
    return math.ceil(n_train / per_step) * math.ceil(args.num_train_epochs)


def part3_dir(profile: profiles.Profile | str | None = None) -> Path:
    """``<work>/<profile>/part3``: converted model, JSON-lines data and runs of the chapter."""
    return work_dir() / profiles.resolve(profile).name / "part3"


# --------------------------------------------------------------------------- runs
def _signature(args) -> dict:
    """The TrainingArguments fields that define a run (a changed one means: retrain)."""
    keys = (
        "per_device_train_batch_size",
        "num_train_epochs",
        "learning_rate",
        "warmup_steps",
        "lr_scheduler_type",
        "weight_decay",
        "adam_beta1",
        "adam_beta2",
        "adam_epsilon",
        "seed",
        "eval_strategy",
        "eval_steps",
        "metric_for_best_model",
        "max_steps",
        "max_grad_norm",
    )
    d = args.to_dict()
    return {k: (str(d[k]) if not isinstance(d.get(k), (int, float, str, type(None))) else d.get(k)) for k in keys}


def run_is_finished(run_dir: Path | str, args=None, model_dir: Path | str | None = None) -> bool:
    """True when ``run_dir`` holds a finished run (its ``run.json``), with the same settings if given."""
    marker = Path(run_dir) / MARKER
    if not marker.is_file():
        return False
    info = json.loads(marker.read_text(encoding="utf-8"))
    if args is not None and info.get("signature") != _signature(args):
        return False
    if model_dir is not None and info.get("model_dir") != str(Path(model_dir)):
        return False
    return True


def load_run(run_dir: Path | str) -> dict:
    """The ``run.json`` record of a finished run (``hidden_size`` filled from the model's config.json for records
    written before it was recorded)."""
    info = json.loads((Path(run_dir) / MARKER).read_text(encoding="utf-8"))
    cfg = Path(info.get("model_dir", "")) / "config.json"
    if "hidden_size" not in info and info.get("model_dir") and cfg.is_file():
        info["hidden_size"] = int(json.loads(cfg.read_text(encoding="utf-8"))["hidden_size"])
    return info


def validation_curve(run_dir: Path | str, metric: str = METRIC):
    """DataFrame indexed by update ``step``: ``valid_accuracy`` (%) from the Trainer's log history."""
    import pandas as pd

    state = _trainer_state(run_dir)
    rows = [(h["step"], h[f"eval_{metric}"]) for h in state["log_history"] if f"eval_{metric}" in h]
    if not rows:
        raise ValueError(f"{run_dir}: no eval_{metric} in trainer_state.json")
    df = pd.DataFrame(rows, columns=["step", f"valid_{metric}"]).groupby("step").last()
    return df


def _trainer_state(run_dir: Path | str) -> dict:
    run_dir = Path(run_dir)
    p = run_dir / "trainer_state.json"
    if not p.is_file():  # still inside the last checkpoint folder
        cands = sorted(run_dir.glob("checkpoint-*/trainer_state.json"), key=lambda q: int(q.parent.name.split("-")[1]))
        if not cands:
            raise FileNotFoundError(f"{run_dir}: no trainer_state.json")
        p = cands[-1]
    return json.loads(p.read_text(encoding="utf-8"))


def best_valid(run_dir: Path | str, metric: str = METRIC) -> dict:
    """``{"step", "valid_accuracy"}`` at the best valid accuracy (ties: earliest step, as the Trainer keeps)."""
    curve = validation_curve(run_dir, metric)[f"valid_{metric}"]
    step = int(curve[curve == curve.max()].index.min())
    return {"step": step, f"valid_{metric}": float(curve.loc[step])}


def record_run(
    trainer,
    run_dir: Path | str,
    test_metrics: dict,
    *,
    model_dir: Path | str,
    seconds: float,
    extra: dict | None = None,
) -> dict:
    """Write ``run.json`` after ``trainer.train()`` + test evaluation of the best checkpoint.

    Saves ``trainer_state.json`` in ``run_dir`` and deletes the checkpoints (the record and the logs
    are what later cells read).  Checks that the Trainer's best checkpoint is the best valid step
    of the log history.
    """
    import shutil

    run_dir = Path(run_dir)
    trainer.state.save_to_json(str(run_dir / "trainer_state.json"))
    best = best_valid(run_dir)
    state = trainer.state
    if state.best_global_step is not None and int(state.best_global_step) != best["step"]:
        raise AssertionError(f"Trainer kept step {state.best_global_step}, log history says {best['step']}")
    steps = state.global_step
    prof = profiles.resolve()
    uncapped = math.ceil(
        len(trainer.train_dataset)
        / (trainer.args.per_device_train_batch_size * max(trainer.args.gradient_accumulation_steps, 1))
    ) * math.ceil(trainer.args.num_train_epochs)
    capped = bool(prof.max_updates) and int(state.max_steps or steps) == prof.max_updates < uncapped
    info = {
        "run": run_dir.name,
        "seed": int(trainer.args.seed),
        "model_dir": str(Path(model_dir)),
        "signature": _signature(trainer.args),
        "best_step": best["step"],
        "valid_accuracy": best[f"valid_{METRIC}"],
        "test_accuracy": float(test_metrics.get(f"test_{METRIC}", test_metrics.get(f"eval_{METRIC}"))),
        "profile": profiles.resolve().name,
        "updates": int(steps),
        "planned_updates": uncapped if capped else int(state.max_steps or steps),
        "max_updates_cap": prof.max_updates if capped else None,  # FRLAB_MAX_UPDATES
        "done_updates": int(steps),
        "hidden_size": int(trainer.model.config.hidden_size),
        "gpus": int(trainer.args.n_gpu),
        "world_size": int(trainer.args.world_size),
        "minutes": round(seconds / 60, 2),
        "train_seconds_per_step": round(_train_runtime(state) / max(steps, 1), 4),
        "finished_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    info.update(extra or {})
    for ck in run_dir.glob("checkpoint-*"):
        shutil.rmtree(ck, ignore_errors=True)
    (run_dir / MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def _train_runtime(state) -> float:
    for h in reversed(state.log_history):
        if "train_runtime" in h:
            return float(h["train_runtime"])
    return float("nan")


def summarize_runs(log_root: Path | str):
    """One row per finished run of ``log_root``: run, seed, best_step, valid_accuracy, test_accuracy."""
    import pandas as pd

    rows = []
    for d in sorted(Path(log_root).glob("*_seed*")):
        if (d / MARKER).is_file():
            r = load_run(d)
            rows.append({k: r[k] for k in ("run", "seed", "best_step", "valid_accuracy", "test_accuracy")})
    if not rows:
        raise FileNotFoundError(f"no finished run in {log_root}")
    return pd.DataFrame(rows).sort_values("seed", ignore_index=True)


def part2_summary(profile: profiles.Profile | str | None = None):
    """Part 2's pretrained-init runs of the same profile, or None: the ``summary.json`` that the Part 2 chapter
    writes from the student's own table, else the stored reference results."""
    from frlab.fairseq.finetune import part2_dir

    name = profiles.resolve(profile).name
    for f in [part2_dir(name) / "summary.json", *sorted((results_dir() / "part2" / name).glob("*.json"))]:
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        runs = data.get("runs") if isinstance(data, dict) else data
        if runs:
            import pandas as pd

            df = pd.DataFrame(runs)
            if "init" in df:
                df = df[df.init == "pretrained"]
            if {"seed", "test_accuracy"} <= set(df.columns) and len(df):
                return df
    return None


def comparison_table(hf_summary, fairseq_summary=None) -> list[dict]:
    """Rows ``framework, valid accuracy, test accuracy (mean ± std), runs`` for HF and fairseq."""
    rows = []
    for name, s in (("Hugging Face Trainer", hf_summary), ("fairseq (Part 2)", fairseq_summary)):
        if s is None or not len(s):
            continue
        vm, vs = mean_std(s["valid_accuracy"])
        tm, ts = mean_std(s["test_accuracy"])
        rows.append(
            {
                "framework": name,
                "valid_accuracy_mean": round(vm, 2),
                "valid_accuracy_std": round(vs, 2),
                "test_accuracy_mean": round(tm, 2),
                "test_accuracy_std": round(ts, 2),
                "runs": int(len(s)),
                "seeds": [int(x) for x in s["seed"]],
            }
        )
    return rows


def format_comparison(rows: list[dict]) -> str:
    lines = ["| framework | valid accuracy (%) | test accuracy at best valid (%) | runs |", "|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['framework']} | {r['valid_accuracy_mean']:.1f} ± {r['valid_accuracy_std']:.1f} | "
            f"{r['test_accuracy_mean']:.1f} ± {r['test_accuracy_std']:.1f} | {r['runs']} |"
        )
    return "\n".join(lines)


def plot_comparison(hf_root: Path | str, fairseq_root: Path | str | None = None, title: str | None = None):
    """Valid accuracy vs updates: HF runs (solid) beside Part 2's fairseq pretrained runs (dashed)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for d in sorted(Path(hf_root).glob("*_seed*")):
        if (d / MARKER).is_file() or (d / "trainer_state.json").is_file():
            c = validation_curve(d)
            ax.plot(
                c.index,
                c[f"valid_{METRIC}"],
                "-",
                marker="o",
                ms=3,
                color="tab:green",
                alpha=0.5 + 0.2 * (hash(d.name) % 3) / 2,
                label=f"HF {d.name}",
            )
    if fairseq_root is not None:
        from frlab.fairseq import logs as run_logs

        for d in run_logs.run_dirs(fairseq_root):
            if not d.name.startswith("pretrained"):
                continue
            try:
                c = run_logs.validation_curve(d)
            except Exception:
                continue
            ax.plot(
                c.index,
                c["valid_accuracy"],
                "--",
                marker="s",
                ms=3,
                color="tab:blue",
                alpha=0.7,
                label=f"fairseq {d.name}",
            )

    return runs.finish_curve_axes(ax, "valid accuracy (%)", title, legend_fontsize=7)
