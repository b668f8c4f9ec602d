"""Produce the stored Part 2 reference results (``results/part2/<profile>/``).

1. executes the chapter ``solutions/part2_fairseq_finetuning.py`` headless in the given profile (default
   ``cpu``): it trains the 3 seeds × 2 inits (finished runs are reused) -- so the stored numbers come from
   exactly the code students run;
2. reads the TensorBoard logs back (``frlab.fairseq.logs``) and writes ``results.json`` (per-run best-valid /
   test accuracy, mean ± std, gap, provenance), ``valid_curves.png`` and a copy of the runs' TensorBoard
   ``valid``/``test`` events (a few kB each) under ``results/part2/<profile>/``.

Usage::

    python -m labtools.references.part2 [--profile cpu] [--store-only]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from autograder import answer_keys
from frlab.fairseq import finetune as ff
from frlab.fairseq import logs as run_logs
from frlab.fairseq.pretrain import base_model_dir
from frlab.paths import results_dir
from frlab.runs import hardware
from labtools import use_dev_mirror
from labtools.execute import execute_chapter


def store(profile: str, seconds: float | None = None) -> Path:
    runs = ff.part2_dir(profile) / "runs"
    out = results_dir() / "part2" / profile
    out.mkdir(parents=True, exist_ok=True)
    summary = answer_keys.summarize_runs(runs)
    table = answer_keys.results_table(summary)
    per_run = []
    for row in summary.to_dict("records"):
        info = json.loads((runs / row["run"] / ff.MARKER).read_text())
        row["minutes"] = info["minutes"]
        row["seconds_per_update"] = ff.seconds_per_update(runs / row["run"] / "train.log")
        per_run.append(row)
        dst = out / "tb" / row["run"]
        if dst.exists():
            shutil.rmtree(dst)
        for subset in ("valid", "test"):
            shutil.copytree(runs / row["run"] / "tb" / subset, dst / subset)
    base = base_model_dir(profile)  # the model the runs started from (the shipped one, or one built here)
    pre = json.loads((base / "pretrain.json").read_text()) if (base / "pretrain.json").exists() else None
    hp = ff.hyperparameters(profile)
    any_cmd = json.loads((runs / per_run[0]["run"] / ff.MARKER).read_text())["command"]
    result = {
        "what": "Part 2: fairseq sentence_prediction on CLS-Books, pretrained vs random init; "
        "test accuracy (%) at the best valid accuracy of each run",
        "runs": per_run,
        "table": {
            init: {"mean": round(float(r["mean"]), 3), "std": round(float(r["std"]), 3), "runs": int(r["runs"])}
            for init, r in table.iterrows()
        },
        "gap": round(answer_keys.gap(summary), 3),
        "std_note": "sample standard deviation over seeds (ddof=1)",
        "provenance": {
            "profile": profile,
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "hardware": hardware() + " (one torch thread per fine-tuning run; the machine may have been shared)",
            "base_model": (
                f"frlab.fairseq.pretrain --profile {profile}: "
                + (
                    f"roberta_small {pre['config']['encoder_layers']} layers, dim "
                    f"{pre['config']['encoder_embed_dim']}, ffn {pre['config']['encoder_ffn_embed_dim']}, "
                    f"{pre['config']['vocab_size']} sentencepiece pieces, {pre['updates']} MLM updates "
                    f"({pre['train_minutes']} min), final MLM loss {pre['train_loss_base2']} (base 2)"
                    if pre
                    else "(no pretrain.json)"
                )
            ),
            "pretraining": pre,
            "data": "CLS-Books mirror split train 1600 / valid 400 / test 2000 (DATA.md)",
            "hyperparameters": {k: v for k, v in hp.items() if k != "threads"},
            "fairseq_train_command_example": " ".join(
                Path(c).name if c.endswith("fairseq-train") else c for c in any_cmd
            ),
            "chapter_execution_minutes": round(seconds / 60, 1) if seconds else None,
            "python": sys.version.split()[0],
        },
    }
    try:
        import fairseq
        import torch

        result["provenance"]["versions"] = {"torch": torch.__version__, "fairseq": fairseq.__version__}
    except ImportError:  # pragma: no cover
        pass
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    fig = run_logs.plot_valid_curves(runs, title=f"CLS-Books, {profile} reference: valid accuracy (6 runs)")
    fig.savefig(out / "valid_curves.png", dpi=110)
    print(answer_keys.format_table(summary))
    print(summary.to_string())
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--profile", default="cpu")
    p.add_argument("--store-only", action="store_true", help="do not execute the chapter; store existing runs")
    a = p.parse_args(argv)
    use_dev_mirror()
    seconds = None if a.store_only else execute_chapter("part2_fairseq_finetuning", a.profile)
    print("stored in", store(a.profile, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
