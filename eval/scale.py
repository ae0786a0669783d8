"""Scale benchmark: how qbank's build, disk, memory and query latency grow with the corpus (prints JSON).

    python -m qbank.eval.scale [--sizes 10000,100000,1000000] [--queries 200] [--out FILE.json]
                               [--plot FILE.png] [--markdown] [--from FILE.json]

Corpora of N *chunks* are synthesised from the real index (``data/index``, built first when missing)
without running the embedding model over them:

* documents: each synthetic document copies the chunk layout and the metadata (section, difficulty,
  kind, ...) of a random real document, so chunks per document, which leg sees each chunk and the
  section × difficulty mix are the bank's;
* BM25 terms: each chunk keeps a random ``KEEP`` share of its template chunk's terms and the rest are
  drawn from the bank's unigram distribution, so lengths, IDF and posting-list lengths look like a
  bank that grew (its vocabulary does not grow: see docs/scaling.md);
* vectors: the template chunk's vector plus Gaussian noise of norm ``NOISE_NORM``, renormalised.

What is timed is qbank's own code: :class:`~qbank.index.lexical.BM25`, :func:`~qbank.index.dense.build_ann`,
the files as ``index/store.py`` writes and reads them, :func:`~qbank.retrieval.legs.bm25_leg` and
:func:`~qbank.retrieval.legs.dense_leg` for the legs, and :meth:`Searcher.search` (query embedding with
the product's query encoder, filter mask, both legs, RRF, hits) for ``hybrid``, over a
:class:`SyntheticIndex` that stands in for :class:`~qbank.index.store.LoadedIndex`. The selective
filter is one section AND one difficulty (≈ 2% of the rows) through ``Searcher.allowed_rows``, the
mask both legs apply before fusion. Each size is built in one subprocess and served in another, so
each peak RSS is that phase's own (``VmHWM``: see :func:`peak_rss_mb`). docs/scaling.md has the results.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qbank.config import Settings
from qbank.errors import QbankError

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
KEEP = 0.7  # share of a template chunk's terms a synthetic chunk keeps
NOISE_NORM = 0.5  # norm of the Gaussian noise added to a unit template vector
FILTER_SHARE = 0.02  # the selective filter: the section × difficulty pair nearest this share of rows
BLOCK = 50_000  # chunks synthesised per block (bounds the float32 noise and term-id temporaries)
WARMUP = 5  # untimed queries before each timed loop
K = 10  # hits asked for, as the CLI's default
BOTH, LEXICAL, DENSE = 0, 1, 2  # Chunk.legs as a code
LEGS = {"both": BOTH, "lexical": LEXICAL, "dense": DENSE}
# the targets "what breaks first" checks: at 100k chunks, warm hybrid p50 and the serving process's RSS
TARGETS = {"hybrid_p50_ms": (100_000, 20.0), "hybrid_filtered_p50_ms": (100_000, 20.0),
           "serving_rss_mb": (100_000, 1536.0)}
SUPERLINEAR = 1.15  # a growth exponent above this between two sizes is reported as super-linear
# a series is only judged once its larger value is above the noise of this machine
FLOORS = {"_s": 0.5, "_ms": 1.0, "_mb": 20.0}


# ---------------------------------------------------------------- the real bank as a template


@dataclass(frozen=True)
class Template:
    """The real index reduced to arrays: term ids per chunk, vectors, legs, chunk rows per document."""

    index: object  # the LoadedIndex (its records are the synthetic documents' metadata)
    vocab: list[str]
    term_ids: np.ndarray  # uint32, every chunk's terms end to end
    term_offsets: np.ndarray  # int64 [n_chunks + 1]
    vectors: np.ndarray  # float32 [n_chunks, dim]; zero rows for chunks without a vector
    legs: np.ndarray  # uint8 [n_chunks]
    doc_ids: list[str]  # real documents, in order of first chunk
    doc_offsets: np.ndarray  # int64 [n_docs + 1] into doc_chunk_rows
    doc_chunk_rows: np.ndarray  # int64: each document's chunk rows, document after document

    @classmethod
    def from_index(cls, index) -> Template:
        vocab = sorted({t for toks in index.tokens for t in toks})
        term_id = {t: i for i, t in enumerate(vocab)}
        lens = np.array([len(t) for t in index.tokens], dtype=np.int64)
        offsets = np.zeros(len(lens) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        ids = np.fromiter((term_id[t] for toks in index.tokens for t in toks), dtype=np.uint32, count=int(offsets[-1]))
        doc_ids = list(index.doc_rows)
        rows = [index.doc_rows[d] for d in doc_ids]
        doc_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=doc_offsets[1:])
        return cls(index, vocab, ids, offsets, np.asarray(index.vectors, dtype=np.float32),
                   np.array([LEGS[c.legs] for c in index.chunks], dtype=np.uint8), doc_ids, doc_offsets,
                   np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]))


def segments(offsets: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions, in a flat array cut by ``offsets``, of segments ``idx`` laid end to end, and their offsets.

    >>> pos, off = segments(np.array([0, 2, 5]), np.array([1, 0, 1]))
    >>> pos.tolist(), off.tolist()
    ([2, 3, 4, 0, 1, 2, 3, 4], [0, 3, 5, 8])
    """
    starts = offsets[idx]
    lens = offsets[idx + 1] - starts
    out = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(lens, out=out[1:])
    return np.arange(out[-1], dtype=np.int64) + np.repeat(starts - out[:-1], lens), out


@dataclass(frozen=True)
class SyntheticCorpus:
    """N chunks as arrays: no per-chunk Python objects until BM25 needs its term lists."""

    template_doc: np.ndarray  # int32 [n_docs]: the real document each synthetic one copies
    chunk_doc: np.ndarray  # int32 [n]: the synthetic document of each chunk
    chunk_template: np.ndarray  # int32 [n]: the real chunk each chunk copies
    legs: np.ndarray  # uint8 [n]
    term_ids: np.ndarray  # uint32
    term_offsets: np.ndarray  # int64 [n + 1]
    vectors: np.ndarray  # float32 [n, dim], zero rows where the chunk has no vector (as embeddings.npy)

    @property
    def lexical_rows(self) -> np.ndarray:
        return np.flatnonzero(self.legs != DENSE)

    @property
    def dense_rows(self) -> np.ndarray:
        return np.flatnonzero(self.legs != LEXICAL)

    def term_lists(self, vocab: list[str]) -> list[list[str]]:
        """Each chunk's terms as the product's ``list[list[str]]`` (the vocabulary's strings, shared)."""
        words = np.array(vocab, dtype=object)[self.term_ids].tolist()
        off = self.term_offsets.tolist()
        return [words[a:b] for a, b in zip(off[:-1], off[1:])]


