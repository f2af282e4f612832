"""`beltwatch alerts ...`: receivers and the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from monitor.cli.common import fail, settings_from

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
