"""``python -m autograder.lms_export``: the class's grades as a CSV that Canvas or Moodle imports.

    python -m autograder.lms_export --format canvas --roster roster.csv [--missing zero|blank] [--out FILE]
    python -m autograder.lms_export --format moodle --roster roster.csv --moodle-id email --gradebook

One row per student of the roster, one column per assignment (its points) and a total.

**Input.** The scores come from the CSV that ``python -m autograder.grade_class`` writes
(``<course>/grades.csv``, one row per student x assignment x notebook: ``status``, ``auto_score``, ``auto_max``,
``manual_max``, ...). We read that file rather than nbgrader's ``gradebook.db`` first because it is the more
robust source for an export: it is the grading run's own record, with a ``status`` per notebook, so a notebook
that was never submitted (``missing``) is told apart from one that scored 0 and from a grader failure
(``error``, which we never turn into a zero); it needs no database, no nbgrader/alembic schema version and no
course copy (a CSV can be exported on another machine, or after the instructor corrected a row by hand); and
it holds only the students graded in that run, while a gradebook keeps every student ever added. What the CSV
lacks is the manual grades (the written answers graded later in formgrader): ``--gradebook`` adds them, read
with ``nbgrader.api.Gradebook`` for the notebooks that were graded (the CSV's status stays the reference).
Without it the export warns how many manual points it leaves out (they count as not earned; the points
possible always include them). ``--grades`` may be repeated: a regrade of a few students (``grade_class
--student X --csv regrade.csv``) replaces their rows of the class run.

**Roster** (CSV, one row per student): column ``student`` (the nbgrader student id, the folder name under
``submitted/``) and the LMS fields: ``name`` (or ``first_name`` / ``last_name``), ``canvas_id``,
``sis_user_id``, ``sis_login_id``, ``section``, ``email``, ``idnumber``, ``username``. Headers are matched
case-insensitively, and the headers of Canvas's or Moodle's own exports work too (``ID``, ``SIS User ID``,
``SIS Login ID``, ``Section``, ``Email address``, ``ID number``, ``First name``, ``Last name``), so an exported
gradebook with an added ``student`` column is a roster. Every graded student must be in the roster, each
nbgrader id and each LMS id once, or the export stops with the list of offending rows. A roster student
absent from the grades, or whose notebooks of an assignment are all ``missing``, has no submission: 0 with
``--missing zero`` (the default, what ``grade_class`` gives a missing notebook), "no grade" with
``--missing blank`` (an empty cell for Canvas, ``-`` for Moodle, see below). A grader error (status
``error``) is never exported as a grade: its cell stays empty and the export warns.

**Canvas** (Grades > Import): the layout of Canvas's gradebook export, which its importer reads back
(``app/models/gradebook_importer.rb`` of instructure/canvas-lms; guide:
https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807)::

    Student,ID,SIS User ID,SIS Login ID,Section,part1_parameter_counting (1234),...,Final Points
    Points Possible,,,,,10,...,44
    "Doe, Jane",98765,S001,jdoe,Group A,7.5,...,30.5

The header must start ``Student, ID`` and the student columns end with ``Section``; a student is found by
``ID`` (Canvas user id), else ``SIS User ID`` / ``SIS Login ID``, else by name, so each roster row needs one of
the three ids. An assignment column ``Title (id)`` updates that Canvas assignment (``--canvas-id``); a bare
title updates the assignment of that title or creates a new one with the ``Points Possible`` row's points.
The total is written as ``Final Points``, one of the read-only columns Canvas skips on import (a total column
under any other name would become an extra assignment): it is there for checking. An empty cell is "no
grade" in Canvas.

**Moodle** (Grades > Import > CSV file): Moodle maps the columns at import time (docs:
https://docs.moodle.org/311/en/Grade_import; code: ``grade/import/csv/classes/load_data.php`` of moodle/moodle):
"Map from" a column identifying the user to "Map to" ``useremail`` / ``useridnumber`` / ``username``, then
each grade column to an existing grade item or "New grade item"; unmapped columns are ignored. The user
columns are named as in Moodle's own export (plus ``Username``)::

    First name,Last name,ID number,Email address,Username,part1_parameter_counting,...,Total (frlab)
    Jane,Doe,S001,jane.doe@example.org,jdoe,7.5,...,30.5

Moodle has no points-possible row: a grade above the item's maximum (or above 100, the site's default
``gradepointmax``) fails the whole import. So does one row whose user is not found, and a row with an empty
identifier is silently given to the previous row's user, so every roster row must have the identifier chosen
with ``--moodle-id``. "No grade" is written ``-``, which Moodle reads as no grade both for an existing item
and for a "New grade item" (an empty cell is only read so for an existing item); on an existing item it
clears a grade already there. Leave ``Total (frlab)`` on "Ignore" unless the lab is one grade item of the
course (Moodle computes its own course total).

**Errors** stop the export with one message naming the rows (exit 2): unknown format, roster without a
``student`` column, duplicate ids, a graded student missing from the roster, a roster row without the LMS id
the format needs, an unknown ``--assignment``, a grades CSV without the columns ``grade_class`` writes, with
two rows for one notebook, or with a score that is not a number.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from autograder import COURSE_DIR, COURSE_ID

FORMATS = ("canvas", "moodle")
MISSING = ("zero", "blank")
MOODLE_IDS = {"email": "email", "idnumber": "idnumber", "username": "username"}

#: columns of ``grade_class``'s CSV this module reads
GRADE_COLUMNS = ("student", "assignment", "notebook", "status", "auto_score", "auto_max", "manual_max")

CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "Points Possible"
CANVAS_TOTAL = "Final Points"  # read-only in Canvas: skipped on import (NON_ASSIGNMENT_COLUMN_HEADERS)
MOODLE_USER_COLUMNS = ["First name", "Last name", "ID number", "Email address", "Username"]
MOODLE_TOTAL = "Total (frlab)"
#: "no grade" as each LMS reads it on import
NO_GRADE = {"canvas": "", "moodle": "-"}

#: roster header (normalized) -> field; the LMS exports' own headers included
ROSTER_ALIASES = {
    "student": "student",
    "nbgrader_id": "student",
    "name": "name",
    "full_name": "name",
    "first_name": "first_name",
    "firstname": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "canvas_id": "canvas_id",
    "id": "canvas_id",
    "canvas_user_id": "canvas_id",
    "sis_user_id": "sis_user_id",
    "sis_id": "sis_user_id",
    "sis_login_id": "sis_login_id",
    "login_id": "sis_login_id",
    "section": "section",
    "email": "email",
    "email_address": "email",
    "idnumber": "idnumber",
    "id_number": "idnumber",
    "username": "username",
}
#: LMS ids that identify one person: two roster rows must never share one
UNIQUE_FIELDS = ("canvas_id", "sis_user_id", "sis_login_id", "email", "idnumber", "username")


class ExportError(Exception):
    """A problem with the inputs that the instructor must fix; the message says which rows."""


@dataclass
class Student:
    student: str
    line: int
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""
    idnumber: str = ""
    username: str = ""

    def display_name(self) -> str:
        """Canvas's ``Student`` column: "Last, First" as Canvas exports it, else the name, else the nbgrader id."""
        if self.last_name and self.first_name:
            return f"{self.last_name}, {self.first_name}"
        return self.name or self.last_name or self.first_name or self.student

    def first_last(self) -> tuple[str, str]:
        """Moodle's ``First name`` / ``Last name``: the roster's, else split from a "Last, First" name."""
        if self.first_name or self.last_name:
            return self.first_name, self.last_name
        last, sep, first = self.name.partition(",")
        return (first.strip(), last.strip()) if sep else (self.name, "")


