"""The HTTP API over the tiny index: every route, with good and bad input."""

from __future__ import annotations

import io
import json
import zipfile

import genanki
import pytest
from fastapi.testclient import TestClient

from qbank.ui.api import create_app


@pytest.fixture(scope="module")
def ui_client(ui_searcher):
    app = create_app(searcher=ui_searcher)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_healthz(ui_client):
    r = ui_client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["questions"] == 22 and r.json()["dense"] is True


def test_search_hit_shape(ui_client, ui_searcher):
    r = ui_client.get("/search", params={"q": "product quantization", "k": 3})
    assert r.status_code == 200
    d = r.json()
    assert d["query"] == "product quantization" and d["mode"] == "learned" and d["k"] == 3
    assert d["hits"][0]["id"] == "E3-16"
    # the same shape as Hit.to_dict()
    want = ui_searcher.search("product quantization", 3).hits[0].to_dict()
    got = d["hits"][0]
    assert got == want
    assert got["legs"]["bm25"]["rank"] == 1 and "quantization" in got["highlights"]
    assert set(d["timings_ms"]) >= {"total", "bm25", "embed"}


def test_search_filters_repeated_params(ui_client):
    r = ui_client.get("/search", params=[("q", "KV cache"), ("difficulty", "H"), ("difficulty", "S"),
                                         ("role", "MLS"), ("k", "20")])
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert hits and all(h["difficulty"] in ("H", "S") and "MLS" in h["roles"] for h in hits)
    assert r.json()["filters"] == {"difficulty": ["H", "S"], "role": ["MLS"]}
    r = ui_client.get("/search", params={"q": "retrieval", "section": "3", "kind": "coding", "mode": "bm25"})
    assert [h["id"] for h in r.json()["hits"]] == ["E3-21"]
    r = ui_client.get("/search", params={"q": "KV cache", "company": "meta", "chapter": "12"})
    assert [h["id"] for h in r.json()["hits"]] == ["E2-9"]


def test_search_filter_matching_nothing(ui_client):
    r = ui_client.get("/search", params={"q": "KV cache", "section": "1", "kind": "design"})
    assert r.status_code == 200 and r.json()["hits"] == []
    assert r.json()["message"] == "no question matches these filters"


