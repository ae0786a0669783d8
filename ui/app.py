"""The qbank web app (Streamlit): ``streamlit run ui/app.py`` or ``qbank ui``.

Pages: Search, Question, Study set, Evals (across the top of the page), each in ``qbank.ui.web``. Settings come from the environment
(``QBANK_INDEX_DIR``, ``QBANK_BANK``, ``QBANK_EMBEDDING_MODEL``, ...). The index and the models load
once per process (``st.cache_resource``); a missing index is built on the first run behind a progress
bar. Errors are shown with ``st.error``, never as tracebacks.
"""

from __future__ import annotations

import streamlit as st

from qbank.config import Settings
from qbank.errors import IndexMismatchError, IndexMissingError, QbankError
from qbank.retrieval.modes import DEFAULT_MODE as MODE_DEFAULT
from qbank.ui.web.evals import page_evals
from qbank.ui.web.question import page_question
from qbank.ui.web.search import page_search
from qbank.ui.web.studyset import page_studyset

PAGES = {"Search": page_search, "Question": page_question, "Study set": page_studyset, "Evals": page_evals}

# widget state that must outlive a page switch (Streamlit drops a widget's value when its page is not
# drawn): re-assigned at the start of every run
KEPT = ("q", "mode", "k", "explain", "f_difficulty", "f_role", "f_section", "f_kind", "f_chapter", "f_company",
        "question_id", "ss_topics", "ss_size", "ss_mix", "ss_minutes", "ss_roles", "ss_sections", "ss_kinds",
        "ss_include", "ss_exclude", "ss_lambda", "ev_source", "ev_modes")
# what the URL holds: name in the URL → session key (lists repeat: ?difficulty=H&difficulty=S)
URL_SCALARS = {"page": "page", "q": "q", "mode": "mode", "k": "k", "id": "question_id"}
URL_LISTS = {n: f"f_{n}" for n in ("difficulty", "role", "section", "kind", "chapter", "company")}


def state_from_url(searcher) -> None:
    """Once per browser session: the view named by the URL (a pasted or bookmarked link). Values
    the app would not offer are ignored, not errors."""
    from qbank.records import DIFFICULTIES, KINDS, ROLES
    from qbank.retrieval.modes import MODE_NAMES

    qp = st.query_params
    known = {"difficulty": set(DIFFICULTIES), "role": set(ROLES), "kind": set(KINDS),
             "section": set(searcher.known_sections), "chapter": set(searcher.known_chapters),
             "company": set(searcher.known_companies)}
    if qp.get("page") in PAGES:
        st.session_state.page = qp["page"]
    if qp.get("q"):
        st.session_state.q = qp["q"][: searcher.settings.max_query_chars]
    if qp.get("mode") in MODE_NAMES:
        st.session_state.mode = qp["mode"]
    if (qp.get("k") or "").isdigit() and 5 <= int(qp["k"]) <= 50:
        st.session_state.k = int(qp["k"])
    if qp.get("id") in searcher.index.question_by_id:
        st.session_state.question_id = qp["id"]
    for name, key in URL_LISTS.items():
        vals = []
        for v in qp.get_all(name):
            v = int(v) if name in ("section", "chapter") and v.isdigit() else v
            if v in known[name]:
                vals.append(v)
        if vals:
            st.session_state[key] = vals


def state_to_url(page: str) -> None:
    """The view as a URL (shareable; the browser's history keeps each search)."""
    ss = st.session_state
    want: dict[str, str | list[str]] = {"page": page}
    if page == "Question" and ss.get("question_id"):
        want["id"] = ss["question_id"]
    if page == "Search":
        if ss.get("q"):
            want["q"] = ss["q"]
        if ss.get("mode") and ss["mode"] != MODE_DEFAULT:
            want["mode"] = ss["mode"]
        if ss.get("k") and ss["k"] != 10:
            want["k"] = str(ss["k"])
        for name, key in URL_LISTS.items():
            if ss.get(key):
                want[name] = [str(v) for v in ss[key]]
    current = {k: (st.query_params.get_all(k) if k in URL_LISTS else st.query_params.get(k)) for k in st.query_params}
    if current != want:
        st.query_params.from_dict(want)


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


def main() -> None:
    st.set_page_config(page_title="qbank", page_icon="🔎", layout="wide")
    try:
        searcher = get_searcher()
    except QbankError as e:
        st.error(str(e))
        return
    except Exception as e:  # noqa: BLE001 - never a traceback in the page
        st.error(f"could not open the index: {type(e).__name__}: {e}")
        return
    if not st.session_state.get("_url_read"):
        st.session_state._url_read = True
        state_from_url(searcher)
    for key in KEPT:  # keep what the other pages' widgets hold
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    st.session_state.setdefault("page", "Search")
    st.sidebar.title("qbank")
    # the pages across the top of the main area, not in the sidebar: on a phone the sidebar is folded
    # away and holds the search filters
    page = st.radio("Page", PAGES, key="page", horizontal=True, label_visibility="collapsed")
    state_to_url(page)
    try:
        PAGES[page](searcher)
    except QbankError as e:
        st.error(str(e))
    except Exception as e:  # noqa: BLE001
        st.error(f"something went wrong: {type(e).__name__}: {e}")


if __name__ == "__main__":  # `streamlit run` (and AppTest) run this file as __main__; an import renders nothing
    main()
