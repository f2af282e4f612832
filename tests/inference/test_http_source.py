"""The HTTP source: routes, errors as JSON, auth, SageMaker contract, micro-batching,
and a graceful stop of the real server process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from memory_sink import MemorySink
from onnx_models import colour_model
from overlap_worker import OverlapWorker
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from test_worker import png

from inference import metrics
from inference.actions import Diverter, ImageStore
from inference.classifier import Classifier
from inference.sources.http import create_app
from inference.worker import Worker
from monitor.core.db.models import Prediction
from monitor.predlog import PredictionLog

# The tests' frames are of 2026-11-25: the app's clock stands on that day, whatever the date.
TODAY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PARAMS = {"station_id": "dock-2", "parcel_id": "P1", "captured_at": "2026-11-25T08:00:00Z"}


@pytest.fixture
def make_client(tmp_path, settings, db_url):
    logs = []

    def build(**overrides) -> TestClient:
        s = settings.model_copy(update=overrides)
        plog = PredictionLog(db_url, s)
        logs.append(plog)
        worker = Worker(
            Classifier(colour_model(tmp_path)), plog, images=ImageStore(tmp_path / "images")
        )
        client = TestClient(create_app(worker, s, sagemaker=True, clock=lambda: TODAY))
        client.plog = plog  # type: ignore[attr-defined] - for the tests to flush
        return client

    yield build
    for plog in logs:
        plog.close(timeout=30)


def count_rows(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Prediction)) or 0


def test_predict_returns_class_probabilities_action_and_stats(make_client) -> None:
    with make_client() as client:
        response = client.post("/v1/predict", params=PARAMS, content=png("red"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["class"] == "critical" and body["action"] == "divert"
    assert set(body["probabilities"]) == {"undamaged", "minor", "critical"}
    assert body["station_id"] == "dock-2" and body["parcel_id"] == "P1"
    assert body["captured_at"] == "2026-11-25T08:00:00+00:00"
    assert body["latency_ms"] > 0 and body["model_version"] == "colour-1"
    assert {"brightness", "blur", "sharpness", "luma_p99"} <= set(body["stats"])


@pytest.mark.parametrize(
    ("params", "content", "status", "field"),
    [
        ({**PARAMS, "station_id": ""}, "png", 400, "station_id"),
        ({k: v for k, v in PARAMS.items() if k != "station_id"}, "png", 400, "station_id"),
        ({**PARAMS, "captured_at": "yesterday"}, "png", 400, "captured_at"),
        ({**PARAMS, "captured_at": "2026-11-25T08:00:00"}, "png", 400, "captured_at"),
        (PARAMS, b"", 400, "image"),
        (PARAMS, b"\x89PNG\r\n\x1a\n garbage", 422, "image"),
        (PARAMS, b"GIF89a....", 422, "image"),
    ],
)
def test_bad_input_answers_4xx_json_and_the_worker_keeps_serving(
    make_client, engine, params, content, status, field
) -> None:
    body = png("green") if content == "png" else content
    with make_client() as client:
        response = client.post("/v1/predict", params=params, content=body)
        assert response.status_code == status, response.text
        assert response.json()["field"] == field and response.json()["error"]
        assert client.post("/v1/predict", params=PARAMS, content=png("green")).status_code == 200
        assert client.plog.flush(timeout=30)
    assert count_rows(engine) == 1  # only the good request was logged


def test_oversized_body_is_refused(make_client) -> None:
    with make_client(worker_max_image_bytes=2048) as client:
        response = client.post("/v1/predict", params=PARAMS, content=b"\xff\xd8\xff" + b"x" * 5000)
    assert response.status_code == 413


def test_bearer_token_guards_predict_and_log(make_client) -> None:
    with make_client(worker_token=SecretStr("tok-123")) as client:
        assert client.post("/v1/predict", params=PARAMS, content=png("red")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (
            client.post("/v1/log", params=PARAMS, content=png("red"), headers=wrong).status_code
            == 401
        )
        right = {"Authorization": "Bearer tok-123"}
        assert (
            client.post("/v1/predict", params=PARAMS, content=png("red"), headers=right).status_code
            == 200
        )
        assert client.get("/healthz").status_code == 200  # health stays open


def test_log_route_records_a_prediction_made_elsewhere(make_client, engine) -> None:
    params = {
        **PARAMS,
        "predicted_class": "minor",
        "p_undamaged": "0.2",
        "p_minor": "0.7",
        "p_critical": "0.1",
        "model_version": "endpoint-resnet50-3",
        "latency_ms": "41",
    }
    with make_client() as client:
        response = client.post("/v1/log", params=params, content=png("blue"))
        bad = client.post("/v1/log", params={**params, "p_minor": "lots"}, content=png("blue"))
        assert client.plog.flush(timeout=30)
    assert response.status_code == 201, response.text
    assert response.json()["model_version"] == "endpoint-resnet50-3"
    assert response.json()["probabilities"] == {"undamaged": 0.2, "minor": 0.7, "critical": 0.1}
    assert bad.status_code == 400 and bad.json()["field"] == "p_minor"
    assert count_rows(engine) == 1


def test_sagemaker_invocations_and_ping(make_client) -> None:
    headers = {"X-Amzn-SageMaker-Custom-Attributes": "station_id=dock-9,parcel_id=P77"}
    with make_client() as client:
        assert client.get("/ping").status_code == 200
        response = client.post("/invocations", content=png("blue"), headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["station_id"] == "dock-9" and response.json()["parcel_id"] == "P77"
    assert response.json()["class"] == "minor"


def test_health_and_metrics(make_client) -> None:
    with make_client() as client:
        client.post("/v1/predict", params=PARAMS, content=png("red"))
        health = client.get("/healthz").json()
        exposed = client.get("/metrics").text
    assert health["status"] == "ok" and health["model_version"] == "colour-1"
    assert 'beltwatch_predictions_total{class="critical",station="dock-2"}' in exposed
    assert "beltwatch_inference_seconds_bucket" in exposed
    assert "beltwatch_predlog_pending_rows" in exposed


def test_concurrent_requests_share_model_runs(make_client, engine) -> None:
    runs_before = _histogram_count()
    client = make_client(worker_batch_size=8, worker_batch_wait_ms=50)
    with client, ThreadPoolExecutor(16) as pool:
        responses = list(
            pool.map(
                lambda i: client.post(
                    "/v1/predict", params={**PARAMS, "parcel_id": f"P{i}"}, content=png("red")
                ),
                range(32),
            )
        )
    assert all(r.status_code == 200 for r in responses)
    assert client.plog.flush(timeout=30)
    runs = _histogram_count() - runs_before
    assert runs < 32  # at least some frames shared a model run
    assert count_rows(engine) == 32


def _histogram_count() -> float:
    for family in metrics.INFERENCE_SECONDS.collect():
        for sample in family.samples:
            if sample.name.endswith("_count"):
                return sample.value
    return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sigterm_finishes_requests_in_hand_and_flushes_the_log(tmp_path, settings, engine) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "BELTWATCH_DATABASE_URL": settings.database_url.get_secret_value(),
        "BELTWATCH_DATA_DIR": str(tmp_path / "data"),
        "BELTWATCH_MODEL_PATH": str(colour_model(tmp_path)),
        "BELTWATCH_WORKER_PORT": str(port),
        "BELTWATCH_WORKER_BATCH_WAIT_MS": "20",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "worker", "http"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.2)
        with ThreadPoolExecutor(8) as pool:
            futures = [
                pool.submit(
                    httpx.post,
                    f"{base}/v1/predict",
                    # The process runs on the real clock: no captured_at means now.
                    params={"station_id": "dock-2", "parcel_id": f"P{i}"},
                    content=png("red"),
                    timeout=30,
                )
                for i in range(40)
            ]
            # Stop while requests are in flight: some answered, the rest queued or sent.
            _wait_for(lambda: sum(f.done() for f in futures) >= 5)
            server.send_signal(signal.SIGTERM)
            answered = [f.result() for f in futures if _completed(f)]
        assert server.wait(timeout=60) == 0, server.stderr.read() if server.stderr else ""
    finally:
        if server.poll() is None:
            server.kill()
    ok = [r for r in answered if r.status_code == 200]
    assert ok, "no request was answered before the stop"
    assert count_rows(engine) >= len(ok)  # every answered prediction was flushed to the db
    with Session(engine) as session:
        stored = set(session.scalars(select(Prediction.parcel_id)))
    assert {r.json()["parcel_id"] for r in ok} <= stored


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _completed(future) -> bool:
    try:
        future.result()
    except httpx.TransportError:
        return False  # refused after the stop began: the client retries elsewhere
    return True


# --- issue 10: hardening -------------------------------------------------------------------


def test_invocations_require_the_token_when_one_is_set(make_client) -> None:
    station = "station_id=dock-9,parcel_id=P77"
    with make_client(worker_token=SecretStr("tok-123")) as client:
        bare = client.post(
            "/invocations",
            content=png("blue"),
            headers={"X-Amzn-SageMaker-Custom-Attributes": station},
        )
        wrong = client.post(
            "/invocations",
            content=png("blue"),
            headers={"X-Amzn-SageMaker-Custom-Attributes": f"{station},token=nope"},
        )
        through_sagemaker = client.post(
            "/invocations",
            content=png("blue"),
            headers={"X-Amzn-SageMaker-Custom-Attributes": f"{station},token=tok-123"},
        )
        direct = client.post(
            "/invocations",
            params={"station_id": "dock-9"},
            content=png("blue"),
            headers={"Authorization": "Bearer tok-123"},
        )
        assert client.get("/ping").status_code == 200  # health stays open
    assert (bare.status_code, wrong.status_code) == (401, 401)
    assert through_sagemaker.status_code == 200, through_sagemaker.text
    assert direct.status_code == 200, direct.text


@pytest.mark.parametrize(
    "captured_at",
    [
        "2000-01-01T00:00:00Z",  # each such day would be a new partition
        "2026-08-01T00:00:00Z",  # older than the 90-day retention
        "2026-11-25T12:10:00Z",  # ten minutes ahead of the worker's clock
        "2099-12-31T00:00:00Z",
    ],
)
def test_capture_time_outside_the_window_is_refused_naming_the_field(
    make_client, engine, captured_at
) -> None:
    with make_client() as client:
        response = client.post(
            "/v1/predict", params={**PARAMS, "captured_at": captured_at}, content=png("green")
        )
        assert client.plog.flush(timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "captured_at"
    assert "check the camera's clock" in response.json()["error"]
    assert count_rows(engine) == 0


def png_header(width: int, height: int, *, bit_depth: int = 16, colour_type: int = 6) -> bytes:
    """A PNG's signature, IHDR and IEND: enough for the header check, no pixel data."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    ihdr += bytes([bit_depth, colour_type, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b""))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data).to_bytes(4, "big")
    return len(data).to_bytes(4, "big") + kind + data + crc


