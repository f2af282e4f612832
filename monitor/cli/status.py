"""`beltwatch status`: the whole site on one screen, for an operator on SSH.

Per station: its last prediction (and how long ago), the open hour's volume and critical
share, its camera's health (the last rolled-up hour's median sharpness and brightness
against the reference band, as the dashboard's Overview reads them:
`dashboards.health.station_tile`), its reference (none, provisional or set, since when),
its firing alerts and the rules that cannot judge it (`monitor.judgeable`). Then the site's
own alerts, the outbox (notifications pending and failed) and the monitor (its last hour
done, its next run, the hours that failed).

`--json` prints the same as one object (times ISO 8601 in UTC, null where unknown):

    {"schema": 1, "now", "empty": bool, "message": str | null,
     "judged_hour": the last closed hour (the one the monitor judges next),
     "camera_hour": the hour of the camera figures (the newest rolled up) | null,
     "stations": [{"station", "health": "firing" | "watch" | "ok" | "no data" | "retired",
                   "last_prediction_at", "last_prediction_age_s",
                   "this_hour": {"since", "predictions", "critical", "critical_share"},
                   "camera": {"hour", "predictions", "sharpness": FIGURE,
                              "brightness": FIGURE, "outside": [figure names]},
                   "reference": {"state": "none" | "provisional" | "set", "since",
                                 "window_start", "window_end", "set_by"},
                   "retired_at", "alerts": [ALERT], "cannot_judge": [{"rules", "reason"}]}],
     "site_alerts": [ALERT],
     "outbox": {"pending", "failed", "channels": {channel: {"pending", "failed"}},
                "failed_recent": [{"id", "alert_id", "rule", "station", "channel", "event",
                                   "attempts", "error", "created_at"}]},
     "monitor": {"last_hour_done", "last_done_at", "next_run_at", "hours_behind",
                 "failed_hours": [{"hour", "attempts", "error"}]}}

FIGURE is {"median", "low", "high", "outside"} (low and high: the reference band, null
without a reference); ALERT is {"id", "rule", "severity", "started_at", "summary",
"held_back"}: held_back says why its notifications are held back now (a silence, with its
id and end; the same incident as another alert), null when they go out.
Fields are only ever added; `schema` changes if one changes meaning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli.common import engine_for, settings_from

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text
    from sqlalchemy import Connection, RowMapping

    from dashboards.health import Figure, Tile
    from monitor.core.settings import Settings
    from monitor.judgeable import ReferenceState, Unjudged

SCHEMA = 1
EMPTY = "no data yet — start a worker or run `beltwatch demo`"
FAILED_SHOWN = 5  # failed notifications listed (the rest: `beltwatch alerts list`)
_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class StationStatus:
    """What `status` says of one station."""

    station: str
    health: str  # the Overview tile's (firing, watch, ok, no data), or "retired"
    last_prediction_at: datetime | None
    predictions_now: int  # in the open hour so far
    critical_now: int
    tile: Tile  # the camera figures of the newest rolled-up hour
    reference: ReferenceState
    retired_at: datetime | None
    alerts: Sequence[RowMapping]  # firing, the most severe first
    unjudged: Sequence[Unjudged]


@dataclass(frozen=True)
class HeldBack:
    """Why a firing alert's notifications are held back now."""

    why: str
    by_silence: bool  # a silence (its summary cannot say so), not the same incident


@dataclass(frozen=True)
class Status:
    """Everything `status` shows, read at `now`."""

    now: datetime
    judged_hour: datetime  # the last closed hour
    camera_hour: datetime | None  # the newest rolled-up hour
    stations: Sequence[StationStatus]
    site_alerts: Sequence[RowMapping]
    outbox: Mapping[tuple[str, str], int]  # (status, channel) -> rows
    failed_notifications: Sequence[RowMapping]  # the newest first
    last_hour_done: datetime | None
    last_done_at: datetime | None
    next_run_at: datetime
    hours_behind: int | None
    failed_hours: Sequence[RowMapping]
    held_back: Mapping[int, HeldBack] = field(default_factory=dict)  # alert id -> why

    @property
    def empty(self) -> bool:
        """Nothing to show at all: no station, alert, notification or monitor run."""
        return not (
            self.stations
            or self.site_alerts
            or self.outbox
            or self.last_hour_done
            or self.failed_hours
        )


