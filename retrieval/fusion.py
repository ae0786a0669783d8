"""Rank fusion as a small pure function (reciprocal rank fusion), used by every fused ranking.

Each input is one leg's ranking: a list of ids, best first (rank 1 = index 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def rrf(rankings: Mapping[str, Sequence[str]], rrf_k: int = 60, weights: Mapping[str, float] | None = None,
        k: int | None = None) -> list[tuple[str, float]]:
    """Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009).

    ``score(d) = Σ_leg weight_leg / (rrf_k + rank_leg(d))`` with 1-based ranks; a document absent
    from a leg gets nothing from it. Ties break by id, so results are deterministic.

    >>> rrf({"bm25": ["a", "b"], "dense": ["b", "c"]}, rrf_k=60)
    [('b', 0.03252247488101534), ('a', 0.01639344262295082), ('c', 0.016129032258064516)]
    """
    if rrf_k < 1:
        raise ValueError("rrf_k must be >= 1")
    scores: dict[str, float] = {}
    for leg, ranking in rankings.items():
        w = 1.0 if weights is None else float(weights.get(leg, 1.0))
        if w == 0:
            continue
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + w / (rrf_k + rank)
    fused = sorted(scores.items(), key=lambda x: (-x[1], x[0]))
    return fused if k is None else fused[:k]
