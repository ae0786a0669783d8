"""Indexing: chunks → BM25 (rank-bm25) + dense vectors in FAISS, saved with a manifest."""
