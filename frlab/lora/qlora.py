"""Part 4 plumbing: QLoRA on a BLOOM causal LM (4-bit bitsandbytes + LoRA with peft).

What is here (the notebook keeps the teaching code: BitsAndBytesConfig, LoraConfig,
prepare_model_for_kbit_training, get_peft_model, Trainer, generation):

* :func:`choose_compute_dtype` – bfloat16 on CPU or on a GPU of compute capability ≥ 8.0
  (Ampere and later), float16 below (T4 = 7.5).  ``torch.cuda.is_bf16_supported()`` is
  not trusted alone: recent PyTorch answers True on a T4 because bf16 can be *emulated*
  there, which is slow and gives no bf16 tensor-core matmuls.
* :func:`bloom_560m_config` – the real ``bigscience/bloom-560m`` configuration written out, so
  its parameter counts are computed on the meta device, without any download.
* :func:`naive_count` / :func:`naive_4bit_count` – what a plain ``numel()`` sum shows (Exercise 4.4 asks for
  the count that is right for 4-bit models).
* :func:`check_target_modules`, :func:`assert_adapted` – fail loudly when a LoRA target name
  matches nothing (peft only complains when *no* name matches).
* :func:`build_smoke_model` – a tiny BLOOM (same module names) with its own tokenizer,
  briefly pretrained on the French corpus, so the same code path (4-bit on CPU included)
  runs in CI.  :func:`resolve_base_model` picks the model per profile.
* :func:`training_losses`, :func:`plot_loss_curve` – the loss curve from ``Trainer`` logs.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import time
from pathlib import Path

from frlab.paths import replaced_atomically

# bigscience/bloom-560m config.json (the values that shape the model), written out so that the
# model can be built on the meta device in every profile, offline.
BLOOM_560M = {
    "vocab_size": 250880,
    "hidden_size": 1024,
    "n_layer": 24,
    "n_head": 16,
    "layer_norm_epsilon": 1e-5,
    "initializer_range": 0.02,
    "apply_residual_connection_post_layernorm": False,
    "hidden_dropout": 0.0,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 3,
    "pretraining_tp": 1,
    "slow_but_exact": False,
    "tie_word_embeddings": True,
}


class TargetModuleError(ValueError):
    """A LoRA target module name matches nothing, or not every matching module was adapted."""


# --------------------------------------------------------------------------- dtype / configs
def choose_compute_dtype(
    device: str | None = None, capability: tuple[int, int] | None = None, *, explain: bool = False
):
    """The 4-bit compute dtype for ``device`` ("cpu"/"cuda"; default: cuda if visible).

    * CPU: bfloat16 (supported by PyTorch/bitsandbytes on CPU; float16 matmuls are slow there);
    * CUDA, compute capability ≥ (8, 0) (A100, L4, RTX 30xx/40xx, H100): bfloat16;
    * CUDA below (T4 = 7.5, V100 = 7.0): float16 – bf16 would be emulated.

    ``capability`` defaults to ``torch.cuda.get_device_capability()``.  With ``explain=True``
    returns ``(dtype, reason)``.
    """
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    if device.startswith("cpu"):
        dtype, reason = torch.bfloat16, "CPU: bfloat16"
    elif device.startswith("cuda"):
        cap = tuple(capability) if capability is not None else tuple(torch.cuda.get_device_capability())
        if cap >= (8, 0):
            dtype, reason = torch.bfloat16, f"GPU compute capability {cap[0]}.{cap[1]} >= 8.0: native bfloat16"
        else:
            dtype, reason = (
                torch.float16,
                (f"GPU compute capability {cap[0]}.{cap[1]} < 8.0 (e.g. T4): float16, bfloat16 would only be emulated"),
            )
    else:
        raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
    return (dtype, reason) if explain else dtype


def device_map(device: str) -> dict:
    """Where ``from_pretrained`` puts the whole model: this process's GPU (``LOCAL_RANK`` under a distributed
    launch, else GPU 0), or the CPU."""
    from frlab.runs import local_rank

    return {"": local_rank()} if device == "cuda" else {"": "cpu"}


def bloom_560m_config():
    """``BloomConfig`` of bigscience/bloom-560m, built offline."""
    from transformers import BloomConfig

    return BloomConfig(**BLOOM_560M)


def meta_model(config=None):
    """A ``BloomForCausalLM`` on the meta device (shapes only, no memory, no download)."""
    import torch
    from transformers import BloomForCausalLM

    with torch.device("meta"):
        return BloomForCausalLM(config or bloom_560m_config())


def meta_peft_model(lora_config, config=None):
    """bloom-560m (or ``config``) with the adapters of ``lora_config``, on the meta device."""
    import copy

    import torch
    from peft import get_peft_model

    with torch.device("meta"):
        return get_peft_model(meta_model(config), copy.deepcopy(lora_config))


# --------------------------------------------------------------------------- counting
def naive_count(model) -> tuple[int, int]:
    """``(trainable, total)`` by a plain ``numel()`` sum: undercounts 4-bit weights by half."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def naive_4bit_count(model, skip=("lm_head",)) -> tuple[int, int]:
    """What :func:`naive_count` would show once ``model`` (e.g. on the meta device) is loaded in
    4 bits: every ``nn.Linear`` weight outside ``skip`` becomes a packed uint8 tensor of half
    the size (biases, embeddings, layer norms and the LM head stay unquantised)."""
    import torch.nn as nn

    packed = {}
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear) and "lora_" not in name and not any(name.split(".")[-1] == s for s in skip):
            packed[id(mod.weight)] = mod.weight.numel() // 2
    sizes = [(packed.get(id(p), p.numel()), p.requires_grad) for p in model.parameters()]
    return sum(n for n, grad in sizes if grad), sum(n for n, _ in sizes)


