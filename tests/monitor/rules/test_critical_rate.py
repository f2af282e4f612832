"""critical_rate: share >= threshold AND a one-sided exact binomial test against the
baseline, only with enough predictions in the hour."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rules_support import make_settings, make_window
from scipy.stats import binom

from monitor.rules import critical_rate


def window(n: int, k: int, station_id: str | None = "dock-3"):
    counts = {"undamaged": n - k, "critical": k}
    return make_window(n=n, counts=counts, station_id=station_id)


# (n, critical, state) with the default minimum of 50 predictions.
@pytest.mark.parametrize(
    ("n", "k", "state"),
    [
        (20, 4, "skipped"),  # 20 % of a quiet hour: below the minimum volume
        (49, 20, "skipped"),
        (50, 9, "ok"),  # 18 %, but p = 1.6e-5 > 1e-5
        (50, 10, "firing"),  # 20 %, p = 2e-6
        (100, 12, "ok"),  # 12 %: p = 4.8e-5
        (100, 13, "firing"),
        (200, 19, "ok"),  # below 10 %
        (200, 20, "firing"),  # from n = 200 the 10 % alone suffices
        (500, 71, "firing"),
        (3000, 90, "ok"),  # the 3 % baseline itself
        (3000, 299, "ok"),  # 9.97 %: significant, but below the threshold
        (3000, 300, "firing"),
    ],
)
def test_decision_table(settings, n, k, state):
    assert critical_rate.evaluate(window(n, k), None, settings).state == state


# With alpha 1e-5, n=5 needs >= 4 critical, n=10 >= 5, n=20 >= 7, n=30 >= 8, n=50 >= 10.
@pytest.mark.parametrize(
    ("n", "k", "fires"),
    [
        (5, 3, False),  # 60 %, still p = 2.6e-4
        (5, 4, True),
        (10, 4, False),
        (10, 5, True),
        (20, 6, False),
        (20, 7, True),
        (30, 7, False),
        (30, 8, True),
        (50, 9, False),
        (50, 10, True),
    ],
)
def test_small_hours_need_significance_when_the_minimum_allows(n, k, fires):
    settings = make_settings(critical_rate_min_predictions=1)
    assert critical_rate.evaluate(window(n, k), None, settings).firing is fires


def test_below_minimum_volume_is_skipped_with_the_reason(settings):
    result = critical_rate.evaluate(window(20, 4), None, settings)
    assert result.state == "skipped"
    assert not result.firing
    assert "fewer than the 50 needed" in result.evidence["reason"]


def test_firing_summary_and_evidence(settings):
    result = critical_rate.evaluate(window(500, 71), None, settings)
    assert result.summary == "dock-3: 14.2 % critical (71 of 500) vs 3 % baseline, 4.7x — p < 1e-9"
    assert result.severity == "critical"
    assert result.fingerprint == "critical_rate:dock-3"
    evidence = result.evidence
    assert evidence["rate"] == pytest.approx(0.142)
    assert (evidence["count"], evidence["n"], evidence["baseline"]) == (71, 500, 0.03)
    assert evidence["ratio_to_baseline"] == pytest.approx(0.142 / 0.03)
    assert evidence["p_value"] < 1e-9
    low, high = evidence["ci95"]
    assert low < 0.142 < high
    assert (low, high) == pytest.approx((0.1139, 0.1755), abs=5e-4)  # Wilson
    json.dumps(evidence, allow_nan=False)


def test_per_station_threshold_override():
    settings = make_settings(critical_rate_station_thresholds={"dock-3": 0.15})
    busy = window(1000, 120)  # 12 %: above the default 10 %, below dock-3's own 15 %
    assert critical_rate.evaluate(busy, None, settings).state == "ok"
    other = make_window(n=1000, counts={"undamaged": 880, "critical": 120}, station_id="dock-4")
    assert critical_rate.evaluate(other, None, settings).firing
    assert critical_rate.evaluate(window(1000, 160), None, settings).firing


def test_site_wide_window_is_judged_with_the_default_threshold():
    settings = make_settings(critical_rate_station_thresholds={"dock-3": 0.5})
    result = critical_rate.evaluate(window(60_000, 7000, station_id=None), None, settings)
    assert result.firing
    assert result.fingerprint == "critical_rate@site"
    assert result.summary.startswith("site: 11.7 % critical (7000 of 60000)")


def test_a_thousand_clean_hours_at_the_baseline_never_fire(settings):
    rng = np.random.default_rng(20261124)
    fired = 0
    for k in rng.binomial(3000, 0.03, size=1000):
        fired += critical_rate.evaluate(window(3000, int(k)), None, settings).firing
    assert fired == 0


def smallest_firing_count(n: int, settings) -> int:
    k = -(-n // 10)  # ceil(10 %)
    while not critical_rate.evaluate(window(n, k), None, settings).firing:
        k += 1
    return k


def test_false_alarm_rate_at_the_baseline_is_at_most_alpha_for_any_hour_size(settings):
    # Exact, not simulated: P(the hour fires | 3 % baseline) for hours of 50 to 3000.
    for n in [*range(50, 301), *range(310, 3001, 10)]:
        k = smallest_firing_count(n, settings)
        assert binom.sf(k - 1, n, 0.03) <= settings.critical_rate_alpha
