"""Related-question modes for ``qbank eval``: the queries of a related set are seed question ids.

- ``related``: :meth:`qbank.retrieval.searcher.Searcher.related`, what the product serves.
- ``mlt``: the plain more-like-this baseline a user would assemble (issue "Ranking that learns"):
  rank-bm25's ``BM25Okapi`` (default parameters) with the seed's full text as the query over one
  document per question, plus cosine between whole-question MiniLM vectors, fused by RRF with
  k = 60 and equal weights. No co-relevance graph, no tuning.
"""

from __future__ import annotations

import numpy as np

from qbank.errors import EvalDataError, QbankError, UnknownNameError
from qbank.index.lexical import tokenize
from qbank.records import normalise_id
from qbank.retrieval.fusion import rrf

RELATED_MODES = {
    "related": "related questions as served (whole-question BM25 + vectors + co-relevance graph)",
    "mlt": "plain more-like-this baseline (BM25Okapi over whole questions + whole-question cosine, RRF k=60)",
}
DEFAULT_RELATED_MODES = ("related", "mlt")


def is_related_mode(mode: str) -> bool:
    return mode in RELATED_MODES


def check_modes(modes: list[str]) -> None:
    """Search modes and related modes read different queries (text vs seed ids): never mixed."""
    kinds = {is_related_mode(m) for m in modes}
    if len(kinds) > 1:
        raise QbankError("related modes (" + ", ".join(RELATED_MODES) + ") take question ids as queries; "
                         "evaluate them apart from search modes")


class MoreLikeThis:
    """The baseline, built once per index (BM25Okapi over the questions' full texts)."""

    def __init__(self, index) -> None:
        from rank_bm25 import BM25Okapi

        self.index = index
        self.ids = [q.id for q in index.questions]
        self.bm25 = BM25Okapi([tokenize(q.full_text()) or ["_"] for q in index.questions])

    def related(self, question_id: str, k: int) -> list[str]:
        idx = self.index
        i = idx.question_row[question_id]
        legs = {"bm25": _order(self.bm25.get_scores(tokenize(idx.questions[i].full_text())), i)}
        if idx.has_dense:
            qv = idx.question_vectors
            legs["dense"] = _order(qv @ qv[i], i)
        return [self.ids[j] for j, _ in rrf(legs, 60)][:k]


def _order(scores: np.ndarray, skip: int) -> list[int]:
    order = np.lexsort((np.arange(len(scores)), -np.asarray(scores)))
    return [int(j) for j in order if j != skip]


def related_runner(searcher, mode: str):
    """``f(seed_id, k) -> ranked question ids`` for a related mode."""
    if mode not in RELATED_MODES:
        raise UnknownNameError("related mode", mode, list(RELATED_MODES))
    idx = searcher.index
    mlt = MoreLikeThis(idx) if mode == "mlt" else None

    def run(seed: str, k: int) -> list[str]:
        qid = normalise_id(seed)
        if qid not in idx.question_by_id:
            raise EvalDataError(f"related set: {seed!r} is not a question id of this bank")
        if mlt is not None:
            return mlt.related(qid, k)
        return [h.id for h in searcher.related(qid, k)]

    return run
