"""qbank: hybrid search over a bank of ML-systems interview questions.

One namespace. This package holds what every layer shares — the records (:mod:`qbank.records`),
the error hierarchy (:mod:`qbank.errors`) and the settings (:mod:`qbank.config`) — and the
pipeline's folders install under it (``pyproject.toml`` maps them): ``qbank.ingest`` →
``qbank.index`` → ``qbank.retrieval`` → ``qbank.ui`` / ``qbank.eval``; ``qbank.training`` builds
the learned parts from judged data. ``ARCHITECTURE.md`` has the map.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qbank")  # one source of truth: pyproject.toml
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
