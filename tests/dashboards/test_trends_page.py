"""The Trends page against the seeded database (DAY1's hours rolled up too, as a running
monitor would have): the table per station, every chart's numbers (critical share,
threshold and baseline, bands, class mix, alert marks) as the rollups, references and
alert episodes hold them, the site's time zone, bins over long ranges, the default choice
of stations, the empty state and the one line for an unreachable database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from conftest import STATIONS, open_page, point_app_at
from hourly_support import DAY1, DAY2
from sqlalchemy import text
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

from dashboards.context import EMPTY, UNREACHABLE
from dashboards.trends import CRITICAL_SHARE, bin_hours, default_stations, points
from monitor.core.queries import rollups

TRENDS = "views/trends.py"
H = timedelta(hours=1)
SIGMAS = 4.5  # drift_control_sigmas' default
CLIPPING_INCREASE = 0.05  # lighting_clipping_increase's default


@pytest.fixture(scope="module")
def rolled(seeded):
    """The seeded database with DAY1's hours rolled up as well (the reference window)."""
    url, engine = seeded
    with engine.begin() as conn:
        for hour in range(24):
            rollups.write_hour(conn, DAY1 + hour * H)
    return url, engine


def trends_page(monkeypatch, url, days=(date(2026, 11, 23), date(2026, 11, 24)), **settings):
    point_app_at(monkeypatch, url, **settings)
    app = open_page(TRENDS)
    app.date_input(key="trends_range").set_value(days).run()
    assert not app.exception
    return app


def charts(app) -> list[pd.DataFrame]:
    """The rows of every chart on the page, in page order."""
    return [
        convert_arrow_bytes_to_pandas_df(dataset.data.data)
        for chart in app.get("vega_lite_chart")
        for dataset in chart.proto.datasets
    ]


def hourly(engine, station: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT * FROM hourly_rollups WHERE station_id = :s AND model_version IS NULL "
                "ORDER BY hour"
            ),
            {"s": station},
        ).mappings()
        return [dict(row) for row in rows]


def profile(engine, station: str) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text("SELECT * FROM reference_profiles WHERE station_id = :s"), {"s": station}
            )
            .mappings()
            .one()
        )


def of(frame: pd.DataFrame, kind: str, station: str) -> pd.DataFrame:
    return frame[(frame["kind"] == kind) & (frame["station"] == station)]


def test_the_table_per_station_matches_the_rollups_references_and_alerts(rolled, monkeypatch):
    url, engine = rolled
    app = trends_page(monkeypatch, url)
    assert app.multiselect(key="trends_stations").value == STATIONS
    assert "All 3 stations with traffic or an alert in the range." in [c.value for c in app.caption]
    with engine.connect() as conn:
        alerts = dict(
            conn.execute(
                text(
                    "SELECT station_id, count(*) FROM alerts WHERE station_id IS NOT NULL "
                    "AND started_at < '2026-11-25' GROUP BY 1"
                )
            ).all()
        )
    table = app.dataframe[0].value
    assert list(table["station"]) == STATIONS
    for _, row in table.iterrows():
        hours = hourly(engine, row["station"])
        n, critical = sum(h["n_total"] for h in hours), sum(h["n_critical"] for h in hours)
        assert row["hours with traffic"] == len(hours) == 28
        assert row["predictions"] == n
        assert row["critical share"] == f"{critical / n:.1%}"
        assert row["threshold"] == "10.0%"
        assert row["baseline"] == f"{profile(engine, row['station'])['baseline_critical_rate']:.1%}"
        assert row["alerts"] == alerts.get(row["station"], 0)
    assert alerts["S1"] >= 2  # critical_rate with lens_drift at least


def test_critical_share_is_drawn_with_threshold_baseline_and_alert_marks(rolled, monkeypatch):
    url, engine = rolled
    app = trends_page(monkeypatch, url)
    _mix, share, *_ = charts(app)
    drawn = of(share, "value", "S1").set_index("time")["value"]
    expected = {
        h["hour"].replace(tzinfo=None): h["n_critical"] / h["n_total"] for h in hourly(engine, "S1")
    }
    assert len(drawn) == len(expected) == 28
    for hour, value in expected.items():
        assert drawn[pd.Timestamp(hour)] == pytest.approx(value)
    levels = of(share, "level", "S1").set_index("series")["value"]
    assert levels["threshold"] == pytest.approx(0.10)
    assert levels["baseline"] == pytest.approx(profile(engine, "S1")["baseline_critical_rate"])
    with engine.connect() as conn:
        started = conn.execute(
            text("SELECT rule, started_at FROM alerts WHERE station_id = 'S1' ORDER BY rule")
        ).all()
    marks = of(share, "alert", "S1")
    assert sorted(zip(marks["rule"], marks["time"], strict=True)) == [
        (rule, pd.Timestamp(at.replace(tzinfo=None))) for rule, at in started
    ]
    assert set(marks["series"]) == {"alert start"}  # still firing: nothing resolved yet
    assert of(share, "alert", "S0").empty


