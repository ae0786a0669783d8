"""Shared fixtures: a tiny inline bank indexed with the hashing embedder (fast, no model), and
the real shipped bank indexed once per session with the real MiniLM model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qbank.config import DATA_DIR, Settings
from qbank.index.dense import HashingEmbedder
from qbank.index.store import build_index, load_index
from qbank.ingest.bank import parse_bank_text
from qbank.ingest.pipeline import build_corpus
from qbank.retrieval.searcher import Searcher

SLOW_FIXTURES = {"real_settings", "real_searcher"}


def pytest_collection_modifyitems(items):
    """A test that uses the real model or the real index is ``slow``, whatever module it is in."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


TINY_BANK = """\
Appendix E

E.1 ML foundations (Chapters 1–10)

1. [W][MLE] What’s a tensor? What does broadcasting do? Chapter 1 · testing: baseline numerics fluency

2. [M][AS] Why does the √d factor appear in scaled dot-product attention? Chapter 6 · testing: variance math What they want to hear:

  • If Q, K entries are iid N(0,1), dot product variance is d
  • Dividing by √d keeps variance at 1

3. [H][MLE] What’s the difference between MHA, MQA, and GQA? Chapter 33 · testing: attention variants · Meta, Mistral What they want to hear:

  • MHA: one K/V per query head — largest KV cache
  • MQA: single shared K/V — cache is H× smaller

E.3 Inference internals (Chapters 21–35)

81. [M][MLS] How big is the KV-cache for Llama 3 70B at 4K context? Chapters 22, 24 · testing: memory math What they want to hear:

  • 2 × layers × kv_heads × head_dim × bytes per token

82. [H][INF] Explain product quantization for vector search. Chapter 57 · testing: ANN compression

83. [W][INF] What is speculative decoding? Chapter 27 · testing: draft and verify

E.12 Coding questions [new section]

466. [M][MLE] Implement numerically-stable softmax. Chapter 6 · testing: overflow prevention Solution sketch: Subtract the row max before exp; divide by the sum.

467. [H][RE] Implement an LRU cache for KV blocks. Chapter 24 · testing: cache eviction Solution sketch: Use an ordered dict; move to end on hit; evict the first item when full.

E.13 Behavioral [new section]

506. [M][MLE] Tell me about a time you missed a deadline. Chapter 128 · canonical story: ownership What they’re testing:

  • Do you own the outcome?

516. [M][MLS] How do you handle a disagreement with your manager? What they’re testing: Disagree and commit.


Total: 10 questions across E.1–E.13.
"""


# 22 questions over 6 sections: enough for study sets (mixes, MMR) and the UI pages
STUDY_BANK = """\
E.1 ML foundations (Chapters 1–10)

1. [W][MLE] What’s a tensor? What does broadcasting do? Chapter 1 · testing: baseline numerics fluency

2. [W][MLE] Why do neural networks need nonlinearities? Chapter 2 · testing: stacked linear layers collapse

3. [M][MLE] Explain backpropagation in one minute. Chapter 3 · testing: chain rule fluency What they want to hear:

  • Forward pass builds a computation graph; backward walks it in reverse
  • Gradients accumulate into parameters

4. [H][AS] Why does Adam need bias correction in its moment estimates? Chapter 4 · testing: optimizer internals · Google

5. [M][RE] What is mixed precision training and why does loss scaling matter? Chapter 4 · testing: fp16 underflow

E.2 Inference internals (Chapters 11–20)

6. [W][MLS] What is a KV cache and why does decoding need one? Chapter 11 · testing: autoregressive decoding basics

7. [M][MLS] How much KV cache memory does a 70B model need at 4K context? Chapter 11 · testing: KV cache sizing arithmetic What they want to hear:

  • Bytes per token = 2 x layers x kv heads x head dim x dtype bytes
  • Multiply by context length and batch size

8. [M][MLS] How much KV cache memory does a 70B model need at 4K context length? Chapter 11 · testing: KV cache sizing arithmetic What they want to hear:

  • Bytes per token = 2 x layers x kv heads x head dim x dtype bytes
  • Multiply by context length and batch size

9. [H][MLS] Explain PagedAttention and how it reduces KV cache fragmentation. Chapter 12 · testing: paged KV cache memory management · Meta

10. [H][INF] Design KV cache offloading to CPU memory for long context serving. Chapter 12 · testing: memory hierarchy for KV cache

11. [M][MLS] What is speculative decoding and when does it speed up inference? Chapter 13 · testing: draft model acceptance rate

12. [H][RE] Explain tensor parallelism for attention layers across GPUs. Chapter 14 · testing: column and row parallel splits

13. [M][MLE] What is weight quantization to int8 and what does it cost in accuracy? Chapter 15 · testing: quantization error

14. [S][MLS] Derive the memory bandwidth bound of decode throughput for a quantized KV cache. Chapter 11 · testing: roofline reasoning

E.3 Retrieval and RAG (Chapters 21–30)

15. [W][MLE] What is BM25 and why is it still a strong baseline? Chapter 21 · testing: lexical retrieval basics

16. [M][MLE] Explain product quantization for vector search. What does it trade off? Chapter 22 · testing: compressed vector index memory vs recall What they want to hear:

  • Split vectors into subvectors and quantize each with its own codebook
  • Memory shrinks a lot at some recall cost

17. [M][AS] How does HNSW graph search find approximate nearest neighbours? Chapter 22 · testing: ANN graph index

18. [H][MLS] Design a hybrid retrieval system that fuses BM25 and dense vectors. Chapter 23 · testing: reciprocal rank fusion and filters · Meta, Google

19. [W][AS] What is reciprocal rank fusion? Chapter 23 · testing: rank fusion basics

20. [H][RE] How would you evaluate a RAG pipeline end to end? Chapter 24 · testing: retrieval and generation metrics

21. [M][MLE] Implement a function that computes recall at k for a ranked list. Chapter 24 · testing: eval metric code Solution sketch: Count the relevant ids among the first k results and divide by the number of relevant ids; return 0 when there are none.

22. [M][MLE] Tell me about a time you shipped a retrieval system that failed in production. Chapter 25 · canonical story: ownership and learning What they’re testing:

  • Do you own the failure and what changed afterwards?

Total: 22 questions
"""


