"""CLS-Books has two splits (DATA.md): the course's zip (train 1800 / valid 200 / test 2000), accepted by its
structure, and the lab's split (1600 / 400 / 2000), which the project publishes in its assets release and which is
checked by sha256. Every download goes to an HTTP server on 127.0.0.1; no test sets FRLAB_MIRROR unless it says so.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

from frlab import assets, publishing
from frlab.assets import (
    MIRROR_ENV,
    AssetError,
    ChecksumError,
    fetch,
    fetch_with_split,
    load_manifest,
    recorded_split,
    split_of,
)
from tests.frlab.http_server import serve

COURSE = "course-1800-200-2000"
LAB = "lab-1600-400-2000"
#: where the release's files are under the served folder: the path of the real RELEASE_URL
RELEASE_PATH = urlparse(publishing.RELEASE_URL).path


def _synthetic(sizes: dict[str, int]) -> dict[str, bytes]:
    """Files of a labelled split of the given sizes: made-up French reviews, labels alternating 0 / 1."""
    files = {}
    for part, n in sizes.items():
        reviews = [f"Avis {part} numéro {i} : un livre {'remarquable' if i % 2 else 'décevant'}." for i in range(n)]
        files[f"{part}.review"] = ("\n".join(reviews) + "\n").encode()
        files[f"{part}.label"] = ("\n".join(str(i % 2) for i in range(n)) + "\n").encode()
    return files


def _course_zip(path: Path, files: dict[str, bytes]) -> Path:
    """A zip laid out as a course zip made on a Mac: a top folder and a __MACOSX folder of resource forks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel, data in files.items():
            zf.writestr(f"cls.books/{rel}", data)
            zf.writestr(f"__MACOSX/cls.books/._{rel}", b"\x00\x05\x16\x07")
    return path


