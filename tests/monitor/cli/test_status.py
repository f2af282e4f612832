"""`beltwatch status` against a real PostgreSQL: what it prints and what `--json` holds are
what the database holds, station by station, then the outbox and the monitor; an empty
database says how to get data rather than printing empty tables."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
import typer
from daygen import hour_records
from hourly_support import write
from sqlalchemy import text
from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli.common import ErrorBoundary, main
from monitor.cli.status import EMPTY, age, collect_status, status_command, status_json
from monitor.core.queries import alerts, notifications, rollups, runs, stations
from monitor.reference import build_reference

runner = CliRunner()
NOW = datetime(2026, 11, 30, 12, 20, tzinfo=UTC)
OPEN = datetime(2026, 11, 30, 12, tzinfo=UTC)  # the open hour
SUMMARY = "S1: lens dirty or out of focus — sharpness down 55 % [provisional reference]"


def at(hour: int) -> datetime:
    return datetime(2026, 11, 30, hour, tzinfo=UTC)


def status_app() -> typer.Typer:
    """The `beltwatch` app if `status` is registered there, else a root of its own."""
    if any(command.name == "status" for command in app.registered_commands):
        return app
    own = typer.Typer(cls=ErrorBoundary, pretty_exceptions_enable=False)
    own.callback()(main)
    own.command("status")(status_command)
    return own


@pytest.fixture
def env(db_url, tmp_path) -> dict[str, str]:
    return {
        "BELTWATCH_DATABASE_URL": db_url.render_as_string(hide_password=False),
        "BELTWATCH_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.cli.status._now", lambda: NOW)


def invoke(env: dict[str, str], *args: str):
    result = runner.invoke(status_app(), ["status", *args], env=env)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def site(db_url, engine, settings) -> None:
    """S1: busy, a reference set by alice, a lens alert firing, 40 frames so far this hour;
    S2: 10 an hour, no reference; S3: silent since 08:00, retired at 09:00. The monitor
    did 00:00-11:00 but failed 09:00; one notification pending, one failed."""
    records = [r for h in range(12) for r in hour_records("S1", at(h), 150, seed=1)]
    records += [r for h in range(6, 12) for r in hour_records("S2", at(h), 10, seed=2)]
    records += [r for h in range(8) for r in hour_records("S3", at(h), 150, seed=3)]
    this_hour = hour_records("S1", OPEN, 40, seed=4)
    records += [
        dataclasses.replace(r, captured_at=OPEN + timedelta(seconds=20 * i))
        for i, r in enumerate(this_hour)
    ]
    write(db_url, settings, records)
    with engine.begin() as conn:
        build_reference(conn, "S1", at(0), at(6), sample_size=2000, set_by="alice")
        for h in range(12):
            rollups.write_hour(conn, at(h))
            runs.mark_running(conn, at(h))
            if h == 9:
                runs.mark_failed(conn, at(h), "OperationalError: server closed the connection")
            else:
                runs.mark_done(conn, at(h))
        stations.retire(conn, "S3", at(9), "bob", "camera replaced")
        lens = alerts.open_episode(
            conn, fingerprint="lens_drift:S1", rule="lens_drift", station_id="S1",
            severity="critical", started_at=at(10), summary=SUMMARY,
        )  # fmt: skip
        site_alert = alerts.open_episode(
            conn, fingerprint="no_data@site", rule="no_data", station_id=None,
            severity="critical", started_at=at(11), summary="site: no predictions this hour",
        )  # fmt: skip
        notifications.queue_notification(conn, lens, "webhook", "trigger", at(10), {})
        notifications.queue_notification(conn, site_alert, "slack", "trigger", at(11), {})
        failed = conn.execute(text("SELECT id FROM notifications WHERE channel = 'slack'"))
        notifications.mark_failed(conn, failed.scalar_one(), 12, "HTTP 500 from slack")


def _by_station(shown: dict) -> dict[str, dict]:
    return {s["station"]: s for s in shown["stations"]}


def test_json_holds_what_the_database_holds(env, engine, site, fixed_clock) -> None:
    shown = json.loads(invoke(env, "--json").output)
    assert shown["schema"] == 1 and shown["empty"] is False and shown["message"] is None
    assert shown["now"] == NOW.isoformat()
    assert shown["judged_hour"] == at(11).isoformat()
    assert shown["camera_hour"] == at(11).isoformat()
    # Firing first, the retired station last.
    assert [s["station"] for s in shown["stations"]] == ["S1", "S2", "S3"]
    s1, s2, s3 = (_by_station(shown)[name] for name in ("S1", "S2", "S3"))

    with engine.connect() as conn:
        last, n, critical = conn.execute(
            text(
                "SELECT max(captured_at), count(*) FILTER (WHERE captured_at >= :open), "
                "count(*) FILTER (WHERE captured_at >= :open AND predicted_class = 'critical') "
                "FROM predictions WHERE station_id = 'S1'"
            ),
            {"open": OPEN},
        ).one()
        row = rollups.hour_rows(conn, at(11))["S1"]
        profile = conn.execute(
            text("SELECT created_at, hourly_spread FROM reference_profiles WHERE station_id = 'S1'")
        ).one()
    assert s1["health"] == "firing"
    assert s1["last_prediction_at"] == last.astimezone(UTC).isoformat()
    assert s1["last_prediction_age_s"] == (NOW - last).total_seconds()
    assert s1["this_hour"] == {
        "since": OPEN.isoformat(),
        "predictions": n,
        "critical": critical,
        "critical_share": critical / n,
    }
    assert n == 40
    spread = profile.hourly_spread["sharpness"]
    sigmas = 4.5  # drift_control_sigmas
    assert s1["camera"]["hour"] == at(11).isoformat()
    assert s1["camera"]["predictions"] == row["n_total"] == 150
    assert s1["camera"]["sharpness"]["median"] == pytest.approx(row["sharpness_p50"])
    assert s1["camera"]["sharpness"]["low"] == pytest.approx(spread["mean"] - sigmas * spread["sd"])
    assert s1["camera"]["sharpness"]["high"] == pytest.approx(
        spread["mean"] + sigmas * spread["sd"]
    )
    assert s1["camera"]["brightness"]["median"] == pytest.approx(row["brightness_p50"])
    assert s1["reference"]["state"] == "set" and s1["reference"]["set_by"] == "alice"
    assert s1["reference"]["since"] == profile.created_at.astimezone(UTC).isoformat()
    assert s1["reference"]["window_start"] == at(0).isoformat()
    assert s1["reference"]["window_end"] == at(6).isoformat()
    assert [(a["rule"], a["severity"], a["summary"]) for a in s1["alerts"]] == [
        ("lens_drift", "critical", SUMMARY)
    ]
    assert s1["cannot_judge"] == []

    assert s2["health"] in ("ok", "watch")  # 10 frames: its critical share may stray
    assert s2["this_hour"]["predictions"] == 0 and s2["this_hour"]["critical_share"] is None
    assert s2["camera"]["sharpness"]["low"] is None  # no reference: no band
    assert s2["reference"] == {
        "state": "none", "since": None, "window_start": None, "window_end": None, "set_by": None
    }  # fmt: skip
    assert s2["cannot_judge"] == [
        {
            "rules": ["critical_rate"],
            "reason": "too few predictions: 10 in the hour 11:00-12:00 UTC, needs 50",
        },
        {
            "rules": ["lens_drift", "lighting_drift", "class_drift"],
            "reason": "no reference yet (set one with `beltwatch baseline set --station S2 "
            "--since T --until T`; the monitor makes a provisional one from its first 24 hours "
            "with frames: 6 so far)",
        },
    ]

    assert s3["health"] == "retired" and s3["retired_at"] == at(9).isoformat()
    assert s3["camera"]["predictions"] == 0 and s3["alerts"] == []
    [retired] = s3["cannot_judge"]
    assert retired["reason"].startswith("retired 2026-11-30 09:00Z, nothing expected")

    assert [a["rule"] for a in shown["site_alerts"]] == ["no_data"]
    outbox = shown["outbox"]
    assert (outbox["pending"], outbox["failed"]) == (1, 1)
    assert outbox["channels"] == {
        "slack": {"pending": 0, "failed": 1},
        "webhook": {"pending": 1, "failed": 0},
    }
    [failed] = outbox["failed_recent"]
    assert (failed["rule"], failed["station"], failed["channel"]) == ("no_data", None, "slack")
    assert (failed["attempts"], failed["error"]) == (12, "HTTP 500 from slack")
    assert shown["monitor"] == {
        "last_hour_done": at(11).isoformat(),
        "last_done_at": shown["monitor"]["last_done_at"],
        "next_run_at": datetime(2026, 11, 30, 13, 5, tzinfo=UTC).isoformat(),
        "hours_behind": 0,
        "failed_hours": [
            {
                "hour": at(9).isoformat(),
                "attempts": 1,
                "error": "OperationalError: server closed the connection",
            }
        ],
    }
    assert shown["monitor"]["last_done_at"] is not None


def test_the_screen_shows_each_station_then_the_outbox_and_the_monitor(
    env, site, fixed_clock
) -> None:
    shown = _by_station(json.loads(invoke(env, "--json").output))
    output = invoke(env).output
    lines = output.splitlines()
    assert lines[0] == (
        "beltwatch status at 2026-11-30 12:20Z (site site); "
        "camera figures of the hour 2026-11-30 11:00-12:00Z"
    )
    s1 = next(line for line in lines if line.lstrip("│ ").startswith("S1 "))
    sharpness = shown["S1"]["camera"]["sharpness"]
    last = datetime.fromisoformat(shown["S1"]["last_prediction_at"])
    for cell in (
        "firing",
        "lens_drift",
        f"{last:%H:%M:%S}Z ({age(NOW - last)} ago)",
        f"40, {shown['S1']['this_hour']['critical_share']:.1%} critical",
        f"{sharpness['median']:.3f} ({sharpness['low']:.3f}-{sharpness['high']:.3f})",
        f"set {datetime.fromisoformat(shown['S1']['reference']['since']):%Y-%m-%d %H:%M}Z by alice",
    ):
        assert cell in s1, (cell, s1)
    s2 = next(line for line in lines if line.lstrip("│ ").startswith("S2 "))
    assert "(no reference)" in s2 and " none " in s2
    s3 = next(line for line in lines if line.lstrip("│ ").startswith("S3 "))
    gone = datetime.fromisoformat(shown["S3"]["last_prediction_at"])
    assert "retired" in s3 and f"{gone:%H:%M:%S}Z ({age(NOW - gone)} ago)" in s3
    assert "not judged in the hour 2026-11-30 11:00-12:00Z" in lines
    # Each reason once per station, with the rules it stops.
    assert (
        "  S2: critical_rate: too few predictions: 10 in the hour 11:00-12:00 UTC, needs 50"
        in lines
    )
    assert sum("S2: lens_drift, lighting_drift, class_drift: no reference yet" in line
               for line in lines) == 1  # fmt: skip
    # A summary's brackets are text, not Rich markup.
    assert "[provisional reference]" in output
    assert "site: no predictions this hour" in output
    assert "outbox: 1 pending, 1 failed (slack: 1 failed; webhook: 1 pending)" in output
    assert "HTTP 500 from slack" in output
    assert "monitor: last hour done 2026-11-30 11:00Z" in output
    assert "next run 2026-11-30 13:05Z" in output
    assert (
        "hour 2026-11-30 09:00Z failed (1 attempt(s)): "
        "OperationalError: server closed the connection" in output
    )
    assert "not done yet" not in output


def test_a_monitor_that_stopped_is_shown_behind(engine, settings, site) -> None:
    later = NOW + timedelta(hours=3)  # 15:20: 14:00 closed, its run at 15:05 is past
    with engine.connect() as conn:
        status = collect_status(conn, settings, later)
    assert status.hours_behind == 3
    assert status.next_run_at == datetime(2026, 11, 30, 16, 5, tzinfo=UTC)
    before_the_run = NOW.replace(minute=3)  # 12:03: 11:00 is due at 12:05, not yet late
    with engine.connect() as conn:
        assert collect_status(conn, settings, before_the_run).hours_behind == 0


def test_a_worker_before_any_monitor_run_is_no_empty_database(
    db_url, engine, settings, env, fixed_clock
) -> None:
    records = hour_records("dock-1", OPEN, 5, seed=7)
    write(
        db_url,
        settings,
        [
            dataclasses.replace(r, captured_at=OPEN + timedelta(minutes=i))
            for i, r in enumerate(records)
        ],
    )
    shown = json.loads(invoke(env, "--json").output)
    assert shown["empty"] is False and shown["camera_hour"] is None
    [dock] = shown["stations"]
    assert dock["station"] == "dock-1" and dock["health"] == "no data"
    assert dock["this_hour"]["predictions"] == 5
    assert dock["last_prediction_at"] == (OPEN + timedelta(minutes=4)).isoformat()
    assert shown["monitor"]["last_hour_done"] is None
    output = invoke(env).output
    assert "monitor: no hour done yet; next run 2026-11-30 13:05Z" in output


def test_an_empty_database_says_how_to_get_data(env, fixed_clock) -> None:
    assert invoke(env).output.strip() == EMPTY
    shown = json.loads(invoke(env, "--json").output)
    assert shown["empty"] is True and shown["message"] == EMPTY
    assert shown["stations"] == [] and shown["site_alerts"] == []
    assert shown["outbox"]["pending"] == 0 and shown["monitor"]["last_hour_done"] is None


def test_the_json_of_the_function_is_the_json_of_the_command(
    env, engine, settings, site, fixed_clock
) -> None:
    with engine.connect() as conn:
        direct = status_json(collect_status(conn, settings, NOW))
    assert json.loads(invoke(env, "--json").output) == direct


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(-3, "0 s"), (14, "14 s"), (360, "6 min"), (3 * 3600, "3 h"), (11520, "3 h 12 min"),
     (2 * 86400 + 5 * 3600, "2 d 5 h"), (86400, "1 d")],
)  # fmt: skip
def test_ages_read_the_way_people_say_them(seconds: int, said: str) -> None:
    assert age(timedelta(seconds=seconds)) == said