def status_command(
    ctx: typer.Context,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object, for scripts (README: its fields)."),
    ] = False,
) -> None:
    """The site at a glance: per station its last prediction, this hour's volume and critical
    share, camera health against its reference band, reference state, firing alerts and
    the rules that cannot judge it; then the outbox and the monitor's last and next run."""
    settings = settings_from(ctx)
    with engine_for(settings) as engine, engine.connect() as conn:
        status = collect_status(conn, settings, _now())
    if as_json:
        typer.echo(json.dumps(status_json(status), indent=2))
    else:
        render_status(status, settings)


def _now() -> datetime:
    return datetime.now(UTC)  # a function, so that a test can fix the clock


def collect_status(conn: Connection, settings: Settings, now: datetime) -> Status:
    """Read the site's state at `now` through the core's queries."""
    from dashboards.health import station_tile, tile_order
    from monitor.core.queries import alerts, notifications, references, rollups, runs, silences
    from monitor.core.queries import stations as stations_q
    from monitor.core.queries import status as status_q
    from monitor.hourly import next_run
    from monitor.judgeable import ReferenceState, cannot_judge, hours_seen

    now = now.astimezone(UTC)
    open_hour = now.replace(minute=0, second=0, microsecond=0)
    judged = open_hour - _HOUR
    pooled_since = judged - (settings.drift_max_pool_hours - 1) * _HOUR
    recent = status_q.hourly_counts(conn, pooled_since)
    firing = alerts.firing_alerts(conn)
    bands = references.reference_bands(conn)
    retired = stations_q.retirements(conn)
    camera_hour = rollups.latest_hour(conn)
    rows = rollups.hour_rows(conn, camera_hour) if camera_hour is not None else {}
    names = stations_q.known(conn, pooled_since) | {
        a["station_id"] for a in firing if a["station_id"] is not None
    }
    last = status_q.last_predictions(conn, names)

    found = []
    for station in sorted(names):
        hours = recent.get(station, {})
        now_rows = [row for start, row in hours.items() if start >= open_hour]
        own = [a for a in firing if a["station_id"] == station]
        reference = ReferenceState.of(bands.get(station))
        retired_at = retired[station]["retired_at"] if station in retired else None
        tile = station_tile(
            station,
            rows.get(station),
            bands.get(station),
            own,
            sum(row["n_total"] for row in now_rows),
            threshold=settings.critical_threshold_for(station),
            default_baseline=settings.critical_rate_baseline,
            latency_budget_ms=settings.latency_budget_ms,
            sigmas=settings.drift_control_sigmas,
        )
        unjudged = cannot_judge(
            station,
            judged,
            reference,
            {start: row["n_total"] for start, row in hours.items()},
            settings,
            hours_seen=hours_seen(conn, station, settings) if reference.state == "none" else 0,
            retired_at=retired_at,
        )
        seen = last.get(station)
        quiet_since_retired = retired_at is not None and (seen is None or seen < retired_at)
        found.append(
            StationStatus(
                station=station,
                health="retired" if quiet_since_retired and not own else tile.health,
                last_prediction_at=seen,
                predictions_now=tile.predictions_now,
                critical_now=sum(row["n_critical"] for row in now_rows),
                tile=tile,
                reference=reference,
                retired_at=retired_at,
                alerts=own,
                unjudged=unjudged,
            )
        )
    found.sort(key=lambda s: (s.health == "retired", tile_order(s.tile)))

    last_hour_done, last_done_at = runs.last_done(conn)
    # The hour the monitor should have done by now: the one before the hour that closed
    # before its last scheduled run.
    due = (now - timedelta(minutes=settings.monitor_minute)).replace(
        minute=0, second=0, microsecond=0
    ) - _HOUR
    behind = None if last_hour_done is None else max(0, (due - last_hour_done) // _HOUR)
    upcoming = next_run(now, settings.monitor_minute)
    undelivered = notifications.undelivered(conn)
    held = held_back(firing, silences.active_silences(conn, now))
    return Status(
        now=now,
        judged_hour=judged,
        camera_hour=camera_hour,
        stations=found,
        site_alerts=[a for a in firing if a["station_id"] is None],
        outbox={
            key: n for key, n in notifications.outbox_counts(conn).items() if key[0] != "delivered"
        },
        failed_notifications=[r for r in undelivered if r["status"] == "failed"][:FAILED_SHOWN],
        held_back=held,
        last_hour_done=last_hour_done,
        last_done_at=last_done_at,
        next_run_at=upcoming,
        hours_behind=behind,
        failed_hours=status_q.failed_runs(
            conn, judged - (settings.monitor_catchup_hours - 1) * _HOUR
        ),
    )


# -- JSON ------------------------------------------------------------------------------


def status_json(status: Status) -> dict[str, Any]:
    """The `--json` object (the module's docstring documents it)."""
    channels: dict[str, dict[str, int]] = {}
    for (state, channel), n in sorted(status.outbox.items()):
        channels.setdefault(channel, {"pending": 0, "failed": 0})[state] = n
    return {
        "schema": SCHEMA,
        "now": _iso(status.now),
        "empty": status.empty,
        "message": EMPTY if status.empty else None,
        "judged_hour": _iso(status.judged_hour),
        "camera_hour": _iso(status.camera_hour),
        "stations": [_station_json(s, status) for s in status.stations],
        "site_alerts": [_alert_json(a, status) for a in status.site_alerts],
        "outbox": {
            "pending": sum(c["pending"] for c in channels.values()),
            "failed": sum(c["failed"] for c in channels.values()),
            "channels": channels,
            "failed_recent": [
                {
                    "id": row["id"],
                    "alert_id": row["alert_id"],
                    "rule": row["rule"],
                    "station": row["station_id"],
                    "channel": row["channel"],
                    "event": row["event"],
                    "attempts": row["attempts"],
                    "error": row["last_error"],
                    "created_at": _iso(row["created_at"]),
                }
                for row in status.failed_notifications
            ],
        },
        "monitor": {
            "last_hour_done": _iso(status.last_hour_done),
            "last_done_at": _iso(status.last_done_at),
            "next_run_at": _iso(status.next_run_at),
            "hours_behind": status.hours_behind,
            "failed_hours": [
                {"hour": _iso(row["hour"]), "attempts": row["attempts"], "error": row["error"]}
                for row in status.failed_hours
            ],
        },
    }


def _station_json(station: StationStatus, status: Status) -> dict[str, Any]:
    tile, reference, seen = station.tile, station.reference, station.last_prediction_at
    n = station.predictions_now
    return {
        "station": station.station,
        "health": station.health,
        "last_prediction_at": _iso(seen),
        "last_prediction_age_s": None if seen is None else (status.now - seen).total_seconds(),
        "this_hour": {
            "since": _iso(status.judged_hour + _HOUR),
            "predictions": n,
            "critical": station.critical_now,
            "critical_share": station.critical_now / n if n else None,
        },
        "camera": {
            "hour": _iso(status.camera_hour),
            "predictions": tile.predictions_hour,
            "sharpness": _figure_json(tile.sharpness),
            "brightness": _figure_json(tile.brightness),
            "outside": list(tile.reasons),
        },
        "reference": {
            "state": reference.state,
            "since": _iso(reference.since),
            "window_start": _iso(reference.window_start),
            "window_end": _iso(reference.window_end),
            "set_by": reference.set_by,
        },
        "retired_at": _iso(station.retired_at),
        "alerts": [_alert_json(a, status) for a in station.alerts],
        "cannot_judge": [{"rules": list(u.rules), "reason": u.reason} for u in station.unjudged],
    }


def _figure_json(figure: Figure) -> dict[str, Any]:
    return {
        "median": figure.value,
        "low": figure.low,
        "high": figure.high,
        "outside": figure.outside,
    }


def held_back(firing: Sequence[RowMapping], active: Sequence[Any]) -> dict[int, HeldBack]:
    """alert id -> why its notifications are held back now: a silence covering it (the
    alert manager's own test), or, for one whose trigger never went out, the alert it was
    held back for as the same incident."""
    from monitor.alerts import covering_silence

    held = {}
    for alert in firing:
        silence = covering_silence(active, alert["rule"], alert["station_id"])
        inhibited = (alert["evidence"] or {}).get("inhibited_by")
        if silence is not None:
            why = (
                f"held back by silence {silence.id} until {silence.ends_at:%Y-%m-%d %H:%MZ} "
                f"({silence.created_by}: {silence.comment or 'no comment'})"
            )
            held[alert["id"]] = HeldBack(why, by_silence=True)
        elif inhibited and alert["last_notified_at"] is None:
            why = f"held back: the same incident as {', '.join(inhibited)}"
            held[alert["id"]] = HeldBack(why, by_silence=False)
    return held


def _held_note(held: HeldBack | None) -> str:
    # An inhibited alert's summary says so already ("held back: same incident as ...").
    return f" [{held.why}]" if held is not None and held.by_silence else ""


def _alert_json(alert: RowMapping, status: Status) -> dict[str, Any]:
    return {
        "id": alert["id"],
        "rule": alert["rule"],
        "severity": alert["severity"],
        "started_at": _iso(alert["started_at"]),
        "summary": alert["summary"],
        "held_back": held.why if (held := status.held_back.get(alert["id"])) else None,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


# -- Text ------------------------------------------------------------------------------

PIPED_WIDTH = 200  # piped (grep, a file): rows kept whole rather than Rich's 80 columns
_HEALTH_STYLES = {"firing": "bold red", "watch": "yellow", "ok": "green", "no data": "dim"}


def render_status(status: Status, settings: Settings, console: Console | None = None) -> None:
    """Print the status as Rich tables. Every value goes in as Text: a summary's
    "[provisional reference]" is words, not Rich markup."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=PIPED_WIDTH)
    if status.empty:
        console.print(Text(EMPTY))
        return
    camera = (
        f"camera figures of the hour {_span(status.camera_hour)}"
        if status.camera_hour is not None
        else "no hour rolled up yet"
    )
    console.print(
        Text(f"beltwatch status at {_at(status.now)} (site {settings.site_name}); {camera}"),
        style="bold",
        soft_wrap=True,
    )
    table = Table(
        "station", "health", "last prediction", "this hour", "sharpness (band)",
        "brightness (band)", "reference", "firing",
    )  # fmt: skip
    for s in status.stations:
        table.add_row(
            Text(s.station),
            Text(s.health, style=_HEALTH_STYLES.get(s.health, "")),
            Text(_last(s.last_prediction_at, status.now)),
            Text(_this_hour(s.predictions_now, s.critical_now)),
            _figure(s.tile.sharpness, 3),
            _figure(s.tile.brightness, 1),
            Text(_reference(s)),
            Text(", ".join(a["rule"] for a in s.alerts), style="red"),
        )
    console.print(table)

    unjudged = [(s.station, u) for s in status.stations for u in s.unjudged]
    if unjudged:
        console.print(Text(f"not judged in the hour {_span(status.judged_hour)}"), style="bold")
        for station, reason in unjudged:
            console.print(Text(f"  {station}: {reason}"), soft_wrap=True)
    firing = [(s.station, a) for s in status.stations for a in s.alerts]
    firing += [("(site)", a) for a in status.site_alerts]
    if firing:
        console.print(Text("firing alerts"), style="bold")
        alerts = Table("station", "severity", "rule", "since", "summary")
        for station, alert in firing:
            alerts.add_row(
                Text(station),
                Text(alert["severity"]),
                Text(alert["rule"]),
                Text(_at(alert["started_at"])),
                Text(alert["summary"] + _held_note(status.held_back.get(alert["id"]))),
            )
        console.print(alerts)
    else:
        console.print(Text("no firing alerts"))
    _print_outbox(status, console)
    _print_monitor(status, settings, console)


def _print_outbox(status: Status, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    pending = sum(n for (state, _), n in status.outbox.items() if state == "pending")
    failed = sum(n for (state, _), n in status.outbox.items() if state == "failed")
    per_channel = "; ".join(
        f"{channel}: {n} {state}"
        for (state, channel), n in sorted(status.outbox.items(), key=_by_channel)
    )
    line = f"outbox: {pending} pending, {failed} failed"
    console.print(
        Text(line + (f" ({per_channel})" if per_channel else "")),
        style="red" if failed else "",
        soft_wrap=True,
    )
    if status.failed_notifications:
        console.print(Text("failed notifications, the newest first"), style="bold")
        rows = Table("row", "alert", "channel", "event", "attempts", "error")
        for row in status.failed_notifications:
            rows.add_row(
                Text(str(row["id"])),
                Text(f"{row['rule']}:{row['station_id'] or '(site)'}"),
                Text(row["channel"]),
                Text(row["event"]),
                Text(str(row["attempts"])),
                Text(row["last_error"] or ""),
            )
        console.print(rows)


def _by_channel(item: tuple[tuple[str, str], int]) -> tuple[str, str]:
    (state, channel), _ = item
    return channel, state


def _print_monitor(status: Status, settings: Settings, console: Console) -> None:
    from rich.text import Text

    if status.last_hour_done is None:
        done = "no hour done yet"
    else:
        done = f"last hour done {_at(status.last_hour_done)}"
        if status.last_done_at is not None:
            done += f", finished {_last(status.last_done_at, status.now)}"
    console.print(Text(f"monitor: {done}; next run {_at(status.next_run_at)}"), soft_wrap=True)
    if status.hours_behind:
        console.print(
            Text(
                f"  {status.hours_behind} closed hour(s) not done yet: is `beltwatch monitor run` "
                f"running? (it catches up {settings.monitor_catchup_hours} hours at most)"
            ),
            style="yellow",
            soft_wrap=True,
        )
    for row in status.failed_hours:
        console.print(
            Text(
                f"  hour {_at(row['hour'])} failed ({row['attempts']} attempt(s)): {row['error']}"
            ),
            style="red",
            soft_wrap=True,
        )


def _at(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%MZ}"


def _span(hour: datetime) -> str:
    """'2026-11-30 11:00-12:00Z'."""
    return f"{hour.astimezone(UTC):%Y-%m-%d %H:%M}-{hour + _HOUR:%H:%MZ}"


def _last(moment: datetime | None, now: datetime) -> str:
    """'12:13:00Z (7 min ago)' within a day of now, with the date beyond; '—' for none."""
    if moment is None:
        return "—"
    when = moment.astimezone(UTC)
    shown = f"{when:%H:%M:%SZ}" if abs(now - when) < timedelta(days=1) else _at(when)
    return f"{shown} ({age(now - when)} ago)"


def age(elapsed: timedelta) -> str:
    """A duration the way a person says it: '14 s', '6 min', '3 h 12 min', '2 d 5 h'."""
    seconds = max(0, int(elapsed.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _this_hour(n: int, critical: int) -> str:
    return f"{n}, {critical / n:.1%} critical" if n else "0"


def _figure(figure: Figure, digits: int) -> Text:
    """'0.305 (0.270-0.455)', flagged when outside its band; '(no reference)' without one."""
    from rich.text import Text

    if figure.value is None:
        return Text("—")
    value = f"{figure.value:.{digits}f}"
    if figure.low is None or figure.high is None:
        return Text(f"{value} (no reference)")
    shown = f"{value} ({figure.low:.{digits}f}-{figure.high:.{digits}f})"
    return Text(f"⚠ {shown}", style="yellow") if figure.outside else Text(shown)


def _reference(station: StationStatus) -> str:
    """'none', 'provisional since 2026-12-01 08:00Z', 'set 2026-12-01 08:00Z by alice'."""
    reference = station.reference
    words = [reference.state]
    if reference.since is not None:
        words += ["since"] * (reference.state == "provisional") + [_at(reference.since)]
    if reference.set_by:
        words += ["by", reference.set_by]
    text = " ".join(words)
    if station.retired_at is not None:
        text += f"; retired {_at(station.retired_at)}"
    return text
