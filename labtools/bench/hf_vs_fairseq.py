"""Hugging Face Trainer s/step vs fairseq s/update, same model, batch and lengths, in one run.

Both frameworks fine-tune the *same* base model (``frlab.fairseq.pretrain.base_model_dir(profile)``, converted
for HF by ``frlab.hf.convert``) for sequence classification with Part 2's hyper-parameters, on the
*same* reviews: CLS-Books training reviews that are at least ``--length`` tokens long, truncated to
``--length`` -- so every batch is exactly ``batch x length`` tokens in both frameworks (no padding
difference).  Timing windows exclude start-up: fairseq's time is taken between its ``train_inner``
log lines (timestamped as they are printed), HF's between ``on_step_end`` callbacks, both after
``--warmup`` updates.  The rounds alternate (fairseq, HF, fairseq, HF, ...) so that a change of load
on a shared machine hits both; the median per framework is reported.

    python -m labtools.bench.hf_vs_fairseq [--profile cpu] [--steps 40] [--rounds 2] [--out results/part3/cpu/bench.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def long_reviews(spm_model: Path, reviews: list[str], labels: list[int], n_pieces: int):
    """Reviews with at least ``n_pieces`` sentencepiece pieces, as (first ``n_pieces`` pieces, text, label)."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    out = []
    for text, y in zip(reviews, labels):
        pieces = sp.encode(text, out_type=str)
        if len(pieces) >= n_pieces:
            out.append((" ".join(pieces[:n_pieces]), text, y))
    return out


def fairseq_round(
    data_bin: Path,
    run_dir: Path,
    base: Path,
    hp: dict,
    steps: int,
    warmup: int,
    threads: int,
    seed: int,
    n_train: int,
    log_interval: int,
) -> float:
    from frlab.fairseq import finetune as ff
    from frlab.runs import tool_env as _env
    from labtools.chapter_code import part2_train_command

    arch = ff.model_arch_args(base)
    cmd = part2_train_command(data_bin, run_dir, base / "model.pt", seed, hp, arch, n_train)

    def setv(flag, value):
        cmd[cmd.index(flag) + 1] = str(value)

    setv("--max-update", steps)
    setv("--max-epoch", 1000)
    setv("--log-interval", log_interval)
    if "--validate-interval-updates" in cmd:
        i = cmd.index("--validate-interval-updates")
        del cmd[i : i + 2]
    cmd += ["--disable-validation"]
    marks = []
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(threads), bufsize=1
    )
    tail = []
    for line in proc.stdout:
        tail = (tail + [line])[-30:]
        m = re.search(r"\| train_inner \|.*num_updates=(\d+)", line)
        if m:
            marks.append((time.perf_counter(), int(m.group(1))))
    if proc.wait() != 0:
        raise RuntimeError("fairseq-train failed:\n" + "".join(tail))
    marks = [(t, u) for t, u in marks if u >= warmup]
    if len(marks) < 2:
        raise RuntimeError(f"not enough fairseq log lines ({marks}); raise --steps")
    (t0, u0), (t1, u1) = marks[0], marks[-1]
    return (t1 - t0) / (u1 - u0)


