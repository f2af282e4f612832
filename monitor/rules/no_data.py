"""no_data: a station that normally sends frames sent none this hour.

Fires (severity "critical": the line runs blind, or the worker or its log is down) when the
hour has n == 0 and the expected volume, window.expected_n (the station's own volume at
this hour of day, monitor/windows.py: a belt silent every night expects 0 at night) or else
the reference's hourly_volume, is >= no_data_min_expected. A station that normally sends
fewer is ok when silent (an empty hour there is ordinary); with no expected volume at all
the rule skips.
A silent hour inside a planned stop (`planned_stops`, the shift calendar,
monitor/core/stops.py) is ok, and says which stop; an unplanned silence still fires.
A trickle (n > 0 but far below normal) is not this rule's matter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitor.core.stops import parse_stops, planned_stop
from monitor.rules import _shared as sh
from monitor.rules.base import Reference, RuleResult, Window

if TYPE_CHECKING:
    from monitor.core.settings import Settings

NAME = "no_data"


def evaluate(window: Window, reference: Reference | None, settings: Settings) -> RuleResult:
    """Judge whether a normally busy station went silent."""
    if window.expected_n is not None:
        expected, source = float(window.expected_n), "window"
    elif reference is not None and reference.hourly_volume is not None:
        expected, source = float(reference.hourly_volume), "reference"
    else:
        return sh.skipped(NAME, window, "critical", "no expected hourly volume for this station")

    minimum = settings.no_data_min_expected
    suffix, flag = sh.provisional(reference if source == "reference" else None)
    evidence = {
        **flag,
        "n": int(window.n),
        "expected_n": expected,
        "expected_source": source,
        "min_expected": minimum,
    }
    who = sh.label(window.station_id)
    stop = None
    if window.n == 0 and settings.planned_stops:
        zone = ZoneInfo(settings.site_timezone)
        stop = planned_stop(
            parse_stops(settings.planned_stops), window.hour, window.station_id, zone
        )
    firing = window.n == 0 and expected >= minimum and stop is None
    if stop is not None:
        evidence["planned_stop"] = stop.text
        summary = f"{who}: no predictions this hour, a planned stop ({stop.text})"
    elif firing:
        summary = f"{who}: no predictions this hour (normally {expected:.0f} an hour){suffix}"
        evidence["headline"] = "no predictions"
        evidence["magnitude"] = expected
    elif window.n == 0:
        summary = (
            f"{who}: no predictions this hour, normal for a station sending "
            f"{expected:.0f} an hour (< {minimum:g})"
        )
    else:
        summary = f"{who}: {window.n} predictions this hour (normally {expected:.0f})"
    return RuleResult(
        rule=NAME,
        station_id=window.station_id,
        state="firing" if firing else "ok",
        severity="critical",
        summary=summary,
        evidence=evidence,
    )
