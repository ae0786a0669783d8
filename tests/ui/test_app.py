"""The Streamlit app, page by page, with Streamlit's AppTest over the tiny index (no browser)."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "ui" / "app.py")


@pytest.fixture
def ui_app(ui_env):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


@pytest.fixture
def ui_downloads(monkeypatch):
    """The bytes behind each download button, by media URL."""
    files: dict[str, tuple[bytes, str | None]] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        files[self.get_url(file_id)] = (path_or_data, filename)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return files


def cards(at) -> list[str]:
    return [m.value.split("**")[1] for m in at.markdown if m.value.startswith("**E")]


def test_the_view_goes_into_the_url_and_a_pasted_url_restores_it(ui_app, ui_env):
    at = ui_app
    assert dict(at.query_params) == {"page": "Search"}
    at.text_input(key="q").input("KV cache").run()
    at.sidebar.multiselect(key="f_difficulty").set_value(["H", "M"]).run()
    at.sidebar.selectbox(key="mode").set_value("bm25").run()
    qp = dict(at.query_params)
    assert qp["q"] == "KV cache" and qp["difficulty"] == ["H", "M"] and qp["mode"] == "bm25" and "k" not in qp
    shown = cards(at)
    # a new browser session opened on that URL: the same view
    fresh = AppTest.from_file(APP, default_timeout=60)
    for name, values in qp.items():
        fresh.query_params[name] = values
    fresh.run()
    assert fresh.session_state["q"] == "KV cache" and fresh.session_state["f_difficulty"] == ["H", "M"]
    assert fresh.session_state["mode"] == "bm25" and cards(fresh) == shown and not fresh.exception
    # values the app would not offer are dropped, not errors
    odd = AppTest.from_file(APP, default_timeout=60)
    for name, values in {"q": ["kv"], "difficulty": ["Z", "H"], "mode": ["nope"], "k": ["9999"], "page": ["Admin"],
                         "section": ["x", "99"]}.items():
        odd.query_params[name] = values
    odd.run()
    assert odd.session_state["f_difficulty"] == ["H"] and odd.session_state["mode"] == "learned"
    assert odd.session_state["k"] == 10 and odd.session_state["page"] == "Search" and not odd.exception


def test_search_state_survives_a_visit_to_another_page(ui_app):
    at = ui_app
    at.text_input(key="q").input("KV cache").run()
    at.sidebar.multiselect(key="f_role").set_value(["MLS"]).run()
    before = cards(at)
    at.radio(key="page").set_value("Study set").run()
    at.radio(key="page").set_value("Search").run()
    assert at.text_input(key="q").value == "KV cache" and at.sidebar.multiselect(key="f_role").value == ["MLS"]
    assert cards(at) == before and not at.exception


def test_empty_search_page_offers_examples(ui_app):
    at = ui_app
    assert at.radio(key="page").value == "Search"
    assert at.button(key="ex0").label == "product quantization"
    assert any("22 questions indexed" in c.value for c in at.caption)
    at.button(key="ex0").click().run()
    assert at.text_input(key="q").value == "product quantization"
    assert cards(at)[0] == "E3-16"


def test_search_with_filters_explain_and_highlights(ui_app):
    at = ui_app
    at.text_input(key="q").input("KV cache").run()
    assert "E2-6" in cards(at)
    at.sidebar.multiselect(key="f_difficulty").set_value(["H"]).run()
    at.sidebar.multiselect(key="f_role").set_value(["MLS"]).run()
    got = cards(at)
    assert got == ["E2-9", "E3-18"]  # the only hard MLS questions (E2-10 is INF, E2-12 RE)
    # what is shown, and how many questions under these filters hold a word of the query
    # (one through its words, the other through the dense leg alone)
    assert any(c.value.startswith("2 shown · 1 holds a word of the query · learned · ") for c in at.caption)
    badges = [m.value for m in at.markdown if m.value.startswith(":orange-badge[H")]
    assert badges and ":violet-badge[MLS]" in badges[0]
    at.sidebar.toggle(key="explain").set_value(True).run()
    explained = [c.value for c in at.caption if c.value.startswith("rank 1 ")]
    assert explained and "bm25 #" in explained[0] and "dense #" in explained[0]
    assert any("<mark>KV</mark>" in m.value for m in at.markdown)
    # the rubric sits in an expander on each card
    assert any(e.label == "Testing note" for e in at.expander)


def test_a_hit_through_a_sample_query_says_so(ui_app):
    at = ui_app
    at.text_input(key="q").input("squeeze vectors into bytes").run()
    assert cards(at)[0] == "E3-16"
    # the card's title is the question's own text; the sample query shows as a small line, not as the passage
    assert any(m.value.startswith("**E3-16** &nbsp; Explain product quantization") for m in at.markdown)
    shown = [c.value for c in at.caption if c.value.startswith("people search for this as:")]
    assert shown == ["people search for this as: “squeeze embedding vectors into a few bytes each”"]
    assert not [m.value for m in at.markdown if "typical query" in m.value]


def test_card_snippet_is_the_rubric_sentence_naming_the_query_and_only_whole_terms_are_marked(ui_app):
    at = ui_app
    at.text_input(key="q").input("KV cache memory").run()
    md = [m.value for m in at.markdown]
    title = md.index("**E2-7** &nbsp; How much <mark>KV</mark> <mark>cache</mark> <mark>memory</mark> does a 70B model "
                     "need at 4K context?")
    # the snippet under the badges: the testing note's sentence, the query's words marked
    assert md[title + 2] == "<small><mark>KV</mark> <mark>cache</mark> sizing arithmetic</small>"


def test_best_sentence_and_whole_term_highlights():
    from types import SimpleNamespace

    from qbank.retrieval.hits import highlight_terms
    from qbank.ui.web.common import best_sentence

    q = SimpleNamespace(testing="memory math", rubric=("Weights take 2 bytes each. The KV-cache grows with length; "
                                                        "set gpu_memory_utilization.", "Batching helps."))
    assert best_sentence(q, ["kv", "cach", "length"]) == "The KV-cache grows with length;"
    assert best_sentence(q, ["zzz"]) is None
    assert highlight_terms("set gpu_memory_utilization.", ["memori"]) == ()  # a part of an identifier is not it
    assert highlight_terms("the KV-cache", ["kv", "cach"]) == ("KV-cache",)
    assert highlight_terms("FlashAttention and attention", ["attent"]) == ("attention",)


def test_best_line_picks_the_query_that_matched():
    from qbank.ui.web.common import best_line

    assert best_line("PQ codebooks\nsqueeze embedding vectors", ["vectors", "squeeze"]) == "squeeze embedding vectors"
    assert best_line("a\nb", []) == "a"


def build_button(at):
    """The Study set page's form button."""
    return next(b for b in at.button if b.label == "Build study set")


