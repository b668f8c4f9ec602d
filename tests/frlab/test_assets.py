"""The asset resolver: cache -> mirror -> URL, checksums, atomic extraction, clear errors.

Archives are built by the tests themselves (a good one and corrupt ones); downloads go to a
Range-capable HTTP server on 127.0.0.1.
"""

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest

from frlab import assets
from frlab.assets import AssetError, ChecksumError, fetch, load_manifest
from tests.frlab.http_server import serve

FILES = {"a.txt": b"bonjour\n", "sub/b.txt": b"au revoir\n" * 100}


def _sha(b):
    return hashlib.sha256(b).hexdigest()


def _zip(path: Path, files=FILES, top="toy"):
    with zipfile.ZipFile(path, "w") as zf:
        for rel, data in files.items():
            zf.writestr(f"{top}/{rel}", data)
    return path


@pytest.fixture
def toy(tmp_path):
    """A manifest with one archive asset whose archive and file checksums are known."""
    (tmp_path / "src").mkdir()
    archive = _zip(tmp_path / "src" / "toy.zip")
    manifest_path = tmp_path / "manifest.json"
    manifest_path.write_text(
        json.dumps(
            {
                "toy": {
                    "description": "a toy asset",
                    "kind": "archive",
                    "urls": [],
                    "archive": "toy.zip",
                    "archive_sha256": _sha(archive.read_bytes()),
                    "mirror": "toy",
                    "files": {rel: _sha(data) for rel, data in FILES.items()},
                    "how_to_get": "Ask the teacher.",
                }
            }
        )
    )
    return load_manifest(manifest_path), archive, tmp_path


def test_manifest_lists_every_course_asset():
    m = load_manifest()
    for name in (
        "roberta-small-fr-fairseq",
        "roberta-small-fr-hf",
        "cls-books",
        "cls-books-lab-split",
        "fr-corpus",
        "bloom-560m",
        "qa-ecommerce-fr",
    ):
        assert name in m and m[name].files and m[name].urls
    assert set(m["roberta-small-fr-fairseq"].files) == {"model.pt", "dict.txt", "sentencepiece.bpe.model"}
    # the course's zip is accepted by its structure; the lab's split, which the project publishes, by its sha256
    assert set(m["cls-books"].files) == set(m["cls-books-lab-split"].files)
    assert all(len(d) == 64 for d in m["cls-books-lab-split"].files.values())
    assert len(m["cls-books-lab-split"].archive_sha256) == 64


