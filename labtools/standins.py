"""Stand-ins of the full profile's external assets, laid out exactly as their real sources are.

One home for the layouts that both the asset tests (``tests/frlab/test_assets_every_entry.py``) and the full
rehearsal (:mod:`labtools.full_rehearsal`) build:

* :func:`write_course_zip` -- the course's ``RoBERTa_small_fr.zip`` (nuage share): a top folder
  ``RoBERTa_small_fr/`` holding ``model.pt``, ``dict.txt`` and ``sentencepiece.bpe.model``;
* :func:`write_hub_folder` -- a Hugging Face Hub repository as ``save_pretrained``/``snapshot_download`` lay it
  out (``config.json``, ``*.safetensors``, ``tokenizer*``).

The *contents* at real size are built by :func:`build_course_model` (the course's architecture, 4 x 512, ffn 512,
8 heads, 256 + 2 positions, a 32k sentencepiece trained on fr-corpus, random weights: the project's own pretraining
recipe stopped after one update) and :func:`build_bloom_560m` (``BloomConfig`` of bigscience/bloom-560m with
random weights and a byte-level BPE tokenizer trained on fr-corpus: the real tokenizer cannot be had offline).
They exercise the code at the real sizes; they are not the real models (nothing they output means anything).
"""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path

#: the top folder of the course's zip (as its nuage share serves it)
COURSE_ZIP_TOP = "RoBERTa_small_fr"
COURSE_ZIP_FILES = ("model.pt", "dict.txt", "sentencepiece.bpe.model")

#: bigscience/bloom-560m's configuration (its config.json on the Hub)
BLOOM_560M = dict(
    vocab_size=250880,
    hidden_size=1024,
    n_layer=24,
    n_head=16,
    layer_norm_epsilon=1e-5,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=3,
    apply_residual_connection_post_layernorm=False,
    attention_dropout=0.0,
    hidden_dropout=0.0,
)
#: what the rehearsal's stand-in holds instead of the real tokenizer (vocabulary size of the trained BPE)
BLOOM_STANDIN_TOKENIZER_VOCAB = 8000


def bloom_in(mirror: Path) -> Path:
    """Where a mirror holds bloom-560m (the asset manifest's ``mirror`` entry)."""
    from frlab.assets import load_manifest

    return Path(mirror) / load_manifest()["bloom-560m"].mirror


def link_folder(link: Path, target: Path | str) -> Path:
    """``link`` made (or remade) a symbolic link to the folder ``target``: how a mirror serves real data as it is."""
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path(target).resolve(), target_is_directory=True)
    return link


def write_course_zip(path: Path | str, files: dict[str, bytes | Path], top: str = COURSE_ZIP_TOP) -> Path:
    """A zip laid out as the course's: ``<top>/<file>`` for each file (bytes, or a path whose file is stored)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for rel, data in files.items():
            if isinstance(data, Path):
                zf.write(data, f"{top}/{rel}")
            else:
                zf.writestr(f"{top}/{rel}", data)
    tmp.replace(path)
    return path


def write_hub_folder(folder: Path | str, files: dict[str, bytes]) -> Path:
    """A Hub repository's files in ``folder`` (``rel -> bytes``)."""
    folder = Path(folder)
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


# --------------------------------------------------------------------------- real-size contents
def course_model_config(build_dir: Path):
    """The project's full pretraining recipe (the course's architecture and 32k vocabulary), cut down to build a
    random-weight checkpoint in minutes: 200k sentences of fr-corpus, one update of batch 8."""
    from frlab.fairseq.models import COURSE_DICT_SYMBOLS
    from frlab.fairseq.pretrain import SPM_SPECIAL_IDS, config_for

    specials = sum(1 for v in SPM_SPECIAL_IDS.values() if v >= 0)  # <unk> <s> </s>: not in dict.txt
    return config_for(
        "full",
        corpus_lines=200_000,
        valid_lines=200,
        spm_train_lines=200_000,
        vocab_size=COURSE_DICT_SYMBOLS + specials,  # dict.txt: 31,995 entries, as the course's
        batch_size=8,
        update_freq=1,
        max_update=1,
        warmup_updates=1,
        lr=1e-9,  # one update that changes nothing: random weights
        threads=2,
        log_interval=1,
        save_interval_updates=1,
    )


