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

# Per alert and channel, messages go out in the order they were queued (ids grow with
# it): a row waits while an earlier one of its alert and channel is pending, so a resolve
# never overtakes its trigger (a receiver would open an incident nothing ever closes). An
# earlier row locked by another dispatcher is still pending, so the wait holds across
# dispatchers; once it is delivered, or failed for good, the next one goes.
_CLAIM = text(
    "SELECT n.id, n.alert_id, n.channel, n.event, n.payload, n.attempts, n.created_at "
    "FROM notifications n "
    "WHERE n.status = 'pending' AND n.next_attempt_at <= :now "
    "AND NOT EXISTS (SELECT 1 FROM notifications e WHERE e.alert_id = n.alert_id "
    "AND e.channel = n.channel AND e.status = 'pending' AND e.id < n.id) "
    "ORDER BY n.next_attempt_at, n.id LIMIT 1 FOR UPDATE OF n SKIP LOCKED"
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


def triggered_channels(conn: Connection, alert_id: int) -> set[str]:
    """The channels a trigger of this alert was ever queued on (whatever its state now)."""
    return set(
        conn.execute(
            text(
                "SELECT DISTINCT channel FROM notifications "
                "WHERE alert_id = :id AND event = 'trigger'"
            ),
            {"id": alert_id},
        ).scalars()
    )


def claim_next_due(conn: Connection, now: datetime) -> RowMapping | None:
    """The oldest pending row due by `now` that no other transaction holds and that no
    earlier pending row of the same alert and channel waits before, locked."""
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


def pause_channel(conn: Connection, channel: str, until: datetime) -> int:
    """Hold every pending row of `channel` until `until` (a receiver's rate limit applies
    to the channel, not to one message); rows another dispatcher holds are skipped, as
    they are being attempted now. Returns how many rows moved."""
    return conn.execute(
        text(
            "UPDATE notifications SET next_attempt_at = :until WHERE id IN ("
            "SELECT id FROM notifications WHERE channel = :channel AND status = 'pending' "
            "AND next_attempt_at < :until FOR UPDATE SKIP LOCKED)"
        ),
        {"channel": channel, "until": until},
    ).rowcount


def mark_failed(conn: Connection, notification_id: int, attempts: int, error: str) -> None:
    """Given up for good, with the reason (the dashboard lists failed rows)."""
    conn.execute(
        text(
            "UPDATE notifications SET status = 'failed', attempts = :attempts, "
            "last_error = :error WHERE id = :id"
        ),
        {"attempts": attempts, "error": error, "id": notification_id},
    )


def installation_id(conn: Connection) -> str:
    """This installation's random id (hex), made by the migrations; message ids carry it."""
    found = conn.execute(text("SELECT id FROM installation ORDER BY created_at LIMIT 1")).scalar()
    if found is None:  # a table emptied by hand: make a new id rather than fail delivery
        found = conn.execute(text("INSERT INTO installation DEFAULT VALUES RETURNING id")).scalar()
    return found.hex


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


def undelivered(conn: Connection, *, limit: int = 200) -> list[RowMapping]:
    """Pending and failed rows with their alert's rule and station, newest first: id,
    alert_id, rule, station_id, channel, event, status, attempts, next_attempt_at,
    last_error, created_at."""
    return list(
        conn.execute(
            text(
                "SELECT n.id, n.alert_id, a.rule, a.station_id, n.channel, n.event, n.status, "
                "n.attempts, n.next_attempt_at, n.last_error, n.created_at "
                "FROM notifications n JOIN alerts a ON a.id = n.alert_id "
                "WHERE n.status IN ('pending', 'failed') ORDER BY n.created_at DESC, n.id DESC "
                "LIMIT :limit"
            ),
            {"limit": limit},
        ).mappings()
    )


def outbox_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """(status, channel) -> rows of the outbox (pending, delivered, failed)."""
    rows = conn.execute(
        text("SELECT status, channel, count(*) FROM notifications GROUP BY status, channel")
    ).all()
    return {(status, channel): int(n) for status, channel, n in rows}
