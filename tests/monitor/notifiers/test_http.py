"""The wire helpers every notifier shares: statuses, Retry-After, the send skeleton, URL
checks, redaction."""

from __future__ import annotations

import email.utils
import logging

import httpx
import pytest
from notifiers_support import message
from pytest_httpserver import HTTPServer

from monitor.core.exceptions import ConfigError
from monitor.core.settings import load_settings
from monitor.notifiers._http import (
    JSON_HEADERS,
    Request,
    check_url,
    classify,
    guard_httpx_logging,
    parse_retry_after,
    redact,
    send_once,
    verdict,
)
from monitor.notifiers.base import Outcome, Reason

NOW = 1_795_000_000.0


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, (Outcome.DELIVERED, Reason.OK)),
        (202, (Outcome.DELIVERED, Reason.OK)),
        (204, (Outcome.DELIVERED, Reason.OK)),
        (304, (Outcome.GIVE_UP, Reason.UNEXPECTED)),
        (400, (Outcome.GIVE_UP, Reason.REJECTED)),
        (401, (Outcome.GIVE_UP, Reason.AUTH)),
        (403, (Outcome.GIVE_UP, Reason.AUTH)),
        (404, (Outcome.GIVE_UP, Reason.NOT_FOUND)),
        (408, (Outcome.RETRY, Reason.TIMEOUT)),
        (409, (Outcome.GIVE_UP, Reason.UNEXPECTED)),
        (410, (Outcome.GIVE_UP, Reason.NOT_FOUND)),
        (422, (Outcome.GIVE_UP, Reason.REJECTED)),
        (429, (Outcome.RETRY, Reason.RATE_LIMITED)),
        (500, (Outcome.RETRY, Reason.SERVER_ERROR)),
        (503, (Outcome.RETRY, Reason.SERVER_ERROR)),
        (504, (Outcome.RETRY, Reason.SERVER_ERROR)),
    ],
)
def test_status_to_verdict(status, verdict):
    assert classify(status) == verdict


@pytest.mark.parametrize(
    ("value", "date", "expected"),
    [
        ("120", None, 120.0),
        ("0", None, 0.0),
        (email.utils.formatdate(NOW + 90, usegmt=True), None, 90.0),
        # Measured against the response's own Date: a skewed local clock does not matter.
        (
            email.utils.formatdate(NOW + 90, usegmt=True),
            email.utils.formatdate(NOW + 30, usegmt=True),
            60.0,
        ),
        (email.utils.formatdate(NOW - 90, usegmt=True), None, 0.0),  # already past
        ("-5", None, None),
        ("soon", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value, date, expected):
    assert parse_retry_after(value, NOW, date) == expected


def test_redact_removes_urls_secrets_and_their_encoded_forms():
    text = "failed https://hooks.slack.com/services/T/B/tok for key k3y/+= (k3y%2F%2B%3D)"
    assert redact(text, ["k3y/+="]) == "failed <url> for key <redacted> (<redacted>)"


URLS = pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.slack.com/services/T/B/X", True),
        ("http://localhost:8080/x", True),
        ("http://127.0.0.1/x", True),
        ("http://[::1]:9/x", True),
        ("http://hooks.slack.com/services/T/B/X", False),
        ("https://", False),
        ("https://host:notaport/x", False),
        (" https://host/x", False),
        ("ftp://files.example/x", False),
    ],
)


@URLS
def test_https_is_required_except_for_loopback(url, ok):
    if ok:
        assert check_url("s", url, secret=True) == url
    else:
        with pytest.raises(ValueError, match=r"^s: expected an https:// URL$"):
            check_url("s", url, secret=True)


@URLS
@pytest.mark.parametrize("setting", ["slack_webhook_url", "pagerduty_url", "opsgenie_api_url"])
def test_settings_load_exactly_the_urls_the_notifiers_accept(setting, url, ok):
    """One rule: a URL that loads never fails when the receiver is built at start-up."""
    if ok:
        assert load_settings(**{setting: url})
    else:
        with pytest.raises(ConfigError, match=rf"{setting} \(BELTWATCH_{setting.upper()}\)"):
            load_settings(**{setting: url})


def test_a_message_that_cannot_be_rendered_is_given_up_without_a_request(
    httpserver: HTTPServer, client
):
    def prepare(_message):
        raise KeyError("fingerprint")

    delivery = send_once(
        "test",
        logging.getLogger("test"),
        message(),
        client,
        prepare=prepare,
        judge=lambda response: verdict(response, lambda: NOW),
        timeout=None,
        secrets=(),
    )

    assert (delivery.outcome, delivery.reason) == (Outcome.GIVE_UP, Reason.REJECTED)
    assert delivery.detail == "cannot render (KeyError)"
    assert httpserver.log == []


def test_send_once_posts_the_prepared_bytes_once_and_judges_the_answer(
    httpserver: HTTPServer, client
):
    httpserver.expect_request("/x", method="POST").respond_with_data("", status=503)
    request = Request(httpserver.url_for("/x"), b'{"a":1}', JSON_HEADERS)

    delivery = send_once(
        "test",
        logging.getLogger("test"),
        message(),
        client,
        prepare=lambda _message: request,
        judge=lambda response: verdict(response, lambda: NOW),
        timeout=None,
        secrets=(),
    )

    assert (delivery.outcome, delivery.reason) == (Outcome.RETRY, Reason.SERVER_ERROR)
    ((sent, _),) = httpserver.log
    assert sent.get_data() == b'{"a":1}'


def test_httpx_request_logs_keep_the_host_but_lose_the_path(caplog):
    guard_httpx_logging()
    guard_httpx_logging()  # idempotent
    assert len(logging.getLogger("httpx").filters) == 1
    caplog.set_level(logging.INFO)
    url = httpx.URL("https://hooks.slack.com/services/T/B/SeCrEt?token=x")

    logging.getLogger("httpx").info('HTTP Request: %s %s "%s"', "POST", url, "HTTP/1.1 200 OK")

    assert caplog.messages == ['HTTP Request: POST https://hooks.slack.com/… "HTTP/1.1 200 OK"']
