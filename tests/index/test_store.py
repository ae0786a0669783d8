import json

import numpy as np
import pytest

from qbank.errors import IndexMismatchError, IndexMissingError
from qbank.index.dense import HashingEmbedder
from qbank.index.store import EmbeddingCache, build_index, load_index
from qbank.ingest.bank import parse_bank_text
from qbank.ingest.pipeline import build_corpus
from qbank.retrieval.searcher import Searcher


def test_round_trip_identical_hits(tiny_index, tiny_settings):
    a = Searcher(tiny_index, tiny_settings).search("kv cache attention", 10, "hybrid")
    b = Searcher(load_index(tiny_settings), tiny_settings).search("kv cache attention", 10, "hybrid")
    assert [(h.id, h.score, h.chunk_id) for h in a.hits] == [(h.id, h.score, h.chunk_id) for h in b.hits]
    m = json.loads((tiny_settings.index_dir / "manifest.json").read_text())
    assert m["counts"]["questions"] == 10 and m["bm25"]["variant"] == "plus" and m["ann"]["kind"] == "hnsw"
    assert m["embedding"]["model"] == "hashing-256" and set(m["files"]) >= {"ann.faiss", "chunks.jsonl"}


def test_missing_index(tiny_settings):
    with pytest.raises(IndexMissingError, match="no index at .*; run `qbank build` first"):
        load_index(tiny_settings)


def test_settings_mismatch_refused(tiny_index, tiny_settings):
    other = tiny_settings.model_copy(update={"bm25_k1": 2.0})
    with pytest.raises(IndexMismatchError, match=r"other bm25 settings \(k1: 1.2 ≠ 2.0\); run `qbank build`"):
        load_index(other)


def test_corrupted_file_refused(tiny_index, tiny_settings):
    p = tiny_settings.index_dir / "chunks.jsonl"
    p.write_text(p.read_text()[:-20])
    with pytest.raises(IndexMismatchError, match="chunks.jsonl is corrupted"):
        load_index(tiny_settings)


def test_stale_bank_refused(tiny_index, tiny_settings):
    tiny_settings.bank.write_text(tiny_settings.bank.read_text().replace("tensor", "tensors"))
    with pytest.raises(IndexMismatchError, match="changed since the index was built; run `qbank build`"):
        load_index(tiny_settings)


class CountingEmbedder(HashingEmbedder):
    def __init__(self):
        super().__init__(64)
        self.seen = 0

    def encode_documents(self, texts, batch_size=32, progress=None):
        self.seen += len(texts)
        return super().encode_documents(texts, batch_size, progress)


def test_rebuild_embeds_only_changed_chunks(tiny_bank_text, tiny_settings):
    emb = CountingEmbedder()
    corpus = build_corpus(parse_bank_text(tiny_bank_text, str(tiny_settings.bank)), None, tiny_settings)
    r1 = build_index(corpus, tiny_settings, embedder=emb)
    assert r1.embedded == len(corpus.chunks) == emb.seen
    edited = tiny_bank_text.replace("What is speculative decoding?", "What is speculative decoding, really?")
    corpus2 = build_corpus(parse_bank_text(edited, str(tiny_settings.bank)), None, tiny_settings)
    r2 = build_index(corpus2, tiny_settings, embedder=emb)
    assert r2.embedded == 1 and emb.seen == len(corpus.chunks) + 1
    assert not any(p.name.startswith(".building-") for p in tiny_settings.index_dir.parent.iterdir())


def test_embedding_cache_survives_garbage(tmp_path):
    (tmp_path / "keys.json").write_text("not json")
    (tmp_path / "vectors.npy").write_text("junk")
    cache = EmbeddingCache(tmp_path)
    vecs, n = cache.embed(["a b", "c d"], HashingEmbedder(16), 8)
    assert n == 2 and vecs.shape == (2, 16) and np.allclose(np.linalg.norm(vecs, axis=1), 1)


def test_rebuild_keeps_the_trained_reranker(tiny_index, tiny_settings, tiny_bank_text):
    rr = tiny_settings.index_dir / "reranker"
    (rr / "model").mkdir(parents=True)
    (rr / "manifest.json").write_text('{"kind": "qbank-reranker"}')
    corpus = build_corpus(parse_bank_text(tiny_bank_text, str(tiny_settings.bank)), None, tiny_settings)
    build_index(corpus, tiny_settings, embedder=HashingEmbedder(256))
    assert json.loads((rr / "manifest.json").read_text()) == {"kind": "qbank-reranker"} and (rr / "model").is_dir()
    load_index(tiny_settings)  # the reranker folder is not part of the index checksums
