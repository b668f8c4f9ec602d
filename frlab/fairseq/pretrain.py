"""Where the base model comes from: the MLM pretraining recipe of a fairseq ``roberta_small``.

The course checkpoint RoBERTa_small_fr (4 layers, dim 512, 32k sentencepiece
vocabulary, MLM on French mC4) comes from a share link that may be gone.  This
module rebuilds *such* a checkpoint from a French corpus, in four steps that the
book chapter "Where the base model comes from" explains:

1. train a sentencepiece model on the corpus (``sentencepiece.bpe.model``);
2. write the fairseq dictionary from its vocabulary (``dict.txt``);
3. encode the corpus into pieces and binarise it with ``fairseq-preprocess``;
4. pretrain with ``fairseq-train --task masked_lm --arch roberta_small`` (+ size
   overrides per profile; the ``smoke``/``cpu`` profiles add a bag-of-words loss at ``<s>``,
   ``--criterion masked_lm_bos_bow``, so that the vector the classifier reads is trained too).

The output folder is laid out like the course's zip -- ``model.pt``,
``dict.txt``, ``sentencepiece.bpe.model`` -- plus ``pretrain.json``
(configuration, measured throughput, final loss, provenance), so every later
chapter can use either one unchanged.

Command line::

    python -m frlab.fairseq.pretrain --profile smoke|cpu|full --out DIR

:func:`base_model_dir` returns the base model every chapter uses for a profile.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import random
import re
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from frlab import profiles
from frlab.paths import fairseq_user_dir, work_dir
from frlab.runs import hardware, preprocess_command, run_logged, tool_env, tool_path

MODEL_FILES = ("model.pt", "dict.txt", "sentencepiece.bpe.model")
INFO_FILE = "pretrain.json"
# fairseq's dictionary adds <s>, <pad>, </s>, <unk> itself: keep sentencepiece's ids 0-2 for them
SPM_SPECIAL_IDS = dict(unk_id=0, bos_id=1, eos_id=2, pad_id=-1)


class BaseModelError(RuntimeError):
    """The base model of a profile is not available; the message says how to get it."""


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class PretrainConfig:
    """Everything that defines a pretraining run (stored in ``pretrain.json``)."""

    profile: str
    # corpus
    corpus_lines: int | None  # sentences sampled from fr-corpus (None: all of it)
    valid_lines: int = 2000
    task_adaptive_copies: int = 0  # copies of the CLS-Books *train* review texts mixed in (no labels)
    # tokenizer
    vocab_size: int = 32000
    spm_model_type: str = "unigram"
    spm_train_lines: int = 300_000
    # model (roberta_small = 4 layers, 512, ffn 512, 8 heads)
    encoder_layers: int = 4
    encoder_embed_dim: int = 512
    encoder_ffn_embed_dim: int = 512
    encoder_attention_heads: int = 8
    max_positions: int = 256
    tokens_per_sample: int = 256
    # optimisation
    batch_size: int = 16
    update_freq: int = 1
    lr: float = 5e-4
    warmup_updates: int = 200
    max_update: int = 2000
    stop_minutes: float | None = None  # wall-clock budget (fairseq --stop-time-hours)
    weight_decay: float = 0.01
    dropout: float = 0.1
    mask_prob: float = 0.15  # fraction of the pieces masked (and predicted) per block
    sample_break_mode: str = "none"  # none: pack pieces into full blocks; complete: whole sentences per block
    sinusoidal_positions: bool = False  # start the learned position table from sinusoids (masked_lm_sinpos)
    embedding_std: float | None = None  # store token+position embeddings at this scale (function-preserving)
    bos_bow_weight: float = 0.0  # > 0: --criterion masked_lm_bos_bow, <s> predicts its block's bag of pieces
    seed: int = 1
    threads: int | None = None
    log_interval: int = 10
    save_interval_updates: int = 250

    def arch_overrides(self) -> list[str]:
        return [
            "--encoder-layers",
            str(self.encoder_layers),
            "--encoder-embed-dim",
            str(self.encoder_embed_dim),
            "--encoder-ffn-embed-dim",
            str(self.encoder_ffn_embed_dim),
            "--encoder-attention-heads",
            str(self.encoder_attention_heads),
        ]


# The profiles side by side, a field per row: (smoke, cpu, full); the other fields keep their defaults above.
# - smoke: minutes on a 2-core CPU: a toy model whose only job is to exercise every step;
# - cpu: the CPU reference (results/part2/cpu): ~1 h on one core; chosen by measurement, see book/pretraining.md;
# - full: the real size on a GPU (the course's architecture and vocabulary).
PROFILE_VALUES = {
    # corpus
    "corpus_lines": (20_000, 600_000, None),
    "valid_lines": (500, 2000, 5000),
    "task_adaptive_copies": (1, 30, 0),
    # tokenizer
    "vocab_size": (2000, 8000, 32000),
    "spm_train_lines": (20_000, 300_000, 1_000_000),
    # model
    "encoder_layers": (2, 4, 4),
    "encoder_embed_dim": (64, 128, 512),
    "encoder_ffn_embed_dim": (128, 512, 512),
    "encoder_attention_heads": (2, 4, 8),
    "tokens_per_sample": (128, 128, 256),
    # optimisation
    "batch_size": (16, 16, 64),
    "update_freq": (1, 1, 2),
    "lr": (1e-3, 2e-3, 5e-4),
    "warmup_updates": (30, 200, 1000),
    "max_update": (300, 13_000, 30000),
    "stop_minutes": (4, 58, None),
    "dropout": (0.1, 0.0, 0.1),
    "mask_prob": (0.15, 0.3, 0.15),
    "sinusoidal_positions": (False, True, False),
    "embedding_std": (0.02, 0.02, None),
    "bos_bow_weight": (8.0, 8.0, 0.0),
    "threads": (1, 1, None),
    "log_interval": (10, 50, 100),
    "save_interval_updates": (1000, 500, 2000),
}
CONFIGS = {
    name: PretrainConfig(profile=name, **{field: values[i] for field, values in PROFILE_VALUES.items()})
    for i, name in enumerate(("smoke", "cpu", "full"))
}


def config_for(profile: profiles.Profile | str | None = None, **overrides) -> PretrainConfig:
    name = profiles.resolve(profile).name
    return replace(CONFIGS[name], **overrides)


# --------------------------------------------------------------------------- steps
def build_corpus(cfg: PretrainConfig, work: Path) -> tuple[Path, Path]:
    """Sample ``cfg.corpus_lines`` sentences of fr-corpus (shuffled: the files are ordered by book),
    add ``cfg.task_adaptive_copies`` copies of the CLS-Books train review texts, split off valid."""
    from frlab.assets import fetch

    train_txt, valid_txt = work / "corpus.train.txt", work / "corpus.valid.txt"
    if train_txt.exists() and valid_txt.exists():
        return train_txt, valid_txt
    src = fetch("fr-corpus", progress=False)
    lines: list[str] = []
    for name in ("gutenberg_fr.txt", "assemblee_nationale_fr.txt", "libretheatre_fr.txt"):
        with open(src / name, encoding="utf-8") as f:
            lines.extend(line.strip() for line in f if line.strip())
    rng = random.Random(cfg.seed)
    rng.shuffle(lines)
    valid = lines[: cfg.valid_lines]
    train = lines[cfg.valid_lines :]
    if cfg.corpus_lines is not None:
        train = train[: cfg.corpus_lines]
    if cfg.task_adaptive_copies:
        reviews = (fetch("cls-books", progress=False) / "train.review").read_text(encoding="utf-8").splitlines()
        train = train + [r for r in reviews if r.strip()] * cfg.task_adaptive_copies
        rng.shuffle(train)
    for path, rows in ((train_txt, train), (valid_txt, valid)):
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(rows) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    return train_txt, valid_txt


def train_sentencepiece(cfg: PretrainConfig, train_txt: Path, work: Path) -> Path:
    """Step 1: the sentencepiece model (``sentencepiece.bpe.model``, the course's file name)."""
    import sentencepiece as spm

    model = work / "sentencepiece.bpe.model"
    if model.exists():
        return model
    prefix = work / "spm_tmp"
    spm.SentencePieceTrainer.train(
        input=str(train_txt),
        model_prefix=str(prefix),
        vocab_size=cfg.vocab_size,
        model_type=cfg.spm_model_type,
        character_coverage=0.9995,
        input_sentence_size=cfg.spm_train_lines,
        shuffle_input_sentence=True,
        **SPM_SPECIAL_IDS,
        num_threads=os.cpu_count() or 1,
        minloglevel=2,
    )
    os.replace(prefix.with_suffix(".model"), model)
    prefix.with_suffix(".vocab").unlink(missing_ok=True)
    return model


def encode_file(
    spm_model: Path | str, src: Path, dst: Path, counts: Counter | None = None, max_pieces: int | None = None
) -> Path:
    """Encode a text file line by line into space-separated sentencepiece pieces."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    tmp = dst.with_suffix(dst.suffix + ".tmp")
    with open(src, encoding="utf-8") as fin, open(tmp, "w", encoding="utf-8") as fout:
        batch: list[str] = []

        def flush():
            for pieces in sp.encode(batch, out_type=str):
                if max_pieces is not None:
                    pieces = pieces[:max_pieces]
                if counts is not None:
                    counts.update(pieces)
                fout.write(" ".join(pieces) + "\n")
            batch.clear()

        for line in fin:
            batch.append(line.rstrip("\n"))
            if len(batch) >= 5000:
                flush()
        flush()
    os.replace(tmp, dst)
    return dst


def write_dictionary(spm_model: Path, counts: Counter, dst: Path) -> Path:
    """Step 2: fairseq ``dict.txt``: one ``piece count`` line per sentencepiece piece, in
    sentencepiece order (fairseq prepends <s> <pad> </s> <unk> and appends <mask> itself)."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    rows = []
    for i in range(sp.get_piece_size()):
        if sp.is_control(i) or sp.is_unknown(i):
            continue
        piece = sp.id_to_piece(i)
        rows.append(f"{piece} {max(counts.get(piece, 0), 1)}")
    dst.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return dst


def binarise(dict_txt: Path, train_spm: Path, valid_spm: Path, dest: Path, log: Path) -> Path:
    """Step 3: ``fairseq-preprocess --only-source`` with our dictionary."""
    if (dest / "train.bin").exists() and (dest / "valid.bin").exists():
        return dest
    prefixes = {"train": train_spm, "valid": valid_spm}
    cmd = preprocess_command(prefixes, dest, srcdict=dict_txt, workers=min(2, os.cpu_count() or 1))
    run_logged(cmd, log, echo=False)
    return dest


def criterion_args(cfg: PretrainConfig) -> list[str]:
    """``masked_lm``, or ``masked_lm_bos_bow`` (MLM + bag of words at ``<s>``) when ``bos_bow_weight > 0``."""
    if cfg.bos_bow_weight > 0:
        return ["--criterion", "masked_lm_bos_bow", "--bos-bow-weight", str(cfg.bos_bow_weight)]
    return ["--criterion", "masked_lm"]


def masked_lm_command(cfg: PretrainConfig, data_bin: Path, save_dir: Path, tb_dir: Path) -> list[str]:
    """Step 4: the ``fairseq-train --task masked_lm`` command line."""
    cmd = [
        tool_path("fairseq-train"),
        str(data_bin),
        "--user-dir",
        str(fairseq_user_dir()),
        "--task",
        "masked_lm_sinpos" if cfg.sinusoidal_positions else "masked_lm",
        *criterion_args(cfg),
        "--arch",
        "roberta_small",
        *cfg.arch_overrides(),
        "--sample-break-mode",
        cfg.sample_break_mode,
        "--tokens-per-sample",
        str(cfg.tokens_per_sample),
        "--mask-prob",
        str(cfg.mask_prob),
        "--max-positions",
        str(cfg.max_positions),
        "--optimizer",
        "adam",
        "--adam-betas",
        "(0.9,0.98)",
        "--adam-eps",
        "1e-6",
        "--clip-norm",
        "0.0",
        "--lr-scheduler",
        "polynomial_decay",
        "--lr",
        str(cfg.lr),
        "--warmup-updates",
        str(cfg.warmup_updates),
        "--total-num-update",
        str(cfg.max_update),
        "--max-update",
        str(cfg.max_update),
        "--dropout",
        str(cfg.dropout),
        "--attention-dropout",
        str(cfg.dropout),
        "--weight-decay",
        str(cfg.weight_decay),
        "--batch-size",
        str(cfg.batch_size),
        "--update-freq",
        str(cfg.update_freq),
        "--seed",
        str(cfg.seed),
        "--save-dir",
        str(save_dir),
        "--tensorboard-logdir",
        str(tb_dir),
        "--log-format",
        "simple",
        "--log-interval",
        str(cfg.log_interval),
        "--save-interval-updates",
        str(cfg.save_interval_updates),
        "--keep-interval-updates",
        "1",
        "--no-epoch-checkpoints",
        "--num-workers",
        "0",
        "--skip-invalid-size-inputs-valid-test",
        "--distributed-world-size",  # one GPU: fairseq 0.12 would otherwise run DDP on every GPU it sees
        "1",
    ]
    if cfg.sample_break_mode != "none":  # a line longer than a block is cut to it (else it would overflow)
        cmd += ["--shorten-method", "truncate", "--shorten-data-split-list", "train,valid"]
    if cfg.stop_minutes:
        cmd += ["--stop-time-hours", f"{cfg.stop_minutes / 60:.4f}"]
    import torch

    if torch.cuda.is_available():
        cmd += ["--fp16"]
    else:
        cmd += ["--cpu"]
    return cmd


def _number(line: str, *patterns: str, default=None):
    """The number captured by the first of ``patterns`` found in ``line``, else ``default``."""
    for pattern in patterns:
        m = re.search(pattern, line)
        if m:
            return float(m.group(1))
    return default


def parse_train_log(log: Path) -> dict:
    """Last training loss (base 2), mean tokens/s and updates from a fairseq simple-format log."""
    loss, wps, updates, valid_loss, bow, valid_bow = None, [], 0, None, None, None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if "| train_inner |" in line:  # fields written "name=value"
            # with masked_lm_bos_bow, loss = MLM + weighted bag of words: report the MLM part apart
            loss = _number(line, r"\bmlm_loss=([\d.]+)", r"\bloss=([\d.]+)", default=loss)
            bow = _number(line, r"\bbow_loss=([\d.]+)", default=bow)
            w = _number(line, r"\bwps=([\d.]+)")
            if w is not None:
                wps.append(w)
            updates = int(_number(line, r"num_updates=(\d+)", default=updates))
        elif "| valid |" in line:  # fields written "| name value"
            valid_loss = _number(line, r"\| mlm_loss ([\d.]+)", r"\| loss ([\d.]+)", default=valid_loss)
            valid_bow = _number(line, r"\| bow_loss ([\d.]+)", default=valid_bow)
            updates = max(updates, int(_number(line, r"num_updates (\d+)", default=updates)))
    wps = wps[1:] or wps  # the first interval includes start-up
    out = {
        "train_loss_base2": loss,
        "valid_loss_base2": valid_loss,
        "updates": updates,
        "tokens_per_second": round(sum(wps) / len(wps), 1) if wps else None,
    }
    if bow is not None or valid_bow is not None:
        out.update(train_bow_loss_base2=bow, valid_bow_loss_base2=valid_bow)
    return out


EMBEDDINGS = ("encoder.sentence_encoder.embed_tokens.weight", "encoder.sentence_encoder.embed_positions.weight")
TIED_LM_HEAD = "encoder.lm_head.weight"
LM_HEAD_NORM = ("encoder.lm_head.layer_norm.weight", "encoder.lm_head.layer_norm.bias")


def rescale_embeddings(model_state: dict, target_std: float) -> float:
    """Bring the token embeddings of a fairseq RoBERTa state dict to standard deviation ``target_std``
    without changing what the model computes; returns the factor applied.

    Pretraining grows the token embeddings far above their initial scale (0.02): they are tied to the MLM
    output layer, whose logits need a large scale. Adam moves every weight by about the learning rate per
    step whatever its size, so at fine-tuning's lr 1e-5 large embeddings barely move *relative to their
    size*, while a random initialisation (0.02) moves several times more. The encoder starts with
    ``LayerNorm(token + position)``, which ignores a common factor ``c`` of both tables, so we multiply both
    by ``c`` and divide the MLM head's LayerNorm (weight and bias) by ``c``, which undoes it in the tied output
    layer: the encoder outputs and MLM logits stay the same (up to the LayerNorm epsilon, see the tests).
    """
    import torch

    missing = [k for k in (*EMBEDDINGS, *LM_HEAD_NORM) if k not in model_state]
    if missing:
        raise KeyError(f"not a fairseq RoBERTa state dict with an MLM head: missing {missing}")
    c = float(target_std / model_state[EMBEDDINGS[0]].float().std())
    with torch.no_grad():
        for k in EMBEDDINGS:
            model_state[k] = model_state[k] * c
        if TIED_LM_HEAD in model_state:  # the tied copy of the token embeddings
            model_state[TIED_LM_HEAD] = model_state[EMBEDDINGS[0]].clone()
        for k in LM_HEAD_NORM:
            model_state[k] = model_state[k] / c
    return c


def export_checkpoint(ckpt: Path, dst: Path, embedding_std: float | None = None) -> float | None:
    """Write ``model.pt`` without the optimizer state (smaller; what the course zip holds); with
    ``embedding_std``, the embeddings are stored at that scale (:func:`rescale_embeddings`, whose factor
    is returned)."""
    import torch

    import frlab.fairseq.frlab_plugin  # noqa: F401  allow-list for weights_only loading

    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    state["last_optimizer_state"] = None
    # masked_lm_sinpos differs from masked_lm only in the initial values: record the checkpoint as a plain
    # masked_lm one, so it loads like the course's model.pt without our plugin's task (or criterion)
    cfg = state.get("cfg") or {}
    if isinstance(cfg, dict):
        if isinstance(cfg.get("task"), dict) and cfg["task"].get("_name") == "masked_lm_sinpos":
            cfg["task"]["_name"] = "masked_lm"
        if getattr(cfg.get("model"), "task", None) == "masked_lm_sinpos":
            cfg["model"].task = "masked_lm"
        # the training loss is not part of the model: record plain masked_lm (loads without the plugin)
        if isinstance(cfg.get("criterion"), dict) and cfg["criterion"].get("_name") == "masked_lm_bos_bow":
            cfg["criterion"] = {"_name": "masked_lm", "tpu": bool(cfg["criterion"].get("tpu", False))}
        if getattr(cfg.get("model"), "criterion", None) == "masked_lm_bos_bow":
            cfg["model"].criterion = "masked_lm"
    factor = rescale_embeddings(state["model"], embedding_std) if embedding_std else None
    tmp = dst.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, dst)
    return factor


