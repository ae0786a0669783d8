"""One index generation (index/generations.py), written complete and checked on load.

Layout (no pickle)::

    manifest.json     schema, versions, settings, corpus sha256, counts, sha256 of every file
    questions.jsonl   the records        chapters.jsonl   the catalogue
    passages.jsonl    chapter passages   chunks.jsonl     the chunks, in row order
    bm25_tokens.json  the BM25 terms of each chunk (match signals, the learned ranker's features)
    bm25.npz          BM25 over the chunks' terms: rank-bm25's statistics as arrays (index/lexical.py)
    question_bm25.npz BM25 over each question's full text (related questions, learned ranker)
    embeddings.npy    float32 [n_chunks, dim], row i = chunk i
    ann.faiss         the FAISS index over those rows (row → chunk id = chunks.jsonl order)
    question_vectors.npy  float32 [n_questions, dim]: each question's full text embedded whole
                      (questions.jsonl order; related questions, index/related.py)
    corelevance.json  the co-relevance graph's edges between this corpus's unchanged questions

Embeddings are cached across builds (:mod:`qbank.index.embedcache`), keyed by the sha256 of each
text, so a rebuild after an edit re-embeds only the changed texts.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import qbank
from qbank.config import Settings
from qbank.errors import IndexMismatchError, IndexMissingError, UnavailableError
from qbank.fileio import sha256_file  # noqa: F401 - imported from here by the training and reranker code
from qbank.index.dense import Embedder, build_ann, canonical_model_name, make_document_embedder, resolve_ann_kind
from qbank.index.embedcache import EmbeddingCache
from qbank.index.generations import build_lock, building_dir, cleanup, new_generation_id, publish, recover
from qbank.index.lexical import BM25, TOKENIZER_VERSION, tokenize
from qbank.ingest.chunker import CHUNKER_VERSION
from qbank.ingest.pipeline import Corpus, read_jsonl, write_corpus
from qbank.records import ChapterInfo, Chunk, Passage, Question

SCHEMA_VERSION = 4  # 2: question_vectors.npy, corelevance.json; 3: question_tokens.json; 4: bm25.npz, question_bm25.npz
REBUILD = "run `qbank build` to rebuild it"


def index_settings(settings: Settings) -> dict[str, Any]:
    """The settings an index is built with; a loaded index must agree on them."""
    return {
        "chunker": {"version": CHUNKER_VERSION, "encoding": "cl100k_base", "chunk_max_tokens": settings.chunk_max_tokens,
                    "passage_max_tokens": settings.passage_max_tokens,
                    "passage_overlap_tokens": settings.passage_overlap_tokens,
                    "expansion_layout": settings.expansion_layout},
        "bm25": {"variant": settings.bm25_variant, "k1": settings.bm25_k1, "b": settings.bm25_b,
                 "delta": settings.bm25_delta, "tokenizer": TOKENIZER_VERSION},
        "ann": {"kind": settings.ann, "flat_below": settings.ann_flat_below, "metric": "inner_product",
                "normalised": True, "M": settings.hnsw_m,
                "efConstruction": settings.hnsw_ef_construction},
    }


@dataclass
class BuildReport:
    path: Path
    chunks: int
    embedded: int  # texts embedded now (the rest of the vectors came from the cache)
    seconds: dict[str, float] = field(default_factory=dict)
    vectors: int = 0  # chunks with a vector (the rest are BM25-only)
    texts: int = 0  # texts with a vector: those chunks plus one full text per question


def build_index(corpus: Corpus, settings: Settings, embedder: Embedder | None = None, progress=None,
                dense: bool = True) -> BuildReport:
    """Embed, index and write ``settings.index_dir`` atomically (temp dir + rename).

    ``dense=False`` writes a BM25-only index (no model is loaded; dense modes then refuse).
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    texts = [c.text for c in corpus.chunks]
    dense_rows = rows_for_leg(corpus.chunks, "dense")
    if dense:
        embedder = embedder or make_document_embedder(settings.embedding_model, settings.embedding_backend)
        timings["load_model"] = time.perf_counter() - t0
        t = time.perf_counter()
        cache = EmbeddingCache(settings.cache_dir / "embeddings" / f"{_safe(embedder.name)}-{embedder.weights_hash}")
        # the chunks, then each question's full text (one vector per question, for related questions)
        full = [q.full_text() for q in corpus.questions]
        embedded, n_new = cache.embed([texts[i] for i in dense_rows] + full, embedder,
                                      settings.embedding_batch_size, progress)
        embedded, question_vectors = embedded[: len(dense_rows)], embedded[len(dense_rows) :]
        # one row per chunk; a chunk only BM25 sees (joined sample queries) keeps a zero row
        vectors = np.zeros((len(texts), embedded.shape[1]), dtype=np.float32)
        vectors[dense_rows] = embedded
        timings["embed"] = time.perf_counter() - t
    else:
        timings["load_model"] = timings["embed"] = 0.0
        vectors, n_new = None, 0

    t = time.perf_counter()
    tokens = [tokenize(x) if c.legs != "dense" else [] for x, c in zip(texts, corpus.chunks)]
    # the BM25 terms of each question's full text (related questions, the learned ranker), so a
    # one-shot search does not tokenise the bank (~150 ms) before its first answer
    tokens_q = [tokenize(q.full_text()) for q in corpus.questions]
    timings["tokenize"] = time.perf_counter() - t
    t = time.perf_counter()
    # FAISS id i = chunk row dense_rows[i]
    ann_kind = resolve_ann_kind(settings.ann, len(dense_rows), settings.ann_flat_below)
    ann = build_ann(vectors[dense_rows], ann_kind, settings.hnsw_m, settings.hnsw_ef_construction) if dense else None
    timings["ann"] = time.perf_counter() - t

    corelevance, corelevance_stats, corelevance_src = {}, None, None
    if settings.corelevance_path is not None:
        from qbank.index.related import corelevance_edges, read_corelevance

        corelevance_src = settings.corelevance_path
        corelevance, corelevance_stats = corelevance_edges(read_corelevance(corelevance_src), corpus.questions)

    t = time.perf_counter()
    target = settings.index_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(target):  # one build of this index at a time; a second one waits
        gen = new_generation_id()
        tmp = building_dir(target, gen)
        try:
            _write_generation(tmp, gen, corpus, settings, (tokens, tokens_q), corelevance, corelevance_src, corelevance_stats,
                              vectors if dense else None, question_vectors if dense else None, ann, embedder, dense_rows)
            publish(target, tmp, gen)  # one atomic rename: the index is the old one or the new one
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        cleanup(target)
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return BuildReport(target, len(corpus.chunks), n_new, timings, len(dense_rows) if dense else 0,
                       len(dense_rows) + len(corpus.questions) if dense else 0)


