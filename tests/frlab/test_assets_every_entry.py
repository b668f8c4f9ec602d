"""Every entry of frlab/assets_manifest.json is obtainable from where it says (issue 13), with no FRLAB_MIRROR.

A server on 127.0.0.1 serves each asset at the URL *path* of its real source: the course's nuage share links
(``/index.php/s/<token>/download/<file>.zip``, zips with a top folder; the course-like cls.books.zip, train
1800 / valid 200 / test 2000, also with the ``__MACOSX`` folder of a Mac), the commonvoice-fr repository archive
at its pinned commit (``/common-voice/commonvoice-fr/archive/<sha>.zip``, ``CommonVoice-Data/data/...`` below a
top folder), the project's assets release (``<owner>/<repo>/releases/download/<tag>/<file>``), the repository's
own files (``<owner>/<repo>/<branch>/<shipped>/<file>`` for an entry with ``shipped``, served from the checkout's
``<shipped>/``; frlab is made to look pip-installed, so that they are downloaded, not copied from the checkout) and
a small fake Hugging Face Hub (below). The test writes a copy of the manifest whose URLs keep their paths on the local server's host, loads it
with the release and raw URLs moved there too, and fetches each entry into an empty cache: its files are there and
pass the manifest's checks (sha256 where the manifest has them, CLS-Books's split by its structure).

The list of entries is read from the manifest when the tests are collected: a new entry with no source layout here
fails ``test_every_entry_has_a_source_layout`` and its own fetch test.

Bytes that the manifest pins by sha256 and that the project does not hold (the built fr-corpus files, the lab's
CLS-Books split packed as its release file) come from the maintainers' mirror (``shared_data``, skipped without it);
the fetch itself never sees the mirror.

The fake Hub answers what ``huggingface_hub`` (``snapshot_download`` and ``hf_hub_download`` with ``local_dir``)
asks: ``GET /api/{models,datasets}/<repo>/revision/<rev>`` (the commit), ``GET /api/.../tree/<commit>`` (the files,
recursive listing), then ``HEAD``/``GET /<repo>/resolve/<commit>/<file>`` (``/datasets/<repo>/resolve/...`` for a
data set) with the ``X-Repo-Commit`` and ``ETag`` headers; anything else is a 404 and is recorded.
``huggingface_hub.constants`` reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` when it is imported, so the test patches
the constants (endpoint, URL template, offline mode, Xet off, caches in ``tmp_path``) as well as the environment.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from frlab import assets, publishing
from frlab.assets import MIRROR_ENV, ChecksumError, fetch, fetch_with_split, load_manifest, recorded_split
from labtools import standins
from tests.frlab.http_server import RangeHandler, serve
from tests.frlab.test_assets import _zip
from tests.frlab.test_assets_cls_books import _course_zip, _synthetic

REPO = Path(__file__).resolve().parents[2]
RAW_MANIFEST: dict = json.loads(assets.MANIFEST_PATH.read_text(encoding="utf-8"))
ENTRIES = sorted(name for name in RAW_MANIFEST if not name.startswith("_"))
#: where the project's release and the repository's files are, below the served folder: the paths of the real URLs
RELEASE_PATH = urlsplit(publishing.RELEASE_URL).path
RAW_PATH = urlsplit(publishing.RAW_URL).path
#: the commit the fake Hub says each repository is at
HUB_COMMIT = "5f3c1a9e0b7d4c2a8e6f1b3d5c7a9e0f2b4d6c8a"


# --------------------------------------------------------------------------- the server: static files + a fake Hub
class SourceHandler(RangeHandler):
    """Serves the folder (with Range, as tests/frlab/http_server.py), and the Hub's routes for the repositories in
    ``server.hub``: ``{(repo_type, repo_id): folder}``."""

    def do_HEAD(self):
        self._hub(head=True) or self._static_head()

    def do_GET(self):
        self._hub(head=False) or super().do_GET()

    def _static_head(self):
        self.server.requests.append("HEAD " + self.path)
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()

    def _send(self, status: int, body: bytes, head: bool, headers: dict[str, str] | None = None) -> bool:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)
        return True

    def _hub(self, head: bool) -> bool:
        """Answer a Hub route (True), or leave the request to the static server (False)."""
        path = unquote(urlsplit(self.path).path)
        for (repo_type, repo_id), folder in self.server.hub.items():
            api = f"/api/{repo_type}s/{repo_id}/"
            resolve = ("" if repo_type == "model" else f"/{repo_type}s") + f"/{repo_id}/resolve/"
            if path.startswith(api):
                self.server.requests.append(("HEAD " if head else "") + self.path)
                files = sorted(p for p in folder.rglob("*") if p.is_file())
                if path.startswith(api + "revision/"):
                    info = {
                        "id": repo_id,
                        "sha": HUB_COMMIT,
                        "siblings": [{"rfilename": _rel(p, folder)} for p in files],
                    }
                    return self._send(200, json.dumps(info).encode(), head, {"Content-Type": "application/json"})
                if path.startswith(api + "tree/"):
                    tree = [
                        {"type": "file", "oid": _git_blob_id(p), "size": p.stat().st_size, "path": _rel(p, folder)}
                        for p in files
                    ]
                    return self._send(200, json.dumps(tree).encode(), head, {"Content-Type": "application/json"})
                return self._send(404, b"{}", head)
            if path.startswith(resolve):
                self.server.requests.append(("HEAD " if head else "") + self.path)
                _, rel = path[len(resolve) :].split("/", 1)  # <revision>/<file>
                file = folder / rel
                headers = {"X-Repo-Commit": HUB_COMMIT}
                if not file.is_file():
                    return self._send(404, b"Entry not found", head, {**headers, "X-Error-Code": "EntryNotFound"})
                data = file.read_bytes()
                headers["ETag"] = f'"{_git_blob_id(file)}"'
                return self._send(200, data, head, headers)
        return False


def _rel(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def _git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# --------------------------------------------------------------------------- source layouts, one per entry
class Source:
    """What a layout builder gets: the served folder, the server, the entry, the maintainers' mirror on demand."""

    def __init__(self, root: Path, server, name: str, entry: dict, request: pytest.FixtureRequest):
        self.root, self.server, self.name, self.entry, self._request = root, server, name, entry, request

    def at_url_path(self, url: str) -> Path:
        """Where the file of ``url`` is in the served folder: the URL's path."""
        path = self.root / unquote(urlsplit(url).path).lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def mirror(self) -> Path:
        """The maintainers' mirror (bytes pinned by the manifest); skips the test without it."""
        return self._request.getfixturevalue("shared_data")


