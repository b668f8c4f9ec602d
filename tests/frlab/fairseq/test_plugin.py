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
    args = options.parse_args_and_arch(
        parser, [str(tmp_path), "--task", "masked_lm", "--arch", "roberta_small", "--user-dir", str(fairseq_user_dir())]
    )
    assert args.arch == "roberta_small"
    assert (args.encoder_layers, args.encoder_embed_dim, args.encoder_ffn_embed_dim) == (4, 512, 512)


def test_cli_parser_knows_the_bos_bow_criterion(tmp_path):
    from fairseq import options

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser,
        [
            str(tmp_path),
            "--task",
            "masked_lm",
            "--arch",
            "roberta_small",
            "--criterion",
            "masked_lm_bos_bow",
            "--bos-bow-weight",
            "3",
            "--user-dir",
            str(fairseq_user_dir()),
        ],
    )
    assert args.criterion == "masked_lm_bos_bow" and args.bos_bow_weight == 3.0


def _fairseq_train(*argv):
    from pathlib import Path

    exe = Path(sys.executable).with_name("fairseq-train")
    return subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=300)


def test_fairseq_train_cli_accepts_roberta_small_only_with_plugin(tmp_path):
    # with the plugin, a wrong name is rejected with the list of choices, which includes ours
    out = _fairseq_train(
        str(tmp_path), "--task", "masked_lm", "--arch", "roberta_smal", "--user-dir", str(fairseq_user_dir())
    )
    assert out.returncode != 0 and "invalid choice" in out.stderr
    assert "'roberta_small'" in out.stderr
    # without it, fairseq does not know the architecture
    out = _fairseq_train(str(tmp_path), "--task", "masked_lm", "--arch", "roberta_smal")
    assert "'roberta_small'" not in out.stderr


def _fake_checkpoint(path):
    history = [
        {
            "criterion_name": "MaskedLmLoss",
            "optimizer_name": "FairseqAdam",
            "lr_scheduler_state": {"best": 2.5},
            "num_updates": 10,
        }
    ]
    torch.save(
        {
            "args": argparse.Namespace(arch="roberta_small", lr=[1e-5]),
            "cfg": None,
            "model": {"w": torch.zeros(2)},
            "optimizer_history": history,
            "extra_state": {"epoch": 1, "val_loss": 2.5},
        },
        path,
    )


def test_checkpoint_with_namespace_loads_through_fairseq(tmp_path):
    from fairseq import checkpoint_utils

    import frlab.fairseq.frlab_plugin  # noqa: F401

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

    import frlab.fairseq.frlab_plugin  # noqa: F401

    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ
    assert argparse.Namespace in torch.serialization.get_safe_globals()


def test_plugin_import_is_idempotent():
    """fairseq refuses to register an architecture twice; importing the plugin again (fairseq's --user-dir
    import after ours, a notebook re-run) must keep the one registration, not raise."""
    import importlib

    from fairseq.models import ARCH_MODEL_REGISTRY, register_model_architecture

    import frlab.fairseq.frlab_plugin.roberta_small as mod

    before = ARCH_MODEL_REGISTRY["roberta_small"]
    importlib.reload(mod)
    importlib.reload(mod)
    assert ARCH_MODEL_REGISTRY["roberta_small"] is before
    with pytest.raises(ValueError, match="duplicate"):  # what the plugin's guard protects against
        register_model_architecture("roberta", "roberta_small")(lambda args: None)


def test_sinusoidal_position_init_keeps_the_architecture():
    import math

    from fairseq.tasks import TASK_REGISTRY

    import frlab.fairseq.frlab_plugin  # noqa: F401
    from frlab.fairseq.frlab_plugin.masked_lm_sinpos import init_positions_sinusoidal, sinusoidal_table
    from frlab.fairseq.models import build_roberta

    assert "masked_lm_sinpos" in TASK_REGISTRY
    model = build_roberta(encoder_embed_dim=128, encoder_attention_heads=4)
    names = {k: v.shape for k, v in model.state_dict().items()}
    emb = model.encoder.sentence_encoder.embed_positions
    init_positions_sinusoidal(model)
    assert {k: v.shape for k, v in model.state_dict().items()} == names  # same tensors, same shapes
    w = emb.weight.detach()
    assert torch.all(w[emb.padding_idx] == 0)  # the padding row stays zero
    first = emb.padding_idx + 1
    assert torch.allclose(w[first:], sinusoidal_table(w.shape[0] - first, 128))
    assert w[first, 0] == 0 and w[first, 1] == pytest.approx(0.02 * math.sqrt(2))  # sin(0), cos(0), scaled
    # neighbouring positions are similar, far ones less so: what random rows (std 0.02) do not give
    cos = torch.nn.functional.cosine_similarity
    assert cos(w[first + 10], w[first + 11], dim=0) > 0.9 > cos(w[first + 10], w[first + 100], dim=0)


