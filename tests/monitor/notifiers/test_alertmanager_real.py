"""Against a real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, 0.25),
started on a free loopback port and queried with its own API v2: an alert fires, stays
active across the dispatcher's re-posts, resolves, and a silence made there holds it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from notifiers_support import message
from pydantic import SecretStr
from sqlalchemy import text

from monitor.dispatch import Dispatcher
from monitor.notifiers.alertmanager import AlertmanagerConfig, AlertmanagerNotifier
from monitor.notifiers.base import AlertNotice
from monitor.receivers import build_notifiers

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="no Alertmanager binary (apt-get install prometheus-alertmanager) on PATH",
)
# Every alert goes to a receiver that sends nothing: the test reads Alertmanager's state.
CONFIG = 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A running Alertmanager's base URL; no gossip, its own storage, stopped afterwards."""
    (tmp_path / "am.yml").write_text(CONFIG)
    port = free_port()
    process = subprocess.Popen(
        [
            str(BINARY),
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "am.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Alertmanager did not start: {(tmp_path / 'am.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def active_alerts(url: str) -> list[dict[str, Any]]:
    """What Alertmanager holds now (alerts past their endsAt are not listed)."""
    response = httpx.get(f"{url}/api/v2/alerts", timeout=5)
    response.raise_for_status()
    return response.json()


def open_alert_with_trigger(engine, now: datetime) -> None:
    """A firing episode whose trigger to Alertmanager waits in the outbox."""
    notice = message("trigger", alert_id=1).payload.to_json()
    notice |= {"started_at": (now - timedelta(hours=1)).isoformat()}
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (id, fingerprint, rule, station_id, severity, status, "
                "started_at, last_evaluated_at, last_notified_at, summary) VALUES (1, "
                "'critical_rate:cam-3', 'critical_rate', 'cam-3', 'critical', 'firing', :t, :t, "
                ":t, 's')"
            ),
            {"t": now - timedelta(hours=1)},
        )
        queue_row(conn, "trigger", now, notice)


def queue_row(conn, event: str, now: datetime, payload: dict[str, Any]) -> None:
    conn.execute(
        text(
            "INSERT INTO notifications (alert_id, channel, event, hour, payload, created_at, "
            "next_attempt_at) VALUES (1, 'alertmanager', :e, :t, :p, :t, :t)"
        ),
        {"e": event, "t": now, "p": json.dumps(payload)},
    )


def test_an_alert_fires_stays_active_across_reposts_and_resolves(engine, settings, alertmanager):
    now = datetime.now(UTC)
    url = SecretStr(alertmanager)
    am_settings = settings.model_copy(update={"alertmanager_url": url, "webhook_url": None})
    dispatcher = Dispatcher(engine, build_notifiers(am_settings), am_settings)
    open_alert_with_trigger(engine, now)

    first = dispatcher.run_once()

    assert (first.delivered, first.refreshed) == (1, 1)
    (fired,) = active_alerts(alertmanager)
    assert fired["labels"] == {
        "alertname": "BeltwatchCriticalRate",
        "rule": "critical_rate",
        "severity": "critical",
        "site": "site",
        "station": "cam-3",
    }
    assert fired["status"]["state"] == "active"

    time.sleep(1.1)  # Alertmanager keeps milliseconds: the re-post must move endsAt on
    assert dispatcher.run_once().refreshed == 1
    (still,) = active_alerts(alertmanager)
    assert still["status"]["state"] == "active"
    assert still["fingerprint"] == fired["fingerprint"]
    assert still["endsAt"] > fired["endsAt"]
    assert still["startsAt"] == fired["startsAt"]

    resolved_at = datetime.now(UTC) - timedelta(seconds=1)
    resolve = message("resolve", alert_id=1).payload.to_json()
    resolve |= {"started_at": fired["startsAt"], "resolved_at": resolved_at.isoformat()}
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE alerts SET status = 'resolved', resolved_at = :t WHERE id = 1"),
            {"t": resolved_at},
        )
        queue_row(conn, "resolve", datetime.now(UTC), resolve)

    last = dispatcher.run_once()

    assert (last.delivered, last.refreshed) == (1, 0)
    assert active_alerts(alertmanager) == []
    dispatcher.close()


def test_a_silence_made_in_alertmanager_holds_the_alert_across_reposts(client, alertmanager):
    am = AlertmanagerNotifier(AlertmanagerConfig(SecretStr(alertmanager), site="plant-2"))
    assert am.send(message(station_id="cam-4"), client).delivered
    now = datetime.now(UTC)
    silence = {
        "matchers": [
            {"name": "alertname", "value": "BeltwatchCriticalRate", "isRegex": False},
            {"name": "station", "value": "cam-4", "isRegex": False},
        ],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "beltwatch tests",
        "comment": "lens cleaning at cam-4",
    }
    made = httpx.post(f"{alertmanager}/api/v2/silences", json=silence, timeout=5)
    assert made.status_code == 200, made.text
    silence_id = made.json()["silenceID"]

    assert am.refresh([message(station_id="cam-4").payload], client).delivered

    (held,) = active_alerts(alertmanager)
    assert held["status"]["state"] == "suppressed"
    assert held["status"]["silencedBy"] == [silence_id]
    assert held["labels"]["site"] == "plant-2"


def test_a_site_wide_alert_and_the_cli_test_with_its_resolve_are_accepted(client, alertmanager):
    am = AlertmanagerNotifier(AlertmanagerConfig(SecretStr(alertmanager)))
    site_wide = message(station_id=None, fingerprint="no_data@site", rule="no_data")
    assert am.send(site_wide, client).delivered
    now = datetime.now(UTC)
    test = replace(site_wide, event="test", payload=AlertNotice.test("alertmanager", now))
    assert am.send(test, client).delivered
    assert {a["labels"]["alertname"] for a in active_alerts(alertmanager)} == {
        "BeltwatchNoData",
        "BeltwatchTest",
    }

    # As `alerts test` does: resolved at once (endsAt = startsAt, which Alertmanager takes).
    resolved = replace(test.payload, event="resolve", resolved_at=now)
    assert am.send(replace(test, event="resolve", payload=resolved), client).delivered

    (left,) = active_alerts(alertmanager)
    assert left["labels"]["alertname"] == "BeltwatchNoData"
    assert "station" not in left["labels"]
