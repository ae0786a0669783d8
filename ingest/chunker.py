"""Token-aware chunking of questions and chapter passages (cl100k_base tokens).

Each question yields:

* one **stem** chunk: the question, its testing note, and its tags as words
  (difficulty, roles, section, kind, companies), so that "hard MLS design" can match;
* one or more **rubric** chunks: the rubric bullets or the solution sketch, packed bullet by
  bullet under the budget and prefixed by the question itself, so that each chunk can be
  understood (and embedded) on its own;
* with query expansions (:mod:`ingest.expansions`), **queries** chunks. ``layout`` says how:
  ``"mixed"`` (the default, best on the golden set): one chunk per sample query for the dense leg
  (a query is matched against the closest phrasing) plus all of them in one chunk for BM25 (one
  document's worth of term frequencies, not six tiny documents that length normalisation favours),
  and the rubric chunks go to BM25 only; ``"per_query"`` or ``"joined"`` use one of the two for
  both legs.

Every chunk stays under ``max_tokens`` (default 200 cl100k tokens: MiniLM truncates at 256 word
pieces, and cl100k counts ~1.0-1.2x fewer tokens on this text, OFFLINE.md).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from qbank.ingest.tokens import count_tokens, get_encoding
from qbank.records import DIFFICULTY_NAMES, ROLE_NAMES, Chunk, Passage, Question

# bump when the chunk texts or their legs change: an index built by another version is refused
CHUNKER_VERSION = 2


def stem_text(q: Question) -> str:
    tags = [DIFFICULTY_NAMES[q.difficulty], *(ROLE_NAMES[r] for r in q.roles), q.section_title, q.kind]
    if q.companies:
        tags.append(", ".join(q.companies))
    parts = [q.question]
    if q.testing:
        parts.append(f"Testing: {q.testing}.")
    parts.append("(" + " · ".join(tags) + ")")
    return " ".join(parts)


@functools.lru_cache(maxsize=1 << 16)
def _word_tokens(word: str) -> int:
    """cl100k tokens of one word (with its trailing space): words repeat across the bank, so a
    build counts each once (51k ``encode`` calls were ~0.45 s of ``qbank build``)."""
    return len(get_encoding().encode_ordinary(word))


def split_by_tokens(text: str, max_tokens: int, overlap: int = 0) -> list[str]:
    """Split ``text`` into windows of at most ``max_tokens`` tokens, cutting at word boundaries."""
    enc = get_encoding()
    words = re.findall(r"\S+\s*", text)
    out: list[str] = []
    cur: list[str] = []
    cur_n = 0
    i = 0
    while i < len(words):
        w = words[i]
        n = _word_tokens(w)
        if n > max_tokens:  # a single monster "word": cut it by tokens
            ids = enc.encode_ordinary(w)
            if cur:
                out.append("".join(cur).strip())
                cur, cur_n = [], 0
            for j in range(0, len(ids), max_tokens):
                out.append(enc.decode(ids[j : j + max_tokens]).strip())
            i += 1
            continue
        if cur_n + n > max_tokens and cur:
            out.append("".join(cur).strip())
            # step back for the overlap
            back: list[str] = []
            back_n = 0
            for pw in reversed(cur):
                pn = _word_tokens(pw)
                if back_n + pn > overlap:
                    break
                back.insert(0, pw)
                back_n += pn
            cur, cur_n = back, back_n
            if cur_n + n > max_tokens:
                cur, cur_n = [], 0
        cur.append(w)
        cur_n += n
        i += 1
    if cur and "".join(cur).strip():
        out.append("".join(cur).strip())
    return [x for x in out if x]


def question_chunks(q: Question, max_tokens: int = 200, queries: tuple[str, ...] = (),
                    layout: str = "mixed") -> list[Chunk]:
    chunks: list[Chunk] = []
    stem = stem_text(q)
    stem_parts = split_by_tokens(stem, max_tokens) if count_tokens(stem) > max_tokens else [stem]
    for i, part in enumerate(stem_parts):
        cid = f"{q.id}#stem" if i == 0 else f"{q.id}#stem{i + 1}"
        chunks.append(Chunk(cid, q.id, "question", "stem", part, count_tokens(part), q.kind))
    if q.rubric:
        # with sample queries in the mixed layout the dense leg reads the stem and the queries; the
        # rubric is BM25's (same golden quality, and a quarter fewer, much longer, texts to embed)
        legs = "lexical" if queries and layout == "mixed" else "both"
        chunks.extend(rubric_chunks(q, max_tokens, legs))
    if queries and layout != "off":
        if layout in ("per_query", "mixed"):
            legs = "dense" if layout == "mixed" else "both"
            for i, text in enumerate(queries, start=1):
                chunks.append(Chunk(f"{q.id}#query{i}", q.id, "question", "queries", text, count_tokens(text), q.kind, legs))
        if layout in ("joined", "mixed"):
            legs = "lexical" if layout == "mixed" else "both"
            for i, text in enumerate(split_by_tokens("\n".join(queries), max_tokens), start=1):
                cid = f"{q.id}#queries" if i == 1 else f"{q.id}#queries{i}"
                chunks.append(Chunk(cid, q.id, "question", "queries", text, count_tokens(text), q.kind, legs))
    return chunks


def rubric_chunks(q: Question, max_tokens: int, legs: str = "both") -> list[Chunk]:
    chunks: list[Chunk] = []
    prefix = q.question + " — "
    budget = max_tokens - count_tokens(prefix)
    if budget < 48:  # a very long question: no prefix
        prefix, budget = "", max_tokens
    pieces: list[str] = []
    for b in q.rubric:
        pieces.extend([b] if count_tokens(b) <= budget else split_by_tokens(b, budget))
    groups: list[list[str]] = [[]]
    for p in pieces:
        trial = " • ".join([*groups[-1], p])
        if groups[-1] and count_tokens(trial) > budget:
            groups.append([p])
        else:
            groups[-1].append(p)
    for i, g in enumerate(groups, start=1):
        text = prefix + " • ".join(g)
        chunks.append(Chunk(f"{q.id}#rubric{i}", q.id, "question", "rubric", text, count_tokens(text), q.kind, legs))
    return chunks


def passage_chunks(passages: Iterable[Passage]) -> list[Chunk]:
    out = []
    for p in passages:
        head = " › ".join(p.heading_path)
        text = f"{head}: {p.text}" if head else p.text
        out.append(Chunk(p.id, p.id, "passage", "passage", text, count_tokens(text), "passage"))
    return out


def chunk_all(questions: Iterable[Question], passages: Iterable[Passage] = (), max_tokens: int = 200,
              expansions: dict[str, tuple[str, ...]] | None = None, layout: str = "mixed") -> list[Chunk]:
    exp = expansions or {}
    chunks = [c for q in questions for c in question_chunks(q, max_tokens, exp.get(q.id, ()), layout)]
    chunks.extend(passage_chunks(passages))
    return chunks
