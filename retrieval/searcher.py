"""The search engine over a loaded index: ``search(query, k, mode, filters)`` and ``related``.

Modes (a registry): ``bm25``, ``dense``, ``hybrid`` (RRF of the two legs) and ``full`` (hybrid,
then the cross-encoder over the fused top-N).

Roll-up rule: each leg ranks *chunks*; a question's rank in a leg is the rank of its best chunk
(``rollup="max"``, chosen on the golden set, README), so a question appears once per leg and once
in the output, with the chunk that matched best. Filters become a row mask applied to both legs
before ranking, so a selective filter still returns up to k results.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass, field

import numpy as np
from qbank.index.dense import ann_search, make_query_encoder
from qbank.index.lexical import tokenize, tokenize_query
from qbank.index.store import LoadedIndex
from qbank.retrieval.filters import Filters
from qbank.retrieval.fusion import rrf
from qbank.retrieval.intent import detect_intent

from qbank.config import Settings
from qbank.errors import InvalidQueryError, UnknownIdError, UnknownNameError
from qbank.records import Hit, LegScore

MODES = ("bm25", "dense", "hybrid", "full")
EXACT_FILTER_ROWS = 5000  # below this many allowed rows a filtered dense search is exact


@dataclass
class SearchResult:
    query: str
    mode: str
    k: int
    hits: list[Hit]
    filters: dict
    params: dict
    timings_ms: dict[str, float] = field(default_factory=dict)
    message: str = ""

    def to_dict(self) -> dict:
        return {"query": self.query, "mode": self.mode, "k": self.k, "filters": self.filters, "params": self.params,
                "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()}, "message": self.message,
                "hits": [h.to_dict() for h in self.hits]}


@dataclass(frozen=True, slots=True)
class LegRanking:
    """One leg's ranking after roll-up: doc ids best first, with score and best chunk row."""

    docs: list[str]
    scores: dict[str, float]
    best_row: dict[str, int]


