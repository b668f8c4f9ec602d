"""Part 1 numbers on the real models: fail if the architecture changes."""

import pytest

from frlab.fairseq.models import build_roberta, make_dictionary, roberta_args

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _is_ln(name):
    return "layer_norm" in name or "layernorm" in name


@pytest.fixture(scope="module")
def encoder():
    return build_roberta(make_dictionary(31995)).encoder.sentence_encoder


def test_roberta_small_architecture_is_the_course_one():
    args = roberta_args("roberta_small")
    assert (args.encoder_layers, args.encoder_embed_dim, args.encoder_ffn_embed_dim, args.encoder_attention_heads) == (
        4,
        512,
        512,
        8,
    )
    assert args.max_positions == 256


def test_dictionary_gets_mask_symbol():
    d = make_dictionary(31995)
    assert len(d) == 32000 and d.index("<mask>") == 31999
    assert len(make_dictionary(31996)) == 32001


def test_fairseq_counts(encoder):
    weights = sum(p.numel() for n, p in encoder.named_parameters() if n.endswith(".weight") and not _is_ln(n))
    trainable = sum(p.numel() for p in encoder.parameters())
    assert weights == 22_807_552
    assert trainable == 22_829_056
    assert encoder.embed_positions.weight.shape == (258, 512)
    assert encoder.embed_tokens.weight.shape == (32000, 512)


def test_lm_head_is_tied_and_adds_dense_ln_bias():
    model = build_roberta(make_dictionary(31995))
    head = model.encoder.lm_head
    assert head.weight is model.encoder.sentence_encoder.embed_tokens.weight
    extra = sum(p.numel() for n, p in head.named_parameters() if n != "weight")
    assert extra == 512 * 512 + 512 + 2 * 512 + 32000


def test_hf_roberta_model_count():
    from transformers import RobertaConfig, RobertaModel

    size = dict(vocab_size=32000, hidden_size=512, num_hidden_layers=4, num_attention_heads=8, intermediate_size=512)
    cfg = RobertaConfig(**size, max_position_embeddings=258, type_vocab_size=1, pad_token_id=1)
    model = RobertaModel(cfg, add_pooling_layer=False)
    assert sum(p.numel() for p in model.parameters()) == 22_829_568


def test_other_sizes_follow_the_formula():
    V, T, d, ff, L = 1000, 64, 32, 48, 3
    dims = dict(encoder_layers=L, encoder_embed_dim=d, encoder_ffn_embed_dim=ff, encoder_attention_heads=2)
    enc = build_roberta(make_dictionary(V - 5), **dims, max_positions=T).encoder.sentence_encoder
    weights = sum(p.numel() for n, p in enc.named_parameters() if n.endswith(".weight") and not _is_ln(n))
    assert weights == V * d + (T + 2) * d + L * (4 * d * d + 2 * d * ff)
    assert sum(p.numel() for p in enc.parameters()) == weights + L * (4 * d + ff + d + 4 * d) + 2 * d
