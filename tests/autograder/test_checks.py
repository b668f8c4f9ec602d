"""The checker's side of grading (autograder/checker.py, autograder/checks.py), without a kernel: every test cell has
a check, the decoder accepts plain data only, probes run against the chapters' own answers give full marks and
wrong or mistyped answers none, and the references come from the checker's own frlab."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from autograder import checker, checks
from autograder.chapters import chapter_definitions, chapter_sources, read_source


def _test_cells() -> dict[str, set[str]]:
    out = {}
    for path in chapter_sources():
        out[path.stem] = {
            c.metadata["nbgrader"]["grade_id"] for c in read_source(path).cells if checker.is_test_cell(c)
        }
    return out


def test_every_test_cell_has_a_check_and_every_check_a_cell():
    cells = _test_cells()
    assert cells, "no chapter found"
    for stem, ids in cells.items():
        assert set(checks.checks_of(stem)) == ids, stem


def test_chapters_carry_no_hidden_tests():
    # the verdicts live in the checker: nothing secret is left in the chapters' test cells
    for path in chapter_sources():
        assert "BEGIN HIDDEN TESTS" not in path.read_text()


# ------------------------------------------------------------------------------------------ decoder
def test_decode_plain_data():
    got = checker.decode(json.dumps({"a": {"value": [1, 2.5, "x", None, True, {"k": [1]}]}, "b": {"error": "boom"}}))
    assert got["a"].ok and got["a"].value == [1, 2.5, "x", None, True, {"k": [1]}]
    assert not got["b"].ok and got["b"].error == "boom"
    assert isinstance(checker.decode('{"a": {"value": {"__type__": "numpy.int64"}}}')["a"].value, checker.WrongType)


@pytest.mark.parametrize(
    "line",
    [
        '{"a": {"value": 1}, "a": {"value": 2}}',  # duplicate keys
        '{"a": {"value": NaN}}',  # non-standard constants
        '{"a": {"value": 1, "error": "x"}}',
        '{"a": 1}',
        "[1, 2]",
        "not json",
        '{"a": {"value": ' + "[" * 50 + "]" * 50 + "}}",  # too deep
        '{"a": {"value": "' + "x" * (checker.MAX_ANSWER_BYTES + 10) + '"}}',  # too large
    ],
)
def test_decode_rejects(line):
    with pytest.raises(checker.Malformed):
        checker.decode(line)


def test_read_answers_needs_exactly_one_line_with_the_nonce():
    out = [{"output_type": "stream", "name": "stdout", "text": 'noise\n[frlab-answers n1] {"a": {"value": 1}}\n'}]
    assert checker.read_answers(out, "n1")["a"].value == 1
    assert "no answer" in checker.read_answers(out, "other")
    two = out + [{"output_type": "stream", "name": "stdout", "text": '[frlab-answers n1] {"a": {"value": 2}}\n'}]
    assert "several" in checker.read_answers(two, "n1")
    stderr = [dict(out[0], name="stderr")]
    assert "no answer" in checker.read_answers(stderr, "n1")


# ------------------------------------------------------------------------------------------ probes, judged
@pytest.fixture(scope="module")
def draw(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    return root, checker.prepare(root / checker.DRAW_FILE, [checks.P1, checks.P4], seed=1234)


def _run_probe(root, notebook, gid, namespace) -> dict:
    """The probe executed in ``namespace`` as the kernel would, its printed line read back as the checker does."""
    source, nonce = checker.probe_source(root, notebook, gid)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(source, "<probe>", "exec"), namespace)
    assert not [n for n in namespace if n.startswith("__frlab")], "the probe leaves no name behind"
    return checker.read_answers([{"output_type": "stream", "name": "stdout", "text": buf.getvalue()}], nonce)


def _judge(root, draw, notebook, gid, namespace, tmp_path):
    entry = draw["notebooks"][notebook][gid]
    answers = _run_probe(root, notebook, gid, namespace)
    ctx = checker.Context(entry["inputs"], entry["refs"], tmp_path, "smoke")
    return checker.judge(notebook, gid, answers, ctx)


def test_references_are_the_checkers_own_model_counts(draw):
    from autograder.answer_keys import ANSWERS

    _, d = draw
    entry = d["notebooks"][checks.P1]["test_count_on_model"]
    for size, (weights, total) in zip(entry["inputs"], entry["refs"]):
        V, T, dim, d_ff, L, _heads, _ = size
        assert weights == V * dim + (T + 2) * dim + L * (4 * dim * dim + 2 * dim * d_ff)  # the chapter's formula
        assert weights < total
    course = checks._model_counts(checks._fairseq_encoder(32000, 256, 512, 512, 4, 8, course=True))
    assert course == ANSWERS[checks.P1][:2]  # RoBERTa_small_fr built by the checker: 22,807,552 / 22,829,056


def test_part1_right_and_wrong_functions(draw, tmp_path):
    root, d = draw
    right = chapter_definitions(checks.P1, "count_parameters")["count_parameters"]
    gid = "test_count_function_general"
    assert _judge(root, d, checks.P1, gid, {"count_parameters": right}, tmp_path).ok

    def no_positions(V, T, d, d_ff, L, with_biases_and_layernorm=False):
        return right(V, -2, d, d_ff, L, with_biases_and_layernorm)

    def as_float(*a, **k):
        return float(right(*a, **k))

    def numpy_int(*a, **k):
        import numpy as np

        return np.int64(right(*a, **k))

    for wrong, why in [(no_positions, "is wrong"), (as_float, "plain int"), (numpy_int, "numpy.int64")]:
        v = _judge(root, d, checks.P1, gid, {"count_parameters": wrong}, tmp_path)
        assert not v.ok and why in v.message, v.message
        assert "22807552" not in v.message and "22829056" not in v.message


def test_part1_values_and_errors(draw, tmp_path):
    root, d = draw
    assert _judge(root, d, checks.P1, "test_count_weights", {"n_weights": 22807552}, tmp_path).ok
    for value, why in [(22829056, "wrong"), (22807552.0, "plain int"), (True, "plain int")]:
        v = _judge(root, d, checks.P1, "test_count_weights", {"n_weights": value}, tmp_path)
        assert not v.ok and why in v.message
    v = _judge(root, d, checks.P1, "test_count_weights", {}, tmp_path)
    assert not v.ok and "NameError" in v.message


def test_part4_configs(draw, tmp_path):
    from autograder import answer_keys

    root, d = draw
    lora = answer_keys.lora_config()
    assert _judge(root, d, checks.P4, "test_lora_config", {"lora_config": lora}, tmp_path).ok
    llama = answer_keys.lora_config(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"])
    v = _judge(root, d, checks.P4, "test_lora_config", {"lora_config": llama}, tmp_path)
    assert not v.ok and "r" in v.message and "target_modules" in v.message
    as_dict = {"lora_config": dict(r=16, lora_alpha=32, target_modules=["query_key_value"])}
    assert not _judge(root, d, checks.P4, "test_lora_config", as_dict, tmp_path).ok
    fmt = answer_keys.format_prompt
    assert _judge(root, d, checks.P4, "test_prompt_format", {"format_prompt": fmt}, tmp_path).ok

    def unstripped(q, a=None):
        return f"<human>: {q}\n<assistant>:" + ("" if a is None else f" {a}")

    assert not _judge(root, d, checks.P4, "test_prompt_format", {"format_prompt": unstripped}, tmp_path).ok


def test_part4_count_on_a_drawn_configuration(draw, tmp_path):
    from autograder import answer_keys

    root, d = draw
    ns = {"count_parameters": answer_keys.count_parameters}
    assert _judge(root, d, checks.P4, "test_count_trainable", ns, tmp_path).ok
    from autograder.answer_keys import ANSWERS

    course = (ANSWERS[checks.P4][0], 560787456)
    hardcoded = {"count_parameters": lambda model: course}  # the course's configuration's count, copied
    v = _judge(root, d, checks.P4, "test_count_trainable", hardcoded, tmp_path)
    assert not v.ok and "count wrong" in v.message


def test_a_new_draw_changes_the_inputs(tmp_path):
    a = checker.prepare(tmp_path / "a.json", [checks.P4], seed=1)["notebooks"][checks.P4]["test_prompt_format"]
    b = checker.prepare(tmp_path / "b.json", [checks.P4], seed=2)["notebooks"][checks.P4]["test_prompt_format"]
    assert a["inputs"] != b["inputs"]


def test_wrong_type_verdicts_are_counted_in_the_class_summary():
    import re

    from autograder.grade_class import NotebookResult, summary_line

    v = checks.plain_int({"x": checker.Answer(value=1.0)}, "x", "x", 1, "wrong")
    assert not v.ok and v.wrong_type
    assert not checks.plain_int({"x": checker.Answer(value=2)}, "x", "x", 1, "wrong").wrong_type
    log = "[WARNING] checker: part1_parameter_counting test_count_weights wrong-type: x must be a plain int\n"
    log += "[WARNING] checker: part1_parameter_counting test_count_trainable wrong: convention (B) count is wrong\n"
    assert re.findall(checker.LOG_WRONG_TYPE, log) == [("part1_parameter_counting", "test_count_weights")]
    results = [
        NotebookResult("a", "p1", "p1", auto_score=2, auto_max=8, mistyped_tests=["test_count_weights"]),
        NotebookResult("b", "p1", "p1", auto_score=0, auto_max=8, tampered=True),
        NotebookResult("c", "p1", "p1", status="corrupt"),
        NotebookResult("d", "p1", "p1", status="timeout"),
    ]
    line = summary_line(results)
    assert line.startswith("4 notebook(s): 2 graded, 1 zero, 1 corrupt, 1 timeout, 0 missing")
    assert "1 flagged" in line and "1 mis-typed answers" in line


# ------------------------------------------------------------------------------------------ Part 2's commands
@pytest.fixture(scope="module")
def draw2(tmp_path_factory):
    root = tmp_path_factory.mktemp("course2")
    return root, checker.prepare(root / checker.DRAW_FILE, [checks.P2], seed=4321)


def _shuffled(args: list[str], seed: int = 0) -> list[str]:
    """The same argument list, its flags (each with its values) in another order, the data folder last."""
    import random

    chunks: list[list[str]] = []
    positional = [] if args[0].startswith("--") else [args[0]]
    for tok in args[len(positional) :]:
        if tok.startswith("--") or not chunks:
            chunks.append([tok])
        else:
            chunks[-1].append(tok)
    random.Random(seed).shuffle(chunks)
    flat = [t for c in chunks for t in c]
    return flat + positional if positional and chunks[-1][0] in ("--cpu", "--fp16", "--no-save") else positional + flat


def _replace(args: list[str], flag: str, value: str | None) -> list[str]:
    """``args`` with ``flag``'s value replaced (``None``: the flag and its value removed)."""
    i = args.index(flag)
    return args[:i] + args[i + 2 :] if value is None else args[: i + 1] + [value] + args[i + 2 :]


