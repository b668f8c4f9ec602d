"""Running the lab's training runs: a command-line tool with its output logged, the hardware it ran on, the run
naming and marker conventions shared by Parts 2 and 3, and the mean ± standard deviation of a set of runs."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
from pathlib import Path

SPLITS = ("train", "valid", "test")
INITS = ("pretrained", "random")
SEEDS = (0, 1, 2)
MARKER = "run.json"  # written into a run folder when the run has finished


def world_size() -> int:
    """Processes of a distributed launch (``torchrun``/``accelerate`` set ``WORLD_SIZE``); 1 for a notebook."""
    return int(os.environ.get("WORLD_SIZE") or 1)


def local_rank() -> int:
    """This process's GPU under ``torchrun``/``accelerate`` (``LOCAL_RANK``); 0 for a notebook."""
    return int(os.environ.get("LOCAL_RANK") or 0)


def run_name(init: str, seed: int) -> str:
    """``pretrained_seed0``: the folder name of one run (Parts 2 and 3)."""
    return f"{init}_seed{seed}"


def tool_path(tool: str) -> str:
    """A console script (``fairseq-train`` …) next to the running interpreter, else the bare name (PATH)."""
    cand = Path(sys.executable).parent / tool
    return str(cand) if cand.exists() else tool


def preprocess_command(
    prefixes: dict, dest: Path | str, *, srcdict: Path | str | None = None, workers: int = 1
) -> list[str]:
    """A ``fairseq-preprocess --only-source`` command line; ``prefixes`` maps each split (train, valid, test) to
    the text file it reads, ``srcdict`` is the dictionary to use (else fairseq builds one)."""
    cmd = [tool_path("fairseq-preprocess"), "--only-source"]
    if srcdict is not None:
        cmd += ["--srcdict", str(srcdict)]
    for split, path in prefixes.items():
        cmd += [f"--{split}pref", str(path)]
    return cmd + ["--destdir", str(dest), "--workers", str(workers)]


def tool_env(threads: int | None = None) -> dict:
    """The environment of a training subprocess: ours, with the thread count pinned when given."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
        env["MKL_NUM_THREADS"] = str(threads)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_logged(
    cmd: list[str], log_path: Path | None = None, *, env: dict | None = None, echo: bool = True, echo_filter=None
) -> None:
    """Run ``cmd``, streaming its output to the console (progress) and to ``log_path``.

    Raises :class:`subprocess.CalledProcessError` with the last lines of output on failure.
    """
    tail: list[str] = []
    log = open(log_path, "a", encoding="utf-8") if log_path else None
    try:
        if log:
            log.write("$ " + " ".join(cmd) + "\n")
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env or tool_env(), bufsize=1
        )
        for line in proc.stdout:
            tail.append(line)
            del tail[:-40]
            if log:
                log.write(line)
                log.flush()
            if echo and (echo_filter is None or echo_filter(line)):
                print(line, end="", flush=True)
        rc = proc.wait()
    finally:
        if log:
            log.close()
    if rc != 0:
        raise subprocess.CalledProcessError(rc, cmd, output="".join(tail))


def hardware() -> str:
    """``GPU <name>`` or ``CPU <model>, <n> cores``: recorded with every run."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            return f"GPU {torch.cuda.get_device_name(0)}"
    except ImportError:  # pragma: no cover
        pass
    return f"CPU {cpu}, {os.cpu_count()} cores"


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1, as pandas); std 0 for one value."""
    v = [float(x) for x in values]
    m = sum(v) / len(v)
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, s


def finish_curve_axes(ax, ylabel: str, title: str | None = None, legend_fontsize: int = 8):
    """Labels, chance line (50 %), grid, legend and title of a validation-curve plot; returns the figure."""
    ax.set_xlabel("updates")
    ax.set_ylabel(ylabel)
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_fontsize, ncol=2)
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure
