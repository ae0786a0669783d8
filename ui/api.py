"""HTTP API over the search engine (FastAPI). Run it with ``qbank serve`` or
``uvicorn ui.api:app``; the OpenAPI docs are at ``/docs``.

The index (and, on first dense query, the embedding model) loads once, at start-up. Every user
error is a 4xx with a JSON body ``{"detail": ...}``: bounds and malformed parameters are 422,
an unknown id 404; nothing a client sends produces a 500 traceback.
"""

import logging
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

import qbank
from qbank.config import Settings
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

log = logging.getLogger("qbank.api")

MAX_K = 100
MAX_SET_SIZE = 100
MAX_EVAL_QUERIES = 200
MAX_EVAL_MODES = 4
Mode = Literal["bm25", "dense", "hybrid", "full"]


# ---------------------------------------------------------------------------- response models
class LegModel(BaseModel):
    rank: int | None
    score: float | None


class ChunkRef(BaseModel):
    id: str
    field: str
    text: str


class HitModel(BaseModel):
    """The shape of :meth:`qbank.records.Hit.to_dict`: question fields, or passage fields."""

    id: str
    doc_type: str
    rank: int
    score: float
    legs: dict[str, LegModel]
    chunk: ChunkRef
    highlights: list[str]
    question: str | None = None
    difficulty: str | None = None
    roles: list[str] | None = None
    section: int | None = None
    section_title: str | None = None
    number: int | None = None
    chapters: list[int] = []
    kind: str | None = None
    companies: list[str] | None = None
    testing: str | None = None
    chapter: int | None = None
    heading_path: list[str] | None = None
    text: str | None = None


class SearchResponse(BaseModel):
    query: str
    mode: str
    k: int
    filters: dict[str, list[Any]]
    params: dict[str, Any]
    timings_ms: dict[str, float]
    message: str
    hits: list[HitModel]


class QuestionModel(BaseModel):
    """The shape of :meth:`qbank.records.Question.to_dict`."""

    id: str
    section: int
    section_title: str
    number: int
    difficulty: str
    roles: list[str]
    question: str
    chapters: list[int]
    testing: str
    testing_label: str
    companies: list[str]
    kind: str
    rubric: list[str]
    rubric_label: str
    line: int


class ChapterModel(BaseModel):
    """The shape of :meth:`qbank.records.ChapterInfo.to_dict`."""

    number: int
    section: int | None
    section_title: str
    topic: str
    cited_by: list[str]
    cited_from_sections: list[int]
    title: str = ""


class QuestionDetail(BaseModel):
    question: QuestionModel
    chapters: list[ChapterModel]


class StudySetRequest(BaseModel):
    topics: list[Annotated[str, Field(min_length=1)]] = Field(..., min_length=1, max_length=10,
                                                             examples=[["KV cache", "product quantization"]])
    size: int | None = Field(None, ge=1, le=MAX_SET_SIZE, description="default: the mix's total, else 12")
    mix: str | dict[str, int] | None = Field(None, examples=["W:2,M:5,H:5"])
    roles: list[str] = []
    sections: list[int] = []
    kinds: list[str] = []
    include: list[str] = []
    exclude: list[str] = []
    minutes: int | None = Field(None, ge=1, le=10_000, description="time budget (W=3, M=8, H=15, S=25 min each)")
    lam: float = Field(0.7, ge=0.0, le=1.0, alias="lambda", description="MMR λ: 1 = relevance only")
    dup_threshold: float = Field(0.92, gt=0.0, le=1.0)
    format: Literal["json", "md", "csv", "anki"] = "json"

    model_config = {"populate_by_name": True}


class StudyItemModel(BaseModel):
    id: str
    question: str
    difficulty: str
    roles: list[str]
    section: int
    section_title: str
    chapters: list[int]
    kind: str
    companies: list[str]
    testing_label: str
    testing: str
    rubric_label: str
    rubric: list[str]
    topic: str
    reason: str
    relevance: float
    minutes: int


