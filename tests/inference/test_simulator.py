"""The conveyor simulator: what each fault does to the frames it plans, and a short
scenario end to end through the real worker (decode, statistics, the shipped ONNX model,
the prediction log on a real PostgreSQL) and the real hourly monitor: every injected fault
raises its alert on its station within two hours, nothing else fires, and each alert
resolves after its fault ends."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from inference.runner import built_worker
from inference.training.faults import Fault, parse_fault
from inference.training.simulator import (
    Scenario,
    SimulationError,
    SlowedModel,
    check_window,
    plan_hour,
    simulate,
)
from monitor.calibration import Limits
from monitor.cli.scorecard import score
from monitor.core.queries.alerts import alert_history
from monitor.core.settings import Settings
from monitor.hourly import run_range
from monitor.reference import build_reference

DAY = datetime(2026, 11, 24, tzinfo=UTC)


def scenario(*specs: str, per_hour: int = 400, hours: int = 3) -> Scenario:
    until = DAY + timedelta(hours=hours)
    faults = tuple(parse_fault(spec).place(DAY, until) for spec in specs)
    return Scenario(("S1", "S2"), DAY, until, per_hour, seed=3, faults=faults)


def test_a_station_that_is_down_plans_no_frame_and_the_others_go_on() -> None:
    plan = scenario("down:S1@01:00-02:00")
    assert plan_hour(plan, "S1", DAY + timedelta(hours=1)) == []
    assert len(plan_hour(plan, "S1", DAY)) > 300
    assert len(plan_hour(plan, "S2", DAY + timedelta(hours=1))) > 300


def test_a_damage_wave_raises_the_share_of_critical_parcels_drawn() -> None:
    plan = scenario("damage:S1@01:00-02:00:0.3", per_hour=2000)
    before = Counter(s.spec.label for s in plan_hour(plan, "S1", DAY))
    during = Counter(s.spec.label for s in plan_hour(plan, "S1", DAY + timedelta(hours=1)))
    assert before["critical"] / before.total() == pytest.approx(0.03, abs=0.015)
    assert during["critical"] / during.total() == pytest.approx(0.3, abs=0.04)


def test_a_dirty_lens_grows_for_two_hours_then_stays() -> None:
    plan = scenario("lens:S1@00:00", hours=4)
    sigmas = [
        np.mean(
            [s.spec.camera.defocus_sigma for s in plan_hour(plan, "S1", DAY + timedelta(hours=h))]
        )
        for h in range(4)
    ]
    assert sigmas[0] == pytest.approx(0.5, abs=0.1)  # the first hour's mean: a quarter of 2 px
    assert sigmas[1] == pytest.approx(1.5, abs=0.1)
    assert sigmas[2] == sigmas[3] == pytest.approx(2.0)
    assert all(
        s.spec.camera.is_clean is False for s in plan_hour(plan, "S1", DAY + timedelta(hours=3))
    )


def test_lighting_and_smudge_change_the_camera_and_slow_only_the_latency() -> None:
    plan = scenario("lighting:S1@01:00-02:00:0.5", "smudge:S2@01:00", "slow:S1@02:00-03:00:80")
    clean = plan_hour(plan, "S1", DAY)[0].spec.camera
    dark = plan_hour(plan, "S1", DAY + timedelta(hours=1))[0].spec.camera
    assert dark.gain == pytest.approx(clean.gain * 0.5)
    assert plan_hour(plan, "S2", DAY + timedelta(hours=1))[0].spec.camera.smudge == 1.0
    slow = plan_hour(plan, "S1", DAY + timedelta(hours=2))
    assert {s.slow_ms for s in slow} == {80.0} and slow[0].spec.camera == clean


def test_plans_are_the_same_for_the_same_seed() -> None:
    assert plan_hour(scenario(), "S1", DAY) == plan_hour(scenario(), "S1", DAY)
    other = Scenario(("S1",), DAY, DAY + timedelta(hours=1), 400, seed=4)
    assert plan_hour(other, "S1", DAY) != plan_hour(scenario(), "S1", DAY)


def test_a_fault_on_a_station_not_simulated_is_refused() -> None:
    with pytest.raises(SimulationError, match="S9"):
        Scenario(
            ("S1",),
            DAY,
            DAY + timedelta(hours=1),
            10,
            faults=(Fault("down", "S9", DAY, DAY + timedelta(hours=1), None),),
        )


def test_a_window_the_worker_would_refuse_is_refused_before_any_frame() -> None:
    settings = Settings()
    old = Scenario(("S1",), DAY - timedelta(days=400), DAY - timedelta(days=399), 10)
    with pytest.raises(SimulationError, match="older than the 90-day retention"):
        check_window(old, settings, live=False)
    now = datetime.now(UTC)
    ahead = Scenario(("S1",), now, now + timedelta(hours=2), 10)
    with pytest.raises(SimulationError, match="needs live pacing"):
        check_window(ahead, settings, live=False)
    check_window(ahead, settings, live=True)


class _Clock:
    version, input_size = "v", 128

    def predict(self, images):
        return images


def test_the_slowed_model_sleeps_before_each_batch() -> None:
    import time

    slowed = SlowedModel(_Clock())
    slowed.delay_s = 0.05
    started = time.perf_counter()
    slowed.predict(np.zeros(1))
    assert time.perf_counter() - started >= 0.05
    assert (slowed.version, slowed.input_size) == ("v", 128)


# -- end to end ----------------------------------------------------------------------------

REFERENCE_HOURS = 6
JUDGED_HOURS = 8
FAULTS = (  # (spec, hour of the judged block it starts in)
    "damage:S1@{1}-{2}",
    "lighting:S2@{1}-{3}",
    "slow:S3@{1}-{2}",
    "lens:S3@{3}-{5}",
)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_fault_raises_its_alert_on_its_station_and_nothing_else_fires(
    engine, settings: Settings
) -> None:
    settings = settings.model_copy(update={"inference_threads": 1})
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    judged = start + timedelta(hours=REFERENCE_HOURS)
    end = judged + timedelta(hours=JUDGED_HOURS)
    times = [f"{judged + timedelta(hours=h):%H:%M}" for h in range(JUDGED_HOURS)]
    faults = tuple(parse_fault(spec.format(*times)).place(judged, end) for spec in FAULTS)
    stations = ("S1", "S2", "S3")
    with built_worker(settings) as worker:
        result = simulate(
            worker, Scenario(stations, start, end, 100, seed=5, faults=faults), settings
        )
    assert result.logged == result.stored == result.planned and not result.refused
    with engine.begin() as conn:
        for station in stations:
            build_reference(
                conn,
                station,
                start,
                judged,
                sample_size=settings.reference_sample_size,
                limits=Limits.from_settings(settings),
            )
    outcome = run_range(engine, settings, start, end)
    assert all(hour.ok for hour in outcome.hours), [h.error for h in outcome.hours if not h.ok]
    with engine.connect() as conn:
        alerts = alert_history(conn, since=start, until=end)

    card = score(faults, alerts)
    for finding in card.findings:
        fault, alert = finding.fault, finding.alert
        assert alert is not None, (str(fault), [(a["rule"], a["station_id"]) for a in alerts])
        assert timedelta(0) <= finding.delay <= timedelta(hours=2), (str(fault), finding.delay)
        assert finding.resolved_after_end, (str(fault), alert["resolved_at"])
    # Nothing else fires but the same faults as the monitor itself sees them: in the site's
    # figures (the slow model in the site's latency: card.at_site), and class alerts on a
    # faulty station that it says the fault explains (a dark camera makes the model call
    # more parcels critical).
    assert card.uninjected == [], [dict(a) for a in card.uninjected]
    faulty = {(f.station, f.rule) for f in faults}
    for alert in card.side_effects:
        cause = (alert["evidence"].get("likely_cause") or {}).get("rule")
        held_by = alert["evidence"].get("inhibited_by") or []
        assert (alert["station_id"], cause) in faulty or held_by, dict(alert)
