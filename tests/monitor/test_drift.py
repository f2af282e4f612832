"""monitor/drift.py: effect sizes, the one-sided CUSUM, the veil fit, and the Evidently
wrapper (argument order, score, verdict, HTML)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor import drift


@pytest.mark.parametrize(
    ("values", "direction", "path"),
    [
        ([10, 10, 10], "up", [0.0, 0.0, 0.0]),
        ([11, 11, 11], "up", [0.5, 1.0, 1.5]),  # z = 1, k = 0.5
        ([11, 11, 11], "down", [0.0, 0.0, 0.0]),
        ([9, 9, 9], "down", [0.5, 1.0, 1.5]),
        ([13, 10, 10, 10], "up", [2.5, 2.0, 1.5, 1.0]),  # decays by k an hour
        ([13, 4, 11], "up", [2.5, 0.0, 0.5]),  # never below 0
        ([11, math.nan, 11], "up", [0.5, 0.5, 1.0]),  # a missing hour adds nothing
    ],
)
def test_cusum(values, direction, path):
    assert drift.cusum(values, mean=10, sd=1, k=0.5, direction=direction) == pytest.approx(path)


def test_effect_sizes():
    assert drift.relative_change(45.0, 100.0) == pytest.approx(-0.55)
    assert math.isnan(drift.relative_change(1.0, 0.0))
    assert drift.standardised_shift(16.0, 10.0, 2.0) == 3.0
    assert math.isnan(drift.standardised_shift(16.0, 10.0, 0.0))
    # Log scale: halving and doubling are equally far (sd 10 % of the mean).
    assert drift.standardised_shift(50.0, 100.0, 10.0, log=True) == pytest.approx(-6.931, abs=1e-3)
    assert drift.standardised_shift(200.0, 100.0, 10.0, log=True) == pytest.approx(6.931, abs=1e-3)
    assert drift.cusum([50.0], mean=100.0, sd=10.0, k=0.5, direction="down", log=True) == (
        pytest.approx([6.431], abs=1e-3)
    )


@pytest.mark.parametrize(
    ("current", "haze", "level"),
    [
        ((0.7 * 10 + 0.3 * 128, 0.7 * 200 + 0.3 * 128), 0.3, 128.0),  # veil 0.3 to grey
        ((6.0, 120.0), 0.4, 0.0),  # gain 0.6: range lost, but towards black
        ((14.0, 280.0), -0.4, None),  # gain 1.4 (unclipped): range gained
        ((10.0, 200.0), 0.0, None),
    ],
)
def test_veil_fit(current, haze, level):
    fit = drift.veil_fit(10.0, 200.0, *current)
    assert fit.haze == pytest.approx(haze, abs=1e-9)
    if level is None:
        assert fit.level is None
    else:
        assert fit.level == pytest.approx(level, abs=1e-9)
    # The fitted map carries the reference's mid-grey where the veil puts it.
    if haze == pytest.approx(0.3):
        assert fit.apply(100.0, 10.0, current[0]) == pytest.approx(0.7 * 100 + 0.3 * 128)


def test_js_distance():
    assert drift.js_distance({"a": 0.5, "b": 0.5}, {"b": 0.5, "a": 0.5}) == 0.0
    assert drift.js_distance({"a": 1.0}, {"b": 1.0}) == pytest.approx(math.sqrt(math.log(2)))


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(7)
    reference = {"x": rng.normal(0, 1, 1000), "y": rng.normal(0, 1, 1000)}
    current = {"x": rng.normal(0, 1, 500), "y": rng.normal(0, 5, 500)}
    return reference, current


def test_column_drift_scores_and_verdicts(samples):
    reference, current = samples
    tests = drift.column_drift(reference, current, ["x", "y"])
    assert set(tests) == {"x", "y"}
    assert tests["x"].method == "ks" and tests["x"].threshold == 0.05
    assert not tests["x"].drifted and tests["x"].score > 0.05  # a p-value
    assert tests["y"].drifted and tests["y"].score < 1e-9


def test_column_drift_passes_the_reference_as_the_reference(samples):
    # Normed Wasserstein divides by the reference's SD: the order shows in the score.
    reference, current = samples
    score = drift.column_drift(reference, current, ["y"], method="wasserstein", threshold=0.1)
    swapped = drift.column_drift(current, reference, ["y"], method="wasserstein", threshold=0.1)
    assert score["y"].score == pytest.approx(swapped["y"].score * 5, rel=0.15)


def test_column_drift_on_categories():
    reference = {"c": np.array(["a"] * 900 + ["b"] * 100)}
    current = {"c": np.array(["a"] * 50 + ["b"] * 50)}
    test = drift.column_drift(
        reference, current, ["c"], method="chisquare", threshold=0.05, categorical=True
    )["c"]
    assert test.drifted and test.method == "chisquare" and test.score < 1e-9


def test_one_run_gives_the_verdicts_and_the_html_report(samples):
    reference, current = samples
    run = drift.run_drift(reference, current, ["y"])
    assert run.tests["y"].drifted
    html = run.html()
    assert html.lstrip().lower().startswith("<html") or "<html" in html[:1000].lower()
    assert "y" in html


def test_importing_drift_does_not_import_evidently():
    import subprocess
    import sys

    code = "import sys, monitor.drift, monitor.rules; print('evidently' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
