"""The beltwatch dashboard: `beltwatch dashboard` runs this script with Streamlit
(`streamlit run dashboards/app.py`). Settings come from `BELTWATCH_*` variables and
`BELTWATCH_CONFIG`; each page is a script in `views/`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="beltwatch", layout="wide")
pages = [
    st.Page(VIEWS / "overview.py", title="Overview", icon=":material/monitor_heart:", default=True),
    st.Page(VIEWS / "alerts.py", title="Alerts", icon=":material/notifications:"),
]
st.navigation(pages).run()
