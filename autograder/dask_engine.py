"""Grading a class on a Dask cluster (``distributed``): ``python -m autograder.grade_class --scheduler ADDRESS``
(a running cluster) or ``--local-cluster N`` (a ``LocalCluster`` of N single-threaded worker processes here).

The default engine of :mod:`autograder.grade_class` stays its thread pool; this module is used only when one of
those options is given. The grading itself is the same: one task grades one student's assignment with
:func:`autograder.grade_class.grade_student` (private course copy, nbgrader's autograde + feedback in one
process, the kernel in the sandbox), on whichever worker the scheduler picks.

What travels, and what each worker must have
---------------------------------------------

Shipped with the tasks, as bytes (no shared file system needed for them):

* per assignment, once (a task of its own, so that the scheduler can compute it again if the worker holding it
  dies): the course skeleton of the assignment (``source/<a>/``, ``release/<a>/``), the snapshot of the course
  gradebook taken before grading, the class's checker draw (``checker.json``, :func:`autograder.checker.prepare`:
  the inputs and references every submission is judged against), the grading settings of the client's environment
  (:data:`GRADING_ENV`: profile, sandbox mode and limits) and a fingerprint of the grading code;
* per task: the student's submitted folder (regular files only, never a link).

Returned by each task: plain results (:class:`~autograder.grade_class.NotebookResult` rows as dicts) and the
autograded and feedback files as bytes (``{relative path: bytes}``, regular files only). The client alone writes
the course gradebook and the CSV: it writes the returned files into a client-side work folder and merges them with
:func:`autograder.grade_class.merge_into_gradebook`, one student at a time, as in the thread mode.

Needed on every worker (checked at the start of each task, which fails with a clear message otherwise):

* this repository at the same version as the client (same grading code: the fingerprint must match) and its venv,
  the worker started with that venv's Python and the checkout on its path
  (``PYTHONPATH=$PWD .venv/bin/dask worker ...``; the scheduler too: it unpickles the tasks);
* bubblewrap able to create namespaces, unless the client grades with ``FRLAB_SANDBOX=none``/``auto`` without it;
* the chapters' big read-only inputs (``work/<profile>/base-model``, ``bloom-tiny``, the asset cache
  ``FRLAB_CACHE``): either on a shared file system at the same ``FRLAB_WORK``/``FRLAB_CACHE`` paths, or built on
  the worker: the task runs :func:`autograder.course.prepare_inputs` for its assignment once per worker process
  (a no-op when they are there; under a file lock, so that two workers of one machine do not build at once). When
  that fails (no network for an asset, a ``cpu`` base model never built) the task fails with the problem and the
  two ways out.

Worker deaths: a worker killed mid-task loses its task, and the scheduler runs it again on another worker (up to
``distributed.scheduler.allowed-failures`` deaths per task); an exception inside a task is retried ``retries``
times. The client keys results by (student, assignment) and ignores any second delivery, so nothing is lost or
counted twice. Workers should have one thread each (``--nthreads 1``): each task runs a kernel in a subprocess.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path, PurePosixPath

from autograder import REPO_ROOT

#: the client's grading settings that every worker applies before grading (the worker's own FRLAB_WORK,
#: FRLAB_CACHE and FRLAB_MIRROR say where *its* inputs are, and are not shipped)
GRADING_ENV = (
    "FRLAB_PROFILE",
    "FRLAB_SANDBOX",
    "FRLAB_SANDBOX_MEM_MB",
    "FRLAB_SANDBOX_CPU_S",
    "FRLAB_SANDBOX_WORK_INPUTS",
    "FRLAB_CELL_TIMEOUT",
    "FRLAB_NOTEBOOK_TIMEOUT",
)
#: variables a Dask nanny sets in its worker processes (``distributed.nanny.pre-spawn-environ``: one BLAS/OpenMP
#: thread, eager malloc trimming) that the grading subprocess must not inherit: it gets the client's values (or none)
#: of these, as in the thread mode
NANNY_ENV = ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: how many times a task that raised is run again (worker deaths are counted apart, by the scheduler)
RETRIES = 2


class WorkerNotReady(RuntimeError):
    """This worker lacks something every worker needs (bubblewrap, the grading inputs, the same grading code)."""


# --------------------------------------------------------------------------------------------- files as bytes


def read_tree(root: Path, prefix: str = "") -> dict[str, bytes]:
    """``{prefix + relative path: bytes}`` of the regular files under ``root`` (a link is never followed)."""
    from autograder.grade_one import regular_files

    root = Path(root)
    if not root.is_dir():
        return {}
    return {prefix + rel: (root / rel).read_bytes() for rel in sorted(regular_files(root))}


def _safe_rel(rel: str) -> PurePosixPath:
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or any(part in ("", ".", "..") for part in p.parts):
        raise ValueError(f"unsafe relative path in grading files: {rel!r}")
    return p


def write_tree(files: dict[str, bytes], root: Path) -> None:
    """Write ``{relative path: bytes}`` under ``root`` (relative paths only, no ``..``)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        dst = root / _safe_rel(rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)


