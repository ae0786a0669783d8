"""qbank: hybrid search over a bank of ML-systems interview questions.

This small shared package holds what every layer uses: the records
(:mod:`qbank.records`), the error hierarchy (:mod:`qbank.errors`) and the
settings object (:mod:`qbank.config`). The pipeline itself lives in the
top-level packages ``ingest`` → ``index`` → ``retrieval`` → ``ui`` / ``eval``.
"""

__version__ = "0.1.0"
