"""The lab's main job: execute every chapter headless.

    python -m labtools.run_lab                 # all chapters: FRLAB_PROFILE, else full on a GPU, cpu with 1 seed on a CPU
    python -m labtools.run_lab --parts 1 2     # some chapters
    python -m labtools.run_lab --profile smoke # CI's minutes-long plumbing check (chance-level numbers)

Each chapter source (``solutions/partN_*.py``, the instructor version) is executed with nbclient; the executed
notebook is written to ``<work>/<profile>/executed/`` and the end of its printed output is shown here. On a CPU
the default is the ``cpu`` profile with the project's base model (shipped in the repository) and **one seed** per
initialisation (``--seeds``; the stored reference runs use three): all of CLS-Books, the course's
hyper-parameters, so the pretrained-vs-random gap is real. At the end it prints that gap beside the stored
three-seed reference of the profile and the course's numbers (:mod:`frlab.course_results`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from autograder.chapters import chapter_sources, read_source
from frlab import profiles
from frlab.paths import work_dir
from labtools.execute import execute, outputs_text


def _part_number(path) -> int:
    return int(path.stem.split("_")[0].removeprefix("part"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="*", type=int, help="chapter numbers (default: all)")
    ap.add_argument(
        "--profile", choices=profiles.PROFILES, help="default: FRLAB_PROFILE, else full on a GPU, cpu on a CPU"
    )
    ap.add_argument("--seeds", type=int, help="seeds per experiment (default: 1 in the cpu profile, else all three)")
    ap.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    ap.add_argument("--tail", type=int, default=25, help="lines of each notebook's output to show")
    args = ap.parse_args(argv)

    name = (
        args.profile or os.environ.get(profiles.ENV_VAR) or ("full" if profiles.current().device == "cuda" else "cpu")
    )
    seeds = args.seeds or os.environ.get(profiles.SEEDS_VAR) or (1 if name == "cpu" else None)
    os.environ[profiles.ENV_VAR] = name
    if seeds:
        os.environ[profiles.SEEDS_VAR] = str(seeds)
    prof = profiles.current(name)
    print(prof.describe())
    out_dir = work_dir() / prof.name / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = [p for p in chapter_sources() if not args.parts or _part_number(p) in args.parts]
    if not sources:
        print("no chapter selected", file=sys.stderr)
        return 2
    timings, failed = {}, []
    for src in sources:
        print(f"\n=== {src.stem} ({prof.name}) ===", flush=True)
        nb = read_source(src)
        t0 = time.time()
        try:
            # run beside the executed copy, so artefacts a chapter saves next to itself land in the work folder
            env = {profiles.ENV_VAR: prof.name, **({profiles.SEEDS_VAR: str(prof.seeds)} if prof.seeds else {})}
            nb, _ = execute(nb, cwd=out_dir, timeout=args.timeout, env=env)
            status = "ok"
        except Exception as exc:  # nbclient raises CellExecutionError with the traceback
            status = "FAILED"
            failed.append(src.stem)
            print(str(exc)[-3000:], file=sys.stderr)
        timings[src.stem] = {"seconds": round(time.time() - t0, 1), "status": status}
        import nbformat

        nbformat.write(nb, out_dir / f"{src.stem}.ipynb")
        lines = [ln for ln in outputs_text(nb).splitlines() if ln.strip()]
        print("\n".join(lines[-args.tail :]))
        print(f"--- {src.stem}: {status} in {timings[src.stem]['seconds']} s", flush=True)
    (out_dir / "timings.json").write_text(json.dumps(timings, indent=2))
    print("\nsummary:", json.dumps(timings))
    print(f"total: {sum(t['seconds'] for t in timings.values()) / 60:.1f} min")
    print(results_summary(prof, out_dir))
    return 1 if failed else 0


def results_summary(prof: profiles.Profile, executed: Path) -> str:
    """What this run measured (Part 2's gap, Part 3's accuracy) beside the profile's stored reference and the
    course's numbers; smoke numbers are labelled as chance level."""
    import pandas as pd

    from frlab import course_results

    lines = [f"\n=== results ({prof.name} profile) ==="]
    part2 = work_dir() / prof.name / "part2" / "summary.json"
    if part2.exists():
        runs = pd.DataFrame(json.loads(part2.read_text()))
        means = runs.groupby("init")["test_accuracy"].mean()
        n = runs.groupby("init").size()
        if {"pretrained", "random"} <= set(means.index):
            lines.append(
                f"Part 2 (fairseq), this run: pretrained {means['pretrained']:.1f} % / random {means['random']:.1f} %"
                f" (test accuracy, {n.min()} seed(s) each), gap {means['pretrained'] - means['random']:+.1f} points"
            )
    part3 = executed / "part3_runs.json"
    if part3.exists():
        runs3 = json.loads(part3.read_text())
        accs = [r["test_accuracy"] for r in runs3 if isinstance(r, dict) and "test_accuracy" in r]
        if accs:
            lines.append(f"Part 3 (Hugging Face), this run: {sum(accs) / len(accs):.1f} % ({len(accs)} seed(s))")
    ref = course_results.stored(prof.name)
    if ref:
        lines.append(
            f"stored reference ({prof.name}, 3 seeds, results/): pretrained {ref.get('pretrained', '?')}, random "
            f"{ref.get('random', '?')}, gap {ref.get('gap', '?')}, Hugging Face {ref.get('hf', '?')}"
        )
    c = course_results.COURSE
    lines.append(
        f"the course ({c['source']}): fairseq pretrained ~{c['fairseq_pretrained'][0]:.0f} %, random "
        f"~{c['fairseq_random'][0]:.0f} %, gap {c['gap'][0]:.0f}-{c['gap'][1]:.0f} points, Hugging Face "
        f"{c['hf'][0]:.0f}-{c['hf'][1]:.0f} %"
    )
    if prof.name == "smoke":
        lines.append(f"smoke profile: {course_results.SMOKE_NOTE}")
    elif prof.name == "cpu":
        lines.append("why ours differ from the course's: the results page of the book ('Course vs this book')")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
