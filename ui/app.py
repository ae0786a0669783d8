"""The qbank web app (Streamlit): ``streamlit run ui/app.py`` or ``qbank ui``.

Pages: Search, Question, Study set, Evals (a sidebar radio), each in ``qbank.ui.web``. Settings come from the environment
(``QBANK_INDEX_DIR``, ``QBANK_BANK``, ``QBANK_EMBEDDING_MODEL``, ...). The index and the models load
once per process (``st.cache_resource``); a missing index is built on the first run behind a progress
bar. Errors are shown with ``st.error``, never as tracebacks.
"""

from __future__ import annotations

import streamlit as st

from qbank.config import Settings
from qbank.errors import IndexMismatchError, IndexMissingError, QbankError
from qbank.ui.web.evals import page_evals
from qbank.ui.web.question import page_question
from qbank.ui.web.search import page_search
from qbank.ui.web.studyset import page_studyset

PAGES = {"Search": page_search, "Question": page_question, "Study set": page_studyset, "Evals": page_evals}


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
        PAGES[page](searcher)
    except QbankError as e:
        st.error(str(e))
    except Exception as e:  # noqa: BLE001
        st.error(f"something went wrong: {type(e).__name__}: {e}")


if __name__ == "__main__":  # `streamlit run` (and AppTest) run this file as __main__; an import renders nothing
    main()