def build_study_index(root: Path):
    """Write the 22-question bank under ``root`` and index it; returns (settings, searcher)."""
    from qbank.config import Settings
    from qbank.index.dense import HashingEmbedder
    from qbank.index.store import build_index, load_index
    from qbank.ingest.bank import parse_bank_text
    from qbank.ingest.expansions import write_expansions
    from qbank.ingest.pipeline import build_corpus
    from qbank.retrieval.searcher import Searcher

    bank = root / "bank.txt"
    bank.write_text(STUDY_BANK, encoding="utf-8")
    # one question carries sample queries (ingest/expansions.py), as every shipped one does
    write_expansions(root / "bank.expansions.jsonl", parse_bank_text(STUDY_BANK).questions,
                     {"E3-16": ["squeeze embedding vectors into a few bytes each", "product quantization codebooks"]})
    settings = Settings(index_dir=root / "idx", cache_dir=root / "cache", embedding_model="hashing-256", bank=bank,
                        chapters_dir=root / "no-chapters", use_corelevance=False, reranker_path=root / "reranker")
    corpus = build_corpus(parse_bank_text(STUDY_BANK, str(bank)), None, settings)
    build_index(corpus, settings, embedder=HashingEmbedder(256))
    return settings, Searcher(load_index(settings), settings)


@pytest.fixture(scope="session")
def study_index(tmp_path_factory):
    """(settings, searcher) over STUDY_BANK, indexed with the hashing embedder, once per session."""
    return build_study_index(tmp_path_factory.mktemp("study-bank"))


@pytest.fixture(scope="session")
def tiny_bank_text() -> str:
    return TINY_BANK


@pytest.fixture()
def tiny_settings(tmp_path: Path) -> Settings:
    bank = tmp_path / "bank.txt"
    bank.write_text(TINY_BANK, encoding="utf-8")
    return Settings(bank=bank, index_dir=tmp_path / "idx", cache_dir=tmp_path / "cache",
                    chapters_dir=tmp_path / "chapters", embedding_model="hashing-256", use_corelevance=False,
                    reranker_path=tmp_path / "reranker")


@pytest.fixture()
def tiny_index(tiny_settings):
    bank = parse_bank_text(TINY_BANK, str(tiny_settings.bank))
    corpus = build_corpus(bank, None, tiny_settings)
    build_index(corpus, tiny_settings, embedder=HashingEmbedder(256))
    return load_index(tiny_settings)


@pytest.fixture()
def tiny_searcher(tiny_index, tiny_settings) -> Searcher:
    return Searcher(tiny_index, tiny_settings)


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory) -> Settings:
    """The shipped bank, indexed with the real MiniLM once per session (embedding cache shared
    with the repo's data/cache so repeated runs are quick)."""
    root = tmp_path_factory.mktemp("real")
    return Settings(bank=DATA_DIR / "question_bank.txt", index_dir=root / "index",
                    cache_dir=Path(os.environ.get("QBANK_TEST_CACHE", DATA_DIR / "cache")),
                    chapters_dir=root / "no-chapters")


@pytest.fixture(scope="session")
def real_searcher(real_settings) -> Searcher:
    from qbank.retrieval.engine import open_searcher

    return open_searcher(real_settings, build_if_missing=True)