@pytest.fixture
def www(tmp_path, monkeypatch):
    """A web server on 127.0.0.1 serving ``root``; the cache in ``tmp_path``; FRLAB_MIRROR unset. Yields
    ``(root, base URL, server, manifest)``: the real manifest with the course's URL and the release URL moved to
    the server (nothing served there until a test puts files in ``root``)."""
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setenv("FRLAB_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "www"
    root.mkdir()
    with serve(root) as (base, server):
        manifest = load_manifest(release_url=base + RELEASE_PATH)
        manifest["cls-books"].urls = [f"{base}/course/cls.books.zip"]
        yield root, base, server, manifest


# --------------------------------------------------------------------------- (a) the course's zip
def test_the_course_zip_is_accepted_by_its_structure_and_recorded_as_the_course_split(www, tmp_path):
    root, _, server, manifest = www
    files = _synthetic({"train": 1800, "valid": 200, "test": 2000})
    _course_zip(root / "course" / "cls.books.zip", files)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback, no warning
        out, split = fetch_with_split("cls-books", manifest=manifest, progress=False)
    assert split == COURSE and recorded_split(out) == COURSE and split_of(out, manifest=manifest) == COURSE
    assert out == tmp_path / "cache" / "cls-books"  # FRLAB_CACHE
    for rel, data in files.items():
        assert (out / rel).read_bytes() == data, rel
    assert not any(RELEASE_PATH in r for r in server.requests), "the release is not needed when the course zip works"
    # the old call still returns the folder, now from the cache (no request)
    n = len(server.requests)
    assert fetch("cls-books", manifest=manifest, progress=False) == out
    assert len(server.requests) == n


def test_the_mirror_files_re_split_like_the_course_are_the_course_split(shared_data, www):
    """The real reviews, moved to the course's sizes (200 of the 400 validation reviews into train)."""
    root, _, _, manifest = www
    src = shared_data / "cls-books"
    files = {}
    for kind in ("review", "label"):
        train = (src / f"train.{kind}").read_bytes().splitlines(keepends=True)
        valid = (src / f"valid.{kind}").read_bytes().splitlines(keepends=True)
        files[f"train.{kind}"] = b"".join(train + valid[:200])
        files[f"valid.{kind}"] = b"".join(valid[200:])
        files[f"test.{kind}"] = (src / f"test.{kind}").read_bytes()
    _course_zip(root / "course" / "cls.books.zip", files)
    out, split = fetch_with_split("cls-books", manifest=manifest, progress=False)
    assert split == COURSE
    assert (out / "train.label").read_bytes() == files["train.label"]


# --------------------------------------------------------------------------- (b) a broken course zip
def _broken(kind: str) -> tuple[dict[str, bytes], str]:
    files = _synthetic({"train": 1800, "valid": 200, "test": 2000})
    if kind == "label 2":
        lines = files["train.label"].decode().splitlines()
        lines[41] = "2"
        files["train.label"] = ("\n".join(lines) + "\n").encode()
        return files, "train.label, line 42: label '2' is not one of 0, 1"
    if kind == "line counts":
        files["valid.review"] += b"Une critique de trop.\n"
        return files, "valid.review has 201 lines but valid.label has 200"
    if kind == "missing file":
        del files["test.label"]
        return files, "missing test.label"
    if kind == "empty part":
        files["valid.review"] = files["valid.label"] = b""
        return files, "valid is empty"
    if kind == "unknown sizes":
        return _synthetic({"train": 1700, "valid": 300, "test": 2000}), "are those of no known split"
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["label 2", "line counts", "missing file", "empty part", "unknown sizes"])
def test_a_broken_course_zip_is_refused_with_a_clear_error(www, kind, tmp_path):
    root, _, _, manifest = www
    files, problem = _broken(kind)
    _course_zip(root / "course" / "cls.books.zip", files)
    with pytest.raises(ChecksumError) as err:  # the release is not served: its fallback fails too
        fetch("cls-books", manifest=manifest, progress=False)
    msg = str(err.value)
    assert msg.startswith("asset 'cls-books'") and problem in msg, msg
    # where to get it: files of the project, never the maintainers' mirror beside the checkout
    assert "DATA.md" in msg and "frlab/assets_manifest.json" in msg and "cls-books-lab-split" in msg
    assert "shared" not in msg
    cache = tmp_path / "cache"
    assert (cache / "cls.books.zip.corrupt").exists(), "the refused download is kept aside"
    assert not (cache / "cls-books").exists(), "nothing half-extracted"


def test_a_folder_of_the_lab_sizes_must_hold_the_published_files(tmp_path):
    """Sizes 1600 / 400 / 2000 are the lab's split, whose files are known: other files of those sizes are refused."""
    folder = tmp_path / "cls"
    folder.mkdir()
    for rel, data in _synthetic({"train": 1600, "valid": 400, "test": 2000}).items():
        (folder / rel).write_bytes(data)
    with pytest.raises(AssetError, match="checksum mismatch for train.review.*split lab-1600-400-2000"):
        split_of(folder)


# --------------------------------------------------------------------------- (c) the lab's split, from the release
@pytest.fixture
def released(shared_data, www):
    """The release file made from the mirror's lab split, put where the release URL points."""
    root, base, server, manifest = www
    out = assets.pack_asset("cls-books-lab-split", shared_data / "cls-books", root / RELEASE_PATH.lstrip("/"))
    return out, www


