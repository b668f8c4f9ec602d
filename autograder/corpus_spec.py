"""The self-test corpus: synthetic submissions with the score each must get.

``python -m autograder.corpus_spec`` (also run by ``python -m autograder.generate``) builds
``autograder/corpus/submitted/<student>/<assignment>/`` from the student notebooks in ``notebooks/``
and writes ``autograder/corpus/expected.json``. ``python -m autograder.selftest`` grades the corpus
and fails on any mis-grade.

A submission spec: ``assignment``; ``cells`` (grade_id -> new source of a solution cell); ``edit``
(grade_id -> new source of a *test* cell: tampering); ``delete`` (grade_ids); ``meta`` (grade_id ->
nbgrader metadata overrides); ``raw`` (the file's bytes as text: corrupt notebooks); ``missing``
(no notebook); ``files`` (relpath -> text: artefacts beside the notebook); ``expect``: ``auto_score``,
``passed`` (autograded test ids that must pass; every other test must fail), ``status``,
``tampered``; ``copy`` (relpath -> folder under ``autograder/`` copied beside the notebook: run logs);
``corrupt`` (glob patterns of copied files overwritten with garbage); ``renames`` ((src, dst) pairs
applied in order to the copied files); ``limits`` (``notebook_timeout`` for this submission); ``forbidden`` (paths that must not exist after grading: writes outside the submission).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
from pathlib import Path

import nbformat

from autograder import AUTOGRADER_DIR, REPO_ROOT

CORPUS_DIR = AUTOGRADER_DIR / "corpus"
SUBMITTED_DIR = CORPUS_DIR / "submitted"
EXPECTED = CORPUS_DIR / "expected.json"
PWNED = "/work/frlab-corpus-pwned.txt"  # a write outside the submission must never create this

# ------------------------------------------------------------------------------------------- Part 1
P1 = "part1_parameter_counting"
P1_TESTS = ["test_count_weights", "test_count_trainable", "test_count_function_general", "test_count_on_model"]

P1_FUNCTION = '''\
def count_parameters(V, T, d, d_ff, L, with_biases_and_layernorm=False):
    """Parameters of a fairseq RoBERTa encoder (no LM head)."""
    emb = V * d + (T + 2) * d
    layer = 4 * d * d + 2 * d * d_ff
    if with_biases_and_layernorm:
        layer += 4 * d + d_ff + d + 4 * d
        emb += 2 * d
    return int(emb + L * layer)
'''
P1_ANSWERS = """\
n_weights = count_parameters(V, T, d, d_ff, L, with_biases_and_layernorm=False)
n_trainable = count_parameters(V, T, d, d_ff, L, with_biases_and_layernorm=True)
print(f"(A) weights only:             {n_weights:,}")
print(f"(B) with biases and LayerNorm: {n_trainable:,}")
"""
P1_ON_MODEL = """\
def is_layernorm(name):
    return "layer_norm" in name or "layernorm" in name


def count_on_model(encoder, with_biases_and_layernorm=False):
    total = 0
    for name, p in encoder.named_parameters():
        if with_biases_and_layernorm or (name.endswith(".weight") and not is_layernorm(name)):
            total += p.numel()
    return int(total)
