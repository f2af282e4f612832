"""The `notifications` table: the outbox the alert manager fills and the dispatcher drains.

A row is claimed with `FOR UPDATE SKIP LOCKED` inside the caller's transaction, so any
number of dispatchers can drain at once and none sends a row another holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, text
from sqlalchemy.dialects.postgresql import insert

from monitor.core.db.models import Notification

_CLAIM = text(
    "SELECT id, alert_id, channel, event, payload, attempts, created_at FROM notifications "
    "WHERE status = 'pending' AND next_attempt_at <= :now "
    "ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
)


def queue_notification(
    conn: Connection,
    alert_id: int,
    channel: str,
    event: str,
    hour: datetime,
    payload: dict[str, Any],
) -> None:
    """Queue one message; queuing the same (alert, channel, event, hour) again does nothing,
    so re-running an hour sends nothing twice."""
    conn.execute(
        insert(Notification)
        .values(alert_id=alert_id, channel=channel, event=event, hour=hour, payload=payload)
        .on_conflict_do_nothing(index_elements=["alert_id", "channel", "event", "hour"])
    )


def claim_next_due(conn: Connection, now: datetime) -> RowMapping | None:
    """The oldest pending row due by `now` that no other transaction holds, locked."""
    return conn.execute(_CLAIM, {"now": now}).mappings().one_or_none()


def mark_delivered(conn: Connection, notification_id: int, attempts: int, at: datetime) -> None:
    """The receiver took it: done, and any earlier error cleared."""
    conn.execute(
        text(
            "UPDATE notifications SET status = 'delivered', delivered_at = :at, "
            "attempts = :attempts, last_error = NULL WHERE id = :id"
        ),
        {"at": at, "attempts": attempts, "id": notification_id},
    )


def schedule_retry(
    conn: Connection, notification_id: int, attempts: int, error: str, next_at: datetime
) -> None:
    """Still pending: try again at `next_at`, keeping the error for the dashboard."""
    conn.execute(
        text(
            "UPDATE notifications SET attempts = :attempts, last_error = :error, "
            "next_attempt_at = :next WHERE id = :id"
        ),
        {"attempts": attempts, "error": error, "next": next_at, "id": notification_id},
    )


def mark_failed(conn: Connection, notification_id: int, attempts: int, error: str) -> None:
    """Given up for good, with the reason (the dashboard lists failed rows)."""
    conn.execute(
        text(
            "UPDATE notifications SET status = 'failed', attempts = :attempts, "
            "last_error = :error WHERE id = :id"
        ),
        {"attempts": attempts, "error": error, "id": notification_id},
    )


def deliveries_of(conn: Connection, alert_ids: Sequence[int]) -> list[RowMapping]:
    """The notifications of these alerts, oldest first: alert_id, channel, event, hour,
    status, attempts, next_attempt_at, delivered_at, last_error, created_at."""
    if not alert_ids:
        return []
    return list(
        conn.execute(
            text(
                "SELECT id, alert_id, channel, event, hour, status, attempts, next_attempt_at, "
                "delivered_at, last_error, created_at FROM notifications "
                "WHERE alert_id = ANY(:ids) ORDER BY created_at, id"
            ),
            {"ids": list(alert_ids)},
        ).mappings()
    )
