"""The contract between the alert manager and the receivers: the AlertNotice it queues,
the Message a notifier gets, the Delivery verdict of one attempt, the Notifier interface
and the Receiver declaration each notifier module makes.

A notifier never retries, sleeps or touches the database: the dispatcher owns retries,
backoff, the outbox and metrics (Alertmanager's split between integrations and its retry
stage). `Delivery.reason` doubles as the log and metric label.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

import httpx

from monitor.core.settings import Settings

Event = Literal["trigger", "repeat", "resolve", "test"]
EVENTS: tuple[Event, ...] = ("trigger", "repeat", "resolve", "test")


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
class AlertNotice:
    """What the alert manager tells the receivers about one alert episode at one event: the
    contract between `monitor.alerts` and the notifiers, stored as JSON in
    `notifications.payload` (the same keys rows have always had)."""

    alert_id: int
    fingerprint: str  # rule:station or rule@site, the same for every episode of this alert
    rule: str
    station_id: str | None  # None: a site-wide alert
    severity: str
    event: Event
    summary: str
    evidence: dict[str, Any]
    hour: datetime  # the hour whose results queued this event
    started_at: datetime
    resolved_at: datetime | None = None

    @property
    def status(self) -> str:
        """ "firing", or "resolved" for a resolve (Alertmanager's words)."""
        return "resolved" if self.event == "resolve" else "firing"

    @classmethod
    def test(cls, channel: str, now: datetime) -> AlertNotice:
        """The message `beltwatch alerts test` sends: a harmless info alert."""
        return cls(
            alert_id=0,
            fingerprint="test:beltwatch",
            rule="test",
            station_id=None,
            severity="info",
            event="test",
            summary=f"beltwatch test message to {channel}: delivery works",
            evidence={"sent_at": now.isoformat()},
            hour=now,
            started_at=now,
        )

    def to_json(self) -> dict[str, Any]:
        """The payload column's JSON: times as ISO 8601 strings, status spelled out."""
        return {
            "alert_id": self.alert_id,
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "station_id": self.station_id,
            "severity": self.severity,
            "event": self.event,
            "status": self.status,
            "summary": self.summary,
            "evidence": self.evidence,
            "hour": self.hour.isoformat(),
            "started_at": self.started_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertNotice:
        """Read a payload column back; ValueError names what is missing or malformed."""
        if missing := [key for key in _REQUIRED if data.get(key) is None]:
            raise ValueError(f"payload lacks {', '.join(missing)}")
        event, evidence = data["event"], data.get("evidence") or {}
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        if not isinstance(evidence, dict):
            raise ValueError("evidence is not an object")
        resolved, station = data.get("resolved_at"), data.get("station_id")
        try:
            return cls(
                alert_id=int(data["alert_id"]),
                fingerprint=str(data["fingerprint"]),
                rule=str(data["rule"]),
                station_id=None if station is None else str(station),
                severity=str(data["severity"]),
                event=event,
                summary=str(data.get("summary") or ""),
                evidence=evidence,
                hour=_moment(data["hour"]),
                started_at=_moment(data["started_at"]),
                resolved_at=_moment(resolved) if resolved else None,
            )
        except TypeError as error:
            raise ValueError(f"payload is malformed ({error})") from None


# What a payload cannot do without (summary, station, evidence and resolved_at may be empty).
_REQUIRED = ("alert_id", "fingerprint", "rule", "severity", "event", "hour", "started_at")


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Message:
    """One outbox row, as a notifier sees it."""

    notification_id: int
    alert_id: int
    channel: str
    event: str  # "trigger", "repeat", "resolve" or "test"
    payload: AlertNotice
    created_at: datetime
    # Unique to this one message, everywhere and forever, and the same on every retry of
    # it (Standard Webhooks' webhook-id): the dispatcher makes it from the installation's
    # random id and the outbox row's id (`outbox_message_id`); a test message gets its own.
    message_id: str

    @property
    def dedup_key(self) -> str:
        """Stable for one alert episode: trigger, repeats and resolve share it, and a
        re-send after a crash carries it again, so the receiver deduplicates."""
        # rule:station ('*' for the site) and the episode's id: the id alone makes it unique,
        # and this form is what every earlier release sent, so an episode open across an
        # upgrade keeps its key (the site's fingerprint itself is now `rule@site`).
        station = self.payload.station_id if self.payload.station_id is not None else "*"
        return f"beltwatch/{self.payload.rule}:{station}/{self.alert_id}"

    @property
    def idempotency_key(self) -> str:
        """Stable for this one message across retries (Standard Webhooks' webhook-id)."""
        return self.message_id


def outbox_message_id(installation: str, notification_id: int) -> str:
    """The id of an outbox row's message: the installation's id and the row's."""
    return f"msg_{installation}_{notification_id}"


def one_off_message_id() -> str:
    """The id of a message that no outbox row holds (`alerts test`): random."""
    return f"msg_{uuid.uuid4().hex}"


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


def _always(settings: Settings) -> bool:
    return True


@dataclass(frozen=True)
class Receiver:
    """One kind of receiver, declared once in its notifier module: its channel name (what
    routes say), the setting that turns it on, the settings that are secrets, how its
    notifier is built from Settings (config checked, NotifierConfigError if bad), and
    whether it takes resolves. `monitor.notifiers.RECEIVERS` lists them all."""

    channel: str
    setting: str  # set: the receiver is configured
    secrets: tuple[str, ...]
    build: Callable[[Settings], Notifier]
    sends_resolved: Callable[[Settings], bool] = _always

    def configured(self, settings: Settings) -> bool:
        """Whether the settings turn this receiver on."""
        return bool(getattr(settings, self.setting))
