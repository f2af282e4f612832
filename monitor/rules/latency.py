"""latency: the hour's p95 inference latency is above the budget.

Fires (severity "warning") when window.latency_p95_ms > latency_budget_ms; p95, because the
budget is per frame and the belt cannot wait for the slow tail. Skips when the hour has no
latency (no predictions, or the rollup had none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.rules import _shared as sh
from monitor.rules.base import Reference, RuleResult, Window

if TYPE_CHECKING:
    from monitor.core.settings import Settings

NAME = "latency"


def evaluate(window: Window, reference: Reference | None, settings: Settings) -> RuleResult:
    """Judge the hour's p95 latency against the budget."""
    p95 = window.latency_p95_ms
    if p95 is None or window.n == 0:
        return sh.skipped(NAME, window, "warning", "no latency measured this hour", n=window.n)
    budget = settings.latency_budget_ms
    firing = p95 > budget
    evidence = {
        "p95_ms": float(p95),
        "budget_ms": budget,
        "ratio_to_budget": float(p95) / budget,
        "n": int(window.n),
    }
    who = sh.label(window.station_id)
    if firing:
        evidence["headline"] = f"p95 latency {p95:.0f} ms"
        evidence["magnitude"] = float(p95) / budget
        summary = (
            f"{who}: p95 inference latency {p95:.0f} ms over the {budget:g} ms budget "
            f"({float(p95) / budget:.1f}x, {window.n} predictions)"
        )
    else:
        summary = f"{who}: p95 inference latency {p95:.0f} ms within the {budget:g} ms budget"
    return RuleResult(
        rule=NAME,
        station_id=window.station_id,
        state="firing" if firing else "ok",
        severity="warning",
        summary=summary,
        evidence=evidence,
    )
