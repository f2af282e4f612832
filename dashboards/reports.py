"""An alert's Evidently drift report, embedded on demand.

The hourly monitor writes each drift rule's report under `reports_dir` and names the file
in the alert's evidence (`report`). A report is a few megabytes of HTML and scripts, so a
page embeds it only when the operator asks (a toggle), and only from inside `reports_dir`:
the name comes from the database, and nothing else on the disk is ever served.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from monitor.core.settings import Settings

REPORT_HEIGHT = 900  # px: the report scrolls inside its frame


def report_path(settings: Settings, evidence: Mapping[str, Any] | None) -> Path | None:
    """The report file the evidence names, when it lies inside `reports_dir`; else None."""
    name = (evidence or {}).get("report")
    if not isinstance(name, str) or not name:
        return None
    root = settings.effective_reports_dir.resolve()
    path = Path(name).resolve()
    return path if path.is_relative_to(root) else None


def show_report(settings: Settings, evidence: Mapping[str, Any] | None, *, key: str) -> None:
    """A toggle that embeds the alert's drift report; a line when it is gone or refused."""
    if not (evidence or {}).get("report"):
        return
    path = report_path(settings, evidence)
    if path is None:
        st.caption("The drift report named by this alert lies outside reports_dir: not shown.")
        return
    if not path.is_file():
        st.caption(f"The drift report is no longer on disk ({path.name}).")
        return
    if st.toggle("Show the Evidently drift report", key=key):
        st.iframe(path, height=REPORT_HEIGHT)