def filter_to_nothing(at) -> None:
    """Search "KV cache" under section 1 AND kind design: no question of the tiny bank is both."""
    at.text_input(key="q").input("KV cache").run()
    at.sidebar.multiselect(key="f_section").set_value([1]).run()
    at.sidebar.multiselect(key="f_kind").set_value(["design"]).run()
    assert cards(at) == []


def test_search_filter_matching_nothing_and_bad_mode(ui_app):
    at = ui_app
    filter_to_nothing(at)
    assert [i.value for i in at.info] == ["no question matches these filters"]
    at.sidebar.selectbox(key="mode").set_value("full").run()
    # said once, in the web's words: no command, no flag, no server path
    assert [e.value for e in at.error] == [
        "The full mode's reranker is not available on this server (its files are missing or do not match their "
        "manifest). Pick the hybrid mode in the sidebar: it needs no reranker."]
    assert not at.info and not at.exception


def test_search_says_when_it_corrected_the_query_or_found_no_match(ui_app):
    at = ui_app
    at.text_input(key="q").input("qwxzv plmkj").run()
    assert cards(at) and [w.value for w in at.warning] == [
        "No match: no word of the query is in the bank and nothing there is close in meaning; "
        "these are only the nearest questions"]
    at.text_input(key="q").input("prodcut quantization").run()
    assert any(i.value.startswith('Showing results for "product quantization"') for i in at.info)
    assert not at.warning and not at.exception


