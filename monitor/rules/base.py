"""What every rule takes and returns. Rules are pure: values in, a RuleResult out; no
database, clock or network inside (the hourly job fetches, the alert manager acts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from monitor.calibration import Yardstick
from monitor.core.vocabulary import STAT_FIELDS, Severity

State = Literal["ok", "firing", "skipped"]

# The per-prediction statistics a rule may look at: the image statistics of `predictions`.
SAMPLE_COLUMNS = STAT_FIELDS


@dataclass(frozen=True)
class HourSummary:
    """One past hour of a station (from `hourly_rollups`), for rules that accumulate
    evidence over hours (CUSUM on hourly medians)."""

    hour: datetime
    n: int
    medians: Mapping[str, float]  # statistic -> median of that hour
    counts: Mapping[str, int] = field(default_factory=dict)  # class -> predictions


@dataclass(frozen=True)
class Pool:
    """Consecutive hours of one station pooled for the drift rules, when the hour alone
    holds fewer than `drift_min_predictions` (monitor/windows.py): [since, hour + 1 h)."""

    since: datetime  # start of the first pooled hour
    hours: int  # clock hours covered, the window's own included
    n: int
    counts: Mapping[str, int]
    sample: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Window:
    """One closed hour of one station (station_id None: the whole site)."""

    hour: datetime  # start of the hour, UTC
    station_id: str | None
    n: int  # predictions in the hour
    counts: Mapping[str, int]  # class -> predictions
    latency_p95_ms: float | None
    # A bounded random sample of the hour's per-prediction statistics: column -> values.
    sample: Mapping[str, np.ndarray]
    # Earlier hours of the same station, oldest first (the rule decides how many it uses).
    history: tuple[HourSummary, ...] = ()
    # Predictions to expect this hour from the station's own history at this hour of day
    # (monitor/windows.py); None when it has less than a day of it. For no_data.
    expected_n: float | None = None
    # The hour with its previous hours, when it is too thin to judge drift alone.
    pool: Pool | None = None


@dataclass(frozen=True)
class Reference:
    """A station's known-good window (`reference_profiles`)."""

    station_id: str | None
    provisional: bool
    n: int
    sample: Mapping[str, np.ndarray]  # column -> values (bounded random sample)
    quantiles: Mapping[str, Mapping[str, float]]  # column -> {"p05": .., "p50": .., ...}
    # Spread of the hourly medians within the window: column -> {"mean": .., "sd": .., "n": ..}
    hourly_spread: Mapping[str, Mapping[str, float]]
    class_mix: Mapping[str, float]  # class -> share
    baseline_critical_rate: float
    hourly_volume: float | None = None  # mean predictions per hour in the window
    # column -> calibrated yardstick (monitor/calibration.py); empty for profiles stored
    # before there were any, which fall back to hourly_spread's mean and SD.
    yardsticks: Mapping[str, Yardstick] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleResult:
    """The verdict of one rule for one station-hour."""

    rule: str
    station_id: str | None
    state: State
    severity: Severity
    summary: str  # one line a person understands at 3 a.m.
    # A firing result's evidence holds "headline" (its strongest signal, a few words) and
    # "magnitude" (how bad, larger is worse, comparable between hours of the same rule:
    # the alert keeps the evidence of its worst hour by it).
    evidence: dict[str, Any] = field(default_factory=dict)
    report_html: str | None = None  # Evidently's report, for drifted station-hours

    @property
    def fingerprint(self) -> str:
        """Alerts are deduplicated on this: the rule and the station."""
        return fingerprint(self.rule, self.station_id)

    @property
    def firing(self) -> bool:
        return self.state == "firing"


def fingerprint(rule: str, station_id: str | None) -> str:
    """`rule:station` for a station, `rule@site` for the whole site: no station id a client
    may send (any text, '*' included) gives the site's fingerprint, as rule names hold
    neither ':' nor '@'."""
    return f"{rule}@site" if station_id is None else f"{rule}:{station_id}"
