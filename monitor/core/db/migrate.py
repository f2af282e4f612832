"""Run the Alembic migrations programmatically (what `beltwatch db upgrade` calls)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from alembic import command
from monitor.core.db.partitions import partition_day

# The migration environment lives in the repository's top-level alembic/; the wheel ships
# the same files as the package below (pyproject.toml maps the directory).
_SOURCE_TREE = Path(__file__).resolve().parents[3] / "alembic"
PACKAGED = "monitor.core.db.migrations"


def script_location() -> str:
    """The directory of the migration environment: the source checkout's alembic/, else
    the copy installed with the package."""
    if (_SOURCE_TREE / "env.py").is_file() and (_SOURCE_TREE / "versions").is_dir():
        return str(_SOURCE_TREE)
    spec = importlib.util.find_spec(PACKAGED)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"beltwatch's migrations are missing: neither {_SOURCE_TREE} nor {PACKAGED}"
        )
    return str(next(iter(spec.submodule_search_locations)))


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", script_location())
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
