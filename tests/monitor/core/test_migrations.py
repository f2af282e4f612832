"""Alembic owns the schema: up from empty, down to nothing, and equal to the models."""

from __future__ import annotations

from datetime import date

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

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
