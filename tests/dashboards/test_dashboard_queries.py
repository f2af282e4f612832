"""The reads and the one write the dashboard adds to monitor.core.queries, on a real
database: the alert history's filters (the site's own alerts included), deliveries by
alert, and ending a silence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from monitor.core.queries import alerts, notifications, rollups, silences

T0 = datetime(2026, 11, 24, tzinfo=UTC)


def add_alert(conn, rule, station, severity, started, status="firing") -> int:
    return conn.execute(
        text(
            "INSERT INTO alerts (fingerprint, rule, station_id, severity, status, started_at, "
            "summary) VALUES (:fp, :rule, :station, :severity, :status, :started, 's') "
            "RETURNING id"
        ),
        {
            "fp": f"{rule}:{station or 'site'}:{started:%H}",
            "rule": rule,
            "station": station,
            "severity": severity,
            "status": status,
            "started": started,
        },
    ).scalar_one()


def test_history_filters_and_the_site_label(engine) -> None:
    with engine.begin() as conn:
        a = add_alert(conn, "critical_rate", "S1", "critical", T0)
        b = add_alert(conn, "critical_rate", None, "critical", T0 + timedelta(hours=1))
        c = add_alert(conn, "latency", "S2", "warning", T0 + timedelta(hours=2), "resolved")
        old = add_alert(conn, "latency", "S2", "warning", T0 - timedelta(days=3))
        day = {"since": T0, "until": T0 + timedelta(days=1)}
        ids = lambda **f: [r["id"] for r in alerts.alert_history(conn, **day, **f)]  # noqa: E731
        assert ids() == [c, b, a]  # newest first, the old one outside the range
        assert ids(stations=[alerts.SITE_LABEL]) == [b]
        assert ids(stations=[alerts.SITE_LABEL, "S1"]) == [b, a]
        assert ids(rules=["latency"], statuses=["resolved"]) == [c]
        assert ids(severities=["info"]) == []
        assert ids(limit=1) == [c]
        assert alerts.alert_rules_and_stations(conn) == (
            ["critical_rate", "latency"],
            [alerts.SITE_LABEL, "S1", "S2"],
        )
        # The most severe first, then the oldest: the older warning comes after both.
        assert [r["id"] for r in alerts.firing_alerts(conn)] == [a, b, old]


def test_deliveries_are_read_per_alert(engine) -> None:
    with engine.begin() as conn:
        a = add_alert(conn, "critical_rate", "S1", "critical", T0)
        b = add_alert(conn, "latency", "S2", "warning", T0)
        notifications.queue_notification(conn, a, "slack", "trigger", T0, {})
        notifications.queue_notification(conn, b, "webhook", "trigger", T0, {})
        rows = notifications.deliveries_of(conn, [a])
        assert [(r["alert_id"], r["channel"], r["status"]) for r in rows] == [
            (a, "slack", "pending")
        ]
        assert notifications.deliveries_of(conn, []) == []


def test_ending_a_silence_in_force_ends_it_now_and_says_who(engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        sid = silences.add_silence(
            conn,
            rule=None,
            station_id="S1",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=2),
            created_by="ana",
            comment="lens swap",
        )
        assert silences.end_silence(conn, sid, at=now, ended_by="ben")
        row = conn.execute(text("SELECT * FROM silences WHERE id = :id"), {"id": sid}).one()
        assert (row.ends_at, row.comment) == (now, "lens swap [ended by ben]")
        assert silences.silences_not_over(conn, now) == []
        assert not silences.end_silence(conn, sid, at=now, ended_by="ben")  # already over


def test_ending_a_silence_still_to_come_deletes_it(engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        sid = silences.add_silence(
            conn,
            rule="latency",
            station_id=None,
            starts_at=now + timedelta(hours=1),
            ends_at=now + timedelta(hours=2),
            created_by="ana",
            comment="night shift",
        )
        assert silences.end_silence(conn, sid, at=now, ended_by="ben")
        assert conn.execute(text("SELECT count(*) FROM silences")).scalar_one() == 0


def test_the_latest_hour_and_the_sites_hours(engine) -> None:
    with engine.begin() as conn:
        assert rollups.latest_hour(conn) is None
        for h, (station, n, critical) in enumerate([(None, 100, 3), ("S1", 50, 1), (None, 80, 8)]):
            conn.execute(
                text(
                    "INSERT INTO hourly_rollups (hour, station_id, n_total, n_undamaged, "
                    "n_minor, n_critical) VALUES (:hour, :station, :n, 0, 0, :c)"
                ),
                {"hour": T0 + timedelta(hours=h), "station": station, "n": n, "c": critical},
            )
        assert rollups.latest_hour(conn) == T0 + timedelta(hours=2)
        assert rollups.latest_hour(conn, ["S1"]) == T0 + timedelta(hours=1)
        assert rollups.latest_hour(conn, ["S2"]) is None
        site = rollups.site_hours(conn, T0, T0 + timedelta(hours=3))
        assert [(r["hour"], r["n_total"], r["n_critical"]) for r in site] == [
            (T0, 100, 3),
            (T0 + timedelta(hours=2), 80, 8),
        ]