class Searcher:
    """Answers queries over one :class:`LoadedIndex`. Models load on first need, once."""

    def __init__(self, index: LoadedIndex, settings: Settings | None = None, embedder=None, reranker=None) -> None:
        self.index = index
        self.settings = settings or index.settings
        self._embedder = embedder
        self._reranker = reranker
        sections = {q.section for q in index.questions}
        self.known_sections = sections
        self.known_chapters = set(index.chapter_by_number)
        self.known_companies = {c for q in index.questions for c in q.companies}
        self._chapter_section = {c.number: c.section for c in index.chapters}
        self._all_rows = np.ones(len(index.chunks), dtype=bool)

    # ------------------------------------------------------------------ models
    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = make_query_encoder(self.index.embedding_model, self.settings.query_encoder,
                                                self.index.embedding_backend)
        return self._embedder

    @property
    def reranker(self):
        if self._reranker is None:
            from qbank.retrieval.rerank import load_default_reranker

            self._reranker = load_default_reranker(self.settings)
        return self._reranker

    def warm(self) -> Searcher:
        """Load the query encoder and the ANN index now (servers call this at start-up, so the
        first request is not the one that pays for it)."""
        self.search("warm up", 1, "hybrid" if self.index.has_dense else "bm25")
        return self

    # ------------------------------------------------------------------ input checks
    def parse_filters(self, **kw) -> Filters:
        return Filters.parse(**kw, known_sections=self.known_sections, known_chapters=self.known_chapters,
                             known_companies=self.known_companies)

    def check_query(self, query: str, k: int) -> str:
        if not isinstance(query, str) or not query.strip():
            raise InvalidQueryError("empty query: type a few words, e.g. 'KV cache memory'")
        if len(query) > self.settings.max_query_chars:
            raise InvalidQueryError(f"query is {len(query):,} characters; the limit is {self.settings.max_query_chars:,}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InvalidQueryError(f"k must be a whole number >= 1, got {k!r}")
        if k > self.settings.max_k:
            raise InvalidQueryError(f"k={k} is too large; the limit is {self.settings.max_k}")
        return query.strip()

    # ------------------------------------------------------------------ pieces
    def allowed_rows(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or filters.is_empty():
            return None
        ok_docs = set()
        for q in self.index.questions:
            if filters.accepts_question(q):
                ok_docs.add(q.id)
        for p in self.index.passages:
            if filters.accepts_passage(p, self._chapter_section.get(p.chapter)):
                ok_docs.add(p.id)
        return np.fromiter((d in ok_docs for d in self.index.doc_ids), dtype=bool, count=len(self.index.chunks))

    def _rollup(self, rows: np.ndarray, scores: np.ndarray, depth: int) -> LegRanking:
        docs: list[str] = []
        best: dict[str, int] = {}
        sc: dict[str, float] = {}
        doc_ids = self.index.doc_ids
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

    def bm25_leg(self, terms: list[str], mask: np.ndarray | None, depth: int) -> LegRanking:
        if not terms:
            return LegRanking([], {}, {})
        idx = self.index
        scores = idx.bm25.scores(terms)  # one per BM25 document: chunk row idx.lexical_rows[j]
        ok = idx.bm25.matched(terms)
        if mask is not None:
            ok &= mask[idx.lexical_rows]
        docs = np.flatnonzero(ok)
        if not len(docs):
            return LegRanking([], {}, {})
        rows, scores = idx.lexical_rows[docs], scores[docs]
        # stable order: score desc, then row order (deterministic ties)
        order = np.lexsort((rows, -scores))
        return self._rollup(rows[order], scores[order], depth)

    def dense_leg(self, qvec: np.ndarray, mask: np.ndarray | None, depth: int) -> LegRanking:
        idx = self.index
        dense_rows = idx.dense_rows  # FAISS id i = chunk row dense_rows[i]
        per_doc = len(dense_rows) / max(1, len(idx.doc_rows))
        fetch = min(len(dense_rows), int(depth * max(4.0, per_doc)))  # over-fetch chunks before roll-up
        if mask is not None:
            allowed = np.flatnonzero(mask[dense_rows])  # FAISS ids
            if not len(allowed):
                return LegRanking([], {}, {})
            if len(allowed) <= EXACT_FILTER_ROWS:
                rows = dense_rows[allowed]
                sims = idx.vectors[rows] @ qvec
                order = np.lexsort((rows, -sims))[:fetch]
                return self._rollup(rows[order], sims[order], depth)
            scores, ids = ann_search(idx.ann, qvec, fetch, self.settings.hnsw_ef_search, allowed)
        else:
            scores, ids = ann_search(idx.ann, qvec, fetch, self.settings.hnsw_ef_search)
        return self._rollup(dense_rows[ids], scores, depth)

    # ------------------------------------------------------------------ search
    def search(self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters | None = None) -> SearchResult:
        """Search the index.

        Args:
            query: free text.
            k: the most hits to return (fewer when fewer match).
            mode: ``bm25``, ``dense``, ``hybrid`` or ``full``.
            filters: metadata filters applied to both legs before fusion.
        """
        t0 = time.perf_counter()
        query = self.check_query(query, k)
        if mode not in MODES:
            raise UnknownNameError("mode", mode, MODES)
        if mode == "full":
            reranker = self.reranker  # raises UnavailableError with what to do
        s = self.settings
        timings: dict[str, float] = {}
        params = {"rrf_k": s.rrf_k, "depth": {"bm25": s.depth_bm25, "dense": s.depth_dense},
                  "weights": {"bm25": s.weight_bm25, "dense": s.weight_dense}, "rollup": s.rollup,
                  "bm25": f"{s.bm25_variant}(k1={s.bm25_k1}, b={s.bm25_b})", "ann": s.ann}
        fdict = filters.to_dict() if filters else {}
        mask = self.allowed_rows(filters)
        if mask is not None and not mask.any():
            return SearchResult(query, mode, k, [], fdict, params, {"total": _ms(t0)},
                                message="no question matches these filters")
        depth_b = max(s.depth_bm25, k) if mode == "bm25" else s.depth_bm25
        depth_d = max(s.depth_dense, k) if mode == "dense" else s.depth_dense
        terms = tokenize_query(query, self.index.bm25.vocabulary)
        legs: dict[str, LegRanking] = {}
        if mode in ("bm25", "hybrid", "full"):
            t = time.perf_counter()
            legs["bm25"] = self.bm25_leg(terms, mask, depth_b)
            timings["bm25"] = _ms(t)
        if mode in ("dense", "hybrid", "full"):
            t = time.perf_counter()
            qvec = self.embedder.encode_queries([query])[0]
            timings["embed"] = _ms(t)
            t = time.perf_counter()
            legs["dense"] = self.dense_leg(qvec, mask, depth_d)
            timings["ann"] = _ms(t)
        t = time.perf_counter()
        if mode in ("bm25", "dense"):
            leg = legs[mode]
            fused = [(d, leg.scores[d]) for d in leg.docs]
        else:
            weights = {"bm25": s.weight_bm25, "dense": s.weight_dense, "intent": s.weight_intent}
            fused = rrf({n: leg.docs for n, leg in legs.items()}, s.rrf_k, weights)
            intent = detect_intent(query) if s.weight_intent > 0 else None
            if intent:
                qs = self.index.question_by_id
                docs = [d for d, _ in fused if intent.accepts(qs.get(d))]
                legs["intent"] = LegRanking(docs, {d: 1.0 for d in docs}, {})
                params["intent"] = intent.to_dict()
                fused = rrf({n: leg.docs for n, leg in legs.items()}, s.rrf_k, weights)
        timings["fusion"] = _ms(t)
        hits = self._hits(fused, legs, terms, len(fused) if mode == "full" else k)
        if mode == "full":
            t = time.perf_counter()
            hits = reranker.rerank(query, hits, k)
            timings["rerank"] = _ms(t)
        timings["total"] = _ms(t0)
        message = "" if hits else "nothing matched: try other words, another mode or fewer filters"
        return SearchResult(query, mode, k, hits, fdict, params, timings, message)

    def _hits(self, fused: list[tuple[str, float]], legs: dict[str, LegRanking], terms: list[str], k: int) -> list[Hit]:
        idx = self.index
        ranks = {n: {d: i for i, d in enumerate(leg.docs, start=1)} for n, leg in legs.items()}
        out = []
        for rank, (doc, score) in enumerate(fused[:k], start=1):
            leg_scores = {n: LegScore(ranks[n].get(doc), legs[n].scores.get(doc)) for n in legs}
            # the matching chunk: from the leg that ranked the doc best (bm25 on a tie)
            placed = [(ranks[n][doc], n) for n in legs if doc in ranks[n] and doc in legs[n].best_row]
            best_leg = min(placed, key=lambda x: (x[0], x[1]))[1]
            row = legs[best_leg].best_row[doc]
            chunk = idx.chunks[row]
            out.append(Hit(
                id=doc, doc_type=chunk.doc_type, rank=rank, score=float(score), chunk_id=chunk.id,
                chunk_field=chunk.field, chunk_text=chunk.text, legs=leg_scores,
                highlights=highlight_terms(chunk.text, terms),
                question=idx.question_by_id.get(doc), passage=idx.passage_by_id.get(doc),
                links=self._passage_links(doc),
            ))
        return out

    def _passage_links(self, doc: str) -> tuple[str, ...]:
        p = self.index.passage_by_id.get(doc)
        if p is None:
            return ()
        ch = self.index.chapter_by_number.get(p.chapter)
        return ch.cited_by if ch else ()

    # ------------------------------------------------------------------ related
    def related(self, question_id: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        """The questions most like ``question_id`` (never itself): RRF of BM25 over its stem and the
        dense neighbours of its mean chunk vector, over question text and rubrics only."""
        idx = self.index
        qid = normalise_id(question_id)
        if qid not in idx.question_by_id:
            raise UnknownIdError(f"unknown question id {question_id!r}; ids look like E5-193 (`qbank search` finds them)")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 or k > self.settings.max_k:
            raise InvalidQueryError(f"k must be between 1 and {self.settings.max_k}, got {k!r}")
        q = idx.question_by_id[qid]
        mask = self.allowed_rows(filters)
        # question against question: its own text and rubric, never the sample queries (which
        # describe what a user types, and would pull in whatever shares a phrasing)
        own = idx.sample_query_mask.copy()
        own[idx.doc_rows[qid]] = True
        mask = ~own if mask is None else (mask & ~own)
        vec = idx.vectors[idx.doc_text_rows[qid]].mean(axis=0)
        vec = vec / (np.linalg.norm(vec) or 1.0)
        text = " ".join([q.question, q.testing, *q.rubric])
        terms = tokenize(text)
        s = self.settings
        legs = {"bm25": self.bm25_leg(terms, mask, s.depth_bm25), "dense": self.dense_leg(vec, mask, s.depth_dense)}
        fused = rrf({n: leg.docs for n, leg in legs.items()}, s.rrf_k, {"bm25": s.weight_bm25, "dense": s.weight_dense})
        fused = [(d, sc) for d, sc in fused if d in idx.question_by_id]
        return self._hits(fused, legs, tokenize(q.question), k)


ID_RE = re.compile(r"^\s*E\.?\s*(\d+)\s*[-–.]\s*(\d+)\s*$", re.I)


def normalise_id(qid: str) -> str:
    """``e5-193``, ``E.5-193`` → ``E5-193``; anything else is returned as typed."""
    m = ID_RE.match(str(qid))
    return f"E{int(m.group(1))}-{int(m.group(2))}" if m else str(qid)


def highlight_terms(text: str, terms: list[str]) -> tuple[str, ...]:
    """Words of ``text`` (as written) whose terms meet the query's terms, in order of appearance."""
    want = set(terms)
    if not want:
        return ()
    out: dict[str, None] = {}
    for m in _WORD_RE.finditer(text):
        w = m.group().strip(".-/'’")
        if w and not want.isdisjoint(_word_terms(w)):
            out.setdefault(w, None)
    return tuple(out)


_WORD_RE = re.compile(r"[\w’'.\-/]+")


@functools.lru_cache(maxsize=50_000)
def _word_terms(word: str) -> frozenset[str]:
    return frozenset(tokenize(word))


def _ms(t: float) -> float:
    return (time.perf_counter() - t) * 1000.0

