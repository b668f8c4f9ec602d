"""Convert a fairseq RoBERTa checkpoint to Hugging Face (model + tokenizer).

transformers >= 4.48 ships no fairseq converter (and the old script no longer
works with fairseq 0.12), so the lab carries its own.  Three pieces:

* :func:`config_from_fairseq` – a :class:`~transformers.RobertaConfig` derived
  from the fairseq arguments (layers, sizes, heads, activation, LayerNorm eps,
  positions ``max_positions + pad + 1``, vocabulary = the fairseq dictionary
  *including* the ``<mask>`` that the masked_lm task appends, pad/bos/eos ids).
* :func:`map_state_dict` – an explicit name-by-name mapping of every tensor.  It
  raises :class:`UnmappedTensorError` when a Hugging Face parameter would be left
  without a fairseq source (it would otherwise be silently random-initialised)
  or when a fairseq encoder tensor is not used.  The only Hugging Face tensor
  without a fairseq counterpart is ``token_type_embeddings`` (RoBERTa has no
  segment embeddings): it is set to zeros *explicitly* and reported.
* :func:`build_tokenizer` – a fast tokenizer (``tokenizer.json``) built from
  the model's sentencepiece model whose ids are the fairseq dictionary's: the
  same ids as fairseq's ``spm encode -> Dictionary.encode_line`` pipeline, with
  ``<s> ... </s>`` around each text.

``convert(fairseq_dir, out_dir)`` does all three and saves with
``save_pretrained``; ``python -m frlab.hf.convert SRC OUT`` on the command
line.  :func:`hf_model_dir` returns the course's own converted model when the
``roberta-small-fr-hf`` asset is available and otherwise converts a fairseq
checkpoint (cached).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from frlab.paths import replaced_atomically

SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")  # fairseq Dictionary: ids 0, 1, 2, 3
MASK = "<mask>"
REPORT_FILE = "conversion_report.json"


class UnmappedTensorError(RuntimeError):
    """A tensor was left unmapped (HF side: would be random; fairseq side: would be lost)."""


class UnsupportedCheckpointError(ValueError):
    """The fairseq checkpoint uses a variant the Hugging Face RoBERTa cannot express."""


# --------------------------------------------------------------------------- loading
def _get(ns, key, default=None):
    if ns is None:
        return default
    if isinstance(ns, dict):
        return ns.get(key, default)
    return getattr(ns, key, default)


def load_fairseq_checkpoint(path: str | Path) -> tuple[dict, object]:
    """``(model_state_dict, model_args)`` of a fairseq checkpoint file (torch >= 2.6 safe)."""
    from fairseq import checkpoint_utils

    import frlab.fairseq.frlab_plugin  # noqa: F401  allow-lists the checkpoint's non-tensor types

    state = checkpoint_utils.load_checkpoint_to_cpu(str(path))
    cfg = state.get("cfg")
    model_args = _get(cfg, "model") if cfg is not None else state.get("args")
    if model_args is None:
        model_args = state.get("args")
    return state["model"], model_args


def load_fairseq_dictionary(dict_txt: str | Path):
    """The dictionary as the masked_lm / sentence_prediction tasks build it (``<mask>`` appended)."""
    from fairseq.data import Dictionary

    d = Dictionary.load(str(dict_txt))
    d.add_symbol(MASK)
    return d


# --------------------------------------------------------------------------- config
def config_from_fairseq(model_args, state_dict: dict, dictionary=None, num_labels: int | None = None):
    """A RobertaConfig equivalent to the fairseq model (checks the variants HF cannot express)."""
    from transformers import RobertaConfig

    sd = state_dict
    pre = "encoder.sentence_encoder."
    emb = sd[pre + "embed_tokens.weight"]
    vocab, hidden = emb.shape
    if dictionary is not None and len(dictionary) != vocab:
        raise UnsupportedCheckpointError(
            f"dictionary has {len(dictionary)} symbols (dict.txt + 4 specials + <mask>) but the embedding has {vocab} rows"
        )
    layers = sorted({int(k.split(".")[3]) for k in sd if k.startswith(pre + "layers.")})
    n_layers = len(layers)
    ffn = sd[pre + "layers.0.fc1.weight"].shape[0]
    heads = _get(model_args, "encoder_attention_heads")
    if heads is None:
        raise UnsupportedCheckpointError("cannot read encoder_attention_heads from the checkpoint arguments")
    if _get(model_args, "encoder_normalize_before", False):
        raise UnsupportedCheckpointError(
            "pre-LayerNorm encoder (encoder_normalize_before=True) has no HF RoBERTa equivalent"
        )
    if not _get(model_args, "no_scale_embedding", True):
        raise UnsupportedCheckpointError("scaled embeddings (no_scale_embedding=False) have no HF RoBERTa equivalent")
    if pre + "layernorm_embedding.weight" not in sd:
        raise UnsupportedCheckpointError(
            "no embedding LayerNorm (layernorm_embedding=False) has no HF RoBERTa equivalent"
        )
    if pre + "embed_positions.weight" not in sd:
        raise UnsupportedCheckpointError("sinusoidal positions have no HF RoBERTa equivalent (need learned positions)")
    n_pos = sd[pre + "embed_positions.weight"].shape[0]
    act = _get(model_args, "activation_fn", "gelu")
    act = {"gelu": "gelu", "relu": "relu", "gelu_accurate": "gelu_new", "tanh": "tanh"}.get(act)
    if act is None:
        raise UnsupportedCheckpointError(f"activation {_get(model_args, 'activation_fn')!r} unsupported")
    pad = dictionary.pad() if dictionary is not None else 1
    bos = dictionary.bos() if dictionary is not None else 0
    eos = dictionary.eos() if dictionary is not None else 2
    kw = {}
    if num_labels is not None:
        kw.update(num_labels=num_labels)
    head = _classification_head_name(sd)
    if head and num_labels is None:
        kw.update(num_labels=sd[f"classification_heads.{head}.out_proj.weight"].shape[0])
    tied = (
        "encoder.lm_head.weight" not in sd
        or sd["encoder.lm_head.weight"].data_ptr() == emb.data_ptr()
        or bool((sd["encoder.lm_head.weight"] == emb).all())
    )
    return RobertaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=n_layers,
        num_attention_heads=int(heads),
        intermediate_size=ffn,
        hidden_act=act,
        hidden_dropout_prob=float(_get(model_args, "dropout", 0.1)),
        attention_probs_dropout_prob=float(_get(model_args, "attention_dropout", 0.1)),
        max_position_embeddings=n_pos,  # fairseq: max_positions + padding_idx + 1 (256 + 2)
        type_vocab_size=1,
        layer_norm_eps=1e-5,  # fairseq LayerNorm default
        pad_token_id=pad,
        bos_token_id=bos,
        eos_token_id=eos,
        tie_word_embeddings=tied,
        classifier_dropout=float(_get(model_args, "pooler_dropout", 0.0) or 0.0),  # fairseq head: no dropout by default
        **kw,
    )


def _classification_head_name(sd: dict) -> str | None:
    names = sorted({k.split(".")[1] for k in sd if k.startswith("classification_heads.")})
    if len(names) > 1:
        raise UnsupportedCheckpointError(f"several classification heads {names}: convert one at a time")
    return names[0] if names else None


# --------------------------------------------------------------------------- weights
# fairseq names that carry no weight (buffers/version counters)
IGNORED_FAIRSEQ = (
    "encoder.sentence_encoder.version",
    "encoder.version",
    "encoder.sentence_encoder.embed_positions._float_tensor",
)
# HF tensors set explicitly because RoBERTa has no fairseq counterpart
SYNTHESISED_HF = ("roberta.embeddings.token_type_embeddings.weight",)


@dataclass
class MappingReport:
    mapped: dict = field(default_factory=dict)  # hf name -> fairseq name
    synthesised: list = field(default_factory=list)  # hf names set explicitly (zeros)
    ignored_fairseq: list = field(default_factory=list)  # fairseq buffers carrying no weight
    dropped_fairseq: list = field(
        default_factory=list
    )  # fairseq tensors not needed by the target class (e.g. MLM head for a classifier)
    new_hf: list = field(default_factory=list)  # hf tensors initialised on purpose (new classifier head)
    aliases: list = field(default_factory=list)  # spm pieces missing from dict.txt (rows = <unk>'s)

    def to_json(self) -> dict:
        return {
            "n_mapped": len(self.mapped),
            "mapped": self.mapped,
            "synthesised": self.synthesised,
            "ignored_fairseq": self.ignored_fairseq,
            "dropped_fairseq": self.dropped_fairseq,
            "new_hf": self.new_hf,
            "n_aliases": len(self.aliases),
            "aliases": self.aliases,
        }


def _layer_map(i: int) -> dict[str, str]:
    f = f"encoder.sentence_encoder.layers.{i}."
    h = f"roberta.encoder.layer.{i}."
    m = {}
    for fs, hs in [
        ("self_attn.q_proj", "attention.self.query"),
        ("self_attn.k_proj", "attention.self.key"),
        ("self_attn.v_proj", "attention.self.value"),
        ("self_attn.out_proj", "attention.output.dense"),
        ("self_attn_layer_norm", "attention.output.LayerNorm"),
        ("fc1", "intermediate.dense"),
        ("fc2", "output.dense"),
        ("final_layer_norm", "output.LayerNorm"),
    ]:
        for p in ("weight", "bias"):
            m[f"{h}{hs}.{p}"] = f"{f}{fs}.{p}"
    return m


def name_mapping(n_layers: int, head: str | None = None, *, mlm: bool = True, tied: bool = True) -> dict[str, str]:
    """hf tensor name -> fairseq tensor name."""
    e = "encoder.sentence_encoder."
    m = {
        "roberta.embeddings.word_embeddings.weight": e + "embed_tokens.weight",
        "roberta.embeddings.position_embeddings.weight": e + "embed_positions.weight",
        "roberta.embeddings.LayerNorm.weight": e + "layernorm_embedding.weight",
        "roberta.embeddings.LayerNorm.bias": e + "layernorm_embedding.bias",
    }
    for i in range(n_layers):
        m.update(_layer_map(i))
    if mlm:
        m.update(
            {
                "lm_head.dense.weight": "encoder.lm_head.dense.weight",
                "lm_head.dense.bias": "encoder.lm_head.dense.bias",
                "lm_head.layer_norm.weight": "encoder.lm_head.layer_norm.weight",
                "lm_head.layer_norm.bias": "encoder.lm_head.layer_norm.bias",
                "lm_head.bias": "encoder.lm_head.bias",
                "lm_head.decoder.bias": "encoder.lm_head.bias",
                "lm_head.decoder.weight": "encoder.lm_head.weight" if not tied else e + "embed_tokens.weight",
            }
        )
    if head:
        c = f"classification_heads.{head}."
        m.update(
            {
                "classifier.dense.weight": c + "dense.weight",
                "classifier.dense.bias": c + "dense.bias",
                "classifier.out_proj.weight": c + "out_proj.weight",
                "classifier.out_proj.bias": c + "out_proj.bias",
            }
        )
    return m


def map_state_dict(fairseq_sd: dict, hf_model, *, allow_new_classifier: bool = False) -> tuple[dict, MappingReport]:
    """Build the HF state dict of ``hf_model`` from ``fairseq_sd``; raise on anything unmapped.

    Every HF tensor must come from a fairseq tensor (except :data:`SYNTHESISED_HF`, set to zeros,
    and, with ``allow_new_classifier``, a classifier head absent from the checkpoint), and every
    fairseq *encoder* tensor must be used.
    """
    import torch

    import frlab.fairseq.frlab_plugin  # noqa: F401

    hf_sd = hf_model.state_dict()
    cfg = hf_model.config
    is_mlm = any(k.startswith("lm_head.") for k in hf_sd)
    is_cls = any(k.startswith("classifier.") for k in hf_sd)
    head = _classification_head_name(fairseq_sd) if is_cls else None
    mapping = name_mapping(cfg.num_hidden_layers, head, mlm=is_mlm, tied=cfg.tie_word_embeddings)
    report = MappingReport()
    out, problems = {}, []
    for hname, ref in hf_sd.items():
        if hname in SYNTHESISED_HF:
            out[hname] = torch.zeros_like(ref)
            report.synthesised.append(hname)
            continue
        src = mapping.get(hname)
        if src is None or src not in fairseq_sd:
            if is_cls and hname.startswith("classifier.") and allow_new_classifier and head is None:
                out[hname] = ref.clone()
                report.new_hf.append(hname)
                continue
            problems.append(f"HF tensor {hname} has no fairseq source" + (f" (expected {src})" if src else ""))
            continue
        t = fairseq_sd[src]
        if tuple(t.shape) != tuple(ref.shape):
            problems.append(f"shape mismatch {src} {tuple(t.shape)} -> {hname} {tuple(ref.shape)}")
            continue
        out[hname] = t.detach().to(ref.dtype).clone()
        report.mapped[hname] = src
    used = set(report.mapped.values())
    for fname in fairseq_sd:
        if fname in used:
            continue
        if fname in IGNORED_FAIRSEQ or fname.endswith("._float_tensor"):
            report.ignored_fairseq.append(fname)
        elif fname == "encoder.lm_head.weight" and cfg.tie_word_embeddings and is_mlm:
            report.ignored_fairseq.append(fname)  # tied to embed_tokens (checked equal in config_from_fairseq)
        elif not is_mlm and fname.startswith("encoder.lm_head."):
            report.dropped_fairseq.append(fname)  # the MLM head is not part of a classifier
        elif not is_cls and fname.startswith("classification_heads."):
            report.dropped_fairseq.append(fname)
        else:
            problems.append(f"fairseq tensor {fname} {tuple(fairseq_sd[fname].shape)} is not used")
    if problems:
        raise UnmappedTensorError("fairseq -> HF conversion left tensors unmapped:\n  " + "\n  ".join(problems))
    return out, report


def load_converted_weights(hf_model, state_dict: dict) -> None:
    """``load_state_dict(strict=True)`` and re-tie; raise if anything is missing or unexpected."""
    res = hf_model.load_state_dict(state_dict, strict=False)
    if res.missing_keys or res.unexpected_keys:
        raise UnmappedTensorError(f"load report: missing {res.missing_keys}, unexpected {res.unexpected_keys}")


# --------------------------------------------------------------------------- tokenizer
def _spm_proto(spm_path: str | Path):
    from sentencepiece import sentencepiece_model_pb2 as pb2

    m = pb2.ModelProto()
    m.ParseFromString(Path(spm_path).read_bytes())
    return m


def spm_pieces_missing_from_dict(spm_path: str | Path, dictionary) -> list[str]:
    """Sentencepiece pieces (in spm id order) that dict.txt lacks: fairseq maps them to ``<unk>``."""
    proto = _spm_proto(spm_path)
    return [p.piece for p in proto.pieces if p.type in (1, 4) and p.piece not in dictionary.indices]


def build_tokenizer(spm_path: str | Path, dictionary, model_max_length: int = 256):
    """A fast tokenizer with fairseq's ids: ``<s> + dict[spm pieces] + </s>``.

    Segmentation comes from the sentencepiece model (same normaliser, same Unigram scores or
    BPE merges, rebuilt as a ``tokenizers`` model); the vocabulary *ids* are the fairseq
    dictionary's.  Sentencepiece pieces that dict.txt lacks (e.g. BPE pieces that are always
    merged further in the pretraining corpus) are needed for the same segmentation, but fairseq
    maps them to ``<unk>``: they get *alias* ids after the dictionary (``len(dict) + j``), listed
    in ``tokenizer.frlab_aliases``; :func:`build_hf_model` gives their embedding rows a copy of
    ``<unk>``'s, so the model sees exactly what fairseq sees.  With a dict.txt that holds every
    piece (``spm_export_vocab``-style) there are no aliases and the ids are identical.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import BPE, Unigram
    from transformers import PreTrainedTokenizerFast

    proto = _spm_proto(spm_path)
    n = len(dictionary)
    symbols = [dictionary[i] for i in range(n)]
    spm_pieces = [(p.piece, p.score, p.type) for p in proto.pieces]
    spm_index = {p: i for i, (p, _, _) in enumerate(spm_pieces)}
    normal = {p for p, _, t in spm_pieces if t in (1, 4)}  # NORMAL, USER_DEFINED
    aliases = [p for p, _, t in spm_pieces if t in (1, 4) and p not in dictionary.indices]
    all_symbols = symbols + aliases
    model_type = proto.trainer_spec.model_type  # 1 unigram, 2 bpe
    unk_id = dictionary.unk()
    if model_type == 1:
        min_score = min(s for _, s, _ in spm_pieces) - 10.0
        vocab = []
        for i, sym in enumerate(all_symbols):
            if sym in normal:
                vocab.append((sym, spm_pieces[spm_index[sym]][1]))
            elif i < 4 or sym == MASK:
                vocab.append((sym, 0.0))
            else:  # a dict entry that is no sentencepiece piece: spm never produces it
                vocab.append((sym, min_score - 100.0))
        model = Unigram(vocab, unk_id=unk_id, byte_fallback=False)
    elif model_type == 2:
        vocab = {}
        for i, sym in enumerate(all_symbols):
            vocab.setdefault(sym, i)
        # merges in sentencepiece priority order: higher score first, then lower piece id
        merges = []
        for piece, score, t in spm_pieces:
            if t not in (1, 4):
                continue
            for k in range(1, len(piece)):
                left, right = piece[:k], piece[k:]
                if left in normal and right in normal:
                    merges.append((score, spm_index[piece], spm_index[left], left, right))
        merges.sort(key=lambda m: (-m[0], m[1], m[2]))
        model = BPE(
            vocab=vocab,
            merges=[(m[3], m[4]) for m in merges],
            unk_token=SPECIALS[3],
            fuse_unk=True,
            byte_fallback=False,
            dropout=None,
        )
    else:
        raise UnsupportedCheckpointError(f"sentencepiece model type {model_type} (need unigram or bpe)")
    tok = Tokenizer(model)
    norm = []
    if proto.normalizer_spec.precompiled_charsmap:
        norm.append(normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap))
    norm.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(norm)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.add_special_tokens(
        [AddedToken(s, special=True, normalized=False) for s in SPECIALS]
        + [AddedToken(MASK, special=True, normalized=False, lstrip=True)]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", dictionary.bos()), ("</s>", dictionary.eos())],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        mask_token=MASK,
        model_max_length=model_max_length,
    )
    fast.frlab_aliases = aliases
    return fast


