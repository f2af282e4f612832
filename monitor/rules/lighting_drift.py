"""lighting_drift: the scene got brighter or darker, or started to clip.

Signals, judged against the station's reference:
- `brightness` (mean luma per frame; its hourly median), either way:
  abrupt: moved by >= lighting_brightness_shift levels AND >= drift_control_sigmas
          hour-to-hour SDs, or
  slow:   the CUSUM of hourly medians in the direction of the move reached the station's
          calibrated limit for that direction (monitor/calibration.py) AND both the move and
          the median move of the last SMOOTH_HOURS hours, the same way, are >=
          drift_slow_min_fraction x lighting_brightness_shift (10 levels by default: a smudge
          hazing a third of the frame moved brightness by ~6 levels on photographs, and must
          stay a lens matter);
- `clipped_dark`, `clipped_bright`: the hour's mean clipped fraction rose by
  >= lighting_clipping_increase over the reference's mean.
A signal fires when its effect check passes AND Evidently's K-S test (p < drift_test_alpha) agrees.
The normal level follows the daily cycle where the reference shows one (a daylight swing
is not a drift), and a quiet station is judged on the pool of its last hours.

A dirty lens must not read as lighting: a haze veil pulls the luma range towards a grey
and so moves mean brightness (by a x (veil level - brightness); +5 levels for a 0.3 veil
towards mid-grey on photographs, +26 towards a light grey). When the dark and bright levels
show a veil (drift.VeilFit: range lost >= lens_veil_haze / 4 with the dark level lifted
beyond its control limit), the brightness move is judged after removing what that veil
predicts; the veil itself is lens_drift's. Blur leaves mean brightness alone and lowers
clipping. Severity: "warning".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from monitor import drift
from monitor.rules import _shared as sh
from monitor.rules.base import Reference, RuleResult, Window

if TYPE_CHECKING:
    from monitor.core.settings import Settings

NAME = "lighting_drift"
CLIPPING_COLUMNS = {"clipped_dark": "dark clipping", "clipped_bright": "bright clipping"}


def evaluate(window: Window, reference: Reference | None, settings: Settings) -> RuleResult:
    """Judge brightness and clipping of the hour against the station's reference."""
    if (unjudged := sh.drift_guard(NAME, window, reference, settings)) is not None:
        return unjudged
    assert reference is not None

    signals: dict[str, dict[str, Any]] = {}
    brightness = _brightness_signal(window, reference, settings)
    if brightness is not None:
        signals["brightness"] = brightness
    for column in CLIPPING_COLUMNS:
        clipping = _clipping_signal(column, window, reference, settings)
        if clipping is not None:
            signals[column] = clipping
    if not signals:
        return sh.skipped(
            NAME, window, "warning", "no brightness or clipping columns in the sample"
        )

    candidates = [column for column, signal in signals.items() if signal["passes"]]
    run = (
        sh.confirm(reference, window, candidates, settings.drift_test_alpha) if candidates else None
    )
    tests = run.tests if run is not None else {}
    fired = [column for column in candidates if column in tests and tests[column].drifted]
    for column, test in tests.items():
        signals[column]["drift_test"] = test.as_evidence()

    suffix, flag = sh.provisional(reference)
    suffix = sh.pool_phrase(window) + suffix
    evidence: dict[str, Any] = {
        **flag,
        "n": sh.judged_n(window),
        **sh.pool_evidence(window),
        "signals": signals,
        "fired_by": fired,
        "thresholds": _thresholds(settings),
    }
    who = sh.label(window.station_id)
    if not fired:
        return RuleResult(
            rule=NAME,
            station_id=window.station_id,
            state="ok",
            severity="warning",
            summary=f"{who}: lighting ok — {_ok_phrase(signals)}{suffix}",
            evidence=evidence,
        )

    phrases = [_fired_phrase(column, signals[column], tests[column]) for column in fired]
    evidence["headline"] = phrases[0][0]
    evidence["magnitude"] = max(_strength(column, signals[column], settings) for column in fired)
    parts = [f"{headline} ({detail})" for headline, detail in phrases]
    classes, moved = sh.class_move(window, reference)
    evidence.update(moved)
    return RuleResult(
        rule=NAME,
        station_id=window.station_id,
        state="firing",
        severity="warning",
        summary=f"{who}: lighting changed — {'; '.join(parts)}{classes}{suffix}",
        evidence=evidence,
        # The confirming run's report: it shows every column that was tested.
        report_html=run.html() if run is not None else None,
    )


