"""Part 4 Q/A data: the bundled FAQ, both JSON layouts, row validation with indices."""

import json

import pytest

from frlab.lora import qa_data
from frlab.lora.qa_data import FaqFormatError, read_faq_file, validate_rows


def test_bundled_faq_is_valid_and_original():
    rows = read_faq_file(qa_data.BUNDLED_FAQ)
    assert 75 <= len(rows) <= 90
    assert len({r["question"] for r in rows}) == len(rows), "duplicate questions"
    assert all(r["question"].rstrip().endswith(("?", ".")) for r in rows)
    assert all(len(r["answer"]) > 40 for r in rows)
    assert (qa_data.BUNDLED_FAQ.parent / "FAQ_LICENSE.md").read_text().count("CC0") >= 1


def test_both_layouts_are_read(tmp_path):
    recs = [{"question": "Q1 ?", "answer": "A1."}, {"Question": " Q2 ? ", "Answer": "A2. "}]
    (tmp_path / "hub.json").write_text(json.dumps({"questions": recs}))
    (tmp_path / "list.json").write_text(json.dumps(recs))
    want = [{"question": "Q1 ?", "answer": "A1."}, {"question": "Q2 ?", "answer": "A2."}]
    assert read_faq_file(tmp_path / "hub.json") == want
    assert read_faq_file(tmp_path / "list.json") == want


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"question": "", "answer": "ok"}, "row 1: 'question' is empty"),
        ({"question": "ok ?", "answer": "   "}, "row 1: 'answer' is empty"),
        ({"question": "ok ?"}, "row 1: missing 'answer'"),
        ({"question": 3, "answer": "ok"}, "row 1: 'question' must be a string, got int"),
        ({"question": "ok ?", "answer": None}, "row 1: 'answer' must be a string, got NoneType"),
        ("just text", "row 1: expected an object"),
    ],
)
def test_malformed_rows_are_rejected_with_their_index(bad, message):
    with pytest.raises(FaqFormatError) as exc:
        validate_rows([{"question": "Q ?", "answer": "A."}, bad, {"question": "Q3 ?", "answer": "A3."}])
    assert message in str(exc.value)
    assert "1 malformed row(s) out of 3" in str(exc.value)


def test_every_bad_row_is_listed(tmp_path):
    p = tmp_path / "f.json"
    p.write_text(
        json.dumps(
            {"questions": [{"question": "a ?", "answer": ""}, {"question": "b ?", "answer": "B"}, {"answer": "C"}]}
        )
    )
    with pytest.raises(
        FaqFormatError, match=r"(?s)f\.json: 2 malformed.*row 0: 'answer' is empty.*row 2: missing 'question'"
    ):
        read_faq_file(p)


def test_bad_layouts(tmp_path):
    p = tmp_path / "f.json"
    p.write_text('{"a": 1}')
    with pytest.raises(FaqFormatError, match="'questions' list"):
        read_faq_file(p)
    p.write_text("{not json")
    with pytest.raises(FaqFormatError, match="not valid JSON"):
        read_faq_file(p)
    p.write_text("[]")
    with pytest.raises(FaqFormatError, match="no question/answer rows"):
        read_faq_file(p)


def test_load_faq_falls_back_to_the_bundled_set(tmp_path, monkeypatch):
    monkeypatch.setenv("FRLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FRLAB_MIRROR", str(tmp_path / "empty-mirror"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    faq = qa_data.load_faq(verbose=False)
    assert faq.source == "bundled" and len(faq) == len(read_faq_file(qa_data.BUNDLED_FAQ))
    from frlab.assets import AssetError

    with pytest.raises(AssetError, match="qa-ecommerce-fr"):
        qa_data.load_faq("hub", verbose=False)


def test_load_faq_reads_the_hub_file_from_the_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "qa").mkdir(parents=True)
    (mirror / "qa" / "ecommerce-faq-fr.json").write_text(
        json.dumps({"questions": [{"question": "Livrez-vous en Belgique ?", "answer": "Oui."}]}), encoding="utf-8"
    )
    monkeypatch.setenv("FRLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FRLAB_MIRROR", str(mirror))
    faq = qa_data.load_faq(verbose=False)
    assert faq.source == "hub" and faq.rows == [{"question": "Livrez-vous en Belgique ?", "answer": "Oui."}]
    # a malformed Hub file is an error, not a silent fallback
    (tmp_path / "cache").exists() and __import__("shutil").rmtree(tmp_path / "cache")
    (mirror / "qa" / "ecommerce-faq-fr.json").write_text(json.dumps({"questions": [{"question": "x ?", "answer": ""}]}))
    with pytest.raises(FaqFormatError, match="row 0: 'answer' is empty"):
        qa_data.load_faq(verbose=False)


def test_answer_from_generation():
    assert qa_data.answer_from_generation("<human>: q ?\n<assistant>: Oui. <human>: autre") == "Oui."
