"""no_data: a station that normally sends at least no_data_min_expected frames an hour
sent none."""

from __future__ import annotations

import dataclasses

import pytest
from rules_support import make_window

from monitor.rules import no_data


# (n this hour, window.expected_n, reference hourly_volume) -> state
@pytest.mark.parametrize(
    ("n", "expected_n", "volume", "state"),
    [
        (0, 3000.0, None, "firing"),
        (0, None, 120.0, "firing"),  # expected volume from the reference
        (0, 30.0, None, "firing"),  # exactly the minimum
        (0, 12.0, None, "ok"),  # a station that is quiet anyway
        (0, 12.0, 3000.0, "ok"),  # the window's expectation (e.g. a holiday) wins
        (5, 3000.0, None, "ok"),  # a trickle is not silence
        (0, None, None, "skipped"),
    ],
)
def test_decision_table(small_reference, settings, n, expected_n, volume, state):
    reference = dataclasses.replace(small_reference, hourly_volume=volume)
    window = make_window(n=n, counts={}, expected_n=expected_n)
    result = no_data.evaluate(window, reference, settings)
    assert result.state == state
    if state == "firing":
        assert result.severity == "critical"


def test_firing_summary(settings):
    window = make_window(n=0, counts={}, expected_n=2950.0)
    result = no_data.evaluate(window, None, settings)
    assert result.summary == "dock-3: no predictions this hour (normally 2950 an hour)"
    assert result.fingerprint == "no_data:dock-3"


def test_the_whole_site_silent_fires(settings):
    window = make_window(n=0, counts={}, expected_n=60_000.0, station_id=None)
    result = no_data.evaluate(window, None, settings)
    assert result.firing and result.fingerprint == "no_data@site"


def test_provisional_reference_is_flagged(small_reference, settings):
    reference = dataclasses.replace(small_reference, hourly_volume=500.0, provisional=True)
    result = no_data.evaluate(make_window(n=0, counts={}), reference, settings)
    assert result.firing
    assert result.evidence["provisional_reference"] is True
    assert result.summary.endswith("[provisional reference]")


# HOUR0 is Tuesday 2026-11-24 00:00 UTC (01:00 in Berlin).
@pytest.mark.parametrize(
    ("stops", "zone", "station", "state"),
    [
        (["Mon-Fri 22:00-06:00"], "UTC", "dock-3", "ok"),  # Monday night's stop, into Tuesday
        (["Tue 01:00-02:00"], "UTC", "dock-3", "firing"),  # the stop is later that night
        (["Tue 01:00-02:00"], "Europe/Berlin", "dock-3", "ok"),  # 01:00 Berlin is 00:00 UTC
        (["Sun 00:00-24:00"], "UTC", "dock-3", "firing"),  # a Sunday stop: not today
        (["daily 00:30-00:45"], "UTC", "dock-3", "ok"),  # overlaps the hour
        (["2026-11-23T20:00/2026-11-24T08:00"], "UTC", "dock-3", "ok"),  # dated maintenance
        (["Tue 00:00-24:00 on dock-7"], "UTC", "dock-3", "firing"),  # another station's stop
        (["Tue 00:00-24:00 on dock-*"], "UTC", "dock-3", "ok"),
        (["Tue 00:00-24:00 on dock-*"], "UTC", None, "firing"),  # the site is not a dock
        ([], "UTC", "dock-3", "firing"),  # no calendar: an unplanned silence pages
    ],
)
def test_a_planned_stop_is_not_a_page(stops, zone, station, state):
    from rules_support import make_settings

    settings = make_settings(planned_stops=stops, site_timezone=zone)
    window = make_window(n=0, counts={}, expected_n=3000.0, station_id=station)
    result = no_data.evaluate(window, None, settings)
    assert result.state == state
    if state == "ok":
        assert result.evidence["planned_stop"] == stops[0]
        assert result.summary.endswith(f"a planned stop ({stops[0]})")
