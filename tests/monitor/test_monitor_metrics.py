"""The monitor's /metrics: what the database holds at scrape time (the last hour done, the
outbox by status and channel, firing alerts by rule), the runs this process made, a
database outage as `beltwatch_monitor_db_up 0` rather than a failed scrape, and the real
`beltwatch monitor run` serving it on `monitor_metrics_port`.

(Named test_monitor_metrics.py: tests/inference/test_metrics.py holds the worker's, and test
module names are unique.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from monitor.core.exceptions import ConfigError
from monitor.hourly import floor_hour
from monitor.metrics import serving_metrics
from monitor.rules import RULES
from monitor.scheduler import HourlyJob

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def samples(exposition: str) -> Samples:
    """(sample name, sorted labels) -> value of a /metrics text."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def scrape(engine, settings) -> Samples:
    """Serve the monitor's collectors on a free port (their own registry) and scrape once."""
    s = settings.model_copy(update={"monitor_metrics_port": free_port()})
    with serving_metrics(engine, s, registry=CollectorRegistry()) as port:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    return samples(response.text)


def _alert(conn, rule: str, station: str, status: str) -> int:
    return conn.execute(
        text(
            "INSERT INTO alerts (fingerprint, rule, station_id, severity, status, started_at, "
            "summary) VALUES (:fp, :rule, :station, 'warning', :status, now(), 's') RETURNING id"
        ),
        {"fp": f"{rule}:{station}", "rule": rule, "station": station, "status": status},
    ).scalar_one()


def _notification(conn, alert_id: int, channel: str, status: str, hour: datetime) -> None:
    conn.execute(
        text(
            "INSERT INTO notifications (alert_id, channel, event, hour, payload, status) "
            "VALUES (:alert, :channel, 'trigger', :hour, '{}', :status)"
        ),
        {"alert": alert_id, "channel": channel, "hour": hour, "status": status},
    )


def test_database_series_match_what_the_database_holds(engine, settings) -> None:
    hour = floor_hour(datetime.now(UTC)) - timedelta(hours=3)
    finished = datetime(2026, 11, 30, 9, 6, 30, tzinfo=UTC)
    with engine.begin() as conn:
        # The older hour was redone last (late rows): "when" is the latest finish of any
        # done hour, "which" the latest hour; a later hour that failed counts as neither.
        for h, status, at in (
            (hour - timedelta(hours=1), "done", finished),
            (hour, "done", finished - timedelta(minutes=50)),
            (hour + timedelta(hours=1), "failed", finished + timedelta(minutes=5)),
        ):
            conn.execute(
                text("INSERT INTO monitor_runs (hour, status, finished_at) VALUES (:h, :s, :at)"),
                {"h": h, "s": status, "at": at},
            )
        lens = [_alert(conn, "lens_drift", f"S{i}", "firing") for i in range(2)]
        _alert(conn, "no_data", "S9", "resolved")
        for i, status in enumerate(["pending", "failed", "failed", "delivered"]):
            _notification(conn, lens[0], "webhook", status, hour - timedelta(hours=i))
        _notification(conn, lens[1], "slack", "failed", hour)

    got = scrape(engine, settings)

    assert got[("beltwatch_monitor_db_up", ())] == 1
    done = ("beltwatch_monitor_last_done_hour_timestamp_seconds", ())
    assert got[done] == hour.timestamp()
    assert got[("beltwatch_monitor_last_done_timestamp_seconds", ())] == finished.timestamp()
    rows = {
        (dict(labels)["status"], dict(labels)["channel"]): value
        for (name, labels), value in got.items()
        if name == "beltwatch_outbox_rows"
    }
    assert rows == {
        ("pending", "webhook"): 1,
        ("failed", "webhook"): 2,
        ("delivered", "webhook"): 1,
        ("failed", "slack"): 1,  # a channel no longer configured still shows its rows
    }
    firing = {
        dict(labels)["rule"]: value
        for (name, labels), value in got.items()
        if name == "beltwatch_alerts_firing"
    }
    assert firing == {rule: (2 if rule == "lens_drift" else 0) for rule in RULES}


