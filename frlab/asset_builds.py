"""Build steps of assets whose files are made from a public source rather than downloaded as they are.

An entry of ``assets_manifest.json`` with a ``build`` section is downloaded (or found) as its source archive, then
built; the built files are checked against the manifest's sha256 like any other. DATA.md describes each build.
"""

from __future__ import annotations

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
