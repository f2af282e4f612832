"""`beltwatch`: the command line. Each command parses, builds Settings, calls one function
and prints a readable result; the functions are what the tests call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import sqlalchemy.exc
import typer

from monitor.exceptions import BeltwatchError, ConfigError
from monitor.settings import CONFIG_ENV, Settings, load_settings

app = typer.Typer(
    name="beltwatch",
    help="Monitor for image classifiers on conveyor belts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database: migrations and daily partitions.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@dataclass
class _State:
    config: Path | None


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar=CONFIG_ENV, help="TOML settings file.", show_default=False),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = _State(config=config)


def settings_from(ctx: typer.Context) -> Settings:
    """Build Settings for a command; a bad value ends the command with exit code 2."""
    try:
        return load_settings(ctx.obj.config if ctx.obj else None)
    except ConfigError as error:
        typer.secho(str(error), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or update the schema (alembic upgrade), then the partitions ahead."""
    from monitor.db import dbops

    settings = settings_from(ctx)
    try:
        result = dbops.upgrade(settings, revision)
    except (BeltwatchError, sqlalchemy.exc.SQLAlchemyError) as error:
        raise fail(f"db upgrade failed: {error}") from None
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
    from monitor.db import dbops

    settings = settings_from(ctx)
    if not yes:
        typer.confirm(f"Downgrade to {revision}? Tables and their data may be dropped.", abort=True)
    try:
        result = dbops.downgrade(settings, revision)
    except (BeltwatchError, sqlalchemy.exc.SQLAlchemyError) as error:
        raise fail(f"db downgrade failed: {error}") from None
    typer.echo(f"database {result.url}: revision {result.revision or 'base (empty)'}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the schema revision of the database and the newest the code knows."""
    from monitor.db import dbops

    settings = settings_from(ctx)
    try:
        result = dbops.current(settings)
    except (BeltwatchError, sqlalchemy.exc.SQLAlchemyError) as error:
        raise fail(f"db current failed: {error}") from None
    typer.echo(f"database {result.url}: revision {result.revision or 'none'} (head {result.head})")
    if result.revision != result.head:
        raise typer.Exit(3)


@db_app.command("partitions")
def db_partitions(
    ctx: typer.Context,
    prune: Annotated[
        bool, typer.Option("--prune", help="Drop partitions older than retention_days.")
    ] = False,
) -> None:
    """List the daily partitions of `predictions`; create those ahead; optionally prune."""
    from monitor.db import dbops

    settings = settings_from(ctx)
    try:
        result = dbops.maintain_partitions(settings, today=datetime.now(UTC).date(), prune=prune)
    except (BeltwatchError, sqlalchemy.exc.SQLAlchemyError) as error:
        raise fail(f"db partitions failed: {error}") from None
    for day, rows in result.days:
        typer.echo(f"{day}  ~{rows:,} rows")
    if result.dropped:
        typer.echo(
            f"dropped {len(result.dropped)} partition(s): {result.dropped[0]} .. "
            f"{result.dropped[-1]} (retention {settings.retention_days} days)"
        )


worker_app = typer.Typer(help="The inference worker: model, statistics, log.", no_args_is_help=True)
app.add_typer(worker_app, name="worker")


@worker_app.command("http")
def worker_http(
    ctx: typer.Context,
    sagemaker: Annotated[
        bool,
        typer.Option(
            "--sagemaker", help="SageMaker container contract: /invocations, /ping, port 8080."
        ),
    ] = False,
    port: Annotated[int | None, typer.Option("--port", help="Override the port.")] = None,
) -> None:
    """Serve predictions over HTTP until SIGTERM (a second SIGTERM exits at once)."""
    from inference.exceptions import ModelError
    from inference.runner import run_http

    settings = settings_from(ctx)
    try:
        run_http(settings, sagemaker=sagemaker, port=port)
    except (ModelError, BeltwatchError) as error:
        raise fail(f"worker failed: {error}") from None


@worker_app.command("dir")
def worker_dir(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Folder the cameras drop images into.")],
    once: Annotated[bool, typer.Option("--once", help="Process what is there, then exit.")] = False,
) -> None:
    """Process image files dropped into PATH (see inference/sources/directory.py for naming)."""
    from inference.exceptions import ModelError
    from inference.runner import run_directory

    settings = settings_from(ctx)
    try:
        handled = run_directory(settings, path, once=once)
    except (ModelError, BeltwatchError) as error:
        raise fail(f"worker failed: {error}") from None
    typer.echo(f"{handled} frame(s) processed")


if __name__ == "__main__":
    app()
