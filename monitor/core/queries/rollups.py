"""`hourly_rollups`: one SQL aggregate per closed hour, and the questions asked of it.

GROUPING SETS make the one pass over an hour of `predictions` produce a row per (station,
model version), a row per station over all its model versions (model_version NULL, what
the rules and the dashboard read) and a row for the whole site (station_id and
model_version NULL). NULL marks "all of them" because no client value can be NULL (both
columns of `predictions` are NOT NULL): a station a client names '*' is a station like any
other. Writing an hour again replaces its rows: the rollup is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, text

from monitor.core.vocabulary import CLASSES

SITE = None  # the key of the site's row in what these functions return

_QUANTILES = {
    "brightness": ("p05", "p50", "p95"),
    "blur": ("p05", "p50", "p95"),
    "sharpness": ("p05", "p50", "p95"),
    "sharpness_tile_min": ("p50",),
    "contrast": ("p50",),
    "luma_p01": ("p50",),
}
_Q = {"p05": 0.05, "p50": 0.5, "p95": 0.95}
# statistic -> its hourly median column (what CUSUM rules accumulate over hours)
MEDIAN_COLUMNS = {column: f"{column}_p50" for column, qs in _QUANTILES.items() if "p50" in qs}


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
       station_id,  -- NULL where the grouping set aggregates over stations
       model_version,  -- NULL where it aggregates over model versions
       {_aggregates()},
       now()
FROM predictions
WHERE captured_at >= :hour AND captured_at < :end
GROUP BY GROUPING SETS ((station_id, model_version), (station_id), ())
HAVING count(*) > 0
"""


def write_hour(conn: Connection, hour: datetime) -> int:
    """Aggregate the hour starting at `hour` (UTC); return the rows written. The hour's
    earlier rows are replaced, so the result is the same however often it runs."""
    end = hour + timedelta(hours=1)
    conn.execute(text("DELETE FROM hourly_rollups WHERE hour = :hour"), {"hour": hour})
    return conn.execute(text(ROLLUP_SQL), {"hour": hour, "end": end}).rowcount


def hour_rows(conn: Connection, hour: datetime) -> dict[str | None, RowMapping]:
    """The hour's rows over all model versions, by station; the site's row under SITE."""
    rows = conn.execute(
        text("SELECT * FROM hourly_rollups WHERE hour = :hour AND model_version IS NULL"),
        {"hour": hour},
    ).mappings()
    return {row["station_id"]: row for row in rows}


def station_history(
    conn: Connection, hour: datetime, stations: Iterable[str], hours: int
) -> dict[str, list[dict[str, Any]]]:
    """The `hours` hours before `hour` of each station that has rows there, oldest first:
    station -> [{"hour", "n_total", "n_<class>", <statistic>: hourly median, ...}]. Hours without
    traffic have no row (and are absent); a median the hour lacked is left out."""
    rows = conn.execute(
        text(
            f"SELECT station_id, hour, n_total, {', '.join(f'n_{c}' for c in CLASSES)}, "
            f"{', '.join(MEDIAN_COLUMNS.values())} "
            "FROM hourly_rollups WHERE model_version IS NULL AND hour >= :since "
            "AND hour < :hour AND station_id = ANY(:stations) ORDER BY hour"
        ),
        {
            "since": hour - timedelta(hours=hours),
            "hour": hour,
            "stations": list(stations),
        },
    ).mappings()
    history: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        medians = {s: row[c] for s, c in MEDIAN_COLUMNS.items() if row[c] is not None}
        counts = {f"n_{c}": int(row[f"n_{c}"]) for c in CLASSES}
        entry = {"hour": row["hour"], "n_total": int(row["n_total"]), **counts, **medians}
        history.setdefault(row["station_id"], []).append(entry)
    return history


