"""What the rules share: labels and number formats for summaries, skipped results, the
hour's sample, and a column's shift against the reference's hour-to-hour spread."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor import drift
from monitor.calibration import LOG_COLUMNS, SCALE_FLOOR_FRACTION, Yardstick, clipped_cusum
from monitor.rules.base import Reference, RuleResult, Severity, Window

if TYPE_CHECKING:
    from monitor.core.settings import Settings

# Three days of hourly medians: long enough for a slow fault to accumulate, short enough
# that a repaired fault of last week is not still in the sum.
MAX_CUSUM_HOURS = 72
# The SD of a sample median is about 1.2533 sigma / sqrt(n) (normal data); used only when
# the reference carries no hourly spread for a column.
MEDIAN_SE_FACTOR = 1.2533
# The slow path's effect floor is held by the median of this many recent hourly medians
# (the current one included), not by the current hour alone: one low hour after a few
# slightly low ones is the clean tail, not a fault.
SMOOTH_HOURS = 3
# A past hour enters the CUSUM when it holds at least this share of the reference's hourly
# volume: its median is then about as noisy as the reference hours the yardstick measured.
CUSUM_MIN_VOLUME_SHARE = 0.5
CUSUM_MIN_HOUR_N = 10


def label(station_id: str | None) -> str:
    return station_id if station_id is not None else "site"


def pct(fraction: float, digits: int = 0) -> str:
    """0.552 -> '55 %' (the sign is the caller's words: 'down', 'up')."""
    return f"{abs(fraction) * 100:.{digits}f} %"


def fmt_p(p: float) -> str:
    if p < 1e-9:
        return "p < 1e-9"
    if p < 1e-3:
        return f"p = {p:.1e}"
    return f"p = {p:.3f}"


def fmt_num(value: float) -> str:
    """Three significant figures, for statistics of any scale (sharpness 0.0213, levels 112)."""
    return f"{value:.3g}"


def provisional(reference: Reference | None) -> tuple[str, dict[str, Any]]:
    """Summary suffix and evidence flag for a provisional reference."""
    flag = bool(reference is not None and reference.provisional)
    return (" [provisional reference]" if flag else ""), {"provisional_reference": flag}


def skipped(
    rule: str,
    window: Window,
    severity: Severity,
    reason: str,
    **evidence: Any,
) -> RuleResult:
    """A result that judged nothing (and therefore never fires)."""
    return RuleResult(
        rule=rule,
        station_id=window.station_id,
        state="skipped",
        severity=severity,
        summary=f"{label(window.station_id)}: {rule} not judged: {reason}",
        evidence={"reason": reason, **evidence},
    )


def drift_guard(
    rule: str, window: Window, reference: Reference | None, settings: Settings
) -> RuleResult | None:
    """The skipped result of a drift rule that cannot judge this hour (no reference, too
    few predictions), or None when it can."""
    if reference is None:
        return skipped(rule, window, "warning", "no reference profile for this station")
    n = judged_n(window)
    if n < settings.drift_min_predictions:
        where = (
            f"{window.n} predictions this hour"
            if window.pool is None
            else f"{n} predictions over the last {window.pool.hours} hours"
        )
        return skipped(
            rule,
            window,
            "warning",
            f"{where}, fewer than the {settings.drift_min_predictions} needed "
            f"(pooled over up to {settings.drift_max_pool_hours} hours)",
            n=n,
        )
    return None


def judged_n(window: Window) -> int:
    """Predictions the drift rules judge: the pool's when the hour was pooled."""
    return window.pool.n if window.pool is not None else window.n


def judged_sample(window: Window) -> Mapping[str, Any]:
    """The sample the drift rules judge: the pool's when the hour was pooled."""
    return window.pool.sample if window.pool is not None else window.sample


def judged_counts(window: Window) -> Mapping[str, int]:
    """The class counts class_drift judges: the pool's when the hour was pooled."""
    return window.pool.counts if window.pool is not None else window.counts


def pool_evidence(window: Window) -> dict[str, Any]:
    """Which hours a result covers (for evidence), empty for a single hour."""
    if window.pool is None:
        return {}
    return {
        "pooled": {
            "since": window.pool.since.isoformat(),
            "until": (window.hour + timedelta(hours=1)).isoformat(),
            "hours": window.pool.hours,
            "n": window.pool.n,
        }
    }


def pool_phrase(window: Window) -> str:
    """' [pooled 11:00-15:00 UTC, 4 hours, 130 predictions]', or '' for a single hour."""
    if window.pool is None:
        return ""
    until = window.hour + timedelta(hours=1)
    return (
        f" [pooled {window.pool.since:%H:%M}-{until:%H:%M} UTC, {window.pool.hours} hours, "
        f"{window.pool.n} predictions]"
    )


# A class share must move by at least this much to be worth naming beside a camera fault.
CLASS_MOVE_NAMED = 0.01


def class_move(window: Window, reference: Reference) -> tuple[str, dict[str, Any]]:
    """How the judged hour's class mix moved against the reference, for a camera or
    lighting alert: ("; classes: critical 1.0 % (ref 3.0 %) — damage may go undiverted",
    evidence). A camera fault can push the model either way (dark frames raised the
    critical share, a dirty lens lowered it); ("", {}) without counts or a mix."""
    counts = judged_counts(window)
    total = sum(counts.values())
    mix = reference.class_mix
    if not total or not mix:
        return "", {}
    names = sorted(set(counts) | set(mix))
    shares = {name: counts.get(name, 0) / total for name in names}
    moves = {name: shares[name] - float(mix.get(name, 0.0)) for name in names}
    evidence = {
        name: {"share": shares[name], "reference": float(mix.get(name, 0.0))} for name in names
    }
    moved = sorted(
        (name for name in names if abs(moves[name]) >= CLASS_MOVE_NAMED),
        key=lambda name: -abs(moves[name]),
    )
    if not moved:
        return "; classes unchanged", {"class_mix": evidence}
    words = [
        f"{name} {pct(shares[name], 1)} (ref {pct(float(mix.get(name, 0.0)), 1)})" for name in moved
    ]
    phrase = "; classes: " + ", ".join(words)
    if moves.get("critical", 0.0) <= -CLASS_MOVE_NAMED:
        phrase += " — fewer critical: damaged parcels may go undiverted"
    return phrase, {"class_mix": evidence}


def values(sample: Mapping[str, Any], column: str) -> np.ndarray | None:
    """The finite values of one sample column as float64; None when absent or empty."""
    if column not in sample:
        return None
    array = np.asarray(sample[column], dtype=np.float64).ravel()
    array = array[np.isfinite(array)]
    return array if array.size else None


def finite(value: Any) -> bool:
    """A real, finite number (numpy scalars included)."""
    return isinstance(value, int | float | np.integer | np.floating) and math.isfinite(value)


@dataclass(frozen=True)
class Shift:
    """One column's hourly median against the reference: size, control distance, CUSUM."""

    column: str
    median: float  # this hour's median (of the judged sample)
    centre: float  # the normal level at this hour (the yardstick's, daily cycle included)
    sd: float  # one hour-to-hour robust SD at that level, in the column's units
    spread_source: str  # "calibrated" (a yardstick), "reference hours" or "sample estimate"
    z: float  # robust SDs from the normal level (on the log scale for log columns)
    cusum_up: float  # one-sided CUSUM over recent hours incl. this one, upward
    cusum_down: float  # the same, downward
    hours: int  # hours in the CUSUM
    log: bool  # z and the CUSUM on the log scale
    h_up: float  # the CUSUM limits (calibrated per station, or the setting)
    h_down: float
    k: float
    smoothed_change: float  # relative change of the median of the last SMOOTH_HOURS medians
    smoothed_delta: float  # the same, in the column's units
    # The clock hour before this one, when the CUSUM series holds it: its z and relative
    # change (NaN when absent), so a rule can ask for two moved hours in a row.
    previous_z: float = math.nan
    previous_change: float = math.nan

    @property
    def delta(self) -> float:
        return self.median - self.centre

    @property
    def change(self) -> float:
        return drift.relative_change(self.median, self.centre)

    def as_evidence(self) -> dict[str, Any]:
        change = self.change
        return {
            "median": self.median,
            "reference_median": self.centre,
            "hourly_sd": self.sd,
            "spread_source": self.spread_source,
            "change": change if math.isfinite(change) else None,
            "z": self.z,
            "cusum_up": self.cusum_up,
            "cusum_down": self.cusum_down,
            "cusum_h_up": self.h_up,
            "cusum_h_down": self.h_down,
            "cusum_k": self.k,
            "cusum_hours": self.hours,
            "smoothed_change": self.smoothed_change
            if math.isfinite(self.smoothed_change)
            else None,
            "smoothed_delta": self.smoothed_delta if math.isfinite(self.smoothed_delta) else None,
            "z_scale": "log" if self.log else "linear",
        }


def measure_shift(
    column: str, window: Window, reference: Reference, settings: Settings, *, log: bool = False
) -> Shift | None:
    """The hour's shift of `column` against the reference; None when either side lacks it.

    The yardstick is the reference's calibrated one (monitor/calibration.py); a profile
    stored before yardsticks existed gets one from its mean and SD of hourly medians
    (log=True: on the log scale) with the `cusum_h` limit. z uses the judged median (the
    pool's for a pooled hour); the CUSUM runs over the hourly medians of the recent hours
    that hold enough predictions to be compared with the reference's hours, this one
    included."""
    judged = values(judged_sample(window), column)
    if judged is None:
        return None
    stick, source = _yardstick(column, reference, judged.size, log, settings)
    if stick is None:
        return None
    hour = window.hour
    median = float(np.median(judged))
    series = _cusum_series(column, window, reference, stick)
    noise = _MedianNoise(reference, column, stick)
    z_series = [stick.z(value, when, noise.scale(n)) for when, value, n in series]
    up = clipped_cusum(z_series, stick.k)
    down = clipped_cusum([-z for z in z_series], stick.k)
    smoothed_change, smoothed_delta = _smoothed(series, stick, hour, median)
    previous_z = previous_change = math.nan
    for z, (when, value, _) in zip(z_series, series, strict=True):
        if when == hour - timedelta(hours=1):  # the series holds each hour once
            previous_z, previous_change = z, drift.relative_change(value, stick.level(when))
    scale = noise.scale(judged.size)  # the median judged is the sample's
    return Shift(
        column=column,
        median=median,
        centre=stick.level(hour),
        sd=scale * stick.level(hour) if stick.log else scale,
        spread_source=source,
        z=stick.z(median, hour, scale),
        cusum_up=up[-1] if up else 0.0,
        cusum_down=down[-1] if down else 0.0,
        hours=len(series),
        log=stick.log,
        h_up=stick.limit("up", settings.cusum_h),
        h_down=stick.limit("down", settings.cusum_h),
        k=stick.k,
        smoothed_change=smoothed_change,
        smoothed_delta=smoothed_delta,
        previous_z=previous_z,
        previous_change=previous_change,
    )


def _yardstick(
    column: str, reference: Reference, current_n: int, log: bool, settings: Settings
) -> tuple[Yardstick | None, str]:
    stick = reference.yardsticks.get(column)
    if stick is not None:
        return stick, "calibrated"
    log = log or column in LOG_COLUMNS
    spread = reference.hourly_spread.get(column) or {}
    mean, sd, hours = spread.get("mean"), spread.get("sd"), spread.get("n", 0)
    if finite(mean) and finite(sd) and sd > 0 and (hours or 0) >= 2:
        centre, scale, source = float(mean), float(sd), "reference hours"
    else:
        # No usable spread of the reference hours: sampling noise of the median only. This
        # underestimates real hour-to-hour variation; the practical floors keep it honest.
        ref = values(reference.sample, column)
        if ref is None:
            return None, "none"
        quantile = (reference.quantiles.get(column) or {}).get("p50")
        centre = float(quantile) if finite(quantile) else float(np.median(ref))
        scale = MEDIAN_SE_FACTOR * float(np.std(ref)) / math.sqrt(max(current_n, 1))
        source = "sample estimate"
    log = log and centre > 0
    if log:
        centre, scale = math.log(centre), scale / centre
    floor = SCALE_FLOOR_FRACTION * (1.0 if log else abs(centre))
    stick = Yardstick(
        column=column,
        log=log,
        centre=centre,
        scale=max(scale, floor, 1e-12),
        hours=int(hours or 0),
        k=settings.cusum_k,
    )
    return stick, source


class _MedianNoise:
    """How far an hourly median of n frames strays from its hour's true level: the
    yardstick's hour-to-hour spread was measured on medians of the reference's hourly
    volume, so it holds sampling noise for that n. An hour of fewer frames (a night shift
    at 60 %, a thin hour) is noisier, and must not read as a shift: its scale is
    sqrt(between-hours^2 + se(n)^2), with se(n) the standard error of a median of n frames
    drawn from the reference's frames (from their quantiles at 0.5 +- 0.98 / sqrt(n), which
    holds for skewed and two-humped statistics alike), and between-hours what the
    yardstick's spread leaves after the reference's own se. Never below the yardstick's floor."""

    def __init__(self, reference: Reference, column: str, stick: Yardstick) -> None:
        self.sorted = _sorted_frames(reference, column, stick.log)
        self.floor = SCALE_FLOOR_FRACTION * (1.0 if stick.log else abs(stick.centre))
        volume = reference.hourly_volume
        own = self.se(volume) if volume else 0.0
        self.between2 = max(stick.scale**2 - own**2, 0.0)
        self.stick = stick

    def se(self, n: float) -> float:
        if self.sorted is None or n <= 0:
            return 0.0
        half = 0.98 / math.sqrt(n)
        return (self._quantile(0.5 + half) - self._quantile(0.5 - half)) / 3.92

    def _quantile(self, q: float) -> float:
        # Linear interpolation between order statistics (numpy's default), in O(1).
        assert self.sorted is not None
        at = min(max(q, 0.0), 1.0) * (self.sorted.size - 1)
        low = int(at)
        high = min(low + 1, self.sorted.size - 1)
        return float(self.sorted[low] + (at - low) * (self.sorted[high] - self.sorted[low]))

    def scale(self, n: int) -> float:
        if self.sorted is None:
            return self.stick.scale
        return max(math.sqrt(self.between2 + self.se(n) ** 2), self.floor, 1e-12)


_SORTED: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray | None]] = {}


