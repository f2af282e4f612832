"""The interface every receiver implements: one attempt at one message, and a verdict.

A notifier never retries, sleeps or touches the database: the dispatcher owns retries,
backoff, the outbox and metrics (Alertmanager's split between integrations and its retry
stage). `Delivery.reason` doubles as the log and metric label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import httpx


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # try again later (429, 5xx, timeout, connection refused)
    GIVE_UP = "give_up"  # retrying cannot help (400, 401/403, 404, a payload refused)


class Reason(StrEnum):
    OK = "ok"
    RATE_LIMITED = "rate_limited"  # 429
    SERVER_ERROR = "server_error"  # 5xx
    TIMEOUT = "timeout"
    CONNECTION = "connection_error"
    AUTH = "auth_error"  # 401, 403
    NOT_FOUND = "not_found"  # 404, 410 (a deleted Slack webhook, a wrong integration)
    REJECTED = "rejected"  # 400, 422: the receiver refuses this payload
    UNEXPECTED = "unexpected_status"  # any other status


@dataclass(frozen=True)
class Message:
    """One outbox row, as a notifier sees it."""

    notification_id: int
    alert_id: int
    channel: str
    event: str  # "trigger", "repeat", "resolve" or "test"
    # What the alert manager queued: fingerprint, rule, station_id, severity, status,
    # summary, evidence, hour, started_at, resolved_at (ISO 8601 strings).
    payload: dict[str, Any]
    created_at: datetime

    @property
    def dedup_key(self) -> str:
        """Stable for one alert episode: trigger, repeats and resolve share it, and a
        re-send after a crash carries it again, so the receiver deduplicates."""
        return f"beltwatch/{self.payload['fingerprint']}/{self.alert_id}"

    @property
    def idempotency_key(self) -> str:
        """Stable for this one message across retries (Standard Webhooks' webhook-id)."""
        return f"msg_beltwatch_{self.notification_id}"


@dataclass(frozen=True)
class Delivery:
    """The verdict of one attempt."""

    outcome: Outcome
    reason: Reason
    status_code: int | None = None
    retry_after_s: float | None = None  # from a Retry-After header (429, 503)
    detail: str = ""  # for the log and `last_error`: never a URL, key or secret
    response: dict[str, Any] = field(default_factory=dict)  # e.g. Opsgenie's requestId

    @property
    def delivered(self) -> bool:
        return self.outcome is Outcome.DELIVERED


class Notifier(Protocol):
    """A receiver (Slack, PagerDuty, Opsgenie, a webhook): config checked when built."""

    name: str  # the channel name routes use
    sends_resolved: bool  # Slack: only if configured; the others: yes

    def send(self, message: Message, client: httpx.Client) -> Delivery:
        """Make one attempt; never raise for an HTTP or network failure."""
        ...
