"""retrieval/jobplan.py: topics, role and seniority from a job description (tiny bank: hashing embedder,
so the BM25 side decides; the real bank and model: the slow test at the end)."""

from __future__ import annotations

import pytest

from qbank.errors import InvalidQueryError
from qbank.retrieval.jobplan import MIX_BY_SENIORITY, _candidates, _role, _segments, _seniority, extract_plan, plan_spec
from qbank.retrieval.studyset import StudySetSpec


def test_segments_split_at_punctuation_joining_words_and_job_words():
    segs = [[w for w, _ in words] for _, words in _segments(
        "Senior Engineer: own continuous batching and KV cache management, with vLLM (p99)")]
    assert segs == [["continuous", "batching"], ["KV", "cache"], ["vLLM"], ["p99"]]


def test_candidates_need_known_and_specific_terms():
    vocab = {"kv", "cach", "kvcach", "batch", "continu", "friend"}
    idf = {"kv": 3.0, "cach": 2.5, "kvcach": 4.0, "batch": 1.0, "continu": 1.5, "friend": 0.5}
    got = _candidates("KV cache; continuous batching; friendly unicorns", vocab, idf)
    phrases = {v[0] for v in got.values()}
    # "friendly" is known but not specific (IDF 0.5 < 2); "unicorns" is unknown; batching alone is not specific
    assert phrases == {"KV cache", "KV", "cache"}


@pytest.mark.parametrize("text, level, words", [
    ("Staff ML Engineer, principal track", "staff", ["staff", "principal"]),
    ("Senior Research Engineer", "senior", ["senior"]),
    ("New grad ML engineer (entry-level)", "junior", ["new grad", "entry-level"]),
    ("ML Engineer", "mid", []),
])
def test_seniority(text, level, words):
    assert _seniority(text) == (level, words)


def test_role_is_the_one_with_most_evidence_words():
    role, words = _role("Inference platform: serving at low latency on Kubernetes; some research")
    assert role == "INF" and words == ["inference", "platform", "serving", "latency", "kubernetes"]
    assert _role("We sell shoes.") == (None, [])


def test_plan_on_the_tiny_bank_and_its_spec(tiny_searcher, monkeypatch):
    import qbank.retrieval.jobplan as jp

    # the hashing embedder's cosines are low (0.28-0.39 here): the threshold comes down with it
    monkeypatch.setattr(jp, "MIN_COSINE", 0.25)
    plan = extract_plan(tiny_searcher, "Senior engineer. You will own product quantization for vector search, "
                                       "and be friendly.")
    got = {t.topic: t.words for t in plan.topics}
    # closest first: "vector search" takes "vector" and "search" (inside it) as its words, and on a bank
    # this small "quantization" too (the same top questions)
    assert got["vector search"][0] == "vector search" and {"vector", "search"} <= set(got["vector search"])
    assert "friendly" not in str(got) and plan.seniority == "senior" and plan.mix == MIX_BY_SENIORITY["senior"]
    spec = plan_spec(plan, StudySetSpec(topics=("attention",)))
    assert spec.topics[0] == "attention" and set(got) <= set(spec.topics) and spec.mix == plan.mix
    assert plan_spec(plan, StudySetSpec(topics=(), mix="W:2")).mix == "W:2"  # the user's mix wins
    with pytest.raises(InvalidQueryError, match="empty"):
        extract_plan(tiny_searcher, "  ")
    with pytest.raises(InvalidQueryError, match="the limit is 20,000"):
        extract_plan(tiny_searcher, "x" * 20_001)


def test_plan_reads_an_llm_serving_ad_on_the_real_bank(real_searcher):
    text = ("Senior ML Systems Engineer, inference platform.\n- Serve LLMs with continuous batching and a paged "
            "KV cache\n- Quantization (INT8, FP8) and speculative decoding\n- Tensor parallelism across GPUs\n"
            "We are a friendly team; competitive salary and benefits.")
    plan = extract_plan(real_searcher, text)
    names = {t.topic.lower() for t in plan.topics}
    assert {"continuous batching", "speculative decoding", "tensor parallelism"} <= names
    assert any("kv cache" in n for n in names) and any("quantization" in n for n in names)
    assert not any(w in n for n in names for w in ("friendly", "salary", "benefits", "team"))
    assert plan.role == "MLS" and plan.seniority == "senior"
