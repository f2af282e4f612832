"""Alertmanager: the API v2 body, auth, the status table, and the dispatcher's per-pass
refresh against a real PostgreSQL (a local HTTP server stands in for Alertmanager here;
test_alertmanager_real.py runs the real one)."""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from notifiers_support import (
    FAILURE_ROWS,
    assert_no_secret,
    dead_url,
    leak_surfaces,
    message,
    response_headers,
)
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import text

from monitor.core.settings import Route
from monitor.dispatch import Dispatcher
from monitor.notifiers import NotifierConfigError
from monitor.notifiers.alertmanager import (
    AlertmanagerConfig,
    AlertmanagerNotifier,
    alertname,
    render,
)
from monitor.notifiers.base import Outcome, Reason
from monitor.receivers import build_notifiers

API = "/api/v2/alerts"
NOW = datetime(2026, 11, 25, 6, 10, tzinfo=UTC)
TOKEN = "am-T0k3n-that-must-not-leak"


def notifier(url: str, **options: Any) -> AlertmanagerNotifier:
    config = AlertmanagerConfig(SecretStr(url), **options)
    return AlertmanagerNotifier(config, clock=NOW.timestamp)


def posted(httpserver: HTTPServer, index: int = 0) -> list[dict[str, Any]]:
    return httpserver.log[index][0].get_json()


def test_a_firing_alert_is_posted_active_for_four_passes(httpserver: HTTPServer, client):
    httpserver.expect_oneshot_request(API, method="POST").respond_with_data("", status=200)
    am = notifier(
        httpserver.url_for("/"), site="plant-2", dashboard_url="https://bw.example/alerts"
    )

    delivery = am.send(message(), client)

    assert (delivery.outcome, delivery.reason) == (Outcome.DELIVERED, Reason.OK)
    assert posted(httpserver) == [
        {
            "labels": {
                "alertname": "BeltwatchCriticalRate",
                "rule": "critical_rate",
                "severity": "critical",
                "site": "plant-2",
                "station": "cam-3",
            },
            "annotations": {
                "summary": "cam-3: 12.0 % critical (12 of 100) vs 3 % baseline, 4.0x — p < 1e-9",
                "description": "rate: 0.12\ncount: 12\nn: 100\np_value: 3.2e-10\n"
                "ci95: 0.07, 0.2\nprovisional_reference: no",
                "dashboard": "https://bw.example/alerts?alert=42&fingerprint=critical_rate%3Acam-3",
            },
            "startsAt": "2026-11-25T03:00:00Z",
            "endsAt": "2026-11-25T06:14:00Z",  # now + 4 x 60 s
            "generatorURL": "https://bw.example/alerts?alert=42&fingerprint=critical_rate%3Acam-3",
        }
    ]


def test_ends_at_follows_the_dispatch_interval():
    config = AlertmanagerConfig(SecretStr("http://127.0.0.1:9093"), pass_interval_s=300)
    assert render(message("repeat").payload, config, NOW)["endsAt"] == "2026-11-25T06:30:00Z"


def test_a_resolve_is_posted_once_ending_at_its_resolution_time(httpserver, client):
    httpserver.expect_oneshot_request(API).respond_with_data("", status=200)

    assert notifier(httpserver.url_for("/")).send(message("resolve"), client).delivered

    (alert,) = posted(httpserver)
    assert (alert["startsAt"], alert["endsAt"]) == ("2026-11-25T03:00:00Z", "2026-11-25T06:00:00Z")
    assert alert["labels"]["alertname"] == "BeltwatchCriticalRate"


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        ("critical_rate", "BeltwatchCriticalRate"),
        ("lens_drift", "BeltwatchLensDrift"),
        ("no_data", "BeltwatchNoData"),
        ("latency", "BeltwatchLatency"),
        ("test", "BeltwatchTest"),
    ],
)
def test_alertname_is_the_rule_in_camel_case_behind_a_prefix(rule, name):
    assert alertname(rule) == name


def test_a_site_wide_alert_has_no_station_label():
    site_wide = message(station_id=None, fingerprint="no_data@site", rule="no_data").payload
    config = AlertmanagerConfig(SecretStr("http://127.0.0.1:9093"), site="plant-2")
    labels = render(site_wide, config, NOW)["labels"]
    assert labels == {
        "alertname": "BeltwatchNoData",
        "rule": "no_data",
        "severity": "critical",
        "site": "plant-2",
    }


def test_the_description_leaves_out_the_reports_server_path():
    evidence = {"shift_sd": 4.2, "report": "/var/lib/beltwatch/reports/20261125T05Z/x.html"}
    config = AlertmanagerConfig(SecretStr("http://127.0.0.1:9093"))
    alert = render(message(evidence=evidence).payload, config, NOW)
    assert alert["annotations"]["description"] == "shift_sd: 4.2"
    assert "/var/lib" not in json.dumps(alert)


