"""autograder.lms_export: grade_class's CSV + a roster -> the CSV layouts Canvas and Moodle import (parsed
back the way their importers read them), missing submissions as zero or blank, clear errors on bad rosters."""

import csv
import io
import re
import warnings
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import COURSE_ID, lms_export
from autograder.grade_class import CSV_FIELDS

A1, A2 = "part1_parameter_counting", "part2_fairseq_finetuning"


def grade_row(student, assignment, status="graded", auto=0.0, auto_max=8.0, manual_max=2.0, notebook=None):
    row = {k: "" for k in CSV_FIELDS}
    row.update(
        student=student,
        assignment=assignment,
        notebook=notebook or assignment,
        status=status,
        auto_score=auto,
        auto_max=auto_max,
        manual_max=manual_max,
        needs_manual_grade=manual_max > 0,
        tampered=False,
    )
    return row


GRADES = [
    grade_row("alice", A1, auto=6.0),
    grade_row("alice", A2, auto=3.5, auto_max=5.0, manual_max=0.0),
    grade_row("bob", A1, auto=8.0),
    grade_row("bob", A2, "corrupt", auto_max=5.0, manual_max=0.0),  # handed in, unreadable: a real 0
    grade_row("carol", A1, auto=4.25),
    grade_row("carol", A2, "missing", auto_max=5.0, manual_max=0.0),  # no submission
    # dave is in the roster only: nothing submitted at all
]
ROSTER = """student,name,canvas_id,sis_user_id,sis_login_id,section,email,idnumber
alice,"Martin, Alice",101,S1,amartin,TD1,alice@example.org,S1
bob,"Durand, Bob",102,S2,bdurand,TD1,bob@example.org,S2
carol,"Petit, Carol",103,S3,cpetit,TD2,carol@example.org,S3
dave,"Roux, Dave",104,S4,droux,TD2,dave@example.org,S4
"""


def write_grades(path: Path, rows=GRADES) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture
def files(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    return roster, write_grades(tmp_path / "grades.csv")


def export(files, fmt, **kw):
    roster, grades = files
    buf = io.StringIO()
    warns = lms_export.export(fmt, roster, grades, buf, **kw)
    return list(csv.reader(io.StringIO(buf.getvalue()))), warns


def canvas_import(rows):
    """What Canvas's GradebookImporter reads (app/models/gradebook_importer.rb): header check, assignment
    columns (read-only columns dropped, 'Title (id)' split), the Points Possible row, students by id."""
    header = rows[0]
    assert "Student" in header[0] and "ID" in header[1]
    n = 3
    if re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3]):
        n += 2
    assert "Section" in header[n - 1], "the student columns must end with Section"
    read_only = "Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|Override"
    assignments = {i: h for i, h in enumerate(header) if i >= n and not re.search(read_only, h)}
    titles = {i: re.fullmatch(r"(.*) \((\d+)\)", h).groups() if re.fullmatch(r".* \(\d+\)", h) else (h, None)
              for i, h in assignments.items()}  # fmt: skip
    assert "Points Possible" in rows[1][0]
    points = {titles[i][0]: float(rows[1][i]) for i in assignments}
    students = {
        r[1]: {titles[i][0]: r[i] for i in assignments} | {"_total": r[header.index("Final Points")]} for r in rows[2:]
    }
    return titles, points, students


def test_canvas_csv_has_the_points_possible_row_and_right_totals(files):
    rows, warns = export(files, "canvas", canvas_ids={A1: "5551"}, titles={A2: "Part 2"})
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[0][5:] == [f"{A1} (5551)", "Part 2", "Final Points"]
    titles, points, students = canvas_import(rows)
    assert set(titles.values()) == {(A1, "5551"), ("Part 2", None)}
    assert points == {A1: 10.0, "Part 2": 5.0}  # auto + manual points of each assignment
    assert rows[1][-1] == "15"
    assert students["101"] == {A1: "6", "Part 2": "3.5", "_total": "9.5"}
    assert students["102"] == {A1: "8", "Part 2": "0", "_total": "8"}  # corrupt = handed in, scored 0
    assert students["103"] == {A1: "4.25", "Part 2": "0", "_total": "4.25"}
    assert students["104"] == {A1: "0", "Part 2": "0", "_total": "0"}
    alice = next(r for r in rows if r[1] == "101")
    assert alice[:5] == ["Martin, Alice", "101", "S1", "amartin", "TD1"]
    assert any("manually graded points not included" in w for w in warns)
    assert any("dave" in w for w in warns)


