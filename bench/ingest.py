"""Ingest benchmark: PredictionLog against the naive way and against raw COPY, one run.

    python bench/ingest.py [--rows 500000] [--naive-rows 3000] [--url postgresql://...]

Without --url it uses BELTWATCH_DATABASE_URL's server, or else an embedded PostgreSQL in a
temporary directory. Either way it works in a scratch database that it drops at the end.
Figures are rows per second; the ratios are what to compare across machines.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import URL, make_url, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "monitor"))

from tests_support import record

from monitor.core.db import migrate, partitions
from monitor.core.db.engine import create_database, libpq_dsn, make_engine, start_embedded
from monitor.core.db.models import Prediction
from monitor.core.settings import load_settings
from monitor.predlog import PredictionLog
from monitor.predlog.records import COLUMNS, PredictionRecord, uuid7


def make_records(n: int) -> list[PredictionRecord]:
    # Fresh time-ordered ids, as the worker makes them (uuid7), not the tests' tiny ints.
    return [dataclasses.replace(record(i), id=uuid7()) for i in range(n)]


def truncate(url: URL) -> None:
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        conn.execute("TRUNCATE predictions")
        conn.execute("CHECKPOINT")


def bench_predlog(
    url: URL, records: list[PredictionRecord], spool: Path
) -> tuple[float, list[int]]:
    settings = load_settings(spool_dir=spool)
    latencies = [0] * len(records)
    clock = time.perf_counter_ns
    plog = PredictionLog(url, settings, name="bench")
    started = time.perf_counter()
    for i, rec in enumerate(records):
        before = clock()
        plog.log(rec)
        latencies[i] = clock() - before
    assert plog.close(), "rows left in the spool"
    elapsed = time.perf_counter() - started
    stats = plog.stats()
    assert stats.written == len(records), stats
    return len(records) / elapsed, latencies


def bench_raw_copy(url: URL, records: list[PredictionRecord], batch: int) -> float:
    rows = [tuple(getattr(r, c) for c in COLUMNS) for r in records]
    copy_sql = f"COPY predictions ({', '.join(COLUMNS)}) FROM STDIN"
    with psycopg.connect(libpq_dsn(url), options="-c timezone=UTC") as conn:
        started = time.perf_counter()
        for start in range(0, len(rows), batch):
            with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for row in rows[start : start + batch]:
                    copy.write_row(row)
            conn.commit()
        elapsed = time.perf_counter() - started
    return len(rows) / elapsed


def bench_naive(url: URL, records: list[PredictionRecord]) -> float:
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        for rec in records:
            with Session(engine) as session:
                session.add(Prediction(**dataclasses.asdict(rec)))
                session.commit()
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    return len(records) / elapsed


def count(url: URL) -> int:
    with psycopg.connect(libpq_dsn(url)) as conn:
        return conn.execute("SELECT count(*) FROM predictions").fetchone()[0]  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--naive-rows", type=int, default=3_000)
    parser.add_argument("--url", default=os.environ.get("BELTWATCH_DATABASE_URL"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            server = make_url(args.url)
            where = f"{server.host}:{server.port or 5432}"
        else:
            server = make_url(start_embedded(Path(tmp) / "pg"))
            where = "embedded PostgreSQL (unix socket)"
        name = f"bw_bench_{uuid.uuid4().hex[:8]}"
        create_database(libpq_dsn(server), name)
        url = server.set(drivername="postgresql+psycopg", database=name)
        try:
            engine = make_engine(url)
            migrate.upgrade(engine)
            records = make_records(args.rows)
            with engine.begin() as conn:  # raw COPY needs them; the log makes its own
                partitions.ensure_days(conn, {r.captured_at.date() for r in records[::1000]})
                version = conn.execute(text("SHOW server_version")).scalar_one()
            engine.dispose()
            batch = load_settings().log_batch_size
            print(
                f"PostgreSQL {version}, {where}; {os.cpu_count()} CPUs; "
                f"{args.rows:,} records; batch {batch:,}"
            )

            copy_rate = bench_raw_copy(url, records, batch)
            assert count(url) == args.rows
            truncate(url)
            log_rate, latencies = bench_predlog(url, records, Path(tmp) / "spool")
            assert count(url) == args.rows
            truncate(url)
            naive_rate = bench_naive(url, records[: args.naive_rows])
            assert count(url) == args.naive_rows
        finally:
            with psycopg.connect(libpq_dsn(server), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    latencies.sort()
    q = statistics.quantiles(latencies, n=1000)
    print()
    print(f"{'method':<44}{'rows/s':>12}{'vs raw COPY':>14}")
    print(f"{'raw COPY (psycopg write_row, batch commits)':<44}{copy_rate:>12,.0f}{1.0:>13.2f}x")
    print(
        f"{'PredictionLog (log() -> close(), sustained)':<44}{log_rate:>12,.0f}"
        f"{log_rate / copy_rate:>13.2f}x"
    )
    print(
        f"{'naive: one ORM insert + commit per row':<44}{naive_rate:>12,.0f}"
        f"{naive_rate / copy_rate:>13.3f}x"
    )
    print()
    print(f"PredictionLog vs naive: {log_rate / naive_rate:,.0f}x")
    print(
        f"log() call: p50 {q[499] / 1000:.1f} us, p99 {q[989] / 1000:.1f} us, "
        f"p99.9 {q[998] / 1000:.1f} us, max {latencies[-1] / 1000:.0f} us"
    )
    goals = [
        ("sustained >= 50,000 rows/s", log_rate >= 50_000),
        (">= half the raw COPY rate", log_rate >= copy_rate / 2),
        ("log() p99 < 50 us", q[989] < 50_000),
    ]
    print("goals: " + "; ".join(f"{g}: {'met' if ok else 'MISSED'}" for g, ok in goals))


if __name__ == "__main__":
    main()
