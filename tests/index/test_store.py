import json

import numpy as np
import pytest

from qbank.errors import IndexMismatchError, IndexMissingError
from qbank.index.dense import HashingEmbedder
from qbank.index.embedcache import EmbeddingCache
from qbank.index.store import build_index, load_index
from qbank.ingest.bank import parse_bank_text
from qbank.ingest.pipeline import build_corpus
from qbank.retrieval.searcher import Searcher


def test_round_trip_identical_hits(tiny_index, tiny_settings):
    a = Searcher(tiny_index, tiny_settings).search("kv cache attention", 10, "hybrid")
    b = Searcher(load_index(tiny_settings), tiny_settings).search("kv cache attention", 10, "hybrid")
    assert [(h.id, h.score, h.chunk_id) for h in a.hits] == [(h.id, h.score, h.chunk_id) for h in b.hits]
    m = json.loads((tiny_settings.index_dir / "manifest.json").read_text())
    assert m["counts"]["questions"] == 10 and m["bm25"]["variant"] == "plus" and m["ann"]["kind"] == "auto"
    assert m["ann_built"] == "flat"  # 17 vectors: below the flat threshold, exact search
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
    # every chunk, plus each question's full text (one whole-question vector each, for related)
    first = len(corpus.chunks) + len(corpus.questions)
    assert r1.embedded == first == emb.seen
    edited = tiny_bank_text.replace("What is speculative decoding?", "What is speculative decoding, really?")
    corpus2 = build_corpus(parse_bank_text(edited, str(tiny_settings.bank)), None, tiny_settings)
    r2 = build_index(corpus2, tiny_settings, embedder=emb)
    # the edited stem chunk and the edited question's full text
    assert r2.embedded == 2 and emb.seen == first + 2
    assert not any(p.name.startswith(".building-") for p in tiny_settings.index_dir.parent.iterdir())


def test_embedding_cache_survives_garbage(tmp_path):
    (tmp_path / "keys.json").write_text("not json")
    (tmp_path / "vectors.npy").write_text("junk")
    cache = EmbeddingCache(tmp_path)
    vecs, n = cache.embed(["a b", "c d"], HashingEmbedder(16), 8)
    assert n == 2 and vecs.shape == (2, 16) and np.allclose(np.linalg.norm(vecs, axis=1), 1)


@pytest.mark.parametrize("mutate, message", [
    (lambda m: [1, 2], r"not a qbank index manifest \(a JSON list, not an object\)"),
    (lambda m: None, r"a JSON NoneType, not an object"),
    (lambda m: {k: v for k, v in m.items() if k != "corpus"}, r"no corpus.bank / corpus.sha256"),
    (lambda m: {k: v for k, v in m.items() if k != "files"}, r"no files table"),
    (lambda m: {**m, "files": {k: v for k, v in m["files"].items() if k != "chunks.jsonl"}},
     r"files table lacks chunks.jsonl"),
    (lambda m: {**m, "files": {**m["files"], "../x": "0"}}, r"a file name that is not a plain name"),
    (lambda m: {**m, "schema_version": 1}, r"has schema 1, this qbank reads 4"),
])
def test_manifest_is_validated_as_a_whole(tiny_index, tiny_settings, mutate, message):
    from qbank.errors import IndexMismatchError

    mp = tiny_settings.index_dir / "manifest.json"
    mp.write_text(json.dumps(mutate(json.loads(mp.read_text()))))
    with pytest.raises(IndexMismatchError, match=message):
        load_index(tiny_settings)


def test_index_file_replaced_by_a_folder(tiny_index, tiny_settings):
    from qbank.errors import IndexMismatchError

    p = tiny_settings.index_dir / "bm25_tokens.json"
    p.unlink()
    p.mkdir()
    with pytest.raises(IndexMismatchError, match=r"bm25_tokens.json is not a file; run `qbank build`"):
        load_index(tiny_settings)


def test_an_edited_bank_is_stale_wherever_it_lives(tiny_index, tiny_settings, tmp_path):
    from qbank.errors import IndexMismatchError

    moved = tmp_path / "elsewhere.txt"
    moved.write_text(tiny_settings.bank.read_text())
    load_index(tiny_settings.model_copy(update={"bank": moved}))  # an identical copy elsewhere: fine
    moved.write_text(moved.read_text().replace("What is speculative decoding?", "What is it?"))
    with pytest.raises(IndexMismatchError, match="changed since the index was built"):
        load_index(tiny_settings.model_copy(update={"bank": moved}))


def test_a_killed_embedding_run_resumes_from_its_last_checkpoint(tmp_path):
    class Dies(HashingEmbedder):
        def __init__(self, after):
            super().__init__(16)
            self.after, self.seen = after, 0

        def encode_documents(self, texts, batch_size=32, progress=None):
            self.seen += len(texts)
            if self.seen > self.after:
                raise KeyboardInterrupt  # killed half-way
            return super().encode_documents(texts, batch_size, progress)

    texts = [f"text number {i}" for i in range(10)]
    (tmp_path / "tmpabc").mkdir()  # a temp folder a killed save left behind
    with pytest.raises(KeyboardInterrupt):
        EmbeddingCache(tmp_path).embed(texts, Dies(after=8), 8, checkpoint=4)
    cache = EmbeddingCache(tmp_path)
    assert len(cache.keys) == 8 and not (tmp_path / "tmpabc").exists()  # two checkpoints of 4 survived
    counting = Dies(after=100)
    vecs, n = cache.embed(texts, counting, 8, checkpoint=4)
    assert n == 2 and counting.seen == 2 and vecs.shape == (10, 16)


def test_an_explicitly_named_model_must_be_the_one_the_index_was_built_with(tiny_index, tiny_settings):
    assert load_index(tiny_settings).embedding_model == "hashing-256"  # named, and the same
    other = tiny_settings.model_copy(update={"embedding_model": "all-MiniLM-L6-v2"})
    other.model_fields_set.add("embedding_model")
    with pytest.raises(IndexMismatchError, match="was built with the embedding model hashing-256, the settings "
                                                 "name all-MiniLM-L6-v2; run `qbank build`"):
        load_index(other)
    unnamed = type(tiny_settings)(**{k: getattr(tiny_settings, k) for k in tiny_settings.model_fields_set
                                      if k != "embedding_model"})
    assert load_index(unnamed).embedding_model == "hashing-256"  # not named: the index's own model serves
