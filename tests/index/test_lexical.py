import numpy as np
import pytest

from qbank.errors import UnknownNameError
from qbank.index.lexical import BM25, tokenize, tokenize_query


def test_technical_terms_match_alike():
    assert tokenize("KV cache") == ["kv", "cach"]
    assert set(tokenize("KV cache")) <= set(tokenize("kv-cache")) == set(tokenize("KV-cache"))
    assert "allreduc" in tokenize("all-reduce") and tokenize("allreduce") == ["allreduc"]
    assert tokenize("p99 FP8 H100 70B") == ["p99", "fp8", "h100", "70b"]
    assert tokenize("FlashAttention") == ["flashattent", "flash", "attent"]
    assert tokenize("the of and") == []


def test_query_drops_meta_words_and_glues_pairs():
    vocab = {"flashattent", "kvcach"}
    assert tokenize_query("questions about flash attention", vocab) == ["flash", "attent", "flashattent"]
    assert tokenize_query("interview question", vocab) == []


def test_typo_falls_back_to_closest_term():
    vocab = {"specul", "decod", "pagedattent"}
    terms = tokenize_query("speculatve decodng", vocab)
    assert "specul" in terms and "decod" in terms


def test_an_english_word_the_bank_lacks_is_searched_near_but_not_announced_as_a_typo():
    from qbank.index.lexical import english_words
    from qbank.retrieval.searcher import corrected_query, shown_corrections

    vocab = {"floor", "neighbor", "kubernet"}
    assert {"floods", "neighbour", "casual"} <= english_words() and "kuberentes" not in english_words()
    fixed: dict[str, str] = {}
    terms = tokenize_query("a script floods the api near a neighbour", vocab, fixed)
    terms += tokenize_query("kuberentes probe", vocab, fixed)
    # every unknown word still brings its closest bank term to the search (a British spelling is found)
    assert {"floor", "neighbor", "kubernet"} <= set(terms)
    assert fixed == {"floods": "floor", "neighbour": "neighbor", "kuberentes": "kubernet"}
    # only the misspelling is announced: "floods" is not a typo of "floor"
    assert shown_corrections(fixed) == {"kuberentes": "kubernet"}
    surface = {"floor": "floor", "neighbor": "neighbor", "kubernet": "kubernetes"}
    assert corrected_query("floods hit the API", shown_corrections({"floods": "floor"}), surface) is None
    assert corrected_query("kuberentes probe", shown_corrections(fixed), surface) == "kubernetes probe"


DOCS = [tokenize(t) for t in [
    "kv cache memory for long context",
    "product quantization splits vectors",
    "speculative decoding with a draft model",
    "cache eviction policy lru cache",
]]


@pytest.mark.parametrize("variant", ["okapi", "plus", "l"])
@pytest.mark.parametrize("query", ["kv cache", "cache", "draft model speculative", "unseen words only"])
def test_scores_equal_rank_bm25(variant, query):
    bm = BM25(DOCS, variant, 1.2, 0.75, 1.0 if variant == "plus" else 0.5)
    q = tokenize(query)
    np.testing.assert_allclose(bm.scores(q), bm.reference_scores(q), rtol=0, atol=1e-12)


@pytest.mark.parametrize("variant", ["okapi", "plus", "l"])
def test_saved_bm25_scores_as_the_one_it_was_made_from(variant, tmp_path):
    delta = 1.0 if variant == "plus" else 0.5
    made = BM25(DOCS + [[]], variant, 1.2, 0.75, delta)
    made.save(tmp_path / "bm25.npz")
    loaded = BM25.load(tmp_path / "bm25.npz", variant, 1.2, 0.75, delta)
    assert loaded.idf == made.idf and list(loaded.vocabulary) == list(made.vocabulary)
    for query in ["kv cache", "cache cache eviction", "draft model speculative", "unseen words only"]:
        q = tokenize(query)
        np.testing.assert_array_equal(loaded.scores(q), made.scores(q))
        np.testing.assert_allclose(loaded.scores(q), made.reference_scores(q), rtol=0, atol=1e-12)
        assert loaded.matched(q).tolist() == made.matched(q).tolist()


def test_saved_bm25_refuses_other_parameters_and_garbage(tmp_path):
    BM25(DOCS, "plus", 1.2, 0.75, 1.0).save(tmp_path / "bm25.npz")
    with pytest.raises(ValueError, match="saved with plus k1=1.2 b=0.75 delta=1.0"):
        BM25.load(tmp_path / "bm25.npz", "plus", 1.5, 0.75, 1.0)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a saved BM25"):
        BM25.load(tmp_path / "bad.npz", "plus", 1.2, 0.75, 1.0)
    np.savez(tmp_path / "partial.npz", idf=np.zeros(3))
    with pytest.raises(ValueError, match="not a saved BM25"):
        BM25.load(tmp_path / "partial.npz", "plus", 1.2, 0.75, 1.0)


def test_bm25plus_hand_value():
    # 3 docs; "cache" in doc 0 (tf 1, len 2) only. idf = ln((3+1)/1); avgdl = 2
    bm = BM25([["cach", "x"], ["y", "z"], ["w", "v"]], "plus", k1=1.2, b=0.75, delta=1.0)
    idf = np.log(4.0)
    expected0 = idf * (1.0 + 1 * 2.2 / (1.2 * (1 - 0.75 + 0.75 * 2 / 2) + 1))
    s = bm.scores(["cach"])
    assert s[0] == pytest.approx(expected0)
    assert s[1] == pytest.approx(idf * 1.0)  # BM25+ lifts unmatched docs by delta·idf
    assert bm.matched(["cach"]).tolist() == [True, False, False]


def test_unknown_variant():
    with pytest.raises(UnknownNameError, match="unknown BM25 variant 'bm99'; choose one of: l, okapi, plus"):
        BM25(DOCS, "bm99")


def test_typo_fallback_cost_is_bounded(monkeypatch):
    import qbank.index.lexical as lx

    calls = []
    real = lx._TypoIndex.closest
    monkeypatch.setattr(lx._TypoIndex, "closest", lambda self, t: calls.append(t) or real(self, t))
    vocab = {"specul", "decod"}.union({f"term{i}" for i in range(50)})
    # ten unknown words: only the first three are looked up
    lx.tokenize_query("qwertz asdfgh yxcvbn poiuzt lkjhgf mnbvcx wertzu sdfghj xcvbnm ertzui", vocab)
    assert len(calls) == lx.MAX_TYPO_WORDS == 3
    # a long pasted question skips the fallback
    calls.clear()
    lx.tokenize_query(" ".join(["speculatve"] + ["decoding"] * 40), vocab)
    assert calls == []
    # answers are cached per vocabulary: the same misspelling twice is one difflib search
    ti = lx._TYPO_INDEXES[id(vocab)]
    assert ti.answers["qwertz"] is None
    calls.clear()
    assert "specul" in lx.tokenize_query("speculatve", vocab) and "specul" in lx.tokenize_query("speculatve", vocab)
    assert len(calls) == 2 and len([t for t in ti.answers if ti.answers[t] == "specul"]) == 1
