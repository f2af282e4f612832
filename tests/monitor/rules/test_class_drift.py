"""class_drift: the Jensen-Shannon distance of the class mix is at least the effect floor
AND Evidently's categorical test agrees (chi-square up to 1000 predictions, JS above)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rules_support import make_window

from monitor import drift
from monitor.rules import class_drift

# Reference mix (rules_support.CLASS_MIX): 85 % undamaged, 12 % minor, 3 % critical.
# (undamaged, minor, critical) -> state, Evidently method when tested
TABLE = [
    ((2550, 360, 90), "ok", None),  # the reference mix itself
    ((1980, 600, 420), "firing", "jensenshannon"),  # JS 0.17
    ((84000, 12500, 3500), "ok", None),  # chi-square p = 7e-26, but JS 0.012: harmless
    ((130, 40, 30), "firing", "chisquare"),  # JS 0.18 at 200: above the noise floor 0.139
    ((150, 30, 20), "ok", None),  # JS 0.11 at 200: noise can reach it (critical_rate's job)
    ((176, 24, 0), "ok", None),  # 0 critical of 6 expected at 200: JS 0.10 < 0.139
    ((82, 18, 0), "ok", None),  # 18 % minor, 0 critical at 100: JS 0.12 < 0.211
    ((78, 16, 6), "ok", None),  # JS 0.07: below the floor
    ((40, 8, 2), "skipped", None),  # 50 predictions: fewer than drift_min_predictions
]


@pytest.mark.parametrize(("counts", "state", "method"), TABLE)
def test_decision_table(small_reference, settings, counts, state, method):
    window = make_window(
        n=sum(counts), counts=dict(zip(("undamaged", "minor", "critical"), counts, strict=True))
    )
    result = class_drift.evaluate(window, small_reference, settings)
    assert result.state == state
    if method is not None:
        assert result.evidence["drift_test"]["method"] == method
    json.dumps(result.evidence, allow_nan=False)


def test_firing_summary_names_the_classes_that_moved(small_reference, settings):
    counts = {"undamaged": 1980, "minor": 600, "critical": 420}
    result = class_drift.evaluate(make_window(n=3000, counts=counts), small_reference, settings)
    assert result.summary.startswith("dock-3: class mix moved (JS 0.174 >= 0.1, Evidently agrees)")
    assert "undamaged 66 % vs 85 %" in result.summary
    assert result.evidence["js_distance"] == pytest.approx(0.1742, abs=1e-3)
    assert result.report_html is not None


def test_a_volume_scaled_threshold_is_quoted_to_three_digits(small_reference, settings):
    """At 200 predictions the threshold is the noise floor (0.1390...), not the setting."""
    counts = {"undamaged": 130, "minor": 40, "critical": 30}
    result = class_drift.evaluate(make_window(n=200, counts=counts), small_reference, settings)
    assert result.firing
    assert ">= 0.139, " in result.summary, result.summary


def test_a_firing_hour_runs_evidently_once_for_verdict_and_report(
    small_reference, settings, evidently_runs
):
    counts = {"undamaged": 1980, "minor": 600, "critical": 420}
    result = class_drift.evaluate(make_window(n=3000, counts=counts), small_reference, settings)
    assert result.firing and "predicted_class" in (result.report_html or "")
    assert evidently_runs == [("predicted_class",)]


def test_a_normal_hour_makes_no_evidently_call(small_reference, settings, monkeypatch):
    monkeypatch.setattr(drift, "_run_report", lambda *a, **k: pytest.fail("Evidently called"))
    counts = {"undamaged": 2540, "minor": 370, "critical": 90}
    result = class_drift.evaluate(make_window(n=3000, counts=counts), small_reference, settings)
    assert result.state == "ok"
    assert "drift_test" not in result.evidence


@pytest.mark.parametrize(
    ("n", "floor"), [(100, 0.211), (200, 0.139), (400, 0.105), (1000, 0.1), (20000, 0.1)]
)
def test_the_effect_floor_grows_as_the_hour_gets_smaller(small_reference, settings, n, floor):
    window = make_window(n=n)  # the reference mix itself
    result = class_drift.evaluate(window, small_reference, settings)
    assert result.state == "ok"
    assert result.evidence["threshold"] == pytest.approx(floor, abs=1e-3)


@pytest.mark.parametrize("n", [30, 100, 200, 500])
def test_the_noise_floor_holds_its_false_alarm_rate(n):
    # Clean hours drawn from the reference mix cross the floor in at most alpha of hours.
    alpha = 1e-3  # large enough to measure with 20,000 hours
    mix = {"undamaged": 0.85, "minor": 0.12, "critical": 0.03}
    floor = class_drift.noise_floor(n, mix, alpha)
    draws = np.random.default_rng(n).multinomial(n, list(mix.values()), size=20_000)
    crossed = sum(
        drift.js_distance(mix, dict(zip(mix, row / n, strict=True))) >= floor for row in draws
    )
    assert crossed / 20_000 <= 2 * alpha


def test_skipped_without_a_reference_mix(settings):
    window = make_window(n=3000, counts={"undamaged": 1000, "critical": 2000})
    assert class_drift.evaluate(window, None, settings).state == "skipped"
