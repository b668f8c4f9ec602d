"""What each autograded test cell checks — the grader's side of every exercise (see :mod:`autograder.checker`; the results it works with are in :mod:`autograder.verdicts`).

A :class:`Check` has up to four parts:

* ``draw(rng)`` — the inputs of this grading run (plain data): model sizes, curves, seeds, LoRA settings … drawn
  afresh for each class, so that an answer can only be right by being computed;
* ``references(inputs)`` — the expected results, computed here with the checker's own ``frlab`` (fairseq models
  built from config, the converter's mapping, peft on the meta device), once per class;
* ``probe(inputs)`` — ``(setup, [(key, expression)])``: kernel code that evaluates the student's names on those
  inputs (``None``: the check reads nothing from the kernel, only submitted files);
* ``judge(answers, ctx)`` — the :class:`~autograder.checker.Verdict` from the decoded answers, the references and
  the submitted files (read as data). Messages never contain an expected value.

Adding a graded exercise: write its test cell in ``solutions/`` (visible checks only: what students can run), then
add a :class:`Check` under the cell's ``grade_id`` below; ``tests/autograder/test_checks.py`` fails while a test
cell has no check or a check has no test cell, and on a wrong or hostile answer the corpus does not cover.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograder.verdicts import Answer, Context, Verdict, WrongType, close

P1, P2, P3, P4 = "part1_parameter_counting", "part2_fairseq_finetuning", "part3_hf_finetuning", "part4_qlora"


@dataclass
class Check:
    judge: Callable[[dict, Context], Verdict]
    probe: Callable[[object], tuple[str, list[tuple[str, str]]]] | None = None
    draw: Callable = lambda rng: None
    references: Callable = lambda inputs: None


# ------------------------------------------------------------------------------------------ helpers
def type_name(v) -> str:
    if isinstance(v, WrongType):
        return v.name
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}.get(
        type(v), type(v).__name__ if v is not None else "None"
    )


def _answer(answers: dict, key: str, what: str) -> tuple[object, str | None]:
    """``(value, problem)``: the decoded value of ``key``, or why there is none."""
    a: Answer | None = answers.get(key)
    if a is None:
        return None, f"{what}: no answer"
    if not a.ok:
        return None, f"{what} raised {a.error}"
    return a.value, None


def plain_int(answers: dict, key: str, what: str, expected: int, wrong: str) -> Verdict:
    v, problem = _answer(answers, key, what)
    if problem:
        return Verdict(False, problem)
    if type(v) is not int:
        return mistyped(f"{what} must be a plain int, not {type_name(v)}")
    return Verdict(v == expected, f"{what}: right" if v == expected else wrong)


def mistyped(message: str) -> Verdict:
    """No points: an answer of the wrong type (counted apart in the class's summary)."""
    return Verdict(False, message, wrong_type=True)


def _is_class(got: dict, package: str, name: str) -> bool:
    """The probed object is ``name`` (or a subclass named like it) from the library ``package``."""
    cls = str(got.get("__class__", ""))
    return cls.startswith(package) and cls.rsplit(".", 1)[-1].endswith(name)


def all_ok(verdicts: list[Verdict], ok_message: str) -> Verdict:
    bad = [v.message for v in verdicts if not v.ok]
    return Verdict(
        not bad, ok_message if not bad else "; ".join(dict.fromkeys(bad)), any(v.wrong_type for v in verdicts)
    )


def expr_literal(value) -> str:
    """A Python literal of plain data for a probe (``repr`` of JSON-decoded values is valid Python)."""
    return repr(value)


# ------------------------------------------------------------------------------------------ Part 1
COURSE_P1 = {"V": 32000, "T": 256, "d": 512, "d_ff": 512, "L": 4, "heads": 8}


def _p1_size(rng) -> list[int]:
    heads = rng.choice([2, 4])
    d = heads * rng.choice([6, 8, 12, 16])
    d_ff = rng.choice([x for x in (20, 40, 56, 72, 100) if x != d])
    return [rng.randint(600, 6000), rng.choice([40, 64, 100, 130]), d, d_ff, rng.randint(1, 3), heads]


def _fairseq_encoder(V, T, d, d_ff, L, heads, course=False):
    from frlab.fairseq.models import build_roberta, make_dictionary

    if course:
        return build_roberta(make_dictionary(V - 5), arch="roberta_small", max_positions=T).encoder.sentence_encoder
    return build_roberta(
        make_dictionary(V - 5),
        encoder_layers=L,
        encoder_embed_dim=d,
        encoder_ffn_embed_dim=d_ff,
        encoder_attention_heads=heads,
        max_positions=T,
    ).encoder.sentence_encoder


def _model_counts(encoder) -> list[int]:
    """[weights only, all parameters] of a fairseq encoder, by the chapter's two conventions."""
    total = sum(p.numel() for p in encoder.parameters())
    weights = sum(
        p.numel()
        for n, p in encoder.named_parameters()
        if n.endswith("weight") and "layer_norm" not in n and "layernorm" not in n
    )
    return [int(weights), int(total)]


def _p1_value(key: str, wrong: str, which: int):
    def judge(answers, ctx):
        from autograder.answer_keys import ANSWERS

        return plain_int(answers, key, key, ANSWERS[P1][which], wrong)

    return Check(judge=judge, probe=lambda inputs: ("", [(key, key)]))


def _p1_general_probe(inputs):
    calls = [
        (f"{i}-{full}", f"count_parameters(*{expr_literal(size[:5])}, with_biases_and_layernorm={full})")
        for i, size in enumerate(inputs)
        for full in (False, True)
    ]
    return "", calls


def _p1_general_judge(answers, ctx):
    verdicts = []
    for i, size in enumerate(ctx.inputs):
        for j, full in enumerate((False, True)):
            conv = "all parameters" if full else "weights only"
            call = f"count_parameters({', '.join(map(str, size[:5]))}, with_biases_and_layernorm={full})"
            verdicts.append(plain_int(answers, f"{i}-{full}", call, ctx.refs[i][j], f"{call} is wrong ({conv})"))
    return all_ok(verdicts, "right on every model size tried")


def _p1_on_model_inputs(rng):
    # two models of sizes drawn for this class (the course's own model is counted in the student's notebook)
    return [[*_p1_size(rng), False], [*_p1_size(rng), False]]


def _p1_on_model_probe(inputs):
    setup = """\
__frlab_encoders = {}


def __frlab_encoder(i, V, T, d, d_ff, L, heads, course):
    if i not in __frlab_encoders:
        from frlab.fairseq.models import build_roberta, make_dictionary

        kw = dict(arch="roberta_small") if course else dict(
            encoder_layers=L, encoder_embed_dim=d, encoder_ffn_embed_dim=d_ff, encoder_attention_heads=heads)
        __frlab_encoders[i] = build_roberta(make_dictionary(V - 5), max_positions=T, **kw).encoder.sentence_encoder
    return __frlab_encoders[i]
"""
    calls = [
        (
            f"{i}-{full}",
            f"count_on_model(__frlab_encoder({i}, *{expr_literal(size)}), with_biases_and_layernorm={full})",
        )
        for i, size in enumerate(inputs)
        for full in (False, True)
    ]
    return setup, calls


def _p1_on_model_judge(answers, ctx):
    verdicts = []
    for i, size in enumerate(ctx.inputs):
        model = "RoBERTa_small_fr" if size[-1] else f"a {size[4]}-layer, {size[2]}-wide model"
        for j, full in enumerate((False, True)):
            conv = "all parameters" if full else "weights only"
            what = f"count_on_model({model}, with_biases_and_layernorm={full})"
            verdicts.append(plain_int(answers, f"{i}-{full}", what, ctx.refs[i][j], f"{what} is wrong ({conv})"))
    return all_ok(verdicts, "right on two models of other sizes, built by the grader")


PART1 = {
    "test_count_weights": _p1_value("n_weights", "convention (A) count is wrong", 0),
    "test_count_trainable": _p1_value("n_trainable", "convention (B) count is wrong", 1),
    "test_count_function_general": Check(
        judge=_p1_general_judge,
        probe=_p1_general_probe,
        draw=lambda rng: [_p1_size(rng), _p1_size(rng)],
        references=lambda inputs: [_model_counts(_fairseq_encoder(*size)) for size in inputs],
    ),
    "test_count_on_model": Check(
        judge=_p1_on_model_judge,
        probe=_p1_on_model_probe,
        draw=_p1_on_model_inputs,
        references=lambda inputs: [_model_counts(_fairseq_encoder(*s[:6], course=s[6])) for s in inputs],
    ),
}


# ------------------------------------------------------------------------------------------ Part 2
# Exercises 2.1-2.4: the encoding loop and the argument lists. An argument list is read by fairseq's own parsers
# (frlab.fairseq.finetune.parse_train_args / parse_preprocess_args: order-insensitive, what fairseq would refuse is
# refused) and compared setting by setting with the chapter's reference list; a message names the flag, never its
# expected value. --user-dir is the only argument fairseq executes (it imports that folder): anything but frlab's
# plugin is refused before parsing.
REVIEWS = [
    "Un livre magnifique, je le recommande à tous.",
    "Ennuyeux du début à la fin, quelle déception !",
    "Les personnages sont attachants et l'intrigue est bien menée.",
    "Je n'ai pas réussi à dépasser la moitié du roman.",
    "Une écriture fluide, des dialogues savoureux.",
    "Trop long, trop lent, et la fin est bâclée.",
    "Un classique à relire sans modération.",
    "Le style est lourd et les descriptions interminables.",
    "J'ai dévoré ce polar en une seule nuit !",
    "Aucun intérêt : l'histoire ne mène nulle part.",
    "Une belle surprise, émouvante et drôle à la fois.",
    "Traduction médiocre, beaucoup de fautes d'orthographe.",
]
PATHS_SETUP = "from pathlib import Path as __frlab_Path\n"
SP_SETUP = """\
def __frlab_sp(model):
    import base64
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_proto=base64.b64decode(model))
"""
WORDS = ["cls", "books", "lab", "tp2", "run", "exp", "data", "fr", "avis", "m1"]


def _p2_encode_inputs(rng) -> dict:
    import base64

    from frlab.fairseq import finetune as ff

    texts = rng.sample(REVIEWS, 7)
    proto = ff.toy_sentencepiece_proto(rng.sample(REVIEWS, 9) * 3, rng.choice([60, 90, 120]))
    calls = [[texts[:3] + [""], None], [texts[3:], rng.randint(2, 7)]]
    return {"model": base64.b64encode(proto).decode("ascii"), "calls": calls}


def _p2_encode_refs(inputs) -> list:
    import base64

    import sentencepiece

    from autograder import answer_keys

    sp = sentencepiece.SentencePieceProcessor(model_proto=base64.b64decode(inputs["model"]))
    return [answer_keys.encode_reviews(sp, reviews, k) for reviews, k in inputs["calls"]]


def _p2_encode_judge(answers, ctx):
    verdicts = []
    for i, (reviews, k) in enumerate(ctx.inputs["calls"]):
        what = f"encode_reviews(sp, {len(reviews)} reviews, max_pieces={k})"
        got, problem = _answer(answers, str(i), what)
        if problem:
            verdicts.append(Verdict(False, problem))
        elif type(got) is not list or not all(type(x) is str for x in got):
            verdicts.append(mistyped(f"{what} must return a list of str (got {type_name(got)})"))
        elif len(got) != len(reviews):
            verdicts.append(Verdict(False, f"{what}: one line per review"))
        else:
            bad = [j + 1 for j, (x, y) in enumerate(zip(got, ctx.refs[i])) if x != y]
            verdicts.append(
                Verdict(not bad, "right" if not bad else f"{what}: wrong pieces on review(s) {bad} of the call")
            )
    return all_ok(verdicts, "right on a sentencepiece model and reviews drawn by the grader")


def _word(rng) -> str:
    return f"{rng.choice(WORDS)}{rng.randint(1, 99)}"


def _p2_preprocess_inputs(rng) -> list[str]:
    root = f"/home/{_word(rng)}/{_word(rng)}"
    return [f"{root}/text-{_word(rng)}", f"{root}/bin-{_word(rng)}", f"/models/{_word(rng)}/dict.txt"]


PRE_MATTER = ["only_source", "srcdict", "trainpref", "validpref", "testpref", "destdir"]
PRE_REST = [
    "source_lang",
    "target_lang",
    "align_suffix",
    "thresholdtgt",
    "thresholdsrc",
    "tgtdict",
    "nwordstgt",
    "nwordssrc",
    "alignfile",
    "joined_dictionary",
    "padding_factor",
    "dict_only",
    "dataset_impl",
]
PATH_KEYS = {
    "srcdict",
    "tgtdict",
    "trainpref",
    "validpref",
    "testpref",
    "destdir",
    "alignfile",
    "data",
    "restore_file",
    "save_dir",
    "tensorboard_logdir",
    "user_dir",
}
#: settings that change neither the data, the training nor the logs the chapter reads (--log-format does: the
#: chapter reads fairseq's simple format)
TRAIN_IGNORED = {"log_interval", "num_workers", "no_progress_bar", "workers"}
TRAIN_MATTER = [
    "batch_size",
    "max_epoch",
    "optimizer",
    "lr",
    "lr_scheduler",
    "power",
    "warmup_updates",
    "total_num_update",
    "distributed_world_size",
    "max_positions",
    "shorten_method",
    "init_token",
    "separator_token",
    "num_classes",
    "best_checkpoint_metric",
    "maximize_best_checkpoint_metric",
    "valid_subset",
]
RESTORE_KEYS = {"restore_file", "reset_optimizer", "reset_dataloader", "reset_meters", "reset_lr_scheduler"}


NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _setting(key: str, v):
    """A parsed setting in a comparable form: paths normalised, Adam's betas as numbers."""
    import ast
    import os

    if key in PATH_KEYS and type(v) is str:
        return os.path.normpath(v)
    if key == "adam_betas" and type(v) is str:
        try:
            return tuple(float(x) for x in ast.literal_eval(v))
        except (ValueError, SyntaxError, TypeError):
            return v
    if type(v) in (list, tuple):
        return tuple(_setting("", x) for x in v)
    if type(v) is str and key not in PATH_KEYS and NUMBER.fullmatch(v):  # fairseq keeps some numbers as text
        return float(v)
    return float(v) if type(v) is int else v


def _flag(key: str) -> str:
    return "the data folder (first argument)" if key == "data" else "--" + key.replace("_", "-")


def _differ(got: dict, want: dict, keys) -> list[str]:
    return [_flag(k) for k in keys if _setting(k, got.get(k)) != _setting(k, want.get(k))]


def _parsed(parse, args, what: str) -> tuple[dict | None, Verdict | None]:
    from frlab.fairseq.finetune import ArgumentError

    if type(args) is not list or not all(type(x) is str for x in args):
        return None, mistyped(f"{what} must be a list of str (got {type_name(args)})")
    try:
        return parse(args), None
    except ArgumentError as exc:
        return None, Verdict(False, f"{what}: fairseq refuses it ({str(exc)[:300]})")


def _p2_preprocess_refs(inputs) -> dict:
    from autograder import answer_keys

    return answer_keys.preprocess_args(*inputs)


def _p2_preprocess_judge(answers, ctx):
    from frlab.fairseq.finetune import parse_preprocess_args

    got, problem = _answer(answers, "args", "preprocess_args(...)")
    if problem:
        return Verdict(False, problem)
    if type(got) is not dict or set(got) != {"input0", "label"}:
        return mistyped(f"preprocess_args must return a dict with the keys input0 and label (got {type_name(got)})")
    verdicts = []
    for field in ("input0", "label"):
        mine, bad = _parsed(parse_preprocess_args, got[field], f"the {field} argument list")
        if bad:
            verdicts.append(bad)
            continue
        want = parse_preprocess_args(ctx.refs[field])
        wrong, other = _differ(mine, want, PRE_MATTER), _differ(mine, want, PRE_REST)
        message = "; ".join(
            [f"the {field} call: wrong {', '.join(wrong)}"] * bool(wrong)
            + [f"the {field} call: other settings differ from the course's: {', '.join(other)}"] * bool(other)
        )
        verdicts.append(Verdict(not message, message or "right"))
    return all_ok(verdicts, "both argument lists right, on paths drawn by the grader")


def _p2_train_inputs(rng) -> dict:
    heads = rng.choice([2, 4, 8])
    arch = {
        "encoder_layers": rng.randint(1, 6),
        "encoder_embed_dim": heads * rng.choice([8, 16, 32]),
        "encoder_ffn_embed_dim": rng.choice([64, 128, 256, 512]),
        "encoder_attention_heads": heads,
    }
    root = f"/home/{_word(rng)}"
    seed = rng.randint(0, 9999)
    return {
        "data_bin": f"{root}/{_word(rng)}/data-bin",
        "restore_file": f"/models/{_word(rng)}/model.pt",
        "run_dir": f"{root}/runs/{_word(rng)}_seed{seed}",
        "seed": seed,
        "n_train": rng.randint(400, 4000),
        "arch": arch,
    }


def _p2_train_refs(inputs) -> dict:
    from pathlib import Path

    from autograder import answer_keys

    build = answer_keys.part2_definitions()
    i = inputs
    return {
        "pretrained": build["train_args"](
            Path(i["data_bin"]), Path(i["restore_file"]), Path(i["run_dir"]), i["seed"], i["n_train"], i["arch"]
        ),
        "random": build["random_init_args"](
            Path(i["data_bin"]), Path(i["run_dir"]), i["seed"], i["n_train"], i["arch"]
        ),
    }


def _train_call(i: dict) -> str:
    return (
        f"train_args(__frlab_Path({i['data_bin']!r}), __frlab_Path({i['restore_file']!r}), "
        f"__frlab_Path({i['run_dir']!r}), {i['seed']!r}, {i['n_train']!r}, {expr_literal(i['arch'])})"
    )


def _random_call(i: dict) -> str:
    return (
        f"random_init_args(__frlab_Path({i['data_bin']!r}), __frlab_Path({i['run_dir']!r}), {i['seed']!r}, "
        f"{i['n_train']!r}, {expr_literal(i['arch'])})"
    )


def _p2_train_judge(answers, ctx):
    from frlab.fairseq.finetune import parse_train_args

    what = f"train_args(..., n_train={ctx.inputs['n_train']}, seed={ctx.inputs['seed']})"
    got, problem = _answer(answers, "pretrained", what)
    if problem:
        return Verdict(False, problem)
    mine, bad = _parsed(parse_train_args, got, what)
    if bad:
        return bad
    want = parse_train_args(ctx.refs["pretrained"])
    wrong = _differ(mine, want, TRAIN_MATTER)
    rest = sorted((set(want) | set(mine)) - set(TRAIN_MATTER) - TRAIN_IGNORED)
    other = _differ(mine, want, rest)
    message = "; ".join(
        [f"wrong {', '.join(wrong)}"] * bool(wrong)
        + [f"other settings differ from the course's: {', '.join(other)}"] * bool(other)
    )
    return Verdict(not message, message or "every setting right, on a run drawn by the grader")


def _p2_random_judge(answers, ctx):
    import os
    from pathlib import Path

    from frlab.fairseq.finetune import parse_train_args

    what = "random_init_args(...)"
    got, problem = _answer(answers, "random", what)
    if problem:
        return Verdict(False, problem)
    mine, bad = _parsed(parse_train_args, got, what)
    if bad:
        return bad
    restore = mine.get("restore_file")
    problems = []
    if restore != "checkpoint_last.pt":  # no --restore-file: fairseq looks for save_dir/checkpoint_last.pt
        if type(restore) is not str or os.path.normpath(restore) == os.path.normpath(ctx.inputs["restore_file"]):
            problems.append("--restore-file: this run starts from the pretrained checkpoint")
        elif Path(restore).is_file():  # what fairseq asks before it loads a checkpoint
            problems.append("--restore-file names a file that exists: fairseq would load it")
    # the same run otherwise: compared with the student's own pretrained run (else with the course's)
    base = None
    pretrained, _ = _answer(answers, "pretrained", "train_args")
    if type(pretrained) is list:
        base, _ = _parsed(parse_train_args, pretrained, "train_args")
    if base is None:
        base = parse_train_args(ctx.refs["pretrained"])
    keys = sorted((set(base) | set(mine)) - RESTORE_KEYS - TRAIN_IGNORED)
    other = _differ(mine, base, keys)
    if other:
        problems.append("the random-init run differs from the pretrained one in: " + ", ".join(other))
    return Verdict(not problems, "; ".join(problems) or "random weights, the same run otherwise")


def _curve(rng) -> dict:
    n = rng.randint(5, 10)
    steps = sorted(rng.sample(range(10, 3000, 10), n))
    valid = [rng.choice([50.0, 55.5, 61.25, 70.5, 72.75]) for _ in range(n)]  # ties are likely
    test = [round(rng.uniform(45, 90), 2) for _ in range(n)]
    for i in rng.sample(range(n), 2):  # evaluations missing on one subset
        (valid if rng.random() < 0.5 else test)[i] = None
    return {"step": steps, "valid_accuracy": valid, "test_accuracy": test}


FIXED_CURVES = [
    {"step": [100, 200, 300], "valid_accuracy": [50.0, 70.0, 60.0], "test_accuracy": [51.0, 66.0, 69.0]},
    {
        "step": [50, 100, 150, 200],
        "valid_accuracy": [80.0, 60.0, 80.0, None],
        "test_accuracy": [70.0, 90.0, 75.0, 99.0],
    },
    {"step": [1, 2], "valid_accuracy": [60.0, 90.0], "test_accuracy": [65.0, None]},
]


def best_of_curve(curve: dict) -> dict:
    """Exercise 2.1's rule on a curve given as plain lists: the earliest step of the best valid accuracy, among the
    steps where both subsets were evaluated."""
    rows = [
        (s, v, t)
        for s, v, t in zip(curve["step"], curve["valid_accuracy"], curve["test_accuracy"])
        if v is not None and t is not None
    ]
    best = max(v for _, v, _ in rows)
    s, v, t = min((r for r in rows if r[1] == best), key=lambda r: r[0])
    return {"step": s, "valid_accuracy": float(v), "test_accuracy": float(t)}


FRAME_SETUP = """\
def __frlab_curve(c):
    import pandas as pd

    return pd.DataFrame({"valid_accuracy": c["valid_accuracy"], "test_accuracy": c["test_accuracy"]},
                        index=pd.Index(c["step"], name="step"), dtype=float)


def __frlab_frame(df):
    import pandas as pd

    if type(df) is not pd.DataFrame:
        return df
    split = df.to_dict(orient="split")
    return {"__frame__": {"columns": [str(c) for c in split["columns"]], "index": split["index"],
                          "data": split["data"]}}
"""


def _p2_best_judge(answers, ctx):
    verdicts = []
    for i, curve in enumerate(ctx.inputs):
        got, problem = _answer(answers, str(i), "best_valid_test")
        what = f"best_valid_test on curve {curve}"
        if problem:
            verdicts.append(Verdict(False, problem))
        elif type(got) is not dict or set(got) != {"step", "valid_accuracy", "test_accuracy"}:
            verdicts.append(
                mistyped(
                    "best_valid_test must return a dict with keys step, valid_accuracy, "
                    f"test_accuracy (got {type_name(got)})",
                )
            )
        elif type(got["step"]) is not int or any(
            type(got[k]) is not float for k in ("valid_accuracy", "test_accuracy")
        ):
            verdicts.append(
                mistyped(
                    "step must be a plain int and the accuracies plain floats (got "
                    + ", ".join(f"{k}: {type_name(v)}" for k, v in got.items())
                    + ")",
                )
            )
        else:
            ref = ctx.refs[i]
            right = got["step"] == ref["step"] and all(
                close(got[k], ref[k]) for k in ("valid_accuracy", "test_accuracy")
            )
            verdicts.append(Verdict(right, "right" if right else f"{what}: wrong step or accuracies"))
    return all_ok(verdicts, "right on every curve tried (ties, missing evaluations)")


def _frame(v) -> dict | None:
    """A probed DataFrame as ``{"columns", "index", "data"}``, ``None`` when the answer is not one."""
    if type(v) is dict and set(v) == {"__frame__"} and type(v["__frame__"]) is dict:
        f = v["__frame__"]
        if type(f.get("columns")) is list and type(f.get("index")) is list and type(f.get("data")) is list:
            return f
    return None


def _column(frame: dict, name: str) -> list:
    j = frame["columns"].index(name)
    return [row[j] if type(row) is list and len(row) > j else None for row in frame["data"]]


def _part2_reference(ctx):
    return _part2_reference_of(str(ctx.submitted / "part2_runs"))


@functools.lru_cache(maxsize=4)
def _part2_reference_of(log_root: str):
    """Summary, table and gap of the submitted logs (read once per notebook: two checks use them)."""
    from autograder import answer_keys

    summary = answer_keys.summarize_runs(log_root)
    return summary, answer_keys.results_table(summary), answer_keys.gap(summary)


def _p2_table_judge(answers, ctx):
    from frlab.fairseq.logs import RunLogError

    try:
        ref_summary, ref_table, ref_gap = _part2_reference(ctx)
    except (RunLogError, OSError, ValueError) as exc:
        return Verdict(False, f"your submitted run logs (part2_runs/) could not be read: {exc}")
    problems = []
    summary, problem = _answer(answers, "summary", "summary")
    frame = _frame(summary)
    if problem:
        problems.append(problem)
    elif frame is None:
        problems.append(f"summary must be a pandas DataFrame (got {type_name(summary)})")
    elif not {"run", "init", "seed", "valid_accuracy", "test_accuracy"} <= set(frame["columns"]):
        problems.append("summary needs the columns run, init, seed, valid_accuracy, test_accuracy")
    else:
        mine = dict(zip(_column(frame, "run"), _column(frame, "test_accuracy")))
        ref = dict(zip(ref_summary["run"], ref_summary["test_accuracy"]))
        if sorted(map(str, mine)) != sorted(ref) or len(mine) != len(frame["data"]):
            problems.append("summary must have one row per run of your logs")
        elif not all(close(mine[r], float(ref[r])) for r in ref):
            problems.append("summary's test accuracies are not the test accuracy at the best valid accuracy")
    table, problem = _answer(answers, "results_table", "results_table")
    frame = _frame(table)
    if problem:
        problems.append(problem)
    elif frame is None:
        problems.append(f"results_table must be a pandas DataFrame (got {type_name(table)})")
    elif sorted(map(str, frame["index"])) != ["pretrained", "random"] or not {"mean", "std"} <= set(frame["columns"]):
        problems.append("results_table needs the index pretrained/random and the columns mean, std")
    else:
        rows = dict(zip(frame["index"], zip(_column(frame, "mean"), _column(frame, "std"))))
        for init in ("pretrained", "random"):
            m, s = rows[init]
            want_s = float(ref_table.loc[init, "std"])
            if not close(m, float(ref_table.loc[init, "mean"])) or not (close(s, want_s) or (want_s == 0 and s != s)):
                problems.append(f"results_table: the {init} mean or std is wrong")
    g, problem = _answer(answers, "gap", "gap")
    if problem:
        problems.append(problem)
    elif type(g) is not float:
        problems.append(f"gap must be a plain float (got {type_name(g)})")
    elif not close(g, ref_gap):
        problems.append("gap is not the difference of the two means")
    return Verdict(
        not problems,
        "; ".join(problems) or "summary, table and gap agree with your logs",
        wrong_type=any("must be a" in p for p in problems),
    )


def _p2_plausible_judge(answers, ctx):
    from frlab import plausibility
    from frlab.fairseq.logs import RunLogError

    try:
        records = plausibility.fairseq_run_records(ctx.submitted / "part2_runs")
        _, ref_table, ref_gap = _part2_reference(ctx)
    except (RunLogError, OSError, ValueError) as exc:
        return Verdict(False, f"your submitted run logs (part2_runs/) could not be read: {exc}")
    profile, problems = plausibility.check_runs(records, required=ctx.profile)
    problems += plausibility.fairseq_problems(ref_table, ref_gap, profile)
    return Verdict(not problems, "; ".join(problems) or f"runs made with the {profile} profile: plausible")


PART2 = {
    "test_encode_reviews": Check(
        judge=_p2_encode_judge,
        probe=lambda inputs: (
            SP_SETUP,
            [
                (str(i), f"encode_reviews(__frlab_sp({inputs['model']!r}), {expr_literal(reviews)}, {k!r})")
                for i, (reviews, k) in enumerate(inputs["calls"])
            ],
        ),
        draw=_p2_encode_inputs,
        references=_p2_encode_refs,
    ),
    "test_preprocess_args": Check(
        judge=_p2_preprocess_judge,
        probe=lambda inputs: (
            PATHS_SETUP,
            [("args", "preprocess_args(" + ", ".join(f"__frlab_Path({p!r})" for p in inputs) + ")")],
        ),
        draw=_p2_preprocess_inputs,
        references=_p2_preprocess_refs,
    ),
    "test_train_args": Check(
        judge=_p2_train_judge,
        probe=lambda inputs: (PATHS_SETUP, [("pretrained", _train_call(inputs))]),
        draw=_p2_train_inputs,
        references=_p2_train_refs,
    ),
    "test_random_init_args": Check(
        judge=_p2_random_judge,
        probe=lambda inputs: (PATHS_SETUP, [("pretrained", _train_call(inputs)), ("random", _random_call(inputs))]),
        draw=_p2_train_inputs,
        references=_p2_train_refs,
    ),
    "test_best_valid_test": Check(
        judge=_p2_best_judge,
        probe=lambda inputs: (
            FRAME_SETUP,
            [(str(i), f"best_valid_test(__frlab_curve({expr_literal(c)}))") for i, c in enumerate(inputs)],
        ),
        draw=lambda rng: [*FIXED_CURVES, _curve(rng), _curve(rng)],
        references=lambda inputs: [best_of_curve(c) for c in inputs],
    ),
    "test_results_table": Check(
        judge=_p2_table_judge,
        probe=lambda inputs: (
            FRAME_SETUP,
            [("summary", "__frlab_frame(summary)"), ("results_table", "__frlab_frame(results_table)"), ("gap", "gap")],
        ),
    ),
    "test_results_plausible": Check(judge=_p2_plausible_judge),
}


# ------------------------------------------------------------------------------------------ Part 3
def _p3_mapping_refs(inputs):
    from frlab.hf.convert import name_mapping

    full = name_mapping(max(inputs) + 1, mlm=False)
    return {str(i): {k: v for k, v in full.items() if k.startswith(f"roberta.encoder.layer.{i}.")} for i in inputs}


def _p3_mapping_judge(answers, ctx):
    verdicts = []
    for i in ctx.inputs:
        got, problem = _answer(answers, str(i), f"layer_mapping({i})")
        if problem:
            verdicts.append(Verdict(False, problem))
        elif type(got) is not dict:
            verdicts.append(mistyped(f"layer_mapping({i}) must return a dict (got {type_name(got)})"))
        else:
            right = got == ctx.refs[str(i)]
            verdicts.append(Verdict(right, "right" if right else f"layer {i}: wrong mapping"))
    return all_ok(verdicts, "right for every layer tried")


TRAINING_FIELDS = [
    "per_device_train_batch_size",
    "num_train_epochs",
    "learning_rate",
    "warmup_steps",
    "lr_scheduler_type",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "max_grad_norm",
    "eval_strategy",
    "eval_steps",
    "save_strategy",
    "load_best_model_at_end",
    "metric_for_best_model",
    "greater_is_better",
    "logging_steps",
    "report_to",
    "seed",
]
ARGS_SETUP = f"""\
def __frlab_args(seed):
    import tempfile
    from pathlib import Path

    a = make_training_args(Path(tempfile.mkdtemp()) / "runs" / "check", seed=seed)
    out = {{"__class__": type(a).__module__ + "." + type(a).__qualname__}}
    for k in {TRAINING_FIELDS!r}:
        v = getattr(a, k, None)
        v = getattr(v, "value", v)
        out[k] = list(v) if type(v) in (list, tuple, set) else v
    return out
"""


def _p3_args_want(seed: int) -> dict:
    from frlab.hf import finetune as hf_finetune

    hp = hf_finetune.hyperparameters()
    return {
        "per_device_train_batch_size": hp["batch_size"],
        "num_train_epochs": hp["epochs"],
        "learning_rate": hp["lr"],
        "warmup_steps": hp["warmup_ratio"],
        "lr_scheduler_type": "linear",
        "weight_decay": hp["weight_decay"],
        "adam_beta1": hp["adam_beta1"],
        "adam_beta2": hp["adam_beta2"],
        "adam_epsilon": hp["adam_eps"],
        "max_grad_norm": 0.0,
        "eval_strategy": "steps" if hp["eval_steps"] else "epoch",
        "eval_steps": hp["eval_steps"],
        "save_strategy": "best",
        "load_best_model_at_end": True,
        "metric_for_best_model": "accuracy",
        "greater_is_better": True,
        "logging_steps": hp["logging_steps"],
        "seed": seed,
    }


def _same_setting(got, want) -> bool:
    def norm(v):  # both spellings of the metric; None and 0 both mean "no clipping"
        if v in ("accuracy", "eval_accuracy"):
            return "accuracy"
        return 0.0 if v is None else v

    got, want = norm(got), norm(want)
    if type(want) in (int, float) and type(want) is not bool:
        return type(got) in (int, float) and type(got) is not bool and close(float(got), float(want), 1e-12)
    return type(got) is type(want) and got == want


def _p3_args_judge(answers, ctx):
    verdicts = []
    for seed in ctx.inputs:
        got, problem = _answer(answers, str(seed), f"make_training_args(..., seed={seed})")
        if problem:
            verdicts.append(Verdict(False, problem))
            continue
        if type(got) is not dict or not _is_class(got, "transformers.", "TrainingArguments"):
            verdicts.append(mistyped("make_training_args must return a transformers TrainingArguments"))
            continue
        diff = sorted(k for k, v in _p3_args_want(seed).items() if not _same_setting(got.get(k), v))
        report_to = got.get("report_to")
        if not (type(report_to) is list and "tensorboard" in report_to) and report_to != "tensorboard":
            diff.append("report_to (log to TensorBoard)")
        verdicts.append(
            Verdict(not diff, "right" if not diff else "settings that differ from Part 2's: " + ", ".join(diff))
        )
    return all_ok(verdicts, "Part 2's settings, for every seed tried")


def _part3_runs(ctx) -> list[dict]:
    path = ctx.submitted / "part3_runs.json"
    runs = json.loads(path.read_text(encoding="utf-8"))
    if not (isinstance(runs, list) and runs and all(isinstance(r, dict) and "test_accuracy" in r for r in runs)):
        raise ValueError("part3_runs.json holds no run records")
    return runs


def _p3_mean_std_judge(answers, ctx):
    from frlab.runs import mean_std

    try:
        ref_mean, ref_std = mean_std([float(r["test_accuracy"]) for r in _part3_runs(ctx)])
    except (OSError, ValueError, TypeError) as exc:
        return Verdict(False, f"your run records (part3_runs.json) could not be read: {exc}")
    verdicts = []
    for key, ref in (("hf_mean", ref_mean), ("hf_std", ref_std)):
        v, problem = _answer(answers, key, key)
        if problem:
            verdicts.append(Verdict(False, problem))
        elif type(v) is not float:
            verdicts.append(mistyped(f"{key} must be a plain float (got {type_name(v)})"))
        else:
            verdicts.append(Verdict(close(v, ref), "right" if close(v, ref) else f"{key} is wrong"))
    return all_ok(verdicts, "mean and sample standard deviation of your runs")


def _p3_plausible_judge(answers, ctx):
    from frlab import plausibility
    from frlab.runs import mean_std

    try:
        runs = _part3_runs(ctx)
        ref_mean = mean_std([float(r["test_accuracy"]) for r in runs])[0]
    except (OSError, ValueError, TypeError) as exc:
        return Verdict(False, f"your run records (part3_runs.json) could not be read: {exc}")
    profile, problems = plausibility.check_runs(runs, required=ctx.profile)
    problems += plausibility.hf_problems(ref_mean, profile)
    return Verdict(not problems, "; ".join(problems) or f"runs made with the {profile} profile: plausible")


PART3 = {
    "test_layer_mapping": Check(
        judge=_p3_mapping_judge,
        probe=lambda inputs: ("", [(str(i), f"layer_mapping({i})") for i in inputs]),
        draw=lambda rng: [0, 3, rng.randint(1, 11)],
        references=_p3_mapping_refs,
    ),
    "test_training_args": Check(
        judge=_p3_args_judge,
        probe=lambda inputs: (ARGS_SETUP, [(str(s), f"__frlab_args({s})") for s in inputs]),
        draw=lambda rng: [0, rng.randint(1, 9999)],
    ),
    "test_mean_std": Check(
        judge=_p3_mean_std_judge, probe=lambda inputs: ("", [("hf_mean", "hf_mean"), ("hf_std", "hf_std")])
    ),
    "test_hf_plausible": Check(judge=_p3_plausible_judge),
}


# ------------------------------------------------------------------------------------------ Part 4
QA = [
    ("Comment suivre mon colis ?", "Avec le lien de suivi reçu par courriel."),
    ("Puis-je payer en trois fois ?", "Oui, à partir de 100 euros d'achat."),
    ("Quels sont vos horaires ?", "Du lundi au samedi, de 9 h à 19 h."),
    ("Le retour est-il gratuit ?", "Oui, sous 30 jours."),
    ("Livrez-vous en Belgique ?", "Oui : comptez trois à cinq jours ouvrés."),
]
PADS = ["", " ", "  ", "\n", " \t", "\n "]


def _p4_prompt_inputs(rng):
    pairs = [["Bonjour ?", "Bonsoir."], ["  Bonjour ? ", None]]
    for q, a in rng.sample(QA, 3):
        pairs.append(
            [rng.choice(PADS) + q + rng.choice(PADS), rng.choice([None, rng.choice(PADS) + a + rng.choice(PADS)])]
        )
    return pairs


def _p4_prompt_refs(inputs):
    from autograder import answer_keys

    return [answer_keys.format_prompt(q, a) for q, a in inputs]


def _p4_prompt_judge(answers, ctx):
    verdicts = []
    for i, (q, a) in enumerate(ctx.inputs):
        what = f"format_prompt({q!r}" + (f", {a!r})" if a is not None else ")")
        got, problem = _answer(answers, str(i), what)
        if problem:
            verdicts.append(Verdict(False, problem))
        elif type(got) is not str:
            verdicts.append(mistyped(f"{what} must return a str (got {type_name(got)})"))
        else:
            verdicts.append(Verdict(got == ctx.refs[i], "right" if got == ctx.refs[i] else f"{what} is wrong"))
    return all_ok(verdicts, "right on every question and answer tried")


BNB_SETUP = """\
def __frlab_bnb(c):
    out = {"__class__": type(c).__module__ + "." + type(c).__qualname__}
    for k in ("load_in_4bit", "load_in_8bit", "bnb_4bit_quant_type", "bnb_4bit_use_double_quant"):
        out[k] = getattr(c, k, None)
    out["bnb_4bit_compute_dtype"] = str(getattr(c, "bnb_4bit_compute_dtype", None))
    return out
"""


def _settings_verdict(got: dict, want: dict, other_diff: list[str], ok_message: str, recipe: str) -> Verdict:
    """A probed configuration against the course's settings ``want`` (same type and value each), plus the names
    in ``other_diff`` that the caller found wrong otherwise."""
    diff = [k for k, v in want.items() if not (type(got.get(k)) is type(v) and got.get(k) == v)] + other_diff
    return Verdict(
        not diff,
        ok_message if not diff else f"settings that differ from the course's {recipe} recipe: " + ", ".join(diff),
    )


def _p4_bnb_judge(answers, ctx):
    got, problem = _answer(answers, "bnb_config", "bnb_config")
    if problem:
        return Verdict(False, problem)
    if type(got) is not dict or not _is_class(got, "transformers.", "BitsAndBytesConfig"):
        return mistyped("bnb_config must be a transformers BitsAndBytesConfig")
    want = {
        "load_in_4bit": True,
        "load_in_8bit": False,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
        "bnb_4bit_compute_dtype": ctx.refs,
    }
    return _settings_verdict(got, want, [], "4-bit NF4, double quantisation, the device's compute dtype", "QLoRA")


def _p4_compute_dtype(inputs):
    from frlab import profiles
    from frlab.lora import qlora

    return str(qlora.choose_compute_dtype(profiles.current().device))


LORA_SETUP = """\
def __frlab_lora(c):
    out = {"__class__": type(c).__module__ + "." + type(c).__qualname__}
    for k in ("r", "lora_alpha", "lora_dropout", "bias", "task_type", "target_modules"):
        v = getattr(c, k, None)
        v = getattr(v, "value", v)
        out[k] = sorted(v) if type(v) in (set, list, tuple) and all(type(x) is str for x in v) else v
    return out
"""


def _p4_lora_judge(answers, ctx):
    got, problem = _answer(answers, "lora_config", "lora_config")
    if problem:
        return Verdict(False, problem)
    if type(got) is not dict or not _is_class(got, "peft.", "LoraConfig"):
        return mistyped("lora_config must be a peft LoraConfig")
    want = {"r": 16, "lora_alpha": 32, "bias": "none", "task_type": "CAUSAL_LM", "target_modules": ["query_key_value"]}
    dropout_ok = type(got.get("lora_dropout")) is float and close(got["lora_dropout"], 0.05, 1e-12)
    return _settings_verdict(
        got, want, [] if dropout_ok else ["lora_dropout"], "the course's LoRA configuration", "LoRA"
    )


LORA_TARGETS = [["query_key_value"], ["query_key_value", "dense"], ["dense_h_to_4h", "dense_4h_to_h"]]


def _p4_count_inputs(rng):
    # one LoRA configuration drawn for this class (never the course's, whose count a student could copy)
    r = rng.choice([2, 4, 8, 32])
    return [{"r": r, "lora_alpha": 2 * r, "target_modules": rng.choice(LORA_TARGETS)}]


def _lora(spec: dict):
    from peft import LoraConfig

    return LoraConfig(lora_dropout=0.05, bias="none", task_type="CAUSAL_LM", **spec)


def _p4_count_refs(inputs):
    from autograder import answer_keys
    from frlab.lora import qlora

    return [list(answer_keys.count_parameters(qlora.meta_peft_model(_lora(spec)))) for spec in inputs]


COUNT_SETUP = """\
def __frlab_lora_model(spec):
    from peft import LoraConfig
    from frlab.lora import qlora

    return qlora.meta_peft_model(LoraConfig(lora_dropout=0.05, bias="none", task_type="CAUSAL_LM", **spec))
"""


def _p4_count_judge(answers, ctx):
    verdicts = []
    for i, spec in enumerate(ctx.inputs):
        what = f"count_parameters(bloom-560m with LoRA {spec})"
        got, problem = _answer(answers, str(i), what)
        if problem:
            verdicts.append(Verdict(False, problem))
        elif type(got) is not list or len(got) != 2:
            verdicts.append(mistyped(f"count_parameters must return (trainable, total), got {type_name(got)}"))
        elif any(type(x) is not int for x in got):
            verdicts.append(
                mistyped("count_parameters must return plain ints (got " + ", ".join(type_name(x) for x in got) + ")")
            )
        else:
            bad = [n for n, x, y in zip(("trainable", "total"), got, ctx.refs[i]) if x != y]
            verdicts.append(Verdict(not bad, "right" if not bad else f"{what}: {' and '.join(bad)} count wrong"))
    return all_ok(verdicts, "right on a LoRA configuration drawn by the grader")


PART4 = {
    "test_prompt_format": Check(
        judge=_p4_prompt_judge,
        probe=lambda inputs: (
            "",
            [
                (str(i), f"format_prompt({q!r})" if a is None else f"format_prompt({q!r}, {a!r})")
                for i, (q, a) in enumerate(inputs)
            ],
        ),
        draw=_p4_prompt_inputs,
        references=_p4_prompt_refs,
    ),
    "test_bnb_config": Check(
        judge=_p4_bnb_judge,
        probe=lambda inputs: (BNB_SETUP, [("bnb_config", "__frlab_bnb(bnb_config)")]),
        references=_p4_compute_dtype,
    ),
    "test_lora_config": Check(
        judge=_p4_lora_judge, probe=lambda inputs: (LORA_SETUP, [("lora_config", "__frlab_lora(lora_config)")])
    ),
    "test_count_trainable": Check(
        judge=_p4_count_judge,
        probe=lambda inputs: (
            COUNT_SETUP,
            [(str(i), f"count_parameters(__frlab_lora_model({expr_literal(s)}))") for i, s in enumerate(inputs)],
        ),
        draw=_p4_count_inputs,
        references=_p4_count_refs,
    ),
}


CHECKS: dict[str, dict[str, Check]] = {P1: PART1, P2: PART2, P3: PART3, P4: PART4}


def checks_of(notebook: str) -> dict[str, Check]:
    """The checks of one chapter notebook (``{}`` for a notebook the grader does not know)."""
    return CHECKS.get(Path(notebook).stem, {})