def test_part2_encode_reviews(draw2, tmp_path):
    from autograder import answer_keys

    root, d = draw2
    gid = "test_encode_reviews"
    assert _judge(root, d, checks.P2, gid, {"encode_reviews": answer_keys.encode_reviews}, tmp_path).ok

    def ids(sp, reviews, max_pieces):  # ids, not pieces
        return [" ".join(map(str, sp.encode(r)[:max_pieces])) for r in reviews]

    def no_limit(sp, reviews, max_pieces):
        return answer_keys.encode_reviews(sp, reviews, None)

    class Lines(list):
        pass

    def subclass(sp, reviews, max_pieces):
        return Lines(answer_keys.encode_reviews(sp, reviews, max_pieces))

    for wrong, why in [(ids, "wrong pieces"), (no_limit, "wrong pieces"), (subclass, "list of str")]:
        v = _judge(root, d, checks.P2, gid, {"encode_reviews": wrong}, tmp_path)
        assert not v.ok and why in v.message, v.message


def test_part2_preprocess_args(draw2, tmp_path):
    from autograder import answer_keys

    root, d = draw2
    gid = "test_preprocess_args"
    right = answer_keys.preprocess_args
    assert _judge(root, d, checks.P2, gid, {"preprocess_args": right}, tmp_path).ok

    def shuffled(*a):
        return {k: _shuffled(v, 3) for k, v in right(*a).items()}

    assert _judge(root, d, checks.P2, gid, {"preprocess_args": shuffled}, tmp_path).ok

    def new_dictionary(*a):  # the reviews get a dictionary of their own
        return {**right(*a), "input0": _replace(right(*a)["input0"], "--srcdict", None)}

    def joined(*a):
        return {**right(*a), "label": right(*a)["label"] + ["--joined-dictionary"]}

    def evil(*a):  # fairseq imports --user-dir: the grader never parses such a list
        return {**right(*a), "label": right(*a)["label"] + ["--user-dir", str(tmp_path)]}

    (tmp_path / "__init__.py").write_text("raise SystemExit('imported!')\n")
    for wrong, why in [
        (new_dictionary, "the input0 call: wrong --srcdict"),
        (joined, "other settings differ from the course's: --joined-dictionary"),
        (evil, "--user-dir must be frlab's plugin"),
    ]:
        v = _judge(root, d, checks.P2, gid, {"preprocess_args": wrong}, tmp_path)
        assert not v.ok and why in v.message, v.message
        assert "dict.txt" not in v.message


