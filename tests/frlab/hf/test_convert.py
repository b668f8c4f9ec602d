"""fairseq -> Hugging Face conversion: every tensor mapped, same token ids, same outputs.

The fixtures are small fairseq models with random weights (``roberta_small``: 4 layers, 512) and a
sentencepiece model trained in seconds on a slice of fr-corpus, laid out like the course zip.  The
dictionary is written like Part 2's pretraining recipe (every sentencepiece piece, in spm order:
exact ids) and, for the second fixture, like a bare ``fairseq-preprocess`` (only the pieces seen in
the corpus, by count: BPE pieces that are always merged further are missing -> alias ids).
"""

import itertools
import json
import logging
import subprocess
import sys

import pytest
import torch

from frlab.hf import convert as f2h

N_REVIEWS = 120
TOL = 1e-4

logging.getLogger("fairseq").setLevel(logging.WARNING)


def _corpus(shared_data, n=20000, step=15):
    with open(shared_data / "fr-corpus" / "gutenberg_fr.txt", encoding="utf-8") as f:
        return [line.strip() for line in itertools.islice(f, 0, n * step, step)]


@pytest.fixture(scope="module")
def reviews(shared_data):
    texts = (shared_data / "cls-books" / "test.review").read_text(encoding="utf-8").splitlines()
    return texts[:N_REVIEWS]


def _random_checkpoint(shared_data, folder, **kw):
    """A random fairseq checkpoint with a 2000-piece sentencepiece model trained on the test corpus."""
    return f2h.make_random_checkpoint(folder, _corpus(shared_data), vocab_size=2000, **kw)


@pytest.fixture(scope="module")
def exact_model(shared_data, tmp_path_factory):
    """Unigram sentencepiece + full dict (Part 2's layout): ids must be identical."""
    import sentencepiece as spm

    d = _random_checkpoint(shared_data, tmp_path_factory.mktemp("fs_unigram"), model_type="unigram", full_dict=True)
    # dict.txt is by count (then the unseen pieces), not in spm order: the ids must really be remapped
    sp = spm.SentencePieceProcessor(model_file=str(d / "sentencepiece.bpe.model"))
    dict_pieces = [line.split()[0] for line in (d / "dict.txt").read_text(encoding="utf-8").splitlines()]
    assert sorted(dict_pieces) == sorted(sp.id_to_piece(i) for i in range(3, sp.get_piece_size()))
    assert dict_pieces != [sp.id_to_piece(i) for i in range(3, sp.get_piece_size())]
    return d


@pytest.fixture(scope="module")
def alias_model(shared_data, tmp_path_factory):
    """BPE sentencepiece + dict of the pieces seen in the corpus only: alias ids for the rest."""
    return _random_checkpoint(shared_data, tmp_path_factory.mktemp("fs_bpe"), model_type="bpe", full_dict=False, seed=1)


def _hub(d):
    from frlab.fairseq.models import load_roberta_hub

    return load_roberta_hub(d).eval()


@pytest.fixture(scope="module")
def exact_pair(exact_model):
    model, tok, report = f2h.build_hf_model(exact_model)
    return _hub(exact_model), model, tok, report


def test_every_tensor_mapped_report(exact_pair):
    hub, model, tok, report = exact_pair
    n_layers = model.config.num_hidden_layers
    assert n_layers == 4 and model.config.hidden_size == 512
    # 4 embedding tensors + 16 per layer + 7 lm_head entries (incl. tied decoder weight/bias)
    assert len(report.mapped) == 4 + 16 * n_layers + 7
    assert report.synthesised == ["roberta.embeddings.token_type_embeddings.weight"]
    assert not report.new_hf and not report.dropped_fairseq and not report.aliases
    assert set(report.ignored_fairseq) <= {"encoder.sentence_encoder.version", "encoder.lm_head.weight"}
    assert torch.count_nonzero(model.roberta.embeddings.token_type_embeddings.weight) == 0
    cfg = model.config
    assert cfg.max_position_embeddings == 258 and cfg.layer_norm_eps == 1e-5
    assert (cfg.pad_token_id, cfg.bos_token_id, cfg.eos_token_id) == (1, 0, 2)
    assert cfg.vocab_size == len(hub.task.source_dictionary)  # includes <mask>
    assert hub.task.source_dictionary[cfg.vocab_size - 1] == "<mask>"
    assert tok.mask_token_id == cfg.vocab_size - 1


