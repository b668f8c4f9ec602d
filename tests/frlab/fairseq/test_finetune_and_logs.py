"""Part 2 plumbing without fairseq training: log reading, best-valid selection, input checks, rerun reuse."""

import json
import sys
from pathlib import Path

import pytest

from autograder import answer_keys
from frlab import plausibility
from frlab.fairseq import finetune as ff
from frlab.fairseq import logs as run_logs


def write_run(run_dir: Path, valid: dict, test: dict, train_loss: dict | None = None):
    """Crafted fairseq-like TensorBoard logs: tb/valid, tb/test (accuracy in %), tb/train_inner."""
    from torch.utils.tensorboard import SummaryWriter

    for subset, points in (("valid", valid), ("test", test), ("train_inner", train_loss or {})):
        w = SummaryWriter(str(run_dir / "tb" / subset))
        for step, value in points.items():
            w.add_scalar("accuracy" if subset != "train_inner" else "loss", value, step)
            w.add_scalar("loss", 1.0 / (1 + step), step)
        w.close()


def test_best_valid_selection_on_crafted_log(tmp_path):
    run = tmp_path / "pretrained_seed0"
    # best valid 80.0 reached at 200 and again at 400 (tie -> earliest); test is best elsewhere (must be ignored)
    write_run(
        run,
        valid={100: 60.0, 200: 80.0, 300: 75.0, 400: 80.0},
        test={100: 61.0, 200: 77.5, 300: 90.0, 400: 79.0},
        train_loss={10: 0.7, 20: 0.6},
    )
    curve = run_logs.validation_curve(run)
    assert list(curve.index) == [100, 200, 300, 400]
    assert curve.loc[300, "test_accuracy"] == pytest.approx(90.0)
    best = answer_keys.best_valid_test_accuracy(run)
    assert best == {"step": 200, "valid_accuracy": pytest.approx(80.0), "test_accuracy": pytest.approx(77.5)}


def test_validation_step_without_test_is_ignored(tmp_path):
    run = tmp_path / "random_seed0"
    write_run(run, valid={50: 70.0, 100: 90.0}, test={50: 66.0})
    assert answer_keys.best_valid_test_accuracy(run)["step"] == 50


def test_run_without_valid_accuracy_is_an_error(tmp_path):
    run = tmp_path / "random_seed0"
    write_run(run, valid={}, test={10: 50.0}, train_loss={10: 0.5})
    with pytest.raises(run_logs.RunLogError, match="no 'accuracy' logged"):
        answer_keys.best_valid_test_accuracy(run)


def test_summary_table_and_gap(tmp_path):
    tests = {"pretrained": [80.0, 82.0, 84.0], "random": [60.0, 61.0, 65.0]}
    for init, accs in tests.items():
        for seed, acc in enumerate(accs):
            write_run(tmp_path / f"{init}_seed{seed}", valid={100: 50.0, 200: 70.0}, test={100: 10.0, 200: acc})
    (tmp_path / "not_a_run").mkdir()
    summary = answer_keys.summarize_runs(tmp_path)
    assert list(summary["run"]) == [f"pretrained_seed{i}" for i in range(3)] + [f"random_seed{i}" for i in range(3)]
    assert set(summary["best_step"]) == {200}
    table = answer_keys.results_table(summary)
    assert table.loc["pretrained", "mean"] == pytest.approx(82.0)
    assert table.loc["pretrained", "std"] == pytest.approx(2.0)  # sample std (ddof=1)
    assert table.loc["random", "std"] == pytest.approx(2.6457513, rel=1e-6)
    assert answer_keys.gap(summary) == pytest.approx(20.0)
    text = answer_keys.format_table(summary)
    assert "82.0 ± 2.0" in text and "+20.0 points" in text
    fig = run_logs.plot_valid_curves(tmp_path)
    assert len(fig.axes[0].lines) == 6 + 1  # six runs + the chance line


# --------------------------------------------------------------------------- inputs
def _rejected(labels, reviews, label_text: str, match: str) -> None:
    """``validate_labels`` refuses ``labels`` holding ``label_text``, with a message matching ``match``."""
    labels.write_text(label_text, encoding="utf-8")
    with pytest.raises(ff.LabelError, match=match):
        ff.validate_labels(labels, reviews)


