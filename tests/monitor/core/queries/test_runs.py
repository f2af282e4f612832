"""monitor_runs (monitor/core/queries/runs.py): running -> done or failed, attempts
counted, and which hours are done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from monitor.core.queries import runs

H0 = datetime(2026, 11, 24, tzinfo=UTC)


def test_an_hour_goes_running_then_done(engine) -> None:
    with engine.begin() as conn:
        runs.mark_running(conn, H0)
        assert runs.run_states(conn, H0, H0) == {H0: "running"}
        assert runs.done_hours(conn) == set()
        runs.mark_done(conn, H0)
        assert runs.run_states(conn, H0, H0) == {H0: "done"}
        assert runs.done_hours(conn) == {H0}


def test_a_failed_hour_keeps_its_error_until_it_is_tried_again(engine) -> None:
    with engine.begin() as conn:
        runs.mark_running(conn, H0)
        runs.mark_failed(conn, H0, "UndefinedTable: hourly_rollups")
        row = conn.execute(text("SELECT status, error, attempts FROM monitor_runs")).one()
        assert tuple(row) == ("failed", "UndefinedTable: hourly_rollups", 1)
        runs.mark_running(conn, H0)  # the retry
        row = conn.execute(text("SELECT status, error, attempts FROM monitor_runs")).one()
        assert tuple(row) == ("running", None, 2)


def test_done_hours_within_a_range_includes_both_ends(engine) -> None:
    hours = [H0 + timedelta(hours=h) for h in range(5)]
    with engine.begin() as conn:
        for hour in hours:
            runs.mark_running(conn, hour)
            runs.mark_done(conn, hour)
        assert runs.done_hours(conn, hours[1], hours[3]) == set(hours[1:4])
        assert runs.done_hours(conn, first=hours[3]) == set(hours[3:])
        assert runs.done_hours(conn, last=hours[0]) == {hours[0]}