#: a builder puts the entry's source in place and returns the bytes expected of some fetched files ({} if none)
Builder = Callable[[Source], dict[str, bytes]]


def _course_share_zip(top: str, files: dict[str, bytes]) -> Builder:
    """A zip of the course's nuage share, as the course made it: ``top/<file>``."""

    def build(src: Source) -> dict[str, bytes]:
        _zip(src.at_url_path(src.entry["urls"][0]), files, top)
        return files

    return build


def _course_model_zip(src: Source) -> dict[str, bytes]:
    """The course's RoBERTa_small_fr.zip, in the layout the full rehearsal's stand-in also has (labtools.standins)."""
    files = {"model.pt": b"fairseq checkpoint", "dict.txt": b"le 10\nla 9\n", "sentencepiece.bpe.model": b"spm"}
    standins.write_course_zip(src.at_url_path(src.entry["urls"][0]), files)
    return files


def _course_cls_books(src: Source) -> dict[str, bytes]:
    """The course's cls.books.zip: train 1800 / valid 200 / test 2000, made on a Mac (top folder, __MACOSX)."""
    files = _synthetic({"train": 1800, "valid": 200, "test": 2000})
    _course_zip(src.at_url_path(src.entry["urls"][0]), files)
    return files


def _commonvoice_archive(src: Source) -> dict[str, bytes]:
    """The GitHub archive of commonvoice-fr at the pinned commit: ``commonvoice-fr-<sha>/CommonVoice-Data/data/
    <folder>/*.txt``, with other folders the build leaves out. The sentences are the mirror's built files (one
    sentence a line, no duplicates), cut into two files per folder: building them again gives the same bytes, so the
    manifest's own sha256 are checked."""
    url = src.entry["urls"][0]
    commit = re.fullmatch(r".*/archive/([0-9a-f]{40})\.zip", url).group(1)
    top = f"commonvoice-fr-{commit}/"
    expected = {}
    with zipfile.ZipFile(src.at_url_path(url), "w") as zf:
        zf.writestr(top + "README.md", "# commonvoice-fr\n")
        zf.writestr(top + "CommonVoice-Data/data/adresses/rues.txt", "1 rue de la Paix\n")
        for name, folder in src.entry["build"]["sources"].items():
            data = (src.mirror() / src.entry["mirror"] / name).read_bytes()
            lines = data.splitlines(keepends=True)
            half = len(lines) // 2
            zf.writestr(f"{top}{folder}/part-a.txt", b"".join(lines[:half]))
            zf.writestr(f"{top}{folder}/part-b.txt", b"".join(lines[half:]))
            expected[name] = data
    return expected