def test_each_statistic_is_drawn_against_its_reference_band(rolled, monkeypatch):
    url, engine = rolled
    app = trends_page(monkeypatch, url)
    _mix, _share, brightness, sharpness, tile, dark, bright = charts(app)
    hours = hourly(engine, "S1")
    spread = profile(engine, "S1")["hourly_spread"]
    for frame, statistic in (
        (brightness, "brightness"),
        (sharpness, "sharpness"),
        (tile, "sharpness_tile_min"),
    ):
        drawn = of(frame, "value", "S1")["value"].tolist()
        assert drawn == pytest.approx([h[f"{statistic}_p50"] for h in hours])
        (band,) = of(frame, "band", "S1").itertuples()
        mean, sd = spread[statistic]["mean"], spread[statistic]["sd"]
        assert (band.value, band.top) == pytest.approx((mean - SIGMAS * sd, mean + SIGMAS * sd))
    # Clipping: the hour's mean; the band runs to the reference window's mean + the increase.
    day1 = [h for h in hours if h["hour"] < DAY2]
    for frame, column in ((dark, "clipped_dark_mean"), (bright, "clipped_bright_mean")):
        assert of(frame, "value", "S1")["value"].tolist() == pytest.approx(
            [h[column] for h in hours]
        )
        window_mean = sum(h[column] * h["n_total"] for h in day1) / sum(h["n_total"] for h in day1)
        (band,) = of(frame, "band", "S1").itertuples()
        assert (band.value, band.top) == pytest.approx((0.0, window_mean + CLIPPING_INCREASE))
    # The lens fault: S1's worst tile fell below its band in DAY2's hours.
    (band,) = of(tile, "band", "S1").itertuples()
    assert all(h["sharpness_tile_min_p50"] < band.value for h in hours if h["hour"] >= DAY2)


def test_the_class_mix_sums_the_chosen_stations_and_narrows_with_them(rolled, monkeypatch):
    url, engine = rolled
    app = trends_page(monkeypatch, url)
    mix = charts(app)[0]
    hour = pd.Timestamp(DAY2.replace(tzinfo=None))
    with engine.connect() as conn:
        site = conn.execute(
            text(
                "SELECT n_total, n_undamaged, n_minor, n_critical FROM hourly_rollups "
                "WHERE hour = :h AND station_id IS NULL AND model_version IS NULL"
            ),
            {"h": DAY2},
        ).one()
    shown = mix[mix["start"] == hour].set_index("class")
    for cls in ("undamaged", "minor", "critical"):
        assert shown.loc[cls, "predictions"] == getattr(site, f"n_{cls}")
        assert shown.loc[cls, "share"] == pytest.approx(getattr(site, f"n_{cls}") / site.n_total)
    assert shown.loc["critical", "high"] == pytest.approx(1.0)  # stacked to 100 %

    app.multiselect(key="trends_stations").set_value(["S1"]).run()
    assert list(app.dataframe[0].value["station"]) == ["S1"]
    mix, share, *_ = charts(app)
    s1 = hourly(engine, "S1")[24]  # DAY2's first hour
    assert (
        mix[mix["start"] == hour].set_index("class").loc["critical", "predictions"]
        == (s1["n_critical"])
    )
    assert set(share["station"]) == {"S1"}


def test_coming_back_from_another_page_shows_the_default_stations_again(rolled, monkeypatch):
    url, _ = rolled
    point_app_at(monkeypatch, url)
    app = open_page(TRENDS)  # the last 7 days: only S1's alerts, still firing, reach them
    assert app.multiselect(key="trends_stations").value == ["S1"]
    app.switch_page("views/overview.py").run()
    app.switch_page(TRENDS).run()
    assert not app.exception
    assert app.multiselect(key="trends_stations").value == ["S1"]
    assert list(app.dataframe[0].value["station"]) == ["S1"]


def test_times_are_drawn_in_the_site_time_zone(rolled, monkeypatch):
    url, _ = rolled
    app = trends_page(monkeypatch, url, site_timezone="Asia/Kolkata")
    share = charts(app)[1]
    drawn = of(share, "value", "S1")["time"]
    # The range is 2026-11-23 to 2026-11-24 in India; DAY1 00:00 UTC is 05:30 there.
    assert drawn.iloc[0] == pd.Timestamp("2026-11-23 05:30")
    marks = of(share, "alert", "S1")["time"]
    assert set(marks) == {pd.Timestamp("2026-11-24 05:30")}  # DAY2 00:00 UTC


