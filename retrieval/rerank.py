"""Cross-encoder reranking (the ``full`` mode): the protocol, the score combiners, the scorer and
its loading. Training lives in :mod:`qbank.training.reranker`, off the query path.

No pretrained cross-encoder can be installed offline (OFFLINE.md), so qbank ships its own: the
bundled all-MiniLM-L6-v2 cut to its first layers, given a scoring head, trained on the judged data
(``data/training``) by ``qbank train-reranker`` and exported to one int8 ONNX file that
onnxruntime runs (:class:`OnnxCrossEncoder`; no torch on the query path). It lives in
``settings.reranker_dir`` (``data/reranker``: ``model.onnx``, ``tokenizer.json``, ``manifest.json``);
the manifest's sha256 of each file is checked when it loads. ``settings.reranker_model`` names
another cross-encoder instead (a sentence-transformers folder, or a hub id with internet).

The reranker rescores the fused top-N (the manifest's N, or ``settings.rerank_top_n``) and leaves
the rest in fused order. How its score meets the fused one: the shipped model's manifest holds a
``learned`` combination (:mod:`qbank.retrieval.learned`: a small model over the legs' signals,
whole-question signals and the cross-encoder's score, fitted on the judged data); the fixed ones are
a registry (:data:`COMBINERS`): ``replace`` (rank by the cross-encoder alone), ``interpolate``
(min-max normalised scores, ``w·ce + (1−w)·fused``) or ``rrf`` (reciprocal-rank fusion of the two
orders). The manifest names what the dev split chose; an external model replaces.

Example:
    >>> from qbank.retrieval.rerank import CrossEncoderReranker, OnnxCrossEncoder  # doctest: +SKIP
    >>> rr = CrossEncoderReranker(OnnxCrossEncoder(Path("data/reranker"), 128), top_n=10)  # doctest: +SKIP
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
from qbank.index.store import sha256_file
from qbank.records import Hit, LegScore, Question
from qbank.retrieval.fusion import rrf
from qbank.retrieval.learned import LearnedRanker

MANIFEST_SCHEMA = 2  # 2: one int8 ONNX file + tokenizer, sha256 of each in the manifest
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
TRAIN_HINT = "`qbank train-reranker` remakes it from data/training (the repo ships one in data/reranker)"
EXTERNAL_HINT = "set QBANK_RERANKER_MODEL to a cross-encoder folder, or unset it to use the shipped reranker"
HUB_ID_RE = re.compile(r"[\w.-]+/[\w.-]+")


# ---------------------------------------------------------------------------- protocol / combiners
class Reranker(Protocol):
    def rerank(self, query: str, hits: list[Hit], k: int, features: np.ndarray | None = None) -> list[Hit]: ...


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
    return q.full_text()


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
                 name: str = "cross-encoder", batch_size: int = 64, learned: LearnedRanker | None = None) -> None:
        if learned is not None:
            combine = "learned"
        elif combine not in COMBINERS:
            raise UnknownNameError("rerank combination", combine, list(COMBINERS))
        if top_n < 1:
            raise QbankError(f"rerank top_n must be >= 1, got {top_n}")
        self.model = model
        self.top_n = int(top_n)
        self.combine = combine
        self.weight = float(weight)
        self.name = name
        self.batch_size = batch_size
        self.learned = learned
        # the leg a reordered hit shows: the cross-encoder's, or the learned ranker's when no model runs
        self.leg = "learned" if model is None else "rerank"

    def score(self, query: str, documents: Sequence[str]) -> np.ndarray:
        """Raw cross-encoder scores (logits) of ``(query, document)`` pairs."""
        if not documents:
            return np.zeros(0, dtype=np.float32)
        pairs = [(query, d) for d in documents]
        if isinstance(self.model, OnnxCrossEncoder):
            return self.model.predict(pairs, self.batch_size)
        out = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False,
                                 activation_fn=_identity())
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def rerank(self, query: str, hits: list[Hit], k: int, features: np.ndarray | None = None) -> list[Hit]:
        """Rescore ``hits[:top_n]`` (hits in fused order), keep the rest after them; return ``k`` at most.

        Each rescored hit gets ``legs['rerank'] = LegScore(rank among the rescored, ce score)`` and
        ``score`` = the combined score; hits past the cut keep their fused score and no rerank leg.
        With a learned combination, ``features`` are :func:`qbank.retrieval.learned.hit_features`
        of ``hits[:top_n]`` (a learned model that gives the cross-encoder no weight never runs it).
        """
        if not hits or k < 1:
            return []
        head, tail = hits[: self.top_n], hits[self.top_n :]
        if self.learned is not None:
            if features is None or len(features) != len(head):
                raise QbankError("the learned combination needs the features of the hits it reorders")
            ce = self.score(query, [hit_document(h) for h in head]) if self.learned.ce_weight else None
            combined = self.learned.score(features, ce)
            if ce is None:
                ce = combined
        else:
            ce = self.score(query, [hit_document(h) for h in head])
            fused = np.array([h.score for h in head], dtype=np.float64)
            combined = combine_scores(self.combine, ce, fused, self.weight)
        ce_rank = np.empty(len(head), dtype=np.int64)
        ce_rank[rerank_order(ce)] = np.arange(1, len(head) + 1)
        out: list[Hit] = []
        for i in rerank_order(combined):
            h = head[i]
            legs = {**h.legs, self.leg: LegScore(int(ce_rank[i]), float(ce[i]))}
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


class OnnxCrossEncoder:
    """A cross-encoder exported by :func:`qbank.training.export.export_onnx`, run with onnxruntime.

    Pairs are tokenised like ``sentence_transformers.CrossEncoder`` does (``[CLS] query [SEP]
    document [SEP]``, longest-first truncation at ``max_length``), padded per batch.
    """

    def __init__(self, folder: Path, max_length: int, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        from qbank.index.dense import onnx_session

        try:
            self._session = onnx_session(folder / ONNX_FILE, threads)
            tok = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as e:  # noqa: BLE001 - onnxruntime / tokenizers raise their own types
            raise UnavailableError(f"cannot load the reranker in {folder}: {type(e).__name__}: "
                                   f"{(str(e).splitlines() or [''])[0][:160]}; {TRAIN_HINT}") from None
        tok.no_padding()
        tok.enable_truncation(int(max_length), strategy="longest_first")
        self._tok = tok
        self.max_length = int(max_length)

    def predict(self, pairs: Sequence[tuple[str, str]], batch_size: int = 64) -> np.ndarray:
        from qbank.index.dense import bert_feeds

        out = []
        for i in range(0, len(pairs), batch_size):
            feeds = bert_feeds(self._tok.encode_batch([tuple(p) for p in pairs[i : i + batch_size]]))
            out.append(self._session.run(None, feeds)[0].reshape(-1))
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


def _identity():
    import torch

    return torch.nn.Identity()


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def check_cross_encoder_folder(path: Path) -> None:
    """Refuse a missing folder or one that holds no sequence-classification (cross-encoder) model."""
    if not path.exists():
        raise UnavailableError(f"reranker model folder {path} does not exist; {EXTERNAL_HINT}")
    if not path.is_dir():
        raise UnavailableError(f"reranker model {path} is a file, not a model folder; "
                               "set QBANK_RERANKER_MODEL to a cross-encoder folder")
    cfg_path = path / "config.json"
    if not cfg_path.exists():
        raise UnavailableError(f"{path} is not a cross-encoder folder (no config.json); {EXTERNAL_HINT}")
    try:
        cfg = json.loads(cfg_path.read_text())
    except ValueError:
        raise UnavailableError(f"{cfg_path} is not valid JSON; {EXTERNAL_HINT}") from None
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
                               f"no sequence-classification head): a bi-encoder cannot rerank; {EXTERNAL_HINT}")
    if not any(p.suffix in (".safetensors", ".bin") for p in path.iterdir()):
        raise UnavailableError(f"{path} holds no model weights (*.safetensors or *.bin); {EXTERNAL_HINT}")


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
        hint = "" if local else " (a hub id needs internet; offline, " + EXTERNAL_HINT + ")"
        raise UnavailableError(f"cannot load reranker {name!r}: {type(e).__name__}: {first}{hint}") from None
    if max_length:
        model.max_seq_length = int(max_length)
    return model


def reranker_available(settings: Settings) -> bool:
    return bool(settings.reranker_model) or (settings.reranker_dir / "manifest.json").exists()


def read_manifest(folder: Path, verify: bool = True) -> dict:
    """The reranker's manifest, checked: schema, kind, and the sha256 of every file it lists."""
    mpath = folder / "manifest.json"
    if not mpath.exists():
        raise UnavailableError(f"mode 'full' needs the cross-encoder reranker and there is none in {folder}: "
                               f"{TRAIN_HINT}; or use mode hybrid")
    try:
        manifest = json.loads(mpath.read_text())
    except ValueError:
        raise UnavailableError(f"{mpath} is not valid JSON; {TRAIN_HINT}") from None
    if (not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA
            or manifest.get("kind") != "qbank-reranker" or not isinstance(manifest.get("files"), dict)
            or set(manifest["files"]) != {ONNX_FILE, TOKENIZER_FILE}):
        raise UnavailableError(f"{mpath} is not a qbank reranker manifest of schema {MANIFEST_SCHEMA}; "
                               f"{TRAIN_HINT}")
    if verify:
        for name, sha in manifest["files"].items():
            p = folder / name
            if not p.is_file():
                raise UnavailableError(f"the reranker file {p} is missing; {TRAIN_HINT}")
            if sha256_file(p) != sha:
                raise UnavailableError(f"the reranker file {p} does not match its manifest (sha256); "
                                       f"{TRAIN_HINT}")
    return manifest


