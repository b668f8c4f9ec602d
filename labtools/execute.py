"""Execute notebooks headless (nbclient) and read their printed output."""

from __future__ import annotations

import os
import time
from pathlib import Path

from frlab.paths import REPO_ROOT


def execute(
    nb, *, cwd: Path | str | None = None, timeout: int = 900, env: dict | None = None, kernel_name: str = "python3"
):
    """Execute ``nb`` in place with nbclient; returns (nb, seconds). Raises on a failing cell.

    ``env`` entries are added to the kernel's environment (e.g. ``{"FRLAB_PROFILE": "smoke"}``).
    """
    from nbclient import NotebookClient

    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name=kernel_name, resources={"metadata": {"path": str(cwd or REPO_ROOT)}}
        )
        t0 = time.time()
        client.execute()
        return nb, time.time() - t0
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def output_chunks(cell, errors: bool = False) -> list[str]:
    """The text outputs of one executed cell (streams, ``text/plain`` results; with ``errors``, each error as
    ``Name: value``)."""
    chunks = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            chunks.append(out.get("text", ""))
        elif "data" in out and "text/plain" in out["data"]:
            chunks.append(out["data"]["text/plain"])
        elif errors and out.get("output_type") == "error":
            chunks.append(f"{out.get('ename')}: {out.get('evalue')}")
    return chunks


def outputs_text(nb) -> str:
    """All stream/text outputs of an executed notebook, concatenated (for assertions)."""
    return "\n".join(chunk for cell in nb.cells for chunk in output_chunks(cell))


def execute_chapter(stem: str, profile: str, *, timeout: int = 3 * 3600) -> float:
    """Execute ``solutions/<stem>.py`` headless in ``profile``, beside ``<work>/<profile>/executed/<stem>.ipynb``
    (written even when a cell fails); returns the seconds it took."""
    import nbformat

    from autograder.chapters import SOLUTIONS_DIR, read_source
    from frlab.paths import work_dir

    out_dir = work_dir() / profile / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = read_source(SOLUTIONS_DIR / f"{stem}.py")
    t0 = time.time()
    try:
        execute(nb, cwd=out_dir, timeout=timeout, env={"FRLAB_PROFILE": profile})
    finally:
        nbformat.write(nb, out_dir / f"{stem}.ipynb")
    return time.time() - t0
