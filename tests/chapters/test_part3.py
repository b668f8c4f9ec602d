"""Part 3: the chapter executes headless in the smoke profile (<= 8 min), idempotently, and grades offline."""

import json
import os
import re

import pytest

from autograder.chapters import read_source
from frlab import plausibility
from frlab.hf import finetune as hf_finetune
from frlab.paths import REPO_ROOT
from labtools.execute import execute, outputs_text

SOURCE = REPO_ROOT / "solutions" / "part3_hf_finetuning.py"


def test_write_jsonl_layout_and_balanced_slice(shared_data, tmp_path):
    paths = hf_finetune.write_jsonl(
        tmp_path, source=shared_data / "cls-books", limits={"train": 160, "valid": 80, "test": None}
    )
    rows = [json.loads(line) for line in paths["train"].read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 160 and set(rows[0]) == {"sentence1", "label"}
    assert 40 < sum(r["label"] for r in rows) < 120, "the smoke slice must hold both classes"
    # the same reviews as Part 2's fairseq smoke data (seeded random subset, file order)
    import random

    texts = (shared_data / "cls-books" / "train.review").read_text(encoding="utf-8").splitlines()
    keep = sorted(random.Random(0).sample(range(len(texts)), 160))
    assert [r["sentence1"] for r in rows] == [texts[i] for i in keep]
    assert len(paths["test"].read_text(encoding="utf-8").splitlines()) == 2000


def test_hyperparameters_are_part2s():
    from frlab.cls_books import hyperparameters as part2_hp

    for prof in ("cpu", "full", "smoke"):
        hf, fs = hf_finetune.hyperparameters(prof), part2_hp(prof)
        assert hf["batch_size"] == fs["batch_size"] == 8
        assert hf["epochs"] == fs["max_epoch"] and hf["lr"] == fs["lr"]
        assert hf["warmup_ratio"] == fs["warmup_ratio"] == 0.06 and hf["weight_decay"] == 0.01
        assert (hf["adam_beta1"], hf["adam_beta2"]) == (0.9, 0.98)
        assert hf["max_length"] == (fs["max_pieces"] + 2 if fs.get("max_pieces") else fs["max_positions"])
        assert hf["eval_steps"] == (fs.get("validate_interval_updates") or None)
    assert hf_finetune.hyperparameters("cpu")["lr"] == 1e-5 and hf_finetune.hyperparameters("cpu")["epochs"] == 5


def test_compute_metrics_and_mean_std():
    import numpy as np

    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert hf_finetune.compute_metrics((logits, np.array([1, 0, 0, 0]))) == {"accuracy": 75.0}
    m, s = hf_finetune.mean_std([80.0, 82.0, 84.0])
    assert m == 82.0 and abs(s - 2.0) < 1e-12
    assert hf_finetune.mean_std([70.0]) == (70.0, 0.0)


@pytest.mark.slow
def test_part3_notebook_smoke(shared_data, tmp_path):
    """Headless smoke run: conversion checked, 3 seeds trained, artefact written; then re-run = loaded,
    and an nbgrader-style run (NBGRADER_EXECUTION) trains nothing."""
    from frlab.fairseq.pretrain import base_model_dir

    env0 = {"FRLAB_PROFILE": "smoke", "OMP_NUM_THREADS": "1"}  # 1 thread: robust on a loaded 2-core machine
    # the smoke base model (Part 2's recipe, trained once if missing) is shared; runs go to tmp_path
    old = os.environ.get("FRLAB_PROFILE")
    os.environ["FRLAB_PROFILE"] = "smoke"
    try:
        base = base_model_dir("smoke")
    finally:
        os.environ.pop("FRLAB_PROFILE") if old is None else os.environ.__setitem__("FRLAB_PROFILE", old)
    work = tmp_path / "work"
    (work / "smoke").mkdir(parents=True)
    (work / "smoke" / "base-model").symlink_to(base)
    cwd = tmp_path / "submission"
    cwd.mkdir()
    env = {**env0, "FRLAB_WORK": str(work)}

    nb, seconds = execute(read_source(SOURCE), cwd=cwd, env=env, timeout=480)
    text = outputs_text(nb)
    print(f"part3 smoke notebook: {seconds:.0f} s")
    assert "frlab profile: smoke | device: cpu" in text
    assert "token ids identical for 8/8 reviews" in text
    m = re.search(r"max \|logit difference\| ([0-9.e+-]+), max \|encoder output difference\| ([0-9.e+-]+)", text)
    assert m and float(m.group(1)) < 1e-4 and float(m.group(2)) < 1e-4
    assert "DatasetDict" in text and "'sentence1'" in text
    runs = json.loads((cwd / "part3_runs.json").read_text())
    assert [r["seed"] for r in runs] == [0, 1, 2]
    for r in runs:
        assert 0 <= r["test_accuracy"] <= 100 and r["best_step"] > 0 and r["updates"] > 0
        run_dir = work / "smoke" / "part3" / "runs" / r["run"]
        assert list((run_dir / "tb").glob("events.out.tfevents.*")), "TensorBoard logs missing"
        assert (run_dir / "trainer_state.json").is_file() and not list(run_dir.glob("checkpoint-*"))
        assert hf_finetune.best_valid(run_dir)["step"] == r["best_step"]
    assert "Hugging Face: test accuracy" in text and "| Hugging Face Trainer |" in "\n".join(
        o.get("data", {}).get("text/markdown", "") for c in nb.cells for o in c.get("outputs", [])
    )
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert seconds < 480

    # re-run: finished runs are loaded, not retrained
    nb2, seconds2 = execute(read_source(SOURCE), cwd=cwd, env=env, timeout=480)
    text2 = outputs_text(nb2)
    assert text2.count("finished run found: loaded, not retrained") == 3
    assert json.loads((cwd / "part3_runs.json").read_text()) == runs

    # grading: nothing is trained, the submitted artefact is read
    for run in (work / "smoke" / "part3" / "runs").glob("*_seed*"):
        (run / "run.json").unlink()
    nb3, _ = execute(read_source(SOURCE), cwd=cwd, env={**env, "NBGRADER_EXECUTION": "autograde"}, timeout=480)
    text3 = outputs_text(nb3)
    assert not any((work / "smoke" / "part3" / "runs" / r["run"] / "run.json").exists() for r in runs)
    for r in runs:
        assert f"{r['run']}: best step {r['best_step']}" in text3


@pytest.mark.slow
def test_bench_prints_ratio(shared_data, tmp_path):
    """The benchmark runs both frameworks on the smoke model in one process and prints the ratio."""
    import subprocess
    import sys

    out = tmp_path / "bench.json"
    env = {**os.environ, "FRLAB_PROFILE": "smoke"}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "labtools.bench.hf_vs_fairseq",
            "--steps",
            "12",
            "--warmup",
            "2",
            "--rounds",
            "1",
            "--threads",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO_ROOT,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "ratio HF/fairseq =" in res.stdout
    data = json.loads(out.read_text())
    assert data["fairseq_seconds_per_update"] > 0 and data["hf_seconds_per_step"] > 0
    assert data["tokens_per_review"] == hf_finetune.hyperparameters("smoke")["max_length"] and data["batch_size"] == 8


def test_plausibility_of_the_hf_mean_per_profile():
    rec = lambda updates, hidden=None: {"updates": updates, **({"hidden_size": hidden} if hidden else {})}  # noqa: E731
    assert plausibility.runs_profile([rec(24, 64)] * 3) == "smoke"
    assert plausibility.runs_profile([rec(1000, 512)] * 3) == "full"
    assert plausibility.runs_profile([rec(1000, 128)] * 3) == "cpu"
    assert plausibility.runs_profile([rec(1000)] * 3) == "unknown"
    assert plausibility.runs_profile([rec(1000, 128), rec(24, 64)]) == "mixed"
    assert plausibility.hf_problems(80.0, "full") == []
    assert "outside the plausible band 75.0-86.0 %" in plausibility.hf_problems(60.0, "full")[0]
    assert plausibility.hf_problems(12.0, "smoke") == [] == plausibility.hf_problems(12.0, "unknown")
    assert "same profile" in plausibility.check_runs([rec(1000, 128), rec(24, 64)])[1][0]
    # cpu: the band is built around our stored reference runs
    import json

    from frlab.paths import results_dir

    rows = json.loads((results_dir() / "part3" / "cpu" / "hf_runs.json").read_text())
    m, _ = hf_finetune.mean_std([r["test_accuracy"] for r in rows])
    lo, hi = plausibility.hf_band("cpu")
    assert lo < m < hi and hi - lo >= 6.0 - 1e-6
    assert plausibility.hf_problems(m, "cpu") == [] and plausibility.hf_problems(hi + 1, "cpu")
