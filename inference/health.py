"""Whether the prediction log takes records now, for /healthz and /ping.

A worker whose log refuses records (spool full: the database has been away long, or the
spool's disk failed) still predicts and diverts, but acknowledges nothing: a load balancer
should send frames elsewhere. The log's counts say when it refused or dropped a record;
the worker is healthy again once the writer frees room (pending rows fall) or, at the
latest, `hold_s` after the last refusal seen, so that a worker no longer sent any frame
(and so refusing none) is tried again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from inference.ports import PredictionSink

HOLD_S = 30.0  # two or three load-balancer health checks


class LogHealth:
    """Reads the sink's counts at each health check and names a refusing log."""

    def __init__(
        self,
        sink: PredictionSink,
        *,
        hold_s: float = HOLD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._hold_s = hold_s
        self._clock = clock
        stats = sink.stats()
        self._lost = stats.refused + stats.dropped
        self._since: float | None = None
        self._pending_then = 0

    def problem(self) -> str | None:
        """Why the log does not take records now, or None when it does."""
        stats = self._sink.stats()
        lost = stats.refused + stats.dropped
        now = self._clock()
        if lost > self._lost:
            self._lost, self._since, self._pending_then = lost, now, stats.pending
        if self._since is None:
            return None
        if now - self._since >= self._hold_s or stats.pending < self._pending_then:
            self._since = None
            return None
        return (
            f"the prediction log refuses records: {lost} refused or dropped since start, "
            f"{stats.pending} rows wait for the database"
        )
