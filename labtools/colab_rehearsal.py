"""Rehearse the students' first steps on Colab without Colab: a Colab-like runtime, each notebook's install cell
run verbatim, then the chapter executed in that same kernel.

    python -m labtools.colab_rehearsal [--python python3.13] [--freeze FILE] [--parts 1 2 3 4]

* **The runtime.** Colab's GPU runtime publishes ``pip freeze`` (``googlecolab/backend-info``:
  ``pip-freeze.gpu.txt``; ``--freeze``, by default ``colab/pip-freeze.gpu.txt`` under ``FRLAB_MIRROR``). The
  packages the lab touches, and what they pull in, are installed at those versions into a base environment of
  the same Python (``--python``; Colab runs 3.13). torch is the same release from PyPI (its CUDA build, run on
  the CPU here). The base environment is built once and reused (its stamp is the freeze and the list).
* **Each rehearsal starts fresh.** A new virtual environment sees the base through a ``.pth`` file, so what the
  install cell installs lands in the new environment, and pip's cache is a new, empty folder: the first notebook
  pays what a student pays on a new Colab runtime (downloads, fairseq-fixed built against the runtime's torch).
* **The kernel.** Each notebook runs in its own kernel of that environment. Before the notebook, the kernel
  imports numpy, torch, pandas and matplotlib, as Colab's does before the first cell. ``COLAB_RELEASE_TAG`` is
  set, so the install cell acts as on Colab, and frlab comes from this checkout's commit (``FRLAB_INSTALL_FROM``,
  a ``git+file://`` URL) instead of the public repository. The cell is taken verbatim from ``notebooks/``; the
  cells after it are the chapter's (``solutions/``, so that the exercises are answered), in the smoke profile.
* **If the cell asks for a restart**, the kernel is restarted once and the notebook run again from the top, as
  a student would do; the record says so.

Writes ``results/colab/rehearsal.json``: per notebook, the install cell's seconds and what it printed, the
status, and the versions the kernel had loaded at the end. Too slow for CI (the runtime's downloads, a fairseq
build): run it before changing the install cell or the pins, and say how long it took.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from autograder import REPO_ROOT
from labtools import provenance
from labtools.execute import output_chunks

OUT = REPO_ROOT / "results" / "colab" / "rehearsal.json"
PARTS = {
    "1": "part1_parameter_counting",
    "2": "part2_fairseq_finetuning",
    "3": "part3_hf_finetuning",
    "4": "part4_qlora",
}
#: what the lab touches of Colab's runtime (each at Colab's version; pip adds their dependencies, also at Colab's
#: version where the freeze lists them)
COLAB_PACKAGES = (
    "torch numpy pandas matplotlib scipy scikit-learn transformers tokenizers safetensors huggingface_hub peft "
    "accelerate datasets pyarrow omegaconf PyYAML protobuf tensorboard sentencepiece regex tqdm Cython cffi "
    "packaging setuptools wheel requests filelock fsspec Jinja2 ipykernel ipython jupyter_client pyzmq tornado "
    "traitlets"
).split()
#: what Colab's kernel has imported before the first cell runs
PREAMBLE = "import numpy, torch, pandas, matplotlib  # Colab's kernel has these loaded before the first cell"
PROBE_MODULES = (
    "numpy torch pandas matplotlib transformers peft accelerate bitsandbytes datasets fairseq sentencepiece "
    "tensorboard tbparse omegaconf hydra google.protobuf frlab"
).split()
PROBE = (
    "import json, sys\n"
    f"_m = {PROBE_MODULES!r}\n"
    "print('REHEARSAL-LOADED ' + json.dumps({m: getattr(sys.modules.get(m), '__version__', None) "
    "for m in _m if m in sys.modules}))"
)
RESTART_ASKED = "restart the runtime once"


def colab_pins(freeze: Path) -> dict[str, str]:
    """``{name: version}`` of a ``pip freeze`` listing; direct URLs (``name @ url``) are left out and local
    version labels (``+cu128``) dropped: the CPU here runs PyPI's build of the same release."""
    pins = {}
    for line in freeze.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s+;]+)(\+\S+)?", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def base_runtime(python: str, freeze: Path, root: Path) -> tuple[Path, dict]:
    """The Colab-like base environment (built once per freeze and package list); returns its python and facts."""
    pins = colab_pins(freeze)
    missing = [p for p in COLAB_PACKAGES if p.lower().replace("_", "-") not in pins]
    if missing:
        raise SystemExit(f"colab rehearsal: {freeze} does not list {missing}: is it a Colab pip freeze?")
    stamp_text = hashlib.sha256((freeze.read_text() + " ".join(COLAB_PACKAGES) + python).encode()).hexdigest()[:16]
    base = root / f"base-{stamp_text}"
    py = base / "bin" / "python"
    facts_path = base / "colab-runtime.json"
    if facts_path.exists():
        return py, json.loads(facts_path.read_text())
    shutil.rmtree(base, ignore_errors=True)
    t0 = time.time()
    _run([python, "-m", "venv", base])
    constraints = base / "colab-constraints.txt"
    # torch's CUDA libraries follow the torch build (Colab's comes from PyTorch's cu128 index, PyPI's is another
    # CUDA build of the same release): they are not held to Colab's versions
    cuda = re.compile(r"nvidia-|triton$|cuda-")
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items()) if not cuda.match(n)))
    wanted = [f"{p}=={pins[p.lower().replace('_', '-')]}" for p in COLAB_PACKAGES]
    _run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", constraints, *wanted])
    version = subprocess.run([py, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True)
    facts = {
        "python": version.stdout.strip(),
        "freeze_sha256": hashlib.sha256(freeze.read_bytes()).hexdigest(),
        "freeze_packages": len(pins),
        "installed_from_freeze": dict(sorted((p, pins[p.lower().replace("_", "-")]) for p in COLAB_PACKAGES)),
        "build_seconds": round(time.time() - t0, 1),
    }
    facts_path.write_text(json.dumps(facts, indent=1))
    return py, facts


def fresh_runtime(base_py: Path, root: Path, keep: bool = False) -> tuple[Path, dict]:
    """A new environment on top of the base one (``.pth``), with an empty pip cache; returns its python, env.
    ``keep``: the last one as it is, if there is one."""
    rt = root / "runtime"
    env = {
        "COLAB_RELEASE_TAG": "frlab-rehearsal",
        "PIP_CACHE_DIR": str(root / "pip-cache"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "VIRTUAL_ENV": str(rt),
        "PATH": f"{rt / 'bin'}:{os.environ.get('PATH', '')}",
    }
    if keep and (rt / "bin" / "python").exists():
        return rt / "bin" / "python", env
    shutil.rmtree(rt, ignore_errors=True)
    base_python = os.path.realpath(base_py)
    _run([base_python, "-m", "venv", "--without-pip", rt])
    site = lambda env: subprocess.run(  # noqa: E731
        [env, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    Path(site(rt / "bin" / "python"), "colab-base.pth").write_text(site(base_py) + "\n")
    shutil.rmtree(env["PIP_CACHE_DIR"], ignore_errors=True)
    return rt / "bin" / "python", env


def _at_commit(commit: str, relpath: str, dest: Path) -> Path:
    """``relpath`` as it is in ``commit`` (what a student's runtime gets from the repository), written to ``dest``."""
    out = subprocess.run(["git", "show", f"{commit}:{relpath}"], cwd=REPO_ROOT, capture_output=True, check=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(out.stdout)
    return dest


def rehearsal_notebook(stem: str, commit: str, scratch: Path):
    """The student notebook's install cell, verbatim, between Colab's preamble and the chapter's cells; both
    as they are in ``commit``, like the frlab package the cell installs."""
    import nbformat

    from autograder.chapters import read_source

    student = nbformat.read(_at_commit(commit, f"notebooks/{stem}.ipynb", scratch / f"{stem}.ipynb"), as_version=4)
    install = next(c for c in student.cells if c.get("id") == "colab-install")
    nb = read_source(_at_commit(commit, f"solutions/{stem}.py", scratch / f"{stem}.py"))
    pre = nbformat.v4.new_code_cell(PREAMBLE)
    probe = nbformat.v4.new_code_cell(PROBE)
    nb.cells = [pre, install, *nb.cells, probe]
    return nb, install.source


def _text(cell) -> str:
    return "".join(output_chunks(cell, errors=True))


def _seconds(cell) -> float | None:
    t = cell.get("metadata", {}).get("execution", {})
    a, b = t.get("iopub.execute_input"), t.get("shell.execute_reply")
    if not (a and b):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return round((parse(b) - parse(a)).total_seconds(), 1)


def run_notebook(stem: str, commit: str, python: Path, env: dict, workdir: Path, timeout: int) -> dict:
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    workdir.mkdir(parents=True, exist_ok=True)
    kernels = workdir / "kernels"
    spec_dir = kernels / "colab-rehearsal"
    spec_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Colab", "language": "python"}))
    record: dict = {"notebook": f"notebooks/{stem}.ipynb", "restart_asked": False}
    t0 = time.time()
    for attempt in (1, 2):
        nb, install_src = rehearsal_notebook(stem, commit, workdir / "from-commit")
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="colab-rehearsal", resources={"metadata": {"path": str(workdir)}}
        )
        client.km = client.create_kernel_manager()
        client.km.kernel_spec_manager = KernelSpecManager(kernel_dirs=[str(kernels)])  # the runtime's python
        status, error = "ok", None
        kernel_env = {**os.environ, **env}
        try:
            client.execute(env=kernel_env)
        except CellExecutionError as exc:
            status, error = "failed", str(exc).strip().splitlines()[-1][:500]
        except Exception as exc:  # a dead kernel, a time-out
            status, error = "failed", f"{type(exc).__name__}: {exc}"[:500]
        install = nb.cells[1]
        printed = _text(install)
        if status == "failed" and RESTART_ASKED in printed and attempt == 1:
            record["restart_asked"] = True
            record["first_install"] = {"seconds": _seconds(install), "printed": printed.splitlines()}
            continue  # a student restarts the runtime once and runs the notebook again
        break
    nbformat.write(nb, workdir / f"{stem}.ipynb")
    loaded = re.search(r"REHEARSAL-LOADED (\{.*\})", _text(nb.cells[-1]))
    record.update(
        status=status,
        error=error,
        install_cell_verbatim=install_src == install.source,
        install_seconds=_seconds(install),
        install_printed=[line for line in printed.splitlines() if line.strip()],
        seconds=round(time.time() - t0, 1),
        loaded=json.loads(loaded.group(1)) if loaded else None,
    )
    return record


def main(argv: list[str] | None = None) -> int:
    from frlab.paths import work_dir

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=shutil.which("python3.13") or "python3.13", help="Colab's Python")
    mirror = os.environ.get("FRLAB_MIRROR")
    ap.add_argument("--freeze", type=Path, default=Path(mirror) / "colab" / "pip-freeze.gpu.txt" if mirror else None)
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--keep-runtime",
        action="store_true",
        help="reuse the runtime of the last rehearsal (what its cells installed included): for trying a change, "
        "not for the record",
    )
    args = ap.parse_args(argv)
    if not args.freeze or not args.freeze.exists():
        raise SystemExit(
            "colab rehearsal: no Colab package list: pass --freeze with pip-freeze.gpu.txt of "
            "https://github.com/googlecolab/backend-info (or set FRLAB_MIRROR to a mirror that has colab/)"
        )
    commit = provenance.commit(short=False)
    if subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=REPO_ROOT).returncode:
        print(
            f"colab rehearsal: note: uncommitted changes are not rehearsed: notebooks, chapters and frlab are "
            f"taken from commit {commit[:12]}"
        )
    root = work_dir() / "colab-rehearsal"
    t0 = time.time()
    base_py, facts = base_runtime(args.python, args.freeze, root)
    python, env = fresh_runtime(base_py, root, keep=args.keep_runtime)
    env.update(
        FRLAB_INSTALL_FROM=f"frlab @ git+file://{REPO_ROOT}@{commit}",
        FRLAB_PROFILE="smoke",
        FRLAB_WORK=str(root / "work"),
        FRLAB_CACHE=str(root / "cache"),
        MPLBACKEND="agg",
    )
    for d in ("work", "cache") if not args.keep_runtime else ():
        shutil.rmtree(root / d, ignore_errors=True)
    results = []
    for part in args.parts:
        stem = PARTS[part]
        print(f"--- {stem}", flush=True)
        rec = run_notebook(stem, commit, python, env, root / "executed", args.timeout)
        print(json.dumps(rec, indent=1), flush=True)
        results.append(rec)
    report = {
        "what": "Colab rehearsal: each notebook's install cell run verbatim in a Colab-like runtime, then the "
        "chapter executed in that kernel (smoke profile)",
        "command": "python -m labtools.colab_rehearsal " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit[:12],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU",
        "runtime": facts,
        "fresh_runtime": not args.keep_runtime,
        "notebooks": results,
        "all_ok": all(r["status"] == "ok" for r in results),
        "total_seconds": round(time.time() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(
        f"colab rehearsal: {sum(r['status'] == 'ok' for r in results)}/{len(results)} notebooks ok in "
        f"{report['total_seconds'] / 60:.1f} min -> {args.out}"
    )
    return 0 if report["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
