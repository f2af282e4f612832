"""What the rules look at for one closed hour: the rollups, the station's recent hours, the
volume to expect, and, for the drift tests, a bounded random sample of its predictions.

The volume to expect (Window.expected_n, what no_data judges silence against) comes from
history, so a station's own rhythm counts: the (lower) median of its volume at this hour
of day on each of the last EXPECTED_DAYS days, and no more than a week ago at this hour. An hour
without a row counts as 0 there, from the station's first hour in that span on; so a belt
that is quiet every night (or every Sunday) expects 0 then and its silence is no alarm,
while a belt silent at an hour it was busy at yesterday and a week ago is. A station with
less than a day of history gets None (no_data falls back to its reference's volume).
Known limit: a sustained outage is learnt as normal once it covers most of those days.

A station too quiet for the drift rules in one hour (fewer than `min_predictions`) is not
left blind: its window carries a Pool of consecutive clock hours ending with this one, going
back no more than `max_pool_hours`, as soon as they hold `min_predictions` between them
(a station at 30 an hour is judged on ~4 hours, so a fault shows within that many). The
rules judge the pool's sample and class counts and name its hours in the summary. A pool
never spans more than `max_pool_hours` clock hours, silent hours included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, RowMapping

from monitor.core.queries import predictions, rollups
from monitor.core.queries import stations as stations_q
from monitor.core.queries.rollups import SITE
from monitor.core.vocabulary import CLASSES
from monitor.rules.base import SAMPLE_COLUMNS, HourSummary, Pool, Reference, Window

HISTORY_HOURS = 48  # earlier hours handed to the rules (CUSUM on hourly medians)
EXPECTED_DAYS = 7  # a week: the same weekday is in, and a one-day outage is outvoted


def hour_windows(
    conn: Connection,
    hour: datetime,
    references: Mapping[str, Reference],
    *,
    retired: Mapping[str, datetime] | None = None,
    sample_size: int,
    min_predictions: int = 0,
    max_pool_hours: int = 1,
) -> list[Window]:
    """A window per station that sent frames this hour, has a reference or sent frames in
    the last EXPECTED_DAYS + 1 days (no_data needs the silent ones), plus the site-wide
    window (station_id None). The hour's rollups must be written. A station with frames
    but fewer than `min_predictions` this hour gets a Pool (the module's docstring).

    A silent station is left out when nothing could be expected of it: it did not exist
    yet (its first frame came after this hour: an older hour processed again), or it was
    retired by the end of this hour (`retired`: station -> when, `beltwatch station retire`)."""
    rows = rollups.hour_rows(conn, hour)
    # A day more than the expectation reads, so that a week ago can count as a known 0.
    volumes = rollups.hourly_volumes(conn, hour - timedelta(days=EXPECTED_DAYS + 1), hour)
    born = stations_q.first_seen(conn)
    retired = retired or {}
    end = hour + timedelta(hours=1)
    stations = sorted(
        station
        for station in (set(rows) | set(references) | set(volumes)) - {SITE}
        if station in rows
        or not (born.get(station, hour) >= end or retired.get(station, end) < end)
    )
    history = rollups.station_history(conn, hour, stations, HISTORY_HOURS)
    windows = []
    for station in stations:
        row = rows.get(station)
        n = int(row["n_total"]) if row else 0
        sample = _sample(conn, hour, station, n, sample_size) if n else {}
        summaries = [_summary(entry) for entry in history.get(station, ())]
        expected = expected_volume(volumes.get(station, {}), hour)
        window = _window(hour, station, row, sample, summaries, expected)
        if 0 < n < min_predictions:
            span = pool_span(volumes.get(station, {}), hour, n, min_predictions, max_pool_hours)
            if span is not None:
                window = replace(window, pool=_pool(conn, station, hour, span, sample_size))
        windows.append(window)
    site_expected = expected_volume(volumes.get(SITE, {}), hour)
    windows.append(_window(hour, None, rows.get(SITE), {}, [], site_expected))
    return windows


def expected_volume(volumes: Mapping[datetime, int], hour: datetime) -> float | None:
    """Predictions to expect in `hour` from the hourly volumes of the days before (the
    module's docstring says how); None without a day of history."""
    if not volumes:
        return None
    first = min(volumes)
    same_hours = [hour - timedelta(days=day) for day in range(1, EXPECTED_DAYS + 1)]
    known = [volumes.get(past, 0) for past in same_hours if past >= first]
    if not known:
        return None
    # The lower median: the belt must have been busy at this hour on more than half the
    # days it was known (one busy day of two is no habit to page on).
    expected = float(sorted(known)[(len(known) - 1) // 2])
    week_ago = same_hours[-1]
    if week_ago >= first:  # a belt that rests on this weekday rested a week ago too
        expected = min(expected, float(volumes.get(week_ago, 0)))
    return expected


def pool_span(
    volumes: Mapping[datetime, int], hour: datetime, n: int, least: int, most_hours: int
) -> tuple[datetime, int, int] | None:
    """(first hour, clock hours, predictions) of the shortest run of clock hours ending
    with `hour` (which holds n) whose volumes sum to >= least, at most `most_hours` long;
    None when even that many hours hold fewer."""
    total = n
    for back in range(1, most_hours):
        start = hour - timedelta(hours=back)
        total += int(volumes.get(start, 0))
        if total >= least:
            return start, back + 1, total
    return None


def _pool(
    conn: Connection,
    station: str,
    hour: datetime,
    span: tuple[datetime, int, int],
    sample_size: int,
) -> Pool:
    since, hours, n = span
    until = hour + timedelta(hours=1)
    counts = predictions.class_counts(conn, station, since, until)
    return Pool(
        since=since,
        hours=hours,
        # Counted from the rows themselves: the rollups' volumes only chose the span.
        n=sum(counts.values()),
        counts={cls: int(counts.get(cls, 0)) for cls in CLASSES},
        sample=_sample(conn, since, station, n, sample_size, until),
    )


def _window(
    hour: datetime,
    station: str | None,
    row: RowMapping | None,
    sample: dict[str, np.ndarray],
    history: list[HourSummary],
    expected_n: float | None,
) -> Window:
    counts = {cls: int(row[f"n_{cls}"]) if row else 0 for cls in CLASSES}
    return Window(
        hour=hour,
        station_id=station,
        n=sum(counts.values()),
        counts=counts,
        latency_p95_ms=row["latency_p95"] if row else None,
        sample=sample,
        history=tuple(history),
        expected_n=expected_n,
    )


def _summary(entry: Mapping[str, Any]) -> HourSummary:
    medians = {stat: entry[stat] for stat in rollups.MEDIAN_COLUMNS if stat in entry}
    counts = {cls: int(entry[f"n_{cls}"]) for cls in CLASSES if f"n_{cls}" in entry}
    return HourSummary(hour=entry["hour"], n=entry["n_total"], medians=medians, counts=counts)


def _sample(
    conn: Connection,
    since: datetime,
    station: str,
    n: int,
    size: int,
    until: datetime | None = None,
) -> dict[str, np.ndarray]:
    end = until if until is not None else since + timedelta(hours=1)
    values = predictions.sample(conn, station, since, end, SAMPLE_COLUMNS, size=size, total=n)
    return {col: values[:, i] for i, col in enumerate(SAMPLE_COLUMNS)}