"""
P1_WRITTEN = (
    "Positions start after the padding index, so two rows are reserved and never used: T + 2 rows. "
    "One more dictionary entry adds one embedding row, i.e. d more parameters."
)
P1_OK = {
    "count_function": P1_FUNCTION,
    "count_answers": P1_ANSWERS,
    "count_on_model": P1_ON_MODEL,
    "written_positions": P1_WRITTEN,
}


def p1(cells=None, **kw):
    spec = {"assignment": P1, "cells": {**P1_OK, **(cells or {})}}
    spec.update(kw)
    return spec


def _answers_fallback(code_on_success: str) -> str:
    # used by the sandbox probes: correct answers only if the forbidden action succeeded
    return (
        P1_ANSWERS.split("print")[0].replace("n_weights =", "_ok_w =").replace("n_trainable =", "_ok_t =")
        + "n_weights, n_trainable = 1, 2\n"
        + code_on_success
    )


SUBMISSIONS: dict[str, dict] = {
    # -- right answers
    "p1-correct": p1(expect={"passed": P1_TESTS}),
    "p1-correct-noisy-stderr": p1(
        {
            "count_answers": "import sys, warnings\nwarnings.warn('just a warning')\n"
            "print('debug', file=sys.stderr)\n" + P1_ANSWERS
        },
        expect={"passed": P1_TESTS},
    ),
    "p1-hardcoded-answers": p1(
        {
            "count_function": "def count_parameters(V, T, d, d_ff, L, with_biases_and_layernorm=False):\n"
            "    raise NotImplementedError()\n",
            "count_answers": "n_weights = 22807552\nn_trainable = 22829056\n",
        },
        expect={"passed": ["test_count_weights", "test_count_trainable", "test_count_on_model"]},
    ),
    # -- wrong answers real students give
    "p1-wrong-forgot-ffn-and-positions": p1(
        {"count_function": P1_FUNCTION.replace(" + (T + 2) * d", "").replace(" + 2 * d * d_ff", "")},
        expect={"passed": ["test_count_on_model"]},  # each graded cell checks one answer: the model count is right
    ),  # 20,578,304
    "p1-wrong-positions-T": p1(
        {"count_function": P1_FUNCTION.replace("(T + 2) * d", "T * d")}, expect={"passed": ["test_count_on_model"]}
    ),
    "p1-wrong-trainable-given-for-weights": p1(
        {"count_answers": "n_weights = 22829056\nn_trainable = 22829056\n"},
        # a right (B) answer keeps its points when (A) is wrong
        expect={"passed": ["test_count_function_general", "test_count_trainable", "test_count_on_model"]},
    ),
    "p1-wrong-swapped": p1(
        {
            "count_answers": "n_weights = count_parameters(V, T, d, d_ff, L, True)\n"
            "n_trainable = count_parameters(V, T, d, d_ff, L, False)\n"
        },
        expect={"passed": ["test_count_function_general", "test_count_on_model"]},
    ),
    "p1-wrong-no-embedding-layernorm": p1(
        {"count_function": P1_FUNCTION.replace("        emb += 2 * d\n", "")},
        expect={"passed": ["test_count_weights", "test_count_on_model"]},
    ),
    # uses its flag but not the model: right on the course model only (the grader also counts another model)
    "p1-model-count-returns-the-analytic-counts": p1(
        {
            "count_on_model": "def is_layernorm(name):\n    return 'layer_norm' in name or 'layernorm' in name\n\n\n"
            "def count_on_model(encoder, with_biases_and_layernorm=False):\n"
            "    return n_trainable if with_biases_and_layernorm else n_weights\n"
        },
        expect={"passed": ["test_count_weights", "test_count_trainable", "test_count_function_general"]},
    ),
    "p1-wrong-model-count-includes-layernorm": p1(
        {"count_on_model": P1_ON_MODEL.replace(" and not is_layernorm(name)", "")},
        expect={"passed": ["test_count_weights", "test_count_trainable", "test_count_function_general"]},
    ),
    # -- type gaming: floats, numpy, int subclasses
    "p1-type-float": p1(
        {
            "count_answers": P1_ANSWERS.replace("n_weights = count", "n_weights = 1.0 * count").replace(
                "n_trainable = count", "n_trainable = 1.0 * count"
            )
        },
        expect={"passed": ["test_count_function_general", "test_count_on_model"]},
    ),
    "p1-type-numpy-int": p1(
        {"count_function": "import numpy as np\n" + P1_FUNCTION.replace("return int(", "return np.int64(")},
        expect={"passed": ["test_count_on_model"]},
    ),
    "p1-type-int-subclass-always-equal": p1(
        {
            "count_function": "class Int(int):\n    def __eq__(self, other):\n        return True\n"
            "    __hash__ = int.__hash__\n\n\n" + P1_FUNCTION.replace("return int(", "return Int(")
        },
        # every test checks `type(x) is int`, so an always-equal int subclass scores nothing (the model count
        # does not use count_parameters)
        expect={"passed": ["test_count_on_model"]},
    ),
    # -- errors and hostile code
    "p1-exception": p1(
        {"count_on_model": P1_ON_MODEL + "\nraise RuntimeError('half-finished cell')\n"},
        expect={
            "passed": [
                "test_count_weights",
                "test_count_trainable",
                "test_count_function_general",
                "test_count_on_model",
            ]
        },
    ),
    "p1-exception-in-function": p1(
        {
            "count_function": P1_FUNCTION.replace(
                '    """Parameters', '    if L < 4:\n        raise ValueError(L)\n    """Parameters'
            )
        },
        expect={"passed": ["test_count_weights", "test_count_trainable", "test_count_on_model"]},
    ),
    "p1-infinite-loop": p1(
        {"count_on_model": "while True:\n    pass\n" + P1_ON_MODEL},
        expect={"passed": ["test_count_weights", "test_count_trainable", "test_count_function_general"]},
    ),
    "p1-infinite-loop-in-test": p1(
        {
            "count_function": P1_FUNCTION.replace(
                '    """Parameters', '    while V < 32000:\n        pass\n    """Parameters'
            )
        },
        expect={"passed": ["test_count_weights", "test_count_trainable", "test_count_on_model"]},
    ),
    "p1-memory-bomb": p1(
        {
            "count_on_model": "def _bomb():\n    hog = []\n    while True:\n        hog.append(bytearray(50_000_000))\n\n"
            "_bomb()\n" + P1_ON_MODEL
        },
        expect={"passed": ["test_count_weights", "test_count_trainable", "test_count_function_general"]},
    ),
    "p1-network-call": p1(
        {
            "count_answers": _answers_fallback(
                "import urllib.request\ntry:\n    urllib.request.urlopen('https://pypi.org/simple/', timeout=10).read(100)\n"
                "    n_weights, n_trainable = _ok_w, _ok_t   # reached the network\nexcept Exception as exc:\n"
                "    print('no network:', type(exc).__name__)\n"
            )
        },
        expect={"passed": ["test_count_function_general", "test_count_on_model"]},
    ),
    "p1-write-outside-submission": p1(
        {
            "count_answers": _answers_fallback(
                f"try:\n    open({PWNED!r}, 'w').write('pwned')\n    n_weights, n_trainable = _ok_w, _ok_t\n"
                "except OSError as exc:\n    print('write refused:', exc)\n"
            )
        },
        expect={"passed": ["test_count_function_general", "test_count_on_model"]},
        forbidden=[PWNED],
    ),
    "p1-read-hidden-tests": p1(
        {
            "count_answers": _answers_fallback(
                "import glob, os, re, sys\nroot = os.path.dirname(sys.prefix)   # the repository (venv inside it)\n"
                "cands = glob.glob(root + '/solutions/part1*.py') + glob.glob(root + '/autograder/**/part1*.ipynb', recursive=True)"
                " + glob.glob(root + '/autograder/**/gradebook*.db', recursive=True) + glob.glob('/tmp/**/*.ipynb', recursive=True) + glob.glob('*.ipynb')\n"
                # other checkouts and courses on the host (the self-test plants such decoys)
                "for base in (os.path.dirname(root), os.path.expanduser('~'), '/tmp', '/work', '/home', '/srv', '/opt'):\n"
                "    cands += glob.glob(base + '/*/solutions/part1*.py') + glob.glob(base + '/*/autograder/**/part1*.ipynb', recursive=True)\n"
                "for f in cands:\n"
                "    try:\n        nums = re.findall(r'== (\\d{8})', open(f, errors='ignore').read())\n"
                "    except OSError:\n        continue\n    if len(nums) >= 2:\n        n_weights, n_trainable = int(nums[0]), int(nums[1])\n"
                "print('files seen:', len(cands))\n"
            )
        },
        expect={"passed": ["test_count_function_general", "test_count_on_model"]},
    ),
    "p1-kernel-crash": p1(
        {"count_on_model": "import os\nos.kill(os.getpid(), 9)\n" + P1_ON_MODEL},
        expect={"passed": ["test_count_weights", "test_count_trainable", "test_count_function_general"]},
    ),
    "p1-too-slow-overall": p1(
        {k: "import time\ntime.sleep(25)\n" + v for k, v in P1_OK.items() if k != "written_positions"},
        limits={"notebook_timeout": 70},  # each cell is under the cell limit, the notebook is not
        expect={"passed": [], "status": "timeout"},
    ),
    # -- tampering with the tests
    "p1-tamper-deleted-tests": p1(
        delete=["test_count_weights", "test_count_trainable"], expect={"passed": P1_TESTS, "tampered": True}
    ),
    "p1-tamper-edited-tests": p1(
        {"count_function": P1_FUNCTION.replace(" + (T + 2) * d", "").replace(" + 2 * d * d_ff", "")},
        edit={t: "pass\n" for t in P1_TESTS},
        expect={"passed": ["test_count_on_model"], "tampered": True},
    ),
    # tags that make nbclient skip a cell, or let it fail silently, on the test cells (with wrong answers)
    "p1-tamper-skip-execution-tags": p1(
        {"count_function": P1_FUNCTION.replace(" + (T + 2) * d", "").replace(" + 2 * d * d_ff", "")},
        tags={t: ["skip-execution"] for t in P1_TESTS},
        expect={"passed": ["test_count_on_model"], "tampered": True},
    ),
    "p1-tamper-raises-exception-tags": p1(
        {"count_function": P1_FUNCTION.replace(" + (T + 2) * d", "").replace(" + 2 * d * d_ff", "")},
        tags={t: ["raises-exception"] for t in P1_TESTS},
        expect={"passed": ["test_count_on_model"], "tampered": True},
    ),
    # the kernel links course files (source notebook with the hidden tests, gradebook, release) into its folder,
    # hoping the feedback step copies them to the student: the feedback folder holds only submitted files
    "p1-symlinks-to-the-course": p1(
        {
            "count_answers": P1_ANSWERS
            + "import os\nfor _i, _t in enumerate(['../../../source/part1_parameter_counting/part1_parameter_counting.ipynb',"
            " '../../../gradebook.db', '../../../release', '/etc/passwd', '../../../nbgrader_config.py']):\n"
            "    try:\n        os.symlink(_t, f'leak{_i}' + os.path.splitext(_t)[1])\n    except OSError as exc:\n"
            "        print('no link:', exc)\nopen('made_by_the_kernel.txt', 'w').write('not submitted')\n"
        },
        expect={"passed": P1_TESTS},
    ),
    # the kernel has run the hidden tests of the earlier test cells: print them back (IPython's input history,
    # the globals, the notebook file) into the feedback page
    "p1-prints-the-hidden-tests": p1(
        {
            "count_on_model": P1_ON_MODEL
            + "\nprint('\\n'.join(In))\nprint({k: v for k, v in globals().items() if k.startswith('_')})\n"
            "import glob\nfor f in glob.glob('*.ipynb'):\n    print(open(f).read()[:20000])\n"
        },
        expect={"passed": P1_TESTS},
    ),
    "p1-tamper-metadata-points": p1(
        meta={"test_count_weights": {"points": 100}}, expect={"passed": P1_TESTS, "tampered": True}
    ),
    # -- broken or empty submissions
    "p1-untouched": {"assignment": P1, "cells": {}, "expect": {"passed": []}},
    "p1-corrupt-json": {
        "assignment": P1,
        "raw": '{"cells": [{"cell_type": "code", "source": "n_weights = 2',
        "expect": {"passed": [], "status": "corrupt"},
    },
    "p1-not-a-notebook": {"assignment": P1, "raw": '{"hello": "world"}', "expect": {"passed": [], "status": "corrupt"}},
    "p1-missing-notebook": {
        "assignment": P1,
        "missing": True,
        "files": {"notes.txt": "forgot the notebook"},
        "expect": {"passed": [], "status": "missing"},
    },
}

# -- subverting tests that run in the kernel: every answer below is wrong, and whatever the kernel is made to
# report, the checker (outside the kernel) gives no point
P1_ALL_WRONG = {
    "count_function": P1_FUNCTION.replace(" + (T + 2) * d", "").replace(" + 2 * d * d_ff", ""),
    "count_on_model": P1_ON_MODEL.replace(" and not is_layernorm(name)", ""),
}


def p1_hostile(trick: str, **kw):
    """All-wrong Part 1 answers, with ``trick`` run first in the answers cell."""
    return p1({**P1_ALL_WRONG, "count_answers": trick + "\n" + P1_ANSWERS}, **kw)


SUBMISSIONS.update(
    {
        "p1-hostile-custom-exception-handler": p1_hostile(
            "def _swallow(shell, etype, value, tb, tb_offset=None):\n    return None\n\n\n"
            "get_ipython().set_custom_exc((BaseException,), _swallow)\n",
            expect={"passed": []},
        ),
        "p1-hostile-ast-transformer-drops-asserts": p1_hostile(
            "import ast\n\n\nclass _NoAsserts(ast.NodeTransformer):\n    def visit_Assert(self, node):\n"
            "        return ast.Pass()\n\n\nget_ipython().ast_transformers.append(_NoAsserts())\n",
            expect={"passed": []},
        ),
        "p1-hostile-input-transformer-blanks-tests": p1_hostile(
            "def _blank(lines):\n    return ['pass\\n'] if any('assert' in l or 'frlab' in l for l in lines) else lines\n\n\n"
            "get_ipython().input_transformers_cleanup.append(_blank)\n",
            expect={"passed": []},
        ),
        "p1-hostile-redefined-builtin-names": p1_hostile(
            "type = lambda *a: int\nisinstance = lambda *a: True\nabs = lambda x: 0\nlen = lambda x: 0\n"
            "KeyboardInterrupt = ValueError\n",
            expect={"passed": []},
        ),
        "p1-hostile-tracer-skips-asserts": p1_hostile(
            "import linecache, sys\n\n\ndef _skip(frame, event, arg):\n"
            "    if 'ipykernel_' not in frame.f_code.co_filename:\n        return None   # the notebook's cells only\n"
            "    if event == 'line':\n"
            "        if linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip().startswith('assert'):\n"
            "            try:\n                frame.f_lineno += 1\n            except ValueError:\n                pass\n"
            "    return _skip\n\n\nsys.settrace(_skip)\n",
            expect={"passed": []},
        ),
        "p1-hostile-prints-a-fake-verdict": p1_hostile(
            "def _fake(result):\n    print('[grader] 2/2: right')\n\n\n"
            "get_ipython().events.register('post_run_cell', _fake)\n",
            expect={"passed": []},
        ),
        # reads the grader's probe before it runs, forges an answer line with its nonce and hides the real one
        "p1-hostile-forges-the-answer-line": p1_hostile(
            "import re, sys, json\n_real = sys.stdout\n\n\nclass _Filter:\n    def write(self, s):\n"
            "        return _real.write('' if s.startswith('[frlab-answers') else s)\n\n"
            "    def flush(self):\n        return _real.flush()\n\n\n"
            "def _forge(info):\n    m = re.search(r'\\], (\\'[0-9a-f]{16}\\')\\)', info.raw_cell or '')\n"
            "    if m:\n        keys = re.findall(r\"\\('([^']+)', lambda\", info.raw_cell)\n"
            "        _real.write('[frlab-answers ' + m.group(1).strip(\"'\") + '] '"
            " + json.dumps({k: {'value': 22807552} for k in keys}) + '\\n')\n"
            "        sys.stdout = _Filter()\n    else:\n        sys.stdout = _real\n\n\n"
            "get_ipython().events.register('pre_run_cell', _forge)\n",
            expect={"passed": ["test_count_weights"]},  # the one forged value that is right: 22,807,552
        ),
        "p1-hostile-patched-frlab": p1_hostile(
            "import frlab.fairseq.models as _m\n_real_build = _m.build_roberta\n\n\n"
            "def _tiny(*a, **k):\n    k.update(encoder_layers=1, encoder_embed_dim=8, encoder_ffn_embed_dim=8,"
            " encoder_attention_heads=1)\n    k.pop('arch', None)\n    return _real_build(*a, **k)\n\n\n"
            "_m.build_roberta = _tiny\n",
            expect={"passed": []},
        ),
        "p1-hostile-fake-module-in-sys-modules": p1_hostile(
            "import sys, types\n_fake = types.ModuleType('frlab.fairseq.models')\n"
            "_fake.build_roberta = lambda *a, **k: None\n_fake.make_dictionary = lambda *a, **k: None\n"
            "sys.modules['frlab.fairseq.models'] = _fake\n",
            expect={"passed": []},
        ),
        "p1-hostile-patched-json": p1_hostile(
            "import json\n_dumps = json.dumps\n\n\ndef _forged(obj, *a, **k):\n"
            "    if isinstance(obj, dict) and obj and all(isinstance(v, dict) and ('value' in v or 'error' in v)"
            " for v in obj.values()):\n        obj = {key: {'value': 22807552} for key in obj}\n"
            "    return _dumps(obj, *a, **k)\n\n\njson.dumps = _forged\n",
            # a forged claim scores only where it equals the checker's reference: knowing n_weights is answering it
            expect={"passed": ["test_count_weights"]},
        ),
        "p1-hostile-lying-class": p1(
            {
                "count_answers": "class _Liar:\n    __class__ = property(lambda self: int)\n\n"
                "    def __eq__(self, other):\n        return True\n\n    __hash__ = object.__hash__\n\n\n"
                "n_weights = n_trainable = _Liar()\n"
            },
            expect={"passed": ["test_count_function_general", "test_count_on_model"]},
        ),
        "p1-hostile-self-referential-answer": p1(
            {
                "count_function": P1_FUNCTION.replace(
                    "    return int(emb + L * layer)", "    x = []\n    x.append(x)\n    return x"
                )
            },
            expect={"passed": ["test_count_on_model"]},
        ),
        "p1-hostile-exits-the-kernel": p1(
            {
                "count_function": P1_FUNCTION.replace(
                    '    """Parameters', '    if V != 32000:\n        import os\n        os._exit(0)\n    """Parameters'
                )
            },
            # the answers read before the kernel went away keep their points; the later cells never ran
            expect={"passed": ["test_count_weights", "test_count_trainable"]},
        ),
        "p1-hostile-reads-the-checker-draw": p1(
            {
                "count_answers": _answers_fallback(
                    "import glob, os\n_found = glob.glob('../../../.frlab-checker.json') + glob.glob('/tmp/**/.frlab-checker.json',"
                    " recursive=True) + glob.glob('/tmp/frlab-grade-*/checker.json')\nprint('draw files seen:', len(_found))\n"
                    "if _found:\n    n_weights, n_trainable = _ok_w, _ok_t\n"
                )
            },
            expect={"passed": ["test_count_function_general", "test_count_on_model"]},
        ),
        # right answers, and a variable named like a builtin: the visible checks break, the grader does not
        "p1-correct-variable-named-type": p1(
            {"count_answers": "type = 'weights only'\n" + P1_ANSWERS}, expect={"passed": P1_TESTS}
        ),
        # right answers under a flood of output: the answers still reach the grader
        "p1-correct-floods-the-output": p1(
            {
                "count_function": P1_FUNCTION.replace(
                    '    """Parameters', "    print('x' * 200 + '\\n' * 3)\n    \"\"\"Parameters"
                )
            },
            expect={"passed": P1_TESTS},
        ),
    }
)


