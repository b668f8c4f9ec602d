"""The checker: every autograded verdict is computed outside the student's interpreter.

What crosses the sandbox boundary, and how:

1. nbgrader runs the student's notebook in the sandboxed kernel, test cells included (their *visible* checks, which
   students also run themselves). Nothing the kernel reports about those cells — errors, outputs, tracebacks —
   counts: :class:`CheckAnswers` turns them into plain text.
2. Right after each autograded test cell, the executor (:class:`autograder.preprocessors.RobustExecute`) sends the
   kernel that cell's **probe** (:mod:`autograder.checks`): it reads the student's names and calls the student's
   functions on inputs the checker drew for this grading run, and prints one line
   ``[frlab-answers <nonce>] <JSON>``. Values are encoded as plain data (int, float, str, bool, None, lists and
   dicts of those); anything else is sent as its type name only.
3. The checker — this process, which never executes student code — keeps that line only, decodes it strictly
   (:func:`decode`: JSON, no duplicate keys, a size limit, typed wrong-type markers), and judges it against
   references it computes itself: its own ``frlab`` (models built from config, the converter's mapping, peft's
   count) and the files the student submitted, read as data (TensorBoard logs, run records).
4. The verdict becomes the test cell's outputs (:func:`verdict_outputs`), which nbgrader's ``SaveAutoGrades``
   records in the gradebook as usual, and the feedback page shows.

A student can make the kernel claim anything. A claim scores only when it equals the checker's reference, which
for function answers depends on inputs drawn per grading run (:func:`prepare`): claiming right values means
computing them.

The draw and its references are stored once per class in the course folder (``.frlab-checker.json``; nbgrader
ignores ``.frlab-*`` files, the sandbox does not show the course folder).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from autograder import checks
from autograder.verdicts import Answer, Context, Verdict, WrongType

DRAW_FILE = ".frlab-checker.json"
MARK = "[frlab-answers "
#: the log line of a zero verdict (grade_class reads it)
LOG_WRONG_TYPE = r"checker: (\S+) (\S+) wrong-type: "
#: the most a probe may print back (bytes of its answer line)
MAX_ANSWER_BYTES = 2_000_000
MAX_DEPTH = 16
SEED_ENV = "FRLAB_CHECKER_SEED"

# The kernel side: runs in the student's interpreter, so it is written to fail safe, not to be trusted. ``{setup}``
# defines the probe's helpers, ``{calls}`` is a list of ``(key, lambda: expression)``.
PROBE_TEMPLATE = """\
def __frlab_probe(__calls, __nonce, __b=__import__("builtins")):
    # the builtins it uses, bound locally: a student's variable named `type`, `str` or `list` does not change them
    type, bool, int, float, str, list, tuple, dict, all = (
        __b.type, __b.bool, __b.int, __b.float, __b.str, __b.list, __b.tuple, __b.dict, __b.all)
    repr, KeyboardInterrupt, BaseException = __b.repr, __b.KeyboardInterrupt, __b.BaseException
    import json, math, sys

    def plain(v, depth=0):
        t = type(v)
        if v is None or t in (bool, int, str):
            return v
        if t is float:
            return v if math.isfinite(v) else {{"__float__": repr(v)}}
        if depth < {depth} and t in (list, tuple):
            return [plain(x, depth + 1) for x in v]
        if depth < {depth} and t is dict and all(type(k) is str for k in v):
            return {{k: plain(x, depth + 1) for k, x in v.items()}}
        return {{"__type__": t.__module__ + "." + t.__qualname__}}

    out = {{}}
    for key, call in __calls:
        try:
            out[key] = {{"value": plain(call())}}
        except KeyboardInterrupt:
            out[key] = {{"error": "stopped at the cell time limit"}}
            break
        except BaseException as exc:
            out[key] = {{"error": (type(exc).__name__ + ": " + str(exc))[:400]}}
    sys.stdout.write("{mark}" + __nonce + "] " + json.dumps(out) + "\\n")
    sys.stdout.flush()


{setup}
__frlab_probe([{calls}], {nonce!r})
for __frlab_name in [n for n in list(globals()) if n.startswith("__frlab")]:
    globals().pop(__frlab_name, None)
