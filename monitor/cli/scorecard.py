"""The simulator's scorecard: each injected fault against the alert the monitor raised for
it, and every alert nobody injected. Pure: it takes the faults and the alert rows.

A fault is found by an alert of its rule (faults.KINDS) on its station whose hour starts
within `FOUND_WITHIN` of the fault's start. An alert of the same rule for the whole site
during the fault (a slow model shows in the site's latency too) is that fault seen at the
site; an alert of another rule on the faulty station during it that the monitor itself tied
to the fault (held back as the same incident, or naming it as the likely cause) is a side
effect, and so is such a tied alert for the whole site during a fault. Anything else is an
alert nobody injected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from inference.training.faults import Fault

FOUND_WITHIN = timedelta(hours=2)
RESOLVE_GRACE = timedelta(hours=3)  # a side effect may outlast its fault by the resolve hours

Alert = Mapping[str, Any]  # an `alerts` row


@dataclass(frozen=True)
class Finding:
    """One injected fault and the alert that found it (None: missed)."""

    fault: Fault
    alert: Alert | None

    @property
    def delay(self) -> timedelta | None:
        if self.alert is None:
            return None
        return self.alert["started_at"] - self.fault.start.replace(minute=0, second=0)

    @property
    def resolved_after_end(self) -> bool:
        """The alert resolved, at or after the fault's end."""
        resolved = None if self.alert is None else self.alert["resolved_at"]
        return resolved is not None and resolved >= self.fault.end


@dataclass(frozen=True)
class Scorecard:
    findings: list[Finding]
    at_site: list[Alert] = field(default_factory=list)  # a fault seen in the site's figures
    side_effects: list[Alert] = field(default_factory=list)  # tied to a fault by the monitor
    uninjected: list[Alert] = field(default_factory=list)  # alerts nobody injected

    @property
    def all_found(self) -> bool:
        return all(f.alert is not None for f in self.findings)


def score(faults: Sequence[Fault], alerts: Sequence[Alert]) -> Scorecard:
    """Match each fault with its alert; sort the other alerts."""
    used: set[int] = set()
    findings = []
    for fault in faults:
        found = next(
            (
                alert
                for alert in sorted(alerts, key=lambda a: a["started_at"])
                if alert["id"] not in used
                and alert["rule"] == fault.rule
                and alert["station_id"] == fault.station
                and _hour(fault.start) <= alert["started_at"] <= fault.start + FOUND_WITHIN
            ),
            None,
        )
        if found is not None:
            used.add(found["id"])
        findings.append(Finding(fault, found))
    at_site, side, other = [], [], []
    for alert in alerts:
        if alert["id"] in used:
            continue
        during = [
            f for f in faults if _hour(f.start) <= alert["started_at"] < f.end + RESOLVE_GRACE
        ]
        if alert["station_id"] is None and any(f.rule == alert["rule"] for f in during):
            at_site.append(alert)
        elif _tied(alert) and any(alert["station_id"] in (None, f.station) for f in during):
            # on the faulty station, or for the whole site (a damage wave on one station
            # moves the site's class mix too; the monitor holds that back as one incident)
            side.append(alert)
        else:
            other.append(alert)
    return Scorecard(findings, at_site, side, other)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _tied(alert: Alert) -> bool:
    evidence = alert.get("evidence") or {}
    return bool(evidence.get("inhibited_by") or evidence.get("likely_cause"))


def render(card: Scorecard) -> list[str]:
    """The scorecard as lines of text."""
    lines = [
        f"{'fault injected':<34}{'expected':<16}{'raised':<8}{'delay':>6}  {'resolved':<9}summary"
    ]
    for finding in card.findings:
        fault, alert = finding.fault, finding.alert
        window = f"{fault.start:%H:%M}-{fault.end:%H:%M}"
        head = f"{fault.kind} {fault.station} {window}"
        if alert is None:
            lines.append(f"{head:<34}{fault.rule:<16}{'MISSED':<8}")
            continue
        delay = int(finding.delay / timedelta(hours=1)) if finding.delay is not None else 0
        resolved = alert["resolved_at"]
        lines.append(
            f"{head:<34}{fault.rule:<16}{alert['started_at']:%H:%M}{'':<3}{delay:>4} h  "
            f"{(f'{resolved:%H:%M}' if resolved else 'firing'):<9}{alert['summary'][:90]}"
        )
    found = sum(f.alert is not None for f in card.findings)
    lines.append(f"found {found} of {len(card.findings)} faults")
    for title, group in (
        ("seen at the site too", card.at_site),
        (
            "side effects the monitor tied to a fault (held back or named as the cause)",
            card.side_effects,
        ),
        ("alerts nobody injected", card.uninjected),
    ):
        lines.append(f"{title}: {len(group) or 'none'}")
        for alert in group:
            where = alert["station_id"] or "site"
            lines.append(
                f"  {alert['rule']} on {where} {alert['started_at']:%Y-%m-%d %H:%M}: "
                f"{alert['summary'][:100]}"
            )
    return lines
