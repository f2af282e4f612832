"""Alembic environment. beltwatch passes an open connection (monitor/core/db/migrate.py); the
plain `alembic` command gets its database from the BELTWATCH_* settings instead.
"""

from __future__ import annotations

from sqlalchemy import Connection

from alembic import context
from monitor.core.db.migrate import include_object
from monitor.core.db.models import Base

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    from monitor.core.db.engine import database_url, make_engine
    from monitor.core.settings import load_settings

    engine = make_engine(database_url(load_settings()))
    with engine.connect() as conn:
        run(conn)
        conn.commit()
    engine.dispose()