def fairseq_encode(sp, dictionary, text: str) -> list[int]:
    """fairseq's pipeline (RobertaHubInterface.encode): spm pieces -> encode_line, with <s> ... </s>."""
    line = "<s> " + " ".join(sp.Encode(text, out_type=str)) + " </s>"
    return dictionary.encode_line(line, append_eos=False, add_if_not_exist=False).long().tolist()


def as_fairseq_ids(ids, fairseq_vocab_size: int, unk: int = 3) -> list[int]:
    """HF ids with alias ids (>= the fairseq vocabulary) mapped to ``<unk>``, as fairseq has them."""
    return [unk if i >= fairseq_vocab_size else int(i) for i in ids]


# --------------------------------------------------------------------------- conversion
def fairseq_files(fairseq_dir: str | Path, checkpoint_file: str = "model.pt") -> tuple[Path, Path, Path]:
    d = Path(fairseq_dir)
    files = (d / checkpoint_file, d / "dict.txt", d / "sentencepiece.bpe.model")
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(
                f"{f} missing: a fairseq model folder holds model.pt, dict.txt, sentencepiece.bpe.model"
            )
    return files


def build_hf_model(
    fairseq_dir: str | Path,
    *,
    num_labels: int | None = None,
    checkpoint_file: str = "model.pt",
    allow_new_classifier: bool = True,
):
    """``(hf_model, tokenizer, report)`` converted in memory.

    ``num_labels=None``: a RobertaForMaskedLM (the pretrained checkpoint, MLM head included).
    ``num_labels=k``: a RobertaForSequenceClassification; the fairseq classification head is mapped
    when the checkpoint has one, otherwise the head is new (reported in ``report.new_hf``).
    """
    from transformers import RobertaForMaskedLM, RobertaForSequenceClassification

    ckpt, dict_txt, spm = fairseq_files(fairseq_dir, checkpoint_file)
    sd, args = load_fairseq_checkpoint(ckpt)
    dictionary = load_fairseq_dictionary(dict_txt)
    has_head = _classification_head_name(sd) is not None
    cfg = config_from_fairseq(args, sd, dictionary, num_labels=num_labels)
    tok = build_tokenizer(spm, dictionary, model_max_length=cfg.max_position_embeddings - cfg.pad_token_id - 1)
    if tok.frlab_aliases:
        sd = add_alias_rows(sd, len(tok.frlab_aliases), dictionary.unk())
        cfg.vocab_size = sd["encoder.sentence_encoder.embed_tokens.weight"].shape[0]
    cfg.frlab_fairseq_vocab_size = len(dictionary)
    if num_labels is None and not has_head:
        model = RobertaForMaskedLM(cfg)
    else:
        model = RobertaForSequenceClassification(cfg)
    hf_sd, report = map_state_dict(sd, model, allow_new_classifier=allow_new_classifier)
    load_converted_weights(model, hf_sd)
    model.eval()
    report.aliases = list(tok.frlab_aliases)
    return model, tok, report


