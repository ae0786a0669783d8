"""Cross-encoder reranking (the ``full`` mode): the protocol, the score combiners, the scorer and
its loading. Training lives in :mod:`qbank.training.reranker`, off the query path.

No pretrained cross-encoder can be installed offline (OFFLINE.md), so the default reranker is
made by ``qbank train-reranker`` (the bundled all-MiniLM-L6-v2 cut to its first layers, given a
scoring head) and written to ``settings.reranker_dir`` (``<index>/reranker``) with a manifest;
``full`` loads it from there, or from ``settings.reranker_model`` (a local cross-encoder folder, or
a hub id on a machine with internet).

The reranker rescores the fused top-N (``settings.rerank_top_n``) and leaves the rest in fused
order. How its score meets the fused one is a registry (:data:`COMBINERS`): ``replace`` (rank by
the cross-encoder alone), ``interpolate`` (min-max normalised scores, ``w·ce + (1−w)·fused``)
or ``rrf`` (reciprocal-rank fusion of the two orders). A trained model's manifest names the
combination chosen on held-out pseudo-queries; an external model replaces.

Example:
    >>> from retrieval.rerank import CrossEncoderReranker   # doctest: +SKIP
    >>> rr = CrossEncoderReranker.from_path("data/index/reranker/model", top_n=20)  # doctest: +SKIP
    >>> rr.rerank("kv cache memory", hits, k=10)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from qbank.config import Settings
from qbank.errors import QbankError, UnavailableError, UnknownNameError
from qbank.records import Hit, LegScore, Question
from qbank.retrieval.fusion import rrf

MANIFEST_SCHEMA = 1
MODEL_SUBDIR = "model"
TRAIN_HINT = "run `qbank train-reranker` (or `qbank build --with-reranker`)"
HUB_ID_RE = re.compile(r"[\w.-]+/[\w.-]+")


# ---------------------------------------------------------------------------- protocol / combiners
class Reranker(Protocol):
    def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]: ...


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(x)), float(np.max(x))
    return np.zeros_like(x) if hi - lo < 1e-12 else (x - lo) / (hi - lo)


def combine_replace(ce: np.ndarray, fused: np.ndarray, weight: float) -> np.ndarray:
    return ce.astype(np.float64)


def combine_interpolate(ce: np.ndarray, fused: np.ndarray, weight: float) -> np.ndarray:
    return weight * _minmax(ce.astype(np.float64)) + (1.0 - weight) * _minmax(fused.astype(np.float64))


def combine_rrf(ce: np.ndarray, fused: np.ndarray, weight: float, rrf_k: int = 60) -> np.ndarray:
    """RRF of the cross-encoder's order (ties broken by fused order) and the fused order itself
    (the input is in fused order), weighted ``weight`` : ``1 - weight``."""
    n = len(ce)
    scores = dict(rrf({"rerank": rerank_order(ce), "fused": list(range(n))}, rrf_k,
                      {"rerank": weight, "fused": 1.0 - weight}))
    return np.array([scores.get(i, 0.0) for i in range(n)], dtype=np.float64)


COMBINERS: dict[str, Callable[[np.ndarray, np.ndarray, float], np.ndarray]] = {
    "replace": combine_replace,
    "interpolate": combine_interpolate,
    "rrf": combine_rrf,
}


def combine_scores(method: str, ce: np.ndarray, fused: np.ndarray, weight: float) -> np.ndarray:
    if method not in COMBINERS:
        raise UnknownNameError("rerank combination", method, list(COMBINERS))
    return COMBINERS[method](np.asarray(ce), np.asarray(fused), weight)


def rerank_order(combined: np.ndarray) -> list[int]:
    """Indices best first; ties keep the fused order (deterministic)."""
    return np.lexsort((np.arange(len(combined)), -np.asarray(combined))).tolist()


# ---------------------------------------------------------------------------- documents
def question_document(q: Question) -> str:
    """The text the cross-encoder reads for a question: stem, testing note, rubric (truncated by
    the tokenizer at the model's max length, so the stem always survives)."""
    parts = [q.question]
    if q.testing:
        parts.append(f"{(q.testing_label or 'testing').capitalize()}: {q.testing}.")
    if q.rubric:
        parts.append(" ".join(q.rubric))
    return " ".join(parts)


def hit_document(hit: Hit) -> str:
    if hit.question is not None:
        return question_document(hit.question)
    return hit.chunk_text


# ---------------------------------------------------------------------------- the reranker
class CrossEncoderReranker:
    """Rescores the top-N fused hits with a cross-encoder.

    Args:
        model: anything with ``predict(list[tuple[str, str]], batch_size=...) -> array``
            (a ``sentence_transformers.CrossEncoder``).
        top_n: how many fused hits to rescore; the rest keep their fused order below them.
        combine: ``replace``, ``interpolate`` or ``rrf`` (see :data:`COMBINERS`).
        weight: the cross-encoder's weight for ``interpolate`` / ``rrf``.
        name: shown in results (``params``) and manifests.
    """

    def __init__(self, model, top_n: int = 20, combine: str = "replace", weight: float = 1.0,
                 name: str = "cross-encoder", batch_size: int = 64) -> None:
        if combine not in COMBINERS:
            raise UnknownNameError("rerank combination", combine, list(COMBINERS))
        if top_n < 1:
            raise QbankError(f"rerank top_n must be >= 1, got {top_n}")
        self.model = model
        self.top_n = int(top_n)
        self.combine = combine
        self.weight = float(weight)
        self.name = name
        self.batch_size = batch_size

    def score(self, query: str, documents: Sequence[str]) -> np.ndarray:
        """Raw cross-encoder scores (logits) of ``(query, document)`` pairs."""
        if not documents:
            return np.zeros(0, dtype=np.float32)
        pairs = [(query, d) for d in documents]
        out = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False,
                                 activation_fn=_identity())
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        """Rescore ``hits[:top_n]`` (hits in fused order), keep the rest after them; return ``k`` at most.

        Each rescored hit gets ``legs['rerank'] = LegScore(rank among the rescored, ce score)`` and
        ``score`` = the combined score; hits past the cut keep their fused score and no rerank leg.
        """
        if not hits or k < 1:
            return []
        head, tail = hits[: self.top_n], hits[self.top_n :]
        ce = self.score(query, [hit_document(h) for h in head])
        fused = np.array([h.score for h in head], dtype=np.float64)
        combined = combine_scores(self.combine, ce, fused, self.weight)
        ce_rank = np.empty(len(head), dtype=np.int64)
        ce_rank[rerank_order(ce)] = np.arange(1, len(head) + 1)
        out: list[Hit] = []
        for i in rerank_order(combined):
            h = head[i]
            legs = {**h.legs, "rerank": LegScore(int(ce_rank[i]), float(ce[i]))}
            out.append(dataclasses.replace(h, rank=len(out) + 1, score=float(combined[i]), legs=legs))
            if len(out) >= k:
                return out
        for h in tail[: k - len(out)]:
            out.append(dataclasses.replace(h, rank=len(out) + 1))
        return out

    @classmethod
    def from_path(cls, path: str | Path, top_n: int = 20, combine: str = "replace", weight: float = 1.0,
                  max_length: int | None = None) -> CrossEncoderReranker:
        model = load_cross_encoder(str(path), max_length)
        return cls(model, top_n, combine, weight, name=str(path))


