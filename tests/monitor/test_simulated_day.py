"""The hourly monitor end to end on a real PostgreSQL: a simulated day with faults, written
through the prediction log, processed hour by hour into rollups, rule results, alert
episodes, the outbox and drift reports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from daygen import SILENT, Fault, traffic
from hourly_support import (
    DAY1,
    DAY2,
    PER_HOUR,
    STATIONS,
    episodes,
    outbox,
    set_baselines,
    started,
    write,
)

from monitor.hourly import run_range
from monitor.rules import RULES, SITE_RULES

pytestmark = pytest.mark.timeout(600)

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


def test_each_rule_fires_in_the_right_hour_and_station_and_resolves(scenario) -> None:
    engine, _ = scenario
    assert started(engine, "lens_drift:S1") == [(6, 10)]
    assert started(engine, "lighting_drift:S2") == [(12, 15)]
    assert started(engine, "critical_rate:S0") == [(3, 5)]
    assert started(engine, "latency:S1") == [(19, 20)]
    assert started(engine, "latency@site") == [(19, 20)]
    assert started(engine, "no_data:S3") == [(21, 22)]


def test_every_rule_judges_somewhere_in_the_day(scenario) -> None:
    # A rule that skips all day in production (no input reaches it) is no rule at all.
    _, outcome = scenario
    results = [r for hour in outcome.hours for r in hour.results]
    judged_station = {r.rule for r in results if r.station_id is not None and r.state != "skipped"}
    judged_site = {r.rule for r in results if r.station_id is None and r.state != "skipped"}
    assert judged_station == set(RULES)
    assert judged_site == set(SITE_RULES)


def test_nothing_fires_where_nothing_is_wrong(scenario) -> None:
    engine, _ = scenario
    expected = {
        "lens_drift:S1",
        "lighting_drift:S2",
        "critical_rate:S0",
        "lens_drift:S0",
        "class_drift:S0",  # the spike moves the class mix too
        "latency:S1",
        # A quarter of the site's frames at 160 ms puts the site's p95 over budget too.
        "latency@site",
        "no_data:S3",
    }
    fired = {alert.fingerprint for alert in episodes(engine)}
    assert fired == expected
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
    held = []
    for alert in episodes(engine):
        events = [e for fp, e, _ in rows if fp == alert.fingerprint]
        if alert.evidence.get("inhibited_by"):
            # The damage wave's class mix: the same incident as its critical spike, one page.
            held.append(alert.fingerprint)
            assert events == [], alert.fingerprint
            continue
        assert events.count("trigger") == 1, alert.fingerprint
        assert events.count("resolve") == (1 if alert.status == "resolved" else 0)
    assert held == ["class_drift:S0"]


def test_processing_hours_again_changes_nothing(scenario, module_settings) -> None:
    engine, _ = scenario
    before_alerts = [(a.id, a.status, a.ok_hours) for a in episodes(engine)]
    before_outbox = outbox(engine)
    outcome = run_range(
        engine, module_settings, DAY2 + timedelta(hours=6), DAY2 + timedelta(hours=9), redo=True
    )
    assert all(h.ok for h in outcome.hours)
    assert [(a.id, a.status, a.ok_hours) for a in episodes(engine)] == before_alerts
    assert outbox(engine) == before_outbox


def test_drifted_station_hours_keep_an_evidently_report(scenario) -> None:
    engine, _ = scenario
    (alert,) = [a for a in episodes(engine) if a.fingerprint == "lens_drift:S1"]
    report = Path(alert.evidence["report"])
    html = report.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "sharpness" in html


def test_a_clean_day_fires_nothing(db_url, engine, settings) -> None:
    write(db_url, settings, traffic(STATIONS[:2], DAY1, 24, PER_HOUR, seed=3))
    set_baselines(engine, settings, STATIONS[:2])
    write(db_url, settings, traffic(STATIONS[:2], DAY2, 24, PER_HOUR, seed=4))
    outcome = run_range(engine, settings, DAY2, DAY2 + timedelta(hours=24))
    assert all(h.ok for h in outcome.hours)
    assert [r.summary for h in outcome.hours for r in h.firing] == []
    assert episodes(engine) == []


def test_a_quiet_station_is_judged_on_pooled_hours(db_url, engine, settings) -> None:
    # 30 predictions an hour, under drift_min_predictions (100): once a station like this
    # was never judged; now each hour is judged with the ones before it, so a lens fault
    # from 08:00 to 14:00 is found within three hours and the alert says which hours.
    faults = {("Q", h): Fault(lens=0.8) for h in range(8, 14)}
    write(db_url, settings, traffic(["Q"], DAY1, 24, 30, seed=7))
    set_baselines(engine, settings, ["Q"])
    write(db_url, settings, traffic(["Q"], DAY2, 24, 30, seed=8, faults=faults))
    outcome = run_range(engine, settings, DAY2, DAY2 + timedelta(hours=24))
    assert all(h.ok for h in outcome.hours)
    fired = {r.fingerprint for h in outcome.hours for r in h.firing}
    assert fired == {"lens_drift:Q"}
    ((start, end),) = started(engine, "lens_drift:Q")
    assert 8 <= start <= 10
    assert 14 <= end <= 18  # the pool holds faulty hours for up to three hours after
    first = next(r for h in outcome.hours for r in h.firing)
    assert "[pooled " in first.summary and "predictions]" in first.summary
    assert first.evidence["pooled"]["hours"] >= 2
    judged = [r for h in outcome.hours for r in h.results if r.rule == "lens_drift"]
    assert all(r.state != "skipped" for r in judged[4:])  # judged from the fourth hour on
