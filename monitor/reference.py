"""Reference profiles: what a station looks like when all is well.

A profile holds, for a known-good window: a bounded random sample of every image statistic
(for the drift tests), their quantiles, the spread of the *hourly medians* (how much one
normal hour differs from another: the yardstick for effect sizes and the CUSUM), the
class mix and the critical rate. `beltwatch baseline set` stores one; a station without
one gets a provisional profile from its first hours, marked as such in every alert.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert

from monitor.core.db.models import ReferenceProfile
from monitor.core.exceptions import BeltwatchError
from monitor.core.vocabulary import CLASSES
from monitor.rules.base import SAMPLE_COLUMNS, Reference

_QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
_WHERE = "station_id = :station AND captured_at >= :since AND captured_at < :until"


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
) -> Reference:
    """Compute the station's profile over [since, until) and store it (replacing any)."""
    params = {"station": station_id, "since": since, "until": until}
    counts = dict(
        conn.execute(
            text(f"SELECT predicted_class, count(*) FROM predictions WHERE {_WHERE} GROUP BY 1"),
            params,
        ).all()
    )
    n = sum(counts.values())
    if n == 0:
        raise NoData(f"no predictions of station {station_id} in [{since}, {until})")

    quantile_sql = ", ".join(
        f"percentile_cont({q}) WITHIN GROUP (ORDER BY {col})"
        for col in SAMPLE_COLUMNS
        for q in _QUANTILES.values()
    )
    row = conn.execute(text(f"SELECT {quantile_sql} FROM predictions WHERE {_WHERE}"), params).one()
    values = iter(row)
    quantiles = {col: {name: float(next(values)) for name in _QUANTILES} for col in SAMPLE_COLUMNS}

    medians_sql = ", ".join(
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {col})" for col in SAMPLE_COLUMNS
    )
    hourly = np.array(
        conn.execute(
            text(
                f"SELECT count(*), {medians_sql} FROM predictions WHERE {_WHERE} "
                "GROUP BY date_trunc('hour', captured_at)"
            ),
            params,
        ).all(),
        dtype=np.float64,
    )
    spread = {col: _spread(hourly[:, i]) for i, col in enumerate(("n", *SAMPLE_COLUMNS))}

    # Bernoulli pre-filter instead of sorting every row by random(): cheap on a week.
    fraction = min(1.0, 1.5 * sample_size / n)
    rows = conn.execute(
        text(
            f"SELECT {', '.join(SAMPLE_COLUMNS)} FROM predictions WHERE {_WHERE} "
            "AND random() < :fraction LIMIT :limit"
        ),
        {**params, "fraction": fraction, "limit": sample_size},
    ).all()
    sample = np.array(rows, dtype=np.float64).reshape(-1, len(SAMPLE_COLUMNS))
    class_mix = {cls: counts.get(cls, 0) / n for cls in CLASSES}

    stored: dict[str, Any] = {
        "station_id": station_id,
        "window_start": since,
        "window_end": until,
        "provisional": provisional,
        "n_predictions": n,
        "sample": {col: sample[:, i].round(6).tolist() for i, col in enumerate(SAMPLE_COLUMNS)},
        "quantiles": quantiles,
        "hourly_spread": spread,
        "class_mix": class_mix,
        "baseline_critical_rate": class_mix["critical"],
    }
    statement = insert(ReferenceProfile).values(**stored)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["station_id"],
            set_={key: statement.excluded[key] for key in stored if key != "station_id"}
            | {"created_at": text("now()")},
        )
    )
    return _as_reference(stored)


def _spread(values: np.ndarray) -> dict[str, float | None]:
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
    )


def load_reference(conn: Connection, station_id: str) -> Reference | None:
    row = (
        conn.execute(
            text("SELECT * FROM reference_profiles WHERE station_id = :station"),
            {"station": station_id},
        )
        .mappings()
        .one_or_none()
    )
    return _as_reference(dict(row)) if row is not None else None


def load_references(conn: Connection) -> dict[str, Reference]:
    rows = conn.execute(text("SELECT * FROM reference_profiles")).mappings().all()
    return {row["station_id"]: _as_reference(dict(row)) for row in rows}


def ensure_provisional(
    conn: Connection, station_id: str, *, hours: int, sample_size: int
) -> Reference | None:
    """A provisional profile from the station's first `hours` hours of data, once it has
    that many; None while it has fewer. Never replaces an existing profile."""
    first = (
        conn.execute(
            text(
                "SELECT hour FROM hourly_rollups WHERE station_id = :station "
                "AND model_version = '*' ORDER BY hour LIMIT :hours"
            ),
            {"station": station_id, "hours": hours},
        )
        .scalars()
        .all()
    )
    if len(first) < hours:
        return None
    return build_reference(
        conn,
        station_id,
        first[0],
        first[-1] + timedelta(hours=1),
        sample_size=sample_size,
        provisional=True,
    )
