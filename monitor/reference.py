"""Reference profiles: what a station looks like when all is well.

A profile holds, for a known-good window: a bounded random sample of every image statistic
(for the drift tests), their quantiles, the spread of the *hourly medians* (how much one
normal hour differs from another), and for each statistic a calibrated yardstick
(monitor/calibration.py: robust centre and scale of those medians, the daily cycle where
there is one, and CUSUM limits calibrated to the alarm budget), the class mix and the
critical rate. `profile` computes it from fetched aggregates (pure);
`reference_from_hours` does the same from per-frame statistics in memory (benchmarks and
tests). `beltwatch baseline set` stores one; a station without
one gets a provisional profile from its first hours, marked as such in every alert. The
site's profile is never stored: `site_reference` pools the stations' each hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection

from monitor.calibration import Limits, yardstick, yardsticks
from monitor.core.exceptions import BeltwatchError
from monitor.core.queries import predictions, references, rollups
from monitor.core.vocabulary import CLASSES
from monitor.rules.base import SAMPLE_COLUMNS, Reference

_QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}


class NoData(BeltwatchError):
    """The window holds no predictions of the station."""


def build_reference(
    conn: Connection,
    station_id: str,
    since: datetime,
    until: datetime,
    *,
    sample_size: int,
    provisional: bool = False,
    limits: Limits | None = None,
    set_by: str | None = None,
) -> Reference:
    """Compute the station's profile over [since, until) and store it (replacing any);
    `set_by` names who set it (None: the monitor's provisional profile)."""
    counts = predictions.class_counts(conn, station_id, since, until)
    n = sum(counts.values())
    if n == 0:
        raise NoData(f"no predictions of station {station_id} in [{since}, {until})")
    stored = profile(
        station_id,
        since,
        until,
        counts=counts,
        quantiles=predictions.quantiles(conn, station_id, since, until, SAMPLE_COLUMNS, _QUANTILES),
        hourly=predictions.hourly_medians(conn, station_id, since, until, SAMPLE_COLUMNS),
        sample=predictions.sample(
            conn, station_id, since, until, SAMPLE_COLUMNS, size=sample_size, total=n
        ),
        provisional=provisional,
        limits=limits or Limits(),
    )
    references.save_profile(conn, {**stored, "set_by": set_by})
    return _as_reference(stored)


def profile(
    station_id: str,
    since: datetime,
    until: datetime,
    *,
    counts: Mapping[str, int],
    quantiles: Mapping[str, Mapping[str, float]],
    hourly: np.ndarray,
    sample: np.ndarray,
    provisional: bool,
    limits: Limits,
) -> dict[str, Any]:
    """The stored profile (a reference_profiles row) from the window's aggregates:
    `hourly` has a row per hour (start in epoch seconds, count, then the median of each
    SAMPLE_COLUMNS), `sample` a row per sampled prediction (SAMPLE_COLUMNS)."""
    n = sum(counts.values())
    hours = [datetime.fromtimestamp(float(t), UTC) for t in hourly[:, 0]]
    spread: dict[str, Any] = {"n": _spread(hourly[:, 1])}
    for i, column in enumerate(SAMPLE_COLUMNS):
        medians = hourly[:, 2 + i]
        spread[column] = _spread(medians)
        stick = yardstick(column, medians, hours, limits, seed=station_id)
        if stick is not None:
            spread[column]["yardstick"] = stick.as_json()
    class_mix = {cls: counts.get(cls, 0) / n for cls in CLASSES}
    return {
        "station_id": station_id,
        "window_start": since,
        "window_end": until,
        "provisional": provisional,
        "n_predictions": n,
        "sample": {col: sample[:, i].round(6).tolist() for i, col in enumerate(SAMPLE_COLUMNS)},
        "quantiles": {col: dict(q) for col, q in quantiles.items()},
        "hourly_spread": spread,
        "class_mix": class_mix,
        "baseline_critical_rate": class_mix["critical"],
    }


def reference_from_hours(
    station_id: str,
    hours: Sequence[Mapping[str, np.ndarray]],
    times: Sequence[datetime],
    counts: Mapping[str, int],
    *,
    sample_size: int,
    limits: Limits,
    provisional: bool = False,
    seed: int = 0,
) -> Reference:
    """The profile `build_reference` would store, from per-frame statistics held in
    memory: one column -> values mapping per hour, with the hours' starts."""
    if len(hours) != len(times) or not hours:
        raise ValueError("reference_from_hours needs one start time per hour, and an hour")
    columns = [c for c in SAMPLE_COLUMNS if all(c in hour for hour in hours)]
    rows = []
    for start, hour in zip(times, hours, strict=True):
        size = len(next(iter(hour.values())))
        medians = [float(np.median(hour[c])) if c in columns else np.nan for c in SAMPLE_COLUMNS]
        rows.append([start.timestamp(), size, *medians])
    pooled = {
        c: np.concatenate([np.asarray(hour[c], np.float64) for hour in hours]) for c in columns
    }
    total = len(pooled[columns[0]]) if columns else 0
    pick = np.random.default_rng(seed).choice(total, size=min(sample_size, total), replace=False)
    sample = np.column_stack(
        [pooled[c][pick] if c in pooled else np.full(pick.size, np.nan) for c in SAMPLE_COLUMNS]
    )
    quantiles = {
        c: {name: float(np.quantile(pooled[c], q)) for name, q in _QUANTILES.items()}
        for c in columns
    }
    stored = profile(
        station_id,
        min(times),
        max(times) + timedelta(hours=1),
        counts=counts,
        quantiles=quantiles,
        hourly=np.array(rows, dtype=np.float64),
        sample=sample,
        provisional=provisional,
        limits=limits,
    )
    return _as_reference(stored)


def _spread(values: np.ndarray) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:  # (JSON has no NaN)
        return {"mean": None, "sd": None, "n": 0}
    sd = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
    return {"mean": float(finite.mean()), "sd": sd, "n": int(finite.size)}


def _as_reference(row: dict[str, Any]) -> Reference:
    spread = row["hourly_spread"]
    return Reference(
        station_id=row["station_id"],
        provisional=bool(row["provisional"]),
        n=int(row["n_predictions"]),
        sample={col: np.asarray(vals, dtype=np.float64) for col, vals in row["sample"].items()},
        quantiles=row["quantiles"],
        hourly_spread={col: s for col, s in spread.items() if col != "n"},
        class_mix=row["class_mix"],
        baseline_critical_rate=float(row["baseline_critical_rate"]),
        hourly_volume=spread.get("n", {}).get("mean"),
        yardsticks=yardsticks(spread),
    )


def load_reference(conn: Connection, station_id: str) -> Reference | None:
    """The station's stored profile, or None."""
    row = references.profile(conn, station_id)
    return _as_reference(row) if row is not None else None


def load_references(conn: Connection) -> dict[str, Reference]:
    """Every stored profile, by station id."""
    return {row["station_id"]: _as_reference(row) for row in references.all_profiles(conn)}


def ensure_provisional(
    conn: Connection, station_id: str, *, hours: int, sample_size: int, limits: Limits | None = None
) -> Reference | None:
    """A provisional profile from the station's first `hours` hours of data, once it has
    that many; None while it has fewer. Never replaces an existing profile."""
    first = rollups.first_hours(conn, station_id, hours)
    if len(first) < hours:
        return None
    return build_reference(
        conn,
        station_id,
        first[0],
        first[-1] + timedelta(hours=1),
        sample_size=sample_size,
        provisional=True,
        limits=limits,
    )


def site_reference(stations: Iterable[Reference]) -> Reference | None:
    """The whole site's profile, pooled in memory from the stations' (None without any).

    Hourly volume: the sum of the stations' (the site sends what they all send). Class mix
    and critical rate: the stations' mixes weighted by their hourly volume, because that is
    how their frames mix in the site's hour; a station whose volume is unknown weighs as
    the mean of the others (1 when none is known); a station without a profile is not in
    it until it gets one (provisional after its first hours). Provisional when any
    station's is. It carries no sample, quantiles or spread: the site-wide rules
    (rules.SITE_RULES) read volume and mix only, as image drift is judged per camera.
    """
    pooled = [reference for reference in stations if reference.class_mix]
    if not pooled:
        return None
    volumes = [r.hourly_volume for r in pooled if r.hourly_volume is not None]
    default = float(np.mean(volumes)) if volumes else 1.0
    weights = [r.hourly_volume if r.hourly_volume is not None else default for r in pooled]
    total = sum(weights)
    if total <= 0:  # every known volume is 0: mix the stations evenly
        weights, total = [1.0] * len(pooled), float(len(pooled))
    mix = {
        cls: sum(w * float(r.class_mix.get(cls, 0.0)) for w, r in zip(weights, pooled, strict=True))
        / total
        for cls in CLASSES
    }
    return Reference(
        station_id=None,
        provisional=any(r.provisional for r in pooled),
        n=sum(r.n for r in pooled),
        sample={},
        quantiles={},
        hourly_spread={},
        class_mix=mix,
        baseline_critical_rate=mix["critical"],
        hourly_volume=sum(volumes) if volumes else None,
    )
