"""The conveyor simulator: synthetic frames of several stations, with faults, through the
real worker path (decode, statistics, the ONNX model, actions, the prediction log).

Each station is a camera over its own belt (a fixed belt variant and a gain of its own
within +-7 %) sending about `per_hour` frames an hour (Poisson), each a new parcel drawn
from the belt's mix (80/17/3 %). Faults (inference/training/faults.py) change what the
camera sees (`camera.CameraConditions`: a lens's blur and haze, a smudge, the gain), the
parcels themselves (a damage wave raises the share of critical parcels; the model decides
what it calls them), whether the camera sends at all (`down`) or how long the model takes
(`slow`: the model is wrapped in one that sleeps before each frame, so the latency the
worker logs is the one it measured itself, a slow model simulated).

Frames reach the worker one at a time, in capture order, as a belt's do: at a few hundred
frames an hour a station's frames are seconds apart, too far apart for a source to batch
them, and a batch's latency would be its slowest frame's. Frames are rendered and
JPEG-encoded on a process pool at a lower priority (rendering is the slow part, ~8 ms a
frame at 320x240 on one core), the next hour while this process runs the worker on the
frames of this one. A past window gets historical capture times and runs as fast as the
machine allows; `live` sends each frame when its capture time comes. Everything is
deterministic in the seed except the measured latencies.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from inference.capture import CaptureWindow
from inference.ports import Model, Predictions
from inference.training.camera import CameraConditions
from inference.training.faults import LENS_RAMP_HOURS, Fault
from inference.training.synth import DEFAULT_MIX, FrameSpec, label_for, render
from inference.worker import FrameIn, Worker
from monitor.core.exceptions import BeltwatchError
from monitor.core.settings import Settings
from monitor.predlog import PredictionLog

FRAME_SIZE = (240, 320)  # (height, width): the camera frame the shipped model was trained on
JPEG_QUALITY = 90
GAIN_SPREAD = 0.07  # stations' own exposure differs by up to this much
LENS_DEFOCUS = 2.0  # a fully dirty lens: Gaussian blur sigma (px of a 480-line frame) ...
LENS_HAZE = 0.15  # ... and the share of the veil of scattered light
HOUR = timedelta(hours=1)
RENDER_NICENESS = 10
FLUSH_TIMEOUT_S = 300.0

Progress = Callable[[int, int], None]  # (frames handled so far, frames planned)


class SimulationError(BeltwatchError):
    """A scenario the worker cannot take (a window outside the capture window, ...)."""


@dataclass(frozen=True)
class Scenario:
    """What to simulate: stations, the window [since, until), frames an hour, faults."""

    stations: tuple[str, ...]
    since: datetime
    until: datetime
    per_hour: int
    seed: int = 0
    faults: tuple[Fault, ...] = ()

    def __post_init__(self) -> None:
        if not self.stations:
            raise SimulationError("no station to simulate")
        if self.until <= self.since:
            raise SimulationError(f"the window ends ({self.until}) before it starts")
        if self.per_hour < 1:
            raise SimulationError(f"frames per hour must be at least 1, got {self.per_hour}")
        unknown = sorted({f.station for f in self.faults} - set(self.stations))
        if unknown:
            raise SimulationError(
                f"faults name stations that are not simulated: {', '.join(unknown)} "
                f"(stations: {', '.join(self.stations)})"
            )


@dataclass(frozen=True)
class Shot:
    """One frame to send: its scene and camera, its station and capture time."""

    spec: FrameSpec
    station: str
    captured_at: datetime
    slow_ms: float = 0.0


@dataclass
class SimulationResult:
    """What a simulation sent and what became of it."""

    planned: int = 0
    logged: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # error kind -> frames
    predicted: Counter[str] = field(default_factory=Counter)  # class the model called
    drawn: Counter[str] = field(default_factory=Counter)  # class the parcels were drawn as
    stored: int = 0  # rows the prediction log committed during this simulation
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        return (self.logged + sum(self.refused.values())) / self.seconds if self.seconds else 0.0


class SlowedModel:
    """The real model, slower on purpose: sleeps `delay_s` before each call (a `slow`
    fault simulates an overloaded model host; the worker measures the time it took)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.delay_s = 0.0

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def input_size(self) -> int:
        return self.model.input_size

    def predict(self, images: np.ndarray) -> Predictions:
        if self.delay_s > 0:
            time.sleep(self.delay_s)
        return self.model.predict(images)


