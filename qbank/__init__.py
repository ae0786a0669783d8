"""qbank: hybrid search over a bank of ML-systems interview questions.

One namespace. This package holds what every layer shares — the records (:mod:`qbank.records`),
the error hierarchy (:mod:`qbank.errors`) and the settings (:mod:`qbank.config`) — and the
pipeline's folders install under it (``pyproject.toml`` maps them): ``qbank.ingest`` →
``qbank.index`` → ``qbank.retrieval`` → ``qbank.ui`` / ``qbank.eval``; ``qbank.training`` builds
the learned parts from judged data. ``ARCHITECTURE.md`` has the map.
"""

def __getattr__(name: str):
    """``qbank.__version__``, read from the installed metadata on first use (importing
    importlib.metadata costs ~50 ms, a tenth of a cold one-shot search that never asks)."""
    if name != "__version__":
        raise AttributeError(f"module 'qbank' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("qbank")  # one source of truth: pyproject.toml
    except PackageNotFoundError:  # a source tree that was never installed
        value = "0+unknown"
    globals()["__version__"] = value
    return value
