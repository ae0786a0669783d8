"""Shared fixtures: a tiny inline bank indexed with the hashing embedder (fast, no model), and
the real shipped bank indexed once per session with the real MiniLM model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.dense import HashingEmbedder
from index.store import build_index, load_index
from ingest.bank import parse_bank_text
from ingest.pipeline import build_corpus
from qbank.config import DATA_DIR, Settings
from retrieval.searcher import Searcher

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


@pytest.fixture(scope="session")
def tiny_bank_text() -> str:
    return TINY_BANK


@pytest.fixture()
def tiny_settings(tmp_path: Path) -> Settings:
    bank = tmp_path / "bank.txt"
    bank.write_text(TINY_BANK, encoding="utf-8")
    return Settings(bank=bank, index_dir=tmp_path / "idx", cache_dir=tmp_path / "cache",
                    chapters_dir=tmp_path / "chapters", embedding_model="hashing-256")


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
    from retrieval.engine import open_searcher

    return open_searcher(real_settings, build_if_missing=True)
