"""External assets: manifest, resolver, verified and resumable downloads, atomic extraction.

Every file the lab needs from outside the repository is listed in
``assets_manifest.json``.  :func:`fetch` resolves an asset, in this order:

1. the local cache (``FRLAB_CACHE``, default ``~/.cache/frlab``): an already
   verified copy, or an archive the user put there by hand;
2. the configured mirror (``FRLAB_MIRROR``): a directory (holding the asset's
   files or its archive) or a base URL;
3. for an asset the repository ships, its folder in this checkout;
4. the asset's original URL(s).

Downloads resume from a ``.part`` file, show a progress bar and are verified
against the manifest's sha256.  Archives are extracted into a temporary folder
and renamed into place, so an interrupted run never leaves a half-extracted
asset behind.  When nothing works, :class:`AssetError` names the asset, every
place that was tried and how to provide the files.  A corrupt download is moved
aside (``*.corrupt``), not deleted, so nothing is lost.

Two kinds of entries need more than a list of sha256:

* **Assets the project publishes itself** (``release_file``): their URL is the
  file's name resolved against the project's assets release,
  :data:`frlab.publishing.RELEASE_URL` (the one place it is set); their sha256
  are known.
* **Assets the repository ships** (``shipped``, kind ``files``: the project's CPU base model): a folder of the
  repository, used from the checkout when there is one (before the original URL), else downloaded file by file from
  the repository (:data:`frlab.publishing.RAW_URL`), each file checked against its sha256.
* **Assets accepted by their structure** (``check`` and ``splits``, e.g.
  ``cls-books``): a folder is good when its files have the right structure and
  it holds one of the known splits; :func:`split_of` says which, and the split
  is recorded in the folder's completion marker.  An entry may name
  ``alternatives``: assets holding acceptable content, tried when the entry's own
  sources all fail (``cls-books`` falls back on the lab's split published by the
  project).
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
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from frlab.paths import PACKAGE_DIR, cache_dir, replaced_atomically
from frlab.publishing import RAW_URL, RELEASE_URL, release_asset_url, repository_file_url

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


def load_manifest(
    path: Path | str = MANIFEST_PATH, *, release_url: str = RELEASE_URL, repository_raw_url: str = RAW_URL
) -> dict[str, Asset]:
    """The manifest's assets by name.

    An entry with a ``release_file`` is published by the project: its first URL is that file in the release
    ``release_url`` (default :data:`frlab.publishing.RELEASE_URL`), its archive is that file unless the entry
    names another, and it must give the archive's sha256. An entry with ``shipped`` (kind ``files``) is a folder of
    the project's repository: its URL is that folder in the repository (``repository_raw_url``, default
    :data:`frlab.publishing.RAW_URL`), each file downloaded on its own and checked against its sha256. A split of a ``splits`` section given as
    ``"files_of": "<asset>"`` is checked against the sha256 of that asset's files.
    """
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    assets = {}
    for name, entry in raw.items():
        if name.startswith("_"):
            continue
        entry = dict(entry)
        if release_file := entry.get("release_file"):
            if not entry.get("archive_sha256"):
                raise ValueError(f"manifest {path}: {name!r} is published by the project but has no archive_sha256")
            entry["urls"] = [release_asset_url(release_file, release_url), *entry.get("urls", [])]
            entry.setdefault("archive", release_file)
        if shipped := entry.get("shipped"):
            if entry.get("kind") != "files" or not all(entry.get("files", {}).values()):
                raise ValueError(f"manifest {path}: {name!r} is shipped in the repository: kind 'files', every sha256")
            entry["urls"] = [repository_file_url(shipped, repository_raw_url), *entry.get("urls", [])]
        known = {k: entry[k] for k in Asset.__dataclass_fields__ if k in entry and k not in ("name", "extra")}
        extra = {k: v for k, v in entry.items() if k not in Asset.__dataclass_fields__}
        assets[name] = Asset(name=name, extra=extra, **known)
    for asset in assets.values():
        for split, spec in (asset.extra.get("splits") or {}).items():
            if ref := spec.get("files_of"):
                if ref not in assets:
                    raise ValueError(f"manifest {path}: split {split!r} of {asset.name!r} names no asset {ref!r}")
                spec["files"] = dict(assets[ref].files)
    return assets


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- checks
def _checked(asset: Asset, folder: Path) -> tuple[str | None, list[str]]:
    """``(split, problems)`` of ``folder`` as a copy of ``asset``: ``split`` is the split it holds (for an asset
    with ``splits``, or the one an entry states with ``split``), None otherwise; an empty list of problems means
    the folder is good."""
    problems = []
    for rel, digest in asset.files.items():
        p = folder / rel
        if not p.is_file():
            problems.append(f"missing {rel}")
        elif digest and sha256_of(p) != digest:
            problems.append(f"checksum mismatch for {rel}")
    split = asset.extra.get("split")
    if not problems and asset.extra.get("check"):
        from frlab import asset_builds

        split, problems = asset_builds.identify_split(folder, asset.extra["check"], asset.extra.get("splits") or {})
    return split, problems


def missing_or_bad_files(asset: Asset, folder: Path) -> list[str]:
    """Problems with ``folder`` as a copy of ``asset`` (empty list: it is good)."""
    return _checked(asset, folder)[1]


def split_of(folder: Path | str, asset: str = "cls-books", manifest: dict[str, Asset] | None = None) -> str:
    """Which split of ``asset`` the folder holds, read from its files (e.g. ``'course-1800-200-2000'`` or
    ``'lab-1600-400-2000'`` for CLS-Books: DATA.md); :class:`AssetError` when it holds none."""
    manifest = manifest or load_manifest()
    split, problems = _checked(manifest[asset], Path(folder))
    if problems or split is None:
        raise AssetError(
            f"{folder} holds no known split of asset {asset!r}: {'; '.join(problems) or 'the asset has no splits'}"
        )
    return split


def recorded_split(folder: Path | str) -> str | None:
    """The split that :func:`fetch` recorded in the folder's completion marker (None when it recorded none)."""
    marker = Path(folder) / COMPLETE_MARKER
    if marker.is_file():
        for line in marker.read_text(encoding="utf-8").splitlines():
            if line.startswith("split: "):
                return line.removeprefix("split: ").strip()
    return None


