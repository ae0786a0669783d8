"""A BEIR dataset as its own qbank index (never mixed with the bank's)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from qbank.config import Settings
from qbank.errors import IndexMismatchError, IndexMissingError
from qbank.eval.data import load_beir
from qbank.index.store import build_index, load_index
from qbank.ingest.pipeline import Corpus
from qbank.records import Chunk
from qbank.retrieval.searcher import Searcher

# Anserini's BEIR "flat" setting: title + text, k1=0.9, b=0.4 (OFFLINE.md, SOURCE.md)
BEIR_BM25 = {"bm25_variant": "okapi", "bm25_k1": 0.9, "bm25_b": 0.4}


def beir_settings(base: Settings, folder: Path) -> Settings:
    name = folder.resolve().name
    return base.model_copy(update={"index_dir": base.index_dir.parent / f"beir-{name}", **BEIR_BM25})


def beir_corpus(folder: Path, docs: list[dict]) -> Corpus:
    # one chunk per doc: the embedder truncates long abstracts (as MTEB's figures do)
    chunks = [Chunk(d["_id"], d["_id"], "doc", "doc", f"{d['title']}\n{d['text']}".strip(), 0, "doc") for d in docs]
    sha = hashlib.sha256("".join(d["_id"] for d in docs).encode()).hexdigest()
    return Corpus(str(folder), sha, [], [], [], chunks)


def beir_searcher(folder: Path, base: Settings, dense: bool, progress_factory=None, split: str = "test"):
    """(searcher, queries, qrels) for a BEIR folder, building its index on first use."""
    docs, queries, qrels = load_beir(folder, split)
    settings = beir_settings(base, folder)
    try:
        index = load_index(settings, check_corpus=False)
        if dense and not index.has_dense:
            raise IndexMissingError("no dense vectors")
    except (IndexMissingError, IndexMismatchError):
        corpus = beir_corpus(folder, docs)
        progress = progress_factory(len(corpus.chunks)) if (progress_factory and dense) else None
        build_index(corpus, settings, progress=progress, dense=dense)
        index = load_index(settings, check_corpus=False)
    return Searcher(index, settings), queries, qrels
