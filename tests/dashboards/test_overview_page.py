"""The Overview page against a real database: the verdict, the station tiles (firing
first, numbers as the rollups hold them), the firing alerts with their likely cause, the
empty state and the one line for an unreachable database."""

from __future__ import annotations

import time

import pytest
from conftest import open_page, point_app_at
from sqlalchemy import text

from dashboards.context import EMPTY, UNREACHABLE


def markdown(app) -> list[str]:
    return [element.value for element in app.markdown]


def test_overview_names_the_firing_station_and_shows_its_numbers(seeded, monkeypatch) -> None:
    url, engine = seeded
    point_app_at(monkeypatch, url)
    app = open_page()
    assert not app.exception
    assert "Attention: site, S1" in app.error[0].value  # the site fires with S1
    with engine.connect() as conn:
        hour, n, critical, latency = conn.execute(
            text(
                "SELECT hour, n_total, n_critical, latency_p95 FROM hourly_rollups "
                "WHERE station_id = 'S1' AND model_version IS NULL ORDER BY hour DESC LIMIT 1"
            )
        ).one()
        cause = conn.execute(
            text("SELECT evidence FROM alerts WHERE fingerprint = 'critical_rate:S1'")
        ).scalar_one()["likely_cause"]
    texts = markdown(app)
    tiles = [t for t in texts if "border-radius" in t]
    assert ">S1<" in tiles[0] and "FIRING: critical_rate" in tiles[0]  # firing first
    assert all("OK" in t or "WATCH" in t for t in tiles[1:])
    s1 = next(t for t in texts if f"predictions **{n}** last hour" in t)
    assert f"critical share **{critical / n:.1%}** (threshold 10.0%" in s1
    assert f"latency p95 **{latency:.1f} ms** (budget 100 ms)" in s1
    assert cause["rule"] == "lens_drift"
    hint = f"Likely cause: camera fault (lens_drift): {cause['detail']}"
    assert any(hint in t for t in texts)
    assert f"last closed hour {hour:%Y-%m-%d %H:%M} UTC to " in app.error[0].value


def test_overview_shows_times_in_the_site_time_zone(seeded, monkeypatch) -> None:
    url, _ = seeded
    point_app_at(monkeypatch, url, site_timezone="Asia/Kolkata")
    app = open_page()
    # DAY2's last judged hour is 03:00 UTC: 08:30 in India (UTC+5:30).
    assert "last closed hour 2026-11-24 08:30 IST to 2026-11-24 09:30 IST" in app.error[0].value


def test_a_site_wide_alert_alone_is_not_a_healthy_line(engine, db_url, monkeypatch) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (fingerprint, rule, station_id, severity, status, "
                "started_at, summary) VALUES ('latency:site', 'latency', NULL, 'warning', "
                "'firing', '2026-11-24T03:00Z', 'site: p95 latency 161 ms over the budget')"
            )
        )
    point_app_at(monkeypatch, db_url)
    app = open_page()
    assert not app.exception
    assert app.error[0].value.startswith("### Attention: site")
    assert any("warning · latency · site" in t for t in markdown(app))


def test_an_empty_database_says_how_to_get_data(db_url, monkeypatch) -> None:
    point_app_at(monkeypatch, db_url)
    app = open_page()
    assert not app.exception
    assert [info.value for info in app.info] == [EMPTY]


@pytest.mark.parametrize("page", [None, "views/alerts.py"])
def test_an_unreachable_database_shows_one_line_not_a_stack_trace(page, monkeypatch) -> None:
    point_app_at(monkeypatch, "postgresql://beltwatch:hunter2@127.0.0.1:1/beltwatch")
    app = open_page(page)
    assert not app.exception
    (error,) = app.error
    assert error.value.startswith(UNREACHABLE)
    assert "127.0.0.1:1" in error.value and "hunter2" not in error.value


def test_reads_are_cached_for_the_refresh_interval_then_read_again(
    engine, db_url, monkeypatch
) -> None:
    point_app_at(monkeypatch, db_url, dashboard_refresh_s="5")
    app = open_page()
    assert [info.value for info in app.info] == [EMPTY]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (fingerprint, rule, station_id, severity, status, "
                "started_at, summary) VALUES ('no_data:S7', 'no_data', 'S7', 'critical', "
                "'firing', '2026-11-24T03:00Z', 'S7 sent nothing')"
            )
        )
    app.run()
    assert [info.value for info in app.info] == [EMPTY]  # within the interval: the cache
    time.sleep(5.5)
    app.run()
    assert not app.info
    assert app.error[0].value.startswith("### Attention: S7")
