"""One typed settings object. Library code takes it as an argument; only the app
edges (CLI, API, UI) read the environment, through :func:`Settings` itself
(env prefix ``QBANK_``, e.g. ``QBANK_RRF_K=30``).

A frozen dataclass checked here rather than a pydantic-settings model: importing pydantic-settings
cost 0.26–0.34 s on this project's VM (asyncio, dotenv and cloud-secret providers) and building
the pydantic class another ~0.1 s, most of a cold one-shot ``qbank search --mode bm25`` (target
0.5 s). What pydantic-settings did and is kept: names are case-insensitive, a keyword argument
wins over the environment, a value is parsed by the field's type (``"30"`` → 30, ``"false"`` →
False, a path, one of a literal's names) and checked against its bounds; ``model_copy``,
``model_dump``, ``model_dump_json``, ``model_fields`` and ``model_fields_set`` behave as before.
A bad value is a :class:`SettingsError`: one line naming the variable or argument."""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal

from qbank.errors import QbankError

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
ENV_PREFIX = "QBANK_"


class SettingsError(QbankError, ValueError):
    """A setting given a value it cannot take (one line, naming the ``QBANK_*`` variable or argument)."""


def Field(default: Any, *, ge: float | None = None, le: float | None = None) -> Any:  # noqa: N802 - reads as pydantic's
    """A setting's default and its inclusive bounds."""
    return dataclasses.field(default=default, metadata={"ge": ge, "le": le})


def environment_values(names) -> dict[str, str]:
    """The ``QBANK_<NAME>`` variables set for the given field names (any case), by field name."""
    wanted = {n.lower() for n in names}
    out = {}
    for key, value in os.environ.items():
        if len(key) > len(ENV_PREFIX) and key[: len(ENV_PREFIX)].upper() == ENV_PREFIX:
            name = key[len(ENV_PREFIX):].lower()
            if name in wanted:
                out[name] = value
    return out


_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "f", "n"})