class StudySetResponse(BaseModel):
    spec: dict[str, Any]
    size: int
    total_minutes: int
    by_difficulty: dict[str, int]
    coverage: dict[str, list[str]]
    messages: list[str]
    params: dict[str, Any]
    items: list[StudyItemModel]


class EvalRequest(BaseModel):
    modes: list[Mode] = Field(["bm25", "dense", "hybrid"], min_length=1, max_length=MAX_EVAL_MODES)
    queries: dict[str, str] | None = Field(None, description="inline queries {qid: text}; default: the golden set")
    qrels: dict[str, dict[str, int]] | None = Field(None, description="inline qrels {qid: {doc_id: grade}}")
    k: int = Field(100, ge=1, le=MAX_K)


class EvalResponse(BaseModel):
    dataset: str
    n_queries: int
    primary_metric: str
    metrics: dict[str, dict[str, float]]
    latency_ms: dict[str, dict[str, float]]
    significance: dict[str, dict[str, Any]]
    worst: list[dict[str, Any]]
    warnings: list[str]


class Health(BaseModel):
    status: str
    questions: int
    chunks: int
    dense: bool
    embedding_model: str | None
    index_dir: str


# ---------------------------------------------------------------------------- app
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


def create_app(settings: Settings | None = None, searcher=None, build_if_missing: bool = False) -> FastAPI:
    """The API app. With ``searcher`` given (tests), that one is used; otherwise the index named by
    ``settings`` (default: from the environment, ``QBANK_*``) is loaded once at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.searcher is None:
            from qbank.retrieval.engine import open_searcher

            app.state.searcher = open_searcher(app.state.settings, build_if_missing=build_if_missing, warm=True)
        yield

    app = FastAPI(title="qbank", version=qbank.__version__, lifespan=lifespan,
                  description="Search a bank of ML-systems interview questions: hybrid BM25 + dense retrieval, "
                              "related questions, study sets, evaluations.")
    app.state.settings = settings or (searcher.settings if searcher is not None else Settings())
    app.state.searcher = searcher
    app.state.build_if_missing = build_if_missing

    @app.exception_handler(QbankError)
    async def _qbank_error(request: Request, exc: QbankError):
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        parts = []
        for e in errs:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"{loc}: {e.get('msg', 'invalid')}" if loc else str(e.get("msg", "invalid")))
        detail = "; ".join(parts) or "invalid request"
        return JSONResponse({"detail": detail, "errors": _jsonable(errs)}, status_code=422)

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):  # never a traceback to the client
        log.exception("internal error on %s", request.url.path)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500)

    @app.get("/healthz", response_model=Health, tags=["meta"])
    def healthz(searcher: SearcherDep) -> dict:
        idx = searcher.index
        return {"status": "ok", "questions": len(idx.questions), "chunks": len(idx.chunks), "dense": idx.has_dense,
                "embedding_model": idx.manifest["embedding"]["model"] if idx.has_dense else None,
                "index_dir": str(idx.path)}

    @app.get("/search", response_model=SearchResponse, response_model_exclude_unset=True, tags=["search"])
    def search(
        searcher: SearcherDep,
        q: Annotated[str, Query(min_length=1, description="free text")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
        mode: Mode = "hybrid",
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

    @app.get("/questions/{qid}", response_model=QuestionDetail, tags=["questions"])
    def question(searcher: SearcherDep, qid: Annotated[str, Path(max_length=40)]) -> dict:
        """One question in full, with the chapters it cites (and who else cites them)."""
        q = _question(searcher, qid)
        chs = [searcher.index.chapter_by_number[c].to_dict() for c in q.chapters if c in searcher.index.chapter_by_number]
        return {"question": q.to_dict(), "chapters": chs}

    @app.get("/questions/{qid}/related", response_model=list[HitModel], response_model_exclude_unset=True,
             tags=["questions"])
    def related(searcher: SearcherDep, qid: Annotated[str, Path(max_length=40)],
                k: Annotated[int, Query(ge=1, le=MAX_K)] = 10) -> list[dict]:
        """The questions most like this one (never itself)."""
        _question(searcher, qid)
        return [h.to_dict() for h in searcher.related(qid, k)]

    @app.get("/chapters", response_model=list[ChapterModel], tags=["questions"])
    def chapters(searcher: SearcherDep) -> list[dict]:
        """The chapter catalogue: each chapter's section and the questions citing it."""
        return [c.to_dict() for c in searcher.index.chapters]

    @app.post("/studysets", tags=["study sets"],
              responses={200: {"model": StudySetResponse, "description": "JSON, or a file for md/csv/anki",
                               "content": {"text/markdown": {}, "text/csv": {}, "application/octet-stream": {}}}})
    def studysets(searcher: SearcherDep, body: StudySetRequest):
        """Build a study set covering every topic; ``format`` md/csv/anki returns a file to download."""
        from qbank.retrieval.studyset import MEDIA_TYPES, StudySetSpec, build_study_set, export, filename

        spec = StudySetSpec(topics=tuple(body.topics), size=body.size, mix=body.mix, roles=tuple(body.roles),
                            sections=tuple(body.sections), kinds=tuple(body.kinds), include=tuple(body.include),
                            exclude=tuple(body.exclude), minutes=body.minutes, lam=body.lam,
                            dup_threshold=body.dup_threshold)
        ss = build_study_set(searcher, spec)
        if body.format == "json":
            return JSONResponse(StudySetResponse(**ss.to_dict()).model_dump())
        return Response(export(ss, body.format), media_type=MEDIA_TYPES[body.format],
                        headers={"Content-Disposition": f'attachment; filename="{filename(ss, body.format)}"'})

    @app.post("/eval", response_model=EvalResponse, tags=["evaluation"])
    def evaluate(searcher: SearcherDep, body: EvalRequest | None = None) -> dict:
        """Run modes side by side on the golden set, or on inline queries + qrels (at most 200 queries)."""
        from qbank.eval.data import read_qrels, read_queries
        from qbank.eval.runner import GOLDEN_QRELS, GOLDEN_QUERIES, evaluate_modes

        body = body or EvalRequest()
        if (body.queries is None) != (body.qrels is None):
            raise EvalDataError("queries and qrels go together: give both, or neither for the golden set")
        if body.queries is not None:
            queries, qrels, name = body.queries, body.qrels, "inline queries"
            if not queries:
                raise EvalDataError("queries is empty")
            for text in queries.values():
                searcher.check_query(text, 1)
        else:
            queries, qrels, name = read_queries(GOLDEN_QUERIES), read_qrels(GOLDEN_QRELS), "golden set"
        if len(queries) > MAX_EVAL_QUERIES:
            raise EvalDataError(f"{len(queries)} queries; the API evaluates at most {MAX_EVAL_QUERIES} "
                                "(use `qbank eval` for more)")
        if not any(q in qrels for q in queries):
            raise EvalDataError("no query has judgments in qrels: their query ids must match")
        modes = list(dict.fromkeys(body.modes))
        report = evaluate_modes(searcher, queries, qrels, modes, name, k=body.k,
                                questions=searcher.index.question_by_id)
        d = report.to_dict()
        return {k: d[k] for k in EvalResponse.model_fields}

    return app


def _question(searcher, qid: str):
    from qbank.retrieval.searcher import normalise_id

    q = searcher.index.question_by_id.get(normalise_id(qid))
    if q is None:
        raise UnknownIdError(f"unknown question id {qid!r}; ids look like E5-193")
    return q


def _jsonable(errs: list[dict]) -> list[dict]:
    out = []
    for e in errs:
        out.append({k: (v if isinstance(v, (str, int, float, bool, type(None), list, tuple)) else str(v))
                    for k, v in e.items() if k in ("type", "loc", "msg", "input")})
    for e in out:
        if isinstance(e.get("input"), (dict, list)) or not isinstance(e.get("input"), (str, int, float, type(None))):
            e["input"] = str(e.get("input"))[:200]
    return out


_app: FastAPI | None = None


def __getattr__(name: str):
    """``ui.api:app``, created on first access so that importing the module loads nothing."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(name)
