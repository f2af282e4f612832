"""The Overview page (wall mode): is the line healthy, and if not, which camera and since
when. A verdict line, the station grid (firing first), the site's critical share over
the last 24 hours, and the firing alerts with their likely cause. Refreshes itself every
`dashboard_refresh_s`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from dashboards import charts
from dashboards.context import EMPTY, guard, local, now, read
from dashboards.health import (
    Figure,
    Tile,
    likely_cause,
    station_tile,
    stations_seen,
    tile_order,
)
from monitor.core.queries import alerts, predictions, references, rollups
from monitor.core.settings import Settings

TILES_PER_ROW = 4
HOURS_SHOWN = 24
WALL_FONT = "1.25rem"


def show(settings: Settings) -> None:
    """The page; its body reruns on its own every `dashboard_refresh_s`."""
    st.title("Overview")
    # Wall mode: the tiles' figures read from across the room (Streamlit's default is 1rem).
    st.html(f"<style>.st-key-tiles p {{font-size: {WALL_FONT}; line-height: 1.45}}</style>")

    @st.fragment(run_every=settings.dashboard_refresh_s)
    def refreshed() -> None:
        guard(settings, _body)

    refreshed()


def _body(settings: Settings) -> None:
    hour = read(settings, rollups.latest_hour)
    firing = read(settings, alerts.firing_alerts)
    open_hour = now().replace(minute=0, second=0, microsecond=0)
    counts_now = read(settings, predictions.counts_since, open_hour)
    if hour is None and not firing and not counts_now:
        st.info(EMPTY)
        return
    tiles = _tiles(settings, hour, firing, counts_now)
    _verdict(settings, tiles, hour, site_firing=any(a["station_id"] is None for a in firing))
    _grid(tiles)
    if hour is not None:
        _site_chart(settings, hour)
    _firing(settings, firing)


def _tiles(
    settings: Settings, hour: Any, firing: list[dict[str, Any]], counts_now: dict[str, int]
) -> list[Tile]:
    rows = read(settings, rollups.hour_rows, hour) if hour is not None else {}
    bands = read(settings, references.reference_bands)
    stations = stations_seen(rows, bands, (a["station_id"] for a in firing), counts_now)
    tiles = [
        station_tile(
            station,
            rows.get(station),
            bands.get(station),
            [a for a in firing if a["station_id"] == station],
            counts_now.get(station, 0),
            threshold=settings.critical_threshold_for(station),
            default_baseline=settings.critical_rate_baseline,
            latency_budget_ms=settings.latency_budget_ms,
            sigmas=settings.drift_control_sigmas,
        )
        for station in stations
    ]
    return sorted(tiles, key=tile_order)


def _verdict(settings: Settings, tiles: list[Tile], hour: Any, *, site_firing: bool) -> None:
    # A site-wide alert has no tile, yet the line is not healthy.
    trouble = ["site"] * site_firing + [t.station for t in tiles if t.health == "firing"]
    watch = [t.station for t in tiles if t.health == "watch"]
    closed = (
        f"last closed hour {local(settings, hour)} to {local(settings, hour + timedelta(hours=1))}"
        if hour is not None
        else "no hour closed yet"
    )
    if trouble:
        st.error(f"### Attention: {', '.join(trouble)}  \n{closed}")
    elif watch:
        st.warning(f"### Watch: {', '.join(watch)}  \n{closed}")
    else:
        st.success(f"### The line is healthy  \n{closed}")


def _grid(tiles: list[Tile]) -> None:
    with st.container(key="tiles"):
        for start in range(0, len(tiles), TILES_PER_ROW):
            columns = st.columns(TILES_PER_ROW)
            for column, tile in zip(columns, tiles[start : start + TILES_PER_ROW], strict=False):
                with column, st.container(border=True):
                    _tile(tile)


def _tile(tile: Tile) -> None:
    colour = charts.HEALTH_COLOURS[tile.health]
    label = tile.health.upper()
    if tile.firing:
        label += ": " + ", ".join(tile.firing)
    # Colour and words: the state reads without telling colours apart.
    st.markdown(
        f'<div style="background:{colour};color:#000;padding:0.4rem 0.7rem;'
        f'border-radius:0.4rem;font-size:1.5rem;font-weight:700">{tile.station}'
        f'<div style="font-size:1rem;font-weight:600">{label}</div></div>',
        unsafe_allow_html=True,
    )
    share = tile.critical_share
    st.markdown(
        f"{_mark(share)}critical share **{_pct(share.value)}** "
        f"(threshold {_pct(share.high)}, baseline {_pct(tile.baseline)})  \n"
        f"{_mark(tile.sharpness)}sharpness **{_num(tile.sharpness.value, 3)}** "
        f"(band {_band(tile.sharpness, 3)})  \n"
        f"{_mark(tile.brightness)}brightness **{_num(tile.brightness.value, 1)}** "
        f"(band {_band(tile.brightness, 1)})  \n"
        f"predictions **{tile.predictions_hour}** last hour, {tile.predictions_now} this hour  \n"
        f"{_mark(tile.latency_p95)}latency p95 **{_num(tile.latency_p95.value, 1)} ms** "
        f"(budget {_num(tile.latency_p95.high, 0)} ms)"
    )


def _site_chart(settings: Settings, hour: Any) -> None:
    st.subheader(f"Site critical share, last {HOURS_SHOWN} h")
    since = hour - timedelta(hours=HOURS_SHOWN - 1)
    hours = read(settings, rollups.site_hours, since, hour + timedelta(hours=1))
    if not hours:
        st.info(EMPTY)
        return
    chart = charts.site_critical_share(
        hours,
        threshold=settings.critical_rate_threshold,
        baseline=settings.critical_rate_baseline,
        timezone=settings.site_timezone,
    )
    st.altair_chart(chart, width="stretch")


def _firing(settings: Settings, firing: list[dict[str, Any]]) -> None:
    st.subheader(f"Firing alerts ({len(firing)})")
    if not firing:
        st.markdown("None.")
        return
    for alert in firing:
        where = alert["station_id"] or "site"
        cause = likely_cause(alert["evidence"])
        text = (
            f"**{alert['severity']} · {alert['rule']} · {where}** since "
            f"{local(settings, alert['started_at'])}  \n{alert['summary']}"
        )
        if cause:
            text += f"  \nLikely cause: {cause}"
        st.markdown(text)


def _mark(figure: Figure) -> str:
    return "⚠ " if figure.outside else ""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _band(figure: Figure, digits: int) -> str:
    if figure.low is None or figure.high is None:
        return "no reference"
    return f"{figure.low:.{digits}f} to {figure.high:.{digits}f}"
