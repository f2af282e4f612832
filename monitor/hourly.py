"""The hourly job: for every closed hour not yet processed, oldest first:

    rollup (one SQL aggregate) -> provisional references for new stations -> windows ->
    rules (station by station, and the whole site) -> diagnosis -> drift reports ->
    alert episodes and outbox rows -> silent and retired stations' alerts handed over ->
    `monitor_runs` marks the hour done

One replica works at a time: `run_due` holds a session-level advisory lock on a
connection of its own for the whole run, and replicas that find it held skip. An hour is
processed in one transaction, so a crash leaves it not done, and the next run redoes it;
a failed hour is recorded with its error and retried on the next run. A stop (the first
SIGTERM) is honoured between hours: the hour in hand finishes, the rest wait for the next
run.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text

from monitor.alerts import Change, apply_results, hand_over_silent
from monitor.calibration import Limits
from monitor.core.exceptions import HourNotClosed
from monitor.core.queries import rollups, runs, stations
from monitor.core.settings import Settings
from monitor.reference import ensure_provisional, load_references, site_reference
from monitor.rules import diagnose, evaluate_all
from monitor.rules.base import Reference, RuleResult
from monitor.windows import hour_windows

log = logging.getLogger(__name__)

LOCK_KEY = 1650814070  # pg advisory lock of the hourly job (any constant, same everywhere)


@dataclass(frozen=True)
class HourOutcome:
    """What processing one hour gave: the rules' results and the alerts' changes, or the
    error that failed it."""

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
    """The hours one run processed; `stopped` when a stop left due hours for later."""

    skipped: bool  # another replica holds the lock
    hours: list[HourOutcome] = field(default_factory=list)
    stopped: bool = False


def next_run(now: datetime, minute: int) -> datetime:
    """The first scheduled run after `now`: minute `minute` of an hour, UTC."""
    run = now.astimezone(UTC).replace(minute=minute, second=0, microsecond=0)
    return run if run > now else run + timedelta(hours=1)


def floor_hour(moment: datetime) -> datetime:
    """The start of the UTC hour that holds `moment`."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def process_hour(engine: Engine, hour: datetime, settings: Settings) -> HourOutcome:
    """Process one closed hour (however often: the result is the same)."""
    hour = floor_hour(hour)
    with engine.begin() as conn:
        runs.mark_running(conn, hour)
    try:
        with engine.begin() as conn:
            seen = runs.arrived_rows(conn, hour)
            results, changes = _evaluate(conn, hour, settings)
            runs.mark_done(conn, hour, rows_seen=seen)
    except Exception as error:
        message = f"{type(error).__name__}: {error}".splitlines()[0][:2000]
        log.exception("hour %s failed", hour.isoformat())
        with engine.begin() as conn:
            runs.mark_failed(conn, hour, message)
        return HourOutcome(hour, ok=False, error=message)
    return HourOutcome(hour, ok=True, results=results, changes=changes)


def _evaluate(
    conn: Connection, hour: datetime, settings: Settings
) -> tuple[list[RuleResult], list[Change]]:
    rollups.write_hour(conn, hour)
    references = load_references(conn)
    _add_provisional(conn, hour, references, settings)
    retired = {s: row["retired_at"] for s, row in stations.retirements(conn).items()}
    windows = hour_windows(
        conn,
        hour,
        references,
        retired=retired,
        sample_size=settings.drift_sample_size,
        min_predictions=settings.drift_min_predictions,
        max_pool_hours=settings.drift_max_pool_hours,
    )
    # The site's reference is pooled each hour from the stations' (never stored, so no
    # station a client may name can be mistaken for it).
    site = site_reference(references.values())
    results: list[RuleResult] = []
    for window in windows:
        if window.station_id is None:
            results += evaluate_all(window, site, settings, site=True)
        else:
            results += evaluate_all(window, references.get(window.station_id), settings)
    results = diagnose(results)
    results = [_with_report(result, hour, settings) for result in results]
    changes = apply_results(conn, hour, results, settings)
    return results, changes + hand_over_silent(conn, hour, retired, settings)


def _add_provisional(
    conn: Connection, hour: datetime, references: dict[str, Reference], settings: Settings
) -> None:
    """Give each station of the hour without a profile a provisional one, once it can."""
    stations = set(rollups.hour_rows(conn, hour)) - {rollups.SITE}
    for station in sorted(stations - set(references)):
        reference = ensure_provisional(
            conn,
            station,
            hours=settings.provisional_reference_hours,
            sample_size=settings.reference_sample_size,
            limits=Limits.from_settings(settings),
        )
        if reference is not None:
            log.info(
                "station %s: provisional reference from its first %d hours",
                station,
                settings.provisional_reference_hours,
            )
            references[station] = reference


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
    """Closed hours within the catch-up window that are not done, or that late rows have
    reached since they were done, oldest first."""
    last_closed = floor_hour(now) - timedelta(hours=1)
    first = last_closed - timedelta(hours=settings.monitor_catchup_hours - 1)
    with engine.connect() as conn:
        done = runs.done_hours(conn, first, last_closed) - runs.late_hours(conn, first, last_closed)
    return [hour for hour in _hours(first, last_closed + timedelta(hours=1)) if hour not in done]


def _hours(since: datetime, until: datetime) -> Iterator[datetime]:
    hour = floor_hour(since)
    while hour < until:
        yield hour
        hour += timedelta(hours=1)


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


def _process_all(
    engine: Engine, hours: Iterable[datetime], settings: Settings, stop: threading.Event | None
) -> RunOutcome:
    """Process the hours in order; a set `stop` ends the run between two hours."""
    outcomes = []
    for hour in hours:
        if stop is not None and stop.is_set():
            log.info("stopping: %s and later hours wait for the next run", hour.isoformat())
            return RunOutcome(False, outcomes, stopped=True)
        outcomes.append(process_hour(engine, hour, settings))
    return RunOutcome(False, outcomes)


def run_due(
    engine: Engine,
    settings: Settings,
    now: datetime | None = None,
    *,
    stop: threading.Event | None = None,
) -> RunOutcome:
    """Process every due hour, if this replica gets the lock; otherwise skip. A set `stop`
    ends the run after the hour in hand."""
    with hourly_lock(engine) as got:
        if not got:
            log.info("another monitor holds the lock; skipping this run")
            return RunOutcome(skipped=True)
        hours = due_hours(engine, now or datetime.now(UTC), settings)
        return _process_all(engine, hours, settings, stop)


def run_range(
    engine: Engine,
    settings: Settings,
    since: datetime,
    until: datetime,
    *,
    redo: bool = False,
    stop: threading.Event | None = None,
    now: datetime | None = None,
) -> RunOutcome:
    """Process the hours in [since, until) (backfill): those not done or reached by late
    rows since; every hour with `redo`. A set `stop` ends the run after the hour in hand.

    An hour that has not closed by `now` is refused (HourNotClosed), before anything is
    done: its data is still arriving, and an alert opened there would be dated ahead of
    every hour real traffic can bring to resolve it."""
    open_hour = floor_hour(now or datetime.now(UTC))
    if until > open_hour:
        first_open = max(floor_hour(since), open_hour)
        raise HourNotClosed(first_open, open_hour - timedelta(hours=1))
    with hourly_lock(engine) as got:
        if not got:
            return RunOutcome(skipped=True)
        with engine.connect() as conn:
            last = floor_hour(until - timedelta(microseconds=1))
            done = set() if redo else runs.done_hours(conn) - runs.late_hours(conn, since, last)
        hours = [hour for hour in _hours(since, until) if hour not in done]
        return _process_all(engine, hours, settings, stop)