def _write_generation(tmp: Path, gen: str, corpus: Corpus, settings: Settings, tokens, corelevance, corelevance_src,
                      corelevance_stats, vectors, question_vectors, ann, embedder, dense_rows) -> None:
    """Every file of one generation, the manifest (with the sha256 of each) last."""
    dense = vectors is not None
    write_corpus(corpus, tmp)
    tokens, tokens_q = tokens
    (tmp / "bm25_tokens.json").write_text(json.dumps(tokens, ensure_ascii=False))
    s = settings
    lexical = rows_for_leg(corpus.chunks, "lexical")
    BM25([tokens[i] for i in lexical] or [[]], s.bm25_variant, s.bm25_k1, s.bm25_b, s.bm25_delta).save(tmp / "bm25.npz")
    BM25(tokens_q or [[]], s.bm25_variant, s.bm25_k1, s.bm25_b, s.bm25_delta).save(tmp / "question_bm25.npz")
    (tmp / "corelevance.json").write_text(json.dumps(corelevance, ensure_ascii=False, sort_keys=True))
    if dense:
        np.save(tmp / "embeddings.npy", vectors)
        np.save(tmp / "question_vectors.npy", np.ascontiguousarray(question_vectors, dtype=np.float32))
        import faiss

        faiss.write_index(ann, str(tmp / "ann.faiss"))
    files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir())}
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "generation": gen,
        "qbank_version": qbank.__version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "corpus": {"bank": str(corpus.bank_path), "sha256": corpus.bank_sha256,
                   "chapter_files": sorted({p.source for p in corpus.passages}),
                   "expansions": ({"file": corpus.expansions.path, "sha256": corpus.expansions.sha256}
                                  if corpus.expansions else None),
                   "corelevance": ({"file": str(corelevance_src), "sha256": sha256_file(corelevance_src),
                                    **corelevance_stats} if corelevance_src else None)},
        # the kind actually built ("auto" resolves by size: index/dense.py:resolve_ann_kind)
        "ann_built": ("hnsw" if hasattr(ann, "hnsw") else "flat") if ann is not None else None,
        "embedding": ({"model": embedder.name, "backend": getattr(embedder, "backend", "custom"),
                       "weights_sha256_16": embedder.weights_hash,
                       "dim": int(vectors.shape[1])} if dense else None),
        **index_settings(settings),
        "counts": {"questions": len(corpus.questions), "chunks": len(corpus.chunks),
                   "lexical_rows": len(rows_for_leg(corpus.chunks, "lexical")), "dense_rows": len(dense_rows),
                   "passages": len(corpus.passages), "chapters": len(corpus.chapters)},
        "files": files,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))


