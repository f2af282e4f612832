"""The Station page: one station's story. Its last 7 days (critical share, sharpness and
brightness against its reference band, alerts marked), its reference profile (the window
it was set from, by whom, the calibrated limits) and setting a new one from a window the
operator vouches for, the model versions it has run, and its evidence frames of the last
24 hours. `?station=S1` in the address picks the station, so other pages can link here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboards import trends
from dashboards.context import EMPTY, local, name_input, now, read, write
from dashboards.frames import show_frames
from monitor.calibration import Limits, limit_rows, yardsticks
from monitor.core.queries import alerts, references, rollups
from monitor.core.settings import Settings

DAYS_SHOWN = 7
STATIONS_SINCE_DAYS = 30  # the picker offers stations with traffic this recent, or a reference
FRAMES_HOURS = 24
FRAMES_SHOWN = 12
CONFIRM = "I confirm this window was healthy"
DONE = "station_reference_set"  # session key of the line saying a reference was set


def show(settings: Settings) -> None:
    """The page: the picker, then the station's sections."""
    st.title("Station")
    # Reads keyed by the open hour (not the second) stay cached until the hour turns.
    opened = now().replace(minute=0, second=0, microsecond=0)
    station = _pick(settings, opened)
    if station is None:
        return
    # To the end of the open hour, so its rollup shows as soon as the monitor writes it.
    until = opened + timedelta(hours=1)
    since = until - timedelta(days=DAYS_SHOWN)
    st.header(f"{station}: last {DAYS_SHOWN} days")
    hours = trends.bin_hours(since, until)
    rows = read(settings, rollups.station_bins, since, until, hours, (station,))
    trends.station_charts(
        settings, [station], since, until, rows, statistics=("sharpness", "brightness")
    )
    profile = read(settings, references.reference_bands).get(station)
    _reference(settings, station, profile)
    _set_reference(settings, station)
    _model_versions(settings, station)
    st.header(f"Evidence frames, last {FRAMES_HOURS} h")
    # To the end of the current minute: a rerun within it reads the cache.
    minute = now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    show_frames(
        settings, station, minute - timedelta(hours=FRAMES_HOURS), minute, limit=FRAMES_SHOWN
    )


def _pick(settings: Settings, opened: datetime) -> str | None:
    """The station the picker (or `?station=`) names; None after saying why there is none."""
    recent = read(settings, rollups.stations_since, opened - timedelta(days=STATIONS_SINCE_DAYS))
    stations = sorted(set(recent) | set(read(settings, references.reference_bands)))
    asked = st.query_params.get("station")
    if asked is not None and asked not in stations:
        st.warning(
            f"No station {asked!r} has sent anything in the last {STATIONS_SINCE_DAYS} days "
            "or has a reference profile."
        )
    if not stations:
        st.info(EMPTY)
        return None
    index = stations.index(asked) if asked in stations else 0
    station = st.selectbox("Station", stations, index=index, key="station")
    st.query_params["station"] = station  # the address names what is shown, to share it
    return station


