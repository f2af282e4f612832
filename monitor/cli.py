"""`beltwatch`: the command line. Each command parses, builds Settings, calls one function
and prints a readable result; the functions are what the tests call.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import sqlalchemy
import sqlalchemy.exc
import typer
from sqlalchemy import Engine

from inference.training.cli import model_app
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
# The model pipeline's commands import torch only when they run (the `train` extra).
app.add_typer(model_app, name="model", help="Train, export, quantize and evaluate models.")


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


monitor_app = typer.Typer(help="The hourly monitor: rollups, rules, alerts.", no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")
baseline_app = typer.Typer(help="Reference profiles of the stations.", no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")
silence_app = typer.Typer(
    help="Maintenance windows that hold notifications back.", no_args_is_help=True
)
app.add_typer(silence_app, name="silence")


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
def _engine(settings: Settings) -> Iterator[Engine]:
    """An engine for one command, disposed when it is done."""
    from monitor.db.engine import database_url, make_engine

    engine = make_engine(database_url(settings))
    try:
        yield engine
    finally:
        engine.dispose()


def _print_hours(outcome) -> None:
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
        for change in hour.changes:
            if change.event:
                typer.echo(f"    -> {change.event}: {change.fingerprint}")
    if not outcome.hours:
        typer.echo("no hour due")


@monitor_app.command("run")
def monitor_run(ctx: typer.Context) -> None:
    """Run the hourly monitor until SIGTERM (catches up missed hours at start)."""
    from monitor.scheduler import run_forever

    settings = settings_from(ctx)
    try:
        with _engine(settings) as engine:
            run_forever(engine, settings)
    except ConfigError as error:
        typer.secho(str(error), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


@monitor_app.command("once")
def monitor_once(
    ctx: typer.Context,
    hour: Annotated[
        str | None,
        typer.Option("--hour", help="The hour, e.g. 2026-11-24T13:00Z (default: every due hour)."),
    ] = None,
) -> None:
    """Process one hour now (or every due hour)."""
    from datetime import timedelta

    from monitor.hourly import run_due, run_range

    settings = settings_from(ctx)
    with _engine(settings) as engine:
        if hour is None:
            outcome = run_due(engine, settings)
        else:
            start = parse_time(hour, "--hour")
            outcome = run_range(engine, settings, start, start + timedelta(hours=1), redo=True)
    _print_hours(outcome)
    if any(not h.ok for h in outcome.hours):
        raise typer.Exit(1)


@monitor_app.command("backfill")
def monitor_backfill(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="First hour, e.g. 2026-11-20T00:00Z.")],
    until: Annotated[str, typer.Option("--until", help="End (exclusive).")],
    redo: Annotated[bool, typer.Option("--redo", help="Also hours already done.")] = False,
) -> None:
    """Process the hours in [--since, --until) that are not done yet."""
    from monitor.hourly import run_range

    settings = settings_from(ctx)
    with _engine(settings) as engine:
        outcome = run_range(
            engine, settings, parse_time(since, "--since"), parse_time(until, "--until"), redo=redo
        )
    _print_hours(outcome)
    if any(not h.ok for h in outcome.hours):
        raise typer.Exit(1)


@baseline_app.command("set")
def baseline_set(
    ctx: typer.Context,
    station: Annotated[str, typer.Option("--station", help="Station id.")],
    since: Annotated[str, typer.Option("--since", help="Start of a known-good window.")],
    until: Annotated[str, typer.Option("--until", help="End of it (exclusive).")],
) -> None:
    """Store the station's reference profile from a known-good window."""
    from monitor.reference import NoData, build_reference

    settings = settings_from(ctx)
    with _engine(settings) as engine, engine.begin() as conn:
        try:
            reference = build_reference(
                conn,
                station,
                parse_time(since, "--since"),
                parse_time(until, "--until"),
                sample_size=settings.reference_sample_size,
            )
        except NoData as error:
            raise fail(str(error)) from None
    _print_reference(reference)


@baseline_app.command("show")
def baseline_show(
    ctx: typer.Context, station: Annotated[str, typer.Option("--station", help="Station id.")]
) -> None:
    """Print a station's reference profile."""
    from monitor.reference import load_reference

    settings = settings_from(ctx)
    with _engine(settings) as engine, engine.connect() as conn:
        reference = load_reference(conn, station)
    if reference is None:
        raise fail(f"station {station} has no reference profile; `beltwatch baseline set`")
    _print_reference(reference)


def _print_reference(reference) -> None:
    kind = "PROVISIONAL " if reference.provisional else ""
    typer.echo(
        f"{kind}reference of station {reference.station_id}: {reference.n:,} predictions, "
        f"{reference.hourly_volume or 0:,.0f} per hour"
    )
    mix = ", ".join(f"{cls} {share:.1%}" for cls, share in reference.class_mix.items())
    typer.echo(f"class mix: {mix}")
    typer.echo(f"{'statistic':<20}{'p05':>10}{'p50':>10}{'p95':>10}{'hourly sd':>12}")
    for column, q in reference.quantiles.items():
        sd = (reference.hourly_spread.get(column) or {}).get("sd")
        typer.echo(
            f"{column:<20}{q['p05']:>10.3g}{q['p50']:>10.3g}{q['p95']:>10.3g}"
            f"{sd if sd is not None else float('nan'):>12.3g}"
        )