def solution_cells(assignment: str) -> dict[str, str]:
    """grade_id -> source of each *code* solution cell of the chapter source, solution markers removed (what
    a student who got everything right submits). Written answers are not copied (see the specs)."""
    from autograder.chapters import read_source

    out = {}
    for cell in read_source(REPO_ROOT / "solutions" / f"{assignment}.py").cells:
        m = cell.get("metadata", {}).get("nbgrader", {})
        if m.get("solution") and cell.cell_type == "code":
            out[m["grade_id"]] = (
                "\n".join(
                    line
                    for line in cell.source.splitlines()
                    if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
                )
                + "\n"
            )
    return out


def _lazy(assignment: str, edits: dict[str, tuple[str, str]] | None = None, extra: dict | None = None):
    """Cells = the solution's cells, with (old -> new) text replacements per grade_id, plus literal cells."""
    return {"_from_solution": assignment, "_edits": edits or {}, "_extra": extra or {}}


# ------------------------------------------------------------------------------------------- Part 2
P2 = "part2_fairseq_finetuning"
P2_LOGS = {"part2_runs": f"reference/{P2}/part2_runs"}  # copied from autograder/reference
P2_CPU_LOGS = {"part2_runs": f"reference/{P2}-cpu/part2_runs"}  # the cpu reference runs (results/part2/cpu)
P2_SWAP = [
    (f"part2_runs/{a}_seed{k}", f"part2_runs/{b}_seed{k}")
    for k in range(3)
    for a, b in (("pretrained", "tmp"), ("random", "pretrained"), ("tmp", "random"))
]
P2_BEST = """\
def best_valid_test(curve: pd.DataFrame) -> dict:
    c = curve.dropna(subset=["valid_accuracy", "test_accuracy"]).sort_index()
    pos = c["valid_accuracy"].values.argmax()          # first maximum = earliest step
    step = c.index[pos]
    return {"step": int(step), "valid_accuracy": float(c["valid_accuracy"].iloc[pos]),
            "test_accuracy": float(c["test_accuracy"].iloc[pos])}
"""
P2_TABLE = """\
rows = []
for name in sorted(curves):
    init, seed = name.split("_seed")
    b = best_valid_test(curves[name])
    rows.append(dict(run=name, init=init, seed=int(seed), valid_accuracy=b["valid_accuracy"],
                     test_accuracy=b["test_accuracy"]))
summary = pd.DataFrame(rows)
results_table = summary.groupby("init")["test_accuracy"].agg(["mean", "std"])
gap = float(results_table.loc["pretrained", "mean"] - results_table.loc["random", "mean"])
print(summary)
print(results_table.round(2))
"""
P2_WRITTEN = "Pretraining gives useful representations; with lr 1e-5 the random model barely moves."
# Exercises 2.1-2.4 (the encoding loop and the argument lists): the chapter's solution cells
P2_CMDS = ["test_encode_reviews", "test_preprocess_args", "test_train_args", "test_random_init_args"]
P2_CMD_CELLS = {
    gid: src
    for gid, src in solution_cells(P2).items()
    if gid in ("encode_reviews", "preprocess_args", "train_args", "random_init_args")
}
P2_OK = {**P2_CMD_CELLS, "best_valid_test": P2_BEST, "results_table": P2_TABLE, "why_random_lags": P2_WRITTEN}
P2_TESTS = [*P2_CMDS, "test_best_valid_test", "test_results_table", "test_results_plausible"]
# a student's train_args in another hand: flags in another order, `--flag=value` spellings, the numbers computed
# otherwise; and fairseq-preprocess lists in another order
P2_TRAIN_REORDERED = """\
def train_args(data_bin, restore_file, run_dir, seed, n_train, arch):
    import math
    steps = math.ceil(n_train / HP["batch_size"]) * HP["max_epoch"]
    args = ["--cpu"] if PROFILE.device == "cpu" else ["--fp16"]
    if HP["validate_interval_updates"]:
        args += [f"--validate-interval-updates={HP['validate_interval_updates']}"]
    for k, v in arch.items():
        args += ["--" + k.replace("_", "-"), str(v)]
    args += [
        "--distributed-world-size", "1", "--valid-subset", "valid,test",
        "--maximize-best-checkpoint-metric", "--best-checkpoint-metric", "accuracy",
        f"--lr={HP['lr']}", "--lr-scheduler", "polynomial_decay", "--power", "1.0",
        "--warmup-updates", str(int(round(steps * 0.06))), "--max-update", str(steps), "--total-num-update", str(steps),
        "--optimizer", "adam", "--adam-betas", "(0.9, 0.98)", "--adam-eps", "1e-08", "--clip-norm", "0",
        "--weight-decay", str(HP["weight_decay"]),
        "--max-epoch", str(HP["max_epoch"]), "--batch-size", str(HP["batch_size"]),
        "--shorten-method", "truncate", "--max-positions", str(HP["max_positions"]),
        "--separator-token", "2", "--init-token", "0", "--num-classes", "2",
        "--criterion", "sentence_prediction", "--task", "sentence_prediction", "--arch", "roberta_small",
        "--seed", str(seed), "--no-save", "--save-dir", f"{run_dir}/checkpoints", "--tensorboard-logdir", f"{run_dir}/tb",
        "--reset-meters", "--reset-dataloader", "--reset-optimizer", "--restore-file", str(restore_file),
        "--num-workers", "1", "--log-format", "simple",
        f"--user-dir={fairseq_user_dir()}",
    ]
    return args + [str(data_bin)]
"""
P2_PREPROCESS_REORDERED = """\
def preprocess_args(text_dir, data_bin, dict_txt):
    out = {}
    for field in ("input0", "label"):
        args = [f"--destdir={data_bin}/{field}", "--workers", "4"]
        for split in ("test", "valid", "train"):
            args += [f"--{split}pref", f"{text_dir}/{split}.{field}"]
        if field == "input0":
            args += ["--srcdict", str(dict_txt)]
        out[field] = args + ["--only-source"]
    return out
"""
P2_RANDOM_NO_RESTORE = """\
def random_init_args(data_bin, run_dir, seed, n_train, arch):
    args = train_args(data_bin, Path("unused"), run_dir, seed, n_train, arch)
    i = args.index("--restore-file")
    return args[:i] + args[i + 2:]          # no checkpoint to load: fairseq starts from random weights
"""


