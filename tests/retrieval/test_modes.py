import pytest

from qbank.errors import QbankError, UnknownNameError
from qbank.retrieval.modes import DEFAULT_MODE, MODE_NAMES, MODES, get_mode, parse_modes


def test_registry_shape():
    assert MODE_NAMES == ("bm25", "dense", "hybrid", "learned", "full") and DEFAULT_MODE == "learned"
    assert get_mode("learned").learned and not get_mode("learned").rerank and get_mode("learned").fuse
    assert get_mode("hybrid").legs == ("bm25", "dense") and get_mode("hybrid").fuse
    assert get_mode("full").rerank and not get_mode("hybrid").rerank
    assert get_mode("bm25").legs == ("bm25",) and not get_mode("bm25").fuse
    with pytest.raises(UnknownNameError, match="unknown mode 'magic'; choose one of: bm25, dense, full, hybrid, learned"):
        get_mode("magic")


def test_parse_modes():
    assert parse_modes("bm25, hybrid,bm25", True) == ["bm25", "hybrid"]
    assert parse_modes("all", False) == ["bm25", "dense", "hybrid", "learned"]
    assert parse_modes("all", True) == ["bm25", "dense", "hybrid", "learned", "full"]
    with pytest.raises(UnknownNameError, match="unknown mode 'x'; choose one of: all, bm25"):
        parse_modes("bm25,x", True)
    with pytest.raises(QbankError, match="at least one mode"):
        parse_modes(" , ", True)


def test_search_runs_each_mode_of_the_registry(tiny_searcher):
    for name, spec in MODES.items():
        if spec.rerank:
            continue
        res = tiny_searcher.search("KV cache", 3, name)
        assert res.mode == name and res.hits
        assert set(res.hits[0].legs) >= set(spec.legs)


def test_learned_mode_without_a_ranker_keeps_the_fused_order_and_says_so(tiny_searcher):
    learned = tiny_searcher.search("KV cache memory", 5, "learned")
    hybrid = tiny_searcher.search("KV cache memory", 5, "hybrid")
    assert [h.id for h in learned.hits] == [h.id for h in hybrid.hits]
    assert learned.params["learned"].startswith("no learned ranker in ") and "fused order is kept" in learned.params["learned"]
