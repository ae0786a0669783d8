"""What every route shares: the searcher dependency and the error → status mapping."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from qbank.errors import (
    EvalDataError,
    IndexMismatchError,
    IndexMissingError,
    InvalidQueryError,
    QbankError,
    UnavailableError,
    UnknownIdError,
    UnknownNameError,
)
from qbank.records import normalise_id

log = logging.getLogger("qbank.api")

ERROR_STATUS: list[tuple[type[QbankError], int]] = [
    (UnknownIdError, 404),
    (InvalidQueryError, 422),
    (UnknownNameError, 422),
    (EvalDataError, 422),
    (UnavailableError, 409),
    (IndexMissingError, 503),
    (IndexMismatchError, 503),
]


def status_for(err: QbankError) -> int:
    for cls, code in ERROR_STATUS:
        if isinstance(err, cls):
            return code
    return 400


def get_searcher(request: Request):
    s = request.app.state.searcher
    if s is None:  # used without its lifespan (e.g. a TestClient outside `with`)
        from qbank.retrieval.engine import open_searcher

        s = request.app.state.searcher = open_searcher(request.app.state.settings,
                                                       build_if_missing=request.app.state.build_if_missing)
    return s


SearcherDep = Annotated[Any, Depends(get_searcher)]


def find_question(searcher, qid: str):
    q = searcher.index.question_by_id.get(normalise_id(qid))
    if q is None:
        raise UnknownIdError(f"unknown question id {qid!r}; ids look like E5-193")
    return q


async def qbank_error(request: Request, exc: QbankError):
    return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))


async def validation_error(request: Request, exc: RequestValidationError):
    errs = exc.errors()
    parts = []
    for e in errs:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
        parts.append(f"{loc}: {e.get('msg', 'invalid')}" if loc else str(e.get("msg", "invalid")))
    detail = "; ".join(parts) or "invalid request"
    return JSONResponse({"detail": detail, "errors": _jsonable(errs)}, status_code=422)


async def internal_error(request: Request, exc: Exception):  # never a traceback to the client
    log.exception("internal error on %s", request.url.path)
    return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500)


def _jsonable(errs: list[dict]) -> list[dict]:
    out = []
    for e in errs:
        out.append({k: (v if isinstance(v, (str, int, float, bool, type(None), list, tuple)) else str(v))
                    for k, v in e.items() if k in ("type", "loc", "msg", "input")})
    for e in out:
        if isinstance(e.get("input"), (dict, list)) or not isinstance(e.get("input"), (str, int, float, type(None))):
            e["input"] = str(e.get("input"))[:200]
    return out