def _tiny_safetensors() -> bytes:
    header = json.dumps({"h.0.w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header + struct.pack("<2f", 0.5, -0.5)


def _hub_repo(repo_type: str, files: dict[str, bytes]) -> Builder:
    """A repository of the fake Hub, named by the entry's ``repo_id``."""

    def build(src: Source) -> dict[str, bytes]:
        folder = src.root.parent / "hub" / repo_type / src.entry["repo_id"]
        for rel, data in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        src.server.hub[(repo_type, src.entry["repo_id"])] = folder
        return files

    return build


BLOOM_LIKE = {
    "config.json": json.dumps({"model_type": "bloom", "n_layer": 2, "hidden_size": 8, "vocab_size": 16}).encode(),
    "tokenizer.json": json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []}}).encode(),
    "tokenizer_config.json": b'{"tokenizer_class": "BloomTokenizerFast"}',
    "special_tokens_map.json": b'{"eos_token": "</s>"}',
    "model.safetensors": _tiny_safetensors(),
    # other weight formats of the real repository: left out by the entry's allow_patterns
    "pytorch_model.bin": b"not wanted",
    "flax_model.msgpack": b"not wanted",
    "README.md": b"# BLOOM\n",
}
TUTORIEL_LIKE = {
    "ecommerce-faq-fr.json": json.dumps(
        [{"question": "Comment suivre ma commande ?", "answer": "Depuis votre espace client."}], ensure_ascii=False
    ).encode(),
    "README.md": b"# Tutoriel\n",
}

#: the source of each entry that names its own URL (entries of the release and the repository are generic below)
LAYOUTS: dict[str, Builder] = {
    "roberta-small-fr-fairseq": _course_model_zip,
    "roberta-small-fr-hf": _course_share_zip(
        "RoBERTa_small_fr_HuggingFace", {"config.json": b'{"model_type": "roberta"}', "pytorch_model.bin": b"w"}
    ),
    "cls-books": _course_cls_books,
    "fr-corpus": _commonvoice_archive,
    "bloom-560m": _hub_repo("model", BLOOM_LIKE),
    "qa-ecommerce-fr": _hub_repo("dataset", TUTORIEL_LIKE),
}


def _release_file(src: Source) -> dict[str, bytes]:
    """The project's release folder: the entry's release file, packed from the mirror's copy of its files (the
    manifest's archive_sha256 is checked by pack_asset)."""
    folder = src.root / RELEASE_PATH.lstrip("/")
    assets.pack_asset(src.name, src.mirror() / src.entry["mirror"], folder, manifest=load_manifest())
    return {rel: (src.mirror() / src.entry["mirror"] / rel).read_bytes() for rel in src.entry["files"]}


