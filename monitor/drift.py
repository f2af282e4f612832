"""Drift statistics for the hourly rules: effect sizes, a one-sided CUSUM, a haze-veil fit,
and a thin wrapper around Evidently's column drift tests: one run yields both the verdicts
and the HTML report.

Why effect sizes first: with thousands of images an hour a two-sample test flags harmless
shifts in almost every hour (simulated, 3,000 images an hour: K-S at p < 0.05 flagged a
0.05-SD shift in 715 of 720 hours), so the rules decide on the size of a change against
the reference's normal hour-to-hour spread, and ask
Evidently only to confirm a change that is already large enough. Everything here is pure;
Evidently (a ~4 s import) and pandas are imported inside the functions that need them.
"""

from __future__ import annotations

import base64
import functools
import gzip
import logging
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

Direction = Literal["up", "down"]
Sample = Mapping[str, Any]  # column -> values (numpy arrays, lists, or a pandas DataFrame)

# K-S on the hour's sample, p < 0.05: the statistical half of every numeric drift decision.
DEFAULT_METHOD = "ks"
DEFAULT_THRESHOLD = 0.05
# Evidently methods whose score is a p-value (drifted below the threshold); the others
# are distances (drifted at or above it). Used only when a test status is missing.
P_VALUE_METHODS = frozenset({"ks", "chisquare", "z", "t_test", "mannw", "fisher_exact", "g_test"})


@dataclass(frozen=True)
class DriftTest:
    """One column's Evidently drift test: its score (p-value or distance) and verdict."""

    score: float
    drifted: bool
    method: str
    threshold: float

    def as_evidence(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
        }


# -- effect sizes -----------------------------------------------------------------------


def relative_change(value: float, reference: float) -> float:
    """(value - reference) / |reference|: -0.55 is "down 55 %". NaN when reference is 0."""
    if reference == 0 or not math.isfinite(reference) or not math.isfinite(value):
        return math.nan
    return (value - reference) / abs(reference)


def standardised_shift(value: float, mean: float, sd: float, *, log: bool = False) -> float:
    """How many hour-to-hour standard deviations `value` lies from the reference mean.

    log=True for scale-like statistics (sharpness: a blur multiplies it): the distance is
    ln(value / mean) / (sd / mean), the delta-method SD of log medians, so a halving counts
    as much as a doubling. A value <= 0 is taken as a millionth of the mean.
    """
    if not (sd > 0 and math.isfinite(sd)) or not math.isfinite(value):
        return math.nan
    if log:
        if not mean > 0:
            return math.nan
        return math.log(max(value, mean * 1e-6) / mean) / (sd / mean)
    return (value - mean) / sd


def cusum(
    values: Iterable[float],
    *,
    mean: float,
    sd: float,
    k: float,
    direction: Direction,
    log: bool = False,
) -> list[float]:
    """The one-sided CUSUM path over a sequence of hourly medians (oldest first):
    S_t = max(0, S_{t-1} + z_t - k), z_t = standardised_shift(value, mean, sd, log=log),
    signed so that a move in `direction` counts. An alarm is S_t >= h (the caller's)."""
    series = np.asarray(list(values), dtype=np.float64)
    if not (sd > 0 and math.isfinite(sd)) or (log and not mean > 0):
        return [0.0] * series.size
    if log:
        z = np.log(np.maximum(series, mean * 1e-6) / mean) / (sd / mean)
    else:
        z = (series - mean) / sd
    if direction == "down":
        z = -z
    path: list[float] = []
    s = 0.0
    for step in (z - k).tolist():
        if math.isfinite(step):  # a missing hour adds nothing
            s = max(0.0, s + step)
        path.append(s)
    return path


