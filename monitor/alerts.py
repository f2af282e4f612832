"""The alert manager: rule results -> alert episodes -> rows in the notification outbox.

`decide` is the episode state machine, a pure function; `apply_results` reads the
episodes, asks it, and writes what it decided (monitor.core.queries.alerts) and queues
the notifications (monitor.core.queries.notifications):

- A firing fingerprint (rule + station) with no open episode opens one and queues a
  `trigger`; still firing, it queues a `repeat` every `repeat_interval_hours`; ok for
  `resolve_after_ok_hours` hours in a row, it resolves and queues a `resolve`.
- Silences suppress notifications, not evaluation: the episode is kept up to date, and a
  trigger held back by a silence goes out when the silence ends if it is still firing.
  An inhibited result (evidence["inhibited_by"], set by rules.diagnose when another alert
  of the same station-hour is the same incident) is held back the same way.
  A resolve is sent whenever the trigger was, so paging tools close their incidents.
- "skipped" results (too little data) change nothing.
- A station that has sent nothing for `resolve_after_ok_hours` hours hands its open
  alerts over to `no_data` (which fires for the silence where frames are expected): they
  resolve with the reason "no data since ...", at the hour the silence began, instead of
  firing for ever on the last hour that was judged (`hand_over_silent`). A retired station
  (`beltwatch station retire`) resolves them all, no_data included, with that reason.
- A channel configured after an alert fired (no receiver then, or a route added) gets the
  alert's trigger on its next firing hour, if the alert started within
  `notify_max_age_hours`; an older one reaches it with its next repeat.
- Applying an hour again changes nothing: episodes remember the last hour they took in
  and only move forward, the outbox is unique on (alert, channel, event, hour), and at
  most one episode per fingerprint can be open (a partial unique index), whatever
  replicas race.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, RowMapping

from monitor.core.queries import alerts as episodes
from monitor.core.queries import stations
from monitor.core.queries.notifications import queue_notification, triggered_channels
from monitor.core.queries.silences import active_silences
from monitor.core.settings import Settings
from monitor.notifiers.base import AlertNotice, Event
from monitor.routing import channels_for, matches
from monitor.rules.base import RuleResult, State

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """What applying one result did (for logs, the CLI and tests)."""

    fingerprint: str
    alert_id: int | None  # None: left alone (taken_in)
    event: str | None  # "trigger", "repeat", "resolve" or None (updated, nothing sent)
    silenced: bool = False  # a silence held its notification back
    inhibited: bool = False  # held back as the same incident as another alert
    taken_in: datetime | None = None  # left alone: its alert has already taken in this hour
    late_channels: tuple[str, ...] = ()  # channels that got the trigger they never had
    reason: str | None = None  # why it resolved without an ok hour ("no data since ...")


@dataclass(frozen=True)
class Episode:
    """An open episode, as far as the state machine needs it."""

    started_at: datetime
    last_notified_at: datetime | None  # None: its trigger has not gone out (silenced)
    ok_hours: int = 0  # ok hours in a row since it last fired
    ok_since: datetime | None = None  # the first of those ok hours


class Step(StrEnum):
    OPEN = "open"  # a new episode
    FIRING = "firing"  # still firing (any run of ok hours is broken)
    OK = "ok"  # one more ok hour, not yet enough to resolve
    RESOLVE = "resolve"  # ok long enough: the episode closes


@dataclass(frozen=True)
class Decision:
    """What one hour's result does to an episode: the step, the event to send (None:
    nothing) and the episode's new fields."""

    step: Step
    event: Event | None
    last_notified_at: datetime | None
    ok_hours: int = 0
    ok_since: datetime | None = None
    resolved_at: datetime | None = None


