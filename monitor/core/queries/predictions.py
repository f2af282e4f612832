"""The reads of `predictions` that the monitor makes: class counts, quantiles, hourly
medians and bounded random samples of one station over a time range; and the dashboard's
few raw reads (the open hour's counts, a station's kept frames). (The prediction log
writes the table: monitor/predlog/writer.py.)

Aggregates run in Postgres; only samples, bounded by the caller, come back as arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, RowMapping, text

from monitor.core.vocabulary import PROB_FIELDS, STAT_FIELDS

_WHERE = "station_id = :station AND captured_at >= :since AND captured_at < :until"


def class_counts(
    conn: Connection, station: str, since: datetime, until: datetime
) -> dict[str, int]:
    """predicted class -> predictions of the station in [since, until) (absent: none)."""
    rows = conn.execute(
        text(f"SELECT predicted_class, count(*) FROM predictions WHERE {_WHERE} GROUP BY 1"),
        {"station": station, "since": since, "until": until},
    ).all()
    return {cls: int(n) for cls, n in rows}


def quantiles(
    conn: Connection,
    station: str,
    since: datetime,
    until: datetime,
    columns: Sequence[str],
    levels: Mapping[str, float],
) -> dict[str, dict[str, float]]:
    """column -> {name: quantile} over the station's predictions in [since, until);
    `levels` names the quantiles ({"p05": 0.05, ...}). The range must hold predictions."""
    select = ", ".join(
        f"percentile_cont({q}) WITHIN GROUP (ORDER BY {column})"
        for column in columns
        for q in levels.values()
    )
    row = conn.execute(
        text(f"SELECT {select} FROM predictions WHERE {_WHERE}"),
        {"station": station, "since": since, "until": until},
    ).one()
    values = iter(row)
    return {column: {name: float(next(values)) for name in levels} for column in columns}


def hourly_medians(
    conn: Connection, station: str, since: datetime, until: datetime, columns: Sequence[str]
) -> np.ndarray:
    """One row per hour with predictions in [since, until), oldest first: the hour's start
    (seconds since the epoch, UTC), the count, then each column's median (float64, NaN
    where the hour lacked the column)."""
    medians = ", ".join(f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {c})" for c in columns)
    rows = conn.execute(
        text(
            "SELECT extract(epoch FROM date_trunc('hour', captured_at)), count(*), "
            f"{medians} FROM predictions WHERE {_WHERE} "
            "GROUP BY date_trunc('hour', captured_at) ORDER BY 1"
        ),
        {"station": station, "since": since, "until": until},
    ).all()
    return np.array(rows, dtype=np.float64).reshape(-1, 2 + len(columns))


def sample(
    conn: Connection,
    station: str,
    since: datetime,
    until: datetime,
    columns: Sequence[str],
    *,
    size: int,
    total: int,
) -> np.ndarray:
    """A random sample of at most `size` rows of `columns` (float64, one column each) from
    the station's `total` predictions in [since, until)."""
    # A Bernoulli pre-filter instead of sorting every row by random(): cheap on a week.
    fraction = min(1.0, 1.5 * size / max(total, 1))
    rows = conn.execute(
        text(
            f"SELECT {', '.join(columns)} FROM predictions WHERE {_WHERE} "
            "AND random() < :fraction LIMIT :size"
        ),
        {"station": station, "since": since, "until": until, "fraction": fraction, "size": size},
    ).all()
    return np.array(rows, dtype=np.float64).reshape(-1, len(columns))


def counts_since(conn: Connection, since: datetime) -> dict[str, int]:
    """station -> predictions captured at or after `since` (absent: none); meant for the
    open hour, the one range the dashboard reads from raw rows."""
    rows = conn.execute(
        text(
            "SELECT station_id, count(*) FROM predictions WHERE captured_at >= :since "
            "GROUP BY station_id"
        ),
        {"since": since},
    ).all()
    return {station: int(n) for station, n in rows}


def evidence_frames(
    conn: Connection, station: str, since: datetime, until: datetime, limit: int
) -> list[RowMapping]:
    """At most `limit` of the station's predictions in [since, until) whose image was kept
    (evidence frames and review images): id, captured_at, predicted_class, the p_* columns,
    action, image_ref and the statistics; the least sharp first, then the newest."""
    # Least sharp by the worst tile: it falls for a blur of the whole frame and for a
    # smudge over one part of the lens alike (whole-frame sharpness hides the latter), and
    # it is what the worker keeps each hour's running minimum of (inference/evidence.py).
    columns = ", ".join(
        ("id", "captured_at", "predicted_class", *PROB_FIELDS, "action", "image_ref", *STAT_FIELDS)
    )
    return list(
        conn.execute(
            text(
                f"SELECT {columns} FROM predictions WHERE {_WHERE} AND image_ref IS NOT NULL "
                "ORDER BY sharpness_tile_min, captured_at DESC LIMIT :limit"
            ),
            {"station": station, "since": since, "until": until, "limit": limit},
        )
        .mappings()
        .all()
    )
