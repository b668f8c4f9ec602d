"""The generated execution page: the stored field records (Colab rehearsal, full-size rehearsal, GPU checks),
and what it says when one is missing or failed."""

import json

from labtools.book import execution_page as ep


def test_missing_records_are_named_with_the_command_that_makes_them(tmp_path):
    text = ep.page_text(tmp_path)
    assert "```{nb-exec-table}" in text
    for cmd in ("python -m labtools.colab_rehearsal", "python -m labtools.full_rehearsal", "make gpu-check"):
        assert f"`{cmd}` makes it" in text


def test_a_rehearsal_record_becomes_a_table_and_a_failure_is_shown(tmp_path):
    (tmp_path / "colab").mkdir()
    rec = {
        "date": "2026-12-03 20:00 UTC",
        "commit": "abc123",
        "machine": "x86_64, 2 cores, no GPU",
        "total_seconds": 1200,
        "runtime": {"python": "3.13.0", "installed_from_freeze": {"torch": "2.11.0", "numpy": "2.1.3"}},
        "notebooks": [
            {
                "notebook": "notebooks/part1_parameter_counting.ipynb",
                "status": "ok",
                "install_seconds": 300.5,
                "seconds": 320,
                "restart_asked": False,
                "install_printed": ["frlab set-up: building fairseq-fixed==0.12.3.1 ...", "frlab set-up: done"],
                "loaded": {"numpy": "2.1.3", "torch": "2.11.0+cu130"},
            },
            {
                "notebook": "notebooks/part2_fairseq_finetuning.ipynb",
                "status": "failed",
                "error": "ImportError: cannot import name 'x' from /root/w/work/cpu/y",
                "restart_asked": True,
                "loaded": None,
            },
        ],
    }
    (tmp_path / "colab" / "rehearsal.json").write_text(json.dumps(rec))
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "2026-12-04-h200.json").write_text(json.dumps({"gpu": "H200", "minutes": 8.2}))
    text = ep.page_text(tmp_path)
    assert "**1 of 2 notebooks ok**, 20.0 min in all" in text
    assert "| notebooks/part1_parameter_counting.ipynb | ok | 300.5 | no | 320 |" in text
    # versions: a package per row, a notebook per column ("–" where the failed notebook has none)
    assert "| package | Part 1 | Part 2 |" in text
    assert "| torch | 2.11.0+cu130 | – |" in text and "| numpy | 2.1.3 | – |" in text
    assert "| notebooks/part2_fairseq_finetuning.ipynb | failed |" in text and "| yes |" in text
    assert "frlab set-up: building fairseq-fixed==0.12.3.1" in text
    assert "failed: `ImportError: cannot import name 'x' from work/cpu/y`" in text  # machine paths made relative
    assert "results/gpu/2026-12-04-h200.json" in text and "H200" in text
    assert "python -m labtools.colab_rehearsal` makes it" not in text


def test_the_page_in_the_book_is_the_generated_one():
    assert ep.PAGE.read_text(encoding="utf-8") == ep.page_text()


def test_records_holding_answers_never_put_them_on_the_page(tmp_path):
    """The stored records are runs of the solutions: they hold the exercises' answers (parameter counts,
    trainable parameters). The page says whether they were the expected ones and shows none of them, whatever
    record they come from (a GPU check's JSON is rendered as it is)."""
    from autograder import leaks

    answers = sorted(v for v, origin in leaks.secrets().numbers.items() if "answer list" in origin)
    assert len(answers) >= 3
    rec = {
        "run": {
            "command": "python -m labtools.run_lab --profile full",
            "exit_status": 0,
            "seconds": 1800,
            "chapters": {"part1_parameter_counting": {"status": "ok", "seconds": 30}},
        },
        "part1": {"ok": True, "counts_from_model_pt": {"a": answers[0]}, "expected": {"a": answers[0]}},
        "part4": {"ok": False, "trainable_total_on_the_loaded_model": {"trainable": answers[-1]}},
        "grading": {"part1_parameter_counting": {"auto_score": 8.0, "auto_max": 8.0, "seconds": 9}},
        "provenance": {"git": "abc123", "date_utc": "2026-12-03 20:53"},
    }
    (tmp_path / "full-rehearsal.json").write_text(json.dumps(rec))
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "2026-12-04-h200.json").write_text(
        json.dumps({"gpu": "H200", "provenance": {"note": f"counted {answers[0]:,} and {answers[-1]}"}})
    )
    text = ep.page_text(tmp_path)
    assert leaks.check_text(text, leaks.secrets(), "execution page") == []
    assert ep.WITHHELD in text  # the GPU record's values, replaced
    assert "| part1_parameter_counting | ok | 0.5 min | 8.0 / 8.0 | 9 |" in text
    assert "printed by the chapter, are the expected ones | yes |" in text
    assert "LoRA adapters are the expected ones; its linear layers are `?` | **no** |" in text


def test_a_gpu_check_is_shown_as_a_summary(tmp_path):
    """A GPU check's record (the shape ``labtools.gpu_check.record`` writes) is summarised: chapters, times, whether
    the checks held, the accuracies and the loss curve's ends; not its commands or paths."""
    from labtools import gpu_check

    run = {
        "command": "python -m labtools.run_lab --profile full --timeout 3600",
        "exit_status": 0,
        "seconds": 270,
        "chapters": {
            "part1_parameter_counting": {"status": "ok", "seconds": 23.2},
            "part4_qlora": {"status": "FAILED", "seconds": 88},
        },
    }
    figures = {
        "part2": {
            "runs": {"pretrained_seed0": {"command": "fairseq-train /root/w/data-bin --restore-file /root/x.pt"}},
            "diff_against_the_gpu_command": {"pretrained_seed0": []},
            "test_accuracy": {"pretrained_seed0": 55.8},
        },
        "part3": {"runs": {"pretrained_seed0": {"test_accuracy": 50.0}}, "only_the_cap_differs": True},
        "part4": {"ok": False, "layer_type": ["Linear4bit"], "loss_curve": [[5, 12.69], [10, 12.5], [15, 12.61]]},
    }
    rec = gpu_check.record(
        "NVIDIA H200", gpu_check.plan(10), run, figures, 294, {"models": "stand-ins with random weights"}
    )
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "2026-12-04-nvidia-h200.json").write_text(json.dumps(rec))
    text = ep.page_text(tmp_path)
    section = text[text.index("## On a GPU") :]
    assert "### NVIDIA H200: `results/gpu/2026-12-04-nvidia-h200.json`" in section
    assert "| part1_parameter_counting | ok | 0.4 min |" in section and "| part4_qlora | FAILED | 1.5 min |" in section
    assert "`--fp16`) | yes |" in section and "only by the step cap | yes |" in section
    assert "its linear layers are `Linear4bit` | **no** |" in section
    assert "| Part 2 | pretrained_seed0 | 55.8 |" in section and "| Part 3 | pretrained_seed0 | 50.0 |" in section
    assert "12.69 at step 5, 12.61 at step 15 (lowest 12.50)" in section
    assert "not the models" in section  # stand-ins say what their numbers mean
    assert "--restore-file" not in section and "/root/" not in section
