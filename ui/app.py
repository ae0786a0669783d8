"""The qbank web app (Streamlit): ``streamlit run ui/app.py`` or ``qbank ui``.

Pages: Search, Question, Study set, Evals (a sidebar radio). Settings come from the environment
(``QBANK_INDEX_DIR``, ``QBANK_BANK``, ``QBANK_EMBEDDING_MODEL``, ...). The index and the models load
once per process (``st.cache_resource``); a missing index is built on the first run behind a progress
bar. Errors are shown with ``st.error``, never as tracebacks.
"""

from __future__ import annotations

import html
import re
import sys
import tempfile
import time
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run ui/app.py` puts ui/ on the path, not the repo root
    sys.path.insert(0, str(ROOT))

from qbank.config import Settings  # noqa: E402
from qbank.errors import IndexMismatchError, IndexMissingError, QbankError  # noqa: E402
from qbank.records import DIFFICULTIES, DIFFICULTY_NAMES, KINDS, ROLE_NAMES, ROLES  # noqa: E402

PAGES = ("Search", "Question", "Study set", "Evals")
MODES = ("hybrid", "bm25", "dense", "full")
EXAMPLES = ("product quantization", "KV cache memory for long context", "tensor vs pipeline parallelism",
            "how to detect training data drift", "tell me about a time you failed")
DIFF_COLOURS = {"W": "green", "M": "blue", "H": "orange", "S": "red"}
SCIFACT = ROOT.parent / "shared" / "benchmarks" / "scifact"
EXPORTS = (("md", "Markdown"), ("csv", "CSV"), ("json", "JSON"), ("anki", "Anki deck"))


# ---------------------------------------------------------------------------- loading
def settings_from_env() -> Settings:
    return Settings()


@st.cache_resource(show_spinner="Loading the index…")
def _open(settings_json: str):
    from qbank.retrieval.engine import open_searcher

    return open_searcher(Settings.model_validate_json(settings_json), warm=True)


def get_searcher():
    """The searcher for the environment's settings; builds the index first if there is none."""
    settings = settings_from_env()
    key = settings.model_dump_json()
    try:
        return _open(key)
    except (IndexMissingError, IndexMismatchError) as e:
        from qbank.retrieval.engine import build

        note = st.info(f"{e}. Building the index now (first run: about a minute)…")
        bar = st.progress(0.0, text="Embedding the bank…")
        state = {"done": 0}

        def factory(total: int):
            def update(n: int) -> None:
                state["done"] += n
                bar.progress(min(1.0, state["done"] / max(total, 1)), text=f"Embedding {state['done']}/{total} chunks")

            return update

        build(settings, factory)
        bar.empty()
        note.empty()
        return _open(key)


@st.cache_resource(show_spinner="Indexing SciFact (first time: minutes)…")
def _scifact(settings_json: str, dense: bool):
    from qbank.eval.beir import beir_searcher

    return beir_searcher(SCIFACT, Settings.model_validate_json(settings_json), dense)


# ---------------------------------------------------------------------------- helpers
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~$:<>])")


def md_escape(text: str) -> str:
    """Text shown as written: Markdown, LaTeX ($) and Streamlit directives (:colour[...]) escaped."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def best_line(text: str, terms) -> str:
    """The line of ``text`` holding most of ``terms`` (the first on a tie): for BM25's one chunk of
    all sample queries, show the query that matched."""
    lines = [x for x in text.splitlines() if x.strip()] or [text]
    want = {t.lower() for t in terms}
    return max(lines, key=lambda x: sum(t in x.lower() for t in want))


def highlight(text: str, terms) -> str:
    """``text`` escaped, with each of ``terms`` (as written in it) wrapped in <mark>."""
    terms = sorted({t for t in terms if t}, key=len, reverse=True)
    if not terms:
        return md_escape(text)
    pat = re.compile(r"(?<![\w])(" + "|".join(re.escape(t) for t in terms) + r")(?![\w])")
    out, pos = [], 0
    for m in pat.finditer(text):
        out.append(md_escape(text[pos:m.start()]))
        out.append(f"<mark>{html.escape(m.group())}</mark>")
        pos = m.end()
    out.append(md_escape(text[pos:]))
    return "".join(out)


def badges(q) -> str:
    parts = [f":{DIFF_COLOURS[q.difficulty]}-badge[{q.difficulty} · {DIFFICULTY_NAMES[q.difficulty]}]"]
    parts += [f":violet-badge[{r}]" for r in q.roles]
    parts.append(f":gray-badge[E.{q.section} {md_escape(q.section_title)}]")
    if q.chapters:
        parts.append(f":gray-badge[Ch. {', '.join(map(str, q.chapters))}]")
    parts.append(f":gray-badge[{q.kind}]")
    return " ".join(parts)


def open_question(qid: str) -> None:
    st.session_state.page = "Question"
    st.session_state.question_id = qid


def add_to_set(qid: str) -> None:
    basket = st.session_state.setdefault("basket", [])
    if qid not in basket:
        basket.append(qid)
    st.toast(f"{qid} added to the study set")


def set_query(q: str) -> None:
    st.session_state.q = q


def show_rubric(q) -> None:
    if q.testing:
        st.markdown(f"**{(q.testing_label or 'testing').capitalize()}:** {md_escape(q.testing)}")
    if q.rubric:
        st.markdown(f"**{q.rubric_label or 'Rubric'}:**")
        bullets = len(q.rubric) > 1 or q.rubric_label != "Solution sketch"
        st.markdown("\n".join(f"- {md_escape(b)}" for b in q.rubric) if bullets else md_escape(q.rubric[0]))
    if q.companies:
        st.caption("Companies: " + ", ".join(q.companies))


def question_link(qid: str, text: str, key: str) -> None:
    c1, c2 = st.columns([1, 9], vertical_alignment="center")
    c1.button(qid, key=key, on_click=open_question, args=(qid,), help="open this question")
    c2.markdown(md_escape(text))


# ---------------------------------------------------------------------------- pages
def page_search(searcher) -> None:
    sb = st.sidebar
    sb.subheader("Filters")
    mode = sb.selectbox("Mode", MODES, key="mode", help="bm25 + dense fused by RRF = hybrid; full adds a reranker")
    k = sb.slider("Results", 5, 50, 10, key="k")
    difficulty = sb.multiselect("Difficulty", DIFFICULTIES, key="f_difficulty",
                                format_func=lambda d: f"{d} · {DIFFICULTY_NAMES[d]}")
    role = sb.multiselect("Role", ROLES, key="f_role", format_func=lambda r: f"{r} · {ROLE_NAMES[r]}")
    sections = sorted(searcher.known_sections)
    titles = {q.section: q.section_title for q in searcher.index.questions}
    section = sb.multiselect("Section", sections, key="f_section", format_func=lambda s: f"E.{s} {titles.get(s, '')}")
    kind = sb.multiselect("Kind", KINDS, key="f_kind")
    chapter = sb.multiselect("Chapter", sorted(searcher.known_chapters), key="f_chapter")
    company = sb.multiselect("Company", sorted(searcher.known_companies), key="f_company")
    explain = sb.toggle("Explain ranks", key="explain", help="show each leg's rank and the matching chunk")

    st.text_input("Search the question bank", key="q", placeholder="e.g. product quantization",
                  max_chars=searcher.settings.max_query_chars)
    query = st.session_state.get("q", "").strip()
    if not query:
        st.caption("Try one of these:")
        cols = st.columns(len(EXAMPLES))
        for i, ex in enumerate(EXAMPLES):
            cols[i].button(ex, key=f"ex{i}", on_click=set_query, args=(ex,), width="stretch")
        st.caption(f"{len(searcher.index.questions)} questions indexed · {len(searcher.index.chunks)} chunks")
        return
    try:
        filters = searcher.parse_filters(difficulty=difficulty, role=role, section=section, chapter=chapter,
                                         kind=kind, company=company)
        res = searcher.search(query, k, mode, filters)
    except QbankError as e:
        st.error(str(e))
        if mode == "full":
            st.info("Pick the hybrid mode in the sidebar: it needs no reranker.")
        return
    st.caption(f"{len(res.hits)} results · {mode} · {res.timings_ms.get('total', 0):.0f} ms")
    if res.message:
        st.info(res.message)
    for h in res.hits:
        with st.container(border=True):
            if h.question is not None:
                q = h.question
                # the question, with the query's terms marked when the stem is what matched
                text = highlight(q.question, h.highlights) if h.chunk_field == "stem" else md_escape(q.question)
                st.markdown(f"**{h.id}** &nbsp; {text}", unsafe_allow_html=True)
                st.markdown(badges(q))
            else:
                p = h.passage
                st.markdown(f"**{h.id}** &nbsp; chapter {p.chapter} · {md_escape(' › '.join(p.heading_path))}")
            if h.chunk_field == "queries":  # matched through one of the question's sample queries
                st.markdown(f"<small>matched a typical query: “{highlight(best_line(h.chunk_text, h.highlights), h.highlights)}”"
                            "</small>", unsafe_allow_html=True)
            elif h.chunk_field != "stem" or explain:  # the matching passage (rubric, chapter text)
                st.markdown(f"<small>{highlight(h.chunk_text, h.highlights)}</small>", unsafe_allow_html=True)
            if explain:
                legs = " · ".join(f"{n} #{v.rank}" if v.rank else f"{n} –" for n, v in h.legs.items())
                st.caption(f"rank {h.rank} · score {h.score:.4f} · {legs} · matched {h.chunk_id}")
            if h.question is not None:
                q = h.question
                with st.expander(q.rubric_label or "Testing note"):
                    show_rubric(q)
                c1, c2, _ = st.columns([1, 1, 4])
                c1.button("Related", key=f"rel-{h.id}", on_click=open_question, args=(h.id,))
                in_set = h.id in st.session_state.get("basket", [])
                c2.button("In study set" if in_set else "Add to study set", key=f"add-{h.id}", disabled=in_set,
                          on_click=add_to_set, args=(h.id,))


def page_question(searcher) -> None:
    from qbank.retrieval.searcher import normalise_id

    idx = searcher.index
    st.text_input("Question id", key="question_id", placeholder="e.g. E5-195")
    raw = st.session_state.get("question_id", "").strip()
    if not raw:
        st.info("Type a question id, or open one from the search results.")
        return
    qid = normalise_id(raw)
    q = idx.question_by_id.get(qid)
    if q is None:
        st.error(f"unknown question id {raw!r}; ids look like E5-193")
        return
    st.subheader(q.id)
    st.markdown(f"#### {md_escape(q.question)}")
    st.markdown(badges(q))
    show_rubric(q)
    st.caption(f"line {q.line} of the bank")
    st.button("Add to study set", key="q-add", on_click=add_to_set, args=(q.id,),
              disabled=q.id in st.session_state.get("basket", []))
    st.divider()
    st.markdown("##### Chapters")
    for c in q.chapters:
        info = idx.chapter_by_number.get(c)
        if info is None:
            continue
        head = f"Chapter {c}" + (f": {info.title}" if info.title else "")
        where = f"E.{info.section} {info.section_title}" if info.section else "no section range"
        others = [o for o in info.cited_by if o != q.id]
        with st.expander(f"{head} · {where} · cited by {len(others)} other question(s)", expanded=len(q.chapters) == 1):
            for o in others[:12]:
                question_link(o, idx.question_by_id[o].question if o in idx.question_by_id else "", key=f"ch{c}-{o}")
            if len(others) > 12:
                st.caption(f"… and {len(others) - 12} more: " + ", ".join(others[12:]))
    st.markdown("##### Related questions")
    try:
        related = searcher.related(q.id, 8)
    except QbankError as e:
        st.error(str(e))
        return
    for h in related:
        question_link(h.id, h.question.question if h.question else h.chunk_text[:120], key=f"relq-{h.id}")


def page_studyset(searcher) -> None:
    from qbank.retrieval.studyset import MINUTES, StudySetSpec, build_study_set, export, filename

    idx = searcher.index
    titles = {q.section: q.section_title for q in idx.questions}
    basket = st.session_state.setdefault("basket", [])
    with st.form("ss_form"):
        st.text_area("Topics (one per line)", key="ss_topics", placeholder="KV cache\nproduct quantization", height=90)
        c1, c2, c3 = st.columns(3)
        size = c1.number_input("Size", 1, 100, 12, key="ss_size")
        mix = c2.text_input("Difficulty mix", "W:2,M:5,H:5", key="ss_mix", help="e.g. W:2,M:5,H:5 (blank: any)")
        minutes = c3.number_input("Time budget (min, 0 = none)", 0, 10_000, 0, key="ss_minutes",
                                  help="per question: " + ", ".join(f"{d}={m}" for d, m in MINUTES.items()))
        c1, c2, c3 = st.columns(3)
        roles = c1.multiselect("Roles", ROLES, key="ss_roles")
        sections = c2.multiselect("Sections", sorted(titles), key="ss_sections",
                                  format_func=lambda s: f"E.{s} {titles.get(s, '')}")
        kinds = c3.multiselect("Kinds", KINDS, key="ss_kinds")
        c1, c2 = st.columns(2)
        include = c1.text_input("Include ids", ", ".join(basket), key="ss_include",
                                help="comma-separated; 'Add to study set' on a result puts its id here")
        exclude = c2.text_input("Exclude ids", "", key="ss_exclude")
        lam = st.slider("Relevance ↔ variety (MMR λ)", 0.0, 1.0, 0.7, 0.05, key="ss_lambda")
        submitted = st.form_submit_button("Build study set", type="primary")
    if basket:
        st.caption("Picked from search: " + ", ".join(basket))
    if submitted:
        topics = [t.strip() for t in st.session_state.get("ss_topics", "").splitlines() if t.strip()]
        spec = StudySetSpec(topics=tuple(topics), size=int(size), mix=mix or None, roles=tuple(roles),
                            sections=tuple(sections), kinds=tuple(kinds), include=(include,) if include else (),
                            exclude=(exclude,) if exclude else (), minutes=int(minutes) or None, lam=float(lam))
        try:
            ss = build_study_set(searcher, spec)
        except QbankError as e:
            st.error(str(e))
            return
        st.session_state.studyset = ss
        st.session_state.ss_order = ss.ids
    ss = st.session_state.get("studyset")
    if ss is None:
        return
    order = [i for i in st.session_state.get("ss_order", ss.ids) if i in set(ss.ids)]
    final = ss.reordered(order)
    for m in final.messages:
        st.warning(m)
    st.markdown(f"**{len(final.items)} questions · about {final.total_minutes} min · "
                + " ".join(f"{d}:{n}" for d, n in final.by_difficulty().items()) + "**")

    def move(i: int, delta: int) -> None:
        o = st.session_state.ss_order
        j = i + delta
        if 0 <= j < len(o):
            o[i], o[j] = o[j], o[i]

    def drop(qid: str) -> None:
        st.session_state.ss_order = [x for x in st.session_state.ss_order if x != qid]

    for i, it in enumerate(final.items):
        q = it.question
        with st.container(border=True):
            c1, c2, c3, c4 = st.columns([12, 1, 1, 1], vertical_alignment="center")
            c1.markdown(f"{i + 1}. **{q.id}** {md_escape(q.question)}  \n{badges(q)} "
                        + (f":gray-badge[topic: {md_escape(it.topic)}]" if it.topic else ":gray-badge[included]"))
            c2.button("↑", key=f"up-{q.id}", on_click=move, args=(i, -1), disabled=i == 0, help="move up")
            c3.button("↓", key=f"down-{q.id}", on_click=move, args=(i, 1), disabled=i == len(final.items) - 1,
                      help="move down")
            c4.button("✕", key=f"drop-{q.id}", on_click=drop, args=(q.id,), help="remove from the set")
    if not final.items:
        st.info("The set is empty.")
        return
    st.markdown("##### Download")
    cols = st.columns(len(EXPORTS))
    for col, (fmt, label) in zip(cols, EXPORTS, strict=True):
        try:
            data = export(final, fmt)
        except QbankError as e:
            col.error(str(e))
            continue
        col.download_button(label, data, file_name=filename(final, fmt), key=f"dl-{fmt}", on_click="ignore",
                            mime="application/octet-stream" if fmt == "anki" else None)


def page_evals(searcher) -> None:
    import pandas as pd
    from qbank.eval.data import read_qrels, read_queries
    from qbank.eval.metrics import PRIMARY, RECALL_KS
    from qbank.eval.runner import GOLDEN_QRELS, GOLDEN_QUERIES, evaluate_modes
    from qbank.retrieval.rerank import reranker_available

    sources = ["Golden set", "Upload queries + qrels"] + (["SciFact (BEIR)"] if SCIFACT.exists() else [])
    source = st.radio("Query set", sources, key="ev_source", horizontal=True)
    avail = [m for m in MODES if m != "full" or reranker_available(searcher.settings)]
    modes = st.multiselect("Modes", avail, default=[m for m in ("bm25", "dense", "hybrid") if m in avail],
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
            queries, qrels, name = read_queries(GOLDEN_QUERIES), read_qrels(GOLDEN_QRELS), "golden set"
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


# ---------------------------------------------------------------------------- main
def main() -> None:
    st.set_page_config(page_title="qbank", page_icon="🔎", layout="wide")
    st.session_state.setdefault("page", "Search")
    st.sidebar.title("qbank")
    page = st.sidebar.radio("Page", PAGES, key="page", label_visibility="collapsed")
    try:
        searcher = get_searcher()
    except QbankError as e:
        st.error(str(e))
        return
    except Exception as e:  # noqa: BLE001 - never a traceback in the page
        st.error(f"could not open the index: {type(e).__name__}: {e}")
        return
    try:
        {"Search": page_search, "Question": page_question, "Study set": page_studyset, "Evals": page_evals}[page](
            searcher)
    except QbankError as e:
        st.error(str(e))
    except Exception as e:  # noqa: BLE001
        st.error(f"something went wrong: {type(e).__name__}: {e}")


main()
