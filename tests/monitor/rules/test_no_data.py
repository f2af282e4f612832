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
