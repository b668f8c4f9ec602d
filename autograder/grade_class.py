"""``python -m autograder.grade_class``: autograde a whole class in parallel, sandboxed, and export CSV.

Layout (nbgrader's): ``<submitted>/<student>/<assignment>/<notebook>.ipynb`` (+ the artefacts the
notebook needs: run logs, result JSON), graded against the course dir (default ``autograder/course``,
built by ``python -m autograder.generate``).

One worker per student (``--jobs`` at a time). Each worker gets a private copy of the course
(config, source notebooks, a snapshot of ``gradebook.db``) and runs nbgrader's autograde + generate-feedback
there, in one process (:mod:`autograder.grade_one`), so workers never write to the same SQLite file. The main
process then merges each result into the course gradebook, one at a time (scores, ``flagged`` for
tampering), and copies ``autograded/`` and ``feedback/`` back.

Engines: a pool of ``--jobs`` threads here (default), or a Dask cluster, ``--scheduler tcp://HOST:8786`` (a running
one) or ``--local-cluster N`` (N single-threaded worker processes here): the same grading per student on the
workers, shipped to them and back as bytes, merged here (:mod:`autograder.dask_engine`; README "Grading a large
class").

Before grading, each notebook is checked:

* missing -> zero, reason "notebook not submitted";
* unreadable / invalid ``.ipynb`` -> zero, reason "corrupt notebook: ..." (it is not passed to nbgrader,
  which would abort the student's whole assignment);
* tampering -> graded normally (nbgrader restores locked test cells from the gradebook and re-adds
  deleted ones, ``OverwriteCells.add_missing_cells``) and flagged: ``tampered`` / ``tamper_details``
  in the CSV and ``flagged`` in the gradebook.

Limits: the kernel runs in the sandbox (:mod:`autograder.sandbox`: no network, writes confined to the
submission folder, memory and CPU-time limits); each cell has ``FRLAB_CELL_TIMEOUT`` seconds (then it is
interrupted and grading goes on); a student's whole assignment has ``FRLAB_NOTEBOOK_TIMEOUT`` seconds
per notebook, after which the worker is killed and the remaining notebooks score zero.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder import COURSE_DIR, COURSE_ID, checker
from autograder.course import CELL_TIMEOUT, NOTEBOOK_TIMEOUT, nbgrader_env, write_config
from autograder.grade_one import TOOK, regular_files

FEEDBACK_TIMEOUT = 120  # seconds for the feedback page, on top of the assignment's grading limit
TOOK_PATTERN = re.escape(TOOK).replace(re.escape("{:.1f}"), r"([\d.]+)")

CSV_FIELDS = [
    "student",
    "assignment",
    "notebook",
    "status",
    "auto_score",
    "auto_max",
    "manual_max",
    "needs_manual_grade",
    "tampered",
    "tamper_details",
    "reason",
    "failed_tests",
    "passed_tests",
    "mistyped_tests",
    "similar_to",
    "sandbox",
    "seconds",
]


@dataclass
class NotebookResult:
    student: str
    assignment: str
    notebook: str
    status: str = "graded"  # graded | missing | corrupt | timeout | error
    auto_score: float = 0.0
    auto_max: float = 0.0
    manual_max: float = 0.0
    needs_manual_grade: bool = False
    tampered: bool = False
    tamper_details: list[str] = field(default_factory=list)
    reason: str = ""
    failed_tests: list[str] = field(default_factory=list)
    passed_tests: list[str] = field(default_factory=list)
    mistyped_tests: list[str] = field(default_factory=list)  # failed because an answer had the wrong type
    similar_to: list[str] = field(default_factory=list)  # flagged pairs of the similarity report (never a grade)
    grades: dict = field(default_factory=dict)  # grade_id -> {"auto_score", "max", "manual", "needs_manual"}
    sandbox: str = ""
    seconds: float = 0.0

    def row(self) -> dict:
        d = asdict(self)
        d.pop("grades")
        for k in ("tamper_details", "failed_tests", "passed_tests", "mistyped_tests", "similar_to"):
            d[k] = "; ".join(d[k])
        d["seconds"] = round(self.seconds, 1)
        return d


# ---------------------------------------------------------------------------------------------- checks


def release_notebook(course: Path, assignment: str, notebook: str):
    return nbformat.read(str(Path(course) / "release" / assignment / f"{notebook}.ipynb"), as_version=4)


def graded_cells(nb) -> dict[str, dict]:
    """grade_id -> {"source", "cell_type", "grade", "solution", "locked", "points"} of nbgrader cells."""
    out = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if not meta or not meta.get("grade_id"):
            continue
        out.setdefault(
            meta["grade_id"],
            {
                "source": cell.get("source", ""),
                "cell_type": cell.get("cell_type"),
                "grade": bool(meta.get("grade")),
                "solution": bool(meta.get("solution")),
                "locked": bool(meta.get("locked")),
                "points": meta.get("points"),
                "count": 0,
            },
        )
        out[meta["grade_id"]]["count"] += 1
    return out


def _clean(src) -> str:
    src = "".join(src) if isinstance(src, list) else (src or "")
    return "\n".join(line.rstrip() for line in src.strip().splitlines())


def tamper_check(submitted_nb, release_nb) -> list[str]:
    """Differences in the read-only (locked) nbgrader cells between a submission and the release."""
    ref, sub = graded_cells(release_nb), graded_cells(submitted_nb)
    problems = []
    for gid, r in ref.items():
        s = sub.get(gid)
        if s is None:
            if r["locked"] or r["grade"]:
                problems.append(f"deleted cell {gid}")
            continue
        if s["count"] > 1:
            problems.append(f"duplicated cell {gid}")
        if s["cell_type"] != r["cell_type"]:
            problems.append(f"cell type of {gid} changed")
        if r["locked"] and _clean(s["source"]) != _clean(r["source"]):
            problems.append(f"edited test cell {gid}" if r["grade"] else f"edited read-only cell {gid}")
        for k in ("grade", "solution", "locked", "points"):
            if s[k] != r[k]:
                problems.append(f"metadata '{k}' of {gid} changed")
                break
    return problems


#: cell tags that change how a cell is executed (nbclient skips ``skip-execution`` cells and lets cells tagged
#: ``raises-exception`` fail silently); any tag on a locked cell of the release is restored anyway
EXECUTION_TAGS = ("skip-execution", "raises-exception")


def restore_locked_cells(submitted_nb, release_nb) -> list[str]:
    """Give every locked cell of the release (tests and read-only cells) its release metadata back, tags included,
    so that a test cell always runs as written; returns what was changed (flagged as tampering)."""
    release = {}
    for cell in release_nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        if meta.get("locked") and meta.get("grade_id"):
            release[meta["grade_id"]] = cell.metadata
    changed = []
    for cell in submitted_nb.cells:
        gid = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        if gid not in release:
            continue
        tags = set(cell.metadata.get("tags") or []) - set(release[gid].get("tags") or [])
        if tags:
            changed.append(f"tags {sorted(tags)} added to {gid}")
        cell.metadata = copy.deepcopy(release[gid])
    return changed


def read_notebook(path: Path):
    """(notebook, None) or (None, reason) for an unreadable/invalid file."""
    try:
        raw = path.read_bytes()
        if not raw.strip():
            return None, "corrupt notebook: empty file"
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
        return nb, None
    except UnicodeDecodeError as exc:
        return None, f"corrupt notebook: not UTF-8 text ({exc.reason})"
    except json.JSONDecodeError as exc:
        return None, f"corrupt notebook: invalid JSON ({exc.msg} at line {exc.lineno})"
    except Exception as exc:  # nbformat.ValidationError, NBFormatError, ...
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return None, f"corrupt notebook: {type(exc).__name__}: {msg}"


ARTEFACT_ERRORS = ("MissingArtefact", "RunLogError")


def artefact_problems(autograded: Path) -> list[str]:
    """Messages of missing/unreadable submitted artefacts raised while the notebook ran (for the CSV)."""
    out = []
    try:
        nb = nbformat.read(str(autograded), as_version=4)
    except Exception:
        return out
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error" and o.get("ename") in ARTEFACT_ERRORS:
                msg = f"{o['ename']}: {str(o.get('evalue', ''))[:160]}"
                if msg not in out:
                    out.append(msg)
    return out


# --------------------------------------------------------------------------------------------- worker


def _copy_course_skeleton(
    course: Path, dest: Path, assignment: str, cell_timeout: int, checker_draw: Path | None = None
) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    write_config(dest, cell_timeout=cell_timeout)
    shutil.copytree(course / "source" / assignment, dest / "source" / assignment)
    if checker_draw:  # the class's inputs and references of the checker (autograder/checker.py)
        shutil.copy2(checker_draw, dest / checker.DRAW_FILE)


def _scores_from_gradebook(
    db_url: str, assignment: str, student: str, notebook: str, release_nb, res: NotebookResult
) -> None:
    from nbgrader.api import Gradebook

    ref = graded_cells(release_nb)
    with Gradebook(db_url, COURSE_ID) as gb:
        sn = gb.find_submission_notebook(notebook, assignment, student)
        for g in sn.grades:
            r = ref.get(g.name, {})
            manual = bool(r.get("solution")) or r.get("cell_type") == "markdown"
            res.grades[g.name] = {
                "auto_score": g.auto_score,
                "max": float(g.max_score or 0),
                "manual": manual,
                "needs_manual": bool(g.needs_manual_grade),
            }
            if manual:
                res.manual_max += float(g.max_score or 0)
                res.needs_manual_grade |= bool(g.needs_manual_grade)
            else:
                res.auto_max += float(g.max_score or 0)
                score = float(g.auto_score or 0)
                res.auto_score += score
                (res.passed_tests if score >= float(g.max_score or 0) else res.failed_tests).append(g.name)


def _zero(res: NotebookResult, release_nb, status: str, reason: str) -> NotebookResult:
    res.status, res.reason = status, reason
    res.grades, res.failed_tests, res.passed_tests = {}, [], []
    res.auto_max = res.manual_max = 0.0
    for gid, r in graded_cells(release_nb).items():
        if not r["grade"]:
            continue
        manual = r["solution"] or r["cell_type"] == "markdown"
        pts = float(r["points"] or 0)
        res.grades[gid] = {"auto_score": 0.0, "max": pts, "manual": manual, "needs_manual": False}
        if manual:
            res.manual_max += pts
        else:
            res.auto_max += pts
            res.failed_tests.append(gid)
    res.auto_score = 0.0
    return res


def run_grade_one(workdir: Path, assignment: str, student: str, env: dict, limit: float) -> tuple[str, bool]:
    """Autograde + feedback page in one process (:mod:`autograder.grade_one`: one start-up, not two), forked by
    this grader's fork server with nbgrader already imported (:mod:`autograder.runner`: milliseconds instead of
    seconds per student); returns (log, timed_out). Autograding has ``limit`` seconds, then the process group is
    killed; once the runner has reported that autograding finished, the feedback page gets ``FEEDBACK_TIMEOUT``
    more."""
    from autograder import runner

    argv = ["grade_one", assignment, student]
    return runner.shared().run(argv, workdir, env, limit, FEEDBACK_TIMEOUT, TOOK_PATTERN)


def grade_student(
    course: Path,
    submitted: Path,
    student: str,
    assignment: str,
    workdir: Path,
    cell_timeout: int = CELL_TIMEOUT,
    notebook_timeout: int = NOTEBOOK_TIMEOUT,
    db_snapshot: Path | None = None,
    sandbox: str = "",
    checker_draw: Path | None = None,
) -> tuple[list[NotebookResult], Path]:
    """Grade one student's assignment in a private course copy ``workdir``; returns (results, workdir)."""
    t0 = time.time()
    course, workdir = Path(course), Path(workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    _copy_course_skeleton(course, workdir, assignment, cell_timeout, checker_draw)
    shutil.copy2(db_snapshot or course / "gradebook.db", workdir / "gradebook.db")
    sub_src = Path(submitted) / student / assignment
    sub_dst = workdir / "submitted" / student / assignment
    if sub_src.exists():
        for rel in sorted(regular_files(sub_src)):  # regular files only: a submitted link is never followed
            (sub_dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(sub_src / rel, sub_dst / rel)
        sub_dst.mkdir(parents=True, exist_ok=True)
    else:
        sub_dst.mkdir(parents=True)
    notebooks = sorted(p.stem for p in (course / "release" / assignment).glob("*.ipynb"))
    results, to_grade, releases = {}, [], {}
    for name in notebooks:
        rel = releases[name] = release_notebook(course, assignment, name)
        res = results[name] = NotebookResult(student, assignment, name, sandbox=sandbox)
        path = sub_dst / f"{name}.ipynb"
        if not path.exists():
            _zero(res, rel, "missing", "notebook not submitted")
            continue
        nb, why = read_notebook(path)
        if nb is None:
            _zero(res, rel, "corrupt", why)
            path.rename(path.with_suffix(".ipynb.corrupt"))  # nbgrader then scores it zero as missing
            continue
        res.tamper_details = tamper_check(nb, rel)
        restored = restore_locked_cells(nb, rel)
        if restored:
            nbformat.write(nb, str(path))  # graded with the release's metadata: every test cell runs
        res.tamper_details += [r for r in restored if r not in res.tamper_details]
        res.tampered = bool(res.tamper_details)
        to_grade.append(name)

    if to_grade:
        env = nbgrader_env(workdir)
        env["FRLAB_CELL_TIMEOUT"] = str(cell_timeout)
        # the kernel must not see the course copy (gradebook, source with hidden tests)
        env["FRLAB_SANDBOX_HIDE"] = os.pathsep.join(
            [str(course), str(workdir / "source"), str(workdir / "gradebook.db"), env.get("FRLAB_SANDBOX_HIDE", "")]
        )
        limit = notebook_timeout * len(to_grade)
        log, timed_out = run_grade_one(workdir, assignment, student, env, limit)
        if timed_out:
            for name in to_grade:
                _zero(
                    results[name],
                    releases[name],
                    "timeout",
                    f"assignment time limit exceeded ({limit} s): grading stopped",
                )
            to_grade = []
        (workdir / "autograde.log").write_text(log or "")
        notes = []
        m = re.search(r"kernel died in cell (\d+)", log or "")
        if m:
            notes.append(f"the kernel died in cell {m.group(1)} (crash, memory or CPU-time limit); later cells not run")
        n_timeouts = (log or "").count("Timeout waiting for execute reply")
        if n_timeouts:
            notes.append(f"{n_timeouts} cell(s) stopped at the {cell_timeout} s per-cell time limit")
        mistyped = re.findall(checker.LOG_WRONG_TYPE, log or "")
        for name in to_grade:
            res = results[name]
            res.mistyped_tests = sorted({gid for nb, gid in mistyped if nb == name})
            try:
                _scores_from_gradebook(
                    f"sqlite:///{workdir / 'gradebook.db'}", assignment, student, name, releases[name], res
                )
                if not (workdir / "autograded" / student / assignment / f"{name}.ipynb").exists():
                    raise RuntimeError("nbgrader wrote no autograded notebook")
                res.reason = "; ".join(
                    notes + artefact_problems(workdir / "autograded" / student / assignment / f"{name}.ipynb")
                )
            except Exception as exc:
                tail = "\n".join(line for line in (log or "").splitlines() if "ERROR" in line)[-500:]
                _zero(res, releases[name], "error", f"autograde failed: {type(exc).__name__}: {exc} {tail}".strip())
    dt = time.time() - t0
    for r in results.values():
        r.seconds = dt
    return list(results.values()), workdir


# ---------------------------------------------------------------------------------------------- merge

_merge_lock = threading.Lock()


def merge_into_gradebook(course: Path, results: list[NotebookResult], workdir: Path) -> None:
    """Write one student's results into the course gradebook and copy autograded/feedback back."""
    from nbgrader.api import Gradebook

    with _merge_lock:
        course = Path(course)
        for sub in ("autograded", "feedback"):
            for res in results:
                if sub == "feedback" and res.status != "graded":  # no page for a result we zeroed
                    continue
                src = workdir / sub / res.student / res.assignment
                dst = course / sub / res.student / res.assignment
                if src.exists():
                    if dst.exists():
                        shutil.rmtree(dst)
                    shutil.copytree(src, dst, symlinks=True)  # never follow a link (there should be none)
        with warnings.catch_warnings(), Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
            warnings.simplefilter("ignore")  # SQLAlchemy 2 warnings inside nbgrader's API
            for res in results:
                gb.update_or_create_student(res.student)
                gb.update_or_create_submission(res.assignment, res.student)
                sn = gb.find_submission_notebook(res.notebook, res.assignment, res.student)
                sn.flagged = bool(res.tampered or res.status != "graded")
                for g in sn.grades:
                    got = res.grades.get(g.name)
                    if got is None:
                        continue
                    if not got["manual"]:
                        g.auto_score = got["auto_score"] or 0.0
                        g.needs_manual_grade = False
                    else:
                        g.auto_score = got["auto_score"]
                        g.needs_manual_grade = bool(got["needs_manual"])
                gb.db.commit()


# -------------------------------------------------------------------------------------------- driver


def students_in(submitted: Path, assignment: str | None = None) -> list[str]:
    out = []
    for d in sorted(Path(submitted).iterdir()):
        if d.is_dir() and not d.name.startswith(".") and (assignment is None or (d / assignment).exists()):
            out.append(d.name)
    return out


def sandbox_mode() -> str:
    mode = os.environ.get("FRLAB_SANDBOX", "bwrap")
    if mode == "none":
        return "none"
    from autograder.sandbox import bwrap_works

    if bwrap_works():
        return "bwrap"
    if mode == "bwrap":
        raise SystemExit(
            "grade_class: bubblewrap is missing or cannot create namespaces (apt-get install "
            "bubblewrap); FRLAB_SANDBOX=auto grades without isolation"
        )
    print("grade_class: WARNING: no sandbox (bwrap unusable): resource limits only", file=sys.stderr)
    return "none"


def grade_class(
    assignments: list[str],
    submitted: Path,
    course: Path = COURSE_DIR,
    jobs: int | None = None,
    csv_path: Path | None = None,
    students: list[str] | None = None,
    cell_timeout: int = CELL_TIMEOUT,
    notebook_timeout: int = NOTEBOOK_TIMEOUT,
    keep_workdirs: bool = False,
    log=print,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    retries: int | None = None,
    similarity: bool = True,
    similarity_threshold: float | None = None,
) -> list[NotebookResult]:
    """Grade ``assignments`` of the class in ``submitted``; the engine is a thread pool of ``jobs`` workers here
    (default), or a Dask cluster: ``scheduler`` (address of a running one) or ``local_cluster`` (N single-threaded
    worker processes on this machine), see :mod:`autograder.dask_engine` (``retries``: runs again of a task that
    raised). Same results, CSV and gradebook either way. Then (``similarity``) the similarity report of the
    submissions' solution cells (:mod:`autograder.similarity`): written to ``similarity/`` beside the CSV (or the
    course), its flagged pairs named in each result's ``similar_to``; it changes no score."""
    course, submitted = Path(course).resolve(), Path(submitted).resolve()
    if not (course / "gradebook.db").exists():
        raise SystemExit(f"no gradebook in {course}: run `python -m autograder.generate` first")
    jobs = jobs or max(1, os.cpu_count() or 1)
    sandbox = sandbox_mode()
    os.environ["FRLAB_SANDBOX"] = "bwrap" if sandbox == "bwrap" else "none"
    from autograder.course import prepare_inputs

    prepare_inputs(assignments, log)
    tmp = Path(tempfile.mkdtemp(prefix="frlab-grade-"))
    # one draw of the checker's inputs for the whole class, its references computed once
    t_draw = time.time()
    draw = checker.prepare(
        tmp / "checker.json", [p.stem for a in assignments for p in (course / "release" / a).glob("*.ipynb")]
    )
    log(
        f"grade_class: checker inputs drawn (seed {draw['seed']}) and references computed in {time.time() - t_draw:.1f} s"
    )
    snapshot = tmp / "gradebook.snapshot.db"
    shutil.copy2(course / "gradebook.db", snapshot)
    # an explicitly listed student is graded for an assignment when they submitted it, or submitted nothing
    tasks = [
        (s, a)
        for a in assignments
        for s in (students or students_in(submitted, a))
        if not students or (submitted / s / a).exists() or not (submitted / s).exists()
    ]
    results: list[NotebookResult] = []

    def collect(s: str, a: str, outcome) -> None:
        """Merge one finished student (``outcome()`` gives (results, workdir) or raises) and log it."""
        try:
            res, wd = outcome()
            merge_into_gradebook(course, res, wd)
        except Exception as exc:  # never crash the batch
            res = [
                NotebookResult(
                    s, a, "*", status="error", reason=f"grader error: {type(exc).__name__}: {exc}", sandbox=sandbox
                )
            ]
        results.extend(res)
        for r in res:
            log(
                f"  {r.student:32s} {r.notebook:28s} {r.status:8s} {r.auto_score:g}/{r.auto_max:g}"
                + (" TAMPERED" if r.tampered else "")
                + (f" ({r.reason})" if r.reason else "")
            )

    from tqdm import tqdm

    t0 = time.time()
    if scheduler or local_cluster:
        from autograder import dask_engine

        where = scheduler or f"a local cluster of {local_cluster} worker process(es)"
        log(f"grade_class: {len(tasks)} submission(s) on Dask ({where}), sandbox={sandbox}")
        outcomes = dask_engine.grade_on_cluster(
            grade_student,
            tasks,
            course,
            submitted,
            snapshot,
            tmp / "checker.json",
            cell_timeout,
            notebook_timeout,
            sandbox,
            scheduler=scheduler,
            local_cluster=local_cluster,
            retries=dask_engine.RETRIES if retries is None else retries,
            log=log,
        )
        progress = tqdm(total=len(tasks), desc="grading", unit="submission", disable=None, smoothing=0.1)
        for s, a, out in outcomes:
            progress.update(1)
            collect(s, a, lambda out=out, s=s, a=a: _results_of(*dask_engine.materialize(out, tmp / f"{a}--{s}")))
        progress.close()
    else:
        log(f"grade_class: {len(tasks)} submission(s), {jobs} worker(s), sandbox={sandbox}")
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futs = {
                pool.submit(
                    grade_student,
                    course,
                    submitted,
                    s,
                    a,
                    tmp / f"{a}--{s}",
                    cell_timeout,
                    notebook_timeout,
                    snapshot,
                    sandbox,
                    tmp / "checker.json",
                ): (s, a)
                for s, a in tasks
            }
            progress = tqdm(total=len(futs), desc="grading", unit="submission", disable=None, smoothing=0.1)
            for fut in as_completed(futs):
                progress.update(1)
                s, a = futs[fut]
                collect(s, a, fut.result)
            progress.close()
    log(f"grade_class: done in {time.time() - t0:.1f} s")
    if similarity:
        flag_similar(
            results,
            course,
            submitted,
            assignments,
            Path(csv_path).parent if csv_path else course,
            similarity_threshold,
            log,
        )
    log(f"grade_class: {summary_line(results)}")
    if not keep_workdirs:
        shutil.rmtree(tmp, ignore_errors=True)
    results.sort(key=lambda r: (r.assignment, r.student, r.notebook))
    if csv_path:
        write_csv(results, csv_path)
    return results


def flag_similar(
    results: list[NotebookResult],
    course: Path,
    submitted: Path,
    assignments: list[str],
    where: Path,
    threshold: float | None = None,
    log=print,
) -> None:
    """The similarity report of the graded class under ``where/similarity``; each result gets its flagged pairs in
    ``similar_to`` (a lead for the instructor to read; no score changes)."""
    from autograder import similarity

    t0 = time.time()
    threshold = similarity.DEFAULT_THRESHOLD if threshold is None else threshold
    graded = {(r.student, r.assignment) for r in results}
    students = sorted({s for s, _ in graded})
    with tempfile.TemporaryDirectory(prefix="frlab-similarity-") as tmp:
        # only this run's submissions (a --student subset is compared among itself), links never followed
        for s, a in sorted(graded):
            src = Path(submitted) / s / a
            for rel in sorted(regular_files(src)) if src.is_dir() else []:
                if rel.endswith(".ipynb"):
                    (Path(tmp) / s / a / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src / rel, Path(tmp) / s / a / rel)
        report = similarity.analyze(course, assignments, threshold, Path(tmp), log=lambda *a: None)
    out = Path(where) / "similarity"
    similarity.write_report(report, out, f"python -m autograder.grade_class (threshold {threshold})")
    pairs = similarity.similar_to(report)
    for r in results:
        r.similar_to = pairs.get((r.student, r.assignment, r.notebook), [])
    log(
        f"grade_class: similarity of {len(students)} student(s)' solution cells: {len(report.flagged)} flagged "
        f"pair(s) at >= {threshold:.0%} ({time.time() - t0:.1f} s) -> {out / 'similarity.html'}"
    )


def _results_of(rows: list[dict], workdir: Path) -> tuple[list[NotebookResult], Path]:
    return [NotebookResult(**r) for r in rows], workdir


def summary_line(results: list[NotebookResult]) -> str:
    """One line for the instructor: how many notebooks were graded, scored zero, corrupt, timed out, missing,
    flagged (tampering or not graded normally), how many had answers of the wrong type, and how many are in a flagged
    pair of the similarity report (the CSV has each notebook's ``status``, ``tampered``, ``mistyped_tests`` and
    ``similar_to``)."""
    counts = {
        "graded": sum(r.status == "graded" for r in results),
        "zero": sum(r.status == "graded" and r.auto_max > 0 and r.auto_score == 0 for r in results),
        "corrupt": sum(r.status == "corrupt" for r in results),
        "timeout": sum(r.status == "timeout" for r in results),
        "missing": sum(r.status == "missing" for r in results),
        "error": sum(r.status == "error" for r in results),
        "flagged": sum(bool(r.tampered) for r in results),
        "mis-typed answers": sum(bool(r.mistyped_tests) for r in results),
        "similar to another": sum(bool(r.similar_to) for r in results),
    }
    return f"{len(results)} notebook(s): " + ", ".join(f"{v} {k}" for k, v in counts.items())


def write_csv(results: list[NotebookResult], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in results:
            w.writerow({k: v for k, v in r.row().items() if k in CSV_FIELDS})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assignment", nargs="*", help="assignment(s) (default: every assignment in the course)")
    ap.add_argument("--course", type=Path, default=COURSE_DIR)
    ap.add_argument("--submitted", type=Path, help="default: <course>/submitted")
    ap.add_argument("--student", action="append", help="only these students")
    ap.add_argument("--jobs", "-j", type=int, default=None, help="parallel workers (default: CPU count)")
    ap.add_argument("--csv", type=Path, default=None, help="default: <course>/grades.csv")
    ap.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT)
    ap.add_argument("--notebook-timeout", type=int, default=NOTEBOOK_TIMEOUT)
    engine = ap.add_argument_group("engine (default: a thread pool of --jobs workers here)")
    engine = engine.add_mutually_exclusive_group()
    engine.add_argument(
        "--scheduler", metavar="ADDRESS", help="grade on a running Dask cluster (tcp://host:8786), see README"
    )
    engine.add_argument(
        "--local-cluster", type=int, metavar="N", help="grade on a Dask LocalCluster of N single-threaded workers"
    )
    ap.add_argument("--retries", type=int, default=None, help="Dask: runs again of a task that raised (default 2)")
    ap.add_argument(
        "--no-similarity", action="store_true", help="skip the similarity report (similarity/ beside the CSV)"
    )
    ap.add_argument("--similarity-threshold", type=float, default=None, help="flag pairs at or above (default 0.5)")
    args = ap.parse_args(argv)
    course = args.course.resolve()
    assignments = args.assignment or sorted(p.name for p in (course / "release").iterdir() if p.is_dir())
    results = grade_class(
        assignments,
        args.submitted or course / "submitted",
        course,
        args.jobs,
        args.csv or course / "grades.csv",
        args.student,
        args.cell_timeout,
        args.notebook_timeout,
        scheduler=args.scheduler,
        local_cluster=args.local_cluster,
        retries=args.retries,
        similarity=not args.no_similarity,
        similarity_threshold=args.similarity_threshold,
    )
    print(f"grade_class: CSV -> {args.csv or course / 'grades.csv'}")
    return 0 if all(r.status != "error" or r.notebook != "*" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
