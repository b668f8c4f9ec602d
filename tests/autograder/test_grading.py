"""Autograder, grading side: validate/--invert, the self-test corpus (the CI gate: 0 mis-grades, no
crashed batch), feedback pages without hidden tests or expected values, CSV and gradebook merge."""

import csv
import os
import shutil
from pathlib import Path

import pytest

from autograder import AUTOGRADER_DIR, leaks
from autograder.course import assignments

P1 = "part1_parameter_counting"
REPO = Path(__file__).resolve().parents[2]


def plant_decoys() -> list[Path]:
    """Other checkouts of the project on the host, with the hidden tests in plain sight: beside this checkout,
    in the home folder and in /tmp, each with the chapter sources and a generated course's source notebook."""
    decoys = [
        REPO.parent / "frlab-decoy-checkout",
        Path.home() / "frlab-decoy-checkout",
        Path("/tmp/frlab-decoy-checkout"),
    ]
    for d in decoys:
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(REPO / "solutions", d / "solutions")
        course = d / "autograder" / "course" / "source" / P1
        course.mkdir(parents=True)
        shutil.copy2(REPO / "solutions" / f"{P1}.py", course / f"{P1}.ipynb")
    return decoys


@pytest.fixture(scope="module")
def selftest_report():
    from autograder import selftest

    # FRLAB_SELFTEST_ONLY=part1_parameter_counting,... restricts the corpus (CI time); default: everything
    only = [a for a in os.environ.get("FRLAB_SELFTEST_ONLY", "").split(",") if a] or None
    decoys = plant_decoys()  # the sandbox must not see them (corpus case p1-read-hidden-tests looks for them)
    try:
        jobs = int(os.environ.get("FRLAB_GRADE_JOBS", 2))
        # the corpus is graded on a Dask LocalCluster (FRLAB_SELFTEST_ENGINE=threads: grade_class's thread pool);
        # tests/autograder/test_dask_engine.py checks that both engines give the same CSV, gradebook and files
        dask = os.environ.get("FRLAB_SELFTEST_ENGINE", "dask") == "dask"
        return selftest.run(jobs=jobs, only=only, log=lambda *a: None, local_cluster=jobs if dask else None)
    finally:
        for d in decoys:
            shutil.rmtree(d, ignore_errors=True)


@pytest.mark.slow
def test_corpus_is_graded_without_misgrades(selftest_report):
    assert selftest_report["submissions"] >= 20 and selftest_report["sandbox"] == "bwrap"
    assert selftest_report["engine"] == (
        "threads" if os.environ.get("FRLAB_SELFTEST_ENGINE") == "threads" else "Dask LocalCluster(2)"
    )
    assert selftest_report["stale"] == [], selftest_report["stale"]
    assert selftest_report["misgrades"] == [], "\n".join(selftest_report["misgrades"])


@pytest.mark.slow
def test_feedback_pages_hide_hidden_tests_and_expected_values(selftest_report):
    assert selftest_report["feedback_pages"] >= 15
    assert selftest_report["feedback_leaks"] == [], selftest_report["feedback_leaks"]
    # a sample page of a wrong submission, checked directly
    page = (
        AUTOGRADER_DIR
        / "runs"
        / "selftest"
        / "course"
        / "feedback"
        / "p1-wrong-forgot-ffn-and-positions"
        / P1
        / f"{P1}.html"
    )
    html = page.read_text()
    text = leaks._norm(leaks.html_text(html))
    # the checker's verdict, not a traceback of the kernel
    assert "test_count_weights" in html and "[grader] 0/2: convention (A) count is wrong" in text
    assert "BEGIN HIDDEN TESTS" not in html
    for v in (22807552, 22829056):
        assert not leaks._pat(v).search(html) and not leaks._pat(v).search(text)
    for line in leaks.secrets().hidden_lines:
        assert line not in text


@pytest.mark.slow
def test_csv_and_gradebook(selftest_report):
    from nbgrader.api import Gradebook

    rows = list(csv.DictReader((AUTOGRADER_DIR / "runs" / "selftest" / "grades.csv").open()))
    by = {r["student"]: r for r in rows}
    assert by["p1-tamper-deleted-tests"]["tampered"] == "True"
    assert "deleted cell test_count_weights" in by["p1-tamper-deleted-tests"]["tamper_details"]
    assert by["p1-correct"]["tampered"] == "False" and float(by["p1-correct"]["auto_score"]) == 8
    assert by["p1-corrupt-json"]["status"] == "corrupt" and "corrupt notebook" in by["p1-corrupt-json"]["reason"]
    db = AUTOGRADER_DIR / "runs" / "selftest" / "course" / "gradebook.db"
    with Gradebook(f"sqlite:///{db}", "frlab") as gb:
        assert gb.find_submission_notebook(P1, P1, "p1-correct").score == 8
        assert gb.find_submission_notebook(P1, P1, "p1-tamper-edited-tests").flagged
        # (A) and (B) swapped: both wrong; the formula and the model count keep their points (independent cells)
        assert gb.find_submission_notebook(P1, P1, "p1-wrong-swapped").score == 4


def _validate_params():
    out = []
    for name in assignments():
        ref = AUTOGRADER_DIR / "reference" / name
        needs_ref = name != P1
        out.append(
            pytest.param(
                name,
                marks=pytest.mark.skipif(
                    needs_ref and not ref.exists(), reason=f"no reference artefacts in autograder/reference/{name}"
                ),
            )
        )
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", _validate_params())
def test_validate_solution_and_invert_student_version(name, tmp_path_factory):
    from autograder.generate import generate
    from autograder.validate import validate_assignment

    course = tmp_path_factory.mktemp("course")
    generate(course, only=[name], notebooks_dir=tmp_path_factory.mktemp("nb"), log=lambda *a: None)
    r = validate_assignment(name, course)
    assert r["solution_passes"], r["solution_output"]
    assert r["student_fails_all"], r["invert_output"]
