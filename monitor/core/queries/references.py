"""`reference_profiles`: one stored profile per station (a known-good window).

Rows come back as plain dicts; monitor/reference.py turns them into the rules' Reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert

from monitor.core.db.models import ReferenceProfile


def save_profile(conn: Connection, profile: Mapping[str, Any]) -> None:
    """Store the station's profile, replacing any it had (created_at: now)."""
    statement = insert(ReferenceProfile).values(**profile)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["station_id"],
            set_={key: statement.excluded[key] for key in profile if key != "station_id"}
            | {"created_at": text("now()")},
        )
    )


def profile(conn: Connection, station: str) -> dict[str, Any] | None:
    """The station's stored profile, or None."""
    row = (
        conn.execute(
            text("SELECT * FROM reference_profiles WHERE station_id = :station"),
            {"station": station},
        )
        .mappings()
        .one_or_none()
    )
    return dict(row) if row is not None else None


def all_profiles(conn: Connection) -> list[dict[str, Any]]:
    """Every stored profile, by station id."""
    rows = conn.execute(text("SELECT * FROM reference_profiles ORDER BY station_id")).mappings()
    return [dict(row) for row in rows]


def reference_bands(conn: Connection) -> dict[str, dict[str, Any]]:
    """station -> its profile without the sample (what a summary needs, not the bulk):
    window_start, window_end, provisional, n_predictions, quantiles, hourly_spread,
    baseline_critical_rate, created_at, set_by."""
    rows = conn.execute(
        text(
            "SELECT station_id, window_start, window_end, provisional, n_predictions, "
            "quantiles, hourly_spread, baseline_critical_rate, created_at, set_by "
            "FROM reference_profiles"
        )
    ).mappings()
    return {row["station_id"]: dict(row) for row in rows}