def percent(trainable: int, total: int) -> float:
    return 100.0 * trainable / total


# --------------------------------------------------------------------------- LoRA targets
def _matches(name: str, target: str) -> bool:
    # peft's rule for a list of names: the module name equals the target or ends with "." + target
    return name == target or name.endswith("." + target)


def check_target_modules(model, target_modules) -> dict[str, list[str]]:
    """Before ``get_peft_model``: every target name must match at least one module of ``model``.

    Returns ``{target: [module names]}``; raises :class:`TargetModuleError` naming each target
    that matches nothing, with the closest existing names (peft accepts a list where only some
    names match and silently ignores the others).
    """
    import torch.nn as nn

    if isinstance(target_modules, str):
        raise TargetModuleError(
            "give target_modules as a list of names; a single string is read by peft as a regular expression"
        )
    names = [n for n, _ in model.named_modules() if n]
    leaves = sorted(
        {
            n.split(".")[-1]
            for n, m in model.named_modules()
            if isinstance(m, nn.Linear) or m.__class__.__name__.startswith("Linear")
        }
    )
    found, missing = {}, []
    for t in target_modules:
        hits = [n for n in names if _matches(n, t)]
        found[t] = hits
        if not hits:
            close = difflib.get_close_matches(t, leaves, n=3, cutoff=0.5)
            missing.append(
                f"{t!r} matches no module" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else "")
            )
    if missing:
        raise TargetModuleError(
            "LoRA target_modules problem: " + "; ".join(missing) + f". Linear layers of this model: {', '.join(leaves)}"
        )
    return found


def adapted_module_names(peft_model) -> list[str]:
    """Names (relative to the base model) of the modules that received LoRA adapters."""
    out = []
    for name, mod in peft_model.named_modules():
        if hasattr(mod, "lora_A") and hasattr(mod, "base_layer"):
            for prefix in ("base_model.model.", "base_model."):
                if name.startswith(prefix):
                    name = name[len(prefix) :]
                    break
            out.append(name)
    return sorted(out)


def assert_adapted(peft_model, target_modules, n_layers: int | None = None) -> list[str]:
    """After ``get_peft_model``: each target name adapted somewhere, and (given ``n_layers``)
    exactly once per transformer block; nothing else adapted.  Returns the adapted names."""
    adapted = adapted_module_names(peft_model)
    problems = []
    for t in target_modules:
        hits = [n for n in adapted if _matches(n, t)]
        if not hits:
            problems.append(f"no module named {t!r} was adapted")
        elif n_layers is not None and len(hits) != n_layers:
            problems.append(f"{t!r} adapted in {len(hits)} modules, expected one per block ({n_layers})")
    stray = [n for n in adapted if not any(_matches(n, t) for t in target_modules)]
    if stray:
        problems.append(f"unexpected adapted modules: {stray[:5]}")
    if problems:
        raise TargetModuleError(
            "LoRA adapters are not where they should be: "
            + "; ".join(problems)
            + f". Adapted: {adapted[:6]}{' ...' if len(adapted) > 6 else ''}"
        )
    return adapted


