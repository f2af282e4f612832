"""Opsgenie Alert API: create an alert on trigger (a repeat re-creates it: Opsgenie counts
it on the open alert with the same alias) and close it by alias on resolve.

    create  POST {api_url}/v2/alerts
    close   POST {api_url}/v2/alerts/{alias, URL-encoded}/close?identifierType=alias

Both carry `Authorization: GenieKey <api key>` (the key of an API integration) and JSON.
Opsgenie answers 202 {"result", "took", "requestId"}: the request is valid and will be
processed asynchronously (its outcome is at GET /v2/alerts/requests/{requestId}); the
requestId is kept in Delivery.response. 401 is a bad or disabled key, 402 a plan that
cannot do this, 403 a key without the right; 422 a refused field; 429 a rate limit.

Limits: message 130 characters, alias 512, at most 20 tags of 50 characters (Opsgenie's
"Alerts and alert fields"), description 15000 (its Alert API). Details are string values
(integrations report a 422 for a nested one); 8000 characters of details in all, entity
512 and source 100 are the limits integrations quote, kept here to be safe.

US accounts use https://api.opsgenie.com, EU accounts https://api.eu.opsgenie.com.

Jira Service Management. Opsgenie's API is announced to end on 2027-04-05; its successor
is Jira Service Management Operations, whose "Integration events" API takes the same
bodies and the same `GenieKey` header at https://api.atlassian.com/jsm/ops/integration
(create: POST .../v2/alerts; close by alias: POST .../v2/alerts/{alias}/close
?identifierType=alias, which Atlassian's own issue JSDCLOUD-14179 confirms). To move:
in JSM go to Operations > Settings > Integrations, add an "API" integration, copy its API
key into opsgenie_api_key and set opsgenie_api_url to https://api.atlassian.com/jsm/ops/integration.
Nothing else changes. Any other base URL (a proxy, a test server) works the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr

from monitor.core.settings import Settings
from monitor.notifiers._http import (
    JSON_HEADERS,
    HttpNotifier,
    NotifierConfigError,
    Request,
    check_secret,
    check_text,
    check_timeout,
    check_url,
    excerpt,
    json_body,
    verdict,
)
from monitor.notifiers._render import (
    bounded_key,
    dashboard_link,
    dumps,
    flatten,
    human_time,
    lasted,
    station,
    summary_of,
    truncate,
)
from monitor.notifiers.base import Delivery, Message, Outcome, Reason, Receiver

OPSGENIE_US = "https://api.opsgenie.com"
OPSGENIE_EU = "https://api.eu.opsgenie.com"
JSM_INTEGRATION = "https://api.atlassian.com/jsm/ops/integration"
MESSAGE_MAX = 130
ALIAS_MAX = 512
DESCRIPTION_MAX = 15_000
TAGS_MAX = 20
TAG_MAX = 50
DETAILS_MAX = 8_000  # keys and values together
DETAIL_VALUE_MAX = 500
ENTITY_MAX = 512
SOURCE_MAX = 100
NOTE_MAX = 25_000
PRIORITIES = {"critical": "P1", "warning": "P3", "info": "P5"}  # anything else: P3


@dataclass(frozen=True)
class OpsgenieConfig:
    """One Opsgenie (or Jira Service Management) API integration."""

    api_key: SecretStr
    api_url: str = OPSGENIE_US
    source: str = "beltwatch"
    dashboard_url: str | None = None
    timeout_s: float | None = None  # None: the client's timeout

    def __post_init__(self) -> None:
        key = check_secret(
            "opsgenie_api_key",
            self.api_key,
            "the API key of an API integration (Opsgenie: Settings > Integrations > API)",
        )
        object.__setattr__(self, "api_key", key)
        check_url("opsgenie_api_url", self.api_url, secret=False)
        parts = urlsplit(self.api_url)
        if parts.query or parts.fragment or parts.path.rstrip("/").endswith("/v2/alerts"):
            raise NotifierConfigError(
                "opsgenie_api_url",
                f"expected the base URL without /v2/alerts or a query, such as {OPSGENIE_US}, "
                f"{OPSGENIE_EU} or {JSM_INTEGRATION} (got {self.api_url!r})",
            )
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))
        check_text("opsgenie_source", self.source)
        if self.dashboard_url is not None:
            check_url("dashboard_url", self.dashboard_url, secret=False, https_only=False)
        check_timeout("opsgenie_timeout_s", self.timeout_s)


def alias(message: Message) -> str:
    return bounded_key(message.dedup_key, ALIAS_MAX)


def request_url(message: Message, config: OpsgenieConfig) -> str:
    """Create for every event but "resolve", which closes the alert by its alias."""
    if message.event == "resolve":
        identifier = quote(
            alias(message), safe=""
        )  # "/" and ":" in the key must not split the path
        return f"{config.api_url}/v2/alerts/{identifier}/close?identifierType=alias"
    return f"{config.api_url}/v2/alerts"


def render(message: Message, config: OpsgenieConfig) -> dict[str, Any]:
    """The create body, or for a resolve the close body ({source, note})."""
    notice = message.payload
    summary = summary_of(notice)
    source = truncate(config.source, SOURCE_MAX)
    if message.event == "resolve":
        took = lasted(notice.started_at, notice.resolved_at)
        note = f"Resolved by beltwatch{f' after {took}' if took else ''}. It was: {summary}"
        return {"source": source, "note": truncate(note, NOTE_MAX)}

    if message.event == "test":
        summary = f"[test] {summary}"
    who, rule, severity = station(notice), notice.rule, notice.severity
    link = dashboard_link(config.dashboard_url, message.payload)
    tags = ["beltwatch", rule, who, severity] + (["test"] if message.event == "test" else [])
    return {
        "message": truncate(summary, MESSAGE_MAX),
        "alias": alias(message),
        "description": truncate(_description(message, summary, link), DESCRIPTION_MAX),
        "tags": [truncate("_".join(tag.split()), TAG_MAX) for tag in tags if tag][:TAGS_MAX],
        "details": _details(message, link),
        "entity": truncate(who, ENTITY_MAX),
        "source": source,
        "priority": PRIORITIES.get(severity, "P3"),
    }


def _description(message: Message, summary: str, link: str | None) -> str:
    notice = message.payload
    lines = [
        summary,
        "",
        f"Station: {station(notice)} · rule: {notice.rule} · severity: {notice.severity}",
        f"Firing since {human_time(notice.started_at)}",
        f"Fingerprint: {notice.fingerprint}",
    ]
    if link:
        lines.append(f"Dashboard: {link}")
    if notice.evidence:
        lines += ["", "Evidence:", *(f"{key}: {value}" for key, value in flatten(notice.evidence))]
    return "\n".join(lines)


def _details(message: Message, link: str | None) -> dict[str, str]:
    """Flat string details (a nested value is refused), within the 8000-character budget."""
    notice = message.payload
    meta = {
        "rule": notice.rule,
        "station": station(notice),
        "severity": notice.severity,
        "fingerprint": notice.fingerprint,
        "alert_id": message.alert_id,
        "event": message.event,
        "hour": notice.hour.isoformat(),
        "started_at": notice.started_at.isoformat(),
        "dashboard": link,
    }
    pairs = [(key, str(value)) for key, value in meta.items() if value is not None]
    pairs += [(f"evidence.{key}", value) for key, value in flatten(notice.evidence)]
    details: dict[str, str] = {}
    used = 0
    for key, value in pairs:
        key, value = truncate(key, 100), truncate(value, DETAIL_VALUE_MAX)
        if used + len(key) + len(value) > DETAILS_MAX:
            break
        details[key] = value
        used += len(key) + len(value)
    return details


class OpsgenieNotifier(HttpNotifier):
    """Creates and closes alerts through one Opsgenie (or JSM) API integration."""

    config: OpsgenieConfig

    def __init__(
        self,
        config: OpsgenieConfig,
        *,
        name: str = "opsgenie",
        clock: Callable[[], float] = time.time,
    ) -> None:
        secrets = (config.api_key.get_secret_value(),)
        super().__init__(config, name=name, secrets=secrets, clock=clock)

    def _request(self, message: Message) -> Request:
        headers = {**JSON_HEADERS, "Authorization": f"GenieKey {self._secrets[0]}"}
        body = dumps(render(message, self.config))
        return Request(request_url(message, self.config), body, headers)

    def _verdict(self, response: httpx.Response) -> Delivery:
        data = json_body(response)
        kept = {key: data[key] for key in ("requestId", "result", "took") if key in data}
        if response.is_success:
            return verdict(response, self._clock, data=kept)
        said = excerpt(str(data.get("message") or response.text), self._secrets)
        detail = f"opsgenie: {response.status_code} {said}".strip()
        # 402: the key is valid but the plan cannot do this; an admin must act, not a retry.
        override = (Outcome.GIVE_UP, Reason.AUTH) if response.status_code == 402 else None
        return verdict(response, self._clock, detail=detail, data=kept, override=override)


def from_settings(settings: Settings) -> OpsgenieNotifier:
    """The Opsgenie notifier as the settings configure it (NotifierConfigError if bad)."""
    return OpsgenieNotifier(
        OpsgenieConfig(
            api_key=settings.opsgenie_api_key,  # type: ignore[arg-type]  # checked here
            api_url=settings.opsgenie_api_url,
            dashboard_url=settings.dashboard_url,
        )
    )


RECEIVER = Receiver(
    channel="opsgenie",
    setting="opsgenie_api_key",
    secrets=("opsgenie_api_key",),
    build=from_settings,
)