globals().pop("__frlab_name", None)
"""


# ------------------------------------------------------------------------------------------ decoding
class Malformed(ValueError):
    """The answer line is not what a probe prints."""


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise Malformed(f"duplicate key {k!r}")
        out[k] = v
    return out


def _reject_constant(name):
    raise Malformed(f"non-standard JSON constant {name}")


def _plain(v, depth=0):
    if depth > MAX_DEPTH:
        raise Malformed("nested too deep")
    if v is None or type(v) in (bool, int, str):
        return v
    if type(v) is float:
        return v
    if type(v) is list:
        return [_plain(x, depth + 1) for x in v]
    if type(v) is dict:
        if set(v) == {"__type__"} and type(v["__type__"]) is str:
            return WrongType(v["__type__"][:200])
        if set(v) == {"__float__"} and v["__float__"] in ("nan", "inf", "-inf"):
            return float(v["__float__"])
        return {k: _plain(x, depth + 1) for k, x in v.items()}
    raise Malformed(f"unexpected {type(v).__name__}")


def decode(line: str) -> dict[str, Answer]:
    """The answers of one probe line's JSON part: ``{key: Answer}``. Raises :class:`Malformed`."""
    if len(line.encode("utf-8", "replace")) > MAX_ANSWER_BYTES:
        raise Malformed(f"answer larger than {MAX_ANSWER_BYTES} bytes")
    try:
        data = json.loads(line, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise Malformed(f"not JSON: {exc.msg}") from None
    except RecursionError:
        raise Malformed("nested too deep") from None
    if type(data) is not dict:
        raise Malformed("not an object")
    out = {}
    for key, item in data.items():
        if type(item) is not dict or len(item) != 1:
            raise Malformed(f"{key}: neither a value nor an error")
        if "error" in item:
            out[key] = Answer(error=str(item["error"])[:400])
        elif "value" in item:
            out[key] = Answer(value=_plain(item["value"]))
        else:
            raise Malformed(f"{key}: neither a value nor an error")
    return out


def answer_lines(outputs, nonce: str) -> list[str]:
    """The JSON parts of the probe lines with ``nonce`` in a cell's stdout outputs."""
    text = "".join(
        "".join(o.get("text", "")) if isinstance(o.get("text"), (str, list)) else ""
        for o in outputs
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )
    head = f"{MARK}{nonce}] "
    return [line[len(head) :] for line in text.splitlines() if line.startswith(head)]


def read_answers(outputs, nonce: str) -> dict[str, Answer] | str:
    """The decoded answers of a probe cell's outputs, or why there are none (a message for the student)."""
    lines = answer_lines(outputs, nonce)
    if not lines:
        died = any(o.get("output_type") == "error" for o in outputs)
        return "no answer reached the grader" + (
            " (the kernel stopped while reading your answers: an error, the time limit or a crash)" if died else ""
        )
    if len(set(lines)) > 1:
        return "several different answers reached the grader for one check: none is taken"
    try:
        return decode(lines[0])
    except Malformed as exc:
        return f"the answers could not be read ({exc})"


# ------------------------------------------------------------------------------------------ the draw
def _nonce(base: str, notebook: str, grade_id: str) -> str:
    return hashlib.sha256(f"{base}/{notebook}/{grade_id}".encode()).hexdigest()[:16]


def prepare(path: Path | str, notebooks: list[str], seed: int | None = None) -> dict:
    """Draw the inputs of every check of ``notebooks`` and compute their references with the checker's own
    ``frlab``; write them to ``path`` (JSON) and return them. ``seed``: ``FRLAB_CHECKER_SEED`` or a fresh one."""
    if seed is None:
        seed = int(os.environ[SEED_ENV]) if os.environ.get(SEED_ENV, "").isdigit() else secrets.randbits(31)
    rng = random.Random(seed)
    draw = {"seed": seed, "nonce": secrets.token_hex(8), "notebooks": {}}
    for nb in sorted(set(notebooks)):
        draw["notebooks"][nb] = {
            gid: {"inputs": (inputs := check.draw(rng)), "refs": check.references(inputs)}
            for gid, check in checks.checks_of(nb).items()
        }
    Path(path).write_text(json.dumps(draw, sort_keys=True) + "\n", encoding="utf-8")
    return draw


_LOADED: dict[str, dict] = {}


def draw_for(root: Path | str, notebook: str) -> dict:
    """The course's draw (``root/.frlab-checker.json``), prepared for ``notebook`` when it is not there yet."""
    path = Path(root) / DRAW_FILE
    key = str(path.resolve())
    cached = _LOADED.get(key)
    if cached is None and path.exists():
        cached = json.loads(path.read_text(encoding="utf-8"))
    if cached is None or notebook not in cached.get("notebooks", {}):
        notebooks = [notebook, *((cached or {}).get("notebooks") or {})]
        cached = prepare(path, notebooks, seed=(cached or {}).get("seed"))
    _LOADED[key] = cached
    return cached


def probe_source(root: Path | str, notebook: str, grade_id: str) -> tuple[str, str] | None:
    """``(source, nonce)`` of the probe that follows test cell ``grade_id``; ``None`` when it reads nothing."""
    check = checks.checks_of(notebook).get(grade_id)
    if check is None or check.probe is None:
        return None
    draw = draw_for(root, notebook)
    setup, calls = check.probe(draw["notebooks"][notebook][grade_id]["inputs"])
    nonce = _nonce(draw["nonce"], notebook, grade_id)
    source = PROBE_TEMPLATE.format(
        depth=MAX_DEPTH - 2,
        mark=MARK,
        setup=setup.strip(),
        calls=", ".join(f"({key!r}, lambda: {expr})" for key, expr in calls),
        nonce=nonce,
    )
    return source, nonce


# ------------------------------------------------------------------------------------------ verdicts
def _text(output) -> str:
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    if output.get("output_type") == "error":
        return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}\n"
    data = output.get("data") or {}
    plain = data.get("text/plain", "")
    return ("".join(plain) if isinstance(plain, list) else str(plain)) + "\n" if plain else ""


