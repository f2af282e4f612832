"""The SQL of the prediction log's writer: the staging table its COPY fills, and the one
statement that moves a batch into `predictions` (exactly once) and the arrivals ledger."""

from __future__ import annotations

import psycopg
from sqlalchemy import URL, make_url

from monitor.core.db.engine import libpq_dsn, redacted
from monitor.core.exceptions import DatabaseError
from monitor.predlog.records import COLUMNS

COLUMN_LIST = ", ".join(COLUMNS)
STAGE = "predictions_stage"
CREATE_STAGE = f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (LIKE predictions) ON COMMIT DELETE ROWS"
COPY = f"COPY {STAGE} ({COLUMN_LIST}) FROM STDIN"
DAYS = f"SELECT DISTINCT (captured_at AT TIME ZONE 'UTC')::date FROM {STAGE}"
# Insert the staged rows (a replayed one is skipped), count what was stored per capture
# hour in the arrivals ledger in the same transaction (the hourly monitor finds late rows
# by it), and answer the number inserted. Hours in order, so writers lock ledger rows in
# the same order and never deadlock.
INSERT = f"""
WITH inserted AS (
    INSERT INTO predictions ({COLUMN_LIST}) SELECT {COLUMN_LIST} FROM {STAGE}
    ON CONFLICT DO NOTHING RETURNING captured_at
), ledger AS (
    INSERT INTO prediction_arrivals (hour, rows, last_arrival)
    SELECT date_trunc('hour', captured_at, 'UTC'), count(*), now() FROM inserted
    GROUP BY 1 ORDER BY 1
    ON CONFLICT (hour) DO UPDATE SET rows = prediction_arrivals.rows + excluded.rows,
        last_arrival = excluded.last_arrival
)
SELECT count(*) FROM inserted
"""


def count(cur: psycopg.Cursor) -> int:
    """The number INSERT answers (rows inserted)."""
    row = cur.fetchone()
    return int(row[0]) if row is not None else 0


def dsn(url: URL | str) -> str:
    """A libpq connection string from a SQLAlchemy URL or URL string; checked now, so a
    malformed one fails at start-up instead of being retried as an outage."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
        if parsed.get_backend_name() != "postgresql":
            raise ValueError(parsed.get_backend_name())
        conninfo = libpq_dsn(parsed)
        psycopg.conninfo.conninfo_to_dict(conninfo)
    except Exception:
        shown = redacted(url) if isinstance(url, URL) else "the given URL"
        raise DatabaseError(
            f"prediction log: {shown} is not a PostgreSQL URL "
            "(expected postgresql://user:password@host:port/db)"
        ) from None
    return conninfo
