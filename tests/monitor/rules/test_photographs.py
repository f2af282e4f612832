"""Lighting must not read as a dirty lens, nor the reverse: real photographs (skimage.data,
random crops and flips), statistics by inference.imagestats, faults simulated on the pixels.

The reference is 480 clean frames; each hour is 120 other crops under one fault."""

from __future__ import annotations

import pytest
from rules_support import _veil, make_window, photo_frames, photo_stats, run_hours

from monitor.rules import lens_drift, lighting_drift

# fault -> (lens_drift fires, lighting_drift fires)
EXPECTED = {
    "clean": (False, False),
    "gain 0.6": (False, True),
    "gain 1.4": (False, True),
    "gamma 0.7": (False, True),
    "blur sigma 2": (True, False),
    "smudge over a third": (True, False),
    "haze veil 0.3": (True, False),
}


@pytest.mark.parametrize("fault", list(EXPECTED))
def test_lighting_raises_only_lighting_and_a_dirty_lens_only_lens(
    photo_reference, photo_hours, settings, fault
):
    window = make_window(photo_hours[fault])
    lens = lens_drift.evaluate(window, photo_reference, settings)
    lighting = lighting_drift.evaluate(window, photo_reference, settings)
    assert (lens.firing, lighting.firing) == EXPECTED[fault], (lens.summary, lighting.summary)


def test_a_haze_veil_moves_brightness_but_lighting_attributes_it_to_the_veil(
    photo_reference, photo_hours, settings
):
    window = make_window(photo_hours["haze veil 0.3"])
    lens = lens_drift.evaluate(window, photo_reference, settings)
    assert lens.evidence["fired_by"] == ["veil"]
    assert lens.evidence["signals"]["veil"]["haze"] == pytest.approx(0.3, abs=0.05)
    brightness = lighting_drift.evaluate(window, photo_reference, settings).evidence["signals"][
        "brightness"
    ]
    assert brightness["veil"]["attributed"]
    assert abs(brightness["move"]) < abs(brightness["median"] - brightness["reference_median"])


def test_gamma_lifts_the_dark_level_without_reading_as_a_veil(
    photo_reference, photo_hours, settings
):
    window = make_window(photo_hours["gamma 0.7"])
    veil = lens_drift.evaluate(window, photo_reference, settings).evidence["signals"]["veil"]
    assert veil["dark_lift"] > 15  # the darks rose a lot...
    assert veil["haze"] < settings.lens_veil_haze / 4  # ...but the range did not shrink


def test_a_smudge_is_seen_on_the_worst_tile_not_the_whole_frame(
    photo_reference, photo_hours, settings
):
    window = make_window(photo_hours["smudge over a third"])
    result = lens_drift.evaluate(window, photo_reference, settings)
    assert result.evidence["fired_by"] == ["sharpness_tile_min"]
    assert result.evidence["signals"]["sharpness"]["drop"] < settings.lens_sharpness_drop


def test_an_early_light_haze_is_not_a_lighting_change(photo_reference, settings):
    # The first hours of a slow haze (a veil of 9 % towards a bright grey): brightness up
    # ~11 levels, sustained, while the range shrank by only ~9 %. The veil explains it.
    frames = photo_frames(seed=3, count=120)
    hazed = photo_stats([_veil(0.09, grey=235.0)(frame) for frame in frames])
    results = run_hours([hazed] * 8, photo_reference, lighting_drift.evaluate, settings)
    brightness = results[-1].evidence["signals"]["brightness"]
    assert brightness["median"] - brightness["reference_median"] > 10  # it did move...
    assert brightness["veil"]["attributed"]  # ...by the veil
    assert not any(r.firing for r in results)
