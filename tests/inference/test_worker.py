"""The worker end to end: frames in, predictions logged in PostgreSQL, actions taken."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

import cv2
import pytest
from onnx_models import colour_model, solid
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug import Request, Response

from inference.actions import Diverter, ImageStore
from inference.classifier import Classifier
from inference.exceptions import BadFrame
from inference.worker import ExternalPrediction, FrameIn, Worker
from monitor.core.db.models import Prediction
from monitor.core.exceptions import InvalidRecord
from monitor.predlog import PredictionLog

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def png(colour: str, size: int = 96) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(solid(colour, size), cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def frame(colour: str, parcel: str, station: str = "dock-1") -> FrameIn:
    return FrameIn(data=png(colour), station_id=station, captured_at=NOW, parcel_id=parcel)


@pytest.fixture
def worker_parts(tmp_path, settings, db_url):
    plog = PredictionLog(db_url, settings)
    images = ImageStore(tmp_path / "images")
    yield Classifier(colour_model(tmp_path)), plog, images
    plog.close(timeout=30)


def stored(engine) -> dict[str, Prediction]:
    with Session(engine) as session:
        return {row.parcel_id: row for row in session.scalars(select(Prediction))}


def test_every_frame_is_predicted_acted_on_and_logged(worker_parts, engine) -> None:
    classifier, plog, images = worker_parts
    worker = Worker(classifier, plog, images=images)
    outcomes = worker.process([frame("green", "P1"), frame("blue", "P2"), frame("red", "P3")])
    assert [o.record.predicted_class for o in outcomes] == ["undamaged", "minor", "critical"]
    assert plog.flush(timeout=30)
    rows = stored(engine)
    assert {p: (r.predicted_class, r.action) for p, r in rows.items()} == {
        "P1": ("undamaged", "none"),
        "P2": ("minor", "review"),
        "P3": ("critical", "divert"),
    }
    assert rows["P1"].image_ref is None
    for parcel in ("P2", "P3"):  # kept for review, byte for byte
        assert images.path_of(rows[parcel].image_ref).read_bytes() == png(
            {"P2": "blue", "P3": "red"}[parcel]
        )
    row = rows["P3"]
    assert row.model_version == "colour-1" and row.station_id == "dock-1"
    assert row.p_critical > 0.9 and row.latency_ms > 0
    assert row.mean_r > row.mean_g and 0 < row.brightness < 255  # the image's statistics


def test_bad_frame_is_refused_with_its_reason_and_the_others_go_on(worker_parts, engine) -> None:
    classifier, plog, images = worker_parts
    worker = Worker(classifier, plog, images=images)
    good = png("green")
    outcomes = worker.process(
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
    assert plog.flush(timeout=30)
    assert set(stored(engine)) == {"P1", "P4"}


def test_bad_station_id_is_refused_naming_the_field(worker_parts) -> None:
    classifier, plog, _ = worker_parts
    (outcome,) = Worker(classifier, plog).process([frame("red", "P1", station="")])
    assert isinstance(outcome.error, InvalidRecord) and outcome.error.field == "station_id"


def test_prediction_made_elsewhere_is_logged_with_image_statistics(worker_parts, engine) -> None:
    _, plog, images = worker_parts
    worker = Worker(None, plog, images=images)
    outcome = worker.log_external(
        frame("blue", "P9"),
        ExternalPrediction(
            "minor", 0.2, 0.7, 0.1, model_version="sagemaker-resnet50-7", latency_ms=23.0
        ),
    )
    assert outcome.ok
    assert plog.flush(timeout=30)
    row = stored(engine)["P9"]
    assert (row.model_version, row.predicted_class, row.action) == (
        "sagemaker-resnet50-7",
        "minor",
        "review",
    )
    assert row.latency_ms == pytest.approx(23.0) and row.mean_b > row.mean_r


def test_critical_parcel_is_diverted_through_the_plc_gateway(
    worker_parts, httpserver: HTTPServer
) -> None:
    classifier, plog, _ = worker_parts
    httpserver.expect_request("/divert", method="POST").respond_with_data("ok")
    diverter = Diverter(SecretStr(httpserver.url_for("/divert")), timeout_s=1.0)
    Worker(classifier, plog, diverter=diverter).process([frame("red", "P1"), frame("green", "P2")])
    diverter.close()
    ((request, _),) = httpserver.log
    body = request.get_json()
    assert body["parcel_id"] == "P1" and body["station_id"] == "dock-1"
    assert body["p_critical"] > 0.9
    assert diverter.sent == 1 and diverter.failed == 0


@pytest.mark.parametrize("failure", ["status 500", "timeout", "connection refused"])
def test_divert_failure_is_counted_and_never_blocks_the_belt(
    worker_parts, engine, httpserver: HTTPServer, failure: str
) -> None:
    classifier, plog, _ = worker_parts
    if failure == "status 500":
        httpserver.expect_request("/divert").respond_with_data("boom", status=500)
        url = httpserver.url_for("/divert")
    elif failure == "timeout":
        httpserver.expect_request("/divert").respond_with_handler(_slow)
        url = httpserver.url_for("/divert")
    else:
        url = "http://127.0.0.1:9/divert"
    diverter = Diverter(SecretStr(url), timeout_s=0.2)
    started = time.perf_counter()
    outcomes = Worker(classifier, plog, diverter=diverter).process([frame("red", "P1")])
    assert time.perf_counter() - started < 0.15  # the call happens off the belt's thread
    diverter.close()
    if failure == "timeout":  # the late answer must not land in the next test's log
        assert _answered.wait(5)
    assert outcomes[0].ok and diverter.failed == 1 and diverter.sent == 0
    assert plog.flush(timeout=30)
    assert stored(engine)["P1"].action == "divert"  # the prediction is logged regardless


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
