"""Questions: ``GET /questions/{qid}``, ``/questions/{qid}/related`` and ``GET /chapters``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from qbank.ui.api.deps import SearcherDep, find_question, json_response, run_work
from qbank.ui.api.models import MAX_K, ChapterModel, HitModel, QuestionDetail

router = APIRouter()


@router.get("/questions/{qid}", response_model=QuestionDetail, tags=["questions"])
def question(searcher: SearcherDep, qid: Annotated[str, Path(max_length=40)]) -> dict:
    """One question in full, with the chapters it cites (and who else cites them)."""
    q = find_question(searcher, qid)
    chs = [searcher.index.chapter_by_number[c].to_dict() for c in q.chapters if c in searcher.index.chapter_by_number]
    return {"question": q.to_dict(), "chapters": chs}



@router.get("/questions/{qid}/related", response_model=list[HitModel], response_model_exclude_unset=True,
         tags=["questions"])
async def related(request: Request, searcher: SearcherDep, qid: Annotated[str, Path(max_length=40)],
                  k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> list[dict]:
    """The questions most like this one (never itself)."""
    find_question(searcher, qid)
    return await run_work(request, lambda: json_response([h.to_dict() for h in searcher.related(qid, k)]))



@router.get("/chapters", response_model=list[ChapterModel], tags=["questions"])
def chapters(searcher: SearcherDep) -> list[dict]:
    """The chapter catalogue: each chapter's section and the questions citing it."""
    return [c.to_dict() for c in searcher.index.chapters]
