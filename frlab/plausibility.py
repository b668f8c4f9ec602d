"""Are a student's results plausible for the profile their runs were made with? (Parts 2 and 3.)

The chapters run this as a *visible* check, so students see it before they submit; the bands are the ones the
chapter text states. The profile is read from the runs themselves — updates done and model width — never from
the student's environment:

* ``full``  — the course's width (512) on the whole CLS-Books train split: the course's band (pretrained
  75–86 %, random at least 8 points behind);
* ``cpu``   — a narrower base model on the whole split: bands derived from our stored reference runs
  (``results/part2/cpu/results.json``, ``results/part3/cpu/hf_runs.json``);
* ``smoke`` — fewer updates than the whole split gives: noise, not judged.
"""

from __future__ import annotations

import json
from pathlib import Path

from frlab.paths import results_dir
from frlab.runs import mean_std

#: the course's runs of RoBERTa_small_fr on CLS-Books (full profile): pretrained test accuracy between 75 and
#: 86 %, and random initialisation at least 8 points behind
FULL_PROFILE_BANDS = {"pretrained_mean": (75.0, 86.0), "min_gap": 8.0}
COURSE_UPDATES = 1000  # ceil(1600 / 8) x 5 epochs: the whole CLS-Books train split
COURSE_WIDTH = 512
MIXED = "the runs were not all made with the same profile (number of updates / model width differ)"


def runs_profile(records: list[dict]) -> str:
    """The profile of a set of run records (``updates``, ``hidden_size``): ``full``, ``cpu``, ``smoke``;
    ``unknown`` when a whole-split record has no width, ``mixed`` when the runs disagree."""
    seen = set()
    for r in records:
        if int(r.get("updates") or 0) < COURSE_UPDATES:
            seen.add("smoke")
        elif r.get("hidden_size") is None:
            seen.add("unknown")
        else:
            seen.add("full" if int(r["hidden_size"]) == COURSE_WIDTH else "cpu")
    if not seen:
        return "unknown"
    return seen.pop() if len(seen) == 1 else "mixed"


def _band(m: float, s: float) -> tuple[float, float]:
    half = max(3 * s, 3.0)  # 3 standard deviations of the reference runs, at least 3 points
    return (round(m - half, 2), round(m + half, 2))


def _stored(relpath: str):
    return json.loads((results_dir() / relpath).read_text(encoding="utf-8"))


def fairseq_bands(profile: str) -> dict | None:
    """Part 2's bands: per-init mean bands and the minimum gap; ``None`` when the profile is not judged."""
    if profile == "full":
        return dict(FULL_PROFILE_BANDS)
    if profile != "cpu":
        return None
    ref = _stored("part2/cpu/results.json")
    bands = {
        f"{init}_mean": _band(ref["table"][init]["mean"], ref["table"][init]["std"])
        for init in ("pretrained", "random")
    }
    bands["min_gap"] = 0.0 if ref["gap"] > 0 else None
    return bands


def hf_band(profile: str) -> tuple[float, float] | None:
    """Part 3's band for the mean test accuracy; ``None`` when the profile is not judged."""
    if profile == "full":
        return FULL_PROFILE_BANDS["pretrained_mean"]
    if profile != "cpu":
        return None
    return _band(*mean_std([r["test_accuracy"] for r in _stored("part3/cpu/hf_runs.json")]))


def _outside(what: str, value: float, band: tuple[float, float], profile: str) -> str:
    return f"{what} {value:.1f} % is outside the plausible band {band[0]:.1f}-{band[1]:.1f} % of the {profile} profile"


def fairseq_problems(results_table, gap: float, profile: str) -> list[str]:
    """What is implausible about Part 2's table (index ``pretrained``/``random``, column ``mean``) and gap."""
    if profile == "mixed":
        return [MIXED]
    bands = fairseq_bands(profile)
    if bands is None:
        return []
    problems = []
    for init in ("pretrained", "random"):
        band = bands.get(f"{init}_mean")
        m = float(results_table.loc[init, "mean"])
        if band is not None and not band[0] <= m <= band[1]:
            problems.append(_outside(f"{init} mean test accuracy", m, band, profile))
    if bands.get("min_gap") is not None and not float(gap) >= bands["min_gap"]:
        problems.append(
            f"gap {float(gap):+.1f} points: with the {profile} profile pretrained runs should lead random "
            f"ones by at least {bands['min_gap']:.1f} points (check which checkpoint each run starts from)"
        )
    return problems


def hf_problems(hf_mean: float, profile: str) -> list[str]:
    """What is implausible about Part 3's mean test accuracy (empty list: nothing)."""
    if profile == "mixed":
        return [MIXED]
    band = hf_band(profile)
    if band is None or band[0] <= float(hf_mean) <= band[1]:
        return []
    return [_outside("mean test accuracy", float(hf_mean), band, profile)]


def fairseq_run_records(log_root: Path | str) -> list[dict]:
    """``updates`` (the last validation step of the TensorBoard logs) and ``hidden_size`` (the run's
    ``--encoder-embed-dim``, 512 when absent: ``roberta_small``) of every Part 2 run of ``log_root``."""
    from frlab.fairseq.logs import RunLogError, run_dirs, validation_curve
    from frlab.runs import MARKER

    records = []
    for d in run_dirs(log_root):
        steps = validation_curve(d).index
        dim = COURSE_WIDTH
        try:
            cmd = json.loads((d / MARKER).read_text(encoding="utf-8")).get("command") or []
            if "--encoder-embed-dim" in cmd[:-1]:
                dim = int(cmd[cmd.index("--encoder-embed-dim") + 1])
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        records.append({"run": d.name, "updates": int(max(steps)) if len(steps) else 0, "hidden_size": dim})
    if not records:
        raise RunLogError(f"no run folders <init>_seed<k> with logs in {log_root}")
    return records
