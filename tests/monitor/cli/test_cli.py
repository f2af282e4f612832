"""`beltwatch db ...` end to end through the command line."""

from __future__ import annotations

from typer.testing import CliRunner

from monitor.cli import app
from monitor.core.db import migrate

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
    assert "database unreachable" in result.output
    assert "s3cret-pw" not in result.output


def test_monitor_baseline_and_silence_commands(db_url, settings) -> None:
    from datetime import UTC, datetime, timedelta

    from daygen import Fault, traffic

    from monitor.predlog import PredictionLog

    day1 = datetime(2026, 11, 23, tzinfo=UTC)
    day2 = day1 + timedelta(days=1)
    faults = {("S1", h): Fault(critical_share=0.3) for h in range(2)}
    with PredictionLog(db_url, settings) as plog:
        for record in traffic(["S1"], day1, 6, 200, seed=1):
            plog.log(record)
        for record in traffic(["S1"], day2, 2, 200, seed=2, faults=faults):
            plog.log(record)
    env = {
        **env_for(db_url),
        "BELTWATCH_DATA_DIR": str(settings.data_dir),
        "BELTWATCH_SPOOL_DIR": str(settings.effective_spool_dir),
    }

    result = runner.invoke(app, ["baseline", "show", "--station", "S1"], env=env)
    assert result.exit_code == 1 and "no reference profile" in result.output
    result = runner.invoke(
        app,
        [
            "baseline",
            "set",
            "--station",
            "S1",
            "--since",
            "2026-11-23T00:00Z",
            "--until",
            "2026-11-23T06:00Z",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "reference of station S1: 1,200 predictions, 200 per hour" in result.output
    result = runner.invoke(app, ["baseline", "show", "--station", "S1"], env=env)
    assert result.exit_code == 0 and "sharpness" in result.output
    # The calibrated limits: one row per statistic a CUSUM watches, limits >= cusum_h.
    assert "calibrated limits" in result.output
    rows = {
        line.split()[0]: line.split()
        for line in result.output.splitlines()
        if line.split()
        and line.split()[0] in {"sharpness_tile_min", "brightness", "luma_p01"}
        and line.split()[-1] == "6"  # built from 6 hours
    }
    assert set(rows) == {"sharpness_tile_min", "brightness", "luma_p01"}
    assert float(rows["sharpness_tile_min"][-3]) >= settings.cusum_h  # h down
    assert rows["sharpness_tile_min"][-2] == "-"  # no upward CUSUM on focus

    result = runner.invoke(
        app,
        [
            "silence",
            "add",
            "--rule",
            "class_drift",
            "--station",
            "S1",
            "--from",
            "2026-11-24T00:00Z",
            "--until",
            "2099-01-01T00:00Z",
            "--comment",
            "swap",
        ],
        env=env,
    )
    assert result.exit_code == 0 and "silence 1: rule class_drift, station S1" in result.output
    assert "swap" in runner.invoke(app, ["silence", "list"], env=env).output

    result = runner.invoke(app, ["monitor", "once", "--hour", "2026-11-24T00:00Z"], env=env)
    assert result.exit_code == 0, result.output
    assert "2026-11-24T00:00Z" in result.output and "critical" in result.output
    assert "-> trigger: critical_rate:S1" in result.output
    assert "-> trigger: class_drift:S1" not in result.output  # silenced

    result = runner.invoke(
        app,
        ["monitor", "backfill", "--since", "2026-11-24T00:00Z", "--until", "2026-11-24T02:00Z"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "2026-11-24T01:00Z" in result.output and "2026-11-24T00:00Z" not in result.output

    result = runner.invoke(app, ["monitor", "once", "--hour", "yesterday"], env=env)
    assert result.exit_code == 2 and "ISO 8601" in result.output


def test_baseline_set_records_who_set_it_and_show_prints_it(db_url, settings, engine) -> None:
    from datetime import UTC, datetime, timedelta

    from daygen import traffic
    from sqlalchemy import text

    from monitor.predlog import PredictionLog
    from monitor.reference import build_reference

    day1 = datetime(2026, 11, 23, tzinfo=UTC)
    with PredictionLog(db_url, settings) as plog:
        for record in traffic(["S1", "S2"], day1, 3, 100, seed=3):
            plog.log(record)
    env = {**env_for(db_url), "BELTWATCH_DATA_DIR": str(settings.data_dir), "LOGNAME": "bob"}
    window = ["--since", "2026-11-23T00:00Z", "--until", "2026-11-23T03:00Z"]

    def set_by() -> str | None:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT set_by FROM reference_profiles WHERE station_id = 'S1'")
            ).scalar_one_or_none()

    result = runner.invoke(
        app, ["baseline", "set", "--station", "S1", *window, "--by", "Ana"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "window 2026-11-23T00:00:00+00:00 to 2026-11-23T03:00:00+00:00; set by Ana at " in (
        result.output
    )
    assert set_by() == "Ana"
    # Without --by: the login name.
    result = runner.invoke(app, ["baseline", "set", "--station", "S1", *window], env=env)
    assert result.exit_code == 0, result.output
    assert set_by() == "bob"
    result = runner.invoke(app, ["baseline", "show", "--station", "S1"], env=env)
    assert result.exit_code == 0 and "; set by bob at " in result.output
    # A blank name is refused and changes nothing.
    result = runner.invoke(
        app, ["baseline", "set", "--station", "S1", *window, "--by", " "], env=env
    )
    assert result.exit_code == 1 and "pass --by NAME" in result.output
    assert set_by() == "bob"

    with engine.begin() as conn:  # the monitor's own provisional profile records no name
        build_reference(
            conn, "S2", day1, day1 + timedelta(hours=3), sample_size=100, provisional=True
        )
    result = runner.invoke(app, ["baseline", "show", "--station", "S2"], env=env)
    assert result.exit_code == 0 and "PROVISIONAL reference of station S2" in result.output
    assert "; set by the monitor at " in result.output