def load_learned_ranker(settings: Settings) -> CrossEncoderReranker | None:
    """What the ``learned`` mode reorders with: the shipped manifest's learned ranker with no weight on the
    cross-encoder (which never loads), over the top N that the dev split chose for it (``learned:0.0:N``
    in the dev table). None when there is no ranker (a reranker folder without one, or none at all)."""
    folder = settings.reranker_dir
    if not (folder / "manifest.json").exists():
        return None
    manifest = read_manifest(folder, verify=False)  # the cross-encoder's files are not read here
    comb = manifest.get("combine") or {}
    if "learned" not in comb:
        return None
    table = manifest.get("dev_table") or {}
    dev = {int(key.rsplit(":", 1)[1]): v for key, v in table.items() if key.startswith("learned:0.0:")}
    top_n = int(settings.rerank_top_n or (max(dev, key=lambda n: (dev[n], -n)) if dev else comb.get("top_n") or 20))
    ranker = dataclasses.replace(LearnedRanker.from_dict(comb["learned"]), ce_weight=0.0)
    return CrossEncoderReranker(None, top_n, "learned", 0.0, name="learned-ranker", learned=ranker)


def load_default_reranker(settings: Settings) -> CrossEncoderReranker:
    """The reranker ``full`` uses: ``settings.reranker_model`` when set, else the shipped one."""
    if settings.reranker_model:
        model = load_cross_encoder(settings.reranker_model)
        return CrossEncoderReranker(model, settings.rerank_top_n or 10, "replace", 1.0, name=settings.reranker_model)
    folder = settings.reranker_dir
    manifest = read_manifest(folder)
    model = OnnxCrossEncoder(folder, int(manifest.get("max_length") or 128), settings.onnx_threads or None)
    comb = manifest.get("combine", {})
    top_n = int(settings.rerank_top_n or comb.get("top_n") or 10)
    learned = LearnedRanker.from_dict(comb["learned"]) if comb.get("method") == "learned" else None
    return CrossEncoderReranker(model, top_n, comb.get("method", "replace"), comb.get("weight", 1.0),
                                name=f"qbank-minilm-L{manifest.get('layers')}-int8", learned=learned)
