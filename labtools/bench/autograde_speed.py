"""Throughput of the class autograder: sequential ``nbgrader autograde`` vs ``autograder.grade_class``.

    python -m labtools.bench.autograde_speed [--jobs N] [--student S ...] [--limit K]

Both runs grade the same corpus submissions (``autograder/corpus/submitted``) with the same course
config (sandboxed kernel, same limits) in two fresh copies of a self-test course, and both produce
feedback pages:

* sequential: ``nbgrader autograde <assignment>`` (every student, one process) then
  ``nbgrader generate_feedback <assignment>``;
* parallel: ``python -m autograder.grade_class`` logic with ``--jobs`` workers (pre-checks, private
  course copy per student, autograde + feedback, serialized merge into the gradebook).

Prints both wall times, submissions per minute and the ratio; writes ``autograder/runs/bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

from autograder import AUTOGRADER_DIR
from autograder.corpus_spec import EXPECTED, SUBMITTED_DIR
from autograder.course import nbgrader, write_config
from autograder.grade_class import grade_class
from autograder.selftest import SELFTEST_ENV, prepare

RUNS = AUTOGRADER_DIR / "runs" / "bench"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count())
    ap.add_argument("--student", action="append", help="only these corpus students")
    ap.add_argument("--limit", type=int, default=None, help="only the first K corpus students")
    args = ap.parse_args(argv)
    os.environ.update({k: os.environ.get(k, v) for k, v in SELFTEST_ENV.items()})

    expected = json.loads(EXPECTED.read_text())
    students = sorted(args.student or expected)[: args.limit]
    assignments = sorted({expected[s]["assignment"] for s in students})
    base, _ = prepare(RUNS, only=assignments, log=lambda *a: None)

    seq, par = RUNS / "sequential", RUNS / "parallel"
    for d in (seq, par):
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(base, d)
        write_config(d)
    # sequential: plain nbgrader over the whole class
    for s in students:
        a = expected[s]["assignment"]
        src = SUBMITTED_DIR / s / a
        shutil.copytree(src, seq / "submitted" / s / a)
    t0 = time.time()
    for a in assignments:
        nbgrader(seq, "autograde", a, "--force", "--log-level=WARN", check=False)
        nbgrader(seq, "generate_feedback", a, "--force", "--log-level=WARN", check=False)
    t_seq = time.time() - t0

    t0 = time.time()
    grade_class(
        assignments,
        SUBMITTED_DIR,
        par,
        jobs=args.jobs,
        students=students,
        csv_path=par / "grades.csv",
        log=lambda *a: None,
    )
    t_par = time.time() - t0

    n = len(students)
    report = {
        "submissions": n,
        "jobs": args.jobs,
        "cpus": os.cpu_count(),
        "sequential_s": round(t_seq, 1),
        "parallel_s": round(t_par, 1),
        "sequential_per_min": round(60 * n / t_seq, 2),
        "parallel_per_min": round(60 * n / t_par, 2),
        "speedup": round(t_seq / t_par, 2),
    }
    (AUTOGRADER_DIR / "runs").mkdir(exist_ok=True)
    (AUTOGRADER_DIR / "runs" / "bench.json").write_text(json.dumps(report, indent=1) + "\n")
    print(
        f"bench: {n} submissions | sequential nbgrader autograde: {t_seq:.1f} s ({report['sequential_per_min']}/min)"
        f" | grade_class -j {args.jobs}: {t_par:.1f} s ({report['parallel_per_min']}/min)"
        f" | ratio (sequential/parallel) {report['speedup']}x"
    )


if __name__ == "__main__":
    main()  # prints its figures; a failure raises
