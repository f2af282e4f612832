"""hourly_rollups (monitor/core/queries/rollups.py): one aggregate per hour, idempotent,
and the questions the monitor and the dashboard ask of it."""

from __future__ import annotations

from datetime import timedelta

from daygen import traffic
from hourly_support import DAY2, write
from sqlalchemy import text

from monitor.core.queries import rollups
from monitor.core.queries.rollups import SITE


def _write_hours(engine, first, hours: int) -> None:
    with engine.begin() as conn:
        for i in range(hours):
            rollups.write_hour(conn, first + timedelta(hours=i))


def test_an_hour_has_a_row_per_station_and_version_per_station_and_for_the_site(
    db_url, engine, settings
) -> None:
    write(db_url, settings, traffic(["S0", "S1"], DAY2, 1, 100, seed=1))
    with engine.begin() as conn:
        written = rollups.write_hour(conn, DAY2)
        again = rollups.write_hour(conn, DAY2)  # replaces, never adds
        rows = rollups.hour_rows(conn, DAY2)
        count = conn.execute(text("SELECT count(*) FROM hourly_rollups")).scalar_one()
    assert written == again == count == 5  # 2 x (station, version) + 2 stations + the site
    assert set(rows) == {"S0", "S1", SITE}
    site = rows[SITE]
    assert site["n_total"] == 200
    assert site["n_undamaged"] + site["n_minor"] + site["n_critical"] == 200
    assert site["latency_p95"] > site["latency_p50"] > 0


def test_an_hour_without_traffic_has_no_rows(engine) -> None:
    with engine.begin() as conn:
        assert rollups.write_hour(conn, DAY2) == 0
        assert rollups.hour_rows(conn, DAY2) == {}


def test_station_history_gives_earlier_hours_oldest_first_with_their_medians(
    db_url, engine, settings
) -> None:
    write(db_url, settings, traffic(["S0", "S1"], DAY2, 4, 60, seed=2))
    _write_hours(engine, DAY2, 4)
    with engine.connect() as conn:
        history = rollups.station_history(conn, DAY2 + timedelta(hours=3), ["S0"], hours=2)
    assert list(history) == ["S0"]  # only the stations asked for
    hours = [entry["hour"] for entry in history["S0"]]
    assert hours == [DAY2 + timedelta(hours=1), DAY2 + timedelta(hours=2)]
    assert history["S0"][0]["n_total"] == 60
    assert set(rollups.MEDIAN_COLUMNS) <= set(history["S0"][0])


def test_hourly_volumes_and_first_hours(db_url, engine, settings) -> None:
    write(db_url, settings, traffic(["S0"], DAY2 + timedelta(hours=2), 3, 50, seed=3))
    _write_hours(engine, DAY2, 6)
    with engine.connect() as conn:
        volumes = rollups.hourly_volumes(conn, DAY2, DAY2 + timedelta(hours=4))
        first = rollups.first_hours(conn, "S0", 2)
        all_first = rollups.first_hours(conn, "S0", 10)
    expected = {DAY2 + timedelta(hours=h): 50 for h in (2, 3)}
    assert volumes == {"S0": expected, SITE: expected}
    assert first == [DAY2 + timedelta(hours=2), DAY2 + timedelta(hours=3)]
    assert len(all_first) == 3  # fewer hours than asked: all it has