@pytest.mark.parametrize(("params", "needle"), [
    ({"q": "x", "k": 101}, "k: Input should be less than or equal to 100"),
    ({"q": "x", "k": 0}, "k: Input should be greater than or equal to 1"),
    ({"q": "x", "k": "ten"}, "k: Input should be a valid integer"),
    ({"q": ""}, "q: String should have at least 1 character"),
    ({}, "q: Field required"),
    ({"q": "x", "mode": "magic"}, "mode: Input should be 'bm25', 'dense', 'hybrid', 'learned' or 'full'"),
    ({"q": "   "}, "empty query"),
    ({"q": "x" * 1001}, "query is 1,001 characters; the limit is 1,000"),
    ({"q": "x", "difficulty": "Z"}, "unknown difficulty 'Z'"),
    ({"q": "x", "section": "99"}, "unknown section 99"),
    ({"q": "x", "section": "five"}, "section must be a number, got 'five'"),
    ({"q": "x", "company": "Acme"}, "unknown company 'Acme'"),
])
def test_search_bad_input_is_422_json(ui_client, params, needle):
    r = ui_client.get("/search", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert needle in r.json()["detail"]


def test_full_mode_unavailable(ui_client):
    r = ui_client.get("/search", params={"q": "KV cache", "mode": "full"})
    assert r.status_code == 409
    assert "needs the cross-encoder reranker" in r.json()["detail"]


def test_question_and_404(ui_client):
    r = ui_client.get("/questions/e2-7")
    assert r.status_code == 200
    d = r.json()
    assert d["question"]["id"] == "E2-7" and d["question"]["rubric_label"] == "What they want to hear"
    assert d["chapters"][0]["number"] == 11 and "E2-8" in d["chapters"][0]["cited_by"]
    r = ui_client.get("/questions/E9-999")
    assert r.status_code == 404
    assert r.json() == {"detail": "unknown question id 'E9-999'; ids look like E5-193"}
    assert ui_client.get("/questions/" + "x" * 41).status_code == 422


def test_related(ui_client):
    r = ui_client.get("/questions/E2-7/related", params={"k": 3})
    assert r.status_code == 200
    ids = [h["id"] for h in r.json()]
    assert len(ids) == 3 and "E2-7" not in ids and ids[0] == "E2-8"
    assert ui_client.get("/questions/E9-1/related").status_code == 404
    assert ui_client.get("/questions/E2-7/related", params={"k": 500}).status_code == 422


def test_chapters(ui_client):
    r = ui_client.get("/chapters")
    assert r.status_code == 200
    ch = {c["number"]: c for c in r.json()}
    assert ch[22]["cited_by"] == ["E3-16", "E3-17"] and ch[22]["section"] == 3


def test_studyset_json(ui_client):
    body = {"topics": ["KV cache memory", "product quantization vector search"], "size": 6, "mix": "W:1,M:3,H:2"}
    r = ui_client.post("/studysets", json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["size"] == 6 and d["by_difficulty"] == {"W": 1, "M": 3, "H": 2} and d["messages"] == []
    assert all(d["coverage"].values())
    again = ui_client.post("/studysets", json=body).json()
    assert [i["id"] for i in again["items"]] == [i["id"] for i in d["items"]]  # deterministic


def test_studyset_files(ui_client):
    body = {"topics": ["KV cache"], "size": 3, "lambda": 0.5}
    r = ui_client.post("/studysets", json={**body, "format": "md"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    assert 'filename="studyset-kv-cache.md"' in r.headers["content-disposition"]
    assert "## Answer key" in r.text
    r = ui_client.post("/studysets", json={**body, "format": "csv"})
    assert r.text.splitlines()[0].startswith("position,id,difficulty")
    r = ui_client.post("/studysets", json={**body, "format": "anki"})
    assert r.status_code == 200 and r.headers["content-disposition"].endswith('.apkg"')
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert "collection.anki2" in z.namelist()
    ids = [i["id"] for i in ui_client.post("/studysets", json=body).json()["items"]]
    assert len(ids) == 3 and genanki.guid_for(ids[0])  # GUIDs derive from these ids


def test_studyset_anki_goes_into_the_named_deck(ui_client):
    import json as _json
    import sqlite3
    import tempfile

    r = ui_client.post("/studysets", json={"topics": ["KV cache"], "size": 3, "format": "anki", "deck": "Loop · wk 2"})
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as z, tempfile.NamedTemporaryFile(suffix=".anki2") as f:
        f.write(z.read("collection.anki2"))
        f.flush()
        con = sqlite3.connect(f.name)
        names = {d["name"] for d in _json.loads(con.execute("select decks from col").fetchone()[0]).values()}
        dues = [d for (d,) in con.execute("select due from cards order by due")]
        con.close()
    assert "Loop · wk 2" in names and dues == [0, 1, 2]


def test_studyset_from_a_job_description(ui_client, monkeypatch):
    import qbank.retrieval.jobplan as jp

    monkeypatch.setattr(jp, "MIN_COSINE", 0.2)  # the tiny index's hashing embedder has low cosines
    d = ui_client.post("/studysets", json={"text": "Staff engineer: product quantization and KV cache sizing."}).json()
    plan = d["plan"]
    assert plan["seniority"] == "staff" and plan["mix"] == "M:3,H:5,S:2" and plan["topics"]
    assert [t["topic"] for t in plan["topics"]] == d["spec"]["topics"] and d["items"]
    r = ui_client.post("/studysets", json={"text": "We sell shoes and love our customers."})
    assert r.status_code == 422 and "no topic of the text matches the bank" in r.json()["detail"]


def test_studyset_from_included_ids_alone(ui_client):
    d = ui_client.post("/studysets", json={"include": ["E3-16"], "size": 3}).json()
    assert [i["id"] for i in d["items"]][0] == "E3-16" and len(d["items"]) == 3
    assert list(d["coverage"]) == ["like E3-16"]


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"topics": []}, 422, "give at least one topic, question ids to include, or a job description (text)"),
    ({}, 422, "give at least one topic, question ids to include, or a job description (text)"),
    ({"topics": ["x"], "size": 101}, 422, "size: Input should be less than or equal to 100"),
    ({"topics": ["x"], "mix": "W:x"}, 422, "bad difficulty mix: W:'x' is not a whole number"),
    ({"topics": ["x"], "format": "pdf"}, 422, "format: Input should be 'json', 'md', 'csv' or 'anki'"),
    ({"topics": ["x"], "include": ["E9-9"]}, 404, "unknown question id 'E9-9' in include"),
    ({"topics": ["x"], "lambda": 2}, 422, "lambda: Input should be less than or equal to 1"),
    ({"topics": ["x" * 1001]}, 422, "topic is 1,001 characters; the limit is 1,000"),
])
def test_studyset_bad_input(ui_client, body, status, needle):
    r = ui_client.post("/studysets", json=body)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_studyset_malformed_json(ui_client):
    r = ui_client.post("/studysets", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "detail" in r.json()


def wait_for(client, r, timeout=60.0):
    """Poll an evaluation job until it is done or failed."""
    import time

    assert r.status_code == 202, r.text
    url = r.headers["location"]
    assert url == r.json()["url"]
    t = time.time()
    while time.time() - t < timeout:
        j = client.get(url).json()
        if j["status"] in ("done", "failed"):
            return j
        time.sleep(0.05)
    raise AssertionError("evaluation job did not finish")


def test_eval_inline(ui_client):
    body = {"modes": ["bm25", "hybrid"], "queries": {"q1": "product quantization", "q2": "KV cache memory"},
            "qrels": {"q1": {"E3-16": 2}, "q2": {"E2-7": 2, "E2-8": 2}}, "k": 10}
    job = wait_for(ui_client, ui_client.post("/eval", json=body))
    assert job["status"] == "done" and job["queries"] == 2 and job["modes"] == ["bm25", "hybrid"]
    d = job["report"]
    assert d["n_queries"] == 2 and d["primary_metric"] == "ndcg@10"
    assert set(d["metrics"]) == {"bm25", "hybrid"} and d["metrics"]["bm25"]["recall@10"] == 1.0
    assert "hybrid" in d["significance"]


def test_eval_job_is_read_by_another_worker(ui_searcher, tmp_path):
    """Two apps sharing a cache dir stand for two ``qbank serve --workers`` processes: the one that
    did not run the job answers its poll from the state file; an unknown or malformed id is a 404."""
    settings = ui_searcher.settings.model_copy(update={"cache_dir": tmp_path})
    body = {"modes": ["bm25"], "queries": {"q1": "product quantization"}, "qrels": {"q1": {"E3-16": 2}}}
    with TestClient(create_app(settings, searcher=ui_searcher)) as a, \
            TestClient(create_app(settings, searcher=ui_searcher)) as b:
        done = wait_for(a, a.post("/eval", json=body))
        other = b.get(done["url"])
        assert other.status_code == 200 and other.json() == done
        assert b.get("/eval/0123456789ab").status_code == 404
        assert b.get("/eval/..%2F..%2Fetc").status_code == 404
    assert (tmp_path / "eval-jobs" / f"{done['job']}.json").is_file()


def test_eval_golden_default(ui_client):
    # the golden set judges the real bank: on the tiny bank its ids are unknown, which is reported, not a 500
    job = wait_for(ui_client, ui_client.post("/eval", json={"modes": ["bm25"]}))
    assert job["report"]["n_queries"] > 50 and job["report"]["warnings"]


def test_eval_jobs_are_bounded(ui_client, monkeypatch):
    import qbank.ui.api.evals as ev

    body = {"modes": ["bm25"], "queries": {"q1": "kv cache"}, "qrels": {"q1": {"E2-7": 2}}}
    monkeypatch.setattr(ev, "EVAL_TIME_LIMIT_S", 0.0)  # every job runs out of time at once
    job = wait_for(ui_client, ui_client.post("/eval", json=body))
    assert job["status"] == "failed" and "time limit" in job["error"] and job["report"] is None
    monkeypatch.setattr(ev, "MAX_EVAL_PENDING", 0)  # the queue is full
    r = ui_client.post("/eval", json=body)
    assert r.status_code == 429 and "already queued or running" in r.json()["detail"]
    r = ui_client.post("/eval", json={"modes": ["bm25", "dense", "hybrid", "full"],
                                      "queries": {str(i): "kv" for i in range(200)}, "qrels": {"0": {"E2-7": 1}}})
    assert r.status_code == 422 and "more than the API's 600 searches" in r.json()["detail"]
    r = ui_client.get("/eval/nope")
    assert r.status_code == 404 and "no evaluation job 'nope'" in r.json()["detail"]


@pytest.mark.parametrize(("body", "needle"), [
    ({"queries": {"q": "x"}}, "queries and qrels go together"),
    ({"modes": ["nope"]}, "modes.0: Input should be"),
    ({"modes": []}, "modes: List should have at least 1 item"),
    ({"queries": {"q": "x"}, "qrels": {"other": {"E1-1": 1}}}, "no query has judgments in qrels"),
    ({"queries": {str(i): "x" for i in range(201)}, "qrels": {"0": {"E1-1": 1}}}, "the API evaluates at most 200"),
    ({"queries": {"q": " "}, "qrels": {"q": {"E1-1": 1}}}, "empty query"),
])
def test_eval_bad_input(ui_client, body, needle):
    r = ui_client.post("/eval", json=body)
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]


