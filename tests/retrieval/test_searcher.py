import pytest

from qbank.errors import InvalidQueryError, UnavailableError, UnknownIdError, UnknownNameError
from qbank.retrieval.fusion import rrf


def ids(res):
    return [h.id for h in res.hits]


def test_hybrid_is_rrf_of_legs(tiny_searcher):
    s = tiny_searcher
    b = s.search("kv cache", 10, "bm25")
    d = s.search("kv cache", 10, "dense")
    h = s.search("kv cache", 10, "hybrid")
    st = tiny_searcher.settings
    expected = rrf({"bm25": ids(b), "dense": ids(d)}, st.rrf_k, {"bm25": st.weight_bm25, "dense": st.weight_dense})
    assert [(x.id, x.score) for x in h.hits] == [(i, pytest.approx(v)) for i, v in expected[:10]]
    top = h.hits[0]
    assert top.legs["bm25"].rank == ids(b).index(top.id) + 1
    assert top.legs["dense"].rank == ids(d).index(top.id) + 1
    assert h.params["rrf_k"] == st.rrf_k == 10 and h.params["weights"] == {"bm25": 1.0, "dense": 1.3}


def test_rollup_one_hit_per_question_and_explain(tiny_searcher):
    res = tiny_searcher.search("MQA KV cache", 10, "hybrid")
    assert len(ids(res)) == len(set(ids(res)))
    hit = next(x for x in res.hits if x.id == "E1-3")
    assert hit.chunk_id.startswith("E1-3#") and "MQA" in hit.highlights
    d = hit.to_dict()
    assert d["difficulty"] == "H" and d["roles"] == ["MLE"] and d["chapters"] == [33]
    assert set(d["legs"]) == {"bm25", "dense"}


def test_filters_reach_both_legs(tiny_searcher):
    f = tiny_searcher.parse_filters(kind="coding")
    for mode in ("bm25", "dense", "hybrid"):
        res = tiny_searcher.search("cache", 10, mode, f)
        assert res.hits and all(h.question.kind == "coding" for h in res.hits), mode
    # a filter that leaves fewer than k: all of them come back
    f = tiny_searcher.parse_filters(difficulty="W")
    res = tiny_searcher.search("what is", 10, "dense", f)
    assert sorted(ids(res)) == ["E1-1", "E3-83"]


def test_filter_matching_nothing_says_so(tiny_searcher):
    f = tiny_searcher.parse_filters(difficulty="S")
    res = tiny_searcher.search("cache", 10, "hybrid", f)
    assert res.hits == [] and res.message == "no question matches these filters"


def test_k_is_upper_bound_and_bad_input(tiny_searcher):
    assert len(tiny_searcher.search("cache", 500, "dense").hits) == 10
    with pytest.raises(InvalidQueryError, match="empty query"):
        tiny_searcher.search("   ", 5)
    with pytest.raises(InvalidQueryError, match="query is 100,000 characters; the limit is 1,000"):
        tiny_searcher.search("x" * 100_000, 5)
    with pytest.raises(InvalidQueryError, match="k must be a whole number >= 1, got 0"):
        tiny_searcher.search("cache", 0)
    with pytest.raises(InvalidQueryError, match="k=5000 is too large"):
        tiny_searcher.search("cache", 5000)
    with pytest.raises(UnknownNameError, match="unknown mode 'fast'; choose one of: bm25, dense, full, hybrid"):
        tiny_searcher.search("cache", 5, "fast")
    with pytest.raises(UnavailableError, match="mode 'full' needs the cross-encoder reranker"):
        tiny_searcher.search("cache", 5, "full")


def test_bad_filter_values(tiny_searcher):
    with pytest.raises(InvalidQueryError, match="unknown difficulty 'X'; choose from W, M, H, S"):
        tiny_searcher.parse_filters(difficulty="X")
    with pytest.raises(InvalidQueryError, match="unknown role 'CEO'"):
        tiny_searcher.parse_filters(role="ceo")
    with pytest.raises(InvalidQueryError, match="unknown section 9"):
        tiny_searcher.parse_filters(section="9")
    with pytest.raises(InvalidQueryError, match="chapter must be a number"):
        tiny_searcher.parse_filters(chapter="five")
    with pytest.raises(InvalidQueryError, match="unknown kind 'essay'"):
        tiny_searcher.parse_filters(kind="essay")
    f = tiny_searcher.parse_filters(company="meta", role="mle,as")
    assert f.company == ("meta",) and f.role == ("MLE", "AS")
    assert ids(tiny_searcher.search("attention", 10, "hybrid", f)) == ["E1-3"]


def test_related_never_itself(tiny_searcher):
    hits = tiny_searcher.related("e1-3", 5)
    assert hits and "E1-3" not in [h.id for h in hits]
    assert len(hits) <= 5
    with pytest.raises(UnknownIdError, match="unknown question id 'E9-999'"):
        tiny_searcher.related("E9-999")


def test_chapter_passages_come_back_as_their_own_hits(tiny_settings, tiny_bank_text):
    from qbank.index.dense import HashingEmbedder
    from qbank.index.store import build_index, load_index
    from qbank.ingest.bank import parse_bank_text
    from qbank.ingest.pipeline import build_corpus
    from qbank.retrieval.searcher import Searcher

    ch = tiny_settings.chapters_dir
    ch.mkdir()
    (ch / "ch57.md").write_text("# Chapter 57: Vector search\n\n## Product quantization\n\n"
                                "Product quantization splits each vector into sub-vectors with a codebook each.\n")
    corpus = build_corpus(parse_bank_text(tiny_bank_text, str(tiny_settings.bank)), ch, tiny_settings)
    assert [p.id for p in corpus.passages] == ["ch57:p1"]
    cat = {c.number: c for c in corpus.chapters}
    assert cat[57].title == "Vector search" and cat[57].cited_by == ("E3-82",)
    build_index(corpus, tiny_settings, embedder=HashingEmbedder(256))
    s = Searcher(load_index(tiny_settings), tiny_settings)
    res = s.search("product quantization codebook", 5, "hybrid")
    kinds = {h.id: h.doc_type for h in res.hits}
    assert kinds["ch57:p1"] == "passage" and kinds["E3-82"] == "question"
    hit = next(h for h in res.hits if h.id == "ch57:p1")
    assert hit.to_dict()["heading_path"] == ["Chapter 57: Vector search", "Product quantization"]
    assert hit.to_dict()["cited_by"] == ["E3-82"]  # the passage links to the questions citing its chapter
    # question-only filters exclude passages; a chapter filter keeps both kinds
    assert all(h.doc_type == "question" for h in s.search("quantization", 5, "hybrid", s.parse_filters(kind="conceptual")).hits)
    assert {h.id for h in s.search("quantization", 5, "hybrid", s.parse_filters(chapter="57")).hits} == {"E3-82", "ch57:p1"}
