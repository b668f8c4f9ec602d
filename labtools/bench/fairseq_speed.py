"""Benchmark: fairseq seconds per update for the course's fine-tuning configuration on this machine.

Times ``fairseq-train --task sentence_prediction --arch roberta_small`` with batch 8 and reviews of
``--tokens`` pieces (~200 by default, like a CLS-Books review), on synthetic data (no download needed),
and prints seconds/update.  By default it measures the course's size (4 layers, dim 512, ffn 512, 8 heads,
32,000-row vocabulary); ``--model-dir`` measures the architecture of a given checkpoint (e.g. the
``cpu`` reference base model) and ``--dims L,D,F,H --vocab V`` any other size.

    python -m labtools.bench.fairseq_speed                      # course configuration
    python -m labtools.bench.fairseq_speed --dims 4,128,512,4 --vocab 8000 --tokens 128   # cpu reference model

The first ``--skip`` updates (start-up, allocator warm-up) are excluded.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import tempfile
import time
from pathlib import Path

from frlab.fairseq import finetune as ff
from frlab.paths import fairseq_user_dir
from frlab.runs import hardware, tool_path


def make_data(folder: Path, vocab: int, tokens: int, n: int = 400) -> Path:
    rng = random.Random(0)
    symbols = [f"tok{i}" for i in range(vocab - 5)]  # + <s> <pad> </s> <unk> <mask> = vocab rows
    (folder / "dict.txt").write_text("".join(f"{s} 1\n" for s in symbols))
    for split, m in (("train", n), ("valid", 8)):
        with open(folder / f"{split}.input0", "w") as f:
            for _ in range(m):
                length = max(8, int(rng.gauss(tokens - 2, 0.1 * tokens)))
                f.write(" ".join(rng.choice(symbols) for _ in range(length)) + "\n")
        (folder / f"{split}.label").write_text("".join(f"{rng.randint(0, 1)}\n" for _ in range(m)))
    bin_ = folder / "bin"
    for field, extra in (("input0", ["--srcdict", str(folder / "dict.txt")]), ("label", [])):
        subprocess.run(
            [
                tool_path("fairseq-preprocess"),
                "--only-source",
                *extra,
                "--trainpref",
                str(folder / f"train.{field}"),
                "--validpref",
                str(folder / f"valid.{field}"),
                "--destdir",
                str(bin_ / field),
                "--workers",
                "1",
            ],
            check=True,
            capture_output=True,
        )
    return bin_


def bench(
    dims: tuple[int, int, int, int], vocab: int, tokens: int, updates: int, skip: int, threads: int | None
) -> dict:
    with tempfile.TemporaryDirectory(prefix="frlab-bench-") as tmp:
        tmp = Path(tmp)
        bin_ = make_data(tmp, vocab, tokens)
        L, D, F, H = dims
        log_interval = 5
        cmd = [
            tool_path("fairseq-train"),
            str(bin_),
            "--user-dir",
            str(fairseq_user_dir()),
            "--restore-file",
            ff.RANDOM_INIT_RESTORE,
            "--task",
            "sentence_prediction",
            "--num-classes",
            "2",
            "--init-token",
            "0",
            "--separator-token",
            "2",
            "--arch",
            "roberta_small",
            "--encoder-layers",
            str(L),
            "--encoder-embed-dim",
            str(D),
            "--encoder-ffn-embed-dim",
            str(F),
            "--encoder-attention-heads",
            str(H),
            *"--criterion sentence_prediction --max-positions 256 --shorten-method truncate --batch-size 8".split(),
            *"--optimizer adam --adam-betas (0.9,0.98) --lr 1e-5 --weight-decay 0.01 --lr-scheduler polynomial_decay".split(),
            "--total-num-update",
            str(updates),
            "--warmup-updates",
            "6",
            "--max-update",
            str(updates),
            "--disable-validation",
            "--no-save",
            "--log-format",
            "simple",
            "--log-interval",
            str(log_interval),
            "--num-workers",
            "0",
            "--cpu",
        ]
        env = dict(os.environ)
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        t0 = time.time()
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.time() - t0
        if out.returncode != 0:
            raise RuntimeError(out.stdout[-3000:] + out.stderr[-3000:])
        text = out.stdout + out.stderr
        ups = [float(x) for x in re.findall(r"\bups=([\d.]+)", text)]
        wpb = [float(x) for x in re.findall(r"\bwpb=([\d.]+)", text)]
        steady = ups[max(1, skip // log_interval) :] or ups
        s_per_update = len(steady) / sum(steady)
        return {
            "s_per_update": s_per_update,
            "tokens_per_update": sum(wpb) / len(wpb),
            "updates": updates,
            "wall_s": wall,
            "course_1000_updates_min": 1000 * s_per_update / 60,
        }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dims", default="4,512,512,8", help="layers,dim,ffn,heads (default: roberta_small)")
    p.add_argument("--vocab", type=int, default=32000, help="embedding rows (default: 32,000 like the course)")
    p.add_argument("--model-dir", type=Path, default=None, help="take the sizes from this checkpoint folder")
    p.add_argument("--tokens", type=int, default=200, help="pieces per review (default 200)")
    p.add_argument("--updates", type=int, default=60)
    p.add_argument("--skip", type=int, default=10, help="updates excluded as warm-up")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args(argv)
    dims = tuple(int(x) for x in a.dims.split(","))
    vocab = a.vocab
    if a.model_dir:
        arch = ff.model_arch_args(a.model_dir)
        dims = tuple(arch[k] for k in ff.ARCH_KEYS)
        vocab = sum(1 for _ in open(a.model_dir / "dict.txt", encoding="utf-8")) + 5
    r = bench(dims, vocab, a.tokens, a.updates, a.skip, a.threads)
    print(f"machine: {hardware()} | torch threads: {a.threads or 'default'} | load average: {os.getloadavg()[0]:.1f}")
    print(
        f"roberta_small layers,dim,ffn,heads={dims} vocab={vocab} | batch 8 x ~{a.tokens} pieces "
        f"({r['tokens_per_update']:.0f} tokens/update)"
    )
    print(f"fairseq s/update: {r['s_per_update']:.3f}  (steady state over {a.updates - a.skip} updates)")
    print(f"1,000 course updates ≈ {r['course_1000_updates_min']:.1f} min without validation")


if __name__ == "__main__":
    main()
