"""Copy the stored ``cpu`` reference runs into the autograder's reference artefacts.

The self-test corpus grades real cpu-profile submissions (``autograder/corpus_spec.py``: ``p2-cpu-*``,
``p3-cpu-*``); their artefacts live in ``autograder/reference/<assignment>-cpu/``:

* ``part2_fairseq_finetuning-cpu/part2_runs/<run>/{run.json,tb/}`` -- the six Part 2 runs as the chapter
  submits them (``<work>/cpu/part2/runs``), with this checkout's paths in ``run.json`` written as ``/lab``;
* ``part3_hf_finetuning-cpu/part3_runs.json`` -- the three HF run records (``results/part3/cpu/hf_runs.json``),
  and ``part3_runs_typed_from_the_course.json``, the same records with the course's accuracies typed in
  (a submission the Part 3 plausibility test must reject).

Run it after ``python -m labtools.references.part2`` and ``python -m labtools.references.part3`` (cpu), then
``make notebooks`` (corpus) and ``make selftest``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from frlab.fairseq import finetune as ff
from frlab.paths import results_dir
from labtools import REPO_ROOT as REPO

REF = REPO / "autograder" / "reference"
COURSE_LIKE = [(82.5, 81.5), (83.0, 82.0), (81.9, 80.9)]  # valid / test accuracies in the course's range


def refresh_part2(runs: Path, dest: Path) -> list[str]:
    if dest.exists():
        shutil.rmtree(dest)
    names = []
    for run in sorted(p for p in runs.iterdir() if (p / ff.MARKER).exists()):
        shutil.copytree(run / "tb", dest / run.name / "tb")
        text = (run / ff.MARKER).read_text(encoding="utf-8").replace(str(REPO), "/lab")
        (dest / run.name / ff.MARKER).write_text(text, encoding="utf-8")
        names.append(run.name)
    if len(names) != 6:
        raise SystemExit(f"expected the 6 finished Part 2 cpu runs in {runs}, found {names}")
    return names


def refresh_part3(hf_runs: Path, dest: Path) -> None:
    records = json.loads(hf_runs.read_text(encoding="utf-8"))
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "part3_runs.json").write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    typed = [dict(r, valid_accuracy=v, test_accuracy=t) for r, (v, t) in zip(records, COURSE_LIKE)]
    (dest / "part3_runs_typed_from_the_course.json").write_text(json.dumps(typed, indent=1) + "\n", encoding="utf-8")


def main() -> int:
    names = refresh_part2(ff.part2_dir("cpu") / "runs", REF / "part2_fairseq_finetuning-cpu" / "part2_runs")
    refresh_part3(results_dir() / "part3" / "cpu" / "hf_runs.json", REF / "part3_hf_finetuning-cpu")
    print("refreshed:", ", ".join(names), "+ part3_runs.json (+ typed from the course)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
