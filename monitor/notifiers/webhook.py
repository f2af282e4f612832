"""Generic webhook: Prometheus Alertmanager's webhook body (version "4"), so receivers
written for Alertmanager work unchanged, signed the Standard Webhooks way when a secret
is set.

The body is Alertmanager's (notify/webhook: template data plus version, groupKey and
truncatedAlerts): {version, groupKey, truncatedAlerts, status, receiver, groupLabels,
commonLabels, commonAnnotations, externalURL, alerts: [{status, labels, annotations,
startsAt, endsAt, generatorURL, fingerprint}]}, one alert per message. groupKey is the
episode's dedup key and fingerprint beltwatch's (rule:station, rule@site): both stay the same from
trigger through repeats to resolve. endsAt is "0001-01-01T00:00:00Z" while firing.
Labels (alertname, station, severity, site, fingerprint) and annotations are strings, as
in Alertmanager.

Signing (Standard Webhooks 1.0.0): webhook-id (the message's idempotency key, the same on
every retry), webhook-timestamp (unix seconds of this attempt) and webhook-signature =
"v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) over the exact bytes sent.
A secret "whsec_<base64>" is the spec's own form: the key is the decoded bytes (the spec
asks for at least 24). Any other secret is used as its UTF-8 bytes, for receivers that
share a plain secret. webhook-id and webhook-timestamp go out even unsigned, so a
receiver can drop a retry it has already processed.

Answers: 2xx delivered; 410 means the receiver wants no more; 429 and 5xx retry (honouring
Retry-After); redirects are not followed (point the URL at the new place instead).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
    url_secrets,
)
from monitor.notifiers._render import (
    bounded_evidence,
    dashboard_link,
    dumps,
    flatten,
    lasted,
    rfc3339,
    station,
    summary_of,
)
from monitor.notifiers.base import Message, Receiver

ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: Alertmanager's endsAt while firing
SECRET_PREFIX = "whsec_"
SECRET_MIN_BYTES = 24
EVIDENCE_MAX_BYTES = 16_000  # the evidence annotation (JSON); receivers keep labels small


@dataclass(frozen=True)
class WebhookConfig:
    """One webhook endpoint."""

    url: SecretStr  # a URL often carries a token: treated as a secret
    secret: SecretStr | None = None
    receiver: str = "beltwatch"
    site: str = "site"  # the `site` label: which plant or line these stations belong to
    dashboard_url: str | None = None
    timeout_s: float | None = None  # None: the client's timeout

    def __post_init__(self) -> None:
        url = check_secret("webhook_url", self.url, "the receiver's http:// or https:// URL")
        check_url("webhook_url", url, secret=True, https_only=False)
        object.__setattr__(self, "url", url)
        if self.secret is not None:
            secret = check_secret("webhook_secret", self.secret, "a shared signing secret")
            object.__setattr__(self, "secret", secret)
            signing_key(secret)  # a secret that is not base64 fails here, not at the first send
        check_text("webhook_receiver", self.receiver)
        check_text("site_name", self.site)
        if self.dashboard_url is not None:
            check_url("dashboard_url", self.dashboard_url, secret=False, https_only=False)
        check_timeout("webhook_timeout_s", self.timeout_s)


def signing_key(secret: SecretStr) -> bytes:
    """The HMAC key, as Standard Webhooks defines it: the secret is base64 (padded or
    not), optionally prefixed `whsec_`, and the key is its decoded bytes. Anything else is
    refused when the receiver is built: the official libraries decode every secret, so a
    key used as raw text would make them refuse every signature."""
    raw = secret.get_secret_value().strip()
    encoded = raw.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise NotifierConfigError(
            "webhook_secret",
            f"must be base64, optionally prefixed {SECRET_PREFIX}, as Standard Webhooks "
            f"secrets are (make one: {SECRET_PREFIX}$(openssl rand -base64 32))",
        ) from None
    if len(key) < SECRET_MIN_BYTES:
        raise NotifierConfigError(
            "webhook_secret",
            f"must decode to at least {SECRET_MIN_BYTES} bytes (this one has {len(key)})",
        )
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: "v1," + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


def signature_headers(
    key: bytes | None, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if key is not None:
        headers["webhook-signature"] = sign(key, msg_id, timestamp, body)
    return headers


def render(message: Message, config: WebhookConfig) -> dict[str, Any]:
    """The Alertmanager webhook body (version "4") carrying this one alert."""
    notice = message.payload
    resolved = message.event == "resolve"
    status = "resolved" if resolved else "firing"
    rule, who, fingerprint = notice.rule, station(notice), notice.fingerprint
    labels = {
        "alertname": rule,
        "station": who,
        "severity": notice.severity,
        "site": config.site,
        "fingerprint": fingerprint,
    }
    link = dashboard_link(config.dashboard_url, message.payload)
    alert = {
        "status": status,
        "labels": labels,
        "annotations": _annotations(message),
        "startsAt": rfc3339(notice.started_at),
        "endsAt": (rfc3339(notice.resolved_at) or rfc3339(message.created_at))
        if resolved
        else ZERO_TIME,
        "generatorURL": link or "",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": message.dedup_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": config.receiver,
        "groupLabels": {"alertname": rule, "station": who},
        "commonLabels": dict(labels),
        "commonAnnotations": dict(alert["annotations"]),
        "externalURL": config.dashboard_url or "",
        "alerts": [alert],
    }


def _annotations(message: Message) -> dict[str, str]:
    notice = message.payload
    evidence = notice.evidence
    annotations = {
        "summary": summary_of(notice),
        "description": "\n".join(f"{key}: {value}" for key, value in flatten(evidence)),
        "evidence": dumps(bounded_evidence(evidence, EVIDENCE_MAX_BYTES)).decode("utf-8"),
        "event": message.event,
        "alert_id": str(message.alert_id),
        "hour": notice.hour.isoformat(),
    }
    if evidence.get("provisional_reference"):
        annotations["provisional_reference"] = "true"
    if message.event == "resolve" and (took := lasted(notice.started_at, notice.resolved_at)):
        annotations["duration"] = took
    return annotations


class WebhookNotifier(HttpNotifier):
    """POSTs Alertmanager-style JSON to one URL, signed when a secret is set."""

    config: WebhookConfig

    def __init__(
        self,
        config: WebhookConfig,
        *,
        name: str = "webhook",
        clock: Callable[[], float] = time.time,
    ) -> None:
        secret = config.secret.get_secret_value() if config.secret is not None else ""
        secrets = (*url_secrets(config.url.get_secret_value()), secret)
        super().__init__(config, name=name, secrets=secrets, clock=clock)
        self._key = signing_key(config.secret) if config.secret is not None else None

    def _request(self, message: Message) -> Request:
        body = dumps(render(message, self.config))
        stamp = int(self._clock())
        headers = {
            **JSON_HEADERS,
            **signature_headers(self._key, message.idempotency_key, stamp, body),
        }
        return Request(self.config.url.get_secret_value(), body, headers)


def from_settings(settings: Settings) -> WebhookNotifier:
    """The webhook notifier as the settings configure it (NotifierConfigError if bad)."""
    return WebhookNotifier(
        WebhookConfig(
            url=settings.webhook_url,  # type: ignore[arg-type]  # checked here
            secret=settings.webhook_secret,
            receiver=settings.site_name,
            site=settings.site_name,
            dashboard_url=settings.dashboard_url,
        )
    )


RECEIVER = Receiver(
    channel="webhook",
    setting="webhook_url",
    secrets=("webhook_url", "webhook_secret"),
    build=from_settings,
)