def test_openapi_documents_routes(ui_client):
    spec = ui_client.get("/openapi.json").json()
    assert {"/search", "/questions/{qid}", "/questions/{qid}/related", "/chapters", "/studysets", "/eval",
            "/healthz"} <= set(spec["paths"])
    assert ui_client.get("/docs").status_code == 200


def test_internal_error_is_json_without_traceback(ui_searcher):
    class Broken:
        settings = ui_searcher.settings
        index = ui_searcher.index

        def parse_filters(self, **kw):
            raise RuntimeError("boom /secret/path")

    with TestClient(create_app(searcher=Broken()), raise_server_exceptions=False) as c:
        r = c.get("/search", params={"q": "x"})
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error (RuntimeError); see the server log"}
    assert "Traceback" not in r.text and "secret" not in json.dumps(r.json())


def test_lifespan_loads_index_once(ui_settings):
    app = create_app(ui_settings)
    assert app.state.searcher is None
    with TestClient(app) as c:
        first = app.state.searcher
        assert first is not None
        assert c.get("/healthz").json()["questions"] == 22
        assert app.state.searcher is first


def test_hit_model_carries_every_field_of_a_hit(ui_searcher):
    """HitModel mirrors Hit.to_dict, for question hits and chapter-passage hits (cited_by included)."""
    from qbank.records import Hit, LegScore, Passage
    from qbank.ui.api.models import HitModel

    q_hit = ui_searcher.search("product quantization", 1).hits[0]
    p_hit = Hit(id="ch57:p1", doc_type="passage", rank=1, score=0.5, chunk_id="ch57:p1", chunk_field="passage",
                chunk_text="PQ splits vectors", legs={"bm25": LegScore(1, 2.0)}, highlights=("PQ",),
                passage=Passage("ch57:p1", 57, ("Vector search", "PQ"), "PQ splits vectors", "ch57.md", 3),
                links=("E3-16",))
    for hit in (q_hit, p_hit):
        d = hit.to_dict()
        assert set(d) <= set(HitModel.model_fields), set(d) - set(HitModel.model_fields)
        assert HitModel(**d).model_dump(exclude_unset=True) == d
    assert p_hit.to_dict()["cited_by"] == ["E3-16"]


