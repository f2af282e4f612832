"""The hourly job: for every closed hour not yet processed, oldest first:

    rollup (one SQL aggregate) -> provisional references for new stations -> windows ->
    rules (station by station, and the whole site) -> diagnosis -> drift reports ->
    alert episodes and outbox rows -> `monitor_runs` marks the hour done

One replica works at a time: `run_due` holds a session-level advisory lock on a
connection of its own for the whole run, and replicas that find it held skip. An hour is
processed in one transaction, so a crash leaves it not done, and the next run redoes it;
a failed hour is recorded with its error and retried on the next run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text

from monitor.alerts import Change, apply_results
from monitor.core.settings import Settings
from monitor.reference import ensure_provisional, load_references
from monitor.rollup import ALL, rollup_hour
from monitor.rules import diagnose, evaluate_all
from monitor.rules.base import RuleResult
from monitor.windows import hour_windows

log = logging.getLogger(__name__)

LOCK_KEY = 1650814070  # pg advisory lock of the hourly job (any constant, same everywhere)


@dataclass(frozen=True)
class HourOutcome:
    hour: datetime
    ok: bool
    results: list[RuleResult] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    error: str | None = None

    @property
    def firing(self) -> list[RuleResult]:
        return [r for r in self.results if r.firing]


@dataclass(frozen=True)
class RunOutcome:
    skipped: bool  # another replica holds the lock
    hours: list[HourOutcome] = field(default_factory=list)


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def process_hour(engine: Engine, hour: datetime, settings: Settings) -> HourOutcome:
    """Process one closed hour (however often: the result is the same)."""
    hour = floor_hour(hour)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO monitor_runs (hour, status, started_at, attempts) "
                "VALUES (:hour, 'running', now(), 1) ON CONFLICT (hour) DO UPDATE SET "
                "status = 'running', started_at = now(), finished_at = NULL, error = NULL, "
                "attempts = monitor_runs.attempts + 1"
            ),
            {"hour": hour},
        )
    try:
        with engine.begin() as conn:
            results, changes = _evaluate(conn, hour, settings)
            conn.execute(
                text(
                    "UPDATE monitor_runs SET status = 'done', finished_at = now() "
                    "WHERE hour = :hour"
                ),
                {"hour": hour},
            )
    except Exception as error:
        message = f"{type(error).__name__}: {error}".splitlines()[0][:2000]
        log.exception("hour %s failed", hour.isoformat())
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE monitor_runs SET status = 'failed', finished_at = now(), "
                    "error = :error WHERE hour = :hour"
                ),
                {"hour": hour, "error": message},
            )
        return HourOutcome(hour, ok=False, error=message)
    return HourOutcome(hour, ok=True, results=results, changes=changes)


def _evaluate(
    conn: Connection, hour: datetime, settings: Settings
) -> tuple[list[RuleResult], list[Change]]:
    rollup_hour(conn, hour)
    references = load_references(conn)
    new_stations = conn.execute(
        text(
            "SELECT station_id FROM hourly_rollups WHERE hour = :hour AND model_version = :all "
            "AND station_id <> :all"
        ),
        {"hour": hour, "all": ALL},
    ).scalars()
    for station in new_stations:
        if station not in references:
            reference = ensure_provisional(
                conn,
                station,
                hours=settings.provisional_reference_hours,
                sample_size=settings.reference_sample_size,
            )
            if reference is not None:
                log.info(
                    "station %s: provisional reference from its first %d hours",
                    station,
                    settings.provisional_reference_hours,
                )
                references[station] = reference
    windows = hour_windows(conn, hour, references, sample_size=settings.drift_sample_size)
    results: list[RuleResult] = []
    for window in windows:
        reference = references.get(window.station_id) if window.station_id else None
        results += evaluate_all(window, reference, settings, site=window.station_id is None)
    results = diagnose(results)
    results = [_with_report(result, hour, settings) for result in results]
    return results, apply_results(conn, hour, results, settings)


def _with_report(result: RuleResult, hour: datetime, settings: Settings) -> RuleResult:
    """Keep a drift report as a file; the alert's evidence names it."""
    if not result.report_html:
        return result
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{result.rule}-{result.station_id or 'site'}")
    path = settings.effective_reports_dir / f"{hour:%Y%m%dT%H}Z" / f"{name}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.report_html)
    evidence = {**result.evidence, "report": str(path)}
    return RuleResult(
        result.rule,
        result.station_id,
        result.state,
        result.severity,
        result.summary,
        evidence,
        report_html=None,
    )


def due_hours(engine: Engine, now: datetime, settings: Settings) -> list[datetime]:
    """Closed hours within the catch-up window that are not done, oldest first."""
    last_closed = floor_hour(now) - timedelta(hours=1)
    first = last_closed - timedelta(hours=settings.monitor_catchup_hours - 1)
    with engine.connect() as conn:
        done = set(
            conn.execute(
                text(
                    "SELECT hour FROM monitor_runs WHERE status = 'done' "
                    "AND hour >= :first AND hour <= :last"
                ),
                {"first": first, "last": last_closed},
            ).scalars()
        )
    hours = []
    hour = first
    while hour <= last_closed:
        if hour not in done:
            hours.append(hour)
        hour += timedelta(hours=1)
    return hours


@contextmanager
def hourly_lock(engine: Engine) -> Iterator[bool]:
    """Yield True while this process holds the hourly job's lock, False if another does.

    A session-level lock on a connection of its own, held for the whole run: a
    transaction-level lock on a short pooled connection would protect nothing."""
    with engine.connect() as lock_conn:
        got = bool(
            lock_conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        )
        lock_conn.commit()
        try:
            yield got
        finally:
            if got:
                lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                lock_conn.commit()


def run_due(engine: Engine, settings: Settings, now: datetime | None = None) -> RunOutcome:
    """Process every due hour, if this replica gets the lock; otherwise skip."""
    with hourly_lock(engine) as got:
        if not got:
            log.info("another monitor holds the lock; skipping this run")
            return RunOutcome(skipped=True)
        hours = due_hours(engine, now or datetime.now(UTC), settings)
        return RunOutcome(False, [process_hour(engine, hour, settings) for hour in hours])


def run_range(
    engine: Engine, settings: Settings, since: datetime, until: datetime, *, redo: bool = False
) -> RunOutcome:
    """Process the hours in [since, until) (backfill); done hours only with `redo`."""
    with hourly_lock(engine) as got:
        if not got:
            return RunOutcome(skipped=True)
        with engine.connect() as conn:
            done = set(
                conn.execute(text("SELECT hour FROM monitor_runs WHERE status = 'done'")).scalars()
            )
        outcomes = []
        hour = floor_hour(since)
        while hour < until:
            if redo or hour not in done:
                outcomes.append(process_hour(engine, hour, settings))
            hour += timedelta(hours=1)
        return RunOutcome(False, outcomes)
