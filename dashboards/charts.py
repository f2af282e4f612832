"""The dashboard's charts (Altair, the one chart library) and its colours.

Colours are the Okabe-Ito palette, which people with any common colour-vision deficiency
can tell apart; health is also always written out, so colour is never the only cue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
