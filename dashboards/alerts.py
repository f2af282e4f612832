"""The Alerts page: alert history with filters, each alert's summary, evidence and the
delivery state of its notifications per channel; silences added and ended (with who)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboards.context import EMPTY, local, name_input, now, read, write
from dashboards.frames import show_frames
from dashboards.health import likely_cause, links
from dashboards.reports import show_report
from monitor.core.queries import alerts, notifications, silences
from monitor.core.settings import Settings
from monitor.core.vocabulary import SEVERITIES

STATES = ("firing", "resolved")
DAYS_SHOWN = 30  # the history's default range
DETAILS_SHOWN = 50  # alerts listed with their evidence and deliveries (newest first)
HISTORY_LIMIT = 500  # rows in the table; narrow the filters for older ones


def delivery_state(settings: Settings, row: dict[str, Any]) -> str:
    """A notification's state in words: delivered (when), retrying (attempts so far, the
    next attempt, the last error) or failed (the reason)."""
    attempts = f"{row['attempts']} attempt{'s' if row['attempts'] != 1 else ''}"
    if row["status"] == "delivered":
        return f"delivered {local(settings, row['delivered_at'])}"
    if row["status"] == "failed":
        return f"failed after {attempts}: {row['last_error'] or 'no reason recorded'}"
    if not row["attempts"]:
        return f"queued, first attempt {local(settings, row['next_attempt_at'])}"
    return (
        f"retrying after {attempts}, next attempt {local(settings, row['next_attempt_at'])}"
        f" (last error: {row['last_error'] or 'none recorded'})"
    )


def show(settings: Settings) -> None:
    """The page: filters, history, details, silences."""
    st.title("Alerts")
    history = _history(settings)
    if history is not None:
        _details(settings, history)
    _silences(settings)


def _range(settings: Settings) -> tuple[datetime, datetime]:
    zone = ZoneInfo(settings.site_timezone)
    today = now().astimezone(zone).date()
    chosen = st.date_input(
        "Started between", (today - timedelta(days=DAYS_SHOWN), today), key="range"
    )
    first, last = (chosen[0], chosen[-1]) if isinstance(chosen, tuple) and chosen else (today,) * 2
    return _start_of(first, zone), _start_of(last + timedelta(days=1), zone)


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _history(settings: Settings) -> list[dict[str, Any]] | None:
    rules, stations = read(settings, alerts.alert_rules_and_stations)
    if not rules:
        st.info(f"No alerts yet. {EMPTY}")
        return None
    since, until = _range(settings)
    columns = st.columns(4)
    chosen_rules = columns[0].multiselect("Rule", rules, key="rules")
    chosen_stations = columns[1].multiselect("Station", stations, key="stations")
    chosen_severities = columns[2].multiselect("Severity", SEVERITIES, key="severities")
    chosen_states = columns[3].multiselect("State", STATES, key="states")
    history = read(
        settings,
        alerts.alert_history,
        since=since,
        until=until,
        rules=tuple(chosen_rules),
        stations=tuple(chosen_stations),
        severities=tuple(chosen_severities),
        statuses=tuple(chosen_states),
        limit=HISTORY_LIMIT,
    )
    st.subheader(f"History ({len(history)})")
    if len(history) == HISTORY_LIMIT:
        st.caption(f"The newest {HISTORY_LIMIT}: narrow the range or filters to see older ones.")
    if not history:
        st.info("No alert matches these filters.")
        return history
    table = pd.DataFrame(
        {
            "id": [a["id"] for a in history],
            "state": [a["status"] for a in history],
            "severity": [a["severity"] for a in history],
            "rule": [a["rule"] for a in history],
            "station": [a["station_id"] or alerts.SITE_LABEL for a in history],
            "started": [local(settings, a["started_at"]) for a in history],
            "resolved": [local(settings, a["resolved_at"]) for a in history],
            "summary": [a["summary"] for a in history],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch")
    return history


def _details(settings: Settings, history: list[dict[str, Any]]) -> None:
    shown = history[:DETAILS_SHOWN]
    deliveries = read(settings, notifications.deliveries_of, tuple(a["id"] for a in shown))
    for alert in shown:
        where = alert["station_id"] or alerts.SITE_LABEL
        title = (
            f"#{alert['id']} {alert['severity']} · {alert['rule']} · {where} · "
            f"{alert['status']} since {local(settings, alert['started_at'])}"
        )
        with st.expander(title):
            st.markdown(alert["summary"])
            if alert["status"] == "resolved" and alert["resolved_at"] is not None:
                # A silent or retired station's alert resolves without an ok hour: say why.
                reason = (alert["evidence"] or {}).get("resolved_reason")
                when = local(settings, alert["resolved_at"])
                st.markdown(f"**Resolved** {when}" + (f": {reason}" if reason else ""))
            cause = likely_cause(alert["evidence"])
            if cause:
                st.markdown(f"**Likely cause:** {cause}")
            for line in links(alert["evidence"]):
                st.markdown(line)
            if alert["station_id"] is not None:
                _frames(settings, alert)
            st.json(alert["evidence"] or {}, expanded=False)
            show_report(settings, alert["evidence"], key=f"report-{alert['id']}")
            own = [d for d in deliveries if d["alert_id"] == alert["id"]]
            if not own:
                st.caption("No notifications (silenced, or no channel configured).")
                continue
            st.dataframe(
                pd.DataFrame(
                    {
                        "channel": [d["channel"] for d in own],
                        "event": [d["event"] for d in own],
                        "hour": [local(settings, d["hour"]) for d in own],
                        "delivery": [delivery_state(settings, d) for d in own],
                    }
                ),
                hide_index=True,
                width="stretch",
            )


def frames_hour(alert: dict[str, Any]) -> tuple[datetime, str]:
    """The UTC hour whose frames an alert links to, and which hour that is: its evidence's
    worst hour when recorded, else the hour it started in."""
    worst = (alert["evidence"] or {}).get("worst_hour") or {}
    if worst.get("hour"):
        return datetime.fromisoformat(worst["hour"]), "worst hour"
    started = alert["started_at"].astimezone(UTC)
    return started.replace(minute=0, second=0, microsecond=0), "first hour"


def _frames(settings: Settings, alert: dict[str, Any]) -> None:
    hour, which = frames_hour(alert)
    # Off until asked: up to DETAILS_SHOWN expanders would each load a dozen images.
    label = f"Show the frames of its {which}, {local(settings, hour)}"
    if st.toggle(label, key=f"frames-{alert['id']}"):
        show_frames(settings, alert["station_id"], hour, hour + timedelta(hours=1))


def _silences(settings: Settings) -> None:
    st.subheader("Silences")
    st.caption("A silence holds notifications back; alerts are still evaluated and listed.")
    who = name_input(settings, "Your name (recorded with every silence you add or end)", key="who")
    current = read(settings, silences.silences_not_over, now())
    for silence in current:
        columns = st.columns([5, 1])
        columns[0].markdown(
            f"**#{silence['id']}** rule `{silence['rule'] or 'any'}`, station "
            f"`{silence['station_id'] or 'any'}`, {local(settings, silence['starts_at'])} "
            f"→ {local(settings, silence['ends_at'])}, by {silence['created_by']}: "
            f"{silence['comment']}"
        )
        if columns[1].button("End now", key=f"end-{silence['id']}"):
            _end(settings, silence["id"], who)
    if not current:
        st.markdown("No silence is active or planned.")
    if "silence_done" in st.session_state:  # what the last add or end did (before its rerun)
        st.success(st.session_state.pop("silence_done"))
    _add_silence(settings, who)


def _end(settings: Settings, silence_id: int, who: str) -> None:
    if not who.strip():
        st.error("Enter your name first: ending a silence records who did it.")
        return
    write(settings, silences.end_silence, silence_id, at=now(), ended_by=who.strip())
    st.session_state["silence_done"] = f"Silence #{silence_id} ended by {who.strip()}."
    st.rerun()


def _add_silence(settings: Settings, who: str) -> None:
    st.markdown("**Add a silence**")
    columns = st.columns(4)
    rule = columns[0].text_input("Rule (pattern, empty: any)", key="silence_rule")
    station = columns[1].text_input("Station (pattern, empty: any)", key="silence_station")
    hours = columns[2].number_input(
        "Hours from now", min_value=0.25, max_value=24.0 * 14, value=2.0, key="silence_hours"
    )
    comment = columns[3].text_input("Why", key="silence_comment")
    if not st.button("Add silence", key="silence_add"):
        return
    if not who.strip() or not comment.strip():
        st.error("A silence needs your name and a reason.")
        return
    starts = now()
    ends = starts + timedelta(hours=float(hours))
    silence_id = write(
        settings,
        silences.add_silence,
        rule=rule.strip() or None,
        station_id=station.strip() or None,
        starts_at=starts,
        ends_at=ends,
        created_by=who.strip(),
        comment=comment.strip(),
    )
    st.session_state["silence_done"] = f"Silence #{silence_id} added until {local(settings, ends)}."
    st.rerun()