def _reference(settings: Settings, station: str, profile: dict[str, Any] | None) -> None:
    st.header("Reference profile")
    if profile is None:
        st.info(
            f"{station} has no reference profile yet. The monitor sets a provisional one "
            f"from its first {settings.provisional_reference_hours} hours; set one below "
            "from a window you know was healthy."
        )
        return
    if profile["provisional"]:
        origin = "**provisional**: set by the monitor from the station's first hours"
    elif profile["set_by"]:
        origin = f"set by **{profile['set_by']}**"
    else:
        origin = "set (by whom was not recorded)"
    st.markdown(
        f"Window **{local(settings, profile['window_start'])}** to "
        f"**{local(settings, profile['window_end'])}**, "
        f"**{profile['n_predictions']:,}** predictions  \n"
        f"{origin} on {local(settings, profile['created_at'])}  \n"
        f"Baseline critical rate **{profile['baseline_critical_rate']:.1%}**"
    )
    rows = limit_rows(yardsticks(profile["hourly_spread"]))
    if not rows:
        st.caption(
            "Calibrated limits: none (a profile from before calibration; set it again to "
            "calibrate)."
        )
        return
    st.markdown(
        "**Calibrated limits** (hourly medians; centre and robust SD on the log scale where "
        "marked; CUSUM limits for one false alarm per station per alarm_budget_years)"
    )
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def _set_reference(settings: Settings, station: str) -> None:
    st.header("Set a new reference")
    if done := st.session_state.pop(DONE, None):
        st.success(done)
    st.caption(
        "The drift rules judge the station against this window from the next hour on: pick "
        "hours when the camera, the lighting and the model were all fine."
    )
    zone = ZoneInfo(settings.site_timezone)
    today = now().astimezone(zone).date()
    columns = st.columns(4)
    start_day = columns[0].date_input("From day", today - timedelta(days=1), key="ref_from_day")
    start_time = columns[1].time_input("From", time(0), step=3600, key="ref_from_time")
    end_day = columns[2].date_input("To day", today, key="ref_to_day")
    end_time = columns[3].time_input("To (excluded)", time(0), step=3600, key="ref_to_time")
    since, until = _at(start_day, start_time, zone), _at(end_day, end_time, zone)
    if until <= since:
        st.error("The window must end after it starts.")
        return
    window = ((station, since, until),)
    held = read(settings, rollups.station_totals_within, window).get(station)
    if held is None:
        st.warning(
            f"No rolled-up hour of {station} in this window: the reference needs its predictions."
        )
    else:
        st.markdown(
            f"This window holds **{held['hours']}** hours with traffic and "
            f"**{held['n_total']:,}** predictions of {station} "
            f"({held['n_critical'] / held['n_total']:.1%} critical)."
        )
    firing = read(
        settings, alerts.station_episodes_between, since=since, until=until, stations=(station,)
    )
    if firing:
        listed = "; ".join(
            f"{a['rule']} from {local(settings, a['started_at'])} to "
            f"{local(settings, a['resolved_at']) if a['resolved_at'] else 'now'}"
            for a in firing
        )
        st.warning(f"Alerts fired in this window: {listed}. Is it really healthy?")
    who = name_input(settings, "Your name", key="ref_by")
    confirmed = st.checkbox(CONFIRM, key="ref_confirm")
    if not st.button("Set reference", key="ref_set"):
        return
    if not who:
        st.error("Enter your name: a reference records who set it.")
    elif not confirmed:
        st.error(f"Tick “{CONFIRM}” first.")
    else:
        _store(settings, station, since, until, who)


def _store(settings: Settings, station: str, since: datetime, until: datetime, who: str) -> None:
    # Imported here: monitor.reference loads the rules (and SciPy), a second of a cold
    # start that only setting a reference needs.
    from monitor.reference import NoData, build_reference

    try:
        reference = write(
            settings,
            build_reference,
            station,
            since,
            until,
            sample_size=settings.reference_sample_size,
            limits=Limits.from_settings(settings),
            set_by=who,
        )
    except NoData:
        st.error(f"No predictions of {station} in this window: pick hours with traffic.")
        return
    # Run the page again so the profile above shows the new reference; the line waits.
    st.session_state[DONE] = (
        f"Reference of {station} set by {who} from {local(settings, since)} to "
        f"{local(settings, until)}: {reference.n:,} predictions. The rules use it from the "
        "next hour on."
    )
    st.rerun()


def _model_versions(settings: Settings, station: str) -> None:
    st.header("Model versions seen")
    versions = read(settings, rollups.model_versions, station)
    if not versions:
        st.info(f"No rolled-up hour of {station} yet. {EMPTY}")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "model version": [v["model_version"] for v in versions],
                "first hour": [local(settings, v["first_hour"]) for v in versions],
                "last hour": [local(settings, v["last_hour"]) for v in versions],
                "predictions": [v["n_total"] for v in versions],
            }
        ),
        hide_index=True,
    )


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone)