def _parse(kind: Any, value: Any) -> Any:
    """``value`` as ``kind`` (a field's type), or ValueError saying what was expected."""
    origin = typing.get_origin(kind)
    if origin is Literal:
        if value in typing.get_args(kind):
            return value
        raise ValueError("should be one of " + ", ".join(map(repr, typing.get_args(kind))))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
            return None
        return _parse(args[0], value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        key = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if key in _TRUE or key in _FALSE:
            return key in _TRUE
        raise ValueError("should be a boolean (true/false)")
    if kind in (int, float):
        if isinstance(value, str):
            try:
                value = kind(value.strip())
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if kind is float:
                return float(value)
            if float(value).is_integer():
                return int(value)
        raise ValueError("should be an integer" if kind is int else "should be a number")
    if kind is Path:
        if isinstance(value, (str, os.PathLike)):
            return Path(value)
        raise ValueError("should be a path")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ValueError("should be a string")
    raise TypeError(f"unsupported setting type {kind!r}")  # pragma: no cover - a new field's type


@dataclasses.dataclass(frozen=True, init=False)
class Settings:
    """Every knob of the pipeline, with the value chosen by measurement as default."""

    # corpus and where things are written
    bank: Path = DATA_DIR / "question_bank.txt"
    chapters_dir: Path = DATA_DIR / "chapters"
    index_dir: Path = DATA_DIR / "index"
    cache_dir: Path = DATA_DIR / "cache"
    # BEIR SciFact (evaluation only, never copied into the repo): the Evals page offers it when present
    scifact_dir: Path = REPO_ROOT.parent / "shared" / "benchmarks" / "scifact"

    # query expansions (ingest/expansions.py): a JSONL file of sample queries per question. None: the
    # file beside the bank, ``<bank stem>.expansions.jsonl``, when there is one
    expansions: Path | None = None
    expansion_layout: Literal["off", "mixed", "per_query", "joined"] = "mixed"

    # chunking (cl100k_base tokens; MiniLM truncates at 256 word pieces, OFFLINE.md)
    chunk_max_tokens: int = Field(200, ge=32, le=240)
    passage_max_tokens: int = Field(180, ge=32, le=240)
    passage_overlap_tokens: int = Field(40, ge=0, le=120)

    # dense leg
    # "qbank-minilm": MiniLM fine-tuned on the judged data, shipped in data/encoder (`qbank train-encoder`;
    # README, "Dense leg"); "all-MiniLM-L6-v2": the bundled one as published; a local folder; or a hub id
    embedding_model: str = "qbank-minilm"
    embedding_batch_size: int = 32
    # documents: "auto" builds with a shipped encoder's int8-arithmetic model (data/encoder/query.onnx:
    # ~1.5x faster than model.onnx, the same dev quality; README, "Dense leg") and runs the bundled MiniLM
    # as its int8 ONNX export (no torch import); "onnx" a shipped encoder's model.onnx (float
    # arithmetic); "onnx-int8" insists on the former; "sentence-transformers" the float bundled model
    embedding_backend: Literal["auto", "onnx", "onnx-int8", "sentence-transformers"] = "auto"
    # queries: "auto" runs a shipped encoder's int8-arithmetic query model (data/encoder/query.onnx:
    # ~2x faster per query, cosine >= 0.99 to the index's vectors, dev nDCG@10 unchanged; README, "Query
    # encoder"); "onnx" the index's own model (float arithmetic); "onnx-int8" insists on the former
    query_encoder: Literal["auto", "onnx", "onnx-int8", "sentence-transformers"] = "auto"
    # "auto": an exact flat index below ann_flat_below vectors, HNSW above. Measured here (k = 400,
    # 200 queries): 3,745 vectors flat 0.29 ms vs HNSW 0.49 ms; 20k 1.64 vs 0.84; 100k 14.1 vs 0.99
    ann: Literal["auto", "hnsw", "flat"] = "auto"
    ann_flat_below: int = Field(10_000, ge=0)
    hnsw_m: int = Field(32, ge=4, le=128)
    hnsw_ef_construction: int = Field(200, ge=8)
    hnsw_ef_search: int = Field(128, ge=8)
    use_gpu: bool = True  # only when faiss-gpu and a GPU are present

    # lexical leg
    bm25_variant: Literal["okapi", "plus", "l"] = "plus"
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    bm25_delta: float = 1.0  # BM25+ / BM25L only

    # fusion
    # k and the dense weight chosen on the judged dev split (README, "Fusion"): 10 and 1.3 with the
    # fine-tuned encoder (10 and 0.7 were best with the bundled MiniLM)
    rrf_k: int = Field(10, ge=1)
    depth_bm25: int = Field(100, ge=1)
    depth_dense: int = Field(100, ge=1)
    weight_bm25: float = Field(1.0, ge=0)
    weight_dense: float = Field(1.3, ge=0)
    # a query naming a kind or difficulty ("coding questions about …") adds an "intent" leg
    weight_intent: float = Field(1.0, ge=0)

    # related questions (Searcher.related): RRF of BM25 with the seed's whole text over whole-question
    # documents, cosine between whole-question vectors and, where the judged data covers the bank, the
    # co-relevance graph (data/training/corelevance.json; README, "Related questions"). k and the graph's
    # weight were chosen on the training data's dev seeds
    corelevance: Path | None = None  # None: data/training/corelevance.json when present
    use_corelevance: bool = True
    related_rrf_k: int = Field(20, ge=1)
    related_weight_corelevance: float = Field(3.0, ge=0)

    # reranker (the `full` mode)
    reranker_model: str = ""  # empty: the shipped one (data/reranker, made by `qbank train-reranker`)
    reranker_path: Path = DATA_DIR / "reranker"
    # how many fused hits the reranker rescores; None: what its manifest chose on the dev split
    rerank_top_n: int | None = Field(None, ge=1, le=200)

    # onnxruntime intra-op threads per session (query encoder, reranker); 0: min(2, cores). A server
    # with several worker processes runs best with 1 each (`qbank serve --workers`; README, "HTTP API")
    onnx_threads: int = Field(0, ge=0, le=64)
    # requests of one server process that search at once (the others queue, served in arrival order);
    # 0: no bound. Measured with `python -m qbank.eval.load` (README, "HTTP API")
    api_search_slots: int = Field(1, ge=0, le=256)

    # match strength (retrieval/confidence.py): chosen on the judged training data's train split by
    # `python -m qbank.training.confidence` (README, "Match strength")
    match_cosine_strong: float = Field(0.425, ge=0, le=1)
    match_lexical_strong: float = Field(0.45, ge=0, le=1)
    match_cosine_none: float = Field(0.42, ge=0, le=1)

    # input bounds
    max_query_chars: int = Field(1000, ge=10)
    max_k: int = Field(1000, ge=1)

    @property
    def expansions_path(self) -> Path | None:
        """The expansions file that applies, or None (layout "off", or no file)."""
        if self.expansion_layout == "off":
            return None
        p = self.expansions or self.bank.with_name(self.bank.stem + ".expansions.jsonl")
        return p if p.exists() else None

    @property
    def corelevance_path(self) -> Path | None:
        """The co-relevance graph that applies, or None (switched off, or no file)."""
        if not self.use_corelevance:
            return None
        p = self.corelevance or DATA_DIR / "training" / "corelevance.json"
        return p if p.exists() else None

    @property
    def reranker_dir(self) -> Path:
        return self.reranker_path

    # ------------------------------------------------------------------ construction
    def __init__(self, **values: Any) -> None:
        self._fill(values, environment_values(_FIELDS))

    @classmethod
    def model_validate_json(cls, text: str | bytes) -> Settings:
        """Settings from :meth:`model_dump_json`'s text (the environment is not read)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise SettingsError(f"settings JSON must be an object, got {type(data).__name__}")
        new = object.__new__(cls)
        new._fill(data, {})
        return new

    def _fill(self, values: dict[str, Any], env: dict[str, str]) -> None:
        unknown = sorted(set(values) - set(_FIELDS))
        if unknown:
            raise TypeError(f"Settings got unknown setting(s): {', '.join(unknown)}")
        for name, f in _FIELDS.items():
            if name in values:
                object.__setattr__(self, name, _checked(f, values[name], name))
            elif name in env:
                object.__setattr__(self, name, _checked(f, env[name], f"{ENV_PREFIX}{name.upper()}"))
            else:
                object.__setattr__(self, name, f.default)
        object.__setattr__(self, "_fields_set", frozenset(values) | frozenset(env))

    # ------------------------------------------------------------------ pydantic's names, kept
    @property
    def model_fields_set(self) -> set[str]:
        """The settings given explicitly (an argument or a ``QBANK_*`` variable), not defaulted."""
        return set(self._fields_set)

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Settings:
        """A copy with ``update`` applied (checked like any value; the environment is not re-read)."""
        update = dict(update or {})
        unknown = sorted(set(update) - set(_FIELDS))
        if unknown:
            raise TypeError(f"Settings got unknown setting(s): {', '.join(unknown)}")
        new = object.__new__(type(self))
        for name, f in _FIELDS.items():
            value = _checked(f, update[name], name) if name in update else getattr(self, name)
            object.__setattr__(new, name, value)
        object.__setattr__(new, "_fields_set", self._fields_set | frozenset(update))
        return new

    def model_dump(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    def model_dump_json(self) -> str:
        return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in self.model_dump().items()})


_FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(Settings)}
_TYPES = typing.get_type_hints(Settings)
Settings.model_fields = _FIELDS  # type: ignore[attr-defined] - pydantic's name for the same map


def _checked(f: dataclasses.Field, value: Any, source: str) -> Any:
    """``value`` parsed as field ``f``'s type and within its bounds, or a one-line SettingsError."""
    try:
        out = _parse(_TYPES[f.name], value)
    except ValueError as e:
        raise SettingsError(f"{source}={value!r}: {e}") from None
    ge, le = f.metadata.get("ge"), f.metadata.get("le")
    if out is not None and ge is not None and out < ge:
        raise SettingsError(f"{source}={value!r}: should be at least {ge}")
    if out is not None and le is not None and out > le:
        raise SettingsError(f"{source}={value!r}: should be at most {le}")
    return out
