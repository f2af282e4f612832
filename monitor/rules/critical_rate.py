"""critical_rate: the hour's share of "critical" predictions is abnormally high.

Fires when, with at least `critical_rate_min_predictions` predictions in the hour,
  share >= threshold (critical_rate_threshold, or the station's override), AND
  a one-sided exact binomial test against the baseline (critical_rate_baseline) gives
  p <= critical_rate_alpha.
The share alone false-alarms in small hours (14 % of hours at n=5); the test alone fires on
tiny but significant rises in big ones. Together (alpha 1e-5): n=50 needs >= 10 critical,
n=100 >= 13, n >= 200 just the 10 % (the table in its test). alpha is per station-hour:
1e-3 paged a clean 80-an-hour station about once in 50 days (9 of 83 is p = 9e-4);
1e-5 keeps it under one in 4,000 station-days while a 20 % damage wave still fires at
n >= 100 (97 % of its hours). The baseline is
the setting, not the reference's observed rate (a quiet reference can have 0 %, which no
test can use); the observed rate is kept in the evidence.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from scipy.stats import binomtest

from monitor.rules._shared import fmt_p, label, pct, skipped
from monitor.rules.base import Reference, RuleResult, Window

if TYPE_CHECKING:
    from monitor.core.settings import Settings

NAME = "critical_rate"
CRITICAL_CLASS = "critical"
_Z95 = 1.959963984540054  # two-sided 95 %


def evaluate(window: Window, reference: Reference | None, settings: Settings) -> RuleResult:
    """Judge the hour's critical share against the threshold and the baseline."""
    n = int(window.n)
    k = int(window.counts.get(CRITICAL_CLASS, 0))
    minimum = settings.critical_rate_min_predictions
    if n < minimum:
        return skipped(
            NAME,
            window,
            "critical",
            f"{n} predictions this hour, fewer than the {minimum} needed",
            n=n,
            count=k,
            min_predictions=minimum,
        )

    threshold = settings.critical_threshold_for(window.station_id)
    baseline = settings.critical_rate_baseline
    alpha = settings.critical_rate_alpha
    rate = k / n
    p_value = float(binomtest(k, n, baseline, alternative="greater").pvalue)
    low, high = wilson_interval(k, n)
    firing = rate >= threshold and p_value <= alpha
    evidence = {
        "rate": rate,
        "count": k,
        "n": n,
        "threshold": threshold,
        "baseline": baseline,
        "ratio_to_baseline": rate / baseline,
        "p_value": p_value,
        "alpha": alpha,
        "ci95": [low, high],
        "ci_method": "wilson",
        "min_predictions": minimum,
    }
    if reference is not None:
        evidence["reference_critical_rate"] = float(reference.baseline_critical_rate)

    who = label(window.station_id)
    head = f"{who}: {pct(rate, 1)} critical ({k} of {n}) vs {pct(baseline)} baseline"
    if firing:
        evidence["magnitude"] = rate
        summary = f"{head}, {rate / baseline:.1f}x — {fmt_p(p_value)}"
    elif rate >= threshold:
        summary = f"{head}: above {pct(threshold)} but not significant ({fmt_p(p_value)})"
    else:
        summary = f"{head}: below the {pct(threshold)} threshold"
    return RuleResult(
        rule=NAME,
        station_id=window.station_id,
        state="firing" if firing else "ok",
        severity="critical",
        summary=summary,
        evidence=evidence,
    )


def wilson_interval(k: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial share (two-sided; 95 % by default). Unlike the
    Wald interval it stays inside [0, 1] and is honest at 0 of n."""
    if n <= 0:
        return (0.0, 1.0)
    share = k / n
    z2 = z * z
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))
