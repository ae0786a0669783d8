import random

import pytest

from qbank.eval.metrics import (
    average_precision,
    evaluate,
    mean,
    mrr_at,
    ndcg_at,
    paired_randomisation_test,
    ranked,
    recall_at,
    success_at,
)


def test_hand_values():
    qrel = {"a": 2, "b": 1, "c": 1}
    r = ["x", "a", "y", "b"]
    assert recall_at(r, qrel, 2) == pytest.approx(1 / 3)
    assert recall_at(r, qrel, 10) == pytest.approx(2 / 3)
    assert success_at(r, qrel, 1) == 0.0 and success_at(r, qrel, 2) == 1.0
    from qbank.eval.metrics import success2_at

    assert success2_at(["b", "a"], qrel, 1) == 0.0 and success2_at(["b", "a"], qrel, 2) == 1.0
    assert mrr_at(r, qrel) == 0.5
    # dcg = 2/log2(3) + 1/log2(5); ideal = 2/1 + 1/log2(3) + 1/2
    import math

    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    ideal = 2 + 1 / math.log2(3) + 0.5
    assert ndcg_at(r, qrel, 10) == pytest.approx(dcg / ideal)
    assert average_precision(r, qrel) == pytest.approx((1 / 2 + 2 / 4) / 3)


def test_ties_break_like_trec_eval():
    assert ranked({"a": 1.0, "b": 1.0, "c": 2.0}) == ["c", "b", "a"]


def test_missing_query_scores_zero_not_dropped():
    per_q = evaluate({"q1": {"a": 1.0}}, {"q1": {"a": 1}, "q2": {"b": 1}}, ("ndcg@10", "recall@10"))
    assert per_q["q2"] == {"ndcg@10": 0.0, "recall@10": 0.0}
    assert mean(per_q)["recall@10"] == 0.5


def test_agrees_with_pytrec_eval_on_random_runs_with_ties():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(7)
    docs = [f"d{i}" for i in range(30)]
    qrels, run = {}, {}
    for q in range(40):
        qid = f"q{q}"
        qrels[qid] = {d: rng.choice([1, 1, 2]) for d in rng.sample(docs, rng.randint(1, 6))}
        # scores drawn from a few values, so ties are frequent
        run[qid] = {d: float(rng.randint(0, 5)) for d in rng.sample(docs, rng.randint(0, 25))}
    run["q0"] = {}  # a query with no results
    ours = evaluate(run, qrels, ("ndcg@10", "map", "recall@5", "recall@20", "success@1"))
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "map", "recall.5,20", "success.1"})
    theirs = ev.evaluate({q: r for q, r in run.items() if r})
    for qid in qrels:
        t = theirs.get(qid, {"ndcg_cut_10": 0.0, "map": 0.0, "recall_5": 0.0, "recall_20": 0.0, "success_1": 0.0})
        assert ours[qid]["ndcg@10"] == pytest.approx(t["ndcg_cut_10"], abs=1e-6)
        assert ours[qid]["map"] == pytest.approx(t["map"], abs=1e-6)
        assert ours[qid]["recall@5"] == pytest.approx(t["recall_5"], abs=1e-6)
        assert ours[qid]["recall@20"] == pytest.approx(t["recall_20"], abs=1e-6)
        assert ours[qid]["success@1"] == pytest.approx(t["success_1"], abs=1e-6)


def test_randomisation_test():
    assert paired_randomisation_test([1, 1, 1], [1, 1, 1]) == 1.0
    p = paired_randomisation_test([1.0] * 30, [0.0] * 30)
    assert p < 0.001
