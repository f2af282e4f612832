"""The database schema as SQLAlchemy 2 typed models. Alembic migrations create it; the models
and the migrations are kept equal by a test (no pending autogenerate diff).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, REAL, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from monitor.core.vocabulary import ACTIONS, CLASSES, SEVERITIES

# Deterministic constraint names, so migrations can refer to them.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


Timestamp = DateTime(timezone=True)


class Prediction(Base):
    """One logged prediction with the statistics of the image it was made on.

    Range-partitioned by `captured_at`, one partition a UTC day (see db/partitions.py), so
    retention is a partition drop and an hour's queries touch one partition. The id is made
    by the client, so a replayed batch is recognised (the key must include the partition key).
    Statistics are REAL (4 bytes): millions of rows a day, and 7 significant digits is more
    than the measurements carry.
    """

    __tablename__ = "predictions"
    __table_args__ = (
        PrimaryKeyConstraint("id", "captured_at"),
        CheckConstraint(_in("predicted_class", CLASSES), name="predicted_class"),
        CheckConstraint(_in("action", ACTIONS), name="action"),
        # Hourly rules read one station's hour; the dashboard reads a station's trend.
        Index("ix_predictions_station_id_captured_at", "station_id", "captured_at"),
        # Site-wide hourly rollups scan a time range: BRIN is tiny for append-ordered times.
        Index("ix_predictions_captured_at_brin", "captured_at", postgresql_using="brin"),
        {"postgresql_partition_by": "RANGE (captured_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    captured_at: Mapped[datetime] = mapped_column(Timestamp)
    station_id: Mapped[str] = mapped_column(Text)
    parcel_id: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str] = mapped_column(Text)
    predicted_class: Mapped[str] = mapped_column(Text)
    p_undamaged: Mapped[float] = mapped_column(REAL)
    p_minor: Mapped[float] = mapped_column(REAL)
    p_critical: Mapped[float] = mapped_column(REAL)
    latency_ms: Mapped[float | None] = mapped_column(REAL)
    brightness: Mapped[float] = mapped_column(REAL)
    blur: Mapped[float] = mapped_column(REAL)
    sharpness: Mapped[float] = mapped_column(REAL)
    sharpness_tile_min: Mapped[float] = mapped_column(REAL)
    contrast: Mapped[float] = mapped_column(REAL)
    clipped_dark: Mapped[float] = mapped_column(REAL)
    clipped_bright: Mapped[float] = mapped_column(REAL)
    luma_p01: Mapped[float] = mapped_column(REAL)
    luma_p99: Mapped[float] = mapped_column(REAL)
    mean_r: Mapped[float] = mapped_column(REAL)
    mean_g: Mapped[float] = mapped_column(REAL)
    mean_b: Mapped[float] = mapped_column(REAL)
    action: Mapped[str] = mapped_column(Text)
    image_ref: Mapped[str | None] = mapped_column(Text)


class HourlyRollup(Base):
    """One closed hour of one station and model version, aggregated in SQL."""

    __tablename__ = "hourly_rollups"
    __table_args__ = (
        # NULL marks "all of them" (the station's row over its model versions, the site's
        # row over every station): no client value can collide with it, and NULLS NOT
        # DISTINCT keeps one row per (hour, station, model version) all the same.
        UniqueConstraint("hour", "station_id", "model_version", postgresql_nulls_not_distinct=True),
        Index("ix_hourly_rollups_station_id_hour", "station_id", "hour"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hour: Mapped[datetime] = mapped_column(Timestamp)
    station_id: Mapped[str | None] = mapped_column(Text)  # NULL: the whole site
    model_version: Mapped[str | None] = mapped_column(Text)  # NULL: all model versions
    n_total: Mapped[int] = mapped_column(Integer)
    n_undamaged: Mapped[int] = mapped_column(Integer)
    n_minor: Mapped[int] = mapped_column(Integer)
    n_critical: Mapped[int] = mapped_column(Integer)
    brightness_p05: Mapped[float | None] = mapped_column(Float)
    brightness_p50: Mapped[float | None] = mapped_column(Float)
    brightness_p95: Mapped[float | None] = mapped_column(Float)
    blur_p05: Mapped[float | None] = mapped_column(Float)
    blur_p50: Mapped[float | None] = mapped_column(Float)
    blur_p95: Mapped[float | None] = mapped_column(Float)
    sharpness_p05: Mapped[float | None] = mapped_column(Float)
    sharpness_p50: Mapped[float | None] = mapped_column(Float)
    sharpness_p95: Mapped[float | None] = mapped_column(Float)
    sharpness_tile_min_p50: Mapped[float | None] = mapped_column(Float)
    contrast_p50: Mapped[float | None] = mapped_column(Float)
    luma_p01_p50: Mapped[float | None] = mapped_column(Float)
    clipped_dark_mean: Mapped[float | None] = mapped_column(Float)
    clipped_bright_mean: Mapped[float | None] = mapped_column(Float)
    latency_p50: Mapped[float | None] = mapped_column(Float)
    latency_p95: Mapped[float | None] = mapped_column(Float)
    mean_confidence: Mapped[float | None] = mapped_column(Float)
    processed_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class ReferenceProfile(Base):
    """A station's known-good window: samples, quantiles, hour-to-hour spread, class mix."""

    __tablename__ = "reference_profiles"
    __table_args__ = (
        CheckConstraint("window_end > window_start", name="window"),
        CheckConstraint(
            "baseline_critical_rate >= 0 AND baseline_critical_rate <= 1", name="critical_rate"
        ),
    )

    station_id: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(Timestamp)
    window_end: Mapped[datetime] = mapped_column(Timestamp)
    provisional: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    n_predictions: Mapped[int] = mapped_column(BigInteger)
    # {"brightness": [...], "sharpness": [...], ...}: a bounded random sample per statistic.
    sample: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # {"brightness": {"p05": .., "p50": .., ...}, ...}
    quantiles: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Spread of the hourly medians within the window: {"brightness": {"mean":.., "sd":..}, ...}
    hourly_spread: Mapped[dict[str, Any]] = mapped_column(JSONB)
    class_mix: Mapped[dict[str, Any]] = mapped_column(JSONB)
    baseline_critical_rate: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    # Who set it (`baseline set --by`, the dashboard's Station page); NULL: the monitor's
    # provisional profile, or a profile stored before migration 0005.
    set_by: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    """One alert episode: from the hour a fingerprint starts firing to the hour it resolves."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(_in("status", ("firing", "resolved")), name="status"),
        CheckConstraint(_in("severity", SEVERITIES), name="severity"),
        # At most one open episode per fingerprint, whatever races happen between replicas.
        Index(
            "uq_alerts_fingerprint_firing",
            "fingerprint",
            unique=True,
            postgresql_where=text("status = 'firing'"),
        ),
        Index("ix_alerts_station_id_started_at", "station_id", "started_at"),
        Index("ix_alerts_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(Text)
    station_id: Mapped[str | None] = mapped_column(Text)  # NULL: the whole site
    severity: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_evaluated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_notified_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ok_hours: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ok_since: Mapped[datetime | None] = mapped_column(Timestamp)  # first hour of the ok run
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class Silence(Base):
    """A maintenance window: matching alerts are evaluated but not notified."""

    __tablename__ = "silences"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        Index("ix_silences_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule: Mapped[str | None] = mapped_column(Text)  # NULL matches every rule
    station_id: Mapped[str | None] = mapped_column(Text)  # NULL matches every station
    starts_at: Mapped[datetime] = mapped_column(Timestamp)
    ends_at: Mapped[datetime] = mapped_column(Timestamp)
    created_by: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text, server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class StationRetirement(Base):
    """A station taken out of service on purpose (`beltwatch station retire`): from
    `retired_at` on, its silence is no fault (no `no_data`) and its open alerts resolve."""

    __tablename__ = "station_retirements"

    station_id: Mapped[str] = mapped_column(Text, primary_key=True)
    retired_at: Mapped[datetime] = mapped_column(Timestamp)
    retired_by: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text, server_default=text("''"))


class Notification(Base):
    """An outbox entry: one message for one channel, delivered at most once by a dispatcher."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_in("event", ("trigger", "resolve", "repeat")), name="event"),
        CheckConstraint(_in("status", ("pending", "delivered", "failed")), name="status"),
        # The hour that produced it is part of the key: re-running an hour queues nothing new.
        UniqueConstraint("alert_id", "channel", "event", "hour"),
        Index(
            "ix_notifications_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(Text)
    hour: Mapped[datetime] = mapped_column(Timestamp)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_error: Mapped[str | None] = mapped_column(Text)


class Review(Base):
    """A person's label for a prediction.

    No foreign key to `predictions`: predictions expire with their partition, labels are kept.
    """

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("prediction_id"),
        CheckConstraint(_in("true_class", CLASSES), name="true_class"),
        Index("ix_reviews_captured_at", "captured_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    prediction_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    captured_at: Mapped[datetime] = mapped_column(Timestamp)
    true_class: Mapped[str] = mapped_column(Text)
    reviewer: Mapped[str] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    comment: Mapped[str | None] = mapped_column(Text)


class PredictionArrival(Base):
    """How many predictions of one capture hour have been stored so far. The log writer adds
    to it in the same transaction as the rows, so a snapshot that sees a count sees exactly
    those rows: the monitor compares it with what it processed to find late rows."""

    __tablename__ = "prediction_arrivals"

    hour: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)  # capture hour, UTC
    rows: Mapped[int] = mapped_column(BigInteger)
    last_arrival: Mapped[datetime] = mapped_column(Timestamp)


class MonitorRun(Base):
    """The processing state of one closed hour."""

    __tablename__ = "monitor_runs"
    __table_args__ = (CheckConstraint(_in("status", ("running", "done", "failed")), name="status"),)

    hour: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    status: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    error: Mapped[str | None] = mapped_column(Text)
    # prediction_arrivals.rows for the hour as the run saw it (NULL: before the ledger);
    # more rows there now means late rows arrived, and the hour is processed again.
    rows_seen: Mapped[int | None] = mapped_column(BigInteger)


class Installation(Base):
    """This installation's random id, made once by the migration: message ids that
    receivers deduplicate on (Standard Webhooks' webhook-id) carry it, so two sites posting
    to one receiver, or a rebuilt database, never reuse an id for another message."""

    __tablename__ = "installation"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