def test_filter_chips_remove_one_value_or_all_and_zero_results_say_which_filter_to_drop(ui_app):
    at = ui_app
    filter_to_nothing(at)
    drops = [b.label for b in at.button if b.label.startswith("Drop ")]
    # worked out on the tiny bank: without the kind filter section 1 allows its questions, without the
    # section filter the design questions remain
    assert drops and all(" → " in d and d.endswith(" questions") for d in drops)
    assert {d.split()[1] for d in drops} == {"section", "kind"}
    next(b for b in at.button if b.label.startswith("Drop kind")).click().run()
    assert at.session_state["f_kind"] == [] and at.session_state["f_section"] == [1] and cards(at)
    chips = [b.label for b in at.button if b.label.startswith("✕ ")]
    assert chips == ["✕ section: 1"]
    at.sidebar.multiselect(key="f_difficulty").set_value(["H", "M"]).run()
    next(b for b in at.button if b.label == "✕ difficulty: H").click().run()
    assert at.session_state["f_difficulty"] == ["M"] and at.session_state["f_section"] == [1]
    next(b for b in at.button if b.label == "Clear all filters").click().run()
    assert at.session_state["f_difficulty"] == [] and at.session_state["f_section"] == []
    assert not [b for b in at.button if b.label.startswith("✕ ")] and not at.exception


def test_related_open_in_place_and_open_goes_to_the_question_page(ui_app):
    at = ui_app
    at.text_input(key="q").input("KV cache memory 70B").run()
    at.button(key="rel-E2-7").click().run()
    assert at.radio(key="page").value == "Search"  # in place, under the card
    related = [b.key for b in at.button if b.key and b.key.startswith("relin-E2-7-")]
    assert related and "relin-E2-7-E2-8" in related and at.button(key="rel-E2-7").label == "Hide related"
    assert any(m.value.startswith("How much KV cache memory") and ":blue-badge[M · medium]" in m.value
               for m in at.markdown)  # related questions carry their badges
    at.button(key="rel-E2-7").click().run()
    assert not [b for b in at.button if b.key and b.key.startswith("relin-E2-7-")]
    at.button(key="open-E2-7").click().run()
    assert at.radio(key="page").value == "Question"
    assert at.subheader[0].value == "E2-7"
    md = [m.value for m in at.markdown]
    assert "##### Chapters" in md and "##### Related questions" in md
    # chapter 11 is also cited by E2-8 and E2-14: each is a button that opens it
    assert {"ch11-E2-8", "ch11-E2-14"} <= {b.key for b in at.button}
    assert "relq-E2-8" in {b.key for b in at.button}
    at.button(key="relq-E2-8").click().run()
    assert at.subheader[0].value == "E2-8"
    at.text_input(key="question_id").input("E9-999").run()
    assert at.error[0].value == "unknown question id 'E9-999'; ids look like E5-193"


def test_study_set_built_reordered_and_downloaded(ui_app, ui_downloads):
    at = ui_app
    # pick one question from the search page: it is included in the set
    at.text_input(key="q").input("product quantization").run()
    at.button(key="add-E3-16").click().run()
    at.radio(key="page").set_value("Study set").run()
    assert at.text_input(key="ss_include").value == "E3-16"
    at.text_area(key="ss_topics").input("KV cache memory\nproduct quantization")
    at.number_input(key="ss_size").set_value(6)
    at.text_input(key="ss_mix").input("W:1,M:3,H:2")
    build_button(at).click().run()
    assert not at.exception and not at.error
    ss = at.session_state["studyset"]
    assert len(ss.items) == 6 and ss.by_difficulty() == {"W": 1, "M": 3, "H": 2}
    assert ss.items[0].question.id == "E3-16" and ss.items[0].reason == "include"
    assert at.markdown[0].value.startswith("**6 questions · about 57 min")
    order = list(at.session_state["ss_order"])
    # reorder and prune in the preview
    at.button(key=f"down-{order[0]}").click().run()
    at.button(key=f"drop-{order[-1]}").click().run()
    assert at.session_state["ss_order"] == [order[1], order[0], *order[2:-1]]
    assert at.markdown[0].value.startswith("**5 questions")
    # one download button per export, serving the previewed order
    buttons = {b.label: b for b in at.get("download_button")}
    assert set(buttons) == {"Markdown", "CSV", "JSON", "Anki deck"}
    # the answer key on the page follows the edited order, with each question's testing note and rubric
    key = next(e for e in at.expander if e.label.startswith("Answer key"))
    numbered = [m.value.split("**")[1] for m in key.markdown if re.match(r"\*\*\d+\. E", m.value)]
    assert numbered == [f"{i}. {q}" for i, q in enumerate([order[1], order[0], *order[2:-1]], start=1)]
    assert any(m.value.startswith("**Testing:**") for m in key.markdown)
    deck = next(t for t in at.text_input if t.label == "Anki deck")
    assert deck.value == "qbank::KV cache memory, product quantization"  # editable; the export uses it
    md, name = ui_downloads[buttons["Markdown"].proto.url]
    assert name == "studyset-kv-cache-memory-product-quantization.md"
    text = md.decode()
    assert text.index(f"**{order[1]}**") < text.index(f"**{order[0]}**") < text.index("## Answer key")
    assert f"**{order[-1]}**" not in text
    data = json.loads(ui_downloads[buttons["JSON"].proto.url][0])
    assert [i["id"] for i in data["items"]] == [order[1], order[0], *order[2:-1]]
    apkg = ui_downloads[buttons["Anki deck"].proto.url][0]
    with zipfile.ZipFile(io.BytesIO(apkg)) as z:
        assert "collection.anki2" in z.namelist()


