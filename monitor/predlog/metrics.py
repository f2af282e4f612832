"""The prediction log's Prometheus metrics (`beltwatch_predlog_*`): every live
PredictionLog's counts, read at scrape time, so log() pays nothing for them."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

if TYPE_CHECKING:
    from monitor.predlog.writer import PredictionLog

# The logs of this process; a closed or collected one leaves the set.
LIVE: weakref.WeakSet[PredictionLog] = weakref.WeakSet()


class _PredictionLogCollector(Collector):
    """Exposes every live PredictionLog's counts, labelled by its name, at scrape time
    (so log() pays nothing for metrics)."""

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        records = CounterMetricFamily(
            "beltwatch_predlog_records",
            "Records offered to log(), by outcome",
            labels=["log", "outcome"],
        )
        rows = CounterMetricFamily(
            "beltwatch_predlog_rows",
            "Rows handled by the writer, by outcome",
            labels=["log", "outcome"],
        )
        pending = GaugeMetricFamily(
            "beltwatch_predlog_pending_rows",
            "Accepted rows not yet committed (spooled)",
            labels=["log"],
        )
        up = GaugeMetricFamily(
            "beltwatch_predlog_db_up",
            "1 if the last write to the database succeeded",
            labels=["log"],
        )
        for plog in list(LIVE):
            s = plog.stats()
            for outcome, value in (
                ("accepted", s.accepted),
                ("invalid", s.invalid),
                ("refused", s.refused),
                ("dropped", s.dropped),
            ):
                records.add_metric([plog.name, outcome], value)
            for outcome, value in (
                ("written", s.written),
                ("duplicate", s.duplicates),
                ("quarantined", s.quarantined),
            ):
                rows.add_metric([plog.name, outcome], value)
            pending.add_metric([plog.name], s.pending)
            up.add_metric([plog.name], 1.0 if s.db_up else 0.0)
        yield from (records, rows, pending, up)


REGISTRY.register(_PredictionLogCollector())
