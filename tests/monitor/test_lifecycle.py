"""Alert lifecycle corners on a real PostgreSQL (issue 15): hours that have not closed,
empty hours marked done before their data came, an older hour processed again, a station
that falls silent or is retired, and a channel configured after an alert fired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from daygen import SILENT, Fault, traffic
from hourly_support import DAY1, DAY2, PER_HOUR, episodes, outbox, write
from sqlalchemy import text
from typer.testing import CliRunner

from monitor.cli import app
from monitor.core.exceptions import HourNotClosed
from monitor.core.queries import stations
from monitor.hourly import due_hours, process_hour, run_due, run_range
from monitor.reference import build_reference

pytestmark = pytest.mark.timeout(600)
runner = CliRunner()
SPIKE = Fault(critical_share=0.3)


def env_for(settings) -> dict[str, str]:
    return {
        "BELTWATCH_DATABASE_URL": settings.database_url.get_secret_value(),
        "BELTWATCH_DATA_DIR": str(settings.data_dir),
    }


def reference_day(db_url, engine, settings, names=("S1", "S2")) -> None:
    write(db_url, settings, traffic(list(names), DAY1, 24, PER_HOUR, seed=1))
    with engine.begin() as conn:
        for station in names:
            build_reference(conn, station, DAY1, DAY2, sample_size=settings.reference_sample_size)


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


# -- 5: an hour that has not closed ---------------------------------------------------------


def test_an_hour_that_has_not_closed_is_refused_before_anything_is_written(
    engine, settings
) -> None:
    now = DAY2 + timedelta(hours=3, minutes=10)
    with pytest.raises(HourNotClosed, match="2026-11-24T03:00Z has not closed yet") as caught:
        run_range(engine, settings, DAY2 + timedelta(hours=2), DAY2 + timedelta(hours=4), now=now)
    assert caught.value.last_closed == DAY2 + timedelta(hours=2)
    assert count(engine, "monitor_runs") == 0 and count(engine, "alerts") == 0
    # The hour that has closed is fine.
    outcome = run_range(
        engine, settings, DAY2 + timedelta(hours=2), DAY2 + timedelta(hours=3), now=now
    )
    assert [hour.hour for hour in outcome.hours] == [DAY2 + timedelta(hours=2)]


def test_the_command_line_refuses_a_future_hour_naming_the_option(db_url, engine, settings) -> None:
    reference_day(db_url, engine, settings)
    env = env_for(settings)
    result = runner.invoke(app, ["monitor", "once", "--hour", "2099-12-05T18:00Z"], env=env)
    assert result.exit_code == 2, result.output
    assert "--hour" in result.output and "has not closed yet" in result.output
    result = runner.invoke(
        app,
        ["monitor", "backfill", "--since", "2026-11-23T00:00Z", "--until", "2099-01-01T00:00Z"],
        env=env,
    )
    assert result.exit_code == 2 and "--until" in result.output
    assert "at the latest" in result.output
    # Nothing was judged, so no alert dated in the future can exist.
    assert count(engine, "monitor_runs") == 0 and count(engine, "alerts") == 0


# -- 8: empty hours done before their data came ---------------------------------------------


def test_empty_hours_done_on_a_fresh_install_are_judged_when_their_data_comes(
    db_url, engine, settings
) -> None:
    now = DAY2 + timedelta(hours=6, minutes=5)
    s = settings.model_copy(update={"monitor_catchup_hours": 6})
    first = run_due(engine, s, now)
    assert len(first.hours) == 6 and all(hour.ok for hour in first.hours)  # all empty
    assert due_hours(engine, now, s) == []
    # The worker's backlog of hour 2 arrives later (a directory of frames, a spool).
    late = DAY2 + timedelta(hours=2)
    write(db_url, s, traffic(["S1"], late, 1, PER_HOUR, seed=4, faults={("S1", 0): SPIKE}))
    assert due_hours(engine, now, s) == [late]
    again = run_due(engine, s, now)
    assert [hour.hour for hour in again.hours] == [late]
    assert "critical_rate:S1" in {r.fingerprint for r in again.hours[0].firing}


# -- 6: an older hour processed again -------------------------------------------------------


def test_an_older_hour_does_not_expect_a_station_that_did_not_exist_yet(
    db_url, engine, settings
) -> None:
    reference_day(db_url, engine, settings, names=("S1",))
    write(db_url, settings, traffic(["S1"], DAY2, 6, PER_HOUR, seed=2))
    # S2 is installed at 04:00 and gets its reference from its first hours.
    write(db_url, settings, traffic(["S2"], DAY2 + timedelta(hours=4), 2, PER_HOUR, seed=3))
    with engine.begin() as conn:
        build_reference(
            conn,
            "S2",
            DAY2 + timedelta(hours=4),
            DAY2 + timedelta(hours=6),
            sample_size=settings.reference_sample_size,
        )
    run_range(engine, settings, DAY2 + timedelta(hours=4), DAY2 + timedelta(hours=6))
    older = process_hour(engine, DAY2 + timedelta(hours=1), settings)
    assert older.ok
    assert not [r for r in older.results if r.station_id == "S2"], older.results
    assert "no_data:S2" not in {a.fingerprint for a in episodes(engine)}


def test_an_hour_processed_again_says_which_alerts_it_left_as_they_were(
    db_url, engine, settings
) -> None:
    reference_day(db_url, engine, settings)
    faults = {("S1", h): SPIKE for h in range(1, 4)}
    write(db_url, settings, traffic(["S1", "S2"], DAY2, 6, PER_HOUR, seed=5, faults=faults))
    run_range(engine, settings, DAY2, DAY2 + timedelta(hours=6))
    sent = outbox(engine)
    result = runner.invoke(
        app, ["monitor", "once", "--hour", "2026-11-24T02:00Z"], env=env_for(settings)
    )
    assert result.exit_code == 0, result.output
    assert "[critical]" in result.output or "[warning]" in result.output
    assert "processed again" in result.output and "critical_rate:S1" in result.output
    assert "left as they were" in result.output and "2026-11-24T05:00Z" in result.output
    assert outbox(engine) == sent  # and indeed nothing was sent


# -- 7: a station that falls silent, or is retired ------------------------------------------


def test_alerts_of_a_station_that_falls_silent_hand_over_to_no_data(
    db_url, engine, settings
) -> None:
    reference_day(db_url, engine, settings)
    faults = {("S1", h): SPIKE for h in range(3)} | {("S1", h): SILENT for h in range(3, 8)}
    write(db_url, settings, traffic(["S1", "S2"], DAY2, 8, PER_HOUR, seed=6, faults=faults))
    run_range(engine, settings, DAY2, DAY2 + timedelta(hours=8))
    alerts = {a.fingerprint: a for a in episodes(engine)}
    spike = alerts["critical_rate:S1"]
    assert spike.status == "resolved" and spike.resolved_at == DAY2 + timedelta(hours=3)
    assert spike.evidence["resolved_reason"] == "no data since 2026-11-24 03:00Z"
    assert alerts["no_data:S1"].status == "firing"  # the silence is no_data's to tell
    resolves = [row for row in outbox(engine) if row[:2] == ("critical_rate:S1", "resolve")]
    assert resolves == [("critical_rate:S1", "resolve", DAY2 + timedelta(hours=4))]
    with engine.connect() as conn:
        payload = conn.execute(
            text(
                "SELECT n.payload FROM notifications n JOIN alerts a ON a.id = n.alert_id "
                "WHERE n.event = 'resolve' AND a.fingerprint = 'critical_rate:S1'"
            )
        ).scalar_one()
    assert "(resolved: no data since 2026-11-24 03:00Z)" in payload["summary"]


def test_a_retired_station_is_not_expected_and_its_alerts_resolve(db_url, engine, settings) -> None:
    reference_day(db_url, engine, settings)
    faults = {("S1", h): SPIKE for h in range(3)} | {("S1", h): SILENT for h in range(3, 8)}
    write(db_url, settings, traffic(["S1", "S2"], DAY2, 8, PER_HOUR, seed=6, faults=faults))
    env = env_for(settings)
    result = runner.invoke(app, ["station", "retire", "S11", "--by", "ana"], env=env)
    assert result.exit_code == 1
    assert "station 'S11' matches no station seen in the database; known: S1, S2" in (result.output)
    result = runner.invoke(app, ["station", "retire", "S*", "--by", "ana"], env=env)
    assert result.exit_code == 1 and "'S*' is not a station id" in result.output
    result = runner.invoke(
        app,
        [
            "station",
            "retire",
            "S1",
            "--at",
            "2026-11-24T03:30Z",
            "--by",
            "ana",
            "--comment",
            "removed",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["station", "retire", "S1", "--by", "ana"], env=env).exit_code == 1
    run_range(engine, settings, DAY2, DAY2 + timedelta(hours=8))
    alerts = {a.fingerprint: a for a in episodes(engine)}
    assert "no_data:S1" not in alerts  # retired by the end of its first silent hour
    spike = alerts["critical_rate:S1"]
    assert spike.status == "resolved"
    assert spike.evidence["resolved_reason"] == "station S1 retired 2026-11-24 03:30Z"
    listed = runner.invoke(app, ["station", "list"], env=env)
    assert listed.exit_code == 0 and "retired 2026-11-24 03:30Z by ana (removed)" in listed.output
    assert runner.invoke(app, ["station", "unretire", "S1"], env=env).exit_code == 0
    with engine.connect() as conn:
        assert stations.retirements(conn) == {}


# -- 4: a channel configured after an alert fired -------------------------------------------


def test_a_channel_configured_after_an_alert_fired_gets_its_trigger_once(
    db_url, engine, settings
) -> None:
    reference_day(db_url, engine, settings)
    faults = {("S1", h): SPIKE for h in range(5)}
    write(db_url, settings, traffic(["S1", "S2"], DAY2, 5, PER_HOUR, seed=7, faults=faults))
    nobody = settings.model_copy(update={"webhook_url": None})
    run_range(engine, nobody, DAY2, DAY2 + timedelta(hours=2))
    assert outbox(engine) == []  # fired, with nowhere to send it
    run_range(engine, settings, DAY2 + timedelta(hours=2), DAY2 + timedelta(hours=4))
    # The station's spike and the site's (the station's share moved the site's) each get
    # their trigger once, at the first hour with somewhere to send it.
    triggers = [row for row in outbox(engine) if row[1] == "trigger"]
    assert triggers == [
        ("critical_rate:S1", "trigger", DAY2 + timedelta(hours=2)),
        ("critical_rate@site", "trigger", DAY2 + timedelta(hours=2)),
    ]
    with engine.connect() as conn:
        channels = conn.execute(text("SELECT DISTINCT channel FROM notifications")).scalars().all()
    assert channels == ["webhook"]


def test_an_alert_older_than_notify_max_age_waits_for_its_repeat(db_url, engine, settings) -> None:
    reference_day(db_url, engine, settings)
    faults = {("S1", h): SPIKE for h in range(5)}
    write(db_url, settings, traffic(["S1", "S2"], DAY2, 5, PER_HOUR, seed=7, faults=faults))
    run_range(
        engine, settings.model_copy(update={"webhook_url": None}), DAY2, DAY2 + timedelta(hours=3)
    )
    short = settings.model_copy(update={"notify_max_age_hours": 2.0, "repeat_interval_hours": 4})
    run_range(engine, short, DAY2 + timedelta(hours=3), DAY2 + timedelta(hours=5))
    # Started at 00:00: 4 hours old at 03:00's end, past 2: no late trigger; the repeat
    # due at 04:00 (4 hours after it "went out" to no one) goes to the new channel.
    spike = [row[1:] for row in outbox(engine) if row[0] == "critical_rate:S1"]
    assert spike == [("repeat", DAY2 + timedelta(hours=4))]


# -- 3: the monitor announces itself ----------------------------------------------------------


def test_monitor_run_announces_schedule_database_and_receivers(settings) -> None:
    from datetime import UTC, datetime

    from monitor.cli.monitor import monitor_banner

    now = datetime(2026, 12, 5, 6, 40, tzinfo=UTC)
    lines = monitor_banner(settings, "postgresql+psycopg://bw:***@db/beltwatch", now)
    text_ = "\n".join(line for line, _ in lines)
    assert "every hour at minute 05 (UTC); next run 2026-12-05T07:05Z" in text_
    assert "catches up to 48 missed hours" in text_
    assert "database postgresql+psycopg://bw:***@db/beltwatch" in text_
    assert "receivers: webhook" in text_ and not any(warn for _, warn in lines)
    at_five = monitor_banner(settings, "x", datetime(2026, 12, 5, 6, 5, tzinfo=UTC))
    assert "next run 2026-12-05T07:05Z" in at_five[0][0]  # 06:05 itself has begun

    nobody = monitor_banner(settings.model_copy(update={"webhook_url": None}), "x", now)
    warning = [line for line, warn in nobody if warn]
    assert len(warning) == 1 and "no receiver configured" in warning[0]
    assert "BELTWATCH_SLACK_WEBHOOK_URL" in warning[0]


# -- 2, 9: what could not be judged, and what a silence holds back -------------------------


def test_monitor_once_says_which_rules_could_not_judge_a_station_and_why(
    db_url, engine, settings
) -> None:
    reference_day(db_url, engine, settings, names=("S1",))
    write(db_url, settings, traffic(["S1"], DAY2, 3, PER_HOUR, seed=8))
    write(db_url, settings, traffic(["S9"], DAY2 + timedelta(hours=2), 1, 20, seed=8))
    result = runner.invoke(
        app, ["monitor", "once", "--hour", "2026-11-24T02:00Z"], env=env_for(settings)
    )
    assert result.exit_code == 0, result.output
    assert "not judged in the hour 2026-11-24T02:00Z:" in result.output
    lines = [line.strip() for line in result.output.splitlines() if line.strip().startswith("S9:")]
    assert any("lens_drift, lighting_drift, class_drift: no reference yet" in x for x in lines)
    assert any("critical_rate: too few predictions: 20" in x for x in lines)
    assert not any(line.strip().startswith("S1:") for line in result.output.splitlines())


def test_status_says_when_a_silence_holds_an_alerts_notifications_back(
    db_url, engine, settings
) -> None:
    import json

    reference_day(db_url, engine, settings)
    faults = {("S1", h): SPIKE for h in range(3)}
    write(db_url, settings, traffic(["S1", "S2"], DAY2, 3, PER_HOUR, seed=9, faults=faults))
    run_range(engine, settings, DAY2, DAY2 + timedelta(hours=3))
    env = env_for(settings)
    added = runner.invoke(
        app,
        [
            *("silence", "add", "--rule", "critical_rate", "--station", "S1", "--for", "2h"),
            *("--comment", "lens cleaning", "--by", "ana"),
        ],
        env=env,
    )
    assert added.exit_code == 0, added.output
    shown = json.loads(runner.invoke(app, ["status", "--json"], env=env).output)
    s1 = next(s for s in shown["stations"] if s["station"] == "S1")
    spike = next(a for a in s1["alerts"] if a["rule"] == "critical_rate")
    assert spike["held_back"].startswith("held back by silence 1 until ")
    assert "(ana: lens cleaning)" in spike["held_back"]
    mix = next(a for a in s1["alerts"] if a["rule"] == "class_drift")
    assert mix["held_back"] == "held back: the same incident as critical_rate:S1"
    site = next(a for a in shown["site_alerts"] if a["rule"] == "critical_rate")
    assert site["held_back"] is None  # the silence names S1 only
    text_ = runner.invoke(app, ["status"], env=env).output
    squeezed = "".join(c for c in text_ if not c.isspace() and c != "│")  # the table wraps
    assert "[heldbackbysilence1until" in squeezed and "(ana:lenscleaning)]" in squeezed


def test_a_late_trigger_waits_while_a_silence_holds_the_alert_back(
    db_url, engine, settings
) -> None:
    from monitor.core.db.models import Silence

    reference_day(db_url, engine, settings)
    faults = {("S1", h): SPIKE for h in range(5)}
    write(db_url, settings, traffic(["S1", "S2"], DAY2, 5, PER_HOUR, seed=7, faults=faults))
    run_range(
        engine, settings.model_copy(update={"webhook_url": None}), DAY2, DAY2 + timedelta(hours=2)
    )
    with engine.begin() as conn:  # maintenance on S1 from 02:00 to 04:00
        conn.execute(
            Silence.__table__.insert().values(
                rule="*",
                station_id="S1",
                starts_at=DAY2 + timedelta(hours=2),
                ends_at=DAY2 + timedelta(hours=4),
                created_by="ana",
            )
        )
    run_range(engine, settings, DAY2 + timedelta(hours=2), DAY2 + timedelta(hours=3))
    assert [row for row in outbox(engine) if row[0] == "critical_rate:S1"] == []
    run_range(engine, settings, DAY2 + timedelta(hours=3), DAY2 + timedelta(hours=4))
    # The silence ends at 04:00: the hour 03:00 is evaluated at 04:00, out of it.
    spike = [row[1:] for row in outbox(engine) if row[0] == "critical_rate:S1"]
    assert spike == [("trigger", DAY2 + timedelta(hours=3))]
