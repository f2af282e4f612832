"""The worker: frames in, predictions logged, actions taken. Unit tests hand it an in-memory
sink (no database); the last few run end to end into PostgreSQL."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
from memory_sink import MemorySink
from onnx_models import colour_model, solid
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug import Request, Response

from inference.actions import Diverter, ImageStore
from inference.classifier import Classifier
from inference.exceptions import BadFrame
from inference.frames import decode, resize_for_model
from inference.imagestats import compute
from inference.ports import Model, Predictions, PredictionSink
from inference.worker import FrameIn, Prediction, Worker
from monitor.core.db.models import Prediction as PredictionRow
from monitor.core.exceptions import InvalidRecord, PredictionLogFull
from monitor.predlog import PredictionLog

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def png(colour: str, size: int = 96) -> bytes:
    return encode_png(solid(colour, size))


def encode_png(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def camera_png() -> bytes:
    """A 1280x960 frame with detail at every scale, where resize paths differ."""
    rng = np.random.default_rng(4)
    noise = cv2.GaussianBlur(rng.normal(0, 60, (960, 1280, 3)), (0, 0), 1.5)
    light = np.linspace(60, 190, 1280)[None, :, None]
    return encode_png(np.clip(noise + light, 0, 255).astype(np.uint8))


def frame(colour: str, parcel: str, station: str = "dock-1") -> FrameIn:
    return FrameIn(data=png(colour), station_id=station, captured_at=NOW, parcel_id=parcel)


class RecordingModel:
    """A real Classifier that keeps every batch it is given: what the model saw."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self.batches: list[np.ndarray] = []

    @property
    def version(self) -> str:
        return self.classifier.version

    @property
    def input_size(self) -> int:
        return self.classifier.input_size

    def predict(self, images: np.ndarray) -> Predictions:
        self.batches.append(images.copy())
        return self.classifier.predict(images)


@pytest.fixture
def classifier(tmp_path) -> Classifier:
    return Classifier(colour_model(tmp_path))


# --- the worker alone: an in-memory sink -------------------------------------------------


def test_every_frame_is_predicted_acted_on_and_logged(classifier, tmp_path) -> None:
    sink, images = MemorySink(), ImageStore(tmp_path / "images")
    worker = Worker(classifier, sink, images=images)
    outcomes = worker.process([frame("green", "P1"), frame("blue", "P2"), frame("red", "P3")])
    assert [o.record.predicted_class for o in outcomes] == ["undamaged", "minor", "critical"]
    records = sink.by_parcel()
    assert {p: (r.predicted_class, r.action) for p, r in records.items()} == {
        "P1": ("undamaged", "none"),
        "P2": ("minor", "review"),
        "P3": ("critical", "divert"),
    }
    assert records["P1"].image_ref is None
    for parcel, colour in (("P2", "blue"), ("P3", "red")):  # kept for review, byte for byte
        assert images.path_of(records[parcel].image_ref).read_bytes() == png(colour)
    record = records["P3"]
    assert record.model_version == "colour-1" and record.station_id == "dock-1"
    assert record.p_critical > 0.9 and record.latency_ms > 0
    assert record.mean_r > record.mean_g and 0 < record.brightness < 255  # the image's stats


def test_probabilities_are_logged_by_class_name_whatever_the_models_output_order(
    tmp_path,
) -> None:
    shuffled = Classifier(colour_model(tmp_path, classes=("critical", "undamaged", "minor")))
    sink = MemorySink()
    Worker(shuffled, sink).process([frame("red", "P1"), frame("blue", "P2")])
    red, blue = sink.by_parcel()["P1"], sink.by_parcel()["P2"]
    assert red.predicted_class == "critical" and red.p_critical > 0.9
    assert blue.predicted_class == "minor" and blue.p_minor > 0.9
    assert red.p_undamaged + red.p_minor + red.p_critical == pytest.approx(1.0, abs=1e-6)


