"""The Colab rehearsal's pieces that run in seconds: reading Colab's package list, building the rehearsed notebook
from a commit. (The rehearsal itself takes tens of minutes: results/colab/rehearsal.json records its last run.)"""

import json
import os
from pathlib import Path

import pytest

from autograder import REPO_ROOT
from labtools import colab_rehearsal as cr

FREEZE = Path(os.environ.get("FRLAB_MIRROR", REPO_ROOT / ".." / "shared" / "data")) / "colab" / "pip-freeze.gpu.txt"


def test_colab_pins_read_a_pip_freeze(tmp_path):
    f = tmp_path / "freeze.txt"
    f.write_text(
        "# a comment\ntorch==2.11.0+cu128\nnumpy==2.1.3\nPyYAML==6.0.3\njupyter_client==7.4.9\n"
        "google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz\n-e git+https://x/y#egg=z\n"
    )
    assert cr.colab_pins(f) == {"torch": "2.11.0", "numpy": "2.1.3", "pyyaml": "6.0.3", "jupyter-client": "7.4.9"}


@pytest.mark.skipif(not FREEZE.exists(), reason="no mirror with colab/pip-freeze.gpu.txt")
def test_the_real_colab_list_has_every_package_the_rehearsal_installs():
    pins = cr.colab_pins(FREEZE)
    assert len(pins) > 600 and pins["torch"].startswith("2.") and pins["numpy"].startswith("2.")
    for p in cr.COLAB_PACKAGES:
        assert p.lower().replace("_", "-") in pins, p
    for absent in ("fairseq-fixed", "bitsandbytes", "hydra-core", "tbparse", "frlab"):
        assert absent not in pins  # what the install cell has to bring


def test_a_list_that_is_not_a_colab_freeze_is_refused(tmp_path):
    f = tmp_path / "freeze.txt"
    f.write_text("numpy==2.1.3\n")
    with pytest.raises(SystemExit, match="Colab pip freeze"):
        cr.base_runtime("python3", f, tmp_path / "rt")


def test_the_rehearsed_notebook_is_the_commits_install_cell_then_the_chapter(tmp_path):
    import nbformat

    commit = "HEAD"
    nb, install = cr.rehearsal_notebook("part1_parameter_counting", commit, tmp_path)
    committed = nbformat.reads(
        __import__("subprocess")
        .run(["git", "show", "HEAD:notebooks/part1_parameter_counting.ipynb"], cwd=REPO_ROOT, capture_output=True)
        .stdout.decode(),
        as_version=4,
    )
    cell = next(c for c in committed.cells if c.get("id") == "colab-install")
    assert install == cell.source and nb.cells[1].source == cell.source  # verbatim
    assert nb.cells[0].source == cr.PREAMBLE and "import numpy, torch, pandas, matplotlib" in cr.PREAMBLE
    assert "REHEARSAL-LOADED" in nb.cells[-1].source
    body = "\n".join(c.source for c in nb.cells[2:-1])
    assert "def count_parameters(" in body and "def count_on_model(" in body
    assert "raise NotImplementedError" not in body  # the chapter's answers, not the student stubs
    json.dumps(nb)  # a plain notebook
