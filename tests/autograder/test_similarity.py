"""autograder.similarity: near-copies of solution cells are flagged, independent solutions are not, and code
given in the release (the template) never counts, even pasted into a solution cell; the report never touches
the grades."""

import csv
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import similarity

A = "a1"

GIVEN = '''\
def load_series(path):
    """Read one float per line of a text file."""
    with open(path) as f:
        return [float(line) for line in f if line.strip()]


def summary(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return {"n": len(values), "min": ordered[0], "max": ordered[-1], "median": ordered[middle],
            "mean": sum(values) / len(values)}
'''
STUB = "def moving_average(values, window):\n    # YOUR CODE HERE\n    raise NotImplementedError()"

ALICE = '''\
def moving_average(values, window):
    """Mean of each window of the series."""
    if window <= 0:
        raise ValueError("window must be positive")
    result = []
    running = 0.0
    for i, v in enumerate(values):
        running += v
        if i >= window:
            running -= values[i - window]
        if i >= window - 1:
            result.append(running / window)
    return result
'''
# Alice's code, variables renamed, comments and messages reworded
BOB = """\
def moving_average(values, window):
    # sliding mean, one value per full window
    if window <= 0:
        raise ValueError("bad window")
    out = []
    acc = 0.0
    for j, x in enumerate(values):
        acc += x
        if j >= window:
            acc -= values[j - window]
        if j >= window - 1:
            out.append(acc / window)
    return out
"""
CAROL = """\
def moving_average(values, window):
    import numpy as np

    arr = np.asarray(values, dtype=float)
    kernel = np.ones(window) / window
    return list(np.convolve(arr, kernel, mode="valid"))
"""
# two different solutions, each with the given helpers pasted above it in the solution cell
DAVE = (
    GIVEN
    + """
def moving_average(values, window):
    return [sum(values[i:i + window]) / window for i in range(len(values) - window + 1)]
"""
)
ERIN = (
    GIVEN
    + """
def moving_average(values, window):
    import pandas as pd

    series = pd.Series(values, dtype="float64")
    return series.rolling(window=window, min_periods=window).mean().dropna().tolist()
"""
)
ANSWER = (
    "The running sum makes each step constant time, so the whole series is read once; a window longer than "
    "the series gives an empty list rather than an error, which is what the plotting code below expects."
)
OTHER_ANSWER = "Convolution with a flat kernel is the same mean; numpy does the loop in C, which is faster."


def notebook(solution: str, answer: str = "YOUR ANSWER HERE", given: str = GIVEN):
    def meta(gid, solution=False, grade=False, locked=False, points=None):
        m = {"grade_id": gid, "solution": solution, "grade": grade, "locked": locked, "schema_version": 3}
        if points is not None:
            m["points"] = points
        return {"nbgrader": m}

    return new_notebook(
        cells=[
            new_markdown_cell("# Moving averages", metadata=meta("intro", locked=True)),
            new_code_cell(given, metadata=meta("given", locked=True)),
            new_code_cell(solution, metadata=meta("ma", solution=True)),
            new_code_cell(
                "assert moving_average([1, 2, 3], 2) == [1.5, 2.5]",
                metadata=meta("t", grade=True, locked=True, points=2),
            ),
            new_markdown_cell(answer, metadata=meta("why", solution=True, grade=True, points=2)),
        ]
    )


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course")
    (root / "release" / A).mkdir(parents=True)
    nbformat.write(notebook(STUB), str(root / "release" / A / f"{A}.ipynb"))
    subs = {
        "alice": (ALICE, ANSWER),
        "bob": (BOB, ANSWER.replace("rather than an error", "instead of an error")),
        "carol": (CAROL, OTHER_ANSWER),
        "dave": (DAVE, "YOUR ANSWER HERE"),
        "erin": (ERIN, "YOUR ANSWER HERE"),
        "fred": (STUB, "YOUR ANSWER HERE"),  # handed in the template untouched: nothing of his own to compare
    }
    for s, (code, answer) in subs.items():
        (root / "submitted" / s / A).mkdir(parents=True)
        nbformat.write(notebook(code, answer), str(root / "submitted" / s / A / f"{A}.ipynb"))
    (root / "submitted" / "gina" / A).mkdir(parents=True)
    (root / "submitted" / "gina" / A / f"{A}.ipynb").write_text("{ not json")
    (root / "gradebook.db").write_bytes(b"gradebook stand-in")
    (root / "grades.csv").write_text("student,assignment\nalice,a1\n")
    return root


@pytest.fixture(scope="module")
def report(course):
    return similarity.analyze(course, threshold=0.5, log=lambda *a: None)


def sim(report, a, b, cells="code") -> float:
    for p in report.pairs:
        if p.cells == cells and {p.student_a, p.student_b} == {a, b}:
            return p.similarity
    return 0.0


def flagged(report, cells="code") -> set:
    return {frozenset((p.student_a, p.student_b)) for p in report.flagged if p.cells == cells}


