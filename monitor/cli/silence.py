"""`beltwatch silence ...`: maintenance windows that hold notifications back.

A time is ISO 8601 with a zone (`2026-12-05T18:00Z`) or `+DURATION` from now (`+90m`); a
window ends at `--until` or lasts `--for` from its start. The rule and station patterns
are checked against the rule registry and the stations the database knows: a typo would
otherwise silence nothing while the operator believes the belt is covered.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from monitor.cli.common import (
    engine_for,
    fail,
    login_name,
    parse_time,
    settings_from,
    unmatched,
)
from monitor.core.settings import parse_duration

silence_app = typer.Typer(
    help="Maintenance windows that hold notifications back.", no_args_is_help=True
)

DURATION_FORMS = "numbers with units: 90m, 2h, 1h30m, 2d (ms, s, m, h, d, w)"
TIME_FORMS = (
    "an ISO 8601 time with a zone (2026-12-05T18:00Z) or +DURATION from now "
    f"(+90m; {DURATION_FORMS})"
)
# An ended silence stays in `silence list` this long, so an `expire` can be checked.
RECENTLY_ENDED = timedelta(hours=24)
# Predictions younger than this may not be rolled up yet; older stations are in the rollups.
_UNROLLED = timedelta(days=2)
_LONGEST = timedelta(days=999_999_999)  # timedelta's own limit: beyond it, "too far"


def parse_duration_option(value: str, option: str) -> timedelta:
    """A duration with units (`90m`, `1h30m`); a bare number is refused, since nothing
    says whether it meant minutes or hours."""
    length = _duration(value)
    if length is None:
        raise typer.BadParameter(
            f"{value!r} is not a duration; use {DURATION_FORMS}", param_hint=option
        )
    return length


def parse_when(value: str, option: str, now: datetime) -> datetime:
    """A time given as ISO 8601 with a zone, or as `+DURATION` counted from `now`."""
    text = value.strip()
    if text.startswith("+"):
        length = _duration(text[1:])
        if length is not None:
            return _later(now, length, option)
    else:
        with contextlib.suppress(typer.BadParameter):
            return parse_time(text, option)
    raise typer.BadParameter(f"{value!r} is not a time; use {TIME_FORMS}", param_hint=option)


def _duration(value: str) -> timedelta | None:
    """The settings' own duration parser, in seconds; None for anything it refuses and for
    a bare number (which it would take as seconds)."""
    try:
        seconds = parse_duration(value, unit="s", whole=False)
    except ValueError:
        return None
    if not isinstance(seconds, float):
        return None
    return timedelta(seconds=min(seconds, _LONGEST.total_seconds()))


def _later(moment: datetime, length: timedelta, option: str) -> datetime:
    try:
        return moment + length
    except OverflowError:  # past the year 9999
        raise typer.BadParameter("that ends too far in the future", param_hint=option) from None


def silence_window(
    now: datetime, *, start: str | None, until: str | None, lasting: str | None
) -> tuple[datetime, datetime]:
    """(starts, ends) from the command line: `--from` (default now), then `--until` or
    `--for` (counted from the start), never both; the window must end after it starts and
    after now (a silence that is already over would hold nothing back)."""
    if until is not None and lasting is not None:
        raise typer.BadParameter("give --until or --for, not both", param_hint="--for")
    if until is None and lasting is None:
        raise typer.BadParameter(
            "give the end (--until T) or the length (--for 2h)", param_hint="--until"
        )
    starts = parse_when(start, "--from", now) if start is not None else now
    if until is not None:
        option, ends = "--until", parse_when(until, "--until", now)
    else:
        option = "--for"
        ends = _later(starts, parse_duration_option(str(lasting), option), option)
    if ends > max(starts, now):
        return starts, ends
    if starts > now or ends == starts:
        problem = f"end ({shown(ends)}) at or before it starts ({shown(starts)})"
    else:
        problem = f"end in the past ({shown(ends)}; now {shown(now)})"
    raise typer.BadParameter(f"the silence would {problem}", param_hint=option)


def shown(moment: datetime) -> str:
    """A stored time as people read it: UTC, to the minute."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%MZ}"


def state_at(starts_at: datetime, ends_at: datetime, now: datetime) -> str:
    """active, pending (still to come) or expired, at `now`."""
    if ends_at <= now:
        return "expired"
    return "pending" if starts_at > now else "active"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)  # whole seconds read better when listed


def _who(by: str | None) -> str:
    who = (by if by is not None else login_name()).strip()
    if not who:
        raise fail("no name to record with the silence: pass --by NAME")
    return who


def _pattern(value: str | None) -> str | None:
    """A rule or station pattern; empty means any, as no pattern does."""
    if value is None:
        return None
    return value.strip() or None


