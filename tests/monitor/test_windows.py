"""What the rules see (monitor/windows.py): every station that sent, has a reference or
sent in the last week gets a window, and the volume to expect follows the belt's own
rhythm at this hour of day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from daygen import traffic
from hourly_support import DAY2, write

from monitor.core.queries import rollups
from monitor.windows import EXPECTED_DAYS, expected_volume, hour_windows

NOW = datetime(2026, 11, 30, 10, tzinfo=UTC)  # a Monday, 10:00


def _days(*volumes_back: int | None) -> dict[datetime, int]:
    """Volumes at 10:00 on the days before NOW: first = yesterday; None = no row."""
    return {
        NOW - timedelta(days=day): n for day, n in enumerate(volumes_back, start=1) if n is not None
    }


# volumes at this hour on the days before (yesterday first) -> the volume to expect
@pytest.mark.parametrize(
    ("volumes", "expected"),
    [
        (_days(300, 310, 290, 305, 300, 295, 300), 300.0),  # a busy belt
        (_days(300), 300.0),  # one day of history is enough
        (_days(0, 300), 0.0),  # busy on one day of two is no habit yet
        (_days(300, 300, 0), 300.0),
        ({}, None),  # none: unknown (no_data falls back to the reference)
        ({NOW - timedelta(hours=3): 300}, None),  # a station first seen this morning
        (_days(0, 0, 0, 0, 0, 0, 0) | {NOW - timedelta(hours=5): 300}, 0.0),  # quiet hour
        (_days(300, 300, None, 300, 300, 300, 300), 300.0),  # one bad day is outvoted
        # Monday 10:00 of a belt that rests on Mondays: last Monday says 0 (and the belt
        # was known then: it sent the Sunday before).
        (_days(300, 300, 300, 300, 300, 300, None, 300), 0.0),
        # A belt that rests on Sundays, on a Monday: the quiet Sunday is outvoted.
        (_days(None, 300, 300, 300, 300, 300, 300, 300), 300.0),
    ],
)
def test_expected_volume_follows_the_hour_of_day(volumes, expected) -> None:
    assert expected_volume(volumes, NOW) == expected


def test_days_before_the_station_first_sent_do_not_count_as_silent() -> None:
    volumes = {NOW - timedelta(days=2): 300, NOW - timedelta(days=1): 280}
    assert expected_volume(volumes, NOW) == 280.0  # not the median with five zeros
    assert EXPECTED_DAYS == 7


def test_a_station_silent_now_but_seen_this_week_gets_a_window(db_url, engine, settings) -> None:
    write(db_url, settings, traffic(["S1", "S2"], DAY2, 1, 40, seed=1))
    write(db_url, settings, traffic(["S1"], DAY2 + timedelta(days=1), 1, 40, seed=2))
    with engine.begin() as conn:
        for hour in (DAY2, DAY2 + timedelta(days=1)):
            rollups.write_hour(conn, hour)
        windows = hour_windows(conn, DAY2 + timedelta(days=1), {}, sample_size=100)
    by_station = {w.station_id: w for w in windows}
    assert set(by_station) == {"S1", "S2", None}
    assert by_station["S2"].n == 0 and by_station["S2"].expected_n == 40.0
    assert by_station["S1"].n == 40 and len(by_station["S1"].sample["brightness"]) == 40
    assert by_station[None].n == 40 and by_station[None].expected_n == 80.0
