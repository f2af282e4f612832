"""Reference profiles (monitor/reference.py): built from a known-good window, provisional
for new stations, and the site's pooled in memory from the stations'."""

from __future__ import annotations

from datetime import timedelta

import pytest
from daygen import traffic
from hourly_support import DAY1, DAY2, write

from monitor.core.queries import references
from monitor.hourly import run_range
from monitor.reference import NoData, build_reference, load_reference, site_reference
from monitor.rules.base import Reference


def test_a_reference_holds_the_window_s_mix_volume_and_samples(db_url, engine, settings) -> None:
    write(db_url, settings, traffic(["S1"], DAY1, 4, 100, seed=1))
    with engine.begin() as conn:
        built = build_reference(conn, "S1", DAY1, DAY2, sample_size=50)
        loaded = load_reference(conn, "S1")
    assert loaded is not None and loaded.n == built.n == 400
    assert loaded.hourly_volume == pytest.approx(100.0)
    assert sum(loaded.class_mix.values()) == pytest.approx(1.0)
    assert 0 < len(loaded.sample["sharpness"]) <= 50
    assert not loaded.provisional


def test_a_window_without_predictions_is_refused(engine) -> None:
    with engine.begin() as conn, pytest.raises(NoData, match="no predictions of station S1"):
        build_reference(conn, "S1", DAY1, DAY2, sample_size=50)


def test_station_without_reference_gets_a_provisional_one(db_url, engine, settings) -> None:
    s = settings.model_copy(update={"provisional_reference_hours": 3})
    write(db_url, s, traffic(["S7"], DAY2, 4, 100, seed=12))
    run_range(engine, s, DAY2, DAY2 + timedelta(hours=4))
    with engine.connect() as conn:
        reference = load_reference(conn, "S7")
    assert reference is not None and reference.provisional
    assert reference.n == 300


def test_the_site_reference_is_never_stored(db_url, engine, settings) -> None:
    # A client may name a station '*': the site's profile must not sit in its row.
    write(db_url, settings, traffic(["S1"], DAY1, 2, 50, seed=2))
    with engine.begin() as conn:
        build_reference(conn, "S1", DAY1, DAY2, sample_size=50)
    run_range(engine, settings, DAY1, DAY1 + timedelta(hours=2))
    with engine.connect() as conn:
        assert [p["station_id"] for p in references.all_profiles(conn)] == ["S1"]


def _station(volume: float | None, critical: float, provisional: bool = False) -> Reference:
    return Reference(
        station_id="S",
        provisional=provisional,
        n=1000,
        sample={},
        quantiles={},
        hourly_spread={},
        class_mix={"undamaged": 1 - critical, "minor": 0.0, "critical": critical},
        baseline_critical_rate=critical,
        hourly_volume=volume,
    )


# (stations' (hourly volume, critical share)) -> site (hourly volume, critical share)
@pytest.mark.parametrize(
    ("stations", "volume", "critical"),
    [
        ([(300, 0.02), (300, 0.04)], 600, 0.03),
        ([(900, 0.02), (100, 0.12)], 1000, 0.03),  # mixed as their frames mix: by volume
        ([(300, 0.02), (None, 0.08)], 300, 0.05),  # unknown volume weighs as the others' mean
        ([(None, 0.02), (None, 0.04)], None, 0.03),  # no volume known at all: evenly
    ],
)
def test_the_site_reference_pools_the_stations_by_volume(stations, volume, critical) -> None:
    site = site_reference([_station(v, c) for v, c in stations])
    assert site is not None and site.station_id is None
    assert site.hourly_volume == volume
    assert site.class_mix["critical"] == pytest.approx(critical)
    assert site.baseline_critical_rate == pytest.approx(critical)
    assert sum(site.class_mix.values()) == pytest.approx(1.0)


def test_the_site_reference_is_provisional_when_a_station_s_is() -> None:
    site = site_reference([_station(300, 0.02), _station(300, 0.02, provisional=True)])
    assert site is not None and site.provisional


def test_no_station_reference_means_no_site_reference() -> None:
    assert site_reference([]) is None
