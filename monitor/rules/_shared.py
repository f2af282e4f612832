"""What the rules share: labels and number formats for summaries, skipped results, the
hour's sample, and a column's shift against the reference's hour-to-hour spread."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor import drift
from monitor.rules.base import Reference, RuleResult, Severity, Window

if TYPE_CHECKING:
    from monitor.core.settings import Settings

# Three days of hourly medians: long enough for a slow fault to accumulate, short enough
# that a repaired fault of last week is not still in the sum.
MAX_CUSUM_HOURS = 72
# The hour-to-hour SD is floored at 1 % of the reference level: a reference whose hours
# were near-identical must not make ordinary noise look like many SDs.
SD_FLOOR_FRACTION = 0.01
# The SD of a sample median is about 1.2533 sigma / sqrt(n) (normal data); used only when
# the reference carries no hourly spread for a column.
MEDIAN_SE_FACTOR = 1.2533


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
    if window.n < settings.drift_min_predictions:
        return skipped(
            rule,
            window,
            "warning",
            f"{window.n} predictions this hour, fewer than the "
            f"{settings.drift_min_predictions} needed",
            n=window.n,
        )
    return None


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
    median: float  # this hour's median (of the sample)
    centre: float  # the reference's mean of hourly medians
    sd: float  # hour-to-hour SD of those medians (floored)
    spread_source: str  # "reference hours" or "sample estimate"
    z: float  # (median - centre) / sd, or on the log scale
    cusum_up: float  # one-sided CUSUM over recent hours incl. this one, upward
    cusum_down: float  # the same, downward
    hours: int  # hours in the CUSUM
    log: bool  # z and the CUSUM on the log scale

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
            "cusum_hours": self.hours,
            "z_scale": "log" if self.log else "linear",
        }


def measure_shift(
    column: str, window: Window, reference: Reference, settings: Settings, *, log: bool = False
) -> Shift | None:
    """The hour's shift of `column` against the reference; None when either side lacks it.
    log=True judges z and the CUSUM on the log scale (drift.standardised_shift)."""
    current = values(window.sample, column)
    if current is None:
        return None
    centre, sd, source = _centre_and_sd(column, reference, current.size)
    if centre is None or sd is None:
        return None
    sd = max(sd, SD_FLOOR_FRACTION * abs(centre), 1e-12)
    median = float(np.median(current))
    series = [*_history_medians(column, window, settings), median]
    log = log and centre > 0
    up = drift.cusum(series, mean=centre, sd=sd, k=settings.cusum_k, direction="up", log=log)
    down = drift.cusum(series, mean=centre, sd=sd, k=settings.cusum_k, direction="down", log=log)
    return Shift(
        column=column,
        median=median,
        centre=centre,
        sd=sd,
        spread_source=source,
        z=drift.standardised_shift(median, centre, sd, log=log),
        cusum_up=up[-1],
        cusum_down=down[-1],
        hours=len(series),
        log=log,
    )


def _centre_and_sd(
    column: str, reference: Reference, current_n: int
) -> tuple[float | None, float | None, str]:
    spread = reference.hourly_spread.get(column) or {}
    mean, sd, hours = spread.get("mean"), spread.get("sd"), spread.get("n", 0)
    if finite(mean) and finite(sd) and sd > 0 and (hours or 0) >= 2:
        return float(mean), float(sd), "reference hours"
    # No usable spread of the reference hours: sampling noise of the median only. This
    # underestimates real hour-to-hour variation; the practical floors keep it honest.
    ref = values(reference.sample, column)
    if ref is None:
        return None, None, "none"
    quantile = (reference.quantiles.get(column) or {}).get("p50")
    centre = float(quantile) if finite(quantile) else float(np.median(ref))
    se = MEDIAN_SE_FACTOR * float(np.std(ref)) / math.sqrt(max(current_n, 1))
    return centre, se, "sample estimate"


def _history_medians(column: str, window: Window, settings: Settings) -> list[float]:
    medians = []
    for hour in window.history:
        value = hour.medians.get(column)
        # Hours too thin to judge would put noise into the sum; they are left out.
        if hour.n >= settings.drift_min_predictions and finite(value):
            medians.append(float(value))
    return medians[-(MAX_CUSUM_HOURS - 1) :]


def confirm(reference: Reference, window: Window, columns: list[str]) -> drift.DriftRun | None:
    """The statistical half of a drift decision: K-S (Evidently) on the samples, called only
    for columns whose effect size already passed (a normal hour makes no Evidently call).
    The run keeps its snapshot: a firing rule's report comes from it, not from a rerun.
    None when no column is present on both sides."""
    usable = [
        column
        for column in columns
        if values(reference.sample, column) is not None
        and values(window.sample, column) is not None
    ]
    if not usable:
        return None
    return drift.run_drift(_only(reference.sample, usable), _only(window.sample, usable), usable)


def _only(sample: Mapping[str, Any], columns: list[str]) -> dict[str, np.ndarray]:
    return {column: values(sample, column) for column in columns}  # type: ignore[misc]
