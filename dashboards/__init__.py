"""The Streamlit operations dashboard. It reads the database through `monitor`'s query
functions and never writes predictions."""