def pretrain(out: Path | str, cfg: PretrainConfig | None = None, *, verbose: bool = True) -> Path:
    """Run the whole recipe; returns ``out`` holding model.pt, dict.txt, sentencepiece.bpe.model.

    Intermediate files (corpus sample, encoded text, binarised data, checkpoints, logs) stay in
    ``out/_build`` so an interrupted run restarts where it stopped; fairseq resumes from
    ``checkpoint_last.pt``.
    """
    cfg = cfg or config_for()
    out = Path(out)
    build = out / "_build"
    build.mkdir(parents=True, exist_ok=True)
    log = build / "pretrain.log"
    t0 = time.time()
    say = print if verbose else (lambda *a, **k: None)

    say(f"[pretrain] profile {cfg.profile}: corpus sample", flush=True)
    train_txt, valid_txt = build_corpus(cfg, build)
    say(f"[pretrain] 1/4 sentencepiece ({cfg.spm_model_type}, vocab {cfg.vocab_size})", flush=True)
    spm_model = train_sentencepiece(cfg, train_txt, build)
    say("[pretrain] 2/4 encode + dict.txt", flush=True)
    dict_txt = build / "dict.txt"
    train_spm, valid_spm = build / "train.spm", build / "valid.spm"
    if not (dict_txt.exists() and train_spm.exists() and valid_spm.exists()):
        counts: Counter = Counter()
        encode_file(spm_model, train_txt, train_spm, counts)
        encode_file(spm_model, valid_txt, valid_spm)
        write_dictionary(spm_model, counts, dict_txt)
    n_tokens = sum(len(line.split()) + 1 for line in open(train_spm, encoding="utf-8"))
    say(f"[pretrain] 3/4 fairseq-preprocess ({n_tokens:,} training tokens)", flush=True)
    data_bin = binarise(dict_txt, train_spm, valid_spm, build / "data-bin", log)
    say("[pretrain] 4/4 fairseq-train --task masked_lm", flush=True)
    cmd = masked_lm_command(cfg, data_bin, build / "checkpoints", build / "tb")
    t_train = time.time()
    run_logged(
        cmd,
        log,
        env=tool_env(cfg.threads),
        echo=verbose,
        echo_filter=lambda line: (
            "train_inner" in line or "| valid |" in line or "Error" in line or "done training" in line
        ),
    )
    train_minutes = (time.time() - t_train) / 60
    ckpt = build / "checkpoints" / "checkpoint_last.pt"
    if not ckpt.exists():
        raise RuntimeError(f"fairseq-train finished without {ckpt}; see {log}")
    shutil.copy2(spm_model, out / "sentencepiece.bpe.model")
    shutil.copy2(dict_txt, out / "dict.txt")
    factor = export_checkpoint(ckpt, out / "model.pt", cfg.embedding_std)
    stats = parse_train_log(log)
    info = {
        "what": "fairseq roberta_small pretrained with masked_lm by frlab.fairseq.pretrain",
        "config": asdict(cfg),
        "corpus": "fr-corpus (DATA.md)"
        + (
            f" + {cfg.task_adaptive_copies}x CLS-Books train review texts (no labels)"
            if cfg.task_adaptive_copies
            else ""
        ),
        "training_tokens_per_epoch": n_tokens,
        **stats,
        "embedding_rescale": round(factor, 5) if factor else None,
        "train_minutes": round(train_minutes, 1),
        "total_minutes": round((time.time() - t0) / 60, 1),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "hardware": hardware(),
        "command": " ".join(cmd),
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    say(
        f"[pretrain] done in {info['total_minutes']} min: {out} "
        f"(loss {stats['train_loss_base2']}, {stats['tokens_per_second']} tokens/s)",
        flush=True,
    )
    return out


# --------------------------------------------------------------------------- base model per profile
def is_complete(folder: Path) -> bool:
    return all((Path(folder) / f).is_file() for f in MODEL_FILES)


def default_out(profile: str) -> Path:
    return work_dir() / profile / "base-model"


#: the manifest's entry of the project's CPU base model (shipped in the repository, assets/roberta-small-fr-cpu)
SHIPPED_CPU_MODEL = "roberta-small-fr-cpu"


def base_model_dir(profile: profiles.Profile | str | None = None) -> Path:
    """The fairseq base model (model.pt, dict.txt, sentencepiece.bpe.model) of a profile.

    * ``full``: the course checkpoint RoBERTa_small_fr (``frlab.assets.fetch("roberta-small-fr-fairseq")``);
      if it cannot be had, a model built by ``python -m frlab.fairseq.pretrain --profile full`` in
      ``<work>/full/base-model``; else the project's CPU base model, with a warning that says what that changes.
    * ``cpu``: ``<work>/cpu/base-model`` when one was built there (``python -m frlab.fairseq.pretrain --profile
      cpu``, about an hour on one core), else the project's CPU base model, which the repository ships
      (asset ``roberta-small-fr-cpu``: the same recipe, fp16 weights).
    * ``smoke``: ``<work>/smoke/base-model``, trained on the spot when missing (a couple of minutes).
    """
    name = profiles.resolve(profile).name
    local = default_out(name)
    if name == "full":
        from frlab.assets import AssetError, fetch

        try:
            return fetch("roberta-small-fr-fairseq")
        except AssetError as exc:
            if is_complete(local):
                return local
            shipped = _shipped_cpu_model()
            import warnings

            lines = str(exc).splitlines()
            why = next((ln.strip(" -") for ln in lines if ln.strip(" -").startswith("original URL")), lines[0])
            warnings.warn(
                f"The course checkpoint RoBERTa_small_fr is not available ({why}).\n"
                f"Using the project's CPU base model instead ({shipped}): 4 layers of width 128, 8,000 pieces, "
                f"pretrained for an hour on one CPU core. The chapters run unchanged, but expect accuracies near "
                f"the cpu profile's (about 68 % pretrained), not the course's (about 80 %): see the results page. "
                f"The course model can be put in place by hand (frlab/assets_manifest.json, "
                f"'roberta-small-fr-fairseq'); an equivalent is built on a GPU with "
                f"python -m frlab.fairseq.pretrain --profile full (hours).",
                stacklevel=2,
            )
            return shipped
    if is_complete(local):
        return local
    if name == "cpu":
        return _shipped_cpu_model()
    return pretrain(local, config_for("smoke"))


def _shipped_cpu_model() -> Path:
    from frlab.assets import AssetError, fetch

    try:
        return fetch(SHIPPED_CPU_MODEL)
    except AssetError as exc:
        raise BaseModelError(
            f"{exc}\nOr build the CPU base model here (about an hour on one CPU core):\n"
            f"    python -m frlab.fairseq.pretrain --profile cpu\n"
            f"See the book chapter 'Where the base model comes from'."
        ) from exc


def publish(src: Path | str, dst: Path | str) -> dict[str, str]:
    """Write the base model in ``src`` to ``dst`` as the project ships it: ``model.pt`` with fp16 weights (half the
    size; fairseq loads them into its fp32 model), ``dict.txt``, ``sentencepiece.bpe.model`` and the recipe's
    record (``pretrain.json``, which the reference results quote); returns each file's sha256, for
    ``frlab/assets_manifest.json``."""
    import torch

    import frlab.fairseq.frlab_plugin  # noqa: F401  allow-list for weights_only loading
    from frlab.assets import sha256_of

    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    state = torch.load(src / "model.pt", map_location="cpu", weights_only=True)
    state["last_optimizer_state"] = None
    state["model"] = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    torch.save(state, dst / "model.pt")
    for name in ("dict.txt", "sentencepiece.bpe.model"):
        shutil.copy2(src / name, dst / name)
    if (src / INFO_FILE).exists():  # the record, with paths relative to the checkout it was built in
        from frlab.paths import PACKAGE_DIR

        text = (src / INFO_FILE).read_text(encoding="utf-8")
        (dst / INFO_FILE).write_text(text.replace(str(PACKAGE_DIR.parent) + os.sep, ""), encoding="utf-8")
    return {name: sha256_of(dst / name) for name in (*MODEL_FILES, INFO_FILE) if (dst / name).exists()}


# --------------------------------------------------------------------------- command line
def _parse_value(v: str):
    if v.lower() == "none":
        return None
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m frlab.fairseq.pretrain", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=profiles.PROFILES, default=None, help="default: FRLAB_PROFILE / auto")
    p.add_argument("--out", type=Path, default=None, help="output folder (default <work>/<profile>/base-model)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a PretrainConfig field, e.g. --set stop_minutes=30 --set vocab_size=16000",
    )
    p.add_argument(
        "--publish",
        type=Path,
        metavar="DIR",
        help="write the model in --out as the project ships it (fp16, e.g. assets/roberta-small-fr-cpu) and print "
        "its sha256s",
    )
    a = p.parse_args(argv)
    cfg = config_for(a.profile)
    fields = set(asdict(cfg))
    over = {}
    for kv in a.set:
        k, v = kv.split("=", 1)
        if k not in fields:
            p.error(f"unknown field {k!r}; fields: {', '.join(sorted(fields))}")
        over[k] = _parse_value(v)
    cfg = replace(cfg, **over)
    out = a.out or default_out(cfg.profile)
    if a.publish:
        if not is_complete(out):
            p.error(f"no base model in {out} to publish (run without --publish first)")
        for name, sha in publish(out, a.publish).items():
            print(f"{a.publish / name}  sha256 {sha}")
        print(f"[pretrain] published to {a.publish}: put these sha256 in frlab/assets_manifest.json")
        return 0
    pretrain(out, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
