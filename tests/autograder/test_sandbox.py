"""The grading sandbox (bubblewrap + prlimit) really isolates the kernel."""

import os
import subprocess
import sys

import pytest

from autograder import REPO_ROOT
from autograder.sandbox import bwrap_works

SANDBOX = str(REPO_ROOT / "autograder" / "sandbox.py")

pytestmark = pytest.mark.skipif(
    not bwrap_works() and os.environ.get("FRLAB_SANDBOX") in ("auto", "none"),
    reason="FRLAB_SANDBOX allows grading without bubblewrap",
)


def _run(code, cwd, **env):
    e = dict(os.environ, FRLAB_SANDBOX="bwrap", **env)
    cmd = [sys.executable, SANDBOX, "--", sys.executable, "-c", code]
    return subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, timeout=120)


def test_bwrap_is_usable_here():
    assert bwrap_works(), "bubblewrap missing or unable to create namespaces: apt-get install bubblewrap"


def test_isolation(tmp_path):
    (tmp_path / "graded.ipynb").write_text("{secret hidden tests}")
    code = r"""
import os, urllib.request
open("inside.txt", "w").write("ok")
res = {}
for p in [os.path.join(os.path.dirname(os.getcwd()), "outside.txt"), HOST_HOME + "/frlab-sbx-test",
          REPO + "/frlab-sbx-test"]:
    try:
        open(p, "w").write("x"); res[p] = "WROTE"
    except OSError:
        res[p] = "refused"
try:
    urllib.request.urlopen("https://pypi.org/simple/", timeout=5); res["net"] = "REACHED"
except Exception:
    res["net"] = "blocked"
res["solutions"] = os.listdir(REPO + "/solutions")
try:
    res["notebook"] = open("graded.ipynb").read()
except OSError:
    res["notebook"] = "unreadable"
try:
    bytearray(64 * 1024 ** 3); res["mem"] = "ALLOCATED"
except MemoryError:
    res["mem"] = "limited"
print(repr(res))
""".replace("REPO", repr(str(REPO_ROOT))).replace("HOST_HOME", repr(os.path.expanduser("~")))
    cp = _run(code, tmp_path)
    assert cp.returncode == 0, cp.stderr
    res = eval(cp.stdout.strip().splitlines()[-1])
    assert (tmp_path / "inside.txt").read_text() == "ok"
    # nothing the kernel writes reaches the host: the home folder is refused; a checkout that lies under /tmp (CI's
    # clone) is, inside the sandbox, a folder of its private /tmp, where a write lands and vanishes with it
    assert res[os.path.expanduser("~/frlab-sbx-test")] == "refused"
    assert not os.path.exists(os.path.expanduser("~/frlab-sbx-test")) and not (REPO_ROOT / "frlab-sbx-test").exists()
    if not str(REPO_ROOT.resolve()).startswith("/tmp/"):
        assert res[str(REPO_ROOT) + "/frlab-sbx-test"] == "refused"
    assert not (tmp_path.parent / "outside.txt").exists()
    assert res["net"] == "blocked"
    assert res["solutions"] == []  # hidden
    assert res["notebook"] in ("", "unreadable")  # nbgrader's copy with hidden tests is masked
    assert res["mem"] == "limited"


RESERVE_AND_ALLOCATE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
# 8 GiB of address space reserved and never touched, as a CUDA build of torch does at import (PROT_NONE, private,
# anonymous, no swap reserved)
p = libc.mmap(None, 8 << 30, 0, 0x02 | 0x20 | 0x4000, -1, 0)
print("reserve", "refused" if p in (None, ctypes.c_void_p(-1).value) else "ok")
try:
    hog = [bytearray(50_000_000) for _ in range(40)]  # 2 GB really allocated
    print("allocate", "allowed")
except MemoryError:
    print("allocate", "MemoryError")
"""


def test_memory_is_capped_on_what_is_allocated_not_on_address_space(tmp_path):
    """A CUDA build of torch maps 3 GB of address space at import (an address-space cap killed correct Part 1
    submissions on Python 3.12's CUDA torch): reserving address space is free, allocating memory is capped."""
    cp = _run(RESERVE_AND_ALLOCATE, tmp_path, FRLAB_SANDBOX_MEM_MB="1024")
    assert cp.stdout.split() == ["reserve", "ok", "allocate", "MemoryError"], cp.stdout + cp.stderr


def test_cpu_time_limit(tmp_path):
    cp = _run("while True: pass", tmp_path, FRLAB_SANDBOX_CPU_S="2")
    assert cp.returncode != 0  # killed by SIGXCPU/SIGKILL


def test_the_kernel_sees_an_allow_list_of_the_host(tmp_path):
    """Only the system, the Python environment, the student package, public results and the asset cache: no
    other checkout of the project, no home folder, no course folder, no other /tmp."""
    decoy = REPO_ROOT.parent / "frlab-sbx-decoy-checkout"
    (decoy / "solutions").mkdir(parents=True, exist_ok=True)
    (decoy / "solutions" / "part1.py").write_text("hidden tests")
    outside_tmp = tmp_path.parent / "frlab-sbx-other-tmp"
    outside_tmp.mkdir(exist_ok=True)
    (tmp_path / "work").mkdir()
    code = r"""
import os
seen = {}
for p in [DECOY, HOME, OTHER_TMP, REPO + "/autograder", REPO + "/solutions", REPO + "/frlab", REPO + "/tests"]:
    seen[p] = sorted(os.listdir(p)) if os.path.isdir(p) else None
try:
    open("/made-in-the-root", "w"); seen["root"] = "WRITABLE"
except OSError:
    seen["root"] = "read-only"
print(repr(seen))
""".replace("DECOY", repr(str(decoy))).replace("HOME", repr(os.path.expanduser("~/frlab-sbx-home")))
    code = code.replace("OTHER_TMP", repr(str(outside_tmp))).replace("REPO", repr(str(REPO_ROOT)))
    os.makedirs(os.path.expanduser("~/frlab-sbx-home"), exist_ok=True)
    try:
        cp = _run(code, tmp_path / "work")
    finally:
        import shutil

        shutil.rmtree(decoy, ignore_errors=True)
        shutil.rmtree(os.path.expanduser("~/frlab-sbx-home"), ignore_errors=True)
    assert cp.returncode == 0, cp.stderr
    seen = eval(cp.stdout.strip().splitlines()[-1])
    assert seen[str(decoy)] is None and seen[os.path.expanduser("~/frlab-sbx-home")] is None
    assert seen[str(outside_tmp)] is None and seen["root"] == "read-only"
    assert seen[str(REPO_ROOT / "autograder")] in (None, []) and seen[str(REPO_ROOT / "solutions")] in (None, [])
    assert seen[str(REPO_ROOT / "tests")] is None  # not on the allow-list
    assert "profiles.py" in seen[str(REPO_ROOT / "frlab")]  # the student package is
