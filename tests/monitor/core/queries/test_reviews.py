"""The labels of kept frames (monitor/core/queries/reviews.py) on a real database: the
queue of frames awaiting a label, one label per frame (the latest wins, with its who and
when), confusion counts over all frames, per day in the site's zone and per station,
agreement split by the camera alerts firing at capture, and labels per day."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hourly_support import write
from sqlalchemy import text
from tests_support import record

from monitor.core.queries import reviews

T = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
UNTIL = T + timedelta(hours=1)  # the queue's end: the frames' hour


def frame(n: int, station: str, cls: str, at: datetime, *, kept: bool = True):
    """A prediction with id n, kept in the image store (image_ref) unless told otherwise."""
    return record(
        0,
        id=uuid.UUID(int=n),
        station_id=station,
        predicted_class=cls,
        captured_at=at,
        action={"critical": "divert", "minor": "review"}.get(cls, "none"),
        image_ref=f"ab/cd/{n:064x}.jpg" if kept else None,
    )


def give(conn, n: int, at: datetime, true_class: str, who: str = "Ana", when=T) -> bool:
    return reviews.label(
        conn, prediction_id=uuid.UUID(int=n), captured_at=at, true_class=true_class,
        reviewer=who, at=when,
    )  # fmt: skip


def ids(rows) -> list[int]:
    return [row["id"].int for row in rows]


@pytest.fixture
def queue(db_url, engine, settings):
    """Kept frames 1-4 (1 labelled), 5 not kept, 6 and 9 kept days earlier, 10 captured at
    the queue's end."""
    write(
        db_url,
        settings,
        [
            frame(1, "S0", "minor", T),
            frame(2, "S1", "critical", T + timedelta(minutes=1)),
            frame(3, "S0", "critical", T + timedelta(minutes=2)),
            frame(4, "S1", "undamaged", T + timedelta(minutes=3)),  # an evidence frame
            frame(5, "S0", "minor", T + timedelta(minutes=4), kept=False),
            frame(6, "S0", "minor", T - timedelta(days=2)),
            frame(9, "S1", "critical", T - timedelta(days=10)),
            frame(10, "S1", "critical", UNTIL),
        ],
    )
    with engine.begin() as conn:
        assert give(conn, 1, T, "critical")
    return engine


def test_the_queue_is_the_unlabelled_kept_frames_newest_first(queue) -> None:
    since = T - timedelta(days=1)
    with queue.connect() as conn:
        waiting = reviews.kept_frames(conn, since=since, until=UNTIL, limit=50)
        assert ids(waiting) == [4, 3, 2]
        assert waiting[0]["image_ref"] == f"ab/cd/{4:064x}.jpg"
        assert waiting[0]["true_class"] is None
        assert ids(
            reviews.kept_frames(conn, since=since, until=UNTIL, stations=["S1"], limit=50)
        ) == [4, 2]
        assert ids(
            reviews.kept_frames(conn, since=since, until=UNTIL, classes=["critical"], limit=50)
        ) == [
            3,
            2,
        ]
        assert ids(reviews.kept_frames(conn, since=since, until=UNTIL, limit=2)) == [4, 3]
        everything = reviews.kept_frames(conn, since=since, until=UNTIL, labelled=True, limit=50)
        assert ids(everything) == [4, 3, 2, 1]
        assert (everything[-1]["true_class"], everything[-1]["reviewer"]) == ("critical", "Ana")
        # Further back than the first reaches (a day, a week) when the newest are too few.
        month = T - timedelta(days=30)
        assert ids(reviews.kept_frames(conn, since=month, until=UNTIL, limit=50)) == [4, 3, 2, 6, 9]
        assert ids(reviews.kept_frames(conn, since=month, until=UNTIL, limit=4)) == [4, 3, 2, 6]


def test_a_second_label_replaces_the_first_with_its_own_who_and_when(queue) -> None:
    later = T + timedelta(hours=2)
    with queue.begin() as conn:
        assert give(conn, 2, T + timedelta(minutes=1), "minor", who="Ben", when=later)
        conn.execute(text("UPDATE reviews SET comment = 'dent' WHERE reviewer = 'Ben'"))
        assert reviews.label(
            conn,
            prediction_id=uuid.UUID(int=2),
            captured_at=T + timedelta(minutes=1),
            true_class="critical",
            reviewer="Cleo",
            at=later + timedelta(minutes=5),
            comment="torn on the far side",
        )
        rows = conn.execute(
            text(
                "SELECT true_class, reviewer, reviewed_at, comment FROM reviews "
                "WHERE prediction_id = :id"
            ),
            {"id": uuid.UUID(int=2)},
        ).all()
    assert [tuple(row) for row in rows] == [
        ("critical", "Cleo", later + timedelta(minutes=5), "torn on the far side")
    ]


def test_a_frame_no_longer_stored_cannot_be_labelled(queue) -> None:
    with queue.begin() as conn:
        assert not give(conn, 99, T, "minor")
        assert not give(conn, 2, T, "minor")  # the right id at the wrong time: not that frame
        assert conn.execute(text("SELECT count(*) FROM reviews")).scalar_one() == 1


