"""``python -m autograder.similarity``: pairwise similarity of the students' own code, for the instructor.

    python -m autograder.similarity [--course DIR] [--assignment A] [--threshold X] [--out DIR]

For each assignment and notebook (``<course>/submitted/<student>/<assignment>/<notebook>.ipynb``), every pair
of students is compared on their **solution cells only**: the cells whose nbgrader metadata says
``"solution": true`` in the release notebook (found in the submission by ``grade_id``; a cell the student
marked as a solution counts too). Everything the students were given is **template** and never counts: the
release notebook (``<course>/release/<assignment>/<notebook>.ipynb``) is taken as boilerplate, so the code
around ``# YOUR CODE HERE`` inside a solution cell, the stubs, and any given code a student pastes into a
solution cell are removed before comparing. Code cells and written answers (markdown solution cells) are
compared separately.

Writes, under ``--out`` (default ``<course>/similarity``):

* ``similarity.html``: the report (flagged pairs first, side by side with the matching passages highlighted,
  then the distribution and the most similar pairs of each notebook);
* ``similarity_flagged.csv``: the pairs at or above ``--threshold``, columns ``student_a, student_b, notebook,
  similarity`` (then ``assignment, cells, similarity_a, similarity_b``).

``similarity`` is the larger of the two directions: the share of student A's solution (its fingerprinted
tokens, template removed) found in B's, and of B's found in A's; a short solution entirely inside a longer one
scores 1. A flagged pair is a lead for a human to read, not a finding: short exercises with one natural
solution are similar by nature. The report **never affects a grade**: this module reads the submissions and
the release, and writes only under ``--out`` (not the gradebook). ``python -m autograder.grade_class`` runs it
after grading (unless ``--no-similarity``): the report goes to ``similarity/`` beside the grades CSV, and each
flagged pair is named on both students' rows of that CSV (column ``similar_to``, :func:`similar_to`), beside the
scores, which it does not change.

**Library: copydetect** (https://pypi.org/project/copydetect/, https://github.com/blingenf/copydetect, 0.5.0,
MIT). It implements winnowing (Schleimer, Wilkerson & Aiken 2003), the fingerprinting behind MOSS, in
Python: code is tokenized with Pygments and identifiers, strings and comments are normalized away (renaming
variables or rewording comments changes nothing), fingerprints that also occur in boilerplate are dropped,
and the matching slices are mapped back onto the original code for the highlighted report. It runs offline
(MOSS is a remote service: student code may not be sent to it) and needs only packages the lab already pins
(numpy, Pygments, Jinja2, matplotlib, tqdm). We use its documented ``CodeFingerprint`` / ``compare_files``
API on text extracted in memory, rather than its directory-scanning ``CopyDetector``, to compare only the same
notebook across students, with one boilerplate per notebook, and to write our own report and CSV. Written
answers are fingerprinted without tokenization (``filter=False``) after lower-casing and collapsing
whitespace, with longer k-grams (``TEXT_NOISE`` characters). copydetect hashes k-grams with Python's
``hash()``, which is salted per process: which fingerprints winnowing keeps, hence a similarity, can move by a
few points from one run to the next (a near-copy stays near 1, unrelated code near 0).
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import COURSE_DIR

DEFAULT_THRESHOLD = 0.5
#: k-gram length (characters of tokenized code) below which a match is noise; copydetect's default
CODE_NOISE = 25
#: the same for written answers (characters of normalized text: about 8 words)
TEXT_NOISE = 50
#: winnowing window (k-grams): every match of at least k + WINDOW - 1 characters is found
WINDOW = 6
TOP_PER_NOTEBOOK = 10
CSV_COLUMNS = [
    "student_a",
    "student_b",
    "notebook",
    "similarity",
    "assignment",
    "cells",
    "similarity_a",
    "similarity_b",
]
KINDS = {"code": "code", "markdown": "written answers"}


@dataclass
class Pair:
    assignment: str
    notebook: str
    cells: str  # "code" | "markdown"
    student_a: str
    student_b: str
    similarity_a: float  # share of A's fingerprinted solution found in B's
    similarity_b: float
    overlap: int  # matching tokens
    html_a: str = ""
    html_b: str = ""

    @property
    def similarity(self) -> float:
        return max(self.similarity_a, self.similarity_b)


@dataclass
class Report:
    threshold: float
    pairs: list[Pair] = field(default_factory=list)  # every pair with some overlap
    flagged: list[Pair] = field(default_factory=list)
    compared: dict = field(default_factory=dict)  # (assignment, notebook, cells) -> (students compared, pairs)
    skipped: list[str] = field(default_factory=list)  # unreadable submissions


# ------------------------------------------------------------------------------------------ extraction


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else (src or "")


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def solution_ids(release_nb) -> set[str]:
    """grade_ids of the release's solution cells."""
    return {_meta(c)["grade_id"] for c in release_nb.cells if _meta(c).get("solution") and _meta(c).get("grade_id")}


