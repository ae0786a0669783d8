"""The retrieval modes, as one registry that the CLI, the API, the web app and the eval gate read.

A mode says which legs run, whether their rankings are fused (RRF, plus the intent leg) and whether
the cross-encoder rescores the fused top-N. :class:`~qbank.retrieval.searcher.Searcher` executes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from qbank.errors import QbankError, UnknownNameError


@dataclass(frozen=True, slots=True)
class Mode:
    name: str
    legs: tuple[str, ...]  # "bm25", "dense"
    fuse: bool  # RRF over the legs (and the intent leg)
    rerank: bool  # the cross-encoder over the fused top-N
    description: str
    learned: bool = False  # the ranker learned from judged data reorders the fused top-N (no cross-encoder)


MODES: dict[str, Mode] = {
    "bm25": Mode("bm25", ("bm25",), False, False, "BM25 over the question text, rubric and sample queries"),
    "dense": Mode("dense", ("dense",), False, False, "MiniLM vectors, nearest neighbours in FAISS"),
    "hybrid": Mode("hybrid", ("bm25", "dense"), True, False, "bm25 and dense fused by reciprocal rank fusion"),
    "learned": Mode("learned", ("bm25", "dense"), True, False,
                    "hybrid, then a ranker learned from judged data reorders the top 20 (fast: no cross-encoder)",
                    learned=True),
    "full": Mode("full", ("bm25", "dense"), True, True,
                 "hybrid, then the shipped cross-encoder and a ranker learned from judged data reorder the top results"),
}
MODE_NAMES: tuple[str, ...] = tuple(MODES)
# `learned` beat `hybrid` on the golden set (paired p < 0.05), lost nowhere, and answers in ~1 ms more
# (README, "Default mode")
DEFAULT_MODE = "learned"
EVAL_DEFAULT_MODES = ("bm25", "dense", "hybrid", "learned")


def get_mode(name: str) -> Mode:
    try:
        return MODES[name]
    except (KeyError, TypeError):
        raise UnknownNameError("mode", str(name), MODE_NAMES) from None


def parse_modes(text: str, have_reranker: bool) -> list[str]:
    """``"bm25,hybrid"`` → ``["bm25", "hybrid"]``; ``"all"`` → every mode this install can run."""
    if text == "all":
        return [m for m, spec in MODES.items() if not spec.rerank or have_reranker]
    modes = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    for m in modes:
        if m not in MODES:
            raise UnknownNameError("mode", m, [*MODE_NAMES, "all"])
    if not modes:
        raise QbankError("--mode needs at least one mode")
    return modes