def keep_cpu_4bit_trainable(model) -> int:
    """Work around bitsandbytes 0.50 on CPU: the first forward in eval mode (e.g. ``generate``)
    repacks each 4-bit weight into an inference-only layout (``packing_format_for_cpu``) and
    training afterwards fails ("a view of a leaf Variable ... in-place operation").  Turn that
    repacking off (and undo it where it already happened).  No-op on GPU.  Returns the number of
    layers touched."""
    n = 0
    for mod in model.modules():
        if hasattr(mod, "support_avx512bf16_for_cpu"):
            mod.support_avx512bf16_for_cpu = False
            qs = getattr(mod.weight, "quant_state", None)
            if qs is not None and getattr(qs, "packing_format_for_cpu", False):
                from bitsandbytes.nn.modules import _convert_weight_packed_for_cpu_inverse

                mod.weight.data, mod.weight.quant_state = _convert_weight_packed_for_cpu_inverse(mod.weight.data, qs)
            n += 1
    return n


# --------------------------------------------------------------------------- smoke model
SMOKE_RECIPE = {
    "vocab_size": 4000,
    "hidden_size": 128,
    "n_layer": 2,
    "n_head": 4,
    "corpus_lines": 10000,
    "faq_repeats": 3,
    "block": 64,
    "batch": 16,
    "steps": 200,
    "lr": 2e-3,
    "seed": 0,
    "version": 2,
}
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]  # ids 0..3, as in BLOOM


def smoke_model_dir() -> Path:
    from frlab.paths import work_dir

    return work_dir() / "smoke" / "bloom-tiny"