def hf_round(
    model_dir: Path,
    texts: list[str],
    labels: list[int],
    hp: dict,
    steps: int,
    warmup: int,
    seed: int,
    length: int,
    out_dir: Path,
) -> float:
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
    )

    from autograder import answer_keys

    tok = AutoTokenizer.from_pretrained(model_dir)
    ds = Dataset.from_dict({"sentence1": texts, "label": labels}).map(
        lambda b: tok(b["sentence1"], truncation=True, max_length=length), batched=True, remove_columns=["sentence1"]
    )
    assert all(len(x) == length for x in ds["input_ids"]), "every review must fill the batch length"
    marks = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            marks.append((time.perf_counter(), state.global_step))

    # the chapter's own TrainingArguments, cut to a fixed number of steps without evaluation or saving
    args = dataclasses.replace(
        answer_keys.training_arguments(out_dir, seed, hp),
        max_steps=steps,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
    )
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    collator = DataCollatorWithPadding(tok)
    trainer = Trainer(model, args, train_dataset=ds, data_collator=collator, processing_class=tok, callbacks=[Clock()])
    trainer.train()
    marks = [(t, s) for t, s in marks if s >= warmup]
    (t0, s0), (t1, s1) = marks[0], marks[-1]
    return (t1 - t0) / (s1 - s0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default=None, help="model/hyper-parameter profile (default: FRLAB_PROFILE or smoke)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5, help="updates left out of the timing window")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--length",
        type=int,
        default=None,
        help="tokens per review, <s> and </s> included (default: the profile's max length)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for both (1 avoids over-subscription on a shared 2-core machine)",
    )
    ap.add_argument("--out", default=None, help="write the result JSON here")
    a = ap.parse_args(argv)
    if a.profile:
        os.environ["FRLAB_PROFILE"] = a.profile

    import torch

    from frlab import profiles
    from frlab.fairseq import finetune as ff
    from frlab.fairseq.pretrain import base_model_dir
    from frlab.hf import convert as fairseq_to_hf
    from frlab.hf import finetune as hf_finetune
    from frlab.runs import hardware
    from labtools.chapter_code import part2_preprocess_commands

    torch.set_num_threads(a.threads)
    prof = profiles.current()
    base = base_model_dir(prof.name)
    work = hf_finetune.part3_dir() / "bench"
    work.mkdir(parents=True, exist_ok=True)
    model_dir = fairseq_to_hf.hf_model_dir(base, out_dir=hf_finetune.part3_dir() / "hf-base")
    hp_fs = ff.hyperparameters(prof.name)
    hp_hf = hf_finetune.hyperparameters(prof.name)
    a.length = a.length or hp_hf["max_length"]
    src = hf_finetune.cls_books_dir()
    reviews = (src / "train.review").read_text(encoding="utf-8").splitlines()
    labels = [int(x) for x in (src / "train.label").read_text().split()]
    # fairseq: <s> + (length - 2) pieces + </s>; HF: the text truncated to `length` tokens incl. <s> </s>:
    # the same `length` ids in both
    rows = long_reviews(base / "sentencepiece.bpe.model", reviews, labels, a.length - 2)
    if len(rows) < hp_hf["batch_size"] * 4:
        raise SystemExit(f"only {len(rows)} reviews have >= {a.length} pieces: lower --length")
    text_dir = work / f"text{a.length}"
    text_dir.mkdir(exist_ok=True)
    for split in ("train", "valid", "test"):
        (text_dir / f"{split}.input0").write_text("".join(r[0] + "\n" for r in rows), encoding="utf-8")
        (text_dir / f"{split}.label").write_text("".join(f"{r[2]}\n" for r in rows), encoding="utf-8")
    data_bin = work / f"bin{a.length}"
    if not ff.is_binarised(data_bin):
        for cmd in part2_preprocess_commands(base / "dict.txt", text_dir, data_bin):
            subprocess.run(cmd, check=True, capture_output=True)
    print(
        f"bench: profile {prof.name}, model {base}, {len(rows)} reviews of >= {a.length} pieces, batch "
        f"{hp_hf['batch_size']} x {a.length} tokens, {a.steps} updates per round ({a.warmup} left out), "
        f"{a.threads} threads",
        flush=True,
    )
    fs_times, hf_times = [], []
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        for r in range(a.rounds):
            fs = fairseq_round(
                data_bin, Path(tmp) / f"fs{r}", base, hp_fs, a.steps, a.warmup, a.threads, r, len(rows), log_interval=5
            )
            fs_times.append(fs)
            print(f"round {r}: fairseq {fs:.4f} s/update", flush=True)
            hf = hf_round(
                model_dir,
                [r_[1] for r_ in rows],
                [r_[2] for r_ in rows],
                hp_hf,
                a.steps,
                a.warmup,
                r,
                a.length,
                Path(tmp) / f"hf{r}",
            )
            hf_times.append(hf)
            print(f"round {r}: HF Trainer {hf:.4f} s/step", flush=True)
    fs_med, hf_med = statistics.median(fs_times), statistics.median(hf_times)
    ratio = hf_med / fs_med
    result = {
        "profile": prof.name,
        "base_model": str(base),
        "hardware": hardware(),
        "threads": a.threads,
        "batch_size": hp_hf["batch_size"],
        "tokens_per_review": a.length,
        "updates_per_round": a.steps,
        "warmup_left_out": a.warmup,
        "rounds": a.rounds,
        "fairseq_seconds_per_update_rounds": [round(x, 4) for x in fs_times],
        "hf_seconds_per_step_rounds": [round(x, 4) for x in hf_times],
        "fairseq_seconds_per_update": round(fs_med, 4),
        "hf_seconds_per_step": round(hf_med, 4),
        "ratio_hf_over_fairseq": round(ratio, 3),
        "ratio_per_round": [round(h / f, 3) for h, f in zip(hf_times, fs_times)],
        "target": "HF within 1.1x of the faster one (ratio <= 1.1)",
        "within_target": bool(ratio <= 1.1),
        "measured_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "versions": {
            "torch": torch.__version__,
            "transformers": __import__("transformers").__version__,
            "fairseq": __import__("fairseq").__version__,
        },
    }
    print(
        f"HF Trainer {hf_med:.4f} s/step vs fairseq {fs_med:.4f} s/update: ratio HF/fairseq = {ratio:.3f} "
        f"({'within' if result['within_target'] else 'outside'} the 1.1x target)"
    )
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print("written", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