def test_search_and_related_bodies_are_their_response_models(ui_client, ui_searcher):
    """/search and /related write their JSON themselves (no response_model re-validation): each body
    must still be exactly what its documented model gives, and the same hits the searcher returns."""
    from qbank.ui.api.models import HitModel, SearchResponse

    r = ui_client.get("/search", params={"q": "product quantization", "k": 3, "difficulty": "M"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert SearchResponse(**body).model_dump(exclude_unset=True) == body
    assert body["match"] == "strong" and body["corrected_query"] is None
    typo = ui_client.get("/search", params={"q": "prodcut quantization", "k": 3}).json()
    assert typo["corrected_query"] == "product quantization"
    assert ui_client.get("/search", params={"q": "qwxzv plmkj"}).json()["match"] == "none"
    empty = ui_client.get("/search", params={"q": "kv cache", "section": 1, "kind": "design"}).json()
    assert empty["hits"] == [] and {r["drop"] for r in empty["relax"]} == {"section", "kind"}
    assert SearchResponse(**empty).model_dump(exclude_unset=True) == empty
    assert [h["id"] for h in body["hits"]] == [h.id for h in ui_searcher.search(
        "product quantization", 3, filters=ui_searcher.parse_filters(difficulty=["M"])).hits]
    seed = body["hits"][0]["id"]
    rel = ui_client.get(f"/questions/{seed}/related", params={"k": 4}).json()
    assert [HitModel(**h).model_dump(exclude_unset=True) for h in rel] == rel
    assert [h["id"] for h in rel] == [h.id for h in ui_searcher.related(seed, 4)] and seed not in [h["id"] for h in rel]


@pytest.mark.parametrize("body", [
    '{"topics": ["kv cache"], "lambda": NaN}',
    '{"topics": ["kv cache"], "minutes": Infinity}',
    '{"topics": ["kv cache"], "dup_threshold": -Infinity}',
    '{"topics": ["kv cache"], "size": NaN}',
    '{"topics": ["kv cache"], "mix": {"W": NaN}}',
])
def test_non_finite_numbers_are_a_422_and_the_connection_survives(ui_client, body):
    r = ui_client.post("/studysets", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    d = r.json()
    assert d["detail"] and all(isinstance(e["input"], (str, int, float, type(None))) for e in d["errors"])
    assert ui_client.get("/healthz").status_code == 200  # the next request on the client still works


def test_validation_errors_never_echo_unbounded_input(ui_client):
    long_id = "E5-" + "9" * 100_000
    r = ui_client.post("/eval", json={"modes": ["bm25"], "queries": {"q": "kv"}, "qrels": {"q": {"x": 1}},
                                      "k": long_id})
    assert r.status_code == 422 and len(r.text) < 2_000
    assert "100,003 characters" in r.json()["errors"][0]["input"]


def test_request_body_over_the_limit_is_a_413(ui_client):
    from qbank.ui.api import MAX_BODY_BYTES

    big = '{"topics": ["' + "x" * (MAX_BODY_BYTES + 10) + '"]}'
    r = ui_client.post("/studysets", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "request body over 1,000,000 bytes" in r.json()["detail"]

    def chunks():  # no content-length: streamed, counted as it arrives
        yield b'{"topics": ["'
        for _ in range(20):
            yield b"y" * 100_000
        yield b'"]}'

    r = ui_client.post("/studysets", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert ui_client.get("/healthz").status_code == 200


@pytest.mark.parametrize("body", [{"topics": ["kv cache"], "size": True}, {"topics": ["kv cache"], "minutes": False},
                                  {"topics": ["kv cache"], "size": "6"}])
def test_numbers_are_numbers(ui_client, body):
    r = ui_client.post("/studysets", json=body)
    assert r.status_code == 422 and "Input should be a valid integer" in r.json()["detail"]
