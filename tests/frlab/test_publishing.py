"""frlab/publishing.py is the one place that says where the project is published: every address of the project's
repository or of its assets release elsewhere in the repository must agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from frlab import publishing

REPO = Path(__file__).resolve().parents[2]

#: the files that carry the project's addresses (the student notebooks hold the Colab badge and the install cell)
SCANNED = ("README.md", "CONTRIBUTING.md", "DATA.md", "_config.yml", "autograder/colab.py")
SCANNED_GLOBS = ("book/**/*.md", "notebooks/*.ipynb", "frlab/**/*.py", "frlab/**/*.json")

GITHUB = re.compile(
    r"https?://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?(?=[/\s\"'`)<>\]@#?]|\\n|$)(/[^\s\"'`)<>\]\\]*)?"
)
COLAB = re.compile(r"https?://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/([^/\s\"'`)]+)/")
GIT_PLUS = re.compile(r"git\+(https?://[^\s@\"'`]+)@([\w./-]+)")
PY_BRANCH = re.compile(r"^DEFAULT_BRANCH\s*=\s*[\"']([^\"']+)[\"']", re.M)


def scanned_files(root: Path) -> list[Path]:
    files = [root / f for f in SCANNED if (root / f).is_file()]
    files += [p for g in SCANNED_GLOBS for p in sorted(root.glob(g))]
    return [p for p in files if p.name != "publishing.py"]


def disagreements(root: Path) -> tuple[list[str], int]:
    """``(problems, n)``: every address of the project in the scanned files of ``root`` that disagrees with
    frlab.publishing, and how many addresses were checked."""
    owner, name = publishing.github_slug().split("/")
    problems, n = [], 0

    def bad(path: Path, text: str, pos: int, what: str) -> None:
        line = text.count("\n", 0, pos) + 1
        problems.append(f"{path.relative_to(root)}:{line}: {what}")

    for path in scanned_files(root):
        text = path.read_text(encoding="utf-8")
        for m in GITHUB.finditer(text):
            if m.group(1).lower() != owner.lower() and m.group(2).lower() != name.lower():
                continue  # another project's repository (e.g. a data source)
            n += 1
            url = f"https://github.com/{m.group(1)}/{m.group(2)}"
            if url != publishing.REPOSITORY_URL:
                bad(path, text, m.start(), f"{m.group(0)} is not the repository {publishing.REPOSITORY_URL}")
            elif (m.group(3) or "").startswith("/releases/download/") and not m.group(0).startswith(
                publishing.RELEASE_URL + "/"
            ):
                bad(path, text, m.start(), f"{m.group(0)} is not in the assets release {publishing.RELEASE_URL}")
        for m in COLAB.finditer(text):
            n += 1
            if m.group(0) != publishing.colab_base(m.group(2)) or m.group(2) != publishing.DEFAULT_BRANCH:
                bad(path, text, m.start(), f"Colab link {m.group(0)}… does not start with {publishing.colab_base()}")
        for m in GIT_PLUS.finditer(text):
            n += 1
            if (m.group(1), m.group(2)) != (publishing.REPOSITORY_URL, publishing.DEFAULT_BRANCH):
                bad(
                    path,
                    text,
                    m.start(),
                    f"{m.group(0)} is not git+{publishing.REPOSITORY_URL}@{publishing.DEFAULT_BRANCH}",
                )
        if path.name == "_config.yml":  # Jupyter Book's repository section: the book's buttons and Colab cells
            repo = (yaml.safe_load(text) or {}).get("repository") or {}
            for key, want in (("url", publishing.REPOSITORY_URL), ("branch", publishing.DEFAULT_BRANCH)):
                n += 1
                if str(repo.get(key, "")).rstrip("/").removesuffix(".git") != want:
                    at = text.find(f"{key}:")
                    bad(path, text, max(at, 0), f"repository.{key} {repo.get(key)!r} is not {want!r}")
        if path.suffix == ".py":
            for m in PY_BRANCH.finditer(text):
                n += 1
                if m.group(1) != publishing.DEFAULT_BRANCH:
                    bad(path, text, m.start(), f"DEFAULT_BRANCH {m.group(1)!r} is not {publishing.DEFAULT_BRANCH!r}")
    return problems, n


def test_every_address_of_the_project_agrees_with_publishing():
    problems, n = disagreements(REPO)
    assert not problems, "addresses of the project that disagree with frlab/publishing.py:\n" + "\n".join(problems)
    # what was checked: _config.yml's url and branch, autograder/colab.py's default, each notebook's badge and
    # install cell, each Part chapter's Colab button
    assert n >= 12, n


def test_the_scan_finds_what_disagrees(tmp_path):
    """The check itself: a moved repository, another branch, another release, a Colab link to a fork."""
    (tmp_path / "book").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "autograder").mkdir()
    slug = publishing.github_slug()
    (tmp_path / "_config.yml").write_text(
        "repository:\n  url: https://github.com/someone-else/french-lm-lab\n  path_to_book: ''\n  branch: dev\n"
    )
    (tmp_path / "README.md").write_text(
        f"Data: {publishing.REPOSITORY_URL}/releases/download/assets-v0/x.zip and the corpus from "
        "https://github.com/common-voice/commonvoice-fr (not ours: not checked).\n"
    )
    (tmp_path / "book" / "ch.md").write_text(
        '<a href="https://colab.research.google.com/github/fork/french-lm-lab/blob/main/notebooks/a.ipynb">Colab</a>\n'
    )
    (tmp_path / "notebooks" / "a.ipynb").write_text(
        f"\"subprocess.run(pip + ['frlab @ git+https://github.com/{slug}@dev'])\\n\"\n"
    )
    (tmp_path / "autograder" / "colab.py").write_text('DEFAULT_REPOSITORY = "https://github.com/frlab-course/lab"\n')
    problems, _ = disagreements(tmp_path)
    text = "\n".join(problems)
    assert "_config.yml:2: https://github.com/someone-else/french-lm-lab is not the repository" in text
    assert "_config.yml:2: repository.url 'https://github.com/someone-else/french-lm-lab' is not" in text
    assert "_config.yml:4: repository.branch 'dev' is not 'main'" in text
    assert "README.md:1:" in text and "assets-v0/x.zip is not in the assets release" in text
    assert "commonvoice" not in text
    assert "book/ch.md:1: Colab link" in text
    assert f"notebooks/a.ipynb:1: git+https://github.com/{slug}@dev" in text
    assert "autograder/colab.py:1: https://github.com/frlab-course/lab is not the repository" in text
    assert len(problems) == 7, text
    # and the same files, right, pass
    for p in scanned_files(tmp_path):
        p.write_text("")
    (tmp_path / "_config.yml").write_text(f"repository:\n  url: {publishing.REPOSITORY_URL}\n  branch: main\n")
    (tmp_path / "book" / "ch.md").write_text(publishing.colab_badge_markdown("notebooks/a.ipynb"))
    (tmp_path / "notebooks" / "a.ipynb").write_text(f"'{publishing.pip_requirement()}'")
    (tmp_path / "README.md").write_text(publishing.release_asset_url("x.zip"))
    assert disagreements(tmp_path) == ([], 7)


def test_the_colab_helpers_of_the_grader_agree_with_publishing():
    """autograder/colab.py makes the notebooks' badge and install cell from _config.yml: the same addresses."""
    colab = pytest.importorskip("autograder.colab")
    assert colab.repository() == (publishing.REPOSITORY_URL, publishing.DEFAULT_BRANCH)
    assert colab.DEFAULT_REPOSITORY == publishing.REPOSITORY_URL
    assert colab.colab_url("notebooks/x.ipynb") == publishing.colab_url("notebooks/x.ipynb")
    assert colab.badge_markdown("notebooks/x.ipynb") == publishing.colab_badge_markdown("notebooks/x.ipynb")
    assert repr(publishing.pip_requirement()) in colab.install_cell_source()


def test_the_helpers():
    assert publishing.github_slug("https://github.com/a/b.git") == "a/b"
    assert publishing.RELEASE_URL.startswith(publishing.REPOSITORY_URL + "/releases/download/")
    assert publishing.colab_url("notebooks/p.ipynb") == (
        f"https://colab.research.google.com/github/{publishing.github_slug()}/blob/main/notebooks/p.ipynb"
    )
    assert publishing.pip_requirement("dev") == f"frlab @ git+{publishing.REPOSITORY_URL}@dev"
    with pytest.raises(ValueError):
        publishing.github_slug("https://gitlab.com/a/b")