def code_fingerprint(root: Path = REPO_ROOT) -> str:
    """A hash of the grading code (``autograder/*.py`` and the ``frlab`` package): client and workers must agree."""
    h = hashlib.sha256()
    files = sorted(Path(root, "autograder").glob("*.py")) + sorted(Path(root, "frlab").rglob("*.py"))
    for p in files:
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def course_bundle(course: Path, assignment: str, snapshot: Path, draw: Path) -> dict:
    """What every task of ``assignment`` needs from the client, as plain data (see the module's docstring)."""
    course = Path(course)
    files = read_tree(course / "source" / assignment, f"source/{assignment}/")
    files.update(read_tree(course / "release" / assignment, f"release/{assignment}/"))
    return {
        "assignment": assignment,
        "files": files,
        "gradebook": Path(snapshot).read_bytes(),
        "draw": Path(draw).read_bytes(),
        "env": {
            **{k: os.environ[k] for k in GRADING_ENV if k in os.environ},
            **{k: os.environ.get(k) for k in _nanny_env()},  # None: unset on the worker
        },
        "code": code_fingerprint(),
    }


def _nanny_env() -> tuple[str, ...]:
    try:
        import dask

        return tuple(sorted({*NANNY_ENV, *dask.config.get("distributed.nanny.pre-spawn-environ", {})}))
    except Exception:
        return NANNY_ENV


def apply_env(env: dict) -> None:
    """Set the client's grading settings in this worker process (``None``: unset); the grading subprocess inherits
    them. Workers have one thread each: no other task reads the environment meanwhile."""
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _bundle(bundle: dict) -> dict:  # the task holding an assignment's bundle on the cluster
    return bundle


# ---------------------------------------------------------------------------------------------- worker side

