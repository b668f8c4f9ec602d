"""``make gpu-check``: the four chapters in the full profile on one GPU, sized to finish in about ten minutes.

    python -m labtools.gpu_check [--budget-min 10] [--plan-only]

The same code as the course's full profile, fewer seeds and updates: one seed (``FRLAB_SEEDS=1``) and, when the
whole runs would not fit the budget, a step cap (``FRLAB_MAX_UPDATES``) computed by :func:`plan` from conservative
per-update times of a small GPU (a T4) and each chapter's fixed costs. The chapters run headless as in the full
rehearsal (:func:`labtools.full_rehearsal.run_chapters`), with the real assets (asset cache, ``FRLAB_MIRROR`` or
the original sources); the record goes to ``results/gpu/<date>-<gpu>.json``: each chapter's time, Part 2's and
Part 3's accuracies, Part 4's loss curve, the cap and the plan.

On a machine that cannot download (a lent GPU machine), ``--standins SEED`` rebuilds the full rehearsal's stand-ins
from a seed of a few MB (``python -m labtools.full_rehearsal --seed SEED``; :func:`labtools.standins.mirror_from_seed`):
the course's architecture and bloom-560m's with random weights, CLS-Books real (fetched as usual). The record says
so; its accuracies and losses then measure the plumbing and the speed, not the models.

Without a CUDA GPU it refuses (exit status 2) and says so; ``--plan-only`` prints the plan anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

from frlab.paths import results_dir, work_dir
from labtools import provenance

OUT_DIR = results_dir() / "gpu"

#: the full profile's whole runs (updates) and how many of them one seed makes, per chapter
FULL_RUNS = {"part2": (1000, 2), "part3": (1000, 1), "part4": (120, 1)}
#: seconds per update on a T4, on the safe side (an H200 is several times faster)
SECONDS_PER_UPDATE = {"part2": 0.06, "part3": 0.1, "part4": 0.8}
#: each chapter's cost besides its updates, seconds: start-up, data, conversion, evaluation, loading, generation
FIXED_SECONDS = {"part1": 20, "part2": 90, "part3": 90, "part4": 150}
MARGIN = 0.8  # plan for this share of the budget


def estimate(cap: int | None, rates: dict | None = None, fixed: dict | None = None) -> float:
    """Estimated seconds of the four chapters with one seed and the step cap ``cap`` (None: whole runs)."""
    rates, fixed = rates or SECONDS_PER_UPDATE, fixed or FIXED_SECONDS
    total = float(sum(fixed.values()))
    for part, (updates, runs) in FULL_RUNS.items():
        total += runs * (updates if cap is None else min(cap, updates)) * rates[part]
    return total


def plan(budget_minutes: float = 10.0, rates: dict | None = None, fixed: dict | None = None) -> dict:
    """The largest step cap whose estimate fits ``MARGIN`` of the budget (``cap`` None: the whole runs fit)."""
    if budget_minutes <= 0:
        raise ValueError(f"the budget must be a positive number of minutes, not {budget_minutes}")
    budget = budget_minutes * 60 * MARGIN
    longest = max(u for u, _ in FULL_RUNS.values())
    if estimate(None, rates, fixed) <= budget:
        cap = None
    else:
        fitting = [c for c in range(1, longest + 1) if estimate(c, rates, fixed) <= budget]
        if not fitting:
            raise ValueError(f"nothing fits {budget_minutes} min: the chapters' fixed costs alone exceed it")
        cap = max(fitting)
    return {
        "budget_minutes": budget_minutes,
        "planned_for_minutes": round(budget / 60, 1),
        "max_updates": cap,
        "seeds": 1,
        "estimated_minutes": round(estimate(cap, rates, fixed) / 60, 1),
        "assumed_seconds_per_update": dict(rates or SECONDS_PER_UPDATE),
        "assumed_fixed_seconds": dict(fixed or FIXED_SECONDS),
    }


def gpu_name() -> str | None:
    """The first CUDA GPU's name, None without one."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def out_path(gpu: str, when: time.struct_time | None = None, out_dir: Path = OUT_DIR) -> Path:
    """``results/gpu/<YYYY-MM-DD>-<gpu>.json``, the GPU's name in lower case with dashes (``nvidia-h200``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", gpu.lower()).strip("-") or "gpu"
    return out_dir / f"{time.strftime('%Y-%m-%d', when or time.gmtime())}-{slug}.json"


def record(gpu: str, the_plan: dict, run: dict, figures: dict, seconds: float, assets: dict | None = None) -> dict:
    """The JSON of one check: chapter times, Part 2/3 accuracies, Part 4's loss curve, the plan and the run."""
    p2, p3, p4 = (figures.get(k) or {} for k in ("part2", "part3", "part4"))
    return {
        "what": "make gpu-check: the four chapters in the full profile on one GPU (one seed, step cap if needed)",
        "gpu": gpu,
        "exit_status": run.get("exit_status"),
        "minutes": round(seconds / 60, 1),
        "chapter_seconds": {k: v["seconds"] for k, v in run.get("chapters", {}).items()},
        "chapter_status": {k: v["status"] for k, v in run.get("chapters", {}).items()},
        "part2_test_accuracy": p2.get("test_accuracy"),
        "part3_test_accuracy": {k: v.get("test_accuracy") for k, v in (p3.get("runs") or {}).items()},
        "part4_loss_curve": p4.get("loss_curve"),
        "part4_trainable_total": p4.get("trainable_total_on_the_loaded_model"),
        "assets": assets or {"models": "the real assets (asset cache, FRLAB_MIRROR or their sources)"},
        "plan": the_plan,
        "run": run,
        "figures": figures,
        "provenance": {
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s), {gpu}",
            "python": platform.python_version(),
            "packages": _versions(),
            "git": provenance.commit(),
            "changed_files": provenance.changed_files(),
        },
    }


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "fairseq-fixed", "transformers", "peft", "bitsandbytes", "accelerate", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def main(argv: list[str] | None = None) -> int:
    from labtools import full_rehearsal as fr

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-min", type=float, default=10.0, help="minutes the whole check may take")
    ap.add_argument("--plan-only", action="store_true", help="print the plan (seeds, step cap) and stop")
    ap.add_argument("--max-updates", type=int, help="the step cap instead of the plan's (0: whole runs)")
    ap.add_argument("--standins", type=Path, help="a seed of the stand-ins (no download): see the module's docstring")
    args = ap.parse_args(argv)
    the_plan = plan(args.budget_min)
    if args.max_updates is not None:
        if args.max_updates < 0:
            ap.error("--max-updates must be 0 (whole runs) or a positive number of updates")
        the_plan.update(max_updates=args.max_updates or None, estimated_minutes=None, chosen_by="--max-updates")
    print(json.dumps(the_plan, indent=1))
    if args.plan_only:
        return 0
    gpu = gpu_name()
    if gpu is None:
        print(
            "make gpu-check needs a CUDA GPU and none is visible (torch.cuda.is_available() is False). On a machine "
            "without one, rehearse the full profile with python -m labtools.full_rehearsal.",
            file=sys.stderr,
        )
        return 2
    root = work_dir() / "gpu-check"
    env = {"FRLAB_PROFILE": "full", "FRLAB_SEEDS": "1", "FRLAB_WORK": str(root / "work")}
    if the_plan["max_updates"]:
        env["FRLAB_MAX_UPDATES"] = str(the_plan["max_updates"])
    t0 = time.time()
    assets = None
    if args.standins:
        from frlab.assets import fetch
        from labtools import standins

        built = standins.mirror_from_seed(args.standins, root / "mirror", fetch("cls-books", progress=False))
        env.update(FRLAB_MIRROR=built["mirror"], FRLAB_CACHE=str(root / "cache"), HF_HUB_OFFLINE="1")
        assets = {"models": "stand-ins with random weights (labtools.standins, rebuilt from a seed)", **built}
        print(f"stand-ins rebuilt in {built['seconds']} s -> {built['mirror']}", flush=True)
    run = fr.run_chapters(env, None, root / "run_lab.log")
    os.environ.update(env)
    executed = root / "work" / "full" / "executed"
    figures = {}
    for key, fn in (
        ("part2", lambda: fr.part2_figures(root / "work")),
        ("part3", lambda: fr.part3_figures(executed)),
        ("part4", lambda: fr.part4_figures(executed)),
    ):
        try:
            figures[key] = fn()
        except Exception as exc:  # a failed chapter: its figures are missing, the record says why
            figures[key] = {"error": f"{type(exc).__name__}: {exc}"}
    report = record(gpu, the_plan, run, figures, time.time() - t0, assets)
    out = out_path(gpu)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"gpu check: {report['minutes']} min on {gpu}, exit {run['exit_status']} -> {out}")
    return 0 if run["exit_status"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
