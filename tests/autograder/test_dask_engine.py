"""The Dask engine of grade_class (autograder/dask_engine.py): same CSV and gradebook as the thread mode on a few
self-test submissions, and nothing lost or counted twice when a worker is killed in the middle of a task."""

import csv
import os
import shutil
import signal
import threading
import time

import pytest

pytest.importorskip("distributed")

from autograder import dask_engine  # noqa: E402
from autograder.corpus_spec import SUBMITTED_DIR  # noqa: E402
from autograder.selftest import SELFTEST_ENV  # noqa: E402

P1 = "part1_parameter_counting"
#: every way a notebook can come out of grading except a time-out (whose limit would make the test minutes longer):
#: right, wrong, mis-typed, untouched, a kernel that dies, tampered tests, corrupt, missing
STUDENTS = [
    "p1-correct",
    "p1-corrupt-json",
    "p1-kernel-crash",
    "p1-missing-notebook",
    "p1-tamper-deleted-tests",
    "p1-type-float",
    "p1-untouched",
    "p1-wrong-positions-T",
]
#: columns that may differ between two runs of the same grading
VARYING = {"seconds", "sandbox"}


def quiet(*_a):
    pass


@pytest.fixture(scope="module")
def grading_env():
    mp = pytest.MonkeyPatch()
    for k, v in {**SELFTEST_ENV, "FRLAB_CHECKER_SEED": "123"}.items():
        mp.setenv(k, v)  # one checker draw for every run: the runs are comparable
    yield
    mp.undo()


@pytest.fixture(scope="module")
def base_course(tmp_path_factory, grading_env):
    from autograder.generate import generate

    root = tmp_path_factory.mktemp("dask-course")
    generate(root / "course", only=[P1], notebooks_dir=root / "nb", log=quiet)
    return root / "course"


def grade(base_course, dest, **engine):
    from autograder.grade_class import grade_class

    course = shutil.copytree(base_course, dest)
    results = grade_class(
        [P1],
        SUBMITTED_DIR,
        course,
        jobs=2,
        students=STUDENTS,
        csv_path=course / "grades.csv",
        cell_timeout=int(os.environ["FRLAB_CELL_TIMEOUT"]),
        log=quiet,
        **engine,
    )
    return course, results


def csv_rows(course):
    with (course / "grades.csv").open() as f:
        return [{k: v for k, v in r.items() if k not in VARYING} for r in csv.DictReader(f)]


def row_differences(rows, ref_rows) -> list[str]:
    """``student: column: value != reference`` for every cell that differs (a readable failure, not a cut diff)."""
    ref = {r["student"]: r for r in ref_rows}
    out = [f"{r['student']}: not in the reference" for r in rows if r["student"] not in ref]
    for r in rows:
        for k, v in r.items():
            if r["student"] in ref and ref[r["student"]].get(k) != v:
                out.append(f"{r['student']}: {k}: {v!r} != {ref[r['student']].get(k)!r}")
    return out


def gradebook(course):
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "frlab") as gb:
        for sub in gb.assignment_submissions(P1):
            for sn in sub.notebooks:
                out[(sub.student.id, sn.name)] = (
                    sn.score,
                    sn.max_score,
                    sn.flagged,
                    sorted((g.name, g.auto_score, g.needs_manual_grade) for g in sn.grades),
                )
    return out


def files_of(course):
    return sorted(
        p.relative_to(course).as_posix()
        for sub in ("autograded", "feedback")
        for p in (course / sub).rglob("*")
        if p.is_file()
    )


@pytest.fixture(scope="module")
def thread_run(base_course, tmp_path_factory):
    return grade(base_course, tmp_path_factory.mktemp("thread") / "course")


