"""What every route shares: the searcher dependency and the error → status mapping."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import math
import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

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
from qbank.index.generations import current_generation
from qbank.records import normalise_id

log = logging.getLogger("qbank.api")
T = TypeVar("T")

ERROR_STATUS: list[tuple[type[QbankError], int]] = [
    (UnknownIdError, 404),
    (InvalidQueryError, 422),
    (UnknownNameError, 422),
    (EvalDataError, 422),
    (UnavailableError, 409),
    (IndexMissingError, 503),
    (IndexMismatchError, 503),
]


def json_response(body: Any) -> Response:
    """``body`` as compact JSON, skipping FastAPI's validation of the return value against the
    route's ``response_model``: for ``/search`` and ``/related`` that re-validation cost more than
    the search. The models still document the shape, and the tests check every body against them."""
    return Response(json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(),
                    media_type="application/json")


def status_for(err: QbankError) -> int:
    for cls, code in ERROR_STATUS:
        if isinstance(err, cls):
            return code
    return 400


class WorkSlots:
    """At most ``n`` requests of this process do search work at once, on ``n`` threads of their own;
    the others wait their turn in arrival order (the threads' one FIFO queue). ``n = 0``: no bound
    (the shared thread pool).

    Why a bound: each sync route runs in a thread of its own, so a server worker with 25 connections
    ran 25 searches side by side on its one core — each request as slow as all of them, and the ones
    the scheduler passed over were the p99. With one slot per worker a request waits in a queue
    instead, and is served in order (README, "HTTP API" has the measurement).

    Why threads of their own: the routes that search are ``async`` and hand their work here, so a
    request costs one hand-over and the event loop stays free; before, a sync route and its sync
    dependency took two trips through the shared pool, and every queued request's thread woke to
    contend for the GIL — ~1.5 ms of CPU a request at 16 clients (README, "HTTP API")."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a slot's thread, once one is free; its result, or its exception."""
        if self.n <= 0:
            return await run_in_threadpool(fn, *args)
        if self._pool is None:  # made on the event loop's thread: no race
            self._pool = concurrent.futures.ThreadPoolExecutor(self.n, thread_name_prefix="qbank-search")
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


async def run_work(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in one of the app's :class:`WorkSlots` (made with the app)."""
    return await request.app.state.work_slots.run(fn, *args)


_RELOAD = threading.Lock()


async def get_searcher(request: Request):
    """The app's searcher; after a rebuild (a new index generation, ``qbank.index.generations``) the
    next request loads the new one and swaps it in, while requests already running finish on the
    old one — never a mix of the two. Answered on the event loop (one ``readlink``); loading an index
    goes to a thread."""
    s = request.app.state.searcher
    if s is None or _newer_generation(s, request.app):
        return await run_in_threadpool(_load_searcher, request)
    return s


def _load_searcher(request: Request):
    with _RELOAD:  # one load at a time: two first requests open the index once
        s = request.app.state.searcher
        if s is None:  # used without its lifespan (e.g. a TestClient outside `with`)
            from qbank.retrieval.engine import open_searcher

            s = request.app.state.searcher = open_searcher(request.app.state.settings,
                                                           build_if_missing=request.app.state.build_if_missing)
        elif _newer_generation(s, request.app):
            from qbank.retrieval.engine import open_searcher

            gen = current_generation(s.settings.index_dir)
            try:
                s = request.app.state.searcher = open_searcher(s.settings, warm=True)
                log.info("serving index generation %s", gen)
            except QbankError as e:  # e.g. built from another bank: keep serving the old generation
                request.app.state.refused_generation = gen
                log.warning("not switching to index generation %s: %s", gen, e)
    return s


def _newer_generation(searcher, app) -> bool:
    now = current_generation(searcher.settings.index_dir)
    return (now is not None and now != searcher.index.manifest.get("generation")
            and now != getattr(app.state, "refused_generation", None))


SearcherDep = Annotated[Any, Depends(get_searcher)]


def find_question(searcher, qid: str):
    q = searcher.index.question_by_id.get(normalise_id(qid))
    if q is None:
        raise UnknownIdError(f"unknown question id {qid!r}; ids look like E5-193")
    return q


async def qbank_error(request: Request, exc: QbankError):
    return JSONResponse({"detail": exc.short()}, status_code=status_for(exc))


async def validation_error(request: Request, exc: RequestValidationError):
    errs = exc.errors()
    parts = []
    for e in errs[:10]:
        loc = ".".join(str(_short(x)) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
        msg = _short(str(e.get("msg", "invalid")))
        parts.append(f"{loc}: {msg}" if loc else str(msg))
    detail = "; ".join(parts) or "invalid request"
    if len(errs) > 10:
        detail += f"; and {len(errs) - 10} more"
    return JSONResponse({"detail": detail, "errors": _jsonable(errs)}, status_code=422)


async def internal_error(request: Request, exc: Exception):  # never a traceback to the client
    log.exception("internal error on %s", request.url.path)
    return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500)


ECHO_CHARS = 100  # an error never echoes more of the client's input than this


def _short(v) -> str | int | bool | None:
    """A bounded, JSON-safe echo: NaN/±Infinity and containers become (truncated) strings."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int) and abs(v) < 10**15:
        return v
    if isinstance(v, float) and math.isfinite(v):
        return v
    text = v if isinstance(v, str) else repr(v)
    return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + f"… ({len(text):,} characters)"


def _jsonable(errs: list[dict]) -> list[dict]:
    out = []
    for e in errs:
        out.append({"type": str(e.get("type", "")), "msg": _short(str(e.get("msg", "invalid"))),
                    "loc": [_short(x) for x in e.get("loc", ())], "input": _short(e.get("input"))})
    return out
