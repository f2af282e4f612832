"""The dispatcher: delivers outbox rows (`notifications`) through the notifiers.

Each row is claimed in its own short transaction with `FOR UPDATE SKIP LOCKED`, so any
number of dispatchers can run at once and none sends a row another holds. The row lock is
held while the one HTTP attempt is made, and the verdict is written in the same
transaction:

- delivered: `delivered`; retry: `next_attempt_at` moves out by exponential backoff with
  jitter, or by the receiver's Retry-After if longer; give up, too many attempts, or too
  old: `failed`, with the reason kept in `last_error` (the dashboard shows failed rows).
- A crash between the HTTP call and the commit leaves the row pending: it is sent again
  with the same dedup key / webhook-id, so the receiver deduplicates it. (Slack has no
  idempotency key: there a crash at that instant can post twice.)

A receiver that holds alert state (Alertmanager: `Refreshing`) is also told, once a pass,
every firing alert routed to it whose trigger went out, so its copy stays active; a failed
refresh is logged, not retried (the next pass re-posts).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

import httpx
from prometheus_client import Counter as PromCounter
from sqlalchemy import Connection, Engine, RowMapping

from monitor.core.queries import alerts as episodes
from monitor.core.queries import notifications as outbox
from monitor.core.settings import Settings
from monitor.notifiers.base import (
    AlertNotice,
    Delivery,
    Message,
    Notifier,
    Outcome,
    Reason,
    outbox_message_id,
)
from monitor.routing import channels_for

log = logging.getLogger(__name__)

SENT = PromCounter(
    "beltwatch_notifications",
    "Delivery attempts of outbox rows, by channel, outcome and reason",
    ["channel", "outcome", "reason"],
)


@dataclass
class DispatchStats:
    """What one pass did: counts by final state of the rows it touched."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    # Each row settled: (row id, channel, event, "delivered" / "retrying" / "failed", detail).
    rows: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    # Firing alerts re-posted to receivers that hold state, and refreshes that failed.
    refreshed: int = 0
    refresh_failures: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed


@runtime_checkable
class Refreshing(Protocol):
    """A receiver that holds alert state (Alertmanager) and must be told, every pass, what
    still fires, or it lets the alerts lapse."""

    def refresh(self, notices: Sequence[AlertNotice], client: httpx.Client) -> Delivery:
        """Re-post these firing alerts; never raise for an HTTP or network failure."""
        ...


