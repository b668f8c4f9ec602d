"""Which base model each profile uses (frlab.fairseq.pretrain.base_model_dir): the project's CPU model, shipped in the
repository, for the cpu profile and as the full profile's fallback when the course's checkpoint cannot be fetched
(tested with a refused connection), never "pretrain for hours"."""

import json
import socket
import warnings

import pytest

from frlab import assets
from frlab.fairseq import pretrain

SHIPPED = assets.PACKAGE_DIR.parent / "assets" / "roberta-small-fr-cpu"


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """No mirror, an empty cache and work folder: what a fresh clone without ../shared sees."""
    monkeypatch.delenv("FRLAB_MIRROR", raising=False)
    monkeypatch.setenv("FRLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FRLAB_WORK", str(tmp_path / "work"))
    return tmp_path


def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: the connection is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/index.php/s/E4otcD7B9jm2AWx/download/RoBERTa_small_fr.zip"


def test_the_shipped_model_is_in_the_manifest_with_every_sha256():
    entry = json.loads(assets.MANIFEST_PATH.read_text())[pretrain.SHIPPED_CPU_MODEL]
    assert entry["shipped"] == "assets/roberta-small-fr-cpu" and entry["kind"] == "files"
    assert set(entry["files"]) == {*pretrain.MODEL_FILES, pretrain.INFO_FILE}  # the recipe's record travels too
    for name, sha in entry["files"].items():
        assert assets.sha256_of(SHIPPED / name) == sha, name
    total = sum((SHIPPED / n).stat().st_size for n in pretrain.MODEL_FILES)
    assert total < 10 * 2**20, f"{total / 2**20:.1f} MB: over the 10 MB the repository may hold"


def test_the_cpu_profile_uses_the_shipped_model(fresh):
    folder = pretrain.base_model_dir("cpu")
    assert folder.is_relative_to(fresh / "cache") and pretrain.is_complete(folder)
    assert (folder / "model.pt").read_bytes() == (SHIPPED / "model.pt").read_bytes()


def test_a_model_built_here_wins_over_the_shipped_one(fresh):
    local = pretrain.default_out("cpu")
    local.mkdir(parents=True)
    for name in pretrain.MODEL_FILES:
        (local / name).write_bytes(b"built here")
    assert pretrain.base_model_dir("cpu") == local


def test_the_full_profile_falls_back_to_the_shipped_model_when_the_course_url_refuses(fresh, monkeypatch):
    manifest = assets.load_manifest()
    manifest["roberta-small-fr-fairseq"].urls = [refused_url()]
    monkeypatch.setattr(assets, "load_manifest", lambda *a, **k: manifest)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folder = pretrain.base_model_dir("full")
    assert pretrain.is_complete(folder) and (folder / "model.pt").read_bytes() == (SHIPPED / "model.pt").read_bytes()
    text = "\n".join(str(w.message) for w in caught)
    assert "RoBERTa_small_fr is not available" in text and "Connection refused" in text, text
    assert "project's CPU base model" in text and "about 80 %" in text  # what the fallback changes
    assert "shared" not in text  # points into the project, never to the maintainers' mirror


def test_without_the_shipped_folder_and_network_the_error_says_how_to_build_it(fresh, monkeypatch):
    manifest = assets.load_manifest()
    manifest[pretrain.SHIPPED_CPU_MODEL].extra["shipped"] = "assets/not-here"
    manifest[pretrain.SHIPPED_CPU_MODEL].urls = [refused_url().rsplit("/", 1)[0]]
    monkeypatch.setattr(assets, "load_manifest", lambda *a, **k: manifest)
    with pytest.raises(pretrain.BaseModelError) as err:
        pretrain.base_model_dir("cpu")
    msg = str(err.value)
    assert "roberta-small-fr-cpu" in msg and "python -m frlab.fairseq.pretrain --profile cpu" in msg
    assert "shared/" not in msg
