"""The Evals page: modes side by side on the golden set, an uploaded pair, or SciFact."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import streamlit as st

from qbank.config import Settings
from qbank.errors import QbankError
from qbank.retrieval.modes import EVAL_DEFAULT_MODES, MODE_NAMES, MODES


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
                queries, qrels = read_queries(qp), read_qrels(rp)
            name = uq.name
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
    curve = pd.DataFrame({m: [r.means[f"recall@{k}"] for k in recall_ks] for m, r in rep.modes.items()},
                         index=pd.Index(list(recall_ks), name="K"))
    st.line_chart(curve, x_label="K", y_label="recall")
    if rep.significance:
        st.markdown(f"##### Significance (paired randomisation test on {primary})")
        st.table(pd.DataFrame([{"mode": m, "vs": s["against"], "Δ": round(s["delta"], 4), "p": round(s["p"], 4)}
                               for m, s in rep.significance.items()]).set_index("mode"))
    if rep.worst:
        st.markdown("##### Worst queries")
        st.dataframe(pd.DataFrame([{"qid": w["qid"], "query": w["query"], primary: round(w["value"], 3),
                                    "top 5": ", ".join(w["top5"]), "missed": ", ".join(w["missed"])}
                                   for w in rep.worst]), hide_index=True, width="stretch")