@dataclass
class Scores:
    """Per (student, assignment): points, and why a cell may stay empty."""

    points: dict = field(default_factory=dict)  # (student, assignment) -> float
    submitted: set = field(default_factory=set)  # (student, assignment) with at least one notebook submitted
    errors: set = field(default_factory=set)  # (student, assignment) with a grader error
    max_points: dict = field(default_factory=dict)  # assignment -> points possible
    students: set = field(default_factory=set)  # every student in the grades
    manual_left_out: dict = field(default_factory=dict)  # assignment -> manual points possible not counted
    needs_manual: set = field(default_factory=set)  # (student, assignment, notebook) still to grade by hand


def _norm(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", (header or "").strip().lstrip("\ufeff").lower()).strip("_")


def _list(items, limit: int = 20) -> str:
    items = list(items)
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(str(i) for i in items[:limit]) + more


def _number(x: float) -> str:
    """Points as the LMSs write them: at most two decimals, no trailing zeros (Canvas compares at 2 decimals)."""
    s = f"{round(float(x), 2):.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


# ------------------------------------------------------------------------------------------------ inputs


def read_roster(path: Path) -> dict[str, Student]:
    """nbgrader id -> :class:`Student`; raises :class:`ExportError` on a missing column or duplicate ids."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"roster not found: {path}")
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    headers = reader.fieldnames or []
    # the nbgrader id: column 'nbgrader_id', else 'student'; in a Canvas export with a 'student' column added,
    # Canvas's own 'Student' (the name) and our 'student' (the id) differ only by case
    ids = [h for h in headers if _norm(h) == "nbgrader_id"] or [h for h in headers if _norm(h) == "student"]
    id_col = next((h for h in ids if h.strip() in ("nbgrader_id", "student")), ids[0] if ids else None)
    columns = {id_col: "student"} if id_col else {}
    for h in headers:
        f = ROSTER_ALIASES.get(_norm(h))
        if h != id_col and f == "student":
            f = "name"  # Canvas's 'Student' column beside the id column
        if h != id_col and f and f != "student" and f not in columns.values():
            columns[h] = f
    if "student" not in columns.values():
        raise ExportError(
            f"roster {path}: no 'student' column (the nbgrader student id); columns found: "
            f"{_list(reader.fieldnames or [])}"
        )
    roster: dict[str, Student] = {}
    dup_students: dict[str, list[int]] = defaultdict(list)
    seen: dict[tuple[str, str], list] = defaultdict(list)
    empty = []
    for line, row in enumerate(reader, start=2):
        values = {f: (row.get(h) or "").strip() for h, f in columns.items()}
        if not any(values.values()):
            continue  # a blank line
        if not values["student"]:
            empty.append(line)
            continue
        s = Student(line=line, **values)
        dup_students[s.student].append(line)
        roster.setdefault(s.student, s)
        for f in UNIQUE_FIELDS:
            v = getattr(s, f)
            if v:
                seen[(f, v.lower() if f == "email" else v)].append((s.student, line))
    problems = []
    if empty:
        problems.append(f"no student id on line(s) {_list(empty)}")
    dups = {k: v for k, v in dup_students.items() if len(v) > 1}
    if dups:
        problems.append(
            "duplicate student id(s): " + _list(f"{k} (lines {', '.join(map(str, v))})" for k, v in dups.items())
        )
    shared = {k: v for k, v in seen.items() if len({s for s, _ in v}) > 1}
    if shared:
        problems.append(
            "duplicate LMS id(s), one person per row: "
            + _list(f"{f}={v} ({', '.join(f'{s} line {n}' for s, n in rows)})" for (f, v), rows in shared.items())
        )
    if problems:
        raise ExportError(f"roster {path}: " + "; ".join(problems))
    return roster


def read_grades(paths, assignments: list[str] | None = None) -> tuple[list[dict], list[str]]:
    """Rows of ``grade_class``'s CSV(s) and the assignments to export (sorted).

    Several files merge in order: a later file's rows for a (student, assignment) replace the earlier ones
    (a regrade of a few students, ``grade_class --student X --csv regrade.csv``, after the class run). Numbers
    are checked here, so a hand-edited cell that is not a number stops the export with its file and line."""
    paths = [Path(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
    merged: dict[tuple[str, str], list[dict]] = {}
    for path in paths:
        if not path.is_file():
            raise ExportError(f"grades CSV not found: {path} (run `python -m autograder.grade_class` first)")
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in GRADE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ExportError(
                    f"grades CSV {path}: column(s) {_list(missing)} missing (not written by grade_class?)"
                )
            here: dict[tuple[str, str], list[dict]] = defaultdict(list)
            seen: dict[tuple[str, str, str], int] = {}
            for line, r in enumerate(reader, start=2):
                key = (r["student"], r["assignment"], r["notebook"])
                if key in seen:
                    raise ExportError(
                        f"grades CSV {path}: {'/'.join(key)} on lines {seen[key]} and {line} (one row per notebook)"
                    )
                seen[key] = line
                for c in ("auto_score", "auto_max", "manual_max"):
                    try:
                        r[c] = float(r[c] or 0)
                    except ValueError:
                        raise ExportError(f"grades CSV {path} line {line}: {c} is not a number: {r[c]!r}") from None
                here[(r["student"], r["assignment"])].append(r)
        merged.update(here)
    rows = [r for group in merged.values() for r in group]
    found = sorted({r["assignment"] for r in rows})
    if assignments:
        unknown = [a for a in assignments if a not in found]
        if unknown:
            where = ", ".join(str(p) for p in paths)
            raise ExportError(f"assignment(s) {_list(unknown)} not in {where} (it has: {_list(found) or 'none'})")
        found = list(assignments)
    rows = [r for r in rows if r["assignment"] in found]
    return rows, found


def scores_from_rows(rows: list[dict], manual: dict | None = None) -> Scores:
    """Sum the notebooks of each (student, assignment). ``manual``: (student, assignment, notebook) ->
    (manual points, still needs manual grading), from :func:`manual_scores`."""
    sc = Scores()
    max_per_assignment: dict[str, dict[str, float]] = defaultdict(dict)  # assignment -> notebook -> max
    for r in rows:
        s, a, nb, status = r["student"], r["assignment"], r["notebook"], r["status"]
        key = (s, a)
        sc.students.add(s)
        sc.points.setdefault(key, 0.0)
        if status == "error":  # a worker crash (notebook "*") or a failed autograde
            sc.errors.add(key)
            continue
        if status != "missing":
            sc.submitted.add(key)
        nb_max = r["auto_max"] + r["manual_max"]
        max_per_assignment[a][nb] = max(max_per_assignment[a].get(nb, 0.0), nb_max)
        sc.points[key] += r["auto_score"]
        if status != "graded" or r["manual_max"] == 0:
            continue
        got = manual.get((s, a, nb)) if manual is not None else None
        if got is None:
            sc.manual_left_out[a] = max(sc.manual_left_out.get(a, 0.0), r["manual_max"])
            continue
        points, pending = got
        sc.points[key] += points
        if pending:
            sc.needs_manual.add((s, a, nb))
    sc.max_points = {a: sum(nbs.values()) for a, nbs in max_per_assignment.items()}
    return sc


def manual_scores(gradebook: Path, rows: list[dict], course: Path = COURSE_DIR) -> dict:
    """(student, assignment, notebook) -> (manual points, needs manual grading) for the graded notebooks, from
    nbgrader's gradebook: the grades of the cells ``grade_class`` counts as manual (a solution cell or a
    markdown cell that carries points), ``manual_score`` where the instructor set one, plus extra credit."""
    import autograder.course  # noqa: F401  (puts the venv's `alembic` on PATH, which nbgrader's Gradebook runs)
    from autograder.grade_class import graded_cells, release_notebook

    gradebook = Path(gradebook)
    if not gradebook.is_file():
        raise ExportError(f"gradebook not found: {gradebook}")
    from nbgrader.api import Gradebook, MissingEntry

    manual_ids: dict[tuple[str, str], set[str]] = {}
    out = {}
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{gradebook}", COURSE_ID) as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy 2 warnings inside nbgrader's API
        for r in rows:
            if r["status"] != "graded" or r["manual_max"] == 0:
                continue
            s, a, nb = r["student"], r["assignment"], r["notebook"]
            if (a, nb) not in manual_ids:
                cells = graded_cells(release_notebook(course, a, nb))
                manual_ids[(a, nb)] = {
                    g for g, c in cells.items() if c["grade"] and (c["solution"] or c["cell_type"] == "markdown")
                }
            try:
                sn = gb.find_submission_notebook(nb, a, s)
            except MissingEntry:
                continue  # not merged into this gradebook: counted as left out
            points, pending = 0.0, False
            for g in sn.grades:
                if g.name not in manual_ids[(a, nb)]:
                    continue
                score = g.manual_score if g.manual_score is not None else g.auto_score
                points += float(score or 0) + float(g.extra_credit or 0)
                pending |= bool(g.needs_manual_grade) and g.manual_score is None
            out[(s, a, nb)] = (points, pending)
    return out


# ----------------------------------------------------------------------------------------------- writers


def _check_roster(roster: dict[str, Student], scores: Scores, fmt: str, moodle_id: str) -> None:
    not_in_roster = sorted(scores.students - set(roster))
    if not_in_roster:
        raise ExportError(
            f"{len(not_in_roster)} graded student(s) not in the roster: {_list(not_in_roster)} "
            "(add a row per student: the nbgrader id in column 'student' and the LMS fields)"
        )
    if fmt == "canvas":
        no_id = [
            f"{s.student} (line {s.line})"
            for s in roster.values()
            if not (s.canvas_id or s.sis_user_id or s.sis_login_id)
        ]
        if no_id:
            raise ExportError(
                f"roster row(s) without a Canvas id (canvas_id, sis_user_id or sis_login_id): {_list(no_id)}"
            )
    else:
        f = MOODLE_IDS[moodle_id]
        no_id = [f"{s.student} (line {s.line})" for s in roster.values() if not getattr(s, f)]
        if no_id:
            raise ExportError(
                f"roster row(s) without '{f}' (the Moodle identifier chosen with --moodle-id): {_list(no_id)}"
            )


def table(
    fmt: str,
    roster: dict[str, Student],
    scores: Scores,
    assignments: list[str],
    missing: str = "zero",
    titles: dict[str, str] | None = None,
    canvas_ids: dict[str, str] | None = None,
    moodle_id: str = "email",
) -> list[list[str]]:
    """The rows of the CSV to import (header first)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if missing not in MISSING:
        raise ExportError(f"unknown --missing {missing!r}: choose one of {', '.join(MISSING)}")
    if fmt == "moodle" and moodle_id not in MOODLE_IDS:
        raise ExportError(f"unknown --moodle-id {moodle_id!r}: choose one of {', '.join(MOODLE_IDS)}")
    _check_roster(roster, scores, fmt, moodle_id)
    titles, canvas_ids = titles or {}, canvas_ids or {}
    for name, opt in ((titles, "--title"), (canvas_ids, "--canvas-id")):
        unknown = sorted(set(name) - set(assignments))
        if unknown:
            raise ExportError(f"{opt} names assignment(s) not exported: {_list(unknown)}")
    columns = []
    for a in assignments:
        t = titles.get(a, a)
        columns.append(f"{t} ({canvas_ids[a]})" if fmt == "canvas" and a in canvas_ids else t)
    total_max = sum(scores.max_points.get(a, 0.0) for a in assignments)

    none = NO_GRADE[fmt]

    def cells(s: str) -> list[str]:
        out, total, any_score = [], 0.0, False
        for a in assignments:
            key = (s, a)
            if key in scores.errors:
                out.append(none)  # a grader error is never exported as a grade
            elif key not in scores.submitted:
                out.append("0" if missing == "zero" else none)
                any_score |= missing == "zero"
            else:
                out.append(_number(scores.points[key]))
                total += scores.points[key]
                any_score = True
        return out + [_number(total) if any_score else none]

    students = sorted(roster.values(), key=lambda s: (s.display_name().lower(), s.student))
    if fmt == "canvas":
        rows = [CANVAS_STUDENT_COLUMNS + columns + [CANVAS_TOTAL]]
        rows.append(
            [CANVAS_POINTS_ROW, "", "", "", ""]
            + [_number(scores.max_points.get(a, 0.0)) for a in assignments]
            + [_number(total_max)]
        )
        for s in students:
            rows.append([s.display_name(), s.canvas_id, s.sis_user_id, s.sis_login_id, s.section] + cells(s.student))
    else:
        rows = [MOODLE_USER_COLUMNS + columns + [MOODLE_TOTAL]]
        for s in students:
            first, last = s.first_last()
            rows.append([first, last, s.idnumber, s.email, s.username] + cells(s.student))
    return rows


