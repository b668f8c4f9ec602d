"""External assets: manifest, resolver, verified and resumable downloads, atomic extraction.

Every file the lab needs from outside the repository is listed in
``assets_manifest.json``.  :func:`fetch` resolves an asset, in this order:

1. the local cache (``FRLAB_CACHE``, default ``~/.cache/frlab``): an already
   verified copy, or an archive the user put there by hand;
2. the configured mirror (``FRLAB_MIRROR``): a directory (holding the asset's
   files or its archive) or a base URL;
3. the asset's original URL(s).

Downloads resume from a ``.part`` file, show a progress bar and are verified
against the manifest's sha256.  Archives are extracted into a temporary folder
and renamed into place, so an interrupted run never leaves a half-extracted
asset behind.  When nothing works, :class:`AssetError` names the asset, every
place that was tried and how to provide the files.  A corrupt download is moved
aside (``*.corrupt``), not deleted, so nothing is lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from frlab.paths import PACKAGE_DIR, cache_dir, replaced_atomically

MANIFEST_PATH = PACKAGE_DIR / "assets_manifest.json"
MIRROR_ENV = "FRLAB_MIRROR"
COMPLETE_MARKER = ".frlab-complete"
CHUNK = 1 << 20


class AssetError(RuntimeError):
    """An asset could not be provided; the message says where we looked and what to do."""


class ChecksumError(AssetError):
    pass


@dataclass
class Asset:
    name: str
    description: str
    kind: str
    urls: list[str]
    files: dict[str, str | None]
    mirror: str
    archive: str | None = None
    archive_sha256: str | None = None
    how_to_get: str = ""
    repo_id: str | None = None
    filename: str | None = None
    extra: dict = field(default_factory=dict)


def load_manifest(path: Path | str = MANIFEST_PATH) -> dict[str, Asset]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    assets = {}
    for name, entry in raw.items():
        if name.startswith("_"):
            continue
        known = {k: entry[k] for k in Asset.__dataclass_fields__ if k in entry and k not in ("name", "extra")}
        extra = {k: v for k, v in entry.items() if k not in Asset.__dataclass_fields__}
        assets[name] = Asset(name=name, extra=extra, **known)
    return assets


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- checks
def missing_or_bad_files(asset: Asset, folder: Path) -> list[str]:
    """Problems with ``folder`` as a copy of ``asset`` (empty list: it is good)."""
    problems = []
    for rel, digest in asset.files.items():
        p = folder / rel
        if not p.is_file():
            problems.append(f"missing {rel}")
        elif digest and sha256_of(p) != digest:
            problems.append(f"checksum mismatch for {rel}")
    return problems


def _set_aside_if_corrupt(path: Path, expected: str | None, aside: Path, what: str, advice: str = "") -> None:
    """Raise :class:`ChecksumError` when ``path`` does not have the sha256 ``expected``; the file is kept, as
    ``aside``, never deleted."""
    if expected and (got := sha256_of(path)) != expected:
        os.replace(path, aside)
        raise ChecksumError(
            f"{what} is corrupt (sha256 {got[:16]}…, expected {expected[:16]}…). It was moved to {aside}. {advice}"
        )


def _verify_archive(asset: Asset, archive: Path) -> None:
    _set_aside_if_corrupt(
        archive,
        asset.archive_sha256,
        archive.with_name(archive.name + ".corrupt"),
        f"asset {asset.name!r}: archive {archive}",
        f"Download it again or provide a good copy. {asset.how_to_get}",
    )


# --------------------------------------------------------------------------- extraction
def _find_root(folder: Path, asset: Asset) -> Path:
    """The folder holding the expected files: ``folder`` itself or its single sub-folder."""
    first = next(iter(asset.files))
    if (folder / first).exists():
        return folder
    hits = [p.parent for p in folder.rglob(Path(first).name) if "__MACOSX" not in p.parts]
    for hit in hits:
        rel_parent = Path(first).parent
        root = hit if rel_parent == Path(".") else hit.parents[len(rel_parent.parts) - 1]
        if all((root / rel).exists() for rel in asset.files):
            return root
    return folder


def extract_atomically(asset: Asset, archive: Path, target: Path) -> Path:
    """Extract ``archive`` to ``target`` through a temporary folder; verify the files."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{asset.name}-", dir=target.parent))
    try:
        try:
            if zipfile.is_zipfile(archive):
                with zipfile.ZipFile(archive) as zf:
                    bad = zf.testzip()
                    if bad is not None:
                        raise zipfile.BadZipFile(f"CRC error in member {bad}")
                    zf.extractall(tmp)
            elif tarfile.is_tarfile(archive):
                with tarfile.open(archive) as tf:
                    tf.extractall(tmp, filter="data")
            else:
                raise AssetError(
                    f"asset {asset.name!r}: {archive} is neither a zip nor a tar archive (corrupt or truncated?)"
                )
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            raise AssetError(
                f"asset {asset.name!r}: cannot extract {archive} ({exc}); the archive is corrupt or "
                f"truncated. Delete it and fetch again. {asset.how_to_get}"
            ) from exc
        if asset.extra.get("build"):  # the files are made from the archive's contents (frlab.asset_builds)
            from frlab import asset_builds

            try:
                root = asset_builds.build(asset.extra["build"], tmp, tmp / ".built")
            except (OSError, UnicodeDecodeError, KeyError) as exc:
                raise AssetError(
                    f"asset {asset.name!r}: cannot build it from {archive}: {exc}. {asset.how_to_get}"
                ) from exc
        else:
            root = _find_root(tmp, asset)
        problems = missing_or_bad_files(asset, root)
        if problems:
            raise ChecksumError(
                f"asset {asset.name!r}: archive {archive} does not hold the expected files: "
                f"{'; '.join(problems)}. {asset.how_to_get}"
            )
        (root / COMPLETE_MARKER).write_text(asset.name + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(root, target)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def copy_atomically(asset: Asset, source: Path, target: Path) -> Path:
    problems = missing_or_bad_files(asset, source)
    if problems:
        raise ChecksumError(f"asset {asset.name!r}: mirror copy {source} is not usable: {'; '.join(problems)}")
    with replaced_atomically(target, prefix=f".{asset.name}-") as tmp:
        for rel in asset.files:
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, dst)
        (tmp / COMPLETE_MARKER).write_text(asset.name + "\n")
    return target


