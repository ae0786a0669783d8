"""The Study set page: build a set from topics and picked ids, reorder it, download it."""

from __future__ import annotations

import streamlit as st

from qbank.errors import QbankError
from qbank.records import KINDS, ROLES
from qbank.ui.web.common import badges, md_escape, show_rubric

EXPORTS = (("md", "Markdown"), ("csv", "CSV"), ("json", "JSON"), ("anki", "Anki deck"))


def page_studyset(searcher) -> None:
    from qbank.retrieval.studyset import MINUTES, StudySetSpec, build_study_set
    from qbank.ui.exports import deck_name, export, filename

    idx = searcher.index
    titles = {q.section: q.section_title for q in idx.questions}
    basket = st.session_state.setdefault("basket", [])
    with st.expander("From a job description", expanded=bool(st.session_state.get("ss_plan"))):
        st.text_area("Paste a job ad or a list of responsibilities", key="ss_jd", height=140, max_chars=20_000)
        st.button("Read topics", key="ss_read", on_click=read_plan, args=(searcher,))
        plan = st.session_state.get("ss_plan")
        if plan is not None:
            if plan.topics:
                st.markdown("| topic (now in Topics below: edit freely) | from the words |\n|---|---|\n" + "\n".join(
                    f"| {md_escape(t.topic)} | {md_escape(', '.join(t.words))} |" for t in plan.topics))
            for n in plan.notes:
                st.warning(n)
            st.caption(f"role: {plan.role or 'not said'}"
                       + (f" ({', '.join(plan.role_words)})" if plan.role_words else "")
                       + f" · seniority: {plan.seniority}"
                       + (f" ({', '.join(plan.seniority_words)})" if plan.seniority_words else "")
                       + f" · difficulty mix {plan.mix}")
    with st.form("ss_form"):
        st.text_area("Topics (one per line)", key="ss_topics", height=90,
                     placeholder="One topic per line, for example: KV cache — or leave empty and include question "
                                 "ids below to build the set around them")
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
        c1, c2 = st.columns([4, 1])
        c1.caption("Picked from search: " + ", ".join(basket))
        c2.button("Clear picked", key="ss_clear_picked", on_click=clear_picked)
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
    with st.expander("Answer key (as the Markdown export has it)"):
        for i, it in enumerate(final.items, start=1):
            st.markdown(f"**{i}. {it.question.id}** {md_escape(it.question.question)}")
            show_rubric(it.question)
    st.markdown("##### Download")
    deck = st.text_input("Anki deck", deck_name(final), max_chars=200,
                         help="the deck the Anki export goes into; the cards come in the order above")
    cols = st.columns(len(EXPORTS))
    for col, (fmt, label) in zip(cols, EXPORTS, strict=True):
        try:
            data = export(final, fmt, deck=deck)
        except QbankError as e:
            col.error(str(e))
            continue
        col.download_button(label, data, file_name=filename(final, fmt), key=f"dl-{fmt}", on_click="ignore",
                            mime="application/octet-stream" if fmt == "anki" else None)


def clear_picked() -> None:
    """Forget the ids picked with 'Add to study set' (and empty the include box they filled)."""
    st.session_state.basket = []
    st.session_state.ss_include = ""


def read_plan(searcher) -> None:
    """Read the pasted job description: its topics fill the Topics box, its seniority the mix."""
    from qbank.retrieval.jobplan import extract_plan

    try:
        plan = extract_plan(searcher, st.session_state.get("ss_jd", ""))
    except QbankError as e:
        st.session_state.ss_plan = None
        st.toast(str(e))
        return
    st.session_state.ss_plan = plan
    if plan.topics:
        st.session_state.ss_topics = "\n".join(t.topic for t in plan.topics)
        st.session_state.ss_mix = plan.mix
        st.session_state.ss_size = max(10, len(plan.topics))
