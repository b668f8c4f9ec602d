"""Produce the stored Part 3 reference results (``results/part3/<profile>/``).

1. executes the chapter ``solutions/part3_hf_finetuning.py`` headless in the given profile (default ``cpu``): it
   converts the base model and trains the seeds with the chapter's own ``TrainingArguments`` (finished runs are
   reused) -- so the stored numbers come from exactly the code students run;
2. :func:`store` copies the finished runs: ``hf_runs.json`` (one row per seed), ``comparison.json`` (HF next to
   Part 2's fairseq runs on the same base model), ``provenance.json`` and ``valid_curves_hf_vs_fairseq.png``.

Usage::

    python -m labtools.references.part3 [--profile cpu] [--store-only] [--bench results/part3/cpu/bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from frlab import profiles
from frlab.hf import finetune as hf_finetune
from frlab.paths import results_dir
from frlab.runs import MARKER
from labtools import use_dev_mirror
from labtools.execute import execute_chapter

CHAPTER = "part3_hf_finetuning"


def store(profile: str = "cpu", out_dir: Path | str | None = None, bench: Path | str | None = None) -> Path:
    """Copy the finished HF runs of ``profile`` to ``results/part3/<profile>/`` for the book.

    Writes ``hf_runs.json`` (one row per seed), ``comparison.json`` (HF next to Part 2's fairseq runs on
    the same base model, when they exist), ``provenance.json`` and ``valid_curves_hf_vs_fairseq.png``.
    Nothing is invented: only runs with a ``run.json`` are stored.
    """
    import platform

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from frlab.fairseq.finetune import part2_dir

    name = profiles.resolve(profile).name
    runs_dir = hf_finetune.part3_dir(name) / "runs"
    out = Path(out_dir) if out_dir else results_dir() / "part3" / name
    out.mkdir(parents=True, exist_ok=True)
    runs = [hf_finetune.load_run(d) for d in sorted(runs_dir.glob("*_seed*")) if (d / MARKER).is_file()]
    if not runs:
        raise FileNotFoundError(f"no finished Part 3 run in {runs_dir}")
    keys = (
        "run",
        "seed",
        "best_step",
        "valid_accuracy",
        "test_accuracy",
        "updates",
        "hidden_size",
        "minutes",
        "train_seconds_per_step",
    )
    table = [{k: r.get(k) for k in keys} for r in runs]
    (out / "hf_runs.json").write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    import pandas as pd

    fairseq = hf_finetune.part2_summary(name)
    rows = hf_finetune.comparison_table(pd.DataFrame(table), fairseq)
    (out / "comparison.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    fairseq_runs = next((p for p in (part2_dir(name) / "runs", part2_dir(name) / "logs") if p.is_dir()), None)
    fig = hf_finetune.plot_comparison(runs_dir, fairseq_runs, title=f"CLS-Books valid accuracy, profile {name}")
    fig.savefig(out / "valid_curves_hf_vs_fairseq.png", dpi=110)
    plt.close(fig)
    model_dir = Path(runs[0]["model_dir"])
    conv = {}
    if (model_dir / "conversion_report.json").is_file():
        c = json.loads((model_dir / "conversion_report.json").read_text())
        conv = {k: c.get(k) for k in ("source", "source_sha256", "n_mapped", "synthesised", "n_aliases", "hf_class")}
    base_info = {}
    src = Path(conv.get("source", "")) / "pretrain.json" if conv.get("source") else None
    if src and src.is_file():
        p = json.loads(src.read_text())
        base_info = {
            k: p.get(k)
            for k in (
                "what",
                "corpus",
                "train_loss_base2",
                "valid_loss_base2",
                "updates",
                "train_minutes",
                "date_utc",
                "hardware",
            )
            if k in p
        }
        base_info["config"] = {
            k: p.get("config", {}).get(k)
            for k in (
                "vocab_size",
                "spm_model_type",
                "encoder_layers",
                "encoder_embed_dim",
                "encoder_ffn_embed_dim",
                "encoder_attention_heads",
                "max_update",
                "task_adaptive_copies",
                "sinusoidal_positions",
                "embedding_std",
                "bos_bow_weight",
            )
        }
    import torch
    import transformers

    hp = hf_finetune.hyperparameters(name)
    prov = {
        "what": "Part 3: CLS-Books fine-tuning with the Hugging Face Trainer of the fairseq base model converted "
        "by frlab.hf.convert (same base model and hyper-parameters as Part 2)",
        "profile": name,
        "produced_by": "solutions/part3_hf_finetuning.py executed with FRLAB_PROFILE="
        f"{name} (python -m labtools.references.part3 --profile {name})",
        "data": "CLS-Books, lab split train 1600 / valid 400 / test 2000 (DATA.md)",
        "selection": "test accuracy of the checkpoint with the best valid accuracy (Trainer "
        "load_best_model_at_end, metric accuracy, earliest on ties)",
        "hyperparameters": {k: v for k, v in hp.items() if k not in ("limit",)},
        "base_model": base_info,
        "conversion": conv,
        "fairseq_comparison": "Part 2 runs found" if fairseq is not None else "Part 2 runs not found at store time",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "hardware": f"{platform.machine()}, {os.cpu_count()} cores (shared machine)",
        "stored_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    (out / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n", encoding="utf-8")
    if bench and Path(bench).is_file() and Path(bench).resolve() != (out / "bench.json").resolve():
        (out / "bench.json").write_text(Path(bench).read_text())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labtools.references.part3", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--store-only", action="store_true", help="do not execute the chapter; store existing runs")
    ap.add_argument("--out", default=None)
    ap.add_argument("--bench", default=None)
    a = ap.parse_args(argv)
    use_dev_mirror()
    if not a.store_only:
        print(f"executed the chapter in {execute_chapter(CHAPTER, a.profile):.0f} s")
    out = store(a.profile, a.out, a.bench)
    print("stored", out)
    for r in json.loads((out / "comparison.json").read_text()):
        print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
