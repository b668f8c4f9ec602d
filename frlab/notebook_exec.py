"""Read chapter sources (jupytext percent) and execute notebooks headless."""

from __future__ import annotations

import os
import time
from pathlib import Path

from frlab.paths import REPO_ROOT

SOLUTIONS_DIR = REPO_ROOT / "solutions"


def chapter_sources() -> list[Path]:
    """The chapter sources, in order: ``solutions/part*.py``."""
    return sorted(SOLUTIONS_DIR.glob("part*.py"))


def read_source(path: Path | str):
    """A chapter source as an nbformat notebook (cell metadata, nbgrader included, preserved)."""
    import jupytext

    nb = jupytext.read(str(path), fmt="py:percent")
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    nb.metadata.pop("jupytext", None)
    return nb


def execute(nb, *, cwd: Path | str | None = None, timeout: int = 900, env: dict | None = None,
            kernel_name: str = "python3"):
    """Execute ``nb`` in place with nbclient; returns (nb, seconds). Raises on a failing cell.

    ``env`` entries are added to the kernel's environment (e.g. ``{"FRLAB_PROFILE": "smoke"}``).
    """
    from nbclient import NotebookClient

    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                                resources={"metadata": {"path": str(cwd or REPO_ROOT)}})
        t0 = time.time()
        client.execute()
        return nb, time.time() - t0
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def outputs_text(nb) -> str:
    """All stream/text outputs of an executed notebook, concatenated (for assertions)."""
    chunks = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                chunks.append(out.get("text", ""))
            elif "data" in out and "text/plain" in out["data"]:
                chunks.append(out["data"]["text/plain"])
    return "\n".join(chunks)
