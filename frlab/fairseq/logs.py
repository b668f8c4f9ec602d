"""Read fairseq TensorBoard logs back: validation curves and their plot.

Layout of a fine-tuning run (what ``fairseq-train --tensorboard-logdir RUN/tb`` writes)::

    RUN/tb/train_inner/events...   training loss every --log-interval updates
    RUN/tb/train/events...         epoch averages
    RUN/tb/valid/events...         one point per validation: accuracy (in %), loss, ...
    RUN/tb/test/events...          the same on the test set (--valid-subset valid,test)

and a *log root* holds one run per folder named ``<init>_seed<k>`` (``pretrained_seed0``,
``random_seed2``, ...).  The functions below are what the chapter, the stored reference results
and the autograder use:

* :func:`validation_curve` -- valid and test accuracy per validation step of one run;
* :func:`run_dirs` -- the run folders of a log root;
* :func:`plot_valid_curves` -- valid accuracy vs updates of every run (matplotlib).
"""

from __future__ import annotations

import re
from pathlib import Path

from frlab import runs

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


def run_dirs(log_root: Path | str) -> list[Path]:
    """The run folders (``<init>_seed<k>``) of a log root, sorted."""
    return sorted(p for p in Path(log_root).glob("*") if p.is_dir() and RUN_NAME.match(p.name))


def runs_of(log_root: Path | str) -> list[tuple[Path, str, int]]:
    """``(run folder, init, seed)`` of every run of a log root, sorted by folder name."""
    return [(d, m["init"], int(m["seed"])) for d in run_dirs(log_root) for m in [RUN_NAME.match(d.name)]]


def plot_valid_curves(log_root: Path | str, ax=None, metric: str = METRIC, title: str | None = None):
    """Valid accuracy vs updates of every run of ``log_root`` (one colour per init); returns the figure."""

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    colours = {"pretrained": "tab:blue", "random": "tab:orange"}
    styles = ["-", "--", ":", "-."]
    for d, init, seed in runs_of(log_root):
        curve = validation_curve(d, metric)
        style = dict(marker="o", markersize=3, color=colours.get(init), label=f"{init} seed {seed}")
        ax.plot(curve.index, curve[f"valid_{metric}"], styles[seed % len(styles)], **style)
    return runs.finish_curve_axes(ax, f"valid {metric} (%)", title, legend_fontsize=8)
