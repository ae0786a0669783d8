"""The pages of the Streamlit app (``ui/app.py`` is the entry point)."""
