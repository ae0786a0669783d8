"""Ingestion: the question bank and chapter files → records → token-aware chunks."""
