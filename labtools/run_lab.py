"""The lab's main job: execute every chapter headless in the active profile.

    python -m labtools.run_lab                 # all chapters, profile from FRLAB_PROFILE (default: smoke on CPU)
    python -m labtools.run_lab --parts 1 2     # some chapters

Each chapter source (``solutions/partN_*.py``, the instructor version) is executed with nbclient; the executed
notebook is written to ``<work>/<profile>/executed/`` and the end of its printed output is shown here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from autograder.chapters import chapter_sources, read_source
from frlab import profiles
from frlab.paths import work_dir
from labtools.execute import execute, outputs_text


def _part_number(path) -> int:
    return int(path.stem.split("_")[0].removeprefix("part"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="*", type=int, help="chapter numbers (default: all)")
    ap.add_argument("--profile", choices=profiles.PROFILES, help="overrides FRLAB_PROFILE")
    ap.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    ap.add_argument("--tail", type=int, default=25, help="lines of each notebook's output to show")
    args = ap.parse_args(argv)

    prof = profiles.current(args.profile)
    os.environ[profiles.ENV_VAR] = prof.name
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
            nb, _ = execute(nb, cwd=out_dir, timeout=args.timeout, env={profiles.ENV_VAR: prof.name})
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
