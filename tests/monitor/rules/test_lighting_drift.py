"""lighting_drift on a simulated station: brightness moved beyond the normal hour-to-hour
spread (abrupt or CUSUM) or clipping rose, AND Evidently's K-S test agrees.
(Lighting against lens on real photographs: test_photographs.py.)"""

from __future__ import annotations

import json

import pytest
from rules_support import Belt, make_settings, make_window, run_hours

from monitor import drift
from monitor.rules import lighting_drift

HARMLESS = 0.05 * Belt.BRIGHTNESS_SD  # a 0.05-SD shift: 1.25 levels


@pytest.fixture
def reference(belt):
    return belt.reference()


@pytest.fixture
def no_evidently(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("Evidently was called")

    monkeypatch.setattr(drift, "_run_report", refuse)


def test_a_month_of_clean_hours_never_fires_and_never_calls_evidently(
    belt, reference, settings, no_evidently
):
    hours = [belt.hour() for _ in range(720)]
    results = run_hours(hours, reference, lighting_drift.evaluate, settings)
    assert [r.state for r in results] == ["ok"] * 720


@pytest.mark.parametrize("direction", [1, -1])
def test_harmless_shift_does_not_fire_even_sustained(
    belt, reference, settings, no_evidently, direction
):
    hours = [belt.hour(brightness=direction * HARMLESS) for _ in range(48)]
    results = run_hours(hours, reference, lighting_drift.evaluate, settings)
    assert not any(r.firing for r in results)


@pytest.mark.parametrize(("levels", "word"), [(30, "up"), (-30, "down")])
def test_abrupt_brightness_change_fires(belt, reference, settings, levels, word):
    result = lighting_drift.evaluate(make_window(belt.hour(brightness=levels)), reference, settings)
    assert result.firing
    assert result.severity == "warning"
    assert result.evidence["fired_by"] == ["brightness"]
    assert result.evidence["signals"]["brightness"]["abrupt"]
    assert result.evidence["headline"].startswith(f"brightness {word} ")
    assert result.summary.startswith(f"dock-3: lighting changed — brightness {word} ")
    assert result.report_html is not None
    json.dumps(result.evidence, allow_nan=False)


def test_a_firing_hour_runs_evidently_once_for_verdict_and_report(
    belt, reference, settings, evidently_runs
):
    result = lighting_drift.evaluate(make_window(belt.hour(brightness=30)), reference, settings)
    assert result.firing and "brightness" in (result.report_html or "")
    assert evidently_runs == [("brightness",)]


def test_slow_dimming_is_caught_by_cusum_before_the_abrupt_threshold(belt, reference, settings):
    warm_up = [belt.hour() for _ in range(24)]
    dimming = [belt.hour(brightness=-1.0 * t) for t in range(1, 16)]  # a level an hour
    results = run_hours(warm_up + dimming, reference, lighting_drift.evaluate, settings)
    assert not any(r.firing for r in results[:24])
    first = next(i for i, r in enumerate(results[24:], start=1) if r.firing)
    signal = results[23 + first].evidence["signals"]["brightness"]
    assert signal["slow"] and not signal["abrupt"]
    assert first < settings.lighting_brightness_shift  # measured: about 10 levels down
    assert abs(signal["move"]) < settings.lighting_brightness_shift


def test_rising_bright_clipping_fires(belt, reference, settings):
    result = lighting_drift.evaluate(
        make_window(belt.hour(clipped_bright=0.08)), reference, settings
    )
    assert result.firing
    assert result.evidence["fired_by"] == ["clipped_bright"]
    assert "bright clipping up to" in result.summary


def test_resolves_when_the_fault_ends(belt, reference, settings):
    hours = [belt.hour(brightness=-35) for _ in range(3)] + [belt.hour() for _ in range(3)]
    states = [r.state for r in run_hours(hours, reference, lighting_drift.evaluate, settings)]
    assert states == ["firing"] * 3 + ["ok"] * 3


def test_skipped_without_reference_or_volume(belt, reference, settings):
    assert lighting_drift.evaluate(make_window(belt.hour()), None, settings).state == "skipped"
    quiet = lighting_drift.evaluate(make_window(belt.hour(50, brightness=60)), reference, settings)
    assert quiet.state == "skipped" and not quiet.firing


def test_thresholds_come_from_settings(belt, reference):
    hour = make_window(belt.hour(brightness=25))
    assert lighting_drift.evaluate(hour, reference, make_settings()).firing
    # 60 levels: the abrupt limit, and half of it for the CUSUM path, are out of reach.
    tolerant = make_settings(lighting_brightness_shift=60.0)
    assert not lighting_drift.evaluate(hour, reference, tolerant).firing