def test_bad_frame_is_refused_with_its_reason_and_the_others_go_on(classifier) -> None:
    sink = MemorySink()
    good = png("green")
    outcomes = Worker(classifier, sink).process(
        [
            frame("red", "P1"),
            FrameIn(data=good[: len(good) // 2], station_id="dock-1", captured_at=NOW),
            FrameIn(data=b"not an image at all", station_id="dock-1", captured_at=NOW),
            frame("green", "P4"),
        ]
    )
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert isinstance(outcomes[1].error, BadFrame) and outcomes[1].error.reason in (
        "truncated",
        "corrupt",
    )
    assert isinstance(outcomes[2].error, BadFrame)
    assert set(sink.by_parcel()) == {"P1", "P4"}


def test_bad_station_id_is_refused_naming_the_field(classifier) -> None:
    sink = MemorySink()
    (outcome,) = Worker(classifier, sink).process([frame("red", "P1", station="")])
    assert isinstance(outcome.error, InvalidRecord) and outcome.error.field == "station_id"
    assert outcome.stats is not None and sink.records == []


def test_a_full_log_refuses_the_frame_so_the_source_can_retry_it(classifier) -> None:
    sink = MemorySink(capacity=1)
    outcomes = Worker(classifier, sink).process([frame("red", "P1"), frame("green", "P2")])
    assert outcomes[0].ok
    assert isinstance(outcomes[1].error, PredictionLogFull) and not outcomes[1].ok
    assert list(sink.by_parcel()) == ["P1"]


# --- one chain of resizes: what the model sees ----------------------------------------------


def test_a_128_input_model_sees_the_frame_resized_once_to_128(tmp_path) -> None:
    model = RecordingModel(Classifier(colour_model(tmp_path, size=128)))
    data = camera_png()
    Worker(model, MemorySink()).process([FrameIn(data, "dock-1", NOW, "P1")])
    (batch,) = model.batches
    rgb = decode(data)
    assert np.array_equal(batch[0], resize_for_model(rgb, 128))  # what training feeds it
    twice = cv2.resize(resize_for_model(rgb, 224), (128, 128), interpolation=cv2.INTER_AREA)
    assert not np.array_equal(batch[0], twice)  # the old path: 224 first, then 128


def test_statistics_do_not_depend_on_the_models_input_size(tmp_path) -> None:
    data = camera_png()
    stats = []
    for size in (32, 128, 224):
        sink = MemorySink()
        model = Classifier(colour_model(tmp_path, size=size, name=f"colour{size}"))
        (outcome,) = Worker(model, sink).process([FrameIn(data, "dock-1", NOW, "P1")])
        stats.append(outcome.stats)
    assert stats[0] == stats[1] == stats[2] == compute(decode(data))


def test_a_224_model_gives_the_probabilities_of_the_224_copy(tmp_path) -> None:
    classifier = Classifier(colour_model(tmp_path, size=224))
    data = camera_png()
    sink = MemorySink()
    Worker(classifier, sink).process([FrameIn(data, "dock-1", NOW, "P1")])
    (expected,) = classifier.predict(resize_for_model(decode(data), 224)[None]).by_class()
    record = sink.records[0]
    logged = {
        "undamaged": record.p_undamaged,
        "minor": record.p_minor,
        "critical": record.p_critical,
    }
    assert logged == pytest.approx(expected, abs=1e-3)


# --- predictions made elsewhere ---------------------------------------------------------------


def test_prediction_made_elsewhere_is_logged_with_image_statistics(tmp_path) -> None:
    sink = MemorySink()
    worker = Worker(None, sink, images=ImageStore(tmp_path / "images"))
    prediction = Prediction(
        "minor",
        {"undamaged": 0.2, "minor": 0.7, "critical": 0.1},
        model_version="sagemaker-resnet50-7",
        latency_ms=23.0,
    )
    assert worker.log_external(frame("blue", "P9"), prediction).ok
    record = sink.by_parcel()["P9"]
    assert (record.model_version, record.predicted_class, record.action) == (
        "sagemaker-resnet50-7",
        "minor",
        "review",
    )
    assert (record.p_undamaged, record.p_minor, record.p_critical) == (0.2, 0.7, 0.1)
    assert record.latency_ms == 23.0 and record.mean_b > record.mean_r


def test_prediction_missing_a_class_is_refused_naming_its_column() -> None:
    sink = MemorySink()
    prediction = Prediction("minor", {"undamaged": 0.3, "minor": 0.7}, model_version="m-1")
    outcome = Worker(None, sink).log_external(frame("blue", "P9"), prediction)
    assert isinstance(outcome.error, InvalidRecord) and outcome.error.field == "p_critical"
    assert sink.records == []


def test_prediction_with_an_unknown_class_is_refused() -> None:
    probabilities = {"undamaged": 0.2, "minor": 0.3, "critical": 0.1, "crushed": 0.4}
    outcome = Worker(None, MemorySink()).log_external(
        frame("blue", "P9"), Prediction("critical", probabilities, model_version="m-1")
    )
    assert isinstance(outcome.error, InvalidRecord) and "crushed" in str(outcome.error)


def test_a_worker_without_a_model_only_logs_predictions_made_elsewhere() -> None:
    with pytest.raises(RuntimeError, match="use log_external"):
        Worker(None, MemorySink()).process([frame("red", "P1")])


# --- diverts ------------------------------------------------------------------------------


def test_critical_parcel_is_diverted_through_the_plc_gateway(
    classifier, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/divert", method="POST").respond_with_data("ok")
    diverter = Diverter(SecretStr(httpserver.url_for("/divert")), timeout_s=1.0)
    Worker(classifier, MemorySink(), diverter=diverter).process(
        [frame("red", "P1"), frame("green", "P2")]
    )
    diverter.close()
    ((request, _),) = httpserver.log
    body = request.get_json()
    assert body["parcel_id"] == "P1" and body["station_id"] == "dock-1"
    assert body["p_critical"] > 0.9
    assert diverter.sent == 1 and diverter.failed == 0


@pytest.mark.parametrize("failure", ["status 500", "timeout", "connection refused"])
def test_divert_failure_is_counted_and_never_blocks_the_belt(
    classifier, httpserver: HTTPServer, failure: str
) -> None:
    if failure == "status 500":
        httpserver.expect_request("/divert").respond_with_data("boom", status=500)
        url = httpserver.url_for("/divert")
    elif failure == "timeout":
        httpserver.expect_request("/divert").respond_with_handler(_slow)
        url = httpserver.url_for("/divert")
    else:
        url = "http://127.0.0.1:9/divert"
    diverter = Diverter(SecretStr(url), timeout_s=0.2)
    sink = MemorySink()
    started = time.perf_counter()
    outcomes = Worker(classifier, sink, diverter=diverter).process([frame("red", "P1")])
    assert time.perf_counter() - started < 0.15  # the call happens off the belt's thread
    diverter.close()
    if failure == "timeout":  # the late answer must not land in the next test's log
        assert _answered.wait(5)
    assert outcomes[0].ok and diverter.failed == 1 and diverter.sent == 0
    assert sink.by_parcel()["P1"].action == "divert"  # the prediction is logged regardless


_answered = threading.Event()


def _slow(request: Request) -> Response:
    time.sleep(0.6)
    _answered.set()
    return Response("late")


def test_image_store_is_content_addressed_and_pruned(tmp_path) -> None:
    store = ImageStore(tmp_path)
    first, again = store.put(png("red")), store.put(png("red"))
    assert first == again and first.endswith(".png")
    other = store.put(png("blue"))
    old = store.path_of(other)
    os.utime(old, (1_000_000, 1_000_000))
    assert store.prune(older_than_days=30) == 1
    assert not old.exists() and store.path_of(first).exists()


# --- end to end: the real prediction log and PostgreSQL --------------------------------------


@pytest.fixture
def plog(settings, db_url):
    log = PredictionLog(db_url, settings)
    yield log
    log.close(timeout=30)


def stored(engine) -> dict[str, PredictionRow]:
    with Session(engine) as session:
        return {row.parcel_id: row for row in session.scalars(select(PredictionRow))}


def test_the_classifier_and_the_prediction_log_fit_the_worker_ports(classifier, plog) -> None:
    assert isinstance(classifier, Model) and isinstance(plog, PredictionSink)
    assert isinstance(MemorySink(), PredictionSink)


def test_predictions_reach_postgres_with_their_probabilities_and_statistics(
    classifier, plog, engine, tmp_path
) -> None:
    worker = Worker(classifier, plog, images=ImageStore(tmp_path / "images"))
    outcomes = worker.process([frame("green", "P1"), frame("red", "P3")])
    assert plog.flush(timeout=30)
    rows = stored(engine)
    assert {p: (r.predicted_class, r.action) for p, r in rows.items()} == {
        "P1": ("undamaged", "none"),
        "P3": ("critical", "divert"),
    }
    row, logged = rows["P3"], outcomes[1].record
    assert (row.p_undamaged, row.p_minor, row.p_critical) == pytest.approx(
        (logged.p_undamaged, logged.p_minor, logged.p_critical), rel=1e-6
    )
    assert row.mean_r == pytest.approx(outcomes[1].stats.mean_r, rel=1e-6)
    assert row.image_ref is not None and row.latency_ms > 0


def test_refused_frames_never_reach_postgres(classifier, plog, engine) -> None:
    outcomes = Worker(classifier, plog).process(
        [
            frame("red", "P1"),
            FrameIn(data=b"not an image at all", station_id="dock-1", captured_at=NOW),
            frame("green", "P3", station=""),
        ]
    )
    assert [o.ok for o in outcomes] == [True, False, False]
    assert plog.flush(timeout=30)
    assert set(stored(engine)) == {"P1"}
