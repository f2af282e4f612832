"""The registry, evaluate_all over stations and the site, and diagnose(): a critical spike
on a station whose camera or lighting drifted in the same hour says so."""

from __future__ import annotations

import json
import time

import pytest
from rules_support import make_window

from monitor import drift
from monitor.rules import RULES, SITE_RULES, diagnose, evaluate_all, lens_drift
from monitor.rules.base import RuleResult


def spike_counts(n: int, share: float = 0.14) -> dict[str, int]:
    critical, minor = round(n * share), round(0.12 * n)
    return {"undamaged": n - critical - minor, "minor": minor, "critical": critical}


def result(rule: str, station: str | None, state: str = "firing", **evidence) -> RuleResult:
    return RuleResult(rule, station, state, "warning", f"{station}: {rule}", dict(evidence))


def test_every_rule_is_registered_under_its_name():
    assert list(RULES) == [
        "critical_rate",
        "critical_drop",
        "lens_drift",
        "lighting_drift",
        "class_drift",
        "no_data",
        "latency",
    ]
    assert set(SITE_RULES) <= set(RULES)
    assert RULES["lens_drift"] is lens_drift.evaluate


def test_evaluate_all_runs_every_rule_for_a_station(belt, small_reference, settings):
    results = evaluate_all(make_window(belt.hour()), small_reference, settings)
    assert [r.rule for r in results] == list(RULES)
    assert all(r.station_id == "dock-3" for r in results)
    assert not any(r.firing for r in results)


def test_site_wide_window_runs_the_site_rules(belt, settings):
    window = make_window(belt.hour(), station_id=None, n=60_000, counts=spike_counts(60_000))
    results = evaluate_all(window, None, settings, site=True)
    assert [r.rule for r in results] == list(SITE_RULES)
    assert [r.fingerprint for r in results if r.firing] == ["critical_rate@site"]
    with pytest.raises(ValueError, match="site-wide window"):
        evaluate_all(make_window(belt.hour()), None, settings, site=True)


def test_a_clean_hour_of_twenty_stations_is_fast_and_calls_no_evidently(
    belt, small_reference, settings, monkeypatch
):
    # A 1,000,000-prediction hour: 20 stations of 50,000, each sampled down to 2,000.
    monkeypatch.setattr(drift, "_run_report", lambda *a, **k: pytest.fail("Evidently called"))
    windows = [
        make_window(belt.hour(2000), station_id=f"dock-{i}", n=50_000, seed=i) for i in range(20)
    ]
    site = make_window(n=1_000_000, station_id=None)
    started = time.perf_counter()
    results = [r for w in windows for r in evaluate_all(w, small_reference, settings)]
    results += evaluate_all(site, None, settings, site=True)
    elapsed = time.perf_counter() - started
    assert not any(r.firing for r in diagnose(results))
    assert elapsed < 2.0  # measured ~0.1 s on 2 shared cores


def test_every_result_is_json_serialisable(belt, small_reference, settings):
    faulty = make_window(belt.hour(sharpness=0.4, brightness=-40), counts=spike_counts(3000))
    for window in (make_window(belt.hour()), faulty, make_window(n=0, counts={})):
        for res in evaluate_all(window, small_reference, settings):
            json.dumps(res.evidence, allow_nan=False)
            assert "\n" not in res.summary


def test_critical_spike_with_lens_drift_on_the_same_station_names_the_camera(
    belt, small_reference, settings
):
    window = make_window(belt.hour(sharpness=0.45), counts=spike_counts(3000))
    results = {r.rule: r for r in diagnose(evaluate_all(window, small_reference, settings))}
    lens, critical = results["lens_drift"], results["critical_rate"]
    assert lens.firing and critical.firing
    headline = lens.evidence["headline"]  # the stronger focus signal: "sharpness down 55 %"
    assert "sharpness down " in headline
    assert f"; likely a camera fault: {headline}" in critical.summary
    # The mix moved too (a spike is a mix move): one incident, the class alert held back.
    assert results["class_drift"].evidence["inhibited_by"] == ["critical_rate:dock-3"]
    assert critical.summary.endswith("; linked: class_drift:dock-3 (class mix moved, held back)")
    cause = critical.evidence["likely_cause"]
    assert cause["fault"] == "camera"
    assert cause["rule"] == "lens_drift"
    assert cause["fingerprint"] == "lens_drift:dock-3"
    assert cause["detail"] == headline
    json.dumps(critical.evidence, allow_nan=False)


