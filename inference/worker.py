"""The path of one frame: prepare (decode, statistics, model input) -> model -> action -> log.

`Worker.process` takes a batch of frames (the sources gather them) and returns one
`Outcome` per frame, in order: a logged prediction, or the reason the frame was refused.
A bad frame never stops the others. The worker names its model and its prediction log only
by their protocols (ports.py); probabilities travel as a mapping by class name.

Minor and critical frames are kept in the image store for review; so is a small sample of
every station's hour (evidence.py), whatever its class, so that an alert shows its frames.

A critical parcel is diverted before its prediction is logged, and whether or not the log
takes it: the divert is the belt's safety action, the log its record. Frames are decoded
on a pool of `max_decodes` threads, whoever sends them: a decoded frame costs far more
memory than its file (25 Mpx: ~150 MB while in hand), and a few threads keep few malloc
arenas (the decodes spread over the request threads instead peaked ~80 MB higher under 50
concurrent 24 Mpx frames). A batch's frames are decoded in parallel on that pool.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from inference import metrics
from inference.actions import Diverter, ImageStore
from inference.evidence import EvidenceChoice
from inference.exceptions import BadFrame
from inference.frames import DEFAULT_MAX_PIXELS
from inference.imagestats import ImageStats
from inference.logsafe import Throttle, shown
from inference.ports import Model, PredictionSink
from inference.prepare import Prepared, prepare
from monitor.core.exceptions import InvalidRecord, PredictionLogFull
from monitor.core.vocabulary import ACTION_FOR_CLASS, CLASSES, prob_field
from monitor.predlog.records import PredictionRecord, uuid7

log = logging.getLogger(__name__)

# Frames with a stable id (the directory source) may come back after a refusal by the log;
# their parcel was diverted the first time. Remembering this many ids covers hours of a full
# log at belt rates, in about a megabyte.
_DIVERTED_IDS_KEPT = 10_000


@dataclass(frozen=True)
class FrameIn:
    """A camera frame as a source hands it over."""

    data: bytes
    station_id: str
    captured_at: datetime
    parcel_id: str | None = None
    received: float = field(default_factory=time.perf_counter)  # for the frame's latency
    id: uuid.UUID | None = None  # a source that may replay a frame gives a stable id


@dataclass(frozen=True)
class Prediction:
    """A model's answer for one frame: the class it chose and every class's probability by
    name. The worker's model makes one per frame; `log_external` takes one made elsewhere."""

    predicted_class: str
    probabilities: Mapping[str, float]  # class name -> probability, one entry per class
    model_version: str
    latency_ms: float | None = None  # None: measured here, from the frame's arrival


@dataclass(frozen=True)
class Outcome:
    """What became of one frame: `record` when logged, `error` when refused."""

    record: PredictionRecord | None = None
    stats: ImageStats | None = None
    # BadFrame (the image), InvalidRecord (station id, capture time, ...) or
    # PredictionLogFull (the log cannot take it now: retry later).
    error: BadFrame | InvalidRecord | PredictionLogFull | None = None
    action: str = "none"  # what was done for the parcel, logged or not ("divert": called)

    @property
    def ok(self) -> bool:
        return self.record is not None