def write_rows(rows: list[list[str]], out) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerows(rows)


def warnings_for(scores: Scores, roster: dict[str, Student], gradebook_used: bool) -> list[str]:
    out = []
    if scores.errors:
        out.append(
            f"{len(scores.errors)} grading error(s) left empty (regrade them): "
            + _list(f"{s}/{a}" for s, a in sorted(scores.errors))
        )
    if scores.manual_left_out and not gradebook_used:
        out.append(
            "manually graded points not included (they count as not earned): "
            + _list(f"{a}: {_number(p)}" for a, p in sorted(scores.manual_left_out.items()))
            + "; grade them in formgrader and pass --gradebook"
        )
    elif scores.manual_left_out:
        out.append(
            "notebooks not found in the gradebook, their manual points not included: "
            + _list(sorted(scores.manual_left_out))
        )
    if scores.needs_manual:
        out.append(
            f"{len(scores.needs_manual)} notebook(s) still need manual grading (counted as graded so far): "
            + _list(f"{s}/{a}/{n}" for s, a, n in sorted(scores.needs_manual))
        )
    absent = sorted(set(roster) - scores.students)
    if absent:
        out.append(f"{len(absent)} roster student(s) with no grades at all (no submission): {_list(absent)}")
    return out


def export(
    fmt: str,
    roster_path: Path,
    grades_path,
    out,
    missing: str = "zero",
    assignments: list[str] | None = None,
    gradebook: Path | None = None,
    course: Path = COURSE_DIR,
    titles: dict[str, str] | None = None,
    canvas_ids: dict[str, str] | None = None,
    moodle_id: str = "email",
) -> list[str]:
    """Write the import CSV to ``out`` (a path or a text stream); returns the warnings. ``grades_path``: one
    CSV of ``grade_class`` or a list of them (merged, see :func:`read_grades`)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    roster = read_roster(roster_path)
    rows, assignments = read_grades(grades_path, assignments)
    manual = manual_scores(gradebook, rows, course) if gradebook else None
    scores = scores_from_rows(rows, manual)
    result = table(fmt, roster, scores, assignments, missing, titles, canvas_ids, moodle_id)
    if hasattr(out, "write"):
        write_rows(result, out)
    else:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        with Path(out).open("w", newline="", encoding="utf-8") as f:
            write_rows(result, f)
    return warnings_for(scores, roster, gradebook is not None)


def _pairs(values: list[str] | None, opt: str) -> dict[str, str]:
    out = {}
    for v in values or []:
        k, sep, val = v.partition("=")
        if not sep or not k.strip() or not val.strip():
            raise ExportError(f"{opt} {v!r}: expected ASSIGNMENT=VALUE")
        out[k.strip()] = val.strip()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m autograder.lms_export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--format", required=True, help="canvas or moodle")
    ap.add_argument("--roster", type=Path, required=True, help="CSV: student (nbgrader id) -> LMS fields")
    ap.add_argument("--missing", default="zero", help="no submission: zero (default) or blank")
    ap.add_argument("--out", help="output CSV (default: <grades dir>/grades_<format>.csv; '-': stdout)")
    ap.add_argument("--course", type=Path, default=COURSE_DIR)
    ap.add_argument(
        "--grades",
        type=Path,
        action="append",
        help="grade_class's CSV (default: <course>/grades.csv); repeat to merge a regrade (later files win)",
    )
    ap.add_argument(
        "--gradebook",
        nargs="?",
        const="",
        help="add the manual grades from nbgrader's gradebook (default path: <course>/gradebook.db)",
    )
    ap.add_argument("--assignment", action="append", help="only these assignments (default: all in the CSV)")
    ap.add_argument("--title", action="append", metavar="ASSIGNMENT=TITLE", help="LMS name of an assignment")
    ap.add_argument(
        "--canvas-id", action="append", metavar="ASSIGNMENT=ID", help="Canvas assignment id: column 'Title (id)'"
    )
    ap.add_argument(
        "--moodle-id", default="email", help="Moodle user identifier: email (default), idnumber or username"
    )
    args = ap.parse_args(argv)
    course = args.course.resolve()
    grades = args.grades or [course / "grades.csv"]
    gradebook = None if args.gradebook is None else Path(args.gradebook or course / "gradebook.db")
    out = args.out or str(Path(grades[0]).parent / f"grades_{args.format}.csv")
    try:
        if args.format not in FORMATS:
            raise ExportError(f"unknown format {args.format!r}: choose one of {', '.join(FORMATS)}")
        warns = export(
            args.format,
            args.roster,
            grades,
            sys.stdout if out == "-" else out,
            missing=args.missing,
            assignments=args.assignment,
            gradebook=gradebook,
            course=course,
            titles=_pairs(args.title, "--title"),
            canvas_ids=_pairs(args.canvas_id, "--canvas-id"),
            moodle_id=args.moodle_id,
        )
    except ExportError as exc:
        print(f"lms_export: error: {exc}", file=sys.stderr)
        return 2
    for w in warns:
        print(f"lms_export: warning: {w}", file=sys.stderr)
    if out != "-":
        print(f"lms_export: {args.format} CSV -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
