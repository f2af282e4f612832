"""Evidence frames: per station and UTC hour the worker keeps the first frame of each of N
equal slots and every new least sharp frame (worst tile), beside the minor and critical
images, in the same store with the same retention. The worker runs the shipped model on
synthetic belt frames blurred by known amounts; the image store is real, in tmp_path."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from memory_sink import MemorySink
from sqlalchemy import select
from sqlalchemy.orm import Session

from inference.actions import ImageStore
from inference.classifier import Classifier
from inference.evidence import HOURS_KEPT, EvidenceChoice
from inference.runner import run_directory
from inference.training.synth import generate
from inference.worker import FrameIn, Prediction, Worker
from monitor.core.db.models import Prediction as PredictionRow
from monitor.predlog import PredictionRecord

SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "models" / "beltcnn-int8.onnx"
HOUR = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
# Blur sigmas of the one undamaged belt frame: a larger sigma, a less sharp frame.
SIGMAS = (0.0, 0.8, 1.5, 3.0, 5.0)

# (minute, blur sigma) of one station's hour with 3 slots (minutes 0-19, 20-39, 40-59),
# and the frames kept: the first of each slot and each new least sharp one.
PLAN = [
    (1, 0.0),  # 0: first of slot 0, least sharp so far
    (5, 0.0),  # 1: as sharp as frame 0, not below it
    (12, 1.5),  # 2: least sharp so far
    (18, 0.8),  # 3: sharper than frame 2
    (21, 0.0),  # 4: first of slot 1
    (25, 0.8),  # 5
    (33, 3.0),  # 6: least sharp so far
    (38, 1.5),  # 7
    (41, 0.8),  # 8: first of slot 2
    (50, 3.0),  # 9: as blurred as frame 6, not below it
    (59, 0.0),  # 10
]
PLAN_KEPT = {0, 2, 4, 6, 8}


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return Classifier(SHIPPED_MODEL)


def _png(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


@pytest.fixture(scope="module")
def belt() -> dict[str, bytes]:
    """The undamaged frame at each blur sigma (by sigma) and a critical frame ("critical");
    the shipped model calls them so (checked where it matters)."""
    undamaged, _, critical = (f.image for f in generate(3, seed=1, size=(480, 640), balanced=True))
    frames = {
        str(sigma): _png(cv2.GaussianBlur(undamaged, (0, 0), sigma) if sigma else undamaged)
        for sigma in SIGMAS
    }
    frames["critical"] = _png(critical)
    return frames


def _frames(
    belt: dict[str, bytes], plan: list[tuple[int, float | str]], station: str, hour: datetime
) -> list[FrameIn]:
    return [
        FrameIn(
            data=belt[str(kind)],
            station_id=station,
            captured_at=hour + timedelta(minutes=minute),
            parcel_id=f"{station}-{hour:%H}-{i}",
        )
        for i, (minute, kind) in enumerate(plan)
    ]


def _run(worker: Worker, frames: list[FrameIn]) -> None:
    # One frame per call, as the HTTP source hands them over.
    for frame in frames:
        assert worker.process([frame])[0].ok


def _kept(records: list[PredictionRecord], prefix: str) -> set[int]:
    """Indices (from parcel ids `<prefix><i>`) of the records with an image."""
    return {
        int(r.parcel_id.removeprefix(prefix))
        for r in records
        if r.parcel_id.startswith(prefix) and r.image_ref is not None
    }


def test_slot_firsts_and_running_minima_are_kept_with_their_images(tmp_path, shipped, belt) -> None:
    sink, store = MemorySink(), ImageStore(tmp_path / "images")
    worker = Worker(shipped, sink, images=store, evidence_per_hour=3)
    _run(worker, _frames(belt, PLAN, "dock-1", HOUR))

    by_sigma = {}
    for (_, sigma), record in zip(PLAN, sink.records, strict=True):
        by_sigma[sigma] = record.sharpness_tile_min
    assert [by_sigma[s] for s in sorted(by_sigma)] == sorted(by_sigma.values(), reverse=True)
    assert {r.predicted_class for r in sink.records} == {"undamaged"}

    assert _kept(sink.records, "dock-1-08-") == PLAN_KEPT
    for i, record in enumerate(sink.records):
        assert record.action == "none"
        if i in PLAN_KEPT:
            assert store.path_of(record.image_ref).read_bytes() == belt[str(PLAN[i][1])]
        else:
            assert record.image_ref is None


@pytest.mark.parametrize("per_hour", [0, 3])
def test_minor_and_critical_frames_are_kept_whatever_the_evidence_setting(
    tmp_path, shipped, belt, per_hour
) -> None:
    sink, store = MemorySink(), ImageStore(tmp_path / "images")
    worker = Worker(shipped, sink, images=store, evidence_per_hour=per_hour)
    # Frame 2 is critical in the middle of slot 0 and sharper than frame 1: no evidence.
    plan: list[tuple[int, float | str]] = [(1, 0.0), (2, 1.5), (7, "critical"), (9, 0.8)]
    _run(worker, _frames(belt, plan, "dock-1", HOUR))

    assert [r.predicted_class for r in sink.records] == [
        "undamaged",
        "undamaged",
        "critical",
        "undamaged",
    ]
    assert _kept(sink.records, "dock-1-08-") == ({0, 1, 2} if per_hour else {2})
    critical = sink.records[2]
    assert critical.action == "divert"
    assert store.path_of(critical.image_ref).read_bytes() == belt["critical"]
    if not per_hour:
        assert list(store.root.glob("*/*/*")) == [store.path_of(critical.image_ref)]


def test_two_stations_are_chosen_independently(tmp_path, shipped, belt) -> None:
    sink = MemorySink()
    worker = Worker(shipped, sink, images=ImageStore(tmp_path / "images"), evidence_per_hour=3)
    first, second = _frames(belt, PLAN, "dock-1", HOUR), _frames(belt, PLAN, "dock-2", HOUR)
    # Interleaved: with state shared across stations dock-1 would take dock-2's slot
    # firsts and minima.
    _run(worker, [frame for pair in zip(first, second, strict=True) for frame in pair])

    assert _kept(sink.records, "dock-1-08-") == PLAN_KEPT
    assert _kept(sink.records, "dock-2-08-") == PLAN_KEPT


def test_a_new_hour_starts_afresh_and_late_frames_count_for_their_own_hour(
    tmp_path, shipped, belt
) -> None:
    sink = MemorySink()
    worker = Worker(shipped, sink, images=ImageStore(tmp_path / "images"), evidence_per_hour=3)
    _run(worker, _frames(belt, PLAN, "dock-1", HOUR))  # hour 8 reaches sigma 3
    nine = HOUR + timedelta(hours=1)
    late = [(50, 0.0), (51, 5.0)]  # hour 8: neither first of its slot; sigma 5 is its new low
    frames = [
        *_frames(belt, [(1, 0.0), (5, 0.8)], "dock-1", nine),
        *_frames(belt, late, "dock-1", HOUR),
        *_frames(belt, [(10, 1.5), (12, 0.0), (25, 0.0)], "dock-1", nine),
    ]
    frames = [
        FrameIn(f.data, f.station_id, f.captured_at, f"late-{i}") for i, f in enumerate(frames)
    ]
    _run(worker, frames)

    # Hour 9 keeps its own first (0) and its own minima (1: 0.8, 4: 1.5), though hour 8
    # went down to sigma 3; the late sigma-5 frame (3) is hour 8's new minimum and leaves
    # hour 9's minimum alone (else 1.5 would not be kept); slot 1's first (6) is kept.
    assert _kept(sink.records, "late-") == {0, 1, 3, 4, 6}


def test_hours_older_than_the_kept_ones_and_stations_beyond_the_cap_are_not_judged() -> None:
    choice = EvidenceChoice(3, max_stations=2)
    assert choice.keep("a", HOUR, 1.0) and choice.keep("b", HOUR, 1.0)
    assert not choice.keep("c", HOUR, 1.0)  # the cap: a and b were heard this hour
    later = HOUR + timedelta(hours=HOURS_KEPT)
    assert choice.keep("a", later, 1.0)
    assert not choice.keep("a", HOUR, 0.5)  # older than a's last HOURS_KEPT hours
    # b was quiet for HOURS_KEPT hours: forgotten, and c takes its place.
    assert choice.keep("c", later, 1.0)
    assert choice.held() == (2, 2)


def test_memory_stays_bounded_over_many_hours_and_invented_stations() -> None:
    choice = EvidenceChoice(3, max_stations=50)
    for hour in range(48):
        for station in range(500):
            choice.keep(f"s{station}-{hour % 2}", HOUR + timedelta(hours=hour), 1.0)
        stations, station_hours = choice.held()
        assert stations <= 50 and station_hours <= 50 * HOURS_KEPT


def test_zero_per_hour_chooses_nothing() -> None:
    choice = EvidenceChoice(0, max_stations=10)
    assert not any(choice.keep("a", HOUR + timedelta(minutes=m), -m) for m in range(60))
    assert choice.held() == (0, 0)


def test_a_frame_replayed_after_a_refusal_is_kept_again() -> None:
    choice = EvidenceChoice(3, max_stations=10)
    frame_id = uuid.uuid4()
    assert choice.keep("a", HOUR, 1.0, frame_id)
    assert choice.keep("a", HOUR, 1.0, frame_id)  # same id: its row needs its image
    assert not choice.keep("a", HOUR, 1.0, uuid.uuid4())  # a new frame, same everything


def test_concurrent_frames_keep_one_first_per_slot_and_the_least_sharp(
    tmp_path, shipped, belt
) -> None:
    sink = MemorySink()
    worker = Worker(shipped, sink, images=ImageStore(tmp_path / "images"), evidence_per_hour=3)
    # Per station 30 equally sharp frames over the hour and one blurred at minute 30.
    frames = []
    for station in ("dock-1", "dock-2"):
        plan: list[tuple[int, float | str]] = [(2 * m, 0.0) for m in range(30)]
        frames += _frames(belt, [*plan, (30, 3.0)], station, HOUR)
    random.Random(3).shuffle(frames)
    chunks = [frames[i::6] for i in range(6)]
    threads = [threading.Thread(target=_run, args=(worker, chunk)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(sink.records) == len(frames)
    for station in ("dock-1", "dock-2"):
        kept = [r for r in sink.records if r.station_id == station and r.image_ref is not None]
        blurred = [r for r in kept if r.parcel_id == f"{station}-08-30"]
        assert len(blurred) == 1  # the least sharp of the hour, whatever the order
        slots = sorted(r.captured_at.minute // 20 for r in kept if r not in blurred)
        # One first per slot, unless the blurred frame was the first of slot 1.
        assert slots in ([0, 1, 2], [0, 2])


def test_evidence_of_predictions_made_elsewhere_is_kept_too(tmp_path, belt) -> None:
    sink = MemorySink()
    worker = Worker(None, sink, images=ImageStore(tmp_path / "images"), evidence_per_hour=3)
    undamaged = Prediction("undamaged", {"undamaged": 0.9, "minor": 0.05, "critical": 0.05}, "m1")
    for frame in _frames(belt, PLAN, "dock-1", HOUR):
        assert worker.log_external(frame, undamaged).ok
    assert _kept(sink.records, "dock-1-08-") == PLAN_KEPT


def test_retention_prunes_expired_evidence_frames(tmp_path, shipped, belt) -> None:
    sink, store = MemorySink(), ImageStore(tmp_path / "images")
    worker = Worker(shipped, sink, images=store, evidence_per_hour=3)
    _run(worker, _frames(belt, PLAN, "dock-1", HOUR))
    kept = [r for r in sink.records if r.image_ref is not None]
    old, fresh = store.path_of(kept[0].image_ref), store.path_of(kept[1].image_ref)
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))

    assert store.prune(30) == 1
    assert not old.exists() and fresh.exists()


def test_the_directory_worker_keeps_evidence_frames_by_its_settings(
    tmp_path, settings, engine, belt
) -> None:
    # `beltwatch worker dir`: the settings' default of 3 per hour, the shipped model, the
    # prediction log into PostgreSQL, the store under the data folder. The last hour:
    # inside the capture window whatever the time.
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i, (minute, sigma) in enumerate(PLAN):
        at = hour + timedelta(minutes=minute)
        path = inbox / f"dock-1__P{i:02d}__{at:%Y%m%dT%H%M%SZ}.png"
        path.write_bytes(belt[str(sigma)])
        settled = time.time() - 100 + i  # oldest first: the source's order is the plan's
        os.utime(path, (settled, settled))

    assert settings.evidence_frames_per_hour == 3
    # One batch at a time: the plan's choice follows the frames' order, and batches in
    # flight finish in order only within a few batches.
    one_by_one = settings.model_copy(update={"worker_batches_in_flight": 1})
    assert run_directory(one_by_one, inbox, once=True) == len(PLAN)

    with Session(engine) as session:
        rows = session.execute(select(PredictionRow.parcel_id, PredictionRow.image_ref)).all()
    assert len(rows) == len(PLAN)
    assert {int(parcel[1:]) for parcel, ref in rows if ref is not None} == PLAN_KEPT
    store = settings.effective_image_store_dir
    for parcel, ref in rows:
        if ref is not None:
            assert (store / ref).read_bytes() == belt[str(PLAN[int(parcel[1:])][1])]


def test_a_serving_worker_runs_opencv_on_one_thread_and_gives_the_count_back(
    tmp_path, settings, engine
) -> None:
    # The worker spreads frames over the cores; OpenCV's own threads per call only cost
    # (bench/worker.py --concurrency). The callback hears the banner while the worker
    # serves, and the done/failed summary after it closed.
    before = cv2.getNumThreads()
    seen: list[int] = []
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    assert run_directory(settings, inbox, once=True, announce=lambda _: seen.append(
        cv2.getNumThreads()
    )) == 0  # fmt: skip
    *serving, summary = seen
    assert serving and set(serving) == {1}
    assert summary == cv2.getNumThreads() == before
