"""The hourly monitor end to end on a real PostgreSQL: synthetic days of predictions written
through PredictionLog, then rollups, references, rules, alerts and the outbox."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from daygen import SILENT, Fault, hour_records, traffic
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from monitor.core.db.models import Alert, HourlyRollup, MonitorRun, Notification
from monitor.hourly import process_hour, run_due, run_range
from monitor.predlog import PredictionLog
from monitor.reference import build_reference, load_reference

DAY1 = datetime(2026, 11, 23, tzinfo=UTC)  # the known-good reference day
DAY2 = DAY1 + timedelta(days=1)  # the day under test
STATIONS = ["S0", "S1", "S2", "S3"]
PER_HOUR = 300

pytestmark = pytest.mark.timeout(600)


def write(db_url, settings, records) -> None:
    with PredictionLog(db_url, settings) as plog:
        for record in records:
            plog.log(record)


def set_baselines(engine, settings, stations=STATIONS) -> None:
    with engine.begin() as conn:
        for station in stations:
            build_reference(conn, station, DAY1, DAY2, sample_size=settings.reference_sample_size)


def episodes(engine) -> list[Alert]:
    with Session(engine) as session:
        return list(session.scalars(select(Alert).order_by(Alert.started_at, Alert.fingerprint)))


def outbox(engine) -> list[tuple[str, str, datetime]]:
    with Session(engine) as session:
        rows = session.execute(
            select(Alert.fingerprint, Notification.event, Notification.hour)
            .join(Alert, Alert.id == Notification.alert_id)
            .order_by(Notification.hour, Alert.fingerprint)
        )
        return [tuple(row) for row in rows]


# The faults of day 2, by (station, hour index).
FAULTS = {
    **{("S1", h): Fault(lens=0.8) for h in range(6, 10)},  # a dirty lens, 06:00-10:00
    **{("S2", h): Fault(dim=0.9) for h in range(12, 15)},  # a light fails, 12:00-15:00
    # A critical spike caused by a dirty lens: the diagnosis must name the camera.
    **{("S0", h): Fault(lens=0.8, critical_share=0.2) for h in range(3, 5)},
    ("S1", 19): Fault(latency_ms=160.0),  # the model host is overloaded for an hour
    ("S3", 21): SILENT,  # the camera sends nothing
}


@pytest.fixture(scope="module")
def scenario(module_db, module_settings):
    """Day 1 clean (the reference), day 2 with faults; day 2 processed hour by hour."""
    url, engine = module_db
    settings = module_settings
    write(url, settings, traffic(STATIONS, DAY1, 24, PER_HOUR, seed=1))
    set_baselines(engine, settings)
    write(url, settings, traffic(STATIONS, DAY2, 24, PER_HOUR, seed=2, faults=FAULTS))
    outcome = run_range(engine, settings, DAY2, DAY2 + timedelta(hours=24))
    assert not outcome.skipped and all(h.ok for h in outcome.hours), [
        h.error for h in outcome.hours if not h.ok
    ]
    return engine, outcome


def started(engine, fingerprint: str) -> list[tuple[int, int | None]]:
    """(start hour, resolve hour) index pairs of the fingerprint's episodes on day 2."""
    out = []
    for alert in episodes(engine):
        if alert.fingerprint == fingerprint:
            end = (
                None
                if alert.resolved_at is None
                else (alert.resolved_at - DAY2) // timedelta(hours=1)
            )
            out.append(((alert.started_at - DAY2) // timedelta(hours=1), end))
    return out


def test_each_rule_fires_in_the_right_hour_and_station_and_resolves(scenario) -> None:
    engine, _ = scenario
    assert started(engine, "lens_drift:S1") == [(6, 10)]
    assert started(engine, "lighting_drift:S2") == [(12, 15)]
    assert started(engine, "critical_rate:S0") == [(3, 5)]
    assert started(engine, "latency:S1") == [(19, 20)]
    assert started(engine, "no_data:S3") == [(21, 22)]


def test_nothing_fires_where_nothing_is_wrong(scenario) -> None:
    engine, _ = scenario
    expected = {
        "lens_drift:S1",
        "lighting_drift:S2",
        "critical_rate:S0",
        "lens_drift:S0",
        "class_drift:S0",  # the spike moves the class mix too
        "latency:S1",
        "no_data:S3",
    }
    fired = {alert.fingerprint for alert in episodes(engine)}
    # Site-wide alerts may follow one station's fault; nothing else may fire.
    assert fired - expected <= {"critical_rate:*", "latency:*", "class_drift:*"}, fired - expected
    assert "lighting_drift:S1" not in fired  # a dirty lens is not a lighting change
    assert "lens_drift:S2" not in fired  # and a failing light is not a dirty lens


def test_critical_spike_with_a_dirty_lens_is_diagnosed_as_a_camera_fault(scenario) -> None:
    engine, _ = scenario
    (alert,) = [a for a in episodes(engine) if a.fingerprint == "critical_rate:S0"]
    assert "camera" in alert.summary.lower()
    assert alert.evidence.get("likely_cause")


def test_outbox_has_one_trigger_and_one_resolve_per_episode(scenario) -> None:
    engine, _ = scenario
    rows = outbox(engine)
    for alert in episodes(engine):
        events = [e for fp, e, _ in rows if fp == alert.fingerprint]
        assert events.count("trigger") == 1, alert.fingerprint
        assert events.count("resolve") == (1 if alert.status == "resolved" else 0)


def test_rollups_cover_every_station_version_and_the_site(scenario) -> None:
    engine, _ = scenario
    with Session(engine) as session:
        hour = DAY2 + timedelta(hours=5)
        rows = session.scalars(select(HourlyRollup).where(HourlyRollup.hour == hour)).all()
    keys = {(r.station_id, r.model_version) for r in rows}
    assert keys == {(s, v) for s in STATIONS for v in ("cnn-int8-1", "*")} | {("*", "*")}
    site = next(r for r in rows if r.station_id == "*")
    assert site.n_total == PER_HOUR * len(STATIONS)
    assert site.n_undamaged + site.n_minor + site.n_critical == site.n_total
    assert site.latency_p95 > site.latency_p50 > 0


def test_processing_an_hour_again_changes_nothing(scenario, module_settings) -> None:
    engine, _ = scenario
    before_alerts = [(a.id, a.status, a.ok_hours) for a in episodes(engine)]
    before_outbox = outbox(engine)
    outcome = run_range(
        engine, module_settings, DAY2 + timedelta(hours=6), DAY2 + timedelta(hours=9), redo=True
    )
    assert all(h.ok for h in outcome.hours)
    assert [(a.id, a.status, a.ok_hours) for a in episodes(engine)] == before_alerts
    assert outbox(engine) == before_outbox


def test_a_clean_day_fires_nothing(db_url, engine, settings) -> None:
    write(db_url, settings, traffic(STATIONS[:2], DAY1, 24, PER_HOUR, seed=3))
    set_baselines(engine, settings, STATIONS[:2])
    write(db_url, settings, traffic(STATIONS[:2], DAY2, 24, PER_HOUR, seed=4))
    outcome = run_range(engine, settings, DAY2, DAY2 + timedelta(hours=24))
    assert all(h.ok for h in outcome.hours)
    assert [r.summary for h in outcome.hours for r in h.firing] == []
    assert episodes(engine) == []


def test_too_few_predictions_do_not_fire_critical_rate(db_url, engine, settings) -> None:
    hour = DAY2 + timedelta(hours=3)
    write(db_url, settings, hour_records("S9", hour, 20, seed=5, fault=Fault(critical_share=0.2)))
    with engine.connect() as conn:
        critical = conn.execute(
            text("SELECT count(*) FROM predictions WHERE predicted_class = 'critical'")
        ).scalar_one()
    assert critical >= 2
    outcome = process_hour(engine, hour, settings)
    assert outcome.ok
    result = next(r for r in outcome.results if r.fingerprint == "critical_rate:S9")
    assert result.state == "skipped" and not result.firing


def test_two_monitors_at_once_produce_one_set_of_alerts(db_url, engine, settings) -> None:
    write(db_url, settings, traffic(["S1"], DAY1, 24, PER_HOUR, seed=6))
    set_baselines(engine, settings, ["S1"])
    faults = {("S1", h): Fault(lens=0.8, critical_share=0.25) for h in range(0, 3)}
    write(db_url, settings, traffic(["S1"], DAY2, 3, PER_HOUR, seed=7, faults=faults))
    now = DAY2 + timedelta(hours=3, minutes=5)
    s = settings.model_copy(update={"monitor_catchup_hours": 3})
    outcomes = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(run_due(engine, s, now))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(o.hours) for o in outcomes) == 3  # the three hours, each processed once
    fingerprints = [a.fingerprint for a in episodes(engine)]
    assert len(fingerprints) == len(set(fingerprints)) >= 1
    triggers = [row for row in outbox(engine) if row[1] == "trigger"]
    assert len(triggers) == len({row[0] for row in triggers})


def test_duplicate_work_without_the_lock_is_still_stopped_by_the_constraints(
    db_url, engine, settings
) -> None:
    write(db_url, settings, traffic(["S1"], DAY1, 24, PER_HOUR, seed=8))
    set_baselines(engine, settings, ["S1"])
    hour = DAY2
    write(
        db_url,
        settings,
        hour_records("S1", hour, PER_HOUR, seed=9, fault=Fault(critical_share=0.3)),
    )
    outcomes = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(process_hour(engine, hour, settings)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert any(o.ok for o in outcomes)
    assert [a.fingerprint for a in episodes(engine)].count("critical_rate:S1") == 1
    assert [r[1] for r in outbox(engine) if r[0] == "critical_rate:S1"].count("trigger") == 1


def test_five_hour_outage_is_caught_up_exactly_once(db_url, engine, settings) -> None:
    write(db_url, settings, traffic(["S1"], DAY2, 8, 100, seed=10))
    s = settings.model_copy(update={"monitor_catchup_hours": 8})
    first = run_due(engine, s, DAY2 + timedelta(hours=2, minutes=5))  # hours 0-1 due
    assert [h.hour for h in first.hours][-1] == DAY2 + timedelta(hours=1)
    # The monitor is down for five hours; then it comes back.
    second = run_due(engine, s, DAY2 + timedelta(hours=8, minutes=5))
    assert [h.hour for h in second.hours] == [DAY2 + timedelta(hours=h) for h in range(2, 8)]
    third = run_due(engine, s, DAY2 + timedelta(hours=8, minutes=10))
    assert third.hours == []
    with Session(engine) as session:
        runs = session.scalars(select(MonitorRun).where(MonitorRun.hour >= DAY2)).all()
    assert len(runs) == 8 and all(r.status == "done" and r.attempts == 1 for r in runs)


def test_failed_hour_is_recorded_and_retried(db_url, engine, settings) -> None:
    write(db_url, settings, traffic(["S1"], DAY2, 1, 50, seed=11))
    with engine.begin() as conn:  # break the hour: the rollup table is gone
        conn.execute(text("ALTER TABLE hourly_rollups RENAME TO hourly_rollups_away"))
    outcome = process_hour(engine, DAY2, settings)
    assert not outcome.ok and "hourly_rollups" in (outcome.error or "")
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE hourly_rollups_away RENAME TO hourly_rollups"))
        status, error = conn.execute(
            text("SELECT status, error FROM monitor_runs WHERE hour = :h"), {"h": DAY2}
        ).one()
    assert status == "failed" and error
    s = settings.model_copy(update={"monitor_catchup_hours": 1})
    retried = run_due(engine, s, DAY2 + timedelta(hours=1, minutes=5))
    assert [h.ok for h in retried.hours] == [True]


def test_station_without_reference_gets_a_provisional_one(db_url, engine, settings) -> None:
    s = settings.model_copy(update={"provisional_reference_hours": 3})
    write(db_url, s, traffic(["S7"], DAY2, 4, 100, seed=12))
    run_range(engine, s, DAY2, DAY2 + timedelta(hours=4))
    with engine.connect() as conn:
        reference = load_reference(conn, "S7")
    assert reference is not None and reference.provisional
    assert reference.n == 300


def test_silence_holds_notifications_but_not_evaluation(db_url, engine, settings) -> None:
    write(db_url, settings, traffic(["S1"], DAY1, 24, PER_HOUR, seed=13))
    set_baselines(engine, settings, ["S1"])
    faults = {("S1", h): Fault(critical_share=0.3) for h in range(0, 4)}
    write(db_url, settings, traffic(["S1"], DAY2, 4, PER_HOUR, seed=14, faults=faults))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO silences (rule, station_id, starts_at, ends_at, created_by, comment) "
                "VALUES ('critical_rate', 'S1', :s, :e, 'test', 'camera swap')"
            ),
            {"s": DAY2, "e": DAY2 + timedelta(hours=2, minutes=30)},
        )
    run_range(engine, settings, DAY2, DAY2 + timedelta(hours=4))
    (alert,) = [a for a in episodes(engine) if a.fingerprint == "critical_rate:S1"]
    assert alert.status == "firing" and alert.started_at == DAY2  # evaluated from hour 0
    triggers = [h for fp, e, h in outbox(engine) if fp == "critical_rate:S1" and e == "trigger"]
    assert triggers == [DAY2 + timedelta(hours=2)]  # sent once the silence was over
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Notification)) >= 1


def test_drifted_station_hours_keep_an_evidently_report(scenario) -> None:
    engine, _ = scenario
    (alert,) = [a for a in episodes(engine) if a.fingerprint == "lens_drift:S1"]
    report = Path(alert.evidence["report"])
    html = report.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "sharpness" in html
