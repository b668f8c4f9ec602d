"""``python -m autograder.selftest``: grade the self-test corpus and fail on any mis-grade.

1. builds a private course in ``autograder/runs/selftest/course`` from ``solutions/`` (the instructor's
   gradebook in ``autograder/course`` is never touched) and checks that the committed student notebooks
   (``notebooks/``) and corpus (``autograder/corpus``) are what generation gives now (else: stale);
2. grades ``autograder/corpus/submitted`` with :func:`autograder.grade_class.grade_class` (parallel,
   sandboxed);
3. compares every submission with ``autograder/corpus/expected.json``: status, tamper flag, the set of
   passed tests and the score; checks that no forbidden path was written;
4. checks the feedback pages: no hidden-test source, no expected value the student did not write.

Exit status 1 on any mis-grade, crashed batch or leak; a JSON report goes to
``autograder/runs/selftest/report.json`` and the CSV to ``autograder/runs/selftest/grades.csv``.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from autograder import AUTOGRADER_DIR, leaks
from autograder.corpus_spec import EXPECTED, SUBMITTED_DIR, build
from autograder.generate import NOTEBOOKS_DIR, generate

RUNS = AUTOGRADER_DIR / "runs" / "selftest"

#: selftest limits: small enough to keep CI short, large enough for the smoke profile on 2 busy cores
SELFTEST_ENV = dict(
    FRLAB_CELL_TIMEOUT="120", FRLAB_SANDBOX_MEM_MB="4096", FRLAB_SANDBOX_CPU_S="600", FRLAB_PROFILE="smoke"
)


def _same_tree(a: Path, b: Path) -> list[str]:
    diffs = []
    cmp = filecmp.dircmp(a, b)
    diffs += [f"only in {a}: {x}" for x in cmp.left_only] + [f"only in {b}: {x}" for x in cmp.right_only]
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    diffs += [f"differs: {a / x}" for x in mismatch + errors]
    for sub in cmp.common_dirs:
        diffs += _same_tree(a / sub, b / sub)
    return diffs


def prepare(root: Path = RUNS, only: list[str] | None = None, log=print) -> tuple[Path, list[str]]:
    """Fresh course for the self-test + staleness problems of notebooks/ and the corpus."""
    course = root / "course"
    if course.exists():
        shutil.rmtree(course)
    tmp = Path(tempfile.mkdtemp(prefix="frlab-selftest-"))
    nbdir = tmp / "notebooks"
    generate(course, only=only, notebooks_dir=nbdir, log=log)
    stale = []
    for p in sorted(nbdir.glob("*.ipynb")):
        committed = NOTEBOOKS_DIR / p.name
        if not committed.exists() or committed.read_bytes() != p.read_bytes():
            stale.append(f"notebooks/{p.name} is stale: run `python -m autograder.generate`")
    if not only:
        corpus = tmp / "submitted"
        build(corpus, nbdir, tmp / "expected.json")
        if SUBMITTED_DIR.exists():
            stale += [f"corpus: {d}" for d in _same_tree(corpus, SUBMITTED_DIR)]
        else:
            stale.append("corpus: autograder/corpus/submitted is missing")
        if not EXPECTED.exists() or EXPECTED.read_text() != (tmp / "expected.json").read_text():
            stale.append("corpus: autograder/corpus/expected.json is stale")
        if stale:
            stale.append("(regenerate with `python -m autograder.generate`, which also rebuilds the corpus)")
    shutil.rmtree(tmp, ignore_errors=True)
    return course, stale


def compare(results, expected: dict) -> list[str]:
    by_student = {}
    for r in results:
        by_student.setdefault(r.student, []).append(r)
    problems = []
    for student, exp in sorted(expected.items()):
        got = [r for r in by_student.get(student, []) if r.notebook == exp["notebook"]]
        if not got:
            problems.append(f"{student}: not graded (batch crashed?)")
            continue
        r = got[0]
        if r.status != exp["status"]:
            problems.append(f"{student}: status {r.status!r}, expected {exp['status']!r} ({r.reason})")
        if r.tampered != exp["tampered"]:
            problems.append(f"{student}: tampered={r.tampered}, expected {exp['tampered']} ({r.tamper_details})")
        if sorted(r.passed_tests) != exp["passed"]:
            problems.append(f"{student}: passed {sorted(r.passed_tests)}, expected {exp['passed']}")
        if abs(r.auto_score - exp["auto_score"]) > 1e-9 or abs(r.auto_max - exp["auto_max"]) > 1e-9:
            problems.append(
                f"{student}: score {r.auto_score:g}/{r.auto_max:g}, expected {exp['auto_score']:g}/{exp['auto_max']:g}"
            )
        for f in exp.get("forbidden", []):
            if os.path.exists(f):
                problems.append(f"{student}: wrote outside its folder: {f} exists")
    for student in set(by_student) - set(expected):
        problems.append(f"{student}: graded but has no expected result")
    return problems


def _own_outputs(autograded: Path) -> str:
    """Text outputs of the cells without hidden tests: what the student's own code printed (allowed)."""
    import nbformat

    if not autograded.exists():
        return ""
    chunks = []
    for cell in nbformat.read(str(autograded), as_version=4).cells:
        if cell.cell_type != "code" or leaks.BEGIN_HID in cell.source:
            continue
        for o in cell.get("outputs", []):
            chunks.append(str(o.get("text", "")))
            chunks += [str(v) for k, v in (o.get("data") or {}).items() if k.startswith("text/")]
    return "\n".join(chunks)


