"""Every page of the dashboard against a simulated fortnight (issue 12): 14 days of three
stations written through the prediction log as the worker writes them (minor and critical
frames kept), references set from the first day, the real hourly monitor run over every
hour (on the last day S1's lens is dirty from 06:00 to 14:00 and a third of its parcels
are called critical; S2's lights fail from 16:00 to the end), and the first frame of every
station-hour labelled. Each page renders without an exception, and the numbers it shows
equal what SQL on the database says.

The pages read the clock through `dashboards.context.now` (each page module imports it):
here it is pinned to half an hour after the fortnight, so every default range ("the last
7 days", "the last 30 days", the open hour) covers the seeded period as it would have then.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator
from datetime import date, timedelta

import pandas as pd
import pytest
from conftest import open_page, point_app_at
from daygen import Fault, traffic
from hourly_support import DAY2, write
from sqlalchemy import text
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

from monitor.core.queries import reviews
from monitor.core.vocabulary import CLASSES
from monitor.hourly import run_range
from monitor.predlog.records import PredictionRecord
from monitor.reference import build_reference

STATIONS = ["S0", "S1", "S2"]
PER_HOUR = 60
DAYS = 14
H = timedelta(hours=1)
END = DAY2 + timedelta(days=1)  # 2026-11-25 00:00 UTC: the fortnight is [START, END)
START = END - timedelta(days=DAYS)  # 2026-11-11 00:00 UTC, the reference day
LAST_DAY = END - timedelta(days=1)  # DAY2: the day of the faults
RANGE = (date(2026, 11, 11), date(2026, 11, 24))  # the fortnight as a date input picks it
NOW = END + timedelta(minutes=30)  # the pages' clock: just after the fortnight
PAGE_CLOCKS = (  # every module that reads the clock (`from dashboards.context import now`)
    "dashboards.context",
    "dashboards.overview",
    "dashboards.station",
    "dashboards.alerts",
    "dashboards.review",
    "dashboards.value",
)
LENS_HOURS = range(6, 14)  # of the last day: S1's dirty lens
DIM_FROM = 16  # of the last day: S2's lights fail and stay failed


def _faults() -> dict[tuple[str, int], Fault]:
    last = (DAYS - 1) * 24
    faults = {("S1", last + h): Fault(lens=0.8, critical_share=0.33) for h in LENS_HOURS}
    return faults | {("S2", last + h): Fault(dim=0.8) for h in range(DIM_FROM, 24)}


def _kept(records: Iterator[PredictionRecord]) -> Iterator[PredictionRecord]:
    """The records as the worker logs them: a minor or critical frame's image is kept."""
    for record in records:
        if record.predicted_class == "undamaged":
            yield record
        else:
            yield dataclasses.replace(record, image_ref=f"{record.station_id}/{record.id}.jpg")


def _truth(i: int, predicted: str) -> str:
    """A person's label of the i-th labelled frame: every third one the next class over."""
    return CLASSES[(CLASSES.index(predicted) + 1) % 3] if i % 3 == 0 else predicted


@pytest.fixture(scope="module")
def fortnight(module_db, module_settings):
    """The module's database holding the fortnight (see the module's docstring)."""
    url, engine = module_db
    records = traffic(STATIONS, START, DAYS * 24, PER_HOUR, seed=14, faults=_faults())
    write(url, module_settings, _kept(records))
    with engine.begin() as conn:
        for station in STATIONS:
            build_reference(
                conn, station, START, START + 24 * H,
                sample_size=module_settings.reference_sample_size,
            )  # fmt: skip
    # The real monitor judges every hour, as it would have run (about 20 s of the module's 35).
    judged = run_range(engine, module_settings, START, END).hours
    assert len(judged) == DAYS * 24 and all(hour.ok for hour in judged)
    with engine.begin() as conn:
        first = conn.execute(
            text(
                "SELECT DISTINCT ON (station_id, date_trunc('hour', captured_at)) id, "
                "captured_at, predicted_class FROM predictions "
                "ORDER BY station_id, date_trunc('hour', captured_at), captured_at"
            )
        ).all()
        for i, (pid, captured, predicted) in enumerate(first):
            reviews.label(
                conn, prediction_id=pid, captured_at=captured, true_class=_truth(i, predicted),
                reviewer="Ana", at=captured + 2 * H,
            )  # fmt: skip
    return url, engine


