"""PagerDuty Events API v2: the events PagerDuty receives and what its answers mean."""

from __future__ import annotations

import logging
import threading
import time
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
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.notifiers import NotifierConfigError, PagerDutyConfig, PagerDutyNotifier
from monitor.notifiers.base import Outcome, Reason
from monitor.notifiers.pagerduty import EVENTS_URL, render

KEY = "R0ut1ngK3yR0ut1ngK3yR0ut1ngK3y32"  # 32 characters, as PagerDuty's integration keys
PATH = "/v2/enqueue"
ACCEPTED = {"status": "success", "message": "Event processed", "dedup_key": "x"}


def notifier(httpserver: HTTPServer, **options: Any) -> PagerDutyNotifier:
    return PagerDutyNotifier(PagerDutyConfig(KEY, url=httpserver.url_for(PATH), **options))


def test_trigger_is_one_json_event_with_the_key_in_the_body(httpserver: HTTPServer, client):
    httpserver.expect_oneshot_request(
        PATH, method="POST", headers={"Content-Type": "application/json"}
    ).respond_with_json(ACCEPTED, status=202)
    pagerduty = notifier(httpserver, site="plant-7", dashboard_url="https://bw.example/alerts")

    delivery = pagerduty.send(message(), client)

    assert (delivery.outcome, delivery.reason, delivery.status_code) == (
        Outcome.DELIVERED,
        Reason.OK,
        202,
    )
    assert delivery.response == ACCEPTED
    request, _ = httpserver.log[0]
    assert "Authorization" not in request.headers
    body = request.get_json()
    assert body == render(message(), pagerduty.config)
    link = "https://bw.example/alerts?alert=42&fingerprint=critical_rate%3Acam-3"
    assert body == {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "beltwatch/critical_rate:cam-3/42",
        "payload": {
            "summary": "cam-3: 12.0 % critical (12 of 100) vs 3 % baseline, 4.0x — p < 1e-9",
            "source": "beltwatch",
            "severity": "critical",
            "timestamp": "2026-11-25T06:05:00Z",
            "component": "cam-3",
            "group": "plant-7",
            "class": "critical_rate",
            "custom_details": {
                "summary": "cam-3: 12.0 % critical (12 of 100) vs 3 % baseline, 4.0x — p < 1e-9",
                "rule": "critical_rate",
                "station": "cam-3",
                "fingerprint": "critical_rate:cam-3",
                "alert_id": 42,
                "event": "trigger",
                "hour": "2026-11-25T05:00:00+00:00",
                "started_at": "2026-11-25T03:00:00+00:00",
                "evidence": message().payload.evidence,
            },
        },
        "client": "beltwatch",
        "client_url": "https://bw.example/alerts",
        "links": [{"href": link, "text": "This alert in the beltwatch dashboard"}],
    }


def test_trigger_repeat_and_resolve_carry_the_same_dedup_key(httpserver, client):
    for _ in range(3):
        httpserver.expect_ordered_request(PATH).respond_with_json(ACCEPTED, status=202)
    pagerduty = notifier(httpserver)

    for event in ("trigger", "repeat", "resolve"):
        assert pagerduty.send(message(event), client).delivered

    bodies = [request.get_json() for request, _ in httpserver.log]
    assert [b["event_action"] for b in bodies] == ["trigger", "trigger", "resolve"]
    assert {b["dedup_key"] for b in bodies} == {"beltwatch/critical_rate:cam-3/42"}
    assert bodies[2] == {
        "routing_key": KEY,
        "dedup_key": "beltwatch/critical_rate:cam-3/42",
        "event_action": "resolve",
    }


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("critical", "critical"), ("warning", "warning"), ("info", "info"), ("bogus", "error")],
)
def test_severity_is_mapped_to_pagerdutys(severity, expected):
    config = PagerDutyConfig(KEY)
    assert render(message(severity=severity), config)["payload"]["severity"] == expected


def test_long_summaries_and_keys_are_bounded_the_same_way_every_time():
    config = PagerDutyConfig(KEY)
    station = "s" * 400
    long = message(summary="ö" * 3000, station_id=station, fingerprint=f"critical_rate:{station}")
    body, again = (
        render(long, config),
        render(
            message("resolve", station_id=station, fingerprint=long.payload.fingerprint), config
        ),
    )

    assert len(body["payload"]["summary"]) == 1024 and body["payload"]["summary"].endswith("…")
    assert len(body["dedup_key"]) == 255 and body["dedup_key"] == again["dedup_key"]
    assert (
        body["dedup_key"]
        != render(
            message(alert_id=43, station_id=station, fingerprint=long.payload.fingerprint), config
        )["dedup_key"]
    )