def _decoded_texts(path: Path) -> list[str]:
    """The texts a reader could get out of a feedback file: raw, HTML unescaped, JSON (notebook) decoded."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    texts = [raw, leaks.html_text(raw)]
    if path.suffix in (".ipynb", ".json"):
        texts.append(leaks.notebook_text(path))
    return texts


def check_feedback(course: Path, submitted: Path, expected: dict) -> tuple[list[str], int]:
    """Leak problems in the feedback folders. Only the feedback pages and regular files the student submitted may
    be there (no link, nothing the kernel made). Expected values are allowed only where the student's own code
    wrote or printed them (their submission, outputs of cells without hidden tests); hidden-test source never."""
    from autograder.grade_one import regular_files

    sec = leaks.secrets()
    problems, pages = [], 0
    for student, exp in expected.items():
        fb_dir = course / "feedback" / student / exp["assignment"]
        sub_dir = submitted / student / exp["assignment"]
        allowed = regular_files(sub_dir) if sub_dir.is_dir() else set()
        own = sub_dir / f"{exp['notebook']}.ipynb"
        own_text = leaks.notebook_text(own) if own.exists() else ""
        own_text += "\n" + _own_outputs(
            course / "autograded" / student / exp["assignment"] / f"{exp['notebook']}.ipynb"
        )
        for path in sorted(fb_dir.rglob("*")) if fb_dir.is_dir() else []:
            rel = path.relative_to(fb_dir).as_posix()
            if path.is_symlink():
                problems.append(f"{path}: a link in the feedback folder")
                continue
            if path.is_dir():
                continue
            if path.suffix == ".html":
                pages += 1
            elif rel not in allowed:
                problems.append(f"{path}: not a file of the submission")
                continue
            for text in _decoded_texts(path):
                for line in sec.hidden_lines:
                    if line in leaks._norm(text):
                        problems.append(f"{path}: shows hidden test {line!r}")
                for v in sec.numbers:
                    m = leaks._pat(v).search(text)
                    if m and not leaks._pat(v).search(own_text):
                        problems.append(f"{path}: shows expected value {m.group(0)!r} the student did not write")
    return sorted(set(problems)), pages


def run(
    jobs: int | None = None,
    only: list[str] | None = None,
    students: list[str] | None = None,
    log=print,
    local_cluster: int | None = None,
) -> dict:
    """Grade the corpus (``only`` these assignments, these ``students``) and compare with what each case expects;
    ``local_cluster``: on a Dask LocalCluster of that many workers instead of ``jobs`` threads."""
    from autograder.grade_class import grade_class

    os.environ.update({k: os.environ.get(k, v) for k, v in SELFTEST_ENV.items()})
    t0 = time.time()
    course, stale = prepare(only=only, log=log)
    t_gen = time.time() - t0
    expected = json.loads(EXPECTED.read_text())
    if only:
        expected = {s: e for s, e in expected.items() if e["assignment"] in only}
    if students:
        expected = {s: e for s, e in expected.items() if s in students}
    for e in expected.values():
        for f in e.get("forbidden", []):
            if os.path.exists(f):
                os.remove(f)
    t1 = time.time()
    # submissions with their own limits (e.g. a short per-notebook time limit) are graded in their own batch
    groups: dict[int | None, list[str]] = {}
    for s, e in expected.items():
        groups.setdefault(e.get("limits", {}).get("notebook_timeout"), []).append(s)
    results = []
    for nb_timeout, group in sorted(groups.items(), key=lambda kv: kv[0] or 0):
        kw = {"notebook_timeout": nb_timeout} if nb_timeout else {}
        kw["cell_timeout"] = int(os.environ["FRLAB_CELL_TIMEOUT"])
        group_assignments = sorted({expected[s]["assignment"] for s in group})
        if local_cluster:
            kw["local_cluster"] = local_cluster
        results += grade_class(
            group_assignments, SUBMITTED_DIR, course, jobs=jobs, students=sorted(group), log=log, **kw
        )
    from autograder.grade_class import write_csv

    results.sort(key=lambda r: (r.assignment, r.student, r.notebook))
    write_csv(results, RUNS / "grades.csv")
    t_grade = time.time() - t1
    misgrades = compare(results, expected)
    fb_problems, pages = check_feedback(course, SUBMITTED_DIR, expected)
    report = {
        "submissions": len(expected),
        "misgrades": misgrades,
        "stale": stale,
        "feedback_leaks": fb_problems,
        "feedback_pages": pages,
        "seconds_generate": round(t_gen, 1),
        "seconds_grade": round(t_grade, 1),
        "jobs": jobs or os.cpu_count(),
        "engine": f"Dask LocalCluster({local_cluster})" if local_cluster else "threads",
        "sandbox": results[0].sandbox if results else "",
        "ok": not (misgrades or stale or fb_problems),
    }
    RUNS.mkdir(parents=True, exist_ok=True)
    (RUNS / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", "-j", type=int, default=None)
    ap.add_argument("--only", action="append", help="only these assignments")
    ap.add_argument("--student", action="append", help="only these corpus students")
    ap.add_argument("--local-cluster", type=int, metavar="N", help="grade on a Dask LocalCluster of N workers")
    args = ap.parse_args(argv)
    rep = run(args.jobs, args.only, args.student, local_cluster=args.local_cluster)
    for k in ("stale", "misgrades", "feedback_leaks"):
        for p in rep[k]:
            print(f"{k.upper()}: {p}")
    print(
        f"selftest: {rep['submissions']} submission(s), {len(rep['misgrades'])} mis-grade(s), "
        f"{len(rep['feedback_leaks'])} feedback leak(s) in {rep['feedback_pages']} page(s), "
        f"{len(rep['stale'])} stale; grading {rep['seconds_grade']} s with {rep['engine']} ({rep['jobs']} worker(s)), "
        f"sandbox={rep['sandbox']}"
    )
    return 0 if rep["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