def decide(
    episode: Episode | None, state: State, hour: datetime, silenced: bool, settings: Settings
) -> Decision | None:
    """The episode state machine for one result of `hour`; None: nothing changes (a
    skipped hour, or an ok hour with no open episode)."""
    if state == "skipped":
        return None
    if state == "firing":
        if episode is None:
            # A trigger held back by a silence leaves last_notified_at empty: it goes out
            # on the first firing hour after the silence.
            return Decision(Step.OPEN, None if silenced else "trigger", None if silenced else hour)
        event: Event | None = None
        if not silenced:
            if episode.last_notified_at is None:
                event = "trigger"
            elif hour - episode.last_notified_at >= timedelta(hours=settings.repeat_interval_hours):
                event = "repeat"
        return Decision(Step.FIRING, event, hour if event else episode.last_notified_at)
    if episode is None:
        return None
    ok_hours = episode.ok_hours + 1
    # Skipped hours between ok hours neither break nor extend the run.
    ok_since = episode.ok_since if episode.ok_hours and episode.ok_since else hour
    if ok_hours < settings.resolve_after_ok_hours:
        return Decision(Step.OK, None, episode.last_notified_at, ok_hours, ok_since)
    # The fault ended when the first of the ok hours began. A resolve goes out whenever the
    # trigger did (a silence now does not hold it back: paging tools must close).
    event = "resolve" if episode.last_notified_at is not None else None
    return Decision(
        Step.RESOLVE, event, episode.last_notified_at, ok_hours, ok_since, resolved_at=ok_since
    )


def covering_silence(silences: Sequence[Row], rule: str, station_id: str | None) -> Row | None:
    """The first silence that covers this alert (the same patterns routes use), if any."""
    return next(
        (s for s in silences if matches(s.rule, rule) and matches(s.station_id, station_id)),
        None,
    )


def is_silenced(silences: Sequence[Row], rule: str, station_id: str | None) -> bool:
    """Whether any silence covers this alert."""
    return covering_silence(silences, rule, station_id) is not None


def apply_results(
    conn: Connection, hour: datetime, results: list[RuleResult], settings: Settings
) -> list[Change]:
    """Update episodes from one hour's results and queue their notifications."""
    evaluated_at = hour + timedelta(hours=1)  # the results speak for the hour just closed
    silences = active_silences(conn, evaluated_at)
    fingerprints = [r.fingerprint for r in results if r.state != "skipped"]
    open_rows = episodes.open_episodes_locked(conn, fingerprints)
    # Episodes only move forward in time: a fingerprint that has taken in this hour or a
    # later one (re-running a past hour, a replica racing) is left alone.
    latest = episodes.last_hours_taken_in(conn, fingerprints)
    changes = []
    for result in results:
        seen = latest.get(result.fingerprint)
        if result.state == "skipped":
            continue
        if seen is not None and seen >= hour:
            changes.append(Change(result.fingerprint, None, None, taken_in=seen))
            continue
        row = open_rows.get(result.fingerprint)
        # An inhibited alert (rules.diagnose: the same incident as another firing alert)
        # is held back like a silenced one: its trigger goes out only if it outlives that.
        silenced = is_silenced(silences, result.rule, result.station_id)
        inhibited = bool(result.evidence.get("inhibited_by"))
        decision = decide(_episode(row), result.state, hour, silenced or inhibited, settings)
        if decision is None:
            continue
        change = _write(conn, hour, result, row, decision, settings, quiet=silenced or inhibited)
        if change is not None:
            changes.append(replace(change, silenced=silenced, inhibited=inhibited))
    return changes


def hand_over_silent(
    conn: Connection, hour: datetime, retired: dict[str, datetime], settings: Settings
) -> list[Change]:
    """Resolve the open alerts of stations that fell silent (see the module's docstring):
    those of a station with no frame for `resolve_after_ok_hours` hours up to `hour`
    (no_data's own excepted: it speaks of the silence), and every one of a station retired
    by the end of `hour`. Run after apply_results; an alert that has taken in `hour` or a
    later one is left alone (episodes only move forward)."""
    rows = [
        row
        for row in episodes.firing_alerts(conn)
        if row["station_id"] is not None and (row["last_evaluated_at"] or row["started_at"]) < hour
    ]
    if not rows:
        return []
    end = hour + timedelta(hours=1)
    last = stations.last_seen(conn, {row["station_id"] for row in rows}, hour)
    changes = []
    for row in rows:
        station = row["station_id"]
        gone = retired.get(station)
        if gone is not None and gone < end:
            since, reason = gone, f"station {station} retired {gone:%Y-%m-%d %H:%MZ}"
        else:
            seen = last.get(station)
            since = (seen if seen is not None else row["started_at"]) + timedelta(hours=1)
            if row["rule"] == "no_data" or end - since < timedelta(
                hours=settings.resolve_after_ok_hours
            ):
                continue
            reason = f"no data since {since:%Y-%m-%d %H:%MZ}"
        changes.append(
            _resolve_for(conn, hour, row, max(since, row["started_at"]), reason, settings)
        )
    return changes


