"""Part 4 (QLoRA) plumbing: counts on the real bloom-560m config (meta device), LoRA target checks,
prompt format, compute-dtype choice, and the 4-bit path on the tiny smoke BLOOM."""

from unittest import mock

import pytest
import torch

from autograder import answer_keys
from frlab.lora import qlora


# --------------------------------------------------------------------------- bloom-560m counts (meta device)
def test_bloom_560m_config_matches_the_hub_model():
    cfg = qlora.bloom_560m_config()
    assert (cfg.vocab_size, cfg.hidden_size, cfg.n_layer, cfg.n_head) == (250880, 1024, 24, 16)
    model = qlora.meta_model(cfg)
    assert next(model.parameters()).device.type == "meta"
    # bigscience/bloom-560m has 559,214,592 parameters (LM head tied to the embeddings)
    assert sum(p.numel() for p in model.parameters()) == 559_214_592
    assert model.lm_head.weight is model.transformer.word_embeddings.weight


def test_lora_r16_on_query_key_value_trains_1572864_of_560787456():
    peft_model = qlora.meta_peft_model(lora_config=answer_keys.lora_config(r=16, target_modules=["query_key_value"]))
    trainable, total = answer_keys.count_parameters(peft_model)
    assert trainable == 1_572_864 == 24 * 16 * (1024 + 3 * 1024)
    assert total == 560_787_456
    assert f"{100 * trainable / total:.4f}" == "0.2805"
    assert len(qlora.assert_adapted(peft_model, ["query_key_value"], n_layers=24)) == 24


def test_naive_count_of_the_4bit_bloom_560m_undercounts():
    peft_model = qlora.meta_peft_model(answer_keys.lora_config())
    trainable, total = qlora.naive_4bit_count(peft_model)
    # 24 blocks x (qkv 3d^2 + dense d^2 + 2 x 4d^2 MLP) = 301,989,888 quantised weights, stored at half their count
    assert trainable == 1_572_864
    assert total == 560_787_456 - 301_989_888 // 2 == 409_792_512
    assert round(100 * trainable / total, 3) == 0.384


# --------------------------------------------------------------------------- LoRA targets fail loudly
def test_misspelled_target_module_fails_loudly():
    model = qlora.meta_model()
    with pytest.raises(qlora.TargetModuleError, match=r"'dense_4h_to_hh' matches no module.*dense_4h_to_h"):
        qlora.check_target_modules(model, ["query_key_value", "dense_4h_to_hh"])
    with pytest.raises(qlora.TargetModuleError, match="query_key_values"):
        qlora.check_target_modules(model, ["query_key_values"])
    assert len(qlora.check_target_modules(model, ["query_key_value"])["query_key_value"]) == 24


def test_peft_silently_ignores_a_partly_wrong_list_and_assert_adapted_catches_it():
    # peft accepts the list because one name matches: the misspelled one adapts nothing
    peft_model = qlora.meta_peft_model(
        lora_config=answer_keys.lora_config(target_modules=["query_key_value", "dense_4h_to_hh"])
    )
    names = qlora.adapted_module_names(peft_model)
    assert len(names) == 24 and all(n.endswith("self_attention.query_key_value") for n in names)
    with pytest.raises(qlora.TargetModuleError, match="no module named 'dense_4h_to_hh' was adapted"):
        qlora.assert_adapted(peft_model, ["query_key_value", "dense_4h_to_hh"], n_layers=24)
    # adapting only some blocks is caught too
    partial = qlora.meta_peft_model(
        lora_config=answer_keys.lora_config(target_modules=["h.0.self_attention.query_key_value"])
    )
    with pytest.raises(qlora.TargetModuleError, match="expected one per block"):
        qlora.assert_adapted(partial, ["query_key_value"], n_layers=24)


def test_a_single_string_target_is_refused():
    with pytest.raises(qlora.TargetModuleError, match="list"):
        qlora.check_target_modules(qlora.meta_model(), "query_key_value")


# --------------------------------------------------------------------------- prompt format
def test_prompt_format_is_exact():
    assert (
        answer_keys.format_prompt("Comment suivre mon colis ?", "Avec le lien de suivi.")
        == "<human>: Comment suivre mon colis ?\n<assistant>: Avec le lien de suivi."
    )
    assert (
        answer_keys.format_prompt("  Où est ma commande ?\n", "  En route. ")
        == "<human>: Où est ma commande ?\n<assistant>: En route."
    )
    assert answer_keys.format_prompt("Où est ma commande ?") == "<human>: Où est ma commande ?\n<assistant>:"


# --------------------------------------------------------------------------- compute dtype
@pytest.mark.parametrize(
    "cap, expected",
    [
        ((7, 5), torch.float16),
        ((7, 0), torch.float16),
        ((8, 0), torch.bfloat16),
        ((8, 9), torch.bfloat16),
        ((9, 0), torch.bfloat16),
    ],
)
def test_compute_dtype_from_capability(cap, expected):
    assert qlora.choose_compute_dtype("cuda", capability=cap) == expected


