"""The stations: known from their first prediction (as the hourly rollups saw it), and
retired on purpose (`station_retirements`).

A station has no table of its own: it exists from the first hour it sent a frame. That
hour decides whether an older hour, processed again, may expect frames from it at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, RowMapping, delete, select, text
from sqlalchemy.dialects.postgresql import insert

from monitor.core.db.models import StationRetirement


def first_seen(conn: Connection) -> dict[str, datetime]:
    """station -> the first hour it sent anything (rolled up hours only)."""
    rows = conn.execute(
        text(
            "SELECT station_id, min(hour) FROM hourly_rollups "
            "WHERE station_id IS NOT NULL AND model_version IS NULL AND n_total > 0 "
            "GROUP BY station_id"
        )
    ).all()
    return {station: hour for station, hour in rows}


def known(conn: Connection, recent: datetime) -> set[str]:
    """Every station the database knows: rolled up, with a reference profile, or in the
    predictions captured since `recent` (not rolled up yet)."""
    return set(
        conn.execute(
            text(
                "SELECT station_id FROM hourly_rollups WHERE station_id IS NOT NULL "
                "UNION SELECT station_id FROM reference_profiles "
                "UNION SELECT DISTINCT station_id FROM predictions WHERE captured_at >= :recent"
            ),
            {"recent": recent},
        ).scalars()
    )


def last_seen(conn: Connection, stations: Iterable[str], until: datetime) -> dict[str, datetime]:
    """station -> the last hour at or before `until` it sent anything (absent: never)."""
    wanted = sorted(set(stations))
    if not wanted:
        return {}
    rows = conn.execute(
        text(
            "SELECT station_id, max(hour) FROM hourly_rollups "
            "WHERE station_id = ANY(:stations) AND model_version IS NULL AND n_total > 0 "
            "AND hour <= :until GROUP BY station_id"
        ),
        {"stations": wanted, "until": until},
    ).all()
    return {station: hour for station, hour in rows}


def retirements(conn: Connection) -> dict[str, RowMapping]:
    """station -> its retirement row (retired_at, retired_by, comment)."""
    rows = conn.execute(select(StationRetirement.__table__)).mappings()
    return {row["station_id"]: row for row in rows}


def retire(conn: Connection, station: str, at: datetime, by: str, comment: str = "") -> bool:
    """Retire a station from `at`; False when it already was (the first retirement holds)."""
    inserted = conn.execute(
        insert(StationRetirement)
        .values(station_id=station, retired_at=at, retired_by=by, comment=comment)
        .on_conflict_do_nothing(index_elements=["station_id"])
        .returning(StationRetirement.station_id)
    ).first()
    return inserted is not None


def unretire(conn: Connection, station: str) -> bool:
    """Expect the station again; False when it was not retired."""
    deleted = conn.execute(
        delete(StationRetirement)
        .where(StationRetirement.station_id == station)
        .returning(StationRetirement.station_id)
    ).first()
    return deleted is not None


def station_table(conn: Connection) -> list[RowMapping]:
    """Every known station: first and last hour with frames, frames in all, and its
    retirement (NULLs: in service), by station id."""
    return list(
        conn.execute(
            text(
                "SELECT coalesce(s.station_id, r.station_id) AS station_id, s.first_hour, "
                "s.last_hour, s.frames, r.retired_at, r.retired_by, r.comment FROM ("
                "  SELECT station_id, min(hour) AS first_hour, max(hour) AS last_hour, "
                "  sum(n_total) AS frames FROM hourly_rollups "
                "  WHERE station_id IS NOT NULL AND model_version IS NULL AND n_total > 0 "
                "  GROUP BY station_id) s "
                "FULL JOIN station_retirements r ON r.station_id = s.station_id "
                "ORDER BY coalesce(s.station_id, r.station_id)"
            )
        ).mappings()
    )
