"""One typed settings object. Library code takes it as an argument; only the app
edges (CLI, API, UI) read the environment, through :func:`Settings` itself
(env prefix ``QBANK_``, e.g. ``QBANK_RRF_K=30``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"


class Settings(BaseSettings):
    """Every knob of the pipeline, with the value chosen by measurement as default."""

    model_config = SettingsConfigDict(env_prefix="QBANK_", frozen=True, extra="ignore")

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
    # "auto": the bundled MiniLM runs as its int8 ONNX export (same quality, no torch import);
    # "sentence-transformers": the float model through sentence-transformers (README, "Dense leg")
    embedding_backend: Literal["auto", "onnx", "sentence-transformers"] = "auto"
    query_encoder: Literal["auto", "onnx", "sentence-transformers"] = "auto"
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
