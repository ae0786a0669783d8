"""Whole-question representations and the co-relevance graph (index/related.py), on the tiny bank."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from qbank.errors import IndexMismatchError, QbankError
from qbank.index.dense import HashingEmbedder
from qbank.index.related import corelevance_edges, read_corelevance, text_hash
from qbank.index.store import build_index, load_index
from qbank.ingest.bank import parse_bank_text
from qbank.ingest.pipeline import build_corpus
from qbank.retrieval.searcher import Searcher


def _graph(questions, edges):
    return {"kind": "qbank-corelevance", "schema": 1, "made_from": {},
            "questions": {q.id: text_hash(q) for q in questions}, "edges": edges}


def test_text_hash_follows_the_full_text(tiny_bank_text):
    q = parse_bank_text(tiny_bank_text).questions[0]
    assert text_hash(q) == text_hash(dataclasses.replace(q, line=99))  # where it sits does not matter
    assert text_hash(q) != text_hash(dataclasses.replace(q, rubric=(*q.rubric, "one more point")))
    assert len(text_hash(q)) == 16


def test_edges_only_between_unchanged_questions(tiny_bank_text):
    qs = parse_bank_text(tiny_bank_text).questions
    by = {q.id: q for q in qs}
    graph = _graph(qs, {"E1-1": {"E1-2": 4, "E1-3": 1, "E9-9": 2}, "E1-2": {"E1-1": 4}, "E1-3": {"E1-1": 1}})
    edges, stats = corelevance_edges(graph, qs)
    assert edges == {"E1-1": {"E1-2": 4.0, "E1-3": 1.0}, "E1-2": {"E1-1": 4.0}, "E1-3": {"E1-1": 1.0}}
    assert stats == {"questions_judged": 10, "questions_matched": 10, "questions_changed": 0, "edges": 2}
    # E1-3 edited since judging: its edges go, the others stay
    edited = [dataclasses.replace(q, question=q.question + " (v2)") if q.id == "E1-3" else q for q in qs]
    edges, stats = corelevance_edges(graph, edited)
    assert edges == {"E1-1": {"E1-2": 4.0}, "E1-2": {"E1-1": 4.0}}
    assert stats["questions_changed"] == 1 and stats["edges"] == 1
    assert "E1-3" in by


def test_read_corelevance_refuses_other_files(tmp_path):
    p = tmp_path / "g.json"
    p.write_text("[1, 2]")
    with pytest.raises(QbankError, match="not a qbank-corelevance file"):
        read_corelevance(p)
    p.write_text("{not json")
    with pytest.raises(QbankError, match="cannot read the co-relevance graph"):
        read_corelevance(p)


def _tiny_with_graph(tiny_settings, tiny_bank_text, edges):
    qs = parse_bank_text(tiny_bank_text).questions
    gpath = tiny_settings.bank.with_name("corelevance.json")
    gpath.write_text(json.dumps(_graph(qs, edges)))
    settings = tiny_settings.model_copy(update={"use_corelevance": True, "corelevance": gpath})
    corpus = build_corpus(parse_bank_text(tiny_bank_text, str(settings.bank)), None, settings)
    build_index(corpus, settings, embedder=HashingEmbedder(256))
    return settings, gpath


def test_index_holds_whole_question_vectors_and_the_graph(tiny_settings, tiny_bank_text):
    settings, gpath = _tiny_with_graph(tiny_settings, tiny_bank_text, {"E1-1": {"E13-506": 4}, "E13-506": {"E1-1": 4}})
    idx = load_index(settings)
    qv = idx.question_vectors
    assert qv.shape == (10, 256) and np.allclose(np.linalg.norm(qv, axis=1), 1, atol=1e-5)
    # row i is question i's full text, embedded whole
    want = HashingEmbedder(256).encode_documents([idx.questions[3].full_text()])[0]
    assert np.allclose(qv[3], want)
    assert idx.corelevance == {"E1-1": {"E13-506": 4.0}, "E13-506": {"E1-1": 4.0}}
    m = json.loads((settings.index_dir / "manifest.json").read_text())["corpus"]["corelevance"]
    assert m["edges"] == 1 and m["questions_matched"] == 10
    # a changed graph file makes the index stale, with a one-line reason
    gpath.write_text(gpath.read_text().replace('"E13-506": 4', '"E13-506": 2'))
    with pytest.raises(IndexMismatchError, match="co-relevance graph .* changed"):
        load_index(settings)


def test_related_follows_the_graph_and_the_filters(tiny_settings, tiny_bank_text):
    # a tensor question and a behavioural one share no words: only the graph links them
    settings, _ = _tiny_with_graph(tiny_settings, tiny_bank_text, {"E1-1": {"E13-506": 4}, "E13-506": {"E1-1": 4}})
    s = Searcher(load_index(settings), settings)
    hits = s.related("E1-1", 9)
    assert hits[0].id == "E13-506"
    assert hits[0].legs["corelevance"].rank == 1 and hits[0].legs["corelevance"].score == 4.0
    assert "E1-1" not in [h.id for h in hits] and len({h.id for h in hits}) == len(hits)
    coding = s.related("E1-1", 9, s.parse_filters(kind="coding"))
    assert [h.id for h in coding] and {h.question.kind for h in coding} == {"coding"}


def test_related_without_a_graph_uses_text_alone(tiny_searcher):
    hits = tiny_searcher.related("E3-81", 3)  # the KV-cache size question
    assert "corelevance" not in hits[0].legs
    assert hits[0].legs["bm25"].rank is not None and hits[0].legs["dense"].rank is not None