def test_files_travel_as_bytes(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.ipynb").write_bytes(b"{}")
    (tmp_path / "a" / "link").symlink_to(tmp_path / "a" / "b" / "x.ipynb")
    files = dask_engine.read_tree(tmp_path / "a", "pre/")
    assert files == {"pre/b/x.ipynb": b"{}"}  # regular files only: a link is never followed
    dask_engine.write_tree(files, tmp_path / "out")
    assert (tmp_path / "out" / "pre" / "b" / "x.ipynb").read_bytes() == b"{}"
    for bad in ("../x", "/etc/x", "a/../../x", ""):
        with pytest.raises(ValueError):
            dask_engine.write_tree({bad: b""}, tmp_path / "out")


def test_worker_without_inputs_fails_clearly(monkeypatch):
    from autograder import course

    def missing():
        raise FileNotFoundError("no base model in /nowhere")

    monkeypatch.setitem(course.GRADING_INPUTS, "part9_fake", missing)
    with pytest.raises(dask_engine.WorkerNotReady, match="grading inputs of part9_fake are missing.*no base model"):
        dask_engine.ensure_inputs("part9_fake")
    bundle = {"assignment": "part9_fake", "code": "0" * 16}
    with pytest.raises(dask_engine.WorkerNotReady, match="other grading code"):
        dask_engine.check_worker(bundle, "none")


@pytest.mark.slow
def test_local_cluster_grades_like_the_thread_mode(thread_run, base_course, tmp_path):
    course, results = grade(base_course, tmp_path / "course", local_cluster=2)
    ref_course, ref_results = thread_run
    assert {r.status for r in ref_results} == {"graded", "corrupt", "missing"}
    assert any(r.tampered for r in ref_results) and any("kernel died" in r.reason for r in ref_results)
    assert row_differences(csv_rows(course), csv_rows(ref_course)) == []
    assert csv_rows(course) == csv_rows(ref_course)  # same rows, same order
    assert len(csv_rows(course)) == len(STUDENTS)
    assert gradebook(course) == gradebook(ref_course)
    assert files_of(course) == files_of(ref_course)


def grading_processes(worker_pid: int) -> list:
    """The worker's fork server, the grade_one runs it forked (same command line: a fork) and their kernels."""
    import psutil

    try:
        return psutil.Process(worker_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmdline(proc) -> list[str]:
    import psutil

    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


def _running(proc) -> bool:
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_killed_worker_loses_and_doubles_nothing(thread_run, base_course, tmp_path):
    from distributed import Client, LocalCluster

    killed = []

    def executing(dask_worker):
        return os.getpid(), sorted(str(ts.key) for ts in dask_worker.state.executing)

    def watch(address, stop):
        """Kill (SIGKILL) the first worker process seen running a grading task for 3 s: in the middle of it."""
        with Client(address, timeout=30) as c:
            first_seen = {}
            while not stop.is_set() and not killed:
                for pid, keys in c.run(executing, on_error="ignore").values():
                    for key in keys:
                        if key.startswith("frlab-grade-"):
                            t = first_seen.setdefault(key, time.time())
                            below = grading_processes(pid)  # the fork server, a grade_one run, its kernel
                            names = [" ".join(_cmdline(p)) for p in below]
                            # in the middle of a task: its kernel is up (on a loaded machine that takes a while)
                            if time.time() - t > 3 and any("ipykernel" in n for n in names) and not killed:
                                os.kill(pid, signal.SIGKILL)
                                time.sleep(5)  # a surviving runner would still be grading (a submission takes >10 s)
                                killed.append((pid, key, names, [n for p, n in zip(below, names) if _running(p)]))
                time.sleep(0.3)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(cluster.scheduler_address, stop), daemon=True)
        watcher.start()
        try:
            course, results = grade(base_course, tmp_path / "course", scheduler=cluster.scheduler_address)
        finally:
            stop.set()
            watcher.join(30)
    assert killed, "no worker was killed during a task"
    # the killed worker's grading processes died with it (grade_one.die_with_parent) instead of grading for nobody
    _pid, _key, below, survivors = killed[0]
    assert any("autograder.runner" in name for name in below) and any("ipykernel" in n for n in below), below
    assert not survivors, survivors
    # every submission graded exactly once, as in the thread mode
    assert sorted(r.student for r in results) == STUDENTS
    rows = csv_rows(course)
    assert sorted(r["student"] for r in rows) == STUDENTS
    assert row_differences(rows, csv_rows(thread_run[0])) == []
    assert rows == csv_rows(thread_run[0])
    assert gradebook(course) == gradebook(thread_run[0])
