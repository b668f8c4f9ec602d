"""What a student installs (Colab's `pip install frlab @ git+…`): the wheel holds the student library only —
no book, grading or benchmark module, no expected value and no line of a reference solution."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import leaks

REPO = Path(__file__).resolve().parents[2]
EXPECTED_VALUES = (22807552, 22829056, 22829568, 1572864)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from a copy of the project's packaging files (setuptools writes ``build/`` beside
    its input, and a stale ``build/lib`` would put deleted modules into the wheel)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "frlab", src / "frlab", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        check=True,
    )
    (whl,) = out.glob("frlab-*.whl")
    return whl


def test_the_wheel_is_the_student_library(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"frlab"}, top
    for must in (
        "frlab/assets_manifest.json",
        "frlab/data/faq_fr.json",
        "frlab/fairseq/frlab_plugin/__init__.py",
        "frlab/hf/convert.py",
        "frlab/lora/qlora.py",
        "frlab/profiles.py",
    ):
        assert must in names
    instructor = re.compile(
        r"(^|/)(book|book_\w+|results_\w+|run_lab|grade_\w+|autograder|labtools|bench\w*|selftest"
        r"|answer\w*|solutions?|leaks|corpus\w*|references?)(/|\.py$)"
    )
    forbidden = [n for n in names if instructor.search(n)]
    assert not forbidden, forbidden


#: The one intended exception: the converter *is* the fairseq → HF name mapping that Part 3 needs before
#: Exercise 3.1, which asks students to write one encoder layer of it from the table the chapter prints.
KNOWN_REFERENCE_CODE = {
    "frlab/hf/convert.py": "the converter's layer map, printed as a table in Part 3 (Exercise 3.1 reads it)"
}


def wheel_problems(wheel: Path) -> dict[str, list[str]]:
    sec = leaks.secrets()
    assert sec.lines and all(v in sec.numbers for v in EXPECTED_VALUES)  # the check knows what to look for
    found = {}
    with zipfile.ZipFile(wheel) as z:
        for n in z.namelist():
            if n.endswith((".py", ".json", ".md", ".txt")):
                if problems := leaks.check_text(z.read(n).decode("utf-8", "replace"), sec, n):
                    found[n] = problems
    return found


def test_the_wheel_holds_no_expected_value(wheel):
    numbers = [p for ps in wheel_problems(wheel).values() for p in ps if "leaks source line" not in p]
    assert not numbers, "\n".join(numbers)


def test_the_wheel_holds_no_reference_solution_beyond_the_known_ones(wheel):
    lines = {n: ps for n, ps in wheel_problems(wheel).items() if n not in KNOWN_REFERENCE_CODE}
    assert not lines, "\n".join(p for ps in lines.values() for p in ps)
    assert set(wheel_problems(wheel)) <= set(KNOWN_REFERENCE_CODE)


def test_the_answer_check_would_see_a_planted_solution_line(tmp_path):
    """The check above can fail: a module carrying a line of a reference solution is caught."""
    sec = leaks.secrets()
    line = next(iter(sorted(sec.lines)))
    assert leaks.check_text(f"x = 1\n{line}\n", sec, "planted.py")
    assert leaks.check_text("N = 22_807_552\n", sec, "planted.py")