def _put(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/name`` (creating ``folder``); returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder


def test_mirror_archive_is_verified_and_extracted(toy):
    manifest, archive, tmp = toy
    mirror = _put(tmp / "mirror", "toy.zip", archive.read_bytes())
    out = fetch("toy", cache=tmp / "cache", mirror=mirror, manifest=manifest, allow_network=False)
    assert (out / "sub" / "b.txt").read_bytes() == FILES["sub/b.txt"]
    assert out == tmp / "cache" / "toy"
    # second call: served from the cache even without a mirror
    assert fetch("toy", cache=tmp / "cache", mirror="", manifest=manifest, allow_network=False) == out
    assert not [p for p in (tmp / "cache").iterdir() if p.name.startswith(".toy-")], "temporary folder left behind"


def test_corrupt_archive_is_detected_by_checksum_and_kept(toy):
    manifest, archive, tmp = toy
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cache = _put(tmp / "cache", "toy.zip", bytes(data))
    with pytest.raises(ChecksumError) as err:
        fetch("toy", cache=cache, mirror="", manifest=manifest, allow_network=False)
    msg = str(err.value)
    assert "'toy'" in msg and "corrupt" in msg and "Ask the teacher." in msg
    assert (cache / "toy.zip.corrupt").exists(), "the corrupt file must be kept aside, not deleted"
    assert not (cache / "toy").exists(), "nothing half-extracted"


def test_corrupt_archive_without_known_checksum_is_detected_on_extraction(toy):
    manifest, archive, tmp = toy
    manifest["toy"].archive_sha256 = None
    cache = _put(tmp / "cache", "toy.zip", archive.read_bytes()[:-40])  # truncated
    with pytest.raises(AssetError, match="corrupt or truncated|neither a zip"):
        fetch("toy", cache=cache, mirror="", manifest=manifest, allow_network=False)
    assert not (cache / "toy").exists()


def test_archive_with_wrong_content_is_rejected(toy):
    manifest, _, tmp = toy
    manifest["toy"].archive_sha256 = None
    (tmp / "cache").mkdir()
    bad = _zip(tmp / "cache" / "toy.zip", files={"a.txt": b"tampered\n", "sub/b.txt": FILES["sub/b.txt"]})
    with pytest.raises(ChecksumError, match="checksum mismatch for a.txt"):
        fetch("toy", cache=tmp / "cache", mirror="", manifest=manifest, allow_network=False)
    assert bad.exists()


def test_missing_asset_error_names_places_and_remedy(toy):
    manifest, _, tmp = toy
    with pytest.raises(AssetError) as err:
        fetch("toy", cache=tmp / "cache", mirror=tmp / "nowhere", manifest=manifest, allow_network=False)
    msg = str(err.value)
    assert "asset 'toy'" in msg
    assert str(tmp / "cache" / "toy") in msg and str(tmp / "nowhere" / "toy") in msg
    assert "FRLAB_MIRROR" in msg and "Ask the teacher." in msg


def test_unknown_asset_name():
    with pytest.raises(AssetError, match="unknown asset"):
        fetch("no-such-asset", allow_network=False)


@pytest.fixture
def http_dir(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    with serve(root) as (base, server):
        yield root, base, server


def test_download_resumes_from_part_file_and_verifies(toy, http_dir):
    manifest, archive, tmp = toy
    root, base, server = http_dir
    (root / "toy.zip").write_bytes(archive.read_bytes())
    manifest["toy"].urls = [f"{base}/toy.zip"]
    cache = _put(tmp / "cache", "toy.zip.part", archive.read_bytes()[:300])  # an interrupted earlier download
    out = fetch("toy", cache=cache, mirror="", manifest=manifest, progress=False)
    assert server.range_requests == [300]
    assert (out / "a.txt").read_bytes() == FILES["a.txt"]


def test_mirror_url_download_with_bad_checksum(toy, http_dir):
    manifest, archive, tmp = toy
    root, base, _ = http_dir
    (root / "toy.zip").write_bytes(archive.read_bytes() + b"junk")
    with pytest.raises(ChecksumError):
        fetch("toy", cache=tmp / "cache", mirror=base, manifest=manifest, progress=False)
    assert (tmp / "cache" / "toy.zip.corrupt").exists()


def test_shared_mirror_folder_provides_cls_books(shared_data, tmp_path):
    out = fetch("cls-books", cache=tmp_path, mirror=shared_data, allow_network=False)
    assert sum(1 for _ in open(out / "train.review", encoding="utf-8")) == 1600
    assert (out / assets.COMPLETE_MARKER).exists()


def test_shared_mirror_folder_with_a_bad_file_is_refused(shared_data, tmp_path):
    mirror = tmp_path / "mirror" / "cls-books"
    mirror.mkdir(parents=True)
    for f in (shared_data / "cls-books").glob("*.*"):
        os.symlink(f, mirror / f.name)
    (mirror / "test.label").unlink()
    (mirror / "test.label").write_text("0\n" * 2000)
    with pytest.raises(AssetError, match="checksum mismatch for test.label"):
        fetch("cls-books", cache=tmp_path / "cache", mirror=tmp_path / "mirror", allow_network=False)


def test_what_users_read_points_into_the_project():
    """Error messages and provenance name files of the project (DATA.md, the manifest), never the maintainers'
    mirror beside the checkout, which a student does not have."""
    from frlab.paths import PACKAGE_DIR

    for f in list(PACKAGE_DIR.rglob("*.py")) + list(PACKAGE_DIR.rglob("*.json")):
        text = f.read_text(encoding="utf-8")
        assert "shared/data" not in text and "SOURCES.md" not in text, f
    manifest = load_manifest()
    assert "DATA.md" in manifest["cls-books"].how_to_get and "DATA.md" in manifest["fr-corpus"].how_to_get
    assert (PACKAGE_DIR.parent / "DATA.md").is_file()


def _commonvoice_like_zip(path: Path, extra_line: str = "") -> dict[str, bytes]:
    """A small archive laid out like the commonvoice-fr repository zip at its pinned commit; returns the files the
    build must make from it (written here by hand, from the rule DATA.md states)."""
    top = "commonvoice-fr-4b9437a5622d5d5b548438bf25968aedb621d58b/CommonVoice-Data/data/"
    sources = {
        "gutenberg/2.txt": "Deuxième livre.\r\nUn chat.\n",
        "gutenberg/10.txt": "Un chat.\n\n  Dixième livre.  \n" + extra_line,
        "debats-assemblee-nationale/a.txt": "Madame la présidente.\nMadame la présidente.\n",
        "libretheatre/piece.txt": "Acte un.\n",
        "addresses/x.txt": "1 rue de la Paix\n",  # left out by the build
    }
    with zipfile.ZipFile(path, "w") as z:
        for rel, text in sources.items():
            z.writestr(top + rel, text.encode("utf-8"))
    # byte-wise sorted paths: "10.txt" before "2.txt"
    return {
        "gutenberg_fr.txt": "Un chat.\nDixième livre.\n".encode()
        + (extra_line.strip() + "\n").encode() * bool(extra_line)
        + "Deuxième livre.\n".encode(),
        "assemblee_nationale_fr.txt": "Madame la présidente.\n".encode(),
        "libretheatre_fr.txt": b"Acte un.\n",
    }


def test_fr_corpus_is_built_from_the_commonvoice_archive_served_over_http(tmp_path, http_dir):
    root, base, _ = http_dir
    expected = _commonvoice_like_zip(root / "commonvoice.zip")
    manifest = load_manifest()
    asset = manifest["fr-corpus"]
    assert set(asset.files) == set(expected)  # the real entry's build makes the files the real manifest lists
    asset.urls = [f"{base}/commonvoice.zip"]
    asset.files = {name: hashlib.sha256(data).hexdigest() for name, data in expected.items()}
    out = fetch("fr-corpus", cache=tmp_path / "cache", mirror="", manifest=manifest, progress=False)
    for name, data in expected.items():
        assert (out / name).read_bytes() == data, name


def test_a_changed_source_fails_the_built_files_checksum(tmp_path, http_dir):
    root, base, _ = http_dir
    expected = _commonvoice_like_zip(tmp_path / "good.zip")
    _commonvoice_like_zip(root / "commonvoice.zip", extra_line="Une phrase de trop.")
    manifest = load_manifest()
    asset = manifest["fr-corpus"]
    asset.urls = [f"{base}/commonvoice.zip"]
    asset.files = {name: hashlib.sha256(data).hexdigest() for name, data in expected.items()}
    with pytest.raises(ChecksumError, match="'fr-corpus'.*checksum mismatch for gutenberg_fr.txt") as err:
        fetch("fr-corpus", cache=tmp_path / "cache", mirror="", manifest=manifest, progress=False)
    assert "DATA.md" in str(err.value)
    assert (tmp_path / "cache" / "fr-corpus.zip.corrupt").exists(), "the rejected download is kept aside"
    assert not (tmp_path / "cache" / "fr-corpus.zip").exists(), "so that the next try downloads it again"


def test_a_hub_folder_in_the_mirror_is_copied_whole_as_the_hub_would_give_it(tmp_path, monkeypatch):
    """A save_pretrained folder under FRLAB_MIRROR gives what snapshot_download would: the files the entry's
    allow_patterns keep (weights, tokenizer), not only the manifest's config.json."""
    tmp = tmp_path
    monkeypatch.setenv("FRLAB_CACHE", str(tmp / "cache"))
    repo = {
        "config.json": b'{"model_type": "bloom"}',
        "model.safetensors": b"weights",
        "tokenizer.json": b"{}",
        "tokenizer_config.json": b"{}",
        "pytorch_model.bin": b"another weight format",
        "README.md": b"# card",
    }
    folder = tmp / "mirror" / "hf" / "bigscience" / "bloom-560m"
    folder.mkdir(parents=True)
    for rel, data in repo.items():
        (folder / rel).write_bytes(data)
    folder = fetch("bloom-560m", mirror=tmp / "mirror", allow_network=False, progress=False)
    kept = {p.name for p in folder.iterdir() if not p.name.startswith(".")}
    assert kept == {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
    assert (folder / "model.safetensors").read_bytes() == b"weights"
