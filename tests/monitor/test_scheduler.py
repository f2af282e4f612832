"""The scheduler: a UTC cron at the configured minute, deliberate misfire handling, a run
at start that catches up, the outbox drained on its own schedule, and a graceful stop of
the real `beltwatch monitor run` process."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from daygen import traffic
from hourly_support import write
from pydantic import SecretStr
from sqlalchemy import text

from monitor.dispatch import Dispatcher
from monitor.scheduler import HourlyJob, make_scheduler, retry_wait_s


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


def _start_monitor(tmp_path, settings, args: list[str], catchup_hours: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "BELTWATCH_DATABASE_URL": settings.database_url.get_secret_value(),
        "BELTWATCH_DATA_DIR": str(tmp_path / "data"),
        "BELTWATCH_MONITOR_CATCHUP_HOURS": str(catchup_hours),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "monitor", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _states(engine) -> dict[datetime, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT hour, status FROM monitor_runs")).all())


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "backfill"])
def test_sigterm_finishes_the_hour_in_hand_not_the_whole_catch_up(
    tmp_path, db_url, engine, settings, command
) -> None:
    hours = 24
    last_closed = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    first = last_closed - timedelta(hours=hours - 1)
    write(db_url, settings, traffic(["S1", "S2"], first, hours, 200, seed=1))
    args = ["run"]
    if command == "backfill":
        end = last_closed + timedelta(hours=1)
        args = ["backfill", "--since", first.isoformat(), "--until", end.isoformat()]
    monitor = _start_monitor(tmp_path, settings, args, hours)
    deadline = time.monotonic() + 120
    while "done" not in _states(engine).values():
        assert monitor.poll() is None, monitor.communicate()
        assert time.monotonic() < deadline, "no hour was processed"
        time.sleep(0.05)
    monitor.send_signal(signal.SIGTERM)
    out, err = monitor.communicate(timeout=60)
    assert monitor.returncode == 0, err
    states = _states(engine)
    done = sorted(hour for hour, state in states.items() if state == "done")
    assert "running" not in states.values()
    assert 1 <= len(done) < hours  # the catch-up was cut short...
    assert done == [first + timedelta(hours=i) for i in range(len(done))]  # ...oldest first
    if command == "backfill":
        assert "stopped: the hours after these are not done" in out


def test_a_run_that_meets_the_database_down_is_retried_within_the_hour(
    engine, settings, cut_off
) -> None:
    """The database is unreachable at the run; once it is back, a retry (backoff) catches
    up the due hours without waiting for the next hour's run."""
    s = settings.model_copy(
        update={
            "monitor_catchup_hours": 2,
            "monitor_retry_initial_s": 0.5,
            "monitor_retry_max_s": 1,
        }
    )
    scheduler = make_scheduler(engine, s)
    try:
        with cut_off():
            scheduler.start()
            deadline = time.monotonic() + 30
            while scheduler.get_job("hourly-retry") is None:  # the first run has failed
                assert time.monotonic() < deadline, "the failed run scheduled no retry"
                time.sleep(0.05)
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as conn:
                done = conn.execute(
                    text("SELECT count(*) FROM monitor_runs WHERE status = 'done'")
                ).scalar_one()
            if done == 2:
                break
            assert time.monotonic() < deadline, "no retry caught up the due hours"
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)


def test_retry_waits_double_with_jitter_up_to_the_cap(settings) -> None:
    import random

    s = settings.model_copy(update={"monitor_retry_initial_s": 30, "monitor_retry_max_s": 600})
    rng = random.Random(1)
    waits = [retry_wait_s(n, s, rng) for n in range(1, 8)]
    for n, wait in enumerate(waits, start=1):
        base = min(30 * 2 ** (n - 1), 600)
        assert base / 2 <= wait <= base


def test_a_successful_run_pings_the_heartbeat_and_a_failed_one_does_not(
    engine, settings, cut_off, httpserver, caplog
) -> None:
    """The dead-man's switch: a ping after each successful hourly run, none when the run
    failed, so the receiver notices silence; the URL's token never reaches a log line."""
    httpserver.expect_request("/ping/T0k3n-abc").respond_with_data("OK")
    s = settings.model_copy(
        update={
            "monitor_catchup_hours": 1,
            "heartbeat_url": SecretStr(httpserver.url_for("/ping/T0k3n-abc")),
        }
    )
    job = HourlyJob(engine, s, dispatcher=None)
    with caplog.at_level(logging.DEBUG):
        assert job() is not None
        assert len(httpserver.log) == 1
        with cut_off():
            assert job() is None  # the database is down: the run failed
        assert len(httpserver.log) == 1
    ours = [r.getMessage() for r in caplog.records if r.name != "werkzeug"]  # not the test server
    assert any("HTTP Request: POST" in message for message in ours)  # httpx did log it...
    assert not any("T0k3n-abc" in message for message in ours)  # ...without the token
