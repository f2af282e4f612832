"""latency: the hour's p95 inference latency above latency_budget_ms."""

from __future__ import annotations

import pytest
from rules_support import make_settings, make_window

from monitor.rules import latency


@pytest.mark.parametrize(
    ("p95", "budget", "state"),
    [
        (40.0, 100.0, "ok"),
        (100.0, 100.0, "ok"),  # at the budget is within it
        (100.5, 100.0, "firing"),
        (250.0, 100.0, "firing"),
        (250.0, 300.0, "ok"),
        (None, 100.0, "skipped"),
    ],
)
def test_decision_table(p95, budget, state):
    settings = make_settings(latency_budget_ms=budget)
    result = latency.evaluate(make_window(n=3000, latency_p95_ms=p95), None, settings)
    assert result.state == state
    assert result.severity == "warning"


def test_firing_summary(settings):
    result = latency.evaluate(make_window(n=3000, latency_p95_ms=250.0), None, settings)
    assert result.summary == (
        "dock-3: p95 inference latency 250 ms over the 100 ms budget (2.5x, 3000 predictions)"
    )
    assert result.evidence["p95_ms"] == 250.0


def test_site_wide_latency(settings):
    window = make_window(n=60_000, latency_p95_ms=180.0, station_id=None)
    assert latency.evaluate(window, None, settings).fingerprint == "latency@site"
