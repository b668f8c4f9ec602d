#!/usr/bin/env python3
"""Kernel wrapper that runs the grading kernel in a sandbox (standalone script: no package imports).

Used as the ``argv`` of the ``frlab-sandbox`` kernel spec::

    python autograder/sandbox.py -- python -m ipykernel_launcher -f {connection_file}

The kernel then runs

* under ``prlimit``: memory (``FRLAB_SANDBOX_MEM_MB``, default 6144 MiB, as ``RLIMIT_DATA``: the private writable
  memory a process allocates, heap and anonymous mappings; not the address space, which a CUDA build of torch
  fills with 3 GB of library code and reservations at import, so that an address-space cap killed correct
  submissions on CUDA machines), CPU time for the whole notebook (``FRLAB_SANDBOX_CPU_S``, default 900 s), file
  size (512 MiB), open files;
* inside ``bwrap`` (bubblewrap): all namespaces unshared (no network: only its own loopback); the file system
  is an **allow-list** (:func:`visible_paths`): read-only the system (``/usr``, ``/etc``, …), the kernel's Python
  environment, the student package and the lab's public results, the asset cache; nothing else of the host (no
  checkout, no home, no course folder, no other ``/tmp``); a private ``/tmp`` (tmpfs, 1 GiB), writable only the
  notebook's folder
  (the kernel's working directory) and the connection-file folder (the kernel's IPC sockets: the grader
  talks to the kernel over Unix sockets, ``KernelManager.transport = "ipc"``); the solutions, the
  course directory (gradebook, source notebooks with hidden tests) and ``.git`` are hidden (empty
  tmpfs), plus any ``FRLAB_SANDBOX_HIDE`` paths (``os.pathsep``-separated); the notebooks in the
  kernel's folder (nbgrader's copy being graded, with the hidden tests) read as empty files;
  ``FRLAB_WORK`` is a private ``/tmp/frlab-work`` holding read-only views of the instructor's
  ``<work>/<profile>/{base-model,bloom-tiny}`` folders (``FRLAB_SANDBOX_WORK_INPUTS``; prepared by
  :func:`autograder.course.prepare_inputs`); the asset cache (``FRLAB_CACHE``) is readable, not writable.

``FRLAB_SANDBOX`` = ``bwrap`` (default: required, fail if unusable) | ``auto`` (bwrap if it works, else
limits only, with a warning on stderr) | ``none`` (limits only).  ``python autograder/sandbox.py --probe``
prints which mode works here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
#: every namespace unshared (no network), a fresh /dev and /proc; the file system is an allow-list (see below)
BWRAP_BASE = ["--unshare-all", "--die-with-parent", "--dev", "/dev", "--proc", "/proc"]
#: the operating system's read-only parts a Python kernel needs (programs, shared libraries, /etc)
SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def _binds(paths: list[tuple[str, str]]) -> list[str]:
    args = []
    for kind, p in paths:
        args += ["--symlink", os.readlink(p), p] if kind == "link" else ["--ro-bind", p, p]
    return args


def visible_paths(cmd: list[str]) -> list[tuple[str, str]]:
    """What the kernel may see, read-only: ``(kind, path)`` with kind ``ro`` (bind) or ``link`` (a symbolic link
    of the root, e.g. /bin -> usr/bin). The system, the Python environment of the kernel (its venv and the
    interpreter it was made from), the student package and the lab's public results, the asset cache (the
    chapters' inputs). Nothing else of the host: no checkout, no home, no course folder, no other /tmp."""
    out = []
    for p in SYSTEM_PATHS:
        if os.path.islink(p):
            out.append(("link", p))
        elif os.path.isdir(p):
            out.append(("ro", p))
    exe = os.path.abspath(cmd[0]) if cmd and os.path.isabs(cmd[0]) else (shutil.which(cmd[0]) if cmd else None)
    exe = exe or sys.executable
    prefixes = {os.path.dirname(os.path.dirname(exe)), os.path.dirname(os.path.dirname(os.path.realpath(exe)))}
    prefixes |= {sys.prefix, sys.base_prefix}
    package = [os.path.join(REPO, "frlab"), os.path.join(REPO, "results")]  # an editable install's package
    cache = os.environ.get("FRLAB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "frlab")
    for p in sorted(prefixes) + package + [cache]:
        real = os.path.realpath(p)
        if os.path.isdir(real) and not any(real == s or real.startswith(s + os.sep) for s in SYSTEM_PATHS):
            out.append(("ro", real))
    return out


def _int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def bwrap_works() -> bool:
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False
    try:
        r = subprocess.run(
            [bwrap, *BWRAP_BASE, *_binds(visible_paths([sys.executable])), "--tmpfs", "/tmp", "true"],
            capture_output=True,
            timeout=20,
        )
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def hidden_paths() -> list[str]:
    paths = [os.path.join(REPO, "solutions"), os.path.join(REPO, "autograder"), os.path.join(REPO, ".git")]
    paths += [p for p in os.environ.get("FRLAB_SANDBOX_HIDE", "").split(os.pathsep) if p]
    return [os.path.realpath(p) for p in paths if os.path.isdir(p)]


def _connection_file(cmd: list[str]) -> str | None:
    for i, a in enumerate(cmd):
        if a in ("-f", "--f", "--file") and i + 1 < len(cmd):
            return cmd[i + 1]
        if a.startswith("--f="):
            return a.split("=", 1)[1]
    return None


def limits_prefix() -> list[str]:
    mem = _int_env("FRLAB_SANDBOX_MEM_MB", 6144) * 1024 * 1024
    cpu = _int_env("FRLAB_SANDBOX_CPU_S", 900)
    prlimit = shutil.which("prlimit")
    if not prlimit:
        raise SystemExit("sandbox: prlimit (util-linux) is required")
    return [prlimit, f"--data={mem}", f"--cpu={cpu}", f"--fsize={512 * 1024 * 1024}", "--nofile=1024", "--core=0", "--"]


def bwrap_command(cmd: list[str], cwd: str) -> list[str]:
    cwd = os.path.realpath(cwd)
    conn = _connection_file(cmd)
    args = [shutil.which("bwrap"), *BWRAP_BASE, "--size", str(1024 * 1024 * 1024), "--tmpfs", "/tmp"]
    args += _binds(visible_paths(cmd))  # after the private /tmp: a checkout under /tmp shows its allowed parts
    for p in hidden_paths():  # inside what is visible, still hidden (mounted over by the writable binds below)
        args += ["--tmpfs", p]
    writable = [cwd]
    if conn:
        cdir = os.path.dirname(os.path.realpath(conn))
        if cdir in ("/", "/tmp", os.path.realpath("/tmp"), os.path.expanduser("~")):
            raise SystemExit(
                f"sandbox: the kernel connection file lies in the shared folder {cdir}; "
                "run the grader with a private TMPDIR/JUPYTER_RUNTIME_DIR (see autograder/course.py)"
            )
        writable.append(cdir)
    for w in writable:
        args += ["--bind", w, w]
    # nbgrader writes the notebook being graded -- hidden tests restored -- into the kernel's folder:
    # the kernel must not be able to read it (an empty file is mounted over each notebook there)
    for name in sorted(os.listdir(cwd)):
        if name.endswith(".ipynb") and os.path.isfile(os.path.join(cwd, name)):
            args += ["--ro-bind", "/dev/null", os.path.join(cwd, name)]
    # FRLAB_WORK: a private, writable /tmp/frlab-work; the instructor's base models (read-only inputs that
    # some chapters need while graded, e.g. Part 3's conversion) appear in it read-only
    real_work = os.environ.get("FRLAB_WORK") or os.path.join(REPO, "work")
    if os.path.isdir(real_work):
        inputs = os.environ.get("FRLAB_SANDBOX_WORK_INPUTS", "base-model:bloom-tiny").split(":")
        for prof in sorted(os.listdir(real_work)):
            for sub in filter(None, inputs):
                src = os.path.join(real_work, prof, sub)
                complete = sub != "base-model" or os.path.isfile(os.path.join(src, "model.pt"))
                if os.path.isdir(src) and complete:
                    args += ["--ro-bind", src, f"/tmp/frlab-work/{prof}/{sub}"]
    args += [
        "--remount-ro",  # the sandbox's own root (where the mount points above were made) is not writable either
        "/",
        "--chdir",
        cwd,
        "--setenv",
        "MPLCONFIGDIR",
        "/tmp/mpl",
        "--setenv",
        "HF_HOME",
        "/tmp/hf",
        "--setenv",
        "FRLAB_WORK",
        "/tmp/frlab-work",
        "--setenv",
        "TMPDIR",
        "/tmp",
        "--setenv",
        "IPYTHONDIR",
        "/tmp/ipython",
        "--setenv",
        "HOME",
        "/tmp/home",
        "--setenv",
        "FRLAB_SANDBOXED",
        "bwrap",
        # ipykernel's parent poller would see the pid-namespace init as its parent and exit;
        # --die-with-parent already ties the kernel to the grader
        "--unsetenv",
        "JPY_PARENT_PID",
        "--",
    ]
    return args + cmd


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--probe"]:
        print("bwrap" if bwrap_works() else "none")
        return 0
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    mode = os.environ.get("FRLAB_SANDBOX", "bwrap")
    if mode in ("bwrap", "auto"):
        if bwrap_works():
            full = limits_prefix() + bwrap_command(argv, os.getcwd())
        elif mode == "bwrap":
            print(
                "sandbox: bubblewrap (bwrap) is missing or cannot create namespaces here; install the "
                "'bubblewrap' package or set FRLAB_SANDBOX=auto/none to grade WITHOUT isolation",
                file=sys.stderr,
            )
            return 3
        else:
            print(
                "sandbox: WARNING bwrap unusable: grading with resource limits only (no network/filesystem isolation)",
                file=sys.stderr,
            )
            full = limits_prefix() + argv
    else:
        full = limits_prefix() + argv
    os.environ.setdefault("FRLAB_SANDBOXED", "none")
    os.execvp(full[0], full)
    return 0  # pragma: no cover


if __name__ == "__main__":
    raise SystemExit(main())