def test_confusion_counts_all_frames_per_day_in_the_zone_and_per_station(
    db_url, engine, settings
) -> None:
    late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 00:30 on the 25th in Berlin
    labelled = [  # (id, station, predicted, captured, true)
        (1, "S0", "critical", T, "critical"),
        (2, "S0", "critical", T, "minor"),
        (3, "S1", "minor", T, "minor"),
        (4, "S1", "critical", late, "critical"),
        (5, "S1", "undamaged", late, "critical"),
    ]
    write(db_url, settings, [frame(n, s, p, at) for n, s, p, at, _ in labelled])
    with engine.begin() as conn:
        for n, _, _, at, true in labelled:
            give(conn, n, at, true)
        rows = reviews.confusion(conn, since=T, until=T + timedelta(days=1), zone="Europe/Berlin")
        outside = reviews.confusion(
            conn, since=T + timedelta(days=1), until=T + timedelta(days=2), zone="UTC"
        )
    assert outside == []
    cells = {(r["per"], r["day"] or r["station_id"], r["predicted_class"], r["true_class"]): r["n"]
             for r in rows}  # fmt: skip
    assert cells == {
        ("all", None, "critical", "critical"): 2,
        ("all", None, "critical", "minor"): 1,
        ("all", None, "minor", "minor"): 1,
        ("all", None, "undamaged", "critical"): 1,
        ("day", date(2026, 11, 24), "critical", "critical"): 1,
        ("day", date(2026, 11, 24), "critical", "minor"): 1,
        ("day", date(2026, 11, 24), "minor", "minor"): 1,
        ("day", date(2026, 11, 25), "critical", "critical"): 1,
        ("day", date(2026, 11, 25), "undamaged", "critical"): 1,
        ("station", "S0", "critical", "critical"): 1,
        ("station", "S0", "critical", "minor"): 1,
        ("station", "S1", "minor", "minor"): 1,
        ("station", "S1", "critical", "critical"): 1,
        ("station", "S1", "undamaged", "critical"): 1,
    }


def add_alert(conn, rule: str, station: str, started: datetime, resolved: datetime | None):
    conn.execute(
        text(
            "INSERT INTO alerts (fingerprint, rule, station_id, severity, status, started_at, "
            "resolved_at, summary) VALUES (:fp, :rule, :station, 'warning', :status, "
            ":started, :resolved, 's')"
        ),
        {
            "fp": f"{rule}:{station}:{started:%H}",
            "rule": rule,
            "station": station,
            "status": "firing" if resolved is None else "resolved",
            "started": started,
            "resolved": resolved,
        },
    )


def test_agreement_splits_frames_by_the_camera_alerts_firing_at_their_capture(
    db_url, engine, settings
) -> None:
    h = timedelta(hours=1)
    labelled = [  # (id, station, captured, predicted, true)
        (1, "S1", T - timedelta(minutes=1), "minor", "minor"),  # before the lens alert
        (2, "S1", T, "critical", "minor"),  # lens from its first instant
        (3, "S1", T + h, "critical", "critical"),  # lens and lighting
        (4, "S1", T + 2 * h, "critical", "undamaged"),  # lighting resolved at T + 2h: lens only
        (5, "S0", T + h, "minor", "minor"),  # another station's alerts do not count
        (6, "S0", T + h, "critical", "critical"),  # a latency alert is not a camera fault
    ]
    write(db_url, settings, [frame(n, s, p, at) for n, s, at, p, _ in labelled])
    with engine.begin() as conn:
        for n, _, at, _, true in labelled:
            give(conn, n, at, true)
        add_alert(conn, "lens_drift", "S1", T, None)  # still firing
        add_alert(conn, "lighting_drift", "S1", T + h, T + 2 * h)
        add_alert(conn, "latency", "S0", T, None)
        rows = reviews.agreement_by_camera_fault(conn, since=T - h, until=T + 3 * h)
    assert rows == [
        {"faults": (), "n": 3, "agreed": 3},
        {"faults": ("lens_drift",), "n": 2, "agreed": 0},
        {"faults": ("lens_drift", "lighting_drift"), "n": 1, "agreed": 1},
    ]


def test_labels_per_day_count_the_day_of_the_latest_label_in_the_zone(
    db_url, engine, settings
) -> None:
    write(db_url, settings, [frame(n, "S0", "minor", T) for n in (1, 2, 3)])
    evening = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # 01:30 on the 25th in Kolkata
    with engine.begin() as conn:
        give(conn, 1, T, "minor", when=T)
        give(conn, 2, T, "minor", when=T)
        give(conn, 2, T, "critical", when=evening)  # relabelled: counts once, on its new day
        give(conn, 3, T, "minor", when=evening)
        days = reviews.labels_per_day(
            conn, since=T - timedelta(days=1), until=T + timedelta(days=2), zone="Asia/Kolkata"
        )
    assert days == {date(2026, 11, 24): 1, date(2026, 11, 25): 2}


def test_the_camera_rules_are_the_monitors_causes() -> None:
    from monitor.rules import CAUSES

    assert set(reviews.CAMERA_RULES) == set(CAUSES)