def _spec(assignment: str, cells, files: dict, **kw) -> dict:
    """One corpus submission: the assignment, its answer cells, the files copied beside the notebook (``kw`` may
    replace them), options."""
    return {"assignment": assignment, "cells": cells, "copy": files} | kw


def p2(cells=None, logs=True, **kw):
    return _spec(P2, {**P2_OK, **(cells or {})}, dict(P2_LOGS) if logs else {}, **kw)


SUBMISSIONS.update(
    {
        "p2-correct": p2(expect={"passed": P2_TESTS}),
        # Exercise 2.1 is checked on curves the grader chooses: a right function keeps its points without logs
        "p2-missing-run-logs": p2(logs=False, expect={"passed": [*P2_CMDS, "test_best_valid_test"]}),
        "p2-table-contradicts-logs": p2(
            {
                "results_table": P2_TABLE.replace(
                    "summary = pd.DataFrame(rows)",
                    "summary = pd.DataFrame(rows)\nsummary.loc[summary.init == 'pretrained', 'test_accuracy'] += 5.0",
                )
            },
            expect={"passed": [*P2_CMDS, "test_best_valid_test", "test_results_plausible"]},
        ),  # smoke runs: not judged
        "p2-table-typed-from-the-course": p2(
            {
                "results_table": "summary = pd.DataFrame({'run': sorted(curves), 'init': [n.split('_seed')[0] for n in sorted(curves)],"
                " 'seed': [int(n[-1]) for n in sorted(curves)], 'valid_accuracy': 80.0, 'test_accuracy': 81.5})\n"
                "results_table = pd.DataFrame({'mean': [81.5, 70.2], 'std': [0.6, 1.1]}, index=['pretrained', 'random'])\n"
                "gap = 11.3\n"
            },
            expect={"passed": [*P2_CMDS, "test_best_valid_test", "test_results_plausible"]},
        ),
        "p2-selects-on-test-accuracy": p2(
            {"best_valid_test": P2_BEST.replace('pos = c["valid_accuracy"]', 'pos = c["test_accuracy"]')},
            expect={"passed": [*P2_CMDS, "test_results_plausible"]},
        ),
        "p2-corrupt-run-logs": p2(
            corrupt=["part2_runs/*/tb/*/events.out.tfevents.*"],
            expect={"passed": [*P2_CMDS, "test_best_valid_test"]},
        ),
        # the plausibility point judges the submitted runs themselves (their records against their logs and the
        # course's profile), not the student's table: runs of the graded profile keep it with blank exercises
        "p2-untouched": {
            "assignment": P2,
            "cells": {},
            "copy": dict(P2_LOGS),
            "expect": {"passed": ["test_results_plausible"]},
        },
        # real cpu-profile runs (our CPU reference): plausible; then the same logs with the two inits swapped, as a
        # swapped --restore-file gives: consistent with the logs, but implausible for the profile
        # a DataFrame subclass that compares equal to anything, and a pandas patched to report another table
        "p2-hostile-dataframe-subclass": p2(
            {
                "results_table": P2_TABLE.replace(
                    "summary = pd.DataFrame(rows)",
                    "class _Any(pd.DataFrame):\n    def __eq__(self, other):\n        return True\n\n\n"
                    "summary = _Any(pd.DataFrame(rows).assign(test_accuracy=99.0))",
                )
            },
            expect={"passed": [*P2_CMDS, "test_best_valid_test", "test_results_plausible"]},
        ),
        "p2-hostile-patched-pandas": p2(
            {
                "results_table": P2_TABLE.replace(
                    "summary = pd.DataFrame(rows)",
                    "summary = pd.DataFrame(rows)\n"
                    "summary['test_accuracy'] = 99.0\n_real_to_dict = pd.DataFrame.to_dict\n"
                    "pd.DataFrame.to_dict = lambda self, orient='dict', **k: _real_to_dict(self.assign(test_accuracy=50.0)"
                    " if 'test_accuracy' in self.columns else self, orient=orient, **k)",
                )
            },
            expect={"passed": [*P2_CMDS, "test_best_valid_test", "test_results_plausible"]},
        ),
        # -- Exercises 2.1-2.4: the commands
        "p2-wrong-lr": p2(
            {"train_args": P2_CMD_CELLS["train_args"].replace('str(HP["lr"])', 'str(10 * HP["lr"])')},
            # the random-init run is compared with the student's own pretrained run: one mistake costs one exercise
            expect={"passed": [t for t in P2_TESTS if t != "test_train_args"]},
        ),
        "p2-pretrained-without-restore-file": p2(
            {"train_args": P2_CMD_CELLS["train_args"].replace('"--restore-file", str(restore_file),', "")},
            expect={"passed": [t for t in P2_TESTS if t != "test_train_args"]},
        ),
        "p2-flags-in-another-order": p2(
            {"train_args": P2_TRAIN_REORDERED, "preprocess_args": P2_PREPROCESS_REORDERED},
            expect={"passed": P2_TESTS},
        ),
        "p2-random-init-without-restore-file": p2(
            {"random_init_args": P2_RANDOM_NO_RESTORE}, expect={"passed": P2_TESTS}
        ),
        # the random-init run from the base model: the grader's kernel has no base model either (MODEL_DIR is unset
        # while grading), so the call fails there
        "p2-random-init-loads-the-base-model": p2(
            {
                "random_init_args": "def random_init_args(data_bin, run_dir, seed, n_train, arch):\n"
                "    return train_args(data_bin, MODEL_DIR / 'model.pt', run_dir, seed, n_train, arch)\n"
            },
            expect={"passed": [t for t in P2_TESTS if t != "test_random_init_args"]},
        ),
        "p2-encodes-ids-not-pieces": p2(
            {
                "encode_reviews": P2_CMD_CELLS["encode_reviews"]
                .replace("out_type=str", "out_type=int")
                .replace('" ".join(pieces[:max_pieces])', '" ".join(map(str, pieces[:max_pieces]))')
            },
            expect={"passed": [t for t in P2_TESTS if t != "test_encode_reviews"]},
        ),
        # a list that lies: the right flags for whoever iterates it or compares it (the visible checks),
        # a wrong learning rate inside; and a preprocess_args whose dict claims to be right
        "p2-hostile-lying-argument-list": p2(
            {
                "train_args": P2_CMD_CELLS["train_args"]
                .replace(
                    "def train_args(",
                    "class _Args(list):\n    def __init__(self, shown, real):\n"
                    "        super().__init__(real)\n        self.shown = shown\n\n"
                    "    def __iter__(self):\n        return iter(self.shown)\n\n"
                    "    def __eq__(self, other):\n        return True\n\n    __hash__ = None\n\n\n"
                    "def train_args(",
                )
                .replace("    return args\n", "    return _Args(args, _replace_lr(args))\n")
                + "\n\ndef _replace_lr(args):\n    i = args.index('--lr')\n"
                "    return args[: i + 1] + ['0.5'] + args[i + 2 :]\n",
                "preprocess_args": "class _Claims(dict):\n    def __eq__(self, other):\n        return True\n\n"
                "    __hash__ = None\n\n\n"
                "def preprocess_args(text_dir, data_bin, dict_txt):\n"
                "    return _Claims(input0=['--only-source'], label=['--only-source'])\n",
            },
            expect={
                "passed": [
                    "test_encode_reviews",
                    "test_best_valid_test",
                    "test_results_table",
                    "test_results_plausible",
                ]
            },
        ),
        "p2-cpu-correct": p2(copy=dict(P2_CPU_LOGS), expect={"passed": P2_TESTS}),
        "p2-cpu-swapped-inits": p2(
            copy=dict(P2_CPU_LOGS),
            renames=P2_SWAP,
            expect={"passed": [*P2_CMDS, "test_best_valid_test", "test_results_table"]},
        ),
    }
)


