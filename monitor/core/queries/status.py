"""The reads `beltwatch status` makes that no other question asked: the last prediction of
each station, its predictions per hour of the last few hours from the raw rows, and the
hours the monitor failed.

Recent hours are counted from `predictions`, not `hourly_rollups`: a rollup exists only
once the monitor processed its hour, and a monitor that is behind must not make a busy
station look silent. The range is a few hours, so the count stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, text

from monitor.core.vocabulary import CLASSES


def hourly_counts(
    conn: Connection, since: datetime, until: datetime | None = None
) -> dict[str, dict[datetime, dict[str, int]]]:
    """station -> UTC hour start -> {"n_total", "n_<class>"} of the predictions captured in
    [since, until) (no upper end when `until` is None); hours without any are absent."""
    per_class = ", ".join(
        f"count(*) FILTER (WHERE predicted_class = '{cls}') AS n_{cls}" for cls in CLASSES
    )
    rows = conn.execute(
        text(
            "SELECT station_id, date_trunc('hour', captured_at, 'UTC') AS hour, "
            f"count(*) AS n_total, {per_class} FROM predictions "
            "WHERE captured_at >= :since "
            "AND (CAST(:until AS timestamptz) IS NULL OR captured_at < :until) "
            "GROUP BY 1, 2"
        ),
        {"since": since, "until": until},
    ).mappings()
    counts: dict[str, dict[datetime, dict[str, int]]] = {}
    for row in rows:
        entry: dict[str, Any] = {"n_total": int(row["n_total"])}
        entry.update({f"n_{cls}": int(row[f"n_{cls}"]) for cls in CLASSES})
        counts.setdefault(row["station_id"], {})[row["hour"]] = entry
    return counts


def last_predictions(conn: Connection, stations: Iterable[str]) -> dict[str, datetime]:
    """station -> the capture time of its newest stored prediction (absent: none kept)."""
    wanted = sorted(set(stations))
    if not wanted:
        return {}
    # One index probe per station (and partition): (station_id, captured_at) is indexed.
    rows = conn.execute(
        text(
            "SELECT s.station_id, (SELECT max(p.captured_at) FROM predictions p "
            "WHERE p.station_id = s.station_id) "
            "FROM unnest(CAST(:stations AS text[])) AS s(station_id)"
        ),
        {"stations": wanted},
    ).all()
    return {station: last for station, last in rows if last is not None}


def failed_runs(conn: Connection, since: datetime) -> list[RowMapping]:
    """The hours from `since` on whose last run failed, newest first: hour, attempts,
    finished_at, error (the monitor retries them on its next run)."""
    return list(
        conn.execute(
            text(
                "SELECT hour, attempts, finished_at, error FROM monitor_runs "
                "WHERE status = 'failed' AND hour >= :since ORDER BY hour DESC"
            ),
            {"since": since},
        ).mappings()
    )
