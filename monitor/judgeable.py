"""Why a rule cannot judge a station: said before the hour is processed, in words an
operator can act on.

A rule that cannot judge a station-hour records a skipped result, which nobody sees in
a quiet week; a camera watched by nothing looks the same as a healthy one. `cannot_judge`
says, from a station's reference state and its predictions per hour, which rules will
skip its last closed hour and why, deciding the way the rules do:

- lens_drift, lighting_drift and class_drift need a reference profile (a provisional one
  will do: the monitor makes it from the station's first `provisional_reference_hours`
  hours with frames) and at least `drift_min_predictions` predictions in the hour, or in
  the pool of up to `drift_max_pool_hours` clock hours ending with it (`windows.pool_span`;
  an hour without predictions is not pooled: the drift rules skip it);
- critical_rate needs `critical_rate_min_predictions` in the hour itself (never pooled);
- a retired station that sent nothing in the hour gets no window at all.

Rules stopped by the same reason are named together, so a station shows each reason
once. `unjudged` reads what `cannot_judge` needs from the database, for many stations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection

from monitor.core.queries import references, rollups
from monitor.core.queries import stations as stations_q
from monitor.core.queries import status as status_q
from monitor.core.settings import Settings
from monitor.rules import RULES, class_drift, critical_rate, lens_drift, lighting_drift
from monitor.windows import pool_span

DRIFT_RULES = (lens_drift.NAME, lighting_drift.NAME, class_drift.NAME)
_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class ReferenceState:
    """A station's reference profile as a person asks about it: none, provisional (made by
    the monitor from the station's first hours) or set (`beltwatch baseline set`)."""

    state: Literal["none", "provisional", "set"]
    since: datetime | None = None  # when it was stored
    window_start: datetime | None = None
    window_end: datetime | None = None
    set_by: str | None = None

    @classmethod
    def of(cls, band: Mapping[str, Any] | None) -> ReferenceState:
        """From a `references.reference_bands` row (None: the station has no profile)."""
        if band is None:
            return cls("none")
        return cls(
            "provisional" if band["provisional"] else "set",
            since=band["created_at"],
            window_start=band["window_start"],
            window_end=band["window_end"],
            set_by=band["set_by"],
        )


@dataclass(frozen=True)
class Unjudged:
    """Rules (in RULES order) that cannot judge a station, and the one reason why."""

    rules: tuple[str, ...]
    reason: str

    def __str__(self) -> str:
        who = "every rule" if set(self.rules) == set(RULES) else ", ".join(self.rules)
        return f"{who}: {self.reason}"


def cannot_judge(
    station: str,
    hour: datetime,
    reference: ReferenceState,
    counts: Mapping[datetime, int],
    settings: Settings,
    *,
    hours_seen: int = 0,
    retired_at: datetime | None = None,
) -> list[Unjudged]:
    """Which rules cannot judge `station`'s hour starting at `hour` (UTC), and why; empty
    when every rule can. `counts`: the station's predictions per hour start, at least the
    `drift_max_pool_hours` hours ending with `hour` (absent: none). `hours_seen`: its hours
    with frames so far (they bring a provisional reference). `retired_at`: when it was
    retired (`beltwatch station retire`), if it was."""
    n = int(counts.get(hour, 0))
    end = hour + _HOUR
    if retired_at is not None and retired_at < end and n == 0:
        return [
            Unjudged(
                tuple(RULES),
                f"retired {retired_at:%Y-%m-%d %H:%MZ}, nothing expected "
                f"(`beltwatch station unretire {station}` to expect it again)",
            )
        ]
    span = f"{hour:%H:%M}-{end:%H:%M} UTC"
    silent = f"no predictions in the hour {span}"
    reasons: dict[str, str] = {}
    if n < settings.critical_rate_min_predictions:
        reasons[critical_rate.NAME] = (
            silent
            if n == 0
            else f"too few predictions: {n} in the hour {span}, "
            f"needs {settings.critical_rate_min_predictions}"
        )
    drift = _drift_reason(station, hour, n, reference, counts, settings, hours_seen)
    if drift is not None:
        reasons.update(dict.fromkeys(DRIFT_RULES, drift))
    grouped: dict[str, list[str]] = {}
    for rule in RULES:  # the registry's order, whatever order the checks ran in
        if rule in reasons:
            grouped.setdefault(reasons[rule], []).append(rule)
    return [Unjudged(tuple(rules), reason) for reason, rules in grouped.items()]


def _drift_reason(
    station: str,
    hour: datetime,
    n: int,
    reference: ReferenceState,
    counts: Mapping[datetime, int],
    settings: Settings,
    hours_seen: int,
) -> str | None:
    """Why the drift rules skip the hour (their own order: the reference first), or None."""
    if reference.state == "none":
        return _no_reference(station, settings, hours_seen)
    least, most = settings.drift_min_predictions, settings.drift_max_pool_hours
    end = hour + _HOUR
    if n == 0:
        return f"no predictions in the hour {hour:%H:%M}-{end:%H:%M} UTC"
    if n >= least or pool_span(counts, hour, n, least, most) is not None:
        return None
    if most <= 1:
        return f"too few predictions: {n} in the hour {hour:%H:%M}-{end:%H:%M} UTC, needs {least}"
    first = hour - (most - 1) * _HOUR
    total = sum(int(counts.get(first + k * _HOUR, 0)) for k in range(most))
    return (
        f"too few predictions: {total} in the last {most} h "
        f"({first:%H:%M}-{end:%H:%M} UTC), needs {least}"
    )


def _no_reference(station: str, settings: Settings, hours_seen: int) -> str:
    command = f"`beltwatch baseline set --station {station} --since T --until T`"
    needed = settings.provisional_reference_hours
    if hours_seen >= needed:
        provisional = "the monitor makes a provisional one at its next hour with frames"
    else:
        provisional = (
            f"the monitor makes a provisional one from its first {needed} hours with frames: "
            f"{hours_seen} so far"
        )
    return f"no reference yet (set one with {command}; {provisional})"


def unjudged(
    conn: Connection,
    hour: datetime,
    settings: Settings,
    stations: Iterable[str] | None = None,
) -> dict[str, list[Unjudged]]:
    """station -> what `cannot_judge` says of its hour starting at `hour`, for the given
    stations (default: every station with a reference or with predictions in the hours
    the drift rules may pool); stations every rule can judge are absent."""
    first = hour - (settings.drift_max_pool_hours - 1) * _HOUR
    recent = status_q.hourly_counts(conn, first, hour + _HOUR)
    bands = references.reference_bands(conn)
    retired = stations_q.retirements(conn)
    wanted = sorted(set(stations) if stations is not None else set(recent) | set(bands))
    found: dict[str, list[Unjudged]] = {}
    for station in wanted:
        reference = ReferenceState.of(bands.get(station))
        counts = {start: row["n_total"] for start, row in recent.get(station, {}).items()}
        reasons = cannot_judge(
            station,
            hour,
            reference,
            counts,
            settings,
            hours_seen=hours_seen(conn, station, settings) if reference.state == "none" else 0,
            retired_at=retired[station]["retired_at"] if station in retired else None,
        )
        if reasons:
            found[station] = reasons
    return found


def hours_seen(conn: Connection, station: str, settings: Settings) -> int:
    """The station's rolled-up hours with frames, counted up to the number a provisional
    reference needs (what `cannot_judge` takes as `hours_seen`)."""
    return len(rollups.first_hours(conn, station, settings.provisional_reference_hours))
