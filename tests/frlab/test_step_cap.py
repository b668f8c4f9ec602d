"""The step cap FRLAB_MAX_UPDATES: read where the profile is resolved, shown in the banner, applied by the library
where runs start (fairseq --max-update, the Trainer's max_steps), recorded in the runs' records, and never mistaken
for a profile's results by the plausibility check."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest

from frlab import plausibility, profiles
from frlab.fairseq import finetune as ff
from frlab.hf import finetune as hf_finetune


@pytest.fixture
def env(monkeypatch):
    for var in (profiles.ENV_VAR, profiles.SEEDS_VAR, profiles.MAX_UPDATES_VAR):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(profiles.ENV_VAR, "full")
    profiles.activate(None)
    yield monkeypatch
    profiles.activate(None)


def test_the_cap_is_read_with_the_profile_and_shown_in_the_banner(env, capsys):
    assert profiles.current().max_updates is None
    assert "STEP CAP" not in profiles.current().describe()
    env.setenv(profiles.MAX_UPDATES_VAR, "25")
    prof = profiles.banner()
    assert prof.max_updates == 25 and prof.name == "full"
    assert "STEP CAP: at most 25 updates" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["0", "-3", "ten", "2.5"])
def test_a_bad_cap_is_refused_with_the_variable_named(env, bad):
    env.setenv(profiles.MAX_UPDATES_VAR, bad)
    with pytest.raises(profiles.ProfileError, match=profiles.MAX_UPDATES_VAR):
        profiles.current()


def test_capped():
    free = profiles.Profile("full", "cpu")
    capped = profiles.Profile("full", "cpu", max_updates=10)
    assert free.capped(1000) == 1000 and free.capped(None) is None
    assert capped.capped(1000) == 10 and capped.capped(4) == 4
    assert capped.capped(None) == 10 and capped.capped(-1) == 10  # "until the end of the epochs"


def _fake_train(tmp_path, max_update: int = 1000) -> list[str]:
    """A stand-in for fairseq-train: prints its arguments and the updates it would reach (the last --max-update)."""
    script = tmp_path / "fake_train.py"
    script.write_text(
        "import sys\n"
        "a = sys.argv[1:]\n"
        "n = [a[i + 1] for i, x in enumerate(a) if x == '--max-update'][-1]\n"
        "print('ARGS', ' '.join(a))\n"
        "print(f'epoch 001 | num_updates {n} | done training')\n"
    )
    return [sys.executable, str(script), "--restore-file", ff.RANDOM_INIT_RESTORE, "--max-update", str(max_update)]


def test_fairseq_runs_stop_at_the_cap_and_record_it(tmp_path):
    cmd = _fake_train(tmp_path)
    prof = profiles.Profile("full", "cpu", max_updates=7)
    info = ff.run_training(cmd, tmp_path / "random_seed0", init="random", profile=prof, verbose=False)
    log = (tmp_path / "random_seed0" / "train.log").read_text()
    assert "--max-update 1000 --max-update 7" in log  # the chapter's command, then the cap (the last one wins)
    assert info["command"] == cmd and info["executed_command"] == [*cmd, "--max-update", "7"]
    assert (info["planned_updates"], info["max_updates_cap"], info["done_updates"]) == (1000, 7, 7)
    # the same command without the cap is another run: not reused
    uncapped = profiles.Profile("full", "cpu")
    info2 = ff.run_training(cmd, tmp_path / "random_seed0", init="random", profile=uncapped, verbose=False)
    assert info2["reused"] is False and info2["max_updates_cap"] is None and "executed_command" not in info2
    assert info2["done_updates"] == 1000


def test_a_run_shorter_than_the_cap_is_left_alone(tmp_path):
    cmd = _fake_train(tmp_path, max_update=5)
    info = ff.run_training(
        cmd, tmp_path / "r", init="random", profile=profiles.Profile("smoke", "cpu", max_updates=50), verbose=False
    )
    assert info["max_updates_cap"] is None and "executed_command" not in info and info["done_updates"] == 5


def test_the_trainer_gets_max_steps_from_the_cap(env, monkeypatch, tmp_path):
    from transformers import TrainingArguments

    monkeypatch.setattr(hf_finetune, "count_train_reviews", lambda profile=None: 1600)

    def args():
        return TrainingArguments(
            output_dir=str(tmp_path), per_device_train_batch_size=8, num_train_epochs=5, report_to=[]
        )

    assert hf_finetune.planned_steps(args(), 1600) == 1000
    assert hf_finetune.one_device(args(), profiles.Profile("full", "cpu")).max_steps == -1  # no cap: as planned
    assert hf_finetune.one_device(args(), profiles.Profile("full", "cpu", max_updates=12)).max_steps == 12
    assert hf_finetune.one_device(args(), profiles.Profile("full", "cpu", max_updates=5000)).max_steps == -1


def _records(cap, done):
    return [
        {
            "run": f"{init}_seed0",
            "profile": "full",
            "planned_updates": 1000,
            "done_updates": done,
            "updates": done,
            "hidden_size": 512,
            "max_updates_cap": cap,
        }
        for init in ("pretrained", "random")
    ]


def test_capped_runs_are_accepted_only_by_the_rehearsal_that_made_them(env):
    env.setenv(profiles.MAX_UPDATES_VAR, "10")
    profile, problems = plausibility.check_runs(_records(10, 10), required="full")
    assert problems == [] and "capped at 10" in profile
    assert plausibility.fairseq_bands(profile) is None and plausibility.hf_band(profile) is None  # not judged
    _, problems = plausibility.check_runs(_records(10, 4), required="full")
    assert any("stopped after 4 of its 10 updates" in p for p in problems)
    env.delenv(profiles.MAX_UPDATES_VAR)  # a course grading real runs: capped ones are refused
    profile, problems = plausibility.check_runs(_records(10, 10), required="full")
    assert any("step cap at 10 updates" in p for p in problems), problems
    env.setenv(profiles.MAX_UPDATES_VAR, "20")  # another cap than theirs
    assert plausibility.check_runs(_records(10, 10), required="full")[1]


def test_uncapped_runs_are_judged_as_before(env):
    profile, problems = plausibility.check_runs(_records(None, 1000), required="full")
    assert profile == "full" and problems == []
    profile, problems = plausibility.check_runs(_records(None, 10), required="full")
    assert any("stopped after 10 of its 1000 updates" in p for p in problems)


def test_hf_record_states_the_cap(env, tmp_path):
    env.setenv(profiles.MAX_UPDATES_VAR, "3")
    state = SimpleNamespace(
        max_steps=3,
        global_step=3,
        best_global_step=3,
        log_history=[{"step": 3, "eval_accuracy": 0.5}, {"train_runtime": 1.0}],
        save_to_json=lambda p: (tmp_path / "trainer_state.json").write_text(
            json.dumps({"log_history": [{"step": 3, "eval_accuracy": 0.5}]})
        ),
    )
    trainer = SimpleNamespace(
        state=state,
        train_dataset=[0] * 1600,
        model=SimpleNamespace(config=SimpleNamespace(hidden_size=512)),
        args=SimpleNamespace(
            seed=0,
            per_device_train_batch_size=8,
            gradient_accumulation_steps=1,
            num_train_epochs=5,
            n_gpu=0,
            world_size=1,
            to_dict=lambda: {},
        ),
    )
    info = hf_finetune.record_run(trainer, tmp_path, {"test_accuracy": 0.5}, model_dir=tmp_path, seconds=1.0)
    assert (info["planned_updates"], info["max_updates_cap"], info["done_updates"]) == (1000, 3, 3)
