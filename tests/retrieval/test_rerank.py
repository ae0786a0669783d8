"""The reranker: ordering logic with a fake scorer (no torch), a tiny random cross-encoder saved in a
temporary folder, a few training steps on the micro-bank with save → reload, and the errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qbank.errors import UnavailableError, UnknownNameError
from qbank.records import Hit, LegScore
from qbank.retrieval.rerank import (
    COMBINERS,
    CrossEncoderReranker,
    combine_scores,
    hit_document,
    load_default_reranker,
    question_document,
    reranker_available,
)


class FakeCE:
    """Scores a pair by a table keyed on the document text (default 0)."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table
        self.calls: list[list[tuple[str, str]]] = []

    def predict(self, pairs, **kw):
        self.calls.append(list(pairs))
        return np.array([self.table.get(d, 0.0) for _, d in pairs], dtype=np.float32)


def make_hits(ids: list[str]) -> list[Hit]:
    n = len(ids)
    return [Hit(id=d, doc_type="question", rank=i + 1, score=1.0 - i / (n + 1), chunk_id=f"{d}#stem", chunk_field="stem",
                chunk_text=f"text {d}", legs={"bm25": LegScore(i + 1, 5.0 - i)}) for i, d in enumerate(ids)]


# ---------------------------------------------------------------------------- ordering logic
def test_rerank_orders_by_cross_encoder_and_adds_leg():
    hits = make_hits(["a", "b", "c", "d"])
    rr = CrossEncoderReranker(FakeCE({"text a": 0.1, "text b": 0.3, "text c": 2.0, "text d": -1.0}), top_n=4)
    out = rr.rerank("q", hits, k=10)
    assert [h.id for h in out] == ["c", "b", "a", "d"]
    assert [h.rank for h in out] == [1, 2, 3, 4]
    assert out[0].legs["rerank"] == LegScore(1, pytest.approx(2.0))
    assert out[0].legs["bm25"] == LegScore(3, 3.0)  # the other legs travel unchanged
    assert out[0].score == pytest.approx(2.0)  # replace: the hit's score is the cross-encoder's


def test_rerank_top_n_cut_keeps_the_rest_in_fused_order():
    hits = make_hits(["a", "b", "c", "d", "e"])
    fake = FakeCE({"text b": 1.0, "text e": 99.0})
    out = CrossEncoderReranker(fake, top_n=2).rerank("q", hits, k=4)
    assert [h.id for h in out] == ["b", "a", "c", "d"]  # e is past the cut: never rescored
    assert len(fake.calls[0]) == 2
    assert "rerank" not in out[2].legs and out[2].score == hits[2].score and out[2].rank == 3


def test_rerank_ties_keep_fused_order_and_k_bounds():
    hits = make_hits(["a", "b", "c"])
    out = CrossEncoderReranker(FakeCE({}), top_n=3).rerank("q", hits, k=2)
    assert [h.id for h in out] == ["a", "b"]
    assert [h.legs["rerank"].rank for h in out] == [1, 2]


def test_rerank_empty_and_zero_k():
    rr = CrossEncoderReranker(FakeCE({}), top_n=5)
    assert rr.rerank("q", [], k=10) == []
    assert rr.rerank("q", make_hits(["a"]), k=0) == []


def test_combiners_by_hand():
    ce, fused = np.array([0.0, 2.0, 1.0]), np.array([0.3, 0.2, 0.1])
    assert combine_scores("replace", ce, fused, 1.0).tolist() == [0.0, 2.0, 1.0]
    # min-max: ce → 0, 1, .5; fused → 1, .5, 0
    assert combine_scores("interpolate", ce, fused, 0.5) == pytest.approx([0.5, 0.75, 0.25])
    # ranks: ce 3,1,2; fused 1,2,3 (rrf_k 60)
    assert combine_scores("rrf", ce, fused, 0.5) == pytest.approx(
        [0.5 / 63 + 0.5 / 61, 0.5 / 61 + 0.5 / 62, 0.5 / 62 + 0.5 / 63])
    with pytest.raises(UnknownNameError, match="choose one of: interpolate, replace, rrf"):
        combine_scores("nope", ce, fused, 1.0)
    assert set(COMBINERS) == {"replace", "interpolate", "rrf"}


def test_interpolate_keeps_a_strong_fused_head():
    hits = make_hits(["a", "b", "c"])
    rr = CrossEncoderReranker(FakeCE({"text b": 0.2, "text c": 0.1}), top_n=3, combine="interpolate", weight=0.3)
    assert [h.id for h in rr.rerank("q", hits, 3)] == ["a", "b", "c"]


def test_documents(tiny_index):
    q = tiny_index.question_by_id["E3-81"]
    doc = question_document(q)
    assert doc.startswith(q.question) and "Testing: memory math." in doc and q.rubric[0] in doc
    hit = make_hits(["x"])[0]
    assert hit_document(hit) == "text x"