@pytest.mark.parametrize(
    "reviews_text, label_text, match",
    [
        ("bien\nmauvais\nmoyen\nsuper\n", "1\n0\n2\n1\n", r"train\.label, line 3: label '2'"),
        ("bien\nmauvais\nmoyen\nsuper\n", "1\n0\n\n1\n", "line 3"),
        ("a\nb\nc\n", "1\n0\n", "has 2 lines but .* has 3: line 3 is the first review without a label"),
        ("a\nb\nc\n", "1\n0\n1\n1\n", "line 4 is the first label without a review"),
    ],
)
def test_bad_labels_are_rejected_with_the_line_number(tmp_path, reviews_text, label_text, match):
    reviews, labels = tmp_path / "train.review", tmp_path / "train.label"
    reviews.write_text(reviews_text, encoding="utf-8")
    _rejected(labels, reviews, label_text, match)


def test_good_labels_are_read(tmp_path):
    (tmp_path / "valid.review").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "valid.label").write_text("1\n0\n1\n", encoding="utf-8")
    assert ff.validate_labels(tmp_path / "valid.label", tmp_path / "valid.review") == [1, 0, 1]


def test_real_cls_books_labels_are_valid(shared_data):
    for split, n in (("train", 1600), ("valid", 400), ("test", 2000)):
        labels = ff.validate_labels(
            shared_data / "cls-books" / f"{split}.label", shared_data / "cls-books" / f"{split}.review"
        )
        assert len(labels) == n and set(labels) == {0, 1}


# --------------------------------------------------------------------------- runs
def fake_train_command(tmp_path: Path, run_dir: Path, restore: str, seed: int = 0) -> list[str]:
    """A stand-in for fairseq-train: counts its calls and writes TensorBoard logs like fairseq
    (copied from a template written here, so the stand-in does not need to import torch)."""
    template = tmp_path / "tb_template"
    if not template.exists():
        write_run(template, valid={10: 70.0}, test={10: 68.0})
    script = tmp_path / "fake_fairseq_train.py"
    script.write_text(
        "import sys, pathlib, shutil\n"
        "a = sys.argv\n"
        "tb = pathlib.Path(a[a.index('--tensorboard-logdir') + 1])\n"
        "counter = pathlib.Path(a[a.index('--counter') + 1])\n"
        "counter.write_text(str(int(counter.read_text() or 0) + 1) if counter.exists() else '1')\n"
        "shutil.copytree(a[a.index('--template') + 1], tb)\n"
        "print('2026-01-01 | INFO | train_inner | epoch 001: loss=0.6, ups=2.0, num_updates=10')\n",
        encoding="utf-8",
    )
    return [
        sys.executable,
        str(script),
        "--restore-file",
        restore,
        "--seed",
        str(seed),
        "--tensorboard-logdir",
        str(run_dir / "tb"),
        "--counter",
        str(tmp_path / "calls.txt"),
        "--template",
        str(template / "tb"),
    ]


def test_rerun_reuses_finished_run(tmp_path, capsys):
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"stand-in")
    run_dir = tmp_path / "runs" / "pretrained_seed0"
    cmd = fake_train_command(tmp_path, run_dir, str(ckpt))
    first = ff.run_training(cmd, run_dir, init="pretrained")
    assert first["reused"] is False and (run_dir / ff.MARKER).is_file()
    assert "train_inner" in capsys.readouterr().out  # progress is echoed live
    second = ff.run_training(cmd, run_dir, init="pretrained")
    assert second["reused"] is True
    assert (tmp_path / "calls.txt").read_text() == "1"  # not retrained
    assert answer_keys.best_valid_test_accuracy(run_dir)["test_accuracy"] == pytest.approx(68.0)
    # a rebuilt checkpoint at the same path is not "the same run" either
    import os

    os.utime(ckpt, (1_000_000_000, 1_000_000_000))
    ff.run_training(cmd, run_dir, init="pretrained")
    assert (tmp_path / "calls.txt").read_text() == "2"
    assert ff.run_training(cmd, run_dir, init="pretrained")["reused"] is True
    # a different command (other seed) is not "the same run": it is retrained from scratch
    ff.run_training(fake_train_command(tmp_path, run_dir, str(ckpt), seed=1), run_dir, init="pretrained")
    assert (tmp_path / "calls.txt").read_text() == "3"
    # an unfinished run (no marker) is retrained
    (run_dir / ff.MARKER).unlink()
    ff.run_training(fake_train_command(tmp_path, run_dir, str(ckpt), seed=1), run_dir, init="pretrained")
    assert (tmp_path / "calls.txt").read_text() == "4"
    assert json.loads((run_dir / ff.MARKER).read_text())["seed"] == 1


