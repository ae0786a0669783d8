"""``GET /healthz``: is the index loaded, and which."""

from __future__ import annotations

from fastapi import APIRouter

from qbank.ui.api.deps import SearcherDep
from qbank.ui.api.models import Health

router = APIRouter()


@router.get("/healthz", response_model=Health, tags=["meta"])
def healthz(searcher: SearcherDep) -> dict:
    idx = searcher.index
    return {"status": "ok", "questions": len(idx.questions), "chunks": len(idx.chunks), "dense": idx.has_dense,
            "embedding_model": idx.manifest["embedding"]["model"] if idx.has_dense else None,
            "index_dir": str(idx.path), "generation": idx.manifest.get("generation")}
