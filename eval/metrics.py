"""Retrieval metrics as pure functions, with trec_eval's meanings.

Runs and qrels are plain dicts in the pytrec_eval shape: ``run = {qid: {doc: score}}``,
``qrels = {qid: {doc: grade}}``. A run is ranked the way trec_eval ranks it: score descending,
ties broken by doc id descending. A doc is relevant when its grade is >= 1.

* ``recall@k`` — fraction of the relevant docs found in the top k (trec_eval ``recall_k``);
* ``success@k`` — 1 if any relevant doc is in the top k (never called recall);
* ``success2@k`` — 1 if a *squarely* relevant doc (grade >= 2) is in the top k (graded sets only);
* ``mrr@10`` — reciprocal rank of the first relevant doc within the top 10, else 0;
* ``ndcg@10`` — trec_eval ``ndcg_cut_10``: linear gain (the grade), log2(rank + 1) discount,
  ideal ranking from all judged grades;
* ``map`` — trec_eval ``map`` over the whole run.

A query in the qrels with no results scores 0 on everything and is never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

RECALL_KS = (1, 3, 5, 10, 20, 50, 100)
SUCCESS_KS = (1, 3, 5, 10, 20)
DEFAULT_METRICS = ("ndcg@10", "mrr@10", "map", *(f"recall@{k}" for k in RECALL_KS), *(f"success@{k}" for k in SUCCESS_KS),
                   "success2@1")
PRIMARY = "ndcg@10"


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Doc ids in trec_eval order: score descending, then doc id descending."""
    return [d for d, _ in sorted(scores.items(), key=lambda x: (x[1], x[0]), reverse=True)]


def recall_at(ranking: list[str], qrel: Mapping[str, int], k: int) -> float:
    rel = {d for d, g in qrel.items() if g >= 1}
    if not rel:
        return 0.0
    return sum(1 for d in ranking[:k] if d in rel) / len(rel)


def success_at(ranking: list[str], qrel: Mapping[str, int], k: int) -> float:
    return 1.0 if any(qrel.get(d, 0) >= 1 for d in ranking[:k]) else 0.0


def success2_at(ranking: list[str], qrel: Mapping[str, int], k: int) -> float:
    return 1.0 if any(qrel.get(d, 0) >= 2 for d in ranking[:k]) else 0.0


def mrr_at(ranking: list[str], qrel: Mapping[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranking[:k], start=1):
        if qrel.get(d, 0) >= 1:
            return 1.0 / i
    return 0.0


def dcg(gains: list[float]) -> float:
    return sum(g / math.log2(i + 1) for i, g in enumerate(gains, start=1))


def ndcg_at(ranking: list[str], qrel: Mapping[str, int], k: int = 10) -> float:
    ideal = dcg(sorted((float(g) for g in qrel.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([float(max(qrel.get(d, 0), 0)) for d in ranking[:k]]) / ideal


def average_precision(ranking: list[str], qrel: Mapping[str, int]) -> float:
    n_rel = sum(1 for g in qrel.values() if g >= 1)
    if not n_rel:
        return 0.0
    hits, total = 0, 0.0
    for i, d in enumerate(ranking, start=1):
        if qrel.get(d, 0) >= 1:
            hits += 1
            total += hits / i
    return total / n_rel


def metric_value(name: str, ranking: list[str], qrel: Mapping[str, int]) -> float:
    base, _, cut = name.partition("@")
    k = int(cut) if cut else None
    if base == "recall":
        return recall_at(ranking, qrel, k)
    if base == "success":
        return success_at(ranking, qrel, k)
    if base == "success2":
        return success2_at(ranking, qrel, k)
    if base == "mrr":
        return mrr_at(ranking, qrel, k or 10)
    if base == "ndcg":
        return ndcg_at(ranking, qrel, k or 10)
    if base == "map":
        return average_precision(ranking, qrel)
    from qbank.errors import UnknownNameError

    raise UnknownNameError("metric", name, ["recall@K", "success@K", "success2@K", "mrr@K", "ndcg@K", "map"])


def evaluate(run: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]],
             metrics: tuple[str, ...] = DEFAULT_METRICS) -> dict[str, dict[str, float]]:
    """Per-query metric values for every query in ``qrels`` (missing from the run → 0)."""
    out: dict[str, dict[str, float]] = {}
    for qid, qrel in qrels.items():
        r = ranked(run.get(qid, {}))
        out[qid] = {m: metric_value(m, r, qrel) for m in metrics}
    return out


def mean(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    if not per_query:
        return {}
    names = next(iter(per_query.values())).keys()
    return {m: sum(v[m] for v in per_query.values()) / len(per_query) for m in names}


def paired_randomisation_test(a: list[float], b: list[float], trials: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value of mean(a - b) under random sign flips of the per-query differences."""
    import numpy as np

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(d) == 0 or not d.any():
        return 1.0
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    signs = rng.choice((-1.0, 1.0), size=(trials, len(d)))
    null = np.abs((signs * d).mean(axis=1))
    return float((1 + (null >= observed - 1e-12).sum()) / (trials + 1))
