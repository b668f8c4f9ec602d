"""The grading side of the lab: nbgrader course generation from ``solutions/``, leak check,
sandboxed autograding of a whole class, and the self-test corpus.

* ``python -m autograder.generate``   – course dir + student notebooks (``notebooks/``) + leak check
* ``python -m autograder.grade_class`` – parallel, sandboxed autograde of ``submitted/`` + CSV
* ``python -m autograder.selftest``   – grade the corpus (``autograder/corpus``), fail on any mis-grade
"""

from pathlib import Path

AUTOGRADER_DIR = Path(__file__).resolve().parent
REPO_ROOT = AUTOGRADER_DIR.parent
COURSE_DIR = AUTOGRADER_DIR / "course"
COURSE_ID = "frlab"
