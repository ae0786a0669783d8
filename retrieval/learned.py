"""The learned combination that ``learned`` and ``full`` rank their top-N with: a small model over
what the legs already know about each hit, whole-question signals, and (``full``) the
cross-encoder's score.

Features of a hit (:data:`FEATURES`; computed over the N hits being reordered, so every "max" is
the list's): its fused score; its place and score in each leg (reciprocal ranks at k = 60 and
k = 0, BM25 score over the list's best, dense cosine and its gap to the best); whether the intent
leg kept it; which field its best chunk is (a sample query, the stem); the cosine between the query
vector and the question's whole-text vector, its gap to the best, and BM25 of the query over
whole-question documents (:mod:`qbank.index.related`); its place in the fused list; the cosine to
the question's own stem, its gap to the best, and the mean of the best three and of all cosines to
its sample queries (the dense leg keeps only the single best chunk; these say whether the stem
itself and the question's queries as a group agree).

The model (:class:`LearnedRanker`) is linear in the standardised features plus one small tanh
hidden layer; fitted on the judged training split with a listwise (ListNet) loss whose targets are
the judges' grades (:func:`qbank.training.learned.fit_learned_ranker`), the cross-encoder's weight
and N on the dev split (:mod:`qbank.training.reranker`), and shipped in the reranker's manifest.
Standardisation (mean, std) is part of the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qbank.errors import QbankError
from qbank.index.lexical import tokenize
from qbank.index.store import LoadedIndex
from qbank.records import Hit

FEATURES: tuple[str, ...] = (
    "fused", "bm25_rr", "dense_rr", "bm25_top", "dense_top", "bm25_norm", "dense_cos", "dense_gap",
    "intent", "field_queries", "field_stem", "whole_cos", "whole_gap", "whole_bm25", "position",
    "stem_cos", "stem_gap", "queries_top3", "queries_mean",
)


def _leg(hit: Hit, name: str) -> tuple[int | None, float]:
    leg = hit.legs.get(name)
    if leg is None or leg.rank is None:
        return None, 0.0
    return leg.rank, float(leg.score or 0.0)


def hit_features(index: LoadedIndex, hits: Sequence[Hit], query: str, qvec: np.ndarray | None) -> np.ndarray:
    """``[len(hits), len(FEATURES)]`` float64; a passage hit gets zero whole-question features."""
    n = len(hits)
    if n == 0:
        return np.zeros((0, len(FEATURES)))
    br, bs = zip(*(_leg(h, "bm25") for h in hits))
    dr, ds = zip(*(_leg(h, "dense") for h in hits))
    bs, ds = np.array(bs), np.array(ds)
    rows = [index.question_row.get(h.id) for h in hits]
    whole_cos = np.zeros(n)
    whole_bm25 = np.zeros(n)
    have = [i for i, r in enumerate(rows) if r is not None]
    if have and qvec is not None and index.has_dense:
        whole_cos[have] = index.question_vectors[[rows[i] for i in have]] @ qvec
    terms = tokenize(query)
    if have and terms:
        sc = index.question_bm25.scores(terms)
        whole_bm25[have] = sc[[rows[i] for i in have]] / (float(sc.max()) or 1.0)
    stem_cos, queries_top3, queries_mean = np.zeros(n), np.zeros(n), np.zeros(n)
    if have and qvec is not None and index.has_dense:
        stem_cos, queries_top3, queries_mean = _own_text_cosines(index, [hits[i].id for i in have], qvec, n, have)
    fused = np.array([h.score for h in hits], dtype=np.float64)
    cols = {
        "fused": fused / (fused.max() or 1.0),
        "bm25_rr": np.array([60.0 / (60 + r) if r else 0.0 for r in br]),
        "dense_rr": np.array([60.0 / (60 + r) if r else 0.0 for r in dr]),
        "bm25_top": np.array([1.0 / r if r else 0.0 for r in br]),
        "dense_top": np.array([1.0 / r if r else 0.0 for r in dr]),
        "bm25_norm": bs / (bs.max() or 1.0),
        "dense_cos": ds,
        "dense_gap": ds - ds.max(),
        "intent": np.array([1.0 if "intent" in h.legs and h.legs["intent"].rank else 0.0 for h in hits]),
        "field_queries": np.array([1.0 if h.chunk_field == "queries" else 0.0 for h in hits]),
        "field_stem": np.array([1.0 if h.chunk_field == "stem" else 0.0 for h in hits]),
        "whole_cos": whole_cos,
        "whole_gap": np.where(whole_cos != 0, whole_cos - (whole_cos.max() if have else 0.0), 0.0),
        "whole_bm25": whole_bm25,
        "position": 1.0 / (1.0 + np.arange(n)),
        "stem_cos": stem_cos,
        "stem_gap": np.where(stem_cos != 0, stem_cos - (stem_cos.max() if have else 0.0), 0.0),
        "queries_top3": queries_top3,
        "queries_mean": queries_mean,
    }
    return np.stack([cols[f] for f in FEATURES], axis=1)


def _own_text_cosines(index: LoadedIndex, ids: list[str], qvec: np.ndarray, n: int, at: list[int]):
    """Per hit (positions ``at`` of ``n``): cosine to the question's stem chunk, and the mean of the
    best three and of all cosines to its sample queries — the stem's cosine for a question without
    any, so a bank with no sample queries reads as 'they agree with the stem'."""
    stem_rows = [index.doc_text_rows[d][0] if d in index.doc_text_rows else -1 for d in ids]
    query_rows = [index.doc_query_rows.get(d, []) for d in ids]
    rows = [r for r in stem_rows if r >= 0] + [r for rs in query_rows for r in rs]
    uniq = sorted(set(rows))  # one gather from the memory-mapped vectors
    sims = dict(zip(uniq, (np.asarray(index.vectors[uniq], np.float32) @ qvec).tolist())) if uniq else {}
    stem, top3, mean = np.zeros(n), np.zeros(n), np.zeros(n)
    for pos, s_row, q_rows in zip(at, stem_rows, query_rows):
        stem[pos] = sims[s_row] if s_row >= 0 else 0.0
        if q_rows:
            c = sorted((sims[r] for r in q_rows), reverse=True)
            top3[pos], mean[pos] = sum(c[:3]) / len(c[:3]), sum(c) / len(c)
        else:
            top3[pos] = mean[pos] = stem[pos]
    return stem, top3, mean


@dataclass(frozen=True)
class LearnedRanker:
    """``score = z · weights + tanh(z · hidden + hidden_bias) · out + ce_weight · standardise(ce)``,
    ``z = (x − mean) / std``, per hit list. Without a hidden layer it is a linear ranker."""

    weights: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    ce_weight: float = 0.0
    features: tuple[str, ...] = FEATURES
    hidden: np.ndarray | None = None  # [features, units]
    hidden_bias: np.ndarray | None = None  # [units]
    out: np.ndarray | None = None  # [units]

    def __post_init__(self) -> None:
        if tuple(self.features) != FEATURES:
            raise QbankError(f"the learned ranker was fitted on features {list(self.features)}; this qbank computes "
                             f"{list(FEATURES)}: retrain it (qbank train-reranker)")
        f = len(FEATURES)
        if self.hidden is not None and np.ndim(self.hidden) != 2:
            raise QbankError(f"the learned ranker's hidden weights must be a {f} x units table")
        units = None if self.hidden is None else np.shape(self.hidden)[1]
        shapes = {"weights": (f,), "mean": (f,), "std": (f,)}
        if units is not None:
            shapes.update(hidden=(f, units), hidden_bias=(units,), out=(units,))
        elif self.hidden_bias is not None or self.out is not None:
            raise QbankError("the learned ranker's hidden layer is incomplete")
        for name, shape in shapes.items():
            v = np.asarray(getattr(self, name))
            if v.shape != shape or not np.all(np.isfinite(v)):
                raise QbankError(f"the learned ranker's {name} must be {' x '.join(map(str, shape))} finite numbers")
        if np.any(np.asarray(self.std) <= 0):
            raise QbankError("the learned ranker's std must be positive")

    def score(self, x: np.ndarray, ce: np.ndarray | None = None) -> np.ndarray:
        z = (x - self.mean) / self.std
        s = z @ self.weights
        if self.hidden is not None:
            s = s + np.tanh(z @ self.hidden + self.hidden_bias) @ self.out
        if ce is not None and self.ce_weight and len(ce) > 1:
            s = s + self.ce_weight * (ce - ce.mean()) / (ce.std() + 1e-9)
        return s

    def to_dict(self) -> dict:
        d = {"features": list(self.features), "weights": [float(w) for w in self.weights],
             "mean": [float(w) for w in self.mean], "std": [float(w) for w in self.std],
             "ce_weight": self.ce_weight}
        if self.hidden is not None:
            d["hidden"] = {"weights": np.asarray(self.hidden, float).tolist(),
                           "bias": [float(b) for b in self.hidden_bias], "out": [float(w) for w in self.out]}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> LearnedRanker:
        try:
            h = d.get("hidden")
            layer = (np.array(h["weights"], float), np.array(h["bias"], float), np.array(h["out"], float)) if h else (None,) * 3
            return cls(np.array(d["weights"], float), np.array(d["mean"], float), np.array(d["std"], float),
                       float(d.get("ce_weight", 0.0)), tuple(d["features"]), *layer)
        except (KeyError, TypeError, ValueError, AttributeError):  # AttributeError: not a dict
            raise QbankError("the learned ranker in the reranker manifest is malformed; retrain it "
                             "(qbank train-reranker)") from None
