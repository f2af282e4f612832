"""critical_drop: the station's critical share fell well below its baseline.

The seed's rule watches one side: more than 10 % critical. A camera fault can push the
other way: on real photographs a dirty lens *lowered* the shipped model's critical share by
6 points, so damaged parcels went down the belt undiverted, and no "> 10 %" rule can see
that. This rule sums the station's last `critical_drop_hours` hours (this one included:
a drop is a shortfall of rare events and needs volume to show) and fires when
  share <= (1 - critical_drop_fraction) x baseline (the effect floor: half the baseline by
  default), AND
  a one-sided exact binomial test (fewer critical than the baseline predicts) gives
  p <= critical_drop_alpha (1e-6 per station-hour: the windows overlap, and 1e-4 paged
  twice in 1,092 clean station-days of bench/detection.py).
The baseline is the station's reference critical rate when the reference saw at least
MIN_REFERENCE_CRITICAL critical predictions (a rate known well enough to fall from), else
the `critical_rate_baseline` setting. Hours that could never show a drop (even 0 critical
would not be significant) are skipped, with the reason. Severity: "warning": the model may
be missing damaged parcels; look at the camera.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from scipy.stats import binom, binomtest

from monitor.rules._shared import fmt_p, label, pct, provisional, skipped
from monitor.rules.base import Reference, RuleResult, Window
from monitor.rules.critical_rate import CRITICAL_CLASS

if TYPE_CHECKING:
    from monitor.core.settings import Settings

NAME = "critical_drop"
MIN_REFERENCE_CRITICAL = 30


def evaluate(window: Window, reference: Reference | None, settings: Settings) -> RuleResult:
    """Judge the station's recent critical share against its baseline, from below."""
    hours = settings.critical_drop_hours
    since = window.hour - timedelta(hours=hours - 1)
    recent = [past for past in window.history if past.hour >= since and past.counts]
    n = int(window.n) + sum(int(past.n) for past in recent)
    k = int(window.counts.get(CRITICAL_CLASS, 0)) + sum(
        int(past.counts.get(CRITICAL_CLASS, 0)) for past in recent
    )
    baseline, source = _baseline(reference, settings)
    alpha = settings.critical_drop_alpha
    span = len(recent) + 1
    if window.n == 0 or binom.pmf(0, n, baseline) > alpha:
        # Even no critical prediction at all would not be a significant drop.
        return skipped(
            NAME,
            window,
            "warning",
            f"{n} predictions over {span} hours: too few to see a drop below "
            f"{pct(baseline, 1)} critical",
            n=n,
            baseline=baseline,
        )

    rate = k / n
    floor = (1 - settings.critical_drop_fraction) * baseline
    p_value = float(binomtest(k, n, baseline, alternative="less").pvalue)
    firing = rate <= floor and p_value <= alpha
    suffix, flag = provisional(reference) if source == "reference" else ("", {})
    evidence = {
        **flag,
        "rate": rate,
        "count": k,
        "n": n,
        "hours": span,
        "since": (window.hour - timedelta(hours=span - 1)).isoformat(),
        "baseline": baseline,
        "baseline_source": source,
        "effect_floor": floor,
        "p_value": p_value,
        "alpha": alpha,
    }
    who = label(window.station_id)
    head = (
        f"{who}: {pct(rate, 1)} critical ({k} of {n} over {span} hours) vs "
        f"{pct(baseline, 1)} baseline"
    )
    if firing:
        evidence["headline"] = f"critical share down to {pct(rate, 1)} from {pct(baseline, 1)}"
        evidence["magnitude"] = baseline - rate
        summary = f"{head} — {fmt_p(p_value)}: the model may be missing damaged parcels{suffix}"
    else:
        summary = f"{head}: no significant drop{suffix}"
    return RuleResult(
        rule=NAME,
        station_id=window.station_id,
        state="firing" if firing else "ok",
        severity="warning",
        summary=summary,
        evidence=evidence,
    )


def _baseline(reference: Reference | None, settings: Settings) -> tuple[float, str]:
    if reference is not None:
        rate = float(reference.baseline_critical_rate)
        if rate > 0 and rate * reference.n >= MIN_REFERENCE_CRITICAL:
            return rate, "reference"
    return float(settings.critical_rate_baseline), "setting"
