"""The dispatcher against a real PostgreSQL outbox and real local HTTP receivers."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text
from typer.testing import CliRunner
from werkzeug import Request, Response

from monitor.cli import app
from monitor.core.queries import notifications as outbox
from monitor.core.settings import load_settings
from monitor.dispatch import Dispatcher
from monitor.receivers import build_notifiers

NOW = datetime(2026, 11, 25, 9, 5, tzinfo=UTC)
SLACK_SECRET = "T000/B000/s3cr3t-slack-token"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def receiver_settings(settings, httpserver: HTTPServer):
    return settings.model_copy(
        update={
            "webhook_url": load_settings(webhook_url=httpserver.url_for("/hook")).webhook_url,
            "slack_webhook_url": load_settings(
                slack_webhook_url=httpserver.url_for(f"/services/{SLACK_SECRET}")
            ).slack_webhook_url,
            "notify_backoff_initial_s": 10.0,
            "notify_max_attempts": 3,
            "notify_timeout_s": 0.5,
        }
    )


def queue(
    engine,
    channel: str = "webhook",
    event: str = "trigger",
    *,
    alert_id: int = 1,
    created_at: datetime = NOW,
) -> int:
    payload = {  # as the alert manager writes it (AlertNotice.to_json)
        "alert_id": alert_id,
        "fingerprint": "critical_rate:S1",
        "rule": "critical_rate",
        "station_id": "S1",
        "severity": "critical",
        "event": event,
        "status": "resolved" if event == "resolve" else "firing",
        "summary": "S1: 14 % critical (42 of 300) vs 3 % baseline",
        "evidence": {"rate": 0.14},
        "hour": "2026-11-25T08:00:00+00:00",
        "started_at": "2026-11-25T08:00:00+00:00",
        "resolved_at": "2026-11-25T10:00:00+00:00" if event == "resolve" else None,
    }
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (id, fingerprint, rule, station_id, severity, status, "
                "started_at, summary) VALUES (:id, :fp, 'critical_rate', 'S1', "
                "'critical', 'firing', :t, 's') ON CONFLICT DO NOTHING"
            ),
            {"id": alert_id, "fp": f"critical_rate:S{alert_id}", "t": NOW},
        )
        return conn.execute(
            text(
                "INSERT INTO notifications (alert_id, channel, event, hour, payload, created_at, "
                "next_attempt_at) VALUES (:a, :c, :e, :h, :p, :t, :t) RETURNING id"
            ),
            {
                "a": alert_id,
                "c": channel,
                "e": event,
                "h": NOW - timedelta(hours=1) + timedelta(minutes=len(event)),
                "p": json.dumps(payload),
                "t": created_at,
            },
        ).scalar_one()


def row(engine, notification_id: int) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text("SELECT * FROM notifications WHERE id = :id"), {"id": notification_id}
            )
            .mappings()
            .one()
        )


def installation(engine) -> str:
    with engine.connect() as conn:
        return outbox.installation_id(conn)


def dispatcher(engine, settings, clock: Clock) -> Dispatcher:
    return Dispatcher(engine, build_notifiers(settings), settings, clock=clock)


def test_delivers_and_marks_the_row(engine, receiver_settings, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=200)
    nid = queue(engine)
    stats = dispatcher(engine, receiver_settings, Clock(NOW)).run_once()
    assert (stats.delivered, stats.retrying, stats.failed) == (1, 0, 0)
    got = row(engine, nid)
    assert got["status"] == "delivered" and got["attempts"] == 1 and got["delivered_at"] == NOW
    ((request, _),) = httpserver.log
    body = request.get_json()
    assert body["version"] == "4" and body["status"] == "firing"
    assert request.headers["webhook-id"] == f"msg_{installation(engine)}_{nid}"


def test_server_error_then_success(engine, receiver_settings, httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request("/hook").respond_with_data("", status=200)
    nid = queue(engine)
    clock = Clock(NOW)
    disp = dispatcher(engine, receiver_settings, clock)
    assert disp.run_once().retrying == 1
    waiting = row(engine, nid)
    assert waiting["status"] == "pending" and waiting["attempts"] == 1
    assert "server_error" in waiting["last_error"]
    wait = waiting["next_attempt_at"] - NOW
    assert timedelta(seconds=5) <= wait <= timedelta(seconds=10)  # 10 s backoff, jittered
    assert disp.run_once().attempted == 0  # not due yet
    clock.now = waiting["next_attempt_at"]
    assert disp.run_once().delivered == 1
    assert row(engine, nid)["attempts"] == 2
    first, second = (r.headers["webhook-id"] for r, _ in httpserver.log)
    assert first == second  # the receiver can tell it is the same message


def test_429_retry_after_is_honoured(engine, receiver_settings, httpserver: HTTPServer) -> None:
    httpserver.expect_request(f"/services/{SLACK_SECRET}").respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "120"}
    )
    nid = queue(engine, channel="slack")
    dispatcher(engine, receiver_settings, Clock(NOW)).run_once()
    got = row(engine, nid)
    assert got["status"] == "pending" and got["next_attempt_at"] >= NOW + timedelta(seconds=120)


def test_timeout_is_retried(engine, receiver_settings, httpserver: HTTPServer) -> None:
    answered = threading.Event()

    def slow(request: Request) -> Response:
        time.sleep(1.0)  # the client gives up after 0.5 s
        answered.set()
        return Response("late")

    httpserver.expect_request("/hook").respond_with_handler(slow)
    nid = queue(engine)
    stats = dispatcher(engine, receiver_settings, Clock(NOW)).run_once()
    assert stats.retrying == 1 and "timeout" in row(engine, nid)["last_error"]
    assert answered.wait(5)  # let the late answer finish before the next test


def test_400_is_not_retried(engine, receiver_settings, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("bad payload", status=400)
    nid = queue(engine)
    clock = Clock(NOW)
    disp = dispatcher(engine, receiver_settings, clock)
    assert disp.run_once().failed == 1
    clock.now = NOW + timedelta(days=1)
    assert disp.run_once().attempted == 0
    got = row(engine, nid)
    assert got["status"] == "failed" and "rejected" in got["last_error"]
    assert len(httpserver.log) == 1


def test_gives_up_after_max_attempts_and_when_too_old(
    engine, receiver_settings, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    nid = queue(engine)
    clock = Clock(NOW)
    disp = dispatcher(engine, receiver_settings, clock)
    for _ in range(3):
        disp.run_once()
        clock.now += timedelta(hours=1)
    got = row(engine, nid)
    assert got["status"] == "failed" and got["attempts"] == 3
    assert "after 3 attempts" in got["last_error"]

    old = queue(engine, created_at=NOW - timedelta(days=2), alert_id=2)
    disp.run_once()
    assert row(engine, old)["status"] == "failed" and "older than" in row(engine, old)["last_error"]


def test_channel_without_receiver_fails_visibly(engine, receiver_settings) -> None:
    nid = queue(engine, channel="opsgenie")
    dispatcher(engine, receiver_settings, Clock(NOW)).run_once()
    got = row(engine, nid)
    assert got["status"] == "failed" and "no receiver configured" in got["last_error"]


def test_a_row_whose_payload_cannot_be_read_fails_without_a_request(
    engine, receiver_settings, httpserver: HTTPServer
) -> None:
    nid = queue(engine)
    with engine.begin() as conn:
        conn.execute(text('UPDATE notifications SET payload = \'{"summary": "no fingerprint"}\''))
    stats = dispatcher(engine, receiver_settings, Clock(NOW)).run_once()
    got = row(engine, nid)
    assert got["status"] == "failed" and got["attempts"] == 1  # not retried: it never will be
    assert got["last_error"] == (
        "unreadable payload: payload lacks alert_id, fingerprint, rule, severity, event, "
        "hour, started_at"
    )
    assert stats.by_reason["unreadable"] == 1
    assert httpserver.log == []


def test_trigger_then_resolve_carry_the_same_dedup_key(
    engine, receiver_settings, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("")
    queue(engine, event="trigger")
    queue(engine, event="resolve")
    dispatcher(engine, receiver_settings, Clock(NOW)).run_once()
    bodies = [r.get_json() for r, _ in httpserver.log]
    assert [b["status"] for b in bodies] == ["firing", "resolved"]
    assert bodies[0]["groupKey"] == bodies[1]["groupKey"]
    assert bodies[0]["alerts"][0]["fingerprint"] == bodies[1]["alerts"][0]["fingerprint"]


def test_two_dispatchers_send_each_row_once(
    engine, receiver_settings, httpserver: HTTPServer
) -> None:
    def slowish(request: Request) -> Response:
        time.sleep(0.02)
        return Response("")

    httpserver.expect_request("/hook").respond_with_handler(slowish)
    ids = [queue(engine, alert_id=i) for i in range(1, 31)]
    workers = [dispatcher(engine, receiver_settings, Clock(NOW)) for _ in range(2)]
    results = []
    threads = [threading.Thread(target=lambda d=d: results.append(d.run_once())) for d in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = [r.headers["webhook-id"] for r, _ in httpserver.log]
    mine = installation(engine)
    assert sorted(sent) == sorted(f"msg_{mine}_{i}" for i in ids)  # each once, none twice
    assert sum(r.delivered for r in results) == 30
    assert all(r.delivered > 0 for r in results)  # both really worked


def test_crash_between_send_and_commit_resends_with_the_same_keys(
    engine, receiver_settings, httpserver: HTTPServer, monkeypatch
) -> None:
    httpserver.expect_request("/hook").respond_with_data("")
    nid = queue(engine)
    disp = dispatcher(engine, receiver_settings, Clock(NOW))
    real = disp._deliver

    def crash_after_send(conn, row, stats):
        real(conn, row, stats)
        raise RuntimeError("process killed before the commit")

    monkeypatch.setattr(disp, "_deliver", crash_after_send)
    with pytest.raises(RuntimeError):
        disp.run_once()
    assert row(engine, nid)["status"] == "pending"  # the update never committed
    monkeypatch.undo()
    assert disp.run_once().delivered == 1
    first, second = (r for r, _ in httpserver.log)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.get_json()["groupKey"] == second.get_json()["groupKey"]


def test_secrets_never_reach_logs_or_last_error(
    engine, receiver_settings, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request(f"/services/{SLACK_SECRET}").respond_with_data(
        f"no_service {SLACK_SECRET}", status=404
    )
    nid = queue(engine, channel="slack")
    with caplog.at_level(logging.DEBUG):
        dispatcher(engine, receiver_settings, Clock(NOW)).run_once()
    got = row(engine, nid)
    assert got["status"] == "failed"
    assert "s3cr3t-slack-token" not in got["last_error"]
    ours = [r.getMessage() for r in caplog.records if r.name != "werkzeug"]  # not the test server
    assert ours and not any("s3cr3t-slack-token" in message for message in ours)


def test_alerts_test_command_sends_and_prints_the_answer(
    db_url, settings, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("", status=202)
    env = {
        "BELTWATCH_DATABASE_URL": db_url.render_as_string(hide_password=False),
        "BELTWATCH_WEBHOOK_URL": httpserver.url_for("/hook"),
    }
    result = CliRunner().invoke(app, ["alerts", "test", "--channel", "webhook"], env=env)
    assert result.exit_code == 0, result.output
    assert "webhook test: delivered (ok), HTTP 202" in result.output
    assert "webhook resolve: delivered" in result.output  # the test incident is closed again
    assert [r.get_json()["status"] for r, _ in httpserver.log] == ["firing", "resolved"]
    # The test and its resolve are two messages: a deduplicating receiver keeps both, and
    # a second run sends new ids again.
    assert (
        CliRunner().invoke(app, ["alerts", "test", "--channel", "webhook"], env=env).exit_code == 0
    )
    ids = [r.headers["webhook-id"] for r, _ in httpserver.log]
    assert len(ids) == len(set(ids)) == 4

    result = CliRunner().invoke(app, ["alerts", "test", "--channel", "pagerduty"], env=env)
    assert result.exit_code == 1 and "no receiver configured" in result.output
    env["BELTWATCH_SLACK_WEBHOOK_URL"] = "ftp://nope"
    result = CliRunner().invoke(app, ["alerts", "test", "--channel", "slack"], env=env)
    assert result.exit_code == 2 and "slack_webhook_url" in result.output


def test_a_resolve_never_overtakes_its_trigger(
    engine, receiver_settings, httpserver: HTTPServer
) -> None:
    """Trigger and resolve queued together (a catch-up); the trigger's first attempt gets a
    500: the resolve waits, and goes right after the trigger is delivered."""
    httpserver.expect_ordered_request("/hook").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request("/hook").respond_with_data("", status=200)
    httpserver.expect_ordered_request("/hook").respond_with_data("", status=200)
    trigger = queue(engine, event="trigger")
    resolve = queue(engine, event="resolve")
    clock = Clock(NOW)
    d = dispatcher(engine, receiver_settings, clock)
    first = d.run_once()
    assert (first.delivered, first.retrying) == (0, 1)  # the trigger failed, the resolve waited
    assert row(engine, resolve)["attempts"] == 0
    clock.now = NOW + timedelta(hours=1)
    d.run_once()
    statuses = [r.get_json()["status"] for r, _ in httpserver.log]
    assert statuses == ["firing", "firing", "resolved"]
    assert row(engine, trigger)["status"] == row(engine, resolve)["status"] == "delivered"


def test_the_order_holds_per_alert_and_channel_only(
    engine, receiver_settings, httpserver: HTTPServer
) -> None:
    """Another alert's messages do not wait behind a failing one."""
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    queue(engine, event="trigger", alert_id=1)
    blocked = queue(engine, event="resolve", alert_id=1)
    other = queue(engine, event="trigger", alert_id=2)
    with engine.begin() as conn:  # alert 1's trigger is being retried later
        conn.execute(
            text(
                "UPDATE notifications SET next_attempt_at = :t "
                "WHERE alert_id = 1 AND event = 'trigger'"
            ),
            {"t": NOW + timedelta(hours=1)},
        )
    dispatcher(engine, receiver_settings, Clock(NOW)).run_once()
    assert row(engine, other)["status"] == "delivered"
    assert row(engine, blocked)["status"] == "pending"


