"""A station's kept frames on the dashboard: real image files in a store in tmp_path, their
rows written through the prediction log beside the seeded traffic, the settings handed over
by the environment. The grid shows each image with its caption (what the database holds),
says "image expired" for a pruned file, refuses references outside the store unread, and
the Alerts page shows the frames of an alert's hour."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from conftest import open_page, point_app_at
from daygen import hour_records
from hourly_support import write
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from dashboards.alerts import frames_hour
from inference.actions import ImageStore

ZONE = "Europe/Berlin"
RETENTION_DAYS = "9"
QUIET = "S7"  # a station with no traffic: the rows with a missing or refused image
# (minute, sharpness, worst-tile sharpness, brightness) of the frames kept in S1's hour.
KEPT = [(5, 0.31, 0.02, 121.4), (25, 0.12, 0.005, 96.0), (45, 0.2, 0.01, 140.6)]
LEAST_SHARP_FIRST = [1, 2, 0]


def _png(seed: int) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".png", rgb)
    assert ok
    return data.tobytes()


@dataclasses.dataclass(frozen=True)
class Kept:
    store: Path
    hour: datetime  # the UTC hour of S1's alert whose frames were written
    alert_id: int
    refs: list[str]  # of KEPT, in order
    outside: Path  # a real image beside the store, never to be read


@pytest.fixture(scope="module")
def kept(seeded, module_settings, tmp_path_factory) -> Kept:
    """S1's alert's hour gains the KEPT frames (files in the store); QUIET's hour gains a row
    whose file was pruned and three whose references lead out of the store."""
    url, engine = seeded
    with engine.connect() as conn:
        alert = conn.execute(
            text(
                "SELECT id, evidence, started_at, station_id FROM alerts "
                "WHERE station_id = 'S1' AND rule = 'critical_rate'"
            )
        ).one()
    hour, which = frames_hour(dict(alert._mapping))
    assert which == "worst hour"
    root = tmp_path_factory.mktemp("frames")
    store = ImageStore(root / "images")
    outside = root / "outside" / "frame.png"
    outside.parent.mkdir()
    outside.write_bytes(_png(99))
    template = hour_records("S1", hour, 1, seed=5)[0]
    records, refs = [], []
    for i, (minute, sharpness, tile, brightness) in enumerate(KEPT):
        refs.append(store.put(_png(i)))
        records.append(
            dataclasses.replace(
                template,
                id=uuid.uuid4(),
                captured_at=hour + timedelta(minutes=minute, seconds=7),
                sharpness=sharpness,
                sharpness_tile_min=tile,
                brightness=brightness,
                image_ref=refs[-1],
            )
        )
    pruned = store.put(_png(50))
    store.path_of(pruned).unlink()
    for minute, ref in enumerate(
        [pruned, "../outside/frame.png", "../../etc/passwd", str(outside)]
    ):
        records.append(
            dataclasses.replace(
                template,
                id=uuid.uuid4(),
                station_id=QUIET,
                captured_at=hour + timedelta(minutes=minute),
                image_ref=ref,
            )
        )
    write(url, module_settings, records)
    return Kept(store.root, hour, alert.id, refs, outside)


def _show(station, since, until, limit) -> None:
    from dashboards.context import run_page
    from dashboards.frames import show_frames

    run_page(lambda settings: show_frames(settings, station, since, until, limit=limit))


def _frames_app(
    monkeypatch, url, kept: Kept, station: str, since: datetime, limit: int = 12
) -> AppTest:
    point_app_at(
        monkeypatch,
        url,
        image_store_dir=str(kept.store),
        site_timezone=ZONE,
        image_retention_days=RETENTION_DAYS,
    )
    until = since + timedelta(hours=1)
    app = AppTest.from_function(
        _show, args=(station, since, until, limit), default_timeout=60
    ).run()
    assert not app.exception
    return app


def _captions(engine, refs: list[str]) -> list[str]:
    """The caption of each stored frame, from what the database holds."""
    captions = []
    with engine.connect() as conn:
        for ref in refs:
            row = conn.execute(
                text(
                    "SELECT captured_at, predicted_class, p_undamaged, p_minor, p_critical, "
                    "sharpness, sharpness_tile_min, brightness FROM predictions "
                    "WHERE image_ref = :ref"
                ),
                {"ref": ref},
            ).one()
            p = {"undamaged": row.p_undamaged, "minor": row.p_minor, "critical": row.p_critical}
            when = row.captured_at.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M %Z")
            captions.append(
                f"{when} · {row.predicted_class} p={p[row.predicted_class]:.2f} · "
                f"sharpness {row.sharpness:.3g} · worst tile {row.sharpness_tile_min:.3g} · "
                f"brightness {row.brightness:.0f}"
            )
    return captions


def _image_captions(app: AppTest) -> list[str]:
    return [caption for image in app.get("image") for caption in image.captions]


def test_kept_frames_show_least_sharp_first_with_their_captions(seeded, kept, monkeypatch) -> None:
    url, engine = seeded
    app = _frames_app(monkeypatch, url, kept, "S1", kept.hour)

    expected = _captions(engine, [kept.refs[i] for i in LEAST_SHARP_FIRST])
    assert _image_captions(app) == expected
    assert app.caption[0].value == "3 kept frames of S1, the least sharp (worst tile) first."
    assert " CET · " in expected[0]  # shown in the site's zone
    assert "worst tile 0.005 · brightness 96" in expected[0]
    assert len({url for image in app.get("image") for url in image.value}) == len(KEPT)
    assert not app.warning and not app.error


def test_a_full_grid_says_more_frames_may_be_kept(seeded, kept, monkeypatch) -> None:
    url, engine = seeded
    app = _frames_app(monkeypatch, url, kept, "S1", kept.hour, limit=2)

    expected = _captions(engine, [kept.refs[i] for i in LEAST_SHARP_FIRST[:2]])
    assert _image_captions(app) == expected
    assert app.caption[0].value == (
        "2 kept frames of S1, the least sharp (worst tile) first; the range may hold more."
    )


def test_a_pruned_file_is_expired_and_references_out_of_the_store_are_refused_unread(
    seeded, kept, monkeypatch
) -> None:
    url, _ = seeded
    assert kept.outside.is_file()
    app = _frames_app(monkeypatch, url, kept, QUIET, kept.hour)

    assert not app.get("image")  # the real image outside the store was not shown
    assert [w.value for w in app.warning] == [f"image expired (kept {RETENTION_DAYS} days)"]
    refused = sorted(e.value for e in app.error)
    assert refused == sorted(
        f"Image reference outside the image store, not shown: {ref!r}"
        for ref in ("../outside/frame.png", "../../etc/passwd", str(kept.outside))
    )
    assert app.caption[0].value == f"4 kept frames of {QUIET}, the least sharp (worst tile) first."
    assert len(app.caption) == 1 + 4  # each row still says when and what


def test_a_range_without_kept_frames_says_so(seeded, kept, monkeypatch) -> None:
    url, _ = seeded
    app = _frames_app(monkeypatch, url, kept, "S1", kept.hour - timedelta(hours=1))

    assert not app.get("image")
    assert [i.value for i in app.info] == [
        f"No frames of S1 kept between {_local(kept.hour - timedelta(hours=1))} and "
        f"{_local(kept.hour)}. The worker keeps 3 per station and hour plus the least sharp "
        "(`evidence_frames_per_hour`, 0: off) and every minor or critical image; start it "
        "with `beltwatch worker http` or `beltwatch worker dir`."
    ]


def _local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M %Z")


def test_an_alert_shows_the_frames_of_its_worst_hour(seeded, kept, monkeypatch) -> None:
    url, engine = seeded
    point_app_at(monkeypatch, url, image_store_dir=str(kept.store), site_timezone=ZONE)
    app = open_page("views/alerts.py")
    app.date_input(key="range").set_value((date(2026, 11, 23), date(2026, 11, 25))).run()
    toggle = app.toggle(key=f"frames-{kept.alert_id}")
    assert toggle.label == f"Show the frames of its worst hour, {_local(kept.hour)}"
    assert not app.get("image")  # no images load until asked

    toggle.set_value(True).run()
    assert not app.exception
    expected = _captions(engine, [kept.refs[i] for i in LEAST_SHARP_FIRST])
    assert _image_captions(app) == expected


def test_an_alert_without_a_worst_hour_links_to_the_hour_it_started_in() -> None:
    started = datetime(2026, 11, 24, 3, 17, 40, tzinfo=UTC)
    alert = {"evidence": {"magnitude": 2.0}, "started_at": started}
    assert frames_hour(alert) == (datetime(2026, 11, 24, 3, tzinfo=UTC), "first hour")
    alert["evidence"] = {"worst_hour": {"hour": "2026-11-24T02:00:00+00:00"}}
    assert frames_hour(alert) == (datetime(2026, 11, 24, 2, tzinfo=UTC), "worst hour")
