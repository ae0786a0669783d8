"""``GET /search``: one query, filters on both legs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from qbank.records import DIFFICULTIES, KINDS, ROLES
from qbank.retrieval.modes import DEFAULT_MODE
from qbank.ui.api.deps import SearcherDep, json_response, run_work
from qbank.ui.api.models import MAX_K, Mode, SearchResponse

router = APIRouter()


def _enum(values) -> dict:
    """The schema names the valid values (the server also takes them lower-case or comma-joined)."""
    return {"items": {"type": "string", "enum": list(values)}}


@router.get("/search", response_model=SearchResponse, response_model_exclude_unset=True, tags=["search"])
async def search(
    request: Request,
    searcher: SearcherDep,
    q: Annotated[str, Query(min_length=1, description="free text")],
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    mode: Mode = DEFAULT_MODE,
    difficulty: Annotated[list[str] | None, Query(description="W, M, H, S (repeat for OR)",
                                                  json_schema_extra=_enum(DIFFICULTIES))] = None,
    role: Annotated[list[str] | None, Query(description="MLE, MLS, AS, RE, INF",
                                            json_schema_extra=_enum(tuple(ROLES)))] = None,
    section: Annotated[list[str] | None, Query(description="section number, e.g. 5")] = None,
    chapter: Annotated[list[str] | None, Query(description="chapter number, e.g. 59")] = None,
    kind: Annotated[list[str] | None, Query(description="conceptual, design, coding, behavioral",
                                            json_schema_extra=_enum(KINDS))] = None,
    company: Annotated[list[str] | None, Query()] = None,
) -> dict:
    """Search the bank. Filters apply to both legs before fusion; values within a filter are ORed."""
    filters = searcher.parse_filters(difficulty=difficulty, role=role, section=section, chapter=chapter,
                                     kind=kind, company=company)
    return await run_work(request, lambda: json_response(searcher.search(q, k, mode, filters).to_dict()))
