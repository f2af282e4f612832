"""`beltwatch simulate` through the command line: frames go through the worker into the
database, faults are placed and announced, and a bad fault spec is a usage error naming
the wrong part."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from typer.testing import CliRunner

from monitor.cli import app

runner = CliRunner()


def env_for(url, tmp_path) -> dict[str, str]:
    return {
        "BELTWATCH_DATABASE_URL": url.render_as_string(hide_password=False),
        "BELTWATCH_DATA_DIR": str(tmp_path),
    }


def test_simulate_logs_every_frame_through_the_worker(db_url, engine, tmp_path) -> None:
    since = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    one, two = since + timedelta(hours=1), since + timedelta(hours=2)
    args = [
        "simulate", "--stations", "S1,dock-2", "--per-hour", "30",
        "--since", f"{since:%Y-%m-%dT%H:%MZ}", "--until", f"{two:%Y-%m-%dT%H:%MZ}",
        "--fault", f"down:dock-2@{one:%H:%M}-{two:%H:%M}",
    ]  # fmt: skip
    result = runner.invoke(app, args, env=env_for(db_url, tmp_path))
    assert result.exit_code == 0, result.output
    assert f"fault down:dock-2@{one:%H:%M}" in result.output
    assert "(expect no_data)" in result.output
    logged = re.search(
        r"([\d,]+) of ([\d,]+) frames logged \(([\d,]+) rows stored\)", result.output
    )
    assert logged, result.output
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                text(
                    "SELECT station_id || '@' || extract(hour FROM captured_at)::int, count(*) "
                    "FROM predictions GROUP BY 1"
                )
            ).all()
        )
    total = sum(rows.values())
    assert int(logged[1].replace(",", "")) == int(logged[3].replace(",", "")) == total
    assert f"dock-2@{one.hour}" not in rows  # down: nothing sent
    assert rows[f"dock-2@{since.hour}"] > 10 and rows[f"S1@{one.hour}"] > 10


def test_a_bad_fault_spec_is_a_usage_error_naming_the_part(tmp_path) -> None:
    result = runner.invoke(
        app,
        ["simulate", "--fault", "lighting:S1@20:00-2300"],
        env={"BELTWATCH_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert "fault 'lighting:S1@20:00-2300': end: '2300' is not a time HH:MM" in " ".join(
        result.output.split()
    ).replace("│ ", "")
