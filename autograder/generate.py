"""``python -m autograder.generate``: solutions/ -> nbgrader course -> student notebooks, then leak check.

1. writes the course dir ``autograder/course/`` (gitignored): ``nbgrader_config.py``, the sandbox kernel
   spec, ``source/<assignment>/<assignment>.ipynb`` from each ``solutions/<assignment>.py`` (jupytext);
2. ``nbgrader generate_assignment`` (gradebook + ``release/``);
3. writes ``notebooks/<assignment>.ipynb``: the release version with an "Open in Colab" badge and the
   Colab install cell (:mod:`autograder.colab`) prepended, deterministic cell ids, no outputs;
4. leak check (:mod:`autograder.leaks`) over ``notebooks/`` (and ``_build/html`` when it exists).

Options: ``--only part1_parameter_counting`` (repeatable), ``--no-leak-check``, ``--validate`` (also
``nbgrader validate`` the solutions and ``--invert`` the student versions; see :mod:`autograder.validate`).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

import nbformat

from autograder import COURSE_DIR, REPO_ROOT
from autograder.course import assignments, nbgrader, write_config

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
GENERATED_TAG = "frlab-generated"


def _stable_ids(nb, prefix: str) -> None:
    seen = set()
    for i, cell in enumerate(nb.cells):
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        base = gid or f"{prefix}-{i:02d}-" + hashlib.sha1(cell.source.encode()).hexdigest()[:6]
        cid, k = base, 1
        while cid in seen:
            k += 1
            cid = f"{base}-{k}"
        seen.add(cid)
        cell["id"] = cid


def source_notebook(src: Path):
    """The instructor notebook of a chapter source (nbformat 4.5, stable ids, no outputs)."""
    from autograder.chapters import read_source

    nb = read_source(src)
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    _stable_ids(nb, "c")
    return nb


def write_sources(root: Path = COURSE_DIR, only: list[str] | None = None) -> dict[str, Path]:
    out = {}
    for name, src in assignments().items():
        if only and name not in only:
            continue
        d = Path(root) / "source" / name
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        path = d / f"{name}.ipynb"
        nbformat.write(source_notebook(src), str(path))
        out[name] = path
    return out


def student_notebook(release_path: Path, name: str):
    """The release notebook with the Colab badge and install cell prepended."""
    from autograder import colab

    nb = nbformat.read(str(release_path), as_version=4)
    badge = nbformat.v4.new_markdown_cell(colab.badge_markdown(f"notebooks/{name}.ipynb"))
    install = nbformat.v4.new_code_cell(colab.install_cell_source())
    for cell, cid in ((badge, "colab-badge"), (install, "colab-install")):
        cell["id"] = cid
        cell.metadata["tags"] = [GENERATED_TAG, "colab"]
    nb.cells = [badge, install] + list(nb.cells)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    return nb


def generate(
    root: Path = COURSE_DIR, only: list[str] | None = None, notebooks_dir: Path = NOTEBOOKS_DIR, log=print
) -> dict[str, Path]:
    """Build the course and write the student notebooks; returns assignment -> student notebook path."""
    write_config(root)
    sources = write_sources(root, only)
    notebooks_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in sources:
        log(f"generate: {name}")
        nbgrader(root, "generate_assignment", name, "--force", "--log-level=WARN")
        release = Path(root) / "release" / name / f"{name}.ipynb"
        nb = student_notebook(release, name)
        path = notebooks_dir / f"{name}.ipynb"
        nbformat.write(nb, str(path))
        out[name] = path
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", help="assignment(s) to generate (default: all)")
    ap.add_argument("--no-leak-check", action="store_true")
    ap.add_argument("--validate", action="store_true", help="also nbgrader validate / validate --invert")
    args = ap.parse_args(argv)
    written = generate(only=args.only)
    print(f"generate: wrote {', '.join(str(p.relative_to(REPO_ROOT)) for p in written.values())}")
    if not args.only:
        from autograder.corpus_spec import build

        print(f"generate: self-test corpus rebuilt ({len(build())} submissions in autograder/corpus)")
    rc = 0
    if not args.no_leak_check:
        from autograder import leaks

        targets = [NOTEBOOKS_DIR] + (
            [REPO_ROOT / "_build" / "html"] if (REPO_ROOT / "_build" / "html").exists() else []
        )
        problems = leaks.check_paths(targets, markers=True)
        for p in problems:
            print("LEAK", p)
        print(f"leak check: {len(problems)} problem(s) in {', '.join(map(str, targets))}")
        rc |= bool(problems)
    if args.validate:
        from autograder.validate import validate_all

        rc |= not validate_all(only=args.only)
    return int(rc)


if __name__ == "__main__":
    sys.exit(main())
