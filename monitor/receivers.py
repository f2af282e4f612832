"""Builds the configured notifiers from Settings, reporting every configuration error at
once (Alertmanager builds all receivers at start-up the same way)."""

from __future__ import annotations

from monitor.core.exceptions import ConfigError
from monitor.core.settings import Settings
from monitor.notifiers import (
    Notifier,
    NotifierConfigError,
    OpsgenieConfig,
    OpsgenieNotifier,
    PagerDutyConfig,
    PagerDutyNotifier,
    SlackConfig,
    SlackNotifier,
    WebhookConfig,
    WebhookNotifier,
)


def build_notifiers(settings: Settings) -> dict[str, Notifier]:
    """channel name -> notifier, for every receiver with credentials set."""
    builders = {
        "slack": lambda: SlackNotifier(
            SlackConfig(
                webhook_url=settings.slack_webhook_url,  # type: ignore[arg-type]
                send_resolved=settings.slack_send_resolved,
                dashboard_url=settings.dashboard_url,
            )
        ),
        "pagerduty": lambda: PagerDutyNotifier(
            PagerDutyConfig(
                routing_key=settings.pagerduty_routing_key,  # type: ignore[arg-type]
                url=settings.pagerduty_url,
                site=settings.site_name,
                dashboard_url=settings.dashboard_url,
            )
        ),
        "opsgenie": lambda: OpsgenieNotifier(
            OpsgenieConfig(
                api_key=settings.opsgenie_api_key,  # type: ignore[arg-type]
                api_url=settings.opsgenie_api_url,
                dashboard_url=settings.dashboard_url,
            )
        ),
        "webhook": lambda: WebhookNotifier(
            WebhookConfig(
                url=settings.webhook_url,  # type: ignore[arg-type]
                secret=settings.webhook_secret,
                receiver=settings.site_name,
                dashboard_url=settings.dashboard_url,
            )
        ),
    }
    notifiers: dict[str, Notifier] = {}
    problems: list[tuple[str, str]] = []
    for channel in settings.configured_channels:
        try:
            notifiers[channel] = builders[channel]()
        except NotifierConfigError as error:
            problems.append((error.setting, error.message))
    if problems:
        raise ConfigError(problems)
    return notifiers
