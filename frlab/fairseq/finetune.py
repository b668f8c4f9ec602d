"""Part 2 plumbing: CLS-Books data preparation and fairseq ``sentence_prediction`` runs.

The chapter (``solutions/part2_fairseq_finetuning.py``) builds the
``fairseq-preprocess`` and ``fairseq-train`` command lines itself -- they are the
teaching material.  This module holds what it should not have to write:

* :func:`validate_labels` -- a label file must hold only ``0``/``1`` and as many
  lines as its review file; errors name the file and the line;
* :func:`read_split` -- the reviews and validated labels of a split (optionally a slice, for the smoke
  profile); the chapter encodes the reviews with the base model's sentencepiece itself (an exercise);
* :func:`parse_train_args`, :func:`parse_preprocess_args` -- an argument list read by fairseq's own parsers
  (order does not matter): what the chapter's checks and the grader compare;
* :func:`model_arch_args` -- the architecture flags of a checkpoint
  (``--encoder-layers`` ...), so fine-tuning builds the same network whether it
  starts from the checkpoint or from random weights;
* :func:`hyperparameters` -- per-profile hyper-parameters (the course's for
  ``cpu``/``full``; a tiny slice for ``smoke``);
* :func:`run_training` -- run one ``fairseq-train`` command with live progress,
  **idempotently**: a run whose ``run.json`` marker exists (same command) is
  loaded, not retrained; a pretrained run whose checkpoint is missing fails
  loudly (only a random-init run may name a nonexistent ``--restore-file``).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import time
from pathlib import Path

from frlab import profiles
from frlab.cls_books import LabelError, count_lines, hyperparameters, total_updates, validate_labels  # noqa: F401 (re-exported for the chapter)
from frlab.paths import fairseq_user_dir, work_dir
from frlab.runs import INITS, MARKER, SEEDS, SPLITS, run_logged, run_name, tool_env, tool_path  # noqa: F401 (re-exported for the chapter)

RANDOM_INIT_RESTORE = "/nonexistent/random-init/checkpoint.pt"


class MissingCheckpointError(FileNotFoundError):
    """The pretrained run's --restore-file does not exist (fairseq would silently start from scratch)."""


# --------------------------------------------------------------------------- data
def read_split(
    review_path: Path | str, label_path: Path | str, limit: int | None = None
) -> tuple[list[str], list[int]]:
    """The reviews (one per line, without the newline) and the validated labels of one split.

    ``limit`` keeps a seeded random subset of ``limit`` examples, in file order (smoke profile): the files are
    sorted by label, so a head would hold one class only.
    """
    labels = validate_labels(label_path, review_path)
    with open(review_path, encoding="utf-8") as fin:
        reviews = [line.rstrip("\n") for line in fin]
    if limit is not None and limit < len(labels):
        keep = sorted(random.Random(0).sample(range(len(labels)), limit))
        reviews, labels = [reviews[i] for i in keep], [labels[i] for i in keep]
    return reviews, labels


