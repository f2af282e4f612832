"""What every command shares: the root `beltwatch` app and its options, the error boundary
(one line and an exit code per failure class), Settings for a command, an engine for a
command and time parsing."""

from __future__ import annotations

import contextlib
import difflib
import getpass
import logging
import re
import traceback
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import click
import psycopg
import sqlalchemy.exc
import typer
from sqlalchemy import Engine
from typer.core import TyperGroup

from inference.exceptions import ModelError
from monitor.core.exceptions import BeltwatchError, ConfigError, DatabaseError
from monitor.core.settings import CONFIG_ENV, Settings, load_settings

# Exit codes, one per failure class (README, "Command line"). 2 is also what Typer answers
# a usage error with: both mean "fix how beltwatch is called or configured".
EXIT_FAILED = 1  # the command failed: the line says what and what to check
EXIT_CONFIG = 2
EXIT_BEHIND = 3  # `db current`: the schema is older than the code

_CHECK_DATABASE = "check BELTWATCH_DATABASE_URL and that the server is running"
_CHECK_MODEL = "check BELTWATCH_MODEL_PATH and the metadata file beside the model"

# The first match names the failure; order matters (DatabaseError is a BeltwatchError).
# (kinds, label, what to check, exit code)
_FAILURE_CLASSES: tuple[
    tuple[type[Exception] | tuple[type[Exception], ...], str, str | None, int], ...
] = (
    (ConfigError, "invalid configuration", None, EXIT_CONFIG),
    (
        (DatabaseError, sqlalchemy.exc.OperationalError, psycopg.OperationalError),
        "database unreachable",
        _CHECK_DATABASE,
        EXIT_FAILED,
    ),
    (sqlalchemy.exc.SQLAlchemyError, "database error", None, EXIT_FAILED),
    (ModelError, "model unusable", _CHECK_MODEL, EXIT_FAILED),
    (BeltwatchError, "error", None, EXIT_FAILED),
)

# user:password@ in any URL a driver or library put into its message.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")


def failure_line(error: Exception) -> tuple[str, int] | None:
    """The one line and exit code for an expected failure; None for anything else (a bug)."""
    for kinds, label, check, code in _FAILURE_CLASSES:
        if isinstance(error, kinds):
            hint = f" ({check})" if check else ""
            return f"{label}: {_one_line(error)}{hint}", code
    return None


def _one_line(error: Exception) -> str:
    if isinstance(error, ConfigError):
        text = "; ".join(f"{setting}: {message}" for setting, message in error.problems)
    else:
        if isinstance(error, sqlalchemy.exc.DBAPIError) and error.orig is not None:
            error = error.orig  # the driver's words, without SQLAlchemy's SQL and parameters
        text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return _URL_PASSWORD.sub(r"\1***@", text)


# The root's own options, which every command takes wherever they stand on the line.
_GLOBAL_VALUE_OPTIONS = frozenset({"--config"})
_GLOBAL_FLAGS = frozenset({"--verbose", "-v"})


def lift_global_options(root: TyperGroup, ctx: typer.Context, args: list[str]) -> list[str]:
    """`args` with the root's `--config PATH`/`--config=PATH` and `-v`/`--verbose` moved to
    the front, wherever they were given (`beltwatch monitor once --config x.toml`).

    The line is walked the way Click will parse it: through each group to its subcommand,
    skipping every value of another option (`--comment -v` keeps its `-v`), and stopping at
    `--`. An option of the same name that a command declares itself stays that command's.
    (Typer's own Click is duck-typed here: it is not the `click` package.)
    """
    lifted: list[str] = []
    rest: list[str] = []
    command: Any = root
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if token == "--":
            rest.extend(args[index - 1 :])
            break
        name = token.split("=", 1)[0]
        own = _takes_values(command, ctx)
        if command is not root and name not in own and token not in _flags(command, ctx):
            if name in _GLOBAL_VALUE_OPTIONS:
                if "=" in token:
                    lifted.append(token)
                elif index < len(args):
                    lifted.extend((token, args[index]))
                    index += 1
                elif ctx.resilient_parsing:  # shell completion of `--config <TAB>`
                    rest.append(token)
                else:
                    raise typer.BadParameter(
                        "a TOML file is required", ctx, param_hint=f"'{token}'"
                    )
                continue
            if token in _GLOBAL_FLAGS:
                lifted.append(token)
                continue
        rest.append(token)
        if token.startswith("-") and len(token) > 1:
            if "=" not in token and name in own:  # its values follow: never ours
                rest.extend(args[index : index + own[name]])
                index += own[name]
            continue
        if hasattr(command, "get_command"):  # a group: the token names its subcommand
            subcommand = command.get_command(ctx, token)
            if subcommand is not None:
                command = subcommand
    return lifted + rest


