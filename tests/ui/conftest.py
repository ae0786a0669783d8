"""Fixtures for the UI tests: a tiny inline bank indexed with the fake (hashing) embedder.

Fixture names start with ``ui_`` so they never clash with fixtures elsewhere in the suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_BANK = """\
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


def build_tiny_index(root: Path):
    """Write the tiny bank under ``root`` and index it; returns (settings, searcher)."""
    from index.dense import HashingEmbedder
    from index.store import build_index, load_index
    from ingest.bank import parse_bank_text
    from ingest.pipeline import build_corpus
    from qbank.config import Settings
    from retrieval.searcher import Searcher

    bank = root / "bank.txt"
    bank.write_text(TINY_BANK, encoding="utf-8")
    settings = Settings(index_dir=root / "idx", cache_dir=root / "cache", embedding_model="hashing-256", bank=bank,
                        chapters_dir=root / "no-chapters")
    corpus = build_corpus(parse_bank_text(TINY_BANK, str(bank)), None, settings)
    build_index(corpus, settings, embedder=HashingEmbedder(256))
    return settings, Searcher(load_index(settings), settings)


@pytest.fixture(scope="session")
def ui_index(tmp_path_factory):
    return build_tiny_index(tmp_path_factory.mktemp("ui-bank"))


@pytest.fixture(scope="session")
def ui_settings(ui_index):
    return ui_index[0]


@pytest.fixture(scope="session")
def ui_searcher(ui_index):
    return ui_index[1]


@pytest.fixture
def ui_env(ui_settings, monkeypatch):
    """Point the app's environment (QBANK_*) at the tiny index."""
    s = ui_settings
    for name, value in {"QBANK_INDEX_DIR": s.index_dir, "QBANK_BANK": s.bank, "QBANK_CACHE_DIR": s.cache_dir,
                        "QBANK_CHAPTERS_DIR": s.chapters_dir, "QBANK_EMBEDDING_MODEL": "hashing-256"}.items():
        monkeypatch.setenv(name, str(value))
    return s
