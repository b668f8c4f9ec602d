"""The ``roberta_small`` architecture (RoBERTa_small_fr)."""

from fairseq.models import ARCH_MODEL_REGISTRY, register_model_architecture
from fairseq.models.roberta.model import base_architecture

ROBERTA_SMALL = dict(encoder_layers=4, encoder_embed_dim=512, encoder_ffn_embed_dim=512, encoder_attention_heads=8)


def roberta_small_architecture(args):
    for key, value in ROBERTA_SMALL.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    base_architecture(args)


if "roberta_small" not in ARCH_MODEL_REGISTRY:  # importing twice must not fail
    register_model_architecture("roberta", "roberta_small")(roberta_small_architecture)