def _repository_files(src: Source) -> dict[str, bytes]:
    """The repository's own files (the checkout's ``<shipped>/``), at their raw URL path."""
    folder = REPO / src.entry["shipped"]
    expected = {}
    for rel in src.entry["files"]:
        data = (folder / rel).read_bytes()
        src.at_url_path(publishing.repository_file_url(f"{src.entry['shipped']}/{rel}")).write_bytes(data)
        expected[rel] = data
    return expected


def layout_of(name: str, entry: dict) -> Builder:
    if entry.get("shipped"):
        return _repository_files
    if entry.get("release_file"):
        return _release_file
    if name in LAYOUTS:
        return LAYOUTS[name]
    raise LookupError(f"manifest entry {name!r} has no source layout in {Path(__file__).name}: add one")


def test_every_entry_has_a_source_layout():
    assert ENTRIES, "the manifest lists no asset"
    missing = []
    for name in ENTRIES:
        try:
            layout_of(name, RAW_MANIFEST[name])
        except LookupError as exc:
            missing.append(str(exc))
    assert not missing, missing
    assert set(LAYOUTS) <= set(ENTRIES), f"layouts of entries the manifest no longer has: {set(LAYOUTS) - set(ENTRIES)}"


# --------------------------------------------------------------------------- the local copy of every source
@pytest.fixture
def sources(tmp_path, monkeypatch, request):
    """A server on 127.0.0.1 and a copy of the manifest pointing at it; no FRLAB_MIRROR, an empty cache, a
    pip-installed frlab (no checkout folder to copy shipped files from), the Hub client sent to the fake Hub.
    Yields ``put(name) -> expected bytes`` (puts the entry's source in place), the manifest, the server, the cache."""
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setenv("FRLAB_CACHE", str(tmp_path / "unused-cache"))
    monkeypatch.setattr(assets, "PACKAGE_DIR", tmp_path / "site-packages" / "frlab")
    root = tmp_path / "www"
    root.mkdir()
    with serve(root, SourceHandler) as (base, server):  # files, and a fake Hub (server.hub)
        _use_fake_hub(base, tmp_path, monkeypatch)
        copy = {}
        for name, entry in RAW_MANIFEST.items():
            if isinstance(entry, dict) and entry.get("urls"):
                entry = {**entry, "urls": [_on(base, u) for u in entry["urls"]]}
            copy[name] = entry
        path = tmp_path / "assets_manifest.json"
        path.write_text(json.dumps(copy, ensure_ascii=False, indent=1), encoding="utf-8")
        manifest = load_manifest(path, release_url=base + RELEASE_PATH, repository_raw_url=base + RAW_PATH)

        def put(name: str) -> dict[str, bytes]:
            entry = copy[name]
            return layout_of(name, entry)(Source(root, server, name, entry, request))

        yield put, manifest, server, tmp_path / "cache"


def _on(base: str, url: str) -> str:
    """``url`` on the local server: its scheme and host replaced, its path (and query) kept."""
    parts = urlsplit(url)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


def _use_fake_hub(base: str, tmp_path: Path, monkeypatch) -> None:
    """Send huggingface_hub to the fake Hub: it reads HF_ENDPOINT and HF_HUB_OFFLINE when imported, so its constants
    are patched as well as the environment; Xet off (plain HTTP downloads); its caches in ``tmp_path``."""
    from huggingface_hub import constants

    env = {"HF_ENDPOINT": base, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(tmp_path / "hf")}
    env |= {"HF_HUB_CACHE": str(tmp_path / "hf" / "hub"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", base)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", base + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    if hasattr(constants, "AGENT_HARNESSES_PATH"):
        monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "hf" / "agent_harnesses.json"))