def doubling_backoff(
    failures: int, initial_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """Wait after the `failures`-th failure in a row: doubling from `initial_s`, capped at
    `max_s`, with jitter (x0.5 to x1), so processes retrying together spread out."""
    base = min(initial_s * 2 ** (failures - 1), max_s)
    return base * (rng or random).uniform(0.5, 1.0)


def backoff_s(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Wait after a notification's `attempts`-th failed attempt (notify_backoff_*)."""
    return doubling_backoff(
        attempts, settings.notify_backoff_initial_s, settings.notify_backoff_max_s, rng
    )


class Dispatcher:
    """Drains the outbox; safe to run in several processes at once."""

    def __init__(
        self,
        engine: Engine,
        notifiers: dict[str, Notifier],
        settings: Settings,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.notifiers = notifiers
        self.settings = settings
        self.clock = clock
        self._client = client or httpx.Client(timeout=settings.notify_timeout_s)
        self._installation: str | None = None  # read from the database on first delivery

    def close(self) -> None:
        self._client.close()

    def run_once(self, *, limit: int = 1000) -> DispatchStats:
        """Deliver what is due now (at most `limit` rows); return what happened."""
        stats = DispatchStats()
        for _ in range(limit):
            with self.engine.begin() as conn:
                row = outbox.claim_next_due(conn, self.clock())
                if row is None:
                    break
                self._deliver(conn, row, stats)
        self._refresh(stats)
        if stats.attempted:
            log.info(
                "dispatcher: %d delivered, %d to retry, %d failed",
                stats.delivered,
                stats.retrying,
                stats.failed,
            )
        return stats

    def _refresh(self, stats: DispatchStats) -> None:
        """Re-post the firing alerts to the receivers that hold state. The alerts stay
        share-locked until the posts are done, so one being resolved meanwhile is left out,
        and its resolve, queued after the lock is released, is posted after them."""
        holders = {c: n for c, n in self.notifiers.items() if isinstance(n, Refreshing)}
        if not holders:
            return
        with self.engine.begin() as conn:
            # A trigger held back by a silence never went out: nor does its refresh.
            firing = [r for r in episodes.firing_alerts(conn, hold=True) if r["last_notified_at"]]
            for channel, notifier in holders.items():
                notices = [
                    _firing_notice(row)
                    for row in firing
                    if channel
                    in channels_for(self.settings, row["rule"], row["severity"], row["station_id"])
                ]
                if not notices:
                    continue
                try:
                    delivery = notifier.refresh(notices, self._client)
                except Exception as error:  # the edge: count, log, keep going
                    log.exception("notifier %s raised on refresh", channel)
                    delivery = Delivery(
                        Outcome.RETRY, Reason.UNEXPECTED, detail=type(error).__name__
                    )
                if delivery.delivered:
                    stats.refreshed += len(notices)
                else:
                    stats.refresh_failures.append(f"{channel}: {_describe(delivery)}")
                    log.warning("refresh of %s failed: %s", channel, _describe(delivery))

    def _deliver(self, conn: Connection, row: RowMapping, stats: DispatchStats) -> None:
        """One claimed row: refuse what cannot be sent, else one attempt, then settle."""
        now = self.clock()
        attempts = row["attempts"] + 1
        notifier = self.notifiers.get(row["channel"])
        if notifier is None:
            why = f"no receiver configured for channel {row['channel']!r}"
            self._fail(conn, row, attempts, why, stats, reason="no_receiver")
            return
        if now - row["created_at"] > timedelta(hours=self.settings.notify_max_age_hours):
            why = f"gave up: older than {self.settings.notify_max_age_hours} h"
            self._fail(conn, row, row["attempts"], why, stats, reason="too_old")
            return
        try:
            notice = AlertNotice.from_json(row["payload"])
        except ValueError as error:  # no receiver could render it, now or later
            why = f"unreadable payload: {error}"
            self._fail(conn, row, attempts, why, stats, reason="unreadable")
            return
        if self._installation is None:
            self._installation = outbox.installation_id(conn)
        message = Message(
            notification_id=row["id"],
            alert_id=row["alert_id"],
            channel=row["channel"],
            event=row["event"],
            payload=notice,
            created_at=row["created_at"],
            message_id=outbox_message_id(self._installation, row["id"]),
        )
        delivery = _attempt(notifier, message, self._client)
        SENT.labels(row["channel"], delivery.outcome.value, delivery.reason.value).inc()
        stats.by_reason[delivery.reason.value] += 1
        self._settle(conn, row, attempts, delivery, stats, now)

    def _settle(
        self,
        conn: Connection,
        row: RowMapping,
        attempts: int,
        delivery: Delivery,
        stats: DispatchStats,
        now: datetime,
    ) -> None:
        """Write the verdict: delivered, failed (give up, or out of attempts), or a retry
        after the backoff (or the receiver's Retry-After, if longer)."""
        where = (row["id"], row["channel"], row["event"])
        if delivery.delivered:
            outbox.mark_delivered(conn, row["id"], attempts, now)
            stats.delivered += 1
            stats.rows.append((*where, "delivered", ""))
            return
        error = _describe(delivery)
        if delivery.outcome is Outcome.GIVE_UP:
            self._fail(conn, row, attempts, error, stats)
            return
        if attempts >= self.settings.notify_max_attempts:
            self._fail(conn, row, attempts, f"{error} (after {attempts} attempts)", stats)
            return
        wait = max(backoff_s(attempts, self.settings), delivery.retry_after_s or 0.0)
        outbox.schedule_retry(conn, row["id"], attempts, error, now + timedelta(seconds=wait))
        stats.rows.append((*where, "retrying", f"{error}; next in {wait:.0f} s"))
        if delivery.reason is Reason.RATE_LIMITED:
            # The limit is the channel's (Slack: about one message a second per channel):
            # sending its other messages now would only be refused and reorder them.
            held = outbox.pause_channel(conn, row["channel"], now + timedelta(seconds=wait))
            log.warning(
                "channel %s rate limited: %d more held for %.0f s", row["channel"], held, wait
            )
        log.warning(
            "notification %d to %s: %s; retry in %.0f s", row["id"], row["channel"], error, wait
        )
        stats.retrying += 1

    def _fail(
        self,
        conn: Connection,
        row: RowMapping,
        attempts: int,
        error: str,
        stats: DispatchStats,
        *,
        reason: str | None = None,
    ) -> None:
        outbox.mark_failed(conn, row["id"], attempts, error)
        if reason:
            stats.by_reason[reason] += 1
        log.error("notification %d failed: %s", row["id"], error)
        stats.failed += 1
        stats.rows.append((row["id"], row["channel"], row["event"], "failed", error))


def _firing_notice(row: RowMapping) -> AlertNotice:
    """A firing episode as its receivers are told it again (as a repeat would)."""
    return AlertNotice(
        alert_id=row["id"],
        fingerprint=row["fingerprint"],
        rule=row["rule"],
        station_id=row["station_id"],
        severity=row["severity"],
        event="repeat",
        summary=row["summary"],
        evidence=row["evidence"] or {},
        hour=row["last_evaluated_at"] or row["started_at"],
        started_at=row["started_at"],
    )


def _attempt(notifier: Notifier, message: Message, client: httpx.Client) -> Delivery:
    """One attempt; a notifier bug is a retry with its type named, never a crash."""
    try:
        return notifier.send(message, client)
    except Exception as error:  # the edge: count, log, keep going
        log.exception("notifier %s raised", notifier.name)
        return Delivery(Outcome.RETRY, Reason.UNEXPECTED, detail=f"{type(error).__name__}")


def _describe(delivery: Delivery) -> str:
    return (
        f"{delivery.reason.value}: {delivery.detail}" if delivery.detail else delivery.reason.value
    )
