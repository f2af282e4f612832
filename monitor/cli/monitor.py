"""`beltwatch monitor ...`: the hourly monitor, as a daemon or for chosen hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.common import engine_for, parse_time, settings_from
from monitor.core.exceptions import HourNotClosed
from monitor.core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from monitor.alerts import Change
    from monitor.hourly import RunOutcome

monitor_app = typer.Typer(help="The hourly monitor: rollups, rules, alerts.", no_args_is_help=True)


def _print_hours(outcome: RunOutcome) -> None:
    if outcome.skipped:
        typer.echo("another monitor holds the lock; nothing done")
        return
    for hour in outcome.hours:
        if not hour.ok:
            typer.secho(f"{hour.hour:%Y-%m-%dT%H:%MZ}  FAILED  {hour.error}", fg=typer.colors.RED)
            continue
        firing = hour.firing
        typer.echo(f"{hour.hour:%Y-%m-%dT%H:%MZ}  {len(firing)} firing")
        for result in firing:
            typer.echo(f"    [{result.severity}] {result.summary}")
        for result in hour.results:
            if result.state == "skipped" and "error" in result.evidence:
                typer.secho(f"    [rule failed] {result.summary}", fg=typer.colors.RED)
        for line in change_lines(hour.changes):
            typer.echo(f"    {line}")
    if outcome.stopped:
        typer.echo("stopped: the hours after these are not done; they are due next run")
    elif not outcome.hours:
        typer.echo("no hour due")


def change_lines(changes: list[Change]) -> list[str]:
    """What an hour did to the alerts and what it held back, one line each; an hour
    processed again says which alerts it left as they were, and why."""
    lines = []
    left = []
    for change in changes:
        if change.taken_in is not None:
            left.append(change)
            continue
        if change.late_channels:
            late = ", ".join(change.late_channels)
            lines.append(f"-> trigger (late, on {late}, configured since): {change.fingerprint}")
        if change.event and change.reason:
            lines.append(f"-> {change.event}: {change.fingerprint} ({change.reason})")
        elif change.event:
            lines.append(f"-> {change.event}: {change.fingerprint}")
        elif change.reason:
            lines.append(f"-> resolved, nothing to send: {change.fingerprint} ({change.reason})")
        elif change.silenced:
            lines.append(f"-> held back by a silence: {change.fingerprint}")
        elif change.inhibited:
            lines.append(f"-> held back, the same incident as another alert: {change.fingerprint}")
    if left:
        newest = max(change.taken_in for change in left if change.taken_in is not None)
        names = ", ".join(change.fingerprint for change in left)
        lines.append(
            f"(processed again: rollups rewritten; {len(left)} alert(s) left as they were, "
            f"having taken in hours up to {newest:%Y-%m-%dT%H:%MZ} (alerts only move "
            f"forward): {names})"
        )
    return lines


def _check_receivers(settings: Settings) -> None:
    """Fail at start on a bad receiver or route, before any hour queues notifications no
    receiver can send (a ConfigError: exit 2 at the CLI's boundary, every problem named)."""
    from monitor.receivers import build_notifiers

    build_notifiers(settings)


@monitor_app.command("run")
def monitor_run(ctx: typer.Context) -> None:
    """Run the hourly monitor until SIGTERM (catches up missed hours at start)."""
    from monitor.core.db.engine import redacted
    from monitor.scheduler import run_forever

    settings = settings_from(ctx)
    _check_receivers(settings)
    with engine_for(settings) as engine:
        for line, warn in monitor_banner(settings, redacted(engine.url), datetime.now(UTC)):
            typer.secho(line, fg=typer.colors.YELLOW if warn else None, err=warn)
        run_forever(engine, settings)


def monitor_banner(settings: Settings, database: str, now: datetime) -> list[tuple[str, bool]]:
    """What `monitor run` says at start, without -v: its schedule and next run, what it
    catches up, its database (password masked) and its receivers; (line, is a warning)."""
    from monitor.hourly import next_run
    from monitor.notifiers import RECEIVERS
    from monitor.routing import configured_channels

    upcoming = next_run(now, settings.monitor_minute)
    lines = [
        (
            f"beltwatch monitor: every hour at minute {settings.monitor_minute:02d} (UTC); "
            f"next run {upcoming:%Y-%m-%dT%H:%MZ}; catches up to "
            f"{settings.monitor_catchup_hours} missed hours at start",
            False,
        ),
        (f"database {database}", False),
    ]
    channels = configured_channels(settings)
    if channels:
        routes = len(settings.alert_routes)
        routed = f" ({routes} route(s) pick among them)" if routes else ""
        lines.append((f"receivers: {', '.join(channels)}{routed}", False))
    else:
        setting_names = ", ".join(f"BELTWATCH_{r.setting.upper()}" for r in RECEIVERS)
        lines.append(
            (
                "warning: no receiver configured: alerts are recorded (dashboard, "
                f"`beltwatch alerts list`) but sent nowhere; set one of {setting_names}",
                True,
            )
        )
    return lines


@monitor_app.command("once")
def monitor_once(
    ctx: typer.Context,
    hour: Annotated[
        str | None,
        typer.Option("--hour", help="The hour, e.g. 2026-11-24T13:00Z (default: every due hour)."),
    ] = None,
) -> None:
    """Process one hour now (or every due hour; SIGTERM stops after the hour in hand)."""
    from monitor.hourly import run_due, run_range
    from monitor.scheduler import stop_on_signals

    settings = settings_from(ctx)
    _check_receivers(settings)
    with stop_on_signals() as stop, engine_for(settings) as engine:
        if hour is None:
            outcome = run_due(engine, settings, stop=stop)
        else:
            start = parse_time(hour, "--hour")
            try:
                outcome = run_range(
                    engine, settings, start, start + timedelta(hours=1), redo=True, stop=stop
                )
            except HourNotClosed as error:
                raise typer.BadParameter(str(error), param_hint="--hour") from None
        _print_hours(outcome)
        _print_unjudged(engine, settings, outcome)
    if any(not h.ok for h in outcome.hours):
        raise typer.Exit(1)


def _print_unjudged(engine: Engine, settings: Settings, outcome: RunOutcome) -> None:
    """Which rules could not judge which station in the last hour processed, and why: once
    per station and reason (a camera watched by nothing must not look healthy)."""
    from monitor.judgeable import unjudged

    done = [hour.hour for hour in outcome.hours if hour.ok]
    if not done:
        return
    with engine.connect() as conn:
        found = unjudged(conn, done[-1], settings)
    if found:
        typer.echo(f"not judged in the hour {done[-1]:%Y-%m-%dT%H:%MZ}:")
        for station, reasons in found.items():
            for reason in reasons:
                typer.echo(f"    {station}: {reason}")


@monitor_app.command("backfill")
def monitor_backfill(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="First hour, e.g. 2026-11-20T00:00Z.")],
    until: Annotated[str, typer.Option("--until", help="End (exclusive).")],
    redo: Annotated[bool, typer.Option("--redo", help="Also hours already done.")] = False,
) -> None:
    """Process the hours in [--since, --until) that are not done yet (SIGTERM stops after
    the hour in hand)."""
    from monitor.hourly import run_range
    from monitor.scheduler import stop_on_signals

    settings = settings_from(ctx)
    _check_receivers(settings)
    first, end = parse_time(since, "--since"), parse_time(until, "--until")
    with stop_on_signals() as stop, engine_for(settings) as engine:
        try:
            outcome = run_range(engine, settings, first, end, redo=redo, stop=stop)
        except HourNotClosed as error:
            raise typer.BadParameter(
                f"{error}; end the range at "
                f"{error.last_closed + timedelta(hours=1):%Y-%m-%dT%H:%MZ} at the latest",
                param_hint="--until",
            ) from None
    _print_hours(outcome)
    if any(not h.ok for h in outcome.hours):
        raise typer.Exit(1)
