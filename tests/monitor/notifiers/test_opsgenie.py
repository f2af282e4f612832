"""Opsgenie Alert API (and Jira Service Management's copy of it): create, close by alias."""

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

from monitor.notifiers import NotifierConfigError, OpsgenieConfig, OpsgenieNotifier
from monitor.notifiers.base import Outcome, Reason
from monitor.notifiers.opsgenie import OPSGENIE_EU, render, request_url

KEY = "eb243592-faa2-4ba2-a551q-1afdf565c889"
ACCEPTED = {"result": "Request will be processed", "took": 0.302, "requestId": "43a29c5c-3dbf"}
CLOSE_PATH = "/v2/alerts/beltwatch/critical_rate:cam-3/42/close"  # as the server decodes it
CLOSE_URI = "/v2/alerts/beltwatch%2Fcritical_rate%3Acam-3%2F42/close?identifierType=alias"


def notifier(httpserver: HTTPServer, base: str = "", **options: Any) -> OpsgenieNotifier:
    return OpsgenieNotifier(OpsgenieConfig(KEY, api_url=httpserver.url_for(base), **options))


def test_create_posts_the_alert_with_a_geniekey(httpserver: HTTPServer, client):
    httpserver.expect_oneshot_request(
        "/v2/alerts",
        method="POST",
        headers={"Authorization": f"GenieKey {KEY}", "Content-Type": "application/json"},
    ).respond_with_json(ACCEPTED, status=202)
    opsgenie = notifier(httpserver, dashboard_url="https://bw.example/alerts")

    delivery = opsgenie.send(message(), client)

    assert (delivery.outcome, delivery.reason, delivery.status_code) == (
        Outcome.DELIVERED,
        Reason.OK,
        202,
    )
    assert delivery.response == ACCEPTED  # requestId: where Opsgenie reports the outcome
    body = httpserver.log[0][0].get_json()
    assert body == render(message(), opsgenie.config)
    assert set(body) == {
        "message",
        "alias",
        "description",
        "tags",
        "details",
        "entity",
        "source",
        "priority",
    }
    assert body["message"] == "cam-3: 12.0 % critical (12 of 100) vs 3 % baseline, 4.0x — p < 1e-9"
    assert body["alias"] == "beltwatch/critical_rate:cam-3/42"
    assert body["tags"] == ["beltwatch", "critical_rate", "cam-3", "critical"]
    assert (body["entity"], body["source"], body["priority"]) == ("cam-3", "beltwatch", "P1")
    assert body["details"] == {
        "rule": "critical_rate",
        "station": "cam-3",
        "severity": "critical",
        "fingerprint": "critical_rate:cam-3",
        "alert_id": "42",
        "event": "trigger",
        "hour": "2026-11-25T05:00:00+00:00",
        "started_at": "2026-11-25T03:00:00+00:00",
        "dashboard": "https://bw.example/alerts?alert=42&fingerprint=critical_rate%3Acam-3",
        "evidence.rate": "0.12",
        "evidence.count": "12",
        "evidence.n": "100",
        "evidence.p_value": "3.2e-10",
        "evidence.ci95": "0.07, 0.2",
        "evidence.provisional_reference": "no",
    }
    assert body["description"].startswith(body["message"] + "\n\nStation: cam-3")
    assert "\nEvidence:\nrate: 0.12\n" in body["description"]


@pytest.mark.parametrize(
    ("severity", "priority"), [("critical", "P1"), ("warning", "P3"), ("info", "P5"), ("?", "P3")]
)
def test_severity_maps_to_priority(severity, priority):
    assert render(message(severity=severity), OpsgenieConfig(KEY))["priority"] == priority


def test_resolve_closes_the_alert_by_its_url_encoded_alias(httpserver, client):
    httpserver.expect_ordered_request("/v2/alerts", method="POST").respond_with_json(
        ACCEPTED, status=202
    )
    httpserver.expect_ordered_request(
        CLOSE_PATH,
        method="POST",
        query_string={"identifierType": "alias"},
        headers={"Authorization": f"GenieKey {KEY}"},
    ).respond_with_json(ACCEPTED, status=202)
    opsgenie = notifier(httpserver)

    assert opsgenie.send(message("trigger"), client).delivered
    assert opsgenie.send(message("resolve"), client).delivered

    (create, _), (close, _) = httpserver.log
    assert close.environ["REQUEST_URI"] == CLOSE_URI  # "/" and ":" travel encoded
    assert create.get_json()["alias"] == "beltwatch/critical_rate:cam-3/42"
    assert close.get_json() == {
        "source": "beltwatch",
        "note": "Resolved by beltwatch after 3 h. It was: cam-3: 12.0 % critical (12 of 100) "
        "vs 3 % baseline, 4.0x — p < 1e-9",
    }


