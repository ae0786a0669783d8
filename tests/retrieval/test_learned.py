"""The learned ranker: its features of a hit list and its score, worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qbank.errors import QbankError
from qbank.retrieval.learned import FEATURES, LearnedRanker, hit_features


def test_own_text_cosines_of_a_hit_list(study_index):
    _, searcher = study_index
    idx, query = searcher.index, "product quantization codebooks"
    hits = searcher.search(query, 5, "hybrid").hits
    qvec = searcher.embedder.encode_queries([query])[0]
    x = dict(zip(FEATURES, hit_features(idx, hits, query, qvec).T))
    v = np.asarray(idx.vectors)
    for i, h in enumerate(hits):
        stem = float(v[idx.doc_text_rows[h.id][0]] @ qvec)
        assert idx.chunks[idx.doc_text_rows[h.id][0]].field == "stem"
        assert x["stem_cos"][i] == pytest.approx(stem, abs=1e-6)
        rows = idx.doc_query_rows.get(h.id, [])
        if h.id == "E3-16":  # the one question with sample queries: two of them, so the top 3 are both
            assert len(rows) == 2 and all(idx.chunks[r].field == "queries" for r in rows)
            cos = sorted((float(v[r] @ qvec) for r in rows), reverse=True)
            assert x["queries_top3"][i] == pytest.approx(sum(cos) / 2, abs=1e-6)
            assert x["queries_mean"][i] == pytest.approx(sum(cos) / 2, abs=1e-6)
        else:  # no sample queries: they read as agreeing with the stem
            assert rows == [] and x["queries_top3"][i] == x["queries_mean"][i] == x["stem_cos"][i]
    assert "E3-16" in [h.id for h in hits]
    assert x["stem_gap"].max() == 0 and np.allclose(x["stem_gap"], x["stem_cos"] - x["stem_cos"].max())


def test_score_is_linear_plus_one_tanh_layer_by_hand():
    f = len(FEATURES)
    weights, hidden, out = np.zeros(f), np.zeros((f, 1)), np.array([2.0])
    weights[0] = 1.0  # linear in the first feature
    hidden[1, 0] = 1.0  # one unit reading the second
    r = LearnedRanker(weights, np.zeros(f), np.full(f, 2.0), hidden=hidden, hidden_bias=np.zeros(1), out=out)
    x = np.zeros((2, f))
    x[0, 0], x[1, 1] = 4.0, 2 * math.atanh(0.5)  # standardised: 2, and atanh(0.5)
    # row 0: 2 + 2·tanh(0) = 2; row 1: 0 + 2·tanh(atanh 0.5) = 1
    assert r.score(x) == pytest.approx([2.0, 1.0])
    # the cross-encoder's standardised score adds ce_weight per hit: (ce − mean) / std = ±1
    r = LearnedRanker(weights, np.zeros(f), np.full(f, 2.0), 0.5, hidden=hidden, hidden_bias=np.zeros(1), out=out)
    assert r.score(x, np.array([3.0, 1.0])) == pytest.approx([2.5, 0.5], abs=1e-6)


def test_round_trip_a_linear_manifest_and_refusals():
    f = len(FEATURES)
    rng = np.random.default_rng(0)
    r = LearnedRanker(rng.normal(size=f), rng.normal(size=f), np.ones(f), 0.1, hidden=rng.normal(size=(f, 3)),
                      hidden_bias=rng.normal(size=3), out=rng.normal(size=3))
    back = LearnedRanker.from_dict(r.to_dict())
    x = rng.normal(size=(4, f))
    assert np.allclose(back.score(x), r.score(x)) and back.ce_weight == 0.1
    linear = {k: v for k, v in r.to_dict().items() if k != "hidden"}  # a manifest from before the hidden layer
    assert np.allclose(LearnedRanker.from_dict(linear).score(x), (x - r.mean) @ r.weights)
    bad = r.to_dict()
    del bad["hidden"]["bias"]
    with pytest.raises(QbankError, match="malformed; retrain it"):
        LearnedRanker.from_dict(bad)
    bad = r.to_dict()
    bad["hidden"]["out"] = [1.0]
    with pytest.raises(QbankError, match=r"out must be 3 finite numbers"):
        LearnedRanker.from_dict(bad)
    for junk in (None, [1, 2], "x", {**r.to_dict(), "hidden": [1]}):
        with pytest.raises(QbankError, match="malformed; retrain it"):
            LearnedRanker.from_dict(junk)
    bad["hidden"]["weights"] = 5.0
    with pytest.raises(QbankError, match=r"hidden weights must be a 19 x units table"):
        LearnedRanker.from_dict(bad)
    with pytest.raises(QbankError, match="fitted on features"):
        LearnedRanker.from_dict({**r.to_dict(), "features": list(FEATURES[:-1])})
