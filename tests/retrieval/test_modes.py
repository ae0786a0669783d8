import pytest

from qbank.errors import QbankError, UnknownNameError
from qbank.retrieval.modes import DEFAULT_MODE, MODE_NAMES, MODES, get_mode, parse_modes


def test_registry_shape():
    assert MODE_NAMES == ("bm25", "dense", "hybrid", "full") and DEFAULT_MODE in MODES
    assert get_mode("hybrid").legs == ("bm25", "dense") and get_mode("hybrid").fuse
    assert get_mode("full").rerank and not get_mode("hybrid").rerank
    assert get_mode("bm25").legs == ("bm25",) and not get_mode("bm25").fuse
    with pytest.raises(UnknownNameError, match="unknown mode 'magic'; choose one of: bm25, dense, full, hybrid"):
        get_mode("magic")


def test_parse_modes():
    assert parse_modes("bm25, hybrid,bm25", True) == ["bm25", "hybrid"]
    assert parse_modes("all", False) == ["bm25", "dense", "hybrid"]
    assert parse_modes("all", True) == ["bm25", "dense", "hybrid", "full"]
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
