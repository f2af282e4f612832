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


def test_a_daylight_swing_is_the_normal_level_not_a_drift(settings):
    # A bright station near a window (level 200): brightness swings +-5 % (+-10 levels) a
    # day. The reference learns the cycle, so the afternoons of the next week are not
    # "up", while the slow path once summed them (one false alarm in the evaluation).
    import math
    from datetime import timedelta

    from rules_support import HOUR0, build_reference

    belt = Belt(seed=5)

    def day_hours(start: int, count: int) -> list:
        return [
            belt.hour(
                500, brightness=90 + 200 * 0.05 * math.sin(2 * math.pi * ((start + i) % 24) / 24)
            )
            for i in range(count)
        ]

    reference = build_reference(day_hours(0, 72), settings=settings)
    assert reference.yardsticks["brightness"].cycle is not None
    hours = day_hours(0, 24 * 7)
    results = run_hours(hours, reference, lighting_drift.evaluate, settings)
    assert not any(r.firing for r in results)
    # A light dimming by 25 levels at the swing's peak (06:00 here) is seen: 25 below what
    # that hour should be, though only ~15 below the day's average.
    failing = day_hours(6, 1)[0]
    failing["brightness"] = failing["brightness"] - 25
    when = HOUR0 + timedelta(hours=6)
    fired = lighting_drift.evaluate(make_window(failing, hour=when), reference, settings)
    assert fired.firing and fired.evidence["headline"].startswith("brightness down")


def test_thin_hours_are_judged_with_their_own_noise(settings):
    # The yardstick's spread is that of medians of the reference's ~400 frames an hour; a
    # night-shift hour of 40 frames has a median about three times as noisy, and a month
    # of them must not read as a lighting change, nor as a lens one.
    from monitor.rules import _shared as sh
    from monitor.rules import lens_drift

    belt = Belt(seed=9)
    reference = belt.reference(hours=72, n=400)
    thin = [belt.hour(40) for _ in range(720)]
    # A thin window is judged alone here (no pool), the harshest case.
    thin_settings = make_settings(drift_min_predictions=10)
    for rule in (lighting_drift, lens_drift):
        results = run_hours(thin, reference, rule.evaluate, thin_settings)
        assert not any(r.firing for r in results), rule.NAME
    busy, quiet = (
        sh.measure_shift("brightness", make_window(belt.hour(n)), reference, settings)
        for n in (400, 40)
    )
    assert busy is not None and quiet is not None
    assert quiet.sd > 2 * busy.sd  # ~ sqrt(10) x the sampling part