def test_near_copy_is_flagged_and_independent_solutions_are_not(report):
    assert sim(report, "alice", "bob") >= 0.8
    assert frozenset(("alice", "bob")) in flagged(report)
    for other in ("carol", "dave", "erin"):
        assert sim(report, "alice", other) < 0.3, other
    assert flagged(report) == {frozenset(("alice", "bob"))}


def test_template_code_does_not_count(course, report):
    # dave and erin both pasted the given helpers into their solution cells: only their own code is compared
    assert sim(report, "dave", "erin") < 0.3
    assert frozenset(("dave", "erin")) not in flagged(report)
    # the same texts compared without removing the template are near-identical: the removal is what counts
    rel = nbformat.read(str(course / "release" / A / f"{A}.ipynb"), as_version=4)
    ids = similarity.solution_ids(rel)
    texts = {
        s: similarity.solution_text(nbformat.read(str(course / "submitted" / s / A / f"{A}.ipynb"), 4), ids, "code")
        for s in ("dave", "erin")
    }
    raw = similarity.compare_texts(texts, "code", template="")
    assert raw and max(raw[0][2], raw[0][3]) > 0.6
    # a submission that is the template only has nothing to compare
    assert all("fred" not in (p.student_a, p.student_b) for p in report.pairs)


def test_only_solution_cells_are_compared(course):
    rel = nbformat.read(str(course / "release" / A / f"{A}.ipynb"), as_version=4)
    assert similarity.solution_ids(rel) == {"ma", "why"}
    nb = nbformat.read(str(course / "submitted" / "alice" / A / f"{A}.ipynb"), as_version=4)
    code = similarity.solution_text(nb, similarity.solution_ids(rel), "code")
    assert "running / window" in code and "load_series" not in code and "assert moving_average" not in code


def test_written_answers_compared_separately(report):
    assert frozenset(("alice", "bob")) in flagged(report, "markdown")
    assert sim(report, "alice", "carol", "markdown") < 0.3


def test_cli_writes_csv_and_html_and_never_touches_grades(course, tmp_path, capsys):
    before = {p: p.read_bytes() for p in course.rglob("*") if p.is_file()}
    out = tmp_path / "sim"
    assert similarity.main(["--course", str(course), "--assignment", A, "--threshold", "0.5", "--out", str(out)]) == 0
    after = {p: p.read_bytes() for p in course.rglob("*") if p.is_file()}
    assert after == before  # gradebook, grades CSV and submissions unchanged, nothing added to the course
    with (out / "similarity_flagged.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:4] == ["student_a", "student_b", "notebook", "similarity"]
    code_rows = [r for r in rows if r["cells"] == "code"]
    assert [(r["student_a"], r["student_b"], r["notebook"]) for r in code_rows] == [("alice", "bob", A)]
    assert float(code_rows[0]["similarity"]) >= 0.8
    page = (out / "similarity.html").read_text()
    assert "never affects a grade" in page and "<mark>" in page and "alice" in page
    assert "gina/a1/a1.ipynb" in page  # the unreadable submission is listed, not compared


def test_unknown_assignment_is_refused(course):
    with pytest.raises(SystemExit, match="unknown assignment"):
        similarity.analyze(course, ["nope"], log=lambda *a: None)


def test_grade_class_names_flagged_pairs_in_its_csv_without_changing_scores(course, tmp_path):
    from autograder.grade_class import NotebookResult, flag_similar, summary_line, write_csv

    results = [
        NotebookResult(s, A, A, auto_score=score, auto_max=3.0)
        for s, score in (("alice", 3.0), ("bob", 1.0), ("carol", 2.0), ("gina", 0.0))
    ]
    before = [(r.student, r.status, r.auto_score, r.auto_max) for r in results]
    flag_similar(results, course, course / "submitted", [A], tmp_path, 0.5, log=lambda *a: None)
    assert [(r.student, r.status, r.auto_score, r.auto_max) for r in results] == before  # never a grade
    by = {r.student: r.similar_to for r in results}
    assert len(by["alice"]) == 2 and all(x.startswith("bob: ") for x in by["alice"])  # code and written answer
    assert {x.split(": ")[1].split()[0] for x in by["alice"]} == {"code", "written"}
    assert all(x.startswith("alice: ") for x in by["bob"]) and by["carol"] == [] and by["gina"] == []
    # only the graded students were compared: dave and erin are in the course but not in this run
    assert "dave" not in (tmp_path / "similarity" / "similarity.html").read_text()
    assert "1 similar to another" not in summary_line(results) and "2 similar to another" in summary_line(results)
    write_csv(results, tmp_path / "grades.csv")
    rows = {r["student"]: r for r in csv.DictReader((tmp_path / "grades.csv").open())}
    assert set(rows["bob"]["similar_to"].split("; ")) == set(by["bob"]) and rows["carol"]["similar_to"] == ""
    flagged_csv = list(csv.DictReader((tmp_path / "similarity" / "similarity_flagged.csv").open()))
    assert {frozenset((r["student_a"], r["student_b"])) for r in flagged_csv} == {frozenset(("alice", "bob"))}