def test_a_site_wide_alert_names_the_site_as_component():
    assert render(message(station_id=None), PagerDutyConfig(KEY))["payload"]["component"] == "site"


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "reason", "retry_after"),
    [pytest.param(202, {}, Outcome.DELIVERED, Reason.OK, None, id="202"), *FAILURE_ROWS],
)
def test_status_table(httpserver, client, status, headers, outcome, reason, retry_after):
    httpserver.expect_oneshot_request(PATH).respond_with_json(
        ACCEPTED, status=status, headers=response_headers(headers)
    )

    delivery = notifier(httpserver).send(message(), client)

    assert (delivery.outcome, delivery.reason, delivery.status_code) == (outcome, reason, status)
    if retry_after is None:
        assert delivery.retry_after_s is None
    else:
        assert delivery.retry_after_s == pytest.approx(retry_after, abs=2)


def test_an_invalid_event_is_not_retried_and_says_why(httpserver, client):
    invalid = {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["'payload.summary' is missing or blank"],
    }
    httpserver.expect_oneshot_request(PATH).respond_with_json(invalid, status=400)

    delivery = notifier(httpserver).send(message(), client)

    assert (delivery.outcome, delivery.reason) == (Outcome.GIVE_UP, Reason.REJECTED)
    assert delivery.detail == (
        "pagerduty: 400 Event object is invalid 'payload.summary' is missing or blank"
    )


def test_a_slow_answer_is_a_timeout_to_retry(httpserver, impatient_client):
    answered = threading.Event()

    def slow(request: Request) -> Response:
        time.sleep(0.5)
        answered.set()
        return Response("{}", status=202)

    httpserver.expect_oneshot_request(PATH).respond_with_handler(slow)

    delivery = notifier(httpserver).send(message(), impatient_client)

    assert (delivery.outcome, delivery.reason) == (Outcome.RETRY, Reason.TIMEOUT)
    assert answered.wait(5)  # the late answer must not land in the next test's log


def test_a_refused_connection_is_retried(client):
    pagerduty = PagerDutyNotifier(PagerDutyConfig(KEY, url=dead_url(PATH)))

    delivery = pagerduty.send(message(), client)

    assert (delivery.outcome, delivery.reason) == (Outcome.RETRY, Reason.CONNECTION)


@pytest.mark.parametrize(
    ("options", "setting", "says"),
    [
        ({"routing_key": None}, "pagerduty_routing_key", "missing"),
        ({"routing_key": "  "}, "pagerduty_routing_key", "missing"),
        ({"routing_key": "short-key"}, "pagerduty_routing_key", "32-character"),
        ({"url": "http://events.pagerduty.com/v2/enqueue"}, "pagerduty_url", "https://"),
        ({"url": "events.pagerduty.com"}, "pagerduty_url", "https://"),
        ({"source": ""}, "pagerduty_source", "empty"),
        ({"site": " "}, "site_name", "empty"),
        ({"dashboard_url": "bw.example"}, "dashboard_url", "http"),
        ({"timeout_s": 0}, "pagerduty_timeout_s", "positive"),
    ],
)
def test_a_bad_setting_is_refused_at_build_naming_it(options, setting, says):
    arguments = {"routing_key": KEY, **options}
    with pytest.raises(NotifierConfigError) as caught:
        PagerDutyConfig(**arguments)

    assert caught.value.setting == setting and says in caught.value.message
    assert_no_secret([str(caught.value)], [KEY, "short-key"])


def test_the_default_endpoint_is_pagerdutys():
    assert PagerDutyConfig(KEY).url == EVENTS_URL == "https://events.pagerduty.com/v2/enqueue"


def test_the_routing_key_never_reaches_a_detail_the_config_repr_or_a_log(
    httpserver, client, caplog
):
    caplog.set_level(logging.DEBUG)
    echo = {"status": "invalid event", "message": f"routing_key {KEY} is disabled"}
    httpserver.expect_oneshot_request(PATH).respond_with_json(echo, status=400)
    pagerduty = notifier(httpserver)

    delivery = pagerduty.send(message(), client)

    assert delivery.detail == "pagerduty: 400 routing_key <redacted> is disabled"
    assert_no_secret(leak_surfaces(delivery, pagerduty.config, caplog), [KEY])


def test_a_blank_summary_still_makes_a_valid_event():
    body = render(message(summary="  "), PagerDutyConfig(KEY))
    assert body["payload"]["summary"] == "cam-3: critical_rate"


def test_nan_evidence_still_sends_valid_json(httpserver, client):
    httpserver.expect_oneshot_request(PATH).respond_with_json(ACCEPTED, status=202)

    delivery = notifier(httpserver).send(message(evidence={"shift": float("nan")}), client)

    assert delivery.delivered
    details = httpserver.log[0][0].get_json()["payload"]["custom_details"]
    assert details["evidence"] == {"shift": "nan"}


def test_the_dedup_key_of_an_episode_is_what_earlier_releases_sent():
    """rule:station ('*' for the site) and the episode id: an incident opened before the
    site's fingerprint became `rule@site` is still resolved by the same key."""
    config = PagerDutyConfig(KEY)
    site = message(station_id=None, fingerprint="critical_rate@site")
    assert render(site, config)["dedup_key"] == "beltwatch/critical_rate:*/42"
    assert render(message(), config)["dedup_key"] == "beltwatch/critical_rate:cam-3/42"