def _clean_code(src: str) -> str:
    """IPython magics and shell escapes are not Python: dropped before tokenizing."""
    return "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))


def _clean_text(src: str) -> str:
    return re.sub(r"\s+", " ", src.lower()).strip()


def solution_text(nb, ids: set[str], kind: str) -> str:
    """The student's solution cells of one kind ("code" or "markdown"), in notebook order."""
    parts = []
    for c in nb.cells:
        m = _meta(c)
        if c.get("cell_type") == kind and (m.get("grade_id") in ids or m.get("solution")):
            parts.append(_source(c))
    text = "\n\n".join(parts)
    return _clean_code(text) if kind == "code" else _clean_text(text)


def template_text(release_nb, kind: str) -> str:
    """Everything the release gives, of one kind: the boilerplate."""
    text = "\n\n".join(_source(c) for c in release_nb.cells if c.get("cell_type") == kind)
    return _clean_code(text) if kind == "code" else _clean_text(text)


# ------------------------------------------------------------------------------------------ comparison


def _fingerprint(name: str, text: str, kind: str, boilerplate: set | None = None, win_size: int = WINDOW):
    """copydetect's fingerprint of ``text``, the template's k-grams removed.

    The removal is done here rather than by ``CodeFingerprint(boilerplate=...)``: copydetect 0.5.0 intersects
    the non-unique winnowed hashes with ``np.intersect1d(..., assume_unique=True)``, which also drops any
    fingerprint a student's code repeats, boilerplate or not."""
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage

    k = CODE_NOISE if kind == "code" else TEXT_NOISE
    fp = CodeFingerprint(
        name, k, win_size, filter=kind == "code", language="python" if kind == "code" else None, fp=io.StringIO(text)
    )
    if boilerplate:
        fp.hashes = {h for h in fp.hashes if h not in boilerplate}
        fp.hash_idx = {h: i for h, i in fp.hash_idx.items() if h not in boilerplate}
        fp.token_coverage = get_token_coverage(fp.hash_idx, k, len(fp.filtered_code))
    return fp


def boilerplate_hashes(template: str, kind: str) -> set:
    """Every k-gram hash of the template (window 1: all of them, as copydetect does for boilerplate)."""
    if not template.strip():
        return set()
    return set(_fingerprint("template.py" if kind == "code" else "template.txt", template, kind, win_size=1).hashes)