ALIAS_BIAS = -1.0e4  # MLM bias of alias rows: the HF head never predicts a piece fairseq cannot emit


def add_alias_rows(sd: dict, k: int, unk: int) -> dict:
    """Copy of ``sd`` with ``k`` extra vocabulary rows equal to ``<unk>``'s (see :func:`build_tokenizer`)."""
    import torch

    sd = dict(sd)
    emb_name = "encoder.sentence_encoder.embed_tokens.weight"
    emb = sd[emb_name]
    tied = "encoder.lm_head.weight" in sd and (
        sd["encoder.lm_head.weight"] is emb or bool((sd["encoder.lm_head.weight"] == emb).all())
    )
    sd[emb_name] = torch.cat([emb, emb[unk : unk + 1].expand(k, -1)])
    if "encoder.lm_head.weight" in sd:
        w = sd["encoder.lm_head.weight"]
        sd["encoder.lm_head.weight"] = sd[emb_name] if tied else torch.cat([w, w[unk : unk + 1].expand(k, -1)])
    if "encoder.lm_head.bias" in sd:
        b = sd["encoder.lm_head.bias"]
        sd["encoder.lm_head.bias"] = torch.cat([b, b.new_full((k,), ALIAS_BIAS)])
    return sd


def convert(
    fairseq_dir: str | Path, out_dir: str | Path, num_labels: int | None = None, checkpoint_file: str = "model.pt"
) -> Path:
    """Convert and ``save_pretrained`` model + tokenizer to ``out_dir`` (atomically); returns ``out_dir``."""
    model, tok, report = build_hf_model(fairseq_dir, num_labels=num_labels, checkpoint_file=checkpoint_file)
    out_dir = Path(out_dir)
    with replaced_atomically(out_dir) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        info = report.to_json()
        from frlab.assets import sha256_of

        info.update(
            source=str(Path(fairseq_dir).resolve()),
            checkpoint_file=checkpoint_file,
            source_sha256=sha256_of(Path(fairseq_dir) / checkpoint_file),
            hf_class=type(model).__name__,
        )
        (tmp / REPORT_FILE).write_text(json.dumps(info, indent=1))
    return out_dir