def _sorted_frames(reference: Reference, column: str, log: bool) -> np.ndarray | None:
    """The reference's frames of a column, sorted (log scale when asked), cached per sample
    array: every hour of every station asks again."""
    raw = reference.sample.get(column)
    if raw is None:
        return None
    key = (id(raw), log)
    cached = _SORTED.get(key)
    if cached is not None and cached[0] is raw:
        return cached[1]
    frames = values(reference.sample, column)
    if frames is not None and log:
        frames = np.log(frames[frames > 0])
    result = np.sort(frames) if frames is not None and frames.size >= 20 else None
    if len(_SORTED) > 4096:
        _SORTED.clear()
    _SORTED[key] = (raw, result)
    return result


def _cusum_series(
    column: str, window: Window, reference: Reference, stick: Yardstick
) -> list[tuple[Any, float, int]]:
    """(hour, median, n) of the recent hours the CUSUM adds up, oldest first, this one
    last."""
    least = max(CUSUM_MIN_HOUR_N, CUSUM_MIN_VOLUME_SHARE * (reference.hourly_volume or 0.0))
    series = []
    for past in window.history:
        value = past.medians.get(column)
        # Hours too thin to compare with the reference's hours would put noise in the sum.
        if past.n >= least and finite(value) and not (stick.log and value <= 0):
            series.append((past.hour, float(value), int(past.n)))
    series = series[-(MAX_CUSUM_HOURS - 1) :]
    own = values(window.sample, column)
    if window.n >= least and own is not None:
        series.append((window.hour, float(np.median(own)), int(own.size)))
    return series


