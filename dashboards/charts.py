"""The dashboard's charts (Altair, the one chart library) and its colours.

Colours are the Okabe-Ito palette, which people with any common colour-vision deficiency
can tell apart; health is also always written out, so colour is never the only cue.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "grey": "#999999",
}
HEALTH_COLOURS = {
    "firing": OKABE_ITO["vermillion"],
    "watch": OKABE_ITO["orange"],
    "ok": OKABE_ITO["bluish green"],
    "no data": OKABE_ITO["grey"],
}
SEVERITY_COLOURS = {
    "critical": OKABE_ITO["vermillion"],
    "warning": OKABE_ITO["orange"],
    "info": OKABE_ITO["blue"],
}


def site_critical_share(
    hours: Sequence[Mapping[str, Any]],
    *,
    threshold: float,
    baseline: float,
    timezone: str,
) -> alt.LayerChart:
    """The site's hourly critical share (a line) with the alarm threshold (dashed) and the
    normal baseline (dotted), times in the site's zone."""
    zone = ZoneInfo(timezone)
    frame = pd.DataFrame(
        {
            "hour": [_naive_local(row["hour"], zone) for row in hours],
            "critical share": [
                row["n_critical"] / row["n_total"] if row["n_total"] else None for row in hours
            ],
            "predictions": [row["n_total"] for row in hours],
        }
    )
    x = alt.X("hour:T", title=f"hour ({timezone})", axis=alt.Axis(format="%H:%M"))
    y = alt.Y("critical share:Q", axis=alt.Axis(format="%"), title="critical share")
    line = (
        alt.Chart(frame)
        .mark_line(point=True, color=OKABE_ITO["blue"], strokeWidth=3)
        .encode(
            x=x,
            y=y,
            tooltip=[
                alt.Tooltip("hour:T", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("critical share:Q", format=".1%"),
                "predictions:Q",
            ],
        )
    )
    limits = pd.DataFrame({"limit": ["threshold", "baseline"], "share": [threshold, baseline]})
    rules = (
        alt.Chart(limits)
        .mark_rule(strokeWidth=2)
        .encode(
            y="share:Q",
            color=alt.Color(
                "limit:N",
                scale=alt.Scale(
                    domain=["threshold", "baseline"],
                    range=[OKABE_ITO["vermillion"], OKABE_ITO["bluish green"]],
                ),
                legend=alt.Legend(title=None, orient="top"),
            ),
            strokeDash=alt.StrokeDash(
                "limit:N",
                scale=alt.Scale(domain=["threshold", "baseline"], range=[[8, 4], [2, 2]]),
                legend=None,
            ),
        )
    )
    return alt.layer(line, rules).properties(height=260)


def _naive_local(moment: datetime, zone: ZoneInfo) -> datetime:
    # Vega-Lite draws naive times as they are: convert to the site's wall-clock time first.
    return moment.astimezone(zone).replace(tzinfo=None)


CLASS_COLOURS = {
    "undamaged": OKABE_ITO["bluish green"],
    "minor": OKABE_ITO["orange"],
    "critical": OKABE_ITO["vermillion"],
}


def precision_by_day(days: Sequence[Mapping[str, Any]]) -> alt.Chart:
    """Realised precision per predicted class and day (rows of day, class, precision, n):
    a line per class, the labels behind each point in its tooltip."""
    frame = pd.DataFrame(
        {
            "day": [pd.Timestamp(row["day"]) for row in days],
            "class": [row["class"] for row in days],
            "precision": [row["precision"] for row in days],
            "labelled frames": [row["n"] for row in days],
        }
    )
    return (
        alt.Chart(frame)
        .mark_line(point=True, strokeWidth=3)
        .encode(
            x=alt.X("day:T", title="day", axis=alt.Axis(format="%m-%d", tickCount="day")),
            y=alt.Y("precision:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "class:N",
                scale=alt.Scale(domain=list(CLASS_COLOURS), range=list(CLASS_COLOURS.values())),
                legend=alt.Legend(title="predicted class", orient="top"),
            ),
            tooltip=[
                alt.Tooltip("day:T", format="%Y-%m-%d"),
                "class:N",
                alt.Tooltip("precision:Q", format=".1%"),
                "labelled frames:Q",
            ],
        )
        .properties(height=240)
    )


def review_load(hours: Sequence[Mapping[str, Any]], *, timezone: str) -> alt.Chart:
    """Frames sent to a person per hour (minor and critical calls of the site), a bar per
    hour in the site's zone."""
    zone = ZoneInfo(timezone)
    frame = pd.DataFrame(
        {
            "hour": [_naive_local(row["hour"], zone) for row in hours],
            "frames to review": [row["n_minor"] + row["n_critical"] for row in hours],
        }
    )
    return (
        alt.Chart(frame)
        .mark_bar(color=OKABE_ITO["blue"])
        .encode(
            # Binned by hour, so each bar spans its hour.
            x=alt.X(
                "yearmonthdatehours(hour):T",
                title=f"hour ({timezone})",
                axis=alt.Axis(format="%m-%d %H:%M"),
            ),
            y=alt.Y("frames to review:Q"),
            tooltip=[alt.Tooltip("hour:T", format="%Y-%m-%d %H:%M"), "frames to review:Q"],
        )
        .properties(height=240)
    )


# The horizontal levels and vertical alert marks of a station's trend panel, drawn in one
# colour and dash scale so the legend names each once.
MARK_STYLES = {
    "threshold": (OKABE_ITO["vermillion"], [8, 4]),
    "baseline": (OKABE_ITO["bluish green"], [2, 2]),
    "alert start": (OKABE_ITO["reddish purple"], [1, 0]),
    "alert resolved": (OKABE_ITO["grey"], [4, 4]),
}
ROWS = "rows"  # the name under which a Drawn chart's spec finds its rows


@dataclass(frozen=True)
class Drawn:
    """An Altair chart as Vega-Lite: its spec (JSON text, without data) and its rows.

    Building and validating an Altair chart of several layers costs about 0.2 s, each
    time; a page of seven such charts then misses its 1.5 s. The spec depends only on the
    chart's shape (titles, zone, range, stations), not on its rows, so it is built once
    per shape (functools.lru_cache) and the rows travel beside it.
    """

    spec_json: str
    rows: pd.DataFrame

    def spec(self) -> dict[str, Any]:
        """The spec with its rows, for `st.vega_lite_chart(spec=...)` (a fresh dict each
        time: Streamlit moves the rows out of it)."""
        return json.loads(self.spec_json) | {"datasets": {ROWS: self.rows}}


def class_mix(bins: Sequence[Mapping[str, Any]], *, timezone: str) -> Drawn:
    """Each bin's class shares (rows of start, end, class, count: the counts summed over
    the chosen stations), stacked to 100 % in CLASS_COLOURS' order (critical on top,
    where a rise shows against the chart's edge); shares and counts in the tooltip."""
    zone = ZoneInfo(timezone)
    totals: dict[datetime, int] = {}
    for row in bins:
        totals[row["start"]] = totals.get(row["start"], 0) + row["count"]
    below: dict[datetime, float] = {}
    rows = []
    for row in sorted(bins, key=lambda r: (r["start"], list(CLASS_COLOURS).index(r["class"]))):
        total = totals[row["start"]]
        share = row["count"] / total if total else 0.0
        low = below.get(row["start"], 0.0)
        below[row["start"]] = low + share
        rows.append(
            {
                "start": _naive_local(row["start"], zone),
                "end": _naive_local(row["end"], zone),
                "class": row["class"],
                "predictions": row["count"],
                "share": share,
                "low": low,
                "high": low + share,
            }
        )
    return Drawn(_class_mix_spec(timezone), pd.DataFrame(rows))


@functools.lru_cache(maxsize=64)
def _class_mix_spec(timezone: str) -> str:
    chart = (
        alt.Chart(alt.NamedData(ROWS))
        .mark_rect()
        .encode(
            x=alt.X("start:T", title=f"time ({timezone})"),
            x2="end:T",
            y=alt.Y(
                "low:Q",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
                title="share of predictions",
            ),
            y2="high:Q",
            color=alt.Color(
                "class:N",
                scale=alt.Scale(domain=list(CLASS_COLOURS), range=list(CLASS_COLOURS.values())),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("start:T", format="%Y-%m-%d %H:%M"),
                "class:N",
                alt.Tooltip("share:Q", format=".1%"),
                "predictions:Q",
            ],
        )
        .properties(height=240)
    )
    return _spec_json(chart)


def station_panels(
    points: Sequence[Mapping[str, Any]],
    *,
    title: str,
    value_format: str,
    timezone: str,
    since: datetime,
    until: datetime,
    bands: Mapping[str, tuple[float | None, float | None]] | None = None,
    levels: Mapping[str, Mapping[str, float]] | None = None,
    alerts: Sequence[Mapping[str, Any]] = (),
    columns: int = 3,
    width: int = 270,
) -> Drawn:
    """One panel per station (in the order of `points`) of a value over time: `points`
    are rows of station, start, value, predictions (value None: a gap, the line breaks);
    `bands` shade each station's reference band (low, high; a None side: no band);
    `levels` draw each station's named horizontal lines (MARK_STYLES' threshold,
    baseline); `alerts` (station_id, rule, summary, started_at, resolved_at) mark each
    start and resolve inside [since, until) with a vertical rule. `columns` panels of
    `width` pixels a row; `title` names the value in tooltips (the page's heading says
    what the panels show, so their axes need not). Times in the site's zone."""
    zone = ZoneInfo(timezone)
    stations = tuple(dict.fromkeys(row["station"] for row in points))
    rows = [
        {
            "kind": "value",
            "station": row["station"],
            "time": _naive_local(row["start"], zone),
            "value": row["value"],
            "predictions": row["predictions"],
        }
        for row in points
    ]
    for station, (low, high) in (bands or {}).items():
        if station in stations and low is not None and high is not None:
            rows.append({"kind": "band", "station": station, "value": low, "top": high})
    for station, named in (levels or {}).items():
        if station in stations:
            rows += [
                {"kind": "level", "station": station, "series": name, "value": value}
                for name, value in named.items()
            ]
    for alert in alerts:
        ends = (("alert start", alert["started_at"]), ("alert resolved", alert["resolved_at"]))
        for series, at in ends:
            if alert["station_id"] in stations and at is not None and since <= at < until:
                rows.append(
                    {
                        "kind": "alert",
                        "station": alert["station_id"],
                        "series": series,
                        "time": _naive_local(at, zone),
                        "rule": alert["rule"],
                        "summary": alert["summary"],
                    }
                )
    kinds = frozenset(row["kind"] for row in rows)
    series = tuple(name for name in MARK_STYLES if any(row.get("series") == name for row in rows))
    spec = _panels_spec(
        title,
        value_format,
        timezone,
        (_naive_local(since, zone), _naive_local(until, zone)),
        stations,
        kinds,
        series,
        columns,
        width,
    )
    return Drawn(spec, pd.DataFrame(rows))


@functools.lru_cache(maxsize=256)
def _panels_spec(
    title: str,
    value_format: str,
    timezone: str,
    domain: tuple[datetime, datetime],
    stations: tuple[str, ...],
    kinds: frozenset[str],
    series: tuple[str, ...],
    columns: int,
    width: int,
) -> str:
    """station_panels' spec for one shape: the layers its rows need (`kinds`), the levels
    and alert marks its legend names (`series`)."""
    x = alt.X("time:T", title=f"time ({timezone})", scale=alt.Scale(domain=list(domain)))
    y = alt.Y(
        "value:Q", title=None, axis=alt.Axis(format=value_format), scale=alt.Scale(zero=False)
    )
    colour = alt.Color(
        "series:N",
        scale=alt.Scale(domain=list(series), range=[MARK_STYLES[name][0] for name in series]),
        legend=alt.Legend(title=None, orient="top"),
    )
    dash = alt.StrokeDash(
        "series:N",
        scale=alt.Scale(domain=list(series), range=[MARK_STYLES[name][1] for name in series]),
        legend=None,
    )
    layers = []
    if "band" in kinds:
        # A rect without x spans the whole panel: the band holds over the whole range.
        layers.append(
            alt.Chart()
            .mark_rect(color=OKABE_ITO["sky blue"], opacity=0.3)
            .encode(
                y=y,
                y2="top:Q",
                tooltip=[
                    alt.Tooltip("value:Q", title="band low", format=value_format),
                    alt.Tooltip("top:Q", title="band high", format=value_format),
                ],
            )
            .transform_filter(alt.datum.kind == "band")
        )
    layers.append(
        alt.Chart()
        .mark_line(color=OKABE_ITO["blue"], strokeWidth=2, point=alt.OverlayMarkDef(size=12))
        .encode(
            x=x,
            y=y,
            tooltip=[
                alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("value:Q", title=title, format=value_format),
                "predictions:Q",
            ],
        )
        .transform_filter(alt.datum.kind == "value")
    )
    if "level" in kinds:
        layers.append(
            alt.Chart()
            .mark_rule(strokeWidth=2)
            .encode(
                y=y,
                color=colour,
                strokeDash=dash,
                tooltip=["series:N", alt.Tooltip("value:Q", format=value_format)],
            )
            .transform_filter(alt.datum.kind == "level")
        )
    if "alert" in kinds:
        layers.append(
            alt.Chart()
            .mark_rule(strokeWidth=2)
            .encode(
                x=x,
                color=colour,
                strokeDash=dash,
                tooltip=[
                    "series:N",
                    alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"),
                    "rule:N",
                    "station:N",
                    "summary:N",
                ],
            )
            .transform_filter(alt.datum.kind == "alert")
        )
    chart = (
        alt.layer(*layers, data=alt.NamedData(ROWS))
        .properties(width=width, height=160)
        .facet(facet=alt.Facet("station:N", title=None, sort=list(stations)), columns=columns)
        .resolve_scale(y="independent")
    )
    return _spec_json(chart)


def _spec_json(chart: alt.TopLevelMixin) -> str:
    # Without Altair's theme (its default view size): Streamlit's own theme styles the chart,
    # as st.altair_chart does.
    spec = chart.to_dict()
    spec.pop("config", None)
    return json.dumps(spec)
