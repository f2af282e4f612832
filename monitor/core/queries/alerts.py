"""The `alerts` table: alert episodes (one row per firing-to-resolved run of a fingerprint)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from monitor.core.db.models import Alert

_ALERTS = Alert.__table__


def open_episodes_locked(conn: Connection, fingerprints: Sequence[str]) -> dict[str, Row]:
    """fingerprint -> its firing episode, row-locked until the transaction ends (so two
    replicas cannot move one episode at once)."""
    rows = conn.execute(
        select(_ALERTS)
        .where(_ALERTS.c.status == "firing", _ALERTS.c.fingerprint.in_(fingerprints))
        .with_for_update()
    )
    return {row.fingerprint: row for row in rows}


def last_hours_taken_in(conn: Connection, fingerprints: Sequence[str]) -> dict[str, datetime]:
    """fingerprint -> the latest hour any of its episodes took in (absent: never)."""
    rows = conn.execute(
        select(_ALERTS.c.fingerprint, func.max(_ALERTS.c.last_evaluated_at))
        .where(_ALERTS.c.fingerprint.in_(fingerprints))
        .group_by(_ALERTS.c.fingerprint)
    )
    return {fingerprint: hour for fingerprint, hour in rows if hour is not None}


def open_episode(conn: Connection, **values: Any) -> int | None:
    """Insert a firing episode; None when another replica opened one a moment ago (at most
    one firing episode per fingerprint: a partial unique index)."""
    return conn.execute(
        insert(Alert)
        .values(status="firing", **values)
        .on_conflict_do_nothing(
            index_elements=["fingerprint"], index_where=text("status = 'firing'")
        )
        .returning(Alert.id)
    ).scalar_one_or_none()


def update_episode(conn: Connection, alert_id: int, **values: Any) -> None:
    """Write an episode's new fields (as `monitor.alerts.decide` decided them)."""
    conn.execute(update(Alert).where(Alert.id == alert_id).values(**values))