def test_missing_submission_zero_or_blank(files):
    zero, _ = export(files, "canvas", missing="zero")
    blank, _ = export(files, "canvas", missing="blank")
    _, _, z = canvas_import(zero)
    _, _, b = canvas_import(blank)
    assert z["103"][A2] == "0" and b["103"][A2] == ""  # carol: A2 missing
    assert z["104"] == {A1: "0", A2: "0", "_total": "0"}
    assert b["104"] == {A1: "", A2: "", "_total": ""}  # dave: nothing at all
    assert z["102"][A2] == b["102"][A2] == "0"  # a corrupt notebook was handed in: 0 either way
    assert b["103"]["_total"] == "4.25"
    moodle, _ = export(files, "moodle", missing="blank")
    dave = next(r for r in moodle if r[3] == "dave@example.org")
    assert dave[5:] == ["-", "-", "-"]  # Moodle's "no grade"


def test_moodle_columns(files):
    rows, _ = export(files, "moodle", moodle_id="idnumber")
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", "Username", A1, A2, "Total (frlab)"]
    assert all(len(r) == len(rows[0]) for r in rows)
    by_email = {r[3]: r for r in rows[1:]}
    assert len(rows) == 5  # no points-possible row: header + one row per roster student
    assert by_email["alice@example.org"][:3] == ["Alice", "Martin", "S1"]
    assert by_email["alice@example.org"][5:] == ["6", "3.5", "9.5"]
    assert by_email["carol@example.org"][5:] == ["4.25", "0", "4.25"]


def test_roster_errors(tmp_path, files):
    _, grades = files
    cases = {
        "student,name,canvas_id\nalice,A,1\nbob,B,2\n": "graded student(s) not in the roster: carol",
        ROSTER + "alice,Again,201,S9,x,TD1,a2@example.org,S9\n": "duplicate student id(s): alice (lines 2, 6)",
        ROSTER + "erin,Erin,101,,,,,\n": "duplicate LMS id(s)",
        "name,canvas_id\nA,1\n": "no 'student' column",
        ROSTER + "erin,Erin,,,,,,\n": "without a Canvas id",
    }
    for text, message in cases.items():
        roster = tmp_path / "r.csv"
        roster.write_text(text)
        with pytest.raises(lms_export.ExportError, match=re.escape(message)):
            lms_export.export("canvas", roster, grades, io.StringIO())
    roster = tmp_path / "r.csv"
    roster.write_text(ROSTER + "erin,Erin,105,,,,,\n")
    with pytest.raises(lms_export.ExportError, match=r"without 'email'.*erin \(line 6\)"):
        lms_export.export("moodle", roster, grades, io.StringIO())
    with pytest.raises(lms_export.ExportError, match="unknown format 'blackboard'"):
        lms_export.export("blackboard", files[0], grades, io.StringIO())


def test_canvas_export_roster_headers_are_accepted(tmp_path, files):
    # Canvas's own export as a roster, with a 'student' column added
    roster = tmp_path / "canvas_roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,student\n"
        '"Martin, Alice",101,S1,amartin,TD1,alice\n"Durand, Bob",102,S2,bdurand,TD1,bob\n'
        '"Petit, Carol",103,S3,cpetit,TD2,carol\n'
    )
    buf = io.StringIO()
    lms_export.export("canvas", roster, files[1], buf)
    _, _, students = canvas_import(list(csv.reader(io.StringIO(buf.getvalue()))))
    assert students["103"][A1] == "4.25"


def test_grader_error_is_never_a_grade(tmp_path, files):
    rows = GRADES + [grade_row("dave", "*", "error", auto_max=0, manual_max=0)]
    rows[-1]["assignment"] = A1
    grades = write_grades(tmp_path / "g.csv", rows)
    buf = io.StringIO()
    warns = lms_export.export("canvas", files[0], grades, buf)
    _, _, students = canvas_import(list(csv.reader(io.StringIO(buf.getvalue()))))
    assert students["104"][A1] == ""
    assert any("grading error" in w and f"dave/{A1}" in w for w in warns)


