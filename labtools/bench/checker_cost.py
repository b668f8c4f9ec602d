"""What the outside-the-kernel checker costs: grading time per submission before and after, in one run.

    python -m labtools.bench.checker_cost [--before COMMIT] [--student S ...] [--jobs N]

*Before* is the project at ``--before`` (default: the last commit whose test cells ran hidden tests in the kernel),
unpacked with ``git archive`` into a temporary folder; *after* is this checkout. Both grade the same corpus
submissions (one correct and one wrong answer per chapter by default) with ``autograder.grade_class`` — the
sandboxed kernel, the self-test's limits, feedback pages — one after the other, each from its own generated
course and its own corpus, in a fresh Python process. Only grading is timed (course generation is not), in
``--rounds`` alternating rounds after both checkouts' modules are compiled; *after* includes drawing the checker's inputs and computing its references (once per class).

Prints both times, the seconds per submission and the ratio after/before; writes
``results/autograder/checker_cost.json``. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labtools import REPO_ROOT, provenance

#: the parent of the commit that moved the verdicts out of the kernel (hidden tests still in the chapters)
BEFORE = "7607abc"
STUDENTS = [
    "p1-correct",
    "p1-wrong-positions-T",
    "p2-correct",
    "p2-table-contradicts-logs",
    "p3-correct",
    "p3-mean-contradicts-runs",
    "p4-correct",
    "p4-fp4-instead-of-nf4",
]
OUT = REPO_ROOT / "results" / "autograder" / "checker_cost.json"

# runs inside the checkout being measured (its own autograder, corpus and solutions)
GRADE = """\
import json, os, sys, time
from autograder.selftest import SELFTEST_ENV, prepare, RUNS
from autograder.corpus_spec import EXPECTED, SUBMITTED_DIR
from autograder.grade_class import grade_class
os.environ.update({k: os.environ.get(k, v) for k, v in SELFTEST_ENV.items()})
students, jobs = json.loads(sys.argv[1]), int(sys.argv[2])
expected = json.loads(EXPECTED.read_text())
assignments = sorted({expected[s]["assignment"] for s in students})
course, _ = prepare(RUNS.parent / "bench-checker", only=assignments, log=lambda *a: None)
t0 = time.time()
lines = []
results = grade_class(assignments, SUBMITTED_DIR, course, jobs=jobs, students=students, log=lines.append)
seconds = time.time() - t0
scores = {r.student: [r.auto_score, r.auto_max, r.status] for r in results}
draw = [float(l.split(" in ")[-1].split()[0]) for l in lines if "checker inputs drawn" in l]
print("RESULT " + json.dumps({"seconds": seconds, "scores": scores, "class_setup": sum(draw)}))
"""


def grade(checkout: Path, students: list[str], jobs: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout))  # the checkout's autograder and frlab come first
    env.setdefault("FRLAB_WORK", str(REPO_ROOT / "work"))  # prepared grading inputs are shared
    out = subprocess.run(
        [sys.executable, "-c", GRADE, json.dumps(students), str(jobs)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"grading in {checkout} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return json.loads(line.removeprefix("RESULT "))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default=BEFORE, help="commit graded as 'before' (default %(default)s)")
    ap.add_argument("--student", action="append", help="corpus students (default: one right, one wrong per chapter)")
    ap.add_argument("--jobs", "-j", type=int, default=1, help="grading workers (default 1: time per submission)")
    ap.add_argument("--rounds", type=int, default=2, help="before/after rounds, alternating (default %(default)s)")
    args = ap.parse_args(argv)
    students = args.student or STUDENTS
    with tempfile.TemporaryDirectory(prefix="frlab-before-") as tmp:
        before_dir = Path(tmp)
        archive = subprocess.run(["git", "archive", args.before], cwd=REPO_ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(before_dir)], input=archive.stdout, check=True)
        for checkout in (before_dir, REPO_ROOT):  # both start with compiled modules: no first-import penalty
            subprocess.run([sys.executable, "-m", "compileall", "-q", "autograder", "frlab"], cwd=checkout, check=False)
        t0 = time.time()
        rounds = []
        for _ in range(args.rounds):  # alternating, so that a drift of the machine hits both alike
            rounds.append((grade(before_dir, students, args.jobs), grade(REPO_ROOT, students, args.jobs)))
        wall = time.time() - t0
    before = {"seconds": sum(b["seconds"] for b, _ in rounds), "scores": rounds[-1][0]["scores"]}
    after = {"seconds": sum(a["seconds"] for _, a in rounds), "scores": rounds[-1][1]["scores"]}
    per_round = [[round(b["seconds"], 1), round(a["seconds"], 1)] for b, a in rounds]
    setup = sum(a.get("class_setup", 0.0) for _, a in rounds)  # the checker's draw + references, once per class
    n = len(students) * args.rounds
    report = {
        "what": "grade_class time for the same corpus submissions: verdicts in the kernel (before) vs the checker",
        "before_commit": args.before,
        "after_commit": provenance.commit(),
        "submissions": len(students),
        "rounds": args.rounds,
        "seconds_per_round_before_after": per_round,
        "jobs": args.jobs,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "seconds_before": round(before["seconds"], 1),
        "seconds_after": round(after["seconds"], 1),
        "per_submission_before": round(before["seconds"] / n, 1),
        "per_submission_after": round(after["seconds"] / n, 1),
        "ratio_after_over_before": round(after["seconds"] / before["seconds"], 3),
        "after_class_setup_seconds": round(setup, 1),
        "per_submission_after_without_class_setup": round((after["seconds"] - setup) / n, 1),
        "ratio_without_class_setup": round((after["seconds"] - setup) / before["seconds"], 3),
        "scores_before": before["scores"],
        "scores_after": after["scores"],
        "bench_wall_seconds": round(wall, 1),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    print(
        f"checker cost: {len(students)} submissions x {args.rounds} rounds, {args.jobs} worker(s): before {report['seconds_before']} s "
        f"({report['per_submission_before']} s each), after {report['seconds_after']} s "
        f"({report['per_submission_after']} s each): ratio {report['ratio_after_over_before']}x (target <= 1.3x)"
    )
    print(
        f"  of which the checker's class set-up (draw + references, once per class): {report['after_class_setup_seconds']}"
        f" s; per submission without it {report['per_submission_after_without_class_setup']} s: ratio "
        f"{report['ratio_without_class_setup']}x"
    )
    print(f"wrote {OUT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