def compare_texts(
    texts: dict[str, str], kind: str, template: str = "", keep_html_above: float | None = None
) -> list[tuple[str, str, float, float, int, str, str]]:
    """All pairs of ``texts`` (student -> solution text) with some overlap:
    ``(a, b, similarity_a, similarity_b, overlap, html_a, html_b)``, the HTML (matching slices highlighted)
    only for pairs at or above ``keep_html_above``. Template fingerprints are removed first."""
    from copydetect import compare_files
    from copydetect.utils import highlight_overlap

    bp = boilerplate_hashes(template, kind)
    prints = {}
    for s in sorted(texts):
        if not texts[s].strip():
            continue
        fp = _fingerprint(f"{s}.py" if kind == "code" else f"{s}.txt", texts[s], kind, boilerplate=bp)
        if fp.hashes and fp.token_coverage > 0:
            prints[s] = fp
    names = sorted(prints)
    out = []
    for i, a in enumerate(names):
        ha = set(prints[a].hashes)
        for b in names[i + 1 :]:
            if ha.isdisjoint(prints[b].hashes):
                continue  # nothing in common: similarity 0, not worth a comparison
            overlap, (sim_a, sim_b), (slices_a, slices_b) = compare_files(prints[a], prints[b])
            if overlap <= 0:
                continue
            sim_a, sim_b = min(float(sim_a), 1.0), min(float(sim_b), 1.0)
            html_a = html_b = ""
            if keep_html_above is not None and max(sim_a, sim_b) >= keep_html_above:
                html_a, _ = highlight_overlap(prints[a].raw_code, slices_a, "<mark>", "</mark>", escape_html=True)
                html_b, _ = highlight_overlap(prints[b].raw_code, slices_b, "<mark>", "</mark>", escape_html=True)
            out.append((a, b, sim_a, sim_b, int(overlap), html_a, html_b))
    return out


def release_notebooks(course: Path, assignment: str) -> list[Path]:
    return sorted((Path(course) / "release" / assignment).glob("*.ipynb"))


def _read(path: Path):
    try:
        nb = nbformat.read(str(path), as_version=4)
        return nb, None
    except Exception as exc:  # unreadable: listed in the report, never compared
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"