def rows_for_leg(chunks: list[Chunk], leg: str) -> np.ndarray:
    """Chunk rows the ``leg`` ("lexical" or "dense") indexes, in row order."""
    return np.array([i for i, c in enumerate(chunks) if c.legs in ("both", leg)], dtype=np.int64)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[-60:]


class LoadedIndex:
    """A loaded index directory. Dense parts (vectors, FAISS) load on first use, so BM25-only
    paths never import FAISS or torch."""

    def __init__(self, path: Path, manifest: dict, questions: list[Question], chapters: list[ChapterInfo],
                 passages: list[Passage], chunks: list[Chunk], tokens: list[list[str]], settings: Settings) -> None:
        self.path = path
        self.manifest = manifest
        self.questions = questions
        self.question_by_id = {q.id: q for q in questions}
        self.chapters = chapters
        self.chapter_by_number = {c.number: c for c in chapters}
        self.passages = passages
        self.passage_by_id = {p.id: p for p in passages}
        self.chunks = chunks
        self.tokens = tokens
        self.settings = settings
        # each leg indexes its own rows: BM25 document j = chunk row lexical_rows[j], FAISS id i =
        # chunk row dense_rows[i] (both are every row unless some chunks are for one leg only)
        self.lexical_rows = rows_for_leg(chunks, "lexical")
        self.dense_rows = rows_for_leg(chunks, "dense")
        self.bm25 = self._load_bm25("bm25.npz", max(len(self.lexical_rows), 1))
        self._vectors: np.ndarray | None = None
        self._ann = None
        self._question_vectors: np.ndarray | None = None
        self._question_bm25: BM25 | None = None
        self._corelevance: dict[str, dict[str, float]] | None = None
        self._surface: dict[str, str] | None = None
        self.question_row = {q.id: i for i, q in enumerate(questions)}
        # rows of each doc
        self.doc_ids = np.array([c.doc_id for c in chunks])
        # documents in first-chunk order, and each chunk row's document number: a filter decided per
        # document becomes a row mask by one gather (doc_mask[chunk_doc]), whatever the chunk count
        self.doc_order = list(dict.fromkeys(c.doc_id for c in chunks))
        pos = {d: i for i, d in enumerate(self.doc_order)}
        self.chunk_doc = np.fromiter((pos[c.doc_id] for c in chunks), dtype=np.int64, count=len(chunks))
        self.doc_rows: dict[str, list[int]] = {}
        self.sample_query_mask = np.array([c.field == "queries" for c in chunks], dtype=bool)
        # the rows with a vector of each doc's own text (no sample queries): their mean stands for the doc
        self.doc_text_rows: dict[str, list[int]] = {}
        # and the rows with a vector of its sample queries (the learned ranker reads their cosines)
        self.doc_query_rows: dict[str, list[int]] = {}
        for i, c in enumerate(chunks):
            self.doc_rows.setdefault(c.doc_id, []).append(i)
            if c.legs != "lexical":
                rows = self.doc_query_rows if c.field == "queries" else self.doc_text_rows
                rows.setdefault(c.doc_id, []).append(i)

    @property
    def surface(self) -> dict[str, str]:
        """Term → the word that most often stands for it in the indexed texts (made on first use)."""
        if self._surface is None:
            from qbank.index.lexical import surface_forms

            self._surface = surface_forms(c.text for c in self.chunks)
        return self._surface

    @property
    def question_vectors(self) -> np.ndarray:
        """One unit vector per question (``self.questions`` order): its full text embedded whole."""
        self._need_dense()
        if self._question_vectors is None:
            self._question_vectors = np.load(self.path / "question_vectors.npy", allow_pickle=False)
            if self._question_vectors.shape[0] != len(self.questions):
                raise IndexMismatchError(f"{self.path / 'question_vectors.npy'} holds "
                                         f"{self._question_vectors.shape[0]} vectors for {len(self.questions)} "
                                         f"questions; {REBUILD}")
        return self._question_vectors

    @property
    def question_bm25(self) -> BM25:
        """BM25 over one document per question (its full text), ``self.questions`` order."""
        if self._question_bm25 is None:
            self._question_bm25 = self._load_bm25("question_bm25.npz", max(len(self.questions), 1))
        return self._question_bm25

    def _load_bm25(self, name: str, n_docs: int) -> BM25:
        s = self.settings
        try:
            bm = BM25.load(self.path / name, s.bm25_variant, s.bm25_k1, s.bm25_b, s.bm25_delta)
        except ValueError as e:
            raise IndexMismatchError(f"{self.path / name} cannot be read ({e}); {REBUILD}") from None
        if bm.n_docs != n_docs:
            raise IndexMismatchError(f"{self.path / name} holds {bm.n_docs} documents for {n_docs}; {REBUILD}")
        return bm

    @property
    def corelevance(self) -> dict[str, dict[str, float]]:
        """The co-relevance graph's edges (empty when the index was built without one)."""
        if self._corelevance is None:
            p = self.path / "corelevance.json"
            self._corelevance = json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}
        return self._corelevance

    @property
    def has_dense(self) -> bool:
        return self.manifest.get("embedding") is not None

    def _need_dense(self) -> None:
        if not self.has_dense:
            raise UnavailableError(f"the index at {self.path} was built without dense vectors (BM25 only); "
                                   "use --mode bm25 or rebuild it with dense vectors")

    @property
    def vectors(self) -> np.ndarray:
        self._need_dense()
        if self._vectors is None:
            # memory-mapped: read-only pages shared by every process serving this generation (the
            # API's workers) and not a second private copy beside FAISS's own
            self._vectors = np.load(self.path / "embeddings.npy", mmap_mode="r", allow_pickle=False)
        return self._vectors

    @property
    def ann(self):
        self._need_dense()
        if self._ann is None:
            import faiss

            from qbank.index.dense import maybe_to_gpu

            try:
                self._ann = maybe_to_gpu(faiss.read_index(str(self.path / "ann.faiss")), self.settings.use_gpu)
            except RuntimeError as e:
                raise IndexMismatchError(f"{self.path / 'ann.faiss'} cannot be read ({str(e).splitlines()[0][:80]}); {REBUILD}") from None
            if self._ann.ntotal != len(self.dense_rows):
                raise IndexMismatchError(f"{self.path / 'ann.faiss'} holds {self._ann.ntotal} vectors for "
                                         f"{len(self.dense_rows)} chunks; {REBUILD}")
        return self._ann

    @property
    def embedding_model(self) -> str:
        self._need_dense()
        return self.manifest["embedding"]["model"]

    @property
    def embedding_backend(self) -> str:
        self._need_dense()
        return self.manifest["embedding"].get("backend", "sentence-transformers")


