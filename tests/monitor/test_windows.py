"""What the rules see (monitor/windows.py): every station that sent, has a reference or
sent in the last week gets a window, and the volume to expect follows the belt's own
rhythm at this hour of day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from daygen import traffic
from hourly_support import DAY2, write

from monitor.core.queries import rollups
from monitor.windows import EXPECTED_DAYS, expected_volume, hour_windows, pool_span

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


HOUR = datetime(2026, 11, 30, 10, tzinfo=UTC)


def _back(*volumes: int) -> dict[datetime, int]:
    """Volumes of the hours before HOUR: first = the hour just before."""
    return {HOUR - timedelta(hours=i): n for i, n in enumerate(volumes, start=1)}


# (this hour's n, earlier hours' volumes) -> (first pooled hour back, clock hours, n) or None
@pytest.mark.parametrize(
    ("n", "volumes", "span"),
    [
        (30, _back(30, 30, 30, 30), (3, 4, 120)),  # a 30-an-hour station: four hours
        (80, _back(80), (1, 2, 160)),
        (30, _back(30, 0, 0, 30, 30), (5, 6, 120)),  # silent hours count as clock hours
        (30, _back(10, 10, 10, 10, 10), None),  # six hours hold 80: still too few
        (30, {}, None),
    ],
)
def test_a_thin_hour_pools_the_fewest_previous_hours_that_hold_enough(n, volumes, span) -> None:
    got = pool_span(volumes, HOUR, n, 100, 6)
    if span is None:
        assert got is None
    else:
        back, hours, total = span
        assert got == (HOUR - timedelta(hours=back), hours, total)


def test_a_quiet_station_gets_a_pool_of_its_last_hours(db_url, engine, settings) -> None:
    write(db_url, settings, traffic(["Q", "B"], DAY2, 6, 30, seed=5))
    write(db_url, settings, traffic(["B"], DAY2, 6, 270, seed=6))  # B: 300 an hour
    last = DAY2 + timedelta(hours=5)
    with engine.begin() as conn:
        for h in range(6):
            rollups.write_hour(conn, DAY2 + timedelta(hours=h))
        windows = hour_windows(
            conn, last, {}, sample_size=1000, min_predictions=100, max_pool_hours=6
        )
    by_station = {w.station_id: w for w in windows}
    quiet, busy = by_station["Q"], by_station["B"]
    assert busy.pool is None  # enough on its own
    assert quiet.n == 30 and quiet.pool is not None
    assert quiet.pool.since == DAY2 + timedelta(hours=2) and quiet.pool.hours == 4
    assert quiet.pool.n == 120 and sum(quiet.pool.counts.values()) == 120
    assert len(quiet.pool.sample["sharpness"]) == 120  # every pooled frame, not the hour's
    assert len(quiet.sample["sharpness"]) == 30
