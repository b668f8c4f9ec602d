"""Sensitivity study of Part 2: the pretrained - random gap as a function of the learning rate.

Fine-tunes both inits (same base model, same data, same everything but ``--lr``) for each learning rate,
with the Part 2 command (``labtools.chapter_code.part2_train_command``: the chapter's own function), reusing finished runs; the course's
lr (1e-5) is taken from the main reference runs when they exist. Stores ``results.json`` and
``gap_vs_lr.png`` under ``results/part2/lr_sensitivity/``.

    python -m labtools.references.part2_lr_sensitivity --profile cpu --lrs 1e-4,1e-3 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from autograder import answer_keys
from frlab.fairseq import finetune as ff
from frlab.fairseq import logs as run_logs
from frlab.fairseq.pretrain import base_model_dir
from frlab.paths import results_dir
from frlab.runs import hardware
from labtools import use_dev_mirror
from labtools.chapter_code import part2_train_command


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--profile", default="cpu")
    p.add_argument("--lrs", default="1e-4,1e-3")
    p.add_argument("--seeds", default="0")
    p.add_argument("--threads", type=int, default=None, help="torch threads per run (default: the profile's)")
    p.add_argument("--main-runs", action="store_true", help="add the finished main runs (course lr) to the table")
    a = p.parse_args(argv)
    use_dev_mirror()
    os.environ["FRLAB_PROFILE"] = a.profile
    model = base_model_dir(a.profile)
    arch = ff.model_arch_args(model)
    work = ff.part2_dir(a.profile)
    data_bin = work / "data-bin"
    if not ff.is_binarised(data_bin):
        raise SystemExit(f"run the Part 2 chapter in the {a.profile} profile first (no {data_bin})")
    n_train = ff.count_lines(work / "text" / "train.label")
    hp0 = ff.hyperparameters(a.profile)
    seeds = [int(s) for s in a.seeds.split(",")]
    rows = []
    # the course lr: the main runs
    main_runs = work / "runs"
    for lr in [float(x) for x in a.lrs.split(",")]:
        root = work / "lr_sensitivity" / f"lr{lr:g}"
        for init in ff.INITS:
            for seed in seeds:
                run_dir = root / ff.run_name(init, seed)
                hp = dict(hp0, lr=lr)
                restore = model / "model.pt" if init == "pretrained" else ff.RANDOM_INIT_RESTORE
                cmd = part2_train_command(data_bin, run_dir, restore, seed, hp, arch, n_train)
                info = ff.run_training(cmd, run_dir, init=init, threads=a.threads or hp["threads"])
                best = answer_keys.best_valid_test_accuracy(run_dir)
                rows.append({"lr": lr, "init": init, "seed": seed, **best, "minutes": info["minutes"]})
                print(rows[-1], flush=True)
    if a.main_runs and run_logs.run_dirs(main_runs):
        for _, r in answer_keys.summarize_runs(main_runs).iterrows():
            if r["seed"] in seeds:
                rows.append(
                    {
                        "lr": hp0["lr"],
                        "init": r["init"],
                        "seed": int(r["seed"]),
                        "step": int(r["best_step"]),
                        "valid_accuracy": r["valid_accuracy"],
                        "test_accuracy": r["test_accuracy"],
                        "minutes": None,
                    }
                )
    import pandas as pd

    df = pd.DataFrame(rows).sort_values(["lr", "init", "seed"])
    piv = df.groupby(["lr", "init"])["test_accuracy"].mean().unstack()
    piv["gap"] = piv["pretrained"] - piv["random"]
    out = results_dir() / "part2" / "lr_sensitivity"
    out.mkdir(parents=True, exist_ok=True)
    pre = json.loads((model / "pretrain.json").read_text()) if (model / "pretrain.json").exists() else {}
    result = {
        "what": "test accuracy (%) at best valid accuracy vs fine-tuning learning rate, pretrained vs random init",
        "runs": df.to_dict("records"),
        "gap_by_lr": {f"{lr:g}": round(float(g), 3) for lr, g in piv["gap"].items()},
        "provenance": {
            "profile": a.profile,
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "hardware": hardware() + " (shared with other jobs)",
            "seeds": seeds,
            "base_model": f"frlab.fairseq.pretrain --profile {a.profile} ({pre.get('updates')} MLM updates)",
            "other_hyperparameters": "as Part 2 (batch 8, 5 epochs, 6% warm-up, linear decay, wd 0.01)",
        },
    }
    (out / "results.json").write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for init, colour in (("pretrained", "tab:blue"), ("random", "tab:orange")):
        sel = df[df.init == init]
        ax.plot(sel.lr, sel.test_accuracy, "o", color=colour, alpha=0.5)
        ax.plot(piv.index, piv[init], "-", color=colour, label=init)
    ax.set_xscale("log")
    ax.set_xlabel("fine-tuning learning rate")
    ax.set_ylabel("test accuracy at best valid (%)")
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"CLS-Books, {a.profile} base model: pretrained vs random")
    fig.tight_layout()
    fig.savefig(out / "gap_vs_lr.png", dpi=110)
    print(piv.round(2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