REQUIRED_FILES = ("questions.jsonl", "chapters.jsonl", "passages.jsonl", "chunks.jsonl", "bm25_tokens.json",
                  "bm25.npz", "question_bm25.npz", "corelevance.json")
DENSE_FILES = ("embeddings.npy", "ann.faiss", "question_vectors.npy")


def check_manifest(manifest: Any, path: Path) -> None:
    """The manifest as a whole: an object with the keys and types loading relies on, and a ``files``
    table (name → sha256) naming every file the index needs, so no file escapes its checksum."""
    where = path / "manifest.json"

    def bad(what: str):
        raise IndexMismatchError(f"{where} is not a qbank index manifest ({what}); {REBUILD}")

    if not isinstance(manifest, dict):
        bad(f"a JSON {type(manifest).__name__}, not an object")
    if not isinstance(manifest.get("schema_version"), int):
        bad("no schema_version")
    corpus = manifest.get("corpus")
    if not isinstance(corpus, dict) or not isinstance(corpus.get("bank"), str) or not isinstance(corpus.get("sha256"), str):
        bad("no corpus.bank / corpus.sha256")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        bad("no files table")
    emb = manifest.get("embedding")
    if emb is not None and not isinstance(emb, dict):
        bad("embedding is neither an object nor null")
    need = REQUIRED_FILES + (DENSE_FILES if emb else ())
    missing = [n for n in need if n not in files]
    if missing:
        bad(f"files table lacks {', '.join(missing)}")
    if any("/" in n or "\\" in n or n.startswith(".") for n in files):
        bad("a file name that is not a plain name")