def test_message_ids_are_unique_across_installations(
    engine, receiver_settings, httpserver: HTTPServer, db_url
) -> None:
    """Two databases (two sites, or a rebuilt one) number their rows alike; their
    webhook-ids still differ, because each carries its installation's random id."""
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    nid = queue(engine)
    dispatcher(engine, receiver_settings, Clock(NOW)).run_once()
    with engine.begin() as conn:  # "rebuild": a new installation id, the same row ids
        conn.execute(text("DELETE FROM installation"))
        conn.execute(
            text("UPDATE notifications SET status = 'pending' WHERE id = :id"), {"id": nid}
        )
    dispatcher(engine, receiver_settings, Clock(NOW)).run_once()
    first, second = (r.headers["webhook-id"] for r, _ in httpserver.log)
    assert first != second and first.endswith(f"_{nid}") and second.endswith(f"_{nid}")


def test_a_429_pauses_the_whole_channel_until_retry_after(
    engine, receiver_settings, httpserver: HTTPServer
) -> None:
    """Slack-style rate limit: the channel's other queued messages wait too, and then go
    out in their order, instead of going at once and being refused or reordered."""
    httpserver.expect_ordered_request("/hook").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "120"}
    )
    for _ in range(3):
        httpserver.expect_ordered_request("/hook").respond_with_data("", status=200)
    ids = [queue(engine, alert_id=i) for i in (1, 2, 3)]
    clock = Clock(NOW)
    d = dispatcher(engine, receiver_settings, clock)
    first = d.run_once()
    assert (first.attempted, first.retrying) == (1, 1)
    assert all(row(engine, i)["next_attempt_at"] >= NOW + timedelta(seconds=120) for i in ids)
    clock.now = NOW + timedelta(seconds=121)
    assert d.run_once().delivered == 3
    sent = [int(r.headers["webhook-id"].rsplit("_", 1)[1]) for r, _ in httpserver.log]
    assert sent == [ids[0], *ids]  # the refused one again first, then the others in order
    assert [row(engine, i)["status"] for i in ids] == ["delivered"] * 3


