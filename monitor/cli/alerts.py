"""`beltwatch alerts ...`: receivers and the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from monitor.cli.common import engine_for, fail, settings_from

# The registry is light (httpx, no database, no Evidently): imported here so the help
# lists the same channel names routes accept.
from monitor.notifiers import CHANNELS

alerts_app = typer.Typer(help="Alert delivery: receivers and the outbox.", no_args_is_help=True)


@alerts_app.command("test")
def alerts_test(
    ctx: typer.Context,
    channel: Annotated[str, typer.Option("--channel", help=", ".join(CHANNELS))],
) -> None:
    """Send a test message to one receiver and print its answer."""
    import dataclasses

    import httpx

    from monitor.notifiers import AlertNotice, Message
    from monitor.notifiers.base import one_off_message_id
    from monitor.receivers import build_notifiers

    settings = settings_from(ctx)
    notifiers = build_notifiers(settings)  # a ConfigError: exit 2 at the CLI's boundary
    notifier = notifiers.get(channel)
    if notifier is None:
        configured = ", ".join(notifiers) or "none"
        raise fail(f"channel {channel!r} has no receiver configured (configured: {configured})")
    now = datetime.now(UTC)
    notice = AlertNotice.test(channel, now)
    message = Message(
        0, 0, channel, notice.event, notice, created_at=now, message_id=one_off_message_id()
    )
    # A paging tool would keep the test incident open: resolve it right away. The resolve
    # is a message of its own (its own id: a deduplicating receiver must not drop it).
    resolved = dataclasses.replace(notice, event="resolve", resolved_at=now)
    resolve = dataclasses.replace(
        message, event="resolve", payload=resolved, message_id=one_off_message_id()
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


@alerts_app.command("send")
def alerts_send(ctx: typer.Context) -> None:
    """Deliver the outbox's due notifications once and print what was sent, retried, failed.
    (`monitor once`/`backfill` only queue; `monitor run` also drains on its own.)"""
    from monitor.dispatch import Dispatcher
    from monitor.receivers import build_notifiers

    settings = settings_from(ctx)
    notifiers = build_notifiers(settings)  # a ConfigError: exit 2 at the CLI's boundary
    with engine_for(settings) as engine:
        dispatcher = Dispatcher(engine, notifiers, settings)
        try:
            stats = dispatcher.run_once()
        finally:
            dispatcher.close()
    table = Table("row", "channel", "event", "outcome", "detail", box=None)
    for row_id, channel, event, state, detail in stats.rows:
        table.add_row(str(row_id), channel, event, state, detail)
    if stats.rows:
        Console().print(table)
    typer.echo(
        f"{stats.delivered} delivered, {stats.retrying} to retry, {stats.failed} failed"
        + ("" if stats.rows else " (nothing due)")
    )
    if stats.failed:
        raise typer.Exit(1)


@alerts_app.command("list")
def alerts_list(ctx: typer.Context) -> None:
    """Firing alerts, then notifications that are pending or failed."""
    from monitor.core.queries.alerts import firing_alerts
    from monitor.core.queries.notifications import undelivered

    settings = settings_from(ctx)
    with engine_for(settings) as engine, engine.connect() as conn:
        firing, outbox = firing_alerts(conn), undelivered(conn)
    console = Console()
    alerts = Table("id", "severity", "rule", "station", "since", "summary", title="firing alerts")
    for alert in firing:
        alerts.add_row(
            str(alert["id"]),
            alert["severity"],
            alert["rule"],
            alert["station_id"] or "(site)",
            f"{alert['started_at'].astimezone(UTC):%Y-%m-%d %H:%MZ}",
            alert["summary"],
        )
    console.print(alerts if firing else "no firing alerts")
    rows = Table(
        "row", "alert", "channel", "event", "status", "attempts", "next / error",
        title="notifications pending or failed",
    )  # fmt: skip
    for row in outbox:
        after = (
            f"next {row['next_attempt_at'].astimezone(UTC):%Y-%m-%d %H:%M:%SZ}"
            if row["status"] == "pending"
            else ""
        )
        detail = "; ".join(part for part in (after, row["last_error"] or "") if part)
        rows.add_row(
            str(row["id"]), f"{row['rule']}:{row['station_id'] or '(site)'}", row["channel"],
            row["event"], row["status"], str(row["attempts"]), detail,
        )  # fmt: skip
    console.print(rows if outbox else "no notifications pending or failed")
