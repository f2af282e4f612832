"""Daily range partitions of `predictions`: create ahead, create on demand, drop for retention.

A partition holds one UTC day and is named `predictions_pYYYYMMDD`. They are made by code,
not by migrations (Alembic is told to ignore them), so both the writer and the CLI call
`ensure_days`; an advisory lock serialises creators from different processes.

The drift reports' retention runs beside the partitions' (`db partitions --prune`): each
hour's reports are a folder `<reports_dir>/YYYYMMDDTHHZ/`, deleted whole once its day is
past `reports_retention_days`.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, text

log = logging.getLogger(__name__)

PARENT = "predictions"
_NAME = re.compile(r"^predictions_p(\d{8})$")
# Any constant works; it only has to be the same in every process.
_LOCK_KEY = 0x62656C74  # "belt"


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def partition_day(name: str) -> date | None:
    """The day a partition holds, or None for a table that is not one of ours."""
    match = _NAME.match(name)
    return datetime.strptime(match.group(1), "%Y%m%d").date() if match else None


def create_sql(day: date) -> str:
    """DDL that creates the partition for `day` if it is missing (UTC day bounds)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {PARENT} "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


LOCK_SQL = f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"

EXISTING_SQL = """
SELECT c.relname FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
WHERE p.relname = 'predictions' AND p.relnamespace = to_regnamespace(current_schema())
"""


def existing_days(conn: Connection) -> set[date]:
    days = (partition_day(name) for (name,) in conn.execute(text(EXISTING_SQL)))
    return {day for day in days if day is not None}


def ensure_days(conn: Connection, days: Iterable[date]) -> list[date]:
    """Create the partitions for `days` that are missing; return the ones created."""
    wanted = set(days) - existing_days(conn)
    if not wanted:
        return []
    conn.execute(text(LOCK_SQL))
    missing = sorted(wanted - existing_days(conn))
    for day in missing:
        conn.execute(text(create_sql(day)))
    return missing


def ensure_ahead(conn: Connection, today: date, days_ahead: int) -> list[date]:
    """Partitions for yesterday (late frames), today and `days_ahead` days after."""
    return ensure_days(conn, (today + timedelta(days=n) for n in range(-1, days_ahead + 1)))


def drop_before(conn: Connection, cutoff: date) -> list[date]:
    """Drop every partition whose whole day lies before `cutoff`; return the days dropped."""
    conn.execute(text(LOCK_SQL))
    old = sorted(day for day in existing_days(conn) if day < cutoff)
    for day in old:
        conn.execute(text(f"DROP TABLE IF EXISTS {partition_name(day)}"))
    return old


def retention_cutoff(today: date, retention_days: int) -> date:
    """The first day still kept when `retention_days` days are kept, today included."""
    return today - timedelta(days=retention_days - 1)


# An hour's drift reports, as the hourly monitor names their folder: 20261124T13Z.
_REPORT_HOUR = re.compile(r"^(\d{8})T([01]\d|2[0-3])Z$")


def report_folder_day(name: str) -> date | None:
    """The day an hour's report folder holds, or None for anything that is not one."""
    match = _REPORT_HOUR.match(name)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:  # 20261340T10Z: not a date, not ours
        return None


def expired_report_folders(names: Iterable[str], cutoff: date) -> list[str]:
    """The hour folders among `names` whose day lies before `cutoff`, oldest first; any
    other name (a file of the operator's, a web server's index) is never expired."""
    days = {name: report_folder_day(name) for name in names}
    return sorted(name for name, day in days.items() if day is not None and day < cutoff)


def prune_reports(reports_dir: Path, cutoff: date) -> list[str]:
    """Delete the hour folders of drift reports before `cutoff` (see retention_cutoff);
    return the names deleted. A folder that cannot be deleted is logged and left for the
    next prune; nothing but real folders named like an hour is touched."""
    if not reports_dir.is_dir():
        return []
    folders = [
        entry.name for entry in reports_dir.iterdir() if entry.is_dir() and not entry.is_symlink()
    ]
    deleted = []
    for name in expired_report_folders(folders, cutoff):
        try:
            shutil.rmtree(reports_dir / name)
        except OSError as error:
            log.warning("drift reports %s not deleted: %s", reports_dir / name, error)
            continue
        deleted.append(name)
    return deleted
