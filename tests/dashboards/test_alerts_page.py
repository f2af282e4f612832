"""The Alerts page against a real database: the history and its filters, each alert's
deliveries per channel in words, and silences added and ended with who did it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from conftest import open_page, point_app_at
from hourly_support import DAY2
from sqlalchemy import text

from monitor.core.queries.notifications import mark_delivered, mark_failed, schedule_retry

ALERTS = "views/alerts.py"


def alerts_page(monkeypatch, url):
    point_app_at(monkeypatch, url)
    app = open_page(ALERTS)
    app.date_input(key="range").set_value((date(2026, 11, 23), date(2026, 11, 25))).run()
    assert not app.exception
    return app


def subheaders(app) -> list[str]:
    return [element.value for element in app.subheader]


def test_history_lists_every_alert_and_the_filters_narrow_it(seeded, monkeypatch) -> None:
    url, engine = seeded
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM alerts")).scalar_one()
        on_s1 = conn.execute(
            text("SELECT count(*) FROM alerts WHERE station_id = 'S1'")
        ).scalar_one()
    app = alerts_page(monkeypatch, url)
    assert f"History ({total})" in subheaders(app)
    assert len(app.dataframe[0].value) == total
    app.multiselect(key="stations").set_value(["S1"]).run()
    shown = app.dataframe[0].value
    assert len(shown) == on_s1 and set(shown["station"]) == {"S1"}
    app.multiselect(key="rules").set_value(["critical_rate"]).run()
    assert list(app.dataframe[0].value["rule"]) == ["critical_rate"]
    app.multiselect(key="severities").set_value(["info"]).run()
    assert "History (0)" in subheaders(app)


def test_each_notification_shows_its_delivery_state(seeded, monkeypatch) -> None:
    url, engine = seeded
    retry_at = datetime(2026, 11, 24, 5, 30, tzinfo=UTC)
    with engine.begin() as conn:
        ids = list(
            conn.execute(
                text(
                    "SELECT n.id FROM notifications n JOIN alerts a ON a.id = n.alert_id "
                    "WHERE a.fingerprint = 'critical_rate:S1' ORDER BY n.id"
                )
            ).scalars()
        )
        mark_delivered(conn, ids[0], 1, DAY2 + timedelta(minutes=6))
        others = conn.execute(
            text("SELECT id FROM notifications WHERE id <> :id ORDER BY id LIMIT 2"),
            {"id": ids[0]},
        ).scalars()
        retrying, failed = list(others)
        schedule_retry(conn, retrying, 3, "http 503", retry_at)
        mark_failed(conn, failed, 12, "http 401: auth error")
    app = alerts_page(monkeypatch, url)
    states = {state for frame in app.dataframe[1:] for state in frame.value.get("delivery", [])}
    assert "delivered 2026-11-24 00:06 UTC" in states
    assert (
        "retrying after 3 attempts, next attempt 2026-11-24 05:30 UTC (last error: http 503)"
        in (states)
    )
    assert "failed after 12 attempts: http 401: auth error" in states


def test_a_silence_is_added_and_ended_with_who_did_it(seeded, monkeypatch) -> None:
    url, engine = seeded
    app = alerts_page(monkeypatch, url)
    app.text_input(key="who").input("ana")
    app.text_input(key="silence_rule").input("critical_rate")
    app.text_input(key="silence_station").input("S1")
    app.number_input(key="silence_hours").set_value(3.0)
    app.text_input(key="silence_comment").input("lens cleaning")
    before = datetime.now(UTC)
    app.button(key="silence_add").click().run()
    assert not app.exception
    with engine.connect() as conn:
        silence = conn.execute(text("SELECT * FROM silences WHERE comment = 'lens cleaning'")).one()
    assert (silence.rule, silence.station_id, silence.created_by) == ("critical_rate", "S1", "ana")
    assert timedelta(hours=3) == silence.ends_at - silence.starts_at
    assert before <= silence.starts_at <= datetime.now(UTC)
    assert any(f"Silence #{silence.id} added" in s.value for s in app.success)

    app.button(key=f"end-{silence.id}").click().run()
    with engine.connect() as conn:
        ended = conn.execute(
            text("SELECT ends_at, comment FROM silences WHERE id = :id"), {"id": silence.id}
        ).one()
    assert ended.ends_at <= datetime.now(UTC)
    assert ended.comment == "lens cleaning [ended by ana]"
    assert any(f"Silence #{silence.id} ended by ana" in s.value for s in app.success)


def test_a_silence_without_a_name_is_refused_and_nothing_is_written(seeded, monkeypatch) -> None:
    url, engine = seeded
    app = alerts_page(monkeypatch, url)
    app.text_input(key="silence_comment").input("no name given")
    app.button(key="silence_add").click().run()
    assert any("needs your name" in e.value for e in app.error)
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM silences WHERE comment = 'no name given'")
        ).scalar_one()
    assert found == 0


def test_linked_alerts_show_as_one_incident(seeded, monkeypatch) -> None:
    # S1's dirty lens drove its critical share up: the class-mix alert of the same hours is
    # the same incident, held back, and both pages say so.
    url, _ = seeded
    app = alerts_page(monkeypatch, url)
    texts = [m.value for m in app.markdown]
    assert "Held back: same incident as critical_rate:S1" in texts
    assert any(t.startswith("Linked (held back for this one): class_drift:S1") for t in texts)


def test_an_alert_resolved_without_an_ok_hour_says_why(db_url, engine, settings, monkeypatch):
    """A retired station's alert resolves with its reason, and the page shows it."""
    from daygen import Fault, traffic
    from hourly_support import DAY1, set_baselines, write

    from monitor.core.queries import stations
    from monitor.hourly import run_range

    write(db_url, settings, traffic(["S1"], DAY1, 24, 200, seed=3))
    set_baselines(engine, settings, ["S1"])
    spike = {("S1", h): Fault(critical_share=0.3) for h in range(2)}
    write(db_url, settings, traffic(["S1"], DAY2, 2, 200, seed=4, faults=spike))
    with engine.begin() as conn:
        stations.retire(conn, "S1", DAY2 + timedelta(hours=2), "ana", "moved to dock 9")
    run_range(engine, settings, DAY2, DAY2 + timedelta(hours=3))
    app = alerts_page(monkeypatch, db_url)
    shown = [element.value for element in app.markdown]
    assert "**Resolved** 2026-11-24 02:00 UTC: station S1 retired 2026-11-24 02:00Z" in shown
