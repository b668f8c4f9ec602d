"""Part 2's hands-on commands (Exercises 2.1-2.4), without executing the chapter: the chapter runs the student's
functions, the reference answers carry the course's hyper-parameters, and fairseq's parsers read them in any
order."""

import ast

import pytest

from autograder import answer_keys
from autograder.chapters import read_source
from frlab.fairseq import finetune as ff
from frlab.paths import REPO_ROOT
from labtools.chapter_code import part2_preprocess_commands, part2_train_command

SOURCE = REPO_ROOT / "solutions" / "part2_fairseq_finetuning.py"
ARCH = {"encoder_layers": 4, "encoder_embed_dim": 128, "encoder_ffn_embed_dim": 512, "encoder_attention_heads": 4}


def _calls(source: str) -> set[str]:
    return {n.func.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def test_the_chapter_runs_the_students_functions():
    nb = read_source(SOURCE)
    book = [c.source for c in nb.cells if "book" in (c.metadata.get("tags") or [])]
    called = set().union(*(_calls(s) for s in book))
    # the encoding, the binarisation and both kinds of runs go through the exercises' names
    assert {"encode_reviews", "preprocess_args", "train_args", "random_init_args"} <= called
    # and nothing in the book cells builds a command of its own
    assert not any("--lr" in s or "--srcdict" in s for s in book)


def test_stand_ins_bind_every_exercise_of_the_chapter():
    nb = read_source(SOURCE, standins=True)
    standins = "\n".join(c.source for c in nb.cells if "book-standin" in (c.metadata.get("tags") or []))
    for name in ("encode_reviews", "preprocess_args", "train_args", "random_init_args"):
        assert f"{name} = answer_keys." in standins, name


def test_the_reference_command_has_the_courses_hyper_parameters(tmp_path):
    hp = ff.hyperparameters("cpu")
    cmd = part2_train_command("bin", tmp_path / "run", "base/model.pt", 3, hp, ARCH, 1600, profile="cpu")
    assert cmd[0].endswith("fairseq-train")
    f = ff.parse_train_args(cmd[1:])
    assert (f["batch_size"], f["max_epoch"], f["lr"], f["optimizer"]) == (8, 5, [1e-05], "adam")
    assert (f["max_update"], float(f["total_num_update"]), f["warmup_updates"]) == (1000, 1000.0, 60)
    assert (f["lr_scheduler"], f["power"], f["weight_decay"], f["clip_norm"]) == ("polynomial_decay", 1.0, 0.01, 0.0)
    assert (f["max_positions"], f["shorten_method"], f["init_token"], f["separator_token"]) == (256, "truncate", 0, 2)
    assert (f["num_classes"], f["valid_subset"], f["distributed_world_size"]) == (2, "valid,test", 1)
    assert f["best_checkpoint_metric"] == "accuracy" and f["maximize_best_checkpoint_metric"] and f["cpu"]
    assert f["restore_file"] == "base/model.pt" and f["encoder_embed_dim"] == 128
    random = ff.parse_train_args(
        part2_train_command("bin", tmp_path / "run", ff.RANDOM_INIT_RESTORE, 3, hp, ARCH, 1600, profile="cpu")[1:]
    )
    assert random["restore_file"] == ff.RANDOM_INIT_RESTORE
    assert {k: v for k, v in random.items() if k != "restore_file"} == {
        k: v for k, v in f.items() if k != "restore_file"
    }


def test_the_reference_preprocess_calls():
    reviews, labels = (ff.parse_preprocess_args(c[1:]) for c in part2_preprocess_commands("m/dict.txt", "t", "b"))
    assert reviews["only_source"] and labels["only_source"]
    assert reviews["srcdict"] == "m/dict.txt" and labels["srcdict"] is None
    assert (reviews["trainpref"], reviews["validpref"], reviews["testpref"]) == (
        "t/train.input0",
        "t/valid.input0",
        "t/test.input0",
    )
    assert (labels["destdir"], reviews["destdir"]) == ("b/label", "b/input0")


def test_encode_reviews_is_the_pretraining_encoding(tmp_path):
    # the reference answer writes what frlab's pretraining encoder writes for the same model and text
    from frlab.fairseq.pretrain import encode_file

    texts = ["Un livre magnifique, je le recommande.", "Quel ennui !", "", "Trop long, trop lent."]
    proto = ff.toy_sentencepiece_proto(texts * 4, 60)
    (tmp_path / "sp.model").write_bytes(proto)
    (tmp_path / "in.txt").write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    encode_file(tmp_path / "sp.model", tmp_path / "in.txt", tmp_path / "out.txt", max_pieces=3)
    sp = ff.toy_sentencepiece(texts * 4, 60)
    assert answer_keys.encode_reviews(sp, texts, 3) == (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("bad", [["--only-source", "--foo"], ["--only-source", "--user-dir", "/tmp"], ("x", 1)])
def test_argument_lists_fairseq_refuses(bad):
    with pytest.raises(ff.ArgumentError):
        ff.parse_preprocess_args(bad)


def test_read_split_slices_like_the_smoke_profile(tmp_path):
    (tmp_path / "r").write_text("".join(f"review {i}\n" for i in range(10)), encoding="utf-8")
    (tmp_path / "l").write_text("0\n" * 5 + "1\n" * 5, encoding="utf-8")
    reviews, labels = ff.read_split(tmp_path / "r", tmp_path / "l", limit=4)
    assert len(reviews) == len(labels) == 4 and all(r.startswith("review ") for r in reviews)
    assert [int(r.split()[1]) for r in reviews] == sorted(int(r.split()[1]) for r in reviews)  # file order
    assert [r for r, _ in zip(*ff.read_split(tmp_path / "r", tmp_path / "l"))][-1] == "review 9"