def _identity():
    import torch

    return torch.nn.Identity()


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def check_cross_encoder_folder(path: Path) -> None:
    """Refuse a missing folder or one that holds no sequence-classification (cross-encoder) model."""
    if not path.exists():
        raise UnavailableError(f"reranker model folder {path} does not exist; {TRAIN_HINT} "
                               "or set QBANK_RERANKER_MODEL to a cross-encoder folder")
    if not path.is_dir():
        raise UnavailableError(f"reranker model {path} is a file, not a model folder; "
                               "set QBANK_RERANKER_MODEL to a cross-encoder folder")
    cfg_path = path / "config.json"
    if not cfg_path.exists():
        raise UnavailableError(f"{path} is not a cross-encoder folder (no config.json); {TRAIN_HINT}")
    try:
        cfg = json.loads(cfg_path.read_text())
    except ValueError:
        raise UnavailableError(f"{cfg_path} is not valid JSON; {TRAIN_HINT}") from None
    archs = cfg.get("architectures") or []
    st_cfg = path / "config_sentence_transformers.json"
    st_type = ""
    if st_cfg.exists():
        try:
            st_type = json.loads(st_cfg.read_text()).get("model_type", "")
        except ValueError:
            st_type = ""
    if st_type != "CrossEncoder" and not any("SequenceClassification" in a for a in archs):
        raise UnavailableError(f"{path} is not a cross-encoder (architecture {', '.join(archs) or 'unknown'}, "
                               f"no sequence-classification head): a bi-encoder cannot rerank; {TRAIN_HINT}")
    if not any(p.suffix in (".safetensors", ".bin") for p in path.iterdir()):
        raise UnavailableError(f"{path} holds no model weights (*.safetensors or *.bin); {TRAIN_HINT}")


