"""The Evals page: modes side by side on the golden set, an uploaded pair, or SciFact."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import streamlit as st

from qbank.config import Settings
from qbank.errors import QbankError
from qbank.retrieval.modes import EVAL_DEFAULT_MODES, MODE_NAMES, MODES
from qbank.ui.web.common import md_escape


@st.cache_resource(show_spinner="Indexing SciFact (first time: minutes)…")
def _scifact(settings_json: str, dense: bool):
    from qbank.eval.beir import beir_searcher

    settings = Settings.model_validate_json(settings_json)
    return beir_searcher(settings.scifact_dir, settings, dense)


def page_evals(searcher) -> None:
    import pandas as pd

    from qbank.eval.data import read_qrels, read_queries
    from qbank.eval.metrics import PRIMARY, RECALL_KS
    from qbank.eval.runner import evaluate_modes
    from qbank.eval.sets import load_eval_set
    from qbank.retrieval.rerank import reranker_available

    sources = ["Golden set", "Upload queries + qrels"] + (["SciFact (BEIR)"] if searcher.settings.scifact_dir.exists() else [])
    source = st.radio("Query set", sources, key="ev_source", horizontal=True)
    avail = [m for m in MODE_NAMES if not MODES[m].rerank or reranker_available(searcher.settings)]
    modes = st.multiselect("Modes", avail, default=[m for m in EVAL_DEFAULT_MODES if m in avail],
                           key="ev_modes")
    uploads = None
    if source.startswith("Upload"):
        c1, c2 = st.columns(2)
        uq = c1.file_uploader("Queries (TSV qid<TAB>text, or JSONL)", type=["tsv", "txt", "jsonl"], key="ev_q")
        ur = c2.file_uploader("Qrels (TREC 'qid 0 doc grade' or BEIR TSV)", type=["qrels", "txt", "tsv"], key="ev_r")
        uploads = (uq, ur)
    elif source.startswith("SciFact"):
        st.caption("SciFact is indexed into its own index the first time (BM25 only: seconds; dense: minutes).")
    if st.session_state.get("ev_report_source") != source:  # another query set: the old report goes
        st.session_state.pop("ev_report", None)
    if not st.button("Run evaluation", type="primary", key="ev_run"):
        rep = st.session_state.get("ev_report")
        if rep is not None:
            show_report(rep, pd, PRIMARY, RECALL_KS)
        return
    if not modes:
        st.error("choose at least one mode")
        return
    try:
        questions = searcher.index.question_by_id
        target = searcher
        if source == "Golden set":
            es = load_eval_set()
            queries, qrels, name = es.queries, es.qrels, es.name
        elif source.startswith("Upload"):
            uq, ur = uploads
            if uq is None or ur is None:
                st.error("upload both a queries file and a qrels file")
                return
            with tempfile.TemporaryDirectory() as tmp:
                qp, rp = Path(tmp) / uq.name, Path(tmp) / ur.name
                qp.write_bytes(uq.getvalue())
                rp.write_bytes(ur.getvalue())
                try:
                    queries, qrels = read_queries(qp), read_qrels(rp)
                except QbankError as e:  # name the uploaded file, not where the server put it
                    raise type(e)(str(e).replace(f"{tmp}/", "").replace(tmp, "")) from None
            name = uq.name
            judged = {d for rel in qrels.values() for d in rel}
            if judged and not judged & set(questions):
                st.error(f"none of the {len(judged)} judged ids in {ur.name} is a question of this bank "
                         f"(e.g. {sorted(judged)[0]!r}; ids look like E5-195): nothing to evaluate")
                return
        else:
            dense = any(m != "bm25" for m in modes)
            target, queries, qrels = _scifact(searcher.settings.model_dump_json(), dense)
            name, questions = "SciFact (test)", None
        bar = st.progress(0.0, text="Evaluating…")
        total = max(1, len(queries) * len(modes))
        done = {"n": 0}

        def progress(n: int) -> None:
            done["n"] += n
            bar.progress(min(1.0, done["n"] / total), text=f"Evaluating {done['n']}/{total}")

        t = time.perf_counter()
        rep = evaluate_modes(target, queries, qrels, modes, name, k=100, questions=questions, progress=progress)
        bar.empty()
        st.session_state.ev_report = rep
        st.session_state.ev_report_source = source
        st.caption(f"evaluated in {time.perf_counter() - t:.1f} s")
    except QbankError as e:
        st.error(str(e))
        return
    show_report(rep, pd, PRIMARY, RECALL_KS)


def show_report(rep, pd, primary: str, recall_ks) -> None:
    st.subheader(f"{rep.dataset} · {rep.n_queries} queries")
    for w in rep.warnings:
        st.warning(w)
    cols = ["ndcg@10", "mrr@10", "recall@10", "recall@20", "recall@100", "success@1", "map"]
    table = pd.DataFrame({m: {c: r.means[c] for c in cols} for m, r in rep.modes.items()}).T
    for m, r in rep.modes.items():
        lat = r.latency()
        table.loc[m, "p50 ms"] = lat["p50"]
        table.loc[m, "p95 ms"] = lat["p95"]
    st.markdown(f"Primary metric: **{primary}**")
    st.dataframe(table.style.format("{:.4f}", subset=cols).format("{:.1f}", subset=["p50 ms", "p95 ms"]),
                 width="stretch")
    st.markdown("##### Recall@K")
    import altair as alt

    ks = [str(k) for k in recall_ks]  # K as categories: K ≤ 10 is not squeezed into a corner
    long = pd.DataFrame([{"K": str(k), "mode": m, "recall": r.means[f"recall@{k}"]}
                         for m, r in rep.modes.items() for k in recall_ks])
    st.altair_chart(alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("K:O", sort=ks, title="K"), y=alt.Y("recall:Q", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("mode:N", scale=alt.Scale(scheme="category10"))), width="stretch")
    if rep.significance:
        st.markdown(f"##### Significance (paired randomisation test on {primary})")
        st.table(pd.DataFrame([{"mode": m, "vs": s["against"], "Δ": round(s["delta"], 4), "p": round(s["p"], 4)}
                               for m, s in rep.significance.items()]).set_index("mode"))
    if rep.breakdown:
        st.markdown(f"##### {primary} by group")
        tabs = st.tabs(list(rep.breakdown))
        for tab, groups in zip(tabs, rep.breakdown.values(), strict=True):
            tab.dataframe(pd.DataFrame(groups).T.style.format("{:.3f}"), width="stretch")
    if rep.worst:
        mode = rep.worst[0].get("mode", "")
        st.markdown(f"##### Worst queries ({mode} mode, lowest {primary})")
        rows = ["| qid | query | " + primary + " | top 5 | missed |", "|---|---|---:|---|---|"]
        for w in rep.worst:
            rows.append(f"| {w['qid']} | {md_escape(w['query'])} | {w['value']:.3f} | {_links(w['top5'])} | "
                        f"{_links(w['missed']) or '–'} |")
        st.markdown("\n".join(rows))
    st.markdown("##### Download")
    c1, c2, c3 = st.columns(3)
    files = _downloads(rep)
    c1.download_button("Report (JSON)", files["json"], file_name="report.json", key="ev_dl_json", on_click="ignore")
    c2.download_button("Report (Markdown)", files["md"], file_name="report.md", key="ev_dl_md", on_click="ignore")
    c3.download_button("TREC runs + report (zip)", files["zip"], file_name="eval.zip", key="ev_dl_zip",
                       on_click="ignore", mime="application/zip")


def _links(ids) -> str:
    """Question ids as links that open the Question page (the app keeps its view in the URL)."""
    return ", ".join(f"[{i}](?page=Question&id={i})" if i.startswith("E") else i for i in ids)


def _downloads(rep) -> dict[str, bytes | str]:
    """The report's files, made once per report (not on every rerun of the page that shows it)."""
    cached = st.session_state.get("ev_downloads")
    if cached is None or cached[0] is not rep:
        cached = (rep, {"json": json.dumps(rep.to_dict(), indent=1, ensure_ascii=False), "md": rep.markdown(),
                        "zip": _zip(rep)})
        st.session_state.ev_downloads = cached
    return cached[1]


def _zip(rep) -> bytes:
    import io
    import zipfile

    with tempfile.TemporaryDirectory() as tmp:
        files = rep.write(Path(tmp))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for p in files.values():
                z.write(p, p.name)
    return buf.getvalue()
