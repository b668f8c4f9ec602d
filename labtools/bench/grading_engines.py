"""The engines of the class autograder on one machine: sequential nbgrader, grade_class's threads, Dask.

    python -m labtools.bench.grading_engines [--student S ...] [--jobs 2] [--workers 2]

The same corpus submissions (``autograder/corpus/submitted``), in one run, in three fresh copies of a self-test
course (same sandboxed kernel, limits and checker draw: ``FRLAB_CHECKER_SEED``), each writing feedback pages:

* sequential: ``nbgrader autograde <assignment>`` then ``nbgrader generate_feedback <assignment>`` (one process);
* threads: ``python -m autograder.grade_class -j JOBS`` (the default engine);
* Dask: ``python -m autograder.grade_class --local-cluster WORKERS`` (:mod:`autograder.dask_engine`), the cluster's
  start and stop included; the start-up of a LocalCluster alone is timed apart.

Prints the wall times, the ratios, and the overhead per submission of going through Dask
(``(dask - threads - cluster start-up) / submissions``: shipping the course and the submission as bytes, the
worker's temp folder, returning the files, and any slowdown of the grading itself, whose mean time per student is
reported for both engines); checks that the threads and Dask give the same CSV rows (seconds and
sandbox aside). Writes ``results/autograder/engines.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

from autograder import AUTOGRADER_DIR, REPO_ROOT
from autograder.corpus_spec import EXPECTED, SUBMITTED_DIR
from autograder.course import nbgrader, write_config
from autograder.grade_class import grade_class
from autograder.selftest import SELFTEST_ENV, prepare

RUNS = AUTOGRADER_DIR / "runs" / "bench-engines"
OUT = REPO_ROOT / "results" / "autograder" / "engines.json"
DEFAULT_STUDENTS = [
    "p1-correct",
    "p1-exception",
    "p1-type-float",
    "p1-untouched",
    "p1-wrong-positions-T",
    "p1-wrong-swapped",
]
VARYING = {"seconds", "sandbox"}


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return [{k: v for k, v in r.items() if k not in VARYING} for r in csv.DictReader(f)]


def _git() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except Exception:
        return ""


def cluster_startup(workers: int) -> float:
    """Seconds to start a LocalCluster of ``workers`` single-threaded processes, connect, and close it."""
    import logging

    from autograder.dask_engine import start_client

    t0 = time.time()
    client, cluster = start_client(local_cluster=workers)
    client.wait_for_workers(workers)
    logging.getLogger("distributed").setLevel(logging.CRITICAL)  # no shutdown-race tracebacks
    client.close()
    cluster.close()
    return time.time() - t0


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", action="append", help=f"corpus students (default: {' '.join(DEFAULT_STUDENTS)})")
    ap.add_argument("--jobs", "-j", type=int, default=2, help="threads of grade_class's default engine")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the Dask LocalCluster")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    os.environ.update({k: os.environ.get(k, v) for k, v in SELFTEST_ENV.items()})
    os.environ.setdefault("FRLAB_CHECKER_SEED", "123")  # one checker draw for the three runs

    expected = json.loads(EXPECTED.read_text())
    students = sorted(args.student or DEFAULT_STUDENTS)
    assignments = sorted({expected[s]["assignment"] for s in students})
    base, _ = prepare(RUNS, only=assignments, log=lambda *a: None)
    courses = {k: RUNS / k for k in ("sequential", "threads", "dask")}
    for d in courses.values():
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(base, d)
        write_config(d)
    cell_timeout = int(os.environ["FRLAB_CELL_TIMEOUT"])
    seconds = {}

    seq = courses["sequential"]
    for s in students:
        a = expected[s]["assignment"]
        shutil.copytree(SUBMITTED_DIR / s / a, seq / "submitted" / s / a)
    t0 = time.time()
    for a in assignments:
        nbgrader(seq, "autograde", a, "--force", "--log-level=WARN", check=False)
        nbgrader(seq, "generate_feedback", a, "--force", "--log-level=WARN", check=False)
    seconds["sequential"] = time.time() - t0

    for name, engine in (("threads", {"jobs": args.jobs}), ("dask", {"local_cluster": args.workers})):
        t0 = time.time()
        grade_class(
            assignments,
            SUBMITTED_DIR,
            courses[name],
            students=students,
            csv_path=courses[name] / "grades.csv",
            cell_timeout=cell_timeout,
            log=lambda *a: None,
            **engine,
        )
        seconds[name] = time.time() - t0
    startup = cluster_startup(args.workers)

    n = len(students)
    inside = {}  # mean seconds of one student's grading inside grade_student (the CSV's column), per engine
    for name in ("threads", "dask"):
        with (courses[name] / "grades.csv").open() as f:
            per_student = {(r["student"], r["assignment"]): float(r["seconds"]) for r in csv.DictReader(f)}
        inside[name] = round(sum(per_student.values()) / max(1, len(per_student)), 1)
    same = _rows(courses["threads"] / "grades.csv") == _rows(courses["dask"] / "grades.csv")
    results = {
        "submissions": n,
        "jobs": args.jobs,
        "dask_workers": args.workers,
        "cpus": os.cpu_count(),
        "sequential_s": round(seconds["sequential"], 1),
        "threads_s": round(seconds["threads"], 1),
        "dask_s": round(seconds["dask"], 1),
        "dask_cluster_startup_s": round(startup, 1),
        "per_min": {k: round(60 * n / v, 2) for k, v in seconds.items()},
        "threads_vs_sequential": round(seconds["sequential"] / seconds["threads"], 2),
        "dask_vs_sequential": round(seconds["sequential"] / seconds["dask"], 2),
        "dask_vs_threads": round(seconds["threads"] / seconds["dask"], 2),
        "dask_overhead_per_submission_s": round((seconds["dask"] - seconds["threads"] - startup) / n, 2),
        "grade_student_mean_s": inside,
        "threads_and_dask_same_csv": same,
    }
    report = {
        "what": "one run, the same corpus submissions graded three ways on this machine, each with feedback pages: "
        "sequential `nbgrader autograde` + `generate_feedback`, `grade_class -j JOBS` (threads, default engine), "
        "`grade_class --local-cluster WORKERS` (Dask, cluster start and stop included)",
        "results": results,
        "provenance": {
            "command": "python -m labtools.bench.grading_engines"
            + "".join(f" --student {s}" for s in args.student or [])
            + f" -j {args.jobs} --workers {args.workers}",
            "students": students,
            "env": {k: os.environ[k] for k in (*SELFTEST_ENV, "FRLAB_CHECKER_SEED")},
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s)",
            "python": platform.python_version(),
            "git": _git(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(
        f"engines: {n} submissions | sequential nbgrader {results['sequential_s']} s"
        f" | threads -j {args.jobs} {results['threads_s']} s ({results['threads_vs_sequential']}x sequential)"
        f" | Dask LocalCluster({args.workers}) {results['dask_s']} s ({results['dask_vs_sequential']}x sequential,"
        f" {results['dask_vs_threads']}x threads) | cluster start-up {results['dask_cluster_startup_s']} s,"
        f" Dask overhead {results['dask_overhead_per_submission_s']} s/submission"
        f" (one student inside grade_student: threads {inside['threads']} s, Dask {inside['dask']} s) | same CSV: {same}"
        f" -> {args.out.relative_to(REPO_ROOT) if args.out.is_relative_to(REPO_ROOT) else args.out}"
    )
    return report


if __name__ == "__main__":
    main()
