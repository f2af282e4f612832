"""Database operations behind `beltwatch db ...`: each takes Settings and returns a result."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import text

from monitor.core.db import migrate, partitions
from monitor.core.db.engine import database_url, make_engine, redacted
from monitor.core.settings import Settings


@dataclass(frozen=True)
class RevisionResult:
    url: str
    revision: str | None
    head: str
    partitions: list[date] = field(default_factory=list)


@dataclass(frozen=True)
class PartitionsResult:
    days: list[tuple[date, int]]
    created: list[date]
    dropped: list[date]
    reports_deleted: list[str] = field(default_factory=list)  # hour folders of drift reports


def upgrade(settings: Settings, revision: str = "head") -> RevisionResult:
    """Migrate to `revision`; at head, also create the daily partitions ahead."""
    url = database_url(settings)
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, revision)
        current = migrate.current(engine)
        days: list[date] = []
        if current == migrate.head():
            with engine.begin() as conn:
                today = datetime.now(UTC).date()
                partitions.ensure_ahead(conn, today, settings.partitions_ahead_days)
                days = sorted(partitions.existing_days(conn))
    finally:
        engine.dispose()
    return RevisionResult(redacted(url), current, migrate.head(), days)


def downgrade(settings: Settings, revision: str) -> RevisionResult:
    url = database_url(settings)
    engine = make_engine(url)
    try:
        migrate.downgrade(engine, revision)
        current = migrate.current(engine)
    finally:
        engine.dispose()
    return RevisionResult(redacted(url), current, migrate.head())


def current(settings: Settings) -> RevisionResult:
    url = database_url(settings)
    engine = make_engine(url)
    try:
        revision = migrate.current(engine)
    finally:
        engine.dispose()
    return RevisionResult(redacted(url), revision, migrate.head())


def maintain_partitions(settings: Settings, today: date, *, prune: bool) -> PartitionsResult:
    """Create the partitions ahead, drop those past retention (with `prune`, which also
    deletes the drift reports past theirs), list the rest."""
    engine = make_engine(database_url(settings))
    try:
        with engine.begin() as conn:
            created = partitions.ensure_ahead(conn, today, settings.partitions_ahead_days)
            dropped = []
            if prune:
                cutoff = partitions.retention_cutoff(today, settings.retention_days)
                dropped = partitions.drop_before(conn, cutoff)
            days = []
            for day in sorted(partitions.existing_days(conn)):
                # The planner's estimate: counting 90 days of rows would take minutes.
                rows = conn.execute(
                    text("SELECT reltuples::bigint FROM pg_class WHERE relname = :name"),
                    {"name": partitions.partition_name(day)},
                ).scalar_one()
                days.append((day, max(rows, 0)))
    finally:
        engine.dispose()
    reports_deleted: list[str] = []
    if prune:
        # After the partitions' transaction: a file that cannot go never undoes a drop.
        report_cutoff = partitions.retention_cutoff(today, settings.reports_retention_days)
        reports_deleted = partitions.prune_reports(settings.effective_reports_dir, report_cutoff)
    return PartitionsResult(days, created, dropped, reports_deleted)