def _resolve_for(
    conn: Connection,
    hour: datetime,
    row: RowMapping,
    resolved_at: datetime,
    reason: str,
    settings: Settings,
) -> Change:
    """Resolve an episode no result of `hour` speaks for, with the reason; its resolve goes
    out whenever its trigger did."""
    evidence = {**(row["evidence"] or {}), "resolved_reason": reason}
    episodes.update_episode(
        conn,
        row["id"],
        status="resolved",
        resolved_at=resolved_at,
        last_evaluated_at=hour,
        evidence=evidence,
    )
    log.warning("alert resolved: %s (%s)", row["fingerprint"], reason)
    event: Event | None = "resolve" if row["last_notified_at"] is not None else None
    if event is not None:
        notice = AlertNotice(
            alert_id=row["id"],
            fingerprint=row["fingerprint"],
            rule=row["rule"],
            station_id=row["station_id"],
            severity=row["severity"],
            event=event,
            summary=f"{_as_it_fired(row['summary'], evidence)} (resolved: {reason})",
            evidence=evidence,
            hour=hour,
            started_at=row["started_at"],
            resolved_at=resolved_at,
        )
        _queue(conn, notice, settings)
    return Change(row["fingerprint"], row["id"], event, reason=reason)


def _episode(row: Row | None) -> Episode | None:
    if row is None:
        return None
    return Episode(row.started_at, row.last_notified_at, row.ok_hours, row.ok_since)


def _write(
    conn: Connection,
    hour: datetime,
    result: RuleResult,
    row: Row | None,
    decision: Decision,
    settings: Settings,
    *,
    quiet: bool = False,
) -> Change | None:
    """Apply a decision: insert or update the episode, queue its event (and, unless a silence
    or an inhibition holds it back, a late trigger); None when another replica opened the
    episode first."""
    values: dict[str, Any] = {
        "last_evaluated_at": hour,
        "last_notified_at": decision.last_notified_at,
        "ok_hours": decision.ok_hours,
        "ok_since": decision.ok_since,
    }
    if decision.step is Step.OPEN:
        alert_id = episodes.open_episode(
            conn,
            **values,
            fingerprint=result.fingerprint,
            rule=result.rule,
            station_id=result.station_id,
            severity=result.severity,
            started_at=hour,
            summary=result.summary,
            evidence=with_worst_hour(result, hour, None),
        )
        if alert_id is None:
            return None
        log.warning("alert firing: %s", result.summary)
        started_at = hour
    else:
        assert row is not None  # only OPEN starts without an episode
        alert_id, started_at = row.id, row.started_at
        if decision.step is Step.FIRING:
            values |= {
                "severity": result.severity,
                "summary": result.summary,
                "evidence": with_worst_hour(result, hour, row.evidence),
            }
        elif decision.step is Step.RESOLVE:
            values |= {"status": "resolved", "resolved_at": decision.resolved_at}
            log.warning("alert resolved: %s", row.fingerprint)
        episodes.update_episode(conn, alert_id, **values)
    late: tuple[str, ...] = ()
    if (
        decision.step is Step.FIRING
        and decision.event != "trigger"
        and decision.last_notified_at
        and not quiet
    ):
        late = _late_trigger(conn, alert_id, started_at, hour, result, row, decision, settings)
    if decision.event is not None:
        notice = _notice(alert_id, started_at, hour, result, row, decision)
        _queue(conn, notice, settings, skip=late)
    return Change(result.fingerprint, alert_id, decision.event, late_channels=late)


