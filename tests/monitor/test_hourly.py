"""The hourly job (monitor/hourly.py) on a real PostgreSQL: one replica at a time, catch-up
after an outage, failed hours retried, silences, a stop between hours, and silence judged
against the belt's own rhythm."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from daygen import SILENT, Fault, hour_records, traffic
from hourly_support import DAY1, DAY2, PER_HOUR, episodes, outbox, set_baselines, started, write
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from monitor.core.db.models import MonitorRun, Notification
from monitor.core.queries import runs
from monitor.hourly import process_hour, run_due, run_range
from monitor.rules import RULES

pytestmark = pytest.mark.timeout(600)


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
        runs_ = session.scalars(select(MonitorRun).where(MonitorRun.hour >= DAY2)).all()
    assert len(runs_) == 8 and all(r.status == "done" and r.attempts == 1 for r in runs_)


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


class StopAfter(threading.Event):
    """A stop event that reads as set from its (hours + 1)-th check on: a stop that
    arrives while hour number `hours` is in hand."""

    def __init__(self, hours: int) -> None:
        super().__init__()
        self.checks_left = hours

    def is_set(self) -> bool:
        self.checks_left -= 1
        return self.checks_left < 0


def test_a_stop_finishes_the_hour_in_hand_and_leaves_the_rest_due(db_url, engine, settings):
    write(db_url, settings, traffic(["S1"], DAY2, 6, 50, seed=15))
    outcome = run_range(engine, settings, DAY2, DAY2 + timedelta(hours=6), stop=StopAfter(2))
    assert outcome.stopped and [h.hour for h in outcome.hours] == [DAY2, DAY2 + timedelta(hours=1)]
    with engine.connect() as conn:
        states = runs.run_states(conn, DAY2, DAY2 + timedelta(hours=5))
    assert states == {DAY2: "done", DAY2 + timedelta(hours=1): "done"}
    rest = run_range(engine, settings, DAY2, DAY2 + timedelta(hours=6))
    assert not rest.stopped and len(rest.hours) == 4  # the next run takes up the rest


# A belt that runs from 06:00 to 22:00: nights are silent by design.
SHIFT = range(6, 22)


def test_a_belt_silent_every_night_is_paged_only_for_silence_in_its_shift(
    db_url, engine, settings
) -> None:
    # No reference is set: the expectation comes from the belt's own history.
    records = [
        record
        for day in (DAY1, DAY2)
        for h in SHIFT
        if not (day == DAY2 and h == 10)  # the camera drops out at 10:00 on day 2
        for record in hour_records("N1", day + timedelta(hours=h), 40, seed=16)
    ]
    write(db_url, settings, records)
    outcome = run_range(engine, settings, DAY1, DAY2 + timedelta(hours=24))
    assert all(h.ok for h in outcome.hours)
    assert started(engine, "no_data:N1", DAY1) == [(24 + 10, 24 + 11)]
    # The nights were judged (not skipped) once a day of history was there: quiet is usual.
    night = next(h for h in outcome.hours if h.hour == DAY2 + timedelta(hours=23))
    (verdict,) = [r for r in night.results if r.fingerprint == "no_data:N1"]
    assert verdict.state == "ok" and verdict.evidence["expected_n"] == 0


def test_silence_in_the_hour_the_day_before_was_silent_too_is_no_alarm(db_url, engine, settings):
    # The reference says 300 an hour, but this belt's 21:00 was silent yesterday too.
    faults = {("S3", 21): SILENT}
    write(db_url, settings, traffic(["S3"], DAY1, 24, PER_HOUR, seed=17, faults=faults))
    set_baselines(engine, settings, ["S3"])
    write(db_url, settings, traffic(["S3"], DAY2, 24, PER_HOUR, seed=18, faults=faults))
    run_range(engine, settings, DAY1, DAY2 + timedelta(hours=24))
    # Day 1's 21:00 has no history yet: the reference's volume pages; day 2's does not.
    assert started(engine, "no_data:S3", DAY1) == [(21, 22)]


def test_site_wide_rules_fire_from_the_pooled_site_reference(db_url, engine, settings) -> None:
    # Both belts' class mix moves at 02:00; at 04:00 the whole site goes silent.
    write(db_url, settings, traffic(["S1", "S2"], DAY1, 24, PER_HOUR, seed=19))
    set_baselines(engine, settings, ["S1", "S2"])
    faults = {
        **{(s, 2): Fault(critical_share=0.2) for s in ("S1", "S2")},
        **{(s, 4): SILENT for s in ("S1", "S2")},
    }
    write(db_url, settings, traffic(["S1", "S2"], DAY2, 7, PER_HOUR, seed=20, faults=faults))
    run_range(engine, settings, DAY2, DAY2 + timedelta(hours=7))
    assert started(engine, "class_drift@site") == [(2, 3)]
    assert started(engine, "no_data@site") == [(4, 5)]


def test_a_station_or_model_named_star_neither_fails_the_hour_nor_blinds_the_others(
    db_url, engine, settings
) -> None:
    """'*' was the rollup's site marker: one such record failed the hour for every station,
    and a 30 % critical spike elsewhere in that hour went unalerted."""
    hour = DAY2 + timedelta(hours=5)
    spike = hour_records("S1", hour, PER_HOUR, seed=11, fault=Fault(critical_share=0.3))
    star_station = [
        dataclasses.replace(r, station_id="*") for r in hour_records("S2", hour, 60, seed=12)
    ]
    star_model = [
        dataclasses.replace(r, model_version="*") for r in hour_records("S3", hour, 60, seed=13)
    ]
    write(db_url, settings, [*spike, *star_station, *star_model])
    outcome = process_hour(engine, hour, settings)
    assert outcome.ok, outcome.error
    assert "critical_rate:S1" in {r.fingerprint for r in outcome.firing}
    judged = {r.fingerprint for r in outcome.results}
    assert {"critical_rate:*", "critical_rate@site"} <= judged  # a station, and the site
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT station_id, model_version, n_total FROM hourly_rollups "
                "WHERE hour = :hour AND model_version IS NULL"
            ),
            {"hour": hour},
        ).all()
    by_station = {station: n for station, _, n in rows}
    assert by_station == {"S1": PER_HOUR, "*": 60, "S3": 60, None: PER_HOUR + 120}


def test_a_rule_failing_on_one_station_leaves_the_others_judged(
    db_url, engine, settings, monkeypatch
) -> None:
    hour = DAY2 + timedelta(hours=6)
    write(
        db_url,
        settings,
        [
            *hour_records("S1", hour, PER_HOUR, seed=14, fault=Fault(critical_share=0.3)),
            *hour_records("S2", hour, PER_HOUR, seed=15, fault=Fault(critical_share=0.3)),
        ],
    )
    real = RULES["critical_rate"]

    def breaks_on_s2(window, reference, settings):
        if window.station_id == "S2":
            raise ZeroDivisionError("a value nobody foresaw")
        return real(window, reference, settings)

    monkeypatch.setitem(RULES, "critical_rate", breaks_on_s2)
    outcome = process_hour(engine, hour, settings)
    assert outcome.ok
    assert "critical_rate:S1" in {r.fingerprint for r in outcome.firing}
    failed = next(r for r in outcome.results if r.fingerprint == "critical_rate:S2")
    assert failed.state == "skipped" and "ZeroDivisionError" in failed.evidence["error"]
    assert {r.rule for r in outcome.results if r.station_id == "S2"} == set(RULES)


def test_late_rows_reach_a_done_hour_and_it_is_judged_again_once(db_url, engine, settings) -> None:
    """A worker's spool replayed after an outage lands rows in an hour already done: the
    next run processes that hour again and the critical spike in them fires, once."""
    hour = DAY2 + timedelta(hours=7)
    now = hour + timedelta(hours=1, minutes=5)
    s = settings.model_copy(update={"monitor_catchup_hours": 3})
    write(db_url, s, hour_records("S1", hour, PER_HOUR, seed=21))
    first = run_due(engine, s, now)
    assert hour in [h.hour for h in first.hours]
    assert not [r for h in first.hours for r in h.firing if r.station_id == "S2"]

    late = hour_records("S2", hour, PER_HOUR, seed=22, fault=Fault(critical_share=0.3))
    write(db_url, s, late)  # the replayed spool
    again = run_due(engine, s, now)
    assert [h.hour for h in again.hours] == [hour]
    assert "critical_rate:S2" in {r.fingerprint for r in again.hours[0].firing}

    assert run_due(engine, s, now).hours == []  # nothing changed since: nothing due
    triggers = [row for row in outbox(engine) if row[1] == "trigger"]
    assert [row[0] for row in triggers].count("critical_rate:S2") == 1


def test_a_replayed_duplicate_does_not_make_an_hour_late(db_url, engine, settings) -> None:
    """The ledger counts rows stored, not rows sent: a batch replayed after a crash (the
    same ids) adds nothing, so the hour is not processed again for it."""
    hour = DAY2 + timedelta(hours=8)
    now = hour + timedelta(hours=1, minutes=5)
    s = settings.model_copy(update={"monitor_catchup_hours": 2})
    records = hour_records("S1", hour, 100, seed=23)
    write(db_url, s, records)
    assert hour in [h.hour for h in run_due(engine, s, now).hours]
    write(db_url, s, records)
    assert run_due(engine, s, now).hours == []
    with engine.connect() as conn:
        assert runs.arrived_rows(conn, hour) == 100