def test_a_frame_declaring_more_than_25_megapixels_is_refused_by_its_header(make_client) -> None:
    with make_client() as client:
        response = client.post("/v1/log", params=LOG_PARAMS, content=png_header(7270, 5450))
    assert response.status_code == 422
    assert (
        "too_large" in response.json()["error"] and "39,621,500 pixels" in response.json()["error"]
    )


LOG_PARAMS = {
    **PARAMS,
    "predicted_class": "minor",
    "p_undamaged": "0.2",
    "p_minor": "0.7",
    "p_critical": "0.1",
    "model_version": "endpoint-resnet50-3",
}


def test_a_full_log_still_diverts_and_health_answers_503_with_the_reason(
    tmp_path, settings, httpserver
) -> None:
    httpserver.expect_request("/divert", method="POST").respond_with_data("ok")
    diverter = Diverter(SecretStr(httpserver.url_for("/divert")), timeout_s=1.0)
    worker = Worker(Classifier(colour_model(tmp_path)), MemorySink(capacity=0), diverter=diverter)
    app = create_app(worker, settings, sagemaker=True, clock=lambda: TODAY)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        response = client.post("/v1/predict", params=PARAMS, content=png("red"))
        health, ping = client.get("/healthz"), client.get("/ping")
    diverter.close()
    assert response.status_code == 503 and "action taken: divert" in response.json()["error"]
    assert diverter.sent == 1  # the belt's safety action did not wait for the log
    assert health.status_code == 503 and health.json()["status"] == "refusing"
    assert "prediction log refuses records" in health.json()["reason"]
    assert ping.status_code == 503 and "refuses records" in ping.text


