"""The `silences` table: maintenance windows that hold notifications back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from monitor.core.db.models import Silence

_SILENCES = Silence.__table__


def active_silences(conn: Connection, at: datetime) -> list[Row]:
    """Silences whose window holds `at`."""
    return list(
        conn.execute(select(_SILENCES).where(_SILENCES.c.starts_at <= at, _SILENCES.c.ends_at > at))
    )


def silences_not_over(conn: Connection, now: datetime) -> list[Row]:
    """Silences active at `now` or still to come, earliest start first."""
    return list(
        conn.execute(
            select(_SILENCES)
            .where(_SILENCES.c.ends_at > now)
            .order_by(_SILENCES.c.starts_at, _SILENCES.c.id)
        )
    )


def every_silence(conn: Connection) -> list[Row]:
    """Every silence ever recorded, ended ones included, earliest start first."""
    return list(conn.execute(select(_SILENCES).order_by(_SILENCES.c.starts_at, _SILENCES.c.id)))


def silence_for_update(conn: Connection, silence_id: int) -> Row | None:
    """One silence by id, locked until the transaction ends (so ending it cannot race
    another end); None when there is no such silence."""
    return conn.execute(
        select(_SILENCES).where(_SILENCES.c.id == silence_id).with_for_update()
    ).one_or_none()


def add_silence(
    conn: Connection,
    *,
    rule: str | None,
    station_id: str | None,
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
) -> int:
    """Record a silence (rule and station are shell patterns; None matches any); its id."""
    return conn.execute(
        insert(Silence)
        .values(
            rule=rule,
            station_id=station_id,
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
        )
        .returning(Silence.id)
    ).scalar_one()


def end_silence(conn: Connection, silence_id: int, *, at: datetime, ended_by: str) -> bool:
    """End a silence at `at`, noting who ended it in its comment; one still to come is
    deleted (its window cannot end before it starts). False: no such silence not over."""
    over = conn.execute(
        delete(Silence)
        .where(Silence.id == silence_id, Silence.starts_at >= at)
        .returning(Silence.id)
    ).scalar_one_or_none()
    if over is not None:
        return True
    ended = conn.execute(
        update(Silence)
        .where(Silence.id == silence_id, Silence.ends_at > at)
        .values(
            ends_at=at,
            comment=func.concat(Silence.comment, f" [ended by {ended_by}]"),
        )
        .returning(Silence.id)
    ).scalar_one_or_none()
    return ended is not None
