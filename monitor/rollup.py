"""The hourly rollup: one SQL aggregate over one hour of `predictions` into `hourly_rollups`.

GROUPING SETS make the one pass produce a row per (station, model version), a row per
station over all its model versions (model_version '*', what the rules and the dashboard
read) and a row for the whole site (station '*', model_version '*'). Re-running an hour
replaces its rows: the rollup is idempotent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from monitor.core.vocabulary import CLASSES

ALL = "*"  # station_id / model_version of the rows that aggregate over all of them

_QUANTILES = {
    "brightness": ("p05", "p50", "p95"),
    "blur": ("p05", "p50", "p95"),
    "sharpness": ("p05", "p50", "p95"),
    "sharpness_tile_min": ("p50",),
    "contrast": ("p50",),
    "luma_p01": ("p50",),
}
_Q = {"p05": 0.05, "p50": 0.5, "p95": 0.95}


def _aggregates() -> str:
    parts = ["count(*) AS n_total"]
    parts += [f"count(*) FILTER (WHERE predicted_class = '{cls}') AS n_{cls}" for cls in CLASSES]
    for column, quantiles in _QUANTILES.items():
        for q in quantiles:
            parts.append(
                f"percentile_cont({_Q[q]}) WITHIN GROUP (ORDER BY {column}) AS {column}_{q}"
            )
    parts += [
        "avg(clipped_dark) AS clipped_dark_mean",
        "avg(clipped_bright) AS clipped_bright_mean",
        # p95, because the belt's budget is per frame, not on average.
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS latency_p50",
        "percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS latency_p95",
        "avg(greatest(p_undamaged, p_minor, p_critical)) AS mean_confidence",
    ]
    return ",\n       ".join(parts)


_COLUMNS = [
    "n_total", *(f"n_{cls}" for cls in CLASSES),
    *(f"{c}_{q}" for c, qs in _QUANTILES.items() for q in qs),
    "clipped_dark_mean", "clipped_bright_mean", "latency_p50", "latency_p95", "mean_confidence",
]  # fmt: skip

ROLLUP_SQL = f"""
INSERT INTO hourly_rollups (hour, station_id, model_version, {", ".join(_COLUMNS)}, processed_at)
SELECT :hour,
       CASE WHEN grouping(station_id) = 1 THEN '{ALL}' ELSE station_id END,
       CASE WHEN grouping(model_version) = 1 THEN '{ALL}' ELSE model_version END,
       {_aggregates()},
       now()
FROM predictions
WHERE captured_at >= :hour AND captured_at < :end
GROUP BY GROUPING SETS ((station_id, model_version), (station_id), ())
HAVING count(*) > 0
"""


def rollup_hour(conn: Connection, hour: datetime) -> int:
    """Aggregate the hour starting at `hour` (UTC); return the rows written. The hour's
    earlier rows are replaced, so the result is the same however often it runs."""
    end = hour + timedelta(hours=1)
    conn.execute(text("DELETE FROM hourly_rollups WHERE hour = :hour"), {"hour": hour})
    return conn.execute(text(ROLLUP_SQL), {"hour": hour, "end": end}).rowcount