def analyze(
    course: Path = COURSE_DIR,
    assignments: list[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    submitted: Path | None = None,
    log=print,
) -> Report:
    course = Path(course)
    submitted = Path(submitted) if submitted else course / "submitted"
    if not (course / "release").is_dir():
        raise SystemExit(f"similarity: no release/ in {course} (run `python -m autograder.generate` first)")
    if not submitted.is_dir():
        raise SystemExit(f"similarity: no submissions in {submitted}")
    known = sorted(p.name for p in (course / "release").iterdir() if p.is_dir())
    assignments = assignments or known
    unknown = [a for a in assignments if a not in known]
    if unknown:
        raise SystemExit(f"similarity: unknown assignment(s) {', '.join(unknown)} (known: {', '.join(known)})")
    report = Report(threshold=threshold)
    students = sorted(d.name for d in submitted.iterdir() if d.is_dir() and not d.name.startswith("."))
    for a in assignments:
        for rel_path in release_notebooks(course, a):
            name = rel_path.stem
            release, why = _read(rel_path)
            if release is None:
                raise SystemExit(f"similarity: release notebook {rel_path} unreadable: {why}")
            ids = solution_ids(release)
            subs = {}
            for s in students:
                p = submitted / s / a / f"{name}.ipynb"
                if not p.is_file():
                    continue
                nb, why = _read(p)
                if nb is None:
                    report.skipped.append(f"{s}/{a}/{name}.ipynb: {why}")
                    continue
                subs[s] = nb
            for kind in KINDS:
                t0 = time.time()
                texts = {s: solution_text(nb, ids, kind) for s, nb in subs.items()}
                n = sum(1 for t in texts.values() if t.strip())
                found = compare_texts(texts, kind, template_text(release, kind), keep_html_above=threshold)
                report.compared[(a, name, kind)] = (n, n * (n - 1) // 2)
                for sa, sb, sim_a, sim_b, overlap, ha, hb in found:
                    pair = Pair(a, name, kind, sa, sb, sim_a, sim_b, overlap, ha, hb)
                    report.pairs.append(pair)
                    if pair.similarity >= threshold:
                        report.flagged.append(pair)
                log(
                    f"similarity: {a}/{name} {KINDS[kind]}: {n} student(s), "
                    f"{sum(1 for p in report.flagged if (p.assignment, p.notebook, p.cells) == (a, name, kind))} "
                    f"flagged pair(s) ({time.time() - t0:.1f} s)"
                )
    report.flagged.sort(key=lambda p: (-p.similarity, p.assignment, p.notebook, p.student_a, p.student_b))
    return report


# ------------------------------------------------------------------------------------------- outputs


def write_csv(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for p in report.flagged:
            w.writerow(
                [
                    p.student_a,
                    p.student_b,
                    p.notebook,
                    f"{p.similarity:.3f}",
                    p.assignment,
                    p.cells,
                    f"{p.similarity_a:.3f}",
                    f"{p.similarity_b:.3f}",
                ]
            )


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.6em 1em}
.pair{display:flex;gap:1em}.pair>div{flex:1;min-width:0}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;white-space:pre-wrap;font-size:85%}
mark{background:#ffb3b3}.bar{background:#6a8fd8;height:.8em;display:inline-block}
"""


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def render_html(report: Report, command: str = "") -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Similarity report</title>",
        f"<style>{STYLE}</style></head><body><h1>Similarity report</h1>",
        "<p class='note'>Pairwise similarity of the students' <b>solution cells</b> (nbgrader "
        "<code>solution: true</code>), with everything given in the release notebook removed as template. "
        "A flagged pair is a lead to read, not a finding: short exercises with one natural solution are "
        "similar by nature. <b>This report never affects a grade.</b></p>",
        f"<p>Threshold: <b>{report.threshold:g}</b> (similarity = the larger share of one student's solution "
        f"found in the other's). Flagged pairs: <b>{len(report.flagged)}</b>. Library: copydetect (winnowing, "
        f"k = {CODE_NOISE} code / {TEXT_NOISE} text characters).",
    ]
    if command:
        out.append(f"<br>Command: <code>{e(command)}</code>")
    out.append("</p><h2>Compared</h2><table><tr><th>assignment</th><th>notebook</th><th>cells</th>")
    out.append("<th>students</th><th>pairs</th><th>flagged</th></tr>")
    for (a, nb, kind), (n, npairs) in report.compared.items():
        k = sum(1 for p in report.flagged if (p.assignment, p.notebook, p.cells) == (a, nb, kind))
        out.append(
            f"<tr><td>{e(a)}</td><td>{e(nb)}</td><td>{KINDS[kind]}</td><td>{n}</td><td>{npairs}</td><td>{k}</td></tr>"
        )
    out.append("</table>")
    if report.skipped:
        out.append("<h3>Not compared (unreadable)</h3><ul>")
        out += [f"<li>{e(s)}</li>" for s in report.skipped]
        out.append("</ul>")
    out.append("<h2>Flagged pairs</h2>")
    if not report.flagged:
        out.append("<p>None at this threshold.</p>")
    else:
        out.append("<table><tr><th>#</th><th>similarity</th><th>student A</th><th>student B</th>")
        out.append("<th>notebook</th><th>cells</th><th>A in B</th><th>B in A</th></tr>")
        for i, p in enumerate(report.flagged, 1):
            out.append(
                f"<tr><td><a href='#pair{i}'>{i}</a></td><td><b>{_pct(p.similarity)}</b></td>"
                f"<td>{e(p.student_a)}</td><td>{e(p.student_b)}</td><td>{e(p.assignment)}/{e(p.notebook)}</td>"
                f"<td>{KINDS[p.cells]}</td><td>{_pct(p.similarity_a)}</td><td>{_pct(p.similarity_b)}</td></tr>"
            )
        out.append("</table>")
        for i, p in enumerate(report.flagged, 1):
            out.append(
                f"<h3 id='pair{i}'>{i}. {e(p.student_a)} &harr; {e(p.student_b)}: {_pct(p.similarity)} "
                f"({e(p.assignment)}/{e(p.notebook)}, {KINDS[p.cells]}, {p.overlap} matching tokens)</h3>"
                f"<div class='pair'><div><b>{e(p.student_a)}</b> ({_pct(p.similarity_a)} found in the other)"
                f"<pre>{p.html_a}</pre></div><div><b>{e(p.student_b)}</b> ({_pct(p.similarity_b)} found in the "
                f"other)<pre>{p.html_b}</pre></div></div>"
            )
    out.append("<h2>Distribution</h2>")
    for (a, nb, kind), (_n, npairs) in report.compared.items():
        sims = [p.similarity for p in report.pairs if (p.assignment, p.notebook, p.cells) == (a, nb, kind)]
        if npairs == 0:
            continue
        bins = [0] * 10
        for s in sims:
            bins[min(int(s * 10), 9)] += 1
        bins[0] += npairs - len(sims)  # pairs with nothing in common
        out.append(f"<h3>{e(a)}/{e(nb)}, {KINDS[kind]}</h3><table><tr><th>similarity</th><th>pairs</th></tr>")
        for i, c in enumerate(bins):
            width = 300 * c / max(1, max(bins))
            out.append(
                f"<tr><td>{10 * i}–{10 * (i + 1)}%</td><td><span class='bar' style='width:{width:.0f}px'></span> {c}"
                "</td></tr>"
            )
        out.append("</table>")
        top = sorted(
            (p for p in report.pairs if (p.assignment, p.notebook, p.cells) == (a, nb, kind)),
            key=lambda p: -p.similarity,
        )[:TOP_PER_NOTEBOOK]
        if top:
            out.append(
                "<p>Most similar pairs: "
                + ", ".join(f"{e(p.student_a)} &harr; {e(p.student_b)} {_pct(p.similarity)}" for p in top)
                + "</p>"
            )
    out.append("</body></html>")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m autograder.similarity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--course", type=Path, default=COURSE_DIR)
    ap.add_argument("--submitted", type=Path, help="default: <course>/submitted")
    ap.add_argument("--assignment", action="append", help="only these assignments (default: all)")
    ap.add_argument(
        "--threshold", type=float, default=DEFAULT_THRESHOLD, help=f"flag at or above (default {DEFAULT_THRESHOLD})"
    )
    ap.add_argument("--out", type=Path, help="output folder (default: <course>/similarity)")
    args = ap.parse_args(argv)
    if not 0 <= args.threshold <= 1:
        ap.error("--threshold must be between 0 and 1")
    course = args.course.resolve()
    out = (args.out or course / "similarity").resolve()
    report = analyze(course, args.assignment, args.threshold, args.submitted)
    command = "python -m autograder.similarity " + " ".join(argv if argv is not None else sys.argv[1:])
    write_report(report, out, command.strip())
    print(f"similarity: {len(report.flagged)} flagged pair(s) -> {out / 'similarity_flagged.csv'}")
    print(f"similarity: report -> {out / 'similarity.html'}")
    return 0


def write_report(report: Report, out: Path, command: str = "") -> None:
    """``similarity_flagged.csv`` and ``similarity.html`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(report, out / "similarity_flagged.csv")
    (out / "similarity.html").write_text(render_html(report, command), encoding="utf-8")


def similar_to(report: Report) -> dict[tuple[str, str, str], list[str]]:
    """``(student, assignment, notebook) -> ["other student: code 92%", ...]``: each flagged pair, named on both
    students' rows (the grades CSV's ``similar_to`` column); most similar first."""
    out: dict[tuple[str, str, str], list[str]] = {}
    for p in report.flagged:  # sorted most similar first
        what = f"{KINDS[p.cells]} {round(100 * p.similarity)}%"
        out.setdefault((p.student_a, p.assignment, p.notebook), []).append(f"{p.student_b}: {what}")
        out.setdefault((p.student_b, p.assignment, p.notebook), []).append(f"{p.student_a}: {what}")
    return out


if __name__ == "__main__":
    sys.exit(main())
