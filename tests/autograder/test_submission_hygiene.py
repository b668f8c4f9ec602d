"""What a submission can do to the grader from the inside: tags on test cells, links and files made by the kernel."""

import os

import nbformat

from autograder.grade_class import restore_locked_cells
from autograder.grade_one import keep_only_submitted_files, regular_files
from autograder.preprocessors import remove_links


def _nb(tags=None):
    test = nbformat.v4.new_code_cell("assert answer == 42")
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "test_answer", "locked": True, "points": 1}
    if tags:
        test.metadata["tags"] = tags
    answer = nbformat.v4.new_code_cell("answer = 41")
    answer.metadata["nbgrader"] = {"grade": False, "grade_id": "answer", "locked": False, "solution": True}
    return nbformat.v4.new_notebook(cells=[answer, test])


def test_tags_on_a_test_cell_are_removed_and_flagged():
    release, submitted = _nb(), _nb(tags=["skip-execution", "raises-exception"])
    submitted.cells[0].metadata["tags"] = ["my-own-tag"]  # the student's own cells are theirs
    changed = restore_locked_cells(submitted, release)
    assert changed == ["tags ['raises-exception', 'skip-execution'] added to test_answer"]
    assert "tags" not in submitted.cells[1].metadata and submitted.cells[0].metadata["tags"] == ["my-own-tag"]
    assert restore_locked_cells(_nb(), release) == []


def test_only_regular_submitted_files_reach_the_feedback(tmp_path):
    submitted, autograded = tmp_path / "submitted", tmp_path / "autograded"
    for folder in (submitted, autograded):
        (folder / "runs").mkdir(parents=True)
        (folder / "nb.ipynb").write_text("{}")
        (folder / "runs" / "log.json").write_text("[]")
    secret = tmp_path / "gradebook.db"
    secret.write_text("every student's grades")
    os.symlink(secret, submitted / "linked.db")  # a link submitted by the student
    os.symlink(secret, autograded / "leak.db")  # links and files the kernel made while it ran
    os.symlink(tmp_path, autograded / "runs" / "up")
    (autograded / "made_by_the_kernel.txt").write_text("x")
    assert regular_files(submitted) == {"nb.ipynb", "runs/log.json"}
    removed = keep_only_submitted_files(autograded, submitted)
    assert removed == ["leak.db", "made_by_the_kernel.txt", "runs/up"]
    assert regular_files(autograded) == {"nb.ipynb", "runs/log.json"} and secret.read_text().startswith("every")


def test_links_made_by_the_kernel_are_removed_before_nbgrader_touches_the_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    os.symlink("/etc/passwd", tmp_path / "sub" / "passwd")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "kept.txt").write_text("x")
    assert sorted(remove_links(tmp_path)) == ["pipe", "sub/passwd"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kept.txt", "sub"]
