"""Cross-encoder reranking (the ``full`` mode). Until a reranker is trained, ``full`` is unavailable."""

from __future__ import annotations

from qbank.config import Settings
from qbank.errors import UnavailableError


def reranker_available(settings: Settings) -> bool:
    return bool(settings.reranker_model) or (settings.reranker_dir / "manifest.json").exists()


def load_default_reranker(settings: Settings):
    raise UnavailableError("mode 'full' needs a trained cross-encoder reranker, and none exists yet "
                           "(no pretrained one can be installed offline); use --mode hybrid")


def train_default_reranker(settings: Settings):
    raise UnavailableError("`--with-reranker`: reranker training is not available in this version")
