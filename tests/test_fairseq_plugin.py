"""The --user-dir plugin: architecture registration and checkpoint loading under torch >= 2.6."""

import argparse
import subprocess
import sys

import pytest
import torch

from frlab.paths import fairseq_user_dir


def test_cli_parser_knows_roberta_small(tmp_path):
    from fairseq import options

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [str(tmp_path), "--task", "masked_lm", "--arch", "roberta_small",
                                                "--user-dir", str(fairseq_user_dir())])
    assert args.arch == "roberta_small"
    assert (args.encoder_layers, args.encoder_embed_dim, args.encoder_ffn_embed_dim) == (4, 512, 512)


def _fairseq_train(*argv):
    from pathlib import Path

    exe = Path(sys.executable).with_name("fairseq-train")
    return subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=300)


def test_fairseq_train_cli_accepts_roberta_small_only_with_plugin(tmp_path):
    # with the plugin, a wrong name is rejected with the list of choices, which includes ours
    out = _fairseq_train(str(tmp_path), "--task", "masked_lm", "--arch", "roberta_smal",
                         "--user-dir", str(fairseq_user_dir()))
    assert out.returncode != 0 and "invalid choice" in out.stderr
    assert "'roberta_small'" in out.stderr
    # without it, fairseq does not know the architecture
    out = _fairseq_train(str(tmp_path), "--task", "masked_lm", "--arch", "roberta_smal")
    assert "'roberta_small'" not in out.stderr


def _fake_checkpoint(path):
    history = [{"criterion_name": "MaskedLmLoss", "optimizer_name": "FairseqAdam",
                "lr_scheduler_state": {"best": 2.5}, "num_updates": 10}]
    torch.save({"args": argparse.Namespace(arch="roberta_small", lr=[1e-5]), "cfg": None,
                "model": {"w": torch.zeros(2)}, "optimizer_history": history,
                "extra_state": {"epoch": 1, "val_loss": 2.5}}, path)


def test_checkpoint_with_namespace_loads_through_fairseq(tmp_path):
    import frlab.fairseq_plugin  # noqa: F401
    from fairseq import checkpoint_utils

    ckpt = tmp_path / "model.pt"
    _fake_checkpoint(ckpt)
    state = checkpoint_utils.load_checkpoint_to_cpu(str(ckpt))
    assert state["model"]["w"].shape == (2,)


def test_without_allow_list_torch_refuses_namespace(tmp_path):
    """Shows what the plugin fixes: a plain weights_only load fails on argparse.Namespace."""
    ckpt = tmp_path / "model.pt"
    _fake_checkpoint(ckpt)
    code = f"import torch; torch.load({str(ckpt)!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0 and "Namespace" in out.stderr


def test_plugin_does_not_use_global_switch():
    import os

    import frlab.fairseq_plugin  # noqa: F401

    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ
    assert argparse.Namespace in torch.serialization.get_safe_globals()


def test_plugin_import_is_idempotent():
    import importlib

    import frlab.fairseq_plugin.roberta_small as mod

    importlib.reload(mod)  # must not raise "Cannot register duplicate model architecture"
