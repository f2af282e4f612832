"""The shift calendar (monitor/core/stops.py): every documented form is read, every
malformed one refused with a message naming the wrong part."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.core.settings import Settings
from monitor.core.stops import StopError, parse_stop

UTC_ZONE = ZoneInfo("UTC")
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


def _covered(text: str, zone: str = "UTC") -> list[int]:
    """The hours of the week from Monday 00:00 UTC the stop covers."""
    stop = parse_stop(text)
    return [
        h for h in range(7 * 24) if stop.covers(MONDAY + timedelta(hours=h), "S1", ZoneInfo(zone))
    ]


def test_weekly_forms() -> None:
    assert _covered("Sun 00:00-24:00") == list(range(144, 168))
    assert _covered("daily 02:00-03:00") == [2 + 24 * d for d in range(7)]
    # Weeknights run into the next morning, Friday's into Saturday; Monday 00:00-06:00
    # follows a Sunday, which starts no weeknight stop.
    nights = _covered("Mon-Fri 22:00-06:00")
    assert nights[:8] == [22, 23, 24, 25, 26, 27, 28, 29]
    assert nights[-8:] == [118, 119, 120, 121, 122, 123, 124, 125]
    assert 0 not in nights and len(nights) == 40
    assert _covered("Sat-Mon 00:00-24:00") == [*range(24), *range(120, 168)]  # wraps
    assert _covered("MON 09:30-10:30") == [9, 10]  # any overlap with an hour counts


def test_local_time_follows_the_site_zone() -> None:
    # 06:00 in Berlin is 05:00 UTC in winter.
    assert _covered("Mon 06:00-07:00", "Europe/Berlin") == [5]


def test_a_dated_stop_and_a_station_pattern() -> None:
    stop = parse_stop("2026-12-24T18:00/2026-12-27T06:00 on dock-*")
    eve = datetime(2026, 12, 24, 18, tzinfo=UTC)
    assert stop.covers(eve, "dock-3", UTC_ZONE)
    assert not stop.covers(eve - timedelta(hours=1), "dock-3", UTC_ZONE)
    assert not stop.covers(eve, "belt-1", UTC_ZONE)
    assert not stop.covers(eve, None, UTC_ZONE)  # a station's stop is not the site's
    assert parse_stop("2026-12-24T18:00+01:00/2026-12-25T00:00+01:00").since == eve - timedelta(
        hours=1
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("Funday 00:00-01:00", "unknown day 'funday'"),
        ("Mon-Fry 00:00-01:00", "unknown day 'fry'"),
        ("Mon 25:00-26:00", "'25:00' is not a time of day"),
        ("Mon 10:00", "expected 'DAYS HH:MM-HH:MM'"),
        ("2026-12-24/2026-12-01", "the end is not after the start"),
        ("2026-12-24T18:00/tomorrow", "expected ISO times"),
    ],
)
def test_malformed_entries_are_refused_naming_the_part(text: str, complaint: str) -> None:
    with pytest.raises(StopError, match="planned stop") as error:
        parse_stop(text)
    assert complaint in str(error.value)


def test_the_setting_refuses_a_bad_entry() -> None:
    with pytest.raises(ValueError, match="unknown day 'sundy'"):
        Settings(planned_stops=["Sundy 00:00-24:00"])
    assert Settings(planned_stops=["Sunday 00:00-24:00"]).planned_stops == ["Sunday 00:00-24:00"]
    assert _covered("Saturday-Sunday 00:00-24:00") == list(range(120, 168))
