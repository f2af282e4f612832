"""The monitor's Prometheus metrics (`beltwatch monitor run` serves them on
`monitor_metrics_port`), so a site can watch the watcher.

Two kinds: counters this process increments (hourly runs by outcome, their duration) and
what the database says at scrape time (the last hour done and when, the outbox by status and
channel, firing alerts by rule). The database ones are read per scrape rather than kept
in memory because replicas share the work: whichever replica ran the hour, every one
reports the same truth. Deliveries by outcome are the dispatcher's own counter
(`beltwatch_notifications_total`, monitor/dispatch.py). `prometheus/beltwatch-rules.yml`
alerts on these names; keep the two together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, get_args

from prometheus_client import Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry
from sqlalchemy import Engine

from monitor.core.exceptions import ConfigError
from monitor.core.queries import alerts, notifications, runs
from monitor.core.settings import Settings
from monitor.dispatch import SENT
from monitor.notifiers.base import Outcome, Reason
from monitor.routing import configured_channels
from monitor.rules import RULES

log = logging.getLogger(__name__)

# ok: every due hour done; failed: an hour failed (retried); skipped: another replica holds
# the lock; error: the run itself failed (the database unreachable).
RunLabel = Literal["ok", "failed", "skipped", "error"]

RUNS = Counter("beltwatch_monitor_runs", "Hourly runs of this process, by outcome", ["outcome"])
for _outcome in get_args(RunLabel):  # present at 0, so increase() sees the first failure
    RUNS.labels(_outcome)
# A run is one SQL aggregate and a few rules per station: seconds normally, minutes when
# catching up a day or running Evidently on large samples.
RUN_SECONDS = Histogram(
    "beltwatch_monitor_run_duration_seconds",
    "Wall time of an hourly run of this process (all the hours it processed)",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
OUTBOX_STATUSES = ("pending", "delivered", "failed")


def count_run(outcome: RunLabel, seconds: float) -> None:
    """Count one hourly run and its duration."""
    RUNS.labels(outcome).inc()
    RUN_SECONDS.observe(seconds)


class DatabaseCollector(Collector):
    """What the database says at scrape time. A failed read is a scrape with
    `beltwatch_monitor_db_up 0` and no database series, never a failed scrape."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.channels = configured_channels(settings)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "beltwatch_monitor_db_up", "1 if the monitor read its database at this scrape"
        )
        try:
            families = self._read()
        except Exception as error:  # the database is down: say so, keep serving the rest
            log.warning("metrics: database read failed: %s", type(error).__name__)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families

    def _read(self) -> list[GaugeMetricFamily]:
        with self.engine.connect() as conn:
            last_hour, last_at = runs.last_done(conn)
            outbox = notifications.outbox_counts(conn)
            firing = alerts.firing_counts(conn)
        # Both absent before the first hour: a 1970 timestamp would page at once.
        hour = GaugeMetricFamily(
            "beltwatch_monitor_last_done_hour_timestamp_seconds",
            "Start of the latest hour the monitor marked done (Unix time)",
        )
        # The alert on a stopped monitor reads this one: an hour is done every hour,
        # whatever monitor_minute is, so its age alone says how long the monitor has not run.
        done_at = GaugeMetricFamily(
            "beltwatch_monitor_last_done_timestamp_seconds",
            "When the monitor last marked an hour done (Unix time)",
        )
        if last_hour is not None and last_at is not None:
            hour.add_metric([], last_hour.timestamp())
            done_at.add_metric([], last_at.timestamp())
        rows = GaugeMetricFamily(
            "beltwatch_outbox_rows",
            "Notification outbox rows, by status and channel",
            labels=["status", "channel"],
        )
        # Every configured channel at 0 too, so a first failure is a rise, not a new series.
        keys = {(s, c) for s in OUTBOX_STATUSES for c in self.channels} | set(outbox)
        for status, channel in sorted(keys):
            rows.add_metric([status, channel], outbox.get((status, channel), 0))
        by_rule = GaugeMetricFamily(
            "beltwatch_alerts_firing", "Firing alert episodes, by rule", labels=["rule"]
        )
        for rule in sorted(set(RULES) | set(firing)):
            by_rule.add_metric([rule], firing.get(rule, 0))
        return [hour, done_at, rows, by_rule]


@contextmanager
def serving_metrics(
    engine: Engine, settings: Settings, registry: CollectorRegistry = REGISTRY
) -> Iterator[int | None]:
    """Serve `/metrics` on `monitor_metrics_host:monitor_metrics_port` while inside; yields
    the bound port (None when the port is 0: not served)."""
    if settings.monitor_metrics_port == 0:
        yield None
        return
    try:
        server, thread = start_http_server(
            settings.monitor_metrics_port, addr=settings.monitor_metrics_host, registry=registry
        )
    except OSError as error:  # in use, or an address not of this host: name the setting
        where = f"{settings.monitor_metrics_host}:{settings.monitor_metrics_port}"
        raise ConfigError(
            [("monitor_metrics_port", f"cannot serve on {where}: {error}")]
        ) from error
    collector = DatabaseCollector(engine, settings)
    registry.register(collector)
    # Deliveries appear at 0 per configured channel: a labelled counter shows nothing until
    # first used, and a scrape should show that deliveries are counted at all.
    for channel in collector.channels:
        SENT.labels(channel, Outcome.DELIVERED.value, Reason.OK.value)
    log.info("metrics on http://%s:%d/metrics", settings.monitor_metrics_host, server.server_port)
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        registry.unregister(collector)


__all__ = ["RUNS", "RUN_SECONDS", "DatabaseCollector", "count_run", "serving_metrics"]
