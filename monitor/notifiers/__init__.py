"""Receivers for alert notifications: one module per service, one small interface.

Each notifier is built from its own frozen config, checked when built (a bad or missing
setting raises NotifierConfigError naming it, never echoing a secret), and makes exactly
one HTTP attempt per `send`, returning a Delivery; retries, backoff, routing and the
outbox belong to the dispatcher. Adding a receiver is one module and one line below.
"""

from __future__ import annotations

from monitor.notifiers._http import NotifierConfigError, guard_httpx_logging
from monitor.notifiers.base import Delivery, Message, Notifier, Outcome, Reason
from monitor.notifiers.opsgenie import OpsgenieConfig, OpsgenieNotifier
from monitor.notifiers.pagerduty import PagerDutyConfig, PagerDutyNotifier
from monitor.notifiers.slack import SlackConfig, SlackNotifier
from monitor.notifiers.webhook import WebhookConfig, WebhookNotifier

# type name -> notifier class; the notifier's config class is CONFIG_TYPES[type name].
NOTIFIER_TYPES: dict[str, type] = {
    "slack": SlackNotifier,
    "pagerduty": PagerDutyNotifier,
    "opsgenie": OpsgenieNotifier,
    "webhook": WebhookNotifier,
}
CONFIG_TYPES: dict[str, type] = {
    "slack": SlackConfig,
    "pagerduty": PagerDutyConfig,
    "opsgenie": OpsgenieConfig,
    "webhook": WebhookConfig,
}

__all__ = [
    "CONFIG_TYPES",
    "NOTIFIER_TYPES",
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
    "SlackConfig",
    "SlackNotifier",
    "WebhookConfig",
    "WebhookNotifier",
    "guard_httpx_logging",
]
