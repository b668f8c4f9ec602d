"""Render ``book/execution.md``: how this build's pages were executed, and where else the chapters were run.

``book/execution.md`` is GENERATED (``python -m labtools.book.pages``, which ``make book`` runs). Beside
jupyter-cache's table of the pages this build executed, it shows the stored records of the runs made outside
the book build:

* ``results/colab/rehearsal.json`` – the notebooks on a Colab-like runtime (``python -m labtools.colab_rehearsal``);
* ``results/full-rehearsal.json`` – the full profile at full size on a CPU (``python -m labtools.full_rehearsal``);
* ``results/gpu/*.json`` – the GPU checks (``make gpu-check``), newest first;
* ``results/main_job.json`` – ``make run`` from a fresh clone (``python -m labtools.bench.main_job``).

A record that is missing is named, with the command that makes it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from autograder import leaks
from frlab.paths import results_dir
from labtools.book import BOOK_DIR
from labtools.book.results_page import json_to_markdown, md_table, repo_relative

PAGE = BOOK_DIR / "execution.md"
#: what stands where a record holds an answer of an exercise
WITHHELD = "(an answer: withheld)"

INTRO = """# Execution status of this build

The chapter pages of this book are executed when the book is built (smoke profile, CPU), through
[jupyter-cache](https://jupyter-cache.readthedocs.io): a page is re-executed only when its code
changes. The table lists every executed page, when it was last executed, whether it succeeded and
how long it took. The exercise notebooks are not executed (their stubs raise `NotImplementedError`
until you complete them).

```{nb-exec-table}
```

`make book` (`python -m labtools.book.build`) fails when any page fails to execute, when Sphinx emits a
warning, or when the built site contains solution text.

The sections below are the stored records of runs made outside the book build: where students run the notebooks
(Colab), the `full` profile at its real size, and GPUs.
"""


def _load(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _missing(what: str, command: str) -> str:
    return f"_Nothing stored yet: {what}. `{command}` makes it._\n"


def _minutes(seconds) -> str:
    return f"{seconds / 60:.1f} min" if isinstance(seconds, (int, float)) else "–"


def colab_section(data: dict | None) -> str:
    out = ["## On a Colab-like runtime", ""]
    if not data:
        return "\n".join(out) + "\n" + _missing("the Colab rehearsal", "python -m labtools.colab_rehearsal")
    notebooks = data.get("notebooks", [])
    rt = data.get("runtime", {})
    pinned = rt.get("installed_from_freeze", {})
    key = ", ".join(f"{k} {pinned[k]}" for k in ("torch", "numpy", "transformers", "peft", "accelerate") if k in pinned)
    out += [
        "Each student notebook's install cell, run verbatim on a rebuilt copy of Colab's GPU runtime (Python "
        f"{rt.get('python', '?')}, the packages the lab touches at Colab's versions: {key}; torch is PyPI's build of "
        "the same release, run on the CPU), in a kernel that has imported numpy, torch, pandas and matplotlib first, "
        "as Colab's has. The chapter is then executed in that kernel (smoke profile). The runtime starts empty of "
        "the lab's packages and with an empty pip cache, so the first notebook pays what a student pays on a new "
        "runtime.",
        "",
        f"Recorded {data.get('date', '?')} at commit `{data.get('commit', '?')}` on {data.get('machine', '?')}: "
        f"**{sum(n.get('status') == 'ok' for n in notebooks)} of {len(notebooks)} "
        f"notebooks ok**, {_minutes(data.get('total_seconds'))} in all.",
        "",
    ]
    rows = [
        {
            "notebook": nb.get("notebook"),
            "status": nb.get("status"),
            "install cell (s)": nb.get("install_seconds"),
            "restart asked": "yes" if nb.get("restart_asked") else "no",
            "notebook (s)": nb.get("seconds"),
        }
        for nb in notebooks
    ]
    out += [md_table(rows), ""]
    out += _loaded_versions(notebooks)
    first = next((nb for nb in notebooks if nb.get("install_printed")), None)
    if first:
        out += [
            f"What the install cell printed in the first notebook ({first.get('notebook')}):",
            "",
            "```text",
            *(repo_relative(line) for line in first["install_printed"]),
            "```",
            "",
        ]
    failed = [nb for nb in notebooks if nb.get("status") != "ok"]
    for nb in failed:
        out += [f"{nb.get('notebook')} failed: `{repo_relative(str(nb.get('error')))}`", ""]
    return "\n".join(out)


def _loaded_versions(notebooks: list[dict]) -> list[str]:
    """The versions each notebook's kernel had imported at its end: a package per row, a notebook per column (a
    version list per notebook made a column too narrow to read)."""
    loaded = {_part(str(nb.get("notebook"))): nb.get("loaded") or {} for nb in notebooks}
    packages = list(dict.fromkeys(k for versions in loaded.values() for k, v in versions.items() if v))
    if not packages:
        return []
    rows = [
        {"package": pkg, **{name: versions.get(pkg) or "–" for name, versions in loaded.items()}} for pkg in packages
    ]
    return [
        "What each notebook's kernel had imported when it ended (– : not imported, or the notebook failed):",
        "",
        md_table(rows),
        "",
    ]


def _part(notebook: str) -> str:
    """``notebooks/part2_fairseq_finetuning.ipynb`` -> ``Part 2`` (a column header that fits the page)."""
    stem = Path(notebook).stem
    m = re.match(r"part(\d+)_", stem)
    return f"Part {m.group(1)}" if m else stem


def _yes(flag) -> str:
    return {True: "yes", False: "**no**"}.get(flag, "–")


def _part3_part4_checks(p3: dict, p4: dict, reference: str) -> list[dict]:
    """The check rows of Part 3 (Trainer arguments against ``reference``) and Part 4 (the 4-bit model's counts)."""
    layers = ", ".join(map(str, p4.get("layer_type") or ["?"]))
    return [
        {
            "chapter": "Part 3",
            "check": f"the Trainer's arguments differ from {reference} only by the step cap",
            "held": _yes(p3.get("only_the_cap_differs")),
        },
        {
            "chapter": "Part 4",
            "check": "trainable and total parameters of the 4-bit model with its LoRA adapters are the expected "
            f"ones; its linear layers are `{layers}`",
            "held": _yes(p4.get("ok")),
        },
    ]


def full_rehearsal_section(data: dict | None) -> str:
    """A summary of ``results/full-rehearsal.json``: what ran, how long, and whether each chapter's checks held.
    The values the chapters compute are answers of the exercises, so the page says whether they were the expected
    ones, never what they are."""
    out = ["## The `full` profile at full size, on a CPU", ""]
    if not data:
        return "\n".join(out) + "\n" + _missing("the full-size rehearsal", "python -m labtools.full_rehearsal")
    prov = data.get("provenance", {})
    run = data.get("run", {})
    env = data.get("environment", {})
    out += [
        "The `full` profile (the sizes a GPU runs) executed on a CPU, with stand-ins of the assets that cannot be "
        "had offline: the course's `RoBERTa_small_fr.zip` in its real layout and architecture, and "
        "bigscience/bloom-560m's real configuration, both with random weights. The training loops are capped "
        f"(`FRLAB_MAX_UPDATES={env.get('FRLAB_MAX_UPDATES', '?')}`, `FRLAB_SEEDS={env.get('FRLAB_SEEDS', '?')}`); "
        "everything else (data, models, commands, grading) is the full profile's.",
        "",
        f"Recorded {prov.get('date_utc', '?')} UTC at commit `{prov.get('git', '?')}` on {prov.get('machine', '?')}, "
        f"Python {prov.get('python', '?')}: `{run.get('command', '?')}` exited with status "
        f"{run.get('exit_status', '?')} after {_minutes(run.get('seconds'))}.",
        "",
    ]
    grading = data.get("grading", {})
    rows = []
    for name, ch in run.get("chapters", {}).items():
        g = grading.get(name, {})
        score = f"{g.get('auto_score')} / {g.get('auto_max')}" if g.get("auto_max") is not None else "–"
        rows.append(
            {
                "chapter": name,
                "status": ch.get("status"),
                "time": _minutes(ch.get("seconds")),
                "graded (the solution, autograded part)": score,
                "grading (s)": g.get("seconds", "–"),
            }
        )
    if rows:
        out += [md_table(rows), ""]
    p1, p2, p3, p4 = (data.get(k, {}) for k in ("part1", "part2", "part3", "part4"))
    checks = [
        {
            "chapter": "Part 1",
            "check": "both parameter counts, read from the served `model.pt` and printed by the chapter, are the "
            "expected ones",
            "held": _yes(p1.get("ok")),
        },
        {
            "chapter": "Part 2",
            "check": "the `fairseq-train` commands differ from the GPU's only by their device flag (`--cpu` for "
            "`--fp16`)",
            "held": _yes(p2.get("only_device_flags_differ")),
        },
        *_part3_part4_checks(p3, p4, "the GPU's"),
    ]
    out += [md_table(checks), ""]
    return repo_relative("\n".join(out))


def _gpu_record(data: dict) -> list[str]:
    """One GPU check as a summary: what ran where, each chapter's status and time, whether the checks held, and the
    figures it measured (the full JSON stays in ``results/gpu/``)."""
    prov, run, fig = data.get("provenance", {}), data.get("run", {}), data.get("figures", {})
    plan, assets = data.get("plan", {}), data.get("assets", {})
    packages = ", ".join(f"{k} {v}" for k, v in (prov.get("packages") or {}).items() if v)
    cap = plan.get("max_updates")
    out = [
        f"Recorded {prov.get('date_utc', '?')} UTC at commit `{prov.get('git', '?')}` on {prov.get('machine', '?')}, "
        f"Python {prov.get('python', '?')}" + (f" ({packages})" if packages else "") + f": `{run.get('command', '?')}`"
        f" with one seed and {f'a step cap of {cap} updates' if cap else 'whole runs'} exited with status "
        f"{run.get('exit_status', '?')} after {_minutes(run.get('seconds'))} ({data.get('minutes', '?')} min in all).",
        "",
        f"Assets: {assets.get('models', '?')}."
        + (
            " Their accuracies and losses measure the plumbing and the speed, not the models."
            if "stand-in" in str(assets.get("models"))
            else ""
        ),
        "",
    ]
    rows = [
        {"chapter": name, "status": ch.get("status"), "time": _minutes(ch.get("seconds"))}
        for name, ch in run.get("chapters", {}).items()
    ]
    if rows:
        out += [md_table(rows), ""]
    p2, p3, p4 = (fig.get(k) or {} for k in ("part2", "part3", "part4"))
    diffs = p2.get("diff_against_the_gpu_command")
    checks = [
        {
            "chapter": "Part 2",
            "check": "the `fairseq-train` commands are the full profile's GPU commands (one process, "
            "`--distributed-world-size 1`, `--fp16`)",
            "held": _yes(None if diffs is None else not any(diffs.values())),
        },
        *_part3_part4_checks(p3, p4, "the full profile's"),
    ]
    out += [md_table(checks), ""]
    measured = []
    for part, key in (("Part 2", "part2_test_accuracy"), ("Part 3", "part3_test_accuracy")):
        for run_name, acc in (data.get(key) or {}).items():
            measured.append({"chapter": part, "run": run_name, "test accuracy (%)": f"{acc:.1f}" if acc else "–"})
    if measured:
        out += [md_table(measured), ""]
    curve = data.get("part4_loss_curve") or []
    if curve:
        out += [
            f"Part 4's training loss, logged every {curve[1][0] - curve[0][0] if len(curve) > 1 else '?'} steps: "
            f"{curve[0][1]:.2f} at step {curve[0][0]}, {curve[-1][1]:.2f} at step {curve[-1][0]} "
            f"(lowest {min(v for _, v in curve):.2f}).",
            "",
        ]
    if prov.get("note"):
        out += [f"Note: {prov['note']}.", ""]
    return out


def gpu_section(folder: Path) -> str:
    out = ["## On a GPU", ""]
    records = sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []
    if not records:
        return (
            "\n".join(out)
            + "\n"
            + _missing("no GPU has been lent to the project so far; the check is ready", "make gpu-check")
        )
    out += [
        "`make gpu-check` runs the four chapters in the `full` profile on one GPU, sized to about ten minutes (one "
        "seed, a step cap when the whole runs would not fit), and stores a record in `results/gpu/`, newest first "
        "here.",
        "",
    ]
    for path in records:
        data = _load(path) or {}
        out += [f"### {data.get('gpu', '?')}: `results/gpu/{path.name}`", "", *_gpu_record(data)]
    return repo_relative("\n".join(out))


def main_job_section(data: dict | None) -> str:
    out = ["## `make run` from a fresh clone", ""]
    if not data:
        return "\n".join(out) + "\n" + _missing("the main job's timing", "python -m labtools.bench.main_job")
    return repo_relative("\n".join(out + [json_to_markdown(data), ""]))


def page_text(root: Path | None = None) -> str:
    root = Path(root) if root else results_dir()
    parts = [
        INTRO,
        colab_section(_load(root / "colab" / "rehearsal.json")),
        full_rehearsal_section(_load(root / "full-rehearsal.json")),
        gpu_section(root / "gpu"),
        main_job_section(_load(root / "main_job.json")),
    ]
    # the records are the project's own runs of the solutions: whatever they hold, the page never shows an answer
    return leaks.scrub("\n".join(p.rstrip() + "\n" for p in parts), replacement=WITHHELD)


def write_page(root: Path | None = None, page: Path = PAGE) -> Path:
    text = page_text(root)
    if not page.exists() or page.read_text(encoding="utf-8") != text:
        page.write_text(text, encoding="utf-8")
    return page
