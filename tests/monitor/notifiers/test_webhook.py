"""Webhook: Alertmanager's body (version 4), signed the Standard Webhooks way."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from typing import Any

import httpx
import pytest
import standardwebhooks
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

from monitor.notifiers import NotifierConfigError, WebhookConfig, WebhookNotifier
from monitor.notifiers.base import Outcome, Reason
from monitor.notifiers.webhook import render

PATH = "/hooks/beltwatch-T0k3nInThePath"
# The Standard Webhooks form: "whsec_" + base64 of random bytes (32 here).
KEY_BYTES = bytes(range(32))
WHSEC = "whsec_" + base64.b64encode(KEY_BYTES).decode()
NOW = 1_795_000_000.0


def notifier(httpserver: HTTPServer, clock: Any = lambda: NOW, **options: Any) -> WebhookNotifier:
    return WebhookNotifier(WebhookConfig(httpserver.url_for(PATH), **options), clock=clock)


def expected_signature(key: bytes, request: Request) -> str:
    """Computed here from the spec, not with the code under test."""
    signed = b".".join(
        [
            request.headers["webhook-id"].encode(),
            request.headers["webhook-timestamp"].encode(),
            request.get_data(),
        ]
    )
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def test_firing_alert_is_alertmanagers_version_4_body(httpserver: HTTPServer, client):
    httpserver.expect_oneshot_request(
        PATH, method="POST", headers={"Content-Type": "application/json"}
    ).respond_with_data("", status=200)
    webhook = notifier(
        httpserver, receiver="line-7", site="plant-2", dashboard_url="https://bw.example/alerts"
    )

    delivery = webhook.send(message(), client)

    assert (delivery.outcome, delivery.reason, delivery.status_code) == (
        Outcome.DELIVERED,
        Reason.OK,
        200,
    )
    body = httpserver.log[0][0].get_json()
    assert body == render(message(), webhook.config)
    labels = {
        "alertname": "critical_rate",
        "station": "cam-3",
        "severity": "critical",
        "site": "plant-2",
        "fingerprint": "critical_rate:cam-3",
    }
    annotations = {
        "summary": "cam-3: 12.0 % critical (12 of 100) vs 3 % baseline, 4.0x — p < 1e-9",
        "description": "rate: 0.12\ncount: 12\nn: 100\np_value: 3.2e-10\nci95: 0.07, 0.2\n"
        "provisional_reference: no",
        "evidence": '{"rate":0.12,"count":12,"n":100,"p_value":3.2e-10,"ci95":[0.07,0.2],'
        '"provisional_reference":false}',
        "event": "trigger",
        "alert_id": "42",
        "hour": "2026-11-25T05:00:00+00:00",
    }
    assert body == {
        "version": "4",
        "groupKey": "beltwatch/critical_rate:cam-3/42",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "line-7",
        "groupLabels": {"alertname": "critical_rate", "station": "cam-3"},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "https://bw.example/alerts",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": "2026-11-25T03:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://bw.example/alerts?alert=42&fingerprint=critical_rate%3Acam-3",
                "fingerprint": "critical_rate:cam-3",
            }
        ],
    }


@pytest.mark.parametrize(
    ("secret", "key"),
    [
        (WHSEC, KEY_BYTES),
        (base64.b64encode(KEY_BYTES).decode(), KEY_BYTES),
        (WHSEC.rstrip("="), KEY_BYTES),
    ],
    ids=["whsec-prefixed", "plain-base64", "unpadded"],
)
def test_the_signature_verifies_over_the_exact_bytes_received(httpserver, client, secret, key):
    httpserver.expect_oneshot_request(PATH).respond_with_data("", status=204)

    assert notifier(httpserver, secret=secret).send(message(), client).delivered

    request = httpserver.log[0][0]
    assert request.headers["webhook-id"] == "msg_test_7"
    assert request.headers["webhook-timestamp"] == "1795000000"
    assert request.headers["webhook-signature"] == expected_signature(key, request)
    json.loads(request.get_data())  # what was signed is what was sent


def test_a_retry_keeps_the_webhook_id_and_signs_its_own_timestamp(httpserver, client):
    httpserver.expect_ordered_request(PATH).respond_with_data("", status=503)
    httpserver.expect_ordered_request(PATH).respond_with_data("", status=200)
    now = [NOW]
    webhook = notifier(httpserver, clock=lambda: now[0], secret=WHSEC)

    assert webhook.send(message(), client).outcome is Outcome.RETRY
    now[0] += 5
    assert webhook.send(message(), client).delivered

    first, second = (request for request, _ in httpserver.log)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "msg_test_7"
    assert (first.headers["webhook-timestamp"], second.headers["webhook-timestamp"]) == (
        "1795000000",
        "1795000005",
    )
    for request in (first, second):
        assert request.headers["webhook-signature"] == expected_signature(KEY_BYTES, request)


def test_without_a_secret_nothing_is_signed_but_the_id_still_goes(httpserver, client):
    httpserver.expect_oneshot_request(PATH).respond_with_data("", status=200)

    assert notifier(httpserver).send(message(), client).delivered

    headers = httpserver.log[0][0].headers
    assert "webhook-signature" not in headers
    assert (headers["webhook-id"], headers["webhook-timestamp"]) == (
        "msg_test_7",
        "1795000000",
    )


def test_trigger_then_resolve_carry_the_same_group_key_and_fingerprint(httpserver, client):
    for _ in range(2):
        httpserver.expect_ordered_request(PATH).respond_with_data("", status=200)
    webhook = notifier(httpserver)

    assert webhook.send(message("trigger", notification_id=7), client).delivered
    assert webhook.send(message("resolve", notification_id=9), client).delivered

    (fired, _), (resolved, _) = httpserver.log
    first, last = fired.get_json(), resolved.get_json()
    assert first["groupKey"] == last["groupKey"] == "beltwatch/critical_rate:cam-3/42"
    assert first["alerts"][0]["fingerprint"] == last["alerts"][0]["fingerprint"]
    assert (last["status"], last["alerts"][0]["status"]) == ("resolved", "resolved")
    assert last["alerts"][0]["endsAt"] == "2026-11-25T06:00:00Z"
    assert last["alerts"][0]["annotations"]["duration"] == "3 h"
    assert resolved.headers["webhook-id"] == "msg_test_9"  # one id per message


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "reason", "retry_after"),
    [
        pytest.param(200, {}, Outcome.DELIVERED, Reason.OK, None, id="200"),
        pytest.param(204, {}, Outcome.DELIVERED, Reason.OK, None, id="204"),
        *FAILURE_ROWS,
    ],
)
def test_status_table(httpserver, client, status, headers, outcome, reason, retry_after):
    httpserver.expect_oneshot_request(PATH).respond_with_data(
        "", status=status, headers=response_headers(headers)
    )

    delivery = notifier(httpserver, clock=time.time).send(message(), client)

    assert (delivery.outcome, delivery.reason, delivery.status_code) == (outcome, reason, status)
    if retry_after is None:
        assert delivery.retry_after_s is None
    else:
        assert delivery.retry_after_s == pytest.approx(retry_after, abs=2)


def test_a_redirect_is_not_followed_even_by_a_client_that_follows(httpserver):
    httpserver.expect_oneshot_request(PATH).respond_with_data(
        "", status=308, headers={"Location": "/elsewhere"}
    )

    with httpx.Client(follow_redirects=True, timeout=5) as following:
        delivery = notifier(httpserver).send(message(), following)

    assert (delivery.outcome, delivery.reason, delivery.status_code) == (
        Outcome.GIVE_UP,
        Reason.UNEXPECTED,
        308,
    )
    assert len(httpserver.log) == 1


def test_a_slow_answer_is_a_timeout_to_retry(httpserver, impatient_client):
    answered = threading.Event()

    def slow(request: Request) -> Response:
        time.sleep(0.5)
        answered.set()
        return Response("", status=200)

    httpserver.expect_oneshot_request(PATH).respond_with_handler(slow)

    delivery = notifier(httpserver).send(message(), impatient_client)

    assert (delivery.outcome, delivery.reason) == (Outcome.RETRY, Reason.TIMEOUT)
    assert answered.wait(5)  # the late answer must not land in the next test's log


def test_a_refused_connection_is_retried(client):
    webhook = WebhookNotifier(WebhookConfig(dead_url(PATH)))

    delivery = webhook.send(message(), client)

    assert (delivery.outcome, delivery.reason) == (Outcome.RETRY, Reason.CONNECTION)


@pytest.mark.parametrize(
    ("options", "setting", "says"),
    [
        ({"url": None}, "webhook_url", "missing"),
        ({"url": "receiver.example/hooks/beltwatch-T0k3nInThePath"}, "webhook_url", "http"),
        ({"url": "ftp://receiver.example/hooks/beltwatch-T0k3nInThePath"}, "webhook_url", "http"),
        ({"secret": ""}, "webhook_secret", "missing"),
        ({"secret": "whsec_not*base64!"}, "webhook_secret", "base64"),
        ({"secret": "a plain shared secret"}, "webhook_secret", "base64"),
        ({"secret": "whsec_" + base64.b64encode(b"short").decode()}, "webhook_secret", "24 bytes"),
        ({"receiver": ""}, "webhook_receiver", "empty"),
    ],
)
def test_a_bad_setting_is_refused_at_build_naming_it(options, setting, says):
    arguments = {"url": "https://receiver.example/hooks/beltwatch-T0k3nInThePath", **options}
    with pytest.raises(NotifierConfigError) as caught:
        WebhookConfig(**arguments)

    assert caught.value.setting == setting and says in caught.value.message
    assert_no_secret([str(caught.value)], ["beltwatch-T0k3nInThePath", "not*base64!"])


def test_the_url_and_secret_never_reach_a_detail_the_config_repr_or_a_log(
    httpserver, client, caplog
):
    caplog.set_level(logging.DEBUG)
    url = httpserver.url_for(PATH)
    echo = f"no route {url} ({PATH}); bad signature for secret {WHSEC}"
    httpserver.expect_oneshot_request(PATH).respond_with_data(echo, status=404)
    webhook = WebhookNotifier(WebhookConfig(url, secret=WHSEC))

    delivery = webhook.send(message(), client)

    assert delivery.detail.startswith("webhook: 404 no route <redacted>")
    assert_no_secret(
        leak_surfaces(delivery, webhook.config, caplog),
        [url, PATH, "beltwatch-T0k3nInThePath", WHSEC],
    )


@pytest.mark.parametrize("secret", [WHSEC, base64.b64encode(KEY_BYTES).decode()])
def test_the_official_standard_webhooks_library_verifies_the_signature(httpserver, client, secret):
    """What a receiver built on the `standardwebhooks` package checks, it accepts."""
    httpserver.expect_oneshot_request(PATH).respond_with_data("", status=204)
    clock = time.time
    webhook = WebhookNotifier(WebhookConfig(httpserver.url_for(PATH), secret=secret), clock=clock)
    assert webhook.send(message(), client).delivered
    request = httpserver.log[0][0]
    verified = standardwebhooks.Webhook(secret).verify(request.get_data(), dict(request.headers))
    assert verified["status"] == "firing"
