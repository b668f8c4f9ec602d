"""Starting :mod:`autograder.grade_one` in milliseconds: a fork server with nbgrader already imported.

``grade_class`` grades every student's assignment in a process of its own (a private course copy, a time limit
that kills the whole process group). Starting that process from scratch costs about 3.5 s of CPU on the lab's
2-core machine (Python, nbgrader, nbconvert, jupyter_client, SQLAlchemy), once per student: plain sequential
nbgrader pays it once per assignment. This server pays it once per grader: it imports those libraries, then
forks one child per grading request. Each child is what ``python -m autograder.grade_one ASSIGNMENT STUDENT``
would be: its own session (process group), the course copy as working directory, the request's environment,
stdout and stderr to a log file; it runs :func:`autograder.grade_one.main`.

Only third-party libraries are imported before the fork, never a module of this project (some read their
settings from the environment when imported; a child imports them after it has taken the request's environment).

Protocol (one JSON object per line): the client writes ``{"id", "cwd", "env", "argv", "log"}`` to the server's
stdin; the server answers ``{"id", "pid"}`` when the child is started and ``{"id", "status"}`` (its exit status,
negative for a signal) when it has exited. The client kills a child with ``os.killpg(pid, SIGKILL)``.

Lifetimes: the server exits when its stdin closes, which happens when the process that started it exits or dies
(not tied to the thread that started it: Linux's parent-death signal would be, and grading threads come and go);
each child dies with the server (Linux ``PR_SET_PDEATHSIG``, :func:`autograder.grade_one.die_with_parent`, set from
the server's only thread). A grader or a Dask worker killed in the middle of a class leaves nothing grading for
nobody.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import NoReturn

#: what a grade_one run imports, loaded once by the server (third-party only: see the module's docstring)
PRELOAD = (
    "nbgrader.apps",
    "nbgrader.coursedir",
    "nbgrader.api",
    "nbgrader.converters",
    "nbgrader.preprocessors",
    "nbconvert",
    "nbclient",
    "jupyter_client",
    "traitlets.config.loader",
)


# ---------------------------------------------------------------------------------------------- server side


def _child(request: dict) -> None:
    """In the forked child: become ``python -m autograder.grade_one *argv`` in ``cwd``; never returns."""
    status = 70
    try:
        os.setsid()
        fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[:0] = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.argv = [request["argv"][0], *request["argv"][1:]]
        from autograder import grade_one

        status = grade_one.main(list(request["argv"][1:]))
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 70
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status if isinstance(status, int) else 1)


def serve() -> NoReturn:
    """The server's loop: read requests on stdin, fork a child per request, report starts and exits on stdout;
    exits (``os._exit``) when its stdin closes."""
    import importlib

    from autograder.grade_one import PARENT_PID

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # a library that does not import here is imported (and fails) in the child instead
            pass
    out = sys.stdout

    def say(message: dict) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    say({"ready": os.getpid()})
    children: dict[int, str] = {}
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ)
    pending = b""
    try:
        _loop(sel, children, pending, say, PARENT_PID)
    except BrokenPipeError:  # the client is gone (killed): the children die with this process
        pass
    # Exit now, not through the interpreter's shutdown: with nbgrader's libraries loaded, Python 3.13's final garbage
    # collection takes about 7 s of CPU (3.11: none), during which the children would go on grading for nobody.
    # Nothing is left to flush (the children report through their own log files).
    os._exit(0)


def _loop(sel, children: dict[int, str], pending: bytes, say, parent_pid_var: str) -> None:
    while True:
        if sel.select(timeout=0.1):
            data = os.read(0, 65536)
            if not data:  # the client is gone: the children die with this process (die_with_parent)
                break
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                request["env"] = {**request["env"], parent_pid_var: str(os.getpid())}
                pid = os.fork()
                if pid == 0:
                    sel.close()
                    _child(request)
                children[pid] = request["id"]
                say({"id": request["id"], "pid": pid})
        while children:
            try:
                pid, wstatus = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            say({"id": children.pop(pid), "status": os.waitstatus_to_exitcode(wstatus)})


# ---------------------------------------------------------------------------------------------- client side


class _Run:
    def __init__(self) -> None:
        self.pid: int | None = None
        self.status: int | None = None
        self.started = threading.Event()
        self.exited = threading.Event()


class ForkServer:
    """A server process started by this one (see the module's docstring); :meth:`run` grades one request."""

    def __init__(self, env: dict | None = None) -> None:
        from autograder import REPO_ROOT
        from autograder.grade_one import PARENT_PID

        env = dict(os.environ if env is None else env)
        env[PARENT_PID] = str(os.getpid())
        env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.runner"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )
        ready = self.proc.stdout.readline()
        if not ready.startswith('{"ready"'):
            raise RuntimeError(f"the grading fork server did not start (it said {ready!r})")
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self._n = 0
        self._reader = threading.Thread(target=self._read, daemon=True, name="frlab-forkserver-reader")
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            msg = json.loads(line)
            run = self._runs.get(msg.get("id"))
            if run is None:
                continue
            if "pid" in msg:
                run.pid = msg["pid"]
                run.started.set()
            if "status" in msg:
                run.status = msg["status"]
                run.exited.set()
        for run in list(self._runs.values()):  # the server is gone: nothing it started can still be running
            run.started.set()
            run.exited.set()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def start(self, argv: list[str], cwd: Path, env: dict, log: Path) -> _Run:
        with self._lock:
            self._n += 1
            rid = f"r{self._n}"
            run = self._runs[rid] = _Run()
            request = {"id": rid, "cwd": str(cwd), "env": dict(env), "argv": list(argv), "log": str(log)}
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        if not run.started.wait(60) or run.pid is None:
            raise RuntimeError("the grading fork server did not start the grading run")
        return run

    def run(
        self, argv: list[str], cwd: Path, env: dict, limit: float, grace: float, done_pattern: str
    ) -> tuple[str, bool]:
        """Run ``argv`` (``["grade_one", ASSIGNMENT, STUDENT]``) in ``cwd``; returns (log, timed_out). It has
        ``limit`` seconds; once its log matches ``done_pattern`` (autograding finished) it gets ``grace`` more;
        then its process group is killed and ``timed_out`` says whether autograding had not finished."""
        log = Path(cwd) / "grade_one.log"
        run = self.start(argv, cwd, env, log)
        try:
            if run.exited.wait(limit):
                return _read(log), False
            finished = re.search(done_pattern, _read(log))
            if finished and run.exited.wait(grace):
                return _read(log), False
            _kill(run.pid)
            run.exited.wait(30)
            return _read(log), not finished
        finally:
            self._runs.pop(next((k for k, v in self._runs.items() if v is run), ""), None)

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _kill(pid: int | None) -> None:
    if pid:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


_server: list[ForkServer] = []
_server_lock = threading.Lock()


def shared() -> ForkServer:
    """This process's fork server, started on first use (and again if it died)."""
    with _server_lock:
        if not _server or not _server[0].alive():
            _server[:] = [ForkServer()]
        return _server[0]


if __name__ == "__main__":
    serve()