def _thresholds(settings: Settings) -> dict[str, float]:
    return {
        "brightness_shift": settings.lighting_brightness_shift,
        "clipping_increase": settings.lighting_clipping_increase,
        "control_sigmas": settings.drift_control_sigmas,
        "slow_min_shift": settings.drift_slow_min_fraction * settings.lighting_brightness_shift,
        "cusum_k": settings.cusum_k,
        "cusum_h": settings.cusum_h,
        "veil_haze_attribution": settings.lens_veil_haze / 4,
    }


def _brightness_signal(
    window: Window, reference: Reference, settings: Settings
) -> dict[str, Any] | None:
    shift = sh.measure_shift("brightness", window, reference, settings)
    if shift is None:
        return None
    move = shift.delta
    veil: dict[str, Any] = {"attributed": False}
    dark = sh.measure_shift("luma_p01", window, reference, settings)
    bright = sh.measure_shift("luma_p99", window, reference, settings)
    if dark is not None and bright is not None:
        fit = drift.veil_fit(dark.centre, bright.centre, dark.median, bright.median)
        lifted = dark.z >= settings.drift_control_sigmas or dark.cusum_up >= dark.h_up
        attributed = fit.haze >= settings.lens_veil_haze / 4 and fit.dark_lift > 0 and lifted
        veil = {"attributed": bool(attributed), "haze": fit.haze, "dark_lift": fit.dark_lift}
        if attributed:
            predicted = fit.apply(shift.centre, dark.centre, dark.median)
            veil["predicted_median"] = predicted
            move = shift.median - predicted

    limit = settings.lighting_brightness_shift
    z = move / shift.sd
    abrupt = abs(move) >= limit and abs(z) >= settings.drift_control_sigmas
    cusum, h = (shift.cusum_up, shift.h_up) if move > 0 else (shift.cusum_down, shift.h_down)
    floor = settings.drift_slow_min_fraction * limit
    # The recent hours must have moved the same way, not only this one.
    recent = shift.smoothed_delta if np.isfinite(shift.smoothed_delta) else 0.0
    slow = cusum >= h and abs(move) >= floor and recent * np.sign(move) >= floor
    return {
        **shift.as_evidence(),
        "move": move,
        "move_z": z,
        "veil": veil,
        "cusum_limit": h,
        "abrupt": bool(abrupt),
        "slow": bool(slow),
        "passes": bool(abrupt or slow),
    }


def _clipping_signal(
    column: str, window: Window, reference: Reference, settings: Settings
) -> dict[str, Any] | None:
    current = sh.values(sh.judged_sample(window), column)
    ref = sh.values(reference.sample, column)
    if current is None or ref is None:
        return None
    # Means, not medians: most frames clip nothing, so the median is 0 either way.
    mean, ref_mean = float(np.mean(current)), float(np.mean(ref))
    return {
        "mean": mean,
        "reference_mean": ref_mean,
        "rise": mean - ref_mean,
        "passes": bool(mean - ref_mean >= settings.lighting_clipping_increase),
    }


def _strength(column: str, signal: dict[str, Any], settings: Settings) -> float:
    """How far a fired signal moved, in units of its abrupt threshold."""
    if column == "brightness":
        return abs(float(signal["move"])) / settings.lighting_brightness_shift
    return float(signal["rise"]) / settings.lighting_clipping_increase


def _fired_phrase(column: str, signal: dict[str, Any], test: drift.DriftTest) -> tuple[str, str]:
    """(headline, detail) of one fired signal."""
    if column == "brightness":
        move = signal["move"]
        how = (
            f"{abs(signal['move_z']):.1f} hour-SDs"
            if signal["abrupt"]
            else f"slow drift, CUSUM {signal['cusum_up' if move > 0 else 'cusum_down']:.1f} "
            f">= {signal['cusum_limit']:.3g}"
        )
        return (
            f"brightness {'up' if move > 0 else 'down'} {abs(move):.0f} levels",
            f"median {signal['median']:.0f} vs {signal['reference_median']:.0f}, {how}, "
            f"K-S {sh.fmt_p(test.score)}",
        )
    return (
        f"{CLIPPING_COLUMNS[column]} up to {sh.pct(signal['mean'], 1)} of pixels",
        f"from {sh.pct(signal['reference_mean'], 1)}, K-S {sh.fmt_p(test.score)}",
    )


def _ok_phrase(signals: dict[str, dict[str, Any]]) -> str:
    words = []
    if "brightness" in signals:
        signal = signals["brightness"]
        delta = signal["median"] - signal["reference_median"]
        words.append(f"brightness {round(delta):+d} levels")
        if signal["veil"]["attributed"]:
            words.append(f"{round(signal['move']):+d} after the haze veil lens_drift judges")
    for column, name in CLIPPING_COLUMNS.items():
        if column in signals:
            words.append(f"{name} {sh.pct(signals[column]['mean'], 1)}")
    return ", ".join(words)
