"""lens_drift: the camera's image got blurred (focus, a dirty or smudged lens, a haze veil).

Three signals, each judged on its own hourly median against the station's reference:
- focus, `sharpness` (Laplacian variance / luma variance, blind to gain and gamma, unlike
  raw `blur`): a blur of the whole frame;
- `sharpness_tile_min` (the worst tile of a 3x3 grid): a smudge over part of the lens;
- veil, `luma_p01` with `luma_p99`: a haze lifts the dark level and compresses the luma
  range towards a grey (drift.VeilFit). A lighting change moves the dark level too, but
  keeps the range (gamma) or moves both ends together (gain); requiring the range to
  shrink by lens_veil_haze keeps it out.
A focus signal passes its effect check when
  abrupt: the median fell by >= lens_sharpness_drop (fraction) AND lies >= drift_control_sigmas
          hour-to-hour SDs below the reference's normal level (on the log scale, as a blur
          multiplies sharpness), or fell by the slow floor (below) AND lies >= STRONG_FACTOR x
          drift_control_sigmas below it (9 SDs: a mild smudge, seen at once), or
  two hours (the worst tile only): PERSIST_DROP x lens_sharpness_drop (30 %) beyond
          PERSIST_FACTOR x drift_control_sigmas (3 SDs) in this clock hour and in the one
          before (a mild smudge on a noisy camera, 30-45 % at 3-5 SDs an hour: one such
          hour is the clean tail, two in a row are not), or
  slow:   the downward CUSUM of hourly medians reached the station's calibrated limit h
          (monitor/calibration.py: k = cusum_k, h set from the reference hours to the
          alarm budget) AND both the hour's median and the median of the last
          SMOOTH_HOURS hourly medians fell by >= drift_slow_min_fraction x
          lens_sharpness_drop (one low hour after a few slightly low ones is the clean
          tail, not a fault);
the veil when the range lost >= lens_veil_haze with the dark level up beyond the control
limit (or its upward CUSUM >= its limit). The rule fires when a signal passes its effect
check AND Evidently's K-S test (p < drift_test_alpha) on the samples agrees. The centre and the
hour-to-hour SD are the reference's robust ones (median and MAD of its hourly medians,
following the daily cycle where the reference shows one). A station too quiet for one hour
is judged on the pool of its last hours (windows.py), and the summary names them. The
headline is the strongest fired signal (the largest drop). Severity: "warning", "critical"
when a focus median fell by >= 1.5 x lens_sharpness_drop (60 % by default): at that point
frames are visibly soft and the classifier is outside what it was trained on.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from monitor import drift
from monitor.rules import _shared as sh
from monitor.rules.base import Reference, RuleResult, Severity, Window

if TYPE_CHECKING:
    from monitor.core.settings import Settings

NAME = "lens_drift"
CRITICAL_FACTOR = 1.5
STRONG_FACTOR = 2.0
# Two hours in a row, for the worst tile (a smudge): a drop of PERSIST_DROP x the abrupt
# threshold (30 % at the default 40 %) beyond PERSIST_FACTOR x the control limit (3
# hour-SDs at the default 4.5) in this clock hour and the one before. A mild smudge on a
# noisy camera moves the worst tile 30-45 % at only 3-5 SDs an hour, which one hour alone
# cannot tell from the clean tail, and the clipped CUSUM needs 3-4 hours to add up. (At the
# slow floor's 20 %, and for the whole frame's sharpness too, bench/detection.py paged 3
# times in 1,092 clean station-days.)
PERSIST_FACTOR = 2 / 3
PERSIST_DROP = 0.75
PERSIST_COLUMNS = ("sharpness_tile_min",)
FOCUS_COLUMNS = {"sharpness": "sharpness", "sharpness_tile_min": "worst-tile sharpness"}
VEIL_COLUMN = "luma_p01"


def evaluate(window: Window, reference: Reference | None, settings: Settings) -> RuleResult:
    """Judge focus, smudge and haze of the hour against the station's reference."""
    if (unjudged := sh.drift_guard(NAME, window, reference, settings)) is not None:
        return unjudged
    assert reference is not None

    signals, candidates = _signals(window, reference, settings)
    if not signals:
        return sh.skipped(
            NAME, window, "warning", "no sharpness or luma columns in the sample or reference"
        )

    run = (
        sh.confirm(reference, window, candidates, settings.drift_test_alpha) if candidates else None
    )
    tests = run.tests if run is not None else {}
    fired = [column for column in candidates if column in tests and tests[column].drifted]
    for column, test in tests.items():
        signals["veil" if column == VEIL_COLUMN else column]["drift_test"] = test.as_evidence()

    # Strongest first: the headline quotes the signal that moved most.
    fired.sort(key=lambda column: -_strength(column, signals))
    suffix, flag = sh.provisional(reference)
    suffix = sh.pool_phrase(window) + suffix
    evidence: dict[str, Any] = {
        **flag,
        "n": sh.judged_n(window),
        **sh.pool_evidence(window),
        "signals": signals,
        "fired_by": ["veil" if c == VEIL_COLUMN else c for c in fired],
        "thresholds": _thresholds(settings),
    }
    who = sh.label(window.station_id)
    if not fired:
        return RuleResult(
            rule=NAME,
            station_id=window.station_id,
            state="ok",
            severity="warning",
            summary=f"{who}: lens ok — {_ok_phrase(signals)}{suffix}",
            evidence=evidence,
        )

    phrases = [_fired_phrase(column, signals, tests) for column in fired]
    evidence["headline"] = phrases[0][0]
    evidence["magnitude"] = _strength(fired[0], signals)
    parts = [f"{headline} ({detail})" for headline, detail in phrases]
    classes, moved = sh.class_move(window, reference)
    evidence.update(moved)
    return RuleResult(
        rule=NAME,
        station_id=window.station_id,
        state="firing",
        severity=_severity(signals, fired, settings),
        summary=f"{who}: lens dirty or out of focus — {'; '.join(parts)}{classes}{suffix}",
        evidence=evidence,
        # The confirming run's report: it shows every column that was tested.
        report_html=run.html() if run is not None else None,
    )


