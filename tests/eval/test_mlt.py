"""Related modes in the eval harness: seed ids as queries, the plain baseline beside related()."""

import pytest

from qbank.errors import EvalDataError, QbankError
from qbank.eval.mlt import MoreLikeThis, check_modes, related_runner
from qbank.eval.runner import evaluate_modes
from qbank.eval.sets import load_eval_set


def test_baseline_ranks_whole_questions(tiny_searcher):
    mlt = MoreLikeThis(tiny_searcher.index)
    got = mlt.related("E3-81", 9)
    assert "E3-81" not in got and len(got) == 9 and len(set(got)) == 9
    # the LRU-cache-for-KV-blocks question shares "KV" and "cache" with the KV-cache size question
    assert got.index("E12-467") < got.index("E13-516")


def test_related_modes_side_by_side(tiny_searcher):
    queries = {"R1": "E3-81", "R2": "e1-3"}  # ids are normalised like everywhere else
    qrels = {"R1": {"E12-467": 2, "E1-3": 1}, "R2": {"E1-2": 2}}
    rep = evaluate_modes(tiny_searcher, queries, qrels, ["related", "mlt"], "tiny related")
    assert set(rep.modes) == {"related", "mlt"} and rep.n_queries == 2
    assert rep.significance["related"]["against"] == "mlt"
    run = rep.modes["related"].run
    assert "E3-81" not in run["R1"] and "E1-3" not in run["R2"]


def test_mixing_search_and_related_modes_is_refused():
    with pytest.raises(QbankError, match="take question ids as queries"):
        check_modes(["hybrid", "related"])


def test_unknown_seed_is_a_clear_error(tiny_searcher):
    with pytest.raises(EvalDataError, match="'E9-999' is not a question id"):
        related_runner(tiny_searcher, "related")("E9-999", 10)


def test_shipped_related_set():
    es = load_eval_set("related")
    assert len(es.queries) >= 50 and set(es.queries) == set(es.qrels)
    assert all(t.startswith("E") and "-" in t for t in es.queries.values())
    assert all(any(g == 2 for g in rel.values()) for rel in es.qrels.values())
