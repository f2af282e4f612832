"""Alembic owns the schema: up from empty, down to nothing, and equal to the models."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from monitor.core.db import migrate, partitions
from monitor.core.db.engine import make_engine
from monitor.core.db.migrate import include_object
from monitor.core.db.models import Base

TABLES = {
    "predictions",
    "hourly_rollups",
    "reference_profiles",
    "alerts",
    "silences",
    "notifications",
    "reviews",
    "monitor_runs",
}


def test_upgrade_from_empty_then_downgrade_to_base(empty_db_url) -> None:
    engine = make_engine(empty_db_url)
    try:
        assert migrate.current(engine) is None
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.head()
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.begin() as conn:
            partitions.ensure_days(conn, [date(2026, 11, 25)])
        migrate.downgrade(engine, "base")
        assert migrate.current(engine) is None
        remaining = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()  # the partitions went with their parent
        migrate.upgrade(engine)  # and up again, from scratch
        assert migrate.current(engine) == migrate.head()
    finally:
        engine.dispose()


def test_models_and_migrations_agree(engine) -> None:
    """No pending autogenerate diff, with daily partitions present (they must be ignored)."""
    with engine.begin() as conn:
        partitions.ensure_days(conn, [date(2026, 11, 25), date(2026, 11, 26)])
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_predictions_is_range_partitioned_by_capture_time(engine) -> None:
    with engine.connect() as conn:
        strategy = conn.execute(
            text("SELECT pg_get_partkeydef(c.oid) FROM pg_class c WHERE c.relname = 'predictions'")
        ).scalar_one()
    assert strategy == "RANGE (captured_at)"


def test_0002_turns_the_site_marker_into_null_and_keeps_one_site_row(empty_db_url) -> None:
    """Rows and alerts written under 0001 ('*' marked the site) read the same way after the
    upgrade, and the site keeps one row per hour; downgrading gives the '*' back."""
    engine = make_engine(empty_db_url)
    hour = "2026-11-25 08:00+00"
    insert_rollup = text(
        "INSERT INTO hourly_rollups (hour, station_id, model_version, n_total, n_undamaged, "
        "n_minor, n_critical) VALUES (:hour, :station, :model, 10, 8, 1, 1)"
    )
    try:
        migrate.upgrade(engine, "0001")
        with engine.begin() as conn:
            for station, model in [("S1", "v1"), ("S1", "*"), ("*", "*")]:
                conn.execute(insert_rollup, {"hour": hour, "station": station, "model": model})
            conn.execute(
                text(
                    "INSERT INTO alerts (fingerprint, rule, station_id, severity, status, "
                    "started_at, summary) VALUES ('latency:*', 'latency', NULL, 'warning', "
                    "'firing', :hour, 's'), ('latency:S1', 'latency', 'S1', 'warning', "
                    "'firing', :hour, 's')"
                ),
                {"hour": hour},
            )
        migrate.upgrade(engine)
        with engine.begin() as conn:
            rows = set(conn.execute(text("SELECT station_id, model_version FROM hourly_rollups")))
            assert rows == {("S1", "v1"), ("S1", None), (None, None)}
            fingerprints = set(conn.execute(text("SELECT fingerprint FROM alerts")).scalars())
            assert fingerprints == {"latency@site", "latency:S1"}
            # A second site row for the hour is refused: NULLs are not distinct in the key.
            with pytest.raises(IntegrityError), conn.begin_nested():
                conn.execute(insert_rollup, {"hour": hour, "station": None, "model": None})
        migrate.downgrade(engine, "0001")
        with engine.connect() as conn:
            rows = set(conn.execute(text("SELECT station_id, model_version FROM hourly_rollups")))
            assert rows == {("S1", "v1"), ("S1", "*"), ("*", "*")}
            fingerprints = set(conn.execute(text("SELECT fingerprint FROM alerts")).scalars())
            assert fingerprints == {"latency:*", "latency:S1"}
    finally:
        engine.dispose()
