"""The Station page against the seeded database plus station S7's last three hours
(rolled up, with a reference set by Ana): the picker and `?station=`, the last days'
charts, the reference profile and its calibrated limits, setting a new reference (with a
name and a confirmation, or refused), the model versions, the evidence frames' section,
the empty state and the one line for an unreachable database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import pytest
from conftest import open_page, point_app_at
from daygen import Fault, traffic
from hourly_support import DAY2, write
from sqlalchemy import text
from test_trends_page import charts, of, profile

from dashboards.context import EMPTY, UNREACHABLE
from dashboards.station import CONFIRM
from monitor.calibration import limit_rows, yardsticks
from monitor.core.queries import rollups
from monitor.reference import build_reference

STATION = "views/station.py"
H = timedelta(hours=1)
SIGMAS = 4.5  # drift_control_sigmas' default


@pytest.fixture(scope="module")
def station_db(seeded, module_settings):
    """The seeded database and S7's last three closed hours (100 predictions each, the
    middle one with a third called critical), rolled up, its reference set by Ana."""
    url, engine = seeded
    opened = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = opened - 3 * H
    write(url, module_settings, traffic(["S7"], first, 3, 100, seed=7, faults={
        ("S7", 1): Fault(critical_share=0.33)
    }))  # fmt: skip
    with engine.begin() as conn:
        for k in range(3):
            rollups.write_hour(conn, first + k * H)
        build_reference(
            conn, "S7", first, opened, sample_size=module_settings.reference_sample_size,
            set_by="Ana",
        )  # fmt: skip
    return url, engine, first


def station_page(monkeypatch, url, station: str | None = None, **settings):
    point_app_at(monkeypatch, url, **settings)
    app = open_page()
    if station is not None:
        app.query_params["station"] = station
    app.switch_page(STATION).run()
    assert not app.exception
    return app


def pick_window(app, since: datetime, until: datetime):
    app.date_input(key="ref_from_day").set_value(since.date())
    app.time_input(key="ref_from_time").set_value(since.time())
    app.date_input(key="ref_to_day").set_value(until.date())
    app.time_input(key="ref_to_time").set_value(until.time())
    return app.run()


def markdown(app) -> list[str]:
    return [element.value for element in app.markdown]


def stored(engine, station: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT window_start, window_end, provisional, n_predictions, set_by, "
                "created_at FROM reference_profiles WHERE station_id = :s"
            ),
            {"s": station},
        )
        found = row.mappings().one_or_none()
    return dict(found) if found else None


def test_the_last_days_are_drawn_as_the_rollups_hold_them(station_db, monkeypatch):
    url, engine, first = station_db
    app = station_page(monkeypatch, url, "S7")
    assert app.selectbox(key="station").value == "S7"
    share, sharpness, brightness = charts(app)
    with engine.connect() as conn:
        hours = conn.execute(
            text(
                "SELECT hour, n_total, n_critical, sharpness_p50, brightness_p50 "
                "FROM hourly_rollups WHERE station_id = 'S7' AND model_version IS NULL "
                "ORDER BY hour"
            )
        ).all()
    assert [h.hour for h in hours] == [first, first + H, first + 2 * H]
    drawn = of(share, "value", "S7")
    assert list(drawn["time"]) == [pd.Timestamp(h.hour.replace(tzinfo=None)) for h in hours]
    assert drawn["value"].tolist() == pytest.approx([h.n_critical / h.n_total for h in hours])
    assert drawn["predictions"].tolist() == [100, 100, 100]
    reference = profile(engine, "S7")
    levels = of(share, "level", "S7").set_index("series")["value"]
    assert levels["baseline"] == pytest.approx(reference["baseline_critical_rate"])
    assert of(sharpness, "value", "S7")["value"].tolist() == pytest.approx(
        [h.sharpness_p50 for h in hours]
    )
    assert of(brightness, "value", "S7")["value"].tolist() == pytest.approx(
        [h.brightness_p50 for h in hours]
    )
    spread = reference["hourly_spread"]["sharpness"]
    (band,) = of(sharpness, "band", "S7").itertuples()
    assert (band.value, band.top) == pytest.approx(
        (spread["mean"] - SIGMAS * spread["sd"], spread["mean"] + SIGMAS * spread["sd"])
    )


def test_the_reference_profile_shows_its_window_who_set_it_and_its_limits(station_db, monkeypatch):
    url, engine, first = station_db
    app = station_page(monkeypatch, url, "S7", site_timezone="Asia/Kolkata")
    reference = profile(engine, "S7")
    zone_time = (first + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M")
    lines = next(t for t in markdown(app) if t.startswith("Window"))
    assert f"Window **{zone_time} IST**" in lines
    assert f"**{reference['n_predictions']:,}** predictions" in lines
    assert reference["n_predictions"] == 300
    assert "set by **Ana** on " in lines
    assert f"Baseline critical rate **{reference['baseline_critical_rate']:.1%}**" in lines
    limits = next(d.value for d in app.dataframe if d.value.columns[0] == "statistic")
    expected = pd.DataFrame(limit_rows(yardsticks(reference["hourly_spread"])))
    assert not expected.empty
    pd.testing.assert_frame_equal(limits.reset_index(drop=True), expected)
    assert set(limits["hours"]) == {"3"}


def test_a_reference_set_without_a_name_says_so(station_db, monkeypatch):
    url, *_ = station_db
    app = station_page(monkeypatch, url, "S1")
    lines = next(t for t in markdown(app) if t.startswith("Window"))
    assert "set (by whom was not recorded)" in lines


def test_a_station_silent_in_the_last_days_names_the_newest_hour(station_db, monkeypatch):
    url, engine, _ = station_db
    app = station_page(monkeypatch, url, "S1")  # its traffic: the seeded days, long past
    with engine.connect() as conn:
        newest = conn.execute(
            text("SELECT max(hour) FROM hourly_rollups WHERE station_id = 'S1'")
        ).scalar_one()
    assert newest < datetime.now(UTC) - timedelta(days=7)  # S7's hours are recent
    assert (
        "No traffic of S1 in this range (the newest hour with traffic: "
        f"{newest:%Y-%m-%d %H:%M} UTC): pick other days or stations."
    ) in [info.value for info in app.info]


def test_the_model_versions_are_those_the_rollups_saw(station_db, monkeypatch):
    url, engine, _ = station_db
    app = station_page(monkeypatch, url, "S1")
    table = next(d.value for d in app.dataframe if d.value.columns[0] == "model version")
    with engine.connect() as conn:
        seen = conn.execute(
            text(
                "SELECT model_version, min(hour), max(hour), sum(n_total) FROM hourly_rollups "
                "WHERE station_id = 'S1' AND model_version IS NOT NULL GROUP BY 1"
            )
        ).all()
    assert [tuple(row) for row in table.itertuples(index=False)] == [
        (v, f"{lo:%Y-%m-%d %H:%M} UTC", f"{hi:%Y-%m-%d %H:%M} UTC", n) for v, lo, hi, n in seen
    ]
    assert seen[0][3] == 800  # DAY2's four hours of 200


def test_the_address_picks_the_station_and_the_picker_writes_it_back(station_db, monkeypatch):
    url, *_ = station_db
    app = station_page(monkeypatch, url, "S2")
    assert app.selectbox(key="station").value == "S2"
    app.selectbox(key="station").set_value("S0").run()
    assert app.query_params["station"] == "S0"
    assert app.header[0].value == "S0: last 7 days"

    app = station_page(monkeypatch, url, "S9")
    assert "No station 'S9'" in app.warning[0].value
    assert app.selectbox(key="station").value == "S0"  # the first


def test_setting_a_reference_records_who_and_the_window(station_db, monkeypatch):
    url, engine, _ = station_db
    app = station_page(monkeypatch, url, "S2")
    app = pick_window(app, DAY2, DAY2 + 4 * H)
    with engine.connect() as conn:
        n, critical = conn.execute(
            text(
                "SELECT sum(n_total), sum(n_critical) FROM hourly_rollups WHERE station_id = "
                "'S2' AND model_version IS NULL AND hour >= :a AND hour < :b"
            ),
            {"a": DAY2, "b": DAY2 + 4 * H},
        ).one()
    assert (
        f"This window holds **4** hours with traffic and **{n:,}** predictions of S2 "
        f"({critical / n:.1%} critical)."
    ) in markdown(app)
    assert not app.warning  # no alert of S2 fired in it
    app.text_input(key="ref_by").set_value("Ana")
    app.checkbox(key="ref_confirm").check()
    app.button(key="ref_set").click().run()
    assert not app.exception and not app.error
    row = stored(engine, "S2")
    assert (row["window_start"], row["window_end"]) == (DAY2, DAY2 + 4 * H)
    assert (row["set_by"], row["provisional"], row["n_predictions"]) == ("Ana", False, n)
    assert app.success[0].value.startswith(
        "Reference of S2 set by Ana from 2026-11-24 00:00 UTC to 2026-11-24 04:00 UTC: "
        f"{n:,} predictions."
    )
    lines = next(t for t in markdown(app) if t.startswith("Window"))
    assert "Window **2026-11-24 00:00 UTC** to **2026-11-24 04:00 UTC**" in lines
    assert "set by **Ana**" in lines


@pytest.mark.parametrize(
    ("name", "confirm", "refusal"),
    [
        ("", True, "Enter your name: a reference records who set it."),
        ("  ", True, "Enter your name: a reference records who set it."),
        ("Ana", False, f"Tick “{CONFIRM}” first."),
    ],
)
def test_a_reference_is_refused_without_a_name_or_a_confirmation(
    station_db, monkeypatch, name, confirm, refusal
):
    url, engine, _ = station_db
    before = stored(engine, "S0")
    app = pick_window(station_page(monkeypatch, url, "S0"), DAY2, DAY2 + 4 * H)
    app.text_input(key="ref_by").set_value(name)
    if confirm:
        app.checkbox(key="ref_confirm").check()
    app.button(key="ref_set").click().run()
    assert [e.value for e in app.error] == [refusal]
    assert stored(engine, "S0") == before


def test_alerts_that_fired_in_the_window_are_a_warning(station_db, monkeypatch):
    url, engine, _ = station_db
    app = pick_window(station_page(monkeypatch, url, "S1"), DAY2, DAY2 + 4 * H)
    with engine.connect() as conn:
        rules = conn.execute(
            text("SELECT rule FROM alerts WHERE station_id = 'S1' ORDER BY started_at, id")
        ).scalars()
        listed = "; ".join(f"{rule} from 2026-11-24 00:00 UTC to now" for rule in rules)
    assert [w.value for w in app.warning] == [
        f"Alerts fired in this window: {listed}. Is it really healthy?"
    ]


def test_a_window_without_predictions_is_refused_with_a_message(station_db, monkeypatch):
    url, engine, _ = station_db
    before = stored(engine, "S0")
    since = datetime.combine(date(2026, 11, 20), time(), tzinfo=UTC)
    app = pick_window(station_page(monkeypatch, url, "S0"), since, since + 4 * H)
    assert app.warning[0].value.startswith("No rolled-up hour of S0 in this window")
    app.text_input(key="ref_by").set_value("Ana")
    app.checkbox(key="ref_confirm").check()
    app.button(key="ref_set").click().run()
    assert not app.exception
    assert [e.value for e in app.error] == [
        "No predictions of S0 in this window: pick hours with traffic."
    ]
    assert stored(engine, "S0") == before

    app = pick_window(app, since + 4 * H, since)
    assert [e.value for e in app.error] == ["The window must end after it starts."]


def test_the_evidence_frames_of_the_last_day_have_their_section(station_db, monkeypatch):
    url, *_ = station_db
    app = station_page(monkeypatch, url, "S7")
    assert "Evidence frames, last 24 h" in [h.value for h in app.header]
    # S7's records keep no image: the section says how frames come to be kept.
    assert any(i.value.startswith("No frames of S7 kept between") for i in app.info)


def test_an_empty_database_says_how_to_get_data(db_url, monkeypatch):
    app = station_page(monkeypatch, db_url)
    assert [info.value for info in app.info] == [EMPTY]


def test_an_unreachable_database_shows_one_line(monkeypatch):
    point_app_at(monkeypatch, "postgresql://beltwatch:hunter2@127.0.0.1:1/beltwatch")
    app = open_page(STATION)
    assert not app.exception
    (error,) = app.error
    assert error.value.startswith(UNREACHABLE) and "hunter2" not in error.value