def test_token_ids_identical_to_fairseq(exact_pair, reviews):
    hub, model, tok, _ = exact_pair
    same = sum(tok(r)["input_ids"] == hub.encode(r).tolist() for r in reviews)
    assert same == len(reviews) >= 100


def test_alias_ids_map_to_fairseq_unk(alias_model, reviews):
    hub = _hub(alias_model)
    model, tok, report = f2h.build_hf_model(alias_model)
    n = model.config.frlab_fairseq_vocab_size
    assert report.aliases, "the bare dictionary should miss some intermediate BPE pieces"
    assert model.config.vocab_size == n + len(report.aliases)
    same = sum(f2h.as_fairseq_ids(tok(r)["input_ids"], n) == hub.encode(r).tolist() for r in reviews)
    assert same == len(reviews)
    emb = model.roberta.embeddings.word_embeddings.weight
    assert torch.equal(emb[n:], emb[3:4].expand(len(report.aliases), -1)), "alias rows must be <unk>'s"


def _batches(ids_list, size=10, pad=1):
    for i in range(0, len(ids_list), size):
        chunk = ids_list[i : i + size]
        width = max(len(x) for x in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        for j, x in enumerate(chunk):
            ids[j, : len(x)] = torch.tensor(x)
        yield ids, ids.ne(pad)


def test_logits_and_encoder_outputs_match(exact_pair, reviews):
    """Padded batches, 256-token truncation: MLM logits and encoder outputs within 1e-4."""
    hub, model, tok, _ = exact_pair
    ids_list = [tok(r, truncation=True, max_length=256)["input_ids"] for r in reviews[:100]]
    assert max(len(x) for x in ids_list) == 256, "some reviews should hit the 256-token limit"
    worst_logit = worst_hidden = 0.0
    with torch.no_grad():
        for ids, mask in _batches(ids_list):
            fs_logits, _ = hub.model(ids)
            fs_hidden, _ = hub.model(ids, features_only=True)
            out = model(input_ids=ids, attention_mask=mask.long(), output_hidden_states=True)
            m = mask[..., None]
            worst_logit = max(worst_logit, ((out.logits - fs_logits).abs() * m).max().item())
            worst_hidden = max(worst_hidden, ((out.hidden_states[-1] - fs_hidden).abs() * m).max().item())
    print(f"max |logit diff| {worst_logit:.2e}, max |encoder diff| {worst_hidden:.2e}")
    assert worst_logit < TOL and worst_hidden < TOL


@pytest.mark.parametrize(
    "victim",
    [
        "encoder.sentence_encoder.layers.2.fc2.bias",
        "encoder.lm_head.layer_norm.weight",
        "encoder.sentence_encoder.embed_positions.weight",
    ],
)
def test_missing_fairseq_tensor_is_detected(exact_model, victim):
    from transformers import RobertaForMaskedLM

    sd, args = f2h.load_fairseq_checkpoint(exact_model / "model.pt")
    dictionary = f2h.load_fairseq_dictionary(exact_model / "dict.txt")
    cfg = f2h.config_from_fairseq(args, sd, dictionary)
    model = RobertaForMaskedLM(cfg)
    f2h.map_state_dict(sd, model)  # complete: no error
    broken = {k: v for k, v in sd.items() if k != victim}
    with pytest.raises(f2h.UnmappedTensorError, match=victim.replace(".", r"\.")):
        f2h.map_state_dict(broken, model)


def test_unused_fairseq_tensor_is_detected(exact_model):
    from transformers import RobertaForMaskedLM

    sd, args = f2h.load_fairseq_checkpoint(exact_model / "model.pt")
    cfg = f2h.config_from_fairseq(args, sd, f2h.load_fairseq_dictionary(exact_model / "dict.txt"))
    extra = dict(sd)
    extra["encoder.sentence_encoder.layer_norm.weight"] = torch.ones(512)  # a pre-LN final norm
    with pytest.raises(f2h.UnmappedTensorError, match="not used"):
        f2h.map_state_dict(extra, RobertaForMaskedLM(cfg))


def test_convert_save_pretrained_and_auto_classes(exact_model, exact_pair, reviews, tmp_path):
    from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer

    hub, model, tok, _ = exact_pair
    out = f2h.convert(exact_model, tmp_path / "hf")
    report = json.loads((out / f2h.REPORT_FILE).read_text())
    assert report["hf_class"] == "RobertaForMaskedLM" and report["n_aliases"] == 0
    auto_tok = AutoTokenizer.from_pretrained(out)
    assert all(auto_tok(r)["input_ids"] == hub.encode(r).tolist() for r in reviews)
    assert auto_tok.model_max_length == 256 and auto_tok.pad_token_id == 1
    mlm, info = AutoModelForMaskedLM.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    ids = torch.tensor([auto_tok(reviews[0], truncation=True, max_length=256)["input_ids"]])
    with torch.no_grad():
        assert (mlm.eval()(ids).logits - hub.model(ids)[0]).abs().max() < TOL
    cls, info = AutoModelForSequenceClassification.from_pretrained(out, num_labels=2, output_loading_info=True)
    assert info["missing_keys"] and all(k.startswith("classifier.") for k in info["missing_keys"])
    assert all(k.startswith("lm_head.") for k in info["unexpected_keys"])


def test_classification_head_is_mapped(exact_model, tmp_path):
    """A fine-tuned fairseq checkpoint (Part 2) converts to RobertaForSequenceClassification, head included."""
    import shutil

    from frlab.fairseq.models import load_roberta_hub

    d = tmp_path / "ft"
    shutil.copytree(exact_model, d)
    state = torch.load(d / "model.pt", weights_only=False)
    g = torch.Generator().manual_seed(0)
    head = "classification_heads.sentence_classification_head."
    for name, shape in (
        ("dense.weight", (512, 512)),
        ("dense.bias", (512,)),
        ("out_proj.weight", (2, 512)),
        ("out_proj.bias", (2,)),
    ):
        state["model"][head + name] = 0.05 * torch.randn(*shape, generator=g)
    torch.save(state, d / "model.pt")
    model, tok, report = f2h.build_hf_model(d)
    assert type(model).__name__ == "RobertaForSequenceClassification" and model.config.num_labels == 2
    assert not report.new_hf and "encoder.lm_head.dense.weight" in report.dropped_fairseq
    hub = load_roberta_hub(d).eval()
    ids = hub.encode("Un livre magnifique, je le recommande.")[None]
    with torch.no_grad():
        fs = hub.model(ids, features_only=True, classification_head_name="sentence_classification_head")[0]
        assert (model(input_ids=ids).logits - fs).abs().max() < TOL


def test_cli(exact_model, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "frlab.hf.convert", str(exact_model), str(tmp_path / "cli")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "tensors mapped" in out.stdout
    assert (tmp_path / "cli" / "config.json").is_file() and (tmp_path / "cli" / "tokenizer.json").is_file()


def test_hf_model_dir_reuses_conversion(exact_model, tmp_path):
    out = f2h.hf_model_dir(exact_model, out_dir=tmp_path / "hf", prefer_course_zip=False)
    stamp = (out / f2h.REPORT_FILE).stat().st_mtime
    again = f2h.hf_model_dir(exact_model, out_dir=tmp_path / "hf", prefer_course_zip=False)
    assert again == out and (out / f2h.REPORT_FILE).stat().st_mtime == stamp


def test_course_hf_zip_is_used_when_supplied(tmp_path, monkeypatch, exact_model):
    """When the course's HF model is in the mirror/cache, hf_model_dir returns it (no conversion)."""
    course = tmp_path / "mirror" / "roberta-small-fr-hf"
    f2h.convert(exact_model, course)
    monkeypatch.setenv("FRLAB_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("FRLAB_CACHE", str(tmp_path / "cache"))
    got = f2h.hf_model_dir(exact_model, out_dir=tmp_path / "unused", prefer_course_zip=True)
    assert (got / "config.json").is_file() and not (tmp_path / "unused").exists()
