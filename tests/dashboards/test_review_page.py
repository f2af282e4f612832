"""The Review & model quality page against a real database and a real image store: the
queue holds exactly the unlabelled kept frames, a frame shows large with its prediction
and statistics (an expired image or a path out of the store says so), a label records who
and when and takes the frame out of the queue, relabelling replaces the label, and the
precision, recall and agreement by camera health equal a hand count of the seeded labels."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import open_page, point_app_at
from hourly_support import DAY1, DAY2, write
from PIL import Image
from sqlalchemy import text
from tests_support import record

from dashboards.context import EMPTY, UNREACHABLE
from dashboards.review import CAVEAT
from monitor.core.queries import reviews, rollups
from monitor.core.vocabulary import CLASSES, STAT_FIELDS

REVIEW = "views/review.py"
NOW = datetime.now(UTC).replace(microsecond=0)


def kept(n: int, station: str, cls: str, minutes_ago: float, ref: str | None):
    """Prediction n, captured `minutes_ago`, its image at `ref` in the store (None: not kept)."""
    return record(
        n,
        id=uuid.UUID(int=n),
        station_id=station,
        predicted_class=cls,
        p_undamaged=0.1,
        p_minor=0.2,
        p_critical=0.7,
        captured_at=NOW - timedelta(minutes=minutes_ago),
        action={"critical": "divert", "minor": "review"}.get(cls, "none"),
        image_ref=ref,
    )


@pytest.fixture
def store(db_url, engine, settings, tmp_path, monkeypatch):
    """Kept frames 1-3 (images on disk), 4 kept but its image expired, 9 a damaged file,
    5 pointing out of the store, 6 labelled already, 7 not kept, 8 kept before the
    retention window."""
    root = tmp_path / "images"
    for n, colour in ((1, "red"), (2, "green"), (3, "blue"), (6, "grey")):
        path = root / f"{n:02d}" / f"frame{n}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (320, 240), colour).save(path)
    (tmp_path / "secret.png").write_bytes((root / "01" / "frame1.png").read_bytes())
    (root / "09").mkdir()
    (root / "09" / "frame9.png").write_bytes(b"\x89PNG cut short")
    frames = [
        kept(1, "S0", "minor", 10, "01/frame1.png"),
        kept(2, "S1", "critical", 20, "02/frame2.png"),
        kept(3, "S0", "undamaged", 30, "03/frame3.png"),  # an evidence frame
        kept(4, "S1", "minor", 40, "04/frame4.png"),
        kept(9, "S0", "minor", 45, "09/frame9.png"),
        kept(5, "S1", "critical", 50, "../secret.png"),
        kept(6, "S0", "critical", 60, "06/frame6.png"),
        kept(7, "S0", "minor", 70, None),
        kept(8, "S0", "minor", 60 * 24 * 31, "01/frame1.png"),
    ]
    write(db_url, settings, frames)
    by_id = {f.id.int: f for f in frames}
    with engine.begin() as conn:
        assert reviews.label(
            conn, prediction_id=by_id[6].id, captured_at=by_id[6].captured_at,
            true_class="minor", reviewer="Ana", at=NOW - timedelta(minutes=5),
        )  # fmt: skip
        # The monitor's rollups name the stations the filter offers.
        for hour in {f.captured_at.replace(minute=0, second=0) for f in frames}:
            rollups.write_hour(conn, hour)
    point_app_at(monkeypatch, db_url, image_store_dir=str(root))
    return by_id


def review_page():
    app = open_page(REVIEW)
    assert not app.exception
    return app


def queue(app) -> list[str]:
    """The frames the queue offers, as the frame picker words them."""
    return list(app.selectbox(key="queue_frame").options)


def option(frame) -> str:
    return f"{frame.captured_at:%Y-%m-%d %H:%M} UTC · {frame.station_id} · {frame.predicted_class}"


def label_of(engine, n: int):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT true_class, reviewer, reviewed_at, comment FROM reviews "
                "WHERE prediction_id = :id"
            ),
            {"id": uuid.UUID(int=n)},
        ).one_or_none()


def test_the_queue_lists_exactly_the_unlabelled_kept_frames(store) -> None:
    app = review_page()
    expected = [store[n] for n in (1, 2, 3, 4, 9, 5)]  # newest first
    assert queue(app) == [option(f) for f in expected]
    assert "**6 frames awaiting a label**" in app.markdown[0].value
    listed = app.dataframe[0].value
    assert list(listed["station"]) == [f.station_id for f in expected]
    assert list(listed["predicted"]) == [f.predicted_class for f in expected]
    app.multiselect(key="queue_stations").set_value(["S1"]).run()
    assert queue(app) == [option(store[n]) for n in (2, 4, 5)]
    app.multiselect(key="queue_classes").set_value(["critical"]).run()
    assert queue(app) == [option(store[n]) for n in (2, 5)]
    app.multiselect(key="queue_classes").set_value(["undamaged"]).run()  # S1 kept none
    assert [i.value for i in app.info] == ["No kept frame matches these filters."]


def test_a_frame_shows_large_with_its_prediction_and_statistics(store) -> None:
    app = review_page()
    (image,) = app.image  # the newest frame, shown first
    assert image.captions == [f"S0, {NOW - timedelta(minutes=10):%Y-%m-%d %H:%M} UTC"]
    texts = [m.value for m in app.markdown]
    assert any(t.startswith("### S0 · predicted minor\ncaptured ") for t in texts)
    probabilities = next(
        d.value for d in app.dataframe if list(d.value.columns) == ["class", "probability"]
    )
    assert list(probabilities["probability"]) == pytest.approx([0.1, 0.2, 0.7])
    statistics = next(d.value for d in app.dataframe if "statistic" in d.value.columns)
    frame = store[1]
    assert list(statistics["statistic"]) == list(STAT_FIELDS)
    assert list(statistics["value"]) == pytest.approx(
        [getattr(frame, name) for name in STAT_FIELDS], rel=1e-6
    )
    app.selectbox(key="queue_frame").set_value(str(store[4].id)).run()
    assert not app.image
    assert app.warning[0].value.startswith("image expired (retention)")
    app.selectbox(key="queue_frame").set_value(str(store[9].id)).run()
    assert not app.image
    assert app.warning[0].value.startswith("The stored image cannot be shown: ")
    app.selectbox(key="queue_frame").set_value(str(store[5].id)).run()
    assert not app.image  # ../secret.png exists, outside the store: never shown
    assert "outside the image store" in app.error[0].value


def test_a_label_records_who_and_when_and_the_frame_leaves_the_queue(store, engine) -> None:
    app = review_page()
    frame = store[2]
    app.selectbox(key="queue_frame").set_value(str(frame.id)).run()
    app.text_input(key="who").input("Ben").run()
    app.radio(key=f"true-{frame.id}").set_value("minor")
    app.text_input(key=f"comment-{frame.id}").input("scuffed, not torn")
    before = datetime.now(UTC)
    next(b for b in app.button if b.label == "Save label").click().run()
    after = datetime.now(UTC)
    assert not app.exception
    true_class, reviewer, reviewed_at, comment = label_of(engine, 2)
    assert (true_class, reviewer, comment) == ("minor", "Ben", "scuffed, not torn")
    assert before <= reviewed_at <= after
    assert queue(app) == [option(store[n]) for n in (1, 3, 4, 9, 5)]
    assert app.success[0].value.startswith("Labelled minor by Ben: S1, ")


def test_a_label_without_a_name_is_refused(store, engine) -> None:
    app = review_page()
    frame = store[1]
    app.radio(key=f"true-{frame.id}").set_value("critical")
    next(b for b in app.button if b.label == "Save label").click().run()
    assert app.error[0].value == "Enter your name first: a label records who gave it."
    assert label_of(engine, 1) is None
    assert option(frame) in queue(app)


def test_a_label_is_corrected_from_the_labelled_frames(store, engine) -> None:
    app = review_page()
    app.checkbox(key="queue_labelled").check().run()
    frame = store[6]
    assert option(frame) in queue(app)
    listed = app.dataframe[0].value
    assert listed["label"][queue(app).index(option(frame))].startswith("minor by Ana, ")
    app.selectbox(key="queue_frame").set_value(str(frame.id)).run()
    assert app.radio(key=f"true-{frame.id}").value == "minor"  # the current label first
    app.text_input(key="who").input("Cleo").run()
    app.radio(key=f"true-{frame.id}").set_value("critical")
    next(b for b in app.button if b.label == "Save label").click().run()
    true_class, reviewer, _, comment = label_of(engine, 6)
    assert (true_class, reviewer, comment) == ("critical", "Cleo", None)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM reviews")).scalar_one() == 1


def test_an_empty_database_says_how_to_get_data(db_url, monkeypatch) -> None:
    point_app_at(monkeypatch, db_url)
    app = review_page()
    assert [i.value for i in app.info] == [
        EMPTY,
        "No labelled frame was captured in this range: label frames above, and precision "
        "and recall follow from the labels.",
    ]


def test_an_unreachable_database_shows_one_line(monkeypatch) -> None:
    point_app_at(monkeypatch, "postgresql://beltwatch:hunter2@127.0.0.1:1/beltwatch")
    app = review_page()
    (error,) = app.error
    assert error.value.startswith(UNREACHABLE) and "hunter2" not in error.value


# -- model quality on the seeded day: labels of the monitor's own frames -----------------


def _truth(i: int, predicted: str) -> str:
    """The label a person gives the i-th chosen frame: mostly the prediction, every third
    frame the next class over (so every cell of the table has right and wrong frames)."""
    return CLASSES[(CLASSES.index(predicted) + 1) % 3] if i % 3 == 0 else predicted


@pytest.fixture(scope="module")
def labelled(seeded):
    """Labels of 20 frames per station on each seeded day (every class where there is one),
    and the camera alerts' episodes."""
    url, engine = seeded
    with engine.begin() as conn:
        chosen = conn.execute(
            text(
                "SELECT id, captured_at, station_id, predicted_class FROM ("
                "  SELECT *, row_number() OVER (PARTITION BY station_id, "
                "    captured_at::date, predicted_class ORDER BY captured_at) AS k"
                "  FROM predictions) p WHERE k <= 7 ORDER BY captured_at, id"
            )
        ).all()
        frames = []
        for i, (pid, captured, station, predicted) in enumerate(chosen):
            true = _truth(i, predicted)
            reviews.label(
                conn, prediction_id=pid, captured_at=captured, true_class=true,
                reviewer="Ana", at=DAY2 + timedelta(hours=5),
            )  # fmt: skip
            frames.append((captured, station, predicted, true))
        episodes = conn.execute(
            text(
                "SELECT station_id, started_at, resolved_at FROM alerts "
                "WHERE rule IN ('lens_drift', 'lighting_drift')"
            )
        ).all()
    return url, frames, episodes