def test_study_set_from_picked_ids_alone_and_clearing_them(ui_app):
    at = ui_app
    at.text_input(key="q").input("product quantization").run()
    at.button(key="add-E3-16").click().run()
    at.radio(key="page").set_value("Study set").run()
    at.number_input(key="ss_size").set_value(3)
    at.text_input(key="ss_mix").input("")
    build_button(at).click().run()  # no topics: the set is built around the picked question
    assert not at.exception and not at.error
    ss = at.session_state["studyset"]
    related = [it.question.id for it in ss.items[1:]]
    assert ss.items[0].question.id == "E3-16" and len(ss.items) == 3
    assert ss.coverage() == {"like E3-16": related}
    at.button(key="ss_clear_picked").click().run()
    assert at.session_state["basket"] == [] and at.text_input(key="ss_include").value == ""
    build_button(at).click().run()
    assert [e.value for e in at.error] == [
        "a study set needs at least one topic (e.g. 'KV cache') or a question id to include"]


def test_study_set_from_a_job_description(ui_app, monkeypatch):
    import qbank.retrieval.jobplan as jp

    monkeypatch.setattr(jp, "MIN_COSINE", 0.2)  # the tiny index's hashing embedder has low cosines
    at = ui_app
    at.radio(key="page").set_value("Study set").run()
    at.text_area(key="ss_jd").input("Senior engineer. Own KV cache memory sizing and product quantization.")
    at.button(key="ss_read").click().run()
    plan = at.session_state["ss_plan"]
    assert plan.topics and plan.seniority == "senior"
    topics = at.text_area(key="ss_topics").value.splitlines()
    assert topics == [t.topic for t in plan.topics] and at.text_input(key="ss_mix").value == plan.mix
    table = next(m.value for m in at.markdown if m.value.startswith("| topic (now in Topics below"))
    assert all(t.topic in table for t in plan.topics)
    build_button(at).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.session_state["studyset"].items


def test_study_set_errors_are_shown(ui_app):
    at = ui_app
    at.radio(key="page").set_value("Study set").run()
    at.text_area(key="ss_topics").input("KV cache")
    at.text_input(key="ss_mix").input("W:x")
    build_button(at).click().run()
    assert [e.value for e in at.error] == ["bad difficulty mix: W:'x' is not a whole number; write it like 'W:2,M:5,H:5'"]
    at.text_input(key="ss_mix").input("S:3,M:1")
    at.number_input(key="ss_size").set_value(4)
    build_button(at).click().run()
    assert not at.error
    assert any(w.value.startswith("difficulty mix M:1,S:3 not met") for w in at.warning)


