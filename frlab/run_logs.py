"""Read fairseq TensorBoard logs back: best-valid selection, results table, curves.

Layout of a fine-tuning run (what ``fairseq-train --tensorboard-logdir RUN/tb`` writes)::

    RUN/tb/train_inner/events...   training loss every --log-interval updates
    RUN/tb/train/events...         epoch averages
    RUN/tb/valid/events...         one point per validation: accuracy (in %), loss, ...
    RUN/tb/test/events...          the same on the test set (--valid-subset valid,test)

and a *log root* holds one run per folder named ``<init>_seed<k>`` (``pretrained_seed0``,
``random_seed2``, ...).  The functions below are what the chapter, the stored reference results
and the autograder use:

* :func:`validation_curve` -- valid and test accuracy per validation step of one run;
* :func:`best_valid_test_accuracy` -- the test accuracy at the best valid accuracy of one run;
* :func:`summarize_runs` -- one row per run of a log root;
* :func:`results_table` / :func:`gap` -- mean ± std per init and the pretrained - random gap;
* :func:`plot_valid_curves` -- valid accuracy vs updates of every run (matplotlib).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

RUN_NAME = re.compile(r"^(?P<init>[A-Za-z]+)_seed(?P<seed>\d+)$")
METRIC = "accuracy"


class RunLogError(ValueError):
    """A run folder has no readable validation accuracy."""


def _tb_root(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    return run_dir / "tb" if (run_dir / "tb").is_dir() else run_dir


def read_scalars(run_dir: Path | str):
    """All scalars of one run as a DataFrame with columns ``subset, tag, step, value``.

    ``subset`` is the sub-folder fairseq wrote (``train_inner``, ``train``, ``valid``, ``test``).
    """
    import pandas as pd
    from tbparse import SummaryReader

    root = _tb_root(Path(run_dir))
    if not root.is_dir():
        raise RunLogError(f"{run_dir}: no TensorBoard folder")
    frames = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        df = SummaryReader(str(sub), pivot=False).scalars
        if len(df):
            df = df[["tag", "step", "value"]].copy()
            df.insert(0, "subset", sub.name)
            frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["subset", "tag", "step", "value"])
    return pd.concat(frames, ignore_index=True)


def validation_curve(run_dir: Path | str, metric: str = METRIC, valid: str = "valid", test: str = "test"):
    """DataFrame indexed by update ``step`` with columns ``valid_accuracy`` and ``test_accuracy`` (%).

    When a step was logged twice (a resumed run), the last value wins.
    """
    import pandas as pd

    df = read_scalars(run_dir)
    out = {}
    for subset, col in ((valid, f"valid_{metric}"), (test, f"test_{metric}")):
        sel = df[(df.subset == subset) & (df.tag == metric)]
        out[col] = sel.groupby("step")["value"].last()
    curve = pd.DataFrame(out).sort_index()
    curve.index.name = "step"
    if curve.empty or f"valid_{metric}" not in curve or curve[f"valid_{metric}"].dropna().empty:
        raise RunLogError(f"{run_dir}: no '{metric}' logged for subset '{valid}'")
    return curve


def best_valid_test_accuracy(run_dir: Path | str, metric: str = METRIC) -> dict:
    """The test accuracy at the step of the best valid accuracy of one run.

    Returns ``{"step", "valid_accuracy", "test_accuracy"}`` (accuracies in %).  Ties on the valid
    accuracy go to the **earliest** step (what ``--best-checkpoint-metric accuracy`` keeps: a later
    equal score does not replace the best checkpoint).  Only steps where both subsets were
    evaluated count.
    """
    curve = validation_curve(run_dir, metric).dropna()
    if curve.empty:
        raise RunLogError(f"{run_dir}: no step with both valid and test {metric}")
    v = curve[f"valid_{metric}"]
    step = int(v[v == v.max()].index.min())
    return {"step": step, "valid_accuracy": float(v.loc[step]),
            "test_accuracy": float(curve.loc[step, f"test_{metric}"])}


def run_dirs(log_root: Path | str) -> list[Path]:
    """The run folders (``<init>_seed<k>``) of a log root, sorted."""
    root = Path(log_root)
    return sorted(p for p in root.iterdir() if p.is_dir() and RUN_NAME.match(p.name)) if root.is_dir() else []


def summarize_runs(log_root: Path | str, metric: str = METRIC):
    """One row per run of ``log_root``: ``run, init, seed, best_step, valid_accuracy, test_accuracy``.

    Runs are the sub-folders named ``<init>_seed<k>``, each holding fairseq's TensorBoard logs
    (``tb/valid``, ``tb/test``; a run folder that directly holds ``valid/`` and ``test/`` works
    too).  ``test_accuracy`` is read at the best valid accuracy (:func:`best_valid_test_accuracy`).
    """
    import pandas as pd

    rows = []
    for d in run_dirs(log_root):
        m = RUN_NAME.match(d.name)
        best = best_valid_test_accuracy(d, metric)
        rows.append({"run": d.name, "init": m["init"], "seed": int(m["seed"]), "best_step": best["step"],
                     "valid_accuracy": best["valid_accuracy"], "test_accuracy": best["test_accuracy"]})
    if not rows:
        raise RunLogError(f"no run folders <init>_seed<k> with logs in {log_root}")
    return pd.DataFrame(rows).sort_values(["init", "seed"], ignore_index=True)


def results_table(summary, column: str = "test_accuracy"):
    """Mean, std (sample std, ddof=1) and number of runs of ``column`` per init (index: init)."""
    g = summary.groupby("init")[column]
    table = g.agg(["mean", "std", "count"]).rename(columns={"count": "runs"})
    table["std"] = table["std"].fillna(0.0)
    return table


def gap(summary, column: str = "test_accuracy", better: str = "pretrained", worse: str = "random") -> float:
    """Mean ``column`` of the ``better`` runs minus that of the ``worse`` runs (accuracy points)."""
    t = results_table(summary, column)
    return float(t.loc[better, "mean"] - t.loc[worse, "mean"])


def format_table(summary, column: str = "test_accuracy") -> str:
    """Markdown table ``init | mean ± std | runs`` plus the gap line."""
    t = results_table(summary, column)
    lines = ["| init | test accuracy at best valid (%) | runs |", "|---|---|---|"]
    for init, row in t.iterrows():
        lines.append(f"| {init} | {row['mean']:.1f} ± {row['std']:.1f} | {int(row['runs'])} |")
    if {"pretrained", "random"} <= set(t.index):
        lines.append(f"\n**gap (pretrained − random): {gap(summary, column):+.1f} points**")
    return "\n".join(lines)


def plot_valid_curves(log_root: Path | str, ax=None, metric: str = METRIC, title: str | None = None):
    """Valid accuracy vs updates of every run of ``log_root`` (one colour per init); returns the figure."""
    import matplotlib

    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    colours = {"pretrained": "tab:blue", "random": "tab:orange"}
    styles = ["-", "--", ":", "-."]
    for d in run_dirs(log_root):
        m = RUN_NAME.match(d.name)
        curve = validation_curve(d, metric)
        ax.plot(curve.index, curve[f"valid_{metric}"], styles[int(m["seed"]) % len(styles)], marker="o",
                markersize=3, color=colours.get(m["init"], None), label=f"{m['init']} seed {m['seed']}")
    return finish_curve_axes(ax, f"valid {metric} (%)", title, legend_fontsize=8)


def finish_curve_axes(ax, ylabel: str, title: str | None = None, legend_fontsize: int = 8):
    """Labels, chance line (50 %), grid, legend and title of a validation-curve plot; returns the figure."""
    ax.set_xlabel("updates")
    ax.set_ylabel(ylabel)
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_fontsize, ncol=2)
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


def std_ok(x: float) -> bool:
    return x is not None and not math.isnan(x)


# --------------------------------------------------------------------------- plausibility (grading)
#: the course's runs of RoBERTa_small_fr on CLS-Books (full profile): pretrained test accuracy between 75 and
#: 86 %, and random initialisation at least 8 points behind
FULL_PROFILE_BANDS = {"pretrained_mean": (75.0, 86.0), "min_gap": 8.0}
COURSE_UPDATES = 1000  # ceil(1600 / 8) x 5 epochs: the whole CLS-Books train split


def _command_value(cmd: list[str], flag: str):
    return cmd[cmd.index(flag) + 1] if flag in cmd and cmd.index(flag) + 1 < len(cmd) else None


def runs_profile(log_root: Path | str) -> str:
    """The profile a set of runs was made with, read from the runs themselves.

    The number of updates comes from the TensorBoard logs (the last validation step) and the model width
    from each run's ``run.json`` command (``--encoder-embed-dim``, 512 when absent: ``roberta_small``):
    ``full`` = the course's width on the whole train split, ``cpu`` = a narrower base model on the whole
    train split (the CPU reference model), ``smoke`` = fewer updates than the whole split gives.
    """
    import json

    profiles_seen = set()
    for d in run_dirs(log_root):
        steps = validation_curve(d).index
        updates = int(max(steps)) if len(steps) else 0
        dim = 512
        marker = Path(d) / "run.json"
        if marker.is_file():
            try:
                cmd = json.loads(marker.read_text(encoding="utf-8")).get("command") or []
                dim = int(_command_value(cmd, "--encoder-embed-dim") or 512)
            except (ValueError, TypeError, json.JSONDecodeError):
                pass
        profiles_seen.add("smoke" if updates < COURSE_UPDATES else ("full" if dim == 512 else "cpu"))
    if not profiles_seen:
        raise RunLogError(f"no run folders <init>_seed<k> with logs in {log_root}")
    if len(profiles_seen) > 1:
        return "mixed"
    return profiles_seen.pop()


def reference_bands(profile: str) -> dict | None:
    """The plausibility bands of a profile: the course's for ``full``; for ``cpu``, derived from our stored
    reference runs (``results/part2/cpu/results.json``): each mean within 3 standard deviations (at least 3
    points) of the reference mean, and the pretrained runs ahead of the random ones when they are in the
    reference; ``None`` for ``smoke`` (a few dozen updates on a slice: its numbers are noise)."""
    import json

    if profile == "full":
        return dict(FULL_PROFILE_BANDS)
    if profile != "cpu":
        return None
    from frlab.paths import results_dir

    ref = json.loads((results_dir() / "part2" / "cpu" / "results.json").read_text(encoding="utf-8"))
    bands = {}
    for init in ("pretrained", "random"):
        m, s = ref["table"][init]["mean"], ref["table"][init]["std"]
        half = max(3 * s, 3.0)
        bands[f"{init}_mean"] = (round(m - half, 2), round(m + half, 2))
    bands["min_gap"] = 0.0 if ref["gap"] > 0 else None
    return bands


def plausibility_problems(results_table, gap: float, profile: str) -> list[str]:
    """What is implausible about a results table (index ``pretrained``/``random``, column ``mean``) and gap
    for runs of ``profile`` (see :func:`reference_bands`); an empty list when nothing is."""
    if profile == "mixed":
        return ["the runs were not all made with the same profile (number of updates / model width differ)"]
    bands = reference_bands(profile)
    if bands is None:
        return []
    problems = []
    for init in ("pretrained", "random"):
        band = bands.get(f"{init}_mean")
        if band is None:
            continue
        m = float(results_table.loc[init, "mean"])
        if not band[0] <= m <= band[1]:
            problems.append(f"{init} mean test accuracy {m:.1f} % is outside the plausible band "
                            f"{band[0]:.1f}-{band[1]:.1f} % of the {profile} profile")
    if bands.get("min_gap") is not None and not float(gap) >= bands["min_gap"]:
        problems.append(f"gap {float(gap):+.1f} points: with the {profile} profile pretrained runs should lead random "
                        f"ones by at least {bands['min_gap']:.1f} points (check which checkpoint each run starts from)")
    return problems
