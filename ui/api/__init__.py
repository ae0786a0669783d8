"""HTTP API over the search engine (FastAPI). Run it with ``qbank serve`` or
``uvicorn qbank.ui.api:app``; the OpenAPI docs are at ``/docs``.

One router per resource (``meta``, ``search``, ``questions``, ``studysets``, ``evals``); the index
(and, on first dense query, the embedding model) loads once, at start-up. Every user error is a 4xx
with a JSON body ``{"detail": ...}``: bounds and malformed parameters are 422, an unknown id 404;
nothing a client sends produces a 500 traceback.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

import qbank
from qbank.config import Settings
from qbank.errors import QbankError
from qbank.ui.api import deps, evals, meta, questions, search, studysets

ROUTERS = (meta.router, search.router, questions.router, studysets.router, evals.router)
MAX_BODY_BYTES = 1_000_000  # the largest request body accepted (413 above it)


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 with a JSON body, whether it
    declares its length or streams it chunked; nothing past the limit is read into memory (uvicorn
    checks a declared length against the bytes that arrive)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._too_large(send)
        if declared is not None:
            return await self.app(scope, receive, send)
        # streamed (chunked) body: read it up to the limit first, then hand it on
        messages, seen = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                return await self._too_large(send)
            if not message.get("more_body", False):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send):
        import json

        body = json.dumps({"detail": f"request body over {self.limit:,} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None, searcher=None, build_if_missing: bool = False) -> FastAPI:
    """The API app. With ``searcher`` given (tests), that one is used; otherwise the index named by
    ``settings`` (default: from the environment, ``QBANK_*``) is loaded once at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.searcher is None:
            from qbank.retrieval.engine import open_searcher

            app.state.searcher = open_searcher(app.state.settings, build_if_missing=build_if_missing, warm=True)
        try:
            yield
        finally:
            app.state.work_slots.close()

    app = FastAPI(title="qbank", version=qbank.__version__, lifespan=lifespan,
                  description="Search a bank of ML-systems interview questions: hybrid BM25 + dense retrieval, "
                              "related questions, study sets, evaluations.")
    app.state.settings = settings or (searcher.settings if searcher is not None else Settings())
    app.state.searcher = searcher
    app.state.build_if_missing = build_if_missing
    app.state.work_slots = deps.WorkSlots(app.state.settings.api_search_slots)
    app.add_exception_handler(QbankError, deps.qbank_error)
    app.add_exception_handler(RequestValidationError, deps.validation_error)
    app.add_exception_handler(Exception, deps.internal_error)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodyLimit)
    app.openapi = lambda: _openapi(app)
    return app


ERROR_BODY = {"type": "object", "title": "ErrorBody", "required": ["detail"],
              "properties": {"detail": {"type": "string", "description": "one line: what went wrong, what to do"},
                             "errors": {"type": "array", "items": {"type": "object"},
                                        "description": "422 only: each invalid field (input echoed ≤ 100 chars)"}}}
ERROR_RESPONSES = {
    "400": "a request qbank cannot serve as asked",
    "404": "an unknown question id or evaluation job",
    "409": "mode `full` without a reranker, or a dense mode on a BM25-only index",
    "413": "a request body over 1 MB",
    "422": "invalid input: a bad or out-of-range value, NaN/Infinity, an unknown filter value or mode",
    "503": "no usable index (missing, stale or corrupted): run `qbank build`",
}


def _openapi(app: FastAPI) -> dict:
    """FastAPI's schema, made to tell the truth about errors: every error body is
    ``{"detail": str, "errors"?: [...]}`` (:data:`ERROR_BODY`), and each route documents the
    error statuses it can answer."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ERROR_BODY
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for path in spec.get("paths", {}).values():
        for op in path.values():
            responses = op.setdefault("responses", {})
            for code, why in ERROR_RESPONSES.items():
                if code == "413" and "requestBody" not in op:
                    continue
                responses[code] = {"description": why, **ref}
            for code in ("429",):  # declared by the route itself (POST /eval): give it the error body
                if code in responses:
                    responses[code] = {**responses[code], **ref}
    app.openapi_schema = spec
    return spec


_app: FastAPI | None = None


def __getattr__(name: str):
    """``qbank.ui.api:app``, created on first access so that importing the module loads nothing."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(name)
