"""The Value page: the business case in numbers over a range of days (default the last 7).
Critical parcels diverted, frames sent to a person for review (per hour: the human load,
and its peak), labels done, and per station the hours it ran with a camera fault before
the fault was resolved, with the parcels its camera judged meanwhile. Everything comes
from the hourly rollups, the alert episodes and the labels: no raw predictions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboards import charts
from dashboards.context import EMPTY, day_range, local, now, read
from monitor.core.queries import alerts, reviews, rollups
from monitor.core.queries.reviews import CAMERA_RULES
from monitor.core.settings import Settings

DAYS_SHOWN = 7
HOUR = timedelta(hours=1)

Window = tuple[datetime, datetime]


def fault_windows(
    episodes: Iterable[Mapping[str, Any]], *, since: datetime, until: datetime
) -> dict[str, list[Window]]:
    """station -> the time in [since, until) that its camera-fault episodes fired, as
    disjoint [start, end) windows, oldest first: each episode from its start to its
    resolution (to `until` while it fires), overlapping or touching ones merged."""
    spans: dict[str, list[Window]] = {}
    for episode in episodes:
        start = max(episode["started_at"], since)
        end = min(episode["resolved_at"] or until, until)
        if start < end:
            spans.setdefault(episode["station_id"], []).append((start, end))
    merged: dict[str, list[Window]] = {}
    for station, windows in sorted(spans.items()):
        out: list[Window] = []
        for start, end in sorted(windows):
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
        merged[station] = out
    return merged


def show(settings: Settings) -> None:
    """The page: the range's totals, per day, the review load per hour, camera faults."""
    st.title("Value")
    since, until = day_range(settings, "Days", key="value_range", days=DAYS_SHOWN)
    latest = read(settings, rollups.latest_hour)
    if latest is None:
        st.info(EMPTY)
        return
    hours = read(settings, rollups.site_hours, since, until)
    labels = read(
        settings, reviews.labels_per_day, since=since, until=until, zone=settings.site_timezone
    )
    _totals(settings, hours, labels, latest)
    _per_day(settings, hours, labels, since, until)
    _camera_faults(settings, since, until)


def _totals(
    settings: Settings, hours: list[dict[str, Any]], labels: dict[date, int], latest: datetime
) -> None:
    columns = st.columns(4)
    columns[0].metric("Critical parcels diverted", f"{sum(h['n_critical'] for h in hours):,}")
    columns[1].metric(
        "Frames queued for review", f"{sum(h['n_minor'] + h['n_critical'] for h in hours):,}"
    )
    columns[2].metric("Labels done", f"{sum(labels.values()):,}")
    columns[3].metric("Parcels judged", f"{sum(h['n_total'] for h in hours):,}")
    if not hours:
        st.info(
            "No traffic in this range (the newest hour with traffic: "
            f"{local(settings, latest)}): pick other days."
        )
        return
    peak = max(hours, key=lambda h: (h["n_minor"] + h["n_critical"], h["hour"]))
    st.markdown(
        f"Busiest hour for reviewers: **{local(settings, peak['hour'])}**, "
        f"{peak['n_minor'] + peak['n_critical']:,} frames queued (minor and critical calls)."
    )


def _per_day(
    settings: Settings,
    hours: list[dict[str, Any]],
    labels: dict[date, int],
    since: datetime,
    until: datetime,
) -> None:
    st.subheader("Per day")
    zone = ZoneInfo(settings.site_timezone)
    days = [since.date() + timedelta(days=i) for i in range((until.date() - since.date()).days)]
    totals = {day: {"n_total": 0, "n_minor": 0, "n_critical": 0} for day in days}
    for hour in hours:
        day = totals[hour["hour"].astimezone(zone).date()]
        for column in day:
            day[column] += hour[column]
    st.dataframe(
        pd.DataFrame(
            {
                "day": [day.isoformat() for day in days],
                "parcels": [totals[day]["n_total"] for day in days],
                "critical diverted": [totals[day]["n_critical"] for day in days],
                "queued for review": [
                    totals[day]["n_minor"] + totals[day]["n_critical"] for day in days
                ],
                "labels done": [labels.get(day, 0) for day in days],
            }
        ),
        hide_index=True,
    )
    if hours:
        st.markdown("**Frames queued for review per hour** (the reviewers' load)")
        st.altair_chart(charts.review_load(hours, timezone=settings.site_timezone), width="stretch")


def _camera_faults(settings: Settings, since: datetime, until: datetime) -> None:
    st.subheader("Camera faults")
    st.caption(
        "Time a lens_drift or lighting_drift alert fired at a station until it was resolved "
        "(still firing: until now), within the range; overlapping alerts count once. "
        "Parcels: those of the closed hours in that time, judged by a faulty camera."
    )
    episodes = [
        e
        for e in read(settings, alerts.station_episodes_between, since=since, until=until)
        if e["rule"] in CAMERA_RULES
    ]
    if not episodes:
        st.success("No camera fault fired in this range.")
        return
    # Windows to `until` (not now) keep the rollup read cached; no later hour has rows.
    windows = fault_windows(episodes, since=since, until=until)
    flat = tuple((station, *w) for station, ws in windows.items() for w in ws)
    judged = read(settings, rollups.station_totals_within, flat)
    open_until = min(until, now())
    open_for = fault_windows(episodes, since=since, until=open_until)
    stations = sorted(windows)
    st.dataframe(
        pd.DataFrame(
            {
                "station": stations,
                "episodes": [sum(1 for e in episodes if e["station_id"] == s) for s in stations],
                "hours with a fault": [round(_hours(open_for.get(s, [])), 1) for s in stations],
                "hours running with it": [judged.get(s, {}).get("hours", 0) for s in stations],
                "parcels judged by a faulty camera": [
                    judged.get(s, {}).get("n_total", 0) for s in stations
                ],
                "of them called critical": [
                    judged.get(s, {}).get("n_critical", 0) for s in stations
                ],
            }
        ),
        hide_index=True,
    )
    st.markdown("**Episodes**")
    st.dataframe(
        pd.DataFrame(
            {
                "station": [e["station_id"] for e in episodes],
                "fault": [e["rule"] for e in episodes],
                "started": [local(settings, e["started_at"]) for e in episodes],
                "resolved": [
                    local(settings, e["resolved_at"]) if e["resolved_at"] else "still firing"
                    for e in episodes
                ],
                "hours until resolved": [
                    round((((e["resolved_at"] or now()) - e["started_at"]) / HOUR), 1)
                    for e in episodes
                ],
            }
        ),
        hide_index=True,
    )


def _hours(windows: list[Window]) -> float:
    return sum((end - start) / HOUR for start, end in windows)
