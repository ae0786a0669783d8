"""The API's request and response models. Response models mirror the records' ``to_dict`` shapes;
``tests/ui/test_api.py`` checks them against real hits so a field cannot go missing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from qbank.retrieval.modes import EVAL_DEFAULT_MODES, MODE_NAMES

MAX_K = 100
MAX_SET_SIZE = 100
MAX_EVAL_QUERIES = 200
MAX_EVAL_MODES = len(MODE_NAMES)
Mode = Literal[MODE_NAMES]


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
    cited_by: list[str] | None = None


class SearchResponse(BaseModel):
    query: str
    mode: str
    k: int
    filters: dict[str, list[Any]]
    params: dict[str, Any]
    timings_ms: dict[str, float]
    message: str
    match: Literal["strong", "weak", "none"] = Field(
        description="how well the query matched: strong, weak (the hits may not be about it) or none")
    match_signals: dict[str, float | None] = Field(
        description="cosine: best query–chunk cosine; lexical: IDF share of the query found in the best BM25 chunk")
    corrected_query: str | None = Field(description="the query with misspelt words corrected; null if none were")
    lexical_matches: int = Field(description="documents holding at least one query word (under the filters), "
                                             "before the cut to k; 0 for a dense-only search")
    relax: list[dict[str, Any]] = Field(
        description="when filters left no hit or no close one: each active filter ({drop, values}) and how many "
                    "questions the other filters allow without it (questions), most first")
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
    topics: list[Annotated[str, Field(min_length=1)]] = Field(
        [], max_length=10, examples=[["KV cache", "product quantization"]],
        description="what the set is about; may be empty when include names questions (the set is then "
                    "built around them, from their related questions)")
    # strict: JSON true is not the number 1
    size: int | None = Field(None, ge=1, le=MAX_SET_SIZE, strict=True, description="default: the mix's total, else 12")
    mix: str | dict[str, int] | None = Field(None, examples=["W:2,M:5,H:5"])
    roles: list[str] = []
    sections: list[int] = []
    kinds: list[str] = []
    include: list[str] = []
    exclude: list[str] = []
    minutes: int | None = Field(None, ge=1, le=10_000, strict=True,
                                description="time budget (W=3, M=8, H=15, S=25 min each)")
    lam: float = Field(0.7, ge=0.0, le=1.0, alias="lambda", description="MMR λ: 1 = relevance only")
    dup_threshold: float = Field(0.92, gt=0.0, le=1.0)
    format: Literal["json", "md", "csv", "anki"] = "json"
    deck: str | None = Field(None, max_length=200, description="anki: the deck's name (default: qbank::<topics>)")
    text: str | None = Field(None, min_length=1, max_length=20_000,
                             description="a job description: the topics it mentions that the bank covers are added, "
                                         "and its seniority suggests the mix (see plan in the response)")

    # NaN / ±Infinity (which Python's JSON parser accepts) are refused as 422, never passed on
    model_config = {"populate_by_name": True, "allow_inf_nan": False}

    @model_validator(mode="after")
    def _topics_or_ids(self):
        if not self.topics and not self.include and not self.text:
            raise ValueError("give at least one topic, question ids to include, or a job description (text)")
        return self


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
    plan: dict[str, Any] | None = Field(None, description="with text: the topics read from it (each with the words "
                                                          "that led to it), role, seniority and the mix they suggest")


class EvalRequest(BaseModel):
    modes: list[Mode] = Field(list(EVAL_DEFAULT_MODES), min_length=1, max_length=MAX_EVAL_MODES)
    queries: dict[str, str] | None = Field(None, description="inline queries {qid: text}; default: the golden set")
    qrels: dict[str, dict[str, int]] | None = Field(None, description="inline qrels {qid: {doc_id: grade}}")
    k: int = Field(100, ge=1, le=MAX_K, strict=True)

    model_config = {"allow_inf_nan": False}


class EvalResponse(BaseModel):
    dataset: str
    n_queries: int
    primary_metric: str
    metrics: dict[str, dict[str, float]]
    latency_ms: dict[str, dict[str, float]]
    significance: dict[str, dict[str, Any]]
    worst: list[dict[str, Any]]
    warnings: list[str]


class EvalJob(BaseModel):
    job: str
    status: Literal["queued", "running", "done", "failed"]
    url: str
    queries: int
    modes: list[str]
    seconds: float | None = None  # how long it ran (done or failed)
    report: EvalResponse | None = None  # when done
    error: str | None = None  # when failed


class Health(BaseModel):
    status: str
    questions: int
    chunks: int
    dense: bool
    embedding_model: str | None
    index_dir: str
    generation: str | None = None  # the index generation being served (changes after a rebuild)
