"""Autograder, generation side: Colab cell, student notebooks, leak check (also on planted leaks)."""

import shutil
import subprocess
import sys

import nbformat
import pytest

from autograder import REPO_ROOT, colab, leaks

P1 = "part1_parameter_counting"
PINS = REPO_ROOT / "requirements" / "pins.txt"


def test_colab_cell_is_generated_from_the_pins():
    src = colab.install_cell_source()
    needs, build = colab.colab_requirements()
    # a package Colab has is kept in the range of colab.txt, else installed at the pin of pins.txt
    assert needs["transformers"] == (">=5.15,<6", "==5.23.0") and "transformers==5.23.0" in PINS.read_text()
    assert needs["hydra-core"] == ("==1.3.2", "==1.3.2") and needs["regex"] == ("", "")
    assert "'transformers':  ('>=5.15,<6', '==5.23.0')," in src
    assert build == {"fairseq-fixed": "==0.12.3.1"} and "--no-build-isolation" in src
    for never in ("torch", "torchaudio", "nbgrader", "jupyter-book", "pytest", "copydetect"):
        assert never not in needs and f"'{never}':" not in src, never
    url, branch = colab.repository()
    assert f"git+{url}@{branch}" in src
    assert "NBGRADER_EXECUTION" in src and "google.colab" in src  # a no-op while grading / outside Colab
    compile(src, "<colab cell>", "exec")


def test_colab_ranges_hold_the_pins_and_name_only_pinned_packages(tmp_path):
    from packaging.specifiers import SpecifierSet

    needs, _ = colab.colab_requirements()
    for name, (accept, pin) in needs.items():
        # a pin outside its own range would make the cell install it again after every restart
        assert not pin or SpecifierSet(accept).contains(pin.lstrip("="), prereleases=True), (name, accept, pin)
    rdir = tmp_path / "req"
    shutil.copytree(REPO_ROOT / "requirements", rdir)
    (rdir / "colab.txt").write_text("numpy>=2.1\nnot-a-lab-package>=1\n")
    with pytest.raises(ValueError, match="not-a-lab-package"):
        colab.colab_requirements(rdir)


def test_repository_default_and_config(tmp_path):
    assert colab.repository(tmp_path / "missing.yml") == (colab.DEFAULT_REPOSITORY, colab.DEFAULT_BRANCH)
    cfg = tmp_path / "_config.yml"
    cfg.write_text("repository:\n  url: https://github.com/someone/lab.git\n  branch: dev\n")
    assert colab.repository(cfg) == ("https://github.com/someone/lab", "dev")
    assert (
        colab.colab_url("notebooks/x.ipynb", cfg)
        == "https://colab.research.google.com/github/someone/lab/blob/dev/notebooks/x.ipynb"
    )


@pytest.mark.parametrize(
    "text",
    [
        "22807552",
        "22,807,552",
        "22 807 552",
        "22_807_552",
        "22.807.552",
        "22\u202f807\u202f552",
        "n = 22807552.0",
        '<span class="mi">22807552</span>',
    ],
)
def test_leak_number_formats_are_caught(text):
    assert leaks.check_text(text, leaks.secrets(), "t")


@pytest.mark.parametrize("text", ["122807552", "228075521", "22807553", "2280755", "vocab 32,000", "2000 reviews"])
def test_leak_number_lookalikes_are_not(text):
    assert not leaks.check_text(text, leaks.secrets(), "t")


def test_secrets_cover_the_answers():
    sec = leaks.secrets()
    assert {22807552, 22829056, 1572864} <= set(sec.numbers)
    assert any("with_biases_and_layernorm" in line for line in sec.lines)  # solution lines
    assert not leaks.distinctive(2000) and not leaks.distinctive(4096) and leaks.distinctive(1572864)


