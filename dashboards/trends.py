"""The Trends page: how the chosen stations behaved over a range of days, hour by hour.

The class mix of their predictions (stacked shares), each station's critical share
against its alarm threshold and its normal baseline, and its brightness, sharpness,
worst-tile sharpness and clipping against its reference band, with every alert's start
and resolve marked. Everything comes from the hourly rollups, the alert episodes and the
reference profiles (no raw predictions), so 30 days of 20 stations stay quick; ranges
longer than MAX_HOURLY_DAYS are drawn in bins of several hours. The Station page draws
its last 7 days with the same functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import charts
from dashboards.context import EMPTY, day_range, local, read
from dashboards.health import reference_band
from monitor.core.queries import alerts, references, rollups
from monitor.core.settings import Settings
from monitor.core.vocabulary import CLASSES

DAYS_SHOWN = 7
STATIONS_SHOWN = 6  # more stations than this: the default shows those that had alerts
# Up to 14 days hourly: 336 points per station, 6,720 per chart for 20 stations. Longer
# ranges are drawn in bins of the fewest hours that keep a station under MAX_BINS points.
MAX_HOURLY_DAYS = 14
MAX_BINS = MAX_HOURLY_DAYS * 24
BIN_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)
HOUR = timedelta(hours=1)
CLIPPING_COLUMNS = ("clipped_dark", "clipped_bright")
CHOSEN, OFFERED = "trends_stations", "trends_offered"  # session keys: the pick, its choices


@dataclass(frozen=True)
class Statistic:
    """A chart of the page: the rollup column it draws, its title and number format."""

    column: str  # in rollups.station_bins' rows
    title: str
    value_format: str  # d3 format


CRITICAL_SHARE = Statistic("critical share", "critical share", ".1%")
# statistic (as the reference names it) -> its chart
STATISTICS = {
    "brightness": Statistic("brightness_p50", "brightness (hourly median)", ".1f"),
    "sharpness": Statistic("sharpness_p50", "sharpness (hourly median)", ".3f"),
    "sharpness_tile_min": Statistic(
        "sharpness_tile_min_p50", "worst-tile sharpness (hourly median)", ".3f"
    ),
    "clipped_dark": Statistic("clipped_dark_mean", "dark-clipped share (hourly mean)", ".2%"),
    "clipped_bright": Statistic("clipped_bright_mean", "bright-clipped share (hourly mean)", ".2%"),
}


def bin_hours(since: datetime, until: datetime) -> int:
    """The hours a point of [since, until) covers: 1 up to MAX_HOURLY_DAYS days, else the
    fewest of BIN_HOURS that keep a station under MAX_BINS points."""
    hours = (until - since) / HOUR
    return next((size for size in BIN_HOURS if hours / size <= MAX_BINS), BIN_HOURS[-1])


def default_stations(stations: Sequence[str], alerted: Iterable[str]) -> tuple[list[str], str]:
    """The stations shown before anyone picks (sorted), and a line saying why: all of them
    up to STATIONS_SHOWN; more, those that had an alert in the range; none had, the first
    STATIONS_SHOWN."""
    if len(stations) <= STATIONS_SHOWN:
        return list(stations), (
            f"All {len(stations)} stations with traffic or an alert in the range."
        )
    with_alerts = sorted(set(alerted) & set(stations))
    if with_alerts:
        return with_alerts, (
            f"{len(stations)} stations: showing the {len(with_alerts)} that had an alert in "
            "the range; add others above."
        )
    return list(stations[:STATIONS_SHOWN]), (
        f"{len(stations)} stations and no alert in the range: showing the first "
        f"{STATIONS_SHOWN}; add others above."
    )


def critical_share(row: Mapping[str, Any]) -> float | None:
    """A rollup row's (or bin's) share of predictions called critical; None without any."""
    return row["n_critical"] / row["n_total"] if row["n_total"] else None


def points(
    bins: Sequence[Mapping[str, Any]], stations: Sequence[str], statistic: Statistic, hours: int
) -> list[dict[str, Any]]:
    """The chart points of `statistic` for `stations` (in that order) from station_bins'
    rows: station, start, value, predictions; after a bin that the next one does not
    follow directly, a point without a value, so the line breaks over hours without
    traffic."""
    step = timedelta(hours=hours)
    by_station: dict[str, list[Mapping[str, Any]]] = {}
    for row in bins:
        by_station.setdefault(row["station_id"], []).append(row)
    out: list[dict[str, Any]] = []
    for station in stations:
        rows = by_station.get(station, [])
        for row, after in zip(rows, [*rows[1:], None], strict=True):
            value = critical_share(row) if statistic is CRITICAL_SHARE else row[statistic.column]
            out.append(
                {
                    "station": station,
                    "start": row["start"],
                    "value": value,
                    "predictions": row["n_total"],
                }
            )
            if after is not None and after["start"] != row["start"] + step:
                gap = {"station": station, "start": row["start"] + step}
                out.append(gap | {"value": None, "predictions": 0})
    return out


def bands(
    settings: Settings,
    statistic: str,
    stations: Iterable[str],
    profiles: Mapping[str, Mapping[str, Any]],
    window_means: Mapping[str, Mapping[str, float]],
) -> dict[str, tuple[float | None, float | None]]:
    """station -> (low, high) of its reference band for `statistic`: for an hourly median,
    the Overview's band (health.reference_band); for a clipped share, 0 to its mean over
    the reference window (`window_means`: rollups.frame_means_within) plus
    lighting_clipping_increase, where lighting_drift fires."""
    out = {}
    for station in stations:
        if statistic in CLIPPING_COLUMNS:
            mean = window_means.get(station, {}).get(STATISTICS[statistic].column)
            limit = None if mean is None else mean + settings.lighting_clipping_increase
            out[station] = (0.0 if limit is not None else None, limit)
        else:
            out[station] = reference_band(
                profiles.get(station), statistic, settings.drift_control_sigmas
            )
    return out


def critical_levels(
    settings: Settings, stations: Iterable[str], profiles: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, float]]:
    """station -> {"threshold": where critical_rate fires, "baseline": its reference's
    critical rate (the configured baseline without a reference)}."""
    return {
        station: {
            "threshold": settings.critical_threshold_for(station),
            "baseline": float(profiles[station]["baseline_critical_rate"])
            if station in profiles
            else settings.critical_rate_baseline,
        }
        for station in stations
    }


def station_charts(
    settings: Settings,
    stations: Sequence[str],
    since: datetime,
    until: datetime,
    rows: Sequence[Mapping[str, Any]],
    *,
    statistics: Sequence[str] = tuple(STATISTICS),
) -> None:
    """The critical share and `statistics` (keys of STATISTICS) of `stations` over
    [since, until), one panel per station, bands and alerts marked; `rows` are
    rollups.station_bins' for the range in bins of bin_hours(since, until) (the Station
    page calls this for its one station)."""
    hours = bin_hours(since, until)
    episodes = read(settings, alerts.station_episodes_between, since=since, until=until)
    profiles = read(settings, references.reference_bands)
    windows = tuple((s, p["window_start"], p["window_end"]) for s, p in sorted(profiles.items()))
    means = read(settings, rollups.frame_means_within, windows)
    chosen = set(stations)
    present = {row["station_id"] for row in rows}
    shown = [s for s in stations if s in present]
    if not shown:
        _no_traffic(settings, stations)
        return
    episodes = [e for e in episodes if e["station_id"] in chosen]
    # One station (the Station page) gets the page's width; more share it three a row.
    columns, width = (1, 900) if len(shown) == 1 else (3, 270)

    def draw(statistic: Statistic, **marks: Any) -> None:
        chart = charts.station_panels(
            points(rows, shown, statistic, hours),
            title=statistic.title,
            value_format=statistic.value_format,
            timezone=settings.site_timezone,
            since=since,
            until=until,
            alerts=episodes,
            columns=columns,
            width=width,
            **marks,
        )
        st.vega_lite_chart(spec=chart.spec())

    st.subheader("Critical share")
    st.caption(
        "Per station: the share of its predictions called critical, the threshold where "
        "critical_rate fires and its normal baseline (its reference's critical rate)."
    )
    draw(CRITICAL_SHARE, levels=critical_levels(settings, shown, profiles))
    for statistic in statistics:
        st.subheader(STATISTICS[statistic].title.capitalize())
        if statistic in CLIPPING_COLUMNS:
            st.caption(
                "Share of pixels clipped, the mean over the hour's frames. Band: 0 to the "
                "mean over the reference window's hours plus lighting_clipping_increase "
                f"({settings.lighting_clipping_increase:.0%}), above which lighting_drift "
                "fires (no band where the window's hours were never rolled up)."
            )
        else:
            st.caption(
                "Band: the reference's hourly medians, mean ± drift_control_sigmas "
                f"({settings.drift_control_sigmas:g}) SDs, as the Overview's tiles."
            )
        band = bands(settings, statistic, shown, profiles, means)
        draw(STATISTICS[statistic], bands=band)


def show(settings: Settings) -> None:
    """The page: range and stations, a table per station, the charts."""
    st.title("Trends")
    since, until = day_range(settings, "Days", key="trends_range", days=DAYS_SHOWN)
    hours = bin_hours(since, until)
    rows = read(settings, rollups.station_bins, since, until, hours)
    episodes = read(settings, alerts.station_episodes_between, since=since, until=until)
    if not rows and not episodes:
        if read(settings, rollups.latest_hour) is None:
            st.info(EMPTY)
        else:
            st.info("No hour of this range has been rolled up: pick days with traffic.")
        return
    stations = sorted({row["station_id"] for row in rows} | {e["station_id"] for e in episodes})
    default, why = default_stations(stations, (e["station_id"] for e in episodes))
    # Another range offers other stations: start again from its default choice (also on
    # coming back from another page, which drops the widget's state).
    if st.session_state.get(OFFERED) != stations or CHOSEN not in st.session_state:
        st.session_state[OFFERED] = stations
        st.session_state[CHOSEN] = default
    chosen = st.multiselect("Stations", stations, key=CHOSEN)
    st.caption(why)
    if not chosen:
        st.info("Pick one or more stations.")
        return
    if hours > 1:
        st.caption(
            f"Over {MAX_HOURLY_DAYS} days each point is {hours} hours, to keep the page "
            "quick: the median of their hourly medians, their counts summed, clipping "
            "averaged over their frames. Pick a shorter range for hourly points."
        )
    _table(settings, rows, episodes, chosen)
    if not {row["station_id"] for row in rows} & set(chosen):
        # Offered for an alert that overlaps the range: nothing to chart.
        _no_traffic(settings, chosen)
        return
    _class_mix(settings, rows, chosen, hours)
    station_charts(settings, chosen, since, until, rows)


def _no_traffic(settings: Settings, stations: Sequence[str]) -> None:
    """The empty state of a range without traffic of `stations`, naming their newest hour,
    so an operator knows which days to pick."""
    latest = read(settings, rollups.latest_hour, tuple(stations))
    newest = f" (the newest hour with traffic: {local(settings, latest)})" if latest else ""
    whose = f"of {stations[0]}" if len(stations) == 1 else "of these stations"
    st.info(f"No traffic {whose} in this range{newest}: pick other days or stations.")


def _table(
    settings: Settings,
    rows: Sequence[Mapping[str, Any]],
    episodes: Sequence[Mapping[str, Any]],
    stations: Sequence[str],
) -> None:
    profiles = read(settings, references.reference_bands)
    levels = critical_levels(settings, stations, profiles)
    totals = {s: {"hours": 0, "n_total": 0, "n_critical": 0} for s in stations}
    for row in rows:
        if row["station_id"] in totals:
            for column in ("hours", "n_total", "n_critical"):
                totals[row["station_id"]][column] += row[column]
    share = {s: critical_share(totals[s]) for s in stations}
    st.dataframe(
        pd.DataFrame(
            {
                "station": stations,
                "hours with traffic": [totals[s]["hours"] for s in stations],
                "predictions": [totals[s]["n_total"] for s in stations],
                "critical share": [_pct(share[s]) for s in stations],
                "threshold": [_pct(levels[s]["threshold"]) for s in stations],
                "baseline": [_pct(levels[s]["baseline"]) for s in stations],
                "alerts": [sum(e["station_id"] == s for e in episodes) for s in stations],
            }
        ),
        hide_index=True,
    )


def _class_mix(
    settings: Settings, rows: Sequence[Mapping[str, Any]], stations: Sequence[str], hours: int
) -> None:
    st.subheader("Class mix")
    st.caption(
        "The chosen stations' predictions per class, as shares of each "
        f"{'hour' if hours == 1 else f'{hours} hours'} (counts in the tooltip): shares, "
        "because traffic rises and falls with the shifts and a change of mix must read the "
        "same at 50 parcels an hour as at 500."
    )
    chosen = set(stations)
    summed: dict[datetime, dict[str, int]] = {}
    for row in rows:
        if row["station_id"] in chosen:
            counts = summed.setdefault(row["start"], dict.fromkeys(CLASSES, 0))
            for cls in CLASSES:
                counts[cls] += row[f"n_{cls}"]
    step = timedelta(hours=hours)
    bars = [
        {"start": start, "end": start + step, "class": cls, "count": counts[cls]}
        for start, counts in sorted(summed.items())
        for cls in CLASSES
    ]
    st.vega_lite_chart(spec=charts.class_mix(bars, timezone=settings.site_timezone).spec())


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"
