"""Yardsticks and alarm limits calibrated from a station's own reference hours.

A drift rule asks of a statistic's hourly median: how far is this hour from what this
camera shows when all is well, in units of its normal hour-to-hour spread, and has a
small shift gone on long enough to matter (CUSUM)? The answers used to rest on the mean and
SD of 24-72 reference hours and a fixed CUSUM limit, which false-alarmed: clean hourly
medians of the worst tile's sharpness have a heavy low tail (about 13x a normal curve
below -3 SD), a daylight swing makes consecutive afternoon hours all a little bright, and
a CUSUM with k = 0.5, h = 5 has an in-control run length near 930 hours per side even on
normal data, with five of them per station.

A `Yardstick` per statistic, built once when the reference is set, fixes that:
- robust centre and scale: the median and 1.4826 x MAD of the reference's hourly medians
  (log scale for sharpness-like statistics, where a blur multiplies the value), so one odd
  reference hour moves neither;
- the daily cycle, where the data shows one: a 24-hour harmonic (a cos + b sin of the hour
  of day) fitted to the medians when the reference holds >= MIN_CYCLE_HOURS hours over
  >= MIN_CYCLE_HOURS_OF_DAY distinct hours of day and an F-test finds it (p < CYCLE_ALPHA);
  the centre then follows the time of day, and the scale is the spread around it;
- a CUSUM limit per direction calibrated to an alarm budget by resampling the reference's
  own standardised hours (moving blocks of BLOCK hours, so a slow wobble stays in, with a
  little jitter, so a value between two seen ones can occur), each hour's z clipped at
  +-WINSOR (one odd hour adds at most WINSOR - k), run through the same CUSUM as the rule:
  the limit is the quantile of the longest run's maximum that gives one false alarm per
  `alarm_budget_years` station-years across every CUSUM the station runs
  (len(CUSUM_SIGNALS)), and never below the `cusum_h` setting.

Everything here is pure numpy; `Yardstick.as_json` / `from_json` store it in the
reference profile (reference_profiles.hourly_spread), and `beltwatch baseline show` prints
the calibrated limits.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

Direction = Literal["up", "down"]

# Statistics whose drift is a factor (a blur divides sharpness): judged on the log scale.
LOG_COLUMNS = frozenset({"sharpness", "sharpness_tile_min", "blur"})
MAD_TO_SD = 1.4826  # 1.4826 x MAD estimates the SD of a normal curve
# The scale is floored at 1 % of the level (0.01 on the log scale): a reference whose hours
# were near-identical must not make ordinary noise look like many SDs.
SCALE_FLOOR_FRACTION = 0.01
WINSOR = 3.0
MIN_CYCLE_HOURS = 24
MIN_CYCLE_HOURS_OF_DAY = 12
CYCLE_ALPHA = 0.01
# The CUSUMs the drift rules run per station (lens_drift: focus, worst tile, veil;
# lighting_drift: brightness both ways): the alarm budget is shared among them.
CUSUM_SIGNALS: tuple[tuple[str, Direction], ...] = (
    ("sharpness", "down"),
    ("sharpness_tile_min", "down"),
    ("luma_p01", "up"),
    ("brightness", "up"),
    ("brightness", "down"),
)
HOURS_PER_YEAR = 8766.0
BLOCK = 4
CHAINS = 1000
STEPS = 2000
JITTER = 0.25  # SD of the jitter added to each resampled z (in robust SDs)
MIN_HOURS = 2  # fewer reference hours: no yardstick (the rules fall back to the sample)


@dataclass(frozen=True)
class Limits:
    """How the limits are calibrated (from the settings)."""

    k: float = 1.0  # CUSUM allowance, in robust SDs
    h_floor: float = 8.0  # the calibrated limit is never below this
    budget_years: float = 1.0  # one false alarm per station per this many years

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(
            k=float(settings.cusum_k),
            h_floor=float(settings.cusum_h),
            budget_years=float(settings.alarm_budget_years),
        )

    @property
    def target_run_length(self) -> float:
        """In-control hours between false alarms each CUSUM must reach."""
        return HOURS_PER_YEAR * self.budget_years * len(CUSUM_SIGNALS)


@dataclass(frozen=True)
class Yardstick:
    """A statistic's normal level and hour-to-hour spread at one station, with its
    calibrated CUSUM limits."""

    column: str
    log: bool  # judged on the log scale
    centre: float  # median of the hourly medians (after removing the cycle), on that scale
    scale: float  # robust SD of the hourly medians around the centre (and cycle)
    hours: int  # reference hours it was built from
    cycle: tuple[float, float] | None = None  # (a, b): a cos(2 pi t/24) + b sin(2 pi t/24)
    k: float = 0.5
    h: Mapping[str, float] = field(default_factory=dict)  # direction -> CUSUM limit
    sd: float | None = None  # classical SD, for display and comparison

    def expected(self, hour: datetime | None) -> float:
        """The normal level at `hour` on the yardstick's scale (cycle included)."""
        if self.cycle is None or hour is None:
            return self.centre
        a, b = self.cycle
        angle = 2 * math.pi * _hour_of_day(hour) / 24
        return self.centre + a * math.cos(angle) + b * math.sin(angle)

    def level(self, hour: datetime | None) -> float:
        """The normal level at `hour` in the statistic's own units."""
        value = self.expected(hour)
        return math.exp(value) if self.log else value

    def transform(self, value: float) -> float:
        if not self.log:
            return float(value)
        return math.log(max(float(value), 1e-12))

    def z(self, value: float, hour: datetime | None, scale: float | None = None) -> float:
        """SDs between `value` and the normal level at `hour`: robust SDs of the reference
        hours, or `scale` (the rules widen it for an hour of fewer frames)."""
        if not math.isfinite(value):
            return math.nan
        return (self.transform(value) - self.expected(hour)) / (scale or self.scale)

    def limit(self, direction: Direction, default: float) -> float:
        return float(self.h.get(direction, default))

    def as_json(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "log": self.log,
            "centre": self.centre,
            "scale": self.scale,
            "hours": self.hours,
            "cycle": list(self.cycle) if self.cycle is not None else None,
            "k": self.k,
            "h": dict(self.h),
            "sd": self.sd,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Yardstick:
        cycle = data.get("cycle")
        return cls(
            column=str(data["column"]),
            log=bool(data["log"]),
            centre=float(data["centre"]),
            scale=float(data["scale"]),
            hours=int(data["hours"]),
            cycle=(float(cycle[0]), float(cycle[1])) if cycle else None,
            k=float(data.get("k", 0.5)),
            h={str(d): float(v) for d, v in (data.get("h") or {}).items()},
            sd=float(data["sd"]) if data.get("sd") is not None else None,
        )


def yardstick(
    column: str,
    medians: Sequence[float] | np.ndarray,
    hours: Sequence[datetime] | None,
    limits: Limits,
    *,
    seed: int | str = 0,
) -> Yardstick | None:
    """The yardstick of one statistic from its reference hourly medians (oldest first)
    and their hours (None: no time of day known, so no cycle). None with fewer than
    MIN_HOURS finite medians (or a non-positive one on a log column)."""
    values = np.asarray(medians, dtype=np.float64)
    times = list(hours) if hours is not None else None
    keep = np.isfinite(values)
    log = column in LOG_COLUMNS
    if log:
        keep &= values > 0
    if int(keep.sum()) < MIN_HOURS:
        return None
    values = values[keep]
    if times is not None:
        times = [t for t, k in zip(times, keep.tolist(), strict=True) if k]
    y = np.log(values) if log else values

    cycle = _daily_cycle(y, times)
    if cycle is not None:
        angle = 2 * np.pi * np.array([_hour_of_day(t) for t in times or []]) / 24
        residual = y - (cycle[0] * np.cos(angle) + cycle[1] * np.sin(angle))
    else:
        residual = y
    centre = float(np.median(residual))
    scale = MAD_TO_SD * float(np.median(np.abs(residual - centre)))
    floor = SCALE_FLOOR_FRACTION * (1.0 if log else abs(centre))
    scale = max(scale, floor, 1e-12)
    standard = (residual - centre) / scale
    rng = np.random.default_rng(_seed(column, seed))
    h = {
        direction: calibrate_h(standard, direction, limits, rng)
        for direction in ("up", "down")
        if (column, direction) in CUSUM_SIGNALS
    }
    return Yardstick(
        column=column,
        log=log,
        centre=centre,
        scale=scale,
        hours=int(values.size),
        cycle=cycle,
        k=limits.k,
        h=h,
        sd=float(np.std(y, ddof=1)) if y.size > 1 else None,
    )


def calibrate_h(
    standard: np.ndarray, direction: Direction, limits: Limits, rng: np.random.Generator
) -> float:
    """The CUSUM limit that the resampled in-control hours cross once per
    `limits.target_run_length` hours (never below limits.h_floor)."""
    z = np.asarray(standard, dtype=np.float64)
    if direction == "down":
        z = -z
    z = z[np.isfinite(z)]
    if z.size < MIN_HOURS:
        return limits.h_floor
    paths = _resampled(z, rng)
    maxima = cusum_maxima(paths, limits.k)
    # P(an alarm within STEPS hours) = STEPS / run length, for run lengths >> STEPS.
    share = min(1.0, STEPS / limits.target_run_length)
    h = float(np.quantile(maxima, 1.0 - share)) if share < 1 else 0.0
    return round(max(h, limits.h_floor), 2)


def _resampled(z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """CHAINS x STEPS standardised hours: moving blocks of the reference, jittered, clipped."""
    block = min(BLOCK, z.size)
    starts = z.size - block + 1
    picks = rng.integers(0, starts, size=(CHAINS, math.ceil(STEPS / block)))
    index = (picks[:, :, None] + np.arange(block)[None, None, :]).reshape(CHAINS, -1)[:, :STEPS]
    paths = z[index] + rng.normal(0.0, JITTER, size=index.shape)
    return np.clip(paths, -WINSOR, WINSOR)


def cusum_maxima(paths: np.ndarray, k: float) -> np.ndarray:
    """The largest upward CUSUM value of each row (hours along axis 1)."""
    s = np.zeros(paths.shape[0])
    top = np.zeros(paths.shape[0])
    for column in (paths - k).T:
        s = np.maximum(0.0, s + column)
        np.maximum(top, s, out=top)
    return top


def _daily_cycle(y: np.ndarray, times: list[datetime] | None) -> tuple[float, float] | None:
    """The 24-hour harmonic of y when the data holds one (F-test), else None."""
    if times is None or y.size < MIN_CYCLE_HOURS:
        return None
    hod = np.array([_hour_of_day(t) for t in times])
    if np.unique(np.floor(hod)).size < MIN_CYCLE_HOURS_OF_DAY:
        return None
    from scipy.stats import f as f_dist

    angle = 2 * np.pi * hod / 24
    design = np.column_stack([np.ones_like(angle), np.cos(angle), np.sin(angle)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    rss1 = float(np.sum((y - design @ coef) ** 2))
    rss0 = float(np.sum((y - y.mean()) ** 2))
    dof = y.size - 3
    if rss1 <= 0 or rss0 <= rss1:
        return None
    p = float(f_dist.sf(((rss0 - rss1) / 2) / (rss1 / dof), 2, dof))
    return (float(coef[1]), float(coef[2])) if p < CYCLE_ALPHA else None


def clipped_cusum(z: Sequence[float], k: float) -> list[float]:
    """The one-sided upward CUSUM path of standardised hours, each clipped at +-WINSOR
    (the rules sign z so that the watched direction is up). A NaN hour adds nothing."""
    s = 0.0
    path = []
    for value in z:
        if math.isfinite(value):
            s = max(0.0, s + min(max(value, -WINSOR), WINSOR) - k)
        path.append(s)
    return path


def yardsticks(hourly_spread: Mapping[str, Any]) -> dict[str, Yardstick]:
    """The calibrated yardsticks a stored profile's `hourly_spread` holds, by statistic
    (none in a profile from before calibration)."""
    return {
        col: Yardstick.from_json(s["yardstick"])
        for col, s in hourly_spread.items()
        if col != "n" and isinstance(s, Mapping) and s.get("yardstick")
    }


def limit_rows(sticks: Mapping[str, Yardstick]) -> list[dict[str, str]]:
    """The calibrated limits the drift rules judge a station by, as text, one row per
    statistic a CUSUM watches (sorted): statistic, centre, robust sd, scale (log or
    linear), daily cycle (its swing, or no), k, h down and h up (- where that direction
    has no CUSUM) and hours (the reference hours it was built from). `beltwatch baseline
    show` and the dashboard's Station page print these rows."""
    watched = sorted({column for column, _ in CUSUM_SIGNALS})
    rows = []
    for stick in (sticks[column] for column in watched if column in sticks):
        cycle = "no"
        if stick.cycle is not None:
            cycle = f"+-{math.hypot(stick.cycle[0], stick.cycle[1]):.2g}"
        h_down, h_up = stick.h.get("down"), stick.h.get("up")
        rows.append(
            {
                "statistic": stick.column,
                "centre": f"{stick.level(None):.3g}",
                "robust sd": f"{stick.scale:.3g}",
                "scale": "log" if stick.log else "linear",
                "daily cycle": cycle,
                "k": f"{stick.k:g}",
                "h down": "-" if h_down is None else f"{h_down:g}",
                "h up": "-" if h_up is None else f"{h_up:g}",
                "hours": str(stick.hours),
            }
        )
    return rows


def _hour_of_day(moment: datetime) -> float:
    return moment.hour + moment.minute / 60


def _seed(column: str, seed: int | str) -> int:
    return zlib.crc32(f"{seed}:{column}".encode())
