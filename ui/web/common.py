"""Pieces every page of the web app uses: escaping, highlighting, badges, and the actions that
move between pages (open a question, add to the study set)."""

from __future__ import annotations

import html
import re

import streamlit as st

from qbank.records import DIFFICULTY_NAMES

DIFF_COLOURS = {"W": "green", "M": "blue", "H": "orange", "S": "red"}


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


def best_sentence(q, terms: list[str]) -> str | None:
    """The sentence of the question's testing note or rubric that names most query terms (whole
    words, :func:`~qbank.retrieval.hits.highlight_terms`); None when none names any."""
    from qbank.retrieval.hits import highlight_terms

    parts = [q.testing, *q.rubric]
    sentences = [s.strip() for p in parts if p for s in re.split(r"(?<=[.!?;])\s+|\n", p) if s.strip()]
    scored = [(len(highlight_terms(s, terms)), -i, s) for i, s in enumerate(sentences)]
    best = max(scored, default=(0, 0, ""))
    return best[2] if best[0] else None


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


def question_link(qid: str, text: str, key: str, q=None) -> None:
    """A button that opens question ``qid``, its text, and (given the record ``q``) its badges."""
    c1, c2 = st.columns([1, 9], vertical_alignment="center")
    c1.button(qid, key=key, on_click=open_question, args=(qid,), help="open this question")
    c2.markdown(md_escape(text) + (f"  \n{badges(q)}" if q is not None else ""))


def toggle_related(qid: str) -> None:
    """Show or hide the related questions under a search result."""
    shown = st.session_state.setdefault("related_open", [])
    if qid in shown:
        shown.remove(qid)
    else:
        shown.append(qid)
