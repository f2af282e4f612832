"""The scheduler: a UTC cron at the configured minute, deliberate misfire handling, a run
at start that catches up, and the outbox drained on its own schedule."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from monitor.dispatch import Dispatcher
from monitor.scheduler import make_scheduler


def test_jobs_are_configured_deliberately(engine, settings) -> None:
    s = settings.model_copy(update={"monitor_minute": 17, "monitor_misfire_grace_s": 1200})
    scheduler = make_scheduler(engine, s, Dispatcher(engine, {}, s))
    scheduler.start(paused=True)  # job defaults are applied when the scheduler starts
    hourly, dispatch = scheduler.get_job("hourly"), scheduler.get_job("dispatch")
    scheduler.shutdown(wait=False)
    assert str(hourly.trigger.timezone) == "UTC"
    fields = {f.name: str(f) for f in hourly.trigger.fields}
    assert fields["minute"] == "17" and fields["hour"] == "*"
    assert hourly.misfire_grace_time == 1200 and hourly.coalesce and hourly.max_instances == 1
    assert dispatch.trigger.interval == timedelta(seconds=s.dispatch_interval_s)
    # The job store belongs to this scheduler alone (never shared between replicas).
    assert type(scheduler._jobstores["default"]).__name__ == "MemoryJobStore"


def test_the_first_run_catches_up_at_start(engine, settings) -> None:
    s = settings.model_copy(update={"monitor_catchup_hours": 3})
    scheduler = make_scheduler(engine, s)
    scheduler.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as conn:
                done = conn.execute(
                    text("SELECT count(*) FROM monitor_runs WHERE status = 'done'")
                ).scalar_one()
            if done == 3:
                break
            assert time.monotonic() < deadline, "the start-up run did not happen"
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    with engine.connect() as conn:
        latest = conn.execute(text("SELECT max(hour) FROM monitor_runs")).scalar_one()
    now = datetime.now(UTC)
    assert latest == now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
