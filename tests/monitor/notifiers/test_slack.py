"""Slack incoming webhook: the message Slack receives and what its answers mean."""

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

from monitor.notifiers import NotifierConfigError, SlackConfig, SlackNotifier
from monitor.notifiers.base import Outcome, Reason
from monitor.notifiers.slack import render

PATH = "/services/T0001/B0002/SeCrEtToKeN1234567890"


def notifier(httpserver: HTTPServer, **options: Any) -> SlackNotifier:
    return SlackNotifier(SlackConfig(httpserver.url_for(PATH), **options))


def blocks_of(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [block for block in body["blocks"] if block["type"] == kind and "text" in block]


def test_trigger_posts_block_kit_json_with_a_text_fallback(httpserver: HTTPServer, client):
    httpserver.expect_oneshot_request(
        PATH, method="POST", headers={"Content-Type": "application/json"}
    ).respond_with_data("ok")
    slack = notifier(httpserver, dashboard_url="https://beltwatch.example/alerts")

    delivery = slack.send(message(), client)

    assert (delivery.outcome, delivery.reason, delivery.status_code) == (
        Outcome.DELIVERED,
        Reason.OK,
        200,
    )
    request, _ = httpserver.log[0]
    assert request.headers["User-Agent"].startswith("beltwatch")
    body = request.get_json()
    assert body == render(message(), slack.config)
    assert body["text"].startswith("CRITICAL: cam-3: 12.0 % critical")
    header, summary, fields, context, link = body["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": ":red_circle: CRITICAL · cam-3 · critical_rate",
            "emoji": True,
        },
    }
    assert summary["text"]["text"] == (
        "cam-3: 12.0 % critical (12 of 100) vs 3 % baseline, 4.0x — p &lt; 1e-9"
    )
    assert [f["text"] for f in fields["fields"]] == [
        "*rate*\n0.12",
        "*count*\n12",
        "*n*\n100",
        "*p_value*\n3.2e-10",
        "*ci95*\n0.07, 0.2",
    ]
    assert [e["text"] for e in context["elements"]] == [
        "rule `critical_rate`",
        "fingerprint `critical_rate:cam-3`",
        "started 2026-11-25 03:00 UTC",
    ]
    assert link["text"]["text"] == (
        "<https://beltwatch.example/alerts?alert=42&amp;fingerprint=critical_rate%3Acam-3"
        "|Open this alert in the beltwatch dashboard>"
    )


def test_repeat_says_still_firing_and_a_provisional_reference_is_flagged():
    config = SlackConfig("https://hooks.slack.com/services/T/B/X")
    body = render(message("repeat", evidence={"rate": 0.2, "provisional_reference": True}), config)

    assert "(still firing)" in body["blocks"][0]["text"]["text"]
    assert "_Firing since 2026-11-25 03:00 UTC._" in body["blocks"][1]["text"]["text"]
    context = body["blocks"][3]["elements"]
    assert context[-1]["text"] == ":warning: judged against a provisional reference"
    assert not blocks_of(body, "actions")  # no dashboard_url, no link


def test_resolve_says_how_long_it_lasted_and_is_sent_only_when_configured(httpserver, client):
    assert (
        SlackNotifier(SlackConfig("https://hooks.slack.com/services/T/B/X")).sends_resolved is False
    )
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_data("ok")
    slack = notifier(httpserver, send_resolved=True)
    assert slack.sends_resolved is True

    delivery = slack.send(message("resolve"), client)

    assert delivery.delivered
    body = httpserver.log[0][0].get_json()
    assert body["text"].startswith("RESOLVED after 3 h: cam-3: 12.0 % critical")
    assert (
        body["blocks"][0]["text"]["text"] == ":white_check_mark: RESOLVED · cam-3 · critical_rate"
    )
    assert body["blocks"][1]["text"]["text"].startswith("*Resolved* after 3 h. It was: cam-3")
    assert "resolved 2026-11-25 06:00 UTC" in [e["text"] for e in body["blocks"][2]["elements"]]


