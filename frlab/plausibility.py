"""Are a student's results plausible for the profile their runs were made with? (Parts 2 and 3.)

The chapters run this as a *visible* check, so students see it before they submit; the bands are the ones the
chapter text states. The profile is read from the runs themselves — updates done and model width — never from
the student's environment:

* ``full``  — the course's width (512) on the whole CLS-Books train split: the course's band (pretrained
  75–86 %, random at least 8 points behind);
* ``cpu``   — a narrower base model on the whole split: bands derived from our stored reference runs
  (``results/part2/cpu/results.json``, ``results/part3/cpu/hf_runs.json``);
* ``smoke`` — fewer updates than the whole split gives: noise, not judged.

Runs stopped by a step cap (``FRLAB_MAX_UPDATES``: their records carry ``max_updates_cap``) are rehearsals of a
profile's plumbing, never its results: they are accepted, and not judged against any band, only where the active
profile has the same cap (the rehearsal that made them); anywhere else they are a problem.
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


#: profiles from the smallest runs to the largest
ORDER = ("smoke", "cpu", "full")


def _guessed_profile(r: dict) -> str:
    """For records written before runs carried their profile: guessed from updates and width."""
    if int(r.get("updates") or r.get("done_updates") or 0) < COURSE_UPDATES:
        return "smoke"
    if r.get("hidden_size") is None:
        return "unknown"
    return "full" if int(r["hidden_size"]) == COURSE_WIDTH else "cpu"


def runs_profile(records: list[dict]) -> str:
    """The profile of a set of run records: the one each record declares (written when the run was made), else a
    guess from updates and width; ``unknown`` when it cannot be told, ``mixed`` when the runs disagree."""
    seen = {r["profile"] if r.get("profile") in ORDER else _guessed_profile(r) for r in records}
    if not seen:
        return "unknown"
    return seen.pop() if len(seen) == 1 else "mixed"


def check_runs(records: list[dict], required: str | None = None) -> tuple[str, list[str]]:
    """``(profile, problems)`` of the runs themselves: mixed profiles, runs stopped before the end planned for them
    (updates done + fp16 steps skipped < updates planned), and runs of a smaller profile than ``required`` (the
    profile the course grades: smoke runs cannot stand for cpu or full ones)."""
    from frlab import profiles

    profile = runs_profile(records)
    problems = [MIXED] if profile == "mixed" else []
    caps = {r.get("max_updates_cap") for r in records}
    allowed_cap = profiles.resolve().max_updates
    for r in records:
        name, declared = r.get("run", "?"), r.get("profile")
        planned, done = int(r.get("planned_updates") or 0), int(r.get("done_updates") or 0)
        cap = r.get("max_updates_cap")
        if cap is not None and cap != allowed_cap:
            problems.append(
                f"run {name} was stopped by a step cap at {cap} updates ({profiles.MAX_UPDATES_VAR}): a rehearsal "
                f"of the plumbing, not results"
            )
        to_do = (min(planned, int(cap)) if planned else int(cap)) if cap is not None else planned
        if to_do and done + int(r.get("skipped_fp16_steps") or 0) < to_do:
            problems.append(f"run {name} stopped after {done} of its {to_do} updates")
        if declared not in ORDER:
            continue
        # the record is checked against the logs and the model, not taken on trust
        if done and r.get("updates") and int(r["updates"]) != done:
            problems.append(f"run {name}: its record says {done} updates, its logs end at update {r['updates']}")
        if declared != "smoke" and planned and planned < COURSE_UPDATES:
            problems.append(f"run {name}: {planned} updates planned, fewer than the whole train split gives")
        if declared == "full" and r.get("hidden_size") and int(r["hidden_size"]) != COURSE_WIDTH:
            problems.append(f"run {name}: a {r['hidden_size']}-wide model is not the course's (full profile)")
    if required in ORDER and profile in ORDER and ORDER.index(profile) < ORDER.index(required):
        problems.append(f"the runs were made with the {profile} profile; this course grades {required}-profile runs")
    if caps != {None}:  # capped runs: no band of any profile applies to them
        if len(caps) > 1:
            problems.append(f"the runs were made under different step caps: {sorted(caps, key=str)}")
        profile = f"{profile} (capped at {max(c for c in caps if c is not None)} updates, not judged)"
    return profile, problems


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
    band = hf_band(profile)
    if band is None or band[0] <= float(hf_mean) <= band[1]:
        return []
    return [_outside("mean test accuracy", float(hf_mean), band, profile)]


def fairseq_run_records(log_root: Path | str) -> list[dict]:
    """The record of every Part 2 run of ``log_root``: its ``run.json`` (profile, planned and done updates, fp16
    steps skipped, when it has them), with ``updates`` read from the TensorBoard logs (the last validation step)
    and ``hidden_size`` from the command (``--encoder-embed-dim``, 512 when absent: ``roberta_small``)."""
    from frlab.fairseq.logs import RunLogError, run_dirs, validation_curve
    from frlab.runs import MARKER

    records = []
    for d in run_dirs(log_root):
        steps = validation_curve(d).index
        try:
            record = json.loads((d / MARKER).read_text(encoding="utf-8"))
            record = record if isinstance(record, dict) else {}
        except (OSError, ValueError):
            record = {}
        cmd = record.get("command") if isinstance(record.get("command"), list) else []
        dim = COURSE_WIDTH
        if "--encoder-embed-dim" in cmd[:-1]:
            try:
                dim = int(cmd[cmd.index("--encoder-embed-dim") + 1])
            except (TypeError, ValueError):
                pass
        record.update(run=d.name, updates=int(max(steps)) if len(steps) else 0, hidden_size=dim)
        records.append(record)
    if not records:
        raise RunLogError(f"no run folders <init>_seed<k> with logs in {log_root}")
    return records