def js_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen-Shannon distance (natural log, as Evidently's `jensenshannon`) between two
    category -> share mappings; categories missing on one side count as 0."""
    from scipy.spatial import distance

    keys = sorted(set(p) | set(q))
    a = np.array([max(float(p.get(key, 0.0)), 0.0) for key in keys])
    b = np.array([max(float(q.get(key, 0.0)), 0.0) for key in keys])
    if a.sum() <= 0 or b.sum() <= 0:
        return math.nan
    return float(distance.jensenshannon(a / a.sum(), b / b.sum()))


@dataclass(frozen=True)
class VeilFit:
    """The affine map luma -> (1 - haze) * luma + haze * level that carries the reference's
    dark and bright levels (hourly medians of luma_p01, luma_p99) onto the hour's.

    A haze veil (light scattered by a dirty lens) compresses the range towards a grey:
    haze > 0 with the dark level lifted. A gain change also scales the range, but it moves
    the dark level the same way as the bright one (level near 0, or haze < 0); a gamma
    change lifts the darks while keeping the range (haze near 0). Measured on photographs
    (tests/monitor/rules/test_photographs.py): veil 0.3 -> haze 0.30; gamma 0.7 -> 0.05;
    gain 0.6 -> 0.40 but with the dark level falling; a 3x3 smudge -> 0.08.
    """

    haze: float  # fraction of the reference luma range lost; > 0 compresses
    level: float | None  # grey level the veil pulls towards; None when haze <= 0
    dark_lift: float  # change of the dark level (luma_p01), in levels

    def apply(self, reference_value: float, ref_dark: float, cur_dark: float) -> float:
        """Where a reference value lands under this map (e.g. the brightness a pure veil
        predicts); the residual against the observed value is what lighting is left with."""
        return cur_dark + (1.0 - self.haze) * (reference_value - ref_dark)


def veil_fit(ref_dark: float, ref_bright: float, cur_dark: float, cur_bright: float) -> VeilFit:
    """Fit the veil map from the reference's and the hour's median dark and bright levels."""
    ref_range = ref_bright - ref_dark
    if ref_range <= 0:
        return VeilFit(haze=0.0, level=None, dark_lift=cur_dark - ref_dark)
    haze = 1.0 - (cur_bright - cur_dark) / ref_range
    level = None
    if haze > 0:
        level = (cur_dark - (1.0 - haze) * ref_dark) / haze
    return VeilFit(haze=haze, level=level, dark_lift=cur_dark - ref_dark)


# -- Evidently --------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftRun:
    """One Evidently run over some columns: each column's verdict, and the snapshot that
    draws the report. A firing rule keeps both, so Evidently runs once per decision."""

    tests: dict[str, DriftTest]
    snapshot: Any  # evidently Snapshot; None only where a test builds a run by hand

    def html(self) -> str:
        """The report as one standalone HTML file, light enough for a phone: only the
        columns that drifted (every column when none did), and Evidently's JavaScript
        compressed (light_report_html). At the monitor's sample sizes, 1.6 MB for two
        drifted columns of five, against 3.8 MB for Evidently's own file."""
        drifted = [column for column, test in self.tests.items() if test.drifted]
        return light_report_html(self.snapshot, drifted or list(self.tests))


def run_drift(
    reference_sample: Sample,
    current_sample: Sample,
    columns: Sequence[str],
    *,
    method: str = DEFAULT_METHOD,
    threshold: float = DEFAULT_THRESHOLD,
    categorical: bool = False,
) -> DriftRun:
    """Evidently's ValueDrift test per column (current vs reference), run once.

    A test's score is the metric's value (a p-value for "ks"/"chisquare", a distance for
    "wasserstein"/"jensenshannon"); `drifted` is the test's status (FAIL = drifted).
    """
    snapshot = _run_report(
        reference_sample, current_sample, columns, method, threshold, categorical
    )
    return DriftRun(_parse_snapshot(snapshot.dict(), method, threshold), snapshot)


def column_drift(
    reference_sample: Sample,
    current_sample: Sample,
    columns: Sequence[str],
    *,
    method: str = DEFAULT_METHOD,
    threshold: float = DEFAULT_THRESHOLD,
    categorical: bool = False,
) -> dict[str, DriftTest]:
    """Only the verdicts of `run_drift` (column -> DriftTest); {} for no columns."""
    if not columns:
        return {}
    run = run_drift(
        reference_sample,
        current_sample,
        columns,
        method=method,
        threshold=threshold,
        categorical=categorical,
    )
    return run.tests


def _frame(sample: Sample, columns: Sequence[str], categorical: bool) -> pd.DataFrame:
    import pandas as pd

    if isinstance(sample, pd.DataFrame):
        frame = sample.loc[:, list(columns)].copy()
    else:
        # Columns of different lengths are allowed (each is its own sample): pad with NaN,
        # which Evidently drops per column.
        series = {column: pd.Series(np.asarray(sample[column])) for column in columns}
        frame = pd.DataFrame(series)
    if categorical:
        return frame.astype(object)
    return frame.astype(float)


def _run_report(
    reference_sample: Sample,
    current_sample: Sample,
    columns: Sequence[str],
    method: str,
    threshold: float,
    categorical: bool,
) -> Any:
    with warnings.catch_warnings():
        # Evidently's import and first run emit its dependencies' deprecation warnings.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _run_evidently(
            reference_sample, current_sample, columns, method, threshold, categorical
        )


def _run_evidently(
    reference_sample: Sample,
    current_sample: Sample,
    columns: Sequence[str],
    method: str,
    threshold: float,
    categorical: bool,
) -> Any:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    names = list(columns)
    definition = (
        DataDefinition(categorical_columns=names)
        if categorical
        else DataDefinition(numerical_columns=names)
    )

    def dataset(sample: Sample) -> Any:
        return Dataset.from_pandas(_frame(sample, names, categorical), data_definition=definition)

    # `method`, not `stattest`: ValueDrift silently ignores `stattest` (Evidently 0.7).
    report = Report(
        [ValueDrift(column=name, method=method, threshold=threshold) for name in names],
        include_tests=True,
    )
    # Evidently's order is (current, reference).
    return report.run(dataset(current_sample), dataset(reference_sample))