def synthesize(t: Template, n: int, seed: int, keep: float = KEEP, noise_norm: float = NOISE_NORM) -> SyntheticCorpus:
    """``n`` chunks grown from the template, seeded; terms and vectors made ``BLOCK`` chunks at a time."""
    rng = np.random.default_rng(seed)
    per_doc = np.diff(t.doc_offsets)
    drawn, total = [], 0
    while total < n:  # whole real documents until n chunks; the last one is cut
        draw = rng.integers(0, len(per_doc), size=int((n - total) / per_doc.mean() * 1.05) + 16)
        ends = np.cumsum(per_doc[draw])
        cut = int(np.searchsorted(ends, n - total))
        drawn.append(draw[: cut + 1])
        total += int(ends[min(cut, len(ends) - 1)])
    template_doc = np.concatenate(drawn).astype(np.int32)
    pos, doc_off = segments(t.doc_offsets, template_doc)
    chunk_template = t.doc_chunk_rows[pos[:n]].astype(np.int32)
    chunk_doc = np.repeat(np.arange(len(template_doc), dtype=np.int32), np.diff(doc_off))[:n]
    dim = t.vectors.shape[1]
    sigma = np.float32(noise_norm / math.sqrt(dim))  # E|noise| = noise_norm
    vectors = np.zeros((n, dim), dtype=np.float32)
    has_vector = t.legs != LEXICAL
    ids_parts, lens_parts = [], []
    for b0 in range(0, n, BLOCK):
        idx = chunk_template[b0 : b0 + BLOCK]
        tpos, toff = segments(t.term_offsets, idx)
        ids = t.term_ids[tpos]
        swap = rng.random(len(ids)) >= keep
        if swap.any():
            ids[swap] = t.term_ids[rng.integers(0, len(t.term_ids), int(swap.sum()))]  # unigram draws
        ids_parts.append(ids)
        lens_parts.append(np.diff(toff))
        v = t.vectors[idx] + rng.standard_normal((len(idx), dim), dtype=np.float32) * sigma
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        v[~has_vector[idx]] = 0.0
        vectors[b0 : b0 + len(idx)] = v
    lens = np.concatenate(lens_parts) if lens_parts else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    term_ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, dtype=np.uint32)
    return SyntheticCorpus(template_doc, chunk_doc, chunk_template, t.legs[chunk_template], term_ids, offsets, vectors)


def selective_filter(index, share: float = FILTER_SHARE):
    """The section AND difficulty filter whose share of the real bank's chunks is nearest ``share``."""
    from qbank.retrieval.filters import Filters

    pairs = Counter((q.section, q.difficulty) for c in index.chunks
                    if (q := index.question_by_id.get(c.doc_id)) is not None)
    if not pairs:
        raise QbankError("the index holds no questions: the selective filter needs sections and difficulties")
    (section, difficulty), _ = min(pairs.items(), key=lambda kv: (abs(kv[1] / len(index.chunks) - share), kv[0]))
    return Filters(difficulty=(difficulty,), section=(section,))


# ---------------------------------------------------------------- the stand-in for a loaded index


class LazyChunks(Sequence):
    """``index.chunks`` of a synthetic corpus: a chunk record is made when read (only the hits shown
    are), from its template chunk under its synthetic document's id."""

    def __init__(self, template_chunks, chunk_template: np.ndarray, doc_ids: np.ndarray) -> None:
        self._chunks, self._template, self._doc_ids = template_chunks, chunk_template, doc_ids

    def __len__(self) -> int:
        return len(self._template)

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        c = self._chunks[int(self._template[row])]
        doc = str(self._doc_ids[row])
        return dataclasses.replace(c, id=f"{doc}#{int(row)}", doc_id=doc)


@dataclass
class SyntheticIndex:
    """What :class:`~qbank.retrieval.searcher.Searcher`, the legs and hit assembly read of a
    :class:`~qbank.index.store.LoadedIndex`, over a synthetic corpus. The per-chunk records a
    LoadedIndex also holds (``chunks``, ``doc_rows`` lists) are not built: their memory is
    estimated from the real bank (``estimates.chunk_records_mb``)."""

    manifest: dict
    tokens: list[list[str]]  # kept, as LoadedIndex keeps them
    bm25: object
    lexical_rows: np.ndarray
    dense_rows: np.ndarray
    doc_ids: np.ndarray
    doc_rows: Sequence  # only its length is read on the query path (documents, for the over-fetch)
    chunks: Sequence
    questions: list
    passages: list
    chapters: list
    vectors: np.ndarray | None
    ann: object
    embedding_model: str
    embedding_backend: str
    doc_order: list[str]  # documents in first-chunk order, and each chunk's place in it: the filter
    chunk_doc: np.ndarray  # mask is decided per document and gathered to the rows (Searcher.allowed_rows)
    surface: dict[str, str]  # term → word, for corrected queries: the real bank's (same vocabulary)
    has_dense: bool = True

    def __post_init__(self) -> None:
        self.question_by_id = {q.id: q for q in self.questions}
        self.passage_by_id = {p.id: p for p in self.passages}
        self.chapter_by_number = {c.number: c for c in self.chapters}


def synthetic_documents(real, template_doc: np.ndarray, doc_names: np.ndarray) -> tuple[list, list]:
    """(questions, passages): each synthetic document is its template's record under a new id."""
    questions, passages = [], []
    for name, t in zip(doc_names.tolist(), template_doc.tolist()):
        d = real.doc_ids[t]
        q = real.index.question_by_id.get(d)
        if q is not None:
            questions.append(dataclasses.replace(q, id=name))
        else:
            passages.append(dataclasses.replace(real.index.passage_by_id[d], id=name))
    return questions, passages


