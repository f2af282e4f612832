"""`beltwatch monitor run`: the hourly job on an APScheduler cron, in UTC.

The job store is this process's own memory store (APScheduler's FAQ: never share one
between schedulers); replicas coordinate through the database lock in hourly.run_due, not
through APScheduler. Missed runs coalesce into one (each run catches up every due hour
anyway), and `misfire_grace_time` is set deliberately: the default (1 s) would silently
drop a run delayed by a busy host.

Stopping: the first SIGTERM (or SIGINT) sets a stop event that the hourly run checks
between hours, so the hour in hand finishes and the process exits; the second exits at
once. An unfinished hour is never left half-written: it is one transaction.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType

import httpx
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from monitor.core.settings import Settings
from monitor.dispatch import Dispatcher, doubling_backoff
from monitor.hourly import RunOutcome, run_due
from monitor.metrics import RunLabel, count_run, serving_metrics
from monitor.notifiers import guard_httpx_logging
from monitor.receivers import build_notifiers

log = logging.getLogger(__name__)


def make_scheduler(
    engine: Engine,
    settings: Settings,
    dispatcher: Dispatcher | None = None,
    stop: threading.Event | None = None,
) -> BackgroundScheduler:
    """A scheduler with the hourly job (it runs once at start too, to catch up) and, with
    a dispatcher, the outbox drain every `dispatch_interval_s` and after each hourly run.
    A set `stop` ends an hourly run after the hour in hand."""
    scheduler = BackgroundScheduler(
        timezone=UTC,
        jobstores={"default": MemoryJobStore()},
        # One thread per job, so a slow delivery never delays the hourly run.
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.monitor_misfire_grace_s,
        },
    )
    job = HourlyJob(engine, settings, dispatcher, stop)
    scheduler.add_job(
        job,
        CronTrigger(minute=settings.monitor_minute, timezone=UTC),
        id="hourly",
        name="hourly monitor",
        next_run_time=datetime.now(UTC),
    )
    job.scheduler = scheduler
    if dispatcher is not None:
        scheduler.add_job(
            _dispatch,
            IntervalTrigger(seconds=settings.dispatch_interval_s, timezone=UTC),
            args=[dispatcher],
            id="dispatch",
            name="notification outbox",
        )
    return scheduler


class HourlyJob:
    """The hourly run, and its retries: a run that fails (the database down at minute 5,
    an hour that failed) is tried again after a backoff (monitor_retry_initial_s, doubling
    with jitter up to monitor_retry_max_s) instead of waiting for the next hour. A run
    skipped because another replica holds the lock is not retried: that replica works."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        dispatcher: Dispatcher | None,
        stop: threading.Event | None = None,
    ) -> None:
        self.engine, self.settings, self.dispatcher, self.stop = engine, settings, dispatcher, stop
        self.scheduler: BackgroundScheduler | None = None
        self.failures = 0  # failed runs in a row

    def __call__(self) -> RunOutcome | None:
        started = time.monotonic()
        try:
            outcome = run_due(self.engine, self.settings, stop=self.stop)
        except Exception as error:  # the database is unreachable, or the lock query failed
            log.error("hourly run failed: %s", str(error).splitlines()[0] if str(error) else error)
            count_run("error", time.monotonic() - started)
            self._retry_later()
            return None
        failed = [h for h in outcome.hours if not h.ok]
        verdict: RunLabel = "skipped" if outcome.skipped else "failed" if failed else "ok"
        count_run(verdict, time.monotonic() - started)
        if not outcome.skipped:
            log.info("monitor: %d hour(s) processed, %d failed", len(outcome.hours), len(failed))
        if failed:
            self._retry_later()
        else:
            self.failures = 0
            if not outcome.skipped:  # (a replica that skipped did not watch: the worker pings)
                heartbeat(self.settings, outcome)
        # The new alerts go out now, not a minute later; when stopping, the outbox keeps
        # them for the next start rather than holding the exit on a slow receiver.
        if self.dispatcher is not None and not self._stopping:
            _dispatch(self.dispatcher)
        return outcome

    @property
    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _retry_later(self) -> None:
        self.failures += 1
        if self.scheduler is None or self._stopping:
            return
        wait = retry_wait_s(self.failures, self.settings)
        when = datetime.now(UTC) + timedelta(seconds=wait)
        log.warning("hourly run: retry %d in %.0f s", self.failures, wait)
        # One pending retry at a time; a retry that meets the cron run is harmless (the
        # database lock lets one of them work).
        self.scheduler.add_job(
            self, DateTrigger(run_date=when, timezone=UTC), id="hourly-retry",
            name="hourly monitor (retry)", replace_existing=True,
        )  # fmt: skip


def heartbeat(settings: Settings, outcome: RunOutcome) -> bool:
    """Ping the dead-man's switch (`heartbeat_url`) after a successful run; a failure is
    logged (the URL never: it may carry a token) and never stops the monitor."""
    if settings.heartbeat_url is None:
        return False
    guard_httpx_logging()  # httpx logs request URLs at INFO: the token must not show
    url = settings.heartbeat_url.get_secret_value()
    body = {"hours": [f"{h.hour:%Y-%m-%dT%H:%MZ}" for h in outcome.hours], "ok": True}
    try:
        response = httpx.post(url, json=body, timeout=settings.notify_timeout_s)
    except httpx.HTTPError as error:
        log.warning("heartbeat failed: %s", type(error).__name__)
        return False
    if not response.is_success:
        log.warning("heartbeat answered %d", response.status_code)
    return response.is_success


def retry_wait_s(failures: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Wait after the `failures`-th failed hourly run in a row (monitor_retry_*)."""
    return doubling_backoff(
        failures, settings.monitor_retry_initial_s, settings.monitor_retry_max_s, rng
    )


def _dispatch(dispatcher: Dispatcher) -> None:
    try:
        dispatcher.run_once()
    except Exception:  # the database blinked: the rows wait for the next pass
        log.exception("dispatcher pass failed")


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that the first SIGTERM or SIGINT sets (finish the hour in hand, then
    exit); the second exits at once with 128 + the signal's number. The handlers are
    restored on leaving. Main thread only (Python delivers signals there)."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(128 + signum)  # a job's thread would otherwise hold the exit
        log.warning("%s: finishing the hour in hand", signal.Signals(signum).name)
        stop.set()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_forever(engine: Engine, settings: Settings) -> None:
    """Run until SIGTERM/SIGINT: the first finishes the hour in hand, the second exits.
    `/metrics` is served meanwhile when `monitor_metrics_port` is set."""
    with stop_on_signals() as stop, serving_metrics(engine, settings):
        dispatcher = Dispatcher(engine, build_notifiers(settings), settings)
        scheduler = make_scheduler(engine, settings, dispatcher, stop)
        scheduler.start()
        log.info("monitor running: every hour at minute %d (UTC)", settings.monitor_minute)
        stop.wait()
        # Waits for the running jobs: an hourly run sees `stop` and ends after its hour.
        scheduler.shutdown(wait=True)
        dispatcher.close()
