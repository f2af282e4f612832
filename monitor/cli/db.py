"""`beltwatch db ...`: migrations and the daily partitions of `predictions`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from monitor.cli.common import EXIT_BEHIND, settings_from

db_app = typer.Typer(help="The database: migrations and daily partitions.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or update the schema (alembic upgrade), then the partitions ahead."""
    from monitor.core.db import dbops

    result = dbops.upgrade(settings_from(ctx), revision)
    typer.echo(f"database {result.url}: revision {result.revision}")
    if result.partitions:
        typer.echo(
            f"daily partitions of predictions: {result.partitions[0]} .. {result.partitions[-1]}"
        )


@db_app.command("downgrade")
def db_downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help='Target revision ("base" drops everything).')],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Take the schema down to REVISION. Dropping tables drops their data."""
    from monitor.core.db import dbops

    settings = settings_from(ctx)
    if not yes:
        typer.confirm(f"Downgrade to {revision}? Tables and their data may be dropped.", abort=True)
    result = dbops.downgrade(settings, revision)
    typer.echo(f"database {result.url}: revision {result.revision or 'base (empty)'}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the schema revision of the database and the newest the code knows (exit code 3:
    the database is behind)."""
    from monitor.core.db import dbops

    result = dbops.current(settings_from(ctx))
    typer.echo(f"database {result.url}: revision {result.revision or 'none'} (head {result.head})")
    if result.revision != result.head:
        raise typer.Exit(EXIT_BEHIND)


@db_app.command("partitions")
def db_partitions(
    ctx: typer.Context,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Drop partitions older than retention_days, drift reports older than "
            "reports_retention_days.",
        ),
    ] = False,
) -> None:
    """List the daily partitions of `predictions`; create those ahead; optionally prune."""
    from monitor.core.db import dbops

    settings = settings_from(ctx)
    result = dbops.maintain_partitions(settings, today=datetime.now(UTC).date(), prune=prune)
    for day, rows in result.days:
        typer.echo(f"{day}  ~{rows:,} rows")
    if result.dropped:
        typer.echo(
            f"dropped {len(result.dropped)} partition(s): {result.dropped[0]} .. "
            f"{result.dropped[-1]} (retention {settings.retention_days} days)"
        )
    if result.reports_deleted:
        typer.echo(
            f"deleted the drift reports of {len(result.reports_deleted)} hour(s): "
            f"{result.reports_deleted[0]} .. {result.reports_deleted[-1]} "
            f"(retention {settings.reports_retention_days} days)"
        )