# ---------------------------------------------------------------------------- a tiny real cross-encoder
@pytest.fixture(scope="session")
def tiny_ce_dir(tmp_path_factory) -> Path:
    """A random 1-layer BERT cross-encoder (hidden 32) with the bundled tokenizer, saved to a folder."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from qbank.index.dense import bundled_model_path

    src = bundled_model_path()
    folder = tmp_path_factory.mktemp("tiny-ce")
    vocab = sum(1 for _ in (src / "vocab.txt").open(encoding="utf-8"))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=37, max_position_embeddings=128, num_labels=1)
    BertForSequenceClassification(cfg).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, folder / name)
    return folder


def test_tiny_cross_encoder_scores_and_reranks(tiny_ce_dir):
    rr = CrossEncoderReranker.from_path(tiny_ce_dir, top_n=3, max_length=64)
    s1 = rr.score("kv cache", ["text a", "text b", "text c"])
    s2 = rr.score("kv cache", ["text a", "text b", "text c"])
    assert s1.shape == (3,) and np.allclose(s1, s2)
    out = rr.rerank("kv cache", make_hits(["a", "b", "c", "d"]), k=4)
    assert [h.rank for h in out] == [1, 2, 3, 4] and out[3].id == "d"
    assert sorted(h.legs["rerank"].rank for h in out[:3]) == [1, 2, 3]


def test_settings_reranker_model_folder_is_used(tiny_ce_dir, tiny_settings):
    s = tiny_settings.model_copy(update={"reranker_model": str(tiny_ce_dir), "rerank_top_n": 5})
    assert reranker_available(s)
    rr = load_default_reranker(s)
    assert rr.top_n == 5 and rr.combine == "replace"


# ---------------------------------------------------------------------------- errors
def test_full_before_any_reranker(tiny_searcher):
    assert not reranker_available(tiny_searcher.settings)
    with pytest.raises(UnavailableError, match=r"needs the cross-encoder reranker and there is none in .*qbank train-reranker. remakes it"):
        tiny_searcher.search("KV cache", 5, "full")


def test_missing_model_folder(tiny_settings, tmp_path):
    s = tiny_settings.model_copy(update={"reranker_model": str(tmp_path / "nope")})
    with pytest.raises(UnavailableError, match=r"reranker model folder .*nope does not exist; set QBANK_RERANKER_MODEL to a cross-encoder folder, or unset"):
        load_default_reranker(s)


def test_folder_that_is_not_a_cross_encoder(tiny_settings, tmp_path):
    from qbank.index.dense import bundled_model_path

    s = tiny_settings.model_copy(update={"reranker_model": str(bundled_model_path())})
    with pytest.raises(UnavailableError, match=r"is not a cross-encoder \(architecture BertModel"):
        load_default_reranker(s)
    (tmp_path / "empty").mkdir()
    s = tiny_settings.model_copy(update={"reranker_model": str(tmp_path / "empty")})
    with pytest.raises(UnavailableError, match=r"not a cross-encoder folder \(no config.json\)"):
        load_default_reranker(s)


def test_broken_manifest(tiny_settings):
    d = tiny_settings.reranker_dir
    d.mkdir(parents=True)
    (d / "manifest.json").write_text(json.dumps({"schema": 99, "kind": "qbank-reranker"}))
    with pytest.raises(UnavailableError, match="not a qbank reranker manifest of schema 2; `qbank train-reranker` remakes it"):
        load_default_reranker(tiny_settings)


# ---------------------------------------------------------------------------- the shipped int8 reranker
def _copy_shipped(tmp_path):
    from qbank.config import Settings

    src = Settings().reranker_dir
    dst = tmp_path / "reranker"
    shutil.copytree(src, dst)
    return dst


def test_shipped_reranker_manifest_and_files():
    from qbank.config import Settings
    from qbank.retrieval.rerank import read_manifest

    folder = Settings().reranker_dir
    man = read_manifest(folder)  # checks the sha256 of model.onnx and tokenizer.json
    assert man["format"] == "onnx-int8" and (folder / "model.onnx").stat().st_size <= 25_000_000
    assert {"recipe", "seed", "base_weights_hash", "dev_table", "combine"} <= set(man)
    assert len(man["data"]["training_data_sha256"]) == 16
    from qbank.training.data import TRAINING_DIR
    from qbank.training.reranker import training_data_sha256

    assert man["data"]["training_data_sha256"] == training_data_sha256(TRAINING_DIR)  # made from what ships


def test_shipped_reranker_scores_without_torch_and_orders_pairs():
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from qbank.config import Settings;"
            "from qbank.retrieval.rerank import load_default_reranker;"
            "rr = load_default_reranker(Settings());"
            "s = rr.score('how much memory does the KV cache take', ["
            "'How big is the KV-cache for Llama 3 70B at 4K context? Testing: KV cache sizing.',"
            "'Tell me about a time you missed a deadline.']);"
            "print(float(s[0] - s[1]), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) > 0 and out[1] == "False"


def test_tampered_reranker_is_refused(tmp_path, tiny_settings):
    d = _copy_shipped(tmp_path)
    s = tiny_settings.model_copy(update={"reranker_path": d})
    assert load_default_reranker(s).top_n >= 1
    with open(d / "model.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(UnavailableError, match=r"model.onnx does not match its manifest \(sha256\)"):
        load_default_reranker(s)
    (d / "model.onnx").unlink()
    with pytest.raises(UnavailableError, match=r"the reranker file .*model.onnx is missing"):
        load_default_reranker(s)