def _signals(
    window: Window, reference: Reference, settings: Settings
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every focus column's and the veil's signal, and the columns that pass their effect
    size (the candidates the drift test confirms)."""
    signals: dict[str, dict[str, Any]] = {}
    candidates: list[str] = []
    for column in FOCUS_COLUMNS:
        # Log scale: a blur multiplies sharpness, and its hourly medians are skewed.
        shift = sh.measure_shift(column, window, reference, settings, log=True)
        if shift is None:
            continue
        signal = _focus_signal(shift, settings, persist=column in PERSIST_COLUMNS)
        signals[column] = signal
        if signal["abrupt"] or signal["two_hours"] or signal["slow"]:
            candidates.append(column)
    veil = _veil_signal(window, reference, settings)
    if veil is not None:
        signals["veil"] = veil
        if veil["passes"]:
            candidates.append(VEIL_COLUMN)
    return signals, candidates


def _thresholds(settings: Settings) -> dict[str, float]:
    return {
        "sharpness_drop": settings.lens_sharpness_drop,
        "control_sigmas": settings.drift_control_sigmas,
        "slow_min_drop": settings.drift_slow_min_fraction * settings.lens_sharpness_drop,
        "cusum_k": settings.cusum_k,
        "cusum_h": settings.cusum_h,
        "veil_haze": settings.lens_veil_haze,
    }


def _focus_signal(shift: sh.Shift, settings: Settings, *, persist: bool) -> dict[str, Any]:
    change = shift.change
    drop = 0.0 if math.isnan(change) else -change  # NaN: a zero reference median
    limit = settings.lens_sharpness_drop
    floor = settings.drift_slow_min_fraction * limit
    smoothed_drop = 0.0 if math.isnan(shift.smoothed_change) else -shift.smoothed_change
    sigmas = settings.drift_control_sigmas
    # Abrupt: the full drop beyond the control limit, or the slow floor's drop far beyond
    # it (twice as many SDs): a smudge that costs the worst tile ~35 % on a steady camera
    # should not wait hours for the CUSUM.
    abrupt = (drop >= limit and -shift.z >= sigmas) or (
        drop >= floor and -shift.z >= STRONG_FACTOR * sigmas
    )
    previous_drop = 0.0 if math.isnan(shift.previous_change) else -shift.previous_change
    persist_drop, persist_sigmas = PERSIST_DROP * limit, PERSIST_FACTOR * sigmas
    two_hours = (
        persist
        and drop >= persist_drop
        and -shift.z >= persist_sigmas
        and previous_drop >= persist_drop
        and -shift.previous_z >= persist_sigmas  # False for NaN: no hour before to compare
    )
    slow = shift.cusum_down >= shift.h_down and drop >= floor and smoothed_drop >= floor
    return {
        **shift.as_evidence(),
        "drop": drop,
        "smoothed_drop": smoothed_drop,
        "previous_drop": previous_drop,
        "previous_z": shift.previous_z if math.isfinite(shift.previous_z) else None,
        "abrupt": bool(abrupt),
        "two_hours": bool(two_hours),
        "slow": bool(slow),
    }


def _veil_signal(window: Window, reference: Reference, settings: Settings) -> dict[str, Any] | None:
    dark = sh.measure_shift("luma_p01", window, reference, settings)
    bright = sh.measure_shift("luma_p99", window, reference, settings)
    if dark is None or bright is None:
        return None
    fit = drift.veil_fit(dark.centre, bright.centre, dark.median, bright.median)
    lifted = dark.z >= settings.drift_control_sigmas or dark.cusum_up >= dark.h_up
    passes = fit.haze >= settings.lens_veil_haze and fit.dark_lift > 0 and lifted
    return {
        **dark.as_evidence(),
        "luma_p99_median": bright.median,
        "luma_p99_reference_median": bright.centre,
        "haze": fit.haze,
        "veil_level": fit.level,
        "dark_lift": fit.dark_lift,
        "passes": bool(passes),
    }


def _strength(column: str, signals: dict[str, dict[str, Any]]) -> float:
    """How far a fired signal moved: the focus drop, or the share of luma range the veil took."""
    if column == VEIL_COLUMN:
        return float(signals["veil"]["haze"])
    return float(signals[column]["drop"])


def _fired_phrase(
    column: str, signals: dict[str, dict[str, Any]], tests: dict[str, drift.DriftTest]
) -> tuple[str, str]:
    """(headline, detail): "sharpness down 55 %", "0.021 vs 0.047, 9.1 hour-SDs, K-S ..."."""
    test = tests[column]
    if column == VEIL_COLUMN:
        veil = signals["veil"]
        return (
            f"haze veil, {sh.pct(veil['haze'])} of the luma range lost",
            f"dark level up {veil['dark_lift']:.0f} levels, K-S {sh.fmt_p(test.score)}",
        )
    signal = signals[column]
    name = FOCUS_COLUMNS[column]
    if signal["abrupt"]:
        how = f"{abs(signal['z']):.1f} hour-SDs"
    elif signal["two_hours"]:
        how = (
            f"{abs(signal['z']):.1f} hour-SDs, and {sh.pct(signal['previous_drop'])} down "
            "the hour before"
        )
    else:
        how = f"slow drift, CUSUM {signal['cusum_down']:.1f} >= {signal['cusum_h_down']:.3g}"
    return (
        f"{name} down {sh.pct(signal['drop'])}",
        f"{sh.fmt_num(signal['median'])} vs {sh.fmt_num(signal['reference_median'])}, "
        f"{how}, K-S {sh.fmt_p(test.score)}",
    )


def _ok_phrase(signals: dict[str, dict[str, Any]]) -> str:
    words = []
    for column, name in FOCUS_COLUMNS.items():
        if column in signals:
            change = signals[column]["change"] or 0.0
            words.append(f"{name} {'down' if change < 0 else 'up'} {sh.pct(change)}")
    if "veil" in signals:
        words.append(
            f"range {'lost' if signals['veil']['haze'] >= 0 else 'gained'} "
            f"{sh.pct(signals['veil']['haze'])}"
        )
    return ", ".join(words)


def _severity(signals: dict[str, dict[str, Any]], fired: list[str], settings: Settings) -> Severity:
    worst = max((signals[c]["drop"] for c in fired if c in FOCUS_COLUMNS), default=0.0)
    return "critical" if worst >= CRITICAL_FACTOR * settings.lens_sharpness_drop else "warning"
