"""Training the learned parts (reranker, pseudo-queries) from the bank and judged data. Not on the query path."""