def test_part2_train_and_random_init_args(draw2, tmp_path):
    from autograder import answer_keys

    root, d = draw2
    train, rand = answer_keys.part2_train_args(), answer_keys.part2_random_init_args()
    right = {"train_args": train, "random_init_args": rand}
    for gid in ("test_train_args", "test_random_init_args"):
        assert _judge(root, d, checks.P2, gid, right, tmp_path).ok, gid
    shuffled = {"train_args": lambda *a: _shuffled(train(*a), 1), "random_init_args": lambda *a: _shuffled(rand(*a), 2)}
    for gid in ("test_train_args", "test_random_init_args"):
        assert _judge(root, d, checks.P2, gid, shuffled, tmp_path).ok, gid

    def lr10(*a):
        return _replace(train(*a), "--lr", "0.0001234")

    def no_restore(*a):
        return _replace(train(*a), "--restore-file", None)

    v = _judge(root, d, checks.P2, "test_train_args", {"train_args": lr10}, tmp_path)
    assert not v.ok and v.message == "wrong --lr", v.message
    v = _judge(root, d, checks.P2, "test_train_args", {"train_args": no_restore}, tmp_path)
    assert not v.ok and "--restore-file" in v.message and "model.pt" not in v.message, v.message
    # Exercise 2.4: no --restore-file at all is a random initialisation too; the pretrained checkpoint is not
    assert _judge(
        root,
        d,
        checks.P2,
        "test_random_init_args",
        {**right, "random_init_args": lambda *a: _replace(rand(*a), "--restore-file", None)},
        tmp_path,
    ).ok
    inputs = d["notebooks"][checks.P2]["test_random_init_args"]["inputs"]

    def pretrained_again(data_bin, run_dir, seed, n_train, arch):
        return train(data_bin, inputs["restore_file"], run_dir, seed, n_train, arch)

    def other_lr(*a):
        return _replace(rand(*a), "--lr", "0.001")

    for wrong, why in [
        (pretrained_again, "pretrained checkpoint"),
        (other_lr, "differs from the pretrained one in: --lr"),
    ]:
        v = _judge(root, d, checks.P2, "test_random_init_args", {**right, "random_init_args": wrong}, tmp_path)
        assert not v.ok and why in v.message, v.message
    # a wrong train_args costs Exercise 2.3 only: the random-init run is compared with the student's own
    both_lr = {"train_args": lr10, "random_init_args": lambda *a: _replace(rand(*a), "--lr", "0.0001234")}
    assert not _judge(root, d, checks.P2, "test_train_args", both_lr, tmp_path).ok
    assert _judge(root, d, checks.P2, "test_random_init_args", both_lr, tmp_path).ok
