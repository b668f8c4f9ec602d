"""The engines of the class autograder on one machine: sequential nbgrader, grade_class's threads, Dask.

    python -m labtools.bench.grading_engines [--student S ...] [--jobs 2] [--workers 2] [--rounds 3]

The same corpus submissions (``autograder/corpus/submitted``; by default ten, a right and a wrong one of every
chapter), in one run, in fresh copies of a self-test course (same sandboxed kernel, limits and checker draw:
``FRLAB_CHECKER_SEED``), each writing feedback pages, ``--rounds`` times (the engines' order rotates from one round
to the next; each mode is reported as min / median / max over the rounds, and so is each ratio, taken within a
round):

* sequential: ``nbgrader autograde <assignment>`` then ``nbgrader generate_feedback <assignment>`` (one process);
* threads: ``python -m autograder.grade_class -j JOBS`` (the default engine; its similarity report, which
  sequential nbgrader does not make, is left out of the timing: ``--no-similarity``);
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
import statistics
import time
from pathlib import Path

from autograder import AUTOGRADER_DIR, REPO_ROOT
from autograder.corpus_spec import EXPECTED, SUBMITTED_DIR
from autograder.course import nbgrader, write_config
from autograder.grade_class import grade_class
from autograder.selftest import SELFTEST_ENV, prepare
from labtools import provenance

RUNS = AUTOGRADER_DIR / "runs" / "bench-engines"
OUT = REPO_ROOT / "results" / "autograder" / "engines.json"
#: the submissions of the first measurement (results/autograder/README.md): 4 of Part 1, 2 of each other chapter
DEFAULT_STUDENTS = [
    "p1-correct",
    "p1-wrong-swapped",
    "p1-exception",
    "p1-type-float",
    "p2-correct",
    "p2-table-contradicts-logs",
    "p3-correct",
    "p3-mean-contradicts-runs",
    "p4-correct",
    "p4-fp4-instead-of-nf4",
]
ENGINES = ("sequential", "threads", "dask")
VARYING = {"seconds", "sandbox"}


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return [{k: v for k, v in r.items() if k not in VARYING} for r in csv.DictReader(f)]


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


def spread(values: list[float], ndigits: int = 1) -> dict:
    """min / median / max of ``values``."""
    return {
        "min": round(min(values), ndigits),
        "median": round(statistics.median(values), ndigits),
        "max": round(max(values), ndigits),
    }


def one_round(base: Path, students, assignments, expected, order, args, cell_timeout) -> tuple[dict, bool]:
    """One round: the three engines in ``order``, each on a fresh copy of the course; (seconds, same CSV)."""
    courses = {k: RUNS / k for k in ENGINES}
    for d in courses.values():
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(base, d)
        write_config(d)
    seq = courses["sequential"]
    for s in students:
        a = expected[s]["assignment"]
        shutil.copytree(SUBMITTED_DIR / s / a, seq / "submitted" / s / a)
    seconds = {}
    for name in order:
        t0 = time.time()
        if name == "sequential":
            for a in assignments:
                nbgrader(seq, "autograde", a, "--force", "--log-level=WARN", check=False)
                nbgrader(seq, "generate_feedback", a, "--force", "--log-level=WARN", check=False)
        else:
            grade_class(
                assignments,
                SUBMITTED_DIR,
                courses[name],
                students=students,
                csv_path=courses[name] / "grades.csv",
                cell_timeout=cell_timeout,
                log=lambda *a: None,
                similarity=False,
                **({"jobs": args.jobs} if name == "threads" else {"local_cluster": args.workers}),
            )
        seconds[name] = time.time() - t0
    return seconds, _rows(courses["threads"] / "grades.csv") == _rows(courses["dask"] / "grades.csv")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", action="append", help=f"corpus students (default: {' '.join(DEFAULT_STUDENTS)})")
    ap.add_argument("--jobs", "-j", type=int, default=2, help="threads of grade_class's default engine")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the Dask LocalCluster")
    ap.add_argument("--rounds", type=int, default=3, help="runs of the three engines (min/median/max reported)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    os.environ.update({k: os.environ.get(k, v) for k, v in SELFTEST_ENV.items()})
    os.environ.setdefault("FRLAB_CHECKER_SEED", "123")  # one checker draw for the three runs

    expected = json.loads(EXPECTED.read_text())
    students = sorted(args.student or DEFAULT_STUDENTS)
    assignments = sorted({expected[s]["assignment"] for s in students})
    base, _ = prepare(RUNS, only=assignments, log=lambda *a: None)
    cell_timeout = int(os.environ["FRLAB_CELL_TIMEOUT"])
    rounds = []
    for k in range(args.rounds):
        order = ENGINES[k % 3 :] + ENGINES[: k % 3]
        seconds, same = one_round(base, students, assignments, expected, order, args, cell_timeout)
        rounds.append({"order": list(order), "seconds": {e: round(seconds[e], 1) for e in ENGINES}, "same_csv": same})
        print(
            f"engines: round {k + 1}/{args.rounds} ({' -> '.join(order)}): "
            + ", ".join(f"{e} {seconds[e]:.1f} s" for e in ENGINES)
            + f", sequential/threads {seconds['sequential'] / seconds['threads']:.2f}x",
            flush=True,
        )
    startup = cluster_startup(args.workers)

    n = len(students)
    stats = {e: spread([r["seconds"][e] for r in rounds]) for e in ENGINES}
    ratio = {
        "threads_vs_sequential": spread([r["seconds"]["sequential"] / r["seconds"]["threads"] for r in rounds], 2),
        "dask_vs_sequential": spread([r["seconds"]["sequential"] / r["seconds"]["dask"] for r in rounds], 2),
        "dask_vs_threads": spread([r["seconds"]["threads"] / r["seconds"]["dask"] for r in rounds], 2),
    }
    overhead = spread([(r["seconds"]["dask"] - r["seconds"]["threads"] - startup) / n for r in rounds], 2)
    results = {
        "submissions": n,
        "jobs": args.jobs,
        "dask_workers": args.workers,
        "cpus": os.cpu_count(),
        "rounds": rounds,
        "seconds": stats,
        "ratios": ratio,
        "per_min_median": {e: round(60 * n / stats[e]["median"], 2) for e in ENGINES},
        "dask_cluster_startup_s": round(startup, 1),
        "dask_overhead_per_submission_s": overhead,
        "threads_and_dask_same_csv": all(r["same_csv"] for r in rounds),
    }
    report = {
        "what": "the same corpus submissions graded three ways on this machine in each round, each with feedback "
        "pages: sequential `nbgrader autograde` + `generate_feedback`, `grade_class -j JOBS --no-similarity` "
        "(threads, default engine), `grade_class --local-cluster WORKERS --no-similarity` (Dask, cluster start and "
        "stop included); seconds and ratios as min / median / max over the rounds (a ratio within a round)",
        "results": results,
        "provenance": {
            "command": "python -m labtools.bench.grading_engines"
            + "".join(f" --student {s}" for s in args.student or [])
            + f" -j {args.jobs} --workers {args.workers} --rounds {args.rounds}",
            "students": students,
            "env": {k: os.environ[k] for k in (*SELFTEST_ENV, "FRLAB_CHECKER_SEED")},
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s)",
            "python": platform.python_version(),
            "git": provenance.commit(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")

    def fmt(d):
        return f"{d['median']} (min {d['min']}, max {d['max']})"

    print(
        f"engines: {n} submissions, {args.rounds} round(s), median (min, max) | sequential nbgrader"
        f" {fmt(stats['sequential'])} s | threads -j {args.jobs} {fmt(stats['threads'])} s | Dask LocalCluster"
        f"({args.workers}) {fmt(stats['dask'])} s\n"
        f"engines: threads / sequential {fmt(ratio['threads_vs_sequential'])}x | Dask / sequential"
        f" {fmt(ratio['dask_vs_sequential'])}x | Dask / threads {fmt(ratio['dask_vs_threads'])}x | cluster start-up"
        f" {results['dask_cluster_startup_s']} s | Dask overhead {fmt(overhead)} s/submission | same CSV:"
        f" {results['threads_and_dask_same_csv']}"
        f" -> {args.out.relative_to(REPO_ROOT) if args.out.is_relative_to(REPO_ROOT) else args.out}"
    )
    return report


if __name__ == "__main__":
    main()
