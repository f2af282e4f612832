"""The demo's scorecard: each fault against the alert that found it, and the other alerts
sorted into the fault seen at the site, side effects the monitor tied to a fault, and
alerts nobody injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inference.training.faults import Fault
from monitor.cli.scorecard import render, score

DAY = datetime(2026, 11, 24, tzinfo=UTC)


def at(hour: int) -> datetime:
    return DAY + timedelta(hours=hour)


def alert(id, rule, station, start, end=None, **evidence):
    return {
        "id": id,
        "rule": rule,
        "station_id": station,
        "started_at": at(start),
        "resolved_at": None if end is None else at(end),
        "summary": f"{station or 'site'}: {rule} summary",
        "evidence": evidence,
    }


DAMAGE = Fault("damage", "S2", at(10), at(11), 0.2)
SLOW = Fault("slow", "S5", at(12), at(13), 150.0)
LIGHTING = Fault("lighting", "S1", at(19), at(21), 0.6)


def test_a_fault_is_found_by_its_rule_on_its_station_within_two_hours() -> None:
    card = score(
        [DAMAGE, SLOW, LIGHTING],
        [
            alert(1, "critical_rate", "S2", 10, 12),
            alert(2, "latency", "S5", 15, 16),  # three hours late: not a finding
            alert(3, "lighting_drift", "S1", 21, 23),  # two hours: found
        ],
    )
    assert [(f.fault.kind, f.alert and f.alert["id"]) for f in card.findings] == [
        ("damage", 1),
        ("slow", None),
        ("lighting", 3),
    ]
    assert card.findings[0].delay == timedelta(0) and card.findings[2].delay == timedelta(hours=2)
    assert card.findings[0].resolved_after_end and not card.all_found
    assert [a["id"] for a in card.uninjected] == [2]


def test_other_alerts_are_sorted_into_site_side_effects_and_uninjected() -> None:
    card = score(
        [SLOW, LIGHTING],
        [
            alert(1, "latency", "S5", 12, 14),
            alert(2, "latency", None, 12, 14),  # the slow model in the site's latency
            alert(3, "class_drift", "S1", 19, 21, likely_cause={"rule": "lighting_drift"}),
            alert(4, "class_drift", "S1", 19, 21),  # not tied by the monitor: uninjected
            alert(5, "lens_drift", "S3", 19, 21, likely_cause={"rule": "lens_drift"}),
            alert(6, "lighting_drift", "S1", 19, 22),
            # the site's class mix moved with S1's lighting, held back by the same incident
            alert(7, "class_drift", None, 19, 21, inhibited_by=["critical_rate@site"]),
            alert(8, "class_drift", None, 3, 4, inhibited_by=["critical_rate@site"]),  # no fault
            alert(9, "class_drift", None, 19, 21),  # during a fault, but not tied: uninjected
        ],
    )
    assert card.all_found
    assert [a["id"] for a in card.at_site] == [2]
    assert [a["id"] for a in card.side_effects] == [3, 7]
    assert [a["id"] for a in card.uninjected] == [4, 5, 8, 9]


def test_the_rendered_card_shows_hour_delay_resolve_and_the_other_alerts() -> None:
    lines = render(
        score(
            [DAMAGE, SLOW],
            [alert(1, "critical_rate", "S2", 10, 12), alert(9, "no_data", "S4", 3, 4)],
        )
    )
    assert lines[1].split()[:7] == [
        "damage",
        "S2",
        "10:00-11:00",
        "critical_rate",
        "10:00",
        "0",
        "h",
    ]
    assert lines[1].split()[7] == "12:00"
    assert lines[2].split()[-1] == "MISSED"
    assert "found 1 of 2 faults" in lines
    assert lines[-2:] == [
        "alerts nobody injected: 1",
        "  no_data on S4 2026-11-24 03:00: S4: no_data summary",
    ]
