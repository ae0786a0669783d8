"""The Search page: a query, filters on both legs, and result cards."""

from __future__ import annotations

import streamlit as st

from qbank.errors import QbankError, UnavailableError
from qbank.index.lexical import tokenize_query
from qbank.records import DIFFICULTIES, DIFFICULTY_NAMES, KINDS, ROLE_NAMES, ROLES
from qbank.retrieval.confidence import match_notes
from qbank.retrieval.hits import highlight_terms
from qbank.retrieval.modes import DEFAULT_MODE, MODE_NAMES
from qbank.ui.web.common import (
    add_to_set,
    badges,
    best_line,
    best_sentence,
    highlight,
    md_escape,
    open_question,
    question_link,
    set_query,
    show_rubric,
    toggle_related,
)

FILTER_NAMES = ("difficulty", "role", "section", "chapter", "kind", "company")  # session keys f_<name>
MODES = (DEFAULT_MODE, *(m for m in MODE_NAMES if m != DEFAULT_MODE))  # the default first in the selector
EXAMPLES = ("product quantization", "KV cache memory for long context", "tensor vs pipeline parallelism",
            "how to detect training data drift", "tell me about a time you failed")


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
    except UnavailableError:
        if mode != "full":
            raise
        # web words, not the command line's (the CLI's message names the command that remakes it)
        st.error("The full mode's reranker is not available on this server (its files are missing or do not "
                 "match their manifest). Pick the hybrid mode in the sidebar: it needs no reranker.")
        return
    except QbankError as e:
        st.error(str(e))
        return
    n = res.lexical_matches
    holding = f" · {n} hold{'s' if n == 1 else ''} a word of the query" if mode != "dense" else ""
    st.caption(f"{len(res.hits)} shown{holding} · {mode} · {res.timings_ms.get('total', 0):.0f} ms")
    filter_chips(res.filters)
    if res.message:
        st.info(res.message)
    for note in match_notes(res.match, res.corrected_query, bool(res.filters), bool(res.hits)):
        (st.info if note.startswith("showing") else st.warning)(note[0].upper() + note[1:])
    for i, r in enumerate(res.relax):  # which filter to drop, with what it would give
        st.button(f"Drop {r['drop']} {', '.join(map(str, r['values']))} → {r['questions']} questions",
                  key=f"relax{i}", on_click=clear_filter, args=(r["drop"],))
    terms = tokenize_query(query, searcher.index.bm25.vocabulary)
    for h in res.hits:
        with st.container(border=True):
            if h.question is not None:
                q = h.question
                # the title is the question's own words, the query's whole terms marked; the snippet is the
                # sentence of its testing note or rubric that names most of them
                st.markdown(f"**{h.id}** &nbsp; {highlight(q.question, highlight_terms(q.question, terms))}",
                            unsafe_allow_html=True)
                st.markdown(badges(q))
                snippet = best_sentence(q, terms)
                if snippet:
                    st.markdown(f"<small>{highlight(snippet, highlight_terms(snippet, terms))}</small>",
                                unsafe_allow_html=True)
            else:
                p = h.passage
                st.markdown(f"**{h.id}** &nbsp; chapter {p.chapter} · {md_escape(' › '.join(p.heading_path))}")
                st.markdown(f"<small>{highlight(h.chunk_text, h.highlights)}</small>", unsafe_allow_html=True)
            if h.chunk_field == "queries":  # matched through one of the question's sample queries
                st.caption(f"people search for this as: “{best_line(h.chunk_text, h.highlights)}”")
            if explain and h.question is not None:  # the chunk that matched, as indexed
                st.markdown(f"<small>{highlight(h.chunk_text, h.highlights)}</small>", unsafe_allow_html=True)
            if explain:
                legs = " · ".join(f"{n} #{v.rank}" if v.rank else f"{n} –" for n, v in h.legs.items())
                st.caption(f"rank {h.rank} · score {h.score:.4f} · {legs} · matched {h.chunk_id}")
            if h.question is not None:
                q = h.question
                with st.expander(q.rubric_label or "Testing note"):
                    show_rubric(q)
                c1, c2, c3, _ = st.columns([1, 1, 1, 3])
                is_open = h.id in st.session_state.get("related_open", [])
                c1.button("Hide related" if is_open else "Related", key=f"rel-{h.id}", on_click=toggle_related,
                          args=(h.id,), help="the questions most like this one, here")
                in_set = h.id in st.session_state.get("basket", [])
                c2.button("In study set" if in_set else "Add to study set", key=f"add-{h.id}", disabled=in_set,
                          on_click=add_to_set, args=(h.id,))
                c3.button("Open", key=f"open-{h.id}", on_click=open_question, args=(h.id,),
                          help="the question page: chapters, who else cites them, related questions")
                if is_open:
                    with st.container(border=True):
                        st.caption(f"Related to {h.id}")
                        for r in searcher.related(h.id, 5):
                            question_link(r.id, r.question.question if r.question else r.chunk_text[:120],
                                          key=f"relin-{h.id}-{r.id}", q=r.question)


def clear_filter(name: str | None = None, value=None) -> None:
    """Drop one value of a filter, a whole filter, or (``name`` None) every filter."""
    for n in ([name] if name else FILTER_NAMES):
        key = f"f_{n}"
        if value is None:
            st.session_state[key] = []
        else:
            st.session_state[key] = [v for v in st.session_state.get(key, []) if str(v).lower() != str(value).lower()]


def filter_chips(active: dict) -> None:
    """One button per active filter value (click: remove it) and a clear-all."""
    if not active:
        return
    chips = [(n, v) for n, vals in active.items() for v in vals]
    cols = st.columns(len(chips) + 1)
    for i, (n, v) in enumerate(chips):
        cols[i].button(f"✕ {n}: {v}", key=f"chip_{n}_{v}", on_click=clear_filter, args=(n, v),
                       help="remove this filter")
    cols[-1].button("Clear all filters", key="chip_clear", on_click=clear_filter)