def _recipe_hash(recipe: dict) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def _corpus_lines(n: int, seed: int) -> tuple[list[str], str]:
    """``n`` French sentences from the fr-corpus asset (a fixed, seeded sample), and where from."""
    import random

    from frlab.assets import AssetError, fetch

    try:
        folder = fetch("fr-corpus", progress=False)
    except AssetError as exc:
        return [], f"fr-corpus unavailable ({str(exc).splitlines()[0]})"
    lines = []
    for fname in ("gutenberg_fr.txt", "assemblee_nationale_fr.txt", "libretheatre_fr.txt"):
        with open(folder / fname, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= 200_000:
                    break
                if line.strip():
                    lines.append(line.strip())
    random.Random(seed).shuffle(lines)
    return lines[:n], f"fr-corpus ({folder}), {n} sentences sampled with seed {seed}"


def _train_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    specials = dict(unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>")  # SPECIAL_TOKENS
    return PreTrainedTokenizerFast(tokenizer_object=tok, padding_side="left", **specials)


def build_smoke_model(
    out_dir: Path | str | None = None, *, force: bool = False, verbose: bool = True, recipe: dict | None = None
) -> Path:
    """A tiny ``BloomForCausalLM`` (same module names as bloom-560m) + tokenizer, saved to
    ``work_dir()/smoke/bloom-tiny`` (reused when the recipe is unchanged).

    Recipe: random init; byte-level BPE tokenizer (4k) and a brief causal-LM pretraining
    (200 steps of 16×64 tokens) on a French corpus sample (10k sentences) **plus the FAQ's
    questions and answers as plain sentences** (3 copies, shuffled in; never in the
    ``<human>:``/``<assistant>:`` format).  A 1M-parameter model cannot learn the shop's
    vocabulary from general French in a minute, and without it the LoRA step has nothing to
    build on; bloom-560m, in the full profile, knows such text from its own pretraining.
    Fine-tuning then teaches the dialogue format and which answer follows which question.
    Without the fr-corpus asset only the FAQ sentences are used, and ``frlab_smoke.json``
    says so.  It is a stand-in that lets the QLoRA code run on a CPU in seconds, not a
    useful language model.
    """
    import torch

    recipe = dict(recipe or SMOKE_RECIPE)
    out = Path(out_dir) if out_dir else smoke_model_dir()
    info_path = out / "frlab_smoke.json"
    key = _recipe_hash(recipe)
    if not force and info_path.exists():
        try:
            if json.loads(info_path.read_text())["recipe_hash"] == key:
                if verbose:
                    print(f"smoke model: reusing {out}")
                return out
        except (KeyError, json.JSONDecodeError):
            pass

    t0 = time.time()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is as fast, and much faster on a busy machine
    try:
        return _build(out, info_path, key, recipe, t0, verbose)
    finally:
        torch.set_num_threads(threads)


def _build(out: Path, info_path: Path, key: str, recipe: dict, t0: float, verbose: bool) -> Path:
    import random

    import torch
    from transformers import BloomConfig, BloomForCausalLM

    from frlab.lora.qa_data import BUNDLED_FAQ, read_faq_file

    torch.manual_seed(recipe["seed"])
    lines, corpus_note = _corpus_lines(recipe["corpus_lines"], recipe["seed"])
    faq_text = [t for r in read_faq_file(BUNDLED_FAQ) for t in (r["question"], r["answer"])]
    lines = lines + faq_text * recipe["faq_repeats"]
    random.Random(recipe["seed"]).shuffle(lines)
    corpus_note += f" + the {len(faq_text)} FAQ questions/answers as plain sentences x{recipe['faq_repeats']}"
    tokenizer = _train_tokenizer(lines, recipe["vocab_size"])
    size = {k: recipe[k] for k in ("hidden_size", "n_layer", "n_head")}
    ids = dict(bos_token_id=1, eos_token_id=2, pad_token_id=3)  # SPECIAL_TOKENS, as in BLOOM
    config = BloomConfig(vocab_size=len(tokenizer), **size, **ids, hidden_dropout=0.0, attention_dropout=0.0)
    model = BloomForCausalLM(config)

    losses = []
    if lines:
        ids = []
        for batch_start in range(0, len(lines), 1000):
            for enc in tokenizer(lines[batch_start : batch_start + 1000])["input_ids"]:
                ids.extend(enc + [tokenizer.eos_token_id])
        block, bs = recipe["block"], recipe["batch"]
        data = torch.tensor(ids[: len(ids) // block * block]).view(-1, block)
        g = torch.Generator().manual_seed(recipe["seed"])
        opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=0.01)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=recipe["lr"], total_steps=recipe["steps"], pct_start=0.1
        )
        model.train()
        for _step in range(recipe["steps"]):
            batch = data[torch.randint(len(data), (bs,), generator=g)]
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(round(loss.item(), 4))
        model.eval()

    with replaced_atomically(out, prefix=".bloom-tiny-") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        info = dict(
            recipe_hash=key,
            recipe=recipe,
            what="tiny BloomForCausalLM for the smoke profile (NOT bloom-560m)",
            init=f"random init, then {recipe['steps']} causal-LM steps on {corpus_note}",
            corpus=corpus_note,
            parameters=sum(p.numel() for p in model.parameters()),
            pretrain_loss_first=losses[0] if losses else None,
            pretrain_loss_last=sum(losses[-10:]) / len(losses[-10:]) if losses else None,
            seconds=round(time.time() - t0, 1),
        )
        (tmp / "frlab_smoke.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    if verbose:
        print(
            f"smoke model: built {out} in {info['seconds']} s – {info['init']}; "
            f"{info['parameters']:,} parameters"
            + (
                f"; pretraining loss {info['pretrain_loss_first']:.2f} → {info['pretrain_loss_last']:.2f}"
                if losses
                else ""
            )
        )
    return out


def resolve_base_model(profile=None) -> Path:
    """Folder of the base causal LM for ``profile``: bloom-560m (full) or the tiny smoke BLOOM."""
    from frlab import profiles
    from frlab.assets import fetch

    profile = profiles.resolve(profile)
    if profile.name == "full":
        return fetch("bloom-560m")
    return build_smoke_model()


# --------------------------------------------------------------------------- loss curve
def training_losses(log_history) -> list[tuple[int, float]]:
    """``[(step, loss)]`` of the training-loss entries of ``Trainer.state.log_history``."""
    return [(int(e["step"]), float(e["loss"])) for e in log_history if "loss" in e and "step" in e]


def plot_loss_curve(log_history, ax=None, path: Path | str | None = None, title: str = "QLoRA fine-tuning"):
    import matplotlib.pyplot as plt

    pts = training_losses(log_history)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    ax.plot([s for s, _ in pts], [loss for _, loss in pts], marker="o", ms=3)
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig
