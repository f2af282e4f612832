"""`beltwatch monitor run`: the hourly job on an APScheduler cron, in UTC.

The job store is this process's own memory store (APScheduler's FAQ: never share one
between schedulers); replicas coordinate through the database lock in hourly.run_due, not
through APScheduler. Missed runs coalesce into one (each run catches up every due hour
anyway), and `misfire_grace_time` is set deliberately: the default (1 s) would silently
drop a run delayed by a busy host.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import UTC, datetime
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from monitor.core.settings import Settings
from monitor.dispatch import Dispatcher
from monitor.hourly import RunOutcome, run_due
from monitor.receivers import build_notifiers

log = logging.getLogger(__name__)


def make_scheduler(
    engine: Engine, settings: Settings, dispatcher: Dispatcher | None = None
) -> BackgroundScheduler:
    """A scheduler with the hourly job (it runs once at start too, to catch up) and, with
    a dispatcher, the outbox drain every `dispatch_interval_s` and after each hourly run."""
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
    scheduler.add_job(
        _hourly,
        CronTrigger(minute=settings.monitor_minute, timezone=UTC),
        args=[engine, settings, dispatcher],
        id="hourly",
        name="hourly monitor",
        next_run_time=datetime.now(UTC),
    )
    if dispatcher is not None:
        scheduler.add_job(
            _dispatch,
            IntervalTrigger(seconds=settings.dispatch_interval_s, timezone=UTC),
            args=[dispatcher],
            id="dispatch",
            name="notification outbox",
        )
    return scheduler


def _hourly(engine: Engine, settings: Settings, dispatcher: Dispatcher | None) -> RunOutcome:
    outcome = run_due(engine, settings)
    if not outcome.skipped:
        failed = [h for h in outcome.hours if not h.ok]
        log.info("monitor: %d hour(s) processed, %d failed", len(outcome.hours), len(failed))
    if dispatcher is not None:
        _dispatch(dispatcher)  # the new alerts go out now, not a minute later
    return outcome


def _dispatch(dispatcher: Dispatcher) -> None:
    try:
        dispatcher.run_once()
    except Exception:  # the database blinked: the rows wait for the next pass
        log.exception("dispatcher pass failed")


def run_forever(engine: Engine, settings: Settings) -> None:
    """Run until SIGTERM/SIGINT: the first finishes the hour in hand, the second exits."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(128 + signum)  # the job's thread would otherwise hold the exit
        log.info("%s: finishing the hour in hand", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    dispatcher = Dispatcher(engine, build_notifiers(settings), settings)
    scheduler = make_scheduler(engine, settings, dispatcher)
    scheduler.start()
    log.info("monitor running: every hour at minute %d (UTC)", settings.monitor_minute)
    stop.wait()
    scheduler.shutdown(wait=True)
    dispatcher.close()
