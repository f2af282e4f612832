"""A station's health as the Overview shows it: pure, from values the pages read.

One tile per station. Its health is `firing` when an alert about it fires, `watch` when a
figure of its last closed hour is outside its limit with no alert (yet: rules need a
significant excess or several hours), `ok` when all are inside, `no data` when the hour
had none of its predictions. Firing tiles come first, so the wall shows the trouble.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from monitor.core.vocabulary import SEVERITIES

Health = Literal["firing", "watch", "ok", "no data"]
HEALTH_ORDER: tuple[Health, ...] = ("firing", "watch", "ok", "no data")

# A statistic's hourly median is held against the reference's hourly medians: their mean
# plus or minus `drift_control_sigmas` standard deviations, the rules' own "moved" test
# (the frames' own spread is far wider: a dirty lens stays inside it).


@dataclass(frozen=True)
class Figure:
    """One measured figure of a tile and the limits it is read against."""

    value: float | None
    low: float | None = None
    high: float | None = None

    @property
    def outside(self) -> bool:
        """Whether the value lies beyond a limit (a missing value or limit: no)."""
        if self.value is None:
            return False
        return (self.low is not None and self.value < self.low) or (
            self.high is not None and self.value > self.high
        )


@dataclass(frozen=True)
class Tile:
    """What the Overview shows of one station."""

    station: str
    health: Health
    firing: tuple[str, ...]  # rules firing for the station, the most severe first
    severity: str | None  # the most severe firing alert's severity
    predictions_hour: int  # in the last closed hour
    predictions_now: int  # so far in the open hour (raw rows)
    critical_share: Figure  # high: the station's threshold
    baseline: float  # the station's normal critical share (its reference)
    sharpness: Figure
    brightness: Figure
    latency_p95: Figure  # high: the latency budget
    reasons: tuple[str, ...] = field(default=())  # why `watch`


def reference_band(
    bands: Mapping[str, Any] | None, statistic: str, sigmas: float
) -> tuple[float | None, float | None]:
    """(low, high) of a statistic's hourly median at a station: its reference's hourly
    medians' mean -+ `sigmas` SDs; (None, None) without a reference or its spread."""
    spread = ((bands or {}).get("hourly_spread") or {}).get(statistic) or {}
    mean, sd = spread.get("mean"), spread.get("sd")
    if mean is None or sd is None:
        return None, None
    return mean - sigmas * sd, mean + sigmas * sd


def station_tile(
    station: str,
    row: Mapping[str, Any] | None,
    bands: Mapping[str, Any] | None,
    firing: Sequence[Mapping[str, Any]],
    predictions_now: int,
    *,
    threshold: float,
    default_baseline: float,
    latency_budget_ms: float,
    sigmas: float,
) -> Tile:
    """One station's tile from its last closed hour's rollup row (None: no traffic), its
    reference (None: none yet), its firing alerts (most severe first) and the open hour's
    count; `sigmas` widens the reference band (drift_control_sigmas)."""
    n = int(row["n_total"]) if row else 0
    share = int(row["n_critical"]) / n if row and n else None
    critical = Figure(share, high=threshold)
    sharpness = Figure(
        row["sharpness_p50"] if row else None, *reference_band(bands, "sharpness", sigmas)
    )
    brightness = Figure(
        row["brightness_p50"] if row else None, *reference_band(bands, "brightness", sigmas)
    )
    latency = Figure(row["latency_p95"] if row else None, high=latency_budget_ms)
    reasons = tuple(
        name
        for name, figure in (
            ("critical share", critical),
            ("sharpness", sharpness),
            ("brightness", brightness),
            ("latency p95", latency),
        )
        if figure.outside
    )
    health: Health
    if firing:
        health = "firing"
    elif not n:
        health = "no data"
    else:
        health = "watch" if reasons else "ok"
    return Tile(
        station=station,
        health=health,
        firing=tuple(alert["rule"] for alert in firing),
        severity=firing[0]["severity"] if firing else None,
        predictions_hour=n,
        predictions_now=predictions_now,
        critical_share=critical,
        baseline=float(bands["baseline_critical_rate"]) if bands else default_baseline,
        sharpness=sharpness,
        brightness=brightness,
        latency_p95=latency,
        reasons=reasons,
    )


def tile_order(tile: Tile) -> tuple[int, int, str]:
    """Sort key: firing first (the most severe first), then watch, ok, no data; by name."""
    severity = SEVERITIES.index(tile.severity) if tile.severity in SEVERITIES else len(SEVERITIES)
    return HEALTH_ORDER.index(tile.health), severity, tile.station


def stations_seen(*sources: Iterable[str | None]) -> list[str]:
    """Every station named in any source (the site's None left out), sorted."""
    return sorted({station for source in sources for station in source if station is not None})


def links(evidence: Mapping[str, Any] | None) -> list[str]:
    """What `rules.diagnose` and the alert manager tied to an alert, in words: the alert it
    was held back for (one incident, one page), the alerts held back for it, and its worst
    hour when that was not its latest ("worst hour 2026-12-04T14:00+00:00: ...")."""
    evidence = evidence or {}
    lines = []
    if evidence.get("inhibited_by"):
        lines.append(f"Held back: same incident as {', '.join(evidence['inhibited_by'])}")
    if evidence.get("linked"):
        lines.append(f"Linked (held back for this one): {', '.join(evidence['linked'])}")
    worst = evidence.get("worst_hour") or {}
    if worst.get("summary") and worst.get("magnitude") != evidence.get("magnitude"):
        lines.append(f"Worst hour {worst.get('hour')}: {worst['summary']}")
    return lines


def likely_cause(evidence: Mapping[str, Any] | None) -> str | None:
    """The root-cause hint of a critical spike (`rules.diagnose`'s evidence["likely_cause"])
    in words: "camera fault (lens_drift): sharpness down 55 %"; None when none was found."""
    cause = (evidence or {}).get("likely_cause")
    if not cause:
        return None
    fault, rule, detail = cause.get("fault", "unknown"), cause.get("rule", "?"), cause.get("detail")
    line = f"{fault} fault ({rule}): {detail}"
    also = [f"{other['rule']}: {other['detail']}" for other in cause.get("also", [])]
    return line + (f"; also {'; '.join(also)}" if also else "")
