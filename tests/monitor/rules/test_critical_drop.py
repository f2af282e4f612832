"""critical_drop: the station's critical share over its last hours fell to at most half its
baseline AND an exact one-sided binomial test says so, the other side of the
seed's "> 10 % critical" rule: a camera fault that hides damage. (Defaults: 8 hours,
p <= 1e-6.)"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from rules_support import HOUR0, make_window

from monitor.rules import critical_drop
from monitor.rules.base import HourSummary


def _hours(n: int, critical: int, count: int) -> list[HourSummary]:
    """`count` earlier hours of n predictions with `critical` of them critical."""
    return [
        HourSummary(
            hour=HOUR0 - timedelta(hours=count - i),
            n=n,
            medians={},
            counts={"undamaged": n - critical, "minor": 0, "critical": critical},
        )
        for i in range(count)
    ]


def _window(n: int, critical: int, history: list[HourSummary]):
    counts = {"undamaged": n - critical, "minor": 0, "critical": critical}
    return make_window(n=n, counts=counts, history=history)


# (predictions an hour, critical an hour, earlier hours) -> state; baseline 3 % (the setting:
# the small reference saw 360 critical, so its own 3 % is used)
TABLE = [
    ((300, 9, 5), "ok"),  # the baseline itself
    ((300, 0, 5), "firing"),  # nothing critical for six hours: 0 of 1800, 54 expected
    ((300, 3, 5), "firing"),  # 1 %: 18 of 1800, p = 8.6e-9
    ((300, 6, 5), "ok"),  # 2 %: 36 of 1800, above the floor of half the baseline (1.5 %)
    ((300, 0, 0), "skipped"),  # one hour: even 0 of 300 is p = 1.1e-4, not <= 1e-6
    ((1000, 10, 0), "ok"),  # 1 % of 1000 in one hour: p = 1.8e-5, not yet
    ((1000, 5, 0), "firing"),  # 0.5 % of 1000: p = 1.6e-8
    ((30, 0, 5), "skipped"),  # 180 over six hours: still too few
]


@pytest.mark.parametrize(("case", "state"), TABLE)
def test_decision_table(small_reference, settings, case, state):
    n, critical, earlier = case
    window = _window(n, critical, _hours(n, critical, earlier))
    outcome = critical_drop.evaluate(window, small_reference, settings)
    assert outcome.state == state
    assert outcome.evidence["baseline"] == pytest.approx(0.03)
    json.dumps(outcome.evidence, allow_nan=False)


def test_firing_summary_says_what_may_be_missed(small_reference, settings):
    window = _window(300, 0, _hours(300, 0, 5))
    outcome = critical_drop.evaluate(window, small_reference, settings)
    assert outcome.summary.startswith(
        "dock-3: 0.0 % critical (0 of 1800 over 6 hours) vs 3.0 % baseline — p < 1e-9: "
    )
    assert outcome.summary.endswith("the model may be missing damaged parcels")
    assert outcome.evidence["headline"] == "critical share down to 0.0 % from 3.0 %"
    assert outcome.evidence["baseline_source"] == "reference"


def test_only_the_last_hours_count(small_reference, settings):
    # Old quiet hours beyond critical_drop_hours do not add to the drop.
    old = [replace(h, hour=h.hour - timedelta(hours=12)) for h in _hours(300, 0, 5)]
    outcome = critical_drop.evaluate(_window(300, 0, old), small_reference, settings)
    assert outcome.state == "skipped" and outcome.evidence["n"] == 300  # this hour alone


def test_the_baseline_is_the_references_when_it_is_known(small_reference, settings):
    # A station whose model calls 20 % critical on a good day: 5 % is a drop there.
    reference = replace(small_reference, baseline_critical_rate=0.2)
    window = _window(300, 15, _hours(300, 15, 5))
    outcome = critical_drop.evaluate(window, reference, settings)
    assert outcome.firing and outcome.evidence["baseline"] == 0.2
    # Without a reference: the critical_rate_baseline setting (3 %): 5 % is no drop.
    assert critical_drop.evaluate(window, None, settings).state == "ok"
