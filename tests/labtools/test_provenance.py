"""labtools.provenance: the commit and uncommitted changes a stored record names."""

import subprocess

from labtools import provenance


def test_the_commit_and_the_changes_of_a_checkout(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "a.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    full = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    monkeypatch.setattr(provenance, "REPO_ROOT", repo)
    assert provenance.commit(short=False) == full and full.startswith(provenance.commit()) and provenance.commit()
    assert provenance.changed_files() == []
    (repo / "a.py").write_text("x = 2\n")
    (repo / "untracked.py").write_text("")
    assert provenance.changed_files() == ["a.py"]  # untracked files are not the record's code


def test_outside_a_checkout_nothing_is_claimed(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert provenance.commit() == "" and provenance.changed_files() == []