def test_a_long_range_is_drawn_in_bins_of_hours_and_says_so(rolled, monkeypatch):
    url, engine = rolled
    app = trends_page(monkeypatch, url, days=(date(2026, 11, 1), date(2026, 11, 30)))
    assert any("each point is 3 hours" in c.value for c in app.caption)
    share = charts(app)[1]
    drawn = of(share, "value", "S1").set_index("time")["value"]
    hours = hourly(engine, "S1")
    first_bin = [h for h in hours if DAY2 <= h["hour"] < DAY2 + 3 * H]
    expected = sum(h["n_critical"] for h in first_bin) / sum(h["n_total"] for h in first_bin)
    assert drawn[pd.Timestamp(DAY2.replace(tzinfo=None))] == pytest.approx(expected)
    assert len(drawn) == 28 // 3 + 1  # DAY1's 8 bins, DAY2's 2 (the second of one hour)
    # A bin's statistic is the median of its hours' medians.
    brightness = of(charts(app)[2], "value", "S1").set_index("time")["value"]
    medians = sorted(h["brightness_p50"] for h in first_bin)
    assert brightness[pd.Timestamp(DAY2.replace(tzinfo=None))] == pytest.approx(medians[1])
    assert app.dataframe[0].value.set_index("station").loc["S1", "hours with traffic"] == 28


def test_a_range_with_alerts_but_no_traffic_names_the_newest_hour_and_draws_nothing(
    rolled, monkeypatch
):
    """S1's alerts still fire after the seeded days: the range offers S1 for them, lists
    them, and says where the traffic is instead of drawing empty charts."""
    url, engine = rolled
    app = trends_page(monkeypatch, url, days=(date(2026, 11, 27), date(2026, 11, 28)))
    table = app.dataframe[0].value
    assert list(table["station"]) == ["S1"]
    with engine.connect() as conn:
        newest = rollups.latest_hour(conn, list(table["station"]))
    assert set(table["hours with traffic"]) == {0} and set(table["predictions"]) == {0}
    assert [info.value for info in app.info] == [
        "No traffic of S1 in this range (the newest hour with traffic: "
        f"{newest:%Y-%m-%d %H:%M} UTC): pick other days or stations."
    ]
    assert not app.get("vega_lite_chart")


def test_an_empty_database_says_how_to_get_data(db_url, monkeypatch):
    point_app_at(monkeypatch, db_url)
    app = open_page(TRENDS)
    assert not app.exception
    assert [info.value for info in app.info] == [EMPTY]


def test_an_unreachable_database_shows_one_line(monkeypatch):
    point_app_at(monkeypatch, "postgresql://beltwatch:hunter2@127.0.0.1:1/beltwatch")
    app = open_page(TRENDS)
    assert not app.exception
    (error,) = app.error
    assert error.value.startswith(UNREACHABLE) and "hunter2" not in error.value


@pytest.mark.parametrize(
    ("days", "hours"),
    [(1, 1), (7, 1), (14, 1), (15, 2), (30, 3), (60, 6), (90, 8), (180, 24), (730, 24)],
)
def test_a_point_covers_one_hour_up_to_14_days_then_more(days, hours):
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert bin_hours(since, since + timedelta(days=days)) == hours


@pytest.mark.parametrize(
    ("stations", "alerted", "shown", "says"),
    [
        (["S1", "S2"], ["S2"], ["S1", "S2"], "All 2 stations"),
        ([f"S{k:02d}" for k in range(6)], [], [f"S{k:02d}" for k in range(6)], "All 6"),
        ([f"S{k:02d}" for k in range(9)], ["S07", "S02", "X"], ["S02", "S07"], "the 2 that"),
        ([f"S{k:02d}" for k in range(9)], [], [f"S{k:02d}" for k in range(6)], "the first 6"),
    ],
)
def test_the_default_stations_are_all_or_those_with_alerts_or_the_first_six(
    stations, alerted, shown, says
):
    chosen, why = default_stations(stations, alerted)
    assert chosen == shown and says in why


def test_the_line_breaks_where_hours_are_missing():
    start = datetime(2026, 11, 24, tzinfo=UTC)
    rows = [
        {"station_id": "S1", "start": start + k * H, "n_total": 10, "n_critical": k}
        for k in (0, 1, 3)
    ]
    drawn = points(rows, ["S1"], CRITICAL_SHARE, 1)
    assert [(p["start"] - start) // H for p in drawn] == [0, 1, 2, 3]
    assert [p["value"] for p in drawn] == [0.0, 0.1, None, 0.3]