def _late_trigger(
    conn: Connection,
    alert_id: int,
    started_at: datetime,
    hour: datetime,
    result: RuleResult,
    row: Row | None,
    decision: Decision,
    settings: Settings,
) -> tuple[str, ...]:
    """Queue this firing alert's trigger on each channel that should have it and never got
    it (configured after it fired), if it started within notify_max_age_hours; return
    those channels (this hour's repeat skips them: the trigger says it all)."""
    age = hour + timedelta(hours=1) - started_at
    if age > timedelta(hours=settings.notify_max_age_hours):
        return ()
    wanted = channels_for(settings, result.rule, result.severity, result.station_id, "trigger")
    had = triggered_channels(conn, alert_id)
    missing = tuple(channel for channel in wanted if channel not in had)
    if missing:
        notice = replace(
            _notice(alert_id, started_at, hour, result, row, decision), event="trigger"
        )
        _queue(conn, notice, settings, only=missing)
        log.warning("alert %s: trigger queued late on %s", result.fingerprint, ", ".join(missing))
    return missing


def with_worst_hour(
    result: RuleResult, hour: datetime, stored: dict[str, Any] | None
) -> dict[str, Any]:
    """The firing result's evidence with evidence["worst_hour"]: the hour of the episode
    whose result had the largest evidence["magnitude"] so far (this one on a tie), with its
    summary and headline, so the hint of the worst hour (a camera fault named on a
    critical spike) outlives later, milder hours and the resolve."""
    magnitude = result.evidence.get("magnitude")
    previous = (stored or {}).get("worst_hour")
    if previous is not None and (
        not isinstance(magnitude, int | float)
        or (previous.get("magnitude") is not None and previous["magnitude"] > magnitude)
    ):
        return {**result.evidence, "worst_hour": previous}
    worst = {
        "hour": hour.isoformat(),
        "magnitude": magnitude if isinstance(magnitude, int | float) else None,
        "summary": result.summary,
        "headline": result.evidence.get("headline"),
    }
    return {**result.evidence, "worst_hour": worst}


def _notice(
    alert_id: int,
    started_at: datetime,
    hour: datetime,
    result: RuleResult,
    row: Row | None,
    decision: Decision,
) -> AlertNotice:
    """What the receivers are told. A resolve speaks of the episode as it fired (the ok
    result has nothing to say): its worst hour's summary, its last evidence; the other
    events of this hour's result."""
    source = row if decision.step is Step.RESOLVE and row is not None else result
    summary = source.summary
    if decision.step is Step.RESOLVE:
        summary = _as_it_fired(summary, source.evidence)
    return AlertNotice(
        alert_id=alert_id,
        fingerprint=result.fingerprint,
        rule=source.rule,
        station_id=source.station_id,
        severity=source.severity,
        event=decision.event,  # type: ignore[arg-type]  # not None: only events are queued
        summary=summary,
        evidence=source.evidence,
        hour=hour,
        started_at=started_at,
        resolved_at=decision.resolved_at,
    )


def _as_it_fired(summary: str, evidence: Mapping[str, Any] | None) -> str:
    """What a resolve says the episode was: its worst hour's summary, whose hint (a camera
    fault named) a milder last hour may lack; else `summary`."""
    worst = (evidence or {}).get("worst_hour") or {}
    return worst.get("summary") or summary


def _queue(
    conn: Connection,
    notice: AlertNotice,
    settings: Settings,
    *,
    only: tuple[str, ...] | None = None,
    skip: tuple[str, ...] = (),
) -> None:
    """One outbox row per channel the routes pick (of `only`, if given; not those in `skip`)."""
    payload = notice.to_json()
    for channel in channels_for(
        settings, notice.rule, notice.severity, notice.station_id, notice.event
    ):
        if channel in skip or (only is not None and channel not in only):
            continue
        queue_notification(conn, notice.alert_id, channel, notice.event, notice.hour, payload)