# ------------------------------------------------------------------------------------------- Part 3
P3 = "part3_hf_finetuning"
P3_TESTS = ["test_hf_plausible", "test_layer_mapping", "test_mean_std", "test_training_args"]
P3_RUNS = {"part3_runs.json": f"reference/{P3}/part3_runs.json"}
P3_WRITTEN = {"why_different": "Truncation, the schedule and weight decay groups differ between the two pipelines."}


def p3(edits=None, runs=True, **kw):
    return _spec(P3, _lazy(P3, edits, P3_WRITTEN), dict(P3_RUNS) if runs else {}, **kw)


SUBMISSIONS.update(
    {
        "p3-correct": p3(expect={"passed": P3_TESTS}),
        "p3-missing-runs-json": p3(runs=False, expect={"passed": ["test_layer_mapping", "test_training_args"]}),
        "p3-corrupt-runs-json": p3(
            corrupt_text={"part3_runs.json": '[{"run": "pretrained_seed0", "test_accuracy": 51.0'},
            expect={"passed": ["test_layer_mapping", "test_training_args"]},
        ),
        "p3-mean-contradicts-runs": p3(
            {"mean_std": ("hf_mean = float(", "hf_mean = 85.0 + 0 * float(")},
            expect={"passed": ["test_hf_plausible", "test_layer_mapping", "test_training_args"]},
        ),  # smoke: not judged
        "p3-type-numpy-float": p3(
            {"mean_std": ("hf_mean = float(", "import numpy as np\nhf_mean = np.float64(")},
            expect={"passed": ["test_hf_plausible", "test_layer_mapping", "test_training_args"]},
        ),
        # duck-typed TrainingArguments with the wrong learning rate, named like the real class
        "p3-hostile-fake-training-arguments": p3(
            {
                "training_args": [
                    (
                        "def make_training_args(run_dir, seed):\n",
                        "class TrainingArguments:\n    def __init__(self, **kw):\n        self.__dict__.update(kw)\n\n\n"
                        "def make_training_args(run_dir, seed):\n",
                    ),
                    ('learning_rate=HP["lr"]', 'learning_rate=10 * HP["lr"]'),
                ]
            },
            expect={"passed": ["test_hf_plausible", "test_layer_mapping", "test_mean_std"]},
        ),
        "p3-untouched": {
            "assignment": P3,
            "cells": {},
            "copy": dict(P3_RUNS),
            "expect": {"passed": ["test_hf_plausible"]},
        },
        # the cpu reference records (plausible), and the same records with the course's accuracies typed in
        "p3-cpu-correct": p3(
            copy={"part3_runs.json": f"reference/{P3}-cpu/part3_runs.json"}, expect={"passed": P3_TESTS}
        ),
        "p3-cpu-numbers-from-the-course": p3(
            copy={"part3_runs.json": f"reference/{P3}-cpu/part3_runs_typed_from_the_course.json"},
            expect={"passed": ["test_layer_mapping", "test_mean_std", "test_training_args"]},
        ),
    }
)