@pytest.fixture(autouse=True)
def _just_after_the_fortnight(monkeypatch) -> None:
    """Every page reads NOW as the current time."""
    for name in PAGE_CLOCKS:
        monkeypatch.setattr(importlib.import_module(name), "now", lambda: NOW)


def page(monkeypatch, url, script: str | None, **inputs):
    """`script` rendered (None: the Overview), date inputs set to `inputs`' values."""
    point_app_at(monkeypatch, url)
    app = open_page(script)
    for key, value in inputs.items():
        app.date_input(key=key).set_value(value).run()
    assert not app.exception
    return app


def sql(engine, query: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(query), params).all()


def table(app, first_column: str) -> pd.DataFrame:
    return next(d.value for d in app.dataframe if d.value.columns[0] == first_column)


def markdown(app) -> list[str]:
    return [m.value for m in app.markdown]


def station_hours(engine, since=START, until=END):
    """station -> (hours, predictions, critical) of its rollups in [since, until)."""
    rows = sql(
        engine,
        "SELECT station_id, count(*), sum(n_total), sum(n_critical) FROM hourly_rollups "
        "WHERE station_id IS NOT NULL AND model_version IS NULL AND hour >= :since "
        "AND hour < :until GROUP BY 1",
        since=since,
        until=until,
    )
    return {station: (hours, int(n), int(critical)) for station, hours, n, critical in rows}


def test_the_seed_is_a_fortnight_with_alerts_on_its_last_day(fortnight) -> None:
    _, engine = fortnight
    held = {station: hours[:2] for station, hours in station_hours(engine).items()}
    assert held == dict.fromkeys(STATIONS, (DAYS * 24, DAYS * 24 * PER_HOUR))
    alerts = sql(engine, "SELECT fingerprint, started_at, resolved_at FROM alerts")
    assert {"lens_drift:S1", "critical_rate:S1", "lighting_drift:S2"} <= {a[0] for a in alerts}
    assert all(LAST_DAY <= started < END for _, started, _ in alerts)


def test_overview_shows_the_last_hour_of_every_station(fortnight, monkeypatch) -> None:
    url, engine = fortnight
    app = page(monkeypatch, url, None)
    last = sql(engine, "SELECT max(hour) FROM hourly_rollups")[0][0]
    assert last == END - H
    firing = sql(engine, "SELECT coalesce(station_id, 'site') FROM alerts WHERE status = 'firing'")
    assert firing, "S2's lights are still failing"
    verdict = app.error[0].value
    named = verdict.split("\n")[0].removeprefix("### Attention: ").strip().split(", ")
    assert sorted(named) == sorted({name for (name,) in firing})
    assert "last closed hour 2026-11-24 23:00 UTC to 2026-11-25 00:00 UTC" in verdict
    assert f"Firing alerts ({len(firing)})" in [s.value for s in app.subheader]
    rows = sql(
        engine,
        "SELECT station_id, n_total, n_critical FROM hourly_rollups WHERE hour = :h "
        "AND station_id IS NOT NULL AND model_version IS NULL",
        h=last,
    )
    texts = markdown(app)
    for station, n, critical in rows:
        # A tile: its name and state, then its figures.
        figures = texts[next(i for i, t in enumerate(texts) if f">{station}<" in t) + 1]
        assert f"critical share **{critical / n:.1%}**" in figures
        assert f"predictions **{n}** last hour, 0 this hour" in figures
    assert len(rows) == len(STATIONS)


