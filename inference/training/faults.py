"""Faults the conveyor simulator injects, written `KIND:STATION@START[-END][:VALUE]`:

    lens:S3@14:00               S3's lens degrades from 14:00: blur and haze grow for
                                LENS_RAMP_HOURS, then stay (VALUE: final severity, 0-1]
    smudge:S4@16:00             a smudge over part of S4's lens (VALUE: strength, 0-1]
    lighting:S1@20:00-23:00:0.6 the lighting fails: exposure times VALUE (> 0, not 1)
    damage:S2@10:00-11:00:0.2   a real wave of damaged parcels: VALUE of them critical (0-1)
    down:S4@06:00-08:00         the camera sends nothing (no VALUE)
    slow:S5@12:00-13:00:150     the model takes VALUE ms longer per frame (> 0)

Times are HH:MM, UTC. START is the first such time at or after the anchor the simulator
is given (the start of its window, unless told otherwise); END, when it is not after
START, is on the next day; without END a fault lasts to the end of the window. A
malformed spec raises FaultSpecError naming the part that is wrong. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from monitor.core.exceptions import BeltwatchError
from monitor.core.vocabulary import STATION_NAME

LENS_RAMP_HOURS = 2.0  # a dirty lens reaches its final blur and haze this long after START


@dataclass(frozen=True)
class Kind:
    """One kind of fault: what its VALUE means, its default and the range it must lie in."""

    name: str
    rule: str  # the monitor rule that should find it
    value: str | None  # what VALUE means; None: the kind takes none
    default: float | None = None
    low: float | None = None  # exclusive lower bound
    high: float | None = None  # inclusive upper bound
    excluded: float | None = None  # a value that would be no fault at all

    def check(self, value: float, spec: str) -> None:
        """Raise FaultSpecError when `value` is outside this kind's range."""
        too_low = self.low is not None and value <= self.low
        too_high = self.high is not None and value > self.high
        if too_low or too_high or value == self.excluded:
            bounds = (
                f"({self.low:g}, {self.high:g}]" if self.high is not None else f"> {self.low:g}"
            )
            extra = f", not {self.excluded:g}" if self.excluded is not None else ""
            raise FaultSpecError(spec, "value", f"{self.value} {value:g} must be {bounds}{extra}")


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("lens", "lens_drift", "final severity", 1.0, 0.0, 1.0),
        Kind("smudge", "lens_drift", "smudge strength", 1.0, 0.0, 1.0),
        Kind("lighting", "lighting_drift", "gain factor", 0.6, 0.0, None, excluded=1.0),
        Kind("damage", "critical_rate", "critical share", 0.2, 0.0, 1.0),
        Kind("down", "no_data", None),
        Kind("slow", "latency", "added latency in ms", 150.0, 0.0, 60_000.0),
    )
}

SYNTAX = "KIND:STATION@HH:MM[-HH:MM][:VALUE]"
_TIME = re.compile(r"^(\d{1,2}):(\d{2})")


class FaultSpecError(BeltwatchError, ValueError):
    """A fault spec that cannot be read; `part` names what is wrong (kind, station, start,
    end, value or the whole spec)."""

    def __init__(self, spec: str, part: str, message: str) -> None:
        self.spec, self.part = spec, part
        super().__init__(f"fault {spec!r}: {part}: {message} (form: {SYNTAX})")


@dataclass(frozen=True)
class FaultSpec:
    """A parsed spec: times of day, not yet placed in a window."""

    kind: str
    station: str
    start: time
    end: time | None
    value: float | None  # None for `down`

    @property
    def rule(self) -> str:
        return KINDS[self.kind].rule

    def place(self, anchor: datetime, until: datetime) -> Fault:
        """The fault in time: START at its first occurrence at or after `anchor`, END after
        START (the next day when its time of day is not later), or `until` without one."""
        start = _at_or_after(anchor, self.start)
        end = until if self.end is None else _at_or_after(start + timedelta(minutes=1), self.end)
        return Fault(self.kind, self.station, start, max(start, end), self.value)


@dataclass(frozen=True)
class Fault:
    """A fault placed in time: [start, end)."""

    kind: str
    station: str
    start: datetime
    end: datetime
    value: float | None

    @property
    def rule(self) -> str:
        return KINDS[self.kind].rule

    def active(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        value = "" if self.value is None else f":{self.value:g}"
        return f"{self.kind}:{self.station}@{self.start:%H:%M}-{self.end:%H:%M}{value}"


def parse_fault(spec: str) -> FaultSpec:
    """Read one `KIND:STATION@START[-END][:VALUE]`; FaultSpecError names the wrong part."""
    text = spec.strip()
    kind_name, colon, rest = text.partition(":")
    if not colon:
        raise FaultSpecError(spec, "spec", "no ':' after the kind")
    kind = KINDS.get(kind_name)
    if kind is None:
        raise FaultSpecError(
            spec, "kind", f"unknown kind {kind_name!r}; expected one of {', '.join(KINDS)}"
        )
    station, at, when = rest.partition("@")
    if not at:
        raise FaultSpecError(spec, "start", "no '@' before the start time")
    if not STATION_NAME.fullmatch(station):
        raise FaultSpecError(
            spec,
            "station",
            f"{station!r} is not a station id (letters, digits, '_', '.', '-'; up to 128)",
        )
    start, when = _time(spec, "start", when)
    end, last = None, "start"
    if when.startswith("-"):
        last = "end"
        end, when = _time(spec, "end", when[1:])
        if end == start:
            raise FaultSpecError(spec, "end", f"{end:%H:%M} is the start: the fault lasts 0 min")
    value = kind.default
    if when.startswith(":"):
        if kind.value is None:
            raise FaultSpecError(spec, "value", f"{kind.name} takes no value")
        try:
            value = float(when[1:])
        except ValueError:
            raise FaultSpecError(
                spec, "value", f"{when[1:]!r} is not a number ({kind.value})"
            ) from None
        kind.check(value, spec)
    elif when:
        raise FaultSpecError(spec, last, f"unexpected {when!r} after the {last} time")
    return FaultSpec(kind.name, station, start, end, value)


def _time(spec: str, part: str, text: str) -> tuple[time, str]:
    """A leading HH:MM of `text` and what follows it."""
    match = _TIME.match(text)
    shown = re.split(r"[-@]", text, maxsplit=1)[0] or text
    if not match:
        raise FaultSpecError(spec, part, f"{shown!r} is not a time HH:MM")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        raise FaultSpecError(spec, part, f"{match.group(0)} is not a time of day (00:00-23:59)")
    return time(hours, minutes), text[match.end() :]


def _at_or_after(moment: datetime, at: time) -> datetime:
    candidate = moment.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return candidate if candidate >= moment else candidate + timedelta(days=1)