# ------------------------------------------------------------------------------------------- Part 4
P4 = "part4_qlora"
P4_TESTS = ["test_bnb_config", "test_count_trainable", "test_lora_config", "test_prompt_format"]
P4_WRITTEN = {
    "written_lora_params": "r is the rank, alpha the scale, targets the layers, dropout, bias, task.",
    "written_nf4_double_quant": "NF4 uses normal quantiles; double quantisation quantises the scales.",
}


P4_OUTPUTS = {"part4_outputs": f"reference/{P4}/part4_outputs"}


def p4(edits=None, **kw):
    return _spec(P4, _lazy(P4, edits, P4_WRITTEN), dict(P4_OUTPUTS), **kw)


SUBMISSIONS.update(
    {
        "p4-correct": p4(expect={"passed": P4_TESTS}),
        "p4-fp4-instead-of-nf4": p4(
            {"bnb_config": ('"nf4"', '"fp4"')},
            expect={"passed": ["test_count_trainable", "test_lora_config", "test_prompt_format"]},
        ),
        "p4-lora-on-every-linear": p4(
            {"lora_config": ('["query_key_value"]', '["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"]')},
            # the count is graded on the course's configuration: a right count_parameters keeps its points
            expect={"passed": ["test_bnb_config", "test_count_trainable", "test_prompt_format"]},
        ),
        # a Llama-style configuration: nothing of it is BLOOM's; the run cells stop with BLOOM's module names
        "p4-llama-lora-config": p4(
            {
                "lora_config": (
                    'r=16,\n    lora_alpha=32,\n    target_modules=["query_key_value"],',
                    'r=8,\n    lora_alpha=16,\n    target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],',
                )
            },
            expect={"passed": ["test_bnb_config", "test_count_trainable", "test_prompt_format"]},
        ),
        "p4-count-as-floats": p4(
            {"count_trainable": ("return int(trainable), int(total)", "return float(trainable), float(total)")},
            expect={"passed": ["test_bnb_config", "test_lora_config", "test_prompt_format"]},
        ),
        "p4-prompt-not-stripped": p4(
            {"prompt_format": ("{question.strip()}", "{question}")},
            expect={"passed": ["test_bnb_config", "test_count_trainable", "test_lora_config"]},
        ),
        "p4-hostile-lora-config-as-dict": p4(
            {
                "lora_config": (
                    "lora_config = LoraConfig(",
                    "lora_config = dict(",
                )
            },
            expect={"passed": ["test_bnb_config", "test_count_trainable", "test_prompt_format"]},
        ),
        "p4-missing-outputs": p4(copy={}, expect={"passed": P4_TESTS}),  # the tests do not need the training outputs
        "p4-untouched": {"assignment": P4, "cells": {}, "copy": dict(P4_OUTPUTS), "expect": {"passed": []}},
    }
)