def _parse_snapshot(
    snapshot: Mapping[str, Any], method: str, threshold: float
) -> dict[str, DriftTest]:
    status_by_metric: dict[str, str] = {}
    for test in snapshot.get("tests", []):
        metric_id = test.get("metric_config", {}).get("metric_id")
        status = test.get("status")
        status = getattr(status, "value", status)
        if metric_id is not None and status is not None:
            status_by_metric[metric_id] = str(status).upper()
    results: dict[str, DriftTest] = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config", {})
        column = config.get("column")
        if column is None:
            continue
        score = float(metric.get("value", math.nan))
        used_method = str(config.get("method") or method)
        used_threshold = float(config.get("threshold") or threshold)
        status = status_by_metric.get(metric.get("id", ""))
        if status is not None:
            drifted = status == "FAIL"
        elif used_method in P_VALUE_METHODS:
            drifted = score < used_threshold
        else:
            drifted = score >= used_threshold
        results[column] = DriftTest(
            score=score, drifted=drifted, method=used_method, threshold=used_threshold
        )
    return results


# -- a light report ---------------------------------------------------------------------
# Evidently 0.7's `Snapshot.get_html_str`/`save_html` take no options: every file embeds the
# whole 3.5 MB viewer (`nbextension/static/index.js`) and its icon font, and shows every
# column. (The legacy API's `save_html(mode=SaveMode.FOLDER)` writes the viewer beside the
# report, and `include_render` concerns JSON only; neither exists on the 0.7 Snapshot.) A
# report must stay one self-contained file (the dashboard embeds it as an iframe's srcdoc,
# a phone opens it through `reports_url`, a site may have no internet: no CDN), so the
# viewer goes in gzip-compressed (1.06 MB; base64 1.42 MB), unpacked by the browser's
# DecompressionStream (Chrome 80, Firefox 113, Safari 16.4).

# Queues drawDashboard's calls until the unpacked viewer defines the real one.
_LOADER = """<script>
(function () {
  var calls = [];
  window.drawDashboard = function () { calls.push(arguments); };
  var bytes = Uint8Array.from(atob("%s"), function (c) { return c.charCodeAt(0); });
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  new Response(stream).text().then(function (code) {
    var viewer = document.createElement("script");
    viewer.text = code;
    document.head.appendChild(viewer);
    calls.forEach(function (args) { window.drawDashboard.apply(window, args); });
  });
})();
</script>"""


def light_report_html(snapshot: Any, columns: Sequence[str]) -> str:
    """The standalone HTML of `snapshot` showing only `columns`' metrics and tests, with the
    viewer compressed. Where Evidently's internals differ from 0.7's, the part that cannot
    be lightened is left as Evidently renders it (a larger file, never a broken one)."""
    try:
        html = _render_columns(snapshot, columns)
    except (AttributeError, ImportError, KeyError, TypeError) as error:
        log.warning("drift report: every column shown (%s)", error)
        html = str(snapshot.get_html_str(as_iframe=False))
    return _compress_viewer(html)


def _render_columns(snapshot: Any, columns: Sequence[str]) -> str:
    """What `Snapshot.get_html_str` renders, restricted to the metrics of `columns`."""
    from evidently.core.metric_types import render_widgets
    from evidently.core.report import metric_tests_stats, metric_tests_widget
    from evidently.legacy.renderers.html_widgets import group_widget

    wanted = set(columns)
    keep = [  # in the report's order
        metric["id"]
        for metric in snapshot.dict()["metrics"]
        if metric.get("config", {}).get("column") in wanted
    ]
    if not keep:
        raise KeyError(f"no metric of the columns {sorted(wanted)}")
    widgets = [
        widget
        for item in snapshot._snapshot_item
        if item.metric_id in keep
        for widget in item.widgets
    ]
    tests = [test for metric_id in keep for test in snapshot._metrics[metric_id].tests]
    shown = [group_widget(title="", widgets=widgets)]
    if tests:
        shown += [metric_tests_stats(tests), metric_tests_widget(tests)]
    return str(render_widgets(shown, as_iframe=False))


def _compress_viewer(html: str) -> str:
    viewer, packed = _viewer()
    embedded = f"<script>{viewer}</script>"
    if embedded not in html:
        log.warning("drift report: Evidently's viewer not found; left uncompressed")
        return html
    return html.replace(embedded, _LOADER % packed, 1)


@functools.cache
def _viewer() -> tuple[str, str]:
    """Evidently's viewer as its report embeds it, and gzipped in base64 (once a process)."""
    from evidently.legacy.utils.dashboard import STATIC_PATH

    code = (Path(STATIC_PATH) / "index.js").read_text(encoding="utf-8")
    packed = gzip.compress(code.encode("utf-8"), compresslevel=9, mtime=0)
    return code, base64.b64encode(packed).decode("ascii")