def write_lines(path: Path | str, lines) -> Path:
    """One item per line (``str(item)``), UTF-8; the folder is created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def toy_sentencepiece(texts: list[str], vocab_size: int = 60):
    """A tiny sentencepiece model trained in memory on ``texts`` (checks of the encoding exercise)."""
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=toy_sentencepiece_proto(texts, vocab_size))


def toy_sentencepiece_proto(texts: list[str], vocab_size: int = 60) -> bytes:
    """The serialised model of :func:`toy_sentencepiece` (what the grader sends to the kernel); ``vocab_size`` is
    raised to hold every character of ``texts``."""
    import io

    import sentencepiece as spm

    texts = list(texts)
    vocab_size = max(vocab_size, len(set("".join(texts))) + 8)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=buf,
        vocab_size=vocab_size,
        model_type="bpe",
        character_coverage=1.0,
        normalization_rule_name="identity",
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    return buf.getvalue()


# --------------------------------------------------------------------------- argument lists
class ArgumentError(ValueError):
    """fairseq's parser refuses an argument list (the message is argparse's)."""


def _user_dirs(args: list[str]) -> list[str]:
    out = []
    for i, tok in enumerate(args):
        if tok == "--user-dir":
            out.append(args[i + 1] if i + 1 < len(args) else "")
        elif tok.startswith("--user-dir="):
            out.append(tok.split("=", 1)[1])
    return out


def _checked(args) -> list[str]:
    if type(args) not in (list, tuple) or not all(type(a) is str for a in args):
        raise ArgumentError("an argument list is a list of str")
    args = list(args)
    allowed = os.path.normpath(str(fairseq_user_dir()))
    for d in _user_dirs(args):
        # fairseq imports the --user-dir folder as Python: only frlab's plugin is ever read
        if os.path.normpath(d) != allowed:
            raise ArgumentError("--user-dir must be frlab's plugin folder (frlab.paths.fairseq_user_dir())")
    return args


def _parse(make_parser, args: list[str], with_arch: bool) -> dict:
    from fairseq import options

    def error(message):
        raise ArgumentError(message)

    parser = make_parser()
    parser.error = error
    try:
        if with_arch:
            import frlab.fairseq.frlab_plugin  # noqa: F401  registers roberta_small

            ns = options.parse_args_and_arch(parser, args)
        else:
            ns = parser.parse_args(args)
    except ArgumentError:
        raise
    except (Exception, SystemExit) as exc:  # an unknown --arch, a registry lookup, argparse's exit
        raise ArgumentError(f"{type(exc).__name__}: {exc}") from None
    return dict(vars(ns))


def parse_train_args(args: list[str]) -> dict:
    """``fairseq-train``'s settings from its argument list (without the program name), read by fairseq's own
    parser: ``{"lr": [1e-05], "batch_size": 8, ...}``; flags in any order. :class:`ArgumentError` when fairseq
    would refuse the list (its message), or when ``--user-dir`` is not frlab's plugin."""
    from fairseq import options

    return _parse(options.get_training_parser, _checked(args), with_arch=True)


def parse_preprocess_args(args: list[str]) -> dict:
    """``fairseq-preprocess``'s settings from its argument list (without the program name), by fairseq's own
    parser; flags in any order. :class:`ArgumentError` when fairseq would refuse the list."""
    from fairseq import options

    return _parse(options.get_preprocessing_parser, _checked(args), with_arch=False)


def is_binarised(data_bin: Path | str) -> bool:
    data_bin = Path(data_bin)
    return all((data_bin / f / f"{s}.bin").exists() for f in ("input0", "label") for s in SPLITS)


# --------------------------------------------------------------------------- model / hyper-parameters
def checkpoint_model_args(checkpoint: Path | str) -> dict:
    """The model arguments stored in a fairseq checkpoint (``cfg.model`` or legacy ``args``)."""
    import torch

    import frlab.fairseq.frlab_plugin  # noqa: F401  allow-list for weights_only loading

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    cfg = state.get("cfg") or {}
    model = cfg.get("model") if isinstance(cfg, dict) else getattr(cfg, "model", None)
    if model is None:
        model = state.get("args")
    if model is None:
        raise ValueError(f"{checkpoint}: no model arguments (cfg.model / args) in the checkpoint")
    return dict(vars(model)) if not isinstance(model, dict) else dict(model)


ARCH_KEYS = ("encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim", "encoder_attention_heads")


def model_arch_args(model_dir: Path | str) -> dict:
    """Architecture sizes + max_positions of ``model_dir/model.pt`` (``{"encoder_layers": 4, ...}``)."""
    ckpt = Path(model_dir) / "model.pt"
    if not ckpt.is_file():
        raise MissingCheckpointError(f"no fairseq checkpoint {ckpt}")
    args = checkpoint_model_args(ckpt)
    out = {k: int(args[k]) for k in ARCH_KEYS if args.get(k) is not None}
    mp = args.get("max_positions") or args.get("tokens_per_sample")
    if mp:
        out["max_positions"] = int(mp)
    return out