def test_exported_checkpoint_is_a_plain_masked_lm_one(tmp_path):
    import frlab.fairseq.frlab_plugin  # noqa: F401
    from frlab.fairseq.pretrain import export_checkpoint

    ckpt = tmp_path / "checkpoint_last.pt"
    torch.save(
        {
            "cfg": {"task": {"_name": "masked_lm_sinpos"}, "model": argparse.Namespace(task="masked_lm_sinpos")},
            "model": {"w": torch.ones(2)},
            "last_optimizer_state": {"big": torch.zeros(3)},
        },
        ckpt,
    )
    export_checkpoint(ckpt, tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert state["cfg"]["task"]["_name"] == "masked_lm" and state["cfg"]["model"].task == "masked_lm"
    assert state["last_optimizer_state"] is None and torch.equal(state["model"]["w"], torch.ones(2))


def test_embedding_rescale_preserves_the_model_and_reaches_the_init_scale():
    """Pretraining grows the tied embeddings; storing them at 0.02 must not change what the model computes."""
    import frlab.fairseq.frlab_plugin  # noqa: F401
    from frlab.fairseq.models import build_roberta, make_dictionary
    from frlab.fairseq.pretrain import rescale_embeddings

    torch.manual_seed(0)
    d = make_dictionary(300)
    model = build_roberta(
        d, encoder_embed_dim=64, encoder_attention_heads=2, encoder_layers=2, encoder_ffn_embed_dim=128
    ).eval()
    enc = model.encoder.sentence_encoder
    with torch.no_grad():  # what pretraining does to them: about 6x the initial scale
        enc.embed_tokens.weight.mul_(6.0)
        enc.embed_positions.weight.mul_(6.0)
    x = torch.randint(4, len(d) - 1, (3, 20))
    x[:, 0] = d.bos()
    with torch.no_grad():
        logits, _ = model(x)
        feats, _ = model(x, features_only=True)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    c = rescale_embeddings(state, 0.02)
    assert 0.1 < c < 0.3
    model.load_state_dict(state)
    assert enc.embed_tokens.weight.std().item() == pytest.approx(0.02, rel=1e-3)
    assert model.encoder.lm_head.weight.data_ptr() == enc.embed_tokens.weight.data_ptr()  # still tied
    with torch.no_grad():
        logits2, _ = model(x)
        feats2, _ = model(x, features_only=True)
    assert (feats2 - feats).abs().max() < 0.05  # LayerNorm eps: tiny, not zero
    assert (logits2.log_softmax(-1) - logits.log_softmax(-1)).abs().max() < 0.05
    assert (logits2.argmax(-1) == logits.argmax(-1)).float().mean() > 0.95
    with pytest.raises(KeyError, match="missing"):
        rescale_embeddings({"w": torch.zeros(2)}, 0.02)


def _criterion_and_sample(weight: float):
    from types import SimpleNamespace

    from fairseq.criterions import CRITERION_REGISTRY

    import frlab.fairseq.frlab_plugin  # noqa: F401
    from frlab.fairseq.frlab_plugin.masked_lm_bos_bow import MaskedLmBosBowConfig
    from frlab.fairseq.models import build_roberta, make_dictionary

    d = make_dictionary(60)
    torch.manual_seed(0)
    dims = dict(encoder_embed_dim=32, encoder_attention_heads=2, encoder_ffn_embed_dim=64, encoder_layers=2)
    model = build_roberta(d, **dims, dropout=0.0, attention_dropout=0.0)
    model.eval()
    task = SimpleNamespace(source_dictionary=d, target_dictionary=d, mask_idx=d.index("<mask>"))
    crit = CRITERION_REGISTRY["masked_lm_bos_bow"](MaskedLmBosBowConfig(bos_bow_weight=weight), task)
    original = torch.tensor([[d.bos(), 10, 11, 11, 12, d.eos()], [d.bos(), 20, 20, 20, d.eos(), d.pad()]])
    src, target = original.clone(), torch.full_like(original, d.pad())
    for row, col in ((0, 2), (1, 1)):  # one masked piece per block
        src[row, col], target[row, col] = d.index("<mask>"), original[row, col]
    sample = {"net_input": {"src_tokens": src}, "target": target, "ntokens": 2, "nsentences": 2}
    return d, model, crit, sample


def test_bos_bow_criterion_adds_the_bag_of_words_of_each_block_at_bos():
    import torch.nn.functional as F

    from frlab.fairseq.frlab_plugin.masked_lm_bos_bow import bag_of_pieces

    d, model, crit, sample = _criterion_and_sample(weight=3.0)
    ignore = [d.pad(), d.bos(), d.eos(), d.unk(), d.index("<mask>")]
    bag = bag_of_pieces(torch.tensor([[d.bos(), 10, 11, 11, 12, d.eos()]]), len(d), ignore)
    assert bag[0, 11] == pytest.approx(0.5) and bag[0, 10] == pytest.approx(0.25) and bag[0, d.eos()] == 0

    loss, sample_size, log = crit(model, sample)
    assert sample_size == 2
    # recompute both parts by hand from the model's own outputs
    features = model(sample["net_input"]["src_tokens"], features_only=True)[0]
    masked = sample["target"].ne(d.pad())
    mlm = F.cross_entropy(model.encoder.lm_head(features, masked), sample["target"][masked], reduction="sum")
    logp = F.log_softmax(model.encoder.lm_head(features[:, 0, :]), dim=-1)
    bow = -(logp[0, 10] * 0.25 + logp[0, 11] * 0.5 + logp[0, 12] * 0.25) - logp[1, 20]  # pieces under the mask count
    assert log["mlm_loss"].item() == pytest.approx(mlm.item(), rel=1e-5)
    assert log["bow_loss"].item() == pytest.approx(bow.item(), rel=1e-5)
    assert loss.item() == pytest.approx(mlm.item() + 3.0 * bow.item(), rel=1e-5)

    # the point of it: plain MLM sends no gradient into the <s> output, this criterion does
    captured = {}

    def keep(module, inputs, output):
        output[0].retain_grad()
        captured["x"] = output[0]

    hook = model.encoder.register_forward_hook(keep)
    for weight, expect_grad in ((0.0, False), (3.0, True)):
        crit.bos_bow_weight = weight
        model.zero_grad()
        crit(model, sample)[0].backward()
        assert bool(captured["x"].grad[:, 0].abs().sum() > 0) == expect_grad
        assert captured["x"].grad[:, 1:].abs().sum() > 0  # the masked pieces always get one
    hook.remove()


def test_pretraining_command_uses_the_bos_bow_criterion_only_when_asked(tmp_path):
    from dataclasses import replace

    from frlab.fairseq.pretrain import CONFIGS, masked_lm_command

    plain = masked_lm_command(replace(CONFIGS["smoke"], bos_bow_weight=0.0), tmp_path, tmp_path, tmp_path)
    bow = masked_lm_command(replace(CONFIGS["smoke"], bos_bow_weight=8.0), tmp_path, tmp_path, tmp_path)
    assert plain[plain.index("--criterion") + 1] == "masked_lm" and "--bos-bow-weight" not in plain
    assert bow[bow.index("--criterion") + 1] == "masked_lm_bos_bow"
    assert bow[bow.index("--bos-bow-weight") + 1] == "8.0"


def test_exported_checkpoint_forgets_the_bos_bow_criterion(tmp_path):
    import frlab.fairseq.frlab_plugin  # noqa: F401
    from frlab.fairseq.pretrain import export_checkpoint

    ckpt = tmp_path / "checkpoint_last.pt"
    torch.save(
        {
            "cfg": {
                "task": {"_name": "masked_lm"},
                "criterion": {"_name": "masked_lm_bos_bow", "tpu": False, "bos_bow_weight": 8.0},
                "model": argparse.Namespace(task="masked_lm", criterion="masked_lm_bos_bow"),
            },
            "model": {"w": torch.ones(2)},
            "last_optimizer_state": None,
        },
        ckpt,
    )
    export_checkpoint(ckpt, tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert state["cfg"]["criterion"] == {"_name": "masked_lm", "tpu": False}
    assert state["cfg"]["model"].criterion == "masked_lm"
