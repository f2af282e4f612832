"""The dashboard's tests: a database seeded once per module with a reference day and a
morning in which S1's lens is dirty and its model calls a third of the parcels critical
(critical_rate fires, with lens_drift as its likely cause),
written through the prediction log and judged by the hourly monitor, as in production."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import URL, Engine
from streamlit.testing.v1 import AppTest

# The monitor tests' traffic generator and helpers (tests/ is no package: put them on the path).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitor"))

from daygen import Fault, traffic
from hourly_support import DAY1, DAY2, set_baselines, write

from monitor.core.settings import Settings
from monitor.hourly import run_range

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"
STATIONS = ["S0", "S1", "S2"]
PER_HOUR = 200
HOURS = 4  # of DAY2, judged by the monitor


@pytest.fixture(scope="module")
def seeded(module_db: tuple[URL, Engine], module_settings: Settings) -> tuple[URL, Engine]:
    """The module's database after the reference day and DAY2's first HOURS hours."""
    url, engine = module_db
    write(url, module_settings, traffic(STATIONS, DAY1, 24, PER_HOUR, seed=21))
    set_baselines(engine, module_settings, STATIONS)
    faults = {("S1", h): Fault(lens=0.8, critical_share=0.33) for h in range(HOURS)}
    write(url, module_settings, traffic(STATIONS, DAY2, HOURS, PER_HOUR, seed=22, faults=faults))
    run_range(engine, module_settings, DAY2, DAY2 + timedelta(hours=HOURS))
    return url, engine


def point_app_at(monkeypatch: pytest.MonkeyPatch, url: URL | str, **settings: str) -> None:
    """Hand the app its settings the way `beltwatch dashboard` does: the environment."""
    text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    monkeypatch.setenv("BELTWATCH_DATABASE_URL", text)
    for name, value in settings.items():
        monkeypatch.setenv(f"BELTWATCH_{name.upper()}", value)


def open_page(page: str | None = None) -> AppTest:
    """The app, run once, then switched to `page` (a script under dashboards/) and run."""
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    if page is not None:
        app.switch_page(page).run()
    return app


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test reads the database, not what an earlier test's page cached."""
    st.cache_data.clear()
