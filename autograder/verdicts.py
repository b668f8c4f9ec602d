"""The plain results the checker works with (:mod:`autograder.checker`, :mod:`autograder.checks`): decoded answers,
verdicts, and what a judge may read."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


class WrongType:
    """A value the kernel could only describe by its type (not plain data)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def __eq__(self, other):  # never equal to a reference value
        return isinstance(other, WrongType) and other.name == self.name

    __hash__ = None


@dataclass
class Answer:
    """One probed value: ``value`` (decoded plain data, possibly containing :class:`WrongType`) or ``error``."""

    value: object = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Verdict:
    ok: bool
    message: str
    wrong_type: bool = False  # no points because an answer is not of the type asked for (counted in the CSV)


@dataclass
class Context:
    """What a judge may read besides the answers: the draw's inputs and references, the submission folder as
    the student handed it in (not the kernel's copy), and the profile the course grades."""

    inputs: object
    refs: object
    submitted: Path
    profile: str


def close(a, b, tol: float = 1e-6) -> bool:
    """Numbers equal within ``tol``; NaN equals NaN. Both must be real numbers (bool excluded)."""
    if type(a) not in (int, float) or type(b) not in (int, float):
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol
