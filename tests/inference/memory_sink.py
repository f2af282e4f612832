"""An in-memory PredictionSink, so the worker's tests run without a database."""

from __future__ import annotations

from monitor.core.exceptions import InvalidRecord, PredictionLogFull
from monitor.predlog import LogStats, PredictionRecord
from monitor.predlog.records import encode


class MemorySink:
    """Validates each record as PredictionLog does (records.encode) and keeps the accepted
    ones in order. With a `capacity` it refuses more with PredictionLogFull, as a full
    spool does."""

    def __init__(self, capacity: int | None = None) -> None:
        self.records: list[PredictionRecord] = []
        self.capacity = capacity
        self.invalid = 0
        self.refused = 0

    def log(self, record: PredictionRecord) -> None:
        try:
            encode(record)
        except InvalidRecord:
            self.invalid += 1
            raise
        if self.capacity is not None and len(self.records) >= self.capacity:
            self.refused += 1
            raise PredictionLogFull(f"the in-memory sink holds its {self.capacity} records")
        self.records.append(record)

    def stats(self) -> LogStats:
        return LogStats(
            accepted=len(self.records),
            invalid=self.invalid,
            refused=self.refused,
            dropped=0,
            written=len(self.records),
            duplicates=0,
            quarantined=0,
            recovered=0,
            pending=0,
            db_up=True,
        )

    def by_parcel(self) -> dict[str | None, PredictionRecord]:
        """The accepted records by parcel id."""
        return {record.parcel_id: record for record in self.records}
