"""The two retrieval legs as functions of a loaded index, and the roll-up they share.

Each leg ranks *chunks*; :func:`rollup` turns a chunk ranking into a question (or passage)
ranking: a document's place in a leg is the place of its best chunk (``max`` roll-up, chosen on
the golden set, README), so it appears once, with the chunk that matched best. A ``mask`` (one
bool per chunk row, from the filters) is applied inside each leg before ranking, so a selective
filter still returns up to ``depth`` documents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qbank.index.dense import ann_search
from qbank.index.store import LoadedIndex

# up to this many allowed rows a filtered dense search is exact: HNSW with a filter that rejects most
# rows loses neighbours (recall@10 0.24 at 1M chunks with a 2% filter, even with a 4,096 beam) and took
# 17.7 ms there, about what an exact scan of 25k rows costs (docs/scaling.md)
EXACT_FILTER_ROWS = 25_000


@dataclass(frozen=True, slots=True)
class LegRanking:
    """One leg's ranking after roll-up: doc ids best first, with score and best chunk row."""

    docs: list[str]
    scores: dict[str, float]
    best_row: dict[str, int]
    total: int = 0  # documents the leg matched before its depth cut (bm25: those holding a query term)

    @classmethod
    def empty(cls) -> LegRanking:
        return cls([], {}, {})


def rollup(rows: np.ndarray, scores: np.ndarray, doc_ids: np.ndarray, depth: int) -> LegRanking:
    """Chunk rows (best first) → the first ``depth`` distinct documents, each at its best chunk.

    >>> r = rollup(np.array([2, 0, 1]), np.array([0.9, 0.8, 0.7]), np.array(["a", "a", "b"]), 5)
    >>> r.docs, r.best_row
    (['b', 'a'], {'b': 2, 'a': 0})
    """
    docs: list[str] = []
    best: dict[str, int] = {}
    sc: dict[str, float] = {}
    for r, s in zip(rows.tolist(), scores.tolist()):
        d = str(doc_ids[r])
        if d in best:
            continue
        best[d] = r
        sc[d] = float(s)
        docs.append(d)
        if len(docs) >= depth:
            break
    return LegRanking(docs, sc, best)


def ranked(rows: np.ndarray, scores: np.ndarray, need: int) -> np.ndarray:
    """Positions of ``rows`` by score, best first, row order on ties — at least the first ``need`` of
    the full order and exactly as the full sort would give them. A long list is cut first to the
    ``need`` best *and every row tied with the last of them* (argpartition), so a common word over a
    million chunks is not a million-row sort.

    >>> ranked(np.array([5, 3, 9, 1]), np.array([0.2, 0.9, 0.2, 0.5]), 2).tolist()
    [1, 3, 0, 2]
    """
    if len(scores) > 4 * need > 0:
        kth = np.partition(-scores, need - 1)[need - 1]
        keep = np.flatnonzero(-scores <= kth)  # the need best and their ties
        return keep[np.lexsort((rows[keep], -scores[keep]))]
    return np.lexsort((rows, -scores))


def bm25_leg(index: LoadedIndex, terms: list[str], mask: np.ndarray | None, depth: int) -> LegRanking:
    """BM25 over the chunks the lexical leg indexes; only chunks sharing a term with the query rank."""
    if not terms:
        return LegRanking.empty()
    scores = index.bm25.scores(terms)  # one per BM25 document: chunk row index.lexical_rows[j]
    ok = index.bm25.matched(terms)
    if mask is not None:
        ok &= mask[index.lexical_rows]
    docs = np.flatnonzero(ok)
    if not len(docs):
        return LegRanking.empty()
    rows, scores = index.lexical_rows[docs], scores[docs]
    seen = np.zeros(len(index.doc_order), dtype=bool)  # O(rows + documents): no sort of a long match list
    seen[index.chunk_doc[rows]] = True
    total = int(seen.sum())
    # score desc, then row order (deterministic ties); enough chunks for `depth` documents, else all
    per_doc = len(index.lexical_rows) / max(1, len(index.doc_rows))
    order = ranked(rows, scores, int(depth * max(4.0, 2 * per_doc)))
    leg = rollup(rows[order], scores[order], index.doc_ids, depth)
    if len(leg.docs) < depth and len(order) < len(rows):  # the cut held too few documents: the full order
        order = np.lexsort((rows, -scores))
        leg = rollup(rows[order], scores[order], index.doc_ids, depth)
    return LegRanking(leg.docs, leg.scores, leg.best_row, total)


def dense_leg(index: LoadedIndex, qvec: np.ndarray, mask: np.ndarray | None, depth: int,
              ef_search: int) -> LegRanking:
    """Nearest chunk vectors by inner product (cosine): HNSW, or an exact scan under a selective filter."""
    dense_rows = index.dense_rows  # FAISS id i = chunk row dense_rows[i]
    per_doc = len(dense_rows) / max(1, len(index.doc_rows))
    fetch = min(len(dense_rows), int(depth * max(4.0, per_doc)))  # over-fetch chunks before roll-up
    if mask is not None:
        allowed = np.flatnonzero(mask[dense_rows])  # FAISS ids
        if not len(allowed):
            return LegRanking.empty()
        if len(allowed) <= EXACT_FILTER_ROWS:
            rows = dense_rows[allowed]
            sims = index.vectors[rows] @ qvec
            order = ranked(rows, sims, fetch)[:fetch]
            return rollup(rows[order], sims[order], index.doc_ids, depth)
        scores, ids = ann_search(index.ann, qvec, fetch, ef_search, allowed)
    else:
        scores, ids = ann_search(index.ann, qvec, fetch, ef_search)
    return rollup(dense_rows[ids], scores, index.doc_ids, depth)


def _question_ranking(index: LoadedIndex, scores: np.ndarray, allowed: np.ndarray, depth: int) -> LegRanking:
    """Question-level scores (``index.questions`` order) → a ranking of the ``allowed`` ones, each
    shown at its first own-text chunk; ties in question order."""
    rows = np.flatnonzero(allowed)
    order = rows[np.lexsort((rows, -scores[rows]))][:depth]
    docs = [index.questions[i].id for i in order.tolist()]
    return LegRanking(docs, {d: float(scores[i]) for d, i in zip(docs, order.tolist())},
                      {d: (index.doc_text_rows.get(d) or index.doc_rows[d])[0] for d in docs})


def related_legs(index: LoadedIndex, question_id: str, allowed: np.ndarray, depth: int,
                 corelevance: bool = True) -> dict[str, LegRanking]:
    """The legs of related questions, over whole questions (``allowed``: one bool per question, the
    seed already excluded): ``bm25`` (the seed's full text as the query over full-text documents),
    ``dense`` (cosine of whole-question vectors) and, when the index has the co-relevance graph and
    the seed is in it, ``corelevance`` (only linked questions rank)."""
    from qbank.index.lexical import tokenize

    seed = index.questions[index.question_row[question_id]]
    terms = tokenize(seed.full_text())
    legs: dict[str, LegRanking] = {}
    bm = index.question_bm25
    legs["bm25"] = _question_ranking(index, bm.scores(terms), allowed & bm.matched(terms), depth)
    if index.has_dense:
        qv = index.question_vectors
        legs["dense"] = _question_ranking(index, qv @ qv[index.question_row[question_id]], allowed, depth)
    links = index.corelevance.get(question_id) if corelevance else None
    if links:
        w = np.zeros(len(index.questions))
        for other, weight in links.items():
            if other in index.question_row:
                w[index.question_row[other]] = weight
        legs["corelevance"] = _question_ranking(index, w, allowed & (w > 0), depth)
    return legs
