"""The main job's wall time and what it shows: ``make run``'s ``python -m labtools.run_lab`` timed end to end.

    python -m labtools.bench.main_job [--budget-min 15] [-- RUN_LAB_ARGS ...]

Runs the main job as ``make run`` does (by default: the ``cpu`` profile on a machine without a GPU, the project's
shipped base model, one seed per initialisation, all of CLS-Books), prints its own output, then one line: the wall
time against the budget (a ratio, never an assertion), and Part 2's measured pretrained-vs-random gap. Writes
``results/main_job.json`` (the figures, each chapter's time, the command, the machine). For a fresh-clone
measurement run it from a new clone with empty ``FRLAB_WORK`` and ``FRLAB_CACHE`` (and ``FRLAB_FRESH=1``, which the
record then states).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time

from autograder import REPO_ROOT
from labtools import provenance

OUT = REPO_ROOT / "results" / "main_job.json"
GAP_LINE = re.compile(
    r"Part 2 \(fairseq\), this run: pretrained ([\d.]+) % / random ([\d.]+) % .*gap ([+-][\d.]+) points"
)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    own, rest = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget-min", type=float, default=15.0, help="the main job's time budget on 2 cores")
    args = ap.parse_args(own)
    cmd = [sys.executable, "-m", "labtools.run_lab", *rest]
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line.rstrip("\n"))
    rc = proc.wait()
    minutes = (time.time() - t0) / 60
    text = "\n".join(lines)
    gap = GAP_LINE.search(text)
    chapters = dict(re.findall(r"^--- (part\d_\w+): (?:ok|FAILED) in ([\d.]+) s$", text, re.M))
    profile = re.search(r"^frlab profile: (\w+)", text, re.M)
    report = {
        "what": "the main job (`make run`: python -m labtools.run_lab) timed end to end",
        "exit_status": rc,
        "profile": profile.group(1) if profile else None,
        "minutes": round(minutes, 1),
        "budget_minutes": args.budget_min,
        "ratio_to_budget": round(minutes / args.budget_min, 2),
        "chapter_seconds": {k: float(v) for k, v in chapters.items()},
        "part2": (
            {"pretrained": float(gap.group(1)), "random": float(gap.group(2)), "gap_points": float(gap.group(3))}
            if gap
            else None
        ),
        "provenance": {
            "command": " ".join(["python -m labtools.run_lab", *rest]),
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s)",
            "python": platform.python_version(),
            "git": provenance.commit(),
            "work_and_cache": "fresh (empty) folders" if os.environ.get("FRLAB_FRESH") else "this checkout's",
        },
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1) + "\n")
    print(
        f"main job: {minutes:.1f} min ({report['profile']} profile, exit {rc}), {report['ratio_to_budget']}x the "
        f"{args.budget_min:g}-min budget"
        + (f"; Part 2 gap {report['part2']['gap_points']:+.1f} points" if gap else "; no Part 2 gap printed")
        + f" -> {OUT.relative_to(REPO_ROOT)}"
    )
    return report


if __name__ == "__main__":
    main()
