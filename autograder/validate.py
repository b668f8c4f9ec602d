"""``nbgrader validate`` on every solution (must pass) and ``--invert`` on every student notebook (every
autograded test must fail), in the sandboxed grading kernel, grading mode (``NBGRADER_EXECUTION``).

Chapters whose long cells load submitted artefacts when graded (Parts 2-4) are validated with the
reference artefacts in ``autograder/reference/<assignment>/`` copied beside the notebook (the same
files a student submits). ``python -m autograder.validate [--only ASSIGNMENT]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder import AUTOGRADER_DIR, COURSE_DIR, REPO_ROOT
from autograder.course import assignments, nbgrader

REFERENCE_DIR = AUTOGRADER_DIR / "reference"
PASS = "Success! Your notebook passes all the tests."
INVERT_PASS = "Success! The notebook does not pass any tests."


def validate_notebook(
    notebook: Path,
    *,
    invert: bool = False,
    artefacts: Path | None = None,
    course: Path = COURSE_DIR,
    timeout: float = 1200,
) -> tuple[bool, str]:
    """(ok, nbgrader's output) for one notebook, validated in a scratch folder."""
    tmp = Path(tempfile.mkdtemp(prefix="frlab-validate-"))
    try:
        if artefacts and artefacts.exists():
            shutil.copytree(artefacts, tmp, dirs_exist_ok=True)
        target = tmp / Path(notebook).name
        shutil.copy2(notebook, target)
        args = ["validate", str(target)] + (["--invert"] if invert else [])
        cp = nbgrader(course, *args, timeout=timeout, check=False)
        out = cp.stdout or ""
        ok = cp.returncode == 0 and (INVERT_PASS if invert else PASS) in out
        return ok, out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def validate_assignment(name: str, course: Path = COURSE_DIR) -> dict:
    src = course / "source" / name / f"{name}.ipynb"
    student = REPO_ROOT / "notebooks" / f"{name}.ipynb"
    ref = REFERENCE_DIR / name
    ok_sol, out_sol = validate_notebook(src, artefacts=ref, course=course)
    ok_inv, out_inv = validate_notebook(student, invert=True, artefacts=ref, course=course)
    return {
        "assignment": name,
        "solution_passes": ok_sol,
        "student_fails_all": ok_inv,
        "reference_artefacts": ref.exists(),
        "solution_output": out_sol[-3000:],
        "invert_output": out_inv[-3000:],
    }


def validate_all(only: list[str] | None = None, course: Path = COURSE_DIR, jobs: int = 2, log=print) -> bool:
    names = [n for n in assignments() if not only or n in only]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda n: validate_assignment(n, course), names))
    ok = True
    for r in results:
        good = r["solution_passes"] and r["student_fails_all"]
        ok &= good
        log(
            f"validate {r['assignment']}: solution {'passes' if r['solution_passes'] else 'FAILS'}, "
            f"student version {'fails every test' if r['student_fails_all'] else 'PASSES SOME TEST'}"
            + ("" if r["reference_artefacts"] else " (no reference artefacts)")
        )
        if not good:
            log(r["solution_output"] if not r["solution_passes"] else r["invert_output"])
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", action="append")
    ap.add_argument("--jobs", "-j", type=int, default=2)
    args = ap.parse_args(argv)
    if not (COURSE_DIR / "gradebook.db").exists():
        print(
            f"validate: no course in {COURSE_DIR}: run `python -m autograder.generate --validate` (make notebooks)",
            file=sys.stderr,
        )
        return 2
    return 0 if validate_all(args.only, jobs=args.jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