def test_trends_tabulates_each_station_over_the_fortnight(fortnight, monkeypatch) -> None:
    url, engine = fortnight
    app = page(monkeypatch, url, "views/trends.py", trends_range=RANGE)
    assert "All 3 stations with traffic or an alert in the range." in [c.value for c in app.caption]
    assert not any("each point is" in c.value for c in app.caption)  # 14 days: hourly
    alerts = dict(sql(engine, "SELECT station_id, count(*) FROM alerts GROUP BY 1"))
    held = station_hours(engine)
    shown = table(app, "station").set_index("station")
    assert list(shown.index) == STATIONS
    for station in STATIONS:
        hours, n, critical = held[station]
        row = shown.loc[station]
        assert (row["hours with traffic"], row["predictions"]) == (hours, n) == (336, 20160)
        assert row["critical share"] == f"{critical / n:.1%}"
        assert row["alerts"] == alerts.get(station, 0)
    assert shown.loc["S1", "alerts"] >= 2 and shown.loc["S2", "alerts"] >= 1


def test_station_shows_its_week_reference_versions_and_the_alerts_of_a_window(
    fortnight, monkeypatch
) -> None:
    url, engine = fortnight
    point_app_at(monkeypatch, url)
    app = open_page()
    app.query_params["station"] = "S1"
    app.switch_page("views/station.py").run()
    assert not app.exception
    assert app.header[0].value == "S1: last 7 days"
    # The last 7 days to the open hour's end: from 2026-11-18 01:00 UTC on.
    share = next(
        convert_arrow_bytes_to_pandas_df(d.data.data)
        for chart in app.get("vega_lite_chart")
        for d in chart.proto.datasets
    )
    drawn = share[share["kind"] == "value"]
    week = station_hours(engine, since=END + H - timedelta(days=7))["S1"]
    assert (len(drawn), int(drawn["predictions"].sum())) == week[:2] == (167, 167 * PER_HOUR)
    (n_reference,) = sql(
        engine,
        "SELECT count(*) FROM predictions WHERE station_id = 'S1' AND captured_at < :until",
        until=START + 24 * H,
    )[0]
    window = next(t for t in markdown(app) if t.startswith("Window"))
    assert "Window **2026-11-11 00:00 UTC** to **2026-11-12 00:00 UTC**" in window
    assert f"**{n_reference:,}** predictions" in window
    versions = table(app, "model version")
    assert list(versions["predictions"]) == [DAYS * 24 * PER_HOUR]
    assert list(versions["last hour"]) == ["2026-11-24 23:00 UTC"]
    # A new reference's window defaults to yesterday: the day of S1's dirty lens.
    hours, n, critical = station_hours(engine, since=LAST_DAY)["S1"]
    assert (
        f"This window holds **{hours}** hours with traffic and **{n:,}** predictions of S1 "
        f"({critical / n:.1%} critical)."
    ) in markdown(app)
    fired = sql(engine, "SELECT rule FROM alerts WHERE station_id = 'S1' ORDER BY started_at")
    (warning,) = [w.value for w in app.warning if w.value.startswith("Alerts fired in")]
    assert warning.count(" from 2026-11-24 ") == len(fired) >= 2
    assert all(f"{rule} from" in warning for (rule,) in fired)
    # Its kept frames of the last 24 hours (no image left in the store: each says so).
    assert any(c.value.startswith("12 kept frames of S1, the least sharp") for c in app.caption)


def test_alerts_lists_every_alert_and_each_notification(fortnight, monkeypatch) -> None:
    url, engine = fortnight
    app = page(monkeypatch, url, "views/alerts.py")  # the last 30 days by default
    ((total, firing, notices),) = sql(
        engine,
        "SELECT count(*), count(*) FILTER (WHERE status = 'firing'), "
        "(SELECT count(*) FROM notifications) FROM alerts",
    )
    assert f"History ({total})" in [s.value for s in app.subheader]
    history = app.dataframe[0].value
    assert len(history) == total and (history["state"] == "firing").sum() == firing
    assert len(app.expander) == total
    listed = sum(len(d.value) for d in app.dataframe[1:] if "delivery" in d.value.columns)
    assert listed == notices > total  # fired and resolved, each on the webhook


