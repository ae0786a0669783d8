"""One vector per document of a loaded index, from the vectors it already holds (no model): what study
sets use to spread their picks and to spot near-duplicates."""

from __future__ import annotations

import numpy as np


def question_vector(index, doc_id: str) -> np.ndarray:
    """One unit vector for a question (or passage): the mean of the vectors of its own text's
    chunks — never its sample queries, which describe what users type, not what it says."""
    v = index.vectors[index.doc_text_rows[doc_id]].mean(axis=0)
    return (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)


def question_matrix(index, doc_ids: list[str]) -> np.ndarray:
    """:func:`question_vector` of each id, stacked (rows in ``doc_ids`` order).

    On an index without dense vectors the rows are unit term-count vectors over the BM25 terms of
    each document's own text, so cosine still says how much two questions overlap."""
    if index.has_dense:
        if not doc_ids:
            return np.zeros((0, index.vectors.shape[1]), np.float32)
        return np.vstack([question_vector(index, d) for d in doc_ids])
    vocab: dict[str, int] = {}
    bags = []
    for d in doc_ids:
        bag: dict[int, float] = {}
        for r in index.doc_rows[d]:
            if index.sample_query_mask[r]:
                continue
            for t in index.tokens[r]:
                j = vocab.setdefault(t, len(vocab))
                bag[j] = bag.get(j, 0.0) + 1.0
        bags.append(bag)
    out = np.zeros((len(doc_ids), max(1, len(vocab))), np.float32)
    for i, bag in enumerate(bags):
        out[i, list(bag)] = list(bag.values())
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms
