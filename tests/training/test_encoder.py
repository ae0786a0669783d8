"""Fine-tuning the bi-encoder: the pairs (judged positives, judged hard negatives only, sample
queries), a few steps on the micro-bank with export → reload as a shipped encoder (vectors equal to
the torch model's), the manifest's checksums, and an index built and searched with it."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from qbank.errors import QbankError
from qbank.training.encoder import EncoderConfig

pytestmark = pytest.mark.slow  # a training run and the real tokenizer

TINY_CFG = EncoderConfig(layers=1, batch_size=4, max_length=48, seed=3, min_grade=2)


def _pairs(tiny_index, tiny_settings, tmp_path, cfg=TINY_CFG):
    from qbank.retrieval.searcher import Searcher
    from qbank.training.data import load_training_data
    from qbank.training.encoder import training_pairs
    from tests.training.test_reranker import write_tiny_training_data

    data = load_training_data(write_tiny_training_data(tmp_path / "td", tiny_index.questions))
    searcher = Searcher(tiny_index, tiny_settings)
    return (*training_pairs(searcher, data, cfg), data, searcher)


def test_pairs_use_judged_positives_and_judged_negatives_only(tiny_index, tiny_settings, tmp_path):
    pairs, stems, data, _ = _pairs(tiny_index, tiny_settings, tmp_path)
    judged = [p for p in pairs if p.qid]
    # train split only (T1-T4), one pair per grade-2 question; T5/T6 are dev
    assert sorted((p.qid, p.positive) for p in judged) == [("T1", "E3-81"), ("T2", "E3-82"), ("T3", "E3-83"),
                                                          ("T4", "E12-466")]
    for p in judged:
        assert data.qrels[p.qid][p.negative] == 0  # graded 0 by the judge, never merely unranked
    assert stems["E3-81"].startswith(tiny_index.question_by_id["E3-81"].question[:20])
    # the tiny bank has no sample queries: nothing else
    assert len(pairs) == len(judged)
    # the shipped recipe also learns the grade-1 questions (T1 → E12-467, T4 → E1-2)
    wider, *_ = _pairs(tiny_index, tiny_settings, tmp_path, EncoderConfig(min_grade=1))
    assert {(p.qid, p.positive) for p in wider} - {(p.qid, p.positive) for p in judged} == {("T1", "E12-467"),
                                                                                         ("T4", "E1-2")}


def test_train_export_reload_and_search(tiny_index, tiny_settings, tmp_path):
    from qbank.index.dense import ShippedEncoder, make_document_embedder
    from qbank.index.store import build_index, load_index
    from qbank.ingest.pipeline import ingest
    from qbank.retrieval.searcher import Searcher
    from qbank.training.encoder import export_encoder, train_encoder

    pairs, stems, data, _ = _pairs(tiny_index, tiny_settings, tmp_path)
    _, qrels = data.split("train")
    model, fig = train_encoder(pairs, stems, qrels, TINY_CFG)
    assert fig["steps"] == 1 and fig["pairs_seen"] == 4  # 4 pairs, batches of 4
    out = tmp_path / "enc"
    export_encoder(model, out)
    files = {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in ("model.onnx", "tokenizer.json")}
    (out / "manifest.json").write_text(json.dumps({"kind": "qbank-encoder", "name": "qbank-minilm", "files": files}))
    enc = ShippedEncoder(out)
    texts = ["kv cache memory for long context", "why divide attention scores by the square root of d"]
    a = enc.encode_queries(texts)
    b = model.encode(texts, normalize_embeddings=True)
    assert (a * b).sum(axis=1).min() > 0.999  # int8 weights, float arithmetic
    np.testing.assert_allclose(enc.encode_documents(texts, batch_size=2), a, atol=1e-5)  # padded batch

    # an index built with the folder records it, and its queries go through the same encoder
    s = tiny_settings.model_copy(update={"index_dir": tmp_path / "idx2", "embedding_model": str(out)})
    build_index(ingest(s), s, make_document_embedder(str(out)))
    idx = load_index(s)
    assert idx.manifest["embedding"]["model"] == str(out.resolve())
    searcher = Searcher(idx, s)
    assert isinstance(searcher.embedder, ShippedEncoder) and searcher.embedder.folder.resolve() == out.resolve()
    hits = searcher.search("KV cache memory", 3, "dense").hits
    assert hits[0].legs["dense"].score == pytest.approx(float(np.max(
        idx.vectors[idx.doc_text_rows[hits[0].id]] @ enc.encode_queries(["KV cache memory"])[0])), abs=1e-4)

    # the int8-arithmetic model made from the export: the fused graph, close to the model's vectors,
    # then what an index is built with (auto) and what the searcher encodes queries with
    from qbank.training.encoder import add_query_model

    man = add_query_model(out)
    assert man["query_model"]["min_cosine_to_model"] >= 0.98 and "query.onnx" in man["files"]
    q = ShippedEncoder(out, int8=True)
    assert (q.encode_queries(texts) * a).sum(axis=1).min() >= 0.98
    # batched documents: one activation scale a batch, so close to (not equal to) each text alone
    assert (q.encode_documents(texts, batch_size=2) * q.encode_queries(texts)).sum(axis=1).min() >= 0.97
    assert Searcher(idx, s).embedder.int8  # the index above was built with model.onnx: auto still queries in int8
    s8 = s.model_copy(update={"index_dir": tmp_path / "idx8"})
    doc = make_document_embedder(str(out))
    assert doc.int8 and doc.backend == "onnx-int8" and doc.weights_hash == man["files"]["query.onnx"][:16]
    assert doc.weights_hash != enc.weights_hash  # the embedding cache keeps the two models' vectors apart
    build_index(ingest(s8), s8, doc)
    assert load_index(s8).manifest["embedding"]["backend"] == "onnx-int8"
    assert not make_document_embedder(str(out), "onnx").int8

    # a changed model file is refused in one line
    with open(out / "model.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(QbankError, match=r"does not match its manifest \(sha256\); remake it with `qbank train-encoder`"):
        ShippedEncoder(out)
    (out / "manifest.json").unlink()
    with pytest.raises(QbankError, match="no encoder at .* \\(no manifest.json\\)"):
        ShippedEncoder(out)


def test_shipped_encoder_is_intact_and_named():
    """The shipped folder loads (its manifest's sha256 checked), reports its recipe and dev table."""
    from qbank.config import DATA_DIR
    from qbank.index.dense import SHIPPED_ENCODER, make_document_embedder

    if not (DATA_DIR / "encoder" / "manifest.json").exists():
        pytest.skip("no shipped encoder")
    enc = make_document_embedder(SHIPPED_ENCODER)
    assert enc.name == SHIPPED_ENCODER and enc.dim == 384 and (DATA_DIR / "encoder" / "model.onnx").stat().st_size < 25e6
    man = enc.manifest
    assert man["base_weights_hash"] and man["data"]["training_data_sha256"] and man["recipe"]["seed"] == 13
    dev = man["dev_table"]
    assert dev["trained:hybrid"] > dev["bundled:hybrid"]  # it was shipped because dev said so
    v = enc.encode_queries(["kv cache"])
    assert v.shape == (1, 384) and abs(float(np.linalg.norm(v)) - 1) < 1e-5


def test_shipped_query_model_is_the_fused_int8_graph_of_the_model():
    """data/encoder/query.onnx: listed (sha256) in the manifest, picked by both "auto" backends, within
    cosine 0.98 of model.onnx's vectors; "onnx" keeps model.onnx; the fused float graph it is made
    from computes what model.onnx computes (padded batch, real tokens)."""
    import onnxruntime as ort

    from qbank.config import DATA_DIR
    from qbank.index.dense import SHIPPED_ENCODER, bert_feeds, make_document_embedder, make_query_encoder
    from qbank.training.encoder import fused_encoder_graph

    folder = DATA_DIR / "encoder"
    if not (folder / "query.onnx").exists():
        pytest.skip("no shipped query model")
    q, f = make_query_encoder(SHIPPED_ENCODER), make_document_embedder(SHIPPED_ENCODER)
    # the int8-arithmetic model builds the index (auto) and encodes its queries; "onnx" is model.onnx
    f = make_document_embedder(SHIPPED_ENCODER, "onnx")
    assert q.int8 and make_document_embedder(SHIPPED_ENCODER).int8 and not f.int8
    assert not make_query_encoder(SHIPPED_ENCODER, "onnx").int8 and q.weights_hash != f.weights_hash
    texts = ["kv cache", "what breaks if a network has no activation functions",
             "one customer's script floods our LLM API and everyone else gets slow responses", "LoRA rank"]
    cos = (q.encode_queries(texts) * f.encode_queries(texts)).sum(axis=1)
    assert cos.min() >= 0.98 and cos.mean() >= 0.99
    assert (folder / "query.onnx").stat().st_size < 25e6

    fused = ort.InferenceSession(fused_encoder_graph(folder / "model.onnx").SerializeToString(),
                                 providers=["CPUExecutionProvider"])
    feeds = bert_feeds(f._tok.encode_batch(texts))
    want = f._session.run(None, feeds)[0]
    got = fused.run(None, feeds)[0]
    real = feeds["attention_mask"][:, :, None].astype(bool)
    assert np.abs((want - got) * real).max() < 1e-4
