"""Run the Alembic migrations programmatically (what `beltwatch db upgrade` calls)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from monitor.db.partitions import partition_day

SCRIPT_LOCATION = "monitor:migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


# Concurrent `db upgrade`s (replicas starting together) run one after the other.
# (Decimal: PostgreSQL before 16 reads no hex literals.)
_LOCK_SQL = text("SELECT pg_advisory_xact_lock(1650814069)")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""
    with engine.begin() as conn:
        conn.execute(_LOCK_SQL)
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema down to `revision` ("base" removes every table)."""
    with engine.begin() as conn:
        conn.execute(_LOCK_SQL)
        config = _config()
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    """The newest revision the code knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate filter: False for a daily partition of `predictions` (made by code, not
    by migrations) and for anything on one."""
    if type_ == "table" and name is not None and partition_day(name) is not None:
        return False
    table = getattr(obj, "table", None)
    return not (table is not None and partition_day(table.name) is not None)
