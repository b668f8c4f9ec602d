"""The grading fork server (:mod:`autograder.runner`) does not outlive the grader that started it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from autograder import REPO_ROOT

PARENT = textwrap.dedent(
    """
    import os, signal, subprocess, sys
    server = subprocess.Popen([sys.executable, "-m", "autograder.runner"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)  # not the test's pipe: run() would wait for the server
    print(server.stdout.readline().decode().strip(), server.pid, flush=True)  # ready: nbgrader's libraries loaded
    os.kill(os.getpid(), signal.SIGKILL)  # the grader dies (a Dask worker killed in the middle of a class)
    """
)


def test_the_server_exits_at_once_when_its_grader_dies():
    """Its stdin closes; it must exit then, not after the interpreter's shutdown (Python 3.13 spent 7 s of CPU in
    the final garbage collection, while its children went on grading for nobody)."""
    import psutil

    out = subprocess.run([sys.executable, "-c", PARENT], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    *ready, pid = out.stdout.split()
    assert ready and ready[0] == '{"ready":', out.stdout + out.stderr
    t0 = time.time()
    while time.time() - t0 < 10:
        try:
            if psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    waited = time.time() - t0
    assert waited < 1.0, f"the fork server was still running {waited:.1f} s after its grader died"
