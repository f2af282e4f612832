"""Builds a worker from Settings and runs a source until SIGTERM.

The first SIGTERM (or Ctrl-C) stops taking frames, finishes the frames in hand and flushes
the prediction log; a second one exits at once. Nothing accepted is lost either way: the
log's spool holds every accepted row and the next start replays it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import cv2
from pydantic import SecretStr
from sqlalchemy import URL

from inference.actions import Diverter, ImageStore
from inference.capture import CaptureWindow
from inference.classifier import Classifier
from inference.logsafe import install_secret_filter, remove_secret_filter
from inference.worker import Worker
from monitor.core.db.engine import database_url, redacted
from monitor.core.settings import Settings
from monitor.predlog import PredictionLog

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 30.0  # at shutdown; what is left waits in the spool for the next start

Announce = Callable[[str], None]


@contextmanager
def built_worker(
    settings: Settings,
    *,
    with_model: bool = True,
    url: URL | None = None,
    inference_threads: int | None = None,
) -> Iterator[Worker]:
    """A worker with its model, prediction log, image store and diverter; closed on exit.
    `url`: the database, when the caller resolved it already (default: from `settings`);
    `inference_threads`: the model's threads (default: `settings.inference_threads`).
    While it lives, no log line shows a secret setting (httpx logs the divert URL in full)."""
    threads = settings.inference_threads if inference_threads is None else inference_threads
    secret_filter = install_secret_filter(_secret_values(settings))
    try:
        with _worker_parts(settings, url or database_url(settings), with_model, threads) as worker:
            yield worker
    finally:
        remove_secret_filter(secret_filter)


@contextmanager
def frames_in_parallel() -> Iterator[None]:
    """While a worker serves: OpenCV works on one thread per call. The worker spreads
    frames over the cores itself (decode threads, batches in flight), and OpenCV's threads
    inside each call only add hand-offs on frames this small: on 2 cores a second HTTP
    stream added 1.28x with them and 1.42x without, one frame's time unchanged
    (bench/worker.py). The previous count comes back on exit (the demo renders frames)."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def worker_banner(worker: Worker, settings: Settings, url: URL) -> list[str]:
    """What a worker says at start whatever its source: model, database (password masked)
    and spool."""
    model = worker.model
    if model is None:
        described = "model: none (predictions made elsewhere only)"
    else:
        size = model.input_size
        described = f"model {model.version}, input {size}x{size}, from {settings.model_path}"
    return [described, f"database {redacted(url)}", f"spool {settings.effective_spool_dir}"]


@contextmanager
def _worker_parts(
    settings: Settings, url: URL, with_model: bool, inference_threads: int
) -> Iterator[Worker]:
    classifier = None
    if with_model:
        classifier = Classifier(settings.model_path, intra_op_threads=inference_threads)
        log.info(
            "model %s (%s) loaded from %s",
            classifier.version,
            classifier.metadata.precision,
            settings.model_path,
        )
    plog = PredictionLog(url, settings, name="worker")
    diverter = Diverter(settings.divert_url, timeout_s=settings.divert_timeout_ms / 1000)
    images = ImageStore(settings.effective_image_store_dir)
    worker = Worker(
        classifier,
        plog,
        images=images,
        diverter=diverter,
        max_pixels=settings.worker_max_pixels,
        max_decodes=settings.worker_max_decodes,
        max_station_labels=settings.metrics_max_stations,
        evidence_per_hour=settings.evidence_frames_per_hour,
    )
    stop_pruning = threading.Event()
    threading.Thread(
        target=_prune_hourly,
        args=(images, settings.image_retention_days, stop_pruning),
        name="image-retention",
        daemon=True,
    ).start()
    try:
        yield worker
    finally:
        stop_pruning.set()
        worker.close()
        diverter.close()
        if not plog.close(timeout=FLUSH_TIMEOUT_S):
            log.warning(
                "some predictions wait in the spool %s for the next start",
                settings.effective_spool_dir,
            )


def _secret_values(settings: Settings) -> list[str]:
    """Every secret setting's value, and the password of each secret URL."""
    values = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            values.append(secret)
            try:
                password = urlsplit(secret).password if "://" in secret else None
            except ValueError:  # not a URL after all: its whole value is redacted anyway
                password = None
            if password:
                values.append(password)
    return values


def _prune_hourly(images: ImageStore, days: int, stop: threading.Event) -> None:
    """Apply the image retention now and every hour until `stop`."""
    while True:
        try:
            removed = images.prune(days)
        except OSError as error:  # a full or read-only disk must not end the worker
            log.warning("image retention failed: %s", error)
        else:
            if removed:
                log.info("image retention: removed %d images older than %d days", removed, days)
        if stop.wait(3600):
            return


