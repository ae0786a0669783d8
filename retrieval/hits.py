"""Hit assembly: fused document ids → :class:`~qbank.records.Hit` records, with the chunk that
matched, each leg's rank and score, and the query terms found in that chunk."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping

from qbank.index.lexical import tokenize
from qbank.index.store import LoadedIndex
from qbank.records import Hit, LegScore
from qbank.retrieval.legs import LegRanking


def make_hits(index: LoadedIndex, fused: list[tuple[str, float]], legs: Mapping[str, LegRanking], terms: list[str],
              k: int, highlight: bool = True) -> list[Hit]:
    """The first ``k`` of ``fused`` as hits. The chunk shown is the best chunk of the leg that ranked
    the document best (bm25 on a tie). ``highlight=False`` leaves the highlights for
    :func:`with_highlights` (a reranker's candidates: only the ones it keeps are shown)."""
    ranks = {n: {d: i for i, d in enumerate(leg.docs, start=1)} for n, leg in legs.items()}
    out = []
    for rank, (doc, score) in enumerate(fused[:k], start=1):
        leg_scores = {n: LegScore(ranks[n].get(doc), legs[n].scores.get(doc)) for n in legs}
        placed = [(ranks[n][doc], n) for n in legs if doc in ranks[n] and doc in legs[n].best_row]
        best_leg = min(placed, key=lambda x: (x[0], x[1]))[1]
        chunk = index.chunks[legs[best_leg].best_row[doc]]
        out.append(Hit(
            id=doc, doc_type=chunk.doc_type, rank=rank, score=float(score), chunk_id=chunk.id,
            chunk_field=chunk.field, chunk_text=chunk.text, legs=leg_scores,
            highlights=highlight_terms(chunk.text, terms) if highlight else (),
            question=index.question_by_id.get(doc), passage=index.passage_by_id.get(doc),
            links=passage_links(index, doc),
        ))
    return out


def with_highlights(hits: list[Hit], terms: list[str]) -> list[Hit]:
    """``hits`` with their highlights filled in (see :func:`make_hits`)."""
    return [dataclasses.replace(h, highlights=highlight_terms(h.chunk_text, terms)) for h in hits]


def passage_links(index: LoadedIndex, doc: str) -> tuple[str, ...]:
    """For a chapter passage: the questions citing its chapter; for a question: none."""
    p = index.passage_by_id.get(doc)
    if p is None:
        return ()
    ch = index.chapter_by_number.get(p.chapter)
    return ch.cited_by if ch else ()


def highlight_terms(text: str, terms: list[str]) -> tuple[str, ...]:
    """Words of ``text`` (as written) that the query names whole, in order of appearance: a simple
    word whose term is a query term, or a compound (``KV-cache``, ``gpu_memory_utilization``,
    ``FlashAttention``) whose every part is — only its glued form may be missing. A query for
    "memory" marks no ``gpu_memory_utilization``.

    >>> highlight_terms("Explain product quantization for vector search.", ["quantiz"])
    ('quantization',)
    >>> highlight_terms("Set gpu_memory_utilization and the KV-cache size", ["memori", "kv", "cach"])
    ('KV-cache',)
    >>> highlight_terms("the KV-cache", ["kvcach"]), highlight_terms("the KV-cache", ["cach"])
    (('KV-cache',), ())
    """
    want = set(terms)
    if not want:
        return ()
    return tuple(w for w, t in _words(text) if _named(t, want))


def _named(word_terms: frozenset[str], want: set[str]) -> bool:
    if len(word_terms) <= 1:
        return not want.isdisjoint(word_terms)
    glued = max(word_terms, key=len)  # a compound's terms: its parts and the parts glued together
    missing = word_terms - want
    return glued in want or (len(missing) < len(word_terms) and missing <= {glued})


_WORD_RE = re.compile(r"[\w’'.\-/]+")


@functools.lru_cache(maxsize=8192)
def _words(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """A chunk's distinct words (as written, first appearance first) with their index terms —
    worked out once per chunk text, so highlighting a hit is one set test per word."""
    out: dict[str, frozenset[str]] = {}
    for m in _WORD_RE.finditer(text):
        w = m.group().strip(".-/'’")
        if w and w not in out:
            out[w] = _word_terms(w)
    return tuple(out.items())


@functools.lru_cache(maxsize=50_000)
def _word_terms(word: str) -> frozenset[str]:
    return frozenset(tokenize(word))
