"""class_drift: the mix of predicted classes moved away from the reference mix.

Fires, with at least drift_min_predictions in the hour, when
  the Jensen-Shannon distance (natural log) between the hour's class shares and the
  reference's class_mix is >= class_drift_threshold (the effect floor: with thousands of
  predictions a chi-square test finds tiny, harmless changes significant), AND
  Evidently's categorical drift test agrees: chi-square (p < 0.05) when the hour has at
  most SMALL_HOUR predictions, Jensen-Shannon (>= class_drift_threshold) above, as Evidently
  itself picks by sample size.
Only the counts reach this rule, so Evidently gets label samples rebuilt from them: the
hour's real counts for chi-square, counts scaled to drift_sample_size for Jensen-Shannon (a
distance of shares, not of sizes). Severity: "warning".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor import drift
from monitor.rules import _shared as sh
from monitor.rules.base import Reference, RuleResult, Window

if TYPE_CHECKING:
    from monitor.core.settings import Settings

NAME = "class_drift"
SMALL_HOUR = 1000  # Evidently's own switch from chi-square to Jensen-Shannon
REFERENCE_LABELS = 5000  # size of the label sample rebuilt from the reference mix
CHI_SQUARE_ALPHA = 0.05


def evaluate(window: Window, reference: Reference | None, settings: Settings) -> RuleResult:
    """Judge the hour's predicted-class mix against the reference mix."""
    if reference is None or not reference.class_mix:
        return sh.skipped(NAME, window, "warning", "no reference class mix for this station")
    total = int(sum(window.counts.values()))
    if total < settings.drift_min_predictions:
        return sh.skipped(
            NAME,
            window,
            "warning",
            f"{total} predictions this hour, fewer than the "
            f"{settings.drift_min_predictions} needed",
            n=total,
        )

    current = {name: count / total for name, count in window.counts.items()}
    expected = _shares(reference.class_mix)
    distance = drift.js_distance(expected, current)
    threshold = settings.class_drift_threshold
    large = bool(distance >= threshold)
    suffix, flag = sh.provisional(reference)
    evidence: dict[str, Any] = {
        **flag,
        "n": total,
        "counts": {name: int(count) for name, count in window.counts.items()},
        "mix": current,
        "reference_mix": expected,
        "js_distance": distance,
        "threshold": threshold,
    }
    run = _confirm(window.counts, expected, settings) if large else None
    test = run.tests.get("predicted_class") if run is not None else None
    if test is not None:
        evidence["drift_test"] = test.as_evidence()

    who = sh.label(window.station_id)
    moves = _moves(current, expected)
    if run is None or test is None or not test.drifted:
        return RuleResult(
            rule=NAME,
            station_id=window.station_id,
            state="ok",
            severity="warning",
            summary=f"{who}: class mix ok (JS {distance:.3f} < {threshold:g}){suffix}",
            evidence=evidence,
        )
    confirmed = f"chi-square {sh.fmt_p(test.score)}" if test.method == "chisquare" else "Evidently"
    evidence["headline"] = f"class mix moved: {moves}"
    return RuleResult(
        rule=NAME,
        station_id=window.station_id,
        state="firing",
        severity="warning",
        summary=(
            f"{who}: class mix moved (JS {distance:.3f} >= {threshold:g}, {confirmed} agrees): "
            f"{moves}{suffix}"
        ),
        evidence=evidence,
        report_html=run.html(),  # the confirming run's report, not a second run
    )


def _shares(mix: Mapping[str, float]) -> dict[str, float]:
    total = sum(max(float(v), 0.0) for v in mix.values())
    return {name: max(float(v), 0.0) / total for name, v in mix.items()} if total else {}


def _moves(current: Mapping[str, float], expected: Mapping[str, float]) -> str:
    # Largest changes first: "critical 14 % vs 3 %, undamaged 70 % vs 85 %".
    names = sorted(
        set(current) | set(expected),
        key=lambda name: -abs(current.get(name, 0.0) - expected.get(name, 0.0)),
    )
    return ", ".join(
        f"{name} {sh.pct(current.get(name, 0.0))} vs {sh.pct(expected.get(name, 0.0))}"
        for name in names
    )


def _samples(
    counts: Mapping[str, int], expected: Mapping[str, float], settings: Settings
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], str, float]:
    total = int(sum(counts.values()))
    names = sorted(set(counts) | set(expected))
    if total <= SMALL_HOUR:
        method, threshold, scale = "chisquare", CHI_SQUARE_ALPHA, 1.0
    else:
        method, threshold = "jensenshannon", settings.class_drift_threshold
        scale = min(1.0, settings.drift_sample_size / total)
    current = np.repeat(names, [round(counts.get(name, 0) * scale) for name in names])
    # Every class at least once in the reference: chi-square divides by expected counts.
    ref_counts = [max(1, round(expected.get(name, 0.0) * REFERENCE_LABELS)) for name in names]
    reference = np.repeat(names, ref_counts)
    return {"predicted_class": reference}, {"predicted_class": current}, method, threshold


def _confirm(
    counts: Mapping[str, int], expected: Mapping[str, float], settings: Settings
) -> drift.DriftRun:
    reference, current, method, threshold = _samples(counts, expected, settings)
    return drift.run_drift(
        reference,
        current,
        ["predicted_class"],
        method=method,
        threshold=threshold,
        categorical=True,
    )
