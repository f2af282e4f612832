"""The simulator's fault specs: every documented form is read, every malformed one is
refused with a message naming the part that is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from inference.training.faults import KINDS, FaultSpec, FaultSpecError, parse_fault

DAY = datetime(2026, 11, 24, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("lens:S3@14:00", FaultSpec("lens", "S3", time(14), None, 1.0)),
        ("lens:S3@14:00-18:30:0.5", FaultSpec("lens", "S3", time(14), time(18, 30), 0.5)),
        ("smudge:S4@16:00", FaultSpec("smudge", "S4", time(16), None, 1.0)),
        ("smudge:S4@16:00:0.7", FaultSpec("smudge", "S4", time(16), None, 0.7)),
        ("lighting:S1@20:00-23:00", FaultSpec("lighting", "S1", time(20), time(23), 0.6)),
        ("lighting:S1@20:00-23:00:1.8", FaultSpec("lighting", "S1", time(20), time(23), 1.8)),
        ("damage:S2@10:00-11:00", FaultSpec("damage", "S2", time(10), time(11), 0.2)),
        ("damage:S2@10:00-11:00:0.35", FaultSpec("damage", "S2", time(10), time(11), 0.35)),
        ("down:S4@06:00-08:00", FaultSpec("down", "S4", time(6), time(8), None)),
        ("slow:S5@12:00-13:00", FaultSpec("slow", "S5", time(12), time(13), 150.0)),
        ("slow:S5@12:00-13:00:400", FaultSpec("slow", "S5", time(12), time(13), 400.0)),
        (
            "down:dock-7.a_2@9:05-23:59",
            FaultSpec("down", "dock-7.a_2", time(9, 5), time(23, 59), None),
        ),
    ],
)
def test_every_documented_form_is_read(spec: str, expected: FaultSpec) -> None:
    assert parse_fault(spec) == expected


@pytest.mark.parametrize(
    ("spec", "part", "words"),
    [
        ("lens", "spec", "no ':'"),
        ("lense:S3@14:00", "kind", "unknown kind 'lense'"),
        (":S3@14:00", "kind", "unknown kind ''"),
        ("lens:S3", "start", "no '@'"),
        ("lens:@14:00", "station", "'' is not a station id"),
        ("lens:S 3@14:00", "station", "'S 3' is not a station id"),
        ("lens:S3@", "start", "'' is not a time"),
        ("lens:S3@2pm", "start", "'2pm' is not a time"),
        ("lens:S3@25:00", "start", "25:00 is not a time of day"),
        ("lens:S3@14:60", "start", "14:60 is not a time of day"),
        ("lens:S3@14:000", "start", "unexpected '0' after the start time"),
        ("down:S4@06:00-", "end", "'' is not a time"),
        ("down:S4@06:00-8h", "end", "'8h' is not a time"),
        ("down:S4@06:00-06:00", "end", "lasts 0 min"),
        ("down:S4@06:00-08:00x", "end", "unexpected 'x' after the end time"),
        ("down:S4@06:00-08:00:1", "value", "down takes no value"),
        ("damage:S2@10:00-11:00:lots", "value", "'lots' is not a number"),
        ("damage:S2@10:00-11:00:1.5", "value", "critical share 1.5 must be (0, 1]"),
        ("damage:S2@10:00-11:00:0", "value", "critical share 0 must be"),
        ("lighting:S1@20:00-23:00:1", "value", "not 1"),
        ("lighting:S1@20:00-23:00:-0.5", "value", "gain factor -0.5 must be > 0"),
        ("smudge:S4@16:00:2", "value", "smudge strength 2 must be (0, 1]"),
        ("slow:S5@12:00-13:00:0", "value", "added latency in ms 0 must be"),
    ],
)
def test_a_malformed_spec_is_refused_naming_the_wrong_part(
    spec: str, part: str, words: str
) -> None:
    with pytest.raises(FaultSpecError) as refused:
        parse_fault(spec)
    assert refused.value.part == part
    message = str(refused.value)
    assert f"fault {spec!r}: {part}: " in message
    assert words in message
    assert "KIND:STATION@HH:MM[-HH:MM][:VALUE]" in message


def test_a_fault_is_placed_at_the_first_such_time_after_the_anchor() -> None:
    anchor = DAY.replace(hour=9, minute=30)
    until = DAY.replace(hour=23)
    fault = parse_fault("damage:S2@10:00-11:00").place(anchor, until)
    assert (fault.start, fault.end) == (DAY.replace(hour=10), DAY.replace(hour=11))
    earlier = parse_fault("down:S1@08:00-09:00").place(anchor, until)
    assert earlier.start == DAY.replace(day=25, hour=8)  # 08:00 is past: the next day's


def test_an_end_before_the_start_is_on_the_next_day_and_no_end_is_the_window_end() -> None:
    until = DAY.replace(day=26)
    overnight = parse_fault("lighting:S1@22:00-02:00").place(DAY, until)
    assert (overnight.start, overnight.end) == (DAY.replace(hour=22), DAY.replace(day=25, hour=2))
    lasting = parse_fault("lens:S3@14:00").place(DAY, until)
    assert (lasting.start, lasting.end) == (DAY.replace(hour=14), until)
    assert lasting.active(DAY.replace(hour=14)) and not lasting.active(DAY.replace(hour=13))


def test_each_kind_names_the_rule_that_should_find_it() -> None:
    assert {name: kind.rule for name, kind in KINDS.items()} == {
        "lens": "lens_drift",
        "smudge": "lens_drift",
        "lighting": "lighting_drift",
        "damage": "critical_rate",
        "down": "no_data",
        "slow": "latency",
    }