def test_the_release_file_is_reproducible_and_its_url_comes_from_publishing(released, shared_data, tmp_path, capsys):
    out, (_, base, _, manifest) = released
    assert assets.main(["pack", "cls-books-lab-split", str(shared_data / "cls-books"), str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / out.name).read_bytes() == out.read_bytes()
    assert publishing.RELEASE_URL in capsys.readouterr().out
    asset = manifest["cls-books-lab-split"]
    assert asset.urls == [base + RELEASE_PATH + "/" + out.name]
    assert load_manifest()["cls-books-lab-split"].urls == [publishing.release_asset_url(out.name)]
    assert hashlib.sha256(out.read_bytes()).hexdigest() == asset.archive_sha256  # pack_asset checks it too


def test_the_lab_split_from_the_release_is_verified(released):
    out, (_, _, server, manifest) = released
    got, split = fetch_with_split("cls-books-lab-split", manifest=manifest, progress=False)
    assert split == LAB and recorded_split(got) == LAB
    assert server.requests == [RELEASE_PATH + "/" + out.name]
    with zipfile.ZipFile(out) as zf:
        for rel in manifest["cls-books-lab-split"].files:
            assert (got / rel).read_bytes() == zf.read(rel)


def test_a_corrupted_byte_in_the_release_file_is_a_checksum_error(released):
    out, (_, _, _, manifest) = released
    data = bytearray(out.read_bytes())
    data[len(data) // 3] ^= 0x01
    out.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as err:
        fetch("cls-books-lab-split", manifest=manifest, progress=False)
    msg = str(err.value)
    assert "asset 'cls-books-lab-split'" in msg and "corrupt" in msg and "DATA.md" in msg, msg
    assert "shared" not in msg


def test_without_the_course_zip_cls_books_is_the_lab_split_from_the_release(released):
    _, (_, _, server, manifest) = released
    with pytest.warns(UserWarning, match="'cls-books-lab-split'.*lab-1600-400-2000.*DATA.md"):
        out, split = fetch_with_split("cls-books", manifest=manifest, progress=False)
    assert out.name == "cls-books" and split == LAB and recorded_split(out) == LAB
    n = len(server.requests)
    assert fetch_with_split("cls-books", manifest=manifest, allow_network=False) == (out, LAB)  # from the cache
    assert len(server.requests) == n


# --------------------------------------------------------------------------- the mirror path is unchanged
def test_the_mirror_gives_the_lab_split(shared_data, tmp_path):
    out, split = fetch_with_split("cls-books", cache=tmp_path, mirror=shared_data, allow_network=False)
    assert split == LAB and split_of(out) == LAB and split_of(shared_data / "cls-books") == LAB
    out, split = fetch_with_split("cls-books-lab-split", cache=tmp_path, mirror=shared_data, allow_network=False)
    assert split == LAB


# --------------------------------------------------------------------------- release entries of a manifest
def test_a_release_entry_is_resolved_against_the_release_url(tmp_path):
    (tmp_path / "rel").mkdir()
    archive = _course_zip(tmp_path / "rel" / "toy.zip", {"a.txt": b"salut\n"})
    entry = {
        "description": "a toy asset of the project",
        "kind": "archive",
        "release_file": "toy.zip",
        "archive_sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
        "mirror": "toy",
        "files": {"a.txt": hashlib.sha256(b"salut\n").hexdigest()},
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"toy": entry}))
    with serve(tmp_path / "rel") as (base, _):
        manifest = load_manifest(path, release_url=base + "/")
        assert manifest["toy"].urls == [base + "/toy.zip"] and manifest["toy"].archive == "toy.zip"
        out = fetch("toy", cache=tmp_path / "cache", mirror="", manifest=manifest, progress=False)
    assert (out / "a.txt").read_bytes() == b"salut\n"
    path.write_text(json.dumps({"toy": {**entry, "archive_sha256": None}}))
    with pytest.raises(ValueError, match="published by the project but has no archive_sha256"):
        load_manifest(path)
    with pytest.raises(ValueError, match="plain file name"):
        publishing.release_asset_url("../toy.zip")


def test_published_entries_give_no_url_of_their_own():
    """RELEASE_URL is set in frlab/publishing.py only: the manifest names the release's files, not their URLs."""
    raw = json.loads((Path(publishing.__file__).parent / "assets_manifest.json").read_text(encoding="utf-8"))
    published = [name for name, e in raw.items() if isinstance(e, dict) and e.get("release_file")]
    assert "cls-books-lab-split" in published
    for name in published:
        assert "urls" not in raw[name] and "/" not in raw[name]["release_file"], name
    assert "releases/download" not in json.dumps(raw)
