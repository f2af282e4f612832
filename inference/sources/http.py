"""The HTTP source: a small ASGI app in front of the worker.

    POST /v1/predict   image bytes; ?station_id=&parcel_id=&captured_at=  -> prediction JSON
    POST /v1/log       image bytes + a prediction made elsewhere (?predicted_class=&p_*=
                       &model_version=&latency_ms=) -> logged with the image's statistics
    GET  /healthz      model, database and spool state
    GET  /metrics      Prometheus
SageMaker inference-container contract (`--sagemaker`, port 8080):
    POST /invocations  image bytes; station and parcel from the query or the header
                       X-Amzn-SageMaker-Custom-Attributes: station_id=S1,parcel_id=P9
    GET  /ping

Concurrent requests are micro-batched: a frame waits at most `worker_batch_wait_ms` for
others to share a model run of up to `worker_batch_size`. A token (if set) guards every
route that takes an image, /invocations too (bound to 0.0.0.0): `Authorization: Bearer T`,
or `token=T` in the SageMaker custom attributes, the one header SageMaker passes through.

Before any work, a request is checked cheaply: token, parameters (a capture time outside
the retention window is refused, see capture.py), the body read as a stream that stops at
`worker_max_image_bytes`, and the image header (format, pixel count).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from inference.capture import CaptureWindow, Clock
from inference.exceptions import BadFrame
from inference.frames import check_header
from inference.health import LogHealth
from inference.metrics import FRAMES_REJECTED
from inference.worker import FrameIn, Outcome, Prediction, Worker
from monitor.core.exceptions import BeltwatchError, InvalidRecord, PredictionLogFull
from monitor.core.settings import Settings
from monitor.core.vocabulary import CLASSES, prob_field

log = logging.getLogger(__name__)

SAGEMAKER_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"


class RequestError(BeltwatchError):
    """A request the worker refuses; carries its HTTP status and the field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status, self.message, self.field = status, message, field
        super().__init__(message)


@dataclass
class _Pending:
    frame: FrameIn
    future: asyncio.Future[Outcome]


class MicroBatcher:
    """Collects concurrent frames into batches and runs up to `in_flight` batches at once,
    each in a worker thread: decoding, statistics and the model release the GIL, so while
    one batch is in the model the next is decoded and every core works (one batch at a time
    left a 2-core machine half idle between a batch's decode and its model run). A batch
    forms when a slot is free, from the frames that waited for it (up to `batch_size`)."""

    def __init__(
        self, worker: Worker, *, batch_size: int, wait_s: float, in_flight: int = 1
    ) -> None:
        self._worker = worker
        self._batch_size = batch_size
        self._wait_s = wait_s
        self._in_flight = max(1, in_flight)
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Finish the frames already queued, then stop."""
        await self._queue.join()
        if self._task is not None:
            self._task.cancel()

    async def submit(self, frame: FrameIn) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(frame, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(self._in_flight)
        while True:
            await slots.acquire()
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            # With batches in flight a batch takes the frames already waiting and goes: a
            # backlog forms batches by itself, and waiting for companions only added
            # latency (a lone station: 12.1 ms per frame with a 5 ms wait, 6.4 without).
            # One batch at a time (in_flight 1) still waits up to wait_s to fill it.
            if self._in_flight == 1:
                deadline = loop.time() + self._wait_s
                while len(batch) < self._batch_size:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                    except TimeoutError:
                        break
            task = loop.create_task(self._process(batch, slots))
            self._running.add(task)  # a reference, so the task is not collected mid-run
            task.add_done_callback(self._running.discard)

    async def _process(self, batch: list[_Pending], slots: asyncio.Semaphore) -> None:
        try:
            outcomes = await asyncio.to_thread(self._worker.process, [p.frame for p in batch])
        except Exception as error:  # the model itself failed: answer every caller
            log.exception("model run failed for a batch of %d frames", len(batch))
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)
        else:
            for pending, outcome in zip(batch, outcomes, strict=True):
                if not pending.future.done():  # its client may have gone
                    pending.future.set_result(outcome)
        finally:
            slots.release()
            for _ in batch:
                self._queue.task_done()


def _param(request: Request, name: str, *, required: bool = False) -> str | None:
    value = request.query_params.get(name) or request.state.attributes.get(name)
    if required and not value:
        raise RequestError(400, f"missing parameter {name}", name)
    return value


def _float(request: Request, name: str, *, required: bool = True) -> float | None:
    raw = _param(request, name, required=required)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise RequestError(400, f"{name} must be a number, got {raw!r}", name) from None


def _captured_at(request: Request, window: CaptureWindow) -> datetime:
    raw = _param(request, "captured_at")
    if raw is None:
        return window.clock()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(
            400, f"captured_at must be ISO 8601 with a time zone, got {raw!r}", "captured_at"
        ) from None
    if value.tzinfo is None:
        raise RequestError(400, "captured_at needs a time zone (e.g. ...Z)", "captured_at")
    try:
        return window.check(value)
    except InvalidRecord as error:
        raise RequestError(400, str(error), "captured_at") from None


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, read as it arrives and refused (413) as soon as it passes `limit`:
    a chunked upload declares no length, so the declared one cannot be the only check."""
    if int(request.headers.get("content-length") or 0) > limit:
        raise RequestError(413, f"image larger than {limit} bytes", "image")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"image larger than {limit} bytes", "image")
            chunks.append(chunk)
    except ClientDisconnect:
        # Nobody is left to answer; not a server error (no traceback in the log).
        log.info("client disconnected after %d bytes of the image", size)
        raise RequestError(400, "client disconnected before the image was sent", "image") from None
    if not size:
        raise RequestError(400, "empty body: send the image bytes", "image")
    return b"".join(chunks)


