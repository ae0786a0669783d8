"""Match strength (retrieval/confidence.py), corrected queries, and their threshold choice
(qbank/training/confidence.py): values worked out by hand."""

from __future__ import annotations

import math

import pytest

from qbank.index.lexical import surface_forms, tokenize_query
from qbank.retrieval.confidence import MatchThresholds, match_signals, match_strength
from qbank.retrieval.legs import LegRanking
from qbank.retrieval.searcher import corrected_query
from qbank.training.confidence import choose

T = MatchThresholds(cosine_strong=0.45, lexical_strong=0.55, cosine_none=0.3)


@pytest.mark.parametrize("signals, want", [
    ({"cosine": 0.45, "lexical": 0.0}, "strong"),   # cosine at its threshold
    ({"cosine": 0.1, "lexical": 0.55}, "strong"),   # lexical share at its threshold
    ({"cosine": 0.44, "lexical": 0.54}, "weak"),    # both just below; some term matched
    ({"cosine": 0.31, "lexical": 0.0}, "weak"),     # nothing lexical, but above the floor
    ({"cosine": 0.29, "lexical": 0.0}, "none"),     # nothing lexical, below the floor
    ({"cosine": None, "lexical": 0.0}, "none"),     # bm25 mode, no term found
    ({"cosine": None, "lexical": 0.3}, "weak"),
    ({"cosine": 0.2, "lexical": None}, "none"),     # dense mode, far away
])
def test_match_strength_rules(signals, want):
    assert match_strength(signals, T) == want


def test_lexical_share_is_the_idf_mass_of_the_query_found_in_the_best_bm25_chunk(tiny_index):
    """Two known terms with IDFs a and b, the best chunk holding only the first: a / (a + b); an
    unknown word weighs UNKNOWN_IDF against; a corrected word's own term counts for nothing."""
    from qbank.retrieval.confidence import UNKNOWN_IDF

    idf = tiny_index.bm25.idf
    row = next(r for r in tiny_index.lexical_rows.tolist() if "quantiz" in tiny_index.tokens[r])
    have = set(tiny_index.tokens[row])
    absent = next(t for t in sorted(idf) if t not in have and idf[t] > 0)
    doc = tiny_index.doc_ids[row]
    legs = {"bm25": LegRanking([doc], {doc: 1.0}, {doc: row}), "dense": LegRanking([doc], {doc: 0.61}, {doc: row})}
    a, b = idf["quantiz"], idf[absent]
    s = match_signals(tiny_index, ["quantiz", absent], legs)
    assert s["cosine"] == 0.61 and math.isclose(s["lexical"], round(a / (a + b), 4))
    s = match_signals(tiny_index, ["quantiz", "zzqx"], legs)
    assert math.isclose(s["lexical"], round(a / (a + UNKNOWN_IDF), 4))
    s = match_signals(tiny_index, ["quantiz", "zzqx"], legs, corrected=frozenset({"zzqx"}))
    assert s["lexical"] == 1.0
    assert match_signals(tiny_index, ["quantiz"], {"bm25": LegRanking.empty()}) == {"cosine": None, "lexical": 0.0}


def test_typo_corrections_are_recorded_and_shown_in_the_bank_s_words():
    vocab = {"specul", "decod", "cach"}
    corr: dict[str, str] = {}
    terms = tokenize_query("Speculatve decodng cache", vocab, corr)
    assert corr == {"speculatve": "specul", "decodng": "decod"} and {"specul", "decod", "cach"} <= set(terms)
    surface = surface_forms(["Speculative decoding: speculative sampling decodes", "decoding twice"])
    assert surface["specul"] == "speculative" and surface["decod"] == "decoding"
    assert corrected_query("Speculatve decodng cache", corr, surface) == "speculative decoding cache"
    assert corrected_query("cache", {}, surface) is None
    # a term whose bank word is the word as typed changes nothing
    assert corrected_query("decoding", {"decoding": "decod"}, surface) is None


def test_thresholds_are_chosen_for_precision_then_recall():
    rows = [({"cosine": 0.7, "lexical": 0.2}, True), ({"cosine": 0.3, "lexical": 0.0}, False),
            ({"cosine": 0.5, "lexical": 0.6}, True), ({"cosine": 0.3, "lexical": 0.3}, False)]
    # grid from (0.40, 0.30): 0.40/0.30 also takes row 4 (2 of 3 right < 0.9); 0.40/0.35 takes rows 1 and 3,
    # both right, all relevant ones; the floor is capped at the strong cosine
    th, table = choose(rows)
    assert th == {"cosine_strong": 0.4, "lexical_strong": 0.35, "cosine_none": 0.4}
    assert table[0] == "| strong | 2 | 0.500 | 1.000 |" and table[2] == "| none | 1 | 0.250 | 0.000 |"


def test_search_reports_match_and_correction(tiny_searcher):
    from qbank.retrieval.filters import Filters

    r = tiny_searcher.search("prodcut quantization", 3)
    assert r.corrected_query == "product quantization" and r.match == "strong" and r.hits[0].id == "E3-82"
    d = r.to_dict()
    assert d["match"] == "strong" and d["corrected_query"] == "product quantization" and set(d["match_signals"]) == {
        "cosine", "lexical"}
    assert tiny_searcher.search("product quantization", 3).corrected_query is None
    r = tiny_searcher.search("qwxzv plmkj", 3, mode="bm25")
    assert r.match == "none" and r.match_signals["lexical"] == 0.0
    # a filter that keeps no matching question: whatever comes back is no strong match
    r = tiny_searcher.search("product quantization", 3, mode="bm25", filters=Filters(kind=("behavioral",)))
    assert r.match != "strong"


def test_a_search_that_filters_leave_empty_says_what_each_filter_costs(tiny_searcher):
    from qbank.retrieval.filters import Filters

    qs = tiny_searcher.index.questions
    f = Filters(section=(1,), kind=("design",))
    r = tiny_searcher.search("kv cache", 5, filters=f)
    assert r.hits == [] and r.message == "no question matches these filters"
    want = sorted([{"drop": "kind", "values": ["design"], "questions": sum(q.section == 1 for q in qs)},
                   {"drop": "section", "values": [1], "questions": sum(q.kind == "design" for q in qs)}],
                  key=lambda x: (-x["questions"], x["drop"]))
    assert r.relax == want and r.to_dict()["relax"] == want
    assert tiny_searcher.search("kv cache", 5).relax == []  # no filters, nothing to drop
    assert tiny_searcher.search("kv cache", 5, filters=Filters(section=(3,))).relax == []  # hits, strong
    from qbank.retrieval.confidence import match_notes

    assert match_notes("none", None, True, False, want)[-1] == (
        f"dropping one filter: {want[0]['drop']} {', '.join(map(str, want[0]['values']))} → {want[0]['questions']} "
        f"questions left; {want[1]['drop']} {', '.join(map(str, want[1]['values']))} → {want[1]['questions']} "
        "questions left")
