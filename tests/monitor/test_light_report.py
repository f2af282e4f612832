"""A drift report light enough for a phone: one self-contained HTML file that shows only
the columns that drifted and carries Evidently's 3.5 MB viewer compressed. Measured with
the real Evidently, at the monitor's sample sizes (2,000 an hour against a reference of
5,000): Evidently's own file for five columns is 3.8 MB; the light one for the two that
drifted 1.6 MB, of which 1.4 MB is the compressed viewer."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from monitor import drift

MB = 1_000_000
COLUMNS = ["sharpness", "worst_tile", "luma_p01", "contrast", "brightness"]
DRIFTED = {"sharpness", "luma_p01"}


@pytest.fixture(scope="module")
def lens_fault() -> drift.DriftRun:
    rng = np.random.default_rng(11)
    reference = {column: rng.normal(100, 10, 5000) for column in COLUMNS}
    current = {column: rng.normal(100, 10, 2000) for column in COLUMNS}
    current["sharpness"] = rng.normal(60, 10, 2000)  # a dirty lens: focus down ...
    current["luma_p01"] = rng.normal(130, 10, 2000)  # ... and the dark level lifted
    run = drift.run_drift(reference, current, COLUMNS, threshold=1e-3)
    assert {column for column, test in run.tests.items() if test.drifted} == DRIFTED
    return run


def test_the_report_shows_only_the_columns_that_drifted(lens_fault) -> None:
    html = lens_fault.html()
    for column in DRIFTED:
        assert f"'{column}'" in html
    for column in set(COLUMNS) - DRIFTED:
        assert f"'{column}'" not in html


def test_the_report_is_a_fraction_of_evidentlys_own(lens_fault) -> None:
    light = len(lens_fault.html().encode())
    full = len(lens_fault.snapshot.get_html_str(as_iframe=False).encode())
    assert full > 3.5 * MB  # what a report weighed (3.6 MB in the field)
    assert light < 1.8 * MB
    assert light < full / 2


def test_with_nothing_drifted_every_column_is_shown() -> None:
    rng = np.random.default_rng(3)
    reference = {"steady_a": rng.normal(0, 1, 500), "steady_b": rng.normal(0, 1, 500)}
    current = {"steady_a": rng.normal(0, 1, 300), "steady_b": rng.normal(0, 1, 300)}
    run = drift.run_drift(reference, current, ["steady_a", "steady_b"], threshold=1e-6)
    assert not any(test.drifted for test in run.tests.values())
    html = run.html()
    assert "'steady_a'" in html and "'steady_b'" in html


def test_the_viewer_travels_compressed_not_twice(lens_fault) -> None:
    html = lens_fault.html()
    viewer, packed = drift._viewer()
    assert viewer not in html and packed in html
    assert html.count("DecompressionStream") == 1


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (apt-get install)")
def test_a_browser_draws_the_light_report(lens_fault, tmp_path: Path) -> None:
    """The compressed viewer unpacks and draws the dashboard, as Evidently's own file does,
    in a phone-sized window."""
    page = tmp_path / "report.html"
    page.write_text(lens_fault.html())
    dom = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=412,915",
            "--virtual-time-budget=20000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # Drawn by the viewer: the dashboard's root is filled with Material UI's boxes.
    assert re.search(r'<div id="root_metric_\w+"><div class="MuiBox-root', dom)
