"""Helpers for the hourly monitor's database tests: write traffic through the prediction
log, set references, and read back alert episodes and the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.core.db.models import Alert, Notification
from monitor.core.settings import Settings
from monitor.predlog import PredictionLog
from monitor.predlog.records import PredictionRecord
from monitor.reference import build_reference

DAY1 = datetime(2026, 11, 23, tzinfo=UTC)  # the known-good reference day
DAY2 = DAY1 + timedelta(days=1)  # the day under test
STATIONS = ["S0", "S1", "S2", "S3"]
PER_HOUR = 300


def write(db_url, settings: Settings, records: Iterable[PredictionRecord]) -> None:
    """Write records the way the worker does (through the prediction log)."""
    with PredictionLog(db_url, settings) as plog:
        for record in records:
            plog.log(record)


def set_baselines(engine: Engine, settings: Settings, stations=STATIONS) -> None:
    """Each station's reference from day 1."""
    with engine.begin() as conn:
        for station in stations:
            build_reference(conn, station, DAY1, DAY2, sample_size=settings.reference_sample_size)


def episodes(engine: Engine) -> list[Alert]:
    with Session(engine) as session:
        return list(session.scalars(select(Alert).order_by(Alert.started_at, Alert.fingerprint)))


def outbox(engine: Engine) -> list[tuple[str, str, datetime]]:
    """(fingerprint, event, hour) of every queued notification, in hour order."""
    with Session(engine) as session:
        rows = session.execute(
            select(Alert.fingerprint, Notification.event, Notification.hour)
            .join(Alert, Alert.id == Notification.alert_id)
            .order_by(Notification.hour, Alert.fingerprint)
        )
        return [tuple(row) for row in rows]


def started(engine: Engine, fingerprint: str, day: datetime = DAY2) -> list[tuple[int, int | None]]:
    """(start hour, resolve hour) index pairs of the fingerprint's episodes from `day` on."""
    out = []
    for alert in episodes(engine):
        if alert.fingerprint == fingerprint:
            end = (
                None
                if alert.resolved_at is None
                else (alert.resolved_at - day) // timedelta(hours=1)
            )
            out.append(((alert.started_at - day) // timedelta(hours=1), end))
    return out