def test_every_rule_and_configured_channel_is_exposed_at_zero_on_an_empty_database(
    engine, settings
) -> None:
    """A first failure is then a rise from 0, which `increase()` and `offset` can see."""
    got = scrape(engine, settings)
    for status in ("pending", "delivered", "failed"):
        key = ("beltwatch_outbox_rows", (("channel", "webhook"), ("status", status)))
        assert got[key] == 0
    for rule in RULES:
        assert got[("beltwatch_alerts_firing", (("rule", rule),))] == 0
    # No hour done yet: no sample, rather than a timestamp of 1970 that would page at once.
    assert not [k for k in got if k[0].startswith("beltwatch_monitor_last_done")]


def test_a_database_outage_is_db_up_0_not_a_failed_scrape(engine, settings, cut_off) -> None:
    s = settings.model_copy(update={"monitor_metrics_port": free_port()})
    with serving_metrics(engine, s, registry=CollectorRegistry()) as port:
        with cut_off():
            down = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
        up = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
    assert down.status_code == 200
    got = samples(down.text)
    assert got[("beltwatch_monitor_db_up", ())] == 0
    assert not [k for k in got if k[0] == "beltwatch_outbox_rows"]
    assert samples(up.text)[("beltwatch_monitor_db_up", ())] == 1  # and back once it is


def test_port_0_serves_nothing(engine, settings) -> None:
    assert settings.monitor_metrics_port == 0
    with serving_metrics(engine, settings, registry=CollectorRegistry()) as port:
        assert port is None


def test_a_port_in_use_is_a_configuration_error_naming_the_setting(engine, settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        s = settings.model_copy(update={"monitor_metrics_port": taken.getsockname()[1]})
        with (
            pytest.raises(ConfigError) as raised,
            serving_metrics(engine, s, registry=CollectorRegistry()),
        ):
            pass
    assert raised.value.problems[0][0] == "monitor_metrics_port"


def _runs(outcome: str) -> float:
    return REGISTRY.get_sample_value("beltwatch_monitor_runs_total", {"outcome": outcome}) or 0


def _run_count() -> float:
    return REGISTRY.get_sample_value("beltwatch_monitor_run_duration_seconds_count") or 0


def test_each_hourly_run_is_counted_by_outcome_with_its_duration(engine, settings, cut_off) -> None:
    before = {o: _runs(o) for o in ("ok", "error", "failed", "skipped")}
    count = _run_count()
    job = HourlyJob(engine, settings.model_copy(update={"monitor_catchup_hours": 1}), None)
    assert job() is not None
    with cut_off():
        assert job() is None  # the database unreachable: the run itself failed
    assert _runs("ok") - before["ok"] == 1
    assert _runs("error") - before["error"] == 1
    assert _runs("failed") == before["failed"] and _runs("skipped") == before["skipped"]
    assert _run_count() - count == 2


@pytest.mark.slow
def test_monitor_run_serves_metrics_on_its_port(tmp_path, settings, engine) -> None:
    """The real process: its /metrics shows the run it made and the hour it marked done
    (tests/test_prometheus_rules.py lints the text with promtool)."""
    port = free_port()
    env = {
        **os.environ,
        "BELTWATCH_DATABASE_URL": settings.database_url.get_secret_value(),
        "BELTWATCH_DATA_DIR": str(tmp_path / "data"),
        "BELTWATCH_MONITOR_CATCHUP_HOURS": "2",
        "BELTWATCH_MONITOR_METRICS_PORT": str(port),
        "BELTWATCH_WEBHOOK_URL": settings.webhook_url.get_secret_value(),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "monitor", "run"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        exposition = _scrape_until_a_run(process, port)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    got = samples(exposition)
    assert got[("beltwatch_monitor_runs_total", (("outcome", "ok"),))] == 1
    last = floor_hour(datetime.now(UTC)) - timedelta(hours=1)
    assert got[("beltwatch_monitor_last_done_hour_timestamp_seconds", ())] == last.timestamp()
    assert got[("beltwatch_monitor_db_up", ())] == 1
    delivered = (("channel", "webhook"), ("outcome", "delivered"), ("reason", "ok"))
    assert ("beltwatch_notifications_total", delivered) in got  # counted from 0


def _scrape_until_a_run(process: subprocess.Popen, port: int) -> str:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "no run was counted on /metrics"
        try:
            exposition = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.TransportError:
            exposition = ""
        if 'beltwatch_monitor_runs_total{outcome="ok"} 1.0' in exposition:
            return exposition
        time.sleep(0.2)