def test_regrade_csv_replaces_rows_and_bad_rows_are_refused(tmp_path, files):
    roster, grades = files
    # carol regraded alone after the class run (her crashed worker's "*" row would be replaced the same way)
    regrade = write_grades(tmp_path / "regrade.csv", [grade_row("carol", A1, auto=7.0)])
    buf = io.StringIO()
    lms_export.export("canvas", roster, [grades, regrade], buf)
    _, _, students = canvas_import(list(csv.reader(io.StringIO(buf.getvalue()))))
    assert students["103"][A1] == "7" and students["103"][A2] == "0" and students["101"][A1] == "6"
    dup = write_grades(tmp_path / "dup.csv", GRADES + [grade_row("alice", A1, auto=1.0)])
    with pytest.raises(lms_export.ExportError, match=f"alice/{A1}/{A1} on lines 2 and 8"):
        lms_export.export("canvas", roster, dup, io.StringIO())
    bad = write_grades(tmp_path / "bad.csv", [grade_row("alice", A1, auto="six")])
    with pytest.raises(lms_export.ExportError, match="line 2: auto_score is not a number: 'six'"):
        lms_export.export("canvas", roster, bad, io.StringIO())


def test_cli(files, tmp_path, capsys):
    roster, grades = files
    out = tmp_path / "canvas.csv"
    argv = ["--format", "canvas", "--roster", str(roster), "--grades", str(grades), "--out", str(out)]
    assert lms_export.main(argv + ["--missing", "blank"]) == 0
    assert out.read_text().splitlines()[1].startswith("Points Possible,")
    assert lms_export.main(["--format", "blackboard"] + argv[2:]) == 2
    assert "unknown format 'blackboard'" in capsys.readouterr().err
    assert lms_export.main(argv + ["--assignment", "part9"]) == 2
    assert "assignment(s) part9 not in" in capsys.readouterr().err


def test_manual_grades_from_the_gradebook(tmp_path, monkeypatch):
    """--gradebook adds what the instructor graded by hand in formgrader (nbgrader's gradebook)."""
    import nbgrader.api
    from nbgrader.api import Gradebook

    # a new gradebook is stamped with alembic's head revision, found by running `alembic heads` (seconds);
    # the stamp plays no part in reading grades
    monkeypatch.setattr(nbgrader.api, "get_alembic_version", lambda: "test")

    course = tmp_path / "course"
    (course / "release" / A1).mkdir(parents=True)

    def meta(gid, **kw):
        return {
            "nbgrader": {"grade_id": gid, "schema_version": 3, "grade": False, "solution": False, "locked": False} | kw
        }

    nb = new_notebook(
        cells=[
            new_code_cell("x = 1", metadata=meta("code", solution=True)),
            new_code_cell("assert x == 1", metadata=meta("test", grade=True, locked=True, points=8)),
            new_markdown_cell("answer", metadata=meta("why", grade=True, solution=True, points=2)),
        ]
    )
    nbformat.write(nb, str(course / "release" / A1 / f"{A1}.ipynb"))
    db = course / "gradebook.db"
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{db}", COURSE_ID) as gb:
        warnings.simplefilter("ignore")
        gb.add_assignment(A1)
        gb.add_notebook(A1, A1)
        gb.add_grade_cell("test", A1, A1, max_score=8, cell_type="code")
        gb.add_grade_cell("why", A1, A1, max_score=2, cell_type="markdown")
        gb.add_solution_cell("why", A1, A1)
        for s in ("alice", "bob"):
            gb.add_student(s)
            gb.add_submission(A1, s)
        gb.find_grade("test", A1, A1, "alice").auto_score = 6.0
        gb.find_grade("why", A1, A1, "alice").manual_score = 1.5
        gb.db.commit()
    grades = write_grades(tmp_path / "grades.csv", [grade_row("alice", A1, auto=6.0), grade_row("bob", A1, auto=8.0)])
    roster = tmp_path / "roster.csv"
    roster.write_text("student,canvas_id\nalice,1\nbob,2\n")
    buf = io.StringIO()
    warns = lms_export.export("canvas", roster, grades, buf, gradebook=db, course=course)
    _, points, students = canvas_import(list(csv.reader(io.StringIO(buf.getvalue()))))
    assert points == {A1: 10.0}
    assert students["1"][A1] == "7.5"  # 6 auto + 1.5 graded by hand
    assert students["2"][A1] == "8"  # bob's written answer not graded yet
    assert any("still need manual grading" in w and f"bob/{A1}/{A1}" in w for w in warns)
    assert not any("manually graded points not included" in w for w in warns)
