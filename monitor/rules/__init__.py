"""The hourly alarm rules: one module per rule, found through RULES.

Each rule is a pure `evaluate(window, reference, settings) -> RuleResult` (types in
monitor.rules.base). Adding a rule is one module and one line in RULES. The hourly job
calls `evaluate_all` for every station and for the site, then `diagnose` on the hour's
results together, so a critical spike on a station with a camera fault says so.

Site-wide windows (station_id None) go through SITE_RULES only: the critical share, the
class mix, silence of the whole site and latency keep their meaning when stations are
pooled; lens and lighting drift are properties of one camera (one dirty lens of twenty is
diluted twenty-fold in the pooled distribution), so they are judged per station. The
site's reference is pooled from the stations' each hour (reference.site_reference). Called
directly with a reference that carries samples, the drift rules do work on a site window.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any

from monitor.core.settings import Settings
from monitor.rules import (
    class_drift,
    critical_drop,
    critical_rate,
    latency,
    lens_drift,
    lighting_drift,
    no_data,
)
from monitor.rules.base import Reference, RuleResult, Window, fingerprint

Rule = Callable[[Window, Reference | None, Settings], RuleResult]

RULES: dict[str, Rule] = {
    critical_rate.NAME: critical_rate.evaluate,
    critical_drop.NAME: critical_drop.evaluate,
    lens_drift.NAME: lens_drift.evaluate,
    lighting_drift.NAME: lighting_drift.evaluate,
    class_drift.NAME: class_drift.evaluate,
    no_data.NAME: no_data.evaluate,
    latency.NAME: latency.evaluate,
}

SITE_RULES = (critical_rate.NAME, class_drift.NAME, no_data.NAME, latency.NAME)

# Rules whose firing on a station explains a class alert there, and how to say so.
CAUSES = {lens_drift.NAME: "camera", lighting_drift.NAME: "lighting"}
# The class alerts a camera or lighting fault can explain.
EXPLAINED = (critical_rate.NAME, critical_drop.NAME, class_drift.NAME)

__all__ = ["RULES", "SITE_RULES", "Rule", "diagnose", "evaluate_all"]

log = logging.getLogger(__name__)


def evaluate_all(
    window: Window, reference: Reference | None, settings: Settings, *, site: bool = False
) -> list[RuleResult]:
    """Every registered rule on one window, in RULES order; `site=True` for the site-wide
    window (station_id None), which runs SITE_RULES only."""
    if site and window.station_id is not None:
        raise ValueError(
            f"site=True needs the site-wide window (station_id None), got {window.station_id!r}"
        )
    names = SITE_RULES if site else tuple(RULES)
    return [_judge(name, window, reference, settings) for name in names]


def _judge(
    name: str, window: Window, reference: Reference | None, settings: Settings
) -> RuleResult:
    """One rule on one window. A rule that raises (a defect, or data nobody foresaw) is
    logged and reads as "skipped" for this window only, so one station's data never stops
    the other rules or the other stations of the hour from being judged."""
    try:
        return RULES[name](window, reference, settings)
    except Exception as error:
        where = window.station_id if window.station_id is not None else "the site"
        log.exception("rule %s failed on %s, hour %s", name, where, window.hour.isoformat())
        return RuleResult(
            rule=name,
            station_id=window.station_id,
            state="skipped",
            severity="info",
            summary=f"{name} could not judge {where}: {type(error).__name__}: {error}"[:500],
            evidence={"error": f"{type(error).__name__}: {error}"[:2000]},
        )


def diagnose(results: Iterable[RuleResult]) -> list[RuleResult]:
    """The same results, linked where one fault explains several on the same station:

    - every firing class alert (EXPLAINED: critical_rate, critical_drop, class_drift) that
      coincides with lens or lighting drift firing there says so ("likely a camera fault:
      sharpness down 55 %"), with evidence["likely_cause"] naming the rule and its numbers;
    - inhibition, in Alertmanager's sense (INHIBITIONS): a firing class_drift on a station
      where critical_rate or critical_drop fires, or a lighting_drift that only a slow
      brightness drift fired on a station whose lens_drift fires (a smudge's haze brightens
      the frame a little), is the same incident seen twice. It carries
      evidence["inhibited_by"] (its episode is kept, its notification held back, as by a
      silence) and the inhibiting alert lists it in evidence["linked"] and its summary
      (the site's own alerts likewise)."""
    results = list(results)
    causes: dict[str | None, list[RuleResult]] = {}
    firing: dict[str | None, list[RuleResult]] = {}
    for result in results:
        if not result.firing:
            continue
        firing.setdefault(result.station_id, []).append(result)
        if result.rule in CAUSES and result.station_id is not None:
            causes.setdefault(result.station_id, []).append(result)
    held: dict[tuple[str | None, str], list[RuleResult]] = {}
    for station, fired in firing.items():
        for result in fired:
            for rule, by, _, applies in INHIBITIONS:
                inhibitors = [other for other in fired if other.rule in by]
                if result.rule == rule and inhibitors and applies(result):
                    held[(station, rule)] = inhibitors
    diagnosed = []
    for result in results:
        found = causes.get(result.station_id, [])
        if result.rule in EXPLAINED and result.firing and found:
            result = _with_cause(result, found)
        if (result.station_id, result.rule) in held:
            result = _inhibited(result, held[(result.station_id, result.rule)])
        elif result.firing:
            for rule, by, why, _ in INHIBITIONS:
                if result.rule in by and (result.station_id, rule) in held:
                    result = _linked(result, fingerprint(rule, result.station_id), why)
        diagnosed.append(result)
    return diagnosed


def _always(result: RuleResult) -> bool:
    return True


def _slow_brightness_only(result: RuleResult) -> bool:
    """lighting_drift fired on the slow brightness path alone (no abrupt move, no clipping)."""
    fired = result.evidence.get("fired_by") or []
    signal = (result.evidence.get("signals") or {}).get("brightness") or {}
    return list(fired) == ["brightness"] and not signal.get("abrupt", False)


# (held-back rule, the rules that hold it back, how the holder's page names it, when)
INHIBITIONS: tuple[tuple[str, tuple[str, ...], str, Callable[[RuleResult], bool]], ...] = (
    (class_drift.NAME, (critical_rate.NAME, critical_drop.NAME), "class mix moved", _always),
    (lighting_drift.NAME, (lens_drift.NAME,), "brightness drifted with it", _slow_brightness_only),
)


def _inhibited(result: RuleResult, by: list[RuleResult]) -> RuleResult:
    names = [inhibitor.fingerprint for inhibitor in by]
    return dataclasses.replace(
        result,
        summary=f"{result.summary} (held back: same incident as {', '.join(names)})",
        evidence={**result.evidence, "inhibited_by": names},
    )


def _linked(result: RuleResult, other: str, why: str) -> RuleResult:
    linked = [*result.evidence.get("linked", []), other]
    return dataclasses.replace(
        result,
        summary=f"{result.summary}; linked: {other} ({why}, held back)",
        evidence={**result.evidence, "linked": linked},
    )


def _with_cause(result: RuleResult, causes: list[RuleResult]) -> RuleResult:
    # Lens before lighting (RULES order): a blurred camera explains a spike more directly.
    causes = sorted(causes, key=lambda cause: list(RULES).index(cause.rule))
    phrases = [f"likely a {CAUSES[cause.rule]} fault: {_headline(cause)}" for cause in causes]
    likely: dict[str, Any] = {
        "fault": CAUSES[causes[0].rule],
        "rule": causes[0].rule,
        "fingerprint": causes[0].fingerprint,
        "detail": _headline(causes[0]),
        "summary": causes[0].summary,
        "also": [
            {"rule": cause.rule, "fingerprint": cause.fingerprint, "detail": _headline(cause)}
            for cause in causes[1:]
        ],
    }
    return dataclasses.replace(
        result,
        summary=f"{result.summary}; {'; '.join(phrases)}",
        evidence={**result.evidence, "likely_cause": likely},
    )


def _headline(result: RuleResult) -> str:
    headline = result.evidence.get("headline")
    return str(headline) if headline else result.summary
