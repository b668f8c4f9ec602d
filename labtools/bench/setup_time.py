"""Time the one-command set-up on a fresh virtual environment and the test command.

    python -m labtools.bench.setup_time [--no-cache] [--skip-tests] [-k EXPR]

--no-cache sets PIP_NO_CACHE_DIR=1 so every wheel is downloaded and fairseq is compiled, as on a new machine.
Target (issue 2): set-up <= 8 min on the 2-core CPU machine.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labtools import REPO_ROOT as REPO


def timed(cmd, env):
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    return time.time() - t0, proc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-cache", action="store_true", help="no pip cache (a new machine)")
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("-k", default=None, help="pytest -k expression for the timed test run")
    args = ap.parse_args()

    venv = Path(tempfile.mkdtemp(prefix="frlab-bench-venv-"))
    shutil.rmtree(venv)
    env = {**os.environ, "FRLAB_VENV": str(venv)}
    if args.no_cache:
        env["PIP_NO_CACHE_DIR"] = "1"
    try:
        seconds, proc = timed(["bash", "scripts/setup.sh"], env)
        if proc.returncode:
            print(proc.stdout[-2000:], proc.stderr[-2000:])
            sys.exit("setup failed")
        print(
            f"setup (fresh venv, {'no pip cache' if args.no_cache else 'pip cache allowed'}): {seconds:.0f} s "
            f"(target <= 480 s: {'met' if seconds <= 480 else 'NOT met'})"
        )
        again, _ = timed(["bash", "scripts/setup.sh"], env)
        print(f"setup again (up to date, must be a no-op): {again:.1f} s")
        if not args.skip_tests:
            cmd = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
            if args.k:
                cmd += ["-k", args.k]
            seconds, proc = timed(cmd, env)
            print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:])
            print(f"tests: {seconds:.0f} s")
    finally:
        shutil.rmtree(venv, ignore_errors=True)


if __name__ == "__main__":
    main()
