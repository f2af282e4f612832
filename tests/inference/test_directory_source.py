"""The directory source: names and sidecars, done/ and failed/, and restarts that neither
repeat nor skip a file."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from memory_sink import MemorySink
from onnx_models import colour_model
from overlap_worker import OverlapWorker
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_worker import png

from inference.capture import CaptureWindow
from inference.classifier import Classifier
from inference.runner import directory_parallelism
from inference.sources.directory import (
    DirectorySource,
    FrameNameError,
    Tally,
    describe,
    sidecars,
)
from inference.worker import Worker
from monitor.core.db.models import Prediction
from monitor.predlog import PredictionLog

# The tests' frames are of 2026-11-25: the window's clock stands on that day, whatever the date.
TODAY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WINDOW = CaptureWindow(retention_days=90, max_skew_s=300, clock=lambda: TODAY)


def drop(folder, name: str, data: bytes, *, age_s: float = 5.0) -> None:
    path = folder / name
    path.write_bytes(data)
    old = time.time() - age_s
    os.utime(path, (old, old))


@pytest.fixture
def source(tmp_path, settings, db_url):
    plog = PredictionLog(db_url, settings)
    worker = Worker(Classifier(colour_model(tmp_path)), plog)
    inbox = tmp_path / "inbox"
    yield DirectorySource(inbox, worker, window=WINDOW, batch_size=4), plog
    plog.close(timeout=30)


def rows(engine) -> list[Prediction]:
    with Session(engine) as session:
        return list(session.scalars(select(Prediction).order_by(Prediction.parcel_id)))


def test_names_give_station_parcel_and_time(tmp_path) -> None:
    drop(tmp_path, "dock-1__P42__20261125T081530.120Z.jpg", b"x")
    info = describe(tmp_path / "dock-1__P42__20261125T081530.120Z.jpg")
    assert (info.station_id, info.parcel_id) == ("dock-1", "P42")
    assert info.captured_at == datetime(2026, 11, 25, 8, 15, 30, 120000, tzinfo=UTC)
    drop(tmp_path, "dock-1__P43.png", b"x")
    info = describe(tmp_path / "dock-1__P43.png")
    assert info.parcel_id == "P43" and info.captured_at.tzinfo is UTC  # the file's time
    drop(tmp_path, "dock-7__20261125T081530Z.png", b"x")
    assert describe(tmp_path / "dock-7__20261125T081530Z.png").parcel_id is None


def test_sidecar_wins_over_the_name(tmp_path) -> None:
    drop(tmp_path, "IMG_0001.jpg", b"x")
    (tmp_path / "IMG_0001.json").write_text(
        json.dumps(
            {"station_id": "dock-3", "parcel_id": "P1", "captured_at": "2026-11-25T09:00:00+01:00"}
        )
    )
    info = describe(tmp_path / "IMG_0001.jpg")
    assert (info.station_id, info.parcel_id) == ("dock-3", "P1")
    assert info.captured_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_a_bare_station_name_is_the_station_with_no_parcel_and_the_file_time(tmp_path) -> None:
    drop(tmp_path, "dock-3.jpg", b"x")
    info = describe(tmp_path / "dock-3.jpg")
    assert (info.station_id, info.parcel_id) == ("dock-3", None)
    mtime = (tmp_path / "dock-3.jpg").stat().st_mtime_ns
    assert info.captured_at == datetime.fromtimestamp(mtime / 1e9, tz=UTC)
    drop(tmp_path, "dock-3__.jpg", b"x")  # an empty parcel part is no parcel
    assert describe(tmp_path / "dock-3__.jpg").parcel_id is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("__P1__20261125T081530Z.jpg", "no station id; name it STATION[__PARCEL]"),
        ("Screenshot (2).png", "'Screenshot (2)' is not a station id (letters, digits"),
        ("-dock.jpg", "'-dock' is not a station id"),
        ("d\u00f6ck-1__P1.jpg", "is not a station id"),
        (f"{'d' * 129}.jpg", "up to 128"),
        ("20261125T081530Z.jpg", "'20261125T081530Z' is a time, not a station id"),
        ("dock-1__P1__x__20261125T081530Z.jpg", "too many '__' parts"),
    ],
)
def test_a_name_that_cannot_be_a_station_is_a_clear_error(tmp_path, name, message) -> None:
    drop(tmp_path, name, b"x")
    with pytest.raises(FrameNameError, match=re.escape(message)):
        describe(tmp_path / name)


def test_both_sidecar_names_are_read_and_name_json_wins_over_stem_json(tmp_path) -> None:
    drop(tmp_path, "IMG_0002.jpg", b"x")
    (tmp_path / "IMG_0002.jpg.json").write_text(json.dumps({"station_id": "dock-4"}))
    assert describe(tmp_path / "IMG_0002.jpg").station_id == "dock-4"
    (tmp_path / "IMG_0002.json").write_text(json.dumps({"station_id": "dock-5"}))
    assert describe(tmp_path / "IMG_0002.jpg").station_id == "dock-4"  # <name>.json wins
    assert sidecars(tmp_path / "IMG_0002.jpg") == [
        tmp_path / "IMG_0002.jpg.json",
        tmp_path / "IMG_0002.json",
    ]
    (tmp_path / "IMG_0002.jpg.json").unlink()
    assert describe(tmp_path / "IMG_0002.jpg").station_id == "dock-5"  # the fallback


def test_a_sidecar_may_give_any_id_the_log_accepts(tmp_path) -> None:
    drop(tmp_path, "x.jpg", b"x")
    (tmp_path / "x.jpg.json").write_text(json.dumps({"station_id": "Dock 3 (north)"}))
    assert describe(tmp_path / "x.jpg").station_id == "Dock 3 (north)"


def test_files_are_processed_then_moved_and_bad_ones_explained(source, engine) -> None:
    src, plog = source
    drop(src.root, "dock-1__P1__20261125T080000Z.png", png("red"))
    drop(src.root, "dock-1__P2__20261125T080001Z.png", png("green"))
    drop(src.root, "dock-1__P3__20261125T080002Z.png", png("green")[:60])  # truncated
    drop(src.root, "no station.png", png("green"))
    drop(src.root, "dock-1__P5__20261125T080003Z.png", png("blue"), age_s=0)  # still arriving
    (src.root / ".dock-1__P6.png.part").write_bytes(b"partial")
    assert src.run_once() == Tally(done=2, failed=2)
    assert plog.flush(timeout=30)
    assert [(r.parcel_id, r.predicted_class) for r in rows(engine)] == [
        ("P1", "critical"),
        ("P2", "undamaged"),
    ]
    done = sorted(p.name for p in (src.done_dir / "2026-11-25").iterdir())
    assert done == ["dock-1__P1__20261125T080000Z.png", "dock-1__P2__20261125T080001Z.png"]
    failed = src.failed_dir
    assert "bad frame" in (failed / "dock-1__P3__20261125T080002Z.png.error.txt").read_text()
    assert "not a station id" in (failed / "no station.png.error.txt").read_text()
    assert (src.root / "dock-1__P5__20261125T080003Z.png").exists()  # left for later
    assert (src.root / ".dock-1__P6.png.part").exists()


def test_restart_after_a_crash_between_log_and_move_stores_no_duplicate(
    source, engine, monkeypatch
) -> None:
    src, plog = source
    for i in range(6):
        drop(src.root, f"dock-1__P{i}__20261125T08000{i}Z.png", png("green"))
    # Crash after the predictions are logged but before the files move.
    monkeypatch.setattr(src, "_settle", lambda info, outcome: Tally())
    src.run_once()
    monkeypatch.undo()
    assert len(list(src.root.glob("*.png"))) == 6
    assert src.run_once() == Tally(done=6)  # the restart processes them again...
    assert plog.flush(timeout=30)
    assert len(rows(engine)) == 6  # ...and the database still has each once
    assert plog.stats().duplicates == 6
    assert list(src.root.glob("*.png")) == []


def test_name_reused_by_a_camera_keeps_both_files(source) -> None:
    src, _ = source
    drop(src.root, "dock-1__P1__20261125T080000Z.png", png("green"))
    src.run_once()
    drop(src.root, "dock-1__P1__20261125T080000Z.png", png("red"))
    src.run_once()
    assert len(list((src.done_dir / "2026-11-25").iterdir())) == 2


# A worker process runs on the real clock: its frames are of today (midnight, so that a
# test run just after midnight still finds them in the window).
TODAY_REAL = datetime.now(UTC)


def _start_dir_worker(tmp_path, settings, inbox) -> subprocess.Popen:
    env = {
        **os.environ,
        "BELTWATCH_DATABASE_URL": settings.database_url.get_secret_value(),
        "BELTWATCH_DATA_DIR": str(tmp_path / "data"),
        "BELTWATCH_MODEL_PATH": str(colour_model(tmp_path)),
        "BELTWATCH_LOG_RETRY_INITIAL_S": "0.05",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "worker", "dir", str(inbox)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigterm_finishes_the_batch_in_hand_and_flushes(tmp_path, settings, engine) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    worker = _start_dir_worker(tmp_path, settings, inbox)
    for i in range(40):
        drop(inbox, f"dock-1__P{i:02d}__{TODAY_REAL:%Y%m%d}T0000{i:02d}Z.png", png("green"))
    done = inbox / "done" / f"{TODAY_REAL:%Y-%m-%d}"
    _wait_for(lambda: done.exists() and len(list(done.iterdir())) >= 8)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    moved = {p.name.split("__")[1] for p in done.iterdir()}
    assert {r.parcel_id for r in rows(engine)} == moved  # each moved file is in the database
    assert f"processed {len(moved)} frames: {len(moved)} done, 0 failed" in out


@pytest.mark.slow
def test_second_sigterm_exits_at_once_and_the_spool_keeps_the_rows(
    tmp_path, settings, engine, cut_off
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with cut_off():
        worker = _start_dir_worker(tmp_path, settings, inbox)
        for i in range(5):
            drop(inbox, f"dock-1__P{i}__{TODAY_REAL:%Y%m%d}T00000{i}Z.png", png("red"))
        done = inbox / "done" / f"{TODAY_REAL:%Y-%m-%d}"
        _wait_for(lambda: done.exists() and len(list(done.iterdir())) == 5)
        worker.send_signal(signal.SIGTERM)  # the flush now waits for the database...
        time.sleep(1.0)
        assert worker.poll() is None
        worker.send_signal(signal.SIGTERM)  # ...and the second signal does not
        worker.wait(timeout=10)
    assert worker.returncode == 128 + signal.SIGTERM
    spool = tmp_path / "data" / "spool"
    plog = PredictionLog(
        settings.database_url.get_secret_value(), settings.model_copy(update={"spool_dir": spool})
    )
    assert plog.close(timeout=30)
    assert len(rows(engine)) == 5  # replayed from the spool by the next start


# --- issue 10: poison files and the capture window -----------------------------------------


def test_poison_files_go_to_failed_with_a_reason_and_the_good_ones_are_processed(
    source, engine
) -> None:
    src, plog = source
    drop(src.root, "dock-1__P1__20261125T080000Z.png", png("red"))
    drop(src.root, "dock1__p1__20261399T000000Z.jpg", png("green"))  # month 13
    drop(src.root, os.fsdecode(b"dock-1__P\xff9.png"), png("green"))  # name not UTF-8
    drop(src.root, "IMG_0002.png", png("green"))
    (src.root / "IMG_0002.json").write_bytes(b'{"station_id": "dock-\xff"}')  # not UTF-8
    drop(src.root, "IMG_0003.png", png("green"))
    (src.root / "IMG_0003.json").write_text('{"station_id": "dock-1", "parcel_id": 42}')
    drop(src.root, "dock-1__P4__20261125T080004Z.png", png("green"))
    assert src.run_once() == Tally(done=2, failed=4)
    assert src.run_once() == Tally()  # nothing left behind to trip the next pass, or a restart
    assert plog.flush(timeout=30)
    assert [r.parcel_id for r in rows(engine)] == ["P1", "P4"]
    notes = {p.name: p.read_text() for p in src.failed_dir.glob("*.error.txt")}
    assert "not a valid date and time" in notes["dock1__p1__20261399T000000Z.jpg.error.txt"]
    assert "not UTF-8" in notes[os.fsdecode(b"dock-1__P\xff9.png.error.txt")]
    assert "IMG_0002.json unreadable" in notes["IMG_0002.png.error.txt"]
    assert "station_id and parcel_id are text" in notes["IMG_0003.png.error.txt"]


def test_a_capture_time_outside_the_window_sends_the_file_to_failed(source, engine) -> None:
    src, plog = source
    drop(src.root, "dock-1__P1__20000101T000000Z.png", png("green"))  # a camera clock reset
    drop(src.root, "dock-1__P2__20261126T000000Z.png", png("green"))  # 12 hours ahead
    drop(src.root, "dock-1__P3__20261125T120000Z.png", png("green"))
    assert src.run_once() == Tally(done=1, failed=2)
    assert plog.flush(timeout=30)
    assert [r.parcel_id for r in rows(engine)] == ["P3"]
    for name in ("dock-1__P1__20000101T000000Z.png", "dock-1__P2__20261126T000000Z.png"):
        assert "captured_at" in (src.failed_dir / f"{name}.error.txt").read_text()


# --- issue 15, item 10: the README's names and sidecars, done and failed counted apart ------

ONE_HOUR_AGO = TODAY - timedelta(hours=1)


def drop_at(folder, name: str, data: bytes, *, at: datetime = ONE_HOUR_AGO) -> None:
    """A file whose modification time, the capture time of a name without one, is `at`."""
    drop(folder, name, data)
    os.utime(folder / name, (at.timestamp(), at.timestamp()))


def sidecar(path, **facts: str) -> None:
    path.write_text(json.dumps(facts))


def test_bare_names_and_both_sidecar_names_are_processed_and_moved_with_their_sidecars(
    source, engine
) -> None:
    src, plog = source
    drop_at(src.root, "dock-3.png", png("red"))
    drop_at(src.root, "IMG_1.png", png("green"))  # <name>.json
    sidecar(src.root / "IMG_1.png.json", station_id="dock-4", parcel_id="P1")
    drop_at(src.root, "IMG_2.png", png("green"))  # <stem>.json
    sidecar(src.root / "IMG_2.json", station_id="dock-5", parcel_id="P2")
    drop_at(src.root, "IMG_3.png", png("green"))  # both: <name>.json wins
    sidecar(src.root / "IMG_3.png.json", station_id="dock-6", parcel_id="P3")
    sidecar(src.root / "IMG_3.json", station_id="dock-7", parcel_id="P3")
    assert src.run_once() == Tally(done=4)
    assert plog.flush(timeout=30)
    assert [(r.station_id, r.parcel_id, r.captured_at) for r in rows(engine)] == [
        ("dock-4", "P1", ONE_HOUR_AGO),
        ("dock-5", "P2", ONE_HOUR_AGO),
        ("dock-6", "P3", ONE_HOUR_AGO),
        ("dock-3", None, ONE_HOUR_AGO),  # no parcel; the file's time
    ]
    assert sorted(p.name for p in src.root.iterdir()) == ["done", "failed"]  # nothing left
    assert sorted(p.name for p in (src.done_dir / "2026-11-25").iterdir()) == [
        "IMG_1.png",
        "IMG_1.png.json",
        "IMG_2.json",
        "IMG_2.png",
        "IMG_3.json",
        "IMG_3.png",
        "IMG_3.png.json",
        "dock-3.png",
    ]


def test_a_stem_sidecar_shared_by_two_images_serves_both(source, engine) -> None:
    src, plog = source
    drop_at(src.root, "IMG_9.jpg", png("green"))
    drop_at(src.root, "IMG_9.png", png("red"), at=ONE_HOUR_AGO + timedelta(seconds=1))
    sidecar(src.root / "IMG_9.json", station_id="dock-8")
    assert src.run_once() == Tally(done=2)
    assert plog.flush(timeout=30)
    assert [r.station_id for r in rows(engine)] == ["dock-8", "dock-8"]
    done = src.done_dir / "2026-11-25"
    assert sorted(p.name for p in done.iterdir()) == [
        "IMG_9.1.json",  # the second image's copy, beside its renamed...
        "IMG_9.1.png",  # ...image: done/ already held IMG_9.json
        "IMG_9.jpg",
        "IMG_9.json",
    ]


def test_a_name_that_cannot_be_a_station_goes_to_failed_whole_and_is_counted_apart(
    source, engine
) -> None:
    src, plog = source
    drop_at(src.root, "dock-1__P1.png", png("green"))
    drop_at(src.root, "Screenshot (2).png", png("green"))
    assert src.run_once() == Tally(done=1, failed=1)
    assert plog.flush(timeout=30)
    assert [r.parcel_id for r in rows(engine)] == ["P1"]
    kept = src.failed_dir / "Screenshot (2).png"
    assert kept.read_bytes() == png("green")  # nothing lost
    note = (src.failed_dir / "Screenshot (2).png.error.txt").read_text()
    assert "'Screenshot (2)' is not a station id" in note
    assert "add a sidecar Screenshot (2).png.json" in note


# --- batches in flight: every core works, nothing is taken twice -------------------------


@pytest.mark.parametrize("in_flight", [1, 2])
def test_batches_run_side_by_side_up_to_in_flight(
    tmp_path, settings, db_url, engine, in_flight
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(8):
        drop_at(
            inbox, f"dock-{i % 3}__P{i}.png", png("green"), at=ONE_HOUR_AGO + timedelta(seconds=i)
        )
    with PredictionLog(db_url, settings) as plog:
        worker = OverlapWorker(Classifier(colour_model(tmp_path)), plog)
        src = DirectorySource(inbox, worker, window=WINDOW, batch_size=2, in_flight=in_flight)
        assert src.run_once() == Tally(done=8)
        assert plog.flush(timeout=30)
    assert worker.most == in_flight  # never more, and the slots are used
    assert worker.batches == [2, 2, 2, 2]  # each file in one batch only
    assert sorted(r.parcel_id for r in rows(engine)) == [f"P{i}" for i in range(8)]
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []


def test_the_folder_is_listed_once_per_pass_not_once_per_batch(source, monkeypatch) -> None:
    src, _ = source
    for i in range(9):
        drop_at(src.root, f"dock-1__P{i}.png", png("green"))
    listings = []
    real_ready = src.ready
    monkeypatch.setattr(src, "ready", lambda: listings.append(1) or real_ready())
    assert src.run_once() == Tally(done=9)  # three batches of four at most
    assert len(listings) == 1


def test_a_full_log_ends_the_pass_and_leaves_every_file_in_place(tmp_path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(6):
        drop_at(inbox, f"dock-1__P{i}.png", png("green"), at=ONE_HOUR_AGO + timedelta(seconds=i))
    worker = OverlapWorker(Classifier(colour_model(tmp_path)), MemorySink(capacity=1))
    src = DirectorySource(inbox, worker, window=WINDOW, batch_size=2, in_flight=1)
    tally = src.run_once()
    # The first batch: one logged, one refused; the pass stops there instead of running
    # the other four files through the model only to hold them back too.
    assert tally == Tally(done=1, held=1)
    assert worker.batches == [2]
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == [
        f"dock-1__P{i}.png" for i in range(1, 6)
    ]
    assert tally.summary() == (
        "processed 1 frame: 1 done, 0 failed; 1 held back in the folder: the prediction log "
        "was full"
    )


def test_a_stem_sidecar_shared_by_images_in_two_batches_at_once_serves_both(tmp_path) -> None:
    # x.jpg and x.png in two batches that run at the same moment: each move decides whether
    # to copy or to move the shared x.json; one at a time, neither image loses it.
    for attempt in range(5):
        inbox = tmp_path / f"inbox-{attempt}"
        inbox.mkdir()
        drop_at(inbox, "IMG_9.jpg", png("green"))
        drop_at(inbox, "IMG_9.png", png("red"), at=ONE_HOUR_AGO + timedelta(seconds=1))
        sidecar(inbox / "IMG_9.json", station_id="dock-8")
        sink = MemorySink()
        worker = OverlapWorker(Classifier(colour_model(tmp_path)), sink)
        src = DirectorySource(inbox, worker, window=WINDOW, batch_size=1, in_flight=2)
        assert src.run_once() == Tally(done=2)
        assert worker.most == 2
        assert [r.station_id for r in sink.records] == ["dock-8", "dock-8"]
        done = src.done_dir / "2026-11-25"
        images = sorted(p for p in done.iterdir() if p.suffix != ".json")
        assert len(images) == 2
        for image in images:  # each image beside its own copy of the sidecar
            assert json.loads(image.with_suffix(".json").read_text())["station_id"] == "dock-8"
        assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == []


@pytest.mark.parametrize(
    ("in_flight", "threads", "expected"),
    [
        (0, 0, (4, 1)),  # the defaults: a batch per core, each model run on one
        (2, 0, (2, 2)),  # two batches share the four cores
        (1, 0, (1, 4)),  # one batch at a time: the model on every core
        (3, 0, (3, 1)),  # more batches than halves of the cores: never 0 threads
        (2, 3, (2, 3)),  # threads set by the operator are kept
    ],
)
def test_the_folder_s_batches_share_the_cores_with_the_model(
    settings, monkeypatch, in_flight, threads, expected
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    chosen = settings.model_copy(
        update={"worker_batches_in_flight": in_flight, "inference_threads": threads}
    )
    assert directory_parallelism(chosen) == expected
