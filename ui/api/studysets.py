"""``POST /studysets``: build a study set; JSON, or a file to download."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from qbank.errors import InvalidQueryError
from qbank.ui.api.deps import SearcherDep, run_work
from qbank.ui.api.models import StudySetRequest, StudySetResponse

router = APIRouter()


@router.post("/studysets", tags=["study sets"],
          responses={200: {"model": StudySetResponse, "description": "JSON, or a file for md/csv/anki",
                           "content": {"text/markdown": {}, "text/csv": {}, "application/octet-stream": {}}}})
async def studysets(request: Request, searcher: SearcherDep, body: StudySetRequest):
    """Build a study set covering every topic; ``format`` md/csv/anki returns a file to download."""

    def work() -> Response:  # on a work slot's thread: the search, and the file it becomes
        from qbank.retrieval.studyset import StudySetSpec, build_study_set
        from qbank.ui.exports import MEDIA_TYPES, export, filename

        spec = StudySetSpec(topics=tuple(body.topics), size=body.size, mix=body.mix, roles=tuple(body.roles),
                            sections=tuple(body.sections), kinds=tuple(body.kinds), include=tuple(body.include),
                            exclude=tuple(body.exclude), minutes=body.minutes, lam=body.lam,
                            dup_threshold=body.dup_threshold)
        plan = None
        if body.text is not None:
            from qbank.retrieval.jobplan import extract_plan, plan_spec

            plan = extract_plan(searcher, body.text)
            spec = plan_spec(plan, spec)
            if not spec.topics and not spec.include:
                raise InvalidQueryError("no topic of the text matches the bank closely; give topics")
        ss = build_study_set(searcher, spec)
        if body.format == "json":
            return JSONResponse(StudySetResponse(**ss.to_dict(), plan=plan.to_dict() if plan else None).model_dump())
        return Response(export(ss, body.format, deck=body.deck), media_type=MEDIA_TYPES[body.format],
                        headers={"Content-Disposition": f'attachment; filename="{filename(ss, body.format)}"'})

    return await run_work(request, work)