@silence_app.command("add")
def silence_add(
    ctx: typer.Context,
    until: Annotated[str, typer.Option("--until", help="End of the window.")],
    comment: Annotated[str, typer.Option("--comment", help="Why (shown with the alert).")],
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule.")] = None,
    station: Annotated[str | None, typer.Option("--station", help="Only this station.")] = None,
    since: Annotated[str | None, typer.Option("--from", help="Start (default now).")] = None,
    by: Annotated[str, typer.Option("--by", help="Who.")] = "cli",
) -> None:
    """Hold notifications back for matching alerts (evaluation goes on)."""
    from monitor.db.models import Silence

    settings = settings_from(ctx)
    starts = parse_time(since, "--from") if since else datetime.now(UTC)
    ends = parse_time(until, "--until")
    if ends <= starts:
        raise typer.BadParameter("must be after the start", param_hint="--until")
    with _engine(settings) as engine, engine.begin() as conn:
        silence_id = conn.execute(
            sqlalchemy.insert(Silence)
            .values(
                rule=rule,
                station_id=station,
                starts_at=starts,
                ends_at=ends,
                created_by=by,
                comment=comment,
            )
            .returning(Silence.id)
        ).scalar_one()
    typer.echo(
        f"silence {silence_id}: rule {rule or 'any'}, station {station or 'any'}, "
        f"{starts:%Y-%m-%d %H:%MZ} .. {ends:%Y-%m-%d %H:%MZ}"
    )


@silence_app.command("list")
def silence_list(ctx: typer.Context) -> None:
    """Silences that are active or still to come."""
    from monitor.db.models import Silence

    settings = settings_from(ctx)
    with _engine(settings) as engine, engine.connect() as conn:
        rows = conn.execute(
            sqlalchemy.select(Silence)
            .where(Silence.ends_at > datetime.now(UTC))
            .order_by(Silence.starts_at)
        ).all()
    for row in rows:
        typer.echo(
            f"{row.id:>4}  {row.rule or 'any':<16}{row.station_id or 'any':<12}"
            f"{row.starts_at:%Y-%m-%d %H:%MZ} .. {row.ends_at:%Y-%m-%d %H:%MZ}  "
            f"{row.created_by}: {row.comment}"
        )
    if not rows:
        typer.echo("no silences")


alerts_app = typer.Typer(help="Alert delivery: receivers and the outbox.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("test")
def alerts_test(
    ctx: typer.Context,
    channel: Annotated[str, typer.Option("--channel", help="slack, pagerduty, opsgenie, webhook")],
) -> None:
    """Send a test message to one receiver and print its answer."""
    from monitor.notifiers import Message
    from monitor.receivers import build_notifiers

    settings = settings_from(ctx)
    try:
        notifiers = build_notifiers(settings)
    except ConfigError as error:
        typer.secho(str(error), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    notifier = notifiers.get(channel)
    if notifier is None:
        configured = ", ".join(notifiers) or "none"
        raise fail(f"channel {channel!r} has no receiver configured (configured: {configured})")
    now = datetime.now(UTC)
    message = Message(
        notification_id=0,
        alert_id=0,
        channel=channel,
        event="test",
        payload={
            "fingerprint": "test:beltwatch",
            "rule": "test",
            "station_id": None,
            "severity": "info",
            "status": "firing",
            "summary": f"beltwatch test message to {channel}: delivery works",
            "evidence": {"sent_at": now.isoformat()},
            "hour": now.isoformat(),
            "started_at": now.isoformat(),
            "resolved_at": None,
        },
        created_at=now,
    )
    import dataclasses

    import httpx

    # A paging tool would keep the test incident open: resolve it right away.
    resolve = dataclasses.replace(
        message,
        event="resolve",
        payload={**message.payload, "status": "resolved", "resolved_at": now.isoformat()},
    )
    failed = False
    with httpx.Client(timeout=settings.notify_timeout_s) as client:
        for sent in (message, resolve):
            if sent.event == "resolve" and not notifier.sends_resolved:
                continue
            delivery = notifier.send(sent, client)
            status = delivery.status_code if delivery.status_code is not None else "-"
            typer.echo(
                f"{channel} {sent.event}: {delivery.outcome.value} "
                f"({delivery.reason.value}), HTTP {status}"
            )
            if delivery.detail:
                typer.echo(f"  {delivery.detail}")
            if delivery.response:
                typer.echo(f"  response: {delivery.response}")
            failed = failed or not delivery.delivered
            if failed:
                break
    if failed:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
