"""Part 2 executes headless in the smoke profile (toy pretraining included) and a rerun reuses the runs."""

import json
import re

import pytest

from autograder.chapters import read_source
from frlab.paths import REPO_ROOT
from labtools.execute import execute, outputs_text
from tests.chapters import has_image

pytestmark = pytest.mark.slow

SOURCE = REPO_ROOT / "solutions" / "part2_fairseq_finetuning.py"
RUNS = [f"{init}_seed{s}" for init in ("pretrained", "random") for s in (0, 1, 2)]


@pytest.fixture(scope="module")
def smoke_env(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("part2")
    return {
        "FRLAB_PROFILE": "smoke",
        "FRLAB_MIRROR": str(shared_data),
        "FRLAB_WORK": str(root / "work"),
        "FRLAB_CACHE": str(root / "cache"),
    }, root


@pytest.fixture(scope="module")
def first_execution(smoke_env):
    env, root = smoke_env
    (root / "nb").mkdir()
    nb, seconds = execute(read_source(SOURCE), env=env, cwd=root / "nb", timeout=600)
    return nb, seconds, root


def test_smoke_notebook_trains_six_runs_with_readable_accuracies(first_execution):
    nb, seconds, root = first_execution
    text = outputs_text(nb)
    assert "frlab profile: smoke | device: cpu" in text
    base = root / "work" / "smoke" / "base-model"
    for f in ("model.pt", "dict.txt", "sentencepiece.bpe.model", "pretrain.json"):
        assert (base / f).is_file(), f
    assert json.loads((base / "pretrain.json").read_text())["updates"] > 0
    # fairseq command lines are shown and every run trained with live progress
    assert "--task sentence_prediction" in text and "--restore-file /nonexistent/" in text and "--lr 0.0001" in text
    assert "train_inner" in text and "valid on 'test' subset" in text
    for run in RUNS:
        assert f"{run}: trained" in text
        marker = root / "work" / "smoke" / "part2" / "runs" / run / "run.json"
        assert marker.is_file()
        assert (root / "nb" / "part2_runs" / run / "tb" / "valid").is_dir()  # submission copy
    # the results table: real accuracies in [0, 100] for both inits, a gap line
    from autograder import answer_keys

    summary = answer_keys.summarize_runs(root / "work" / "smoke" / "part2" / "runs")
    assert list(summary["run"]) == RUNS
    assert summary["test_accuracy"].between(0, 100).all() and summary["valid_accuracy"].between(0, 100).all()
    assert re.search(r"gap \(pretrained - random\): [+-]\d+\.\d\d points", text)
    assert has_image(nb), "the valid-accuracy curves are missing"
    assert seconds < 600


def test_runs_are_made_with_the_chapters_commands(first_execution):
    # what the chapter ran (its exercises' answers) is what labtools.chapter_code lifts for the reference producers
    from frlab.fairseq import finetune as ff
    from labtools.chapter_code import part2_train_command

    _, _, root = first_execution
    work = root / "work" / "smoke"
    n_train = ff.count_lines(work / "part2" / "text" / "train.label")
    arch = ff.model_arch_args(work / "base-model")
    for init, restore in (("pretrained", work / "base-model" / "model.pt"), ("random", ff.RANDOM_INIT_RESTORE)):
        run_dir = work / "part2" / "runs" / f"{init}_seed1"
        ran = json.loads((run_dir / "run.json").read_text())["command"]
        lifted = part2_train_command(
            work / "part2" / "data-bin", run_dir, restore, 1, ff.hyperparameters("smoke"), arch, n_train, "smoke"
        )
        assert ran == lifted, init


def test_rerun_reuses_finished_runs(first_execution, smoke_env):
    _, first_seconds, root = first_execution
    env, _ = smoke_env
    nb, seconds = execute(read_source(SOURCE), env=env, cwd=root / "nb", timeout=600)
    text = outputs_text(nb)
    for run in RUNS:
        assert f"{run}: reused" in text
    assert "train_inner" not in text
    assert seconds < first_seconds