def hf_model_dir(
    fairseq_dir: str | Path | None = None, *, out_dir: str | Path | None = None, prefer_course_zip: bool | None = None
) -> Path:
    """A Hugging Face model folder for fine-tuning.

    The course's own converted model (asset ``roberta-small-fr-hf``) when it can be fetched
    (``prefer_course_zip``; default: only in the ``full`` profile, whose fairseq base model is the
    course checkpoint too -- the other profiles use our own smaller base models); otherwise ``fairseq_dir`` converted once into ``out_dir``
    (default ``<fairseq_dir>/hf``) and reused while it is newer than the checkpoint.
    """
    if prefer_course_zip is None:
        from frlab import profiles

        prefer_course_zip = profiles.resolve().is_full
    if prefer_course_zip:
        from frlab import assets

        try:
            return assets.fetch("roberta-small-fr-hf", allow_network=False, progress=False)
        except assets.AssetError:
            pass
    if fairseq_dir is None:
        raise FileNotFoundError("no course HF model and no fairseq_dir to convert")
    fairseq_dir = Path(fairseq_dir)
    out = Path(out_dir) if out_dir else fairseq_dir / "hf"
    ckpt = fairseq_dir / "model.pt"
    if (
        (out / REPORT_FILE).is_file()
        and (out / "config.json").is_file()
        and (out / REPORT_FILE).stat().st_mtime >= ckpt.stat().st_mtime
    ):
        return out
    return convert(fairseq_dir, out)