def test_missing_pretrained_checkpoint_fails_loudly(tmp_path):
    run_dir = tmp_path / "runs" / "pretrained_seed0"
    cmd = fake_train_command(tmp_path, run_dir, str(tmp_path / "typo" / "model.pt"))
    with pytest.raises(ff.MissingCheckpointError, match="does not exist"):
        ff.run_training(cmd, run_dir, init="pretrained")
    assert not (tmp_path / "calls.txt").exists() and not run_dir.exists()


def test_random_init_requires_a_nonexistent_restore_file(tmp_path):
    existing = tmp_path / "model.pt"
    existing.write_bytes(b"x")
    run_dir = tmp_path / "runs" / "random_seed0"
    with pytest.raises(ValueError, match="exists"):
        ff.run_training(fake_train_command(tmp_path, run_dir, str(existing)), run_dir, init="random")
    info = ff.run_training(fake_train_command(tmp_path, run_dir, ff.RANDOM_INIT_RESTORE), run_dir, init="random")
    assert info["reused"] is False and info["restore_file"] == ff.RANDOM_INIT_RESTORE


def test_model_arch_args_missing_checkpoint(tmp_path):
    with pytest.raises(ff.MissingCheckpointError):
        ff.model_arch_args(tmp_path)


def test_course_hyperparameters():
    hp = ff.hyperparameters("cpu")
    assert (hp["batch_size"], hp["max_epoch"], hp["lr"], hp["max_positions"]) == (8, 5, 1e-5, 256)
    assert ff.total_updates(1600, 8, 5) == 1000 and round(0.06 * 1000) == 60
    from labtools.chapter_code import part2_train_command  # the chapter's own fairseq_train_command

    cmd = part2_train_command(
        "bin", "run", "m.pt", 1, hp, {"encoder_layers": 4, "encoder_embed_dim": 128}, 1600, profile="cpu"
    )
    joined = " ".join(cmd)
    for flag in (
        "--task sentence_prediction",
        "--lr 1e-05",
        "--batch-size 8",
        "--max-epoch 5",
        "--adam-betas (0.9,0.98)",
        "--warmup-updates 60",
        "--total-num-update 1000",
        "--power 1",
        "--weight-decay 0.01",
        "--max-positions 256",
        "--shorten-method truncate",
        "--valid-subset valid,test",
        "--encoder-embed-dim 128",
    ):
        assert flag in joined, flag


