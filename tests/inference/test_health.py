"""LogHealth: /healthz and /ping say 503 while the prediction log refuses records."""

from __future__ import annotations

from dataclasses import replace

from memory_sink import MemorySink

from inference.health import LogHealth
from monitor.predlog import LogStats


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refuse(sink: MemorySink, n: int = 1) -> None:
    sink.refused += n  # what MemorySink.log counts when its capacity is reached


def test_a_log_that_never_refused_is_healthy() -> None:
    assert LogHealth(MemorySink()).problem() is None


def test_refusals_make_the_log_unhealthy_until_the_hold_passes() -> None:
    sink, clock = MemorySink(), Clock()
    health = LogHealth(sink, hold_s=30, clock=clock)
    refuse(sink, 3)
    assert "refuses records: 3 refused or dropped" in (health.problem() or "")
    clock.now += 29
    assert health.problem() is not None
    clock.now += 1  # no refusal since: try again (a load balancer sends no frame meanwhile)
    assert health.problem() is None
    refuse(sink)
    assert health.problem() is not None


def test_refusals_before_the_health_check_was_built_do_not_count() -> None:
    sink = MemorySink()
    refuse(sink, 5)
    assert LogHealth(sink).problem() is None


class DrainingSink(MemorySink):
    """A full sink whose spooled rows the test can make leave."""

    pending = 100

    def stats(self) -> LogStats:
        return replace(super().stats(), pending=self.pending)


def test_the_log_is_healthy_again_once_the_writer_frees_room() -> None:
    sink = DrainingSink()
    health = LogHealth(sink, hold_s=30, clock=Clock())
    refuse(sink)
    assert health.problem() is not None
    sink.pending = 40  # the database is back: rows leave the spool
    assert health.problem() is None
