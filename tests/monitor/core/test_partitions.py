"""Daily partitions: made ahead, made on demand, dropped for retention."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from monitor.core.db import partitions


def test_partition_names_and_days_round_trip() -> None:
    assert partitions.partition_name(date(2026, 1, 5)) == "predictions_p20260105"
    assert partitions.partition_day("predictions_p20260105") == date(2026, 1, 5)
    assert partitions.partition_day("predictions") is None
    assert partitions.partition_day("predictions_p2026") is None


@pytest.mark.parametrize(
    ("today", "keep", "cutoff"),
    [(date(2026, 11, 25), 1, date(2026, 11, 25)), (date(2026, 11, 25), 90, date(2026, 8, 28))],
)
def test_retention_keeps_exactly_the_last_n_days(today: date, keep: int, cutoff: date) -> None:
    assert partitions.retention_cutoff(today, keep) == cutoff


def test_ensure_ahead_covers_yesterday_to_n_days_ahead(engine) -> None:
    with engine.begin() as conn:
        created = partitions.ensure_ahead(conn, date(2026, 11, 25), 3)
        again = partitions.ensure_ahead(conn, date(2026, 11, 25), 3)
        days = partitions.existing_days(conn)
    assert created == [date(2026, 11, d) for d in range(24, 29)]
    assert again == []
    assert days == set(created)


def test_partition_bounds_are_utc_days(engine) -> None:
    with engine.begin() as conn:
        partitions.ensure_days(conn, [date(2026, 11, 25)])
        bound = conn.execute(
            text(
                "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c "
                "WHERE c.relname = 'predictions_p20261125'"
            )
        ).scalar_one()
    assert bound == ("FOR VALUES FROM ('2026-11-25 00:00:00+00') TO ('2026-11-26 00:00:00+00')")


def test_drop_before_removes_only_whole_old_days(engine) -> None:
    days = [date(2026, 11, d) for d in range(20, 26)]
    with engine.begin() as conn:
        partitions.ensure_days(conn, days)
        conn.execute(text("CREATE TABLE predictions_notes (x int)"))  # not ours: left alone
        dropped = partitions.drop_before(conn, date(2026, 11, 23))
        left = partitions.existing_days(conn)
        tables = set(conn.execute(text("SELECT tablename FROM pg_tables")).scalars())
    assert dropped == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
    assert left == {date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)}
    assert "predictions_notes" in tables
