"""class_drift: the mix of predicted classes moved away from the reference mix.

Fires, with at least drift_min_predictions in the hour (or in the pool of a quiet
station's last hours, monitor/windows.py), when
  the Jensen-Shannon distance (natural log) between the hour's class shares and the
  reference's class_mix is >= the effect floor, the larger of
    class_drift_threshold (with thousands of predictions a chi-square test finds tiny,
      harmless changes significant), and
    the noise floor: the distance that sampling noise alone (n draws from the reference
      mix) reaches in at most class_drift_alpha of hours. For three classes and n <=
      EXACT_MAX it is exact, from every possible count of the hour and its multinomial
      probability; above, JS divergence ~ chi-square / (8 n) for small moves gives
      sqrt(chi2.isf(alpha, classes - 1) / (8 n)), which the exact one matches at large n
      (at n = 100-200 the chi-square tail is 3-5x too light: a few critical parcels more
      or less jump the distance). With the defaults the floor is about 0.21 at n = 100,
      0.14 at 200, 0.1 (the threshold) from ~450: a fixed 0.1 fired on 1.4 % of clean
      hours at n = 100, AND
  Evidently's categorical drift test agrees: chi-square (p < 0.05) when the hour has at
  most SMALL_HOUR predictions, Jensen-Shannon (>= class_drift_threshold) above, as Evidently
  itself picks by sample size.
Only the counts reach this rule, so Evidently gets label samples rebuilt from them: the
hour's real counts for chi-square, counts scaled to drift_sample_size for Jensen-Shannon (a
distance of shares, not of sizes). Severity: "warning".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import gammaln
from scipy.stats import chi2

from monitor import drift
from monitor.rules import _shared as sh
from monitor.rules.base import Reference, RuleResult, Window

if TYPE_CHECKING:
    from monitor.core.settings import Settings

NAME = "class_drift"
SMALL_HOUR = 1000  # Evidently's own switch from chi-square to Jensen-Shannon
REFERENCE_LABELS = 5000  # size of the label sample rebuilt from the reference mix
CHI_SQUARE_ALPHA = 0.05
EXACT_MAX = 600  # hours up to this size get the exact noise floor (180k outcomes)


def evaluate(window: Window, reference: Reference | None, settings: Settings) -> RuleResult:
    """Judge the hour's predicted-class mix against the reference mix."""
    if reference is None or not reference.class_mix:
        return sh.skipped(NAME, window, "warning", "no reference class mix for this station")
    counts = sh.judged_counts(window)
    total = int(sum(counts.values()))
    if total < settings.drift_min_predictions:
        where = "this hour" if window.pool is None else f"over {window.pool.hours} hours"
        return sh.skipped(
            NAME,
            window,
            "warning",
            f"{total} predictions {where}, fewer than the {settings.drift_min_predictions} needed",
            n=total,
        )

    current = {name: count / total for name, count in counts.items()}
    expected = _shares(reference.class_mix)
    distance = drift.js_distance(expected, current)
    floor = noise_floor(total, expected, settings.class_drift_alpha)
    threshold = max(settings.class_drift_threshold, floor)
    large = bool(distance >= threshold)
    suffix, flag = sh.provisional(reference)
    suffix = sh.pool_phrase(window) + suffix
    evidence: dict[str, Any] = {
        **flag,
        "n": total,
        **sh.pool_evidence(window),
        "counts": {name: int(count) for name, count in counts.items()},
        "mix": current,
        "reference_mix": expected,
        "js_distance": distance,
        "threshold": threshold,
        "noise_floor": floor,
    }
    run = _confirm(counts, expected, settings) if large else None
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
            summary=f"{who}: class mix ok (JS {distance:.3f} < {threshold:.3g}){suffix}",
            evidence=evidence,
        )
    confirmed = f"chi-square {sh.fmt_p(test.score)}" if test.method == "chisquare" else "Evidently"
    evidence["headline"] = f"class mix moved: {moves}"
    evidence["magnitude"] = distance
    return RuleResult(
        rule=NAME,
        station_id=window.station_id,
        state="firing",
        severity="warning",
        summary=(
            f"{who}: class mix moved (JS {distance:.3f} >= {threshold:.3g}, {confirmed} agrees): "
            f"{moves}{suffix}"
        ),
        evidence=evidence,
        report_html=run.html(),  # the confirming run's report, not a second run
    )


def noise_floor(n: int, expected: Mapping[str, float], alpha: float) -> float:
    """The JS distance that an hour of n predictions drawn from the `expected` mix reaches
    with probability <= alpha (the module's docstring says how)."""
    shares = tuple(round(share, 4) for _, share in sorted(expected.items()))
    if n <= 0 or len(shares) < 2:
        return math.inf
    if len(shares) == 3 and n <= EXACT_MAX and min(shares) > 0:
        return _exact_floor(n, shares, alpha)
    return math.sqrt(float(chi2.isf(alpha, len(shares) - 1)) / (8 * n))


@lru_cache(maxsize=4096)
def _exact_floor(n: int, shares: tuple[float, float, float], alpha: float) -> float:
    q = np.asarray(shares) / sum(shares)
    a, b = np.triu_indices(n + 1)  # a <= b: counts (a, b - a, n - b) cover every outcome
    counts = np.stack([a, b - a, n - b], axis=1).astype(np.float64)
    log_pmf = gammaln(n + 1) - gammaln(counts + 1).sum(1) + (counts * np.log(q)).sum(1)
    p = counts / n
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / m), 0.0).sum(1)
    divergence = 0.5 * left + 0.5 * (q * np.log(q / m)).sum(1)
    distance = np.sqrt(np.maximum(divergence, 0.0))
    order = np.argsort(-distance, kind="stable")
    tail = np.cumsum(np.exp(log_pmf[order]))
    inside = np.nonzero(tail <= alpha)[0]
    if inside.size == 0:  # even the least likely hour is likelier than alpha: never noise-free
        return float(distance[order[0]]) + 1e-9
    # Fire at >= the smallest distance whose upper tail stays within alpha; an outcome of
    # equal distance beyond it (a tie) would add to the tail, so then fire only above.
    floor = float(distance[order[inside[-1]]])
    if float(np.exp(log_pmf[distance >= floor]).sum()) > alpha:
        return float(np.nextafter(floor, math.inf))
    return floor


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