def test_the_base_url_can_point_at_jira_service_management(httpserver, client):
    httpserver.expect_oneshot_request("/jsm/ops/integration/v2/alerts").respond_with_json(
        ACCEPTED, status=202
    )
    opsgenie = notifier(httpserver, "/jsm/ops/integration/")

    assert opsgenie.send(message(), client).delivered
    jsm = OpsgenieConfig(KEY, api_url="https://api.atlassian.com/jsm/ops/integration")
    assert request_url(message("resolve"), jsm) == (
        "https://api.atlassian.com/jsm/ops/integration/v2/alerts/"
        "beltwatch%2Fcritical_rate%3Acam-3%2F42/close?identifierType=alias"
    )
    assert request_url(message(), OpsgenieConfig(KEY, api_url=OPSGENIE_EU)) == (
        "https://api.eu.opsgenie.com/v2/alerts"
    )


def test_a_huge_alert_stays_within_opsgenies_limits():
    evidence = {f"statistic_{i:03d}": "v" * 300 for i in range(100)}
    body = render(
        message(summary="ü" * 20_000, station_id="s" * 600, evidence=evidence, event="test"),
        OpsgenieConfig(KEY),
    )

    assert len(body["message"]) <= 130 and body["message"].startswith("[test] ü")
    assert len(body["description"]) <= 15_000 and body["description"].endswith("…")
    assert len(body["tags"]) <= 20 and all(len(tag) <= 50 for tag in body["tags"])
    assert len(body["entity"]) <= 512
    assert all(isinstance(value, str) for value in body["details"].values())
    assert sum(len(k) + len(v) for k, v in body["details"].items()) <= 8_000


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "reason", "retry_after"),
    [
        pytest.param(202, {}, Outcome.DELIVERED, Reason.OK, None, id="202"),
        pytest.param(402, {}, Outcome.GIVE_UP, Reason.AUTH, None, id="402-plan"),
        *FAILURE_ROWS,
    ],
)
def test_status_table(httpserver, client, status, headers, outcome, reason, retry_after):
    httpserver.expect_oneshot_request("/v2/alerts").respond_with_json(
        ACCEPTED, status=status, headers=response_headers(headers)
    )

    delivery = notifier(httpserver).send(message(), client)

    assert (delivery.outcome, delivery.reason, delivery.status_code) == (outcome, reason, status)
    if retry_after is None:
        assert delivery.retry_after_s is None
    else:
        assert delivery.retry_after_s == pytest.approx(retry_after, abs=2)


def test_a_refused_field_is_not_retried_and_says_why(httpserver, client):
    refused = {"message": "Request body is not processable.", "took": 0.01, "requestId": "r"}
    httpserver.expect_oneshot_request("/v2/alerts").respond_with_json(refused, status=422)

    delivery = notifier(httpserver).send(message(), client)

    assert (delivery.outcome, delivery.reason) == (Outcome.GIVE_UP, Reason.REJECTED)
    assert delivery.detail == "opsgenie: 422 Request body is not processable."


def test_a_slow_answer_is_a_timeout_to_retry(httpserver, impatient_client):
    answered = threading.Event()

    def slow(request: Request) -> Response:
        time.sleep(0.5)
        answered.set()
        return Response("{}", status=202)

    httpserver.expect_oneshot_request("/v2/alerts").respond_with_handler(slow)

    delivery = notifier(httpserver).send(message(), impatient_client)

    assert (delivery.outcome, delivery.reason) == (Outcome.RETRY, Reason.TIMEOUT)
    assert answered.wait(5)  # the late answer must not land in the next test's log


def test_a_refused_connection_is_retried(client):
    opsgenie = OpsgenieNotifier(OpsgenieConfig(KEY, api_url=dead_url("")))

    delivery = opsgenie.send(message(), client)

    assert (delivery.outcome, delivery.reason) == (Outcome.RETRY, Reason.CONNECTION)


@pytest.mark.parametrize(
    ("options", "setting", "says"),
    [
        ({"api_key": None}, "opsgenie_api_key", "missing"),
        ({"api_key": ""}, "opsgenie_api_key", "missing"),
        ({"api_url": "api.opsgenie.com"}, "opsgenie_api_url", "https://"),
        ({"api_url": "http://api.opsgenie.com"}, "opsgenie_api_url", "https://"),
        ({"api_url": "https://api.opsgenie.com/v2/alerts"}, "opsgenie_api_url", "without /v2"),
        ({"api_url": "https://api.opsgenie.com?x=1"}, "opsgenie_api_url", "without /v2"),
        ({"source": " "}, "opsgenie_source", "empty"),
    ],
)
def test_a_bad_setting_is_refused_at_build_naming_it(options, setting, says):
    with pytest.raises(NotifierConfigError) as caught:
        OpsgenieConfig(**{"api_key": KEY, **options})

    assert caught.value.setting == setting and says in caught.value.message
    assert_no_secret([str(caught.value)], [KEY])


def test_the_api_key_never_reaches_a_detail_the_config_repr_or_a_log(httpserver, client, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"message": f"Key {KEY} is invalid or its integration is disabled", "requestId": "r"}
    httpserver.expect_oneshot_request("/v2/alerts").respond_with_json(echo, status=401)
    opsgenie = notifier(httpserver)

    delivery = opsgenie.send(message(), client)

    assert (delivery.reason, delivery.detail) == (
        Reason.AUTH,
        "opsgenie: 401 Key <redacted> is invalid or its integration is disabled",
    )
    assert_no_secret(leak_surfaces(delivery, opsgenie.config, caplog), [KEY])