def _smoothed(
    series: list[tuple[Any, float, int]], stick: Yardstick, hour: Any, median: float
) -> tuple[float, float]:
    """The median of the last SMOOTH_HOURS hourly medians against the normal level, as a
    relative change and in units (each hour against its own time of day's level). An
    hour too thin for the CUSUM series is stood in for by the judged median."""
    pairs = [(when, value) for when, value, _ in series]
    recent = (
        pairs[-SMOOTH_HOURS:]
        if pairs and pairs[-1][0] == hour
        else [*pairs[-(SMOOTH_HOURS - 1) :], (hour, median)]
    )
    ratios = [value / stick.level(when) for when, value in recent if stick.level(when) != 0]
    deltas = [value - stick.level(when) for when, value in recent]
    if not ratios:
        return math.nan, math.nan
    return float(np.median(ratios)) - 1.0, float(np.median(deltas))


def confirm(
    reference: Reference, window: Window, columns: list[str], alpha: float = drift.DEFAULT_THRESHOLD
) -> drift.DriftRun | None:
    """The statistical half of a drift decision: K-S (Evidently) on the samples at p <
    alpha (`drift_test_alpha`), called only for columns whose effect size already passed
    (a normal hour makes no Evidently call).
    The run keeps its snapshot: a firing rule's report comes from it, not from a rerun.
    None when no column is present on both sides."""
    usable = [
        column
        for column in columns
        if values(reference.sample, column) is not None
        and values(judged_sample(window), column) is not None
    ]
    if not usable:
        return None
    current = _only(judged_sample(window), usable)
    return drift.run_drift(_only(reference.sample, usable), current, usable, threshold=alpha)


def _only(sample: Mapping[str, Any], columns: list[str]) -> dict[str, np.ndarray]:
    return {column: values(sample, column) for column in columns}  # type: ignore[misc]