def hourly_volumes(
    conn: Connection, since: datetime, until: datetime
) -> dict[str | None, dict[datetime, int]]:
    """Predictions per hour in [since, until), by station (the site under SITE); an hour
    without a row had no traffic, or was never rolled up."""
    rows = conn.execute(
        text(
            "SELECT station_id, hour, n_total FROM hourly_rollups "
            "WHERE model_version IS NULL AND hour >= :since AND hour < :until"
        ),
        {"since": since, "until": until},
    ).all()
    volumes: dict[str | None, dict[datetime, int]] = {}
    for station, hour, n in rows:
        volumes.setdefault(station, {})[hour] = int(n)
    return volumes


def first_hours(conn: Connection, station: str, hours: int) -> list[datetime]:
    """The first `hours` hours (oldest first) in which the station sent anything."""
    return list(
        conn.execute(
            text(
                "SELECT hour FROM hourly_rollups WHERE station_id = :station "
                "AND model_version IS NULL ORDER BY hour LIMIT :hours"
            ),
            {"station": station, "hours": hours},
        ).scalars()
    )


def latest_hour(conn: Connection, stations: Sequence[str] | None = None) -> datetime | None:
    """The newest hour that has been rolled up, of any station or of `stations` (None:
    none yet)."""
    if stations is None:
        return conn.execute(text("SELECT max(hour) FROM hourly_rollups")).scalar_one()
    return conn.execute(
        text("SELECT max(hour) FROM hourly_rollups WHERE station_id = ANY(:stations)"),
        {"stations": list(stations)},
    ).scalar_one()


def site_hours(conn: Connection, since: datetime, until: datetime) -> list[RowMapping]:
    """The site's rows (all stations, all model versions) in [since, until), oldest first:
    hour, n_total, n_minor, n_critical."""
    return list(
        conn.execute(
            text(
                "SELECT hour, n_total, n_minor, n_critical FROM hourly_rollups "
                "WHERE station_id IS NULL AND model_version IS NULL "
                "AND hour >= :since AND hour < :until ORDER BY hour"
            ),
            {"since": since, "until": until},
        ).mappings()
    )


def stations_since(conn: Connection, since: datetime) -> list[str]:
    """The stations that sent anything in the hours from `since` on, sorted."""
    return list(
        conn.execute(
            text(
                "SELECT DISTINCT station_id FROM hourly_rollups WHERE station_id IS NOT NULL "
                "AND model_version IS NULL AND hour >= :since ORDER BY station_id"
            ),
            {"since": since},
        ).scalars()
    )


def station_totals_within(
    conn: Connection, windows: Sequence[tuple[str, datetime, datetime]]
) -> dict[str, dict[str, int]]:
    """station -> {"hours", "n_total", "n_critical"} of its rows whose hour starts in one of
    its `windows` ((station, start, end): [start, end)); stations without such rows are
    absent. Overlapping windows of one station count an hour twice: merge them first."""
    if not windows:
        return {}
    stations, starts, ends = (list(column) for column in zip(*windows, strict=True))
    rows = conn.execute(
        text(
            "SELECT r.station_id, count(*), sum(r.n_total), sum(r.n_critical) "
            "FROM hourly_rollups r "
            "JOIN unnest(CAST(:stations AS text[]), CAST(:starts AS timestamptz[]), "
            "CAST(:ends AS timestamptz[])) AS w(station_id, start, stop) "
            "ON r.station_id = w.station_id AND r.hour >= w.start AND r.hour < w.stop "
            "WHERE r.model_version IS NULL GROUP BY r.station_id"
        ),
        {"stations": stations, "starts": starts, "ends": ends},
    ).all()
    return {
        station: {"hours": int(hours), "n_total": int(total), "n_critical": int(critical)}
        for station, hours, total, critical in rows
    }


# The columns a trend shows per station and bin: counts are summed over the bin's hours,
# hourly medians take their median (one hour: itself), clipping its mean over the frames.
_TREND_MEDIANS = ("brightness_p50", "sharpness_p50", "sharpness_tile_min_p50")
_TREND_MEANS = ("clipped_dark_mean", "clipped_bright_mean")
_TREND_FILTER = (
    "FROM hourly_rollups WHERE model_version IS NULL AND station_id IS NOT NULL "
    "AND hour >= :since AND hour < :until"
)


