"""``GET /search``: one query, filters on both legs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from qbank.retrieval.modes import DEFAULT_MODE
from qbank.ui.api.deps import SearcherDep
from qbank.ui.api.models import MAX_K, Mode, SearchResponse

router = APIRouter()


@router.get("/search", response_model=SearchResponse, response_model_exclude_unset=True, tags=["search"])
def search(
    searcher: SearcherDep,
    q: Annotated[str, Query(min_length=1, description="free text")],
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    mode: Mode = DEFAULT_MODE,
    difficulty: Annotated[list[str] | None, Query(description="W, M, H, S (repeat for OR)")] = None,
    role: Annotated[list[str] | None, Query(description="MLE, MLS, AS, RE, INF")] = None,
    section: Annotated[list[str] | None, Query(description="section number, e.g. 5")] = None,
    chapter: Annotated[list[str] | None, Query(description="chapter number, e.g. 59")] = None,
    kind: Annotated[list[str] | None, Query(description="conceptual, design, coding, behavioral")] = None,
    company: Annotated[list[str] | None, Query()] = None,
) -> dict:
    """Search the bank. Filters apply to both legs before fusion; values within a filter are ORed."""
    filters = searcher.parse_filters(difficulty=difficulty, role=role, section=section, chapter=chapter,
                                     kind=kind, company=company)
    return searcher.search(q, k, mode, filters).to_dict()
