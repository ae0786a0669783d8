"""Open a ready-to-use searcher: load the index, or build it first when asked to."""

from __future__ import annotations

from collections.abc import Callable

from qbank.config import Settings
from qbank.errors import IndexMismatchError, IndexMissingError
from qbank.index.store import build_index, load_index
from qbank.ingest.pipeline import ingest
from qbank.retrieval.searcher import Searcher


def build(settings: Settings, progress_factory: Callable[[int], Callable[[int], None]] | None = None):
    """Ingest the bank (and chapters) and write the index. Returns (corpus, build report)."""
    corpus = ingest(settings)
    progress = progress_factory(len(corpus.chunks)) if progress_factory else None
    return corpus, build_index(corpus, settings, progress=progress)


def open_searcher(settings: Settings, build_if_missing: bool = False, progress_factory=None,
                  warm: bool = False) -> Searcher:
    """A searcher over ``settings.index_dir``; ``warm`` loads the models before returning."""
    try:
        index = load_index(settings)
    except (IndexMissingError, IndexMismatchError):
        if not build_if_missing:
            raise
        build(settings, progress_factory)
        index = load_index(settings)
    searcher = Searcher(index, settings)
    return searcher.warm() if warm else searcher