def kernel_outputs_as_text(outputs) -> list:
    """A test cell's outputs from the kernel, as one stdout stream: what the student's visible checks printed or
    raised stays readable, and none of it (an error, a stderr line, a result) can decide the score."""
    from nbformat.v4 import new_output

    text = "".join(_text(o) for o in outputs)
    if not text.strip():
        return []
    return [new_output("stream", name="stdout", text="[your notebook's checks]\n" + text.rstrip("\n") + "\n")]


def verdict_outputs(verdict: Verdict, points: float) -> list:
    """The grader's outputs for a test cell: full points leave a line; no points an error output (nbgrader scores
    the cell zero)."""
    from nbformat.v4 import new_output

    if verdict.ok:
        return [new_output("stream", name="stdout", text=f"[grader] {points:g}/{points:g}: {verdict.message}\n")]
    line = f"[grader] 0/{points:g}: {verdict.message}"
    return [new_output("error", ename="GraderVerdict", evalue=verdict.message, traceback=[line])]


def course_paths(resources) -> tuple[Path, Path]:
    """``(course root, submitted folder)`` of the notebook being autograded (``autograded/<student>/<assignment>``
    is the kernel's folder; the submitted one is the student's untouched copy)."""
    folder = Path(resources["metadata"]["path"]).resolve()
    root = folder.parents[2]
    nbg = resources["nbgrader"]
    return root, root / "submitted" / nbg["student"] / nbg["assignment"]


def is_test_cell(cell) -> bool:
    m = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def judge(notebook: str, grade_id: str, answers, ctx: Context) -> Verdict:
    """The verdict on one test cell: the check's judge on the decoded answers; never an exception."""
    check = checks.checks_of(notebook).get(grade_id)
    if check is None:
        return Verdict(False, "this test cell has no check in the grader: tell your instructor")
    if check.probe is not None and isinstance(answers, str):
        return Verdict(False, answers)
    try:
        return check.judge(answers if check.probe is not None else {}, ctx)
    except Exception as exc:  # a judge bug or an unreadable submitted file: zero, said plainly
        return Verdict(False, f"the grader could not check this answer ({type(exc).__name__}: {exc})")


class CheckAnswers(Preprocessor):
    """Autograde step after execution: every test cell's score comes from :func:`judge`, not from the kernel."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        from frlab import profiles

        notebook = resources["nbgrader"]["notebook"]
        root, submitted = course_paths(resources)
        draw = draw_for(root, notebook)["notebooks"][notebook]
        answers = resources.get("frlab_answers", {})
        profile = profiles.current().name
        for cell in nb.cells:
            if not is_test_cell(cell):
                continue
            gid = cell.metadata.nbgrader["grade_id"]
            entry = draw.get(gid, {})
            ctx = Context(entry.get("inputs"), entry.get("refs"), submitted, profile)
            got = answers.get(gid, "no answer reached the grader (the cell did not run to its end)")
            verdict = judge(notebook, gid, got, ctx)
            points = float(cell.metadata.nbgrader.get("points", 0))
            cell.outputs = kernel_outputs_as_text(cell.get("outputs", [])) + verdict_outputs(verdict, points)
            if verdict.ok:
                self.log.info("checker: %s %s ok", notebook, gid)
            else:  # a warning: grade_class reads these lines (wrong-type answers are counted apart)
                kind = "wrong-type" if verdict.wrong_type else "wrong"
                self.log.warning("checker: %s %s %s: %s", notebook, gid, kind, verdict.message)
        return nb, resources