def station_bins(
    conn: Connection,
    since: datetime,
    until: datetime,
    bin_hours: int,
    stations: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The stations' rows (every station's when `stations` is empty) in [since, until)
    over all model versions, in bins of `bin_hours` hours counted from `since`, by station
    then bin: station_id, start, hours (rolled-up hours in the bin), n_total and n_<class>
    (sums), the median of the hours' brightness_p50, sharpness_p50 and
    sharpness_tile_min_p50, and clipped_dark_mean and clipped_bright_mean over the bin's
    frames. Bins without traffic are absent."""
    counts = [f"n_{c}" for c in CLASSES]
    where = _TREND_FILTER + (" AND station_id = ANY(:stations)" if stations else "")
    if bin_hours == 1:  # the rows as stored: no aggregate to pay for
        columns = ", ".join(["n_total", *counts, *_TREND_MEDIANS, *_TREND_MEANS])
        query = (
            f"SELECT station_id, hour AS start, 1 AS hours, {columns} {where} "
            "ORDER BY station_id, hour"
        )
    else:
        sums = ", ".join(f"sum({c})::bigint AS {c}" for c in ["n_total", *counts])
        medians = ", ".join(
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {c}) AS {c}" for c in _TREND_MEDIANS
        )
        means = ", ".join(f"sum({c} * n_total) / sum(n_total) AS {c}" for c in _TREND_MEANS)
        query = (
            "SELECT station_id, date_bin(make_interval(hours => :bin), hour, :since) AS start, "
            f"count(*) AS hours, {sums}, {medians}, {means} {where} "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
    rows = conn.execute(
        text(query),
        {"since": since, "until": until, "bin": bin_hours, "stations": list(stations)},
    )
    return [dict(row) for row in rows.mappings()]


def frame_means_within(
    conn: Connection, windows: Sequence[tuple[str, datetime, datetime]]
) -> dict[str, dict[str, float]]:
    """station -> {"clipped_dark_mean", "clipped_bright_mean"}: the mean over every frame of
    its rows whose hour starts in one of its `windows` ((station, start, end): [start,
    end)); stations without such rows are absent."""
    if not windows:
        return {}
    stations, starts, ends = (list(column) for column in zip(*windows, strict=True))
    means = ", ".join(f"sum(r.{c} * r.n_total) / sum(r.n_total)" for c in _TREND_MEANS)
    rows = conn.execute(
        text(
            f"SELECT r.station_id, {means} FROM hourly_rollups r "
            "JOIN unnest(CAST(:stations AS text[]), CAST(:starts AS timestamptz[]), "
            "CAST(:ends AS timestamptz[])) AS w(station_id, start, stop) "
            "ON r.station_id = w.station_id AND r.hour >= w.start AND r.hour < w.stop "
            "WHERE r.model_version IS NULL GROUP BY r.station_id"
        ),
        {"stations": stations, "starts": starts, "ends": ends},
    ).all()
    return {
        station: {c: float(v) for c, v in zip(_TREND_MEANS, values, strict=True) if v is not None}
        for station, *values in rows
    }


def model_versions(conn: Connection, station: str) -> list[dict[str, Any]]:
    """The model versions the station's rollups have seen, the newest first: model_version,
    first_hour, last_hour (hour starts) and n_total (predictions)."""
    rows = conn.execute(
        text(
            "SELECT model_version, min(hour) AS first_hour, max(hour) AS last_hour, "
            "sum(n_total)::bigint AS n_total FROM hourly_rollups "
            "WHERE station_id = :station AND model_version IS NOT NULL "
            "GROUP BY model_version ORDER BY max(hour) DESC, model_version"
        ),
        {"station": station},
    ).mappings()
    return [dict(row) for row in rows]
