"""The capture times the worker accepts: [now - retention_days, now + capture_max_skew_s].

Each daily partition of `predictions` is made on demand when a row needs it, so a capture
time is also a request to create a table. Only the days that retention keeps, and a few
minutes ahead for a camera clock running fast, are worth one; anything else is a client
error (a camera with a wrong clock, a typo, or someone probing), refused at the source
before any work is spent on the frame. The clock is a parameter so that tests with fixed
dates keep passing whatever the date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.core.exceptions import InvalidRecord
from monitor.core.settings import Settings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CaptureWindow:
    """Checks a frame's `captured_at` against the retention and the allowed clock skew."""

    retention_days: int
    max_skew_s: float
    clock: Clock = field(default=utc_now)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> CaptureWindow:
        return cls(settings.retention_days, settings.capture_max_skew_s, clock or utc_now)

    def check(self, captured_at: datetime) -> datetime:
        """Return `captured_at` if the window holds it; raise InvalidRecord('captured_at')
        saying which bound it crosses."""
        now = self.clock()
        earliest = now - timedelta(days=self.retention_days)
        latest = now + timedelta(seconds=self.max_skew_s)
        if captured_at < earliest:
            raise InvalidRecord(
                "captured_at",
                f"{captured_at.isoformat()} is older than the {self.retention_days}-day "
                f"retention (earliest accepted: {earliest.isoformat(timespec='seconds')}); "
                "check the camera's clock",
            )
        if captured_at > latest:
            raise InvalidRecord(
                "captured_at",
                f"{captured_at.isoformat()} is ahead of the worker's clock by more than "
                f"{self.max_skew_s:g}s (latest accepted: {latest.isoformat(timespec='seconds')})"
                "; check the camera's clock",
            )
        return captured_at
