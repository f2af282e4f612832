"""`beltwatch station ...`: the stations the monitor knows, and retiring one on purpose.

A station is known from its first prediction. A camera taken out of service would make
`no_data` fire every hour its belt is expected to run; retiring it says the silence is
meant: from then on it is not expected, and its open alerts resolve ("station S retired").
"""

from __future__ import annotations

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

station_app = typer.Typer(
    help="The stations: list them, retire one taken out of service.", no_args_is_help=True
)


@station_app.command("list")
def station_list(ctx: typer.Context) -> None:
    """Every station the monitor has seen: first and last hour with frames, retirement."""
    from monitor.core.queries import stations

    settings = settings_from(ctx)
    with engine_for(settings) as engine, engine.connect() as conn:
        rows = stations.station_table(conn)
    if not rows:
        typer.echo("no station yet: start a worker or run `beltwatch demo`")
        return
    typer.echo(
        f"{'station':<16}{'first frame hour':<20}{'last frame hour':<20}{'frames':>10}  state"
    )
    for row in rows:
        first = f"{row['first_hour']:%Y-%m-%d %H:%MZ}" if row["first_hour"] else "-"
        last = f"{row['last_hour']:%Y-%m-%d %H:%MZ}" if row["last_hour"] else "-"
        state = "in service"
        if row["retired_at"] is not None:
            state = f"retired {row['retired_at']:%Y-%m-%d %H:%MZ} by {row['retired_by']}"
            if row["comment"]:
                state += f" ({row['comment']})"
            if row["last_hour"] is not None and row["last_hour"] >= row["retired_at"]:
                state += "; sending again: judged like any station"
        typer.echo(
            f"{row['station_id']:<16}{first:<20}{last:<20}{int(row['frames'] or 0):>10,}  {state}"
        )


@station_app.command("retire")
def station_retire(
    ctx: typer.Context,
    station: Annotated[str, typer.Argument(help="The station id.")],
    at: Annotated[
        str | None,
        typer.Option("--at", help="When it went out of service (ISO 8601; default: now)."),
    ] = None,
    comment: Annotated[str, typer.Option("--comment", help="Why, for the record.")] = "",
    by: Annotated[
        str | None, typer.Option("--by", help="Who retires it (default: your login name).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Retire a station the monitor has never seen.")
    ] = False,
) -> None:
    """Stop expecting frames from a station: no `no_data` for it from --at on, and its open
    alerts resolve on the next monitor run. Frames it sends later are still judged."""
    from monitor.core.queries import stations

    settings = settings_from(ctx)
    when = parse_time(at, "--at") if at is not None else datetime.now(UTC)
    who = (by if by is not None else login_name()).strip()
    if not who:
        raise fail("no name to record with the retirement: pass --by NAME")
    with engine_for(settings) as engine, engine.begin() as conn:
        known = stations.known(conn, when - timedelta(days=2))
        if station not in known and not force:
            why = unmatched("station", station, known, "seen in the database")
            # None: a pattern that matches stations, but retiring takes one station's id.
            why = why or f"{station!r} is not a station id: retire each station by its id"
            raise fail(f"{why} (--force retires it anyway)")
        if not stations.retire(conn, station, when, who, comment):
            existing = stations.retirements(conn)[station]
            raise fail(
                f"station {station} is already retired (since "
                f"{existing['retired_at']:%Y-%m-%d %H:%MZ} by {existing['retired_by']})"
            )
    typer.echo(
        f"station {station} retired from {when:%Y-%m-%d %H:%MZ} by {who}: no longer expected; "
        "its open alerts resolve on the next monitor run"
    )


@station_app.command("unretire")
def station_unretire(
    ctx: typer.Context, station: Annotated[str, typer.Argument(help="The station id.")]
) -> None:
    """Expect frames from a retired station again (no_data judges its silence again)."""
    from monitor.core.queries import stations

    settings = settings_from(ctx)
    with engine_for(settings) as engine, engine.begin() as conn:
        if not stations.unretire(conn, station):
            raise fail(f"station {station} is not retired")
    typer.echo(f"station {station} is expected again")