def build_course_model(out: Path | str, *, verbose: bool = True) -> dict:
    """``out/{model.pt,dict.txt,sentencepiece.bpe.model}``: the course's architecture with random weights (see the
    module's docstring); returns what was built. Reused when complete."""
    from frlab.fairseq.pretrain import MODEL_FILES, is_complete, pretrain

    out = Path(out)
    t0 = time.time()
    if not is_complete(out):
        pretrain(out, course_model_config(out), verbose=verbose)
    return {
        "files": {f: (out / f).stat().st_size for f in MODEL_FILES},
        "dict_entries": sum(1 for _ in open(out / "dict.txt", encoding="utf-8")),
        "seconds": round(time.time() - t0, 1),
    }


def build_bloom_560m(
    folder: Path | str, *, corpus_lines: int = 50_000, verbose: bool = True, tokenizer_dir: Path | str | None = None
) -> dict:
    """A hub-style folder of bloom-560m's architecture with random weights (fp16 safetensors, as the Hub's) and a
    byte-level BPE tokenizer trained on ``corpus_lines`` fr-corpus sentences (BLOOM's special tokens and ids), or the
    one saved in ``tokenizer_dir`` (a seed's). Reused when its ``frlab_standin.json`` says the same recipe."""
    import torch
    from transformers import BloomConfig, BloomForCausalLM

    from frlab.lora.qlora import _corpus_lines, _train_tokenizer

    folder = Path(folder)
    recipe = {"config": BLOOM_560M, "tokenizer_vocab": BLOOM_STANDIN_TOKENIZER_VOCAB, "corpus_lines": corpus_lines}
    info_path = folder / "frlab_standin.json"
    if info_path.is_file() and json.loads(info_path.read_text()).get("recipe") == recipe:
        return json.loads(info_path.read_text())
    t0 = time.time()
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if tokenizer_dir is not None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        corpus_note = f"fr-corpus, as saved in {tokenizer_dir}"
    else:
        lines, corpus_note = _corpus_lines(corpus_lines, seed=0)
        if not lines:
            raise RuntimeError(f"bloom-560m stand-in: no fr-corpus sentences to train its tokenizer on ({corpus_note})")
        tokenizer = _train_tokenizer(lines, BLOOM_STANDIN_TOKENIZER_VOCAB)
    torch.manual_seed(0)
    config = BloomConfig(**BLOOM_560M)
    model = BloomForCausalLM(config).to(torch.float16)
    model.config.architectures = ["BloomForCausalLM"]
    model.save_pretrained(tmp)  # model.safetensors + config.json
    tokenizer.save_pretrained(tmp)
    n = sum(p.numel() for p in model.parameters())
    info = {
        "what": "stand-in of bigscience/bloom-560m: its configuration, random weights, NOT the real model",
        "recipe": recipe,
        "parameters": n,
        "tokenizer": f"byte-level BPE, {len(tokenizer)} tokens, trained on {corpus_note} (the real one has 250,680)",
        "seconds": round(time.time() - t0, 1),
    }
    (tmp / "frlab_standin.json").write_text(json.dumps(info, indent=1) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)
    if verbose:
        print(f"bloom-560m stand-in: {n:,} parameters -> {folder} ({info['seconds']} s)", flush=True)
    return info


# --------------------------------------------------------------------------- stand-ins that travel
#: a stand-in's seed: what a machine without network (a lent GPU machine) needs to rebuild the stand-ins, without
#: their weights (random anyway): ``course/`` (dict.txt, sentencepiece.bpe.model, model.skeleton.pt) and
#: ``bloom-560m-tokenizer/`` (the stand-in's trained tokenizer). A few MB instead of 1.2 GB.
SEED_COURSE, SEED_BLOOM_TOKENIZER, SKELETON = "course", "bloom-560m-tokenizer", "model.skeleton.pt"
_SHAPE_KEY = "__frlab_shape__"


