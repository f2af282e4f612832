"""What log() acknowledges, the database stores: a 4,000-row backlog in which 1 % of the
records carry p_critical=1e-50 (a confident float64 softmax), drained by PredictionLog.
Prints how many were acknowledged, stored and set aside as refused, and the drain time.

    python bench/acknowledged.py [--repo CHECKOUT] [--url ADMIN_URL]

--repo runs another checkout's code (a worktree of an older commit) for a before/after.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

ROWS = 4000
TINY_EVERY = 100  # 1 %


def records(record_type: type) -> list:
    start = datetime(2026, 11, 30, 8, tzinfo=UTC)
    out = []
    for i in range(ROWS):
        tiny = i % TINY_EVERY == 0
        probs = (1.0, 0.0, 1e-50) if tiny else (0.9, 0.08, 0.02)
        out.append(
            record_type(
                station_id="S1",
                captured_at=start + timedelta(seconds=i),
                model_version="v1",
                predicted_class="undamaged",
                p_undamaged=probs[0],
                p_minor=probs[1],
                p_critical=probs[2],
                latency_ms=5.0,
                brightness=120.0,
                blur=300.0,
                sharpness=0.4,
                sharpness_tile_min=0.2,
                contrast=40.0,
                clipped_dark=0.0,
                clipped_bright=0.0,
                luma_p01=10.0,
                luma_p99=240.0,
                mean_r=120.0,
                mean_g=110.0,
                mean_b=100.0,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(pathlib.Path(__file__).resolve().parents[1]))
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    sys.path.insert(0, args.repo)
    from monitor.core.db import migrate
    from monitor.core.db.engine import make_engine
    from monitor.core.settings import load_settings
    from monitor.predlog import PredictionLog
    from monitor.predlog.records import PredictionRecord

    name = f"bw_bench_ack_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = args.url.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        migrate.upgrade(engine)
        tmp = pathlib.Path(tempfile.mkdtemp())
        settings = load_settings(database_url=url, data_dir=tmp, spool_dir=tmp / "spool")
        plog = PredictionLog(url, settings)
        acknowledged = 0
        for record in records(PredictionRecord):
            plog.log(record)
            acknowledged += 1
        started = time.perf_counter()
        plog.flush(timeout=300)
        drained = time.perf_counter() - started
        plog.close()
        with psycopg.connect(url) as conn:
            stored = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
        aside = sum(
            1
            for path in (tmp / "spool").glob("rejected-*.txt")
            for line in path.read_text().splitlines()
            if not line.startswith("#")
        )
        print(
            f"acknowledged {acknowledged}, stored {stored}, set aside {aside}, "
            f"lost {acknowledged - stored}, drain {drained:.2f} s"
        )
    finally:
        engine.dispose()
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