def _sagemaker_attributes(header: str | None) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in (header or "").split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    record = outcome.record
    assert record is not None and outcome.stats is not None
    return {
        "prediction_id": str(record.id),
        "station_id": record.station_id,
        "parcel_id": record.parcel_id,
        "captured_at": record.captured_at.isoformat(),
        "model_version": record.model_version,
        "class": record.predicted_class,
        "probabilities": {cls: getattr(record, prob_field(cls)) for cls in CLASSES},
        "action": record.action,
        "image_ref": record.image_ref,
        "latency_ms": record.latency_ms,
        "stats": outcome.stats.as_dict(),
    }


def _raise_for(outcome: Outcome) -> None:
    error = outcome.error
    if isinstance(error, BadFrame):
        raise RequestError(422, str(error), "image")
    if isinstance(error, InvalidRecord):
        raise RequestError(400, str(error), error.field)
    if isinstance(error, PredictionLogFull):
        # Not acknowledged (a 200 promises the row is stored), but acted on: a critical
        # parcel was diverted all the same (worker.py).
        raise RequestError(503, f"{error}; retry later (action taken: {outcome.action})")


def _authorised(request: Request, token: str) -> bool:
    """A bearer token, or `token=` in the SageMaker custom attributes (SageMaker forwards
    that header from InvokeEndpoint's CustomAttributes, and no Authorization header)."""
    bearer = request.headers.get("authorization", "").encode()
    if hmac.compare_digest(bearer, f"Bearer {token}".encode()):
        return True
    given = request.state.attributes.get("token", "").encode()
    return hmac.compare_digest(given, token.encode())


def _check_request(request: Request, token: str | None, window: CaptureWindow) -> FrameIn:
    """Token and parameters, checked before the body is read; the frame without its data."""
    request.state.attributes = _sagemaker_attributes(request.headers.get(SAGEMAKER_ATTRIBUTES))
    if token is not None and not _authorised(request, token):
        raise RequestError(401, "missing or wrong token")
    return FrameIn(
        data=b"",
        station_id=_param(request, "station_id", required=True) or "",
        parcel_id=_param(request, "parcel_id"),
        captured_at=_captured_at(request, window),
    )


async def _read_image(request: Request, max_bytes: int, max_pixels: int) -> bytes:
    """The body, streamed up to `max_bytes`, with an image header within `max_pixels`."""
    body = await _read_body(request, max_bytes)
    try:  # a bomb is refused here, before it waits for a decode slot
        check_header(body, max_pixels=max_pixels)
    except BadFrame as error:
        FRAMES_REJECTED.labels(error.reason).inc()
        raise RequestError(422, str(error), "image") from None
    return body


def create_app(
    worker: Worker, settings: Settings, *, sagemaker: bool = False, clock: Clock | None = None
) -> Starlette:
    """The ASGI app; closing the worker's log and diverter is the caller's job. `clock`
    (default: the system's) is the `now` of the capture-time window. Longer than most
    functions: the routes are closures over the worker, batcher and settings, a few lines
    each, and read best together."""
    batcher = MicroBatcher(
        worker,
        batch_size=settings.worker_batch_size,
        wait_s=settings.worker_batch_wait_ms / 1000,
        in_flight=settings.worker_batches_in_flight or os.cpu_count() or 1,
    )
    token = settings.worker_token.get_secret_value() if settings.worker_token else None
    window = CaptureWindow.from_settings(settings, clock)
    log_health = LogHealth(worker.sink)

    def check_request(request: Request) -> FrameIn:
        return _check_request(request, token, window)

    async def read_image(request: Request) -> bytes:
        return await _read_image(request, settings.worker_max_image_bytes, worker.max_pixels)

    async def predict(request: Request) -> JSONResponse:
        received = time.perf_counter()
        frame = check_request(request)
        frame = replace(frame, data=await read_image(request), received=received)
        outcome = await batcher.submit(frame)
        _raise_for(outcome)
        return JSONResponse(_outcome_json(outcome))

    async def log_prediction(request: Request) -> JSONResponse:
        frame = check_request(request)
        frame = replace(frame, data=await read_image(request))
        prediction = Prediction(
            predicted_class=_param(request, "predicted_class", required=True) or "",
            probabilities={cls: _float(request, prob_field(cls)) or 0.0 for cls in CLASSES},
            model_version=_param(request, "model_version", required=True) or "",
            latency_ms=_float(request, "latency_ms", required=False),
        )
        outcome = await asyncio.to_thread(worker.log_external, frame, prediction)
        _raise_for(outcome)
        return JSONResponse(_outcome_json(outcome), status_code=201)

    async def invocations(request: Request) -> JSONResponse:
        return await predict(request)

    async def healthz(request: Request) -> JSONResponse:
        stats = worker.sink.stats()
        problem = log_health.problem()
        body = {
            "status": "ok" if problem is None else "refusing",
            "model_version": worker.model.version if worker.model else None,
            "database_up": stats.db_up,
            "pending_rows": stats.pending,
        }
        if problem is not None:
            body["reason"] = problem
        return JSONResponse(body, status_code=200 if problem is None else 503)

    async def ping(request: Request) -> Response:
        if worker.model is None:
            return Response("no model loaded", status_code=503)
        problem = log_health.problem()
        return Response(problem or "", status_code=200 if problem is None else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def request_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestError)
        return JSONResponse(
            {"error": error.message, "field": error.field}, status_code=error.status
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()  # frames in hand are finished before shutdown

    routes = [
        Route("/v1/predict", predict, methods=["POST"]),
        Route("/v1/log", log_prediction, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if sagemaker:
        routes += [
            Route("/invocations", invocations, methods=["POST"]),
            Route("/ping", ping, methods=["GET"]),
        ]
    return Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={RequestError: request_error}
    )