def _load(path: Path):
    import torch

    from frlab.fairseq.compat import allow_fairseq_checkpoints

    allow_fairseq_checkpoints()
    return torch.load(path, map_location="cpu", weights_only=True)


def _strip_tensors(obj):
    import torch

    if isinstance(obj, torch.Tensor):
        return {_SHAPE_KEY: list(obj.shape), "dtype": str(obj.dtype).removeprefix("torch.")}
    if isinstance(obj, dict):
        return {k: _strip_tensors(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_strip_tensors(v) for v in obj)
    return obj


def _refill(obj, gen, name: str = "", in_model: bool = False):
    """Tensors back in place of their shapes: in the model's state dict the initialisation fairseq gives
    (LayerNorm weights 1, biases 0, other weights N(0, 0.02)), elsewhere (optimizer state) zeros."""
    import torch

    from frlab.fairseq.params import parameter_kind

    if isinstance(obj, dict) and _SHAPE_KEY in obj:
        shape, dtype = obj[_SHAPE_KEY], getattr(torch, obj["dtype"])
        if not in_model or not dtype.is_floating_point or name.endswith("bias"):
            return torch.zeros(shape, dtype=dtype)
        if parameter_kind(name) == "layernorm":
            return torch.ones(shape, dtype=dtype)
        return (torch.randn(shape, generator=gen) * 0.02).to(dtype)
    if isinstance(obj, dict):
        return {k: _refill(v, gen, k, in_model or (name == "" and k == "model")) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_refill(v, gen, name, in_model) for v in obj)
    return obj


def write_seed(course_model: Path | str, bloom_folder: Path | str | None, out: Path | str) -> dict:
    """The seed (see ``SEED_COURSE``) of a built course model folder and bloom-560m stand-in (None: none); returns
    the sizes of its files."""
    import torch

    course_model, out = Path(course_model), Path(out)
    (out / SEED_COURSE).mkdir(parents=True, exist_ok=True)
    for f in ("dict.txt", "sentencepiece.bpe.model"):
        shutil.copyfile(course_model / f, out / SEED_COURSE / f)
    torch.save(_strip_tensors(_load(course_model / "model.pt")), out / SEED_COURSE / SKELETON)
    if bloom_folder:
        tok = out / SEED_BLOOM_TOKENIZER
        tok.mkdir(parents=True, exist_ok=True)
        for f in Path(bloom_folder).iterdir():
            if f.name.startswith("tokenizer") or f.name == "special_tokens_map.json":
                shutil.copyfile(f, tok / f.name)
    return {str(p.relative_to(out)): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}


def course_zip_from_seed(seed: Path | str, zip_path: Path | str, *, seed_value: int = 0) -> Path:
    """The course zip's stand-in rebuilt from a seed: the skeleton's checkpoint with random weights."""
    import tempfile

    import torch

    seed = Path(seed) / SEED_COURSE
    gen = torch.Generator().manual_seed(seed_value)
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(_refill(_load(seed / SKELETON), gen), Path(tmp) / "model.pt")
        files = {"model.pt": Path(tmp) / "model.pt", **{f: seed / f for f in COURSE_ZIP_FILES if f != "model.pt"}}
        return write_course_zip(zip_path, files)


def mirror_from_seed(seed: Path | str, mirror: Path | str, cls_books: Path | str) -> dict:
    """A mirror of the full profile's stand-ins, rebuilt from a seed where no corpus and no network is at hand
    (``make gpu-check`` on a lent machine): the course zip, bloom-560m (its tokenizer from the seed) and a link to
    ``cls_books`` (the real data). Returns what was built."""
    seed, mirror = Path(seed), Path(mirror)
    t0 = time.time()
    zip_path = course_zip_from_seed(seed, mirror / "RoBERTa_small_fr.zip")
    link_folder(mirror / "cls-books", cls_books)
    bloom = build_bloom_560m(bloom_in(mirror), tokenizer_dir=seed / SEED_BLOOM_TOKENIZER)
    return {"mirror": str(mirror), "course_zip": str(zip_path), "bloom_560m": bloom, "seconds": round(time.time() - t0)}
