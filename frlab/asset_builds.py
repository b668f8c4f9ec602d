"""Build steps, content checks and release packing of the lab's assets.

* **Build steps.** An entry of ``assets_manifest.json`` with a ``build`` section is downloaded (or found) as its
  source archive, then built; the built files are checked against the manifest's sha256 like any other.
* **Content checks.** An entry with a ``check`` section is accepted by the structure of its files, not (only) by
  their sha256: CLS-Books comes as two different splits of the same reviews (DATA.md), and the course's zip has no
  published checksum. Its ``splits`` section names each known split; :func:`identify_split` says which one a folder
  holds, and a split whose files the project publishes is also checked against their sha256.
* **Release packing.** :func:`pack_release` writes the deterministic zip that the project uploads to its assets
  release (``frlab.publishing.RELEASE_URL``): ``python -m frlab.assets pack <asset> <folder> <out-dir>``.

DATA.md describes each build and each split.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path


def sentences_from_folders(extracted: Path, out: Path, sources: dict[str, str]) -> None:
    """One sentence per line, per output file: every file under each source folder (found anywhere in the
    extracted archive, e.g. below its ``<repo>-<commit>/`` top folder), in byte-wise sorted path order, decoded as
    UTF-8, line endings normalised, lines stripped, empty lines and exact duplicates (first kept) dropped."""
    for name, folder in sources.items():
        hits = sorted(p for p in extracted.rglob(Path(folder).name) if p.is_dir() and p.as_posix().endswith(folder))
        if not hits:
            raise FileNotFoundError(f"the archive has no folder {folder!r} (needed for {name})")
        files = sorted(
            (p for p in hits[0].rglob("*") if p.is_file()), key=lambda p: p.relative_to(hits[0]).as_posix().encode()
        )
        seen: set[str] = set()
        with open(out / name, "w", encoding="utf-8", newline="\n") as f:
            for path in files:
                text = path.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
                for line in (raw.strip() for raw in text.split("\n")):
                    if line and line not in seen:
                        seen.add(line)
                        f.write(line + "\n")


BUILDS = {"sentences-from-folders": sentences_from_folders}


def build(spec: dict, extracted: Path, out: Path) -> Path:
    """Run the build step ``spec`` (the manifest's ``build`` section) on an extracted archive into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    BUILDS[spec["step"]](extracted, out, spec["sources"])
    return out


# --------------------------------------------------------------------------- content checks
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file, split as the lab's readers split them (``frlab.cls_books``: text mode)."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def labelled_split_problems(
    folder: Path, parts: list[str] | tuple[str, ...], labels: list[str] | tuple[str, ...]
) -> tuple[list[str], dict[str, int]]:
    """``(problems, lines)`` of ``folder`` as a labelled text-classification data set: for each part (``train``,
    ``valid``, ``test``) a ``<part>.review`` and a ``<part>.label`` file, UTF-8, not empty, as many reviews as
    labels, each label one of ``labels``. ``lines`` maps each part to its number of examples (parts with a
    problem left out). An empty ``problems`` list means the folder is good."""
    problems: list[str] = []
    lines: dict[str, int] = {}
    for part in parts:
        review, label = folder / f"{part}.review", folder / f"{part}.label"
        missing = [p.name for p in (review, label) if not p.is_file()]
        if missing:
            problems += [f"missing {name}" for name in missing]
            continue
        try:
            reviews, values = _lines(review), _lines(label)
        except UnicodeDecodeError as exc:
            problems.append(f"{part}.review or {part}.label is not UTF-8 text ({exc.reason})")
            continue
        bad = [(i, v) for i, v in enumerate(values, start=1) if v.strip() not in labels]
        if bad:
            i, v = bad[0]
            more = f" (and {len(bad) - 1} more lines)" if len(bad) > 1 else ""
            problems.append(f"{label.name}, line {i}: label {v.strip()!r} is not one of {', '.join(labels)}{more}")
        if not reviews or not values:
            problems.append(f"{part} is empty ({review.name}: {len(reviews)} lines, {label.name}: {len(values)})")
        elif len(reviews) != len(values):
            problems.append(f"{review.name} has {len(reviews)} lines but {label.name} has {len(values)}")
        if not bad and reviews and len(reviews) == len(values):
            lines[part] = len(reviews)
    return problems, lines


def identify_split(folder: Path, check: dict, splits: dict[str, dict]) -> tuple[str | None, list[str]]:
    """``(split name, problems)`` of ``folder`` for an asset with a ``check`` and a ``splits`` section.

    The structure comes first (:func:`labelled_split_problems`); then the split is the one whose ``lines`` match;
    a split that lists ``files`` (sha256 of the files the project publishes) must also match them. A folder of
    another size is refused: the lab's hyper-parameters and numbers are stated for the known splits only."""
    if check.get("step") != "labelled-splits":
        raise ValueError(f"unknown check step {check.get('step')!r}")
    parts = check.get("parts", ["train", "valid", "test"])
    problems, lines = labelled_split_problems(folder, parts, check.get("labels", ["0", "1"]))
    if problems:
        return None, problems
    for name, spec in splits.items():
        if all(lines.get(part) == n for part, n in spec["lines"].items()):
            bad = [
                f"checksum mismatch for {rel}"
                for rel, d in (spec.get("files") or {}).items()
                if _sha256(folder / rel) != d
            ]
            if bad:
                return None, [*bad, f"(its sizes are those of the split {name}, whose files are published)"]
            return name, []
    sizes = " / ".join(f"{part} {lines[part]}" for part in parts)
    known = ", ".join(f"{name} ({'/'.join(str(n) for n in spec['lines'].values())})" for name, spec in splits.items())
    return None, [f"its sizes ({sizes}) are those of no known split: {known}"]


# --------------------------------------------------------------------------- release packing
#: fixed metadata of every member of a release zip, so that the same files always give the same bytes
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def pack_release(folder: Path | str, files: list[str], out: Path | str) -> Path:
    """Write ``files`` of ``folder`` to the zip ``out``, byte for byte the same for the same files: stored (no
    compression, whose output may change with the zlib version), sorted, fixed dates and permissions."""
    folder, out = Path(folder), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for rel in sorted(files):
            info = zipfile.ZipInfo(rel, date_time=_ZIP_DATE)
            info.create_system = 3  # unix, whatever the packing machine
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, (folder / rel).read_bytes())
    return out
