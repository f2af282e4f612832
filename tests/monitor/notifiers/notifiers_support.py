"""What the notifier tests share: messages, the status table, a dead port, a secret scan."""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from monitor.notifiers.base import AlertNotice, Message, Outcome, Reason

CREATED = datetime(2026, 11, 25, 6, 5, tzinfo=UTC)
HTTP_DATE_IN_120_S = "<an HTTP-date 120 s from now>"  # filled in when the test runs

# HTTP status -> verdict, the part every notifier shares; each test module adds its success
# rows. (status, response headers, outcome, reason, expected retry_after_s)
FAILURE_ROWS = [
    pytest.param(400, {}, Outcome.GIVE_UP, Reason.REJECTED, None, id="400"),
    pytest.param(401, {}, Outcome.GIVE_UP, Reason.AUTH, None, id="401"),
    pytest.param(403, {}, Outcome.GIVE_UP, Reason.AUTH, None, id="403"),
    pytest.param(404, {}, Outcome.GIVE_UP, Reason.NOT_FOUND, None, id="404"),
    pytest.param(410, {}, Outcome.GIVE_UP, Reason.NOT_FOUND, None, id="410"),
    pytest.param(422, {}, Outcome.GIVE_UP, Reason.REJECTED, None, id="422"),
    pytest.param(
        301, {"Location": "/elsewhere"}, Outcome.GIVE_UP, Reason.UNEXPECTED, None, id="301"
    ),
    pytest.param(418, {}, Outcome.GIVE_UP, Reason.UNEXPECTED, None, id="418"),
    pytest.param(408, {}, Outcome.RETRY, Reason.TIMEOUT, None, id="408"),
    pytest.param(
        429, {"Retry-After": "30"}, Outcome.RETRY, Reason.RATE_LIMITED, 30.0, id="429-seconds"
    ),
    pytest.param(
        429,
        {"Retry-After": HTTP_DATE_IN_120_S},
        Outcome.RETRY,
        Reason.RATE_LIMITED,
        120.0,
        id="429-http-date",
    ),
    pytest.param(429, {}, Outcome.RETRY, Reason.RATE_LIMITED, None, id="429-no-header"),
    pytest.param(500, {}, Outcome.RETRY, Reason.SERVER_ERROR, None, id="500"),
    pytest.param(502, {}, Outcome.RETRY, Reason.SERVER_ERROR, None, id="502"),
    pytest.param(
        503, {"Retry-After": "7"}, Outcome.RETRY, Reason.SERVER_ERROR, 7.0, id="503-retry-after"
    ),
]


def response_headers(headers: dict[str, str]) -> dict[str, str]:
    """The row's headers with the HTTP-date placeholder filled in."""
    in_120_s = email.utils.formatdate(time.time() + 120, usegmt=True)
    return {k: in_120_s if v == HTTP_DATE_IN_120_S else v for k, v in headers.items()}


def message(
    event: str = "trigger",
    *,
    notification_id: int = 7,
    alert_id: int = 42,
    evidence: dict[str, Any] | None = None,
    **payload: Any,
) -> Message:
    """An outbox row as the alert manager queues it, read back from its payload JSON (the
    keys `notifications.payload` has always had)."""
    resolved = event == "resolve"
    body = {
        "alert_id": alert_id,
        "fingerprint": "critical_rate:cam-3",
        "rule": "critical_rate",
        "station_id": "cam-3",
        "severity": "critical",
        "event": event,
        "status": "resolved" if resolved else "firing",
        "summary": "cam-3: 12.0 % critical (12 of 100) vs 3 % baseline, 4.0x — p < 1e-9",
        "evidence": evidence
        if evidence is not None
        else {
            "rate": 0.12,
            "count": 12,
            "n": 100,
            "p_value": 3.2e-10,
            "ci95": [0.07, 0.2],
            "provisional_reference": False,
        },
        "hour": "2026-11-25T05:00:00+00:00",
        "started_at": "2026-11-25T03:00:00+00:00",
        "resolved_at": "2026-11-25T06:00:00+00:00" if resolved else None,
    }
    body.update(payload)
    notice = AlertNotice.from_json(body)
    message_id = f"msg_test_{notification_id}"
    return Message(notification_id, alert_id, "test-channel", event, notice, CREATED, message_id)


def dead_url(path: str = "/") -> str:
    """A URL on a local port nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def assert_no_secret(texts: Iterable[str], secrets: Iterable[str]) -> None:
    """No secret, nor its URL-encoded form, appears in any of the texts."""
    for text in texts:
        for secret in secrets:
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                assert form not in text, f"a secret leaked into: {text[:200]!r}"


def leak_surfaces(delivery: Any, config: Any, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Everywhere a secret must not appear: the verdict, the config's repr, the log lines
    (all but the stand-in server's own access log, which no deployment has)."""
    ours = [record for record in caplog.records if not record.name.startswith("werkzeug")]
    return [
        delivery.detail,
        repr(delivery),
        repr(config),
        str(config),
        *(caplog.handler.format(record) for record in ours),
    ]