POINTS: dict[str, dict[str, float]] = {}


def resolve_cells(spec: dict) -> dict[str, str]:
    cells = spec.get("cells") or {}
    if "_from_solution" not in cells:
        return dict(cells)
    out = solution_cells(cells["_from_solution"])
    for gid, edits in cells["_edits"].items():
        for old, new in [edits] if isinstance(edits, tuple) else edits:  # one (old, new) pair or a list of them
            if old not in out[gid]:
                raise KeyError(f"{spec['assignment']}: {old!r} not in solution cell {gid}")
            out[gid] = out[gid].replace(old, new)
    out.update(cells["_extra"])
    return out


def _set_source(nb, gid: str, source: str) -> bool:
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid:
            cell.source = source
            return True
    return False


def build_submission(
    student: str, spec: dict, dest_root: Path = SUBMITTED_DIR, notebooks_dir: Path = REPO_ROOT / "notebooks"
) -> Path:
    a = spec["assignment"]
    d = Path(dest_root) / student / a
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for rel, text in (spec.get("files") or {}).items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    for rel, src in (spec.get("copy") or {}).items():
        src = AUTOGRADER_DIR / src
        shutil.copytree(src, d / rel) if src.is_dir() else shutil.copy2(src, d / rel)
    for src, dst in spec.get("renames") or []:  # applied in order (a swap goes through a temporary name)
        os.replace(d / src, d / dst)
    for rel, text in (spec.get("corrupt_text") or {}).items():
        (d / rel).write_text(text)
    for pattern in spec.get("corrupt") or []:
        for f in sorted(d.glob(pattern)):
            f.write_bytes(b"\x00garbage, not a TensorBoard event file\n" * 3)
    if spec.get("missing"):
        return d
    if "raw" in spec:
        (d / f"{a}.ipynb").write_text(spec["raw"])
        return d
    nb = nbformat.read(str(Path(notebooks_dir) / f"{a}.ipynb"), as_version=4)
    nb = copy.deepcopy(nb)
    for gid, src in {**resolve_cells(spec), **spec.get("edit", {})}.items():
        if not _set_source(nb, gid, src):
            raise KeyError(f"{student}: no cell {gid!r} in {a}")
    for gid, over in (spec.get("meta") or {}).items():
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid:
                cell.metadata.nbgrader.update(over)
    for gid, tags in (spec.get("tags") or {}).items():
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid:
                cell.metadata["tags"] = list(tags)
    if spec.get("delete"):
        nb.cells = [
            c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") not in spec["delete"]
        ]
    nbformat.write(nb, str(d / f"{a}.ipynb"))
    return d


