"""`PredictionLog`: what the worker writes every prediction through.

    log(record)  validate, encode as a COPY line, append it to the spool (a few us)
    writer       one thread: read the spool in batches -> COPY into a temporary table ->
                 INSERT ... ON CONFLICT DO NOTHING into `predictions` -> commit -> delete
                 the spool segment once all of it committed
    database down  the rows wait in the spool (fsynced); the writer retries with
                 exponential backoff and jitter, then replays in order, exactly once

The spool is the bounded queue: when it is full (database down for long, disk full) the
`log_overflow` setting decides, and every refused or dropped record is counted and logged.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
from sqlalchemy import URL

from monitor.core.db import partitions
from monitor.core.exceptions import PredictionLogClosed, PredictionLogFull
from monitor.core.settings import Settings
from monitor.predlog import metrics, sql
from monitor.predlog.records import PredictionRecord, encode
from monitor.predlog.spool import Chunk, Spool, SpoolFull, SpoolWriteError

log = logging.getLogger(__name__)

_WARN_EVERY_S = 10.0  # rate limit for repeated warnings (overflow, outage)
# While idle the writer checks the database this often, so `db_up` (/healthz, metrics) is
# true on a worker with nothing to write, and false soon after the database goes away.
PROBE_INTERVAL_S = 15.0


@dataclass(frozen=True)
class LogStats:
    """Counts since this PredictionLog started (`pending` is rows not yet committed)."""

    accepted: int
    invalid: int
    refused: int
    dropped: int
    written: int
    duplicates: int
    quarantined: int
    recovered: int
    pending: int
    db_up: bool


class PredictionLog:
    """Validates predictions and stores every accepted one in Postgres, exactly once."""

    def __init__(
        self,
        url: URL | str,
        settings: Settings,
        *,
        spool_dir: Path | None = None,
        name: str = "predlog",
        probe_interval_s: float = PROBE_INTERVAL_S,
    ) -> None:
        self.name = name
        self._probe_interval_s = probe_interval_s
        self._last_check = -math.inf  # the first idle moment probes at once
        self._dsn = sql.dsn(url)
        self._settings = settings
        self._batch_rows = settings.log_batch_size
        self._spool = Spool(
            spool_dir or settings.effective_spool_dir,
            batch_rows=settings.log_batch_size,
            segment_max_bytes=settings.log_segment_max_bytes,
            max_bytes=settings.log_spool_max_bytes,
        )
        if self._spool.recovered_rows:
            log.warning(
                "prediction log %s: replaying %d rows spooled by an earlier process",
                name,
                self._spool.recovered_rows,
            )
        self._invalid = self._refused = self._dropped = 0
        self._written = self._duplicates = self._quarantined = 0
        self._db_up = False
        self._last_warning: dict[str, float] = {}
        self._wake = threading.Event()
        self._space = threading.Condition()
        self._closing = threading.Event()
        self._abandon = threading.Event()
        self._closed = False
        self._known_days: set[date] = set()
        self._count_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"{name}-writer", daemon=True)
        self._thread.start()
        metrics.LIVE.add(self)

    # -- the caller's side -------------------------------------------------------------

    def log(self, record: PredictionRecord) -> None:
        """Validate `record` and accept it; once this returns, a process crash cannot lose it.

        Raises InvalidRecord (naming the field) for a bad record, PredictionLogFull when the
        spool is full and the overflow policy is not `drop`, PredictionLogClosed after close().
        """
        if self._closed:
            raise PredictionLogClosed("log() after close()")
        try:
            line = encode(record)
        except Exception:
            with self._count_lock:
                self._invalid += 1
            raise
        try:
            pending = self._spool.append(line)
        except (SpoolFull, SpoolWriteError) as error:
            self._overflow(line, error)
            return
        if pending == self._batch_rows:
            self._wake.set()

    def _overflow(self, line: bytes, error: Exception) -> None:
        policy = self._settings.log_overflow
        if policy == "block":
            deadline = time.monotonic() + self._settings.log_overflow_block_ms / 1000
            while (remaining := deadline - time.monotonic()) > 0:
                with self._space:
                    self._space.wait(remaining)
                try:
                    self._spool.append(line)
                except (SpoolFull, SpoolWriteError) as again:
                    error = again
                    continue
                return
        if policy == "drop":
            with self._count_lock:
                self._dropped += 1
            self._warn(
                "overflow",
                "prediction log %s full (%s): dropped %d records so far",
                self.name,
                error,
                self._dropped,
            )
            return
        with self._count_lock:
            self._refused += 1
        self._warn(
            "overflow",
            "prediction log %s full (%s): refused %d records so far",
            self.name,
            error,
            self._refused,
        )
        raise PredictionLogFull(
            f"prediction log {self.name} cannot take the record: {error}; "
            f"{self._spool.pending_rows} rows wait for the database"
        ) from error

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record accepted so far has committed; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        target = self._spool.appended + self._spool.recovered_rows
        self._wake.set()
        with self._space:
            while self._written + self._duplicates + self._quarantined < target:
                if not self._thread.is_alive():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._space.wait(0.05 if remaining is None else min(remaining, 0.05))
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Stop accepting, store everything, stop the writer; True if nothing is left over.

        With a timeout and the database still down, the remaining rows stay in the spool
        (fsynced) and the next PredictionLog on this directory replays them.
        """
        if self._closed:
            return self._spool.pending_rows == 0
        self._closed = True
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abandon.set()
            self._thread.join()
        left = self._spool.pending_rows
        self._spool.close()
        metrics.LIVE.discard(self)
        if left:
            log.warning(
                "prediction log %s closed with %d rows in the spool %s; they are replayed on "
                "the next start",
                self.name,
                left,
                self._spool.directory,
            )
        return left == 0

    def stats(self) -> LogStats:
        return LogStats(
            accepted=self._spool.appended,
            invalid=self._invalid,
            refused=self._refused,
            dropped=self._dropped,
            written=self._written,
            duplicates=self._duplicates,
            quarantined=self._quarantined,
            recovered=self._spool.recovered_rows,
            pending=self._spool.pending_rows,
            db_up=self._db_up,
        )

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        last_sync = time.monotonic()
        fsync_every = self._settings.log_fsync_interval_ms / 1000
        while not self._abandon.is_set():
            chunk = self._spool.read()
            if chunk is None:
                if self._closing.is_set():
                    break
                if time.monotonic() - self._last_check >= self._probe_interval_s:
                    conn = self._probe(conn)
                self._wake.wait(self._settings.log_batch_max_age_ms / 1000)
                self._wake.clear()
                continue
            conn = self._deliver(conn, chunk)
            if time.monotonic() - last_sync >= fsync_every:
                self._spool.sync()
                last_sync = time.monotonic()
        if conn is not None:
            conn.close()

    def _probe(self, conn: psycopg.Connection | None) -> psycopg.Connection | None:
        """Check the database while there is nothing to write; keep the connection."""
        self._last_check = time.monotonic()
        try:
            if conn is None or conn.closed:
                conn = self._connect()
            else:
                conn.execute("SELECT 1")
                conn.commit()
        except psycopg.Error as error:
            self._db_up = False
            self._warn(
                "db", "prediction log %s: database unavailable (%s)", self.name, _one_line(error)
            )
            if conn is not None:
                conn.close()
            return None
        if not self._db_up:
            log.info("prediction log %s: database reachable", self.name)
        self._db_up = True
        return conn

    def _deliver(self, conn: psycopg.Connection | None, chunk: Chunk) -> psycopg.Connection | None:
        """Store `chunk`, retrying until it commits or the log is abandoned."""
        delay = self._settings.log_retry_initial_s
        while not self._abandon.is_set():
            refused = 0
            try:
                if conn is None or conn.closed:
                    conn = self._connect()
                try:
                    inserted = self._store(conn, chunk)
                except (psycopg.DataError, psycopg.IntegrityError) as error:
                    # A row the database refuses (only a damaged spool can hold one, as log()
                    # validates): set the bad rows aside in a file, store the rest.
                    log.error(
                        "prediction log %s: batch refused (%s); storing row by row",
                        self.name,
                        _one_line(error),
                    )
                    conn.rollback()
                    self._known_days.clear()
                    inserted, refused = self._store_row_by_row(conn, chunk)
            except psycopg.Error as error:
                self._db_up = False
                self._warn(
                    "db",
                    "prediction log %s: database unavailable (%s); %d rows wait in "
                    "the spool, retrying in %.1fs",
                    self.name,
                    _one_line(error),
                    self._spool.pending_rows,
                    delay,
                )
                if conn is not None:
                    conn.close()
                conn = None
                self._spool.sync()
                self._abandon.wait(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self._settings.log_retry_max_s)
                continue
            if not self._db_up:
                log.info("prediction log %s: database reachable", self.name)
            self._db_up = True
            self._last_check = time.monotonic()
            self._spool.commit(chunk)
            with self._space:
                self._written += inserted
                self._quarantined += refused
                self._duplicates += chunk.rows - inserted - refused
                self._space.notify_all()
            return conn
        return conn

    def _connect(self) -> psycopg.Connection:
        conn = psycopg.connect(
            self._dsn,
            connect_timeout=5,
            options="-c timezone=UTC",
            # A silent network drop must not hang the writer forever.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
        conn.execute(sql.CREATE_STAGE)
        conn.commit()
        return conn

    def _store(self, conn: psycopg.Connection, chunk: Chunk) -> int:
        with conn.cursor() as cur:
            with cur.copy(sql.COPY) as copy:
                copy.write(chunk.data)
            created = self._ensure_partitions(cur)
            inserted = sql.count(cur.execute(sql.INSERT))
        conn.commit()
        self._known_days |= created  # only now: a rolled-back CREATE must be made again
        return inserted

    def _ensure_partitions(self, cur: psycopg.Cursor) -> set[date]:
        """Create the daily partitions the staged rows need; return the days checked."""
        days = {day for (day,) in cur.execute(sql.DAYS)}
        missing = days - self._known_days
        if missing:
            cur.execute(partitions.LOCK_SQL)
            for day in sorted(missing):
                cur.execute(partitions.create_sql(day))
        return missing

    def _store_row_by_row(self, conn: psycopg.Connection, chunk: Chunk) -> tuple[int, int]:
        """Store each line in its own savepoint; return (rows inserted, rows refused)."""
        inserted = 0
        bad: list[tuple[bytes, str]] = []
        with conn.cursor() as cur:
            for line in chunk.data.splitlines(keepends=True):
                try:
                    with conn.transaction():
                        with cur.copy(sql.COPY) as copy:
                            copy.write(line)
                        self._ensure_partitions(cur)
                        inserted += sql.count(cur.execute(sql.INSERT))
                        cur.execute(f"TRUNCATE {sql.STAGE}")
                except (psycopg.DataError, psycopg.IntegrityError) as error:
                    bad.append((line, _one_line(error)))
        if bad:
            self._quarantine(chunk, bad)  # on disk before the commit that drops the segment
        conn.commit()
        return inserted, len(bad)

    def _quarantine(self, chunk: Chunk, bad: list[tuple[bytes, str]]) -> None:
        path = self._spool.directory / f"rejected-{chunk.seq:016d}-{chunk.start}.txt"
        with open(path, "wb") as handle:
            for line, reason in bad:
                handle.write(f"# {reason}\n".encode() + line)
            handle.flush()
            os.fsync(handle.fileno())
        log.error(
            "prediction log %s: %d rows refused by the database, kept in %s",
            self.name,
            len(bad),
            path,
        )

    def _warn(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_warning.get(key, -_WARN_EVERY_S) >= _WARN_EVERY_S:
            self._last_warning[key] = now
            log.warning(message, *args)


def _one_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
