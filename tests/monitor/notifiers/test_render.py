"""The rendering helpers every notifier shares: safe truncation, bounded keys, evidence
flattening, durations and the dashboard link."""

from __future__ import annotations

import pytest
from notifiers_support import message

from monitor.notifiers._render import bounded_key, dashboard_link, flatten, lasted, truncate, width


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly ten", 11, "exactly ten"),
        ("a long sentence here", 10, "a long se…"),
        ("éééééééééé", 5, "éééé…"),
        ("📷📷📷📷", 5, "📷📷…"),  # each camera is 2 UTF-16 units
        ("ab👩\u200d👩\u200d👧xyz", 6, "ab…"),  # a ZWJ family is not split
        ("abe\u0301e\u0301e\u0301", 5, "abe\u0301…"),  # nor a letter from its accent
        ("ab🇩🇪🇫🇷", 7, "ab🇩🇪…"),  # nor a flag's pair of regional indicators
    ],
)
def test_truncate_cuts_between_whole_characters_and_marks_the_cut(text, limit, expected):
    cut = truncate(text, limit)
    assert cut == expected
    assert width(cut) <= limit
    cut.encode("utf-8")  # strict: no lone surrogate, nothing half a character


def test_bounded_keys_are_unique_and_stable():
    long = "beltwatch/" + "x" * 600
    assert bounded_key("short", 255) == "short"
    assert bounded_key(long + "1", 255) == bounded_key(long + "1", 255)
    assert bounded_key(long + "1", 255) != bounded_key(long + "2", 255)
    assert len(bounded_key(long, 255)) == 255


def test_flatten_joins_short_lists_walks_nesting_and_skips_huge_lists():
    evidence = {
        "n": 300,
        "signals": {"sharpness": {"shift_sd": -4.25, "drift_test": {"drifted": True}}},
        "ci95": [0.07, 0.2],
        "also": [{"rule": "lens_drift"}],
        "sample": list(range(500)),
        "missing": None,
    }
    assert flatten(evidence) == [
        ("n", "300"),
        ("signals.sharpness.shift_sd", "-4.25"),
        ("signals.sharpness.drift_test.drifted", "yes"),
        ("ci95", "0.07, 0.2"),
        ("also.0.rule", "lens_drift"),
        ("missing", "none"),
    ]


@pytest.mark.parametrize(
    ("started", "resolved", "expected"),
    [
        ("2026-11-25T03:00:00+00:00", "2026-11-25T06:00:00+00:00", "3 h"),
        ("2026-11-24T02:00:00+00:00", "2026-11-25T06:30:00+00:00", "1 d 4 h 30 min"),
        ("2026-11-25T03:00:00+00:00", "2026-11-25T03:00:00+00:00", "under a minute"),
        ("2026-11-25T03:00:00+00:00", None, None),
        ("2026-11-25T06:00:00+00:00", "2026-11-25T03:00:00+00:00", None),
    ],
)
def test_lasted(started, resolved, expected):
    assert lasted(started, resolved) == expected


def test_dashboard_link_keeps_an_existing_query():
    link = dashboard_link("https://bw.example/d/alerts?org=2", message().payload)
    assert link == "https://bw.example/d/alerts?org=2&alert=42&fingerprint=critical_rate%3Acam-3"
    assert dashboard_link(None, message().payload) is None
