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