def test_a_huge_alert_stays_within_slacks_limits():
    evidence = {f"statistic_{i:02d}": i / 7 for i in range(40)}
    evidence["sample"] = list(range(5000))  # a huge list is left out
    summary = "ä📷" * 2500  # 5000 characters, 7500 UTF-16 units, all multi-byte
    body = render(
        message(evidence=evidence, summary=summary, station_id="belt-" + "x" * 295),
        SlackConfig("https://hooks.slack.com/services/T/B/X", dashboard_url="https://bw.example"),
    )

    assert body["text"] and len(body["text"]) <= 3000
    assert len(body["blocks"]) <= 50
    header = body["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and header.endswith("critical_rate")
    section = body["blocks"][1]["text"]["text"]
    assert len(section.encode("utf-16-le")) // 2 <= 3000 and section.endswith("…")
    section.encode("utf-8")  # whole characters only: a split surrogate would raise here
    fields = body["blocks"][2]["fields"]
    assert len(fields) == 10
    assert all(len(field["text"]) <= 2000 for field in fields)
    assert fields[-1]["text"] == "*more evidence*\n31 more values in the dashboard"
    assert all("sample" not in field["text"] for field in fields)
    assert len(body["blocks"][3]["elements"]) <= 10


def test_mrkdwn_control_characters_are_escaped_so_nothing_can_mention_the_channel():
    body = render(
        message(summary="<!channel> lens & light <b>", station_id="<@U123>"),
        SlackConfig("https://hooks.slack.com/services/T/B/X"),
    )
    assert body["blocks"][1]["text"]["text"] == "&lt;!channel&gt; lens &amp; light &lt;b&gt;"
    assert "<!channel>" not in body["text"] and "<@U123>" not in str(body["blocks"][1:])


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "reason", "retry_after"),
    [pytest.param(200, {}, Outcome.DELIVERED, Reason.OK, None, id="200-ok"), *FAILURE_ROWS],
)
def test_status_table(httpserver, client, status, headers, outcome, reason, retry_after):
    body = "ok" if status == 200 else "invalid_payload"
    httpserver.expect_oneshot_request(PATH).respond_with_data(
        body, status=status, headers=response_headers(headers)
    )

    delivery = notifier(httpserver).send(message(), client)

    assert (delivery.outcome, delivery.reason, delivery.status_code) == (outcome, reason, status)
    if retry_after is None:
        assert delivery.retry_after_s is None
    else:
        assert delivery.retry_after_s == pytest.approx(retry_after, abs=2)


def test_a_known_slack_error_is_named_in_the_detail(httpserver, client):
    httpserver.expect_oneshot_request(PATH).respond_with_data("channel_is_archived", status=410)

    delivery = notifier(httpserver).send(message(), client)

    assert delivery.detail == "slack: 410 channel_is_archived"


def test_a_200_with_an_api_error_body_is_rejected(httpserver, client):
    httpserver.expect_oneshot_request(PATH).respond_with_json(
        {"ok": False, "error": "invalid_blocks"}
    )

    delivery = notifier(httpserver).send(message(), client)

    assert (delivery.outcome, delivery.reason) == (Outcome.GIVE_UP, Reason.REJECTED)
    assert delivery.detail == "slack: invalid_blocks"


def test_a_slow_answer_is_a_timeout_to_retry(httpserver, client):
    answered = threading.Event()

    def slow(request: Request) -> Response:
        time.sleep(0.5)
        answered.set()
        return Response("ok")

    httpserver.expect_oneshot_request(PATH).respond_with_handler(slow)

    delivery = notifier(httpserver, timeout_s=0.1).send(message(), client)  # per-channel timeout

    assert (delivery.outcome, delivery.reason, delivery.status_code) == (
        Outcome.RETRY,
        Reason.TIMEOUT,
        None,
    )
    assert answered.wait(5)  # the late answer must not land in the next test's log


def test_a_refused_connection_is_retried(client):
    slack = SlackNotifier(SlackConfig(dead_url(PATH)))

    delivery = slack.send(message(), client)

    assert (delivery.outcome, delivery.reason) == (Outcome.RETRY, Reason.CONNECTION)


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "hooks.slack.com/services/T0001/B0002/SeCrEtToKeN1234567890",
        "http://hooks.slack.com/services/T0001/B0002/SeCrEtToKeN1234567890",
        "ftp://hooks.slack.com/services/T0001/B0002/SeCrEtToKeN1234567890",
        "https:///services/T0001/B0002/SeCrEtToKeN1234567890",
    ],
)
def test_a_bad_or_missing_webhook_url_is_refused_at_build_naming_the_setting(url):
    with pytest.raises(NotifierConfigError) as caught:
        SlackConfig(url)  # type: ignore[arg-type]

    assert caught.value.setting == "slack_webhook_url"
    assert str(caught.value).startswith("slack_webhook_url: ")
    assert_no_secret([str(caught.value)], ["SeCrEtToKeN1234567890"])


def test_a_bad_dashboard_url_is_refused_naming_the_setting():
    with pytest.raises(NotifierConfigError, match=r"^dashboard_url: expected an http"):
        SlackConfig("https://hooks.slack.com/services/T/B/X", dashboard_url="beltwatch.example")


def test_the_webhook_url_never_reaches_a_detail_the_config_repr_or_a_log(
    httpserver, client, caplog
):
    caplog.set_level(logging.DEBUG)
    url = httpserver.url_for(PATH)
    echo = f"channel_not_found for {url} token {PATH} SeCrEtToKeN1234567890"
    httpserver.expect_oneshot_request(PATH).respond_with_data(echo, status=404)
    slack = SlackNotifier(SlackConfig(url))

    surfaces = []
    for sent in (
        slack.send(message(), client),
        SlackNotifier(SlackConfig(dead_url(PATH))).send(message(), client),
    ):
        surfaces += leak_surfaces(sent, slack.config, caplog)

    assert any("HTTP Request: POST" in record.getMessage() for record in caplog.records)
    assert_no_secret(surfaces, [url, PATH, "SeCrEtToKeN1234567890"])
