"""French e-commerce question/answer data for Part 4 (LoRA / QLoRA) and its prompt format.

Two sources share one loader, :func:`load_faq`:

* ``hub``     – the course's file ``ecommerce-faq-fr.json`` from the Hugging Face dataset
  ``OpenLLM-France/Tutoriel`` (asset ``qa-ecommerce-fr``: cache → ``FRLAB_MIRROR/qa/`` → Hub);
* ``bundled`` – ``frlab/data/faq_fr.json``, 81 pairs written for this course (CC0, see
  ``frlab/data/FAQ_LICENSE.md``).

``source="auto"`` (the default) uses the Hub file when it can be had and says so, else the
bundled one.  Both files have the layout ``{"questions": [{"question": ..., "answer": ...}]}``;
a bare list of such records is accepted too.  Every row is validated: a row whose question
or answer is missing, not a string, or blank is rejected with its index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from frlab.paths import PACKAGE_DIR

BUNDLED_FAQ = PACKAGE_DIR / "data" / "faq_fr.json"
HUB_ASSET = "qa-ecommerce-fr"
HUB_FILENAME = "ecommerce-faq-fr.json"

HUMAN_TAG = "<human>:"
ASSISTANT_TAG = "<assistant>:"


class FaqFormatError(ValueError):
    """The Q/A file is not in the expected layout or holds malformed rows."""


@dataclass(frozen=True)
class Faq:
    rows: list[dict]  # [{"question": str, "answer": str}, ...]
    source: str  # "hub" or "bundled"
    path: Path

    def __len__(self) -> int:
        return len(self.rows)


# --------------------------------------------------------------------------- validation
def records_of(data) -> list:
    """The list of records inside a parsed JSON file (``{"questions": [...]}`` or ``[...]``)."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("questions", "data", "rows"):
            if isinstance(data.get(key), list):
                return data[key]
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
        raise FaqFormatError(
            f"expected a list of records or an object with a 'questions' list; got an object with keys {sorted(data)}"
        )
    raise FaqFormatError(f"expected a list of records or an object with a 'questions' list; got {type(data).__name__}")


def validate_rows(records, *, where: str = "data") -> list[dict]:
    """Check every record; return clean ``{"question", "answer"}`` dicts (stripped).

    Raises :class:`FaqFormatError` listing every bad row as ``row <index>: <problem>``.
    Field names are matched case-insensitively (``Question``/``Answer`` are accepted).
    """
    clean, problems = [], []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            problems.append(f"row {i}: expected an object with 'question' and 'answer', got {type(rec).__name__}")
            continue
        lower = {str(k).lower(): v for k, v in rec.items()}
        row, bad = {}, []
        for field in ("question", "answer"):
            value = lower.get(field)
            if field not in lower:
                bad.append(f"missing '{field}'")
            elif not isinstance(value, str):
                bad.append(f"'{field}' must be a string, got {type(value).__name__}")
            elif not value.strip():
                bad.append(f"'{field}' is empty")
            else:
                row[field] = value.strip()
        if bad:
            problems.append(f"row {i}: " + "; ".join(bad))
        else:
            clean.append(row)
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise FaqFormatError(
            f"{where}: {len(problems)} malformed row(s) out of {len(records)}:\n  " + "\n  ".join(shown)
        )
    if not clean:
        raise FaqFormatError(f"{where}: no question/answer rows")
    return clean


def read_faq_file(path: Path | str) -> list[dict]:
    """Read and validate one Q/A JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FaqFormatError(f"{path}: not valid JSON ({exc})") from exc
    try:
        records = records_of(data)
    except FaqFormatError as exc:
        raise FaqFormatError(f"{path}: {exc}") from None
    return validate_rows(records, where=str(path))


def load_faq(source: str = "auto", *, verbose: bool = True) -> Faq:
    """The Part 4 Q/A set. ``source``: ``"auto"`` (Hub file if reachable, else bundled), ``"hub"``, ``"bundled"``."""
    if source not in ("auto", "hub", "bundled"):
        raise ValueError(f"source must be 'auto', 'hub' or 'bundled', not {source!r}")

    def loaded(path: Path, origin: str, where: str) -> Faq:
        faq = Faq(read_faq_file(path), origin, path)
        if verbose:
            print(f"Q/A data: {len(faq)} pairs from {where}")
        return faq

    if source in ("auto", "hub"):
        from frlab.assets import AssetError, fetch

        try:
            folder = fetch(HUB_ASSET, progress=False, allow_network=source == "hub" or hub_reachable())
            path = folder / HUB_FILENAME
            return loaded(path, "hub", f"the course's Hub file ({path})")
        except AssetError:
            if source == "hub":
                raise
            if verbose:
                print(
                    "Q/A data: the course's Hub file (OpenLLM-France/Tutoriel, ecommerce-faq-fr.json) is not "
                    "available here (not in the cache, no mirror copy, Hub not reachable); using the lab's own FAQ set."
                )
    return loaded(BUNDLED_FAQ, "bundled", f"{BUNDLED_FAQ.name} (written for this course, CC0)")


def hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """A quick TCP probe, so that an offline machine does not spend ~30 s in Hub retries.
    ``HF_HUB_OFFLINE=1`` answers False without probing."""
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def answer_from_generation(text: str) -> str:
    """The assistant's answer in a generated text (after the first ``<assistant>:``, up to a new turn)."""
    if ASSISTANT_TAG in text:
        text = text.split(ASSISTANT_TAG, 1)[1]
    return text.split(HUMAN_TAG, 1)[0].strip()


def train_eval_split(rows: list[dict], n_eval: int = 8, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """A reproducible split: ``n_eval`` rows held out to look at generations, the rest for training."""
    import random

    idx = list(range(len(rows)))
    random.Random(seed).shuffle(idx)
    held = set(idx[:n_eval])
    return [r for i, r in enumerate(rows) if i not in held], [rows[i] for i in sorted(held)]
