"""lens_drift on a simulated station: an effect beyond the normal hour-to-hour spread (abrupt
drop or CUSUM) AND Evidently's K-S test; harmless shifts and clean hours stay quiet.
(Lighting against lens on real photographs: test_photographs.py.)"""

from __future__ import annotations

import json

import pytest
from rules_support import Belt, make_settings, make_window, run_hours

from monitor import drift
from monitor.rules import lens_drift

# 10 % softer: about 2 hour-to-hour SDs of Belt's hourly medians (the CUSUM soon notices),
# half the slow path's 20 % floor (an operator would not act on it).
HARMLESS = 0.9


@pytest.fixture
def reference(belt):
    return belt.reference()


@pytest.fixture
def no_evidently(monkeypatch):
    """Fail the test if a rule calls Evidently (a normal hour must not)."""

    def refuse(*args, **kwargs):
        raise AssertionError("Evidently was called")

    monkeypatch.setattr(drift, "_run_report", refuse)


def test_a_month_of_clean_hours_never_fires_and_never_calls_evidently(
    belt, reference, settings, no_evidently
):
    results = run_hours([belt.hour() for _ in range(720)], reference, lens_drift.evaluate, settings)
    assert [r.state for r in results] == ["ok"] * 720


def test_harmless_shift_in_thousands_of_images_does_not_fire_even_sustained(
    belt, reference, settings, no_evidently
):
    hours = [belt.hour(3000, sharpness=HARMLESS) for _ in range(48)]
    results = run_hours(hours, reference, lens_drift.evaluate, settings)
    assert not any(r.firing for r in results)
    # The CUSUM alone would have fired; the practical floor (20 % down) holds it.
    assert (
        results[-1].evidence["signals"]["sharpness"]["cusum_down"]
        >= results[-1].evidence["signals"]["sharpness"]["cusum_h_down"]
    )


@pytest.mark.parametrize(("factor", "severity"), [(0.5, "warning"), (0.3, "critical")])
def test_abrupt_sharpness_drop_fires(belt, reference, settings, factor, severity):
    result = lens_drift.evaluate(make_window(belt.hour(sharpness=factor)), reference, settings)
    assert result.firing
    assert result.severity == severity  # critical from a 60 % drop (1.5 x lens_sharpness_drop)
    signal = result.evidence["signals"]["sharpness"]
    assert signal["abrupt"]
    assert signal["drop"] == pytest.approx(1 - factor, abs=0.06)
    assert signal["drift_test"]["drifted"] and signal["drift_test"]["method"] == "ks"
    assert result.evidence["headline"].startswith("sharpness down")
    assert result.summary.startswith("dock-3: lens dirty or out of focus — sharpness down")
    assert result.report_html is not None and "<html" in result.report_html.lower()
    json.dumps(result.evidence, allow_nan=False)


def test_slow_degradation_is_caught_by_cusum_before_the_abrupt_threshold(belt, reference, settings):
    warm_up = [belt.hour() for _ in range(24)]
    fading = [belt.hour(sharpness=0.97**t) for t in range(1, 13)]  # 3 % an hour
    results = run_hours(warm_up + fading, reference, lens_drift.evaluate, settings)
    assert not any(r.firing for r in results[:24])
    first = next(i for i, r in enumerate(results[24:], start=1) if r.firing)
    caught = results[23 + first]
    (column, *_) = caught.evidence["fired_by"]  # either focus signal
    signal = caught.evidence["signals"][column]
    # The slow path, or (the worst tile only) two hours in a row; never the abrupt one.
    assert (signal["slow"] or signal["two_hours"]) and not signal["abrupt"]
    assert 1 - 0.97**first < settings.lens_sharpness_drop  # before the 40 % drop
    assert first <= 10  # measured: hour 8, about 22 % down (abrupt alone: hour 17)
    assert "CUSUM" in caught.summary or "the hour before" in caught.summary


def test_a_mild_smudge_fires_on_its_second_hour_and_one_low_hour_does_not(
    belt, reference, settings
):
    def smudged():
        stats = belt.hour()
        stats["sharpness_tile_min"] = stats["sharpness_tile_min"] * 0.66  # 34 %: under 40 %
        return stats

    # The simulated belt's worst tile is steadier than a camera's on photographs (there a
    # mild smudge is 3-5 SDs an hour); a wider control limit puts this one in that place:
    # not abrupt (12 SDs at 20 %), past two thirds of it (4 SDs) at 30 %.
    settings = settings.model_copy(update={"drift_control_sigmas": 6.0})
    warm_up = [belt.hour() for _ in range(24)]
    results = run_hours([*warm_up, smudged(), smudged()], reference, lens_drift.evaluate, settings)
    assert [r.state for r in results[24:]] == ["ok", "firing"]
    second = results[25]
    signal = second.evidence["signals"]["sharpness_tile_min"]
    assert signal["two_hours"] and not signal["abrupt"] and not signal["slow"]
    assert "worst-tile sharpness down" in second.summary and "the hour before" in second.summary

    once = run_hours(
        [*warm_up, smudged(), belt.hour(), belt.hour()], reference, lens_drift.evaluate, settings
    )
    assert not any(r.firing for r in once)  # one low hour is the clean tail


