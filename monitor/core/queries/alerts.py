"""The `alerts` table: alert episodes (one row per firing-to-resolved run of a fingerprint)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, RowMapping, case, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from monitor.core.db.models import Alert
from monitor.core.vocabulary import SEVERITIES

_ALERTS = Alert.__table__
# How a filter and a list name the site's own alerts (station_id NULL).
SITE_LABEL = "(site)"


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


def firing_alerts(conn: Connection, *, hold: bool = False) -> list[RowMapping]:
    """Every firing episode, the most severe first, then the oldest. hold: share-lock them
    until the transaction ends, leaving out any another transaction is changing (a refresh
    must not re-announce an alert that is being resolved)."""
    severity_rank = case(
        {severity: rank for rank, severity in enumerate(SEVERITIES)},
        value=_ALERTS.c.severity,
        else_=len(SEVERITIES),
    )
    query = (
        select(_ALERTS)
        .where(_ALERTS.c.status == "firing")
        .order_by(severity_rank, _ALERTS.c.started_at, _ALERTS.c.id)
    )
    if hold:
        query = query.with_for_update(read=True, skip_locked=True)
    return list(conn.execute(query).mappings())


def alert_history(
    conn: Connection,
    *,
    since: datetime,
    until: datetime,
    rules: Sequence[str] = (),
    stations: Sequence[str] = (),
    severities: Sequence[str] = (),
    statuses: Sequence[str] = (),
    limit: int = 500,
) -> list[RowMapping]:
    """Episodes that started in [since, until), newest first, at most `limit`; an empty
    filter admits every value. A station filter of SITE_LABEL matches the site's alerts."""
    query = select(_ALERTS).where(_ALERTS.c.started_at >= since, _ALERTS.c.started_at < until)
    if rules:
        query = query.where(_ALERTS.c.rule.in_(rules))
    if stations:
        named = [s for s in stations if s != SITE_LABEL]
        match = _ALERTS.c.station_id.in_(named)
        query = query.where(
            or_(match, _ALERTS.c.station_id.is_(None)) if SITE_LABEL in stations else match
        )
    if severities:
        query = query.where(_ALERTS.c.severity.in_(severities))
    if statuses:
        query = query.where(_ALERTS.c.status.in_(statuses))
    order = query.order_by(_ALERTS.c.started_at.desc(), _ALERTS.c.id.desc()).limit(limit)
    return list(conn.execute(order).mappings())


def alert_rules_and_stations(conn: Connection) -> tuple[list[str], list[str]]:
    """The rules and the stations that have had an alert (sorted; the site as SITE_LABEL),
    for the choices of a filter."""
    rules = conn.execute(select(_ALERTS.c.rule).distinct().order_by(_ALERTS.c.rule)).scalars()
    stations = conn.execute(select(_ALERTS.c.station_id).distinct()).scalars()
    return list(rules), sorted(SITE_LABEL if s is None else s for s in stations)


def firing_counts(conn: Connection) -> dict[str, int]:
    """rule -> its firing episodes (rules with none are absent)."""
    rows = conn.execute(
        select(_ALERTS.c.rule, func.count())
        .where(_ALERTS.c.status == "firing")
        .group_by(_ALERTS.c.rule)
    ).all()
    return {rule: int(n) for rule, n in rows}


def station_episodes_between(
    conn: Connection, *, since: datetime, until: datetime, stations: Sequence[str] = ()
) -> list[RowMapping]:
    """The stations' episodes (every station's when `stations` is empty; never the site's)
    that were firing at some time in [since, until): started before `until`, not resolved
    by `since`; oldest first. Without their evidence: id, rule, station_id, severity,
    status, started_at, resolved_at, summary."""
    columns = ("id", "rule", "station_id", "severity", "status", "started_at", "resolved_at")
    query = select(*(_ALERTS.c[name] for name in (*columns, "summary"))).where(
        _ALERTS.c.station_id.is_not(None),
        _ALERTS.c.started_at < until,
        or_(_ALERTS.c.resolved_at.is_(None), _ALERTS.c.resolved_at > since),
    )
    if stations:
        query = query.where(_ALERTS.c.station_id.in_(stations))
    return list(conn.execute(query.order_by(_ALERTS.c.started_at, _ALERTS.c.id)).mappings())