# --------------------------------------------------------------------------- fixtures
def make_random_checkpoint(
    out_dir: str | Path,
    texts: list[str],
    *,
    vocab_size: int = 1000,
    model_type: str = "bpe",
    arch: str = "roberta_small",
    seed: int = 0,
    full_dict: bool = True,
    **arch_overrides,
) -> Path:
    """A small fairseq model folder (random weights) laid out like the course zip, for tests.

    Trains a sentencepiece model on ``texts``, writes dict.txt the way fairseq-preprocess does
    (pieces of the encoded texts, by decreasing count; with ``full_dict`` the other sentencepiece
    pieces follow with count 0, as with ``--srcdict``), builds ``arch`` with random weights and
    saves a checkpoint that ``fairseq.checkpoint_utils`` (and RobertaModel.from_pretrained) load.
    """
    import collections

    import sentencepiece as spm
    import torch
    from fairseq import options

    import frlab.fairseq.frlab_plugin  # noqa: F401
    from frlab.paths import fairseq_user_dir

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(out / "sentencepiece.bpe"),
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
        normalization_rule_name="nmt_nfkc",
    )
    (out / "sentencepiece.bpe.vocab").unlink(missing_ok=True)
    sp = spm.SentencePieceProcessor(model_file=str(out / "sentencepiece.bpe.model"))
    counts = collections.Counter(p for t in texts for p in sp.Encode(t, out_type=str))
    lines = [f"{p} {c}" for p, c in counts.most_common()]
    if full_dict:
        lines += [
            f"{sp.id_to_piece(i)} 0"
            for i in range(sp.get_piece_size())
            if not sp.is_control(i) and not sp.is_unknown(i) and sp.id_to_piece(i) not in counts
        ]
    (out / "dict.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    corpus.unlink()
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser,
        input_args=[
            str(out),
            "--task",
            "masked_lm",
            "--arch",
            arch,
            "--criterion",
            "masked_lm",
            "--user-dir",
            str(fairseq_user_dir()),
            "--tokens-per-sample",
            "256",
            "--max-positions",
            "256",
            "--seed",
            str(seed),
        ]
        + [f"--{k.replace('_', '-')}={v}" for k, v in arch_overrides.items()],
    )
    from frlab.fairseq.models import build_roberta

    torch.manual_seed(seed)
    dictionary = load_fairseq_dictionary(out / "dict.txt")
    model = build_roberta(dictionary, arch=arch, **arch_overrides)
    with torch.no_grad():  # non-trivial LayerNorm/bias values so that a wrong mapping shows
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(convert_namespace_to_omegaconf(args), resolve=True, enum_to_str=True)
    state = {
        "args": None,
        "cfg": cfg,
        "model": model.state_dict(),
        "criterion": None,
        "optimizer_history": [
            {
                "criterion_name": "MaskedLmLoss",
                "optimizer_name": "FairseqAdam",
                "lr_scheduler_state": {"best": None},
                "num_updates": 0,
            }
        ],
        "task_state": {},
        "extra_state": {},
    }
    torch.save(state, out / "model.pt")  # the layout fairseq's Trainer.state_dict() writes
    return out


# --------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m frlab.hf.convert", description=__doc__.split("\n\n")[0])
    p.add_argument("src", help="fairseq model folder (model.pt, dict.txt, sentencepiece.bpe.model)")
    p.add_argument("out", help="output folder (save_pretrained layout)")
    p.add_argument("--num-labels", type=int, default=None, help="save a sequence classifier with this many labels")
    p.add_argument("--checkpoint-file", default="model.pt")
    a = p.parse_args(argv)
    out = convert(a.src, a.out, num_labels=a.num_labels, checkpoint_file=a.checkpoint_file)
    rep = json.loads((out / REPORT_FILE).read_text())
    print(f"converted {a.src} -> {out}: {rep['n_mapped']} tensors mapped, synthesised {rep['synthesised']}")
    print(f"new: {rep['new_hf']}; alias ids (spm pieces missing from dict.txt -> <unk> row): {rep['n_aliases']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