def _station_key(seed: int, station: str) -> int:
    return zlib.crc32(f"{seed}/{station}".encode())


def damage_mix(critical: float) -> tuple[float, float, float]:
    """The belt's class mix with `critical` of the parcels critical (the rest as usual)."""
    rest = 1.0 - critical
    normal = DEFAULT_MIX[0] + DEFAULT_MIX[1]
    return (rest * DEFAULT_MIX[0] / normal, rest * DEFAULT_MIX[1] / normal, critical)


def camera_at(faults: Sequence[Fault], key: int, gain: float, moment: datetime) -> CameraConditions:
    """What the station's camera does at `moment` under its active faults."""
    defocus = haze = smudge = 0.0
    for fault in faults:
        if not fault.active(moment):
            continue
        value = float(fault.value or 0.0)
        if fault.kind == "lens":
            grown = min(1.0, (moment - fault.start) / HOUR / LENS_RAMP_HOURS)
            defocus = max(defocus, LENS_DEFOCUS * value * grown)
            haze = max(haze, LENS_HAZE * value * grown)
        elif fault.kind == "smudge":
            smudge = max(smudge, value)
        elif fault.kind == "lighting":
            gain *= value
    return CameraConditions(
        defocus_sigma=defocus, haze=haze, smudge=smudge, smudge_seed=key % 1000, gain=gain
    )


