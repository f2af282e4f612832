"""The beltwatch dashboard: `beltwatch dashboard` runs this script with Streamlit
(`streamlit run dashboards/app.py`). Settings come from `BELTWATCH_*` variables and
`BELTWATCH_CONFIG`; each page is a script in `views/`, shown only to a visitor
`access.admitted` lets in."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards.access import admitted, may_enter
from dashboards.context import settings_or_message

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="beltwatch", layout="wide")
pages = [
    st.Page(VIEWS / "overview.py", title="Overview", icon=":material/monitor_heart:", default=True),
    st.Page(VIEWS / "trends.py", title="Trends", icon=":material/show_chart:"),
    st.Page(VIEWS / "station.py", title="Station", icon=":material/videocam:"),
    st.Page(VIEWS / "alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page(VIEWS / "review.py", title="Review", icon=":material/fact_check:"),
    st.Page(VIEWS / "value.py", title="Value", icon=":material/savings:"),
]
# Nothing past the sign-in (or the reason the dashboard refuses to serve) without access.
# The page is resolved from the URL before the sign-in and run only after it, so a deep
# link (a notification's link to the Alerts page) lands where it pointed once signed in.
settings = settings_or_message()
if settings is not None:
    page = st.navigation(pages, position="sidebar" if may_enter(settings) else "hidden")
    if admitted(settings):
        page.run()
