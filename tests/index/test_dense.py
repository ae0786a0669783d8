import threading

import numpy as np
import pytest


def test_auto_ann_is_flat_below_the_threshold_and_hnsw_above():
    from qbank.index.dense import resolve_ann_kind

    assert resolve_ann_kind("auto", 3745, 10_000) == "flat"
    assert resolve_ann_kind("auto", 10_000, 10_000) == "hnsw"
    assert resolve_ann_kind("hnsw", 10, 10_000) == "hnsw" and resolve_ann_kind("flat", 10**6, 10_000) == "flat"


def test_document_batches_hold_a_piece_budget_longest_first():
    from qbank.index.dense import piece_batches

    # lengths 3, 9, 4: the 9 fills a budget of 10 alone; 4 and 3 pad to 4 × 2 = 8 ≤ 10
    assert piece_batches([3, 9, 4], max_texts=8, max_pieces=10) == [[1], [2, 0]]
    # a text longer than the budget still goes (alone); the text cap binds short texts
    assert piece_batches([300, 2, 2, 2], max_texts=2, max_pieces=256) == [[0], [1, 2], [3]]
    assert piece_batches([], 4, 256) == []


def test_a_large_document_job_runs_one_thread_sessions_side_by_side_with_the_same_vectors(monkeypatch):
    from qbank.index import dense

    enc = dense.OnnxMiniLMEmbedder(threads=2)
    docs = ["kv cache", "why does a transformer need positional encodings at all", "LoRA rank",
            "a design question about a feature store for an online ranking model with strict latency",
            "warp divergence", "what breaks if a network has no activation functions"] * 3
    seen = []
    monkeypatch.setattr(dense, "PARALLEL_MIN_PIECES", 10**9)
    one = enc.encode_documents(docs, batch_size=4, progress=seen.append)
    assert enc._sessions_for(10**6) == [enc._session] and not enc._doc_sessions
    monkeypatch.setattr(dense, "PARALLEL_MIN_PIECES", 1)
    seen_par, callers = [], set()

    def progress(n):  # a UI's progress bar may only be touched from the thread that owns it
        seen_par.append(n)
        callers.add(threading.get_ident())

    both = enc.encode_documents(docs, batch_size=4, progress=progress)
    assert len(enc._doc_sessions) == 2 and enc._sessions_for(10) is enc._doc_sessions
    np.testing.assert_allclose(both, one, atol=1e-6)  # rows back in input order, same numbers
    assert sum(seen) == sum(seen_par) == len(docs) and callers == {threading.get_ident()}
    # a worker's error reaches the caller (no hang), and the other worker stops taking batches
    calls = []

    def broken(encodings, session=None):
        calls.append(len(encodings))
        raise RuntimeError("onnxruntime fell over")

    monkeypatch.setattr(enc, "_run", broken)
    with pytest.raises(RuntimeError, match="fell over"):
        enc.encode_documents(docs, batch_size=1)
    assert len(calls) <= 2  # one batch per worker at most, not all 18
    # one thread: no side-by-side sessions, whatever the size
    solo = dense.OnnxMiniLMEmbedder(threads=1)
    assert len(solo._sessions_for(10**6)) == 1 and not solo._doc_sessions


def test_onnx_int8_for_a_model_without_one_names_the_setting_that_asked():
    """``onnx-int8`` asks for an int8-arithmetic model: a model without one is refused in one line
    that names the setting (the index's backend, or the query encoder), never silently swapped."""
    from qbank.errors import QbankError
    from qbank.index.dense import make_document_embedder, make_query_encoder

    with pytest.raises(QbankError, match=r"^embedding backend onnx-int8: hashing-64 has no int8-arithmetic model$"):
        make_document_embedder("hashing-64", "onnx-int8")
    with pytest.raises(QbankError, match=r"^query encoder onnx-int8: hashing-64 has no int8-arithmetic model$"):
        make_query_encoder("hashing-64", "onnx-int8")
    assert make_query_encoder("hashing-64", "auto").name == "hashing-64"  # auto never refuses
