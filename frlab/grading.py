"""Helpers used *inside* the notebooks for autograding (nbgrader).

* :func:`is_grading` – true while nbgrader executes the notebook (``NBGRADER_EXECUTION`` is set by
  ``nbgrader autograde`` and ``nbgrader validate``). Long cells (training) test it and load the
  submitted artefacts instead of retraining.
* :func:`submission_dir` / :func:`submitted_file` / :func:`require_artefact` – locate the files that a
  student submits beside the notebook (run logs, result JSON) and fail with a clear, gradeable message
  when they are missing or unreadable.

A missing artefact raises :class:`MissingArtefact` (an ``AssertionError`` subclass), so the grade cells
that depend on it score zero with a readable reason and the rest of the notebook still runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV_VAR = "NBGRADER_EXECUTION"


class MissingArtefact(AssertionError):
    """A file the grader needs was not submitted beside the notebook (or is unreadable)."""


def is_grading() -> bool:
    """True while nbgrader executes the notebook (autograde or validate)."""
    return bool(os.environ.get(ENV_VAR))


def submission_dir() -> Path:
    """The folder of the notebook being run: nbgrader (and Jupyter) start the kernel there."""
    return Path.cwd()


def submitted_file(relpath: str | os.PathLike) -> Path:
    """Path of ``relpath`` inside the submission folder (it may not exist)."""
    p = Path(relpath)
    return p if p.is_absolute() else submission_dir() / p


def require_artefact(relpath: str | os.PathLike, what: str = "") -> Path:
    """The submitted artefact ``relpath`` (file or folder), or a :class:`MissingArtefact` explaining what to submit."""
    p = submitted_file(relpath)
    if not p.exists() or (p.is_dir() and not any(p.iterdir())):
        label = f" ({what})" if what else ""
        raise MissingArtefact(
            f"missing artefact{label}: '{relpath}' was not found beside the notebook. Submit it in the same "
            f"folder as the notebook (the grader does not retrain); tests that need it score zero."
        )
    return p


def load_json_artefact(relpath: str | os.PathLike, what: str = ""):
    """Read a submitted JSON artefact; a missing or corrupt file raises :class:`MissingArtefact`."""
    p = require_artefact(relpath, what)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MissingArtefact(f"unreadable artefact '{relpath}': {type(exc).__name__}: {exc}") from None


def save_json_artefact(relpath: str | os.PathLike, data) -> Path:
    """Write ``data`` as JSON beside the notebook (what students submit with it)."""
    p = submitted_file(relpath)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return p