class Worker:
    """Runs frames through the model and logs every prediction."""

    def __init__(
        self,
        model: Model | None,
        sink: PredictionSink,
        *,
        images: ImageStore | None = None,
        diverter: Diverter | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_decodes: int = 0,
        max_station_labels: int = 200,
        evidence_per_hour: int = 0,
    ) -> None:
        self.model = model
        self.sink = sink
        self.images = images
        self.diverter = diverter
        self.max_pixels = max_pixels
        self.max_decodes = max_decodes or os.cpu_count() or 1
        self._decoder = ThreadPoolExecutor(self.max_decodes, thread_name_prefix="decode")
        self.stations = metrics.StationLabels(max_station_labels)
        self.evidence = EvidenceChoice(evidence_per_hour, max_stations=max_station_labels)
        self._throttle = Throttle(log)
        self._diverted: OrderedDict[uuid.UUID, None] = OrderedDict()
        self._diverted_lock = threading.Lock()

    def process(self, frames: Sequence[FrameIn]) -> list[Outcome]:
        """Predict, act on and log a batch of frames."""
        if self.model is None:
            raise RuntimeError("this worker has no model; use log_external()")
        outcomes: list[Outcome | None] = [None] * len(frames)
        prepared: list[Prepared] = []
        ready: list[int] = []
        size = self.model.input_size
        decoding = [
            self._decoder.submit(prepare, f.data, size, max_pixels=self.max_pixels) for f in frames
        ]
        for i, (frame, decoded) in enumerate(zip(frames, decoding, strict=True)):
            try:
                prepared.append(decoded.result())
            except BadFrame as error:
                outcomes[i] = self._refuse(frame, error)
                continue
            ready.append(i)
        if ready:
            result = self.model.predict(np.stack([p.model_input for p in prepared]))
            metrics.INFERENCE_SECONDS.observe(result.seconds)
            per_image = result.seconds / len(ready)
            for _ in ready:
                metrics.IMAGE_INFERENCE_SECONDS.observe(per_image)
            version = self.model.version
            for i, prep, probabilities in zip(ready, prepared, result.by_class(), strict=True):
                # max() keeps the first of equal values, as argmax did: ties go to CLASSES order.
                predicted = max(probabilities, key=probabilities.__getitem__)
                outcomes[i] = self._finish(
                    frames[i], prep.stats, Prediction(predicted, probabilities, version)
                )
        return [outcome for outcome in outcomes if outcome is not None]

    def log_external(self, frame: FrameIn, prediction: Prediction) -> Outcome:
        """Log a prediction made elsewhere, with the statistics of its image."""
        decoding = self._decoder.submit(prepare, frame.data, max_pixels=self.max_pixels)
        try:
            stats = decoding.result().stats
        except BadFrame as error:
            return self._refuse(frame, error)
        return self._finish(frame, stats, prediction)

    def close(self) -> None:
        """Stop the decode threads (frames in hand are finished first)."""
        self._decoder.shutdown(wait=True)

    def _refuse(self, frame: FrameIn, error: BadFrame) -> Outcome:
        metrics.FRAMES_REJECTED.labels(error.reason).inc()
        log.info(
            "station %s parcel %s: frame refused: %s",
            shown(frame.station_id),
            shown(frame.parcel_id),
            error,
        )
        return Outcome(error=error)

    def _finish(self, frame: FrameIn, stats: ImageStats, prediction: Prediction) -> Outcome:
        try:
            probability_fields = _probability_fields(prediction.probabilities)
        except InvalidRecord as error:
            return self._not_logged(frame, stats, error)
        predicted = prediction.predicted_class
        action = ACTION_FOR_CLASS.get(predicted, "none")
        image_ref = None
        if self.images is not None:
            # Every frame goes through the choice, whatever its class: the slots and the
            # running minimum are the station's, not only its undamaged frames'.
            evidence = self.evidence.keep(
                frame.station_id, frame.captured_at, stats.sharpness_tile_min, frame.id
            )
            if evidence or action != "none":
                image_ref = self.images.put(frame.data)
        latency_ms = prediction.latency_ms
        if latency_ms is None:
            elapsed = time.perf_counter() - frame.received
            metrics.FRAME_SECONDS.observe(elapsed)
            latency_ms = elapsed * 1000.0
        record = PredictionRecord(
            id=frame.id or uuid7(),
            station_id=frame.station_id,
            captured_at=frame.captured_at,
            parcel_id=frame.parcel_id,
            model_version=prediction.model_version,
            predicted_class=predicted,
            latency_ms=latency_ms,
            action=action,
            image_ref=image_ref,
            **probability_fields,
            **stats.as_dict(),
        )
        if action == "divert":
            self._divert(record, prediction, replayable=frame.id is not None)
        try:
            self.sink.log(record)
        except (InvalidRecord, PredictionLogFull) as error:
            return self._not_logged(frame, stats, error, action)
        self.stations.count_prediction(frame.station_id, predicted)
        return Outcome(record=record, stats=stats, action=action)

    def _divert(
        self, record: PredictionRecord, prediction: Prediction, *, replayable: bool
    ) -> None:
        """Queue the divert call for a critical parcel, once per frame id when the source
        may offer the same frame again (a file the log refused stays for the next pass)."""
        if self.diverter is None:
            return
        if replayable:
            with self._diverted_lock:
                if record.id in self._diverted:
                    return
                self._diverted[record.id] = None
                if len(self._diverted) > _DIVERTED_IDS_KEPT:
                    self._diverted.popitem(last=False)
        self.diverter.divert(
            {
                "prediction_id": str(record.id),
                "station_id": record.station_id,
                "parcel_id": record.parcel_id,
                "captured_at": record.captured_at.isoformat(),
                "p_critical": round(prediction.probabilities["critical"], 4),
                "model_version": prediction.model_version,
            }
        )

    def _not_logged(
        self,
        frame: FrameIn,
        stats: ImageStats,
        error: InvalidRecord | PredictionLogFull,
        action: str = "none",
    ) -> Outcome:
        # One line per refusal would flood the log while the spool is full: throttled by kind.
        self._throttle.warning(
            type(error).__name__,
            "station %s parcel %s: prediction not logged: %s",
            shown(frame.station_id),
            shown(frame.parcel_id),
            shown(error),
        )
        return Outcome(stats=stats, error=error, action=action)


def _probability_fields(probabilities: Mapping[str, float]) -> dict[str, float]:
    """The record's `p_<class>` fields from probabilities by class name; InvalidRecord when a
    class is missing or an unknown one appears (a model with other classes, a typo)."""
    unknown = set(probabilities) - set(CLASSES)
    if unknown:
        raise InvalidRecord(
            "probabilities", f"unknown classes {sorted(unknown)}; expected {list(CLASSES)}"
        )
    missing = [cls for cls in CLASSES if cls not in probabilities]
    if missing:
        raise InvalidRecord(prob_field(missing[0]), "is required: no probability for its class")
    return {prob_field(cls): probabilities[cls] for cls in CLASSES}