def quality_page(monkeypatch, url):
    point_app_at(monkeypatch, url)
    app = open_page(REVIEW)
    app.date_input(key="quality").set_value((date(2026, 11, 23), date(2026, 11, 24))).run()
    assert not app.exception
    return app


def share(right: int, n: int) -> str:
    return f"— (n={n})" if n == 0 else f"{right / n:.1%} (n={n})"


def table(app, first_column: str):
    return next(d.value for d in app.dataframe if d.value.columns[0] == first_column)


def test_precision_and_recall_equal_a_hand_count_of_the_labels(labelled, monkeypatch) -> None:
    url, frames, _ = labelled
    app = quality_page(monkeypatch, url)
    assert CAVEAT in [c.value for c in app.caption]

    def expected(rows):
        called = Counter(p for _, _, p, _ in rows)
        truly = Counter(t for _, _, _, t in rows)
        right = Counter(p for _, _, p, t in rows if p == t)
        return (
            [share(right[c], called[c]) for c in CLASSES],
            [share(right[c], truly[c]) for c in CLASSES],
        )

    per_class = table(app, "class")
    assert (list(per_class["precision"]), list(per_class["recall"])) == expected(frames)

    per_station = table(app, "station")
    for station in ("S0", "S1", "S2"):
        row = per_station[per_station["station"] == station].iloc[0]
        precision, recall = expected([f for f in frames if f[1] == station])
        assert [row[f"precision {c}"] for c in CLASSES] == precision
        assert [row[f"recall {c}"] for c in CLASSES] == recall

    per_day = table(app, "day")
    assert list(per_day["day"]) == ["2026-11-23", "2026-11-24"]
    for day, row in zip((DAY1, DAY2), per_day.itertuples(index=False), strict=True):
        precision, _ = expected([f for f in frames if f[0].date() == day.date()])
        assert [getattr(row, c) for c in CLASSES] == precision

    matrix = table(app, "undamaged")  # the confusion matrix: a column per label
    for p in CLASSES:
        for t in CLASSES:
            count = sum(1 for f in frames if f[2] == p and f[3] == t)
            assert matrix.loc[p, t] == count


def test_agreement_splits_the_labelled_frames_by_the_seeded_camera_alert(
    labelled, monkeypatch
) -> None:
    url, frames, episodes = labelled
    assert episodes, "the seeded S1 lens fault fires lens_drift"

    def faulty(captured, station) -> bool:
        return any(
            s == station and start <= captured and (end is None or captured < end)
            for s, start, end in episodes
        )

    app = quality_page(monkeypatch, url)
    shown = table(app, "camera")
    assert list(shown["camera"]) == ["camera healthy", "lens drift", "lighting drift"]
    healthy = [f for f in frames if not faulty(f[0], f[1])]
    lens = [f for f in frames if faulty(f[0], f[1])]
    assert healthy and lens  # both sides of the split have frames
    assert all(f[1] == "S1" and f[0] >= DAY2 for f in lens)
    assert list(shown["agreement"]) == [
        share(sum(f[2] == f[3] for f in healthy), len(healthy)),
        share(sum(f[2] == f[3] for f in lens), len(lens)),
        "— (n=0)",
    ]