def arch_flags(arch: dict) -> list[str]:
    """``{"encoder_layers": 4}`` -> ``["--encoder-layers", "4"]`` (max_positions excluded)."""
    flags = []
    for k in ARCH_KEYS:
        if k in arch:
            flags += ["--" + k.replace("_", "-"), str(arch[k])]
    return flags


def format_command(cmd: list[str]) -> str:
    """A command line for display: one ``--flag value`` per line, shell-style continuations."""
    lines, cur = [], [Path(cmd[0]).name]
    for tok in cmd[1:]:
        if tok.startswith("--") and cur:
            lines.append(" ".join(cur))
            cur = []
        cur.append(tok if " " not in tok and "(" not in tok else f"'{tok}'")
    lines.append(" ".join(cur))
    return " \\\n    ".join(lines)


# --------------------------------------------------------------------------- running
def _value_after(cmd: list[str], flag: str) -> str | None:
    return cmd[cmd.index(flag) + 1] if flag in cmd else None


def restore_fingerprint(restore: str | None) -> str | None:
    """Size and modification time of the ``--restore-file`` (None when it does not exist): a rebuilt
    base model at the same path must not count as the same run."""
    if not restore or not Path(restore).is_file():
        return None
    st = Path(restore).stat()
    return f"{st.st_size}-{int(st.st_mtime)}"


def run_is_finished(run_dir: Path | str, cmd: list[str] | None = None) -> bool:
    """True when ``run_dir`` holds a finished run (its ``run.json``), of the same command (and the same
    ``--restore-file`` checkpoint) if ``cmd`` is given."""
    marker = Path(run_dir) / MARKER
    if not marker.is_file():
        return False
    if cmd is None:
        return True
    info = json.loads(marker.read_text(encoding="utf-8"))
    return _normalise(info.get("command", [])) == _normalise(cmd) and info.get(
        "restore_fingerprint"
    ) == restore_fingerprint(_value_after(cmd, "--restore-file"))


def _normalise(cmd: list[str]) -> list[str]:
    # the interpreter folder may differ between machines: compare tool names, not paths
    return [Path(c).name if c.endswith(("fairseq-train", "fairseq-preprocess")) else c for c in cmd]