def _mark_complete(asset: Asset, folder: Path, split: str | None, source: str | None = None) -> None:
    """Write the completion marker: the asset's name, and the split the folder holds and where it came from."""
    lines = [asset.name] + ([f"split: {split}"] if split else []) + ([f"source: {source}"] if source else [])
    (folder / COMPLETE_MARKER).write_text("\n".join(lines) + "\n", encoding="utf-8")


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


def extract_atomically(asset: Asset, archive: Path, target: Path, source: str | None = None) -> Path:
    """Extract ``archive`` to ``target`` through a temporary folder; verify the files. ``source`` (where the
    archive came from) is recorded in the completion marker."""
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
        split, problems = _checked(asset, root)
        if problems:
            raise ChecksumError(
                f"asset {asset.name!r}: archive {archive} does not hold the expected files: "
                f"{'; '.join(problems)}. {asset.how_to_get}"
            )
        _mark_complete(asset, root, split, source)
        if target.exists():
            shutil.rmtree(target)
        os.replace(root, target)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def files_to_copy(asset: Asset, source: Path) -> list[str]:
    """The files of a local copy of ``asset`` to put in the cache: the manifest's ``files``, and for an entry with
    ``allow_patterns`` (a Hub model: weights, tokenizer) every file of ``source`` those patterns keep, as
    ``snapshot_download`` would fetch them."""
    import fnmatch

    rels = list(asset.files)
    for pattern in asset.extra.get("allow_patterns") or []:
        for p in sorted(Path(source).rglob("*")):
            rel = p.relative_to(source).as_posix()
            if p.is_file() and fnmatch.fnmatch(rel, pattern) and rel not in rels and not rel.startswith("."):
                rels.append(rel)
    return rels


def copy_atomically(asset: Asset, source: Path, target: Path, what: str | None = None) -> Path:
    split, problems = _checked(asset, source)
    if problems:
        raise ChecksumError(
            f"asset {asset.name!r}: {what or 'mirror copy'} {source} is not usable: {'; '.join(problems)}"
        )
    with replaced_atomically(target, prefix=f".{asset.name}-") as tmp:
        for rel in files_to_copy(asset, source):
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, dst)
        _mark_complete(asset, tmp, split, f"{what or 'mirror copy'} {source}")
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
    return extract_atomically(asset, archive, target, f"archive {archive}")


def _archive_if_there(asset: Asset, archive: Path, target: Path, tried: list[str], where: str) -> Path | None:
    """The asset extracted from ``archive`` when that file exists (verified), else None; notes where it looked."""
    tried.append(f"{where} {archive}")
    return _extract_verified(asset, archive, target) if archive.is_file() else None


def _download_and_extract(asset: Asset, url: str, cache: Path, target: Path, progress: bool) -> Path:
    """Download, verify and extract; a downloaded archive that cannot be extracted or does not hold the expected
    files is moved aside (``*.corrupt``), so that the next try downloads it again instead of finding it in the
    cache."""
    archive = download(url, cache / asset.archive, expected_sha256=asset.archive_sha256, progress=progress)
    try:
        return extract_atomically(asset, archive, target, f"download {url}")
    except AssetError as exc:
        aside = archive.with_name(archive.name + ".corrupt")
        os.replace(archive, aside)
        raise type(exc)(f"{exc} (the download was moved to {aside})") from exc


def _download_files(asset: Asset, base_url: str, cache: Path, target: Path, progress: bool) -> Path:
    """Download each file of a ``files`` asset from ``base_url/<file>``, each checked against its sha256 (a corrupt
    one is moved aside), then put the folder in place atomically."""
    staging = cache / f".{asset.name}.download"
    for rel in asset.files:
        dest = staging / rel
        if not (dest.is_file() and sha256_of(dest) == asset.files[rel]):
            download(f"{base_url.rstrip('/')}/{rel}", dest, expected_sha256=asset.files[rel], progress=progress)
    found = copy_atomically(asset, staging, target, f"download {base_url}")
    shutil.rmtree(staging, ignore_errors=True)
    return found


def asset_dir(name: str, cache: Path | None = None) -> Path:
    return Path(cache or cache_dir()) / name