def load_cross_encoder(name: str, max_length: int | None = None):
    """A ``sentence_transformers.CrossEncoder`` from a local folder (checked first) or a hub id."""
    p = Path(name).expanduser()
    local = p.exists() or not HUB_ID_RE.fullmatch(name) or name.startswith((".", "/", "~"))
    if local:
        check_cross_encoder_folder(p)
        _offline_env()
    from sentence_transformers import CrossEncoder

    try:
        model = CrossEncoder(str(p) if local else name, device="cpu")
    except Exception as e:  # noqa: BLE001 - many library error types; report one line
        first = (str(e).splitlines() or [""])[0][:200]
        hint = "" if local else " (a hub id needs internet; offline, " + TRAIN_HINT + ")"
        raise UnavailableError(f"cannot load reranker {name!r}: {type(e).__name__}: {first}{hint}") from None
    if max_length:
        model.max_seq_length = int(max_length)
    return model


def reranker_available(settings: Settings) -> bool:
    return bool(settings.reranker_model) or (settings.reranker_dir / "manifest.json").exists()


def read_manifest(folder: Path) -> dict:
    mpath = folder / "manifest.json"
    if not mpath.exists():
        raise UnavailableError("mode 'full' needs a trained cross-encoder reranker and none exists yet "
                               f"(no pretrained one can be installed offline); {TRAIN_HINT}, or use --mode hybrid")
    try:
        manifest = json.loads(mpath.read_text())
    except ValueError:
        raise UnavailableError(f"{mpath} is not valid JSON; {TRAIN_HINT} to recreate it") from None
    if manifest.get("schema") != MANIFEST_SCHEMA or manifest.get("kind") != "qbank-reranker":
        raise UnavailableError(f"{mpath} is not a qbank reranker manifest of schema {MANIFEST_SCHEMA}; "
                               f"{TRAIN_HINT} to recreate it")
    return manifest


def load_default_reranker(settings: Settings) -> CrossEncoderReranker:
    """The reranker ``full`` uses: ``settings.reranker_model`` when set, else the trained one."""
    if settings.reranker_model:
        model = load_cross_encoder(settings.reranker_model)
        return CrossEncoderReranker(model, settings.rerank_top_n, "replace", 1.0, name=settings.reranker_model)
    folder = settings.reranker_dir
    manifest = read_manifest(folder)
    model = load_cross_encoder(str(folder / MODEL_SUBDIR), manifest.get("max_length"))
    comb = manifest.get("combine", {})
    return CrossEncoderReranker(model, settings.rerank_top_n, comb.get("method", "replace"),
                                comb.get("weight", 1.0), name=f"qbank-minilm-L{manifest.get('layers')}")
