"""PagerDuty Events API v2: trigger (and re-trigger) and resolve events, deduplicated on
the alert episode.

One POST to `url` (https://events.pagerduty.com/v2/enqueue), JSON, no auth header: the
routing key (the 32-character integration key of an "Events API v2" integration) travels
in the body, so the body is never logged. PagerDuty answers 202 {"status": "success",
"dedup_key": ...}; 400 means an invalid event (do not retry); 429 and 5xx mean retry later
(about 120 events a minute per routing key). A trigger whose dedup_key matches an open
alert adds to it, so a repeat is another trigger; once the alert is resolved a trigger
with the same key opens a new one and a resolve is dropped.

Fields (developer.pagerduty.com, events-api-v2, "Send an Alert Event"): dedup_key <= 255
characters; payload.summary <= 1024, source, severity (critical, error, warning, info),
timestamp, component, group, class, custom_details; links [{href, text}], client and
client_url at the top level. An event is limited to 512 KB, so the evidence is bounded.
A resolve carries only {routing_key, dedup_key, event_action}.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
    bounded_evidence,
    bounded_key,
    dashboard_link,
    dumps,
    rfc3339,
    station,
    summary_of,
    truncate,
)
from monitor.notifiers.base import Delivery, Message, Receiver

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
ROUTING_KEY_LENGTH = 32
DEDUP_KEY_MAX = 255
SUMMARY_MAX = 1024
EVIDENCE_MAX_BYTES = 256_000  # half of PagerDuty's 512 KB event limit
# beltwatch severity -> PagerDuty severity; anything unknown pages as "error".
SEVERITIES = {"critical": "critical", "warning": "warning", "info": "info"}


@dataclass(frozen=True)
class PagerDutyConfig:
    """One PagerDuty service integration (Events API v2)."""

    routing_key: SecretStr
    url: str = EVENTS_URL
    source: str = "beltwatch"
    site: str = "site"  # payload.group: the plant or line these stations belong to
    dashboard_url: str | None = None
    timeout_s: float | None = None  # None: the client's timeout

    def __post_init__(self) -> None:
        key = check_secret(
            "pagerduty_routing_key",
            self.routing_key,
            "the integration key of an Events API v2 integration on your PagerDuty service",
        )
        length = len(key.get_secret_value())
        if length != ROUTING_KEY_LENGTH:
            raise NotifierConfigError(
                "pagerduty_routing_key",
                f"expected the {ROUTING_KEY_LENGTH}-character integration key of an Events "
                f"API v2 integration (this one has {length} characters)",
            )
        object.__setattr__(self, "routing_key", key)
        check_url("pagerduty_url", self.url, secret=False)
        check_text("pagerduty_source", self.source)
        check_text("site_name", self.site)
        if self.dashboard_url is not None:
            check_url("dashboard_url", self.dashboard_url, secret=False, https_only=False)
        check_timeout("pagerduty_timeout_s", self.timeout_s)


def render(message: Message, config: PagerDutyConfig) -> dict[str, Any]:
    """The event: a resolve for "resolve", else a trigger (repeat and test included)."""
    routing_key = config.routing_key.get_secret_value()
    dedup_key = bounded_key(message.dedup_key, DEDUP_KEY_MAX)
    if message.event == "resolve":
        return {"routing_key": routing_key, "dedup_key": dedup_key, "event_action": "resolve"}

    notice = message.payload
    summary = summary_of(notice)
    if message.event == "test":
        summary = f"[test] {summary}"
    details = {
        "summary": summary,
        "rule": notice.rule,
        "station": station(notice),
        "fingerprint": notice.fingerprint,
        "alert_id": message.alert_id,
        "event": message.event,
        "hour": notice.hour.isoformat(),
        "started_at": notice.started_at.isoformat(),
        "evidence": bounded_evidence(notice.evidence, EVIDENCE_MAX_BYTES),
    }
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": truncate(summary, SUMMARY_MAX),
            "source": config.source,
            "severity": SEVERITIES.get(notice.severity, "error"),
            "timestamp": rfc3339(message.created_at),
            "component": station(notice),
            "group": config.site,
            "class": notice.rule,
            "custom_details": details,
        },
        "client": "beltwatch",
    }
    link = dashboard_link(config.dashboard_url, message.payload)
    if link:
        body["client_url"] = config.dashboard_url
        body["links"] = [{"href": link, "text": "This alert in the beltwatch dashboard"}]
    return body


class PagerDutyNotifier(HttpNotifier):
    """Sends Events API v2 events to one PagerDuty integration."""

    config: PagerDutyConfig

    def __init__(
        self,
        config: PagerDutyConfig,
        *,
        name: str = "pagerduty",
        clock: Callable[[], float] = time.time,
    ) -> None:
        secrets = (config.routing_key.get_secret_value(),)
        super().__init__(config, name=name, secrets=secrets, clock=clock)

    def _request(self, message: Message) -> Request:
        return Request(self.config.url, dumps(render(message, self.config)), JSON_HEADERS)

    def _verdict(self, response: httpx.Response) -> Delivery:
        data = json_body(response)
        kept = {key: data[key] for key in ("status", "message", "dedup_key") if key in data}
        if response.is_success:
            return verdict(response, self._clock, data=kept)
        errors = data.get("errors")
        errors = errors if isinstance(errors, list) else [errors]
        said = " ".join(str(part) for part in (data.get("message"), *errors) if part)
        said = excerpt(said or response.text, self._secrets)
        detail = f"pagerduty: {response.status_code} {said}".strip()
        return verdict(response, self._clock, detail=detail)


def from_settings(settings: Settings) -> PagerDutyNotifier:
    """The PagerDuty notifier as the settings configure it (NotifierConfigError if bad)."""
    return PagerDutyNotifier(
        PagerDutyConfig(
            routing_key=settings.pagerduty_routing_key,  # type: ignore[arg-type]  # checked here
            url=settings.pagerduty_url,
            site=settings.site_name,
            dashboard_url=settings.dashboard_url,
        )
    )


RECEIVER = Receiver(
    channel="pagerduty",
    setting="pagerduty_routing_key",
    secrets=("pagerduty_routing_key",),
    build=from_settings,
)
