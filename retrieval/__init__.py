"""Retrieval: query → legs (BM25, dense) → fusion (RRF) → optional rerank → hits."""
