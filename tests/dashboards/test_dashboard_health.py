"""A station tile's health from its hour, its reference and its alerts (pure), and the
order the wall shows tiles in."""

from __future__ import annotations

import pytest

from dashboards.health import Figure, likely_cause, links, station_tile, tile_order

BANDS = {  # with sigmas=3: sharpness 0.29 to 0.41, brightness 112 to 124
    "baseline_critical_rate": 0.025,
    "hourly_spread": {
        "sharpness": {"mean": 0.35, "sd": 0.02},
        "brightness": {"mean": 118.0, "sd": 2.0},
    },
}
GOOD_HOUR = {
    "n_total": 200,
    "n_critical": 6,
    "sharpness_p50": 0.34,
    "brightness_p50": 119.0,
    "latency_p95": 12.0,
}
FIRING = [{"rule": "critical_rate", "severity": "critical"}]


def tile(row=GOOD_HOUR, bands=BANDS, firing=(), now=0, station="S1"):
    return station_tile(
        station,
        row,
        bands,
        list(firing),
        now,
        threshold=0.10,
        default_baseline=0.03,
        latency_budget_ms=100.0,
        sigmas=3.0,
    )


@pytest.mark.parametrize(
    ("change", "health", "reasons"),
    [
        ({}, "ok", ()),
        ({"n_critical": 30}, "watch", ("critical share",)),
        ({"sharpness_p50": 0.27}, "watch", ("sharpness",)),
        ({"brightness_p50": 125.0}, "watch", ("brightness",)),
        ({"latency_p95": 140.0}, "watch", ("latency p95",)),
        ({"n_critical": 30, "latency_p95": 140.0}, "watch", ("critical share", "latency p95")),
    ],
)
def test_a_figure_beyond_its_limit_without_an_alert_is_watch(change, health, reasons) -> None:
    result = tile(row={**GOOD_HOUR, **change})
    assert (result.health, result.reasons) == (health, reasons)


def test_a_firing_alert_makes_the_tile_firing_whatever_the_figures() -> None:
    result = tile(firing=FIRING)
    assert (result.health, result.firing, result.severity) == (
        "firing",
        ("critical_rate",),
        "critical",
    )


def test_a_station_without_traffic_in_the_hour_has_no_data() -> None:
    result = tile(row=None, now=4)
    assert result.health == "no data"
    assert (result.predictions_hour, result.predictions_now) == (0, 4)
    assert result.critical_share.value is None


def test_the_band_is_the_reference_hours_mean_plus_minus_sigmas_sds() -> None:
    sharpness = tile().sharpness
    assert (sharpness.low, sharpness.high) == pytest.approx((0.29, 0.41))


def test_the_baseline_is_the_references_and_the_default_without_one() -> None:
    assert tile().baseline == 0.025
    without = tile(bands=None)
    assert without.baseline == 0.03
    assert (without.sharpness.low, without.sharpness.high) == (None, None)
    assert without.health == "ok"  # no band: nothing to be outside of


def test_tiles_sort_firing_then_watch_then_ok_then_no_data_the_most_severe_first() -> None:
    tiles = [
        tile(station="A"),
        tile(row=None, station="B"),
        tile(row={**GOOD_HOUR, "n_critical": 40}, station="C"),
        tile(firing=[{"rule": "latency", "severity": "warning"}], station="D"),
        tile(firing=FIRING, station="E"),
    ]
    assert [t.station for t in sorted(tiles, key=tile_order)] == ["E", "D", "C", "A", "B"]


@pytest.mark.parametrize(
    ("value", "outside"),
    [(None, False), (0.5, False), (0.09, True), (1.3, True), (0.1, False), (1.2, False)],
)
def test_a_figure_is_outside_only_strictly_beyond_a_limit(value, outside) -> None:
    assert Figure(value, 0.1, 1.2).outside is outside


def test_the_likely_cause_reads_as_words() -> None:
    evidence = {
        "likely_cause": {
            "fault": "camera",
            "rule": "lens_drift",
            "detail": "sharpness down 55 %",
            "also": [{"rule": "lighting_drift", "detail": "brightness -30"}],
        }
    }
    assert likely_cause(evidence) == (
        "camera fault (lens_drift): sharpness down 55 %; also lighting_drift: brightness -30"
    )
    assert likely_cause({}) is None and likely_cause(None) is None


def test_links_say_what_an_alert_was_tied_to() -> None:
    worst = {"hour": "2026-12-04T14:00:00+00:00", "magnitude": 0.5, "summary": "S1: 50 %"}
    assert links(None) == []
    assert links({"magnitude": 0.5, "worst_hour": worst}) == []  # the worst is the latest
    assert links(
        {
            "inhibited_by": ["critical_rate:S1"],
            "linked": ["lighting_drift:S1"],
            "magnitude": 0.2,
            "worst_hour": worst,
        }
    ) == [
        "Held back: same incident as critical_rate:S1",
        "Linked (held back for this one): lighting_drift:S1",
        "Worst hour 2026-12-04T14:00:00+00:00: S1: 50 %",
    ]
