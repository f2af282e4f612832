"""Monitor benchmark: the time to process one hour, against the naive way, in one run.

    python bench/monitor_hour.py [--sizes 100000,1000000] [--stations 20] [--url ...]

For each size: a reference hour and a test hour of that many predictions across the
stations are generated in SQL (two stations with a dirty lens, one with failing light);
references are set from the first hour; then the hour is processed by beltwatch
(`monitor.hourly.process_hour`: SQL rollup, sampled windows, rules, alerts) and by the
naive way: load the whole hour into pandas and run Evidently's DataDriftPreset for every
station on every statistic. Goal: a 1,000,000-prediction hour in under 10 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
from sqlalchemy import make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.core.db import migrate, partitions
from monitor.core.db.engine import create_database, libpq_dsn, make_engine, start_embedded
from monitor.core.settings import load_settings
from monitor.hourly import process_hour
from monitor.reference import build_reference
from monitor.rules.base import SAMPLE_COLUMNS

REF_HOUR = datetime(2026, 11, 24, 12, tzinfo=UTC)
TEST_HOUR = REF_HOUR + timedelta(hours=1)

# Box-Muller normals; the same shapes as tests/monitor/daygen.py.
GENERATE = """
INSERT INTO predictions (id, captured_at, station_id, model_version, predicted_class,
    p_undamaged, p_minor, p_critical, latency_ms, brightness, blur, sharpness,
    sharpness_tile_min, contrast, clipped_dark, clipped_bright, luma_p01, luma_p99,
    mean_r, mean_g, mean_b, action)
SELECT gen_random_uuid(), :hour + random() * interval '1 hour', s, 'cnn-int8-1', cls,
       CASE cls WHEN 'undamaged' THEN 0.9 ELSE 0.05 END,
       CASE cls WHEN 'minor' THEN 0.9 ELSE 0.05 END,
       CASE cls WHEN 'critical' THEN 0.9 ELSE 0.05 END,
       greatest(0.5, 9 + 2 * z1), b, sh * c * c, sh, sh * (0.35 + 0.4 * random()), c,
       0.005 + 0.12 * dim, 0.003, greatest(0, 9 + 3 * z2 + 22 * lens), least(255, b + 2.3 * c),
       b * 1.05, b, b * 0.9, CASE cls WHEN 'critical' THEN 'divert' WHEN 'minor' THEN 'review'
       ELSE 'none' END
FROM (
  SELECT s, lens, dim, z1, z2,
         CASE WHEN u < 0.80 THEN 'undamaged' WHEN u < 0.97 THEN 'minor' ELSE 'critical' END cls,
         least(250, greatest(5, 118 + 11 * z1 - 45 * dim + 10 * lens)) b,
         exp(ln(0.35) + 0.5 * z2) * (1 - 0.65 * lens) sh,
         greatest(5, 45 + 7 * z3) * (1 - 0.25 * lens - 0.3 * dim) c
  FROM (
    SELECT 'S' || lpad((i % :stations)::text, 2, '0') s, random() u,
           CASE WHEN :faulty AND i % :stations IN (0, 1) THEN 0.8 ELSE 0 END lens,
           CASE WHEN :faulty AND i % :stations = 2 THEN 0.9 ELSE 0 END dim,
           sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) z1,
           sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) z2,
           sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) z3
    FROM generate_series(1, :n) i
  ) x
) y
"""


def naive(engine, reference: pd.DataFrame, stations: int) -> float:
    """Load the hour into pandas; Evidently's DataDriftPreset per station on everything."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    started = time.perf_counter()
    with engine.connect() as conn:
        hour = pd.read_sql(
            text("SELECT * FROM predictions WHERE captured_at >= :a AND captured_at < :b"),
            conn,
            params={"a": TEST_HOUR, "b": TEST_HOUR + timedelta(hours=1)},
        )
    columns = [*SAMPLE_COLUMNS, "predicted_class"]
    definition = DataDefinition(
        numerical_columns=list(SAMPLE_COLUMNS), categorical_columns=["predicted_class"]
    )
    for station, current in hour.groupby("station_id"):
        ref = reference[reference.station_id == station]
        Report([DataDriftPreset(columns=columns)]).run(
            Dataset.from_pandas(current[columns], data_definition=definition),
            Dataset.from_pandas(ref[columns], data_definition=definition),
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--url", default=os.environ.get("BELTWATCH_DATABASE_URL"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import evidently  # noqa: F401 - imported once here, so no timing below pays for it

    with tempfile.TemporaryDirectory() as tmp:
        server = make_url(args.url) if args.url else make_url(start_embedded(Path(tmp) / "pg"))
        print(f"{args.stations} stations; {os.cpu_count()} CPUs")
        print(
            f"{'predictions/hour':>17}{'beltwatch s':>13}{'naive s':>10}{'naive/ours':>12}"
            f"{'firing':>8}"
        )
        for n in sizes:
            name = f"bw_bench_{uuid.uuid4().hex[:8]}"
            create_database(libpq_dsn(server), name)
            url = server.set(drivername="postgresql+psycopg", database=name)
            engine = make_engine(url)
            settings = load_settings(
                database_url=url.render_as_string(hide_password=False), data_dir=Path(tmp) / "data"
            )
            try:
                migrate.upgrade(engine)
                with engine.begin() as conn:
                    partitions.ensure_days(conn, [REF_HOUR.date()])
                    for hour, faulty in ((REF_HOUR, False), (TEST_HOUR, True)):
                        conn.execute(
                            text(GENERATE),
                            {"hour": hour, "n": n, "faulty": faulty, "stations": args.stations},
                        )
                    conn.execute(text("ANALYZE predictions"))
                    stations = (
                        conn.execute(text("SELECT DISTINCT station_id FROM predictions"))
                        .scalars()
                        .all()
                    )
                    for station in stations:
                        build_reference(
                            conn,
                            station,
                            REF_HOUR,
                            TEST_HOUR,
                            sample_size=settings.reference_sample_size,
                        )
                    reference = pd.read_sql(
                        text("SELECT * FROM predictions WHERE captured_at < :b"),
                        conn,
                        params={"b": TEST_HOUR},
                    )
                started = time.perf_counter()
                outcome = process_hour(engine, TEST_HOUR, settings)
                ours = time.perf_counter() - started
                assert outcome.ok, outcome.error
                theirs = naive(engine, reference, args.stations)
                firing = sorted(r.fingerprint for r in outcome.firing)
                print(
                    f"{n:>17,}{ours:>13.2f}{theirs:>10.2f}{theirs / ours:>11.1f}x"
                    f"{len(firing):>8}   {', '.join(firing)}"
                )
            finally:
                engine.dispose()
                with psycopg.connect(libpq_dsn(server), autocommit=True) as conn:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
