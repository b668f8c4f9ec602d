"""Build and load fairseq RoBERTa models without the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import frlab.fairseq.frlab_plugin  # noqa: F401  registers roberta_small + checkpoint allow-list

COURSE_DICT_SYMBOLS = 31995  # entries of RoBERTa_small_fr's dict.txt


def make_dictionary(n_symbols: int = COURSE_DICT_SYMBOLS, add_mask: bool = True):
    """A fairseq Dictionary like the course's: 4 specials + ``n_symbols`` (+ ``<mask>``)."""
    from fairseq.data import Dictionary

    d = Dictionary()
    for i in range(n_symbols):
        d.add_symbol(f"tok{i}")
    if add_mask:
        d.add_symbol("<mask>")  # what the masked_lm / sentence_prediction tasks do at load time
    return d


def roberta_args(arch: str = "roberta_small", max_positions: int = 256, **overrides) -> argparse.Namespace:
    """The fairseq argument namespace of ``arch`` with the defaults of its architecture function."""
    from fairseq.models import ARCH_CONFIG_REGISTRY

    args = argparse.Namespace(max_positions=max_positions, tokens_per_sample=max_positions, **overrides)
    ARCH_CONFIG_REGISTRY[arch](args)
    return args


def build_roberta(dictionary=None, arch: str = "roberta_small", **overrides):
    """A randomly initialised fairseq ``RobertaModel`` (no download): for counting and tests."""
    from fairseq.models.roberta import RobertaModel

    dictionary = dictionary if dictionary is not None else make_dictionary()
    args = roberta_args(arch, **overrides)
    task = SimpleNamespace(source_dictionary=dictionary, target_dictionary=dictionary)
    return RobertaModel.build_model(args, task)


def load_roberta_hub(model_dir: str | Path, checkpoint_file: str = "model.pt", **kwargs):
    """Load a checkpoint laid out like the course's zip (model.pt, dict.txt, sentencepiece.bpe.model)."""
    from fairseq.models.roberta import RobertaModel

    model_dir = Path(model_dir)
    if not (model_dir / checkpoint_file).is_file():
        raise FileNotFoundError(f"no fairseq checkpoint {model_dir / checkpoint_file}")
    spm = model_dir / "sentencepiece.bpe.model"
    extra = dict(bpe="sentencepiece", sentencepiece_model=str(spm)) if spm.exists() else {}
    extra.update(kwargs)
    return RobertaModel.from_pretrained(
        str(model_dir),
        checkpoint_file=checkpoint_file,
        user_dir=str(Path(frlab.fairseq.frlab_plugin.__file__).parent),
        **extra,
    )
