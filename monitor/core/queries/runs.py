"""`monitor_runs`: the processing state of each closed hour (running, done, failed).

Each write is its own short transaction on purpose: 'running' must be visible while the
hour's long transaction works, and 'failed' must survive that transaction's rollback.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text


def mark_running(conn: Connection, hour: datetime) -> None:
    """Record that the hour is being processed (once more, if it was tried before)."""
    conn.execute(
        text(
            "INSERT INTO monitor_runs (hour, status, started_at, attempts) "
            "VALUES (:hour, 'running', now(), 1) ON CONFLICT (hour) DO UPDATE SET "
            "status = 'running', started_at = now(), finished_at = NULL, error = NULL, "
            "attempts = monitor_runs.attempts + 1"
        ),
        {"hour": hour},
    )


def mark_done(conn: Connection, hour: datetime, rows_seen: int | None = None) -> None:
    """Record that the hour is done (in the hour's own transaction, so both land or
    neither), with the arrivals count it was processed with (`arrived_rows`)."""
    conn.execute(
        text(
            "UPDATE monitor_runs SET status = 'done', finished_at = now(), "
            "rows_seen = :rows_seen WHERE hour = :hour"
        ),
        {"hour": hour, "rows_seen": rows_seen},
    )


def arrived_rows(conn: Connection, hour: datetime) -> int:
    """Predictions of this capture hour stored so far (the log writer's ledger). Read it
    before the rollup: rows landing in between are then counted as late and processed
    again, never missed."""
    rows = conn.execute(
        text("SELECT rows FROM prediction_arrivals WHERE hour = :hour"), {"hour": hour}
    ).scalar_one_or_none()
    return int(rows or 0)


def late_hours(conn: Connection, first: datetime, last: datetime) -> set[datetime]:
    """Done hours in [first, last] that more predictions have reached since they were
    processed (a spool replayed after an outage, a directory backlog)."""
    return set(
        conn.execute(
            text(
                "SELECT r.hour FROM monitor_runs r JOIN prediction_arrivals a ON a.hour = r.hour "
                "WHERE r.status = 'done' AND r.hour >= :first AND r.hour <= :last "
                "AND a.rows > coalesce(r.rows_seen, 0)"
            ),
            {"first": first, "last": last},
        ).scalars()
    )


def mark_failed(conn: Connection, hour: datetime, error: str) -> None:
    """Record that the hour failed, with the error a person reads; the next run retries it."""
    conn.execute(
        text(
            "UPDATE monitor_runs SET status = 'failed', finished_at = now(), error = :error "
            "WHERE hour = :hour"
        ),
        {"hour": hour, "error": error},
    )


def done_hours(
    conn: Connection, first: datetime | None = None, last: datetime | None = None
) -> set[datetime]:
    """The hours marked done, within [first, last] where given (both ends included)."""
    return set(
        conn.execute(
            text(
                "SELECT hour FROM monitor_runs WHERE status = 'done' "
                "AND (CAST(:first AS timestamptz) IS NULL OR hour >= :first) "
                "AND (CAST(:last AS timestamptz) IS NULL OR hour <= :last)"
            ),
            {"first": first, "last": last},
        ).scalars()
    )


def run_states(conn: Connection, first: datetime, last: datetime) -> dict[datetime, str]:
    """hour -> status for the hours in [first, last] that were ever started."""
    rows = conn.execute(
        text("SELECT hour, status FROM monitor_runs WHERE hour >= :first AND hour <= :last"),
        {"first": first, "last": last},
    ).all()
    return {hour: status for hour, status in rows}


def last_done(conn: Connection) -> tuple[datetime | None, datetime | None]:
    """(the latest hour marked done, when an hour was last marked done): how far the monitor
    has watched, and how recently it worked (None, None before the first)."""
    row = conn.execute(
        text("SELECT max(hour), max(finished_at) FROM monitor_runs WHERE status = 'done'")
    ).one()
    return row[0], row[1]