def plan_hour(scenario: Scenario, station: str, hour: datetime) -> list[Shot]:
    """The frames `station` sends in the hour starting at `hour` (within the window)."""
    key = _station_key(scenario.seed, station)
    setup = np.random.default_rng([key, 0])
    gain = 1.0 + float(setup.uniform(-GAIN_SPREAD, GAIN_SPREAD))
    belt = int(setup.integers(0, 4))
    number = int(hour.timestamp() // 3600)
    rng = np.random.default_rng([key, number])
    n = int(rng.poisson(scenario.per_hour))
    offsets = np.sort(rng.uniform(0, 3600, n))
    faults = [f for f in scenario.faults if f.station == station]
    shots = []
    for k, offset in enumerate(offsets):
        moment = hour + timedelta(seconds=float(offset))
        if not scenario.since <= moment < scenario.until:
            continue
        active = [f for f in faults if f.active(moment)]
        if any(f.kind == "down" for f in active):
            continue
        mix = DEFAULT_MIX
        slow_ms = 0.0
        for fault in active:
            if fault.kind == "damage":
                mix = damage_mix(float(fault.value or 0.0))
            elif fault.kind == "slow":
                slow_ms = max(slow_ms, float(fault.value or 0.0))
        index = number * 10_000 + k
        spec = FrameSpec(
            seed=key,
            index=index,
            label=label_for(key, index, mix),
            size=FRAME_SIZE,
            camera=camera_at(active, key, gain, moment),
            belt=belt,
        )
        shots.append(Shot(spec, station, moment, slow_ms))
    return shots


def hours_of(scenario: Scenario) -> list[datetime]:
    """The starts of the UTC hours the window touches."""
    hour = scenario.since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    found = []
    while hour < scenario.until:
        found.append(hour)
        hour += HOUR
    return found


def render_jpegs(specs: Sequence[FrameSpec]) -> list[bytes]:
    """Render and JPEG-encode frames (runs in the pool's processes)."""
    out = []
    for spec in specs:
        bgr = np.ascontiguousarray(render(spec)[..., ::-1])
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError("OpenCV could not encode a frame as JPEG")
        out.append(data.tobytes())
    return out


def _renderer() -> None:
    """Set up a rendering process: one OpenCV thread (the processes are the parallelism)
    and a lower priority, so that the worker, whose latency is measured and logged, does
    not wait for the cameras' stand-ins."""
    cv2.setNumThreads(1)
    os.nice(RENDER_NICENESS)


def check_window(scenario: Scenario, settings: Settings, *, live: bool) -> None:
    """Refuse a window whose capture times the worker would refuse (SimulationError)."""
    window = CaptureWindow.from_settings(settings)
    last = scenario.until - timedelta(microseconds=1)
    try:
        window.check(scenario.since)
        if not live:
            window.check(last)
    except ValueError as error:
        hint = "; a window in the future needs live pacing" if not live else ""
        raise SimulationError(f"the window cannot be sent: {error}{hint}") from None


def simulate(
    worker: Worker,
    scenario: Scenario,
    settings: Settings,
    *,
    live: bool = False,
    processes: int = 0,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> SimulationResult:
    """Send the scenario's frames through `worker`; return what became of them.

    `processes`: rendering processes (0: one per core). `live`: each frame waits for its
    capture time. A set `stop` ends the run after the frames in hand. The worker's model is
    wrapped for `slow` faults while this runs."""
    check_window(scenario, settings, live=live)
    hours = hours_of(scenario)
    plans = [[plan_hour(scenario, s, hour) for s in scenario.stations] for hour in hours]
    result = SimulationResult(planned=sum(len(p) for hour in plans for p in hour))
    for hour in plans:
        for shots in hour:
            result.drawn.update(shot.spec.label for shot in shots)
    sink = worker.sink
    stored_before = sink.stats().written if isinstance(sink, PredictionLog) else 0
    model = worker.model
    if model is None:
        raise SimulationError("the worker has no model")
    slowed = SlowedModel(model)
    worker.model = slowed
    started = time.perf_counter()
    workers = processes or os.cpu_count() or 1
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_renderer) as pool:
            for rendered in _rendered(pool, plans):
                if stop is not None and stop.is_set():
                    break
                frames = sorted(rendered, key=lambda pair: pair[0].captured_at)
                for shot, data in frames:
                    if live:
                        _wait_until(shot.captured_at, stop)
                        if stop is not None and stop.is_set():
                            break
                    slowed.delay_s = shot.slow_ms / 1000.0
                    _send(worker, shot, data, result)
                    if progress is not None:
                        progress(result.logged + sum(result.refused.values()), result.planned)
    finally:
        worker.model = model
    if isinstance(sink, PredictionLog):
        sink.flush(timeout=FLUSH_TIMEOUT_S)
        result.stored = sink.stats().written - stored_before
    result.seconds = time.perf_counter() - started
    return result


def _rendered(
    pool: ProcessPoolExecutor, plans: list[list[list[Shot]]]
) -> Iterator[list[tuple[Shot, bytes]]]:
    """Each hour's frames, every station's; the next hour renders while this one is sent."""

    def submit(hour: list[list[Shot]]) -> list[Future[list[bytes]]]:
        return [pool.submit(render_jpegs, [shot.spec for shot in shots]) for shots in hour]

    ahead = submit(plans[0]) if plans else []
    for index, hour in enumerate(plans):
        futures, ahead = ahead, submit(plans[index + 1]) if index + 1 < len(plans) else []
        yield [
            pair
            for shots, future in zip(hour, futures, strict=True)
            for pair in zip(shots, future.result(), strict=True)
        ]


def _wait_until(moment: datetime, stop: threading.Event | None) -> None:
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        if stop is not None:
            stop.wait(delay)
        else:
            time.sleep(delay)


def _send(worker: Worker, shot: Shot, data: bytes, result: SimulationResult) -> None:
    frame = FrameIn(data=data, station_id=shot.station, captured_at=shot.captured_at)
    for outcome in worker.process([frame]):
        if outcome.record is not None:
            result.logged += 1
            result.predicted[outcome.record.predicted_class] += 1
        else:
            result.refused[type(outcome.error).__name__] += 1
