"""The alert manager: rule results -> alert episodes -> rows in the notification outbox.

- A firing fingerprint (rule + station) with no open episode opens one and queues a
  `trigger`; still firing, it queues a `repeat` every `repeat_interval_hours`; ok for
  `resolve_after_ok_hours` hours in a row, it resolves and queues a `resolve`.
- Silences suppress notifications, not evaluation: the episode is kept up to date, and a
  trigger held back by a silence goes out when the silence ends if it is still firing.
  A resolve is sent whenever the trigger was, so paging tools close their incidents.
- "skipped" results (too little data) change nothing.
- Applying an hour again changes nothing: episodes remember the last hour they took in
  and only move forward, the outbox is unique on (alert, channel, event, hour), and at
  most one episode per fingerprint can be open (a partial unique index), whatever
  replicas race.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from monitor.core.db.models import Alert, Notification, Silence
from monitor.core.settings import Settings
from monitor.rules.base import RuleResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """What applying one result did (for logs, the CLI and tests)."""

    fingerprint: str
    alert_id: int
    event: str | None  # "trigger", "repeat", "resolve" or None (updated, nothing sent)
    silenced: bool = False


def active_silences(conn: Connection, at: datetime) -> list[Row]:
    table = Silence.__table__
    return list(conn.execute(select(table).where(table.c.starts_at <= at, table.c.ends_at > at)))


def silenced(silences: list[Row], rule: str, station_id: str | None) -> bool:
    return any(
        (s.rule is None or s.rule == rule) and (s.station_id is None or s.station_id == station_id)
        for s in silences
    )


def apply_results(
    conn: Connection, hour: datetime, results: list[RuleResult], settings: Settings
) -> list[Change]:
    """Update episodes from one hour's results and queue their notifications."""
    evaluated_at = hour + timedelta(hours=1)  # the results speak for the hour just closed
    silences = active_silences(conn, evaluated_at)
    fingerprints = [r.fingerprint for r in results if r.state != "skipped"]
    table = Alert.__table__
    open_alerts = {
        alert.fingerprint: alert
        for alert in conn.execute(
            select(table)
            .where(table.c.status == "firing", table.c.fingerprint.in_(fingerprints))
            .with_for_update()
        )
    }
    # Episodes only move forward in time: a fingerprint that has taken in this hour or a
    # later one (re-running a past hour, a replica racing) is left alone.
    latest = dict(
        conn.execute(
            select(table.c.fingerprint, func.max(table.c.last_evaluated_at))
            .where(table.c.fingerprint.in_(fingerprints))
            .group_by(table.c.fingerprint)
        ).all()
    )
    changes = []
    for result in results:
        if result.state == "skipped":
            continue
        seen = latest.get(result.fingerprint)
        if seen is not None and seen >= hour:
            continue
        alert = open_alerts.get(result.fingerprint)
        quiet = silenced(silences, result.rule, result.station_id)
        if result.firing:
            change = _firing(conn, hour, result, alert, quiet, settings)
        elif alert is not None:
            change = _ok(conn, hour, alert, quiet, settings)
        else:
            continue
        if change is not None:
            changes.append(change)
    return changes


def _firing(
    conn: Connection,
    hour: datetime,
    result: RuleResult,
    alert: Row | None,
    quiet: bool,
    settings: Settings,
) -> Change | None:
    if alert is None:
        inserted = conn.execute(
            insert(Alert)
            .values(
                fingerprint=result.fingerprint,
                rule=result.rule,
                station_id=result.station_id,
                severity=result.severity,
                status="firing",
                started_at=hour,
                last_evaluated_at=hour,
                last_notified_at=None if quiet else hour,
                ok_hours=0,
                summary=result.summary,
                evidence=result.evidence,
            )
            .on_conflict_do_nothing(
                index_elements=["fingerprint"], index_where=text("status = 'firing'")
            )
            .returning(Alert.id)
        ).scalar_one_or_none()
        if inserted is None:  # another replica opened it a moment ago
            return None
        log.warning("alert firing: %s", result.summary)
        if quiet:
            return Change(result.fingerprint, inserted, None, silenced=True)
        _queue(conn, inserted, "trigger", hour, result, settings)
        return Change(result.fingerprint, inserted, "trigger")

    event = None
    if not quiet:
        if alert.last_notified_at is None:
            event = "trigger"  # held back by a silence that has ended
        elif hour - alert.last_notified_at >= timedelta(hours=settings.repeat_interval_hours):
            event = "repeat"
    conn.execute(
        update(Alert)
        .where(Alert.id == alert.id)
        .values(
            severity=result.severity,
            summary=result.summary,
            evidence=result.evidence,
            last_evaluated_at=hour,
            ok_hours=0,
            ok_since=None,
            **({"last_notified_at": hour} if event else {}),
        )
    )
    if event:
        _queue(conn, alert.id, event, hour, result, settings, started_at=alert.started_at)
    return Change(result.fingerprint, alert.id, event, silenced=quiet)


def _ok(conn: Connection, hour: datetime, alert: Alert, quiet: bool, settings: Settings) -> Change:
    ok_hours = alert.ok_hours + 1
    ok_since = alert.ok_since if alert.ok_hours and alert.ok_since else hour
    values: dict[str, Any] = {"ok_hours": ok_hours, "ok_since": ok_since, "last_evaluated_at": hour}
    event = None
    if ok_hours >= settings.resolve_after_ok_hours:
        # The fault ended when the first of the ok hours began (hours too thin to judge,
        # "skipped", may lie between: they neither break nor extend the run).
        values |= {"status": "resolved", "resolved_at": ok_since}
        if alert.last_notified_at is not None:
            event = "resolve"
        log.warning("alert resolved: %s", alert.fingerprint)
    conn.execute(update(Alert).where(Alert.id == alert.id).values(**values))
    if event:
        result = RuleResult(
            rule=alert.rule,
            station_id=alert.station_id,
            state="ok",
            severity=alert.severity,  # type: ignore[arg-type]
            summary=alert.summary,
            evidence=alert.evidence,
        )
        _queue(
            conn,
            alert.id,
            event,
            hour,
            result,
            settings,
            started_at=alert.started_at,
            resolved_at=values["resolved_at"],
        )
    return Change(alert.fingerprint, alert.id, event, silenced=quiet)


def _queue(
    conn: Connection,
    alert_id: int,
    event: str,
    hour: datetime,
    result: RuleResult,
    settings: Settings,
    *,
    started_at: datetime | None = None,
    resolved_at: datetime | None = None,
) -> None:
    payload = {
        "alert_id": alert_id,
        "fingerprint": result.fingerprint,
        "rule": result.rule,
        "station_id": result.station_id,
        "severity": result.severity,
        "event": event,
        "status": "resolved" if event == "resolve" else "firing",
        "summary": result.summary,
        "evidence": result.evidence,
        "hour": hour.isoformat(),
        "started_at": (started_at or hour).isoformat(),
        "resolved_at": resolved_at.isoformat() if resolved_at else None,
    }
    for channel in settings.channels_for(result.rule, result.severity, result.station_id, event):
        conn.execute(
            insert(Notification)
            .values(alert_id=alert_id, channel=channel, event=event, hour=hour, payload=payload)
            .on_conflict_do_nothing(index_elements=["alert_id", "channel", "event", "hour"])
        )