@pytest.mark.parametrize("in_flight", [1, 2])
def test_batches_run_side_by_side_up_to_batches_in_flight(
    tmp_path, settings, db_url, engine, in_flight
) -> None:
    s = settings.model_copy(update={"worker_batches_in_flight": in_flight, "worker_batch_size": 1})
    with PredictionLog(db_url, s) as plog:
        worker = OverlapWorker(Classifier(colour_model(tmp_path)), plog)
        client = TestClient(create_app(worker, s, clock=lambda: TODAY))
        with client, ThreadPoolExecutor(4) as pool:
            responses = list(
                pool.map(
                    lambda i: client.post(
                        "/v1/predict", params={**PARAMS, "parcel_id": f"P{i}"}, content=png("red")
                    ),
                    range(8),
                )
            )
        assert plog.flush(timeout=30)
    assert all(r.status_code == 200 for r in responses)
    assert worker.most == in_flight  # never more, and the slots are used
    assert count_rows(engine) == 8


def test_a_lone_frame_does_not_wait_for_companions_with_batches_in_flight(make_client) -> None:
    client = make_client(worker_batches_in_flight=2, worker_batch_wait_ms=1000)
    with client:
        client.post("/v1/predict", params=PARAMS, content=png("red"))  # warm up
        started = time.perf_counter()
        response = client.post("/v1/predict", params=PARAMS, content=png("red"))
        took = time.perf_counter() - started
    assert response.status_code == 200
    assert took < 0.5  # not the 1 s a batch of one would wait for others to join
