"""Part 1 executes headless (smoke) and prints the right numbers; the main job runs it."""

import subprocess
import sys

import pytest

from autograder.chapters import read_source
from frlab.paths import REPO_ROOT
from labtools.execute import execute, outputs_text
from tests.chapters import has_image, printed

pytestmark = pytest.mark.slow


def test_part1_solution_executes_and_prints_counts():
    nb, seconds = execute(
        read_source(REPO_ROOT / "solutions" / "part1_parameter_counting.py"),
        env={"FRLAB_PROFILE": "smoke"},
        timeout=300,
    )
    text = outputs_text(nb)
    assert "frlab profile: smoke | device: cpu" in text
    assert printed(text, "(A) weights only:")[0] == 22_807_552
    assert printed(text, "(B) with biases and LayerNorm:")[0] == 22_829_056
    assert "model 22,807,552" in text and "model 22,829,056" in text
    assert printed(text, "RobertaModel(add_pooling_layer=False):")[0] == 22_829_568
    assert "tied to the token embeddings: True" in text
    assert has_image(nb), "the module-share plot is missing"
    print(f"part 1 smoke notebook: {seconds:.0f} s")  # reported, not asserted


def test_main_job_runs_part1(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "labtools.run_lab", "--parts", "1", "--profile", "smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "FRLAB_WORK": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "22,807,552" in out.stdout and "22,829,056" in out.stdout
    assert (tmp_path / "smoke" / "executed" / "part1_parameter_counting.ipynb").exists()