# --------------------------------------------------------------------------- every entry, from its source
@pytest.mark.parametrize("name", ENTRIES)
def test_every_entry_is_fetched_from_its_source_without_a_mirror(name, sources):
    put, manifest, server, cache = sources
    expected = put(name)
    asset = manifest[name]

    folder, split = fetch_with_split(name, manifest=manifest, cache=cache, mirror=None, progress=False)

    assert folder == cache / name
    assert (folder / assets.COMPLETE_MARKER).is_file()
    assert assets.missing_or_bad_files(asset, folder) == []  # every file there, every known sha256 right
    for rel in asset.files:
        if rel in expected:
            assert (folder / rel).read_bytes() == expected[rel], rel
    entry = RAW_MANIFEST[name]
    if entry.get("splits"):
        assert split in entry["splits"] and recorded_split(folder) == split
    if name == "cls-books":
        assert split == "course-1800-200-2000"
        assert not any(RELEASE_PATH in r for r in server.requests), "the course zip was used, not the fallback"
    # the files came from the entry's own source
    if asset.kind.startswith("hf-"):
        api = f"/api/{'models' if asset.kind == 'hf-model' else 'datasets'}/{asset.repo_id}/"
        assert any(r.startswith(api) or asset.repo_id + "/resolve/" in r for r in server.requests), server.requests
    else:
        own = urlsplit(asset.urls[0]).path
        assert any(r.startswith(own) for r in server.requests), (own, server.requests)
    if asset.kind == "hf-model":  # what the entry's allow_patterns keep, byte for byte, and nothing else
        assert asset.extra.get("allow_patterns")
        for kept in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
            assert (folder / kept).read_bytes() == expected[kept], kept
        for other in ("pytorch_model.bin", "flax_model.msgpack", "README.md"):
            assert not (folder / other).exists(), f"{other} is not in the entry's allow_patterns"
            assert not any(r.endswith("/" + other) for r in server.requests), other


# --------------------------------------------------------------------------- a corrupted download
#: entries downloaded as the very bytes the manifest pins by sha256: the release's files, the repository's files
PINNED = [name for name in ENTRIES if RAW_MANIFEST[name].get("release_file") or RAW_MANIFEST[name].get("shipped")]


def _served_files(src_root: Path, asset: assets.Asset) -> list[Path]:
    """The files of the asset's own source in the served folder."""
    if asset.kind == "files":
        return [src_root / urlsplit(f"{asset.urls[0]}/{rel}").path.lstrip("/") for rel in asset.files]
    return [src_root / urlsplit(asset.urls[0]).path.lstrip("/")]


@pytest.mark.parametrize("name", PINNED)
def test_a_corrupted_download_names_the_asset_and_where_to_get_it(name, sources, tmp_path):
    put, manifest, server, cache = sources
    put(name)
    asset = manifest[name]
    served = max(_served_files(tmp_path / "www", asset), key=lambda p: p.stat().st_size)
    good = served.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x01  # one byte changed
    served.write_bytes(bytes(bad))

    with pytest.raises(ChecksumError) as err:
        fetch(name, manifest=manifest, cache=cache, mirror=None, progress=False)

    msg = str(err.value)
    assert msg.startswith(f"asset {name!r}") and "corrupt" in msg, msg
    # where to get it: the entry's own source and the manifest's advice, never the maintainers' mirror
    assert asset.urls[0] in msg and asset.how_to_get in msg, msg
    assert "shared" not in msg and "SOURCES.md" not in msg, msg
    project_files = ["DATA.md", "README.md", "assets_manifest.json", RAW_MANIFEST[name].get("shipped") or "DATA.md"]
    assert any(f in msg for f in project_files), msg
    # nothing half-written: no asset folder, no partial download, no extraction folder; the bad bytes set aside
    assert not (cache / name).exists()
    left = [p.relative_to(cache).as_posix() for p in cache.rglob("*")]
    assert not [p for p in left if p.endswith(".part") or Path(p).name.startswith(f".{name}-")], left
    corrupt = [p for p in cache.rglob("*.corrupt")]
    assert len(corrupt) == 1 and corrupt[0].read_bytes() == bytes(bad), left

    # the source mended, the next fetch downloads it again and succeeds
    served.write_bytes(good)
    folder = fetch(name, manifest=manifest, cache=cache, mirror=None, progress=False)
    assert assets.missing_or_bad_files(asset, folder) == []
