"""Planned stops: the shift calendar, so a belt that is stopped on purpose is not a page.

`planned_stops` (a setting) is a list of entries, each one of
  "Sun 00:00-24:00"                      every Sunday, all day
  "Mon-Fri 22:00-06:00"                  weeknights (an end at or before the start runs
                                         into the next day: Friday's stop ends Saturday 06:00)
  "daily 02:00-02:30"                    every day
  "2026-12-24T18:00/2026-12-27T06:00"    one dated stop (a holiday, a maintenance window)
optionally followed by " on PATTERN": only stations matching the pattern (the same
patterns as silences and routes: `dock-*`), e.g. "Sat 00:00-24:00 on dock-7". Days are
Mon Tue Wed Thu Fri Sat Sun, or written out, in any case (a range wraps: "Sat-Mon");
times are the site's local time (`site_timezone`), so a stop stays at 22:00 across
daylight-saving changes; a dated stop
is UTC unless it carries an offset ("2026-12-24T18:00+01:00/..."). An hour is in
a planned stop when they overlap at all. Only `no_data` reads it: silence inside a stop is
expected; silence outside is still a page, and frames that do arrive are judged as always.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.core.exceptions import BeltwatchError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKLY = re.compile(
    r"^(?P<days>daily|[a-z]+(?:-[a-z]+)?)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$"
)


class StopError(BeltwatchError, ValueError):
    """A planned stop that cannot be read; the message names the wrong part (a ValueError
    too, so the settings report it as the setting's problem)."""


@dataclass(frozen=True)
class Stop:
    """One entry of the shift calendar."""

    text: str  # as written
    station: str | None  # pattern, None: every station and the site
    days: frozenset[int] = frozenset()  # weekly: weekdays (0 = Monday) the stop starts on
    start: time | None = None  # weekly: local start time
    length: timedelta = timedelta(0)  # weekly: how long
    since: datetime | None = None  # dated: start (UTC)
    until: datetime | None = None  # dated: end (UTC)

    def covers(self, hour: datetime, station: str | None, zone: ZoneInfo) -> bool:
        """Whether [hour, hour + 1 h) overlaps this stop, for `station` (None: the site)."""
        if self.station is not None and (
            station is None or not fnmatch.fnmatchcase(station, self.station)
        ):
            return False
        end = hour + timedelta(hours=1)
        if self.since is not None and self.until is not None:
            return self.since < end and hour < self.until
        assert self.start is not None
        local = hour.astimezone(zone)
        # A stop that started on one of the last 8 days may still run (the longest weekly
        # stop is 7 days).
        for back in range(8):
            day = (local - timedelta(days=back)).date()
            if day.weekday() not in self.days:
                continue
            begins = datetime.combine(day, self.start, zone).astimezone(UTC)
            if begins < end and hour < begins + self.length:
                return True
        return False


def parse_stop(text: str) -> Stop:
    """One calendar entry (the module's docstring), or StopError naming the wrong part."""
    raw = " ".join(text.split())
    body, station = raw, None
    if " on " in raw:
        body, station = (part.strip() for part in raw.rsplit(" on ", 1))
        if not station:
            raise StopError(f"planned stop {text!r}: nothing after 'on' (a station pattern)")
    if "/" in body:
        return _dated(text, body, station)
    match = _WEEKLY.match(body.lower())
    if match is None:
        raise StopError(
            f"planned stop {text!r}: expected 'DAYS HH:MM-HH:MM' (e.g. 'Mon-Fri 22:00-06:00', "
            "'daily 02:00-03:00') or 'START/END' in ISO (e.g. '2026-12-24T18:00/2026-12-27T06:00')"
        )
    days = _days(text, match["days"])
    start = _clock(text, match["start"])
    end = 24 * 60 if match["end"] == "24:00" else _minutes(_clock(text, match["end"]))
    length = end - _minutes(start)
    if length <= 0:
        length += 24 * 60  # runs into the next day
    return Stop(
        text=text,
        station=station,
        days=days,
        start=start,
        length=timedelta(minutes=length),
    )


def parse_stops(entries: list[str]) -> list[Stop]:
    return [parse_stop(entry) for entry in entries]


def planned_stop(
    stops: list[Stop], hour: datetime, station: str | None, zone: ZoneInfo
) -> Stop | None:
    """The first stop that covers the hour for the station, None when none does."""
    return next((stop for stop in stops if stop.covers(hour, station, zone)), None)


def _days(text: str, spec: str) -> frozenset[int]:
    if spec == "daily":
        return frozenset(range(7))
    first, _, last = (_short(name) for name in spec.partition("-"))
    for name in (first, last or first):
        if name not in DAYS:
            raise StopError(
                f"planned stop {text!r}: unknown day {name!r} (Mon Tue Wed Thu Fri Sat Sun)"
            )
    a, b = DAYS.index(first), DAYS.index(last or first)
    return frozenset((a + i) % 7 for i in range((b - a) % 7 + 1))


def _short(name: str) -> str:
    """'monday' -> 'mon' (full names are read too); anything else as it is."""
    full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return DAYS[full.index(name)] if name in full else name


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _clock(text: str, value: str) -> time:
    hours, minutes = (int(part) for part in value.split(":"))
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise StopError(f"planned stop {text!r}: {value!r} is not a time of day (00:00-24:00)")
    return time(hours, minutes)


def _dated(text: str, body: str, station: str | None) -> Stop:
    first, _, last = body.partition("/")
    try:
        since, until = datetime.fromisoformat(first.strip()), datetime.fromisoformat(last.strip())
    except ValueError:
        raise StopError(
            f"planned stop {text!r}: expected ISO times 'START/END' "
            "(e.g. '2026-12-24T18:00/2026-12-27T06:00')"
        ) from None
    if until <= since:
        raise StopError(f"planned stop {text!r}: the end is not after the start")
    return Stop(text=text, station=station, since=_aware(since), until=_aware(until))


def _aware(moment: datetime) -> datetime:
    # A dated stop without a zone is in UTC, like every other time beltwatch reads.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