def _note(tried: list[str], exc: Exception, errors: list[Exception], asset: Asset) -> None:
    """Add why the last place tried failed (first line of the error, without the asset's ``how_to_get``, which
    the final message gives once)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    if asset.how_to_get:
        text = text.replace(" " + asset.how_to_get, "").replace(asset.how_to_get, "")
    tried[-1] += f" ({type(exc).__name__}: {text[:1000]})"
    errors.append(exc)


def _resolve(
    asset: Asset, cache: Path, mirror: str | None, allow_network: bool, progress: bool, tried: list[str], errors: list
) -> Path | None:
    """The asset's folder from its own sources (cache, mirror, original URLs), or None; every place looked at is
    appended to ``tried`` (with why it failed) and every failure to ``errors``."""
    target = asset_dir(asset.name, cache)

    # 1. cache: verified copy, or an archive placed by hand
    if (target / COMPLETE_MARKER).exists() and not missing_or_bad_files(asset, target):
        return target
    tried.append(f"cache folder {target}")
    if asset.kind == "archive" and asset.archive:
        try:
            if found := _archive_if_there(asset, cache / asset.archive, target, tried, "archive in cache"):
                return found
        except AssetError as exc:
            _note(tried, exc, errors, asset)

    # 2. mirror
    if mirror:
        if _is_url(mirror):
            if asset.kind == "archive" and asset.archive and allow_network:
                url = f"{mirror.rstrip('/')}/{asset.archive}"
                tried.append(f"mirror URL {url}")
                try:
                    return _download_and_extract(asset, url, cache, target, progress)
                except (urllib.error.URLError, OSError, ValueError, AssetError) as exc:
                    _note(tried, exc, errors, asset)
        else:
            base = Path(mirror).expanduser()
            folder = base / asset.mirror
            tried.append(f"mirror folder {folder}")
            if folder.is_dir():
                if not (problems := missing_or_bad_files(asset, folder)):
                    return copy_atomically(asset, folder, target)
                tried[-1] += f" ({'; '.join(problems)})"
                errors.append(ChecksumError("; ".join(problems)))
            if asset.archive:
                try:
                    if found := _archive_if_there(asset, base / asset.archive, target, tried, "mirror archive"):
                        return found
                except AssetError as exc:
                    _note(tried, exc, errors, asset)
    else:
        tried.append(f"no mirror (set {MIRROR_ENV})")

    # 3. shipped with the project: its folder in this checkout (a pip-installed frlab has none: step 4)
    if shipped := asset.extra.get("shipped"):
        folder = PACKAGE_DIR.parent / shipped
        tried.append(f"the project's folder {shipped}")
        if folder.is_dir():
            try:
                return copy_atomically(asset, folder, target, f"the project's folder {shipped}")
            except AssetError as exc:
                _note(tried, exc, errors, asset)

    # 4. original source
    if allow_network and asset.kind in ("files", "archive") and asset.urls:
        # a "files" URL is a folder whose files are downloaded one by one; an "archive" URL is the archive
        get = _download_files if asset.kind == "files" else _download_and_extract
        for url in asset.urls:
            tried.append(f"original URL {url}" + ("/" if asset.kind == "files" else ""))
            try:
                return get(asset, url, cache, target, progress)
            except (urllib.error.URLError, OSError, ValueError, AssetError) as exc:
                _note(tried, exc, errors, asset)
    elif allow_network and asset.kind.startswith("hf-"):
        tried.append(f"Hugging Face Hub {asset.repo_id}")
        try:
            return _fetch_from_hub(asset, target)
        except Exception as exc:  # hub errors come in many types
            _note(tried, exc, errors, asset)
    return None


def _remedy(asset: Asset, cache: Path) -> str:
    target = asset_dir(asset.name, cache)
    return (
        f"put the files {sorted(asset.files)} in {target}"
        + (f" or the archive {asset.archive} in {cache}" if asset.archive else "")
        + f", or set {MIRROR_ENV} to a folder holding '{asset.mirror}/'"
    )


def fetch_with_split(
    name: str,
    *,
    cache: Path | str | None = None,
    mirror: str | Path | None = None,
    manifest: dict[str, Asset] | None = None,
    allow_network: bool = True,
    progress: bool = True,
) -> tuple[Path, str | None]:
    """Like :func:`fetch`, and also which split the folder holds (None for an asset without splits): results on
    CLS-Books depend on it (DATA.md)."""
    manifest = manifest or load_manifest()
    if name not in manifest:
        raise AssetError(f"unknown asset {name!r}; known: {', '.join(sorted(manifest))}")
    asset = manifest[name]
    cache = Path(cache) if cache else cache_dir()
    mirror = str(mirror) if mirror is not None else os.environ.get(MIRROR_ENV)
    target = asset_dir(name, cache)
    tried: list[str] = []
    errors: list[Exception] = []

    found = _resolve(asset, cache, mirror, allow_network, progress, tried, errors)
    own_last, used = tried[-1] if tried else "", None
    for alt_name in asset.extra.get("alternatives", []) if found is None else []:
        alt = manifest[alt_name]
        n = len(tried)
        if alt_dir := _resolve(alt, cache, mirror, allow_network, progress, tried, errors):
            # a copy under this asset's own name, so that the next call finds it in the cache
            found, used = copy_atomically(asset, alt_dir, target, f"asset {alt_name!r} at"), alt_name
            break
        tried[n:] = [f"[{alt_name}] {t}" for t in tried[n:]]
    if found is not None:
        split = _checked(asset, found)[0]
        if used:
            warnings.warn(
                f"asset {name!r}: none of its own sources worked (last: {own_last}); using the asset {used!r}, "
                f"which holds the split {split!r}. Results depend on the split (DATA.md).",
                stacklevel=2,
            )
        return found, split

    alts = [manifest[a] for a in asset.extra.get("alternatives", [])]
    sources = [u for a in [asset, *alts] for u in a.urls]
    error = ChecksumError if any(isinstance(e, ChecksumError) for e in errors) else AssetError
    raise error(
        f"asset {name!r} ({asset.description}) is not available.\n"
        f"Looked in:\n  - " + "\n  - ".join(tried) + "\n"
        f"To provide it: {_remedy(asset, cache)}"
        + "".join(f";\n  or, for {a.name!r} ({a.description.split('.')[0]}): {_remedy(a, cache)}" for a in alts)
        + ".\n"
        + (f"Original source: {', '.join(sources)}\n" if sources else "")
        + asset.how_to_get
    )


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

    ``mirror`` defaults to ``$FRLAB_MIRROR``; ``cache`` to :func:`frlab.paths.cache_dir`. For an asset with
    splits (CLS-Books), :func:`split_of` (or :func:`fetch_with_split`) says which split the folder holds.
    """
    return fetch_with_split(
        name, cache=cache, mirror=mirror, manifest=manifest, allow_network=allow_network, progress=progress
    )[0]


