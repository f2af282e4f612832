"""Builds the configured notifiers from Settings at start-up, reporting every configuration
error at once, the routes' included (Alertmanager builds all receivers the same way)."""

from __future__ import annotations

from monitor.core.exceptions import ConfigError
from monitor.core.settings import ENV_PREFIX, Settings
from monitor.notifiers import RECEIVERS, Notifier, NotifierConfigError
from monitor.routing import route_problems


def build_notifiers(settings: Settings) -> dict[str, Notifier]:
    """channel name -> notifier, for every receiver whose setting is set; a ConfigError
    naming each bad setting (receivers and routes together) if any is wrong."""
    notifiers: dict[str, Notifier] = {}
    problems: list[tuple[str, str]] = []
    for receiver in RECEIVERS:
        if not receiver.configured(settings):
            continue
        try:
            notifiers[receiver.channel] = receiver.build(settings)
        except NotifierConfigError as error:
            problems.append((_named(error.setting), error.message))
    problems += route_problems(settings)
    if problems:
        raise ConfigError(problems)
    return notifiers


def _named(setting: str) -> str:
    """A setting as ConfigError names it: with its environment variable when it has one."""
    if setting in Settings.model_fields:
        return f"{setting} ({ENV_PREFIX}{setting.upper()})"
    return setting
