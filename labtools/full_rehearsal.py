"""The full profile rehearsed on a CPU at full size, with stand-ins of its assets (issue 14, item 4).

    python -m labtools.full_rehearsal [--max-updates 20] [--parts 1 2 3 4] [--build-only]

1. Builds a mirror (``<work>/full-rehearsal/mirror``, never in the repository) holding, as ``FRLAB_MIRROR``
   serves them:

   * ``RoBERTa_small_fr.zip``: a stand-in of the course zip in its exact layout (:mod:`labtools.standins`): the
     course's architecture, a 32k sentencepiece trained on fr-corpus, random weights;
   * ``hf/bigscience/bloom-560m/``: bloom-560m built from its configuration with random weights, hub-style;
   * ``cls-books``, ``fr-corpus``: links to the maintainers' mirror (``FRLAB_MIRROR``).

2. Runs every chapter headless in the ``full`` profile (``labtools.run_lab --profile full``) with one seed and a step
   cap (``FRLAB_MAX_UPDATES``), an empty asset cache and its own work folder, so the stand-ins are never taken for
   the real assets elsewhere.
3. Checks the figures the full profile must show on the real architecture, grades the executed notebooks with the
   course's grader and writes ``results/full-rehearsal.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from frlab.paths import REPO_ROOT, results_dir, work_dir
from labtools import provenance, standins

OUT = results_dir() / "full-rehearsal.json"
DEFAULT_CAP = 10  # the least that gives Part 4 two logged losses (logging_steps=5) for its loss-goes-down check
BUDGET_MINUTES = 30  # the four chapters' wall time the rehearsal aims at on 2 cores
#: the figures of the full profile's architecture (Part 1, Part 4)
PART1_COUNTS = {"weights_only": 22_807_552, "with_biases_and_layernorm": 22_829_056}
PART4_COUNTS = {"trainable": 1_572_864, "total": 560_787_456}
#: the grader's sandbox limits for full-size notebooks (its defaults suit the cpu and smoke profiles): bloom-560m
#: is loaded and generates in Part 4's grading
GRADING_LIMITS = {"FRLAB_SANDBOX_MEM_MB": "24576", "FRLAB_SANDBOX_CPU_S": "7200"}
#: the assets the chapters fetch in the full profile that the maintainers' mirror holds as they are
LINKED = ("cls-books", "fr-corpus")


def rehearsal_dir() -> Path:
    return work_dir() / "full-rehearsal"


def build_mirror(root: Path, source_mirror: Path, *, verbose: bool = True) -> dict:
    """The rehearsal's mirror in ``root/mirror`` (see the module's docstring); returns what was built."""
    mirror = root / "mirror"
    mirror.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        src = source_mirror / name
        if not src.is_dir():
            raise FileNotFoundError(f"the maintainers' mirror {source_mirror} has no {name}/ (set FRLAB_MIRROR)")
        standins.link_folder(mirror / name, src)
    t0 = time.time()
    course = standins.build_course_model(root / "course-model", verbose=verbose)
    zip_path = standins.write_course_zip(
        mirror / "RoBERTa_small_fr.zip", {f: root / "course-model" / f for f in standins.COURSE_ZIP_FILES}
    )
    course["seconds"] = round(time.time() - t0, 1)
    bloom = standins.build_bloom_560m(standins.bloom_in(mirror), verbose=verbose)
    return {"mirror": str(mirror), "course_zip": str(zip_path), "course_model": course, "bloom_560m": bloom}


def rehearsal_env(root: Path, cap: int, seeds: int = 1) -> dict:
    """The environment of the rehearsal's chapters: the full profile, one seed, the step cap, the stand-ins' mirror,
    an asset cache and a work folder of its own, no network for the Hub, one thread per process."""
    return {
        "FRLAB_PROFILE": "full",
        "FRLAB_SEEDS": str(seeds),
        "FRLAB_MAX_UPDATES": str(cap),
        "FRLAB_MIRROR": str(root / "mirror"),
        "FRLAB_CACHE": str(root / "cache"),
        "FRLAB_WORK": str(root / "work"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # one thread per process, as the cpu profile does: on a shared 2-core machine two threads wait on each other
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


CHAPTER_LINE = r"^--- (part\d_\w+): (ok|FAILED) in ([\d.]+) s$"


def run_chapters(env: dict, parts: list[int] | None, log_path: Path, timeout: int = 3600) -> dict:
    """``python -m labtools.run_lab --profile full`` with ``env`` (output shown and kept in ``log_path``);
    ``{"exit_status", "seconds", "chapters": {stem: {"status", "seconds"}}}``."""
    import re

    cmd = [sys.executable, "-m", "labtools.run_lab", "--profile", env["FRLAB_PROFILE"], "--timeout", str(timeout)]
    cmd += ["--parts", *map(str, parts)] if parts else []
    t0 = time.time()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        lines = []
        for line in proc.stdout:
            print(line, end="", flush=True)
            log.write(line)
            log.flush()
            lines.append(line.rstrip("\n"))
        rc = proc.wait()
    chapters = {
        m[0]: {"status": m[1], "seconds": float(m[2])} for m in re.findall(CHAPTER_LINE, "\n".join(lines), re.M)
    }
    return {
        "command": " ".join(["python -m labtools.run_lab", *cmd[3:]]),
        "exit_status": rc,
        "seconds": round(time.time() - t0, 1),
        "chapters": chapters,
    }


def _outputs(executed: Path, stem: str) -> str:
    import nbformat

    from labtools.execute import outputs_text

    path = executed / f"{stem}.ipynb"
    return outputs_text(nbformat.read(path, as_version=4)) if path.is_file() else ""


def _ints(text: str) -> list[int]:
    return [int(x.replace(",", "")) for x in text]


def part1_figures(env: dict, executed: Path) -> dict:
    """Part 1's two counts read from the served ``model.pt`` (the fairseq model it holds, loaded), beside the
    counts the executed chapter printed."""
    import re

    from frlab.assets import COMPLETE_MARKER, fetch
    from frlab.fairseq.models import load_roberta_hub

    model_dir = fetch("roberta-small-fr-fairseq", progress=False)  # through the mirror, as the course asset
    hub = load_roberta_hub(model_dir)
    encoder = hub.model.encoder.sentence_encoder
    named = list(encoder.named_parameters())
    weights = sum(
        p.numel() for n, p in named if n.endswith(".weight") and "layer_norm" not in n and "layernorm" not in n
    )
    text = _outputs(executed, "part1_parameter_counting")
    printed = {
        key: _ints(m.groups()) if (m := re.search(rf"\({tag}\) analytic ([\d,]+)\s+\| model ([\d,]+)", text)) else None
        for key, tag in (("weights_only", "A"), ("with_biases_and_layernorm", "B"))
    }
    counts = {"weights_only": weights, "with_biases_and_layernorm": sum(p.numel() for _, p in named)}
    return {
        "model_pt": str(model_dir / "model.pt"),
        "fetched_from": (model_dir / COMPLETE_MARKER).read_text().strip().splitlines()[-1],
        "dictionary_rows": len(hub.model.encoder.dictionary),
        "counts_from_model_pt": counts,
        "chapter_printed_analytic_and_model": printed,
        "expected": PART1_COUNTS,
        "ok": counts == PART1_COUNTS and all(v == [PART1_COUNTS[k]] * 2 for k, v in printed.items()),
    }


def _token_diff(a: list[str], b: list[str]) -> list[str]:
    import difflib

    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op != "equal":
            out.append(f"{op}: {' '.join(a[i1:i2]) or '-'} -> {' '.join(b[j1:j2]) or '-'}")
    return out


def part2_figures(work: Path) -> dict:
    """Part 2's run commands (the chapter's, from the run records) against the same chapter code with a CUDA
    profile; accuracies (meaningless with random weights and a cap, recorded as the plumbing's output)."""
    from autograder import answer_keys
    from frlab import profiles
    from frlab.assets import fetch
    from frlab.cls_books import count_lines
    from frlab.fairseq import finetune as ff

    gpu = profiles.Profile(name="full", device="cuda")
    part2 = work / "full" / "part2"
    runs, diffs = {}, {}
    base_model = fetch("roberta-small-fr-fairseq", progress=False)  # the model the chapter started from
    for marker in sorted((part2 / "runs").glob("*/run.json")):
        rec = json.loads(marker.read_text())
        cmd = rec["command"]
        hp = ff.hyperparameters(gpu)
        hp["seeds"] = [rec["seed"]]
        restore = Path(ff._value_after(cmd, "--restore-file"))
        run_dir = marker.parent
        n_train = count_lines(part2 / "text" / "train.label")
        arch = ff.model_arch_args(base_model)
        bin_ = Path(cmd[1])
        if rec["init"] == "pretrained":
            gpu_args = answer_keys.part2_train_args(hp, gpu)(bin_, restore, run_dir, rec["seed"], n_train, arch)
        else:
            gpu_args = answer_keys.part2_random_init_args(hp, gpu)(bin_, run_dir, rec["seed"], n_train, arch)
        diffs[rec["run"]] = _token_diff(cmd[1:], gpu_args)
        runs[rec["run"]] = {
            "command": " ".join(["fairseq-train", *cmd[1:]]),
            "executed_extra_args": rec.get("executed_command", cmd)[len(cmd) :],
            "planned_updates": rec["planned_updates"],
            "max_updates_cap": rec.get("max_updates_cap"),
            "done_updates": rec["done_updates"],
            "minutes": rec["minutes"],
        }
    summary = json.loads((part2 / "summary.json").read_text()) if (part2 / "summary.json").is_file() else []
    only_device = all(d == ["replace: --cpu -> --fp16"] for d in diffs.values()) and bool(diffs)
    return {
        "runs": runs,
        "diff_against_the_gpu_command": diffs,
        "only_device_flags_differ": only_device,
        "test_accuracy": {r["run"]: r["test_accuracy"] for r in summary},
    }


def part3_figures(executed: Path) -> dict:
    """Part 3's TrainingArguments (the run record's signature) against the chapter's with a CUDA profile."""
    from autograder import answer_keys
    from frlab import profiles
    from frlab.hf import finetune as hf_finetune

    path = executed / "part3_runs.json"
    runs = json.loads(path.read_text()) if path.is_file() else []
    gpu = profiles.Profile(name="full", device="cuda")
    out = {"runs": {}, "diff_against_the_gpu_arguments": {}}
    for r in runs:
        hp = hf_finetune.hyperparameters(gpu)
        gpu_sig = hf_finetune._signature(answer_keys.training_arguments(executed / "gpu-args", r["seed"], hp))
        diff = {k: [v, gpu_sig.get(k)] for k, v in r["signature"].items() if gpu_sig.get(k) != v}
        out["diff_against_the_gpu_arguments"][r["run"]] = diff
        out["runs"][r["run"]] = {
            k: r.get(k)
            for k in (
                "test_accuracy",
                "valid_accuracy",
                "planned_updates",
                "max_updates_cap",
                "done_updates",
                "minutes",
            )
        }
    # the cap is the only difference allowed (no device flag: the Trainer picks the device itself)
    out["only_the_cap_differs"] = bool(runs) and all(
        set(d) <= {"max_steps"} for d in out["diff_against_the_gpu_arguments"].values()
    )
    return out


def part4_figures(executed: Path) -> dict:
    """Part 4's trainable / total parameters of bloom-560m in 4-bit with LoRA, as the chapter printed them, and the
    training loss curve."""
    import re

    text = _outputs(executed, "part4_qlora")
    m = re.search(r"this model, 4-bit aware:\s+([\d,]+) / ([\d,]+)", text)
    counts = dict(zip(("trainable", "total"), _ints(m.groups()))) if m else None
    stored = re.search(r"bloom-560m with LoRA[^\n]*?([\d,]{9,}) / ([\d,]{9,})", text)
    log = executed / "part4_outputs" / "log_history.json"
    history = json.loads(log.read_text()) if log.is_file() else []
    quant = re.search(r"(Linear4bit) \| stored weight: (\S+)", text)
    return {
        "trainable_total_on_the_loaded_model": counts,
        "expected": PART4_COUNTS,
        "ok": counts == PART4_COUNTS,
        "layer_type": quant.groups() if quant else None,
        "meta_model_line": stored.group(0) if stored else None,
        "loss_curve": [[h["step"], round(h["loss"], 4)] for h in history if "loss" in h],
    }


def grade(executed: Path, root: Path, env: dict, parts: list[int] | None) -> dict:
    """Grade the executed notebooks (each with the artefacts it wrote) with the course's grader, in a private
    course generated from ``solutions/``; ``{assignment: {score, max, status, failed_tests}}``."""
    import shutil

    from autograder.grade_class import grade_class
    from autograder.selftest import prepare

    for k, v in {**env, **GRADING_LIMITS}.items():
        os.environ[k] = v
    assignments = [p.stem for p in sorted(executed.glob("part*.ipynb")) if not parts or int(p.stem[4]) in parts]
    course, _stale = prepare(root / "grading", only=assignments, log=lambda *a: None)
    submitted = root / "grading" / "submitted"
    shutil.rmtree(submitted, ignore_errors=True)
    artefacts = {"part2_fairseq_finetuning": ["part2_runs"], "part3_hf_finetuning": ["part3_runs.json"]}
    artefacts["part4_qlora"] = ["part4_outputs"]
    for a in assignments:
        d = submitted / "rehearsal" / a
        d.mkdir(parents=True)
        shutil.copy2(executed / f"{a}.ipynb", d / f"{a}.ipynb")
        for rel in artefacts.get(a, []):
            src = executed / rel
            if src.is_dir():
                shutil.copytree(src, d / rel)
            elif src.is_file():
                shutil.copy2(src, d / rel)
    results = grade_class(
        assignments, submitted, course=course, jobs=1, similarity=False, cell_timeout=1800, notebook_timeout=3600
    )
    return {
        r.assignment: {
            "status": r.status,
            "auto_score": r.auto_score,
            "auto_max": r.auto_max,
            "manual_max": r.manual_max,
            "failed_tests": r.failed_tests,
            "reason": r.reason,
            "seconds": round(r.seconds, 1),
        }
        for r in results
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-updates", type=int, default=DEFAULT_CAP, help="FRLAB_MAX_UPDATES of the run")
    ap.add_argument("--parts", nargs="*", type=int, help="chapters (default: all)")
    ap.add_argument("--build-only", action="store_true", help="build the stand-ins and stop")
    ap.add_argument(
        "--seed",
        type=Path,
        help="build the stand-ins, write their seed (a few MB, for python -m labtools.gpu_check --standins) "
        "to this folder and stop",
    )
    ap.add_argument("--no-grading", action="store_true", help="do not grade the executed notebooks")
    ap.add_argument("--out", type=Path, default=OUT, help="the JSON written")
    args = ap.parse_args(argv)
    if args.max_updates < 1:
        ap.error("--max-updates must be a positive number of updates")
    source = os.environ.get("FRLAB_MIRROR")
    if not source or not Path(source).is_dir():
        print("set FRLAB_MIRROR to the maintainers' mirror folder (it provides cls-books and fr-corpus)")
        return 2
    root = rehearsal_dir()
    t0, git_at_start, changed_at_start, load_at_start = (
        time.time(),
        provenance.commit(),
        provenance.changed_files(),
        os.getloadavg(),
    )
    os.environ["FRLAB_CACHE"] = str(root / "cache-build")  # fr-corpus for the builds, never ~/.cache/frlab
    built = build_mirror(root, Path(source))
    if args.seed:
        sizes = standins.write_seed(root / "course-model", standins.bloom_in(Path(built["mirror"])), args.seed)
        print(json.dumps(sizes, indent=1))
        print(f"seed of the stand-ins: {sum(sizes.values()) / 1e6:.1f} MB in {args.seed}")
        return 0
    if args.build_only:
        print(json.dumps(built, indent=1))
        return 0
    import shutil

    env = rehearsal_env(root, args.max_updates)
    for fresh in ("cache", "work"):  # an empty cache (the zip is fetched through the mirror) and work folder
        shutil.rmtree(root / fresh, ignore_errors=True)
    run = run_chapters(env, args.parts, root / "run_lab.log")
    for k, v in env.items():
        os.environ[k] = v
    executed = root / "work" / "full" / "executed"
    report = {
        "what": "the full profile rehearsed on a CPU at full size with stand-ins of its assets (issue 14, item 4)",
        "standins": {
            "course_zip": "RoBERTa_small_fr.zip in the course's layout (RoBERTa_small_fr/{model.pt,dict.txt,"
            "sentencepiece.bpe.model}) served by FRLAB_MIRROR: fairseq roberta_small 4 x 512, ffn 512, 8 heads, "
            "256 + 2 positions, a 31,998-piece unigram sentencepiece trained on 200k fr-corpus sentences (dict.txt "
            "31,995 entries, as the course's), random weights (the project's pretraining recipe stopped after one "
            "update at lr 1e-9)",
            "bloom_560m": "hf/bigscience/bloom-560m under FRLAB_MIRROR: BloomConfig of bigscience/bloom-560m "
            "(hidden 1024, 24 layers, 16 heads, vocab 250,880), random weights in fp16 safetensors, and a byte-level "
            "BPE tokenizer of 8,000 tokens trained on fr-corpus with BLOOM's special tokens (the real tokenizer, "
            "250,680 tokens, cannot be had offline)",
            "linked": {name: str(Path(source) / name) for name in LINKED},
            "build": built,
        },
        "environment": env,
        "grading_limits": GRADING_LIMITS,
        "run": run,
    }
    for key, fn in (
        ("part1", lambda: part1_figures(env, executed)),
        ("part2", lambda: part2_figures(root / "work")),
        ("part3", lambda: part3_figures(executed)),
        ("part4", lambda: part4_figures(executed)),
    ):
        try:
            report[key] = fn()
        except Exception as exc:  # a chapter that failed leaves its figures out; the report says why
            report[key] = {"error": f"{type(exc).__name__}: {exc}"}
    if not args.no_grading:
        t_grade = time.time()
        try:
            report["grading"] = grade(executed, root, env, args.parts)
        except Exception as exc:
            report["grading"] = {"error": f"{type(exc).__name__}: {exc}"}
        report["grading_seconds"] = round(time.time() - t_grade, 1)
    report["provenance"] = {
        "command": "python -m labtools.full_rehearsal " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s), no GPU",
        "python": platform.python_version(),
        "git": git_at_start,  # the commit the run started from (the working tree's changes: below)
        "tracked_files_changed_at_start": changed_at_start,
        "load_average_1_5_15_min": {"start": load_at_start, "end": os.getloadavg()},
        "total_minutes": round((time.time() - t0) / 60, 1),
    }
    report["chapters_minutes"] = round(run["seconds"] / 60, 1)
    report["budget_minutes"] = BUDGET_MINUTES
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"-> {args.out}")
    return 0 if run["exit_status"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