def run_training(
    cmd: list[str],
    run_dir: Path | str,
    *,
    init: str,
    threads: int | None = None,
    verbose: bool = True,
    force: bool = False,
    profile: profiles.Profile | str | None = None,
) -> dict:
    """Run one ``fairseq-train`` command into ``run_dir`` (idempotent); returns the ``run.json`` record.

    The record says what the run was, written when it is made: the ``profile`` it was made for, the model width
    (``hidden_size``), the updates planned (``--max-update``) and done, and the fp16 steps the loss scaler skipped
    (a GPU run that skipped one step ends one update short: it is still a whole run). Under the profile's step cap
    (``FRLAB_MAX_UPDATES``) the run stops there: ``--max-update <cap>`` is appended to the command that runs, and the
    record keeps the chapter's command, ``max_updates_cap`` and the ``executed_command``.

    * A finished run (``run_dir/run.json`` written by the same command, from the same checkpoint file) is
      **loaded, not retrained**.
    * ``init="pretrained"``: the ``--restore-file`` must exist, else :class:`MissingCheckpointError`
      (fairseq itself would silently train from random weights).  ``init="random"``: the
      ``--restore-file`` must *not* exist -- that is how the random-init run is made.
    * Progress: fairseq's ``train_inner``/``valid`` lines are echoed live; everything goes to
      ``run_dir/train.log``.
    """

    run_dir = Path(run_dir)
    prof = profiles.resolve(profile)
    restore = _value_after(cmd, "--restore-file")
    planned = int(_value_after(cmd, "--max-update") or 0)
    cap = prof.max_updates if prof.max_updates and (not planned or planned > prof.max_updates) else None
    # the step cap (FRLAB_MAX_UPDATES): the chapter's command, then --max-update again (fairseq's parser keeps the
    # last value); the command recorded and compared is the chapter's, the cap is recorded beside it
    executed = [*cmd, "--max-update", str(cap)] if cap is not None else list(cmd)
    if init == "pretrained":
        if not restore or not Path(restore).is_file():
            raise MissingCheckpointError(
                f"pretrained run {run_dir.name}: --restore-file {restore!r} does not exist. fairseq would "
                f"silently start from random weights; check the base model path (frlab.fairseq.pretrain.base_model_dir)."
            )
    elif init == "random":
        if restore and Path(restore).exists():
            raise ValueError(
                f"random-init run {run_dir.name}: --restore-file {restore} exists; "
                f"use a path that does not exist so fairseq starts from random weights"
            )
    else:
        raise ValueError(f"init must be one of {INITS}, not {init!r}")
    if not force and run_is_finished(run_dir, cmd) and _cap_of(run_dir) == cap:
        info = json.loads((run_dir / MARKER).read_text(encoding="utf-8"))
        if verbose:
            print(f"[{run_dir.name}] finished run found ({info.get('minutes')} min): loaded, not retrained")
        info["reused"] = True
        return info
    # an unfinished or different run: start clean
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    if verbose:
        print(f"[{run_dir.name}] training ({init} init) ...", flush=True)
    t0 = time.time()
    if verbose and executed != cmd:
        print(f"[{run_dir.name}] step cap {prof.max_updates} ({profiles.MAX_UPDATES_VAR}): --max-update {cap}")
    run_logged(
        executed,
        run_dir / "train.log",
        env=tool_env(threads),
        echo=verbose,
        echo_filter=lambda line: (
            "| train_inner |" in line
            or "| valid |" in line
            or "| test |" in line
            or "Error" in line
            or "done training" in line
        ),
    )
    minutes = (time.time() - t0) / 60
    log_text = (run_dir / "train.log").read_text(encoding="utf-8", errors="replace")
    info = {
        "run": run_dir.name,
        "profile": prof.name,
        "hidden_size": int(_value_after(cmd, "--encoder-embed-dim") or 512),
        "planned_updates": planned,
        "max_updates_cap": cap,  # None: not capped (FRLAB_MAX_UPDATES)
        "done_updates": max((int(n) for n in re.findall(r"\bnum_updates[= ](\d+)", log_text)), default=0),
        "skipped_fp16_steps": log_text.count("gradient overflow detected"),
        "world_size": int(_value_after(cmd, "--distributed-world-size") or 0) or None,  # None: every GPU fairseq saw
        "init": init,
        "restore_file": restore,
        "restore_fingerprint": restore_fingerprint(restore),
        "seed": int(_value_after(cmd, "--seed") or 0),
        "command": cmd,
        **({"executed_command": executed} if executed != cmd else {}),
        "minutes": round(minutes, 2),
        "finished_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    (run_dir / MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    info["reused"] = False
    return info


def _cap_of(run_dir: Path) -> int | None:
    """The step cap a finished run was made under (None: none)."""
    try:
        return json.loads((Path(run_dir) / MARKER).read_text(encoding="utf-8")).get("max_updates_cap")
    except (OSError, ValueError, AttributeError):
        return None


def part2_dir(profile: profiles.Profile | str | None = None) -> Path:
    """``<work>/<profile>/part2``: encoded text, binarised data and runs of the chapter."""
    return work_dir() / profiles.resolve(profile).name / "part2"


def seconds_per_update(log_path: Path | str) -> float | None:
    """Mean training seconds per update from the ``ups=`` of a fairseq log (first interval skipped)."""
    import re

    ups = [float(m.group(1)) for m in re.finditer(r"\bups=([\d.]+)", Path(log_path).read_text(errors="replace"))]
    ups = ups[1:] or ups
    return round(1 / (sum(ups) / len(ups)), 4) if ups and sum(ups) > 0 else None