def test_evals_golden_set(ui_app):
    at = ui_app
    at.radio(key="page").set_value("Evals").run()
    assert at.multiselect(key="ev_modes").value == ["bm25", "dense", "hybrid", "learned"]
    at.multiselect(key="ev_modes").set_value(["bm25", "hybrid"])
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error
    assert at.subheader[0].value.startswith("golden set · ")
    # the golden set judges the real bank: on the tiny bank its ids are missing, and that is said
    assert any("judged doc ids are not in the index" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert list(table.index) == ["bm25", "hybrid"] and "ndcg@10" in table.columns
    md = [m.value for m in at.markdown]
    assert "##### Recall@K" in md and "##### Worst queries (hybrid mode, lowest ndcg@10)" in md
    assert any(m.startswith("##### Significance") for m in md)
    assert {b.label for b in at.get("download_button")} == {"Report (JSON)", "Report (Markdown)",
                                                              "TREC runs + report (zip)"}
    # switching the query set clears the old report
    at.radio(key="ev_source").set_value("Upload queries + qrels").run()
    assert not at.subheader and "ev_report" not in at.session_state


def upload_and_run(at, queries: tuple[str, bytes], qrels: tuple[str, bytes], modes: list[str] | None = None):
    """On the Evals page: upload a queries file and a qrels file (name, bytes), choose modes, run."""
    at.radio(key="page").set_value("Evals").run()
    at.radio(key="ev_source").set_value("Upload queries + qrels").run()
    at.file_uploader(key="ev_q").set_value((*queries, "text/plain"))
    at.file_uploader(key="ev_r").set_value((*qrels, "text/plain"))
    if modes:
        at.multiselect(key="ev_modes").set_value(modes)
    at.button(key="ev_run").click().run()
    return at


def test_evals_uploaded_pair(ui_app):
    at = upload_and_run(ui_app, ("q.tsv", b"q1\tproduct quantization\nq2\tKV cache memory\n"),
                        ("q.qrels", b"q1 0 E3-16 2\nq2 0 E2-7 2\nq2 0 E2-8 1\n"), ["bm25", "dense", "hybrid"])
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.subheader[0].value == "q.tsv · 2 queries"
    table = at.dataframe[0].value
    assert table.loc["bm25", "recall@10"] == 1.0
    assert len(at.table) == 1  # significance: dense and hybrid against the best leg
    assert [t.label for t in at.tabs] == ["difficulty", "role", "section", "kind"]  # breakdowns
    worst = next(m.value for m in at.markdown if m.value.startswith("| qid |"))
    assert "[E3-16](?page=Question&id=E3-16)" in worst or "[E2-7](?page=Question&id=E2-7)" in worst


def test_evals_refuse_unknown_ids_and_name_the_uploaded_file(ui_app):
    at = upload_and_run(ui_app, ("q.tsv", b"q1\tproduct quantization\n"), ("mine.qrels", b"q1 0 doc-17 2\nq1 0 doc-4 1\n"))
    assert [e.value for e in at.error] == ["none of the 2 judged ids in mine.qrels is a question of this bank "
                                           "(e.g. 'doc-17'; ids look like E5-195): nothing to evaluate"]
    at.file_uploader(key="ev_q").set_value(("q_empty.tsv", b"", "text/plain"))
    at.button(key="ev_run").click().run()
    err = at.error[0].value
    assert err.startswith("q_empty.tsv") and "/tmp" not in err and "\\" not in err, err


def test_evals_upload_missing_file(ui_app):
    at = ui_app
    at.radio(key="page").set_value("Evals").run()
    at.radio(key="ev_source").set_value("Upload queries + qrels").run()
    at.button(key="ev_run").click().run()
    assert [e.value for e in at.error] == ["upload both a queries file and a qrels file"]


def test_missing_index_is_built_behind_a_progress_bar(ui_settings, tmp_path, monkeypatch):
    idx = tmp_path / "fresh-index"
    for name, value in {"QBANK_INDEX_DIR": idx, "QBANK_BANK": ui_settings.bank, "QBANK_CACHE_DIR": tmp_path / "c",
                        "QBANK_CHAPTERS_DIR": tmp_path / "none", "QBANK_EMBEDDING_MODEL": "hashing-256"}.items():
        monkeypatch.setenv(name, str(value))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception and not at.error
    assert (idx / "manifest.json").exists()
    assert any("22 questions indexed" in c.value for c in at.caption)


def test_unreadable_bank_is_an_error_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("QBANK_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setenv("QBANK_BANK", str(tmp_path / "missing.txt"))
    monkeypatch.setenv("QBANK_EMBEDDING_MODEL", "hashing-256")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert at.error and "missing.txt" in at.error[0].value


# ---------------------------------------------------------------------------- the CLI commands of the apps
def _cli(args, ui_settings, capsys):
    from qbank.ui.cli import main

    rc = main([*args, "--index-dir", str(ui_settings.index_dir), "--bank", str(ui_settings.bank)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_studyset_formats(ui_env, ui_settings, capsys, tmp_path):
    rc, out, err = _cli(["studyset", "--topic", "KV cache memory", "--topic", "product quantization", "--size", "6",
                         "--mix", "W:1,M:3,H:2"], ui_settings, capsys)
    assert rc == 0 and out.startswith("# Study set: KV cache memory, product quantization\n") and "## Answer key" in out
    rc, out, _ = _cli(["studyset", "--topic", "KV cache", "--size", "3", "--format", "json", "--role", "MLS"],
                      ui_settings, capsys)
    assert rc == 0 and all("MLS" in i["roles"] for i in json.loads(out)["items"])
    rc, _, err = _cli(["studyset", "--topic", "KV cache", "--size", "4", "--mix", "S:3,M:1", "--format", "anki",
                       "--out", str(tmp_path / "s.apkg")], ui_settings, capsys)
    assert rc == 0 and zipfile.is_zipfile(tmp_path / "s.apkg")
    assert "note: difficulty mix M:1,S:3 not met" in err and "wrote 4 questions" in err


@pytest.mark.parametrize(("args", "message"), [
    (["studyset", "--topic", "x", "--mix", "W:x"],
     "error: bad difficulty mix: W:'x' is not a whole number; write it like 'W:2,M:5,H:5'\n"),
    (["studyset", "--topic", "x", "--format", "anki"], "error: --format anki writes a binary .apkg file: give --out FILE\n"),
    (["studyset", "--size", "3"], "error: give at least one --topic (e.g. --topic 'KV cache'), --include ID or --from-text FILE\n"),
    (["studyset", "--topic", "x", "--format", "pdf"], "error: unknown --format 'pdf'; choose one of: md, csv, json, anki\n"),
    (["studyset", "--topic", "x", "--exclude", "E77-1"], "error: unknown question id 'E77-1' in exclude; ids look like E5-193\n"),
])
def test_cli_studyset_errors(ui_env, ui_settings, capsys, args, message):
    rc, out, err = _cli(args, ui_settings, capsys)
    assert rc == 2 and out == "" and err == message


def test_cli_serve_and_ui(ui_env, ui_settings, capsys, monkeypatch):
    import subprocess

    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    rc, _, _ = _cli(["serve", "--port", "8123", "--workers", "1"], ui_settings, capsys)
    assert rc == 0 and seen["port"] == 8123 and seen["host"] == "127.0.0.1" and "workers" not in seen
    assert seen["app"].state.settings.index_dir == ui_settings.index_dir
    assert seen["access_log"] is False  # --log-level warning, the default
    # several workers: uvicorn imports the app factory in each, which reads the settings from QBANK_*
    # (set here first, so monkeypatch puts back what the command writes into this process's environment)
    for name, value in (("QBANK_INDEX_DIR", ui_settings.index_dir), ("QBANK_BANK", ui_settings.bank),
                        ("QBANK_ONNX_THREADS", 0)):
        monkeypatch.setenv(name, str(value))
    seen.clear()
    # on Linux each worker listens on a SO_REUSEPORT socket of its own (ui/api/server.py); elsewhere
    # uvicorn's shared socket
    from qbank.ui.api import server

    monkeypatch.setattr(server, "serve_workers",
                        lambda host, port, workers, opts: seen.update(host=host, port=port, workers=workers, opts=opts) or 0)
    rc, _, _ = _cli(["serve", "--port", "8124", "--workers", "3"], ui_settings, capsys)
    if server.reuseport_supported(8124):
        assert rc == 0 and seen["port"] == 8124 and seen["workers"] == 3 and seen["opts"]["http"] is server.protocol_class()
        seen.clear()
        monkeypatch.setattr(server, "reuseport_supported", lambda port: False)
        rc, _, _ = _cli(["serve", "--port", "8124", "--workers", "3"], ui_settings, capsys)
    assert rc == 0 and seen["app"] == "qbank.ui.api:create_app" and seen["factory"] and seen["workers"] == 3
    assert os.environ["QBANK_INDEX_DIR"] == str(ui_settings.index_dir.resolve())
    assert os.environ["QBANK_ONNX_THREADS"] == "1"  # one onnxruntime thread per worker
    rc, _, err = _cli(["serve", "--workers", "0"], ui_settings, capsys)
    assert rc == 2 and "--workers must be at least 1" in err
    monkeypatch.setattr(subprocess, "call", lambda cmd, env: seen.update(cmd=cmd, env=env) or 0)
    rc, _, _ = _cli(["ui", "--port", "8600", "--headless"], ui_settings, capsys)
    assert rc == 0
    assert seen["cmd"][1:4] == ["-m", "streamlit", "run"] and seen["cmd"][4].endswith("ui/app.py")
    assert seen["cmd"][seen["cmd"].index("--server.port") + 1] == "8600"
    assert seen["env"]["QBANK_INDEX_DIR"] == str(ui_settings.index_dir.resolve())
