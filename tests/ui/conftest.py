"""Fixtures for the UI tests: a tiny inline bank indexed with the fake (hashing) embedder.

Fixture names start with ``ui_`` so they never clash with fixtures elsewhere in the suite.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ui_index(study_index):
    return study_index


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
                        "QBANK_CHAPTERS_DIR": s.chapters_dir, "QBANK_EMBEDDING_MODEL": "hashing-256",
                        "QBANK_USE_CORELEVANCE": "false", "QBANK_RERANKER_PATH": s.reranker_path}.items():
        monkeypatch.setenv(name, str(value))
    return s
