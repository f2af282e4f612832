"""The path of one frame: prepare (decode, statistics, model input) -> model -> action -> log.

`Worker.process` takes a batch of frames (the sources gather them) and returns one
`Outcome` per frame, in order: a logged prediction, or the reason the frame was refused.
A bad frame never stops the others. The worker names its model and its prediction log only
by their protocols (ports.py); probabilities travel as a mapping by class name.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from inference import metrics
from inference.actions import Diverter, ImageStore
from inference.exceptions import BadFrame
from inference.imagestats import ImageStats
from inference.ports import Model, PredictionSink
from inference.prepare import Prepared, prepare
from monitor.core.exceptions import InvalidRecord, PredictionLogFull
from monitor.core.vocabulary import ACTION_FOR_CLASS, CLASSES, prob_field
from monitor.predlog.records import PredictionRecord, uuid7

log = logging.getLogger(__name__)


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
    ) -> None:
        self.model = model
        self.sink = sink
        self.images = images
        self.diverter = diverter

    def process(self, frames: Sequence[FrameIn]) -> list[Outcome]:
        """Predict, act on and log a batch of frames."""
        if self.model is None:
            raise RuntimeError("this worker has no model; use log_external()")
        outcomes: list[Outcome | None] = [None] * len(frames)
        prepared: list[Prepared] = []
        ready: list[int] = []
        for i, frame in enumerate(frames):
            try:
                prepared.append(prepare(frame.data, self.model.input_size))
            except BadFrame as error:
                outcomes[i] = self._refuse(frame, error)
                continue
            ready.append(i)
        if ready:
            result = self.model.predict(np.stack([p.model_input for p in prepared]))
            metrics.INFERENCE_SECONDS.observe(result.seconds)
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
        try:
            stats = prepare(frame.data).stats
        except BadFrame as error:
            return self._refuse(frame, error)
        return self._finish(frame, stats, prediction)

    def _refuse(self, frame: FrameIn, error: BadFrame) -> Outcome:
        metrics.FRAMES_REJECTED.labels(error.reason).inc()
        log.info(
            "station %s parcel %s: frame refused: %s", frame.station_id, frame.parcel_id, error
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
        if action != "none" and self.images is not None:
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
        try:
            self.sink.log(record)
        except (InvalidRecord, PredictionLogFull) as error:
            return self._not_logged(frame, stats, error)
        metrics.PREDICTIONS.labels(frame.station_id, predicted).inc()
        if action == "divert" and self.diverter is not None:
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
        return Outcome(record=record, stats=stats)

    def _not_logged(
        self, frame: FrameIn, stats: ImageStats, error: InvalidRecord | PredictionLogFull
    ) -> Outcome:
        log.warning(
            "station %s parcel %s: prediction not logged: %s",
            frame.station_id,
            frame.parcel_id,
            error,
        )
        return Outcome(stats=stats, error=error)


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
