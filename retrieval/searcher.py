"""The search engine over a loaded index: ``search(query, k, mode, filters)`` and ``related``.

The searcher holds what has state — the index, the settings, the query encoder and the reranker,
each loaded once on first need — and checks input. The work is done by small functions elsewhere:
the legs and roll-up (:mod:`qbank.retrieval.legs`), fusion (:mod:`qbank.retrieval.fusion`), the
intent leg (:mod:`qbank.retrieval.intent`), hit assembly (:mod:`qbank.retrieval.hits`), and the mode
registry (:mod:`qbank.retrieval.modes`) says which of them a mode runs. Filters become a row mask
that reaches both legs before fusion.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from qbank.config import Settings
from qbank.errors import InvalidQueryError, UnknownIdError
from qbank.index.dense import make_query_encoder
from qbank.index.lexical import english_words, tokenize, tokenize_query
from qbank.index.store import LoadedIndex
from qbank.records import Hit, normalise_id
from qbank.retrieval.confidence import MatchThresholds, match_signals, match_strength
from qbank.retrieval.filters import Filters
from qbank.retrieval.fusion import rrf
from qbank.retrieval.hits import make_hits, with_highlights
from qbank.retrieval.intent import Intent, detect_intent, topic_of
from qbank.retrieval.learned import hit_features
from qbank.retrieval.legs import LegRanking, bm25_leg, dense_leg, related_legs
from qbank.retrieval.modes import DEFAULT_MODE, get_mode

ROLLUP = "max"  # a document ranks in a leg at its best chunk (retrieval/legs.py)


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
    # how well the query matched (retrieval/confidence.py): "strong" | "weak" | "none", and the signals
    match: str = "none"
    match_signals: dict = field(default_factory=dict)
    # the query with its misspelt words replaced by the terms the lexical leg also searched; None
    # when nothing was corrected
    corrected_query: str | None = None
    # when filters left nothing, or nothing close: each active filter, and how many questions the
    # others allow without it (most first) — which one to drop
    relax: list[dict] = field(default_factory=list)
    # questions (and passages) holding at least one query word, under the filters, before the cut to k
    lexical_matches: int = 0

    def to_dict(self) -> dict:
        return {"query": self.query, "mode": self.mode, "k": self.k, "filters": self.filters, "params": self.params,
                "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()}, "message": self.message,
                "match": self.match, "match_signals": self.match_signals, "corrected_query": self.corrected_query,
                "relax": self.relax, "lexical_matches": self.lexical_matches,
                "hits": [h.to_dict() for h in self.hits]}


class Searcher:
    """Answers queries over one :class:`LoadedIndex`. Models load on first need, once."""

    def __init__(self, index: LoadedIndex, settings: Settings | None = None, embedder=None, reranker=None) -> None:
        self.index = index
        self.settings = settings or index.settings
        self._embedder = embedder
        self._reranker = reranker
        self._learned = None
        self.known_sections = {q.section for q in index.questions}
        self.known_chapters = set(index.chapter_by_number)
        self.known_companies = {c for q in index.questions for c in q.companies}
        self._chapter_section = {c.number: c.section for c in index.chapters}
        self._doc_masks: dict[Filters, np.ndarray] = {}  # per distinct filter: one bool per index.doc_order
        self._doc_masks_lock = threading.Lock()
        self.match_thresholds = MatchThresholds(self.settings.match_cosine_strong, self.settings.match_lexical_strong,
                                                self.settings.match_cosine_none)

    # ------------------------------------------------------------------ models
    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = make_query_encoder(self.index.embedding_model, self.settings.query_encoder,
                                                self.index.embedding_backend, self.settings.onnx_threads or None)
        return self._embedder

    @property
    def reranker(self):
        if self._reranker is None:
            from qbank.retrieval.rerank import load_default_reranker

            self._reranker = load_default_reranker(self.settings)
        return self._reranker

    @property
    def learned_ranker(self):
        """The ``learned`` mode's ranker, or None when there is none (it then keeps the fused order
        and says so in ``params``)."""
        if self._learned is None:
            from qbank.retrieval.rerank import load_learned_ranker

            self._learned = load_learned_ranker(self.settings) or False
        return self._learned or None

    def warm(self) -> Searcher:
        """Load the query encoder and the ANN index now (servers call this at start-up, so the
        first request is not the one that pays for it)."""
        self.search("warm up", 1, DEFAULT_MODE if self.index.has_dense else "bm25")
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
        self.check_k(k)
        return query.strip()

    def check_k(self, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InvalidQueryError(f"k must be a whole number >= 1, got {k!r}")
        if k > self.settings.max_k:
            raise InvalidQueryError(f"k={k} is too large; the limit is {self.settings.max_k}")

    def allowed_rows(self, filters: Filters | None) -> np.ndarray | None:
        """One bool per chunk row: True where the chunk's document passes ``filters`` (None: no filter).

        Decided once per document and per distinct filter (the last 256 are remembered), then spread
        to the rows by one gather, so a filtered query costs no Python loop over the chunks."""
        if filters is None or filters.is_empty():
            return None
        doc_ok = self._doc_masks.get(filters)
        if doc_ok is None:
            ok_docs = {q.id for q in self.index.questions if filters.accepts_question(q)}
            ok_docs |= {p.id for p in self.index.passages
                        if filters.accepts_passage(p, self._chapter_section.get(p.chapter))}
            doc_ok = np.fromiter((d in ok_docs for d in self.index.doc_order), dtype=bool,
                                 count=len(self.index.doc_order))
            with self._doc_masks_lock:  # the API searches from many threads
                if len(self._doc_masks) >= 256:
                    self._doc_masks.pop(next(iter(self._doc_masks)))
                self._doc_masks[filters] = doc_ok
        return doc_ok[self.index.chunk_doc]

    def relaxations(self, filters: Filters | None) -> list[dict]:
        """For each active filter: the questions the other filters allow without it, most first
        (``[{"drop": "kind", "values": ["design"], "questions": 12}, ...]``)."""
        if filters is None:
            return []
        out = []
        for name in filters.active():
            rest = filters.without(name)
            n = sum(1 for q in self.index.questions if rest.accepts_question(q))
            out.append({"drop": name, "values": list(getattr(filters, name)), "questions": n})
        return sorted(out, key=lambda r: (-r["questions"], r["drop"]))

    # ------------------------------------------------------------------ search
    def search(self, query: str, k: int = 10, mode: str = DEFAULT_MODE, filters: Filters | None = None) -> SearchResult:
        """Search the index.

        Args:
            query: free text.
            k: the most hits to return (fewer when fewer match).
            mode: a name in :data:`~qbank.retrieval.modes.MODES` (``bm25``, ``dense``, ``hybrid``, ``learned``,
                ``full``).
            filters: metadata filters applied to both legs before fusion.
        """
        t0 = time.perf_counter()
        query = self.check_query(query, k)
        spec = get_mode(mode)
        reranker = self.reranker if spec.rerank else None  # raises UnavailableError with what to do
        if spec.learned:
            reranker = self.learned_ranker
        s = self.settings
        timings: dict[str, float] = {}
        params = {"rrf_k": s.rrf_k, "depth": {"bm25": s.depth_bm25, "dense": s.depth_dense},
                  "weights": {"bm25": s.weight_bm25, "dense": s.weight_dense}, "rollup": ROLLUP,
                  "bm25": f"{s.bm25_variant}(k1={s.bm25_k1}, b={s.bm25_b})", "ann": self.index.manifest.get("ann_built") or s.ann}
        if spec.learned:
            params["learned"] = ({"top_n": reranker.top_n, "features": list(reranker.learned.features)} if reranker
                                 else f"no learned ranker in {s.reranker_dir}: the fused order is kept")
        fdict = filters.to_dict() if filters else {}
        mask = self.allowed_rows(filters)
        if mask is not None and not mask.any():
            return SearchResult(query, mode, k, [], fdict, params, {"total": _ms(t0)},
                                message="no question matches these filters", relax=self.relaxations(filters))
        single = len(spec.legs) == 1
        intent = detect_intent(query) if spec.fuse and s.weight_intent > 0 else Intent()
        topic = topic_of(query, intent)  # what the legs and rankers read
        if topic != query:
            params["topic"] = topic
        corrections: dict[str, str] = {}
        terms = tokenize_query(topic, self.index.bm25.vocabulary, corrections)
        legs: dict[str, LegRanking] = {}
        if "bm25" in spec.legs:
            t = time.perf_counter()
            legs["bm25"] = bm25_leg(self.index, terms, mask, max(s.depth_bm25, k) if single else s.depth_bm25)
            timings["bm25"] = _ms(t)
        if "dense" in spec.legs:
            t = time.perf_counter()
            qvec = self.embedder.encode_queries([topic])[0]
            timings["embed"] = _ms(t)
            t = time.perf_counter()
            legs["dense"] = dense_leg(self.index, qvec, mask, max(s.depth_dense, k) if single else s.depth_dense,
                                      s.hnsw_ef_search)
            timings["ann"] = _ms(t)
        t = time.perf_counter()
        if spec.fuse:
            fused = self._fuse(intent, legs, params)
        else:
            (leg,) = legs.values()
            fused = [(d, leg.scores[d]) for d in leg.docs]
        timings["fusion"] = _ms(t)
        # a reranker reorders its top N and keeps the fused order after them: no more hits than
        # that are ever shown (all ~150 fused were built before), and only the k it keeps are highlighted
        hits = make_hits(self.index, fused, legs, terms, max(k, reranker.top_n) if reranker else k,
                         highlight=reranker is None)
        if reranker is not None:
            t = time.perf_counter()
            features = None
            if getattr(reranker, "learned", None) is not None:
                head = hits[: reranker.top_n]
                features = hit_features(self.index, head, topic, qvec if "dense" in spec.legs else None)
            hits = with_highlights(reranker.rerank(topic, hits, k, features), terms)
            timings["learned" if spec.learned else "rerank"] = _ms(t)
        signals = match_signals(self.index, terms, legs, frozenset(t for w in corrections for t in tokenize(w)))
        match = match_strength(signals, self.match_thresholds) if hits else "none"
        timings["total"] = _ms(t0)
        message = "" if hits else "nothing matched: try other words, another mode or fewer filters"
        relax = self.relaxations(filters) if filters and (not hits or match == "none") else []
        return SearchResult(query, mode, k, hits, fdict, params, timings, message, match, signals,
                            self._corrected(query, corrections), relax,
                            legs["bm25"].total if "bm25" in legs else 0)

    def _corrected(self, query: str, corrections: dict[str, str]) -> str | None:
        """The query as the user is told it was read, or None. The bank's surface forms are made
        only when there is a correction to show (~0.3 s on a cold start, for every query before)."""
        shown = shown_corrections(corrections)
        return corrected_query(query, shown, self.index.surface) if shown else None

    def _fuse(self, intent: Intent, legs: dict[str, LegRanking], params: dict) -> list[tuple[str, float]]:
        """RRF of the legs; a query naming a kind, difficulty or role adds the intent leg (the fused
        list restricted to matching questions) and is fused again. Adds the intent to ``params``."""
        s = self.settings
        weights = {"bm25": s.weight_bm25, "dense": s.weight_dense, "intent": s.weight_intent}
        fused = rrf({n: leg.docs for n, leg in legs.items()}, s.rrf_k, weights)
        if intent:
            qs = self.index.question_by_id
            docs = [d for d, _ in fused if intent.accepts(qs.get(d))]
            legs["intent"] = LegRanking(docs, dict.fromkeys(docs, 1.0), {})
            params["intent"] = intent.to_dict()
            fused = rrf({n: leg.docs for n, leg in legs.items()}, s.rrf_k, weights)
        return fused

    # ------------------------------------------------------------------ related
    def related(self, question_id: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        """The questions most like ``question_id`` (never itself), compared as wholes: RRF of BM25
        with its full text over full-text documents, cosine of whole-question vectors and the
        co-relevance graph of the judged data (:mod:`qbank.index.related`)."""
        idx = self.index
        qid = normalise_id(question_id)
        if qid not in idx.question_by_id:
            raise UnknownIdError(f"unknown question id {question_id!r}; ids look like E5-193 (`qbank search` finds them)")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 or k > self.settings.max_k:
            raise InvalidQueryError(f"k must be between 1 and {self.settings.max_k}, got {k!r}")
        s = self.settings
        rows = self.allowed_rows(filters)
        allowed = np.ones(len(idx.questions), dtype=bool)
        if rows is not None:
            ok = set(idx.doc_ids[rows].tolist())
            allowed = np.array([q.id in ok for q in idx.questions], dtype=bool)
        allowed[idx.question_row[qid]] = False
        legs = related_legs(idx, qid, allowed, max(k, s.depth_bm25))
        weights = {"bm25": 1.0, "dense": 1.0, "corelevance": s.related_weight_corelevance}
        fused = rrf({n: leg.docs for n, leg in legs.items()}, s.related_rrf_k, weights)
        return make_hits(idx, fused, legs, tokenize(idx.question_by_id[qid].question), k)


def _ms(t: float) -> float:
    return (time.perf_counter() - t) * 1000.0


def shown_corrections(corrections: dict[str, str]) -> dict[str, str]:
    """The corrections worth telling the user about: not those of an English word the bank lacks
    (:func:`~qbank.index.lexical.english_words`; "floods" → "floor" is searched, not announced)."""
    if not corrections:
        return {}
    words = english_words()
    return {w: t for w, t in corrections.items() if w not in words}


def corrected_query(query: str, corrections: dict[str, str], surface: dict[str, str]) -> str | None:
    """``query`` with each corrected word replaced by the word its term stands for in the bank
    ("speculatve decodng" → "speculative decoding"); None when no word reads differently.

    >>> corrected_query("Speculatve decoding", {"speculatve": "specul"}, {"specul": "speculative"})
    'speculative decoding'
    """
    import re

    out = query
    for word, term in corrections.items():
        shown = surface.get(term)
        if shown and shown != word:
            out = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", shown, out, flags=re.IGNORECASE)
    return out if out != query else None