@pytest.mark.parametrize(
    ("report", "link"),
    [
        (
            "/srv/bw/reports/20261125T05Z/lens_drift-cam 3.html",
            "20261125T05Z/lens_drift-cam%203.html",
        ),
        ("/srv/bw/reports/../secrets/x.html", None),  # outside reports_dir: no link at all
        ("/etc/passwd", None),
    ],
)
def test_a_drift_report_is_linked_under_reports_url_never_by_its_path(report, link):
    config = AlertmanagerConfig(
        SecretStr("http://127.0.0.1:9093"),
        reports_url="https://bw.example/reports/",
        reports_dir=Path("/srv/bw/reports"),
    )
    alert = render(message(evidence={"report": report}).payload, config, NOW)
    expected = f"https://bw.example/reports/{link}" if link else None
    assert alert["annotations"].get("report") == expected
    assert "/srv/" not in json.dumps(alert) and "/etc/" not in json.dumps(alert)


def test_without_reports_url_a_report_has_no_link():
    config = AlertmanagerConfig(SecretStr("http://127.0.0.1:9093"), reports_dir=Path("/srv/r"))
    alert = render(message(evidence={"report": "/srv/r/x.html"}).payload, config, NOW)
    assert "report" not in alert["annotations"]


def test_a_route_prefix_is_kept_and_user_pass_becomes_basic_auth(httpserver, client):
    httpserver.expect_oneshot_request(f"/am{API}").respond_with_data("", status=200)
    url = httpserver.url_for("/am/").replace("://", "://ops:p%40ss-w0rd@")

    assert notifier(url).send(message(), client).delivered

    request = httpserver.log[0][0]
    expected = base64.b64encode(b"ops:p@ss-w0rd").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


def test_a_token_is_sent_as_a_bearer(httpserver, client):
    httpserver.expect_oneshot_request(API).respond_with_data("", status=200)

    assert notifier(httpserver.url_for("/"), token=TOKEN).send(message(), client).delivered

    assert httpserver.log[0][0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "reason", "retry_after"),
    [pytest.param(200, {}, Outcome.DELIVERED, Reason.OK, None, id="200"), *FAILURE_ROWS],
)
def test_status_table(httpserver, client, status, headers, outcome, reason, retry_after):
    httpserver.expect_oneshot_request(API).respond_with_data(
        "", status=status, headers=response_headers(headers)
    )
    am = AlertmanagerNotifier(AlertmanagerConfig(SecretStr(httpserver.url_for("/"))))

    delivery = am.send(message(), client)

    assert (delivery.outcome, delivery.reason, delivery.status_code) == (outcome, reason, status)
    if retry_after is None:
        assert delivery.retry_after_s is None
    else:
        assert delivery.retry_after_s == pytest.approx(retry_after, abs=2)


def test_a_refused_connection_is_retried(client):
    delivery = notifier(dead_url("/")).send(message(), client)
    assert (delivery.outcome, delivery.reason) == (Outcome.RETRY, Reason.CONNECTION)


@pytest.mark.parametrize(
    ("options", "setting", "says"),
    [
        ({"url": SecretStr("")}, "alertmanager_url", "missing"),
        ({"url": SecretStr("ftp://am.example/s3cr3t")}, "alertmanager_url", "http"),
        (
            {"url": SecretStr("http://ops:s3cr3t@am.example:9093"), "token": SecretStr(TOKEN)},
            "alertmanager_token",
            "not both",
        ),
        ({"token": SecretStr(" ")}, "alertmanager_token", "missing"),
        ({"site": ""}, "site_name", "empty"),
        ({"pass_interval_s": 0}, "dispatch_interval_s", "positive"),
    ],
)
def test_a_bad_setting_is_refused_at_build_naming_it(options, setting, says):
    arguments = {"url": SecretStr("http://am.example:9093"), **options}
    with pytest.raises(NotifierConfigError) as caught:
        AlertmanagerConfig(**arguments)
    assert caught.value.setting == setting and says in caught.value.message
    assert_no_secret([str(caught.value)], ["s3cr3t", TOKEN])


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_url_password_and_token_never_reach_a_detail_the_config_or_a_log(
    httpserver, client, caplog, auth
):
    caplog.set_level(logging.DEBUG)
    url = httpserver.url_for("/")
    basic = base64.b64encode(b"ops:Pa55-w0rd-s3cr3t").decode()
    if auth == "basic":
        url, options = url.replace("://", "://ops:Pa55-w0rd-s3cr3t@"), {}
        secrets = ["Pa55-w0rd-s3cr3t", basic]
    else:
        options, secrets = {"token": TOKEN}, [TOKEN]
    echo = f"bad credentials for {url}: {' '.join(secrets)}"
    httpserver.expect_request(API).respond_with_data(echo, status=401)
    am = notifier(url, **options)

    delivery = am.send(message(), client)
    refreshed = am.refresh([message().payload], client)

    assert delivery.detail.startswith("alertmanager: 401 bad credentials for <")
    assert refreshed.reason is Reason.AUTH
    surfaces = [*leak_surfaces(delivery, am.config, caplog), refreshed.detail]
    assert_no_secret(surfaces, secrets)


