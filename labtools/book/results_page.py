"""Render the stored reference results (``results/part2..4``, ``results/autograder``) as the book's results page.

``book/results.md`` is GENERATED (``make book`` calls :func:`write_page`): for each
part it shows the provenance first (``provenance.json`` / ``provenance.md`` /
``README.md``), then every table (``*.json``, ``*.csv``) and every figure
(``*.png``, ``*.svg``, ``*.jpg``) found under ``results/partN/`` (sub-folders
included). A part with nothing stored yet gets a visible "not yet produced" note.
The page is plain MyST Markdown (nothing to execute), so it changes exactly when
the stored results change. Absolute paths of the machine that produced a result (in stored commands and
provenance) are written relative to the repository (:func:`repo_relative`), and table cells are escaped so that
text such as ``<s>`` shows as written (not as HTML).
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

from frlab import course_results
from frlab.paths import results_dir
from labtools.book import RESULTS_PAGE as PAGE

PARTS = {
    "part2": "Part 2 — fine-tuning (and pretraining) RoBERTa with fairseq",
    "part3": "Part 3 — fine-tuning with Hugging Face Transformers",
    "part4": "Part 4 — parameter-efficient fine-tuning: LoRA and QLoRA",
    "autograder": "Grading — throughput of the class autograder",
}
PROVENANCE_NAMES = ("provenance.json", "provenance.md", "README.md")
FIGURE_EXT = (".png", ".svg", ".jpg", ".jpeg")
MAX_ROWS = 40


def _fmt(v) -> str:
    if isinstance(v, float):
        if v != v:  # NaN
            return "–"
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, (list, dict)):
        s = json.dumps(v, ensure_ascii=False)
        return s if len(s) <= 80 else s[:77] + "..."
    if v is None:
        return "–"
    return str(v)


def _cell(v) -> str:
    text = _fmt(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\n", " ")


# top-level folders of a checkout: an absolute path that reaches one of them is a path inside the repository
_REPO_TOP = ".venv work frlab results labtools autograder scripts solutions notebooks book _build".split()
_ABS_IN_REPO = re.compile(
    r"(?<![\w.~/-])/(?:[^\s/'\"`|,;()]+/)+?(?=(?:" + "|".join(re.escape(d) for d in _REPO_TOP) + r")/)"
)


#: the asset cache of the machine that made a result (``FRLAB_CACHE``, by default ``~/.cache/frlab``)
_ABS_CACHE = re.compile(r"(?<![\w.~/-])/(?:[^\s/'\"`|,;()]+/)*?\.cache/frlab/")


def repo_relative(text: str) -> str:
    """Absolute paths into a checkout (``/any/where/checkout/work/cpu/...``) written relative to it (``work/cpu/...``),
    and paths into the asset cache written from its default place (``~/.cache/frlab/...``)."""
    return _ABS_IN_REPO.sub("", _ABS_CACHE.sub("~/.cache/frlab/", text))


def md_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """A Markdown table of ``rows`` (list of dicts); long tables are cut at MAX_ROWS."""
    if not rows:
        return "_(empty table)_"
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    out = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows[:MAX_ROWS]:
        out.append("| " + " | ".join(_cell(r.get(c)) for c in columns) + " |")
    if len(rows) > MAX_ROWS:
        out.append(f"\n_… {len(rows) - MAX_ROWS} more rows in the file._")
    return "\n".join(out)


def json_to_markdown(data) -> str:
    """Tables for the usual shapes of a results JSON; anything else as a (short) code block."""
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return md_table(data)
    if isinstance(data, dict):
        scalars = {k: v for k, v in data.items() if not isinstance(v, (dict, list))}
        nested = {k: v for k, v in data.items() if isinstance(v, (dict, list))}
        parts = []
        if nested and all(isinstance(v, dict) for v in nested.values()) and not scalars:
            if all(not isinstance(x, (dict, list)) for v in nested.values() for x in v.values()):
                return md_table([{"": k, **v} for k, v in nested.items()])
        if scalars:
            parts.append(md_table([{"key": k, "value": v} for k, v in scalars.items()]))
        for k, v in nested.items():
            parts.append(f"**{k}**\n\n" + json_to_markdown(v))
        return "\n\n".join(parts) if parts else "_(empty)_"
    if isinstance(data, list) and all(not isinstance(x, (dict, list)) for x in data):
        return ", ".join(_fmt(x) for x in data[:MAX_ROWS]) + (" …" if len(data) > MAX_ROWS else "")
    text = json.dumps(data, indent=1, ensure_ascii=False)
    if len(text) > 3000:
        text = text[:3000] + "\n…"
    return "```json\n" + text + "\n```"


def _demote_headings(text: str) -> str:
    """Headings of an included Markdown file become bold lines (keeps the page's heading levels valid)."""
    return re.sub(r"^#{1,6}\s+(.+)$", r"**\1**", text, flags=re.M)


def _rel(path: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(path, page_dir)).as_posix()


def _label(path: Path, root: Path) -> str:
    """How a stored file is named on the page: ``results/partN/...``."""
    return ("results/" + path.relative_to(root).as_posix()).rstrip("/")


def _read_json(p: Path):
    try:
        return json.loads(p.read_text(encoding="utf-8")), None
    except (ValueError, OSError) as exc:
        return None, exc


def render_group(folder: Path, files: list[Path], root: Path, page_dir: Path, heading: str) -> list[str]:
    """One folder of stored results: provenance, tables, figures."""
    out = [heading, ""]
    prov_files = [folder / n for n in PROVENANCE_NAMES if (folder / n) in files]
    jsons = {p: _read_json(p) for p in files if p.suffix.lower() == ".json" and p not in prov_files}
    embedded = {p: d["provenance"] for p, (d, _) in jsons.items() if isinstance(d, dict) and "provenance" in d}
    out += ["**Provenance**", ""]
    if not prov_files and not embedded:
        out += [
            ":::{warning}",
            f"No provenance stored with `{_label(folder, root)}/` "
            f"(expected one of `{'`, `'.join(PROVENANCE_NAMES)}` or a `provenance` entry in a JSON file).",
            ":::",
            "",
        ]
    for p in prov_files:
        if p.suffix == ".json":
            data, exc = _read_json(p)
            out += [json_to_markdown(data) if exc is None else f"`{_label(p, root)}` could not be read: {exc}", ""]
        else:
            out += [_demote_headings(p.read_text(encoding="utf-8")).strip(), ""]
        out += [f"<small>source: `{_label(p, root)}`</small>", ""]
    for p, prov in embedded.items():
        out += [json_to_markdown(prov), "", f"<small>source: `{_label(p, root)}` (`provenance`)</small>", ""]
    for p in files:
        suffix = p.suffix.lower()
        if p in prov_files or suffix not in (".json", ".csv", ".md"):
            continue
        out += [f"**`{_label(p, root)}`**", ""]
        if suffix == ".json":
            data, exc = jsons[p]
            if exc is not None:
                out += [f":::{{warning}}\n`{_label(p, root)}` could not be read: {exc}\n:::"]
            else:
                if isinstance(data, dict) and "provenance" in data:
                    data = {k: v for k, v in data.items() if k != "provenance"}
                out += [json_to_markdown(data)]
        elif suffix == ".csv":
            try:
                with open(p, newline="", encoding="utf-8") as f:
                    out += [md_table(list(csv.DictReader(f)))]
            except (ValueError, OSError) as exc:
                out += [f":::{{warning}}\n`{_label(p, root)}` could not be read: {exc}\n:::"]
        else:
            out += [_demote_headings(p.read_text(encoding="utf-8")).strip()]
        out += [""]
    for p in files:
        if p.suffix.lower() in FIGURE_EXT:
            caption = p.stem.replace("_", " ")
            out += [
                f"```{{figure}} {_rel(p, page_dir)}",
                f":alt: {caption}",
                ":width: 90%",
                "",
                f"{caption} (`{_label(p, root)}`)",
                "```",
                "",
            ]
    return out


def render_part(key: str, title: str, root: Path, page_dir: Path = PAGE.parent) -> str:
    """A part's section: one sub-section per folder holding results (``results/partN/<profile>/`` ...)."""
    folder = root / key
    out = [f"## {title}", ""]
    files = (
        sorted(
            p
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in (".json", ".csv", ".md") + FIGURE_EXT
        )
        if folder.is_dir()
        else []
    )
    if not files:
        out += [":::{note}", f"Not yet produced: no results are stored under `results/{key}/` yet.", ":::", ""]
        return "\n".join(out)
    groups: dict[Path, list[Path]] = {}
    for p in files:
        groups.setdefault(p.parent, []).append(p)
    for sub in sorted(groups):
        name = _label(sub, root)
        out += render_group(sub, groups[sub], root, page_dir, f"### `{name}/`")
    return "\n".join(out)


def page_text(root: Path | None = None, page_dir: Path = PAGE.parent) -> str:
    root = Path(root) if root else results_dir()
    head = [
        "% GENERATED by labtools.book.results_page from results/ -- do not edit by hand (make book).",
        "# Reference results",
        "",
        "These are the **stored reference results** of the lab: produced once by the course team with the",
        "command and profile named in each part's provenance, committed under `results/`, and rendered here",
        "unchanged. The provenance says which profile, data and hardware produced each number. How far your own",
        "runs should land from them depends on the profile: the table below puts the course's results beside",
        "ours, profile by profile.",
        "",
        "## The course's results and this book's",
        "",
        course_results.markdown(None, root),
        "",
    ]
    text = "\n".join(head + [render_part(k, t, root, page_dir) for k, t in PARTS.items()]).rstrip() + "\n"
    return repo_relative(text)


def write_page(root: Path | None = None, page: Path = PAGE) -> Path:
    text = page_text(root, page.parent)
    if not page.exists() or page.read_text(encoding="utf-8") != text:
        page.write_text(text, encoding="utf-8")
    return page