class StopSignal:
    """First SIGTERM/SIGINT sets `event`; the second exits the process at once."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.info("%s: finishing the frames in hand", signal.Signals(signum).name)
        self.event.set()


def run_http(
    settings: Settings,
    *,
    sagemaker: bool = False,
    port: int | None = None,
    announce: Announce | None = None,
) -> None:
    """Serve the HTTP source until stopped; `announce` (default: the log) gets the banner
    once the port is bound."""
    import uvicorn

    from inference.sources.http import create_app

    say = announce or log.info

    class Server(uvicorn.Server):
        def __init__(self, config: uvicorn.Config, banner: list[str]) -> None:
            super().__init__(config)
            self.banner = banner  # the worker's lines, said after the address

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # Our handlers, not uvicorn's: uvicorn re-raises the signal once it has shut
            # down, which would kill the process before the prediction log is flushed.
            stop = StopSignal()
            stop.install()
            threading.Thread(target=self._watch, args=(stop.event,), daemon=True).start()
            yield

        def _watch(self, event: threading.Event) -> None:
            event.wait()
            self.should_exit = True  # uvicorn drains in-flight requests, then lifespan ends

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:  # bound, so the address is true (uvicorn exits if it is not)
                host, bound_port = self.servers[0].sockets[0].getsockname()[:2]
                for line in _http_banner(host, bound_port, sagemaker, settings) + self.banner:
                    say(line)

    url = database_url(settings)
    with frames_in_parallel(), built_worker(settings, url=url) as worker:
        app = create_app(worker, settings, sagemaker=sagemaker)
        bind_port = port or (8080 if sagemaker else settings.worker_port)
        host = "0.0.0.0" if sagemaker else settings.worker_host
        # log_config=None: uvicorn's records go through the root handlers like every other
        # (one format, and the secret filter built_worker installed on them).
        config = uvicorn.Config(
            app, host=host, port=bind_port, log_level="warning", lifespan="on", log_config=None
        )
        Server(config, worker_banner(worker, settings, url)).run()


def _http_banner(host: str, port: int, sagemaker: bool, settings: Settings) -> list[str]:
    address = f"[{host}]" if ":" in host else host
    contract = " (SageMaker contract: /invocations, /ping)" if sagemaker else ""
    token = "token required" if settings.worker_token else "no token: image routes are open"
    return [f"beltwatch worker http: listening on http://{address}:{port}{contract}; {token}"]


def directory_parallelism(settings: Settings) -> tuple[int, int]:
    """(batches in flight, the model's threads) for the directory source. A folder is a
    backlog: what counts is images per second, not one frame's latency, so the batches in
    flight share the cores, each model run on its share (`inference_threads` 0: cores /
    batches in flight). On 2 cores, 2 batches on 1 thread each ran 66-72 images/s against
    58-61 for one batch on both cores and 49-63 for 2 batches on both (oversubscribed);
    bench/worker.py --directory. (The HTTP source keeps the model on every core: a lone
    station's frame is answered sooner, and 2 streams ran as fast either way.)"""
    cores = os.cpu_count() or 1
    in_flight = settings.worker_batches_in_flight or cores
    return in_flight, settings.inference_threads or max(1, cores // in_flight)


def run_directory(
    settings: Settings, root: Path, *, once: bool = False, announce: Announce | None = None
) -> int:
    """Process frames dropped into `root` until stopped (or once, with `once`); `announce`
    (default: the log) gets the banner at start and the done/failed summary at the end.
    Returns how many files were moved (to done/ or failed/)."""
    from inference.sources.directory import DirectorySource

    say = announce or log.info
    stop = StopSignal()
    if not once:
        stop.install()
    url = database_url(settings)
    in_flight, threads = directory_parallelism(settings)
    with (
        frames_in_parallel(),
        built_worker(settings, url=url, inference_threads=threads) as worker,
    ):
        window = CaptureWindow.from_settings(settings)
        source = DirectorySource(
            root,
            worker,
            window=window,
            batch_size=settings.worker_batch_size,
            in_flight=in_flight,
        )
        until = "once" if once else "until SIGTERM"
        say(f"beltwatch worker dir: watching {root} ({until})")
        batches = "1 batch" if in_flight == 1 else f"{in_flight} batches"
        on = "1 thread" if threads == 1 else f"{threads} threads"
        size = settings.worker_batch_size
        say(f"{batches} of up to {size} frames at once, the model on {on} each")
        say(f"done -> {source.done_dir}, failed -> {source.failed_dir}")
        for line in worker_banner(worker, settings, url):
            say(line)
        tally = source.run_once() if once else source.run(stop.event)
    say(tally.summary())
    return tally.total
