"""The Value page against the seeded database: critical parcels diverted, frames queued
for review (per day and the busiest hour) and labels done equal the sums the database
holds; each station's hours with a camera fault and the parcels judged meanwhile equal the
alert episodes and rollups; the site's time zone draws the day boundaries; empty states."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import PER_HOUR, STATIONS, open_page, point_app_at
from hourly_support import DAY1, DAY2
from sqlalchemy import text

from dashboards.context import EMPTY, UNREACHABLE
from dashboards.value import fault_windows
from monitor.core.queries import reviews

VALUE = "views/value.py"
SINCE = DAY1
UNTIL = DAY2 + timedelta(days=2)  # the page's range: 2026-11-23 to 2026-11-25, whole days
H = timedelta(hours=1)


@pytest.fixture(scope="module")
def labelled(seeded):
    """Three labels of seeded frames: two given on DAY2, one on the day after."""
    url, engine = seeded
    with engine.begin() as conn:
        frames = conn.execute(
            text("SELECT id, captured_at FROM predictions ORDER BY captured_at, id LIMIT 3")
        ).all()
        for (pid, captured), at in zip(
            frames, (DAY2 + 5 * H, DAY2 + 6 * H, DAY2 + 30 * H), strict=True
        ):
            reviews.label(
                conn, prediction_id=pid, captured_at=captured, true_class="minor",
                reviewer="Ana", at=at,
            )  # fmt: skip
    return url, engine


def value_page(monkeypatch, url, **settings):
    point_app_at(monkeypatch, url, **settings)
    app = open_page(VALUE)
    app.date_input(key="value_range").set_value((date(2026, 11, 23), date(2026, 11, 25))).run()
    assert not app.exception
    return app


def metrics(app) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def table(app, first_column: str):
    return next(d.value for d in app.dataframe if d.value.columns[0] == first_column)


def test_the_totals_equal_the_sums_of_the_site_rows_and_the_labels(labelled, monkeypatch) -> None:
    url, engine = labelled
    with engine.connect() as conn:
        total, critical, queued = conn.execute(
            text(
                "SELECT sum(n_total), sum(n_critical), sum(n_minor + n_critical) "
                "FROM hourly_rollups WHERE station_id IS NULL AND model_version IS NULL "
                "AND hour >= :since AND hour < :until"
            ),
            {"since": SINCE, "until": UNTIL},
        ).one()
        peak_hour, peak = conn.execute(
            text(
                "SELECT hour, n_minor + n_critical FROM hourly_rollups "
                "WHERE station_id IS NULL AND model_version IS NULL "
                "ORDER BY 2 DESC, hour DESC LIMIT 1"
            )
        ).one()
    app = value_page(monkeypatch, url)
    assert critical > 0 and queued > critical
    assert metrics(app) == {
        "Critical parcels diverted": f"{critical:,}",
        "Frames queued for review": f"{queued:,}",
        "Labels done": "3",
        "Parcels judged": f"{total:,}",
    }
    busiest = f"Busiest hour for reviewers: **{peak_hour:%Y-%m-%d %H:%M} UTC**, {peak:,} frames"
    assert any(m.value.startswith(busiest) for m in app.markdown)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_each_day_sums_its_hours_in_the_site_time_zone(labelled, monkeypatch, zone) -> None:
    url, engine = labelled
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT (hour AT TIME ZONE :zone)::date, sum(n_total), sum(n_critical), "
                "sum(n_minor + n_critical) FROM hourly_rollups "
                "WHERE station_id IS NULL AND model_version IS NULL GROUP BY 1"
            ),
            {"zone": zone},
        ).all()
        labels = conn.execute(
            text("SELECT (reviewed_at AT TIME ZONE :zone)::date, count(*) FROM reviews GROUP BY 1"),
            {"zone": zone},
        ).all()
    by_day = {day: (int(n), int(c), int(q)) for day, n, c, q in rows}
    labels_by_day = dict(labels)
    days = [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]
    app = value_page(monkeypatch, url, site_timezone=zone)
    shown = table(app, "day")
    assert list(shown["day"]) == [d.isoformat() for d in days]
    for day, row in zip(days, shown.itertuples(index=False), strict=True):
        parcels, critical, queued = by_day.get(day, (0, 0, 0))
        assert (row.parcels, row[2], row[3], row[4]) == (
            parcels,
            critical,
            queued,
            labels_by_day.get(day, 0),
        )
    # The monitor judged DAY2's first 4 hours (UTC): the evening of the 23rd in New York.
    busy_day = {"UTC": 1, "America/New_York": 0}[zone]
    assert shown["parcels"][busy_day] == 4 * len(STATIONS) * PER_HOUR


def test_each_stations_camera_fault_hours_and_parcels_equal_the_episodes(
    labelled, monkeypatch
) -> None:
    url, engine = labelled
    with engine.connect() as conn:
        episodes = conn.execute(
            text(
                "SELECT station_id, rule, started_at, resolved_at FROM alerts "
                "WHERE rule IN ('lens_drift', 'lighting_drift') ORDER BY started_at"
            )
        ).all()
        assert [(s, r) for s, r, _, _ in episodes] == [("S1", "lens_drift")]
        _, _, started, resolved = episodes[0]
        assert resolved is None  # still firing: counted to the end of the range
        hours, parcels, critical = conn.execute(
            text(
                "SELECT count(*), sum(n_total), sum(n_critical) FROM hourly_rollups "
                "WHERE station_id = 'S1' AND model_version IS NULL "
                "AND hour >= :started AND hour < :until"
            ),
            {"started": started, "until": UNTIL},
        ).one()
    app = value_page(monkeypatch, url)
    faults = table(app, "station")
    assert faults.to_dict("records") == [
        {
            "station": "S1",
            "episodes": 1,
            "hours with a fault": round((UNTIL - started) / H, 1),
            "hours running with it": hours,
            "parcels judged by a faulty camera": parcels,
            "of them called critical": critical,
        }
    ]
    assert hours > 0 and parcels > 0
    (listed,) = next(d.value for d in app.dataframe if "fault" in d.value.columns).to_dict(
        "records"
    )
    firing_for = (datetime.now(UTC) - started) / H  # the whole episode, to now
    assert listed.pop("hours until resolved") == pytest.approx(firing_for, abs=0.1)
    assert listed == {
        "station": "S1",
        "fault": "lens_drift",
        "started": f"{started:%Y-%m-%d %H:%M} UTC",
        "resolved": "still firing",
    }


def test_fault_windows_merge_overlaps_and_clip_to_the_range() -> None:
    t = datetime(2026, 11, 24, tzinfo=UTC)
    episodes = [
        {"station_id": "S1", "started_at": t, "resolved_at": t + 3 * H},  # lens
        {"station_id": "S1", "started_at": t + 2 * H, "resolved_at": t + 5 * H},  # lighting
        {"station_id": "S1", "started_at": t + 5 * H, "resolved_at": t + 6 * H},  # touching
        {"station_id": "S1", "started_at": t + 8 * H, "resolved_at": None},  # firing
        {"station_id": "S2", "started_at": t - 4 * H, "resolved_at": t + H},  # began earlier
        {"station_id": "S3", "started_at": t - 4 * H, "resolved_at": t - H},  # over before
    ]
    assert fault_windows(episodes, since=t, until=t + 10 * H) == {
        "S1": [(t, t + 6 * H), (t + 8 * H, t + 10 * H)],
        "S2": [(t, t + H)],
    }


def test_an_empty_database_says_how_to_get_data(db_url, monkeypatch) -> None:
    point_app_at(monkeypatch, db_url)
    app = open_page(VALUE)
    assert not app.exception
    assert [i.value for i in app.info] == [EMPTY]


def test_a_range_without_traffic_says_so(labelled, monkeypatch) -> None:
    url, engine = labelled
    point_app_at(monkeypatch, url)
    app = open_page(VALUE)
    app.date_input(key="value_range").set_value((date(2026, 10, 1), date(2026, 10, 7))).run()
    with engine.connect() as conn:
        newest = conn.execute(text("SELECT max(hour) FROM hourly_rollups")).scalar_one()
    assert [i.value for i in app.info] == [
        f"No traffic in this range (the newest hour with traffic: {newest:%Y-%m-%d %H:%M} UTC): "
        "pick other days."
    ]
    assert metrics(app)["Critical parcels diverted"] == "0"
    assert [s.value for s in app.success] == ["No camera fault fired in this range."]


def test_an_unreachable_database_shows_one_line(monkeypatch) -> None:
    point_app_at(monkeypatch, "postgresql://beltwatch:hunter2@127.0.0.1:1/beltwatch")
    app = open_page(VALUE)
    (error,) = app.error
    assert error.value.startswith(UNREACHABLE) and "hunter2" not in error.value