# ---------------------------------------------------------------- measuring


def _ms(t: float) -> float:
    return (time.perf_counter() - t) * 1000.0


def stats(ms: Sequence[float]) -> dict:
    """p50 / p95 / mean of timings in milliseconds."""
    a = np.asarray(ms, dtype=np.float64)
    if not len(a):
        return {"p50_ms": None, "p95_ms": None, "mean_ms": None, "n": 0}
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "mean_ms": round(float(a.mean()), 3), "n": len(a)}


def rss_mb() -> dict:
    """This process's resident memory now (VmRSS, and its anonymous and file-backed parts), MB."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    except OSError:  # not Linux: only the peak is known
        pass
    return out


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB: ``VmHWM`` on Linux, else ``ru_maxrss``.

    On Linux the ``ru_maxrss`` of a process started by fork + exec starts at its parent's peak (exec
    folds the old address space's high-water mark into it), so a worker spawned by a parent holding
    300 MB reports at least 300 MB; ``VmHWM`` belongs to the worker's own address space.
    """
    return rss_peaks()["peak"]


def rss_peaks() -> dict:
    """``{"peak": VmHWM or ru_maxrss, "ru_maxrss": ru_maxrss}`` in MB."""
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ru_mb = round(ru / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
    try:
        hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
        return {"peak": round(int(hwm.split()[1]) / 1024, 1), "ru_maxrss": ru_mb}
    except (OSError, StopIteration):
        return {"peak": ru_mb, "ru_maxrss": ru_mb}


def _mb(p: Path) -> float:
    return round(p.stat().st_size / 2**20, 2)


def _timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, round(time.perf_counter() - t, 3)


def _settings(index_dir: str | None) -> Settings:
    s = Settings()  # the app edge: QBANK_* apply, as for every command
    return s.model_copy(update={"index_dir": Path(index_dir)}) if index_dir else s


def real_index(settings: Settings, build_if_missing: bool = False):
    """The real index to grow corpora from (``qbank build``'s, built first when missing and asked to)."""
    from qbank.errors import IndexMissingError
    from qbank.index.store import load_index

    try:
        index = load_index(settings, check_corpus=False)
    except IndexMissingError:
        if not build_if_missing:
            raise
        from qbank.retrieval.engine import build

        print(f"no index at {settings.index_dir}: building it (qbank build)", file=sys.stderr)
        build(settings)
        index = load_index(settings, check_corpus=False)
    if not index.has_dense:
        raise QbankError(f"the index at {settings.index_dir} has no vectors; the scale benchmark needs a dense "
                         "index: run `qbank build`")
    return index


# ---------------------------------------------------------------- worker: build one size


def worker_build(settings: Settings, n: int, folder: Path, seed: int) -> dict:
    """Synthesise ``n`` chunks and time each build stage, writing the files as ``index/store.py`` does."""
    import faiss

    from qbank.index.dense import build_ann, resolve_ann_kind
    from qbank.index.lexical import BM25

    real = Template.from_index(real_index(settings))
    s = settings
    out: dict = {"n": n}
    corpus, out["synthesize_s"] = _timed(synthesize, real, n, seed)
    tokens, out["tokens_to_lists_s"] = _timed(corpus.term_lists, real.vocab)
    out["rss_after_synthesis_mb"] = rss_mb().get("VmRSS")
    lexical, dense = corpus.lexical_rows, corpus.dense_rows
    # as `qbank build` makes it: rank-bm25's statistics, saved as arrays (bm25.npz, loaded as is)
    t = time.perf_counter()
    bm25 = BM25([tokens[i] for i in lexical] or [[]], s.bm25_variant, s.bm25_k1, s.bm25_b, s.bm25_delta)
    out["bm25_s"] = round(time.perf_counter() - t, 3)
    out["rss_after_bm25_mb"] = rss_mb().get("VmRSS")
    t = time.perf_counter()
    bm25.save(folder / "bm25.npz")
    out["write_bm25_npz_s"] = round(time.perf_counter() - t, 3)
    del bm25
    gc.collect()
    kind = resolve_ann_kind(s.ann, len(dense), s.ann_flat_below)
    # the product's format (index/store.py) and a binary alternative: term ids + offsets + vocabulary
    t = time.perf_counter()
    (folder / "bm25_tokens.json").write_text(json.dumps(tokens, ensure_ascii=False))
    out["write_tokens_json_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    np.save(folder / "bm25_term_ids.npy", corpus.term_ids)
    np.save(folder / "bm25_term_offsets.npy", corpus.term_offsets)
    (folder / "bm25_vocab.json").write_text(json.dumps(real.vocab, ensure_ascii=False))
    out["write_tokens_binary_s"] = round(time.perf_counter() - t, 3)
    del tokens
    gc.collect()
    for k in ("flat", "hnsw"):  # one at a time, freed before the next
        ann, out[f"{k}_build_s"] = _timed(build_ann, corpus.vectors[dense], k, s.hnsw_m, s.hnsw_ef_construction)
        out[f"write_{k}_s"] = _timed(faiss.write_index, ann, str(folder / f"ann_{k}.faiss"))[1]
        del ann
        gc.collect()
    out["write_vectors_s"] = _timed(np.save, folder / "embeddings.npy", corpus.vectors)[1]
    # what `qbank build` writes of these (it writes one ANN: the kind its rule picks)
    out["write_s"] = round(out["write_tokens_json_s"] + out["write_vectors_s"] + out[f"write_{kind}_s"], 3)
    for name in ("template_doc", "chunk_doc", "chunk_template", "legs"):  # the harness's own, for serving
        np.save(folder / f"synthetic_{name}.npy", getattr(corpus, name))
    peaks = rss_peaks()
    out["peak_rss_mb"], out["ru_maxrss_mb"] = peaks["peak"], peaks["ru_maxrss"]
    out["docs"] = len(corpus.template_doc)
    out["lexical_rows"], out["dense_rows"], out["ann_product"] = len(lexical), len(dense), kind
    out["disk_mb"] = {"vectors_npy": _mb(folder / "embeddings.npy"), "ann_flat": _mb(folder / "ann_flat.faiss"),
                      "ann_hnsw": _mb(folder / "ann_hnsw.faiss"), "tokens_json": _mb(folder / "bm25_tokens.json"),
                      "bm25_npz": _mb(folder / "bm25.npz"),
                      "tokens_binary": round(sum(_mb(folder / f) for f in ("bm25_term_ids.npy", "bm25_term_offsets.npy",
                                                                          "bm25_vocab.json")), 2)}
    return out


# ---------------------------------------------------------------- worker: serve one size


def worker_serve(settings: Settings, n: int, folder: Path, queries: list[str]) -> dict:
    """Load one size as the product loads an index and time the legs and ``hybrid`` over ``queries``."""
    import faiss

    from qbank.index.dense import ann_search, resolve_ann_kind
    from qbank.index.lexical import BM25, tokenize_query
    from qbank.retrieval.legs import EXACT_FILTER_ROWS, bm25_leg, dense_leg
    from qbank.retrieval.searcher import Searcher

    s = settings
    index = real_index(settings)
    real = Template.from_index(index)
    out: dict = {"n": n, "load": {}, "memory_mb": {}, "latency": {}, "recall@10": {}}
    mem, load, lat = out["memory_mb"], out["load"], out["latency"]

    def now() -> float:
        return rss_mb().get("VmRSS", 0.0)

    mem["baseline"] = now()  # interpreter, libraries, the real bank used as template

    template_doc = np.load(folder / "synthetic_template_doc.npy")
    chunk_doc = np.load(folder / "synthetic_chunk_doc.npy")
    chunk_template = np.load(folder / "synthetic_chunk_template.npy")
    legs = np.load(folder / "synthetic_legs.npy")
    doc_names = np.char.add("S", np.arange(len(template_doc)).astype(str))
    doc_ids = doc_names[chunk_doc]
    questions, passages = synthetic_documents(real, template_doc, doc_names)
    lexical, dense = np.flatnonzero(legs != DENSE), np.flatnonzero(legs != LEXICAL)
    mem["documents"] = round(now() - mem["baseline"], 1)

    # the product's load: bm25_tokens.json (match signals, features), bm25.npz (since the tenth
    # session; before, BM25 was rebuilt from the tokens on every load), embeddings.npy, ann.faiss
    before, t = now(), time.perf_counter()
    tokens = json.loads((folder / "bm25_tokens.json").read_text(encoding="utf-8"))
    load["tokens_json_s"] = round(time.perf_counter() - t, 3)
    mem["tokens"] = round(now() - before, 1)
    before, t = now(), time.perf_counter()
    bm25 = BM25.load(folder / "bm25.npz", s.bm25_variant, s.bm25_k1, s.bm25_b, s.bm25_delta)
    load["bm25_s"] = round(time.perf_counter() - t, 3)
    mem["bm25"] = round(now() - before, 1)
    before = now()
    vectors, load["vectors_s"] = _timed(np.load, folder / "embeddings.npy", allow_pickle=False)
    mem["vectors"] = round(now() - before, 1)
    kind = resolve_ann_kind(s.ann, len(dense), s.ann_flat_below)
    other = "hnsw" if kind == "flat" else "flat"
    before = now()
    anns = {kind: None}
    anns[kind], load["ann_s"] = _timed(faiss.read_index, str(folder / f"ann_{kind}.faiss"))
    mem["ann"] = round(now() - before, 1)
    idx = SyntheticIndex({"ann_built": kind}, tokens, bm25, lexical, dense, doc_ids, range(len(template_doc)),
                         LazyChunks(index.chunks, chunk_template, doc_ids), questions, passages, index.chapters,
                         vectors, anns[kind], index.embedding_model, index.embedding_backend,
                         doc_names.tolist(), chunk_doc, index.surface)
    searcher = Searcher(idx, s)
    before = now()
    encoder = searcher.embedder  # the query encoder the product's searcher picks for this index
    encoder.encode_queries(["warm up"])
    mem["query_encoder"] = round(now() - before, 1)
    mem["serving"] = now()
    out["encoder"] = getattr(encoder, "backend", "custom")

    filters = selective_filter(index)
    mask_times = []
    for _ in range(max(3, min(20, len(queries)))):
        t = time.perf_counter()
        mask = searcher.allowed_rows(filters)
        mask_times.append(_ms(t))
    lat["filter_mask"] = stats(mask_times)
    allowed = np.flatnonzero(mask[dense])  # FAISS ids a filtered dense search may return
    out["filter"] = {"filters": filters.to_dict(), "rows": int(mask.sum()), "share": round(float(mask.mean()), 4),
                     "dense_rows": len(allowed),
                     "dense_path": "exact" if len(allowed) <= EXACT_FILTER_ROWS else "ann"}

    embed_times, qvecs = [], []
    for q in queries:
        t = time.perf_counter()
        qvecs.append(encoder.encode_queries([q])[0])
        embed_times.append(_ms(t))
    lat["embed"] = stats(embed_times)
    terms = [tokenize_query(q, bm25.vocabulary) for q in queries]

    def loop(fn, items) -> dict:
        for x in items[:WARMUP]:
            fn(x)
        times = []
        for x in items:
            t = time.perf_counter()
            fn(x)
            times.append(_ms(t))
        return stats(times)

    def dense_loops(name: str) -> None:
        lat[f"dense_{name}"] = loop(lambda v: dense_leg(idx, v, None, s.depth_dense, s.hnsw_ef_search), qvecs)
        lat[f"dense_{name}_filtered"] = loop(lambda v: dense_leg(idx, v, mask, s.depth_dense, s.hnsw_ef_search), qvecs)

    lat["bm25"] = loop(lambda ts: bm25_leg(idx, ts, None, s.depth_bm25), terms)
    lat["bm25_filtered"] = loop(lambda ts: bm25_leg(idx, ts, mask, s.depth_bm25), terms)
    dense_loops(kind)

    def hybrid(name: str, f) -> None:
        stages: dict[str, list[float]] = {}
        for q in queries[:WARMUP]:
            searcher.search(q, K, "hybrid", f)
        for q in queries:
            timings = searcher.search(q, K, "hybrid", f).timings_ms
            # "other": what no stage times (input checks, filter mask, query terms, hit assembly)
            timings["other"] = timings["total"] - sum(v for st, v in timings.items() if st != "total")
            for st, v in timings.items():
                stages.setdefault(st, []).append(v)
        lat[name] = stats(stages.get("total", []))
        # what grows with N: the query minus its embedding (which costs the same at any N)
        lat[f"{name}_without_embed"] = stats([a - b for a, b in zip(stages.get("total", []), stages.get("embed", []))])
        lat[f"{name}_stages_p50_ms"] = {st: stats(v)["p50_ms"] for st, v in stages.items() if st != "total"}

    hybrid("hybrid", None)
    hybrid("hybrid_filtered", filters)
    mem["serving_after_queries"] = now()
    mem["serving_after_queries_anon"] = rss_mb().get("RssAnon")
    mem["serving_peak"] = peak_rss_mb()  # load (BM25's transient included) and queries: the product's state

    # the vectors memory-mapped instead: FAISS holds its own copy, so the .npy is read only by a
    # filtered search's exact path (and the `full` mode's features). Pages read through the map count
    # in VmRSS as file pages (with the kernel's read-ahead) but can be dropped under pressure: RssAnon
    idx.vectors = None
    del vectors
    gc.collect()
    mem["serving_without_vectors"] = now()
    idx.vectors = np.load(folder / "embeddings.npy", mmap_mode="r")
    lat[f"dense_{kind}_filtered_mmap"] = loop(lambda v: dense_leg(idx, v, mask, s.depth_dense, s.hnsw_ef_search), qvecs)
    mem["serving_vectors_mmap"] = now()
    mem["serving_vectors_mmap_anon"] = rss_mb().get("RssAnon")

    # the other ANN kind, for its latency and for HNSW's recall against exact search
    anns[other], load[f"{other}_s"] = _timed(faiss.read_index, str(folder / f"ann_{other}.faiss"))
    idx.ann = anns[other]
    dense_loops(other)
    idx.ann = anns[kind]
    # as dense_leg asks: `fetch` chunks (over-fetched before the roll-up), so efSearch = max(ef, fetch)
    per_doc = len(dense) / max(1, len(template_doc))
    fetch = min(len(dense), int(s.depth_dense * max(4.0, per_doc)))
    rec: dict[str, list[float]] = {}
    for v in qvecs:
        for sel, tag in ((None, ""), (allowed, "_filtered")):
            _, exact = ann_search(anns["flat"], v, 10, s.hnsw_ef_search, sel)
            if not len(exact):
                continue
            want = set(exact.tolist())
            for k, name in ((10, "hnsw_vs_flat"), (fetch, "hnsw_vs_flat_at_fetch")):
                _, got = ann_search(anns["hnsw"], v, k, s.hnsw_ef_search, sel)
                rec.setdefault(name + tag, []).append(len(set(got[:10].tolist()) & want) / len(want))
    out["recall@10"] = {name: round(float(np.mean(v)), 4) for name, v in rec.items()}
    out["recall@10"].update({"ef_search": s.hnsw_ef_search, "fetch": fetch})

    def binary_tokens():
        words = np.array(json.loads((folder / "bm25_vocab.json").read_text(encoding="utf-8")), dtype=object)
        ids = np.load(folder / "bm25_term_ids.npy")
        off = np.load(folder / "bm25_term_offsets.npy").tolist()
        w = words[ids].tolist()
        return [w[a:b] for a, b in zip(off[:-1], off[1:])]

    load["tokens_binary_s"] = _timed(binary_tokens)[1]
    out["ann_product"] = kind
    out["faiss_threads"] = faiss.omp_get_max_threads()
    mem["bench_peak"] = peak_rss_mb()  # everything above, both ANN indexes included
    mem["ru_maxrss"] = rss_peaks()["ru_maxrss"]  # see peak_rss_mb: carries the parent's size at spawn
    return out


# ---------------------------------------------------------------- the parent: sizes, growth, findings


def per_chunk_costs(index, settings: Settings, sample: int = 128, seed: int = 0) -> dict:
    """What a real build of N chunks also pays and the synthetic run does not, measured per chunk on
    the real bank: tokenising, embedding, the chunk records a LoadedIndex holds, chunks.jsonl bytes."""
    import tracemalloc

    from qbank.index.dense import make_document_embedder
    from qbank.index.lexical import _stem, tokenize
    from qbank.ingest.pipeline import read_jsonl
    from qbank.records import Chunk

    lexical = [c.text for c in index.chunks if c.legs != "dense"]
    _stem.cache_clear()  # a build starts in a new process
    t = time.perf_counter()
    for x in lexical:
        tokenize(x)
    tok_ms = _ms(t) / max(1, len(lexical))
    dense = [c.text for c in index.chunks if c.legs != "lexical"]
    rng = np.random.default_rng(seed)
    pick = [dense[i] for i in rng.choice(len(dense), size=min(sample, len(dense)), replace=False)]
    embedder = make_document_embedder(index.embedding_model, settings.embedding_backend)
    embedder.encode_documents(pick[:4], settings.embedding_batch_size)
    t = time.perf_counter()
    embedder.encode_documents(pick, settings.embedding_batch_size)
    emb_ms = _ms(t) / max(1, len(pick))
    path = index.path / "chunks.jsonl"
    tracemalloc.start()
    chunks = [Chunk.from_dict(d) for d in read_jsonl(path)]
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    n = max(1, len(chunks))
    return {"tokenize_ms": round(tok_ms, 4), "embed_document_ms": round(emb_ms, 3), "embedder": embedder.name,
            "embed_backend": getattr(embedder, "backend", "custom"), "chunk_record_bytes": round(held / n),
            "chunks_jsonl_bytes": round(path.stat().st_size / n)}


def pick_queries(settings: Settings, index, n: int, seed: int) -> tuple[list[str], str]:
    """``n`` real query texts: the bank's sample queries (its expansions file), else its stem chunks."""
    from qbank.ingest.expansions import read_expansions

    path = settings.expansions_path
    pool = [q for _, qs in read_expansions(path).values() for q in qs] if path else []
    source = str(path) if pool else "stem chunks of the index"
    if not pool:
        pool = [c.text for c in index.chunks if c.field == "stem"] or [c.text for c in index.chunks]
    rng = np.random.default_rng(seed)
    pool = [" ".join(q.split())[: settings.max_query_chars] for q in pool if q.strip()]
    idx = rng.choice(len(pool), size=n, replace=n > len(pool))
    return [pool[i] for i in idx], source


def _worker(args: list[str]) -> dict:
    """Run one phase in its own process; its result comes back as JSON in a file."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result = Path(f.name)
    try:
        p = subprocess.run([sys.executable, "-m", "qbank.eval.scale", *args, "--result", str(result)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            tail = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"
            raise QbankError(f"scale worker {' '.join(args[:4])} failed: {tail}")
        return json.loads(result.read_text(encoding="utf-8"))
    finally:
        result.unlink(missing_ok=True)


def run_size(n: int, settings: Settings, workdir: Path, queries_file: Path, seed: int, keep_files: bool,
             faiss_threads: int | None = None) -> dict:
    """Build size ``n`` in one subprocess, serve it in another; their results as one record."""
    import shutil

    folder = workdir / f"n{n}"
    folder.mkdir(parents=True, exist_ok=True)
    common = ["--n", str(n), "--dir", str(folder), "--index-dir", str(settings.index_dir)]
    if faiss_threads:
        common += ["--faiss-threads", str(faiss_threads)]
    try:
        load_before = os.getloadavg()
        t = time.perf_counter()
        build = _worker(["--worker", "build", *common, "--seed", str(seed)])
        build_wall = time.perf_counter() - t
        t = time.perf_counter()
        serve = _worker(["--worker", "serve", *common, "--queries-file", str(queries_file)])
        serve_wall = time.perf_counter() - t
    finally:
        if not keep_files:
            shutil.rmtree(folder, ignore_errors=True)
    rec = {"n": n, "docs": build.pop("docs"), "lexical_rows": build.pop("lexical_rows"),
           "dense_rows": build.pop("dense_rows"), "ann_product": build.pop("ann_product"),
           "faiss_threads": serve["faiss_threads"], "disk_mb": build.pop("disk_mb"), "build": build,
           "load": serve["load"], "memory_mb": serve["memory_mb"], "latency": serve["latency"],
           "recall@10": serve["recall@10"], "filter": serve["filter"], "encoder": serve["encoder"],
           "wall_s": {"build": round(build_wall, 1), "serve": round(serve_wall, 1)},
           # 1-minute load average before and after: others' work on a shared machine shows here
           "loadavg_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]}
    return rec


def add_estimates(rec: dict, per_chunk: dict) -> None:
    """Per-chunk costs of the real bank × this size (linear by construction; labelled estimates)."""
    rec["estimates"] = {
        "tokenize_s": round(per_chunk["tokenize_ms"] * rec["lexical_rows"] / 1000, 1),
        "embed_documents_s": round(per_chunk["embed_document_ms"] * rec["dense_rows"] / 1000, 1),
        "chunk_records_mb": round(per_chunk["chunk_record_bytes"] * rec["n"] / 2**20, 1),
        "chunks_jsonl_mb": round(per_chunk["chunks_jsonl_bytes"] * rec["n"] / 2**20, 1),
    }


# name → path in a size's record; the series growth and findings look at
SERIES = {
    "synthesize_s": ("build", "synthesize_s"),
    "bm25_build_s": ("build", "bm25_s"),
    "flat_build_s": ("build", "flat_build_s"),
    "hnsw_build_s": ("build", "hnsw_build_s"),
    "write_s": ("build", "write_s"),
    "load_tokens_json_s": ("load", "tokens_json_s"),
    "load_bm25_s": ("load", "bm25_s"),
    "vectors_npy_mb": ("disk_mb", "vectors_npy"),
    "ann_hnsw_mb": ("disk_mb", "ann_hnsw"),
    "tokens_json_mb": ("disk_mb", "tokens_json"),
    "bm25_rss_mb": ("memory_mb", "bm25"),
    "tokens_rss_mb": ("memory_mb", "tokens"),
    "serving_rss_mb": ("memory_mb", "serving_peak"),
    "build_rss_mb": ("build", "peak_rss_mb"),
    "filter_mask_p50_ms": ("latency", "filter_mask", "p50_ms"),
    "bm25_p50_ms": ("latency", "bm25", "p50_ms"),
    "bm25_filtered_p50_ms": ("latency", "bm25_filtered", "p50_ms"),
    "dense_flat_p50_ms": ("latency", "dense_flat", "p50_ms"),
    "dense_hnsw_p50_ms": ("latency", "dense_hnsw", "p50_ms"),
    "dense_hnsw_filtered_p50_ms": ("latency", "dense_hnsw_filtered", "p50_ms"),
    "hybrid_p50_ms": ("latency", "hybrid", "p50_ms"),
    "hybrid_without_embed_p50_ms": ("latency", "hybrid_without_embed", "p50_ms"),
    "hybrid_filtered_p50_ms": ("latency", "hybrid_filtered", "p50_ms"),
}


def series_value(rec: dict, name: str) -> float | None:
    v = rec
    for key in SERIES[name]:
        v = v.get(key) if isinstance(v, dict) else None
    return v


def growth(sizes: list[dict]) -> dict:
    """Per series, the exponent e of value ∝ N^e between each pair of consecutive sizes (1 = linear)."""
    out: dict = {}
    recs = sorted(sizes, key=lambda r: r["n"])
    for name in SERIES:
        steps = []
        for a, b in zip(recs, recs[1:]):
            va, vb = series_value(a, name), series_value(b, name)
            if va and vb and va > 0 and vb > 0:
                steps.append({"from": a["n"], "to": b["n"], "exponent": round(math.log(vb / va) / math.log(b["n"] / a["n"]), 2)})
        if steps:
            out[name] = steps
    return out


def _floor(name: str) -> float:
    return next(v for suffix, v in FLOORS.items() if name.endswith(suffix))


def findings(sizes: list[dict], grown: dict) -> tuple[list[str], dict]:
    """Super-linear series, and where each target is (or, extrapolated, would be) missed."""
    notes = []
    by_n = {r["n"]: r for r in sizes}
    for name, steps in grown.items():
        for st in steps:
            vb = series_value(by_n[st["to"]], name)
            if st["exponent"] > SUPERLINEAR and vb is not None and vb >= _floor(name):
                notes.append(f"{name} grows super-linearly from {st['from']:,} to {st['to']:,} chunks: "
                             f"N^{st['exponent']} ({series_value(by_n[st['from']], name)} → {vb})")
    targets = {}
    recs = sorted(sizes, key=lambda r: r["n"])
    for name, (at_n, limit) in TARGETS.items():
        pts = [(r["n"], series_value(r, name)) for r in recs if series_value(r, name) is not None]
        values = dict(pts)
        missed = [n for n, v in pts if v > limit]
        t: dict = {"limit": limit, "at_n": at_n, "measured": {str(n): v for n, v in pts}, "missed_at_n": missed,
                   "first_missed_at_n": missed[0] if missed else None}
        if at_n in values:
            t["met_at_target_n"] = values[at_n] <= limit
        # a straight line (a fixed part plus a part ∝ N) through the two largest sizes: where it crosses
        if len(pts) >= 2 and pts[-1][1] <= limit:
            (n1, v1), (n2, v2) = pts[-2], pts[-1]
            slope = (v2 - v1) / (n2 - n1)
            t["extrapolated_crossing_n"] = round(n2 + (limit - v2) / slope) if slope > 0 else None
        targets[name] = t
        if not pts:
            continue
        parts = [f"at {at_n:,} chunks {'met' if values[at_n] <= limit else 'MISSED'} ({values[at_n]:g})"
                 if at_n in values else f"not measured at {at_n:,} chunks"]
        if [n for n in missed if n != at_n]:
            parts.append("over it at " + ", ".join(f"{n:,} ({values[n]:g})" for n in missed if n != at_n))
        if t.get("extrapolated_crossing_n"):
            parts.append(f"a straight line through the two largest sizes crosses it near "
                         f"{t['extrapolated_crossing_n']:,} chunks")
        if missed and name.startswith("hybrid"):  # which stages: the embedding costs the same at any N
            stages = by_n[missed[-1]]["latency"].get(name.removesuffix("_p50_ms") + "_stages_p50_ms", {})
            if stages:
                parts.append(f"p50 by stage at {missed[-1]:,}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in stages.items()))
        notes.append(f"target {name} ≤ {limit:g}: " + "; ".join(parts))
    return notes, targets


def _p(stat: dict | None) -> str:
    if not stat or stat.get("p50_ms") is None:
        return "—"
    return f"{stat['p50_ms']:.2f} / {stat['p95_ms']:.2f}"


def markdown(result: dict) -> str:
    """The results as two Markdown tables (build and disk; serving) and the findings."""
    rows_b = ["| chunks N | docs | synthesis s | BM25 build s | flat build s | HNSW build s | write s | "
              "vectors .npy MB | flat MB | HNSW MB | tokens JSON MB | tokens binary MB | build peak RSS MB |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows_s = ["| chunks N | ANN (rule) | load s: tokens JSON + BM25 | serving peak RSS MB | anon RSS MB: vectors "
              "loaded → mmap'd | BM25 leg | dense flat | dense HNSW | HNSW recall@10: plain / filtered / filtered at "
              "the leg's fetch | hybrid | hybrid less embedding | hybrid, filtered | filter mask | filter rows (dense "
              "path) |",
              "|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(result["sizes"], key=lambda r: r["n"]):
        b, d, m, lat, rc, f = r["build"], r["disk_mb"], r["memory_mb"], r["latency"], r["recall@10"], r["filter"]
        rows_b.append(f"| {r['n']:,} | {r['docs']:,} | {b['synthesize_s'] + b['tokens_to_lists_s']:.2f} | "
                      f"{b['bm25_s']:.2f} | {b['flat_build_s']:.2f} | {b['hnsw_build_s']:.2f} | {b['write_s']:.2f} | "
                      f"{d['vectors_npy']:.1f} | {d['ann_flat']:.1f} | {d['ann_hnsw']:.1f} | {d['tokens_json']:.1f} | "
                      f"{d['tokens_binary']:.1f} | {b['peak_rss_mb']:.0f} |")
        recall = " / ".join(str(rc.get(k, "—")) for k in ("hnsw_vs_flat", "hnsw_vs_flat_filtered",
                                                           "hnsw_vs_flat_at_fetch_filtered"))
        rows_s.append(f"| {r['n']:,} | {r['ann_product']} | {r['load']['tokens_json_s'] + r['load']['bm25_s']:.2f} | "
                      f"{m['serving_peak']:.0f} | {m['serving_after_queries_anon']:.0f} → "
                      f"{m['serving_vectors_mmap_anon']:.0f} | {_p(lat['bm25'])} | {_p(lat['dense_flat'])} | "
                      f"{_p(lat['dense_hnsw'])} | {recall} | {_p(lat['hybrid'])} | {_p(lat['hybrid_without_embed'])} | "
                      f"{_p(lat['hybrid_filtered'])} | {_p(lat['filter_mask'])} | {f['rows']:,} = {f['share']:.1%} "
                      f"({f['dense_path']}) |")
    notes = "\n".join(f"- {x}" for x in result.get("findings", [])) or "- nothing super-linear, no target missed"
    return ("Build and disk (synthesis is the harness's, not a build stage):\n\n" + "\n".join(rows_b)
            + f"\n\nServing (warm latency p50 / p95 ms over {result['queries']['n']} queries; legs at depth "
            + f"{result['settings']['depth_bm25']}; hybrid = Searcher.search, query embedding included):\n\n"
            + "\n".join(rows_s) + "\n\nWhat breaks first:\n\n" + notes + "\n")


def plot(result: dict, path: Path) -> None:
    """Log-log curves: build stages, query latency (p50) and memory/disk against N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = sorted(result["sizes"], key=lambda r: r["n"])
    ns = [r["n"] for r in recs]
    panels = [("build and load (s)", ["bm25_build_s", "flat_build_s", "hnsw_build_s", "write_s", "load_tokens_json_s"], None),
              ("query p50 (ms)", ["bm25_p50_ms", "dense_flat_p50_ms", "dense_hnsw_p50_ms", "hybrid_p50_ms",
                                  "hybrid_filtered_p50_ms", "filter_mask_p50_ms"], TARGETS["hybrid_p50_ms"][1]),
              ("memory and disk (MB)", ["serving_rss_mb", "build_rss_mb", "vectors_npy_mb", "ann_hnsw_mb",
                                        "tokens_json_mb"], TARGETS["serving_rss_mb"][1])]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for ax, (title, names, limit) in zip(axes, panels):
        for name in names:
            vals = [series_value(r, name) for r in recs]
            pts = [(n, v) for n, v in zip(ns, vals) if v]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=name)
        if limit:
            ax.axhline(limit, color="grey", linestyle="--", linewidth=1, label=f"target {limit:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks N")
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.suptitle(f"qbank scale benchmark ({result['machine']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def run(sizes: list[int], n_queries: int, settings: Settings, workdir: Path | None = None, seed: int = 0,
        keep_files: bool = False, faiss_threads: int | None = None) -> dict:
    """The whole benchmark: every size built and served in its own subprocesses; returns the result."""
    index = real_index(settings, build_if_missing=True)
    queries, source = pick_queries(settings, index, n_queries, seed)
    per_chunk = per_chunk_costs(index, settings, seed=seed)
    s = settings
    result = {
        "benchmark": "qbank.eval.scale",
        "machine": f"{os.cpu_count()} cores, {sys.platform}, Python {sys.version.split()[0]}",
        "settings": {"ann": s.ann, "ann_flat_below": s.ann_flat_below, "hnsw_m": s.hnsw_m,
                     "hnsw_ef_construction": s.hnsw_ef_construction, "hnsw_ef_search": s.hnsw_ef_search,
                     "bm25": f"{s.bm25_variant}(k1={s.bm25_k1}, b={s.bm25_b}, delta={s.bm25_delta})",
                     "rrf_k": s.rrf_k, "weights": {"bm25": s.weight_bm25, "dense": s.weight_dense},
                     "depth_bm25": s.depth_bm25, "depth_dense": s.depth_dense, "k": K},
        "synthetic": {"seed": seed, "keep": KEEP, "noise_norm": NOISE_NORM, "filter_share": FILTER_SHARE,
                      "template": {"index": str(index.path), "chunks": len(index.chunks),
                                   "documents": len(index.doc_rows), "dense_rows": len(index.dense_rows),
                                   "lexical_rows": len(index.lexical_rows)}},
        "queries": {"n": len(queries), "source": source, "encoder": None},
        "per_chunk": per_chunk,
        "sizes": [],
    }
    with tempfile.TemporaryDirectory(prefix="qbank-scale-", dir=workdir) as d:
        qfile = Path(d) / "queries.json"
        qfile.write_text(json.dumps(queries, ensure_ascii=False))
        for n in sizes:
            t = time.perf_counter()
            print(f"scale: {n:,} chunks ...", file=sys.stderr, flush=True)
            rec = run_size(n, settings, Path(d), qfile, seed, keep_files, faiss_threads)
            add_estimates(rec, per_chunk)
            result["sizes"].append(rec)
            print(f"scale: {n:,} chunks done in {time.perf_counter() - t:.1f} s (hybrid p50 "
                  f"{rec['latency']['hybrid']['p50_ms']} ms, serving peak RSS {rec['memory_mb']['serving_peak']} MB)",
                  file=sys.stderr, flush=True)
    result["queries"]["encoder"] = result["sizes"][0]["encoder"] if result["sizes"] else None
    finish(result)
    return result


def finish(result: dict) -> dict:
    """Growth exponents, findings and targets from the sizes (re-run by ``--from``)."""
    result["growth"] = growth(result["sizes"])
    result["findings"], result["targets"] = findings(result["sizes"], result["growth"])
    return result


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    except ValueError:
        raise QbankError(f"--sizes takes whole numbers separated by commas, e.g. 10000,100000; got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise QbankError(f"--sizes needs at least one size of 1 chunk or more; got {text!r}")
    return sorted(set(sizes))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m qbank.eval.scale", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="corpus sizes in chunks")
    ap.add_argument("--queries", type=int, default=200, help="real sample queries timed per size")
    ap.add_argument("--out", type=Path, help="write the JSON result here too")
    ap.add_argument("--plot", type=Path, help="draw the curves into this PNG (needs matplotlib: qbank[bench])")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables instead of the JSON")
    ap.add_argument("--from", dest="from_file", type=Path, help="re-render a previous --out file, run nothing")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--index-dir", help="the real index to grow corpora from (default: QBANK_INDEX_DIR / data/index)")
    ap.add_argument("--workdir", type=Path, help="where the synthetic index files go (default: the system's temp)")
    ap.add_argument("--keep-files", action="store_true", help="keep the synthetic index files")
    ap.add_argument("--faiss-threads", type=int, help="OpenMP threads for FAISS (default: FAISS's, as the product)")
    # one phase of one size, in its own process (run by the parent)
    ap.add_argument("--worker", choices=("build", "serve"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    try:
        if a.worker:
            settings = _settings(a.index_dir)
            if a.faiss_threads:
                import faiss

                faiss.omp_set_num_threads(a.faiss_threads)
            if a.worker == "build":
                res = worker_build(settings, a.n, a.dir, a.seed)
            else:
                res = worker_serve(settings, a.n, a.dir, json.loads(a.queries_file.read_text(encoding="utf-8")))
            a.result.write_text(json.dumps(res))
            return 0
        if a.plot and not _has_matplotlib():
            print("error: --plot needs matplotlib: pip install 'qbank[bench]'", file=sys.stderr)
            return 2
        if a.queries < 1:
            raise QbankError(f"--queries must be 1 or more, got {a.queries}")
        if a.from_file:
            result = finish(json.loads(a.from_file.read_text(encoding="utf-8")))
        else:
            result = run(_sizes(a.sizes), a.queries, _settings(a.index_dir), a.workdir, a.seed, a.keep_files,
                         a.faiss_threads)
    except QbankError as e:
        print(f"error: {e.short()}", file=sys.stderr)
        return 2
    if a.out:
        from qbank.fileio import write_atomic

        write_atomic(a.out, json.dumps(result, indent=1) + "\n")
    if a.plot:
        plot(result, a.plot)
    print(markdown(result) if a.markdown else json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
