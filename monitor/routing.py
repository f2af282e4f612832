"""Which channels an alert's notification goes to, and the matching silences share.

Routes (`alert_routes`) are tried in order and the first that matches picks the channels;
no route matching means every configured channel. A route or silence field is a shell
pattern (`*_drift`, `dock-*`); an empty one (None) or `*` matches anything, a site-wide
alert (no station) included, which only those match. Channels come from the receiver
registry (`monitor.notifiers.RECEIVERS`), so a route is checked against the same list
that builds the notifiers.
"""

from __future__ import annotations

import fnmatch

from monitor.core.exceptions import ConfigError
from monitor.core.settings import ENV_PREFIX, Route, Settings
from monitor.notifiers import CHANNELS, RECEIVERS
from monitor.notifiers.base import Receiver

ROUTES_SETTING = f"alert_routes ({ENV_PREFIX}ALERT_ROUTES)"
_BY_CHANNEL: dict[str, Receiver] = {receiver.channel: receiver for receiver in RECEIVERS}


def matches(pattern: str | None, value: str | None) -> bool:
    """One field of a route or silence against one value of an alert."""
    if pattern is None or pattern == "*":
        return True
    return value is not None and fnmatch.fnmatchcase(value, pattern)


def route_matches(route: Route, rule: str, severity: str, station: str | None) -> bool:
    """Whether every field of the route matches the alert."""
    return (
        matches(route.rule, rule)
        and matches(route.severity, severity)
        and matches(route.station, station)
    )


def configured_channels(settings: Settings) -> list[str]:
    """Channels whose receiver's setting is set, in the registry's order."""
    return [receiver.channel for receiver in RECEIVERS if receiver.configured(settings)]


def channels_for(
    settings: Settings, rule: str, severity: str, station: str | None, event: str = "trigger"
) -> list[str]:
    """The configured channels one notification goes to (first matching route; no route
    matching: all). A resolve skips receivers that do not take them (Slack unless asked)."""
    configured = configured_channels(settings)
    channels = configured
    for route in settings.alert_routes:
        if route_matches(route, rule, severity, station):
            channels = [channel for channel in route.channels if channel in configured]
            break
    if event == "resolve":
        channels = [c for c in channels if _BY_CHANNEL[c].sends_resolved(settings)]
    return channels


def route_problems(settings: Settings) -> list[tuple[str, str]]:
    """Every route channel that is unknown or has no receiver configured, as ConfigError
    problems naming the setting."""
    configured = set(configured_channels(settings))
    problems = []
    for route in settings.alert_routes:
        for channel in route.channels:
            if channel not in CHANNELS:
                known = ", ".join(CHANNELS)
                message = f"route channel {channel!r} unknown; expected one of {known}"
            elif channel not in configured:
                setting = f"{ENV_PREFIX}{_BY_CHANNEL[channel].setting.upper()}"
                message = f"route channel {channel!r} has no receiver configured (set {setting})"
            else:
                continue
            problems.append((ROUTES_SETTING, message))
    return problems


def check_routes(settings: Settings) -> None:
    """Raise a ConfigError listing every bad route channel; nothing if all are fine."""
    if problems := route_problems(settings):
        raise ConfigError(problems)
