"""``POST /eval`` → a background job, ``GET /eval/{job}`` → its state and report.

An evaluation is many searches; run inside a request it held a worker thread for minutes and, with a
few of them, starved every route. So ``POST /eval`` checks the request (422 with the reason), bounds
the work (queries × modes ≤ :data:`MAX_EVAL_WORK`), and queues it: one evaluation runs at a time on
its own thread, pausing after each query (:data:`EVAL_PAUSE_S`) so it takes at most about half a core,
at most :data:`MAX_EVAL_PENDING` wait (beyond that: 429), and each stops at
:data:`EVAL_TIME_LIMIT_S` (the job fails with that reason). Searches never wait behind it. The
answer is ``202`` with the job's URL; poll ``GET /eval/{job}`` until ``done`` (the report) or
``failed`` (the reason). The last :data:`KEEP_JOBS` jobs are kept in memory and, written
atomically at each change of state, in ``<cache dir>/eval-jobs/``: with several server workers
(``qbank serve --workers``) the poll may reach another process than the one running the job, and it
reads the job from there. The queue bound applies per worker.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from qbank.errors import EvalDataError, QbankError
from qbank.ui.api.deps import SearcherDep
from qbank.ui.api.models import MAX_EVAL_QUERIES, EvalJob, EvalRequest, EvalResponse

router = APIRouter()
MAX_EVAL_WORK = 600  # queries × modes of one job
MAX_EVAL_PENDING = 4  # queued or running jobs; more → 429
EVAL_TIME_LIMIT_S = 120.0
KEEP_JOBS = 50
# after each query an evaluation pauses this long: it then uses at most about half a core (and the
# GIL), so searches on a small machine keep their latency while one runs
EVAL_PAUSE_S = 0.02


class _TimeLimit(QbankError):
    pass


JOB_ID = re.compile(r"[0-9a-f]{12}")


class EvalJobs:
    """One app's evaluation jobs: a single worker thread and the recent jobs' states, mirrored to
    ``folder`` (one JSON file per job) for the other worker processes."""

    def __init__(self, folder: Path | None = None) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qbank-eval")
        self.jobs: OrderedDict[str, dict] = OrderedDict()
        self.lock = threading.Lock()
        self.folder = folder

    def save(self, job: dict) -> None:
        """Write the job's state for other workers (best effort: a read-only disk only loses that)."""
        if self.folder is None:
            return
        from qbank.fileio import write_atomic

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomic(self.folder / f"{job['job']}.json", json.dumps(job))
            if job["status"] in ("done", "failed"):  # keep the newest KEEP_JOBS files
                files = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
                for old in files[:-KEEP_JOBS]:
                    old.unlink(missing_ok=True)
        except (OSError, ValueError):
            pass

    def get(self, job_id: str) -> dict | None:
        """This worker's job, else one another worker wrote; None for an unknown id."""
        j = self.jobs.get(job_id)
        if j is not None or self.folder is None or not JOB_ID.fullmatch(job_id):
            return j
        try:
            return json.loads((self.folder / f"{job_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def pending(self) -> int:
        return sum(1 for j in self.jobs.values() if j["status"] in ("queued", "running"))

    def submit(self, run, queries: int, modes: list[str]) -> dict:
        job_id = uuid.uuid4().hex[:12]
        job = {"job": job_id, "status": "queued", "url": f"/eval/{job_id}", "queries": queries, "modes": modes,
               "seconds": None, "report": None, "error": None}
        with self.lock:
            self.jobs[job_id] = job
            while len(self.jobs) > KEEP_JOBS:
                oldest = next(iter(self.jobs))
                if self.jobs[oldest]["status"] in ("queued", "running"):
                    break
                self.jobs.pop(oldest)
        self.save(job)
        self.pool.submit(self._run, job, run)
        return job

    def _run(self, job: dict, run) -> None:
        job["status"] = "running"
        self.save(job)
        t = time.perf_counter()
        deadline = t + EVAL_TIME_LIMIT_S

        def tick(_n: int = 1) -> None:
            time.sleep(EVAL_PAUSE_S)
            if time.perf_counter() > deadline:
                raise _TimeLimit(f"stopped at the time limit of {EVAL_TIME_LIMIT_S:.0f} s; "
                                 "evaluate fewer queries or modes, or use `qbank eval`")

        try:
            job["report"] = run(tick)
            job["status"] = "done"
        except QbankError as e:
            job["error"], job["status"] = str(e), "failed"
        except Exception as e:  # noqa: BLE001 - a job reports its failure, the server goes on
            job["error"], job["status"] = f"internal error ({type(e).__name__})", "failed"
        job["seconds"] = round(time.perf_counter() - t, 2)
        self.save(job)


def _jobs(request: Request) -> EvalJobs:
    if getattr(request.app.state, "eval_jobs", None) is None:
        request.app.state.eval_jobs = EvalJobs(request.app.state.settings.cache_dir / "eval-jobs")
    return request.app.state.eval_jobs


@router.post("/eval", status_code=202, response_model=EvalJob, tags=["evaluation"],
             responses={429: {"description": "too many evaluations queued"}})
def submit_eval(request: Request, searcher: SearcherDep, body: EvalRequest | None = None):
    """Queue modes side by side on the golden set, or on inline queries + qrels (at most 200
    queries, queries × modes ≤ 600). Answers 202 with the job; ``GET /eval/{job}`` has the report."""
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
    if len(queries) * len(modes) > MAX_EVAL_WORK:
        raise EvalDataError(f"{len(queries)} queries × {len(modes)} modes is more than the API's {MAX_EVAL_WORK} "
                            "searches per evaluation; use fewer modes or `qbank eval`")
    jobs = _jobs(request)
    if jobs.pending() >= MAX_EVAL_PENDING:
        return JSONResponse({"detail": f"{MAX_EVAL_PENDING} evaluations are already queued or running; "
                                       "try again when one has finished"}, status_code=429)

    def run(tick) -> dict:
        report = evaluate_modes(searcher, queries, qrels, modes, name, k=body.k,
                                questions=searcher.index.question_by_id, progress=tick)
        d = report.to_dict()
        return {k: d[k] for k in EvalResponse.model_fields}

    job = jobs.submit(run, len(queries), modes)
    return JSONResponse(EvalJob(**job).model_dump(), status_code=202, headers={"Location": job["url"]})


@router.get("/eval/{job}", response_model=EvalJob, tags=["evaluation"],
            responses={404: {"description": "no such job (or it is too old)"}})
def get_eval(request: Request, job: str):
    """An evaluation job: ``queued``, ``running``, ``done`` (with the report) or ``failed`` (with why)."""
    from qbank.errors import UnknownIdError

    j = _jobs(request).get(job[:64])
    if j is None:
        raise UnknownIdError(f"no evaluation job {job[:64]!r} (jobs are kept in memory: the last {KEEP_JOBS})")
    return j
