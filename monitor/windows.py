"""What the rules look at for one closed hour, fetched from the rollups and, for the drift
tests, a bounded random sample of the hour's predictions."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Connection, text

from monitor.core.vocabulary import CLASSES
from monitor.rollup import ALL
from monitor.rules.base import SAMPLE_COLUMNS, HourSummary, Reference, Window

HISTORY_HOURS = 48  # earlier hours handed to the rules (CUSUM on hourly medians)
_MEDIANS = {
    "brightness": "brightness_p50",
    "blur": "blur_p50",
    "sharpness": "sharpness_p50",
    "sharpness_tile_min": "sharpness_tile_min_p50",
    "contrast": "contrast_p50",
    "luma_p01": "luma_p01_p50",
}


def hour_windows(
    conn: Connection,
    hour: datetime,
    references: dict[str, Reference],
    *,
    sample_size: int,
) -> list[Window]:
    """A window per station that sent frames this hour or has a reference (no_data needs
    the silent ones), plus the site-wide window (station_id None). Rollups must be done."""
    rows = (
        conn.execute(
            text("SELECT * FROM hourly_rollups WHERE hour = :hour AND model_version = :all"),
            {"hour": hour, "all": ALL},
        )
        .mappings()
        .all()
    )
    by_station = {row["station_id"]: row for row in rows}
    stations = sorted((set(by_station) - {ALL}) | set(references))
    history = _history(conn, hour, stations)
    windows = []
    for station in stations:
        row = by_station.get(station)
        n = int(row["n_total"]) if row else 0
        sample = _sample(conn, hour, station, n, sample_size) if n else {}
        windows.append(_window(hour, station, row, sample, history.get(station, ())))
    site = by_station.get(ALL)
    windows.append(_window(hour, None, site, {}, ()))
    return windows


def _window(hour, station, row, sample, history) -> Window:
    counts = {cls: int(row[f"n_{cls}"]) if row else 0 for cls in CLASSES}
    return Window(
        hour=hour,
        station_id=station,
        n=sum(counts.values()),
        counts=counts,
        latency_p95_ms=row["latency_p95"] if row else None,
        sample=sample,
        history=tuple(history),
    )


def _history(conn: Connection, hour: datetime, stations: list[str]) -> dict[str, list[HourSummary]]:
    rows = conn.execute(
        text(
            f"SELECT station_id, hour, n_total, {', '.join(_MEDIANS.values())} "
            "FROM hourly_rollups WHERE model_version = :all AND hour >= :since AND hour < :hour "
            "AND station_id = ANY(:stations) ORDER BY hour"
        ),
        {
            "all": ALL,
            "since": hour - timedelta(hours=HISTORY_HOURS),
            "hour": hour,
            "stations": stations,
        },
    ).mappings()
    history: dict[str, list[HourSummary]] = {}
    for row in rows:
        medians = {stat: row[col] for stat, col in _MEDIANS.items() if row[col] is not None}
        history.setdefault(row["station_id"], []).append(
            HourSummary(hour=row["hour"], n=int(row["n_total"]), medians=medians)
        )
    return history


def _sample(
    conn: Connection, hour: datetime, station: str, n: int, size: int
) -> dict[str, np.ndarray]:
    # A Bernoulli pre-filter (no sort of the whole hour by random()), then a cap.
    fraction = min(1.0, 1.5 * size / n)
    rows = conn.execute(
        text(
            f"SELECT {', '.join(SAMPLE_COLUMNS)} FROM predictions "
            "WHERE station_id = :station AND captured_at >= :hour AND captured_at < :end "
            "AND random() < :fraction LIMIT :size"
        ),
        {
            "station": station,
            "hour": hour,
            "end": hour + timedelta(hours=1),
            "fraction": fraction,
            "size": size,
        },
    ).all()
    values = np.array(rows, dtype=np.float64).reshape(-1, len(SAMPLE_COLUMNS))
    return {col: values[:, i] for i, col in enumerate(SAMPLE_COLUMNS)}