@silence_app.command("add")
def silence_add(
    ctx: typer.Context,
    comment: Annotated[str, typer.Option("--comment", help="Why (shown with the alert).")],
    until: Annotated[
        str | None,
        typer.Option("--until", help="End: ISO 8601 (2026-12-05T18:00Z) or +90m from now."),
    ] = None,
    lasting: Annotated[
        str | None,
        typer.Option("--for", help="Length, from the start: 90m, 2h, 1h30m, 2d."),
    ] = None,
    rule: Annotated[
        str | None, typer.Option("--rule", help="Only this rule (or pattern: '*_drift').")
    ] = None,
    station: Annotated[
        str | None, typer.Option("--station", help="Only this station (or pattern: 'dock-*').")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", "--start", help="Start: ISO 8601 or +30m from now (default now)."),
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who adds it (default: your login name).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Add it although the rule or station matches none known."),
    ] = False,
) -> None:
    """Hold notifications back for matching alerts (evaluation goes on)."""
    from monitor.core.queries import silences, stations
    from monitor.rules import RULES

    now = _now()
    starts, ends = silence_window(now, start=start, until=until, lasting=lasting)
    rule, station = _pattern(rule), _pattern(station)
    who = _who(by)
    settings = settings_from(ctx)
    with engine_for(settings) as engine, engine.begin() as conn:
        if not force:
            problems = [unmatched("rule", rule, RULES, "in the registry")]
            if station not in (None, "*"):
                known = stations.known(conn, now - _UNROLLED)
                problems.append(unmatched("station", station, known, "seen in the database"))
            found = "; ".join(problem for problem in problems if problem)
            if found:
                raise fail(f"{found} (--force adds the silence anyway)")
        silence_id = silences.add_silence(
            conn,
            rule=rule,
            station_id=station,
            starts_at=starts,
            ends_at=ends,
            created_by=who,
            comment=comment,
        )
    typer.echo(
        f"silence {silence_id}: rule {rule or 'any'}, station {station or 'any'}, "
        f"{shown(starts)} .. {shown(ends)} ({state_at(starts, ends, now)}), by {who}"
    )


@silence_app.command("expire")
def silence_expire(
    ctx: typer.Context,
    silence_id: Annotated[int, typer.Argument(metavar="ID", help="The silence (silence list).")],
    by: Annotated[
        str | None, typer.Option("--by", help="Who ends it (default: your login name).")
    ] = None,
) -> None:
    """End one silence now: matching alerts notify again from the next monitor run. One
    still to come is deleted (a window cannot end before it starts)."""
    from monitor.core.queries import silences

    now = _now()
    who = _who(by)
    settings = settings_from(ctx)
    with engine_for(settings) as engine, engine.begin() as conn:
        row = silences.silence_for_update(conn, silence_id)
        if row is None:
            raise fail(f"no silence {silence_id} (`beltwatch silence list --all` lists them)")
        if row.ends_at <= now:
            raise fail(f"silence {silence_id} already ended at {shown(row.ends_at)}")
        silences.end_silence(conn, silence_id, at=now, ended_by=who)
    what = f"silence {silence_id} (rule {row.rule or 'any'}, station {row.station_id or 'any'})"
    if row.starts_at >= now:
        # It held nothing back yet, and a window cannot end at or before its start.
        typer.echo(f"{what}, from {shown(row.starts_at)}, was still to come: deleted by {who}")
    else:
        typer.echo(f"{what} ended at {shown(now)} by {who}")


@silence_app.command("list")
def silence_list(
    ctx: typer.Context,
    every: Annotated[
        bool, typer.Option("--all", help="Every silence, however long ago it ended.")
    ] = False,
) -> None:
    """Silences active, pending (still to come) and expired in the last 24 hours."""
    from monitor.core.queries import silences

    settings = settings_from(ctx)
    now = _now()
    with engine_for(settings) as engine, engine.connect() as conn:
        if every:
            rows = silences.every_silence(conn)
        else:
            rows = silences.silences_not_over(conn, now - RECENTLY_ENDED)
    if not rows:
        typer.echo("no silences")
        return
    typer.echo(
        f"{'id':>4}  {'state':<9}{'rule':<16}{'station':<12}{'from':<19}{'until':<19}"
        f"{'by':<12}comment"
    )
    for row in rows:
        typer.echo(
            f"{row.id:>4}  {state_at(row.starts_at, row.ends_at, now):<9}"
            f"{row.rule or 'any':<16}{row.station_id or 'any':<12}"
            f"{shown(row.starts_at):<19}{shown(row.ends_at):<19}"
            f"{row.created_by:<12}{row.comment}"
        )