def test_alerts_list_and_send_show_and_drain_the_outbox(
    engine, db_url, httpserver: HTTPServer
) -> None:
    """`alerts list` shows what waits, `alerts send` delivers what is due once and says
    what became of each row; a refused row is failed, listed with its reason, exit 1."""
    httpserver.expect_ordered_request("/hook").respond_with_data("", status=200)
    httpserver.expect_ordered_request("/hook").respond_with_data("bad payload", status=400)
    first = queue(engine, alert_id=1)
    second = queue(engine, alert_id=2)
    with engine.begin() as conn:  # due now, whatever the test's fixed clock says
        conn.execute(text("UPDATE notifications SET next_attempt_at = now(), created_at = now()"))
    env = {
        "BELTWATCH_DATABASE_URL": db_url.render_as_string(hide_password=False),
        "BELTWATCH_WEBHOOK_URL": httpserver.url_for("/hook"),
        "COLUMNS": "200",
    }
    listed = CliRunner().invoke(app, ["alerts", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "firing alerts" in listed.output and "critical_rate" in listed.output
    assert listed.output.split("notifications pending or failed")[1].count("pending") == 2

    sent = CliRunner().invoke(app, ["alerts", "send"], env=env)
    assert sent.exit_code == 1, sent.output  # one row failed for good
    assert "1 delivered, 0 to retry, 1 failed" in sent.output
    assert row(engine, first)["status"] == "delivered"
    assert row(engine, second)["status"] == "failed"

    listed = CliRunner().invoke(app, ["alerts", "list"], env=env)
    assert "failed" in listed.output and "400" in listed.output
    assert "pending" not in listed.output.split("notifications pending or failed")[1]

    again = CliRunner().invoke(app, ["alerts", "send"], env=env)
    assert again.exit_code == 0 and "(nothing due)" in again.output
