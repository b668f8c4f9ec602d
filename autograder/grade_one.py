"""Autograde one student's assignment and write their feedback page in **one** nbgrader process.

    python -m autograder.grade_one ASSIGNMENT STUDENT        (in the course directory)

``nbgrader autograde`` then ``nbgrader generate_feedback`` from the command line start Python, nbgrader
and its exporters twice per student (about 3 s each on the lab's CPU); ``autograder.grade_class`` grades
every student in a private course copy, so those start-ups were paid once per student instead of once per
class and made the parallel grader slower than plain sequential nbgrader on 2 cores.  This runner does the
same two steps through nbgrader's own Python API (``NbGraderAPI.autograde`` / ``generate_feedback``, the
calls behind the formgrader), with the course's ``nbgrader_config.py``: same preprocessors, same sandboxed
kernel, same gradebook.  The captured nbgrader log is printed (the caller parses it), then how long
autograding took (the caller holds it to the assignment's time limit); the exit status is 0 when both steps
succeeded, 1 when autograding failed, 2 when only the feedback failed.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import time
from pathlib import Path

#: the line that tells the caller how long autograding took (the assignment's time limit applies to it)
TOOK = "[frlab-grade-one] autograde took {:.1f} s"
#: the environment variable in which the caller passes its pid: this runner dies with that process
PARENT_PID = "FRLAB_GRADER_PID"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Ask Linux to kill this process (SIGKILL) when the grader that started it dies, e.g. a Dask worker killed in
    the middle of a task: the runner runs in its own session (so that a time-out kills its whole group) and would
    otherwise outlive the worker and keep grading for nobody. Its kernel follows it (``bwrap --die-with-parent``,
    or ipykernel's parent poller without the sandbox). Exits at once when the grader is already gone."""
    import ctypes
    import signal

    expected = os.environ.get(PARENT_PID)
    if not expected or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != expected:  # the grader died before the request took effect
        os._exit(1)


def regular_files(folder: Path) -> set[str]:
    """Relative paths of the regular files under ``folder``, never following a symbolic link."""
    out = set()
    for root, _dirs, files in os.walk(folder):  # os.walk does not descend into linked folders
        for name in files:
            path = Path(root) / name
            if stat.S_ISREG(os.lstat(path).st_mode):
                out.add(path.relative_to(folder).as_posix())
    return out


def keep_only_submitted_files(autograded: Path, submitted: Path) -> list[str]:
    """Feedback by allow-list: delete from the autograded folder everything that is not a regular file the student
    submitted (what the kernel created while it ran: files, symbolic links, pipes). The feedback step copies that
    folder, so nothing else can reach the student. Returns what was removed."""
    allowed = regular_files(submitted)
    removed = []
    for root, dirs, files in os.walk(autograded, topdown=False):
        for name in files + dirs:
            path = Path(root) / name
            rel = path.relative_to(autograded).as_posix()
            mode = os.lstat(path).st_mode
            if stat.S_ISDIR(mode):
                if not any(path.iterdir()) and not any(a.startswith(rel + "/") for a in allowed):
                    path.rmdir()
            elif not (stat.S_ISREG(mode) and rel in allowed):
                path.unlink()
                removed.append(rel)
    return sorted(removed)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 64
    assignment, student = argv
    die_with_parent()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=os.getcwd()).load_config()
    log = logging.getLogger("frlab.grade_one")
    log.setLevel(logging.INFO)  # what `nbgrader autograde --log-level=INFO` shows
    log.propagate = False  # captured by nbgrader's capture_log, printed once below
    log.addHandler(logging.NullHandler())
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config, log=log)

    t0 = time.time()
    graded = api.autograde(assignment, student, force=True, create=True)
    print(graded.get("log", ""), flush=True)
    print(TOOK.format(time.time() - t0), flush=True)
    if not graded["success"]:
        print(f"[ERROR] autograde failed:\n{graded.get('error', '')}", flush=True)
        return 1
    removed = keep_only_submitted_files(
        Path("autograded") / student / assignment, Path("submitted") / student / assignment
    )
    if removed:
        print(f"[frlab-grade-one] not in the submission, left out of the feedback: {', '.join(removed)}", flush=True)
    feedback = api.generate_feedback(assignment, student, force=True)
    print(feedback.get("log", ""), flush=True)
    if not feedback["success"]:
        print(f"[ERROR] generate_feedback failed:\n{feedback.get('error', '')}", flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
