"""`beltwatch db ...` end to end through the command line."""

from __future__ import annotations

from typer.testing import CliRunner

from monitor.cli import app
from monitor.db import migrate

runner = CliRunner()


def env_for(url) -> dict[str, str]:
    return {"BELTWATCH_DATABASE_URL": url.render_as_string(hide_password=False)}


def test_db_upgrade_current_downgrade(empty_db_url) -> None:
    env = env_for(empty_db_url)
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert f"revision {migrate.head()}" in result.output
    assert "daily partitions of predictions" in result.output

    result = runner.invoke(app, ["db", "current"], env=env)
    assert result.exit_code == 0 and f"revision {migrate.head()} (head" in result.output

    result = runner.invoke(app, ["db", "partitions"], env=env)
    assert result.exit_code == 0 and "rows" in result.output

    result = runner.invoke(app, ["db", "downgrade", "base", "--yes"], env=env)
    assert result.exit_code == 0 and "base (empty)" in result.output

    result = runner.invoke(app, ["db", "current"], env=env)
    assert result.exit_code == 3 and "revision none" in result.output


def test_bad_setting_exits_2_naming_it() -> None:
    result = runner.invoke(app, ["db", "current"], env={"BELTWATCH_RETENTION_DAYS": "-5"})
    assert result.exit_code == 2
    assert "retention_days (BELTWATCH_RETENTION_DAYS)" in result.output


def test_unreachable_database_is_a_clear_error_without_the_password() -> None:
    env = {"BELTWATCH_DATABASE_URL": "postgresql://bw:s3cret-pw@127.0.0.1:1/beltwatch"}
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 1
    assert "db upgrade failed" in result.output
    assert "s3cret-pw" not in result.output
