"""The full rehearsal's stand-ins are served as the real assets would be, and ``make gpu-check``'s plan, record and
refusal without a GPU (the check itself needs one)."""

from __future__ import annotations

import json
import time
import zipfile

import pytest

from frlab import assets
from labtools import full_rehearsal as fr
from labtools import gpu_check, standins


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    monkeypatch.setenv("FRLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(assets.MIRROR_ENV, raising=False)
    return tmp_path


def test_the_course_zip_standin_has_the_zips_layout_and_is_served_by_the_mirror(no_env):
    tmp = no_env
    files = {"model.pt": b"weights", "dict.txt": b"le 10\n", "sentencepiece.bpe.model": b"spm"}
    zip_path = standins.write_course_zip(tmp / "mirror" / "RoBERTa_small_fr.zip", files)
    assert zip_path.name == assets.load_manifest()["roberta-small-fr-fairseq"].archive
    with zipfile.ZipFile(zip_path) as zf:
        assert sorted(zf.namelist()) == sorted(f"RoBERTa_small_fr/{f}" for f in files)
    folder = assets.fetch("roberta-small-fr-fairseq", mirror=tmp / "mirror", allow_network=False, progress=False)
    assert {f: (folder / f).read_bytes() for f in files} == files
    assert f"archive {zip_path}" in (folder / assets.COMPLETE_MARKER).read_text()


def test_the_command_diff_names_what_differs():
    cpu = ["data-bin", "--seed", "0", "--cpu"]
    assert fr._token_diff(cpu, ["data-bin", "--seed", "0", "--fp16"]) == ["replace: --cpu -> --fp16"]
    assert fr._token_diff(cpu, cpu) == []
    assert fr._token_diff(cpu, [*cpu, "--max-update", "5"]) == ["insert: - -> --max-update 5"]


def test_the_rehearsal_environment(tmp_path):
    env = fr.rehearsal_env(tmp_path, 7)
    assert env["FRLAB_PROFILE"] == "full" and env["FRLAB_MAX_UPDATES"] == "7" and env["FRLAB_SEEDS"] == "1"
    assert env["FRLAB_MIRROR"] == str(tmp_path / "mirror") and env["FRLAB_CACHE"] == str(tmp_path / "cache")
    assert env["HF_HUB_OFFLINE"] == "1"


def test_the_rehearsal_refuses_bad_input(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("FRLAB_MIRROR", raising=False)
    assert fr.main(["--build-only"]) == 2
    assert "FRLAB_MIRROR" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        fr.main(["--max-updates", "0"])


# --------------------------------------------------------------------------- make gpu-check
def test_the_plan_fits_the_budget_and_caps_only_when_needed():
    p = gpu_check.plan(10)
    assert p["seeds"] == 1 and p["estimated_minutes"] <= 10 * gpu_check.MARGIN
    cap = p["max_updates"]
    assert cap is not None and 1 <= cap < 1000
    assert gpu_check.estimate(cap + 1) > 10 * 60 * gpu_check.MARGIN  # the largest cap that fits
    assert gpu_check.plan(600)["max_updates"] is None  # whole runs fit: no cap
    fast = {k: v / 100 for k, v in gpu_check.SECONDS_PER_UPDATE.items()}
    assert gpu_check.plan(10, rates=fast)["max_updates"] is None
    with pytest.raises(ValueError, match="fixed costs"):
        gpu_check.plan(1)
    with pytest.raises(ValueError):
        gpu_check.plan(0)


def test_the_estimate_grows_with_the_cap_and_stops_at_the_whole_runs():
    assert gpu_check.estimate(10) < gpu_check.estimate(100) < gpu_check.estimate(1000) == gpu_check.estimate(None)
    assert gpu_check.estimate(5000) == gpu_check.estimate(None)


def test_the_record_and_its_file_name(tmp_path):
    when = time.strptime("2026-12-03", "%Y-%m-%d")
    assert gpu_check.out_path("NVIDIA H200", when, tmp_path).name == "2026-12-03-nvidia-h200.json"
    assert gpu_check.out_path("Tesla T4 (16 GB)", when, tmp_path).name == "2026-12-03-tesla-t4-16-gb.json"
    run = {"exit_status": 0, "chapters": {"part1_parameter_counting": {"status": "ok", "seconds": 12.0}}}
    figures = {
        "part2": {"test_accuracy": {"pretrained_seed0": 80.1, "random_seed0": 66.0}},
        "part3": {"runs": {"pretrained_seed0": {"test_accuracy": 81.0}}},
        "part4": {"loss_curve": [[5, 2.1], [10, 1.7]], "trainable_total_on_the_loaded_model": {"trainable": 1}},
    }
    rec = gpu_check.record("NVIDIA H200", gpu_check.plan(10), run, figures, 300.0)
    json.dumps(rec)  # writable as it is
    assert rec["minutes"] == 5.0 and rec["chapter_seconds"] == {"part1_parameter_counting": 12.0}
    assert rec["part2_test_accuracy"]["pretrained_seed0"] == 80.1
    assert rec["part3_test_accuracy"] == {"pretrained_seed0": 81.0}
    assert rec["part4_loss_curve"] == [[5, 2.1], [10, 1.7]] and rec["gpu"] == "NVIDIA H200"


def test_gpu_check_refuses_without_a_gpu(monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "gpu_name", lambda: None)
    called = []
    monkeypatch.setattr(fr, "run_chapters", lambda *a, **k: called.append(a))
    assert gpu_check.main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err and not called
    assert gpu_check.main(["--plan-only"]) == 0
    with pytest.raises(SystemExit):
        gpu_check.main(["--max-updates", "-1"])


def test_a_seed_rebuilds_the_course_zip_without_carrying_its_weights(no_env):
    """The stand-ins travel to a machine without network as a seed: the checkpoint's structure without its tensors.
    Rebuilt, it is a checkpoint of the same parameters that fairseq loads through the mirror as the course zip."""
    import torch

    from frlab.fairseq.models import load_roberta_hub
    from frlab.paths import REPO_ROOT

    tmp = no_env
    src = REPO_ROOT / "assets" / "roberta-small-fr-cpu"  # a real fairseq checkpoint (the shipped base model)
    sizes = standins.write_seed(src, None, tmp / "seed")
    skeleton = tmp / "seed" / standins.SEED_COURSE / standins.SKELETON
    assert sizes[f"{standins.SEED_COURSE}/{standins.SKELETON}"] < (src / "model.pt").stat().st_size / 20
    assert not list((tmp / "seed").glob(f"{standins.SEED_BLOOM_TOKENIZER}/*"))
    standins.course_zip_from_seed(tmp / "seed", tmp / "mirror" / "RoBERTa_small_fr.zip")
    folder = assets.fetch("roberta-small-fr-fairseq", mirror=tmp / "mirror", allow_network=False, progress=False)
    rebuilt = dict(load_roberta_hub(folder).model.named_parameters())
    original = dict(load_roberta_hub(src).model.named_parameters())
    assert {n: p.shape for n, p in rebuilt.items()} == {n: p.shape for n, p in original.items()}
    assert all(torch.equal(p, torch.ones_like(p)) for n, p in rebuilt.items() if "layer_norm.weight" in n)
    assert all(not p.any() for n, p in rebuilt.items() if n.endswith("bias"))
    weights = [p for n, p in rebuilt.items() if n.endswith("embed_tokens.weight")]
    assert weights and 0.015 < float(weights[0].std()) < 0.025  # random, N(0, 0.02): not the original's
    assert not torch.equal(weights[0], original["encoder.sentence_encoder.embed_tokens.weight"])
    assert skeleton.read_bytes().count(b"__frlab_shape__") > 0