def _fetch_from_hub(asset: Asset, target: Path) -> Path:
    import huggingface_hub as hub

    if asset.kind == "hf-model":
        # weights in safetensors, config and tokenizer only: not the other weight formats of the repository
        patterns = asset.extra.get("allow_patterns")
        path = hub.snapshot_download(asset.repo_id, local_dir=target, allow_patterns=patterns)
    else:
        path = Path(hub.hf_hub_download(asset.repo_id, asset.filename, repo_type="dataset", local_dir=target)).parent
    path = Path(path)
    split, problems = _checked(asset, path)
    if problems:
        raise ChecksumError(f"asset {asset.name!r} from the Hub: {'; '.join(problems)}")
    _mark_complete(asset, path, split, f"Hugging Face Hub {asset.repo_id}")
    return path


# --------------------------------------------------------------------------- publishing the project's assets
def pack_asset(name: str, folder: Path | str, out_dir: Path | str, manifest: dict[str, Asset] | None = None) -> Path:
    """Pack the files of the project-published asset ``name`` from ``folder`` into ``out_dir/<release_file>``
    (:func:`frlab.asset_builds.pack_release`: the same files always give the same bytes), after checking them
    against the manifest; refuses when the zip's sha256 is not the manifest's ``archive_sha256``."""
    from frlab import asset_builds

    asset = (manifest or load_manifest())[name]
    if not asset.extra.get("release_file"):
        raise ValueError(f"asset {name!r} is not published by the project (no release_file in the manifest)")
    problems = missing_or_bad_files(asset, Path(folder))
    if problems:
        raise ValueError(f"{folder} is not a good copy of {name!r}: {'; '.join(problems)}")
    out = asset_builds.pack_release(folder, list(asset.files), Path(out_dir) / asset.extra["release_file"])
    if asset.archive_sha256 and (got := sha256_of(out)) != asset.archive_sha256:
        raise ValueError(f"{out}: sha256 {got} is not the manifest's archive_sha256 {asset.archive_sha256}")
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m frlab.assets", description="The lab's assets (DATA.md).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("fetch", help="fetch an asset; print its folder (and its split, for CLS-Books)")
    p.add_argument("asset")
    p = sub.add_parser("pack", help=f"write the release file of an asset the project publishes (for {RELEASE_URL})")
    p.add_argument("asset")
    p.add_argument("folder", help="a folder holding the asset's files")
    p.add_argument("out_dir")
    args = ap.parse_args(argv)
    if args.cmd == "fetch":
        folder, split = fetch_with_split(args.asset)
        print(folder if split is None else f"{folder}  (split {split})")
    else:
        out = pack_asset(args.asset, args.folder, args.out_dir)
        print(f"{out}  sha256 {sha256_of(out)}: upload it to {RELEASE_URL}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