def test_review_queues_the_newest_kept_frames_and_scores_the_labels(fortnight, monkeypatch) -> None:
    url, engine = fortnight
    app = page(monkeypatch, url, "views/review.py")
    newest = sql(
        engine,
        "SELECT p.station_id, p.predicted_class FROM predictions p LEFT JOIN reviews r "
        "ON r.prediction_id = p.id WHERE p.image_ref IS NOT NULL AND r.id IS NULL "
        "ORDER BY p.captured_at DESC, p.id LIMIT 50",
    )
    assert "**The newest 50 frames awaiting a label**" in app.markdown[0].value
    queue = app.dataframe[0].value
    assert list(zip(queue["station"], queue["predicted"], strict=True)) == [
        tuple(row) for row in newest
    ]
    counts = {
        (p, t): n
        for p, t, n in sql(
            engine,
            "SELECT p.predicted_class, r.true_class, count(*) FROM reviews r "
            "JOIN predictions p ON p.id = r.prediction_id GROUP BY 1, 2",
        )
    }
    assert sum(counts.values()) == DAYS * 24 * len(STATIONS)
    matrix = table(app, "undamaged")  # predicted (rows) by label (columns)
    for predicted in CLASSES:
        for label in CLASSES:
            assert matrix.loc[predicted, label] == counts.get((predicted, label), 0)
    agreement = sql(
        engine,
        "SELECT coalesce(a.rule, 'healthy'), count(*), count(*) FILTER "
        "(WHERE p.predicted_class = r.true_class) FROM reviews r "
        "JOIN predictions p ON p.id = r.prediction_id LEFT JOIN alerts a "
        "ON a.station_id = p.station_id AND a.rule IN ('lens_drift', 'lighting_drift') "
        "AND p.captured_at >= a.started_at "
        "AND (a.resolved_at IS NULL OR p.captured_at < a.resolved_at) GROUP BY 1",
    )
    expected = {rule: f"{agreed / n:.1%} (n={n})" for rule, n, agreed in agreement}
    shown = table(app, "camera").set_index("camera")["agreement"]
    assert shown["camera healthy"] == expected["healthy"]
    assert shown["lens drift"] == expected["lens_drift"]
    assert shown["lighting drift"] == expected["lighting_drift"]


def test_value_sums_the_fortnight_and_each_camera_fault(fortnight, monkeypatch) -> None:
    url, engine = fortnight
    app = page(monkeypatch, url, "views/value.py", value_range=RANGE)
    ((total, critical, queued),) = sql(
        engine,
        "SELECT sum(n_total), sum(n_critical), sum(n_minor + n_critical) FROM hourly_rollups "
        "WHERE station_id IS NULL AND model_version IS NULL AND hour >= :s AND hour < :u",
        s=START,
        u=END,
    )
    ((labels,),) = sql(
        engine,
        "SELECT count(*) FROM reviews WHERE reviewed_at >= :s AND reviewed_at < :u",
        s=START,
        u=END,
    )
    assert total == DAYS * 24 * len(STATIONS) * PER_HOUR
    assert labels == DAYS * 24 * len(STATIONS) - 2 * len(STATIONS)  # the last 2 h: the 25th
    assert {m.label: m.value for m in app.metric} == {
        "Critical parcels diverted": f"{critical:,}",
        "Frames queued for review": f"{queued:,}",
        "Labels done": f"{labels:,}",
        "Parcels judged": f"{total:,}",
    }
    per_day = table(app, "day")
    assert len(per_day) == DAYS and set(per_day["parcels"]) == {24 * len(STATIONS) * PER_HOUR}
    faults = table(app, "station").set_index("station")
    episodes = sql(
        engine,
        "SELECT station_id, started_at, coalesce(resolved_at, :u) FROM alerts "
        "WHERE rule IN ('lens_drift', 'lighting_drift') ORDER BY station_id",
        u=END,
    )
    assert [station for station, *_ in episodes] == ["S1", "S2"]
    for station, started, ended in episodes:
        hours, n, critical = station_hours(engine, since=started, until=ended)[station]
        row = faults.loc[station]
        assert row["hours with a fault"] == round((ended - started) / H, 1)
        assert row["hours running with it"] == hours
        assert row["parcels judged by a faulty camera"] == n
        assert row["of them called critical"] == critical
