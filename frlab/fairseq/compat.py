"""Make fairseq 0.12 checkpoints load under torch >= 2.6.

torch 2.6 switched ``torch.load`` to ``weights_only=True``.  fairseq checkpoints
pickle an ``argparse.Namespace`` (the training arguments) and a few numpy
scalars in their metrics, which the safe unpickler refuses.  Rather than turning
the safety off for the whole process (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``),
we allow-list exactly those types.
"""

from __future__ import annotations

import argparse

_DONE = False


def safe_types() -> list:
    import numpy as np

    types = [argparse.Namespace, np.dtype]
    # numpy scalar dtypes found in fairseq metrics state
    types += [type(np.dtype("float64")), type(np.dtype("float32")), type(np.dtype("int64"))]
    try:  # numpy >= 2 keeps the reconstructor here
        from numpy._core.multiarray import scalar

        types.append(scalar)
    except ImportError:  # pragma: no cover
        pass
    return types


def allow_fairseq_checkpoints() -> None:
    """Allow-list the non-tensor types of fairseq checkpoints (idempotent)."""
    global _DONE
    if _DONE:
        return
    import torch

    if hasattr(torch.serialization, "add_safe_globals"):
        torch.serialization.add_safe_globals(safe_types())
    _DONE = True


def tame_fairseq_logging() -> None:
    """Undo ``logging.basicConfig(level=DEBUG)`` run by fairseq's text-to-speech task at import.

    Without this, every library's DEBUG messages (matplotlib's font search, ...) flood the notebooks.
    """
    import logging

    import fairseq.tasks  # noqa: F401  (the import that configures the root logger)

    root = logging.getLogger()
    if root.level < logging.INFO:
        root.setLevel(logging.INFO)
    for name in ("fairseq.tasks.text_to_speech", "bitsandbytes", "matplotlib"):
        logging.getLogger(name).setLevel(logging.WARNING)