def _options(command: Any, ctx: typer.Context) -> list[Any]:
    return [param for param in command.get_params(ctx) if param.param_type_name == "option"]


def _takes_values(command: Any, ctx: typer.Context) -> dict[str, int]:
    """Each option name of `command` that takes values -> how many tokens follow it."""
    found: dict[str, int] = {}
    for param in _options(command, ctx):
        if not (param.is_flag or param.count):
            for name in (*param.opts, *param.secondary_opts):
                found[name] = param.nargs
    return found


def _flags(command: Any, ctx: typer.Context) -> set[str]:
    """The option names of `command` that take no value (its own `-v`, if it had one)."""
    return {
        name
        for param in _options(command, ctx)
        if param.is_flag or param.count
        for name in (*param.opts, *param.secondary_opts)
    }


class ErrorBoundary(TyperGroup):
    """The root group: every command runs inside it, so an expected failure ends the
    process with one red line and its exit code (the traceback too with `-v`). The root's
    options are taken anywhere on the line (lift_global_options)."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, lift_global_options(self, ctx, args))

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as error:
            failure = failure_line(error)
            if failure is None:
                raise
            if ctx.params.get("verbose"):
                traceback.print_exception(error)
            typer.secho(failure[0], fg=typer.colors.RED, err=True)
            raise typer.Exit(failure[1]) from None


app = typer.Typer(
    name="beltwatch",
    help="Monitor for image classifiers on conveyor belts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ErrorBoundary,
)


@dataclass
class _State:
    config: Path | None


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar=CONFIG_ENV,
            help="TOML settings file (before or after the command).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Log more; show the traceback of a failure (anywhere)."
        ),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = _State(config=config)


def settings_from(ctx: typer.Context) -> Settings:
    """Build Settings for a command (a bad value: ConfigError, exit code 2 at the boundary)."""
    return load_settings(config_path(ctx))


def config_path(ctx: typer.Context) -> Path | None:
    """The settings file given by `--config` or BELTWATCH_CONFIG, if any."""
    return ctx.obj.config if ctx.obj else None


def login_name() -> str:
    """The login name a command's `--by` defaults to; '' where the system has none (a container's
    numeric user), and the command then asks for `--by`."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def fail(message: str) -> typer.Exit:
    """Print a command's own refusal as one red line; raise the result (exit code 1)."""
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(EXIT_FAILED)


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


NAMES_LISTED = 12  # a refusal lists this many known names, the closest first


def unmatched(kind: str, pattern: str | None, known: Collection[str], where: str) -> str | None:
    """Why `pattern` matches none of the `known` names (the closest first), or None when it
    matches one (or everything: no pattern, `*`)."""
    from monitor.routing import matches

    if pattern in (None, "*") or any(matches(pattern, name) for name in known):
        return None
    if not known:
        return f"{kind} {pattern!r} matches no {kind}: none {where} yet"
    close = difflib.get_close_matches(pattern, sorted(known), n=NAMES_LISTED, cutoff=0.5)
    ordered = close + sorted(set(known) - set(close))
    listed = ", ".join(ordered[:NAMES_LISTED])
    if len(ordered) > NAMES_LISTED:
        listed += f" and {len(ordered) - NAMES_LISTED} more"
    return f"{kind} {pattern!r} matches no {kind} {where}; known: {listed}"