def test_resolves_when_the_fault_ends(belt, reference, settings):
    hours = [belt.hour(sharpness=0.4) for _ in range(5)] + [belt.hour() for _ in range(3)]
    results = run_hours(hours, reference, lens_drift.evaluate, settings)
    assert [r.state for r in results] == ["firing"] * 5 + ["ok"] * 3
    # The CUSUM is still high after the fault, but the practical floor is not met: ok at once.
    assert (
        results[5].evidence["signals"]["sharpness"]["cusum_down"]
        >= results[-1].evidence["signals"]["sharpness"]["cusum_h_down"]
    )


def test_a_smudge_shows_on_the_worst_tile_only(belt, reference, settings):
    stats = belt.hour()
    stats["sharpness_tile_min"] = stats["sharpness_tile_min"] * 0.35
    result = lens_drift.evaluate(make_window(stats), reference, settings)
    assert result.firing
    assert result.evidence["fired_by"] == ["sharpness_tile_min"]
    assert "worst-tile sharpness down" in result.summary


def test_a_firing_hour_runs_evidently_once_for_verdict_and_report(
    belt, reference, settings, evidently_runs
):
    result = lens_drift.evaluate(make_window(belt.hour(sharpness=0.3)), reference, settings)
    assert result.firing and "sharpness" in (result.report_html or "")
    assert evidently_runs == [("sharpness", "sharpness_tile_min")]


def test_statistical_test_must_agree(belt, reference, settings, monkeypatch):
    # A large effect that Evidently does not confirm (e.g. too few frames) does not fire.
    monkeypatch.setattr(
        drift,
        "run_drift",
        lambda ref, cur, columns, **kw: drift.DriftRun(
            {c: drift.DriftTest(0.5, False, "ks", 0.05) for c in columns}, snapshot=None
        ),
    )
    result = lens_drift.evaluate(make_window(belt.hour(sharpness=0.3)), reference, settings)
    assert result.state == "ok"
    assert result.evidence["signals"]["sharpness"]["abrupt"]


@pytest.mark.parametrize(
    ("case", "reason"),
    [("no reference", "no reference profile"), ("quiet hour", "fewer than the 100 needed")],
)
def test_skipped_without_enough_data_and_never_fires(belt, reference, settings, case, reason):
    if case == "no reference":
        window, ref = make_window(belt.hour(sharpness=0.2)), None
    else:
        window, ref = make_window(belt.hour(60, sharpness=0.2)), reference
    result = lens_drift.evaluate(window, ref, settings)
    assert result.state == "skipped" and not result.firing
    assert reason in result.evidence["reason"]


def test_provisional_reference_is_flagged(belt, settings):
    reference = belt.reference(hours=24, provisional=True)
    result = lens_drift.evaluate(make_window(belt.hour(sharpness=0.4)), reference, settings)
    assert result.firing
    assert result.evidence["provisional_reference"] is True
    assert result.summary.endswith("[provisional reference]")


def test_thresholds_come_from_settings(belt, reference):
    hour = make_window(belt.hour(sharpness=0.75))  # 25 % down
    assert not lens_drift.evaluate(hour, reference, make_settings()).firing
    assert lens_drift.evaluate(hour, reference, make_settings(lens_sharpness_drop=0.2)).firing


def test_a_mild_smudge_on_a_steady_camera_fires_at_once(settings):
    # The worst tile down 30 %: under the 40 % abrupt drop, but on a camera whose hours
    # barely vary that is ~15 hour-SDs, far past twice the control limit: no need to wait
    # hours for the CUSUM. On an ordinary camera (test above's belt) 30 % stays a slow matter.
    steady = Belt(seed=4)
    steady.HOUR_LOG_SHARPNESS_SD = 0.01
    reference = steady.reference(hours=48)
    stats = steady.hour()
    stats["sharpness_tile_min"] = stats["sharpness_tile_min"] * 0.7
    result = lens_drift.evaluate(make_window(stats), reference, settings)
    signal = result.evidence["signals"]["sharpness_tile_min"]
    assert result.firing and signal["abrupt"]
    assert 0.25 < signal["drop"] < settings.lens_sharpness_drop
    assert -signal["z"] >= 2 * settings.drift_control_sigmas
    ordinary = Belt(seed=1)
    stats = ordinary.hour()
    stats["sharpness_tile_min"] = stats["sharpness_tile_min"] * 0.7
    calm = lens_drift.evaluate(make_window(stats), ordinary.reference(hours=48), settings)
    assert not calm.evidence["signals"]["sharpness_tile_min"]["abrupt"]