# --------------------------------------------------------------------------- download
def download(
    url: str, dest: Path, *, expected_sha256: str | None = None, progress: bool = True, timeout: float = 60
) -> Path:
    """Download ``url`` to ``dest``, resuming a ``dest.part`` left by an earlier try."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "frlab"})
    if start:
        req.add_header("Range", f"bytes={start}-")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        status = getattr(resp, "status", 200)
        if start and status != 206:  # server ignored the range: start over
            start = 0
        total = resp.headers.get("Content-Length")
        total = int(total) + start if total else None
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=dest.name)
        with open(part, "ab" if start else "wb") as out:
            for block in iter(lambda: resp.read(CHUNK), b""):
                out.write(block)
                if bar:
                    bar.update(len(block))
        if bar:
            bar.close()
    _set_aside_if_corrupt(part, expected_sha256, dest.with_name(dest.name + ".corrupt"), f"the download of {url}")
    os.replace(part, dest)
    return dest


def _is_url(s: str) -> bool:
    return s.startswith(("http://", "https://", "file://"))


# --------------------------------------------------------------------------- resolver
def _extract_verified(asset: Asset, archive: Path, target: Path) -> Path:
    _verify_archive(asset, archive)
    return extract_atomically(asset, archive, target)


def _archive_if_there(asset: Asset, archive: Path, target: Path, tried: list[str], where: str) -> Path | None:
    """The asset extracted from ``archive`` when that file exists (verified), else None; notes where it looked."""
    tried.append(f"{where} {archive}")
    return _extract_verified(asset, archive, target) if archive.is_file() else None


def _download_and_extract(asset: Asset, url: str, cache: Path, target: Path, progress: bool) -> Path:
    archive = download(url, cache / asset.archive, expected_sha256=asset.archive_sha256, progress=progress)
    return extract_atomically(asset, archive, target)


def asset_dir(name: str, cache: Path | None = None) -> Path:
    return Path(cache or cache_dir()) / name


def fetch(
    name: str,
    *,
    cache: Path | str | None = None,
    mirror: str | Path | None = None,
    manifest: dict[str, Asset] | None = None,
    allow_network: bool = True,
    progress: bool = True,
) -> Path:
    """Return a local folder holding the verified files of asset ``name``.

    ``mirror`` defaults to ``$FRLAB_MIRROR``; ``cache`` to :func:`frlab.paths.cache_dir`.
    """
    manifest = manifest or load_manifest()
    if name not in manifest:
        raise AssetError(f"unknown asset {name!r}; known: {', '.join(sorted(manifest))}")
    asset = manifest[name]
    cache = Path(cache) if cache else cache_dir()
    mirror = str(mirror) if mirror is not None else os.environ.get(MIRROR_ENV)
    target = asset_dir(name, cache)
    tried: list[str] = []

    # 1. cache: verified copy, or an archive placed by hand
    if (target / COMPLETE_MARKER).exists() and not missing_or_bad_files(asset, target):
        return target
    tried.append(f"cache folder {target}")
    if asset.kind == "archive" and asset.archive:
        if found := _archive_if_there(asset, cache / asset.archive, target, tried, "archive in cache"):
            return found

    # 2. mirror
    if mirror:
        if _is_url(mirror):
            if asset.kind == "archive" and asset.archive and allow_network:
                url = f"{mirror.rstrip('/')}/{asset.archive}"
                tried.append(f"mirror URL {url}")
                try:
                    return _download_and_extract(asset, url, cache, target, progress)
                except (urllib.error.URLError, OSError) as exc:
                    tried[-1] += f" ({exc})"
        else:
            base = Path(mirror).expanduser()
            folder = base / asset.mirror
            tried.append(f"mirror folder {folder}")
            if folder.is_dir():
                if not missing_or_bad_files(asset, folder):
                    return copy_atomically(asset, folder, target)
                tried[-1] += f" ({'; '.join(missing_or_bad_files(asset, folder))})"
            if asset.archive and (
                found := _archive_if_there(asset, base / asset.archive, target, tried, "mirror archive")
            ):
                return found
    else:
        tried.append(f"no mirror (set {MIRROR_ENV})")

    # 3. original source
    if allow_network and asset.kind == "archive" and asset.urls:
        for url in asset.urls:
            tried.append(f"original URL {url}")
            try:
                return _download_and_extract(asset, url, cache, target, progress)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                tried[-1] += f" ({type(exc).__name__}: {exc})"
    elif allow_network and asset.kind.startswith("hf-"):
        tried.append(f"Hugging Face Hub {asset.repo_id}")
        try:
            return _fetch_from_hub(asset, target)
        except Exception as exc:  # hub errors come in many types
            tried[-1] += f" ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"

    raise AssetError(
        f"asset {name!r} ({asset.description}) is not available.\n"
        f"Looked in:\n  - " + "\n  - ".join(tried) + "\n"
        f"To provide it: put the files {sorted(asset.files)} in {target}"
        + (f" or the archive {asset.archive} in {cache}" if asset.archive else "")
        + f", or set {MIRROR_ENV} to a folder holding '{asset.mirror}/'.\n"
        + (f"Original source: {', '.join(asset.urls)}\n" if asset.urls else "")
        + asset.how_to_get
    )


def _fetch_from_hub(asset: Asset, target: Path) -> Path:
    import huggingface_hub as hub

    if asset.kind == "hf-model":
        # weights in safetensors, config and tokenizer only: not the other weight formats of the repository
        patterns = asset.extra.get("allow_patterns")
        path = hub.snapshot_download(asset.repo_id, local_dir=target, allow_patterns=patterns)
    else:
        path = Path(hub.hf_hub_download(asset.repo_id, asset.filename, repo_type="dataset", local_dir=target)).parent
    path = Path(path)
    problems = missing_or_bad_files(asset, path)
    if problems:
        raise ChecksumError(f"asset {asset.name!r} from the Hub: {'; '.join(problems)}")
    (path / COMPLETE_MARKER).write_text(asset.name + "\n")
    return path