def test_compute_dtype_mocked_gpu_ignores_is_bf16_supported():
    with (
        mock.patch("torch.cuda.is_available", return_value=True),
        mock.patch("torch.cuda.is_bf16_supported", return_value=True),
        mock.patch("torch.cuda.get_device_capability", return_value=(7, 5)),
    ):
        dtype, why = qlora.choose_compute_dtype(explain=True)
        assert dtype == torch.float16 and "7.5" in why
    with (
        mock.patch("torch.cuda.is_available", return_value=True),
        mock.patch("torch.cuda.get_device_capability", return_value=(8, 0)),
    ):
        assert qlora.choose_compute_dtype() == torch.bfloat16
        assert answer_keys.bnb_config().bnb_4bit_compute_dtype == torch.bfloat16
    assert qlora.choose_compute_dtype("cpu") == torch.bfloat16


def test_bnb_config_fields():
    cfg = answer_keys.bnb_config(torch.float16)
    assert cfg.load_in_4bit and not cfg.load_in_8bit
    assert cfg.bnb_4bit_quant_type == "nf4" and cfg.bnb_4bit_use_double_quant is True
    assert cfg.bnb_4bit_compute_dtype == torch.float16


# --------------------------------------------------------------------------- loss helpers
def test_training_losses_and_plot(tmp_path):
    log = [{"loss": 3.0, "step": 5}, {"loss": 2.5, "step": 10}, {"train_runtime": 1.0, "step": 10}]
    assert qlora.training_losses(log) == [(5, 3.0), (10, 2.5)]
    qlora.plot_loss_curve(log, path=tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000


# --------------------------------------------------------------------------- 4-bit on CPU, tiny BLOOM
def _tiny_bloom(path):
    from transformers import BloomConfig, BloomForCausalLM

    torch.manual_seed(0)
    BloomForCausalLM(BloomConfig(vocab_size=512, hidden_size=64, n_layer=2, n_head=4)).save_pretrained(path)
    return path


def test_4bit_counts_on_a_real_quantised_model(tmp_path):
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    path = _tiny_bloom(tmp_path / "tiny")
    meta = qlora.meta_peft_model(answer_keys.lora_config(), config=AutoModelForCausalLM.from_pretrained(path).config)
    model = AutoModelForCausalLM.from_pretrained(
        path, quantization_config=answer_keys.bnb_config(torch.bfloat16), device_map={"": "cpu"}
    )
    qkv = model.transformer.h[0].self_attention.query_key_value
    assert type(qkv).__name__ == "Linear4bit" and qkv.weight.dtype == torch.uint8
    assert qkv.weight.numel() * 2 == 3 * 64 * 64  # two 4-bit codes per byte
    model = get_peft_model(prepare_model_for_kbit_training(model), answer_keys.lora_config())
    # the 4-bit-aware count equals the count of the same model unquantised; the naive one is smaller,
    # exactly as naive_4bit_count predicts from shapes alone
    assert answer_keys.count_parameters(model) == answer_keys.count_parameters(meta)
    assert qlora.naive_count(model) == qlora.naive_4bit_count(meta)
    assert qlora.naive_count(model)[1] < answer_keys.count_parameters(model)[1]
    trainable, total = answer_keys.count_parameters(model)
    assert trainable == 2 * 16 * (64 + 192)
    # peft agrees with the 4-bit aware count
    assert model.get_nb_trainable_parameters() == (trainable, total)


def test_cpu_4bit_training_after_generate(tmp_path):
    """bitsandbytes repacks 4-bit CPU weights for inference on the first eval forward; the work-around
    lets training continue after generation."""
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    path = _tiny_bloom(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(
        path, quantization_config=answer_keys.bnb_config(torch.bfloat16), device_map={"": "cpu"}
    )
    qlora.keep_cpu_4bit_trainable(model)
    model = get_peft_model(prepare_model_for_kbit_training(model), answer_keys.lora_config())
    x = torch.randint(4, 512, (2, 12))
    model.eval()
    with torch.no_grad():
        model.generate(input_ids=x, max_new_tokens=3, do_sample=False)
    model.train()
    loss = model(input_ids=x, labels=x).loss
    loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if "lora_B" in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


def test_resolve_base_model_per_profile(tmp_path, monkeypatch):
    from frlab import profiles

    calls = []
    monkeypatch.setattr(qlora, "build_smoke_model", lambda *a, **k: calls.append("smoke") or tmp_path)
    monkeypatch.setattr("frlab.assets.fetch", lambda name, **k: calls.append(name) or tmp_path)
    for name in ("smoke", "cpu", "full"):
        qlora.resolve_base_model(profiles.Profile(name=name, device="cpu"))
    assert calls == ["smoke", "smoke", "bloom-560m"]


def test_a_llama_style_target_list_is_refused_with_blooms_module_names():
    """Llama's q_proj/v_proj do not exist in BLOOM: the run stops at once and says what BLOOM has."""
    with pytest.raises(qlora.TargetModuleError) as err:
        qlora.check_target_modules(qlora.meta_model(), ["q_proj", "k_proj", "v_proj", "o_proj"])
    message = str(err.value)
    assert "'q_proj' matches no module" in message and "'o_proj' matches no module" in message
    for bloom in ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"):
        assert bloom in message
