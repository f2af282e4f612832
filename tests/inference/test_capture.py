"""The capture-time window: [now - retention_days, now + capture_max_skew_s], clock given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inference.capture import CaptureWindow
from monitor.core.exceptions import InvalidRecord

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WINDOW = CaptureWindow(retention_days=90, max_skew_s=300, clock=lambda: NOW)


@pytest.mark.parametrize(
    ("captured_at", "accepted"),
    [
        (NOW, True),
        (NOW - timedelta(days=90), True),  # the oldest day retention keeps
        (NOW - timedelta(days=90, seconds=1), False),
        (NOW + timedelta(seconds=300), True),  # a camera clock a little fast
        (NOW + timedelta(seconds=301), False),
        (datetime(2000, 1, 1, tzinfo=UTC), False),  # once a partition per request
        (datetime(2099, 12, 31, tzinfo=UTC), False),
    ],
)
def test_window_accepts_retention_back_and_the_skew_ahead(
    captured_at: datetime, accepted: bool
) -> None:
    if accepted:
        assert WINDOW.check(captured_at) == captured_at
    else:
        with pytest.raises(InvalidRecord, match=r"captured_at.*check the camera's clock") as error:
            WINDOW.check(captured_at)
        assert error.value.field == "captured_at"


def test_window_follows_its_clock() -> None:
    later = CaptureWindow(retention_days=90, max_skew_s=300, clock=lambda: NOW + timedelta(days=91))
    with pytest.raises(InvalidRecord, match="older than the 90-day retention"):
        later.check(NOW)
