"""Receivers for alert notifications: one module per service, one small interface.

Each notifier is built from its own frozen config, checked when built (a bad or missing
setting raises NotifierConfigError naming it, never echoing a secret), and makes exactly
one HTTP attempt per `send`, returning a Delivery; retries, backoff, routing and the
outbox belong to the dispatcher. Each module declares its `RECEIVER` (channel name, the
setting that turns it on, its secrets, how it is built from Settings); RECEIVERS below is
the one list that channels, routes, their validation, `build_notifiers` and the CLI read.
Adding a receiver is one module and one line below.
"""

from __future__ import annotations

from monitor.notifiers import alertmanager, console, opsgenie, pagerduty, slack, webhook
from monitor.notifiers._http import NotifierConfigError, guard_httpx_logging
from monitor.notifiers.base import (
    AlertNotice,
    Delivery,
    Message,
    Notifier,
    Outcome,
    Reason,
    Receiver,
)
from monitor.notifiers.opsgenie import OpsgenieConfig, OpsgenieNotifier
from monitor.notifiers.pagerduty import PagerDutyConfig, PagerDutyNotifier
from monitor.notifiers.slack import SlackConfig, SlackNotifier
from monitor.notifiers.webhook import WebhookConfig, WebhookNotifier

# The order is the order of "every configured channel" when no route matches.
RECEIVERS: tuple[Receiver, ...] = (
    slack.RECEIVER,
    pagerduty.RECEIVER,
    opsgenie.RECEIVER,
    webhook.RECEIVER,
    alertmanager.RECEIVER,
    console.RECEIVER,
)
CHANNELS: tuple[str, ...] = tuple(receiver.channel for receiver in RECEIVERS)

__all__ = [
    "CHANNELS",
    "RECEIVERS",
    "AlertNotice",
    "Delivery",
    "Message",
    "Notifier",
    "NotifierConfigError",
    "OpsgenieConfig",
    "OpsgenieNotifier",
    "Outcome",
    "PagerDutyConfig",
    "PagerDutyNotifier",
    "Reason",
    "Receiver",
    "SlackConfig",
    "SlackNotifier",
    "WebhookConfig",
    "WebhookNotifier",
    "guard_httpx_logging",
]