@pytest.mark.slow
def test_generate_course_and_student_notebooks(tmp_path):
    from autograder.generate import generate

    out = generate(tmp_path / "course", only=[P1], notebooks_dir=tmp_path / "nb", log=lambda *a: None)
    nb_path = out[P1]
    nb = nbformat.read(str(nb_path), as_version=4)
    assert "colab.research.google.com" in nb.cells[0].source and nb.cells[0].cell_type == "markdown"
    assert nb.cells[1].cell_type == "code" and "pip" in nb.cells[1].source
    grade_ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert "count_function" in grade_ids and "test_count_weights" in grade_ids
    text = leaks.notebook_text(nb_path)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "raise NotImplementedError" in text and "YOUR ANSWER HERE" in text
    assert leaks.check_paths([nb_path]) == []
    # the committed student notebook is what generation gives (else: run python -m autograder.generate)
    committed = REPO_ROOT / "notebooks" / f"{P1}.ipynb"
    assert committed.read_bytes() == nb_path.read_bytes(), "notebooks/ is stale: python -m autograder.generate"
    # the course: config with the sandbox kernel, gradebook, release
    cfg = (tmp_path / "course" / "nbgrader_config.py").read_text()
    assert "frlab-sandbox" in cfg and "add_missing_cells = True" in cfg
    assert (tmp_path / "course" / "gradebook.db").exists()


def test_committed_notebooks_are_leak_free():
    assert leaks.check_paths([REPO_ROOT / "notebooks"]) == []


def _planted(tmp_path, source, cell_type="markdown"):
    nb = nbformat.read(str(REPO_ROOT / "notebooks" / f"{P1}.ipynb"), as_version=4)
    cell = nbformat.v4.new_markdown_cell(source) if cell_type == "markdown" else nbformat.v4.new_code_cell(source)
    nb.cells.insert(5, cell)
    p = tmp_path / "planted.ipynb"
    nbformat.write(nb, str(p))
    return p


@pytest.mark.parametrize(
    "planted",
    [
        "The answer is 22 807 552 parameters.",
        'assert n_weights == 22807552, "convention (A) count is wrong"',
        "    per_layer = 4 * d * d + 2 * d * d_ff",
    ],
)
def test_leak_check_finds_planted_leaks(tmp_path, planted):
    p = _planted(tmp_path, planted, "code" if planted.lstrip().startswith(("assert", "per")) else "markdown")
    problems = leaks.check_paths([tmp_path])
    assert problems and all(str(p) in prob for prob in problems)


def test_leak_check_html_and_cli(tmp_path):
    (tmp_path / "page.html").write_text("<p>total: <b>22,829</b>,056</p>")
    assert leaks.check_paths([tmp_path])  # found once tags are stripped
    rc = subprocess.run(
        [sys.executable, "-m", "autograder.leaks", str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True
    ).returncode
    assert rc == 1


def test_every_written_answer_has_key_sentences():
    """Each manually graded markdown cell (the mark scheme of a written question) gives the leak check sentences."""
    origins = {origin.split(" ")[0] for _, origin in leaks.secrets().sentences.values()}
    assert {"part1_parameter_counting", "part2_fairseq_finetuning", "part3_hf_finetuning", "part4_qlora"} <= origins


@pytest.mark.parametrize(
    ("page", "planted"),
    [
        # Ex 3.4, reworded and re-wrapped as a results README could put it
        (
            "results.md",
            "* long reviews: fairseq validates at every epoch end as well, so the best checkpoint\n"
            "  can be picked at a different update",
        ),
        # Question 1.3, verbatim inside a theory page
        ("theory.md", "Note: one more dictionary entry adds one embedding row: +d = +512 parameters to (A)."),
        # Question 4.5, in a built HTML page
        ("page.html", "<li>A name that <em>matches nothing</em> is silently ignored when another name matches.</li>"),
    ],
)
def test_leak_check_finds_planted_mark_scheme_sentences(tmp_path, page, planted):
    (tmp_path / page).write_text("# A page\n\nSome honest text about the lab.\n\n" + planted + "\n")
    problems = leaks.check_paths([tmp_path])
    assert problems and all("mark-scheme sentence" in prob for prob in problems), problems


def test_questions_themselves_are_not_mark_scheme_leaks():
    """The published question (public text of the chapter) and the book's pages do not trip the sentence rule."""
    src = (REPO_ROOT / "book" / "chapters" / "part3_hf_finetuning.md").read_text(encoding="utf-8")
    assert "Exercise 3.4" in src
    assert not [p for p in leaks.check_text(src, leaks.secrets(), "p3") if "mark-scheme" in p]