def load_index(settings: Settings, check_corpus: bool = True, verify_files: bool = True) -> LoadedIndex:
    """Load ``settings.index_dir``; refuse a missing, stale, mismatched or corrupted index."""
    recover(settings.index_dir)  # a pointer lost in a crash: back to the newest complete generation
    # one generation, resolved once: a rebuild meanwhile never mixes its files into this index
    path = settings.index_dir.resolve() if settings.index_dir.is_symlink() else settings.index_dir
    mpath = path / "manifest.json"
    if not mpath.exists():
        raise IndexMissingError(f"no index at {settings.index_dir}; run `qbank build` first")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        raise IndexMismatchError(f"{mpath} is not valid JSON; {REBUILD}") from None
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if isinstance(version, int) and version != SCHEMA_VERSION:  # before the shape: an older index differs
        raise IndexMismatchError(f"index at {path} has schema {version}, this qbank reads {SCHEMA_VERSION}; {REBUILD}")
    check_manifest(manifest, path)
    want = index_settings(settings)
    for key, value in want.items():
        if manifest.get(key) != value:
            diff = {k: (manifest.get(key, {}).get(k), v) for k, v in value.items() if manifest.get(key, {}).get(k) != v}
            raise IndexMismatchError(f"index at {path} was built with other {key} settings "
                                     f"({', '.join(f'{k}: {a} ≠ {b}' for k, (a, b) in diff.items())}); {REBUILD}")
    # an index's queries are encoded by the model it records; a model named explicitly (argument or
    # QBANK_EMBEDDING_MODEL) must be that one, or the user would search with another model unawares
    emb = manifest.get("embedding")
    if (isinstance(emb, dict) and "embedding_model" in settings.model_fields_set
            and canonical_model_name(settings.embedding_model) != emb.get("model")):
        raise IndexMismatchError(f"index at {path} was built with the embedding model {emb.get('model')}, the "
                                 f"settings name {settings.embedding_model}; {REBUILD}")
    # the bank is compared by content wherever it lives now (a moved copy is fine, an edited one is not)
    if check_corpus and settings.bank.is_file():
        if sha256_file(settings.bank) != manifest["corpus"]["sha256"]:
            raise IndexMismatchError(f"the bank {settings.bank} changed since the index was built; {REBUILD}")
        exp_path = settings.expansions_path
        built = manifest["corpus"].get("expansions")
        now = {"file": str(exp_path), "sha256": sha256_file(exp_path)} if exp_path else None
        if (built or {}).get("sha256") != (now or {}).get("sha256"):
            what = f"the expansions file {exp_path or built['file']}"
            raise IndexMismatchError(f"{what} changed since the index was built; {REBUILD}")
        cor_path = settings.corelevance_path
        built = manifest["corpus"].get("corelevance")
        if (built or {}).get("sha256") != (sha256_file(cor_path) if cor_path else None):
            what = f"the co-relevance graph {cor_path or built['file']}"
            raise IndexMismatchError(f"{what} changed (or was switched on or off) since the index was built; {REBUILD}")
    files = manifest["files"]
    for name, sha in files.items():
        p = path / name
        if not p.exists():
            raise IndexMismatchError(f"index file {p} is missing; {REBUILD}")
        if not p.is_file():
            raise IndexMismatchError(f"index file {p} is not a file; {REBUILD}")
        if verify_files and sha256_file(p) != sha:
            raise IndexMismatchError(f"index file {p} is corrupted (checksum mismatch); {REBUILD}")
    try:
        questions = [Question.from_dict(d) for d in read_jsonl(path / "questions.jsonl")]
        chapters = [ChapterInfo(**{**d, "cited_by": tuple(d["cited_by"]),
                                   "cited_from_sections": tuple(d["cited_from_sections"])})
                    for d in read_jsonl(path / "chapters.jsonl")]
        passages = [Passage.from_dict(d) for d in read_jsonl(path / "passages.jsonl")]
        chunks = [Chunk.from_dict(d) for d in read_jsonl(path / "chunks.jsonl")]
        tokens = json.loads((path / "bm25_tokens.json").read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError) as e:
        raise IndexMismatchError(f"index at {path} cannot be read ({type(e).__name__}); {REBUILD}") from None
    if len(tokens) != len(chunks):
        raise IndexMismatchError(f"index at {path} is inconsistent (tokens vs chunks); {REBUILD}")
    return LoadedIndex(path, manifest, questions, chapters, passages, chunks, tokens, settings)
