"""`beltwatch silence ...`: maintenance windows that hold notifications back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from monitor.cli.common import engine_for, parse_time, settings_from

silence_app = typer.Typer(
    help="Maintenance windows that hold notifications back.", no_args_is_help=True
)


@silence_app.command("add")
def silence_add(
    ctx: typer.Context,
    until: Annotated[str, typer.Option("--until", help="End of the window.")],
    comment: Annotated[str, typer.Option("--comment", help="Why (shown with the alert).")],
    rule: Annotated[
        str | None, typer.Option("--rule", help="Only this rule (or pattern: '*_drift').")
    ] = None,
    station: Annotated[
        str | None, typer.Option("--station", help="Only this station (or pattern: 'dock-*').")
    ] = None,
    since: Annotated[str | None, typer.Option("--from", help="Start (default now).")] = None,
    by: Annotated[str, typer.Option("--by", help="Who.")] = "cli",
) -> None:
    """Hold notifications back for matching alerts (evaluation goes on)."""
    from monitor.core.queries.silences import add_silence

    settings = settings_from(ctx)
    starts = parse_time(since, "--from") if since else datetime.now(UTC)
    ends = parse_time(until, "--until")
    if ends <= starts:
        raise typer.BadParameter("must be after the start", param_hint="--until")
    with engine_for(settings) as engine, engine.begin() as conn:
        silence_id = add_silence(
            conn,
            rule=rule,
            station_id=station,
            starts_at=starts,
            ends_at=ends,
            created_by=by,
            comment=comment,
        )
    typer.echo(
        f"silence {silence_id}: rule {rule or 'any'}, station {station or 'any'}, "
        f"{starts:%Y-%m-%d %H:%MZ} .. {ends:%Y-%m-%d %H:%MZ}"
    )


@silence_app.command("list")
def silence_list(ctx: typer.Context) -> None:
    """Silences that are active or still to come."""
    from monitor.core.queries.silences import silences_not_over

    settings = settings_from(ctx)
    with engine_for(settings) as engine, engine.connect() as conn:
        rows = silences_not_over(conn, datetime.now(UTC))
    for row in rows:
        typer.echo(
            f"{row.id:>4}  {row.rule or 'any':<16}{row.station_id or 'any':<12}"
            f"{row.starts_at:%Y-%m-%d %H:%MZ} .. {row.ends_at:%Y-%m-%d %H:%MZ}  "
            f"{row.created_by}: {row.comment}"
        )
    if not rows:
        typer.echo("no silences")
