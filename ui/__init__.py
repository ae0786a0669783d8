"""The edges: the ``qbank`` CLI, the FastAPI service and the Streamlit app."""
