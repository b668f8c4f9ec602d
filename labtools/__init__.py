"""The instructor's and maintainer's tools: the book (pages, build, results page), the main job
(``python -m labtools.run_lab``), the producers of the stored reference results, benchmarks and probes.

Imports go one way: ``labtools`` → ``autograder`` → ``frlab``. Nothing here is installed for students.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
#: the maintainers' asset mirror (a copy of the public assets beside the checkout): tests, CI and the tools here
#: use it when ``FRLAB_MIRROR`` is not set. The Makefile sets the same default for its targets.
DEV_MIRROR = REPO_ROOT.parent / "shared" / "data"


def dev_mirror() -> Path:
    """``FRLAB_MIRROR`` when set, else :data:`DEV_MIRROR`."""
    return Path(os.environ.get("FRLAB_MIRROR") or DEV_MIRROR).resolve()


def use_dev_mirror(env: dict | None = None) -> dict:
    """Set ``FRLAB_MIRROR`` to :func:`dev_mirror` in ``env`` (default: this process) when it is not set."""
    env = os.environ if env is None else env
    env.setdefault("FRLAB_MIRROR", str(dev_mirror()))
    return env
