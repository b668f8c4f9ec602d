"""Run records carry their profile; the grader checks them against the logs (issue: a real full-profile GPU run
whose fp16 loss scaler skipped one step ends at 999 updates and must still count as a whole full run)."""

from frlab import plausibility


def record(profile="full", planned=1000, done=1000, skipped=0, updates=None, width=512, run="pretrained_seed0"):
    r = {"run": run, "profile": profile, "planned_updates": planned, "done_updates": done, "hidden_size": width}
    return r | {"skipped_fp16_steps": skipped, "updates": done if updates is None else updates}


def test_a_full_run_that_skipped_one_fp16_step_is_a_whole_full_run():
    runs = [record(done=999, skipped=1, run=f"pretrained_seed{k}") for k in range(3)]
    assert plausibility.check_runs(runs, required="full") == ("full", [])


def test_a_run_stopped_early_is_not_plausible():
    profile, problems = plausibility.check_runs([record(done=600), record(run="random_seed0")], required="full")
    assert profile == "full" and problems == ["run pretrained_seed0 stopped after 600 of its 1000 updates"]


def test_smoke_runs_cannot_stand_for_the_course_profile():
    smoke = [record("smoke", planned=24, done=24, width=64)]
    assert plausibility.check_runs(smoke, required="smoke") == ("smoke", [])
    _, problems = plausibility.check_runs(smoke, required="full")
    assert problems == ["the runs were made with the smoke profile; this course grades full-profile runs"]
    assert plausibility.check_runs([record("cpu", width=128)], required="smoke")[1] == []  # larger is fine


def test_the_record_is_checked_against_the_logs_and_the_model():
    _, problems = plausibility.check_runs([record(updates=24)], required="smoke")  # record says 1000, logs 24
    assert problems == ["run pretrained_seed0: its record says 1000 updates, its logs end at update 24"]
    _, problems = plausibility.check_runs([record(width=128)], required="smoke")
    assert problems == ["run pretrained_seed0: a 128-wide model is not the course's (full profile)"]
    _, problems = plausibility.check_runs([record("cpu", planned=24, done=24, width=128)], required="smoke")
    assert problems == ["run pretrained_seed0: 24 updates planned, fewer than the whole train split gives"]


def test_mixed_and_old_records():
    assert plausibility.check_runs([record(), record("cpu", width=128, run="x")])[0] == "mixed"
    old = [{"updates": 1000, "hidden_size": 128}, {"updates": 1000, "hidden_size": 128}]  # no profile: guessed
    assert plausibility.check_runs(old, required="cpu") == ("cpu", [])
    assert plausibility.runs_profile([{"updates": 24}]) == "smoke"
