"""Helpers for the monitor tests: records, and a switch that cuts a database off."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import URL
from tests_support import record

from monitor.db.engine import libpq_dsn
from monitor.records import PredictionRecord


@pytest.fixture
def make_record() -> Callable[..., PredictionRecord]:
    return record


@contextmanager
def database_cut_off(admin: URL, database: str) -> Iterator[None]:
    """Refuse new connections to `database` and kill the open ones, until the block ends.

    Works on any server the tests may run against, including ones they cannot stop.
    """
    name = sql.Identifier(database)
    with psycopg.connect(libpq_dsn(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(name))
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        )
    try:
        yield
    finally:
        with psycopg.connect(libpq_dsn(admin), autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(name))


@pytest.fixture
def cut_off(pg_admin_url: URL, db_url: URL) -> Callable[[], object]:
    """`with cut_off(): ...` makes the test database unreachable for the block."""
    assert db_url.database is not None
    return lambda: database_cut_off(pg_admin_url, db_url.database)
