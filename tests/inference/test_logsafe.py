"""Log hygiene: secrets redacted from any record, client strings escaped, warnings throttled."""

from __future__ import annotations

import logging
import time

import pytest

from inference.logsafe import SecretFilter, Throttle, redact, shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "HTTP Request: POST http://belt:s3cret@plc.local/divert ok",
            "HTTP Request: POST http://***@plc.local/divert ok",
        ),
        ("https://token-only@host/x", "https://***@host/x"),
        ("postgresql://bw:pw@db:5432/beltwatch", "postgresql://***@db:5432/beltwatch"),
        ("no url here: user@example.com", "no url here: user@example.com"),
        ("http://plc.local/divert?key=k3y", "http://plc.local/divert?key=***"),
    ],
)
def test_redact_hides_url_credentials_and_known_secrets(text: str, expected: str) -> None:
    assert redact(text, ["k3y"]) == expected


def test_secret_filter_rewrites_a_record_built_from_arguments() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: %s %s",
        ("POST", "http://u:pw@h/d?t=tok"),
        None,
    )
    assert SecretFilter(["tok"]).filter(record)
    assert record.getMessage() == "HTTP Request: POST http://***@h/d?t=***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dock-1\nFORGED 2026 ERROR line", "dock-1\\nFORGED 2026 ERROR line"),
        ("tab\there\rcr", "tab\\there\\rcr"),
        ("esc\x1b[31mred", "esc\\x1b[31mred"),
        ("line\u2028sep", "line\\u2028sep"),
        ("not-utf8-\udcff.png", "not-utf8-\\udcff.png"),
        ("x" * 250, "x" * 200 + "...(250 chars)"),
    ],
)
def test_shown_keeps_a_client_string_on_one_printable_line(text: str, expected: str) -> None:
    assert shown(text) == expected


def test_throttle_lets_one_warning_per_interval_through_with_the_count_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.throttle")
    throttle = Throttle(logger, interval_s=0.2)
    with caplog.at_level(logging.WARNING, logger="test.throttle"):
        for i in range(50):
            throttle.warning("full", "record %d refused", i)
        throttle.warning("other", "a different warning")
        time.sleep(0.25)
        throttle.warning("full", "record %d refused", 50)
    assert [r.getMessage() for r in caplog.records] == [
        "record 0 refused",
        "a different warning",
        "record 50 refused (49 more like this in the last 0.2s)",
    ]
