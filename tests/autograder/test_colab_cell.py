"""The Colab install cell, run for real: in this environment (everything present), and in a new environment where a
package the kernel has loaded must change (one restart asked, then nothing to do). Local wheels, no index."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from autograder import colab

CELL = colab.install_cell_source()


def _cell_with(needs: dict, build: dict | None = None) -> str:
    """The generated cell with other constants (the body is untouched)."""
    body = CELL.split("\nimport os\n", 1)[1]
    return f"NEEDS = {needs!r}\nBUILD = {build or {}!r}\nFRLAB = 'frlab'\nimport os\n" + body


def _run(python, source: str, preamble: str, env: dict | None = None) -> subprocess.CompletedProcess:
    code = preamble + "\n" + source
    env = {**os.environ, "COLAB_RELEASE_TAG": "test", **(env or {})}
    env.pop("NBGRADER_EXECUTION", None)
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_the_cell_does_nothing_outside_colab_and_while_grading():
    for env in ({"COLAB_RELEASE_TAG": ""}, {"NBGRADER_EXECUTION": "autograde"}):
        full = {k: v for k, v in os.environ.items() if k != "COLAB_RELEASE_TAG"}
        full.update({k: v for k, v in env.items() if v})
        r = subprocess.run([sys.executable, "-c", CELL], capture_output=True, text=True, env=full)
        assert r.returncode == 0 and r.stdout == "", (env, r.stdout, r.stderr)


def test_a_runtime_that_has_everything_installs_nothing():
    # this environment is the lab's tested stack: every package is present in its range, fairseq and frlab too
    r = _run(sys.executable, CELL, "import numpy, torch, pandas, matplotlib")
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    assert "frlab set-up: nothing to install" in out and "installing" not in out and "building" not in out
    needs, _ = colab.colab_requirements()
    assert f"kept {len(needs)} packages" in out and "Restart" not in out


def _wheel(folder: Path, version: str) -> Path:
    """A minimal wheel of the package ``frlabdemo`` (no index, no build)."""
    name = f"frlabdemo-{version}"
    path = folder / f"{name}-py3-none-any.whl"
    files = {
        "frlabdemo/__init__.py": f"__version__ = {version!r}\n",
        f"{name}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: frlabdemo\nVersion: {version}\n",
        f"{name}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{name}.dist-info/top_level.txt": "frlabdemo\n",
    }
    record = "".join(f"{f},,\n" for f in files) + f"{name}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as z:
        for f, text in {**files, f"{name}.dist-info/RECORD": record}.items():
            z.writestr(f, text)
    return path


@pytest.mark.slow
def test_a_loaded_package_that_must_change_asks_for_one_restart(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    # the "runtime's" frlabdemo 1.0 lives in a base folder that a new venv sees through a .pth, as on Colab
    base = tmp_path / "base"
    with zipfile.ZipFile(_wheel(tmp_path, "1.0")) as z:
        z.extractall(base)
    _wheel(wheels, "2.0")
    venv = tmp_path / "runtime"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    Path(purelib, "base.pth").write_text(f"{base}\n{sysconfig.get_paths()['purelib']}\n")
    cell = _cell_with({"frlabdemo": ("==2.0", "==2.0")})
    env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_CONSTRAINT": ""}

    first = _run(py, cell, "import frlabdemo", env)
    assert first.returncode != 0 and "restart the runtime once" in first.stderr, (first.stdout, first.stderr)
    assert "installing frlabdemo==2.0" in first.stdout
    assert "the kernel had already loaded frlabdemo 1.0 -> 2.0" in first.stdout

    again = _run(py, cell, "import frlabdemo; assert frlabdemo.__version__ == '2.0'", env)  # after the restart
    assert again.returncode == 0, again.stderr[-2000:]
    assert "nothing to install" in again.stdout and "Restart" not in again.stdout
    assert "kept 1 packages this runtime has (frlabdemo 2.0)" in again.stdout

    # a package the kernel has NOT loaded is simply installed: no restart
    fresh = _run(py, cell.replace("==2.0", "==1.0"), "import json", env | {"PIP_FIND_LINKS": str(tmp_path)})
    assert fresh.returncode == 0 and "installing frlabdemo==1.0" in fresh.stdout and "Restart" not in fresh.stdout