def _six_runs(root: Path, pre: list[float], rnd: list[float], last_step: int, dim: int | None):
    for init, accs in (("pretrained", pre), ("random", rnd)):
        for seed, acc in enumerate(accs):
            d = root / f"{init}_seed{seed}"
            write_run(d, valid={last_step // 2: 55.0, last_step: 70.0}, test={last_step // 2: 50.0, last_step: acc})
            cmd = ["fairseq-train", "data-bin", "--max-update", str(last_step)]
            if dim is not None:
                cmd += ["--encoder-embed-dim", str(dim)]
            (d / "run.json").write_text(json.dumps({"command": cmd}))
    summary = answer_keys.summarize_runs(root)
    return answer_keys.results_table(summary), answer_keys.gap(summary)


def test_profile_is_read_from_the_runs(tmp_path):
    _six_runs(tmp_path / "full", [80, 81, 82], [70, 71, 72], 1000, None)  # roberta_small default width 512
    _six_runs(tmp_path / "cpu", [66, 67, 68], [62, 62, 63], 1000, 128)
    _six_runs(tmp_path / "smoke", [50, 55, 60], [50, 52, 51], 24, 64)
    assert plausibility.runs_profile(plausibility.fairseq_run_records(tmp_path / "full")) == "full"
    assert plausibility.runs_profile(plausibility.fairseq_run_records(tmp_path / "cpu")) == "cpu"
    assert plausibility.runs_profile(plausibility.fairseq_run_records(tmp_path / "smoke")) == "smoke"
    # one run made with another profile
    import shutil

    shutil.rmtree(tmp_path / "cpu" / "random_seed2")
    write_run(tmp_path / "cpu" / "random_seed2", valid={12: 50.0, 24: 51.0}, test={12: 50.0, 24: 50.0})
    assert plausibility.runs_profile(plausibility.fairseq_run_records(tmp_path / "cpu")) == "mixed"
    with pytest.raises(run_logs.RunLogError):
        plausibility.runs_profile(plausibility.fairseq_run_records(tmp_path / "nothing"))


def test_plausibility_full_profile_bands(tmp_path):
    table, gap = _six_runs(tmp_path / "ok", [80, 81, 82], [70, 71, 72], 1000, 512)
    assert plausibility.fairseq_problems(table, gap, "full") == []
    # pretrained and random runs swapped (a swapped --restore-file): outside the band, negative gap
    table, gap = _six_runs(tmp_path / "swapped", [70, 71, 72], [80, 81, 82], 1000, 512)
    problems = plausibility.fairseq_problems(table, gap, "full")
    assert len(problems) == 2 and "outside the plausible band 75.0-86.0" in problems[0] and "gap -10.0" in problems[1]
    # too small a gap alone
    table, gap = _six_runs(tmp_path / "close", [80, 80, 80], [75, 75, 75], 1000, 512)
    assert plausibility.fairseq_problems(table, gap, "full") == [
        "gap +5.0 points: with the full profile pretrained runs should lead random ones by at least 8.0 points "
        "(check which checkpoint each run starts from)"
    ]
    assert plausibility.fairseq_problems(table, gap, "smoke") == []
    assert plausibility.fairseq_problems(table, gap, "mixed") == []  # mixed runs: check_runs says so


def test_cpu_bands_come_from_the_stored_reference():
    from frlab.paths import results_dir

    ref = json.loads((results_dir() / "part2" / "cpu" / "results.json").read_text())
    bands = plausibility.fairseq_bands("cpu")
    for init in ("pretrained", "random"):
        lo, hi = bands[f"{init}_mean"]
        assert lo < ref["table"][init]["mean"] < hi and hi - lo >= 6.0 - 1e-6
    assert bands["min_gap"] == (0.0 if ref["gap"] > 0 else None)
    import pandas as pd

    table = pd.DataFrame(
        {"mean": [ref["table"]["pretrained"]["mean"], ref["table"]["random"]["mean"]]}, index=["pretrained", "random"]
    )
    assert plausibility.fairseq_problems(table, ref["gap"], "cpu") == []


def test_stored_cpu_reference_is_consistent_and_pretraining_helps():
    """The stored cpu reference (issue: "the pretrained mean must beat the random mean by more than the random
    runs' std"): the table and gap are recomputed from the six stored runs, then the criterion is checked."""
    import statistics

    from frlab.paths import results_dir

    ref = json.loads((results_dir() / "part2" / "cpu" / "results.json").read_text())
    acc = {init: [r["test_accuracy"] for r in ref["runs"] if r["init"] == init] for init in ("pretrained", "random")}
    assert len(acc["pretrained"]) == len(acc["random"]) == 3
    for init, values in acc.items():
        assert ref["table"][init]["mean"] == pytest.approx(statistics.mean(values), abs=1e-3)
        assert ref["table"][init]["std"] == pytest.approx(statistics.stdev(values), abs=1e-3)
    assert ref["gap"] == pytest.approx(statistics.mean(acc["pretrained"]) - statistics.mean(acc["random"]), abs=1e-3)
    assert ref["gap"] > ref["table"]["random"]["std"], ref["table"]
    # the tensorboard events stored beside it hold the same best-valid selection
    stored = answer_keys.summarize_runs(results_dir() / "part2" / "cpu" / "tb").set_index("run")
    for r in ref["runs"]:
        assert stored.loc[r["run"], "test_accuracy"] == pytest.approx(r["test_accuracy"], abs=1e-3)
