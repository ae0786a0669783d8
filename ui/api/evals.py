"""``POST /eval``: modes side by side on the golden set or inline queries + qrels."""

from __future__ import annotations

from fastapi import APIRouter

from qbank.errors import EvalDataError
from qbank.ui.api.deps import SearcherDep
from qbank.ui.api.models import MAX_EVAL_QUERIES, EvalRequest, EvalResponse

router = APIRouter()


@router.post("/eval", response_model=EvalResponse, tags=["evaluation"])
def evaluate(searcher: SearcherDep, body: EvalRequest | None = None) -> dict:
    """Run modes side by side on the golden set, or on inline queries + qrels (at most 200 queries)."""
    from qbank.eval.runner import evaluate_modes
    from qbank.eval.sets import load_eval_set

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
        es = load_eval_set()
        queries, qrels, name = es.queries, es.qrels, es.name
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