def test_lighting_fault_is_named_as_such():
    results = diagnose(
        [
            result("critical_rate", "dock-3"),
            result("lighting_drift", "dock-3", headline="brightness down 44 levels"),
        ]
    )
    assert results[0].summary.endswith("; likely a lighting fault: brightness down 44 levels")
    assert results[0].evidence["likely_cause"]["fault"] == "lighting"


def test_lens_and_lighting_together_lead_with_the_lens():
    results = diagnose(
        [
            result("lighting_drift", "dock-3", headline="brightness up 30 levels"),
            result("lens_drift", "dock-3", headline="sharpness down 55 %"),
            result("critical_rate", "dock-3"),
        ]
    )
    cause = results[2].evidence["likely_cause"]
    assert cause["rule"] == "lens_drift"
    assert [c["rule"] for c in cause["also"]] == ["lighting_drift"]


@pytest.mark.parametrize(
    "others",
    [
        [result("lens_drift", "dock-4", headline="sharpness down 55 %")],  # another station
        [result("lens_drift", "dock-3", state="ok")],  # not firing
        [result("lens_drift", "dock-3", state="skipped")],
        [result("latency", "dock-3")],  # not a camera or lighting rule
    ],
)
def test_no_diagnosis_without_a_matching_fault(others):
    critical = result("critical_rate", "dock-3")
    assert diagnose([critical, *others])[0] == critical


def test_quiet_critical_rate_and_site_wide_spikes_are_left_alone():
    quiet = result("critical_rate", "dock-3", state="ok")
    site = result("critical_rate", None)
    lens = result("lens_drift", "dock-3", headline="sharpness down 55 %")
    assert diagnose([quiet, site, lens]) == [quiet, site, lens]


def test_a_class_drift_with_a_critical_spike_is_one_incident():
    spike = result("critical_rate", "dock-3")
    mix = result("class_drift", "dock-3")
    other = result("class_drift", "dock-4")  # another station: its own incident
    linked, held, alone = diagnose([spike, mix, other])
    assert held.evidence["inhibited_by"] == ["critical_rate:dock-3"]
    assert held.summary.endswith("(held back: same incident as critical_rate:dock-3)")
    assert linked.evidence["linked"] == ["class_drift:dock-3"]
    assert "linked: class_drift:dock-3" in linked.summary
    assert alone == other
    # The site's spike holds back the site's mix, too; an ok spike holds back nothing.
    site = diagnose([result("critical_rate", None), result("class_drift", None)])
    assert site[1].evidence["inhibited_by"] == ["critical_rate@site"]
    quiet = [result("critical_rate", "dock-3", state="ok"), mix]
    assert diagnose(quiet) == quiet


@pytest.mark.parametrize("rule", ["class_drift", "critical_drop", "critical_rate"])
def test_every_class_alert_during_a_camera_fault_names_it(rule):
    lens = result("lens_drift", "dock-3", headline="worst-tile sharpness down 68 %")
    (named, _) = diagnose([result(rule, "dock-3"), lens])
    assert named.evidence["likely_cause"]["detail"] == "worst-tile sharpness down 68 %"
    assert "likely a camera fault: worst-tile sharpness down 68 %" in named.summary


def test_a_camera_alert_says_how_the_class_mix_moved(belt, small_reference, settings):
    # A dirty lens that hides damage: the model calls fewer parcels critical.
    hidden = {"undamaged": 2800, "minor": 170, "critical": 30}
    window = make_window(belt.hour(sharpness=0.4), counts=hidden)
    lens = lens_drift.evaluate(window, small_reference, settings)
    assert lens.firing
    assert (
        "; classes: undamaged 93.3 % (ref 85.0 %), minor 5.7 % (ref 12.0 %), critical 1.0 % "
        "(ref 3.0 %) — fewer critical: damaged parcels may go undiverted" in lens.summary
    )
    assert lens.evidence["class_mix"]["critical"] == {"share": 0.01, "reference": 0.03}


def test_a_slow_brightness_drift_beside_a_dirty_lens_is_the_lens():
    lens = result("lens_drift", "dock-3", headline="worst-tile sharpness down 40 %")
    slow = result(
        "lighting_drift",
        "dock-3",
        fired_by=["brightness"],
        signals={"brightness": {"abrupt": False, "slow": True}},
    )
    linked, held = diagnose([lens, slow])
    assert held.evidence["inhibited_by"] == ["lens_drift:dock-3"]
    assert linked.evidence["linked"] == ["lighting_drift:dock-3"]
    # A light that failed at once is news of its own, lens or not.
    abrupt = result(
        "lighting_drift",
        "dock-3",
        fired_by=["brightness"],
        signals={"brightness": {"abrupt": True, "slow": False}},
    )
    assert diagnose([lens, abrupt]) == [lens, abrupt]