_prepared: dict[tuple[str, str], list[str]] = {}
_prepare_lock = threading.Lock()
_own_fingerprint: list[str] = []
_bwrap_ok: list[bool] = []


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def ensure_inputs(assignment: str) -> None:
    """Make sure this worker has ``assignment``'s read-only grading inputs (:func:`autograder.course.prepare_inputs`,
    once per worker process and profile, under a file lock of this machine); :class:`WorkerNotReady` if not."""
    import fcntl

    from autograder.course import prepare_inputs

    key = (assignment, os.environ.get("FRLAB_PROFILE", ""))
    with _prepare_lock:
        if key not in _prepared:
            lock = Path(tempfile.gettempdir()) / "frlab-prepare-inputs.lock"
            with lock.open("a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    _prepared[key] = prepare_inputs([assignment], log=lambda *a: None)
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        problems = _prepared[key]
        if problems:
            _prepared.pop(key)  # try again on the next task (the inputs may have been provided meanwhile)
    if problems:
        raise WorkerNotReady(
            f"worker {worker_name()}: the grading inputs of {assignment} are missing here and could not be prepared: "
            + "; ".join(problems)
            + ". Either share the client's FRLAB_WORK and FRLAB_CACHE with the workers (same paths), or run on the "
            f'worker: FRLAB_PROFILE={key[1] or "<profile>"} python -c "from autograder.course import '
            f"prepare_inputs; print(prepare_inputs(['{assignment}']))\""
        )


def check_worker(bundle: dict, sandbox: str) -> None:
    """What every task checks first: same grading code, a working sandbox, the assignment's inputs."""
    if not _own_fingerprint:
        _own_fingerprint.append(code_fingerprint())
    if bundle["code"] != _own_fingerprint[0]:
        raise WorkerNotReady(
            f"worker {worker_name()} runs other grading code than the client (fingerprint {_own_fingerprint[0]}, "
            f"client {bundle['code']}): start the workers from the same checkout ({REPO_ROOT}) and commit"
        )
    if sandbox == "bwrap" and not _bwrap_ok:
        from autograder.sandbox import bwrap_works

        if bwrap_works():
            _bwrap_ok.append(True)
        else:
            raise WorkerNotReady(
                f"worker {worker_name()}: bubblewrap is missing or cannot create namespaces "
                "(apt-get install bubblewrap; unprivileged user namespaces must be allowed)"
            )
    ensure_inputs(bundle["assignment"])


def grade_task(
    grade_student,
    bundle: dict,
    student: str,
    assignment: str,
    submission: dict[str, bytes],
    cell_timeout: int,
    notebook_timeout: int,
    sandbox: str,
) -> dict:
    """One task: grade ``student``'s ``assignment`` on this worker from shipped bytes with ``grade_student``
    (:func:`autograder.grade_class.grade_student`, passed in by the caller: this module does not import its
    caller); returns plain data ``{"student", "assignment", "results": [row dicts], "files": {relpath: bytes},
    "worker"}``."""
    apply_env(bundle["env"])
    check_worker(bundle, sandbox)
    tmp = Path(tempfile.mkdtemp(prefix="frlab-dask-"))
    try:
        course = tmp / "course"
        write_tree(bundle["files"], course)
        (tmp / "gradebook.snapshot.db").write_bytes(bundle["gradebook"])
        (tmp / "checker.json").write_bytes(bundle["draw"])
        if submission is not None:
            write_tree(submission, tmp / "submitted" / student / assignment)
        (tmp / "submitted").mkdir(exist_ok=True)
        results, wd = grade_student(
            course,
            tmp / "submitted",
            student,
            assignment,
            tmp / "work",
            cell_timeout,
            notebook_timeout,
            tmp / "gradebook.snapshot.db",
            sandbox,
            tmp / "checker.json",
        )
        files = {}
        for sub in ("autograded", "feedback"):
            files.update(read_tree(wd / sub / student / assignment, f"{sub}/{student}/{assignment}/"))
        if (wd / "autograde.log").is_file():
            files["autograde.log"] = (wd / "autograde.log").read_bytes()
        return {
            "student": student,
            "assignment": assignment,
            "results": [asdict(r) for r in results],
            "files": files,
            "worker": worker_name(),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- client side


def materialize(out: dict | BaseException, workdir: Path) -> tuple[list[dict], Path]:
    """The client's side of a finished task: its files written into ``workdir`` (laid out as grade_student's
    work folder, for :func:`~autograder.grade_class.merge_into_gradebook`); returns its result rows (dicts of
    ``NotebookResult`` fields) and ``workdir``."""
    if isinstance(out, BaseException):  # the task failed (after its retries) or its workers kept dying
        raise out
    workdir = Path(workdir)
    if workdir.exists():
        shutil.rmtree(workdir)
    write_tree(out["files"], workdir)
    return list(out["results"]), workdir


def start_client(scheduler: str | None = None, local_cluster: int | None = None):
    """``(client, cluster or None)``: connect to ``scheduler``, or start a LocalCluster of ``local_cluster``
    single-threaded worker processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    # the scheduler runs in this process: its INFO log (every connection) is noise here; warnings (a lost worker) stay
    logging.getLogger("distributed").setLevel(logging.WARNING)
    cluster = LocalCluster(
        n_workers=local_cluster or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,  # a task's failure reaches the client; shutdown races are not news
    )
    return Client(cluster), cluster


def grade_on_cluster(
    grade_student,
    tasks: list[tuple[str, str]],
    course: Path,
    submitted: Path,
    snapshot: Path,
    draw: Path,
    cell_timeout: int,
    notebook_timeout: int,
    sandbox: str,
    *,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    retries: int = RETRIES,
    log=print,
) -> Iterator[tuple[str, str, dict | BaseException]]:
    """Submit one task per (student, assignment) and yield ``(student, assignment, task output or exception)`` as
    they finish, each (student, assignment) once (a second delivery is ignored)."""
    from distributed import as_completed

    client, cluster = start_client(scheduler, local_cluster)
    try:
        n = len(client.scheduler_info().get("workers", {}))
        log(f"grade_class: Dask scheduler {client.scheduler.address}, {n} worker(s) now")
        run = uuid.uuid4().hex[:8]
        bundles = {
            a: client.submit(_bundle, course_bundle(course, a, snapshot, draw), key=f"frlab-course-{a}-{run}")
            for a in sorted({a for _, a in tasks})
        }
        futs, keys = [], {}
        for s, a in tasks:
            fut = client.submit(
                grade_task,
                grade_student,
                bundles[a],
                s,
                a,
                read_tree(Path(submitted) / s / a) if (Path(submitted) / s / a).is_dir() else None,
                cell_timeout,
                notebook_timeout,
                sandbox,
                key=f"frlab-grade-{a}-{s}-{run}",
                retries=retries,
                pure=False,
            )
            futs.append(fut)
            keys[fut.key] = (s, a)
        seen: set[tuple[str, str]] = set()
        for fut in as_completed(futs):
            s, a = keys[fut.key]
            if (s, a) in seen:
                continue
            seen.add((s, a))
            try:
                out = fut.result()
            except Exception as exc:
                out = exc
            fut.release()
            yield s, a, out
    finally:
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # shutdown races (a heartbeat to a closed scheduler) are not news
        try:
            client.close()
            if cluster is not None:
                cluster.close()
        finally:
            quiet.setLevel(level)