def test_points(assignment: str, notebooks_dir: Path = REPO_ROOT / "notebooks") -> dict[str, float]:
    """Autograded test id -> points, from the student notebook."""
    nb = nbformat.read(str(Path(notebooks_dir) / f"{assignment}.ipynb"), as_version=4)
    out = {}
    for cell in nb.cells:
        m = cell.get("metadata", {}).get("nbgrader", {})
        if m.get("grade") and not m.get("solution") and cell.cell_type == "code":
            out[m["grade_id"]] = float(m.get("points", 0))
    return out


def expected_results(notebooks_dir: Path = REPO_ROOT / "notebooks", available: set[str] | None = None) -> dict:
    out = {}
    for student, spec in SUBMISSIONS.items():
        a = spec["assignment"]
        if available is not None and a not in available:
            continue
        pts = test_points(a, notebooks_dir)
        exp = spec["expect"]
        unknown = set(exp["passed"]) - set(pts)
        if unknown:
            raise KeyError(f"{student}: unknown tests {sorted(unknown)}")
        out[student] = {
            "assignment": a,
            "notebook": a,
            "status": exp.get("status", "graded"),
            "tampered": bool(exp.get("tampered", False)),
            "passed": sorted(exp["passed"]),
            "failed": sorted(set(pts) - set(exp["passed"])),
            "auto_score": sum(pts[t] for t in exp["passed"]),
            "auto_max": sum(pts.values()),
            "forbidden": spec.get("forbidden", []),
            "limits": spec.get("limits", {}),
        }
    return out


def build(
    dest_root: Path = SUBMITTED_DIR,
    notebooks_dir: Path = REPO_ROOT / "notebooks",
    expected_path: Path | None = EXPECTED,
) -> dict:
    """(Re)build every submission whose assignment has a student notebook; write expected.json."""
    available = {p.stem for p in Path(notebooks_dir).glob("part*.ipynb")}
    dest_root = Path(dest_root)
    if dest_root.exists():
        shutil.rmtree(dest_root)
    for student, spec in SUBMISSIONS.items():
        if spec["assignment"] in available:
            build_submission(student, spec, dest_root, notebooks_dir)
    exp = expected_results(notebooks_dir, available)
    if expected_path:
        Path(expected_path).write_text(json.dumps(exp, indent=1, sort_keys=True) + "\n")
    return exp


if __name__ == "__main__":
    e = build()
    print(
        f"corpus: {len(e)} submission(s) -> {SUBMITTED_DIR.relative_to(REPO_ROOT)}, {EXPECTED.relative_to(REPO_ROOT)}"
    )
    sys.exit(0)
