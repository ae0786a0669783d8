"""The Question page: one question in full, its chapters and the questions related to it."""

from __future__ import annotations

import streamlit as st

from qbank.errors import QbankError
from qbank.records import normalise_id
from qbank.ui.web.common import add_to_set, badges, md_escape, question_link, show_rubric


def page_question(searcher) -> None:
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
        question_link(h.id, h.question.question if h.question else h.chunk_text[:120], key=f"relq-{h.id}",
                      q=h.question)
