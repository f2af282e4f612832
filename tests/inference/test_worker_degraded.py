"""The worker when things go wrong around it: a full prediction log, many decodes at once,
client-invented station ids, hostile strings. In process, with an in-memory sink."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest
from memory_sink import MemorySink
from onnx_models import colour_model
from prometheus_client import generate_latest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from test_worker import NOW, frame, png

import inference.worker
from inference import metrics
from inference.actions import Diverter
from inference.classifier import Classifier
from inference.worker import FrameIn, Worker
from monitor.core.exceptions import PredictionLogFull


@pytest.fixture
def classifier(tmp_path) -> Classifier:
    return Classifier(colour_model(tmp_path))


@pytest.fixture
def diverter(httpserver: HTTPServer):
    httpserver.expect_request("/divert", method="POST").respond_with_data("ok")
    diverter = Diverter(SecretStr(httpserver.url_for("/divert")), timeout_s=1.0)
    yield diverter
    diverter.close()


# --- item 7: the divert does not depend on the log ---------------------------------------


def test_critical_parcel_is_diverted_even_when_the_log_is_full(classifier, diverter) -> None:
    sink = MemorySink(capacity=0)
    (outcome,) = Worker(classifier, sink, diverter=diverter).process([frame("red", "P1")])
    diverter.close()
    assert isinstance(outcome.error, PredictionLogFull) and outcome.action == "divert"
    assert diverter.sent == 1 and sink.records == []


def test_a_file_offered_again_after_a_full_log_is_diverted_once(
    classifier, diverter, httpserver: HTTPServer
) -> None:
    worker = Worker(classifier, MemorySink(capacity=0), diverter=diverter)
    same = FrameIn(png("red"), "dock-1", NOW, "P1", id=uuid.uuid4())  # a file's stable id
    for _ in range(3):  # the directory source's passes while the log is full
        assert not worker.process([same])[0].ok
    diverter.close()
    assert len(httpserver.log) == 1


# --- item 6: decodes are bounded ---------------------------------------------------------


def test_no_more_than_max_decodes_frames_are_decoded_at_once(classifier, monkeypatch) -> None:
    inside, most = 0, 0
    lock = threading.Lock()
    real_prepare = inference.worker.prepare

    def slow_prepare(*args, **kwargs):  # the real decode, held long enough to overlap
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.05)
            return real_prepare(*args, **kwargs)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(inference.worker, "prepare", slow_prepare)
    worker = Worker(classifier, MemorySink(), max_decodes=2)
    threads = [
        threading.Thread(target=worker.process, args=([frame("green", f"P{i}")],)) for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2


def test_a_frame_over_the_pixel_cap_is_refused_before_decoding(classifier) -> None:
    worker = Worker(classifier, MemorySink(), max_pixels=96 * 96 - 1)
    (outcome,) = worker.process([frame("green", "P1")])
    assert outcome.error is not None and outcome.error.reason == "too_large"


# --- item 9: station labels are capped ---------------------------------------------------


def _overflow_count() -> float:
    return metrics.STATION_OVERFLOW._value.get()


def test_station_ids_past_the_cap_are_counted_as_other(classifier) -> None:
    worker = Worker(classifier, MemorySink(), max_station_labels=3)
    before = _overflow_count()
    prefix = f"cap-{uuid.uuid4().hex[:6]}"
    worker.process([frame("green", f"P{i}", station=f"{prefix}-{i}") for i in range(8)])
    worker.process([frame("green", "P9", station=f"{prefix}-0")])  # a known one stays itself
    exposed = generate_latest().decode()
    labelled = {f"{prefix}-{i}" for i in range(8) if f'station="{prefix}-{i}"' in exposed}
    assert labelled == {f"{prefix}-0", f"{prefix}-1", f"{prefix}-2"}
    assert 'station="other"' in exposed
    assert _overflow_count() - before == 5


# --- item 10: log lines ------------------------------------------------------------------


def test_refusals_by_a_full_log_are_warned_once_per_interval(
    classifier, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker(classifier, MemorySink(capacity=0))
    with caplog.at_level(logging.WARNING, logger="inference.worker"):
        for i in range(20):
            worker.process([frame("green", f"P{i}")])
    assert len(caplog.records) == 1
    assert "prediction not logged" in caplog.records[0].getMessage()


def test_a_station_id_cannot_forge_a_log_line(classifier, caplog: pytest.LogCaptureFixture) -> None:
    forged = "dock-1\n2026-11-25 08:00:00 ERROR beltwatch: database dropped"
    bad = FrameIn(b"not an image", forged, NOW, "P1")
    with caplog.at_level(logging.INFO, logger="inference.worker"):
        Worker(classifier, MemorySink()).process([bad, frame("green", "P2", station=forged)])
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2  # the refused frame (INFO) and the invalid record (WARNING)
    assert all("\n" not in message and "dock-1\\n2026" in message for message in messages)