def test_a_refresh_posts_every_alert_in_batches_of_64(httpserver, client):
    httpserver.expect_request(API).respond_with_data("", status=200)
    notices = [replace(message().payload, station_id=f"cam-{i}") for i in range(70)]

    assert notifier(httpserver.url_for("/")).refresh(notices, client).delivered

    sizes = [len(posted(httpserver, index)) for index in range(len(httpserver.log))]
    assert sizes == [64, 6]
    assert {alert["endsAt"] for index in (0, 1) for alert in posted(httpserver, index)} == {
        "2026-11-25T06:14:00Z"
    }


def test_a_failed_refresh_batch_stops_the_refresh_with_its_verdict(httpserver, client):
    httpserver.expect_request(API).respond_with_data("", status=503)
    notices = [replace(message().payload, station_id=f"cam-{i}") for i in range(70)]

    delivery = notifier(httpserver.url_for("/")).refresh(notices, client)

    assert (delivery.outcome, delivery.reason) == (Outcome.RETRY, Reason.SERVER_ERROR)
    assert len(httpserver.log) == 1


# -- the dispatcher's refresh, against the real outbox ------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def open_alert(
    engine, alert_id: int, station: str | None, *, notified: bool = True, rule: str = "lens_drift"
) -> None:
    """A firing episode as the alert manager leaves it (last_notified_at empty: its trigger
    was held back by a silence)."""
    fingerprint = f"{rule}:{station}" if station else f"{rule}@site"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (id, fingerprint, rule, station_id, severity, status, "
                "started_at, last_evaluated_at, last_notified_at, summary, evidence) VALUES "
                "(:id, :fp, :rule, :st, 'warning', 'firing', :start, :hour, :notified, 's', "
                "'{\"shift_sd\": 4.2}')"
            ),
            {
                "id": alert_id,
                "fp": fingerprint,
                "rule": rule,
                "st": station,
                "start": NOW - timedelta(hours=3),
                "hour": NOW - timedelta(hours=1),
                "notified": NOW - timedelta(hours=3) if notified else None,
            },
        )


@pytest.fixture
def am_settings(settings, httpserver: HTTPServer):
    return settings.model_copy(
        update={"alertmanager_url": SecretStr(httpserver.url_for("/")), "webhook_url": None}
    )


def refreshed_stations(httpserver: HTTPServer) -> list[str | None]:
    return [
        alert["labels"].get("station")
        for request, _ in httpserver.log
        for alert in request.get_json()
    ]


def test_each_pass_reposts_the_firing_alerts_whose_trigger_went_out(
    engine, am_settings, httpserver: HTTPServer
):
    httpserver.expect_request(API).respond_with_data("", status=200)
    open_alert(engine, 1, "cam-1")
    open_alert(engine, 2, None, rule="no_data")
    open_alert(engine, 3, "cam-3", notified=False)  # held back by a silence: not announced
    dispatcher = Dispatcher(engine, build_notifiers(am_settings), am_settings, clock=Clock(NOW))

    first = dispatcher.run_once()
    second = dispatcher.run_once()

    assert (first.refreshed, second.refreshed, first.attempted) == (2, 2, 0)
    assert refreshed_stations(httpserver) == ["cam-1", None, "cam-1", None]


def test_an_alert_routed_elsewhere_is_not_refreshed(engine, am_settings, httpserver: HTTPServer):
    httpserver.expect_request(API).respond_with_data("", status=200)
    routes = [Route(station="cam-2", channels=["webhook"])]
    routed = am_settings.model_copy(update={"alert_routes": routes})
    open_alert(engine, 1, "cam-1")
    open_alert(engine, 2, "cam-2")
    notifiers = {"alertmanager": build_notifiers(am_settings)["alertmanager"]}

    Dispatcher(engine, notifiers, routed, clock=Clock(NOW)).run_once()

    assert refreshed_stations(httpserver) == ["cam-1"]


def test_an_alert_being_resolved_meanwhile_is_left_out_of_the_refresh(
    engine, am_settings, httpserver: HTTPServer
):
    """Its resolve is queued when the resolving transaction commits: a re-post after it
    would re-open the alert in Alertmanager."""
    httpserver.expect_request(API).respond_with_data("", status=200)
    open_alert(engine, 1, "cam-1")
    open_alert(engine, 2, "cam-2")
    dispatcher = Dispatcher(engine, build_notifiers(am_settings), am_settings, clock=Clock(NOW))

    with engine.begin() as resolving:
        resolving.execute(text("UPDATE alerts SET status = 'resolved' WHERE id = 2"))
        started = time.monotonic()
        stats = dispatcher.run_once()

    assert time.monotonic() - started < 5  # skipped, not waited for
    assert stats.refreshed == 1
    assert refreshed_stations(httpserver) == ["cam-1"]


def test_a_failed_refresh_is_reported_not_queued(engine, am_settings, httpserver: HTTPServer):
    httpserver.expect_request(API).respond_with_data("down", status=503)
    open_alert(engine, 1, "cam-1")
    dispatcher = Dispatcher(engine, build_notifiers(am_settings), am_settings, clock=Clock(NOW))

    stats = dispatcher.run_once()

    assert stats.refreshed == 0
    assert stats.refresh_failures == ["alertmanager: server_error: alertmanager: 503 down"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM notifications")).scalar_one() == 0
