"""What every command shares: the root `beltwatch` app and its options, Settings for a
command, an engine for a command, time parsing and the one-line failure."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from monitor.core.exceptions import ConfigError
from monitor.core.settings import CONFIG_ENV, Settings, load_settings

app = typer.Typer(
    name="beltwatch",
    help="Monitor for image classifiers on conveyor belts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


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


def parse_time(value: str, option: str) -> datetime:
    """An ISO 8601 time; 'Z' or an offset required (naive times are ambiguous)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not ISO 8601 (e.g. 2026-11-24T13:00Z)", param_hint=option
        ) from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"{value!r} needs a time zone (e.g. ...Z)", param_hint=option)
    return parsed.astimezone(UTC)


@contextlib.contextmanager
def engine_for(settings: Settings) -> Iterator[Engine]:
    """An engine for one command, disposed when it is done."""
    from monitor.core.db.engine import database_url, make_engine

    engine = make_engine(database_url(settings))
    try:
        yield engine
    finally:
        engine.dispose()
